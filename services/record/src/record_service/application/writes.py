"""Write commands: insert, update, delete, find-and-replace. Each is one commit.

Decisions are taken against the read model at the sheet's `version` (the stream sequence of its
last records event) and appended with that version as the optimistic-concurrency guard, in one
atomic batch. If another writer got in first the append is refused, the projection catches up
and the write is decided again, so uniqueness is decided race-free per sheet.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import msgspec

from record_service.application.context import Context, Sheet
from record_service.application.query import select, since_position
from record_service.domain import records as domain
from record_service.domain.validation import error, is_empty
from spaceport import ids
from spaceport.contracts.record import (
    MAX_IDS,
    MAX_RECORDS_PER_WRITE,
    DeleteRecords,
    FindReplace,
    InsertRecords,
    StoredRecord,
    UpdateRecords,
    WireRecord,
    Written,
)
from spaceport.contracts.space import Principal
from spaceport.errors import ConcurrencyError, ForbiddenError, PayloadTooLargeError, ValidationFailedError
from spaceport.events import Event, utcnow
from spaceport.eventstore import MAX_ATOMIC_BATCH, AppendContext, AppendResult
from spaceport.readmodel import Conn

ATTEMPTS = 5
Decided = tuple[list[StoredRecord], list[str]]  # (records written: full state, ids deleted)
_cells = msgspec.json.Decoder(StoredRecord)
_encoder = msgspec.json.Encoder()


class WriteHandlers:
    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx

    def register(self) -> None:
        rpc = self.ctx.runtime.rpc
        rpc.handle(InsertRecords)(self.insert)
        rpc.handle(UpdateRecords)(self.update)
        rpc.handle(DeleteRecords)(self.delete)
        rpc.handle(FindReplace)(self.find_replace)

    # ---- commands ---------------------------------------------------------------------------

    async def insert(self, cmd: InsertRecords) -> Written:
        body = domain.decode_body(domain.INSERT_BODY, await self.ctx.claims.unpack(cmd.body))
        _limit(len(body))
        sheet = await self.ctx.sheet(cmd.sheet_id)
        restricted = _restricted(cmd.principal)
        domain.check_writable(sheet.schema, restricted)
        built = domain.build_inserts(sheet.schema, body, utcnow())
        domain.check_readonly_fields(sheet.schema, restricted, built)

        async def decide(sheet: Sheet, conn: Conn) -> Decided:
            return await self._checked(sheet, conn, built), []

        written, records = await self._commit(cmd.sheet_id, "insert", cmd.principal.actor, cmd.idempotency_key, decide)
        if written.commit_id is None:
            return written
        reply = [_wire(r, written.commit_id) for r in records]
        return msgspec.structs.replace(written, records=await self.ctx.claims.pack(_encoder.encode(reply)))

    async def update(self, cmd: UpdateRecords) -> Written:
        items = domain.decode_body(domain.UPDATE_BODY, await self.ctx.claims.unpack(cmd.body))
        _limit(len(items))
        return await self._update(cmd.sheet_id, items, "update", cmd.principal, cmd.idempotency_key)

    async def delete(self, cmd: DeleteRecords) -> Written:
        if len(cmd.ids) > MAX_IDS:
            raise ValidationFailedError(f"at most {MAX_IDS} ids per request", key="ids")
        domain.check_writable((await self.ctx.sheet(cmd.sheet_id)).schema, _restricted(cmd.principal))

        async def decide(sheet: Sheet, conn: Conn) -> Decided:
            if cmd.query is not None:
                sel = select(sheet, cmd.query, await since_position(conn, sheet, cmd.query))
                rows = await conn.fetch(f"SELECT r.id FROM record r WHERE {sel.where}", *sel.params)
            else:
                rows = await conn.fetch(
                    "SELECT id FROM record WHERE sheet_id = $1 AND id = ANY($2::text[])", sheet.id, cmd.ids
                )
            deleted = [r["id"] for r in rows]
            # records flagged as duplicates of a value the deleted records held are decided again
            return await self._checked(sheet, conn, [], deleted, replaces=True), deleted

        written, _ = await self._commit(cmd.sheet_id, "delete", cmd.principal.actor, cmd.idempotency_key, decide)
        return written

    async def find_replace(self, cmd: FindReplace) -> Written:
        sheet = await self.ctx.sheet(cmd.sheet_id)
        if cmd.field_key not in sheet.field_keys:
            raise ValidationFailedError(f"{cmd.field_key!r} is not a field of this sheet", key="fieldKey")
        restricted = _restricted(cmd.principal)
        domain.check_writable(sheet.schema, restricted)
        if restricted and cmd.field_key in sheet.schema.readonly:
            raise ForbiddenError(f"field {cmd.field_key!r} is readonly; it can only be changed with a secret key")
        async with (await self.ctx.pool()).acquire() as conn:
            sel = select(sheet, cmd.query, await since_position(conn, sheet, cmd.query))
            rows = await conn.fetch(
                f"SELECT r.id, r.cells->{sel.param(cmd.field_key)}->'value' AS v FROM record r WHERE {sel.where}",
                *sel.params,
            )
        items = []
        for row in rows:
            value = None if row["v"] is None else msgspec.json.decode(row["v"])
            replaced = _replace(value, cmd.find, cmd.replace)
            if replaced is not _UNCHANGED:
                items.append(domain.UpdateItem(id=row["id"], values={cmd.field_key: domain.InCell(value=replaced)}))
        _limit(len(items))
        return await self._update(cmd.sheet_id, items, "find-replace", cmd.principal, cmd.idempotency_key)

    # ---- the commit loop --------------------------------------------------------------------

    async def _update(
        self, sheet_id: str, items: Sequence[domain.UpdateItem], kind: str, principal: Principal, key: str | None
    ) -> Written:
        restricted = _restricted(principal)

        async def decide(sheet: Sheet, conn: Conn) -> Decided:
            domain.check_writable(sheet.schema, restricted)
            current = await _current(conn, sheet.id, [i.id for i in items])
            built = domain.build_updates(sheet.schema, items, current, utcnow())
            domain.check_readonly_fields(sheet.schema, restricted, built, current)
            return await self._checked(sheet, conn, built, replaces=True), []

        written, _ = await self._commit(sheet_id, kind, principal.actor, key, decide)
        return written

    async def _commit(
        self, sheet_id: str, kind: str, actor: str, key: str | None, decide: Any
    ) -> tuple[Written, list[StoredRecord]]:
        """Decide against the sheet at its version and append guarded by it; retry on conflict."""
        async with self.ctx.lock(sheet_id):
            for attempt in range(ATTEMPTS):
                await self.ctx.settled(sheet_id)
                sheet = await self.ctx.sheet(sheet_id)
                if any(rule.ref is not None for rule in sheet.schema.rules.values()):
                    # References are resolved against other sheets' records: this process's own
                    # recent commits to them must be projected first (read-your-writes).
                    await self.ctx.wait_for(max(self.ctx.written.values(), default=0), timeout=60.0)
                async with (await self.ctx.pool()).acquire() as conn:
                    done = await _already(conn, sheet.id, key)
                    if done is not None:
                        return done, []
                    records, deleted = await decide(sheet, conn)
                if not records and not deleted:
                    return Written(commit_id=None, position=sheet.version, record_count=0), []
                commit_id = ids.new_id("commit")
                events = domain.commit_events(
                    kind, sheet.scope(commit_id), records, deleted, created_by=actor, idempotency_key=key
                )
                try:
                    result = await self._append(sheet, events, key)
                except ConcurrencyError:
                    if attempt == ATTEMPTS - 1:
                        raise
                    await self.ctx.catch_up()
                    continue
                # Not waiting for the projection here: the next write or read of this sheet in
                # this process waits for `written` first (read-your-writes), so the projection of
                # this commit overlaps the client's next request.
                self.ctx.written[sheet_id] = result.last_seq
                count = len(records) + len(deleted)
                return Written(commit_id=commit_id, position=result.last_seq, record_count=count), records
        raise AssertionError("unreachable")

    async def _append(self, sheet: Sheet, events: list[Event], key: str | None) -> AppendResult:
        if len(events) > MAX_ATOMIC_BATCH:
            raise PayloadTooLargeError("this write needs more than 1,000 events; split it into smaller requests")
        # Guarded by the version the write was decided at; a conflict never reads the sheet's
        # history (append_at), the write is decided again against the caught-up read model.
        context = AppendContext(idempotency_key=key)
        return await self.ctx.runtime.store.append_at(
            sheet.ref, events, expected_version=sheet.version, context=context
        )

    async def _checked(
        self,
        sheet: Sheet,
        conn: Conn,
        records: list[StoredRecord],
        deleted: Sequence[str] = (),
        *,
        replaces: bool = False,
    ) -> list[StoredRecord]:
        """Uniqueness across the sheet (first holder wins) and reference links.

        With `replaces` (updates, deletes) the values the written and `deleted` records give up
        are freed: the first record (by row) flagged as a duplicate of each freed value is decided
        again in this commit, ahead of the written records, and its new state is returned first.
        """
        uniques = sheet.schema.uniques
        if not uniques:
            return await _linked(conn, sheet, records) if records else records
        gone = {r.id for r in records}.union(deleted)
        healed = await _waiters(conn, sheet, records, deleted, gone) if replaces else []
        candidates = healed + records
        excluded = gone.union(r.id for r in healed)
        wanted = domain.wanted_claims(uniques, candidates)
        held: dict[str, dict[str, str]] = {}
        for name, values in wanted.items():
            if not values:
                continue
            rows = await conn.fetch(
                "SELECT value, record_id FROM unique_claim WHERE sheet_id = $1 AND name = $2"
                " AND value = ANY($3::text[])",
                sheet.id,
                name,
                list(set(values.values())),
            )
            # claims of records this write rewrites or deletes are decided again, not held
            held[name] = {r["value"]: r["record_id"] for r in rows if r["record_id"] not in excluded}
        checked = domain.apply_uniques(uniques, candidates, lambda name: held.get(name, {}))
        return await _linked(conn, sheet, checked)


async def _waiters(
    conn: Conn, sheet: Sheet, records: list[StoredRecord], deleted: Sequence[str], gone: set[str]
) -> list[StoredRecord]:
    """Current state (without unique messages) of the first record flagged for each value that
    the written or deleted records held and give up, in row order."""
    rows = await conn.fetch(
        "SELECT record_id, name, value FROM unique_claim WHERE record_id = ANY($1::text[]) AND sheet_id = $2",
        list(gone),
        sheet.id,
    )
    released = domain.released_claims(
        sheet.schema.uniques, ((r["record_id"], r["name"], r["value"]) for r in rows), records
    )
    if not released:
        return []
    found = await conn.fetch(
        "SELECT record_id FROM (SELECT DISTINCT ON (w.name, w.value) w.record_id, r.row_no"
        "  FROM unique_waiter w JOIN record r ON r.id = w.record_id"
        "  WHERE w.sheet_id = $1 AND (w.name, w.value) IN (SELECT * FROM unnest($2::text[], $3::text[]))"
        "  AND NOT (w.record_id = ANY($4::text[]))"
        "  ORDER BY w.name, w.value, r.row_no) f ORDER BY row_no",
        sheet.id,
        [n for n, _ in released],
        [v for _, v in released],
        list(gone),
    )
    order = list(dict.fromkeys(r["record_id"] for r in found))
    current = await _current(conn, sheet.id, order)
    return [domain.strip_uniques(current[i]) for i in order if i in current]


async def _linked(conn: Conn, sheet: Sheet, records: list[StoredRecord]) -> list[StoredRecord]:
    """References: a value not found under `key` in the referenced sheet gets an `unlinked` error."""
    refs = [r for r in sheet.schema.rules.values() if r.ref is not None]
    for rule in refs:
        assert rule.ref is not None
        slug, ref_key = rule.ref
        wanted = {str(v) for rec in records for v in _ref_values(rec, rule.key)}
        if not wanted:
            continue
        rows = await conn.fetch(
            "SELECT DISTINCT r.cells->$3->>'value' AS v FROM record r JOIN sheet s ON s.id = r.sheet_id"
            " WHERE s.workbook_id = $1 AND s.slug = $2 AND NOT s.deleted AND r.cells->$3->>'value' = ANY($4::text[])",
            sheet.workbook_id,
            slug,
            ref_key,
            list(wanted),
        )
        found = {r["v"] for r in rows}
        records = [_unlink(rec, rule.key, found) for rec in records]
    return records


def _ref_values(record: StoredRecord, key: str) -> list[Any]:
    cell = record.values.get(key)
    if cell is None or is_empty(cell.value):
        return []
    return cell.value if isinstance(cell.value, list) else [cell.value]


def _unlink(record: StoredRecord, key: str, found: set[str]) -> StoredRecord:
    """The cell's `unlinked` message decided again (an unchanged cell keeps an earlier one)."""
    cell = record.values.get(key)
    if cell is None:
        return record
    stale = any(m.source == "unlinked" for m in cell.messages)
    missing = [v for v in _ref_values(record, key) if str(v) not in found]
    if not missing and not stale:
        return record
    messages = [m for m in cell.messages if m.source != "unlinked"] if stale else list(cell.messages)
    if missing:
        messages.append(error(f"no record in the referenced sheet has {missing[0]!r}", "unlinked", key))
    valid = not any(m.type == "error" for m in messages)
    values = {**record.values, key: msgspec.structs.replace(cell, valid=valid, messages=messages)}
    done = domain.finish(record.id, values, record.metadata)
    return msgspec.structs.replace(done, claims=record.claims, waits=record.waits)


async def _current(conn: Conn, sheet_id: str, record_ids: list[str]) -> dict[str, StoredRecord]:
    rows = await conn.fetch(
        "SELECT id, cells::text AS cells, metadata::text AS metadata FROM record"
        " WHERE sheet_id = $1 AND id = ANY($2::text[])",
        sheet_id,
        record_ids,
    )
    return {
        r["id"]: _cells.decode(f'{{"id":"{r["id"]}","values":{r["cells"]},"metadata":{r["metadata"]}}}') for r in rows
    }


async def _already(conn: Conn, sheet_id: str, key: str | None) -> Written | None:
    """The earlier result of a retried request (same Idempotency-Key)."""
    if key is None:
        return None
    row = await conn.fetchrow(
        "SELECT id, last_seq, record_count FROM record_commit WHERE sheet_id = $1 AND idempotency_key = $2",
        sheet_id,
        key,
    )
    if row is None:
        return None
    return Written(commit_id=row["id"], position=row["last_seq"], record_count=row["record_count"])


def _restricted(principal: Principal) -> bool:
    """Guests and publishable keys act as end users: readonly sheets and fields bind them."""
    return principal.kind != "secret"


def _limit(count: int) -> None:
    if count > MAX_RECORDS_PER_WRITE:
        raise PayloadTooLargeError(f"at most {MAX_RECORDS_PER_WRITE} records per request", key="records")


def _wire(record: StoredRecord, commit_id: str) -> WireRecord:
    return WireRecord(
        id=record.id,
        values=record.values,
        valid=record.valid,
        metadata=record.metadata,
        commit_id=commit_id,
        version_id=commit_id,
    )


_UNCHANGED = object()


def _replace(value: Any, find: Any, replace: Any) -> Any:
    if isinstance(find, str) and len(find) >= 2 and find.startswith('"') and find.endswith('"'):
        return replace if str(value) == find[1:-1] else _UNCHANGED
    if is_empty(find):
        return replace if is_empty(value) else _UNCHANGED
    if isinstance(value, str) and isinstance(find, str) and find in value:
        return value.replace(find, "" if replace is None else str(replace))
    return replace if value == find else _UNCHANGED
