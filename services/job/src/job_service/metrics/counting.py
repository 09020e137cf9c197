"""What one domain event changes in a space's metrics: pure, deterministic, rebuild-safe.

`deltas` reads one stored event together with the Flatfile events the feed's translation gives
for it (`job_service.feed.translate`, run by the projection with its own lookups), so "events",
"guests" and "last activity" are exactly what the feed emits. `fold` applies a delta to a space's
counters. Records are counted from the lean record events (their ids only).

The submit rule: a job is a submit when its operation contains "submit" (any case): Flatfile's
conventional `workbook:submitAction`, `workbook:submitActionFg`, `workbook:workbookSubmitAction`,
`workbook:sheetSubmitAction-<slug>` and the docs' action `{operation: "submit"}` all do. A space's
first submit is the first such job to reach `complete` (`JobCompleted`, or a PATCH to `complete`).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import msgspec

from job_service.feed.lean import LeanRecordsInserted, LeanRecordsUpdated
from job_service.feed.lookups import JobInfo
from spaceport.contracts import file, job, record, workbook
from spaceport.contracts import space as sp
from spaceport.contracts.feed import FlatfileEvent
from spaceport.events import Event, StoredEvent

GUEST_STEPS = {"space:guestAdded": 1, "space:guestRemoved": -1}
JOB_EVENTS = (job.JobCompleted, job.JobUpdated)


class Opened(msgspec.Struct, frozen=True, kw_only=True):
    environment_id: str
    app_id: str | None
    created_at: datetime


class Delta(msgspec.Struct, frozen=True, kw_only=True):
    """A change to one space's counters (zero / None: no change)."""

    space_id: str
    opened: Opened | None = None
    deleted: bool = False
    events: int = 0
    guests: int = 0
    files: int = 0
    files_created: int = 0
    records_created: int = 0
    records_updated: int = 0
    records_deleted: int = 0
    activity_at: datetime | None = None
    submitted_at: datetime | None = None


class SpaceCounters(msgspec.Struct, frozen=True, kw_only=True):
    """One row of `metrics.space`: the space's counters as of the projection's checkpoint."""

    space_id: str
    environment_id: str
    app_id: str | None
    created_at: datetime
    deleted: bool = False
    events: int = 0
    guests: int = 0
    files: int = 0
    files_created: int = 0
    records_created: int = 0
    records_updated: int = 0
    records_deleted: int = 0
    first_submit_at: datetime | None = None
    last_activity_at: datetime | None = None


COUNTERS = ("events", "guests", "files", "files_created", "records_created", "records_updated", "records_deleted")
COLUMNS: tuple[str, ...] = SpaceCounters.__struct_fields__


def is_submit(operation: str) -> bool:
    return "submit" in operation.lower()


def completes(event: Event | None) -> bool:
    """Does `event` move a job to `complete`?"""
    return isinstance(event, job.JobCompleted) or (isinstance(event, job.JobUpdated) and event.status == "complete")


def job_of(event: Event | None) -> str | None:
    """The job id of a job event that may complete it (the projection looks its facts up)."""
    return event.job_id if isinstance(event, JOB_EVENTS) else None


def from_feed(emitted: Sequence[FlatfileEvent]) -> list[Delta]:
    """One delta per Flatfile event emitted in a space: counted, dated, guests added or removed."""
    return [
        Delta(
            space_id=e.context.space_id,
            events=1,
            guests=GUEST_STEPS.get(e.topic, 0),
            activity_at=e.created_at,
        )
        for e in emitted
        if e.context.space_id
    ]


def from_domain(stored: StoredEvent, job_facts: JobInfo | None = None) -> Delta | None:  # noqa: PLR0911 - one case per event type
    """The delta of the domain event itself (spaces, files, records, submits); None if it changes none."""
    event, envelope = stored.event, stored.envelope
    at = envelope.occurred_at
    match event:
        case sp.SpaceCreated() as e:
            return Delta(
                space_id=e.space_id, opened=Opened(environment_id=e.environment_id, app_id=e.app_id, created_at=at)
            )
        case sp.SpaceDeleted() as e:
            return Delta(space_id=e.space_id, deleted=True)
        case file.FileCreated() as e:
            return Delta(space_id=e.space_id, files=1, files_created=1)
        case file.FileDeleted() if envelope.space_id:
            return Delta(space_id=envelope.space_id, files=-1)
        case LeanRecordsInserted() | record.RecordsInserted() as e:
            return Delta(space_id=e.space_id, records_created=len(e.records))
        case LeanRecordsUpdated() | record.RecordsUpdated() as e:
            return Delta(space_id=e.space_id, records_updated=len(e.records))
        case record.RecordsDeleted() as e:
            return Delta(space_id=e.space_id, records_deleted=len(e.record_ids))
        case record.RecordsRestored() as e:
            return Delta(space_id=e.space_id, records_created=len(e.record_ids))
    if completes(event) and envelope.space_id and job_facts is not None and is_submit(job_facts.operation):
        return Delta(space_id=envelope.space_id, submitted_at=at)
    return None


def deltas(stored: StoredEvent, emitted: Sequence[FlatfileEvent], job_facts: JobInfo | None = None) -> list[Delta]:
    """Every change one stored event makes: its own, then its Flatfile events'."""
    own = from_domain(stored, job_facts)
    return ([own] if own is not None else []) + from_feed(emitted)


def _later(a: datetime | None, b: datetime | None) -> datetime | None:
    return b if a is None else a if b is None else max(a, b)


def fold(row: SpaceCounters | None, delta: Delta) -> SpaceCounters | None:
    """The counters after `delta`; a space that was never created has none (its delta is dropped)."""
    if row is None:
        if delta.opened is None:
            return None
        opened = delta.opened
        row = SpaceCounters(
            space_id=delta.space_id,
            environment_id=opened.environment_id,
            app_id=opened.app_id,
            created_at=opened.created_at,
        )
    changes: dict[str, object] = {name: getattr(row, name) + getattr(delta, name) for name in COUNTERS}
    changes["deleted"] = row.deleted or delta.deleted
    changes["last_activity_at"] = _later(row.last_activity_at, delta.activity_at)
    changes["first_submit_at"] = row.first_submit_at or delta.submitted_at
    return msgspec.structs.replace(row, **changes)


# ---- the sheets whose record counts make a space's valid / error counts -------------------


class SheetOpened(msgspec.Struct, frozen=True, kw_only=True):
    sheet_id: str
    workbook_id: str
    space_id: str


class SheetClosed(msgspec.Struct, frozen=True, kw_only=True):
    sheet_id: str


class WorkbookClosed(msgspec.Struct, frozen=True, kw_only=True):
    workbook_id: str


SheetChange = SheetOpened | SheetClosed | WorkbookClosed


def sheet_changes(stored: StoredEvent) -> list[SheetChange]:
    """Live sheets come and go with their workbook events (a workbook lives in its event's space)."""
    space_id = stored.envelope.space_id or ""
    match stored.event:
        case workbook.WorkbookCreated() as e:
            return [SheetOpened(sheet_id=s.sheet_id, workbook_id=e.workbook_id, space_id=e.space_id) for s in e.sheets]
        case workbook.SheetAdded() as e if space_id:
            return [SheetOpened(sheet_id=e.sheet.sheet_id, workbook_id=e.workbook_id, space_id=space_id)]
        case workbook.SheetDeleted() as e:
            return [SheetClosed(sheet_id=e.sheet_id)]
        case workbook.WorkbookDeleted() as e:
            return [WorkbookClosed(workbook_id=e.workbook_id)]
    return []
