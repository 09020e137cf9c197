"""Per-sheet query indexes, built once a sheet is big and its bulk load has gone quiet.

Search, sort and filters on a 1,000,000-record sheet need indexes, and indexes on every sheet
would tax every insert (measured: an expression index costs ~30% of COPY throughput). So a
sheet gets its own *partial* indexes (`WHERE sheet_id = '<id>'`) only when it holds at least
RECORDS_INDEX_MIN records (default 50,000) and no write has touched it, or any other sheet of
its space, for RECORDS_INDEX_QUIET seconds (default 2): the space rule keeps the build of an
import's 1M-record source sheet from competing with the mapping that is writing its destination
(measured: ~25 s of Postgres CPU during a 1M-row mapping on 2 cores). A build that a write to
the space cuts short is cancelled, and the space must then stay quiet twice as long before the
next try (up to 60 s), so a space written in bursts is not indexed again and again in between;
a restore re-creating many records holds the indexer off its space outright (`hold_off`, table
`bulk_write`) until it is done. One trigram GIN index on
the JSON text of its cells' values (serves `searchValue` with or without `searchField`, and FFQL
substring conditions) and one btree per field on (value, row_no) (serves `sortField` in both
directions and its keyset pages). Inserts into that sheet then maintain them; inserts into
other sheets do not.

Postgres keeps an index transactionally consistent with its table, so a query never sees a
stale index: until a sheet's indexes exist its queries are just slower (scans, capped by
RECORDS_QUERY_TIMEOUT). Indexes are built CONCURRENTLY (writes continue meanwhile), one at a
time, by whichever record process holds the indexer's advisory lock; invalid ones (a build
interrupted by a crash) are dropped and rebuilt; those of deleted sheets and removed fields are
dropped. The records projection's rebuild starts a new schema without them; they come back the
same way.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import os
import re
from dataclasses import dataclass
from typing import Any

import asyncpg
import msgspec

from record_service.projections.worker import LockedWorker
from spaceport.readmodel import Conn

log = logging.getLogger(__name__)
MIN_RECORDS = int(os.environ.get("RECORDS_INDEX_MIN", "50000"))
QUIET_SECONDS = float(os.environ.get("RECORDS_INDEX_QUIET", "2"))
MAX_QUIET_SECONDS = 60.0  # the longest wait `quiet_needed` asks of a space written in bursts
HOLD_SECONDS = 300.0  # how long one `hold_off` keeps the indexer off a sheet's space
POLL_SECONDS = 1.0
PREFIX = "rx_"
LOCK_KEY = 0x5EC0_1DE5  # pg advisory lock: one indexer at a time across record processes
_SAFE_ID = re.compile(r"^[A-Za-z0-9_]{1,40}$")
# Postgres' own text of the search expression; queries must spell it the same way (`query.py`).
SEARCH_TEXT = "jsonb_path_query_array(cells, '$.*.value')::text"


class _Fields(msgspec.Struct):
    key: str


class _Config(msgspec.Struct):
    fields: list[_Fields] = []


_config = msgspec.json.Decoder(_Config)


def literal(text: str) -> str:
    """A SQL string literal (standard_conforming_strings is on in every supported Postgres)."""
    return "'" + text.replace("'", "''") + "'"


@dataclass(frozen=True)
class IndexSpec:
    name: str
    ddl: str  # CREATE INDEX CONCURRENTLY ... (no IF NOT EXISTS: a name is checked before)


def wanted(sheet_id: str, field_keys: list[str], trigram_ops: str | None) -> list[IndexSpec]:
    """The indexes a big sheet gets; names are `rx_<sheet id>_<kind>` (a field's by a hash of
    its key, so any key fits Postgres' 63-byte names). Empty for an id unsafe in a name."""
    if not _SAFE_ID.match(sheet_id):
        return []
    where = f"WHERE sheet_id = {literal(sheet_id)}"
    specs = []
    if trigram_ops is not None:
        specs.append(
            IndexSpec(
                f"{PREFIX}{sheet_id}_s",
                f"CREATE INDEX CONCURRENTLY {PREFIX}{sheet_id}_s ON record USING gin (({SEARCH_TEXT}) {trigram_ops})"
                f" {where}",
            )
        )
    for key in field_keys:
        digest = hashlib.sha1(key.encode(), usedforsecurity=False).hexdigest()[:10]
        name = f"{PREFIX}{sheet_id}_f{digest}"
        specs.append(
            IndexSpec(
                name, f"CREATE INDEX CONCURRENTLY {name} ON record ((cells->{literal(key)}->'value'), row_no) {where}"
            )
        )
    return specs


def sheet_of(index_name: str) -> str | None:
    """The sheet id in one of our index names (`rx_<sheet id>_<kind>`)."""
    if not index_name.startswith(PREFIX):
        return None
    body = index_name[len(PREFIX) :]
    sheet, sep, _ = body.rpartition("_")
    return sheet if sep else None


class SheetIndexer(LockedWorker):
    """Polls the sheet table; builds, repairs and drops the per-sheet indexes (module doc)."""

    task_name = "sheet-indexer"
    label = "sheet indexer"
    lock_key = LOCK_KEY

    def __init__(self, database_url: str, schema: str) -> None:
        super().__init__(database_url, schema)
        self._seen: dict[str, tuple[int, float]] = {}  # space -> (its sheets' summed versions, first seen then)
        self._gave_way: dict[str, int] = {}  # space -> builds cut short by its writes since its last build
        self.built: list[str] = []  # names built by this process (tests, logs)

    async def serve(self, conn: asyncpg.Connection[Any]) -> None:
        ops = await trigram_ops(conn)
        await conn.execute("SET maintenance_work_mem = '128MB'")
        while True:
            await self.step(conn, ops)
            await asyncio.sleep(POLL_SECONDS)

    async def step(self, conn: asyncpg.Connection[Any], ops: str | None) -> None:
        """One pass: drop what is invalid or unwanted, then build at most one missing index."""
        existing = {
            r["name"]: r["valid"]
            for r in await conn.fetch(
                "SELECT c.relname AS name, i.indisvalid AS valid FROM pg_index i"
                " JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_namespace n ON n.oid = c.relnamespace"
                " WHERE n.nspname = current_schema() AND c.relname LIKE 'rx\\_%'"
            )
        }
        sheets = await conn.fetch(
            "SELECT id, space_id, total, config::text AS config, deleted FROM sheet"
            " WHERE total >= $1 OR id = ANY($2::text[])",
            MIN_RECORDS,
            list({s for s in map(sheet_of, existing) if s is not None}),
        )
        quiet = await self._quiet_spaces(conn, {s["space_id"] for s in sheets if not s["deleted"]})
        held = {r[0] for r in await conn.fetch("SELECT sheet_id FROM bulk_write WHERE until > now()")}
        quiet -= {s["space_id"] for s in sheets if s["id"] in held}  # a bulk write is under way there
        want: dict[str, IndexSpec] = {}
        ready: list[str] = []
        spaces = {sheet["id"]: sheet["space_id"] for sheet in sheets}
        for sheet in sheets:
            if sheet["deleted"]:
                continue
            keys = [f.key for f in _config.decode(sheet["config"]).fields]
            for spec in wanted(sheet["id"], keys, ops):
                want[spec.name] = spec
            if sheet["space_id"] in quiet and sheet["total"] >= MIN_RECORDS:
                ready.append(sheet["id"])
        for name, valid in existing.items():
            if not valid or name not in want:
                log.info("sheet indexer: dropping %s (%s)", name, "invalid" if not valid else "no longer wanted")
                await conn.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {name}")
        for sheet_id in ready:
            missing = [s for s in want.values() if sheet_of(s.name) == sheet_id and not existing.get(s.name)]
            if not missing:
                continue
            log.info("sheet indexer: building %s", missing[0].name)
            if not await self.build(conn, missing[0].ddl, spaces[sheet_id]):
                log.info("sheet indexer: %s gave way to a write in its space; built again once quiet", missing[0].name)
                return  # the invalid index it leaves is dropped by the next pass
            self.built.append(missing[0].name)
            # the planner's statistics of the new expression; with the sheet's last index, the
            # visibility map too (index-only skips of deep pages after a bulk load)
            await conn.execute("ANALYZE record" if len(missing) > 1 else "VACUUM (ANALYZE) record")
            return  # one build per pass: deletions and new sheets are seen between builds

    async def build(self, conn: Conn, ddl: str, space_id: str) -> bool:
        """Run `ddl` (a CREATE INDEX CONCURRENTLY); False if a write to the space cut it short.

        A build of a 1M-record sheet's trigram index takes a core for many seconds; when the space
        gets a write meanwhile (the mapping of the import that made the sheet starts), the build is
        cancelled rather than competing with it: the space waits to be quiet again first."""
        watcher = await asyncpg.connect(self.database_url, server_settings={"search_path": self.schema})
        try:
            before = await _space_versions(watcher, {space_id})
            running = asyncio.ensure_future(conn.execute(ddl))
            while True:
                done, _ = await asyncio.wait({running}, timeout=POLL_SECONDS)
                if done:
                    running.result()
                    self._gave_way.pop(space_id, None)
                    return True
                if await _space_versions(watcher, {space_id}) != before:
                    running.cancel()  # asyncpg asks the server to cancel the statement
                    with contextlib.suppress(asyncio.CancelledError, asyncpg.QueryCanceledError):
                        await running
                    self._seen.pop(space_id, None)
                    self._gave_way[space_id] = self._gave_way.get(space_id, 0) + 1
                    return False
        finally:
            await watcher.close()

    def quiet_needed(self, space_id: str) -> float:
        """How long the space must go unwritten: QUIET_SECONDS, doubled for each build its writes
        cut short since its last build (up to MAX_QUIET_SECONDS). A space written in bursts (a
        restore's or a mapping's chunks, seconds apart) is not indexed again and again in between."""
        return min(MAX_QUIET_SECONDS, QUIET_SECONDS * float(2 ** self._gave_way.get(space_id, 0)))

    async def _quiet_spaces(self, conn: Conn, spaces: set[str]) -> set[str]:
        """The spaces none of whose sheets a records event touched for `quiet_needed` seconds.

        A sheet's `version` is the position of its last records event, so the sum over a space's
        sheets changes with any write to any of them (new sheets included)."""
        if not spaces:
            self._seen.clear()
            return set()
        now = asyncio.get_running_loop().time()
        quiet: set[str] = set()
        for space_id, summed in (await _space_versions(conn, spaces)).items():
            version, since = self._seen.get(space_id, (-1, 0.0))
            if version != summed:
                self._seen[space_id] = (summed, now)
            elif now - since >= self.quiet_needed(space_id):
                quiet.add(space_id)
        for gone in set(self._seen) - spaces:
            del self._seen[gone]
        for gone in set(self._gave_way) - spaces:
            del self._gave_way[gone]
        return quiet


async def _space_versions(conn: Conn, spaces: set[str]) -> dict[str, int]:
    """Each space's sheets' versions summed: it moves with any records event of the space."""
    rows = await conn.fetch(
        "SELECT space_id, sum(version)::bigint AS v FROM sheet WHERE space_id = ANY($1::text[]) GROUP BY 1",
        list(spaces),
    )
    return {r["space_id"]: int(r["v"]) for r in rows}


async def hold_off(conn: Any, sheet_id: str, seconds: float = HOLD_SECONDS) -> None:
    """Keep the indexer off the sheet's space for `seconds` (a bulk write into the sheet is under
    way: a restore's re-create, whose chunks come seconds apart and would each cut a build short;
    measured at 300,000 records: a trigram build started mid-restore, 10-22 s of Postgres CPU,
    then gave way). Each chunk holds again; `release` ends it; a crashed writer's hold runs out."""
    await conn.execute(
        "INSERT INTO bulk_write (sheet_id, until) VALUES ($1, now() + make_interval(secs => $2))"
        " ON CONFLICT (sheet_id) DO UPDATE SET until = EXCLUDED.until",
        sheet_id,
        seconds,
    )


async def release(conn: Any, sheet_id: str) -> None:
    """The bulk write into the sheet is over: the indexer may build once its space is quiet."""
    await conn.execute("DELETE FROM bulk_write WHERE sheet_id = $1", sheet_id)


async def drop_for_bulk(conn: Any, sheet_id: str) -> list[str]:
    """Drop the sheet's query indexes ahead of a bulk write into it (a restore re-creating many
    records): maintaining a trigram GIN and a btree per field row by row costs more than building
    them again, which the indexer does once the sheet is quiet, as after a bulk load. Until then
    the sheet's queries scan (slower, never stale). `conn`: outside a transaction, search_path on
    the records schema. The names dropped."""
    if not _SAFE_ID.match(sheet_id):
        return []
    rows = await conn.fetch(
        "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
        " WHERE n.nspname = current_schema() AND c.relkind = 'i' AND starts_with(c.relname, $1)",
        f"{PREFIX}{sheet_id}_",
    )
    names = [str(r[0]) for r in rows]
    for name in names:
        log.info("dropping %s ahead of a bulk write (the sheet indexer builds it again)", name)
        await conn.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {name}")
    return names


async def trigram_ops(conn: asyncpg.Connection[Any]) -> str | None:
    """pg_trgm's GIN operator class, schema-qualified, installing the extension into `public`
    (so no projection schema owns it) when allowed; None (no search index) when it cannot be."""
    try:
        await conn.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm SCHEMA public")
    except asyncpg.PostgresError as error:
        log.warning("sheet indexer: pg_trgm unavailable (%s); searches will scan", error)
    schema = await conn.fetchval(
        "SELECT n.nspname FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace WHERE e.extname = 'pg_trgm'"
    )
    return None if schema is None else f'"{schema}".gin_trgm_ops'
