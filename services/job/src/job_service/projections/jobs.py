"""The job service's read model (schema `job`): its directory of spaces and the `job` table.

One projection, so one checkpoint says how far both are. Space events go to the shared
`KnownSpaces` fold (table `known_space`); job events to the `job` row. `deadline` is the last
activity of a ready or executing job plus its timeout (the job's own `timeoutSeconds`, else the
service's default), NULL in any other status; the sweeper reads it.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from spaceport.contracts.job import (
    JobAcknowledged,
    JobCanceled,
    JobCompleted,
    JobCreated,
    JobDeleted,
    JobFailed,
    JobOutcomeAcknowledged,
    JobPlanned,
    JobReady,
    JobRetried,
    JobUpdated,
)
from spaceport.contracts.space import SpaceDeleted
from spaceport.events import StoredEvent
from spaceport.known_spaces import KnownSpaces
from spaceport.readmodel import Conn
from spaceport.readmodel import to_jsonb as js

NAME = "job"
FINISHED = "('complete', 'failed', 'canceled')"
# Applied after every job event: the row saw activity at $2 (position $3).
TOUCH = (
    "UPDATE job SET updated_at = $2, position = $3,"
    " finished_at = CASE WHEN status IN " + FINISHED + " THEN coalesce(finished_at, $2) ELSE NULL END,"
    " deadline = CASE WHEN status IN ('ready', 'executing') AND NOT deleted"
    " THEN $2 + make_interval(secs => coalesce(timeout_seconds, $4)) ELSE NULL END"
    " WHERE id = $1"
)
INSERT = (
    "INSERT INTO job (id, environment_id, space_id, type, operation, source, destination, status, progress,"
    " info, mode, trigger, config, input, subject, managed, file_id, workbook_id, sheet_id, document_id,"
    " parent_id, predecessor_ids, part, part_data, part_execution, metadata, outcome, action, timeout_seconds,"
    " created_by, created_at, updated_at, position)"
    " VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13::jsonb,$14::jsonb,$15::jsonb,$16,$17,$18,$19,$20,$21,"
    "$22::jsonb,$23,$24::jsonb,$25,$26::jsonb,$27::jsonb,$28::jsonb,$29,$30,$31,$31,$32) ON CONFLICT (id) DO NOTHING"
)


def _js(value: object) -> str | None:
    return None if value is None else js(value)


class JobProjection:
    """Projection `job`: known spaces and jobs."""

    migrations = Path(__file__).parent / "migrations"

    def __init__(self, prefix: str = "evt", *, default_timeout: float = 300.0, name: str = NAME) -> None:
        self.name = name
        self.default_timeout = default_timeout
        self.spaces = KnownSpaces(name, prefix)
        self.filter_subjects = [*self.spaces.filter_subjects, f"{prefix}.*.job.>"]

    async def apply(self, conn: Conn, stored: StoredEvent) -> None:
        if stored.envelope.aggregate != "job":
            await self.spaces.apply(conn, stored)
            if isinstance(stored.event, SpaceDeleted):  # erasure: the space's jobs go with it
                await conn.execute("DELETE FROM job WHERE space_id = $1", stored.event.space_id)
            return
        at = stored.envelope.occurred_at
        event = stored.event
        if isinstance(event, JobCreated):
            await self._insert(conn, event, at, stored.seq)
        elif not await self._change(conn, stored, at):
            return
        await conn.execute(TOUCH, stored.envelope.aggregate_id, at, stored.seq, self.default_timeout)

    async def _insert(self, conn: Conn, e: JobCreated, at: datetime, seq: int) -> None:
        await conn.execute(
            INSERT,
            e.job_id,
            e.environment_id,
            e.space_id,
            e.job_type,
            e.operation,
            e.source,
            e.destination,
            e.status,
            e.progress,
            e.info,
            e.mode,
            e.trigger,
            _js(e.config),
            _js(e.input),
            _js(e.subject),
            e.managed,
            e.file_id,
            e.workbook_id,
            e.sheet_id,
            e.document_id,
            e.parent_id,
            js(e.predecessor_ids),
            e.part,
            _js(e.part_data),
            e.part_execution,
            js(e.metadata),
            _js(e.outcome),
            _js(e.action),
            e.timeout_seconds,
            e.created_by,
            at,
            seq,
        )

    async def _change(self, conn: Conn, stored: StoredEvent, at: datetime) -> bool:
        """One lifecycle event's columns; False for an event this projection does not know."""
        job_id = stored.envelope.aggregate_id
        match stored.event:
            case JobUpdated() as e:
                await conn.execute(
                    "UPDATE job SET status = coalesce($2, status), progress = coalesce($3, progress),"
                    " info = coalesce($4, info), config = coalesce($5::jsonb, config),"
                    " metadata = coalesce($6::jsonb, metadata),"
                    " outcome_acknowledged_at = coalesce($7, outcome_acknowledged_at),"
                    " estimated_completion_at = coalesce($8, estimated_completion_at),"
                    " started_at = CASE WHEN $2 = 'executing' THEN coalesce(started_at, $9) ELSE started_at END"
                    " WHERE id = $1",
                    job_id,
                    e.status,
                    e.progress,
                    e.info,
                    _js(e.config),
                    _js(e.metadata),
                    e.outcome_acknowledged_at,
                    e.estimated_completion_at,
                    at,
                )
            case JobReady():
                await conn.execute("UPDATE job SET status = 'ready' WHERE id = $1", job_id)
            case JobAcknowledged() as e:
                await conn.execute(
                    "UPDATE job SET status = 'executing', started_at = coalesce(started_at, $2),"
                    " progress = coalesce($3, progress), info = coalesce($4, info),"
                    " estimated_completion_at = coalesce($5, estimated_completion_at) WHERE id = $1",
                    job_id,
                    at,
                    e.progress,
                    e.info,
                    e.estimated_completion_at,
                )
            case JobCompleted() as e:
                await self._finish(conn, job_id, status="complete", outcome=e.outcome, info=e.info, progress=100)
            case JobFailed() as e:
                await self._finish(conn, job_id, status="failed", outcome=e.outcome, info=e.info)
            case JobCanceled() as e:
                await self._finish(conn, job_id, status="canceled", outcome=None, info=e.info)
            case JobRetried():
                await conn.execute(
                    "UPDATE job SET status = 'ready', progress = 0, outcome = NULL, started_at = NULL,"
                    " finished_at = NULL, outcome_acknowledged_at = NULL WHERE id = $1",
                    job_id,
                )
            case JobOutcomeAcknowledged():
                await conn.execute("UPDATE job SET outcome_acknowledged_at = $2 WHERE id = $1", job_id, at)
            case JobDeleted():
                await conn.execute("UPDATE job SET deleted = true WHERE id = $1", job_id)
            case JobPlanned() as e:
                await conn.execute("UPDATE job SET plan = $2::jsonb WHERE id = $1", job_id, js(e.plan))
            case _:
                return False
        return True

    async def _finish(
        self,
        conn: Conn,
        job_id: str,
        *,
        status: str,
        outcome: dict[str, object] | None,
        info: str | None,
        progress: int | None = None,
    ) -> None:
        await conn.execute(
            "UPDATE job SET status = $2, outcome = coalesce($3::jsonb, outcome), info = coalesce($4, info),"
            " progress = coalesce($5, progress) WHERE id = $1",
            job_id,
            status,
            _js(outcome),
            info,
            progress,
        )
