"""A cell's history names the source row of an imported value: the file's row for a value
extracted from it, the source sheet's row for a value mapped from it, also for records past the
first event of a commit (1,000 records each) and when the source sheet has gaps (deleted rows)."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from spaceport.testing.platform import Platform

ROWS = 2_500  # one commit of three record events


@pytest.fixture
def api(platform: Platform) -> Iterator[httpx.Client]:
    with platform.client(timeout=60) as client:
        yield client


def ok(reply: httpx.Response) -> Any:
    assert reply.status_code == 200, reply.text
    return reply.json()["data"]


def wait(check: Callable[[], Any], what: str, seconds: float = 120.0) -> Any:
    deadline = time.monotonic() + seconds
    while not (found := check()):
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.2)
    return found


def by_value(api: httpx.Client, sheet_id: str, key: str) -> dict[str, str]:
    """value of field `key` -> record id, for every record of the sheet."""
    records = ok(api.get(f"/sheets/{sheet_id}/records", params={"pageSize": 10_000}))["records"]
    return {r["values"][key]["value"]: r["id"] for r in records}


def first_version(api: httpx.Client, sheet_id: str, record_id: str, field: str) -> dict[str, Any]:
    found = ok(api.get(f"/sheets/{sheet_id}/records/{record_id}/history", params={"field": field}))
    return dict(found[0]["provenance"])


def test_imported_and_mapped_values_name_their_source_row(api: httpx.Client) -> None:
    environment = ok(api.get("/environments/current"))["id"]
    space = ok(api.post("/spaces", json={"name": f"provenance rows {uuid.uuid4().hex[:6]}"}))["id"]
    csv = "Full Name,Mail\n" + "".join(f"person {n},p{n}@x.io\n" for n in range(1, ROWS + 1))
    form = {"spaceId": space, "environmentId": environment}
    file_id = ok(api.post("/files", data=form, files={"file": ("people.csv", csv.encode(), "text/csv")}))["id"]
    wait(lambda: [j for j in ok(api.get("/jobs", params={"fileId": file_id})) if j["status"] == "complete"], "extract")
    source_sheet = wait(lambda: ok(api.get(f"/files/{file_id}")).get("sheetId"), "the file's sheet")
    name_key = next(
        f["key"] for f in ok(api.get(f"/sheets/{source_sheet}"))["config"]["fields"] if f["label"] == "Full Name"
    )
    extracted = by_value(api, source_sheet, name_key)
    assert len(extracted) == ROWS

    for n in (1, 1_000, 1_001, 2_100, ROWS):  # the first, second and third event of the commit
        found = first_version(api, source_sheet, extracted[f"person {n}"], name_key)
        assert (found["kind"], found["fileId"], found["sourceRow"], found["sourceColumn"]) == (
            "file",
            file_id,
            n,
            "Full Name",
        ), n

    # rows 3 and 4 go before the mapping: the mapped records' rows skip them
    gone = [extracted["person 3"], extracted["person 4"]]
    ok(api.delete(f"/sheets/{source_sheet}/records", params={"ids": ",".join(gone)}))
    destination = ok(
        api.post(
            "/workbooks",
            json={
                "name": "People",
                "spaceId": space,
                "sheets": [{"name": "People", "slug": "people-rows", "fields": [{"key": "name", "type": "string"}]}],
            },
        )
    )
    destination_sheet = destination["sheets"][0]["id"]
    body = {
        "type": "workbook",
        "operation": "map",
        "source": ok(api.get(f"/files/{file_id}"))["workbookId"],
        "destination": destination["id"],
        "config": {"sourceSheetId": source_sheet, "destinationSheetId": destination_sheet},
    }
    job = ok(api.post("/jobs", json=body))["id"]
    planned = ("fieldMapping", "unmappedSourceFields", "unmappedDestinationFields")
    wait(lambda: any(ok(api.get(f"/jobs/{job}/plan"))["plan"].get(k) for k in planned), "the plan")
    edge = {"sourceField": {"key": name_key}, "destinationField": {"key": "name"}}
    ok(api.put(f"/jobs/{job}/plan", json={"fieldMapping": [edge]}))
    ok(api.post(f"/jobs/{job}/execute"))
    done = wait(lambda: (j := ok(api.get(f"/jobs/{job}")))["status"] in ("complete", "failed") and j, "mapping")
    assert done["status"] == "complete", done

    mapped = by_value(api, destination_sheet, "name")
    assert len(mapped) == ROWS - 2 and "person 3" not in mapped
    for n in (1, 2, 5, 1_003, 2_100, ROWS):
        found = first_version(api, destination_sheet, mapped[f"person {n}"], "name")
        assert (found["kind"], found["fileId"], found["sourceSheetId"], found["sourceField"]) == (
            "mapping",
            file_id,
            source_sheet,
            name_key,
        ), n
        assert (found["sourceRow"], found["sourceColumn"]) == (n, "Full Name"), n
