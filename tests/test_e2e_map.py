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


def planned_(plan: dict[str, Any]) -> bool:
    """A plan the mapper computed (before that it is empty: no edges and nothing unmapped)."""
    return any(plan[k] for k in ("fieldMapping", "unmappedSourceFields", "unmappedDestinationFields"))


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
        return found if planned_(found["plan"]) else None

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


def map_job(api: httpx.Client, source: tuple[str, str], destination: tuple[str, str]) -> tuple[str, dict[str, Any]]:
    body = {
        "type": "workbook",
        "operation": "map",
        "source": source[0],
        "destination": destination[0],
        "config": {"sourceSheetId": source[1], "destinationSheetId": destination[1]},
    }
    job_id = ok(api.post("/jobs", json=body))["id"]
    found = wait(lambda: planned_((p := ok(api.get(f"/jobs/{job_id}/plan")))["plan"]) and p)
    return job_id, found["plan"]


def run(api: httpx.Client, job_id: str) -> dict[str, Any]:
    assert api.post(f"/jobs/{job_id}/execute").status_code == 200
    done: dict[str, Any] = wait(lambda: (j := ok(api.get(f"/jobs/{job_id}")))["status"] in ("complete", "failed") and j)
    return done


def test_a_hand_made_mapping_is_remembered_and_enum_values_are_planned(api: httpx.Client) -> None:
    """A user maps `Tel.` to `phone` by hand once; the next import into a sheet of the same slug
    starts from that mapping. An enum destination's plan maps the source's values to options."""
    space_id = ok(api.post("/spaces", json={"name": "remembering"}))["id"]
    fields: list[dict[str, Any]] = [
        {"key": "phone", "type": "string", "label": "Phone"},
        {
            "key": "tier",
            "type": "enum",
            "config": {"options": [{"value": "gold", "label": "Gold"}, {"value": "silver", "label": "Silver"}]},
        },
    ]
    source_fields: list[dict[str, Any]] = [
        {"key": "tel", "type": "string", "label": "Tel."},
        {"key": "level", "type": "string"},
    ]
    destination = workbook(api, space_id, "Customers", fields)
    source = workbook(api, space_id, "Upload", source_fields)
    rows = [{"tel": {"value": "555"}, "level": {"value": "GOLD"}}, {"tel": {"value": "556"}, "level": {"value": "?"}}]
    ok(api.post(f"/sheets/{source[1]}/records", json=rows))

    job_id, plan = map_job(api, source, destination)
    assert plan["fieldMapping"] == []  # nothing looks alike
    edges = [
        {"sourceField": {"key": "tel"}, "destinationField": {"key": "phone"}},
        {
            "sourceField": {"key": "level"},
            "destinationField": {"key": "tier"},
            "enumDetails": {"mapping": [{"sourceValue": "?", "destinationValue": "silver"}]},
        },
    ]
    ok(api.put(f"/jobs/{job_id}/plan", json={"fieldMapping": edges}))
    done = run(api, job_id)
    assert done["status"] == "complete", done["outcome"]
    records = ok(api.get(f"/sheets/{destination[1]}/records"))["records"]
    # "GOLD" names the option by its label (the destination's own matching); "?" by the plan
    assert sorted((r["values"]["phone"]["value"], r["values"]["tier"]["value"]) for r in records) == [
        ("555", "gold"),
        ("556", "silver"),
    ]

    # a second upload into another workbook of the same sheet: the plan remembers both edges
    again_destination = workbook(api, space_id, "Customers", fields)
    again_source = workbook(api, space_id, "Upload 2", [{"key": "TEL", "type": "string"}, *source_fields[1:]])
    ok(api.post(f"/sheets/{again_source[1]}/records", json=[{"TEL": {"value": "1"}, "level": {"value": "Silver"}}]))
    _, plan = map_job(api, again_source, again_destination)
    pairs = {
        e["sourceField"]["key"]: (e["destinationField"]["key"], e["metadata"]["source"]) for e in plan["fieldMapping"]
    }
    assert pairs == {"TEL": ("phone", "remembered"), "level": ("tier", "remembered")}
    [tier] = [e for e in plan["fieldMapping"] if e["destinationField"]["key"] == "tier"]
    assert tier["enumDetails"]["mapping"] == [{"sourceValue": "Silver", "destinationValue": "silver"}]


def guest_token(api: httpx.Client, space_id: str, role: str) -> dict[str, str]:
    environment = ok(api.get("/environments/current"))["id"]
    invite = [{"environmentId": environment, "email": f"{role}-{time.time_ns()}@x.io", "name": role,
               "spaces": [{"id": space_id, "role": role}]}]  # fmt: skip
    guest_id = ok(api.post("/guests", json=invite))[0]["id"]
    token = ok(api.get(f"/guests/{guest_id}/token", params={"spaceId": space_id}))["token"]
    return {"Authorization": f"Bearer {token}"}


def test_a_guest_editor_edits_the_plan_and_runs_the_import_a_viewer_may_not(api: httpx.Client) -> None:
    """The space's web app maps a guest's upload: editors of the job's space may PUT/PATCH its plan
    and execute it; viewers get 403, a guest of another space 404."""
    space_id = ok(api.post("/spaces", json={"name": "guest mapping"}))["id"]
    fields = [{"key": "name", "type": "string"}]
    source = workbook(api, space_id, "Upload", fields)
    destination = workbook(api, space_id, "People", fields)
    ok(api.post(f"/sheets/{source[1]}/records", json=[{"name": {"value": "Ada"}}]))
    job_id, _ = map_job(api, source, destination)
    editor, viewer = guest_token(api, space_id, "editor"), guest_token(api, space_id, "viewer")
    other = guest_token(api, ok(api.post("/spaces", json={"name": "elsewhere"}))["id"], "editor")
    edges = {"fieldMapping": [{"sourceField": {"key": "name"}, "destinationField": {"key": "name"}}]}
    for headers, status in ((viewer, 403), (other, 404)):
        assert api.put(f"/jobs/{job_id}/plan", json=edges, headers=headers).status_code == status
        assert api.post(f"/jobs/{job_id}/execute", headers=headers).status_code == status
    plan = ok(api.put(f"/jobs/{job_id}/plan", json=edges, headers=editor))["plan"]
    assert [(e["sourceField"]["key"], e["destinationField"]["key"]) for e in plan["fieldMapping"]] == [("name", "name")]
    assert api.post(f"/jobs/{job_id}/execute", headers=editor).status_code == 200
    done = wait(lambda: (j := ok(api.get(f"/jobs/{job_id}")))["status"] in ("complete", "failed") and j)
    assert done["status"] == "complete", done
    assert [r["values"]["name"]["value"] for r in ok(api.get(f"/sheets/{destination[1]}/records"))["records"]] == [
        "Ada"
    ]
