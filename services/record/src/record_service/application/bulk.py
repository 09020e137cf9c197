"""The columnar bulk path: `ImportRecords` (an Arrow IPC body) and `MapRecords` (a source sheet's
records into a destination sheet), each one commit.

Rows stay columns from the body (or the source sheet's COPY) to the encoded events: validation,
uniqueness and encoding are `domain.columns`, run in a worker thread (polars releases the GIL)
so this process keeps answering while a batch is decided. A sheet with reference fields takes the
row path (`build_inserts` + `checked`): its links are decided against another sheet per value.
"""

from __future__ import annotations

import asyncio

import polars as pl
import pyarrow as pa

from record_service.application.checks import checked
from record_service.application.commit import Decided, Encoded, Write, commit
from record_service.application.context import Context, Sheet
from record_service.application.ports import RecordQueries
from record_service.domain import columns, keys
from record_service.domain import records as domain
from record_service.domain.validation import is_empty
from spaceport.contracts.record import (
    MAX_RECORDS_PER_WRITE,
    CommitSource,
    FieldMapping,
    ImportRecords,
    Mapped,
    MapRecords,
    Written,
    row_runs,
)
from spaceport.contracts.space import Principal
from spaceport.errors import ForbiddenError, PayloadTooLargeError, ValidationFailedError
from spaceport.events import utcnow

MAX_PAGE_BYTES = 8 << 20  # a mapped page's source text: its encoded records are a few times that


class BulkHandlers:
    """`ImportRecords` and `MapRecords` on the ports of `ctx`."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx

    async def import_records(self, cmd: ImportRecords) -> Written:
        frame = read_ipc(await self.ctx.claims.unpack(cmd.body), cmd.source)
        sheet = await self.ctx.sheet(cmd.sheet_id)
        write = Write(
            sheet_id=cmd.sheet_id,
            kind="insert",
            actor=cmd.principal.actor,
            key=cmd.idempotency_key,
            disable_hooks=cmd.disable_hooks,
            reply_records=False,
            source=cmd.source,
        )
        return await insert_frame(self.ctx, write, sheet, _restricted(cmd.principal), frame)

    async def map_records(self, cmd: MapRecords) -> Mapped:
        if not 0 < cmd.limit <= MAX_RECORDS_PER_WRITE:
            raise ValidationFailedError(f"limit must be 1..{MAX_RECORDS_PER_WRITE}", key="limit")
        source = await self.ctx.sheet(cmd.source_sheet_id)
        destination = await self.ctx.sheet(cmd.destination_sheet_id)
        _check_mapping(source, destination, cmd.fields)
        await self.ctx.settled(source.id)
        sources = list(dict.fromkeys(f.source for f in cmd.fields))
        async with self.ctx.model.session() as q:
            page = await q.source_frame(source.id, sources, cmd.after_row, cmd.limit)
        more = page.height == cmd.limit  # rows may follow this page
        if page.height > 1 and (size := page.estimated_size()) > MAX_PAGE_BYTES:
            page = page.head(max(1, int(page.height * MAX_PAGE_BYTES // size)))  # wide rows: fewer per commit
            more = True  # the rest of what was read comes with the next page
        last_row = int(page["row_no"][-1]) if page.height else cmd.after_row
        write = Write(
            sheet_id=destination.id,
            kind="insert",
            actor=cmd.principal.actor,
            key=cmd.idempotency_key,
            reply_records=False,
            source=CommitSource(
                job_id=cmd.job_id,
                sheet_id=source.id,
                fields={f.destination: f.source for f in cmd.fields},
                rows=row_runs(page["row_no"].to_list()) if page.height else None,  # each record's source row
            ),
        )
        if page.height:
            written = await insert_frame(self.ctx, write, destination, False, mapped(page, cmd.fields))
        else:
            written = Written(commit_id=None, position=destination.version, record_count=0)
        return Mapped(written=written, read=page.height, last_row=last_row, done=not more)


async def insert_frame(ctx: Context, write: Write, sheet: Sheet, restricted: bool, frame: pl.DataFrame) -> Written:
    """Insert the rows of `frame` (a column per field key) into `sheet` as one commit."""
    if frame.height > MAX_RECORDS_PER_WRITE:
        raise PayloadTooLargeError(f"at most {MAX_RECORDS_PER_WRITE} records per request", key="records")
    domain.check_writable(sheet.schema, restricted)
    if restricted:
        _check_readonly(sheet, frame)
    ids = keys.record_id_list(sheet.id, write.key, frame.height)
    now = utcnow()
    if sheet.schema.has_references:
        body = [{k: domain.InCell(value=v) for k, v in row.items()} for row in frame.to_dicts()]
        built = domain.build_inserts(sheet.schema, body, now, ids.__getitem__)  # type: ignore[arg-type]

        async def linked(sheet: Sheet, q: RecordQueries) -> Decided:
            return await checked(q, sheet, built), []

        return await commit(ctx, write, sheet, linked)
    prepared = await asyncio.to_thread(columns.prepare, sheet.schema, frame, now)

    async def decide(sheet: Sheet, q: RecordQueries) -> Decided:
        held = {}
        for name, values in columns.wanted(prepared).items():
            if values:
                held[name] = await q.claims_held(sheet.id, name, set(values))
        return Encoded(await asyncio.to_thread(columns.encode, prepared, ids, held)), []

    return await commit(ctx, write, sheet, decide)


def read_ipc(body: bytes, source: CommitSource | None = None) -> pl.DataFrame:
    """An Arrow IPC stream as a frame; anything else is the client's error (named by `source`'s
    rows and headers when it has them: an extraction's are the file's)."""
    try:
        with pa.ipc.open_stream(body) as reader:
            table = reader.read_all()
    except (pa.ArrowInvalid, OSError) as problem:
        raise ValidationFailedError(f"the body is not an Arrow IPC stream: {problem}") from None
    frame = pl.from_arrow(table)
    assert isinstance(frame, pl.DataFrame)
    for name, dtype in frame.schema.items():  # Postgres cannot store a NUL: refuse, never lose the row
        if dtype == pl.String and (hits := frame[name].str.contains("\x00", literal=True)).any():
            column = (source.fields or {}).get(name, name) if source is not None else name
            where = _row_named(int(hits.arg_true()[0]), source.rows if source is not None else None)
            raise ValidationFailedError(
                f"column {column!r} has a NUL character in {where}, which cannot be stored; remove it and retry",
                key=name,
            )
    return frame


def _row_named(index: int, runs: list[tuple[int, int]] | None) -> str:
    """The `index`-th row of a batch as its source numbers it (`CommitSource.rows`: an
    extraction's are the file's data rows), else as the batch's."""
    for first, count in runs or []:
        if index < count:
            return f"row {first + index}"
        index -= count
    return f"row {index + 1} of this batch"


def write_ipc(table: pa.Table | pa.RecordBatch) -> bytes:
    """`table` as the Arrow IPC stream `ImportRecords` takes."""
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write(table)
    return bytes(sink.getvalue())


def mapped(page: pl.DataFrame, fields: list[FieldMapping]) -> pl.DataFrame:
    """The source page as destination columns: renamed by the mapping, enum values replaced."""
    out = []
    for f in fields:
        column = pl.col(f.source)
        if f.values:
            wanted = {str(k): v for k, v in f.values.items()}
            column = column.replace(list(wanted), [None if v is None else str(v) for v in wanted.values()])
        out.append(column.alias(f.destination))
    return page.select(out)


def _check_mapping(source: Sheet, destination: Sheet, fields: list[FieldMapping]) -> None:
    if not fields:
        raise ValidationFailedError("the mapping has no fields", key="fields")
    known = set(source.field_keys)
    seen: set[str] = set()
    for f in fields:
        if f.source not in known:
            raise ValidationFailedError(f"{f.source!r} is not a field of the source sheet", key="fields")
        if f.destination not in destination.schema.rules and not destination.schema.allow_additional:
            raise ValidationFailedError(f"{f.destination!r} is not a field of the destination sheet", key="fields")
        if f.destination in seen:
            raise ValidationFailedError(f"two source fields map to {f.destination!r}", key="fields")
        seen.add(f.destination)


def _check_readonly(sheet: Sheet, frame: pl.DataFrame) -> None:
    """A restricted principal may not set a readonly field (as `check_readonly_fields`)."""
    for key in sheet.schema.readonly & set(frame.columns):
        values = frame.get_column(key).drop_nulls()
        if values.dtype == pl.String:
            values = values.filter(values != "")
        if values.len() and not all(is_empty(v) for v in values.head(1).to_list()):
            raise ForbiddenError(f"field {key!r} is readonly; it can only be changed with a secret key", key=key)


def _restricted(principal: Principal) -> bool:
    return principal.kind != "secret"
