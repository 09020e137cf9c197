"""The job lifecycle as given-when-then over plain lists: every step from every status."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import pytest

from job_service.domain import job as domain
from job_service.domain.job import JobState
from spaceport.contracts.job import (
    JOB_STATUSES,
    JobAcknowledged,
    JobCanceled,
    JobCompleted,
    JobCreated,
    JobDeleted,
    JobFailed,
    JobOutcomeAcknowledged,
    JobReady,
    JobRetried,
    JobSpec,
    JobUpdated,
)
from spaceport.contracts.space import Principal
from spaceport.errors import ConflictError, NotFoundError, ValidationFailedError
from spaceport.events import Event

pytestmark = pytest.mark.unit
JOB = "us_jb_test"
WHO = Principal(environment_id="us_env_a", kind="secret", actor="us_key_a")
Step = Callable[[JobState], list[Event]]

STEPS: dict[str, tuple[Step, set[str], type[Event]]] = {
    "execute": (lambda s: domain.execute(s, JOB), {"created", "planning", "scheduled", "waiting"}, JobReady),
    "ack": (lambda s: domain.ack(s, JOB, 10, None, None), {"ready", "executing"}, JobAcknowledged),
    "complete": (lambda s: domain.complete(s, JOB, {"message": "done"}, None), {"ready", "executing"}, JobCompleted),
    "fail": (
        lambda s: domain.fail(s, JOB, None, None),
        {"created", "planning", "scheduled", "ready", "executing", "waiting"},
        JobFailed,
    ),
    "cancel": (
        lambda s: domain.cancel(s, JOB, None),
        {"created", "planning", "scheduled", "ready", "executing", "waiting"},
        JobCanceled,
    ),
    "retry": (lambda s: domain.retry(s, JOB), {"failed", "canceled"}, JobRetried),
}
AFTER = {
    "execute": "ready",
    "ack": "executing",
    "complete": "complete",
    "fail": "failed",
    "cancel": "canceled",
    "retry": "ready",
}


def at(status: str) -> JobState:
    return JobState(exists=True, environment_id="us_env_a", space_id="us_sp_a", status=status)


def fold(events: list[Event], state: JobState | None = None) -> JobState:
    state = state or domain.initial()
    for event in events:
        state = domain.evolve(state, event)
    return state


def spec(**changes: object) -> JobSpec:
    base: dict[str, object] = {"job_type": "workbook", "operation": "submitAction", "source": "us_wb_a"}
    return JobSpec(**{**base, **changes})  # type: ignore[arg-type]


@pytest.mark.parametrize("step", list(STEPS))
@pytest.mark.parametrize("status", JOB_STATUSES)
def test_every_step_from_every_status(step: str, status: str) -> None:
    decide, allowed, emitted = STEPS[step]
    if status in allowed:
        events = decide(at(status))
        assert [type(e) for e in events] == [emitted]
        assert fold(events, at(status)).status == AFTER[step]
    else:
        with pytest.raises(ConflictError) as refused:
            decide(at(status))
        assert status in refused.value.message and step in refused.value.message


def test_create_starts_created_and_folds() -> None:
    events = domain.create(domain.initial(), JOB, WHO, "us_sp_a", spec())
    assert [type(e) for e in events] == [JobCreated]
    assert fold(events).status == "created"
    assert events[0].created_by == "us_key_a"  # type: ignore[attr-defined]


@pytest.mark.parametrize("changes", [{"trigger": "immediate"}, {"status": "ready"}])
def test_create_ready_says_created_then_ready(changes: dict[str, object]) -> None:
    events = domain.create(domain.initial(), JOB, WHO, None, spec(**changes))
    assert [type(e) for e in events] == [JobCreated, JobReady]
    assert fold(events).status == "ready"


@pytest.mark.parametrize("status", ["planning", "scheduled", "waiting"])
def test_create_in_a_pre_ready_status(status: str) -> None:
    events = domain.create(domain.initial(), JOB, WHO, None, spec(status=status, trigger="immediate"))
    assert [type(e) for e in events] == [JobCreated]
    assert fold(events).status == status


@pytest.mark.parametrize(
    ("changes", "key"),
    [
        ({"job_type": "spreadsheet"}, "type"),
        ({"operation": "  "}, "operation"),
        ({"source": ""}, "source"),
        ({"status": "complete"}, "status"),
        ({"trigger": "later"}, "trigger"),
        ({"mode": "loud"}, "mode"),
        ({"progress": 101}, "progress"),
        ({"progress": -1}, "progress"),
        ({"outcome": {"message": 3}}, "outcome.message"),
        ({"outcome": {"next": {"type": "teleport"}}}, "outcome.next"),
        ({"timeout_seconds": 0}, "timeoutSeconds"),
        ({"part_execution": "sideways"}, "partExecution"),
    ],
)
def test_create_refuses_bad_input(changes: dict[str, object], key: str) -> None:
    with pytest.raises(ValidationFailedError) as refused:
        domain.create(domain.initial(), JOB, WHO, None, spec(**changes))
    assert refused.value.key == key


def test_create_twice_is_a_conflict() -> None:
    with pytest.raises(ConflictError):
        domain.create(at("created"), JOB, WHO, None, spec())


@pytest.mark.parametrize("progress", [-1, 101, 1000])
def test_ack_validates_progress(progress: int) -> None:
    with pytest.raises(ValidationFailedError):
        domain.ack(at("executing"), JOB, progress, None, None)


def test_ack_on_executing_is_a_progress_tick() -> None:
    events = domain.ack(at("executing"), JOB, 50, "halfway", None)
    assert events == [JobAcknowledged(job_id=JOB, progress=50, info="halfway")]


def test_complete_validates_the_outcome() -> None:
    assert domain.complete(at("executing"), JOB, {"next": {"type": "url", "url": "https://x"}}, None)
    with pytest.raises(ValidationFailedError):
        domain.complete(at("executing"), JOB, {"next": "somewhere"}, None)


@pytest.mark.parametrize("status", JOB_STATUSES)
def test_outcome_acknowledged_once_on_finished_jobs(status: str) -> None:
    if status not in ("complete", "failed"):
        with pytest.raises(ConflictError):
            domain.acknowledge_outcome(at(status), JOB)
        return
    events = domain.acknowledge_outcome(at(status), JOB)
    assert events == [JobOutcomeAcknowledged(job_id=JOB)]
    with pytest.raises(ConflictError, match="already"):
        domain.acknowledge_outcome(fold(events, at(status)), JOB)


def test_retry_clears_the_outcome_acknowledgement() -> None:
    state = fold([JobOutcomeAcknowledged(job_id=JOB)], at("failed"))
    state = fold(domain.retry(state, JOB), state)
    assert state.status == "ready" and not state.outcome_acknowledged


@pytest.mark.parametrize(
    ("current", "target", "legal"),
    [
        ("created", "planning", True),
        ("planning", "ready", True),
        ("ready", "executing", True),
        ("executing", "complete", True),
        ("ready", "failed", True),
        ("failed", "ready", True),
        ("complete", "executing", False),
        ("complete", "ready", False),
        ("failed", "complete", False),
        ("canceled", "executing", False),
        ("ready", "planning", False),
        ("executing", "executing", True),
    ],
)
def test_patch_status_follows_the_lifecycle(current: str, target: str, legal: bool) -> None:
    changes = JobUpdated(job_id=JOB, status=target)
    if not legal:
        with pytest.raises(ConflictError):
            domain.update(at(current), JOB, changes)
        return
    events = domain.update(at(current), JOB, changes)
    assert fold(events, at(current)).status == target
    assert (JobReady(job_id=JOB) in events) == (target == "ready" and current != "ready")


def test_patch_refuses_an_unknown_status_and_bad_progress() -> None:
    with pytest.raises(ValidationFailedError):
        domain.update(at("ready"), JOB, JobUpdated(job_id=JOB, status="paused"))
    with pytest.raises(ValidationFailedError):
        domain.update(at("ready"), JOB, JobUpdated(job_id=JOB, progress=500))


def test_patch_outcome_acknowledged_at_marks_it() -> None:
    events = domain.update(at("complete"), JOB, JobUpdated(job_id=JOB, outcome_acknowledged_at=datetime.now(UTC)))
    assert fold(events, at("complete")).outcome_acknowledged


def test_delete_then_not_found() -> None:
    state = fold(domain.delete(at("complete"), JOB), at("complete"))
    with pytest.raises(NotFoundError):
        domain.require_live(state, JOB, WHO)


def test_another_environment_or_space_is_not_found() -> None:
    with pytest.raises(NotFoundError):
        domain.require_live(at("ready"), JOB, Principal(environment_id="us_env_b", kind="secret", actor="k"))
    guest = Principal(environment_id="us_env_a", kind="guest", actor="us_g_1", space_id="us_sp_b", role="editor")
    with pytest.raises(NotFoundError):
        domain.require_live(at("ready"), JOB, guest)


@pytest.mark.parametrize("status", JOB_STATUSES)
def test_time_out_fails_only_active_jobs(status: str) -> None:
    events = domain.time_out(at(status), JOB, 2)
    if status not in ("ready", "executing"):
        assert events == []
        return
    [failed] = events
    assert isinstance(failed, JobFailed) and failed.reason == "timeout"
    assert failed.outcome is not None and failed.outcome["acknowledge"] is True
    assert "timed out" in failed.outcome["message"] and "2 s" in failed.outcome["message"]


def test_deleted_event_folds() -> None:
    assert fold([JobDeleted(job_id=JOB)], at("ready")).deleted
