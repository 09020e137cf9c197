from typing import Any

import pytest

from job_service.domain import job as domain
from spaceport.contracts.job import JobPlanned, JobSpec
from spaceport.contracts.space import Principal
from spaceport.errors import ConflictError, ValidationFailedError

JOB = "us_jb_1"


def pair(s: str, d: str) -> dict[str, Any]:
    return {"sourceField": {"key": s}, "destinationField": {"key": d}}


PLAN = {
    "fieldMapping": [pair("a", "A"), pair("b", "B")],
    "unmappedSourceFields": [{"sourceField": {"key": "c"}}],
    "unmappedDestinationFields": [{"destinationField": {"key": "C"}}],
}


def planned(status: str = "planning") -> domain.JobState:
    return domain.JobState(exists=True, status=status, plan=PLAN)


def test_first_plan_is_stored_and_folded() -> None:
    events = domain.set_plan(domain.JobState(exists=True, status="planning"), JOB, PLAN, merge=False)
    assert events == [JobPlanned(job_id=JOB, plan=PLAN)]
    assert domain.evolve(domain.JobState(exists=True), events[0]).plan == PLAN


def test_initial_plan_never_overwrites() -> None:
    assert domain.set_plan(planned(), JOB, {"fieldMapping": []}, merge=False, initial=True) == []


def test_patch_merges_by_source_key() -> None:
    patch = {"fieldMapping": [pair("c", "A")], "unmappedSourceFields": [{"sourceField": {"key": "b"}}]}
    [event] = domain.set_plan(planned(), JOB, patch, merge=True)
    assert isinstance(event, JobPlanned)
    assert event.plan["fieldMapping"] == [pair("c", "A")]
    assert [u["sourceField"]["key"] for u in event.plan["unmappedSourceFields"]] == ["a", "b"]
    assert [u["destinationField"]["key"] for u in event.plan["unmappedDestinationFields"]] == ["B", "C"]


def test_unknown_or_twice_mapped_fields_are_refused() -> None:
    with pytest.raises(ValidationFailedError):
        domain.set_plan(planned(), JOB, {"fieldMapping": [pair("a", "nope")]}, merge=False)
    with pytest.raises(ValidationFailedError):
        domain.set_plan(planned(), JOB, {"fieldMapping": [pair("a", "A"), pair("b", "A")]}, merge=False)
    with pytest.raises(ValidationFailedError):
        domain.set_plan(planned(), JOB, {"fieldMapping": [{"sourceField": {}}]}, merge=False)


def test_finished_job_or_patch_without_plan_conflicts() -> None:
    with pytest.raises(ConflictError):
        domain.set_plan(planned("complete"), JOB, PLAN, merge=False)
    with pytest.raises(ConflictError):
        domain.set_plan(domain.JobState(exists=True), JOB, PLAN, merge=True)


def test_map_job_starts_planning() -> None:
    who = Principal(environment_id="us_env_1", kind="secret", actor="us_key_1")
    spec = JobSpec(job_type="workbook", operation="map", source="us_wb_1", destination="us_wb_2")
    [created] = domain.create(domain.initial(), JOB, who, "us_sp_1", spec)
    assert getattr(created, "status") == "planning"  # noqa: B009
