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

from spaceport.contracts.space.principal import Principal
from spaceport.events import Event

SERVICE = "job"
AGGREGATE = "job"
Json = dict[str, Any]

JobStatus = Literal[
    "created", "planning", "scheduled", "ready", "executing", "complete", "failed", "canceled", "waiting"
]
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
JOB_TYPES: tuple[str, ...] = (
    "file",
    "workbook",
    "sheet",
    "space",
    "document",
    "app",
    "agent",
    "autobuild",
    "onboarding",
)

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


class JobPlanned(Event, frozen=True, kw_only=True):
    """The job's execution plan was set (a mapping job's computed plan, or a `PUT`/`PATCH /plan`):
    Flatfile's JobExecutionPlan `{fieldMapping, unmappedSourceFields, unmappedDestinationFields}`,
    whole (a PATCH is merged before it is stored)."""

    aggregate: ClassVar[str] = AGGREGATE
    job_id: str
    plan: Json = msgspec.field(default_factory=dict)


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
    JobPlanned,
)

# ---- views, commands and queries: below (the job service's helper owns them) ----------------

MAX_PAGE_SIZE = 1000
MAX_TIMEOUT_SECONDS = 7 * 24 * 3600.0
INITIAL_STATUSES: tuple[str, ...] = ("created", "ready", "planning", "scheduled", "waiting")
TRIGGERS: tuple[str, ...] = ("manual", "immediate")
MODES: tuple[str, ...] = ("foreground", "background", "toolbarBlocking")
PART_EXECUTIONS: tuple[str, ...] = ("sequential", "parallel")
OUTCOME_NEXT_TYPES: tuple[str, ...] = ("id", "url", "download", "files", "wait", "snapshot", "retry", "view")


class Wire(msgspec.Struct, frozen=True, kw_only=True, rename="camel", omit_defaults=False):
    pass


class JobView(Wire, frozen=True, kw_only=True):
    """Flatfile's `Job` (§4.1), camelCase on the wire; `spaceId` and the action context are additions."""

    id: str
    type: str
    operation: str
    source: str
    destination: str | None = None
    config: Json | None = None
    trigger: str = "manual"
    status: str = "created"
    progress: int = 0
    info: str | None = None
    mode: str | None = None
    input: Json | None = None
    subject: Json | None = None
    outcome: Json | None = None
    managed: bool = False
    file_id: str | None = None
    environment_id: str
    space_id: str | None = None
    workbook_id: str | None = None
    sheet_id: str | None = None
    document_id: str | None = None
    parent_id: str | None = None
    part: int | None = None
    part_data: Json | None = None
    part_execution: str | None = None
    predecessor_ids: list[str] = msgspec.field(default_factory=list)
    metadata: Json = msgspec.field(default_factory=dict)
    action: Json | None = None
    timeout_seconds: float | None = None
    created_at: datetime
    updated_at: datetime
    started_at: datetime | None = None
    finished_at: datetime | None = None
    outcome_acknowledged_at: datetime | None = None
    estimated_completion_at: datetime | None = None


class JobPagination(Wire, frozen=True, kw_only=True):
    current_page: int
    page_count: int
    total_count: int


class JobPage(msgspec.Struct, frozen=True, kw_only=True):
    """`GET /v1/jobs`: already the wire body `{data, pagination}`."""

    data: list[JobView]
    pagination: JobPagination


# ---- commands (each answers JobWritten: where its last event landed; 0 = nothing changed) ----


class JobSpec(msgspec.Struct, frozen=True, kw_only=True):
    """What `POST /v1/jobs` asks for (Flatfile's JobConfig), resolved by the gateway."""

    job_type: str
    operation: str
    source: str
    destination: str | None = None
    status: str | None = None
    trigger: str | None = None
    mode: str | None = None
    config: Json | None = None
    input: Json | None = None
    subject: Json | None = None
    managed: bool = False
    file_id: str | None = None
    workbook_id: str | None = None
    sheet_id: str | None = None
    document_id: str | None = None
    parent_id: str | None = None
    predecessor_ids: list[str] = msgspec.field(default_factory=list)
    part: int | None = None
    part_data: Json | None = None
    part_execution: str | None = None
    metadata: Json = msgspec.field(default_factory=dict)
    progress: int | None = None
    info: str | None = None
    outcome: Json | None = None
    action: Json | None = None
    timeout_seconds: float | None = None


class CreateJob(msgspec.Struct, frozen=True, kw_only=True):
    """A job in `space_id` (None: environment-level); `idempotency_key` derives its id."""

    principal: Principal
    space_id: str | None = None
    spec: JobSpec
    idempotency_key: str | None = None


class UpdateJob(msgspec.Struct, frozen=True, kw_only=True):
    """`PATCH /v1/jobs/{id}`; a status change must still follow the lifecycle."""

    principal: Principal
    job_id: str
    status: str | None = None
    progress: int | None = None
    info: str | None = None
    config: Json | None = None
    metadata: Json | None = None
    outcome_acknowledged_at: datetime | None = None
    estimated_completion_at: datetime | None = None


class ExecuteJob(msgspec.Struct, frozen=True, kw_only=True):
    principal: Principal
    job_id: str


class AckJob(msgspec.Struct, frozen=True, kw_only=True):
    principal: Principal
    job_id: str
    progress: int | None = None
    info: str | None = None
    estimated_completion_at: datetime | None = None


class CompleteJob(msgspec.Struct, frozen=True, kw_only=True):
    principal: Principal
    job_id: str
    outcome: Json | None = None
    info: str | None = None


class FailJob(msgspec.Struct, frozen=True, kw_only=True):
    principal: Principal
    job_id: str
    outcome: Json | None = None
    info: str | None = None


class CancelJob(msgspec.Struct, frozen=True, kw_only=True):
    principal: Principal
    job_id: str
    info: str | None = None


class RetryJob(msgspec.Struct, frozen=True, kw_only=True):
    principal: Principal
    job_id: str


class AcknowledgeJobOutcome(msgspec.Struct, frozen=True, kw_only=True):
    principal: Principal
    job_id: str


class DeleteJob(msgspec.Struct, frozen=True, kw_only=True):
    """Answers once the read model has the delete (the job is then 404 everywhere)."""

    principal: Principal
    job_id: str


class SetJobPlan(msgspec.Struct, frozen=True, kw_only=True):
    """`PUT /v1/jobs/{id}/plan` (`merge` False) or `PATCH` (True: fieldMapping merged by source key).

    `plan` is the wire JobExecutionPlan; a plan naming a field the job's current plan does not
    know (mapped or unmapped) is refused."""

    principal: Principal
    job_id: str
    plan: Json
    merge: bool = False
    initial: bool = False  # the planner's own plan: stored only while the job is planning and has none


class JobWritten(msgspec.Struct, frozen=True, kw_only=True):
    job_id: str
    position: int


# ---- queries ---------------------------------------------------------------------------


class GetJob(msgspec.Struct, frozen=True, kw_only=True):
    """-> JobView; 404 when unknown, deleted, in another environment, or (guests) another space."""

    principal: Principal
    job_id: str
    min_position: int = 0


class GetJobPlan(msgspec.Struct, frozen=True, kw_only=True):
    """-> JobPlanView (the plan is None until one is set)."""

    principal: Principal
    job_id: str
    min_position: int = 0


class JobPlanView(msgspec.Struct, frozen=True, kw_only=True):
    """`GET /v1/jobs/{id}/plan`'s `data`: `{job, plan}`."""

    job: JobView
    plan: Json | None = None


class ListJobs(msgspec.Struct, frozen=True, kw_only=True):
    """-> JobPage, by createdAt. `workbook_id` matches source, destination or the job's workbook."""

    principal: Principal
    environment_id: str
    space_id: str | None = None
    workbook_id: str | None = None
    file_id: str | None = None
    parent_id: str | None = None
    exclude_child_jobs: bool = False
    sort_direction: Literal["asc", "desc"] = "asc"
    page_size: int = 20
    page_number: int = 1
    min_position: int = 0
