"""Reading the metrics read model (schema `metrics`): one space's row, an environment's sums by app.

The job service's pool reads schema `job` by default, so every statement names `metrics.`.
Sums over an environment are one indexed GROUP BY over its spaces' rows (one row per space).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

import asyncpg
import msgspec

from job_service.metrics.counting import COLUMNS, SpaceCounters

Pool = Callable[[], asyncpg.Pool]


class AppSums(msgspec.Struct, frozen=True, kw_only=True):
    """The sums over one app's spaces (app None: spaces of no app)."""

    app_id: str | None
    spaces: int
    submitted_spaces: int
    seconds_to_first_submit: float  # the sum over the submitted spaces
    last_activity_at: datetime | None
    events: int
    guests: int
    files: int
    files_created: int
    records_created: int
    records_updated: int
    records_deleted: int


SUMS = """
SELECT app_id, count(*) AS spaces, count(first_submit_at) AS submitted_spaces,
       coalesce(sum(extract(epoch FROM first_submit_at - created_at)), 0)::float8 AS seconds_to_first_submit,
       max(last_activity_at) AS last_activity_at,
       coalesce(sum(events), 0)::bigint AS events, coalesce(sum(guests), 0)::bigint AS guests,
       coalesce(sum(files), 0)::bigint AS files, coalesce(sum(files_created), 0)::bigint AS files_created,
       coalesce(sum(records_created), 0)::bigint AS records_created,
       coalesce(sum(records_updated), 0)::bigint AS records_updated,
       coalesce(sum(records_deleted), 0)::bigint AS records_deleted
FROM metrics.space
WHERE environment_id = $1 AND NOT deleted AND ($2::text IS NULL OR app_id = $2)
GROUP BY app_id
ORDER BY app_id NULLS FIRST
"""
SHEETS_OF_ENVIRONMENT = """
SELECT sh.sheet_id, sp.app_id FROM metrics.sheet sh JOIN metrics.space sp USING (space_id)
WHERE sp.environment_id = $1 AND NOT sp.deleted AND ($2::text IS NULL OR sp.app_id = $2)
"""


class MetricsQueries:
    def __init__(self, pool: Pool) -> None:
        self._pool = pool

    async def space(self, space_id: str) -> tuple[SpaceCounters, list[str]] | None:
        """A live space's counters and its live sheets; None if it was never created or is deleted."""
        async with self._pool().acquire() as conn:
            found = await conn.fetchrow(
                f"SELECT {', '.join(COLUMNS)} FROM metrics.space WHERE space_id = $1 AND NOT deleted", space_id
            )
            if found is None:
                return None
            sheets = await conn.fetch("SELECT sheet_id FROM metrics.sheet WHERE space_id = $1", space_id)
        return SpaceCounters(**{c: found[c] for c in COLUMNS}), [r["sheet_id"] for r in sheets]

    async def environment(self, environment_id: str, app_id: str | None) -> tuple[list[AppSums], dict[str, str | None]]:
        """The sums by app of the environment's live spaces (of `app_id` only, if given), and
        their live sheets (sheet id -> app id)."""
        async with self._pool().acquire() as conn, conn.transaction(isolation="repeatable_read", readonly=True):
            sums = await conn.fetch(SUMS, environment_id, app_id)
            sheets = await conn.fetch(SHEETS_OF_ENVIRONMENT, environment_id, app_id)
        return [AppSums(**dict(r)) for r in sums], {r["sheet_id"]: r["app_id"] for r in sheets}
