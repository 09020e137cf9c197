"""The records read model on Postgres, as the write path asks it (`application.ports`).

`PgRecordQueries` answers one write attempt's lookups on one connection of the `records`
schema; `PgRecordReadModel` opens those sessions, reads sheets and the service's KnownSpaces
directory, and waits for the projections (read-your-writes).
"""

from __future__ import annotations

import asyncio
import io
from collections.abc import AsyncIterator, Collection, Sequence
from contextlib import asynccontextmanager
from typing import Any

import asyncpg
import msgspec
import polars as pl
from nats.js.errors import NotFoundError as ConsumerNotFoundError

from record_service.application.context import Sheet
from record_service.application.ports import CommitRow, CommitState, SheetRow
from record_service.application.query import select, since_position
from record_service.projections.records import NAME, configured_partitions
from spaceport import known_spaces, readmodel
from spaceport.contracts.record import RecordQuery, StoredRecord
from spaceport.known_spaces import SpaceFact
from spaceport.projection.consumer import durable_name
from spaceport.projection.partition import applied_position, partition_name
from spaceport.readmodel import Conn
from spaceport.runtime import ServiceRuntime

_record = msgspec.json.Decoder(StoredRecord)
_SHEET = (
    "SELECT id, workbook_id, space_id, environment_id, slug, config::text AS config, config_seq, version,"
    " total, valid, deleted_rows FROM sheet WHERE id = $1 AND NOT deleted"
)


# `waiters_of`: the first waiter (by row) of each value the ids hold, outside the ids. A few ids
# are followed to their claims and those values' waiters. Many ids are matched as one hashed set
# against the sheet's waiters (only duplicates have rows) and their values' holders. On a
# synthetic 1M-claim sheet at load ~8: following all 1M ids to their claims spent ~22 s in the
# index probes alone; the hashed match took 2.2 s with no waiters and 6.4 s with 1,000 (the old
# claims_of + waiters: 26.5 s and 26-49 s).
_FEW_IDS = 10_000
_FIRST_WAITERS = (
    "SELECT record_id FROM (SELECT DISTINCT ON (w.name, w.value) w.record_id, r.row_no"
    "  FROM {source} JOIN record r ON r.id = w.record_id WHERE {where}"
    "  ORDER BY w.name, w.value, r.row_no) f ORDER BY row_no"
)
_WAITERS_OF_FEW = _FIRST_WAITERS.format(
    source="unique_claim c JOIN unique_waiter w ON w.sheet_id = c.sheet_id AND w.name = c.name AND w.value = c.value",
    where="c.sheet_id = $1 AND c.record_id = ANY($2::text[]) AND NOT (w.record_id = ANY($2::text[]))",
)
_WAITERS_OF_MANY = (
    "WITH gone AS MATERIALIZED (SELECT unnest($2::text[]) AS id),"
    + (
        " waiting AS MATERIALIZED (SELECT w.name, w.value, w.record_id, c.record_id AS holder FROM unique_waiter w"
        "  JOIN unique_claim c ON c.sheet_id = w.sheet_id AND c.name = w.name AND c.value = w.value"
        "  WHERE w.sheet_id = $1) "
    )
    + _FIRST_WAITERS.format(
        source="waiting w",
        where="EXISTS (SELECT FROM gone g WHERE g.id = w.holder)"
        " AND NOT EXISTS (SELECT FROM gone g WHERE g.id = w.record_id)",
    )
)


class PgRecordQueries:
    """`RecordQueries` on one connection."""

    def __init__(self, conn: Conn) -> None:
        self.conn = conn

    async def current(self, sheet_id: str, record_ids: Collection[str]) -> dict[str, StoredRecord]:
        rows = await self.conn.fetch(
            "SELECT id, cells::text AS cells, metadata::text AS metadata, config::text AS config FROM record"
            " WHERE sheet_id = $1 AND id = ANY($2::text[])",
            sheet_id,
            list(record_ids),
        )
        return {r["id"]: _record.decode(_record_json(r["id"], r["cells"], r["metadata"], r["config"])) for r in rows}

    async def existing(self, sheet_id: str, record_ids: Collection[str]) -> list[str]:
        rows = await self.conn.fetch(
            "SELECT id FROM record WHERE sheet_id = $1 AND id = ANY($2::text[])", sheet_id, list(record_ids)
        )
        return [r["id"] for r in rows]

    async def matching(self, sheet: Sheet, query: RecordQuery) -> list[str]:
        sel = select(sheet, query, await since_position(self.conn, sheet, query))
        rows = await self.conn.fetch(f"SELECT r.id FROM record r WHERE {sel.where}", *sel.params)
        return [r["id"] for r in rows]

    async def matching_values(self, sheet: Sheet, query: RecordQuery, field_key: str) -> list[tuple[str, Any]]:
        sel = select(sheet, query, await since_position(self.conn, sheet, query))
        rows = await self.conn.fetch(
            f"SELECT r.id, r.cells->{sel.param(field_key)}->'value' AS v FROM record r WHERE {sel.where}",
            *sel.params,
        )
        return [(r["id"], None if r["v"] is None else msgspec.json.decode(r["v"])) for r in rows]

    async def claims_held(self, sheet_id: str, name: str, values: Collection[str]) -> dict[str, str]:
        rows = await self.conn.fetch(
            "SELECT value, record_id FROM unique_claim WHERE sheet_id = $1 AND name = $2 AND value = ANY($3::text[])",
            sheet_id,
            name,
            list(values),
        )
        return {r["value"]: r["record_id"] for r in rows}

    async def claims_of(self, sheet_id: str, record_ids: Collection[str]) -> list[tuple[str, str, str]]:
        rows = await self.conn.fetch(
            "SELECT record_id, name, value FROM unique_claim WHERE record_id = ANY($1::text[]) AND sheet_id = $2",
            list(record_ids),
            sheet_id,
        )
        return [(r["record_id"], r["name"], r["value"]) for r in rows]

    async def waiters(self, sheet_id: str, released: Sequence[tuple[str, str]], excluded: Collection[str]) -> list[str]:
        rows = await self.conn.fetch(
            "SELECT record_id FROM (SELECT DISTINCT ON (w.name, w.value) w.record_id, r.row_no"
            "  FROM unique_waiter w JOIN record r ON r.id = w.record_id"
            "  WHERE w.sheet_id = $1 AND (w.name, w.value) IN (SELECT * FROM unnest($2::text[], $3::text[]))"
            "  AND NOT (w.record_id = ANY($4::text[]))"
            "  ORDER BY w.name, w.value, r.row_no) f ORDER BY row_no",
            sheet_id,
            [name for name, _ in released],
            [value for _, value in released],
            list(excluded),
        )
        return list(dict.fromkeys(r["record_id"] for r in rows))

    async def waiters_of(self, sheet_id: str, record_ids: Collection[str]) -> list[str]:
        ids = list(record_ids)
        rows = await self.conn.fetch(_WAITERS_OF_FEW if len(ids) <= _FEW_IDS else _WAITERS_OF_MANY, sheet_id, ids)
        return list(dict.fromkeys(r["record_id"] for r in rows))

    async def linked_values(self, workbook_id: str, slug: str, key: str, values: Collection[str]) -> set[str]:
        rows = await self.conn.fetch(
            "SELECT DISTINCT r.cells->$3->>'value' AS v FROM record r JOIN sheet s ON s.id = r.sheet_id"
            " WHERE s.workbook_id = $1 AND s.slug = $2 AND NOT s.deleted AND r.cells->$3->>'value' = ANY($4::text[])",
            workbook_id,
            slug,
            key,
            list(values),
        )
        return {r["v"] for r in rows}

    async def source_frame(self, sheet_id: str, keys: Sequence[str], after_row: int, limit: int) -> pl.DataFrame:
        """One COPY of the slice as CSV, parsed by polars: no Python object per row or cell."""
        columns = "".join(f", cells->${n + 4}->>'value'" for n in range(len(keys)))
        query = f"SELECT row_no{columns} FROM record WHERE sheet_id = $1 AND row_no > $2 ORDER BY row_no LIMIT $3"
        out = io.BytesIO()

        async def sink(chunk: bytes) -> None:
            out.write(chunk)

        # The primary key (sheet_id, row_no) lists the slice in order. Right after a bulk load
        # the planner's statistics do not know the sheet yet, and it chose a scan of the whole
        # sheet plus a sort spilling to disk for every page (measured: a 1M-row mapping's first
        # pages took 1-2 s each, 69 s of Postgres CPU in all); only the index scan is allowed.
        async with self.conn.transaction():
            await self.conn.execute(
                "SET LOCAL enable_sort = off; SET LOCAL enable_bitmapscan = off; SET LOCAL enable_seqscan = off"
            )
            await self.conn.copy_from_query(
                query, sheet_id, after_row, limit, *keys, output=sink, format="csv", force_quote=True
            )
        names = ["row_no", *(f"c{n}" for n in range(len(keys)))]
        schema = {"row_no": pl.Int64, **{f"c{n}": pl.String for n in range(len(keys))}}
        if out.tell() == 0:
            frame = pl.DataFrame(schema=schema)
        else:
            out.seek(0)
            frame = pl.read_csv(out, has_header=False, new_columns=names, schema=schema)
        return frame.rename({f"c{n}": key for n, key in enumerate(keys)})

    async def commit_by_key(self, sheet_id: str, key: str) -> CommitRow | None:
        row = await self.conn.fetchrow(
            "SELECT id, first_seq, last_seq FROM record_commit WHERE sheet_id = $1 AND idempotency_key = $2",
            sheet_id,
            key,
        )
        return None if row is None else CommitRow(id=row["id"], first_seq=row["first_seq"], last_seq=row["last_seq"])

    async def commit_state(self, commit_id: str) -> CommitState | None:
        row = await self.conn.fetchrow(
            "SELECT id, sheet_id, completed_at IS NOT NULL AS completed FROM record_commit WHERE id = $1", commit_id
        )
        return None if row is None else CommitState(id=row["id"], sheet_id=row["sheet_id"], completed=row["completed"])


class PgRecordReadModel:
    """`RecordReadModel` on the `records` schema and the service's KnownSpaces (`spaces`)."""

    def __init__(self, runtime: ServiceRuntime, spaces: str) -> None:
        self.runtime = runtime
        self.spaces = spaces  # the KnownSpaces projection's name (= its schema)
        self._pool: asyncpg.Pool[Any] | None = None
        # the highest position the projector child was seen to have applied: a read of this
        # process's own earlier write (read-your-writes) then skips the checkpoint query
        self._applied = 0

    async def pool(self) -> asyncpg.Pool[Any]:
        if self._pool is None:
            # custom plans: a sheet's partial indexes (`sheet_indexes`) match only a bound sheet id
            self._pool = await readmodel.create_pool(
                self.runtime.settings.database_url, NAME, max_size=8, settings={"plan_cache_mode": "force_custom_plan"}
            )
        return self._pool

    async def close(self) -> None:
        if self._pool is not None:
            await self._pool.close()
            self._pool = None

    @asynccontextmanager
    async def session(self) -> AsyncIterator[PgRecordQueries]:
        async with (await self.pool()).acquire() as conn:
            yield PgRecordQueries(conn)

    async def sheet(self, sheet_id: str) -> SheetRow | None:
        async with (await self.pool()).acquire() as conn:
            row = await conn.fetchrow(_SHEET, sheet_id)
        return None if row is None else SheetRow(**dict(row))

    async def space(self, space_id: str, *, position: int) -> SpaceFact | None:
        if position > 0:
            await self.runtime.runner(self.spaces).wait_for(position)
        async with self.runtime.pool.acquire() as conn:
            return await known_spaces.space_fact(conn, space_id)

    async def wait_for(self, position: int, timeout: float) -> bool:
        """With the projection in this process its runner is asked; otherwise (the projector
        child process) its checkpoint row is polled."""
        if any(r.projection.name == NAME for r in self.runtime.runners):
            return await self.runtime.runner(NAME).wait_for(position, timeout)
        if position <= self._applied:  # applied events stay applied (a rebuild swaps in a complete schema)
            return True
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        pool = await self.pool()
        while loop.time() < deadline:
            async with pool.acquire() as conn:
                applied = await applied_position(conn, NAME)
            self._applied = max(self._applied, applied)
            if applied >= position:
                return True
            await asyncio.sleep(0.005)
        return False

    async def catch_up(self, timeout: float) -> bool:
        """The projection's position only moves on events it reads, so the stream's last
        sequence is no target; the durable consumer's pending counts are."""
        store = self.runtime.store
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        count = configured_partitions()
        names = [durable_name(NAME if count <= 1 else partition_name(NAME, k)) for k in range(count)]
        while loop.time() < deadline:
            drained = True
            for name in names:
                try:
                    info = await store.js.consumer_info(store.stream, name)
                except ConsumerNotFoundError:  # being (re)created at the checkpoint, e.g. on lease take
                    info = None
                if info is None or info.num_pending or info.num_ack_pending:
                    drained = False
                    break
            if drained:
                return True
            await asyncio.sleep(0.02)
        return False


def _record_json(record_id: str, cells: str, metadata: str, config: str = "{}") -> str:
    tail = "" if config == "{}" else f',"config":{config}'  # the record's config (None when '{}')
    return f'{{"id":"{record_id}","values":{cells},"metadata":{metadata}{tail}}}'
