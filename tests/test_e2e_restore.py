"""Space and sheet restore (issue 10): preview then execute, by appending commits; the restored
records equal the earlier state (values, validity, messages, ids), the restore is undone by
restoring to the position before it, another space is untouched, unique values are freed before
they are taken again, and misuse is answered 400/403/404."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from spaceport.testing.platform import Platform

FIELDS = [
    {"key": "name", "type": "string"},
    {"key": "email", "type": "string", "constraints": [{"type": "unique"}, {"type": "required"}]},
]


@pytest.fixture
def api(platform: Platform) -> Iterator[httpx.Client]:
    with platform.client(timeout=120) as client:
        yield client


def ok(reply: httpx.Response) -> Any:
    assert reply.status_code == 200, reply.text
    return reply.json()["data"]


def sheet_in(api: httpx.Client, name: str) -> tuple[str, str]:
    space = ok(api.post("/spaces", json={"name": name}))["id"]
    sheet = {"name": "People", "slug": "people", "fields": FIELDS}
    return space, ok(api.post("/workbooks", json={"name": "W", "spaceId": space, "sheets": [sheet]}))["sheets"][0]["id"]


def state(api: httpx.Client, sheet: str, **params: Any) -> dict[str, Any]:
    """id -> (values without updatedAt, valid) of every record."""
    records = ok(api.get(f"/sheets/{sheet}/records", params=params))["records"]
    out = {}
    for r in records:
        values = {
            k: {"value": c.get("value"), "valid": c.get("valid"), "messages": c.get("messages")}
            for k, c in r["values"].items()
        }
        out[r["id"]] = (values, r["valid"], r["metadata"])
    return out


def restored(api: httpx.Client, space: str, body: dict[str, Any]) -> dict[str, Any]:
    """POST the restore, wait for its job (a bounded wait, not a timing assertion): its outcome."""
    job = ok(api.post(f"/spaces/{space}/restore", json=body))
    assert (job["type"], job["operation"]) == ("space", "restore"), job
    for _ in range(600):
        job = ok(api.get(f"/jobs/{job['id']}"))
        if job["status"] in ("complete", "failed"):
            break
        time.sleep(0.1)
    assert job["status"] == "complete", job
    assert job["progress"] == 100 or job["outcome"]["message"], job
    outcome: dict[str, Any] = job["outcome"]
    return outcome


def person(name: str, email: str | None) -> dict[str, Any]:
    row: dict[str, Any] = {"name": {"value": name}}
    if email is not None:
        row["email"] = {"value": email}
    return row


@pytest.fixture
def history(api: httpx.Client) -> dict[str, Any]:
    """Insert Ada/Bob/Cy; rename Ada (with a listener-style message); delete Bob; Bob's email
    taken by Bo; Dee without an email (invalid)."""
    space, sheet = sheet_in(api, "restore")
    first = ok(
        api.post(f"/sheets/{sheet}/records", json=[person(n, f"{n.lower()}@x.io") for n in ("Ada", "Bob", "Cy")])
    )
    ids = {r["values"]["name"]["value"]: r["id"] for r in first["records"]}
    at_insert = first["records"][0]["commitId"]
    renamed = {"name": {"value": "Ada L", "messages": [{"type": "warn", "message": "renamed"}]}}
    ok(api.put(f"/sheets/{sheet}/records", json=[{"id": ids["Ada"], "values": renamed}]))
    ok(api.delete(f"/sheets/{sheet}/records", params={"ids": ids["Bob"]}))
    ok(api.post(f"/sheets/{sheet}/records", json=[person("Bo", "bob@x.io"), person("Dee", None)]))
    return {"space": space, "sheet": sheet, "ids": ids, "at_insert": at_insert}


def test_preview_then_restore_then_undo(api: httpx.Client, history: dict[str, Any]) -> None:
    space, sheet = history["space"], history["sheet"]
    other_space, other_sheet = sheet_in(api, "bystander")
    ok(api.post(f"/sheets/{other_sheet}/records", json=[person("Zed", "zed@x.io")]))
    other_before = api.get(f"/sheets/{other_sheet}/records").content
    then = state(api, sheet, asOf=history["at_insert"])
    now = state(api, sheet)
    assert then != now

    preview = ok(api.get(f"/spaces/{space}/restore", params={"versionId": history["at_insert"]}))
    assert preview["preview"] is True
    [plan] = preview["sheets"]
    assert (plan["sheetId"], plan["createdSince"], plan["updatedSince"], plan["deletedSince"]) == (sheet, 2, 1, 1)
    assert state(api, sheet) == now  # a preview writes nothing

    outcome = restored(api, space, {"versionId": history["at_insert"]})
    assert outcome["message"] == "Restored 1 sheet: 2 records created since deleted, 1 reverted, 1 re-created"
    [report] = outcome["restore"]["sheets"]
    assert report["commitIds"] and outcome["undo"] == {sheet: report["before"]}, outcome
    assert state(api, sheet) == then  # the same ids, values, validity and messages as then
    assert ok(api.get(f"/sheets/{sheet}/counts"))["counts"]["error"] == 0

    # the restore is itself history: undone by restoring to the position before it
    restored(api, space, {"sequence": report["before"], "sheetId": sheet})
    assert state(api, sheet) == now
    assert api.get(f"/sheets/{other_sheet}/records").content == other_before  # another space: untouched
    assert other_space != space


def test_a_recreated_record_is_no_longer_listed_as_deleted(api: httpx.Client, history: dict[str, Any]) -> None:
    sheet, bob = history["sheet"], history["ids"]["Bob"]
    outcome = restored(api, history["space"], {"versionId": history["at_insert"], "created": False, "updated": False})
    assert outcome["restore"]["sheets"][0]["deletedSince"] == 1, outcome
    since = ok(api.get(f"/sheets/{sheet}/records", params={"sinceCommitId": history["at_insert"]}))["records"]
    listed = [r for r in since if r["id"] == bob]
    assert len(listed) == 1 and listed[0]["values"], listed  # the live record, not a tombstone (values {})
    names = {r["values"]["name"]["value"] for r in ok(api.get(f"/sheets/{sheet}/records"))["records"]}
    assert names == {"Ada L", "Cy", "Bo", "Dee", "Bob"}  # only the deletion was undone
    bob_now = state(api, sheet, ids=bob)[bob]
    assert bob_now[0]["email"]["valid"] is False  # Bo holds bob@x.io now: Bob is the duplicate


def test_misuse(api: httpx.Client, history: dict[str, Any]) -> None:
    space = history["space"]
    for params, status in (
        ({}, 400),
        ({"versionId": history["at_insert"], "dateTime": "2026-01-01T00:00:00Z"}, 400),
        ({"versionId": "us_vr_nothere"}, 404),
        ({"dateTime": "not a time"}, 400),
        ({"sequence": "-3"}, 400),
        ({"sequence": "1", "sheetId": "us_sh_nothere"}, 404),
    ):
        reply = api.get(f"/spaces/{space}/restore", params=params)
        assert reply.status_code == status, (params, reply.text)
    assert api.get("/spaces/us_sp_nothere/restore", params={"sequence": "1"}).status_code == 404
    reply = api.post(f"/spaces/{space}/restore", json={"versionId": history["at_insert"], "surprise": 1})
    assert reply.status_code == 400, reply.text
    # checked before any job exists: the answer is the error, not a failed job
    assert api.post(f"/spaces/{space}/restore", json={"versionId": "us_vr_nothere"}).status_code == 404
    assert api.post(f"/spaces/{space}/restore", json={"sequence": 1, "dateTime": "2026-01-01"}).status_code == 400
    jobs = ok(api.get("/jobs", params={"spaceId": space}))
    assert not [j for j in jobs if j["operation"] == "restore"], jobs


def test_restore_then_undo_with_a_unique_value_taken_meanwhile(api: httpx.Client) -> None:
    """Versions validated under the current fields are restored as they were (messages kept) and
    only their unique values decided again: Bob comes back flagged, Bo keeps bob@x.io; undoing
    it returns the exact later state and frees the value Bob was refused."""
    space, sheet = sheet_in(api, "unique-meanwhile")
    first = ok(api.post(f"/sheets/{sheet}/records", json=[person("Ada", "ada@x.io"), person("Bob", "bob@x.io")]))
    ids = {r["values"]["name"]["value"]: r["id"] for r in first["records"]}
    at_insert = first["records"][0]["commitId"]
    then = state(api, sheet)
    stamped = ok(api.get(f"/sheets/{sheet}/records", params={"ids": ids["Ada"]}))["records"][0]["values"]
    warned = {"name": {"value": "Ada L", "messages": [{"type": "warn", "message": "renamed"}]}}
    ok(api.put(f"/sheets/{sheet}/records", json=[{"id": ids["Ada"], "values": warned}]))
    ok(api.delete(f"/sheets/{sheet}/records", params={"ids": ids["Bob"]}))
    ok(api.post(f"/sheets/{sheet}/records", json=[person("Bo", "bob@x.io")]))
    now = state(api, sheet)

    outcome = restored(api, space, {"versionId": at_insert, "created": False})  # Bo stays
    after = state(api, sheet)
    assert after[ids["Ada"]] == then[ids["Ada"]]  # reverted as it was, without the rename's warning
    back = ok(api.get(f"/sheets/{sheet}/records", params={"ids": ids["Ada"]}))["records"][0]["values"]
    assert back["name"]["updatedAt"] == stamped["name"]["updatedAt"]  # its cells as they were, not decided anew
    bob = after[ids["Bob"]]
    assert bob[1] is False and bob[0]["email"]["valid"] is False, bob  # Bo holds bob@x.io now
    assert [m["source"] for m in bob[0]["email"]["messages"]] == ["unique-constraint"], bob
    assert bob[0]["name"] == then[ids["Bob"]][0]["name"]
    bo = next(r for r in after.values() if r[0]["name"]["value"] == "Bo")
    assert bo[1] is True  # the holder is untouched
    assert ok(api.get(f"/sheets/{sheet}/counts"))["counts"]["error"] == 1

    [report] = outcome["restore"]["sheets"]
    restored(api, space, {"sequence": report["before"], "sheetId": sheet})
    assert state(api, sheet) == now  # exactly the later state: Ada renamed, Bob gone, Bo valid
    retaken = ok(api.post(f"/sheets/{sheet}/records", json=[person("Bob 2", "bob2@x.io")]))["records"][0]
    assert retaken["valid"] is True


def test_restore_across_a_schema_change_validates_against_the_current_fields(api: httpx.Client) -> None:
    """Versions written before the sheet's fields changed are validated again against the current
    fields, kept as they are (`workbooks: false`): Bob's "n/a" age was an invalid number then, is
    a valid string now. Undoing the restore returns the exact later state."""
    fields = [*FIELDS, {"key": "age", "type": "number"}]
    space = ok(api.post("/spaces", json={"name": "schema-change"}))["id"]
    workbook = ok(
        api.post(
            "/workbooks",
            json={"name": "W", "spaceId": space, "sheets": [{"name": "People", "slug": "people", "fields": fields}]},
        )
    )
    sheet = workbook["sheets"][0]["id"]
    bob_row = {**person("Bob", "bob@x.io"), "age": {"value": "n/a"}}
    first = ok(api.post(f"/sheets/{sheet}/records", json=[person("Ada", "ada@x.io"), bob_row, person("Cy", "cy@x.io")]))
    ids = {r["values"]["name"]["value"]: r["id"] for r in first["records"]}
    at_insert = first["records"][0]["commitId"]
    assert first["records"][1]["valid"] is False  # "n/a" is not a number
    ok(api.put(f"/sheets/{sheet}/records", json=[{"id": ids["Ada"], "values": {"name": "Ada L"}}]))
    ok(api.delete(f"/sheets/{sheet}/records", params={"ids": [ids["Bob"], ids["Cy"]]}))
    ok(api.post(f"/sheets/{sheet}/records", json=[person("Bo", "bob@x.io")]))
    as_text = [*FIELDS, {"key": "age", "type": "string"}, {"key": "city", "type": "string"}]
    ok(api.patch(f"/workbooks/{workbook['id']}", json={"sheets": [{"slug": "people", "fields": as_text}]}))
    for _ in range(100):  # the record service knows the new fields (bounded wait): `city` is searchable
        if api.get(f"/sheets/{sheet}/records", params={"searchField": "city", "searchValue": "x"}).status_code == 200:
            break
        time.sleep(0.1)
    keys = ok(api.get(f"/spaces/{space}/restore", params={"versionId": at_insert}))
    assert keys["sheets"][0]["deletedSince"] == 2, keys
    now = state(api, sheet)

    outcome = restored(api, space, {"versionId": at_insert, "sheetId": sheet, "workbooks": False})  # fields kept
    after = state(api, sheet)
    assert set(after) == {ids["Ada"], ids["Bob"], ids["Cy"]}  # Bo (created since) deleted, bob@x.io freed
    assert after[ids["Ada"]][0]["name"]["value"] == "Ada"
    bob = after[ids["Bob"]]
    assert bob[0]["age"] == {"value": "n/a", "valid": True, "messages": []}, bob  # valid as a string now
    assert bob[1] is True and bob[0]["email"]["valid"] is True, bob
    assert ok(api.get(f"/sheets/{sheet}/counts"))["counts"]["error"] == 0

    [report] = outcome["restore"]["sheets"]
    restored(api, space, {"sequence": report["before"], "sheetId": sheet, "workbooks": False})
    assert state(api, sheet) == now
