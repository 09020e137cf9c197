"""Fakes for the job application: its read port folded from an in-memory store's events.

`FoldedJobs` answers what `projections/queries.py` answers, computed from the log on each call
(tests hold a few dozen events), with the same deadline rule: the last activity of a ready or
executing job plus its timeout.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

import msgspec

from job_service.application.app import JobApplication
from job_service.application.ports import DueJob, JobPlace
from spaceport import known_spaces
from spaceport.contracts import file, job, space
from spaceport.contracts.job import (
    JobAcknowledged,
    JobCanceled,
    JobCompleted,
    JobCreated,
    JobDeleted,
    JobFailed,
    JobOutcomeAcknowledged,
    JobReady,
    JobRetried,
    JobUpdated,
    JobView,
    ListJobs,
)
from spaceport.events import EventRegistry, StoredEvent, utcnow
from spaceport.known_spaces import SpaceFact
from spaceport.memstore import InMemoryEventStore


def _created(e: JobCreated, at: datetime) -> JobView:
    return JobView(
        id=e.job_id,
        type=e.job_type,
        operation=e.operation,
        source=e.source,
        destination=e.destination,
        config=e.config,
        trigger=e.trigger,
        status=e.status,
        progress=e.progress,
        info=e.info,
        mode=e.mode,
        input=e.input,
        subject=e.subject,
        outcome=e.outcome,
        managed=e.managed,
        file_id=e.file_id,
        environment_id=e.environment_id,
        space_id=e.space_id,
        workbook_id=e.workbook_id,
        sheet_id=e.sheet_id,
        document_id=e.document_id,
        parent_id=e.parent_id,
        part=e.part,
        part_data=e.part_data,
        part_execution=e.part_execution,
        predecessor_ids=e.predecessor_ids,
        metadata=e.metadata,
        action=e.action,
        timeout_seconds=e.timeout_seconds,
        created_at=at,
        updated_at=at,
    )


def _changed(view: JobView, event: object, at: datetime) -> JobView:  # noqa: PLR0911 - one case per event type
    r = msgspec.structs.replace
    match event:
        case JobUpdated() as e:
            return r(
                view,
                status=e.status or view.status,
                progress=view.progress if e.progress is None else e.progress,
                info=e.info or view.info,
                config=e.config or view.config,
                metadata=view.metadata if e.metadata is None else e.metadata,
                outcome_acknowledged_at=e.outcome_acknowledged_at or view.outcome_acknowledged_at,
                estimated_completion_at=e.estimated_completion_at or view.estimated_completion_at,
            )
        case JobReady():
            return r(view, status="ready")
        case JobAcknowledged() as e:
            progress = view.progress if e.progress is None else e.progress
            return r(view, status="executing", started_at=view.started_at or at, progress=progress)
        case JobCompleted() as e:
            return r(view, status="complete", outcome=e.outcome or view.outcome, progress=100, finished_at=at)
        case JobFailed() as e:
            return r(view, status="failed", outcome=e.outcome or view.outcome, finished_at=at)
        case JobCanceled():
            return r(view, status="canceled", finished_at=at)
        case JobRetried():
            return r(view, status="ready", progress=0, outcome=None, started_at=None, finished_at=None)
        case JobOutcomeAcknowledged():
            return r(view, outcome_acknowledged_at=at)
    return view


@dataclass
class Row:
    view: JobView
    position: int
    deleted: bool = False


class FoldedJobs:
    """The `JobReads` port over the events of `store` (its whole log, folded on each call)."""

    def __init__(
        self, store: InMemoryEventStore, default_timeout: float = 300.0, clock: Callable[[], datetime] = utcnow
    ) -> None:
        self.store = store
        self.default_timeout = default_timeout
        self.clock = clock

    async def _fold(self) -> tuple[dict[str, Row], dict[str, SpaceFact]]:
        rows: dict[str, Row] = {}
        spaces: dict[str, SpaceFact] = {}
        async for stored in self.store.read(f"{self.store.prefix}.>"):
            self._apply(rows, spaces, stored)
        return rows, spaces

    @staticmethod
    def _apply(rows: dict[str, Row], spaces: dict[str, SpaceFact], stored: StoredEvent) -> None:
        at = stored.envelope.occurred_at
        event = stored.event
        if stored.envelope.aggregate != "job":
            known_spaces.fold(spaces, event, stored.envelope.environment_id)
        elif isinstance(event, JobCreated):
            rows.setdefault(event.job_id, Row(_created(event, at), stored.seq))
        elif (row := rows.get(stored.envelope.aggregate_id)) is not None:
            row.view = msgspec.structs.replace(_changed(row.view, event, at), updated_at=at)
            row.position = stored.seq
            row.deleted = row.deleted or isinstance(event, JobDeleted)

    async def place(self, job_id: str) -> JobPlace | None:
        row = (await self._fold())[0].get(job_id)
        return None if row is None else JobPlace(environment_id=row.view.environment_id, space_id=row.view.space_id)

    async def job(self, job_id: str) -> JobView | None:
        row = (await self._fold())[0].get(job_id)
        return None if row is None or row.deleted else row.view

    async def jobs(self, query: ListJobs) -> tuple[list[JobView], int]:
        rows = (await self._fold())[0]
        found = [r.view for r in rows.values() if not r.deleted and _matches(r.view, query)]
        found.sort(key=lambda v: (v.created_at, v.id), reverse=query.sort_direction == "desc")
        start = (query.page_number - 1) * query.page_size
        return found[start : start + query.page_size], len(found)

    async def space_fact(self, space_id: str) -> SpaceFact | None:
        return (await self._fold())[1].get(space_id)

    async def due(self, limit: int) -> list[DueJob]:
        now = self.clock()
        due = []
        for row in (await self._fold())[0].values():
            seconds = row.view.timeout_seconds or self.default_timeout
            if row.deleted or row.view.status not in ("ready", "executing"):
                continue
            if row.view.updated_at + timedelta(seconds=seconds) < now:
                due.append(
                    DueJob(
                        job_id=row.view.id,
                        environment_id=row.view.environment_id,
                        space_id=row.view.space_id,
                        position=row.position,
                        timeout_seconds=seconds,
                    )
                )
        return due[:limit]


def _matches(view: JobView, query: ListJobs) -> bool:
    wanted = (
        view.environment_id == query.environment_id,
        query.space_id in (None, view.space_id),
        query.workbook_id in (None, view.workbook_id, view.source, view.destination),
        query.file_id in (None, view.file_id),
        query.parent_id in (None, view.parent_id),
        not (query.exclude_child_jobs and view.parent_id is not None),
        query.principal.workbook_ids is None or view.workbook_id in (None, *query.principal.workbook_ids),
    )
    return all(wanted)


async def always(_: int) -> bool:
    return True


@dataclass
class World:
    store: InMemoryEventStore
    reads: FoldedJobs
    app: JobApplication


def world(default_timeout: float = 300.0, clock: Callable[[], datetime] = utcnow) -> World:
    """A job application on an in-memory store; its reads fold the store's events."""
    store = InMemoryEventStore(EventRegistry((*space.EVENTS, *job.EVENTS, *file.EVENTS)), clock=clock)
    reads = FoldedJobs(store, default_timeout, clock)
    return World(store=store, reads=reads, app=JobApplication(store, reads, always))
