"""Job aggregate: pure state, evolve and decide — the lifecycle of Flatfile's §4.2.

```
created|planning|scheduled|waiting --execute--> ready --ack--> executing --complete--> complete
                              (any non-terminal) --fail--> failed, --cancel--> canceled
failed|canceled --retry--> ready;  complete|failed --outcome ack--> outcomeAcknowledgedAt (once)
```
Every refused step is a ConflictError naming the job's status and the step.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import msgspec

from spaceport.contracts.job import (
    INITIAL_STATUSES,
    JOB_STATUSES,
    JOB_TYPES,
    MAX_TIMEOUT_SECONDS,
    MODES,
    OUTCOME_NEXT_TYPES,
    PART_EXECUTIONS,
    TRIGGERS,
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
    JobSpec,
    JobUpdated,
)
from spaceport.contracts.space import Principal
from spaceport.errors import ConflictError, NotFoundError, ValidationFailedError
from spaceport.events import Event

PRE_READY = frozenset({"created", "planning", "scheduled", "waiting"})
ACTIVE = frozenset({"ready", "executing"})
TERMINAL = frozenset({"complete", "failed", "canceled"})
NON_TERMINAL = frozenset(JOB_STATUSES) - TERMINAL
MAX_TEXT = 10_000

# step -> the statuses it may start from, and the status it leads to
STEPS: dict[str, tuple[frozenset[str], str]] = {
    "execute": (PRE_READY, "ready"),
    "ack": (ACTIVE, "executing"),
    "complete": (ACTIVE, "complete"),
    "fail": (NON_TERMINAL, "failed"),
    "cancel": (NON_TERMINAL, "canceled"),
    "retry": (frozenset({"failed", "canceled"}), "ready"),
}


class JobState(msgspec.Struct, frozen=True, kw_only=True):
    exists: bool = False
    deleted: bool = False
    environment_id: str = ""
    space_id: str | None = None
    status: str = "created"
    outcome_acknowledged: bool = False
    plan: dict[str, Any] | None = None


def initial() -> JobState:
    return JobState()


STATUS_AFTER: dict[type[Event], str] = {
    JobReady: "ready",
    JobAcknowledged: "executing",
    JobCompleted: "complete",
    JobFailed: "failed",
    JobCanceled: "canceled",
    JobRetried: "ready",
}


def evolve(state: JobState, event: Event) -> JobState:  # noqa: PLR0911 - one case per event type
    replace = msgspec.structs.replace
    match event:
        case JobCreated() as e:
            return JobState(exists=True, environment_id=e.environment_id, space_id=e.space_id, status=e.status)
        case JobUpdated() as e:
            acknowledged = state.outcome_acknowledged or e.outcome_acknowledged_at is not None
            return replace(state, status=e.status or state.status, outcome_acknowledged=acknowledged)
        case JobOutcomeAcknowledged():
            return replace(state, outcome_acknowledged=True)
        case JobDeleted():
            return replace(state, deleted=True)
        case JobPlanned() as e:
            return replace(state, plan=e.plan)
    status = STATUS_AFTER.get(type(event))
    if status is None:
        return state
    # A retried job starts over: its next outcome may be acknowledged again.
    acknowledged = state.outcome_acknowledged and not isinstance(event, JobRetried)
    return replace(state, status=status, outcome_acknowledged=acknowledged)


# ---- checks -----------------------------------------------------------------------------


def require_live(state: JobState, job_id: str, principal: Principal) -> None:
    """The job exists, is not deleted and is visible to `principal` (else 404, never 403)."""
    hidden = state.environment_id != principal.environment_id or (
        principal.kind == "guest" and state.space_id != principal.space_id
    )
    if not state.exists or state.deleted or hidden:
        raise NotFoundError(f"job {job_id} not found", key="jobId")


def require_step(state: JobState, job_id: str, step: str) -> str:
    """The status `step` leads to, if the job's status allows it."""
    allowed, target = STEPS[step]
    if state.status not in allowed:
        starts = ", ".join(sorted(allowed))
        raise ConflictError(f"job {job_id} is {state.status}: cannot {step} it (only from {starts})", key="status")
    return target


def check_progress(progress: int | None) -> None:
    if progress is not None and not 0 <= progress <= 100:
        raise ValidationFailedError(f"progress must be a whole number from 0 to 100, not {progress}", key="progress")


def check_text(value: str | None, key: str) -> None:
    if value is not None and len(value) > MAX_TEXT:
        raise ValidationFailedError(f"{key} is longer than {MAX_TEXT} characters", key=key)


def check_outcome(outcome: dict[str, Any] | None) -> None:
    """Flatfile's JobOutcome, lightly: `message` a string, `next` an object of a known type."""
    if outcome is None:
        return
    message = outcome.get("message")
    if message is not None and not isinstance(message, str):
        raise ValidationFailedError("outcome.message must be a string", key="outcome.message")
    nxt = outcome.get("next")
    if nxt is None:
        return
    if not isinstance(nxt, dict) or nxt.get("type") not in OUTCOME_NEXT_TYPES:
        kinds = ", ".join(OUTCOME_NEXT_TYPES)
        raise ValidationFailedError(f"outcome.next must be an object whose type is one of {kinds}", key="outcome.next")


def _one_of(value: str | None, allowed: tuple[str, ...], key: str) -> None:
    if value is not None and value not in allowed:
        raise ValidationFailedError(f"{key} must be one of {', '.join(allowed)}, not {value!r}", key=key)


def check_spec(spec: JobSpec) -> None:
    _one_of(spec.job_type, JOB_TYPES, "type")
    if not spec.operation.strip():
        raise ValidationFailedError("operation is required (a non-empty string)", key="operation")
    if not spec.source.strip():
        raise ValidationFailedError("source is required (the id the job acts on)", key="source")
    _one_of(spec.status, INITIAL_STATUSES, "status")
    _one_of(spec.trigger, TRIGGERS, "trigger")
    _one_of(spec.mode, MODES, "mode")
    _one_of(spec.part_execution, PART_EXECUTIONS, "partExecution")
    check_progress(spec.progress)
    check_outcome(spec.outcome)
    check_text(spec.info, "info")
    check_text(spec.operation, "operation")
    seconds = spec.timeout_seconds
    if seconds is not None and not 0 < seconds <= MAX_TIMEOUT_SECONDS:
        raise ValidationFailedError(
            f"timeoutSeconds must be more than 0 and at most {MAX_TIMEOUT_SECONDS:.0f}", key="timeoutSeconds"
        )


def starts_ready(spec: JobSpec) -> bool:
    """`status: ready`, or `trigger: immediate` without an explicit pre-ready status."""
    return spec.status == "ready" or (spec.trigger == "immediate" and spec.status in (None, "created"))


# ---- decisions --------------------------------------------------------------------------


def create(state: JobState, job_id: str, principal: Principal, space_id: str | None, spec: JobSpec) -> list[Event]:
    if state.exists:
        raise ConflictError(f"job {job_id} already exists", key="jobId")
    check_spec(spec)
    ready = starts_ready(spec)
    status = "created" if ready or spec.status is None else spec.status
    if spec.status is None and not ready and (spec.job_type, spec.operation) == ("workbook", "map"):
        status = "planning"  # a mapping job waits for its plan (reference §4.2)
    created = JobCreated(
        job_id=job_id,
        environment_id=principal.environment_id,
        space_id=space_id,
        job_type=spec.job_type,
        operation=spec.operation,
        source=spec.source,
        destination=spec.destination,
        status=status,
        trigger=spec.trigger or "manual",
        mode=spec.mode,
        config=spec.config,
        input=spec.input,
        subject=spec.subject,
        managed=spec.managed,
        file_id=spec.file_id,
        workbook_id=spec.workbook_id,
        sheet_id=spec.sheet_id,
        document_id=spec.document_id,
        parent_id=spec.parent_id,
        predecessor_ids=spec.predecessor_ids,
        part=spec.part,
        part_data=spec.part_data,
        part_execution=spec.part_execution,
        metadata=spec.metadata,
        progress=spec.progress or 0,
        info=spec.info,
        outcome=spec.outcome,
        action=spec.action,
        timeout_seconds=spec.timeout_seconds,
        created_by=principal.actor,
    )
    return [created, JobReady(job_id=job_id)] if ready else [created]


def execute(state: JobState, job_id: str) -> list[Event]:
    require_step(state, job_id, "execute")
    return [JobReady(job_id=job_id)]


def ack(
    state: JobState, job_id: str, progress: int | None, info: str | None, estimated: datetime | None
) -> list[Event]:
    check_progress(progress)
    check_text(info, "info")
    require_step(state, job_id, "ack")
    return [JobAcknowledged(job_id=job_id, progress=progress, info=info, estimated_completion_at=estimated)]


def complete(state: JobState, job_id: str, outcome: dict[str, Any] | None, info: str | None) -> list[Event]:
    check_outcome(outcome)
    check_text(info, "info")
    require_step(state, job_id, "complete")
    return [JobCompleted(job_id=job_id, outcome=outcome, info=info)]


def fail(state: JobState, job_id: str, outcome: dict[str, Any] | None, info: str | None) -> list[Event]:
    check_outcome(outcome)
    check_text(info, "info")
    require_step(state, job_id, "fail")
    return [JobFailed(job_id=job_id, outcome=outcome, info=info)]


def cancel(state: JobState, job_id: str, info: str | None) -> list[Event]:
    check_text(info, "info")
    require_step(state, job_id, "cancel")
    return [JobCanceled(job_id=job_id, info=info)]


def retry(state: JobState, job_id: str) -> list[Event]:
    require_step(state, job_id, "retry")
    return [JobRetried(job_id=job_id)]


def acknowledge_outcome(state: JobState, job_id: str) -> list[Event]:
    if state.status not in ("complete", "failed"):
        raise ConflictError(
            f"job {job_id} is {state.status}: only a complete or failed job's outcome can be acknowledged",
            key="status",
        )
    if state.outcome_acknowledged:
        raise ConflictError(f"job {job_id}'s outcome was acknowledged already", key="outcomeAcknowledgedAt")
    return [JobOutcomeAcknowledged(job_id=job_id)]


def may_move(current: str, target: str) -> bool:
    """May a PATCH change the status from `current` to `target`? The steps' table, plus moves
    among the pre-ready statuses (a mapping job goes created -> planning -> …)."""
    if target == current:
        return True
    if current in PRE_READY and target in PRE_READY:
        return True
    return any(current in allowed and target == goal for allowed, goal in STEPS.values())


def update(
    state: JobState,
    job_id: str,
    changes: JobUpdated,
) -> list[Event]:
    """A PATCH; moving to `ready` also says JobReady, so listeners get `job:ready`."""
    target = changes.status
    _one_of(target, JOB_STATUSES, "status")
    check_progress(changes.progress)
    check_text(changes.info, "info")
    if target is not None and not may_move(state.status, target):
        raise ConflictError(f"job {job_id} is {state.status}: cannot move it to {target}", key="status")
    if target == state.status:
        changes = msgspec.structs.replace(changes, status=None)
    if all(v is None for k, v in msgspec.structs.asdict(changes).items() if k != "job_id"):
        return []  # nothing to change: no event, no `job:updated`
    events: list[Event] = [changes]
    if changes.status == "ready":
        events.append(JobReady(job_id=job_id))
    return events


def delete(state: JobState, job_id: str) -> list[Event]:
    return [JobDeleted(job_id=job_id)]


def time_out(state: JobState, job_id: str, seconds: float) -> list[Event]:
    """A ready or executing job nobody acknowledged or advanced within `seconds` fails."""
    if state.status not in ACTIVE or state.deleted:
        return []
    message = (
        f"The job timed out: no listener acknowledged it within {seconds:g} s of its last activity "
        "(ack, progress or update)."
    )
    outcome = {"acknowledge": True, "heading": "Timed out", "message": message}
    return [JobFailed(job_id=job_id, outcome=outcome, info="timed out", reason="timeout")]


# ---- plans (Flatfile's JobExecutionPlan) ------------------------------------------------

PLAN_PARTS = ("fieldMapping", "unmappedSourceFields", "unmappedDestinationFields")


def _field(item: object, side: str, where: str) -> dict[str, Any]:
    field = item.get(side) if isinstance(item, dict) else None
    if not isinstance(field, dict) or not isinstance(field.get("key"), str) or not field["key"]:
        raise ValidationFailedError(f"{where} needs {side}.key (a non-empty string)", key=where)
    return field


def _items(plan: dict[str, Any], part: str) -> list[Any]:
    items = plan.get(part)
    if items is None:
        return []
    if not isinstance(items, list):
        raise ValidationFailedError(f"{part} must be an array", key=part)
    return items


def check_plan(plan: dict[str, Any]) -> dict[str, Any]:
    """The plan's three lists, each item with its fields' keys; a source or destination used twice is refused."""
    mapping = _items(plan, "fieldMapping")
    sources, destinations = set(), set()
    for item in mapping:
        s = _field(item, "sourceField", "fieldMapping")["key"]
        d = _field(item, "destinationField", "fieldMapping")["key"]
        if s in sources or d in destinations:
            raise ValidationFailedError(f"fieldMapping maps {s} or {d} twice", key="fieldMapping")
        sources.add(s)
        destinations.add(d)
    for item in _items(plan, "unmappedSourceFields"):
        _field(item, "sourceField", "unmappedSourceFields")
    for item in _items(plan, "unmappedDestinationFields"):
        _field(item, "destinationField", "unmappedDestinationFields")
    return {part: _items(plan, part) for part in PLAN_PARTS}


def _known(plan: dict[str, Any], side: str) -> dict[str, dict[str, Any]]:
    """key -> field, of every `side` field the plan names (mapped first, then unmapped)."""
    part = "unmappedSourceFields" if side == "sourceField" else "unmappedDestinationFields"
    found: dict[str, dict[str, Any]] = {}
    for item in [*plan.get("fieldMapping", []), *plan.get(part, [])]:
        found.setdefault(item[side]["key"], item[side])
    return found


def merge_plan(current: dict[str, Any], patch: dict[str, Any]) -> dict[str, Any]:
    """A PATCH: its mappings replace the current ones of the same source key; a source (or
    destination) it lists as unmapped loses its mapping. Unmapped lists are recomputed."""
    sources = {**_known(current, "sourceField"), **_known(patch, "sourceField")}
    destinations = {**_known(current, "destinationField"), **_known(patch, "destinationField")}
    new = patch["fieldMapping"]
    drop_sources = {m["sourceField"]["key"] for m in new} | {
        u["sourceField"]["key"] for u in patch["unmappedSourceFields"]
    }
    drop_destinations = {m["destinationField"]["key"] for m in new} | {
        u["destinationField"]["key"] for u in patch["unmappedDestinationFields"]
    }
    kept = [
        m
        for m in current.get("fieldMapping", [])
        if m["sourceField"]["key"] not in drop_sources and m["destinationField"]["key"] not in drop_destinations
    ]
    mapping = [*kept, *new]
    mapped_s = {m["sourceField"]["key"] for m in mapping}
    mapped_d = {m["destinationField"]["key"] for m in mapping}
    return {
        "fieldMapping": mapping,
        "unmappedSourceFields": [{"sourceField": f} for k, f in sources.items() if k not in mapped_s],
        "unmappedDestinationFields": [{"destinationField": f} for k, f in destinations.items() if k not in mapped_d],
    }


def set_plan(state: JobState, job_id: str, plan: dict[str, Any], merge: bool, initial: bool = False) -> list[Event]:
    """Store a plan (whole, or merged into the current one). Once the job has a plan, a new one may
    name only the fields it knows (mapped or unmapped): an unknown field is a 400. An `initial`
    plan (the planner's) is stored only while the job is planning without one (a redelivery is a no-op)."""
    if initial and (state.plan is not None or state.status != "planning"):
        return []
    if state.status in TERMINAL:
        raise ConflictError(f"job {job_id} is {state.status}: its plan cannot change", key="status")
    checked = check_plan(plan)
    current = state.plan
    if current is not None:
        for side, label in (("sourceField", "source"), ("destinationField", "destination")):
            known = _known(current, side)
            for key in _known(checked, side):
                if key not in known:
                    raise ValidationFailedError(f"the plan names an unknown {label} field {key!r}", key=side)
    if merge:
        if current is None:
            raise ConflictError(f"job {job_id} has no plan to patch yet", key="plan")
        checked = merge_plan(current, checked)
    if checked == current:
        return []
    return [JobPlanned(job_id=job_id, plan=checked)]
