"""Projection `records`: sheets (from workbook events), records, unique claims, commits, counters.

Record events are decoded here into lean Structs whose cells stay encoded JSON (`msgspec.Raw`):
the projection never builds a Python object per cell, it hands bytes to a binary COPY.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import AsyncIterator, Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import asyncpg
import msgspec

from record_service.projections import copybin, erasure
from spaceport.contracts import snapshot
from spaceport.contracts.record import AGGREGATE, RecordsRestored
from spaceport.contracts.space import SpaceDeleted
from spaceport.contracts.workbook import (
    SheetAdded,
    SheetConfigChanged,
    SheetDeleted,
    SheetSpec,
    WorkbookCreated,
    WorkbookDeleted,
)
from spaceport.events import StoredEvent
from spaceport.readmodel import Conn

NAME = "records"
RECORD_COLUMNS = (
    "sheet_id",
    "row_no",
    "id",
    "cells",
    "metadata",
    "valid",
    "error_fields",
    "commit_id",
    "seq",
    "updated_at",
)
CONFIG_COLUMNS = (*RECORD_COLUMNS, "config")  # what the projection COPYs (copybin.record_row)
CLAIM_COLUMNS = ("sheet_id", "name", "value", "record_id")
_json = msgspec.json.Encoder()


NO_CONFIG = msgspec.Raw(b"{}")
RESTORE_WORK_MEM = "64MB"  # per RecordsRestored statement (at most 5,000 versions)
PARTITIONS_ENV = "RECORD_PARTITIONS"


def configured_partitions() -> int:
    """How many partitions the records projection runs as (`RECORD_PARTITIONS`, default 1).

    Every replica of the record service must use the same number; changing it needs the
    partitions to stand at one position (no writes) or a rebuild (docs/operations.md)."""
    raw = os.environ.get(PARTITIONS_ENV, "1")
    try:
        count = int(raw)
    except ValueError:
        raise ValueError(f"{PARTITIONS_ENV}={raw!r} is not a whole number (1 = unpartitioned)") from None
    if not 1 <= count <= 64:
        raise ValueError(f"{PARTITIONS_ENV}={count} is out of range: use 1 (unpartitioned) to 64")
    return count


class LeanRecord(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    id: str
    values: msgspec.Raw
    valid: bool = True
    metadata: msgspec.Raw = msgspec.Raw(b"{}")
    error_fields: list[str] = msgspec.field(default_factory=list)
    claims: dict[str, str] = msgspec.field(default_factory=dict)
    waits: dict[str, str] = msgspec.field(default_factory=dict)
    config: msgspec.Raw = NO_CONFIG  # RecordConfig JSON; absent: none


def _config(record: LeanRecord) -> str:
    return bytes(record.config).decode()


class LeanRecords(msgspec.Struct, frozen=True, kw_only=True):
    sheet_id: str
    commit_id: str
    records: list[LeanRecord] = msgspec.field(default_factory=list)
    record_ids: list[str] = msgspec.field(default_factory=list)


class LeanCommit(msgspec.Struct, frozen=True, kw_only=True):
    sheet_id: str
    commit_id: str
    kind: str
    events: int
    record_count: int
    created_by: str = ""
    idempotency_key: str | None = None


class LeanCompletion(msgspec.Struct, frozen=True, kw_only=True):
    sheet_id: str
    commit_id: str
    completed_by: str = ""


_lean_records = msgspec.json.Decoder(LeanRecords)
_lean_completion = msgspec.json.Decoder(LeanCompletion)
_counts = msgspec.json.Decoder(dict[str, int])
# {field: number of rows of CTE {} with an error in it}, as JSON ('{{}}' when none)
_FIELD_COUNTS = (
    "SELECT coalesce(json_object_agg(f, n), '{{}}') FROM (SELECT f, count(*) AS n FROM {}, unnest(ef) f GROUP BY f) c"
)
_lean_commit = msgspec.json.Decoder(LeanCommit)
_restored = msgspec.json.Decoder(RecordsRestored)


class RecordsProjection:
    migrations: Path | None = Path(__file__).parent / "migrations"
    batch_size = 40  # events per batch: up to 40,000 records and 20 MB (events are bulk)
    fetch_max_bytes = 24 << 20  # a whole batch per fetch (8 MB would split it); 2 x 24 MB < 64 MB max_pending

    def __init__(self, prefix: str = "evt", name: str = NAME, *, partitions: int | None = None) -> None:
        self.name = name
        # > 1: replicas share the projection by space (`spaceport.projection.partition`)
        self.partitions = configured_partitions() if partitions is None else partitions
        self.filter_subjects = [
            f"{prefix}.*.workbook.>",
            f"{prefix}.*.{AGGREGATE}.>",
            f"{prefix}.*.{snapshot.AGGREGATE}.>",
            f"{prefix}.*.space.>",  # a deleted space's snapshots go (SpaceDeleted)
        ]

    async def apply_batch(self, conn: Conn, events: Sequence[StoredEvent]) -> None:
        """As `apply` on each event, but a run of `RecordsInserted` of one sheet (a bulk commit's
        events) goes in with one COPY, one claims COPY and one counter update."""
        # Undecoded: `_inserted_many` decodes each event while Postgres copies the rows before it.
        # A records event's aggregate is its sheet (`evt.<space>.records.<sheet>.<type>`).
        run: list[tuple[LeanRecords | msgspec.Raw, int, datetime]] = []
        sheet_id = ""
        for stored in events:
            if stored.envelope.type == "RecordsInserted":
                if run and sheet_id != stored.envelope.aggregate_id:
                    await self._inserted_many(conn, sheet_id, run)
                    run = []
                sheet_id = stored.envelope.aggregate_id
                run.append((stored.envelope.data, stored.seq, stored.envelope.occurred_at))
                continue
            if run:
                await self._inserted_many(conn, sheet_id, run)
                run = []
            await self.apply(conn, stored)
        if run:
            await self._inserted_many(conn, sheet_id, run)

    async def apply(self, conn: Conn, stored: StoredEvent) -> None:
        kind = stored.envelope.type
        at = stored.envelope.occurred_at
        if kind == "RecordsInserted":
            await self._inserted(conn, _lean_records.decode(stored.envelope.data), stored.seq, at)
        elif kind == "RecordsUpdated":
            await self._updated(conn, _lean_records.decode(stored.envelope.data), stored.seq, at)
        elif kind == "RecordsDeleted":
            await self._deleted(conn, _lean_records.decode(stored.envelope.data), stored.seq, at)
        elif kind == "CommitCreated":
            await self._commit(conn, _lean_commit.decode(stored.envelope.data), stored.seq, at)
        elif kind == "CommitCompleted":
            await self._completed(conn, _lean_completion.decode(stored.envelope.data), stored.seq, at)
        elif kind == "RecordsRestored":
            await self._restored(conn, _restored.decode(stored.envelope.data), stored.seq, at)
        elif isinstance(stored.event, snapshot.SnapshotEvent | SpaceDeleted):
            await _snapshots(conn, stored)
        else:
            await self._workbook(conn, stored)

    # ---- records ----------------------------------------------------------------------------

    async def _inserted(self, conn: Conn, event: LeanRecords, seq: int, at: datetime) -> None:
        await self._inserted_many(conn, event.sheet_id, [(event, seq, at)])

    async def _inserted_many(
        self, conn: Conn, sheet_id: str, events: Sequence[tuple[LeanRecords | msgspec.Raw, int, datetime]]
    ) -> None:
        """Records events of one sheet, in stream order: rows numbered on from the sheet's next row.

        The rows go to one binary COPY built from the events' bytes (`copybin`), an event at a
        time as Postgres takes them, so decoding and encoding overlap Postgres's work."""
        found = await conn.fetchrow("SELECT next_row, deleted_rows FROM sheet WHERE id = $1 FOR UPDATE", sheet_id)
        if found is None:
            return  # the sheet is unknown here (deleted before this projection existed)
        decoded: list[LeanRecords] = []

        async def chunks() -> AsyncIterator[bytes]:
            next_row = found["next_row"]
            yield copybin.HEADER
            for item, seq, at in events:
                event = item if isinstance(item, LeanRecords) else _lean_records.decode(item)
                if event.sheet_id != sheet_id:
                    raise ValueError(f"a records event of sheet {event.sheet_id} on the subject of {sheet_id}")
                decoded.append(event)
                tail = copybin.event_tail(event.commit_id, seq, at)
                rows = []
                for r in event.records:
                    next_row += 1
                    row = (r.id, bytes(r.values), bytes(r.metadata), r.valid, r.error_fields, tail, bytes(r.config))
                    rows.append(copybin.record_row(lead, next_row, *row))
                yield b"".join(rows)
            yield copybin.TRAILER

        lead = copybin.row_lead(sheet_id)
        await conn.copy_to_table("record", source=chunks(), columns=CONFIG_COLUMNS, format="binary")
        records = [r for event in decoded for r in event.records]
        if found["deleted_rows"]:  # a deleted record re-created with its id (a restore): alive, not a deletion
            await conn.execute(_UNTOMB, sheet_id, [r.id for r in records])
        merged = LeanRecords(sheet_id=sheet_id, commit_id=decoded[-1].commit_id, records=records)
        await self._claim(conn, merged, fresh=True)
        await _bump(conn, sheet_id, Counter(f for r in records if not r.valid for f in r.error_fields))
        await conn.execute(
            "UPDATE sheet SET total = total + $2, valid = valid + $3, next_row = next_row + $2, version = $4"
            " WHERE id = $1",
            sheet_id,
            len(records),
            sum(1 for r in records if r.valid),
            events[-1][1],
        )

    async def _updated(self, conn: Conn, event: LeanRecords, seq: int, at: datetime) -> None:
        ids = [r.id for r in event.records]
        row = await conn.fetchrow(
            "WITH s AS (SELECT * FROM unnest($2::text[], $3::text[], $4::text[], $5::bool[], $9::text[])"
            "  AS s(id, cells, metadata, valid, config)),"
            " old AS (SELECT r.valid AS was, r.error_fields AS ef FROM record r JOIN s ON r.id = s.id"
            "   WHERE r.sheet_id = $1),"
            f" h AS ({_HISTORY} SELECT {_HISTORY_ROW.format('r', '$7')} FROM record r JOIN s ON r.id = s.id"
            "   WHERE r.sheet_id = $1),"
            " upd AS (UPDATE record r SET cells = s.cells::jsonb, metadata = s.metadata::jsonb, valid = s.valid,"
            "   config = s.config::jsonb,"
            "   error_fields = ARRAY(SELECT e.key FROM jsonb_each(s.cells::jsonb) e"
            "     WHERE e.value->>'valid' = 'false'),"
            "   commit_id = $6, seq = $7, updated_at = $8"
            "   FROM s WHERE r.sheet_id = $1 AND r.id = s.id RETURNING r.valid, r.error_fields AS ef)"
            " SELECT (SELECT count(*) FILTER (WHERE was) FROM old) AS was_valid,"
            " (SELECT count(*) FILTER (WHERE valid) FROM upd) AS now_valid,"
            f" ({_FIELD_COUNTS.format('old')})::text AS was_errors,"
            f" ({_FIELD_COUNTS.format('upd')})::text AS now_errors",
            event.sheet_id,
            ids,
            [bytes(r.values).decode() for r in event.records],
            [bytes(r.metadata).decode() for r in event.records],
            [r.valid for r in event.records],
            event.commit_id,
            seq,
            at,
            [_config(r) for r in event.records],
        )
        assert row is not None
        deltas = Counter(_counts.decode(row["now_errors"]))
        deltas.subtract(_counts.decode(row["was_errors"]))
        await _bump(conn, event.sheet_id, deltas)
        await conn.execute("DELETE FROM unique_claim WHERE record_id = ANY($1::text[])", ids)
        await conn.execute("DELETE FROM unique_waiter WHERE record_id = ANY($1::text[])", ids)
        await self._claim(conn, event)
        await conn.execute(
            "UPDATE sheet SET valid = valid + $2, version = $3 WHERE id = $1",
            event.sheet_id,
            row["now_valid"] - row["was_valid"],
            seq,
        )

    async def _deleted(self, conn: Conn, event: LeanRecords, seq: int, at: datetime) -> None:
        """Rows go, their tombstones (`record_tombstone`: sinceCommitId reads) come in the same statement."""
        row = await conn.fetchrow(
            "WITH d AS (DELETE FROM record WHERE sheet_id = $1 AND id = ANY($2::text[]) RETURNING *),"
            f" h AS ({_HISTORY} SELECT {_HISTORY_ROW.format('d', '$3')} FROM d),"
            " gone AS (SELECT valid, error_fields AS ef FROM d),"
            " t AS (INSERT INTO record_tombstone (sheet_id, id, seq, commit_id, deleted_at)"
            "   SELECT $1, id, $3, $4, $5 FROM d ON CONFLICT DO NOTHING)"
            " SELECT count(*) AS n, count(*) FILTER (WHERE valid) AS v,"
            f" ({_FIELD_COUNTS.format('gone')})::text AS errors FROM gone",
            event.sheet_id,
            event.record_ids,
            seq,
            event.commit_id,
            at,
        )
        assert row is not None
        await _bump(conn, event.sheet_id, {f: -n for f, n in _counts.decode(row["errors"]).items()})
        await conn.execute("DELETE FROM unique_claim WHERE record_id = ANY($1::text[])", event.record_ids)
        await conn.execute("DELETE FROM unique_waiter WHERE record_id = ANY($1::text[])", event.record_ids)
        await conn.execute(
            "UPDATE sheet SET total = total - $2, valid = valid - $3, deleted_rows = deleted_rows + $2, version = $4"
            " WHERE id = $1",
            event.sheet_id,
            row["n"],
            row["v"],
            seq,
        )

    async def _claim(self, conn: Conn, event: LeanRecords, *, fresh: bool = False) -> None:
        """Claims and waits of the event's records. `fresh` (inserted records): the command side
        decided at the sheet's version that no one holds these values, so they go in with a
        binary COPY (measured ~5x cheaper than INSERT .. ON CONFLICT); a conflict would only
        come from an inconsistent history and falls back to the upsert."""
        waits = [(name, value, r.id) for r in event.records for name, value in r.waits.items()]
        if waits:
            await conn.execute(
                "INSERT INTO unique_waiter (sheet_id, name, value, record_id)"
                " SELECT $1, * FROM unnest($2::text[], $3::text[], $4::text[]) ON CONFLICT DO NOTHING",
                event.sheet_id,
                [w[0] for w in waits],
                [w[1] for w in waits],
                [w[2] for w in waits],
            )
        claims = [(name, value, r.id) for r in event.records for name, value in r.claims.items()]
        await _hold(conn, event.sheet_id, claims, fresh=fresh)

    async def _commit(self, conn: Conn, event: LeanCommit, seq: int, at: datetime) -> None:
        await conn.execute(
            "INSERT INTO record_commit (id, sheet_id, kind, first_seq, last_seq, record_count, created_by,"
            " created_at, idempotency_key) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT DO NOTHING",
            event.commit_id,
            event.sheet_id,
            event.kind,
            seq - event.events,
            seq,
            event.record_count,
            event.created_by,
            at,
            event.idempotency_key,
        )
        await conn.execute("UPDATE sheet SET version = $2 WHERE id = $1", event.sheet_id, seq)

    async def _completed(self, conn: Conn, event: LeanCompletion, seq: int, at: datetime) -> None:
        """The first completion counts; the sheet's version moves (it guards the next write)."""
        await conn.execute(
            "UPDATE record_commit SET completed_at = $2, completed_by = $3 WHERE id = $1 AND completed_at IS NULL",
            event.commit_id,
            at,
            event.completed_by,
        )
        await conn.execute("UPDATE sheet SET version = $2 WHERE id = $1", event.sheet_id, seq)

    async def _restored(self, conn: Conn, event: RecordsRestored, seq: int, at: datetime) -> None:
        """Records re-created as they were at `event.position`: each one's version then (the
        history row with `seq <= position < seq_to`, written by earlier events, so a rebuild
        copies the same) goes back into `record` in one INSERT … SELECT, numbered on from the
        sheet's next row in the event's order, as an insert of this event (`commit_id`, `seq`,
        `updated_at`); cells, validity and config as they were. Ids live already are skipped
        (the command side re-creates only absent ones). Tombstones go, claims come in."""
        found = await conn.fetchrow("SELECT next_row FROM sheet WHERE id = $1 FOR UPDATE", event.sheet_id)
        if found is None:
            return  # the sheet is unknown here (deleted before this projection existed)
        lo, hi = await history_span(conn, event.sheet_id, event.position, event.record_ids) or (1, 0)
        # a statement of its own: planned for these ids and rows (a cached generic plan would
        # not know how many ids there are, and probe each one)
        # the versions of the event (~1 KB each) sorted and held in memory, not in temporary files
        await conn.execute(f"SET LOCAL work_mem = '{RESTORE_WORK_MEM}'")
        restore = await conn.prepare(_RESTORE)
        row = await restore.fetchrow(
            event.sheet_id, event.record_ids, event.position, found["next_row"], event.commit_id, seq, at, lo, hi
        )
        assert row is not None
        await conn.execute(_UNTOMB, event.sheet_id, event.record_ids)
        await _hold(conn, event.sheet_id, [(c.name, c.value, c.record_id) for c in event.claims], fresh=True)
        await _bump(conn, event.sheet_id, _counts.decode(row["errors"]))
        await conn.execute(
            "UPDATE sheet SET total = total + $2, valid = valid + $3, next_row = next_row + $2, version = $4"
            " WHERE id = $1",
            event.sheet_id,
            row["n"],
            row["v"],
            seq,
        )

    # ---- sheets (workbook events) -----------------------------------------------------------

    async def _workbook(self, conn: Conn, stored: StoredEvent) -> None:
        match stored.event:
            case WorkbookCreated() as e:
                await conn.execute(
                    "INSERT INTO workbook (id, space_id, environment_id) VALUES ($1, $2, $3)"
                    " ON CONFLICT (id) DO UPDATE SET deleted = false",  # a restore revives a deleted workbook
                    e.workbook_id,
                    e.space_id,
                    e.environment_id,
                )
                for spec in e.sheets:
                    await self._add_sheet(conn, e.workbook_id, spec, stored.seq)
            case SheetAdded() as e:
                await self._add_sheet(conn, e.workbook_id, e.sheet, stored.seq)
            case SheetConfigChanged() as e:
                await conn.execute(
                    "UPDATE sheet SET config = $2::jsonb, slug = coalesce($3, slug), config_seq = $4 WHERE id = $1",
                    e.sheet_id,
                    _text(e.config),
                    e.slug,
                    stored.seq,
                )
            case SheetDeleted() as e:
                await conn.execute("UPDATE sheet SET deleted = true WHERE id = $1", e.sheet_id)
                await conn.execute("DELETE FROM snapshot WHERE sheet_id = $1", e.sheet_id)
            case WorkbookDeleted() as e:
                await conn.execute("UPDATE workbook SET deleted = true WHERE id = $1", e.workbook_id)
                await conn.execute("UPDATE sheet SET deleted = true WHERE workbook_id = $1", e.workbook_id)
                await conn.execute("DELETE FROM snapshot WHERE workbook_id = $1", e.workbook_id)

    async def _add_sheet(self, conn: Conn, workbook_id: str, spec: SheetSpec, seq: int) -> None:
        await conn.execute(
            "INSERT INTO sheet (id, workbook_id, space_id, environment_id, slug, config, config_seq)"
            " SELECT $1, w.id, w.space_id, w.environment_id, $3, $4::jsonb, $5 FROM workbook w WHERE w.id = $2"
            # a restore re-adds a removed sheet with its id: its records (kept) are its again
            " ON CONFLICT (id) DO UPDATE SET deleted = false, slug = excluded.slug, config = excluded.config,"
            " config_seq = excluded.config_seq",
            spec.sheet_id,
            workbook_id,
            spec.slug,
            _text(spec.config),
            seq,
        )


# the version an update or delete replaces goes to `record_history` (migration 008), in the same statement
_HISTORY = (
    "INSERT INTO record_history (sheet_id, id, row_no, cells, metadata, valid, error_fields, commit_id, seq,"
    " seq_to, updated_at, config)"
)
_HISTORY_ROW = (
    "{0}.sheet_id, {0}.id, {0}.row_no, {0}.cells, {0}.metadata, {0}.valid, {0}.error_fields, {0}.commit_id,"
    " {0}.seq, {1}, {0}.updated_at, {0}.config"
)


# The versions records had at a position are read by row number (`record_history_row`,
# migration 010), not by id: a restore re-creates (and reverts) records in row order, so the
# versions of a chunk of its records are one range of rows, one index range scan in the order
# the history was written, where a probe per id (`record_history_record`) reads index and heap
# pages at random ids. $1 sheet, $2 the ids of the chunk (their row order then), $3 the position.
HISTORY_SPAN = (
    "SELECT min(x.row_no) AS lo, max(x.row_no) AS hi FROM unnest($2::text[]) o(id)"
    " CROSS JOIN LATERAL (SELECT x.sheet_id, x.row_no, x.seq_to FROM record_history x"
    "   WHERE x.id = o.id AND x.seq <= $3 ORDER BY x.seq DESC LIMIT 1) x"
    " WHERE x.sheet_id = $1 AND x.seq_to > $3"
)
SPAN_DENSITY = 4  # a range of rows read for a chunk: at most this many rows per record of the chunk


async def history_span(conn: Conn, sheet_id: str, position: int, ids: Sequence[str]) -> tuple[int, int] | None:
    """The rows (lo, hi) the versions at `position` of `ids` (in row order then) fill: those of
    the first and the last id. None: neither had a version then, or the chunk is sparse in them
    (more than SPAN_DENSITY rows per record: its records are probed one by one)."""
    if not ids:
        return None
    row = await conn.fetchrow(HISTORY_SPAN, sheet_id, [ids[0], ids[-1]], position)
    if row is None or row["lo"] is None or row["hi"] - row["lo"] >= SPAN_DENSITY * len(ids):
        return None
    return int(row["lo"]), int(row["hi"])


# RecordsRestored: $1 sheet, $2 ids (in row order), $3 the position, $4 the sheet's next_row,
# $5 commit id, $6 the event's seq, $7 its time, $8..$9 the rows the versions fill (`history_span`)
_RESTORE = (
    "WITH o AS (SELECT * FROM unnest($2::text[]) WITH ORDINALITY o(id, n)),"
    # the versions then of rows $8..$9 (one range scan), of the ids of the event (hashed)
    " hit AS (SELECT o.n, x.* FROM record_history x JOIN o ON o.id = x.id"
    "   WHERE x.sheet_id = $1 AND x.row_no BETWEEN $8 AND $9 AND x.seq_to > $3 AND x.seq <= $3),"
    # an id whose version is not in those rows (none when the ids are in row order): one probe
    # (`record_history_record`: its last version up to $3). NOT IN: a hashed subplan that filters
    # `o` before any probe. With NOT EXISTS the planner, misled by the statistics of a history
    # just written (`hit` estimated at one row), probed every id and then anti-joined each against
    # all of `hit` (a nested loop: 5,000 x 5,000 rows, 9-15 s an event instead of ~0.5 s)
    " h AS (SELECT * FROM hit UNION ALL SELECT o.n, x.* FROM o"
    "   CROSS JOIN LATERAL (SELECT * FROM record_history x WHERE x.id = o.id AND x.seq <= $3"
    "     ORDER BY x.seq DESC LIMIT 1) x"
    "   WHERE o.n NOT IN (SELECT hit.n FROM hit) AND x.sheet_id = $1 AND x.seq_to > $3),"
    # the ids live now (one index scan of `record_id` in id order): skipped
    " live AS (SELECT r.id FROM record r WHERE r.id = ANY($2::text[])),"
    " v AS (SELECT h.*, row_number() OVER (ORDER BY h.n) AS k FROM h WHERE h.id NOT IN (SELECT id FROM live)),"
    " ins AS (INSERT INTO record (sheet_id, row_no, id, cells, metadata, valid, error_fields, commit_id, seq,"
    "   updated_at, config)"
    "   SELECT $1, $4 + v.k, v.id, v.cells, v.metadata, v.valid, v.error_fields, $5, $6, $7, v.config FROM v"
    "   RETURNING valid, error_fields AS ef)"
    " SELECT count(*) AS n, count(*) FILTER (WHERE valid) AS v,"
    f" ({_FIELD_COUNTS.format('ins')})::text AS errors FROM ins"
)


# the tombstones of records re-created: one probe of the primary key per id. `id = ANY($2)` was
# planned as a scan of every tombstone of the sheet (its statistics taken before the deletion that
# wrote them), 150 ms per 5,000 ids at 300,000 tombstones, growing with the sheet
_UNTOMB = "DELETE FROM record_tombstone t USING unnest($2::text[]) u(id) WHERE t.sheet_id = $1 AND t.id = u.id"


async def _snapshots(conn: Conn, stored: StoredEvent) -> None:
    """A snapshot row takes the sheet's config as the projection has it at this position (the
    records it names are read as of `seq`); it goes with the snapshot, sheet, workbook or space."""
    match stored.event:
        case snapshot.SnapshotCreated() as e:
            await conn.execute(
                "INSERT INTO snapshot (id, sheet_id, workbook_id, space_id, environment_id, label, thread_id,"
                " created_by, created_at, seq, config)"
                " SELECT $1, s.id, s.workbook_id, s.space_id, s.environment_id, $3, $4, $5, $6, $7, s.config"
                " FROM sheet s WHERE s.id = $2 AND NOT s.deleted ON CONFLICT (id) DO NOTHING",
                e.snapshot_id,
                e.sheet_id,
                e.label,
                e.thread_id,
                e.created_by,
                stored.envelope.occurred_at,
                stored.seq,
            )
        case snapshot.SnapshotDeleted() as e:
            await conn.execute("DELETE FROM snapshot WHERE id = $1", e.snapshot_id)
        case SpaceDeleted() as e:
            await erasure.erase_space(conn, e.space_id)


async def _hold(conn: Conn, sheet_id: str, claims: Sequence[tuple[str, str, str]], *, fresh: bool) -> None:
    """Claims `(name, value, record id)` of the sheet, each value now held by its record. `fresh`:
    the command side decided that no one holds these values, so they go in with a binary COPY
    (measured ~5x cheaper than INSERT .. ON CONFLICT); a conflict would only come from an
    inconsistent history and falls back to the upsert."""
    if not claims:
        return
    if fresh:
        try:
            async with conn.transaction():  # a savepoint: the fallback keeps the batch
                rows = [(sheet_id, *c) for c in claims]
                await conn.copy_records_to_table("unique_claim", records=rows, columns=CLAIM_COLUMNS)
        except asyncpg.UniqueViolationError:
            pass
        else:
            return
    await conn.execute(
        "INSERT INTO unique_claim (sheet_id, name, value, record_id)"
        " SELECT $1, * FROM unnest($2::text[], $3::text[], $4::text[])"
        " ON CONFLICT (sheet_id, name, value) DO UPDATE SET record_id = excluded.record_id",
        sheet_id,
        [c[0] for c in claims],
        [c[1] for c in claims],
        [c[2] for c in claims],
    )


async def _bump(conn: Conn, sheet_id: str, deltas: Mapping[str, int]) -> None:
    """Add `deltas` to the sheet's per-field error counters."""
    changed = {f: n for f, n in deltas.items() if n}
    if not changed:
        return
    await conn.execute(
        "INSERT INTO field_errors (sheet_id, field, errors) SELECT $1, * FROM unnest($2::text[], $3::bigint[])"
        " ON CONFLICT (sheet_id, field) DO UPDATE SET errors = field_errors.errors + excluded.errors",
        sheet_id,
        list(changed),
        list(changed.values()),
    )


def _text(value: Any) -> str:
    return _json.encode(value).decode()
