"""Space restore of workbooks and sheet configs (issue 10): after renaming a workbook and a sheet,
changing a sheet's fields, adding a sheet, deleting a sheet, creating a workbook and deleting
another, the preview lists each change; the restore brings every workbook and sheet back to how
`GET /v1/workbooks/{id}?asOf=` shows it then (apart from timestamps), deleted ones revived with
their ids and records; records of a field removed since are readable again; `undoSequence`
returns the later state; another space is untouched; a sheet restore touches that sheet alone;
misuse answers 4xx."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from spaceport.testing.platform import Platform

PEOPLE = {
    "name": "People",
    "slug": "people",
    "fields": [
        {"key": "name", "type": "string"},
        {"key": "nick", "type": "string"},
        {"key": "email", "type": "string", "constraints": [{"type": "unique"}]},
    ],
}
ORGS = {"name": "Orgs", "slug": "orgs", "fields": [{"key": "title", "type": "string"}]}
# timestamps, and the sheets' record counts (records are compared on their own; an asOf read adds
# `errorsByField` to them)
IGNORED = {"createdAt", "updatedAt", "recordCounts"}


@pytest.fixture
def api(platform: Platform) -> Iterator[httpx.Client]:
    with platform.client(timeout=120) as client:
        yield client


def ok(reply: httpx.Response) -> Any:
    assert reply.status_code == 200, reply.text
    return reply.json()["data"]


def untimed(value: Any) -> Any:
    """A workbook (or anything) without its timestamps (and record counts)."""
    if isinstance(value, dict):
        return {k: untimed(v) for k, v in value.items() if k not in IGNORED}
    if isinstance(value, list):
        return [untimed(v) for v in value]
    return value


def workbooks(api: httpx.Client, space: str) -> Any:
    return untimed(ok(api.get("/workbooks", params={"spaceId": space})))


def restored(api: httpx.Client, space: str, body: dict[str, Any]) -> dict[str, Any]:
    """POST the restore, wait for its job (a bounded wait, not a timing assertion): its outcome."""
    job = ok(api.post(f"/spaces/{space}/restore", json=body))
    for _ in range(600):
        job = ok(api.get(f"/jobs/{job['id']}"))
        if job["status"] in ("complete", "failed"):
            break
        time.sleep(0.1)
    assert job["status"] == "complete", job
    outcome: dict[str, Any] = job["outcome"]
    return outcome


def values(api: httpx.Client, sheet: str) -> list[dict[str, Any]]:
    records = ok(api.get(f"/sheets/{sheet}/records"))["records"]
    return sorted(({k: c.get("value") for k, c in r["values"].items()} for r in records), key=str)


@pytest.fixture
def history(api: httpx.Client) -> dict[str, Any]:
    """Workbooks `main` (people, orgs) and `old` (legacy) with records, the moment after them
    (`at`, a version id), then every kind of change."""
    space = ok(api.post("/spaces", json={"name": "restore workbooks"}))["id"]
    main = ok(api.post("/workbooks", json={"name": "Main", "spaceId": space, "sheets": [PEOPLE, ORGS]}))
    legacy = {"name": "Legacy", "slug": "legacy", "fields": [{"key": "code", "type": "string"}]}
    old = ok(api.post("/workbooks", json={"name": "Old", "spaceId": space, "labels": ["keep"], "sheets": [legacy]}))
    people, orgs = (s["id"] for s in main["sheets"])
    for _ in range(120):  # the records projector may still be starting (the first test of a session)
        reply = api.post(f"/sheets/{orgs}/records", json=[{"title": {"value": "Acme"}}])
        if reply.status_code != 404:
            break
        time.sleep(0.5)
    ok(reply)
    ok(api.post(f"/sheets/{old['sheets'][0]['id']}/records", json=[{"code": {"value": "X1"}}]))
    rows = [{"name": {"value": "Ada"}, "nick": {"value": "ace"}, "email": {"value": "ada@x.io"}}]
    at = ok(api.post(f"/sheets/{people}/records", json=rows))["records"][0]["commitId"]

    ok(api.patch(f"/workbooks/{main['id']}", json={"name": "Main renamed"}))
    ok(api.patch(f"/sheets/{people}", json={"name": "Persons"}))
    fields = [PEOPLE["fields"][0], PEOPLE["fields"][2], {"key": "phone", "type": "string"}]  # nick gone, phone new
    extra = {"name": "Extra", "slug": "extra", "fields": [{"key": "note", "type": "string"}]}
    ok(api.patch(f"/workbooks/{main['id']}", json={"sheets": [{"id": people, "fields": fields}, extra]}))
    assert ok(api.delete(f"/sheets/{orgs}"))["success"]
    new = ok(api.post("/workbooks", json={"name": "New", "spaceId": space, "sheets": [ORGS | {"slug": "o2"}]}))
    assert ok(api.delete(f"/workbooks/{old['id']}"))["success"]
    ok(api.post(f"/sheets/{people}/records", json=[{"name": {"value": "Bo"}, "phone": {"value": "123"}}]))
    return {"space": space, "main": main["id"], "old": old["id"], "new": new["id"], "people": people,
            "orgs": orgs, "at": at}  # fmt: skip


def then_view(api: httpx.Client, workbook: str, at: str) -> Any:
    return untimed(ok(api.get(f"/workbooks/{workbook}", params={"asOf": at})))


def test_preview_restore_and_undo_of_workbooks_and_sheets(api: httpx.Client, history: dict[str, Any]) -> None:
    space, at = history["space"], history["at"]
    bystander = ok(api.post("/spaces", json={"name": "bystander"}))["id"]
    ok(api.post("/workbooks", json={"name": "B", "spaceId": bystander, "sheets": [ORGS]}))
    bystander_before = api.get("/workbooks", params={"spaceId": bystander}).content
    later = workbooks(api, space)
    later_people = values(api, history["people"])

    preview = ok(api.get(f"/spaces/{space}/restore", params={"versionId": at}))
    plan = {w["workbookId"]: w for w in preview["workbooks"]}
    assert set(plan) == {history["main"], history["old"], history["new"]}, preview
    assert (plan[history["old"]]["change"], plan[history["new"]]["change"]) == ("revived", "deleted")
    main = plan[history["main"]]
    assert (main["change"], main["parts"]) == ("updated", ["name"]), main
    sheets = {s["name"]: s for s in main["sheets"]}
    assert (sheets["Extra"]["change"], sheets["Orgs"]["change"]) == ("removed", "added")
    assert sheets["People"]["change"] == "changed" and {"name", "fields"} <= set(sheets["People"]["parts"])
    assert workbooks(api, space) == later  # a preview writes nothing

    outcome = restored(api, space, {"versionId": at})
    assert "workbooks: 1 deleted, 1 revived, 1 updated" in outcome["message"], outcome
    assert {w["workbookId"] for w in outcome["restore"]["workbooks"]} == set(plan)
    for workbook in (history["main"], history["old"]):
        assert untimed(ok(api.get(f"/workbooks/{workbook}"))) == then_view(api, workbook, at)
    assert api.get(f"/workbooks/{history['new']}").status_code == 404
    assert [w["id"] for w in workbooks(api, space)] == [history["main"], history["old"]]
    assert values(api, history["people"]) == [{"name": "Ada", "nick": "ace", "email": "ada@x.io"}]
    assert values(api, history["orgs"]) == [{"title": "Acme"}]  # a re-added sheet has its records

    undone = restored(api, space, {"sequence": outcome["undoSequence"]})
    assert workbooks(api, space) == later, undone
    assert values(api, history["people"]) == later_people
    assert api.get(f"/sheets/{history['orgs']}").status_code == 404
    assert api.get("/workbooks", params={"spaceId": bystander}).content == bystander_before


def test_a_sheet_restore_restores_that_sheets_config_alone(api: httpx.Client, history: dict[str, Any]) -> None:
    space, people, at = history["space"], history["people"], history["at"]
    before = workbooks(api, space)
    outcome = restored(api, space, {"versionId": at, "sheetId": people})
    [report] = outcome["restore"]["workbooks"]
    assert [(s["sheetId"], s["change"]) for s in report["sheets"]] == [(people, "changed")], report
    then = untimed(ok(api.get(f"/sheets/{people}", params={"asOf": at})))
    assert untimed(ok(api.get(f"/sheets/{people}"))) == then
    after = {w["id"]: w for w in workbooks(api, space)}
    assert after[history["main"]]["name"] == "Main renamed"  # the workbook itself is left as it is
    assert [s["slug"] for s in after[history["main"]]["sheets"]] == ["people", "extra"]
    assert set(after) == {w["id"] for w in before}
    assert values(api, people) == [{"name": "Ada", "nick": "ace", "email": "ada@x.io"}]


def test_misuse(api: httpx.Client, history: dict[str, Any]) -> None:
    space = history["space"]
    other = ok(api.post("/spaces", json={"name": "other"}))["id"]
    foreign = ok(api.post("/workbooks", json={"name": "F", "spaceId": other, "sheets": [ORGS]}))["sheets"][0]["id"]
    for params in ({"versionId": "us_vr_nothere"}, {"versionId": history["at"], "sheetId": foreign}):
        reply = api.get(f"/spaces/{space}/restore", params=params)
        assert reply.status_code == 404, (params, reply.text)
        reply = api.post(f"/spaces/{space}/restore", json=params)
        assert reply.status_code == 404, (params, reply.text)
    # a version of another space is not one of this space's
    foreign_commit = ok(api.post(f"/sheets/{foreign}/records", json=[{"title": {"value": "Z"}}]))
    reply = api.get(f"/spaces/{space}/restore", params={"versionId": foreign_commit["records"][0]["commitId"]})
    assert reply.status_code == 404, reply.text
    assert api.get(f"/spaces/{space}/restore", params={"sequence": "x"}).status_code == 400
    jobs = ok(api.get("/jobs", params={"spaceId": space}))
    assert not [j for j in jobs if j["operation"] == "restore"], jobs


def test_a_records_only_restore_leaves_workbooks_as_they_are(api: httpx.Client, history: dict[str, Any]) -> None:
    space, people = history["space"], history["people"]
    before = workbooks(api, space)
    preview = ok(api.get(f"/spaces/{space}/restore", params={"versionId": history["at"], "workbooks": "false"}))
    assert not preview.get("workbooks") and preview["sheets"], preview  # an empty list is left out
    outcome = restored(api, space, {"versionId": history["at"], "workbooks": False})
    assert not outcome["restore"].get("workbooks") and "workbooks:" not in outcome["message"], outcome
    assert workbooks(api, space) == before
    assert [v["name"] for v in values(api, people)] == ["Ada"]  # Bo, created since, deleted
