"""`file:extract` through the whole platform: an upload in mode `import` gets a managed extract job
(job service), which the file service's extractor runs into a source workbook of records; a file
that cannot be read fails its job with a message, leaves no workbook and marks the file failed."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

import httpx
import pytest

from spaceport import ids
from spaceport.testing.platform import Platform

T = TypeVar("T")
DEADLINE = 20.0


def ok(reply: httpx.Response) -> Any:
    assert reply.status_code == 200, reply.text
    return reply.json()["data"]


def eventually(probe: Callable[[], T | None], what: str, timeout: float = DEADLINE) -> T:
    deadline = time.monotonic() + timeout
    while True:
        found = probe()
        if found is not None:
            return found
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


@pytest.fixture(scope="module")
def api(platform: Platform) -> Iterator[httpx.Client]:
    with platform.client(timeout=60) as client:
        yield client


@pytest.fixture(scope="module")
def place(api: httpx.Client) -> dict[str, str]:
    environment = ok(api.get("/environments/current"))["id"]
    space = ok(api.post("/spaces", json={"name": f"extract {uuid.uuid4().hex[:6]}"}))["id"]
    return {"environment": environment, "space": space}


def upload(api: httpx.Client, place: dict[str, str], name: str, content: bytes, mimetype: str) -> str:
    form = {"spaceId": place["space"], "environmentId": place["environment"]}
    file_id: str = ok(api.post("/files", data=form, files={"file": (name, content, mimetype)}))["id"]
    return file_id


def finished_job(api: httpx.Client, file_id: str) -> dict[str, Any]:
    def probe() -> dict[str, Any] | None:
        jobs = ok(api.get("/jobs", params={"fileId": file_id}))
        done = [j for j in jobs if j["status"] in ("complete", "failed")]
        return done[0] if done else None

    job = eventually(probe, f"the extract job of {file_id}")
    assert (job["type"], job["operation"], job["source"], job["fileId"]) == ("file", "extract", file_id, file_id)
    assert job["managed"] is True
    assert job["id"] == ids.derived_id("job", f"extract:{file_id}")  # one job per file, whatever redelivers
    return job


def records(api: httpx.Client, sheet_id: str) -> list[dict[str, Any]]:
    listed: list[dict[str, Any]] = ok(api.get(f"/sheets/{sheet_id}/records"))["records"]
    return listed


def values(record: dict[str, Any]) -> dict[str, Any]:
    return {key: cell["value"] for key, cell in record["values"].items()}


def test_csv_upload_is_extracted_into_a_source_workbook(api: httpx.Client, place: dict[str, str]) -> None:
    content = (
        b"People export;;\n"  # a title row above the header
        b"First Name;E-mail;Note\n"
        b'Ada;ada@example.com;"two\nlines"\n'
        b"Grace;grace@example.com;\n"
    )
    file_id = upload(api, place, "people.csv", content, "text/csv")

    job = finished_job(api, file_id)
    assert job["status"] == "complete", job
    assert job["outcome"]["message"] == "Extracted 2 records from 1 sheet(s)"

    file = ok(api.get(f"/files/{file_id}"))
    assert file["status"] == "complete"
    assert file["workbookId"] and file["sheetId"]
    workbook = ok(api.get(f"/workbooks/{file['workbookId']}"))
    assert workbook["name"] == "people.csv"
    assert workbook["labels"] == ["file"]
    [sheet] = workbook["sheets"]
    assert sheet["id"] == file["sheetId"]
    fields = [(f["key"], f["label"], f["type"]) for f in sheet["config"]["fields"]]
    assert fields == [
        ("first_name", "First Name", "string"),
        ("e_mail", "E-mail", "string"),
        ("note", "Note", "string"),
    ]

    got = [values(r) for r in records(api, sheet["id"])]
    assert got == [
        {"first_name": "Ada", "e_mail": "ada@example.com", "note": "two\nlines"},
        {"first_name": "Grace", "e_mail": "grace@example.com", "note": ""},
    ]

    def completed() -> dict[str, Any] | None:
        listed = ok(api.get("/events", params={"spaceId": place["space"], "topic": "job:completed"}))
        mine = [e for e in listed if e["context"].get("jobId") == job["id"]]
        return mine[0] if mine else None

    event = eventually(completed, "job:completed of the extract job")
    assert event["payload"]["job"] == "file:extract"


def test_json_upload_is_extracted(api: httpx.Client, place: dict[str, str]) -> None:
    content = json.dumps([{"name": "Ada", "age": 36}, {"name": "Grace", "city": "Arlington"}]).encode()
    file_id = upload(api, place, "people.json", content, "application/json")

    job = finished_job(api, file_id)
    assert job["status"] == "complete", job
    assert job["outcome"]["message"] == "Extracted 2 records from 1 sheet(s)"
    file = ok(api.get(f"/files/{file_id}"))
    got = [values(r) for r in records(api, file["sheetId"])]
    assert [g.get("name") for g in got] == ["Ada", "Grace"]
    assert got[0].get("age") == "36"
    assert got[1].get("city") == "Arlington"


def test_unreadable_upload_fails_its_job_and_leaves_no_workbook(api: httpx.Client, place: dict[str, str]) -> None:
    garbage = bytes(range(256)) * 64
    file_id = upload(api, place, "broken.csv", garbage, "text/csv")

    job = finished_job(api, file_id)
    assert job["status"] == "failed", job
    assert job["outcome"]["acknowledge"] is True
    assert "binary" in job["outcome"]["message"].lower(), job["outcome"]

    file = eventually(
        lambda: f if (f := ok(api.get(f"/files/{file_id}")))["status"] == "failed" else None, "the file failed"
    )
    assert file["workbookId"] is None
    names = [w["name"] for w in ok(api.get("/workbooks", params={"spaceId": place["space"]}))]
    assert "broken.csv" not in names

    # the worker goes on: the next upload is extracted
    after = upload(api, place, "after.csv", b"a,b\n1,2\n", "text/csv")
    assert finished_job(api, after)["status"] == "complete"
    sheet = ok(api.get(f"/files/{after}"))["sheetId"]
    assert [values(r) for r in records(api, sheet)] == [{"a": "1", "b": "2"}]


def test_a_bad_row_fails_the_job_with_where_and_deletes_the_partial_workbook(
    api: httpx.Client, place: dict[str, str]
) -> None:
    file_id = upload(api, place, "ragged.csv", b"a,b\n1,2\n3,4,5,6\n", "text/csv")

    job = finished_job(api, file_id)
    assert job["status"] == "failed", job
    assert job["outcome"] == {"acknowledge": True, "message": "a row has 4 cells but the header has 2 (row 3)"}
    file = ok(api.get(f"/files/{file_id}"))
    assert (file["status"], file["workbookId"]) == ("failed", None)
    # the workbook was made before the bad row was read: it is deleted again
    names = [w["name"] for w in ok(api.get("/workbooks", params={"spaceId": place["space"]}))]
    assert "ragged.csv" not in names

    def deleted() -> list[Any] | None:
        listed = ok(api.get("/events", params={"spaceId": place["space"], "topic": "workbook:deleted"}))
        return listed or None

    assert eventually(deleted, "workbook:deleted of the partial workbook")
