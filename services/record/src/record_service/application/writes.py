"""Write commands: insert, update, delete, find-and-replace, validate. Each is one commit (`commit.py`);
validate is one per 10,000 records.

A command checks what it can without the rest of the sheet, then hands `commit` a `decide`
that builds the commit's records against the read model at the sheet's version. Readonly
(sheet, field, record `config`) binds restricted principals (guests, publishable keys).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import AsyncIterator, Sequence
from typing import Any

import msgspec
import polars as pl

from record_service.application.bulk import insert_frame
from record_service.application.checks import checked
from record_service.application.commit import Decided, Write, commit
from record_service.application.context import Context, Sheet
from record_service.application.ports import RecordQueries
from record_service.domain import keys
from record_service.domain import records as domain
from record_service.domain.validation import is_empty
from spaceport.contracts.record import (
    MAX_IDS,
    MAX_RECORDS_PER_WRITE,
    DeleteRecords,
    FindReplace,
    InsertRecords,
    RecordQuery,
    StoredRecord,
    UpdateRecords,
    Validated,
    ValidateSheet,
    Written,
)
from spaceport.contracts.space import Principal
from spaceport.errors import ForbiddenError, PayloadTooLargeError, ValidationFailedError
from spaceport.events import utcnow


class WriteHandlers:
    """The record service's commands, on the ports of `ctx`."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self._big = asyncio.Lock()

    @contextlib.asynccontextmanager
    async def sized(self, big: bool) -> AsyncIterator[None]:
        """Small writes (an inline body, ids) run side by side, on different sheets (the RPC
        handles several at once); a big one (a body by claim check, a selection by query, a
        validation) runs alone in this process."""
        if not big:
            yield
            return
        async with self._big:
            yield

    async def insert(self, cmd: InsertRecords) -> Written:
        async with self.sized(cmd.body.ref is not None):
            return await self._insert(cmd)

    async def _insert(self, cmd: InsertRecords) -> Written:
        body, configs = domain.decode_inserts(await self.ctx.claims.unpack(cmd.body))
        _limit(len(body))
        sheet = await self.ctx.sheet(cmd.sheet_id)
        restricted = _restricted(cmd.principal)
        domain.check_writable(sheet.schema, restricted)
        columnar = len(body) >= COLUMNAR_MIN and not sheet.schema.has_references and configs is None
        frame = as_frame(body) if columnar else None
        if frame is not None:  # plain values, the same fields in every record: the columnar path
            return await insert_frame(self.ctx, _write(cmd, "insert"), sheet, restricted, frame)
        ids = keys.record_id_list(sheet.id, cmd.idempotency_key, len(body))
        built = domain.build_inserts(sheet.schema, body, utcnow(), ids.__getitem__, configs)
        domain.check_readonly_fields(sheet.schema, restricted, built)
        domain.check_record_config(restricted, built)

        async def decide(sheet: Sheet, q: RecordQueries) -> Decided:
            return await checked(q, sheet, built), []

        return await commit(self.ctx, _write(cmd, "insert"), sheet, decide)

    async def update(self, cmd: UpdateRecords) -> Written:
        async with self.sized(cmd.body.ref is not None):
            items = domain.decode_body(domain.UPDATE_BODY, await self.ctx.claims.unpack(cmd.body))
            _limit(len(items))
            write = _write(cmd, "update")
            return await self._update(write, await self.ctx.sheet(cmd.sheet_id), _restricted(cmd.principal), items)

    async def delete(self, cmd: DeleteRecords) -> Written:
        async with self.sized(cmd.query is not None):
            return await self._delete(cmd)

    async def _delete(self, cmd: DeleteRecords) -> Written:
        if len(cmd.ids) > MAX_IDS:
            raise ValidationFailedError(f"at most {MAX_IDS} ids per request", key="ids")
        sheet = await self.ctx.sheet(cmd.sheet_id)
        restricted = _restricted(cmd.principal)
        domain.check_writable(sheet.schema, restricted)

        async def decide(sheet: Sheet, q: RecordQueries) -> Decided:
            if cmd.query is not None:
                deleted = await q.matching(sheet, cmd.query)
            else:
                deleted = await q.existing(sheet.id, cmd.ids)
            if restricted:  # a readonly record (config.readonly) is deleted with a secret key only
                domain.check_deletable(restricted, (await q.current(sheet.id, deleted)).values())
            # records flagged as duplicates of a value the deleted records held are decided again
            return await checked(q, sheet, [], deleted, replaces=True), deleted

        return await commit(self.ctx, _write(cmd, "delete"), sheet, decide)

    async def find_replace(self, cmd: FindReplace) -> Written:
        async with self.sized(True):
            return await self._find_replace(cmd)

    async def _find_replace(self, cmd: FindReplace) -> Written:
        sheet = await self.ctx.sheet(cmd.sheet_id)
        if cmd.field_key not in sheet.field_keys:
            raise ValidationFailedError(f"{cmd.field_key!r} is not a field of this sheet", key="fieldKey")
        restricted = _restricted(cmd.principal)
        domain.check_writable(sheet.schema, restricted)
        if restricted and cmd.field_key in sheet.schema.readonly:
            raise ForbiddenError(f"field {cmd.field_key!r} is readonly; it can only be changed with a secret key")
        # read-your-writes: an insert's reply does not wait for its projection (commit._attempt),
        # so the selection waits for this process's last commit to the sheet
        await self.ctx.settled(sheet.id)
        async with self.ctx.model.session() as q:
            found = await q.matching_values(sheet, cmd.query, cmd.field_key)
        items = _replacements(found, cmd)
        _limit(len(items))
        write = _write(cmd, "find-replace")
        return await self._update(write, sheet, restricted, items)

    async def _update(
        self, write: Write, sheet: Sheet, restricted: bool, items: Sequence[domain.UpdateItem]
    ) -> Written:
        async def decide(sheet: Sheet, q: RecordQueries) -> Decided:
            domain.check_writable(sheet.schema, restricted)
            current = await q.current(sheet.id, [i.id for i in items])
            built = domain.build_updates(sheet.schema, items, current, utcnow())
            domain.check_readonly_fields(sheet.schema, restricted, built, current)
            domain.check_record_config(restricted, built, current)
            return await checked(q, sheet, built, replaces=True), []

        return await commit(self.ctx, write, sheet, decide)

    async def validate(self, cmd: ValidateSheet) -> Validated:
        async with self.sized(True):
            return await self._validate(cmd)

    async def _validate(self, cmd: ValidateSheet) -> Validated:
        """Every record decided again against the sheet's current fields and constraints (after a
        config change); those whose cells or unique claims change are written, in row order, one
        commit per `VALIDATE_CHUNK` records read. Values never change, so readonly does not bind."""
        await self.ctx.catch_up()  # the sheet's config as last changed (another service's event)
        sheet = await self.ctx.sheet(cmd.sheet_id)
        await self.ctx.settled(sheet.id)
        async with self.ctx.model.session() as q:
            ids = await q.matching(sheet, RecordQuery())
        write = Write(
            sheet_id=sheet.id, kind="update", actor=cmd.principal.actor, key=None, disable_hooks=cmd.disable_hooks
        )
        commit_ids: list[str] = []
        count, position = 0, sheet.version
        for start in range(0, len(ids), VALIDATE_CHUNK):
            chunk = ids[start : start + VALIDATE_CHUNK]

            async def decide(sheet: Sheet, q: RecordQueries, chunk: list[str] = chunk) -> Decided:
                return await validated(q, sheet, chunk), []

            written = await commit(self.ctx, write, sheet, decide)
            if written.commit_id is not None:
                commit_ids.append(written.commit_id)
                count += written.record_count
            position = max(position, written.position)
        return Validated(commit_ids=commit_ids, record_count=count, position=position)


# An insert of fewer records takes the row path: polars' fixed cost per frame outweighs it there
# (services/record/benchmarks/columns.py, one core, mixed schema: 100 records 18k rows/s columnar
# against 114k by row, 500 records 77k against 114k, 1,000 records 151k against 108k). Both give
# the same records (test_record_columns.py). The e2e tests set RECORDS_COLUMNAR_MIN=1.
COLUMNAR_MIN = int(os.environ.get("RECORDS_COLUMNAR_MIN", "500"))
VALIDATE_CHUNK = 10_000  # records read (and at most written, plus healed ones) per validate commit


async def validated(q: RecordQueries, sheet: Sheet, ids: Sequence[str]) -> list[StoredRecord]:
    """The records of `ids` (and waiters healed by values they give up) whose state changes when
    decided again: cells from `domain.revalidate`, then uniqueness with the current holders kept
    (a record holding a value it still wants keeps it; freed values go to their first waiter),
    then reference links."""
    current = await q.current(sheet.id, ids)
    now = utcnow()
    fresh = [domain.revalidate(sheet.schema, current[i], now) for i in ids if i in current]
    held_by: dict[str, dict[str, str]] = {}
    claims = await q.claims_of(sheet.id, list(current))
    for record_id, name, value in claims:
        held_by.setdefault(record_id, {})[name] = value
    decided = await checked(q, sheet, fresh, held_now=claims)
    out: list[StoredRecord] = []
    for record in decided:
        before = current.get(record.id)
        if before is None:  # a waiter outside `ids` that a freed value heals
            out.append(record)
        elif (changed := domain.unchanged(before, record, held_by.get(record.id, {}))) is not None:
            out.append(changed)
    return out


def _write(cmd: InsertRecords | UpdateRecords | DeleteRecords | FindReplace, kind: str) -> Write:
    return Write(
        sheet_id=cmd.sheet_id,
        kind=kind,
        actor=cmd.principal.actor,
        key=cmd.idempotency_key,
        disable_hooks=cmd.disable_hooks,
    )


def _restricted(principal: Principal) -> bool:
    """Guests and publishable keys act as end users: readonly sheets and fields bind them."""
    return principal.kind != "secret"


def _limit(count: int) -> None:
    if count > MAX_RECORDS_PER_WRITE:
        raise PayloadTooLargeError(f"at most {MAX_RECORDS_PER_WRITE} records per request", key="records")


def _replacements(found: list[tuple[str, Any]], cmd: FindReplace) -> list[domain.UpdateItem]:
    items = []
    for record_id, value in found:
        replaced = _replace(value, cmd.find, cmd.replace)
        if replaced is not _UNCHANGED:
            items.append(domain.UpdateItem(id=record_id, values={cmd.field_key: domain.InCell(value=replaced)}))
    return items


_UNCHANGED = object()


def _replace(value: Any, find: Any, replace: Any) -> Any:
    if isinstance(find, str) and len(find) >= 2 and find.startswith('"') and find.endswith('"'):
        return replace if str(value) == find[1:-1] else _UNCHANGED
    if is_empty(find):
        return replace if is_empty(value) else _UNCHANGED
    if isinstance(value, str) and isinstance(find, str) and find in value:
        return value.replace(find, "" if replace is None else str(replace))
    return replace if value == find else _UNCHANGED


_PLAIN = (pl.String, pl.Int64, pl.Float64, pl.Boolean, pl.Null)


def as_frame(body: list[dict[str, domain.CellInput]]) -> pl.DataFrame | None:
    """The body as columns when every record has the same fields and every cell is a plain value
    (no messages or metadata) of one JSON type per field; else None (the row path takes it).
    Records of no cells take the row path too: a frame built of no columns has no rows."""
    if not body or not body[0]:
        return None
    columns: dict[str, list[Any]] = {key: [] for key in body[0]}
    width = len(columns)
    for row in body:
        if len(row) != width:
            return None
        for key, cell in row.items():
            value = cell
            if isinstance(cell, domain.InCell):
                if cell.messages is not None or cell.metadata or cell.value is msgspec.UNSET:
                    return None
                value = cell.value
            column = columns.get(key)
            if column is None:
                return None
            column.append(value)
    try:
        frame = pl.DataFrame(columns, strict=True)
    except (TypeError, ValueError, OverflowError, pl.exceptions.PolarsError):
        return None
    return frame if all(dtype in _PLAIN for dtype in frame.dtypes) else None
