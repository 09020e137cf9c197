"""The `workbook:map` job end to end: planning, the plan endpoints, execute, mapped records."""

from __future__ import annotations

import time
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


def wait(check: Callable[[], Any], seconds: float = 60.0) -> Any:
    deadline = time.monotonic() + seconds
    while True:
        found = check()
        if found:
            return found
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.2)


def workbook(api: httpx.Client, space_id: str, name: str, fields: list[dict[str, Any]]) -> tuple[str, str]:
    created = ok(
        api.post("/workbooks", json={"name": name, "spaceId": space_id, "sheets": [{"name": name, "fields": fields}]})
    )
    return created["id"], created["sheets"][0]["id"]


def test_map_job_plans_patches_and_maps(api: httpx.Client) -> None:
    space_id = ok(api.post("/spaces", json={"name": "mapping"}))["id"]
    source, source_sheet = workbook(
        api,
        space_id,
        "Upload",
        [
            {"key": "first_name", "type": "string", "label": "First Name"},
            {"key": "e_mail", "type": "string", "label": "E-mail"},
            {"key": "phone", "type": "string", "label": "Phone"},
        ],
    )
    rows = [
        {"first_name": {"value": "Ada"}, "e_mail": {"value": "ada@example.com"}, "phone": {"value": "1"}},
        {"first_name": {"value": "Bob"}, "e_mail": {"value": "bob@example.com"}, "phone": {"value": "2"}},
    ]
    ok(api.post(f"/sheets/{source_sheet}/records", json=rows))
    destination, destination_sheet = workbook(
        api,
        space_id,
        "Contacts",
        [
            {"key": "firstName", "type": "string", "label": "First Name"},
            {"key": "email", "type": "string", "label": "Email"},
            {"key": "phone", "type": "string"},
        ],
    )
    body = {
        "type": "workbook",
        "operation": "map",
        "source": source,
        "destination": destination,
        "config": {"sourceSheetId": source_sheet, "destinationSheetId": destination_sheet},
    }
    job = ok(api.post("/jobs", json=body))
    assert job["status"] == "planning"
    job_id = job["id"]

    def planned() -> Any:
        found = ok(api.get(f"/jobs/{job_id}/plan"))
        return found if found["plan"] else None

    found = wait(planned)
    assert found["job"]["id"] == job_id and found["job"]["status"] == "planning"
    pairs = {m["sourceField"]["key"]: m["destinationField"]["key"] for m in found["plan"]["fieldMapping"]}
    assert pairs == {"first_name": "firstName", "e_mail": "email", "phone": "phone"}

    unmap = {"unmappedSourceFields": [{"sourceField": {"key": "phone"}}]}
    patched = ok(api.patch(f"/jobs/{job_id}/plan", json=unmap))["plan"]
    assert [m["sourceField"]["key"] for m in patched["fieldMapping"]] == ["first_name", "e_mail"]
    assert [u["sourceField"]["key"] for u in patched["unmappedSourceFields"]] == ["phone"]
    assert [u["destinationField"]["key"] for u in patched["unmappedDestinationFields"]] == ["phone"]

    bad = {"fieldMapping": [{"sourceField": {"key": "phone"}, "destinationField": {"key": "nope"}}]}
    reply = api.put(f"/jobs/{job_id}/plan", json=bad)
    assert reply.status_code == 400, reply.text

    assert api.post(f"/jobs/{job_id}/execute").status_code == 200
    done = wait(lambda: (j := ok(api.get(f"/jobs/{job_id}")))["status"] in ("complete", "failed") and j)
    assert done["status"] == "complete", done["outcome"]
    assert done["outcome"]["message"] == "Mapped 2 records into Contacts"

    records = ok(api.get(f"/sheets/{destination_sheet}/records"))["records"]
    values = sorted((r["values"]["firstName"]["value"], r["values"]["email"]["value"]) for r in records)
    assert values == [("Ada", "ada@example.com"), ("Bob", "bob@example.com")]
    assert all(r["values"].get("phone", {}).get("value") is None for r in records)


def test_plan_of_an_unknown_job_is_404(api: httpx.Client) -> None:
    assert api.get("/jobs/us_jb_nope/plan").status_code == 404
    assert api.put("/jobs/us_jb_nope/plan", json={}).status_code == 404
