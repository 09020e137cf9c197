"""The metrics projection: every domain event (`<prefix>.>`) into per-space counters (schema `metrics`).

Per batch: translate each event into its Flatfile events exactly as the feed does (`translate`,
with this schema's own `lookup` facts, loaded and written back like the feed's), turn events and
translations into deltas (`counting`), load the touched spaces' rows, fold the deltas in order
and write the changed rows back; the live sheets follow their workbook events. All of it in the
runner's transaction with the checkpoint. Record events arrive lean (ids only, `feed.lean`).
Statements are not schema-qualified: the runner sets the search_path (live schema or shadow).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import asyncpg

from job_service.feed.lookups import Lookups
from job_service.feed.projection import forget_spaces, lookups_for, save_lookups
from job_service.feed.translate import translate
from job_service.metrics import counting
from job_service.metrics.counting import Delta, SheetChange, SheetClosed, SheetOpened, SpaceCounters, WorkbookClosed
from spaceport.events import StoredEvent
from spaceport.readmodel import Conn

NAME = "metrics"
MIGRATIONS = Path(__file__).parent / "migrations"
COLUMNS = counting.COLUMNS
UPSERT = (
    f"INSERT INTO space ({', '.join(COLUMNS)}) VALUES ({', '.join(f'${n}' for n in range(1, len(COLUMNS) + 1))})"
    " ON CONFLICT (space_id) DO UPDATE SET " + ", ".join(f"{c} = EXCLUDED.{c}" for c in COLUMNS if c != "space_id")
)


def changes_of(events: Sequence[StoredEvent], lookups: Lookups) -> tuple[list[Delta], list[SheetChange]]:
    """The batch's deltas and sheet changes, in order; `lookups` follows the translation."""
    deltas: list[Delta] = []
    sheets: list[SheetChange] = []
    for stored in events:
        emitted = [event for _, event in translate(stored, lookups)]
        job_id = counting.job_of(stored.event)
        deltas += counting.deltas(stored, emitted, lookups.job(job_id) if job_id else None)
        sheets += counting.sheet_changes(stored)
    return deltas, sheets


def fold_all(rows: dict[str, SpaceCounters], deltas: Sequence[Delta]) -> dict[str, SpaceCounters]:
    """The rows `deltas` changed, folded in order from `rows` (which is not modified)."""
    folded = dict(rows)
    for delta in deltas:
        row = counting.fold(folded.get(delta.space_id), delta)
        if row is not None:
            folded[delta.space_id] = row
    return {key: row for key, row in folded.items() if rows.get(key) != row}


def _counters(found: asyncpg.Record) -> SpaceCounters:
    return SpaceCounters(**{c: found[c] for c in COLUMNS})


async def load_spaces(conn: Conn, space_ids: set[str]) -> dict[str, SpaceCounters]:
    if not space_ids:
        return {}
    found = await conn.fetch(
        f"SELECT {', '.join(COLUMNS)} FROM space WHERE space_id = ANY($1::text[])", list(space_ids)
    )
    return {row["space_id"]: _counters(row) for row in found}


async def apply_sheets(conn: Conn, changes: Sequence[SheetChange]) -> None:
    for change in changes:
        match change:
            case SheetOpened():
                await conn.execute(
                    "INSERT INTO sheet (sheet_id, workbook_id, space_id) VALUES ($1, $2, $3)"
                    " ON CONFLICT (sheet_id) DO UPDATE SET workbook_id = EXCLUDED.workbook_id,"
                    " space_id = EXCLUDED.space_id",
                    change.sheet_id,
                    change.workbook_id,
                    change.space_id,
                )
            case SheetClosed():
                await conn.execute("DELETE FROM sheet WHERE sheet_id = $1", change.sheet_id)
            case WorkbookClosed():
                await conn.execute("DELETE FROM sheet WHERE workbook_id = $1", change.workbook_id)


class MetricsProjection:
    """Projection `metrics` (schema `metrics`): per-space counters, live sheets, the feed's facts."""

    name = NAME
    migrations: Path | None = MIGRATIONS
    batch_size = 100  # as the feed: it reads record events too (up to 512 KB each)

    def __init__(self, prefix: str = "evt") -> None:
        self.filter_subjects = [f"{prefix}.>"]

    async def apply(self, conn: Conn, event: StoredEvent) -> None:
        await self.apply_batch(conn, [event])

    async def apply_batch(self, conn: Conn, events: Sequence[StoredEvent]) -> None:
        lookups = await lookups_for(conn, events)
        deltas, sheets = changes_of(events, lookups)
        changed = fold_all(await load_spaces(conn, {d.space_id for d in deltas}), deltas)
        if changed:
            await conn.executemany(UPSERT, [tuple(getattr(row, c) for c in COLUMNS) for row in changed.values()])
        await save_lookups(conn, lookups)
        await apply_sheets(conn, sheets)
        for space_id, _ in await forget_spaces(conn, events):
            # erasure: a replay cannot count a deleted space's erased events, so its row goes
            await conn.execute("DELETE FROM sheet WHERE space_id = $1", space_id)
            await conn.execute("DELETE FROM space WHERE space_id = $1", space_id)
