"""Jobs end to end: the official `flatfile` SDK drives a job's lifecycle through the gateway and
the job service; illegal steps answer 409; autoConfigure, timeouts, action constraints, bad input."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from flatfile import Flatfile
from flatfile.core.api_error import ApiError
from flatfile.jobs import JobAckDetails, JobCompleteDetails, JobOutcome

from spaceport.testing.platform import Platform


@pytest.fixture
def api(platform: Platform) -> Iterator[httpx.Client]:
    with platform.client(timeout=30) as client:
        yield client


@pytest.fixture
def sdk(platform: Platform) -> Flatfile:
    return Flatfile(token=platform.secret_key, base_url=platform.api)


def ok(reply: httpx.Response) -> Any:
    assert reply.status_code == 200, reply.text
    return reply.json()["data"]


def space(api: httpx.Client, **extra: Any) -> str:
    created: str = ok(api.post("/spaces", json={"name": "jobs", **extra}))["id"]
    return created


def eventually(probe: Any, timeout: float = 15.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        found = probe()
        if found or time.monotonic() > deadline:
            return found
        time.sleep(0.2)


def test_a_whole_lifecycle_through_the_sdk(api: httpx.Client, sdk: Flatfile) -> None:
    space_id = space(api)
    job = sdk.jobs.create(type="space", operation="export", source=space_id, metadata={"n": 1}).data
    assert job.id.startswith("us_jb_") and job.status == "created" and job.source == space_id
    assert (job.model_extra or {}).get("spaceId") == space_id
    executed = sdk.jobs.execute(job.id).data
    assert executed is not None and executed.success
    assert sdk.jobs.get(job.id).data.status == "ready"
    acked = sdk.jobs.ack(job.id, request=JobAckDetails(info="Accepted", progress=10)).data
    assert acked.status == "executing" and acked.progress == 10 and acked.started_at is not None
    assert sdk.jobs.ack(job.id, request=JobAckDetails(progress=70)).data.progress == 70
    outcome = JobOutcome(message="Exported 3 rows", acknowledge=True)
    done = sdk.jobs.complete(job.id, request=JobCompleteDetails(outcome=outcome, info="done")).data
    assert done.status == "complete" and done.finished_at is not None
    assert done.outcome is not None and done.outcome["message"] == "Exported 3 rows"
    seen = sdk.jobs.ack_outcome(job.id).data
    assert seen.outcome_acknowledged_at is not None
    listed = sdk.jobs.list(space_id=space_id, page_size=10)
    assert [j.id for j in listed.data] == [job.id]
    assert listed.pagination is not None and listed.pagination.total_count == 1


def test_list_filters_and_idempotency(api: httpx.Client) -> None:
    space_id = space(api)
    headers = {"Idempotency-Key": f"job-{time.time_ns()}"}
    body = {"type": "space", "operation": "parent", "source": space_id}
    parent = ok(api.post("/jobs", json=body, headers=headers))
    assert ok(api.post("/jobs", json=body, headers=headers))["id"] == parent["id"]
    child = ok(api.post("/jobs", json={**body, "operation": "child", "parentId": parent["id"]}))
    every = ok(api.get("/jobs", params={"spaceId": space_id}))
    assert {j["id"] for j in every} == {parent["id"], child["id"]}
    page = api.get("/jobs", params={"spaceId": space_id, "pageSize": 1, "sortDirection": "desc"}).json()
    assert page["pagination"] == {"currentPage": 1, "pageCount": 2, "totalCount": 2}
    assert page["data"][0]["id"] == child["id"]
    assert [j["id"] for j in ok(api.get("/jobs", params={"parentId": parent["id"]}))] == [child["id"]]
    top = ok(api.get("/jobs", params={"spaceId": space_id, "excludeChildJobs": "true"}))
    assert [j["id"] for j in top] == [parent["id"]]
    assert api.delete(f"/jobs/{child['id']}").status_code == 200
    assert api.get(f"/jobs/{child['id']}").status_code == 404


def test_illegal_steps_answer_409(api: httpx.Client) -> None:
    space_id = space(api)
    job = ok(api.post("/jobs", json={"type": "space", "operation": "x", "source": space_id, "trigger": "immediate"}))
    assert job["status"] == "ready"
    path = f"/jobs/{job['id']}"
    assert api.post(f"{path}/execute").status_code == 409  # ready already
    assert api.post(f"{path}/retry").status_code == 409  # not failed
    assert api.post(f"{path}/outcome/ack").status_code == 409  # not finished
    ok(api.post(f"{path}/complete", json={"outcome": {"message": "ok"}}))
    for step in ("complete", "ack", "fail", "cancel", "execute"):
        refused = api.post(f"{path}/{step}", json={})
        assert refused.status_code == 409, (step, refused.text)
        assert "complete" in refused.json()["errors"][0]["message"]
    assert api.patch(path, json={"status": "executing"}).status_code == 409
    ok(api.post(f"{path}/outcome/ack"))
    assert api.post(f"{path}/outcome/ack").status_code == 409
    failed = ok(api.post("/jobs", json={"type": "space", "operation": "y", "source": space_id, "status": "ready"}))
    ok(api.post(f"/jobs/{failed['id']}/fail", json={"outcome": {"message": "no"}}))
    assert api.post(f"/jobs/{failed['id']}/execute").status_code == 409
    assert ok(api.post(f"/jobs/{failed['id']}/retry"))["status"] == "ready"


def test_an_auto_configured_space_gets_a_ready_configure_job(api: httpx.Client) -> None:
    space_id = space(api, autoConfigure=True)

    def configure() -> list[dict[str, Any]]:
        jobs: list[dict[str, Any]] = ok(api.get("/jobs", params={"spaceId": space_id}))
        return [j for j in jobs if (j["type"], j["operation"]) == ("space", "configure")]

    [job] = eventually(configure)
    assert job["status"] == "ready" and job["managed"] is True and job["source"] == space_id
    assert eventually(lambda: len(configure()) == 1)
    assert configure() == [job]  # never a second one


def test_an_idle_job_times_out_with_an_outcome(api: httpx.Client) -> None:
    space_id = space(api)
    body = {"type": "space", "operation": "slow", "source": space_id, "trigger": "immediate", "timeoutSeconds": 2}
    job = ok(api.post("/jobs", json=body))

    def failed() -> dict[str, Any] | None:
        seen: dict[str, Any] = ok(api.get(f"/jobs/{job['id']}"))
        return seen if seen["status"] == "failed" else None

    seen = eventually(failed, timeout=20)
    assert seen, "the job did not time out"
    assert seen["outcome"]["acknowledge"] is True and "timed out" in seen["outcome"]["message"]


def test_an_acked_job_with_progress_does_not_time_out_early(api: httpx.Client) -> None:
    space_id = space(api)
    body = {"type": "space", "operation": "busy", "source": space_id, "trigger": "immediate", "timeoutSeconds": 3}
    job = ok(api.post("/jobs", json=body))
    for progress in (10, 40, 80):
        assert ok(api.post(f"/jobs/{job['id']}/ack", json={"progress": progress}))["status"] == "executing"
        time.sleep(1)
    assert ok(api.post(f"/jobs/{job['id']}/complete", json={}))["status"] == "complete"


SHEET: dict[str, Any] = {
    "name": "People",
    "slug": "people",
    "fields": [{"key": "name", "type": "string", "constraints": [{"type": "required"}]}],
    "actions": [
        {"operation": "sheetSubmit", "label": "Submit", "mode": "foreground", "constraints": [{"type": "hasAllValid"}]},
        {"operation": "pick", "label": "Pick", "constraints": [{"type": "hasSelection"}]},
    ],
}


def test_action_constraints_are_enforced(api: httpx.Client) -> None:
    space_id = space(api)
    actions = [{"operation": "submitAll", "label": "Submit", "constraints": [{"type": "hasData"}]}]
    workbook = ok(
        api.post("/workbooks", json={"name": "W", "spaceId": space_id, "sheets": [SHEET], "actions": actions})
    )
    sheet_id = workbook["sheets"][0]["id"]
    empty = api.post("/jobs", json={"type": "workbook", "operation": "submitAll", "source": workbook["id"]})
    assert empty.status_code == 409, empty.text
    rows = [{"name": {"value": "Ada"}}, {"name": {"value": None}}]
    records = ok(api.post(f"/sheets/{sheet_id}/records", json=rows))["records"]
    good = next(r["id"] for r in records if r["values"]["name"]["value"] == "Ada")
    submit = {"type": "sheet", "operation": "sheetSubmit", "source": sheet_id}
    refused = api.post("/jobs", json=submit)
    assert refused.status_code == 409 and "invalid" in refused.text
    selected = {**submit, "subject": {"type": "collection", "resource": "records", "query": {"ids": [good]}}}
    job = ok(api.post("/jobs", json=selected))
    assert job["mode"] == "foreground" and job["sheetId"] == sheet_id and job["workbookId"] == workbook["id"]
    assert job["action"]["operation"] == "sheetSubmit"
    assert api.post("/jobs", json={"type": "sheet", "operation": "pick", "source": sheet_id}).status_code == 400
    wb_job = ok(api.post("/jobs", json={"type": "workbook", "operation": "submitAll", "source": workbook["id"]}))
    assert wb_job["workbookId"] == workbook["id"]
    listed = ok(api.get("/jobs", params={"workbookId": workbook["id"]}))
    assert {job["id"], wb_job["id"]} <= {j["id"] for j in listed}
    free = ok(api.post("/jobs", json={"type": "sheet", "operation": "listenerDefined", "source": sheet_id}))
    assert free["action"] is None


def test_bad_input_answers_4xx(api: httpx.Client, platform: Platform) -> None:
    space_id = space(api)
    base = {"type": "space", "operation": "x", "source": space_id}
    assert api.post("/jobs", json={**base, "type": "spreadsheet"}).status_code == 400
    assert api.post("/jobs", json={"type": "space", "source": space_id}).status_code == 400
    assert api.post("/jobs", json={**base, "operation": ""}).status_code == 400
    assert api.post("/jobs", json={**base, "progress": 500}).status_code == 400
    assert api.post("/jobs", json={**base, "source": "a.b"}).status_code == 400
    assert api.post("/jobs", json={**base, "source": "us_sp_unknown"}).status_code == 404
    assert api.post("/jobs", json={**base, "timeoutSeconds": -1}).status_code == 400
    assert api.post("/jobs", content=b"{").status_code == 400
    job = ok(api.post("/jobs", json={**base, "trigger": "immediate"}))
    assert api.post(f"/jobs/{job['id']}/ack", json={"progress": 101}).status_code == 400
    assert api.post(f"/jobs/{job['id']}/ack", json={"progress": "half"}).status_code == 400
    assert api.post(f"/jobs/{job['id']}/complete", json={"outcome": {"next": {"type": "nope"}}}).status_code == 400
    assert api.patch(f"/jobs/{job['id']}", json={"status": "paused"}).status_code == 400
    assert api.get("/jobs/us_jb_unknown").status_code == 404
    assert api.post("/jobs/us_jb_unknown/ack").status_code == 404
    assert api.get("/jobs/not-a-job").status_code == 404
    assert api.get("/jobs", params={"pageSize": 0}).status_code == 400
    assert api.get("/jobs", params={"sortDirection": "up"}).status_code == 400
    other_key = ok(api.post("/environments", json={"name": "jobs other", "isProd": False}))["secretKey"]
    with httpx.Client(base_url=platform.api, headers={"Authorization": f"Bearer {other_key}"}, timeout=30) as other:
        theirs = ok(other.post("/jobs", json={"type": "app", "operation": "sync", "source": "us_app_1"}))
        assert other.get(f"/jobs/{job['id']}").status_code == 404
        assert other.post(f"/jobs/{job['id']}/cancel").status_code == 404
        assert other.post("/jobs", json=base).status_code == 404  # our space
    assert api.get(f"/jobs/{theirs['id']}").status_code == 404
    assert api.post(f"/jobs/{theirs['id']}/fail").status_code == 404
    sdk = Flatfile(token=other_key, base_url=platform.api)
    with pytest.raises(ApiError) as missing:
        sdk.jobs.get(job["id"])
    assert missing.value.status_code == 404


def test_guests_create_and_read_jobs_in_their_own_space(api: httpx.Client, platform: Platform) -> None:
    mine, theirs = space(api), space(api)
    environment = ok(api.get("/environments/current"))["id"]
    invite = [
        {"environmentId": environment, "email": f"g{time.time_ns()}@example.com", "name": "g", "spaces": [{"id": mine}]}
    ]
    guest_id = ok(api.post("/guests", json=invite))[0]["id"]
    token = ok(api.get(f"/guests/{guest_id}/token", params={"spaceId": mine}))["token"]
    foreign = ok(api.post("/jobs", json={"type": "space", "operation": "x", "source": theirs}))
    with httpx.Client(base_url=platform.api, headers={"Authorization": f"Bearer {token}"}, timeout=30) as guest:
        job = ok(guest.post("/jobs", json={"type": "space", "operation": "submit", "source": mine}))
        assert ok(guest.get(f"/jobs/{job['id']}"))["spaceId"] == mine
        assert [j["id"] for j in ok(guest.get("/jobs"))] == [job["id"]]
        assert guest.get(f"/jobs/{foreign['id']}").status_code == 404
        assert guest.post("/jobs", json={"type": "space", "operation": "x", "source": theirs}).status_code == 403
        assert guest.post(f"/jobs/{job['id']}/ack").status_code == 403  # listeners hold secret keys


def test_a_document_action_becomes_a_job(api: httpx.Client) -> None:
    space_id = space(api)
    actions = [{"operation": "approve", "label": "Approve", "mode": "background"}]
    document = ok(api.post(f"/spaces/{space_id}/documents", json={"title": "D", "body": "b", "actions": actions}))
    body = {"type": "document", "operation": "approve", "source": document["id"]}
    assert api.post("/jobs", json=body).status_code == 400  # which space? (Spaceport needs spaceId here)
    job = ok(api.post("/jobs", json={**body, "spaceId": space_id, "trigger": "immediate"}))
    assert job["documentId"] == document["id"] and job["mode"] == "background" and job["status"] == "ready"
    assert job["action"]["label"] == "Approve"
    other = space(api)
    assert api.post("/jobs", json={**body, "spaceId": other}).status_code == 404
