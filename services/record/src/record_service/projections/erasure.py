"""Erasure of a deleted space's records, in batches that never hold the projection up.

On `SpaceDeleted` the records projection (in its transaction) removes the space's workbooks,
sheets, snapshots and small per-sheet rows, and lists its sheets in `erased_sheet`. A sheet of
1,000,000 records is not deleted there in one statement: the `SheetPurger` (background work of
every record process, one at a time by an advisory lock) deletes `BATCH` rows per statement,
each in its own short transaction, from every per-record table, then drops the sheet from
`erased_sheet`. The read side never sees those rows meanwhile (their sheet row is gone, and a
sheet's per-sheet indexes go with it: `sheet_indexes`). Idempotent, so safe after a crash or a
replay: a rebuild of the projection never sees the space's records (its events are erased,
`spaceport.crypto`), so it has nothing to purge.
"""

from __future__ import annotations

import asyncio
import logging
import os
from typing import Any

import asyncpg

from record_service.projections.worker import LockedWorker
from spaceport.readmodel import Conn

log = logging.getLogger(__name__)
BATCH = int(os.environ.get("RECORDS_ERASE_BATCH", "5000"))  # rows per DELETE (one short transaction)
POLL_SECONDS = 1.0
LOCK_KEY = 0x5EC0_E2A5  # pg advisory lock: one purger at a time across record processes
# Per-record tables, each with an index that starts with sheet_id.
RECORD_TABLES = ("record_history", "record_tombstone", "unique_waiter", "unique_claim", "record", "record_commit")
SMALL_TABLES = ("field_errors",)


async def erase_space(conn: Conn, space_id: str) -> None:
    """The projection's part (inside its transaction): everything but the per-record rows."""
    await conn.execute(
        "INSERT INTO erased_sheet (sheet_id, space_id) SELECT id, space_id FROM sheet WHERE space_id = $1"
        " ON CONFLICT DO NOTHING",
        space_id,
    )
    await conn.execute("DELETE FROM snapshot WHERE space_id = $1", space_id)
    for table in SMALL_TABLES:
        await conn.execute(
            f"DELETE FROM {table} WHERE sheet_id IN (SELECT id FROM sheet WHERE space_id = $1)", space_id
        )
    await conn.execute("DELETE FROM sheet WHERE space_id = $1", space_id)
    await conn.execute("DELETE FROM workbook WHERE space_id = $1", space_id)


async def purge_sheet(conn: Conn, sheet_id: str, batch: int = BATCH) -> int:
    """Delete a listed sheet's per-record rows, `batch` per statement; returns the rows deleted."""
    deleted = 0
    for table in RECORD_TABLES:
        while True:
            status = await conn.execute(
                f"DELETE FROM {table} WHERE ctid = ANY(ARRAY(SELECT ctid FROM {table} WHERE sheet_id = $1 LIMIT $2))",
                sheet_id,
                batch,
            )
            count = int(status.rsplit(" ", 1)[-1])
            deleted += count
            if count < batch:
                break
    await conn.execute("DELETE FROM erased_sheet WHERE sheet_id = $1", sheet_id)
    return deleted


async def purge_all(conn: Conn, batch: int = BATCH) -> int:
    """Purge every listed sheet (tests, the CLI); returns the rows deleted."""
    total = 0
    for row in await conn.fetch("SELECT sheet_id FROM erased_sheet ORDER BY sheet_id"):
        total += await purge_sheet(conn, row["sheet_id"], batch)
    return total


class SheetPurger(LockedWorker):
    """Polls `erased_sheet` and purges what it lists (module doc)."""

    task_name = "sheet-purger"
    label = "sheet purger"
    lock_key = LOCK_KEY

    async def serve(self, conn: asyncpg.Connection[Any]) -> None:
        while True:
            exists = await conn.fetchval("SELECT to_regclass('erased_sheet') IS NOT NULL")
            if exists:
                for row in await conn.fetch("SELECT sheet_id FROM erased_sheet ORDER BY sheet_id LIMIT 100"):
                    deleted = await purge_sheet(conn, row["sheet_id"])
                    log.info("sheet purger: sheet %s erased (%d rows)", row["sheet_id"], deleted)
            await asyncio.sleep(POLL_SECONDS)
