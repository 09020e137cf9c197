"""A guest whose grant names workbooks imports its own uploads (the API, no browser).

The rule (gateway `auth.with_own_uploads`, file service `ListUploadedWorkbooks`): the file a
limited guest uploaded and the source workbook the built-in extractor made from it are that
guest's, so it may read them, map that workbook into a workbook of its grant and follow the jobs.
Another guest limited to the same workbooks finds none of it (404), and naming a workbook on the
file (`PATCH /v1/files/{id}`) grants nothing.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from spaceport.testing.platform import Platform

CSV = b"Full Name,E-mail\nAda Lovelace,ada@example.com\nAlan Turing,alan@example.com\n"
FIELDS = [{"key": "name", "type": "string", "label": "Name"}, {"key": "email", "type": "string", "label": "Email"}]


@dataclass(frozen=True)
class Place:
    environment_id: str
    space_id: str
    destination: str  # a workbook both guests are granted
    destination_sheet: str
    other: str  # a workbook neither is granted
    ann: dict[str, str]
    bob: dict[str, str]


def ok(reply: httpx.Response) -> Any:
    assert reply.status_code == 200, reply.text
    return reply.json()["data"]


def wait(check: Callable[[], Any], seconds: float = 60.0) -> Any:
    deadline = time.monotonic() + seconds
    while not (found := check()):
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.2)
    return found


def not_found(reply: httpx.Response, key: str | None = None) -> None:
    assert reply.status_code == 404, reply.text
    if key is not None:
        assert reply.json()["errors"][0]["key"] == key, reply.text


@pytest.fixture(scope="module")
def place(platform: Platform) -> Iterator[Place]:
    with platform.client(timeout=60) as sk:
        environment_id = ok(sk.get("/environments/current"))["id"]
        space_id = ok(sk.post("/spaces", json={"name": "guest uploads"}))["id"]
        people = [{"name": "People", "slug": "people", "fields": FIELDS}]
        made = ok(sk.post("/workbooks", json={"spaceId": space_id, "name": "People", "sheets": people}))
        secret = [{"name": "Secret", "fields": FIELDS}]
        other = ok(sk.post("/workbooks", json={"spaceId": space_id, "name": "Private", "sheets": secret}))

        def token(name: str) -> dict[str, str]:
            spaces = [{"id": space_id, "role": "editor", "workbooks": [{"id": made["id"]}]}]
            invite = [{"environmentId": environment_id, "email": f"{name}-{uuid.uuid4().hex[:8]}@example.com",
                       "name": name, "spaces": spaces}]  # fmt: skip
            guest_id = ok(sk.post("/guests", json=invite))[0]["id"]
            found = ok(sk.get(f"/guests/{guest_id}/token", params={"spaceId": space_id}))["token"]
            return {"Authorization": f"Bearer {found}"}

        yield Place(
            environment_id=environment_id,
            space_id=space_id,
            destination=made["id"],
            destination_sheet=made["sheets"][0]["id"],
            other=other["id"],
            ann=token("ann"),
            bob=token("bob"),
        )


def upload(http: httpx.Client, place: Place, headers: dict[str, str], name: str = "people.csv") -> dict[str, Any]:
    """Upload as `headers` and wait for the extraction: the file with its source workbook and sheet."""
    form = {"spaceId": place.space_id, "environmentId": place.environment_id}
    created = ok(http.post("/files", data=form, files={"file": (name, CSV, "text/csv")}, headers=headers))
    assert created["workbookId"] is None  # extracted a moment later
    found: dict[str, Any] = wait(
        lambda: (f := ok(http.get(f"/files/{created['id']}", headers=headers)))["sheetId"] and f
    )
    return found


def extract_job(http: httpx.Client, file_id: str, headers: dict[str, str]) -> dict[str, Any]:
    jobs = ok(http.get("/jobs", params={"fileId": file_id}, headers=headers))
    [job] = [j for j in jobs if j["operation"] == "extract"]
    return dict(job)


def map_body(file: dict[str, Any], destination: str, destination_sheet: str) -> dict[str, Any]:
    return {
        "type": "workbook",
        "operation": "map",
        "source": file["workbookId"],
        "destination": destination,
        "config": {"sourceSheetId": file["sheetId"], "destinationSheetId": destination_sheet},
    }


def test_a_limited_guest_maps_its_upload_into_its_workbook(platform: Platform, place: Place) -> None:
    with platform.client(timeout=60) as http:
        ann = place.ann
        file = upload(http, place, ann)
        source, source_sheet = file["workbookId"], file["sheetId"]
        assert source != place.destination
        # its upload's source workbook, sheet, records and extraction job are its own
        assert ok(http.get(f"/workbooks/{source}", headers=ann))["id"] == source
        records = ok(http.get(f"/sheets/{source_sheet}/records", headers=ann))["records"]
        assert len(records) == 2
        assert ok(http.get(f"/sheets/{source_sheet}/counts", headers=ann))["counts"]["total"] == 2
        job = extract_job(http, file["id"], ann)
        assert ok(http.get(f"/jobs/{job['id']}", headers=ann))["status"] == "complete"
        assert file["id"] in [f["id"] for f in ok(http.get("/files", params={"spaceId": place.space_id}, headers=ann))]
        # the grant itself is unchanged (the web app's sidebar shows the granted workbook only)
        session = ok(http.get(f"{platform.base_url}/space/{place.space_id}/session", headers=ann))
        assert session["workbookIds"] == [place.destination]

        # mapping into a workbook outside the grant is refused; into the granted one it runs
        not_found(http.post("/jobs", json=map_body(file, place.other, place.destination_sheet), headers=ann))
        job_id = ok(http.post("/jobs", json=map_body(file, place.destination, place.destination_sheet), headers=ann))[
            "id"
        ]
        wait(lambda: any(ok(http.get(f"/jobs/{job_id}/plan", headers=ann))["plan"].values()))
        labels = {"Full Name": "name", "E-mail": "email"}
        fields = ok(http.get(f"/sheets/{source_sheet}", headers=ann))["config"]["fields"]
        edges = [
            {"sourceField": {"key": f["key"]}, "destinationField": {"key": labels[f["label"]]}}
            for f in fields
            if f.get("label") in labels
        ]
        assert len(edges) == 2, fields
        ok(http.put(f"/jobs/{job_id}/plan", json={"fieldMapping": edges}, headers=ann))
        assert http.post(f"/jobs/{job_id}/execute", headers=ann).status_code == 200
        done = wait(
            lambda: (j := ok(http.get(f"/jobs/{job_id}", headers=ann)))["status"] in ("complete", "failed") and j
        )
        assert done["status"] == "complete", done
        mapped = ok(http.get(f"/sheets/{place.destination_sheet}/records", headers=ann))["records"]
        assert sorted(r["values"]["email"]["value"] for r in mapped) == ["ada@example.com", "alan@example.com"]


def test_another_limited_guest_finds_nothing_of_an_upload(platform: Platform, place: Place) -> None:
    with platform.client(timeout=60) as http:
        ann, bob = place.ann, place.bob
        file = upload(http, place, ann, "ann-only.csv")
        source, source_sheet = file["workbookId"], file["sheetId"]
        job_id = ok(http.post("/jobs", json=map_body(file, place.destination, place.destination_sheet), headers=ann))[
            "id"
        ]
        extraction = extract_job(http, file["id"], ann)
        for path, key in (
            (f"/files/{file['id']}", "fileId"),
            (f"/files/{file['id']}/download", "fileId"),
            (f"/workbooks/{source}", "workbookId"),
            (f"/sheets/{source_sheet}", "sheetId"),
            (f"/sheets/{source_sheet}/records", "sheetId"),
            (f"/sheets/{source_sheet}/counts", "sheetId"),
            (f"/jobs/{job_id}", "jobId"),
            (f"/jobs/{job_id}/plan", "jobId"),
            (f"/jobs/{extraction['id']}", "jobId"),
        ):
            not_found(http.get(path, headers=bob), key)
            assert http.get(path, headers=ann).status_code == 200, path
        not_found(http.post(f"/jobs/{job_id}/execute", headers=bob))
        not_found(http.delete(f"/files/{file['id']}", headers=bob))
        not_found(http.post("/jobs", json=map_body(file, place.destination, place.destination_sheet), headers=bob))
        # nor in any list, and the pages count only what bob sees
        params: dict[str, str | int] = {"spaceId": place.space_id, "pageSize": 100}
        files = http.get("/files", params=params, headers=bob).json()
        assert file["id"] not in [f["id"] for f in files["data"]]
        assert files["pagination"]["totalCount"] == len(files["data"])
        jobs = http.get("/jobs", params=params, headers=bob).json()
        assert not {job_id, extraction["id"]} & {j["id"] for j in jobs["data"]}
        assert jobs["pagination"]["totalCount"] == len(jobs["data"])
        assert ok(http.get("/jobs", params={"fileId": file["id"]}, headers=bob)) == []
        assert source not in [w["id"] for w in ok(http.get("/workbooks", params=params, headers=bob))]
        assert source in [w["id"] for w in ok(http.get("/workbooks", params=params, headers=ann))]
        # an upload not yet extracted is the uploader's only, too
        form = {"spaceId": place.space_id, "environmentId": place.environment_id}
        pending = ok(http.post("/files", data=form, files={"file": ("p.csv", CSV, "text/csv")}, headers=ann))
        not_found(http.get(f"/files/{pending['id']}", headers=bob), "fileId")


def test_naming_a_workbook_on_an_upload_grants_nothing(platform: Platform, place: Place) -> None:
    with platform.client(timeout=60) as http:
        ann = place.ann
        file = upload(http, place, ann, "relinked.csv")
        not_found(http.get(f"/workbooks/{place.other}", headers=ann), "workbookId")
        # the uploader relinks its file to a workbook outside its grant: that workbook stays hidden
        relinked = ok(http.patch(f"/files/{file['id']}", json={"workbookId": place.other}, headers=ann))
        assert relinked["workbookId"] == place.other  # still its own file: it sees it
        not_found(http.get(f"/workbooks/{place.other}", headers=ann), "workbookId")
        with platform.client(timeout=60) as sk:
            ok(sk.patch(f"/files/{file['id']}", json={"workbookId": place.other}))
        not_found(http.get(f"/workbooks/{place.other}", headers=ann), "workbookId")
        # the extracted workbook is still its own (the extractor's, not the file's current link)
        assert ok(http.get(f"/workbooks/{file['workbookId']}", headers=ann))["id"] == file["workbookId"]
        # deleting the upload ends it
        with platform.client(timeout=60) as sk:
            ok(sk.delete(f"/files/{file['id']}"))
        not_found(http.get(f"/workbooks/{file['workbookId']}", headers=ann), "workbookId")
