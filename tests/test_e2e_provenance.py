"""A cell's provenance through an import: extracted from a file (its job, file and column), then
mapped into a destination sheet (the mapping job, the source sheet and field, and the file behind
them), then edited through the API. The commits carry it (`CommitCreated.source`); the job
service's history keeps it per version."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from spaceport.testing.platform import Platform


@pytest.fixture
def api(platform: Platform) -> Iterator[httpx.Client]:
    with platform.client(timeout=60) as client:
        yield client


def ok(reply: httpx.Response) -> Any:
    assert reply.status_code == 200, reply.text
    return reply.json()["data"]


def wait(check: Callable[[], Any], what: str, seconds: float = 90.0) -> Any:
    deadline = time.monotonic() + seconds
    while True:
        found = check()
        if found:
            return found
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.2)


def history(api: httpx.Client, sheet_id: str, record_id: str, field: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = ok(
        api.get(f"/sheets/{sheet_id}/records/{record_id}/history", params={"field": field})
    )
    return found


def provenance(**given: str | int) -> dict[str, str | int | None]:
    """A cell version's `provenance` as the API renders it: every key, None where not given."""
    keys = (
        "kind",
        "fileId",
        "jobId",
        "commitKind",
        "sourceSheetId",
        "sourceField",
        "sourceRow",
        "sourceColumn",
        "restoredTo",
    )
    return {k: given.get(k) for k in keys}


def test_a_cell_names_its_file_its_jobs_and_its_source_field(api: httpx.Client) -> None:
    environment = ok(api.get("/environments/current"))["id"]
    space = ok(api.post("/spaces", json={"name": f"provenance {uuid.uuid4().hex[:6]}"}))["id"]
    form = {"spaceId": space, "environmentId": environment}
    csv = b"Full Name,Mail\nAda Lovelace,ada@x.io\nAlan Turing,alan@x.io\n"
    file_id = ok(api.post("/files", data=form, files={"file": ("people.csv", csv, "text/csv")}))["id"]
    extract = wait(
        lambda: [j for j in ok(api.get("/jobs", params={"fileId": file_id})) if j["status"] == "complete"],
        "the extract job",
    )[0]
    source_sheet = wait(lambda: ok(api.get(f"/files/{file_id}")).get("sheetId"), "the file's sheet")
    source_fields = [f["key"] for f in ok(api.get(f"/sheets/{source_sheet}"))["config"]["fields"]]
    extracted = ok(api.get(f"/sheets/{source_sheet}/records"))["records"]
    ada = next(r for r in extracted if "Ada Lovelace" in [c["value"] for c in r["values"].values()])
    name_key = next(k for k, c in ada["values"].items() if c["value"] == "Ada Lovelace")
    assert name_key in source_fields

    (cell,) = history(api, source_sheet, ada["id"], name_key)
    assert cell["value"] == "Ada Lovelace"
    assert cell["provenance"] == provenance(
        kind="file",
        fileId=file_id,
        jobId=extract["id"],
        commitKind="insert",
        sourceField=name_key,
        sourceRow=1,
        sourceColumn="Full Name",
    )

    destination = ok(
        api.post(
            "/workbooks",
            json={
                "name": "People",
                "spaceId": space,
                "sheets": [{"name": "People", "slug": "people", "fields": [{"key": "name", "type": "string"}]}],
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
    map_job = ok(api.post("/jobs", json=body))["id"]
    planned = ("fieldMapping", "unmappedSourceFields", "unmappedDestinationFields")
    wait(lambda: any(ok(api.get(f"/jobs/{map_job}/plan"))["plan"][k] for k in planned), "the plan")
    mapping = {"fieldMapping": [{"sourceField": {"key": name_key}, "destinationField": {"key": "name"}}]}
    assert api.put(f"/jobs/{map_job}/plan", json=mapping).status_code == 200
    assert api.post(f"/jobs/{map_job}/execute").status_code == 200
    done = wait(lambda: (j := ok(api.get(f"/jobs/{map_job}")))["status"] in ("complete", "failed") and j, "mapping")
    assert done["status"] == "complete", done
    mapped = ok(api.get(f"/sheets/{destination_sheet}/records"))["records"]
    ada_mapped = next(r for r in mapped if r["values"]["name"]["value"] == "Ada Lovelace")

    ok(
        api.put(
            f"/sheets/{destination_sheet}/records",
            json=[{"id": ada_mapped["id"], "values": {"name": {"value": "Ada L"}}}],
        )
    )
    first, second = history(api, destination_sheet, ada_mapped["id"], "name")
    assert first["value"] == "Ada Lovelace"
    assert first["provenance"] == provenance(
        kind="mapping",
        fileId=file_id,
        jobId=map_job,
        commitKind="insert",
        sourceSheetId=source_sheet,
        sourceField=name_key,
        sourceRow=1,
        sourceColumn="Full Name",
    )
    assert (second["value"], second["provenance"]) == ("Ada L", provenance(kind="api", commitKind="update"))
