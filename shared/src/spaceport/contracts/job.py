"""The job service's contract: jobs and their lifecycle (Flatfile's `/v1/jobs`).

A job is an aggregate `job`, scoped by its space (`evt.<space_id>.job.<job_id>.<event>`), or by
its environment when it belongs to no space. Each lifecycle step is its own event, so the
Flatfile event feed can say `job:ready`, `job:completed`, … without comparing states.
Add fields with defaults only; never change a recorded shape.

Statuses (Flatfile's `JobStatus`): created, planning, scheduled, ready, executing, complete,
failed, canceled, waiting.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, ClassVar, Literal

import msgspec

from spaceport.events import Event

SERVICE = "job"
AGGREGATE = "job"
Json = dict[str, Any]

JobStatus = Literal["created", "planning", "scheduled", "ready", "executing", "complete", "failed", "canceled", "waiting"]
JOB_STATUSES: tuple[str, ...] = (
    "created",
    "planning",
    "scheduled",
    "ready",
    "executing",
    "complete",
    "failed",
    "canceled",
    "waiting",
)
JOB_TYPES: tuple[str, ...] = ("file", "workbook", "sheet", "space", "document", "app", "agent", "autobuild", "onboarding")

# ---- events ----------------------------------------------------------------------------


class JobCreated(Event, frozen=True, kw_only=True):
    """A job exists, in `status` (created, ready, planning, scheduled or waiting)."""

    aggregate: ClassVar[str] = AGGREGATE
    job_id: str
    environment_id: str
    space_id: str | None = None
    job_type: str  # Flatfile's job `type` (the tag field is taken): file, workbook, sheet, space, document, …
    operation: str
    source: str
    destination: str | None = None
    status: str = "created"
    trigger: str = "manual"  # manual | immediate
    mode: str | None = None  # foreground | background | toolbarBlocking
    config: Json | None = None
    input: Json | None = None
    subject: Json | None = None
    managed: bool = False
    file_id: str | None = None
    workbook_id: str | None = None  # context for listeners: the workbook the job acts on (if any)
    sheet_id: str | None = None
    document_id: str | None = None
    parent_id: str | None = None
    predecessor_ids: list[str] = msgspec.field(default_factory=list)
    part: int | None = None
    part_data: Json | None = None
    part_execution: str | None = None
    metadata: Json = msgspec.field(default_factory=dict)
    progress: int = 0
    info: str | None = None
    outcome: Json | None = None
    action: Json | None = None  # the Action that was triggered, when the job came from one
    timeout_seconds: float | None = None  # idle timeout; None = the service's default
    created_by: str = ""


class JobUpdated(Event, frozen=True, kw_only=True):
    """`PATCH /jobs/{id}`: only the fields set changed (a status change here is a plain update)."""

    aggregate: ClassVar[str] = AGGREGATE
    job_id: str
    status: str | None = None
    progress: int | None = None
    info: str | None = None
    config: Json | None = None
    metadata: Json | None = None
    outcome_acknowledged_at: datetime | None = None
    estimated_completion_at: datetime | None = None


class JobReady(Event, frozen=True, kw_only=True):
    """The job waits for a listener (`execute`, `trigger: immediate`, or a plan became complete)."""

    aggregate: ClassVar[str] = AGGREGATE
    job_id: str


class JobAcknowledged(Event, frozen=True, kw_only=True):
    """`POST /jobs/{id}/ack`: a listener took the job (→ executing) or reports progress."""

    aggregate: ClassVar[str] = AGGREGATE
    job_id: str
    progress: int | None = None
    info: str | None = None
    estimated_completion_at: datetime | None = None


class JobCompleted(Event, frozen=True, kw_only=True):
    aggregate: ClassVar[str] = AGGREGATE
    job_id: str
    outcome: Json | None = None
    info: str | None = None


class JobFailed(Event, frozen=True, kw_only=True):
    """Failed by a listener (`reason` "failed") or by the platform when it timed out ("timeout")."""

    aggregate: ClassVar[str] = AGGREGATE
    job_id: str
    outcome: Json | None = None
    info: str | None = None
    reason: Literal["failed", "timeout"] = "failed"


class JobCanceled(Event, frozen=True, kw_only=True):
    aggregate: ClassVar[str] = AGGREGATE
    job_id: str
    info: str | None = None


class JobRetried(Event, frozen=True, kw_only=True):
    """A failed or canceled job goes back to ready (its outcome and progress are cleared)."""

    aggregate: ClassVar[str] = AGGREGATE
    job_id: str


class JobOutcomeAcknowledged(Event, frozen=True, kw_only=True):
    aggregate: ClassVar[str] = AGGREGATE
    job_id: str


class JobDeleted(Event, frozen=True, kw_only=True):
    aggregate: ClassVar[str] = AGGREGATE
    job_id: str


EVENTS: tuple[type[Event], ...] = (
    JobCreated,
    JobUpdated,
    JobReady,
    JobAcknowledged,
    JobCompleted,
    JobFailed,
    JobCanceled,
    JobRetried,
    JobOutcomeAcknowledged,
    JobDeleted,
)

# ---- views, commands and queries: below (the job service's helper owns them) ----------------
