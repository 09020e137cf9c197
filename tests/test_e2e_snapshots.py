"""Sheet snapshots (issue 10, Flatfile §2.10/§7) through the gateway and every service, driven by the
official SDK where it has the call: create, list, get with a summary (counts per change, byField,
schema diff after a field is added), diff records per change type with `snapshotValue`, selective
restore (only deleted, only updated, all) back to the snapshot's state in one `restore` commit
with `commit:created`, `snapshot:created` in the event feed, access and bad input."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from flatfile import Flatfile
from flatfile.snapshots import RestoreOptions

from spaceport.testing.platform import Platform

FIELDS: list[dict[str, Any]] = [
    {"key": "name", "type": "string"},
    {"key": "email", "type": "string", "constraints": [{"type": "unique"}]},
]


@pytest.fixture
def api(platform: Platform) -> Iterator[httpx.Client]:
    with platform.client(timeout=120) as client:
        yield client


@pytest.fixture
def sdk(platform: Platform) -> Flatfile:
    return Flatfile(token=platform.secret_key, base_url=platform.api)


def ok(reply: httpx.Response) -> Any:
    assert reply.status_code == 200, reply.text
    return reply.json()["data"]


def person(name: str, email: str) -> dict[str, Any]:
    return {"name": {"value": name}, "email": {"value": email}}


def state(api: httpx.Client, sheet: str) -> dict[str, Any]:
    """id -> (values without updatedAt, valid, metadata) of every record."""
    records = ok(api.get(f"/sheets/{sheet}/records"))["records"]
    return {
        r["id"]: (
            {k: (c.get("value"), c.get("valid"), c.get("messages")) for k, c in r["values"].items()},
            r["valid"],
            r["metadata"],
        )
        for r in records
    }


@pytest.fixture
def sheet(api: httpx.Client) -> dict[str, Any]:
    """A sheet with Ada, Bob, Cy; a snapshot of it; then Ada renamed, Bob deleted, Dee inserted."""
    space = ok(api.post("/spaces", json={"name": "snapshots"}))["id"]
    workbook = ok(api.post("/workbooks", json={"name": "W", "spaceId": space, "sheets": [_sheet(FIELDS)]}))
    sheet_id = workbook["sheets"][0]["id"]
    inserted = ok(api.post(f"/sheets/{sheet_id}/records", json=[person(n, f"{n}@x.io") for n in ("Ada", "Bob", "Cy")]))
    ids = {r["values"]["name"]["value"]: r["id"] for r in inserted["records"]}
    at_snapshot = state(api, sheet_id)
    snapshot = ok(api.post("/snapshots", json={"sheetId": sheet_id, "label": "before edits", "threadId": "t1"}))
    ok(api.put(f"/sheets/{sheet_id}/records", json=[{"id": ids["Ada"], "values": {"name": {"value": "Ada L"}}}]))
    ok(api.delete(f"/sheets/{sheet_id}/records", params={"ids": ids["Bob"]}))
    dee = ok(api.post(f"/sheets/{sheet_id}/records", json=[person("Dee", "dee@x.io")]))["records"][0]["id"]
    return {
        "space": space,
        "workbook": workbook["id"],
        "sheet": sheet_id,
        "ids": {**ids, "Dee": dee},
        "snapshot": snapshot,
        "then": at_snapshot,
    }


def _sheet(fields: list[dict[str, Any]]) -> dict[str, Any]:
    return {"name": "People", "slug": "people", "fields": fields}


def test_create_list_get_and_summary(api: httpx.Client, sdk: Flatfile, sheet: dict[str, Any]) -> None:
    snapshot = sheet["snapshot"]
    assert snapshot["id"].startswith("us_ss_") and snapshot["sheetId"] == sheet["sheet"]
    assert (snapshot["label"], snapshot["threadId"]) == ("before edits", "t1")
    assert snapshot["createdAt"] and snapshot["createdBy"]
    assert "summary" not in snapshot

    other = sdk.snapshots.create_snapshot(sheet_id=sheet["sheet"], label="later")
    listed = sdk.snapshots.list_snapshots(sheet_id=sheet["sheet"]).data
    assert [s.id for s in listed] == [snapshot["id"], other.data.id]  # oldest first
    assert [s.id for s in sdk.snapshots.list_snapshots(sheet_id=sheet["sheet"], thread_id="t1").data] == [
        snapshot["id"]
    ]

    got = sdk.snapshots.get_snapshot(snapshot["id"], include_summary=True).data
    assert got.summary is not None
    summary = got.summary
    assert (summary.created_since.total, summary.updated_since.total, summary.deleted_since.total) == (1, 1, 1)
    assert summary.updated_since.by_field == {"name": 1}  # Ada's name, not her email
    assert summary.created_since.by_field == {"name": 1, "email": 1}
    assert summary.schema_diff == {"name": "unchanged", "email": "unchanged"}
    assert [f.key for f in summary.config.fields] == ["name", "email"]
    # the later snapshot is of the sheet as it is: nothing changed since
    later = ok(api.get(f"/snapshots/{other.data.id}", params={"includeSummary": "true"}))["summary"]
    assert [later[k]["total"] for k in ("createdSince", "updatedSince", "deletedSince")] == [0, 0, 0]


def test_schema_diff_after_a_field_is_added(api: httpx.Client, sheet: dict[str, Any]) -> None:
    fields = [*FIELDS[1:], {"key": "age", "type": "number"}]  # name removed, age added
    ok(api.patch(f"/workbooks/{sheet['workbook']}", json={"sheets": [{"slug": "people", "fields": fields}]}))
    summary: dict[str, Any] = {}
    for _ in range(100):  # the workbook service's event reaches the record service (bounded)
        summary = ok(api.get(f"/snapshots/{sheet['snapshot']['id']}", params={"includeSummary": "true"}))["summary"]
        if "age" in summary["schemaDiff"]:
            break
        time.sleep(0.1)
    assert summary["schemaDiff"] == {"name": "removed", "email": "unchanged", "age": "added"}
    assert [f["key"] for f in summary["config"]["fields"]] == ["name", "email"]  # the config then


def test_diff_records_per_change_type(api: httpx.Client, sdk: Flatfile, sheet: dict[str, Any]) -> None:
    ids, snapshot_id = sheet["ids"], sheet["snapshot"]["id"]
    updated = sdk.snapshots.get_snapshot_records(snapshot_id, change_type="updatedSince").data
    assert [r.id for r in updated] == [ids["Ada"]]
    assert (updated[0].values["name"].value, updated[0].values["name"].snapshot_value) == ("Ada L", "Ada")
    assert updated[0].values["email"].snapshot_value == "Ada@x.io"

    def page(change: str, **params: Any) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = ok(
            api.get(f"/snapshots/{snapshot_id}/records", params={"changeType": change, **params})
        )
        return found

    [created] = page("createdSince")
    assert created["id"] == ids["Dee"] and created["values"]["name"] == {**created["values"]["name"], "value": "Dee"}
    assert created["values"]["name"]["snapshotValue"] is None
    [deleted] = page("deletedSince")
    assert deleted["id"] == ids["Bob"]
    assert (deleted["values"]["name"]["value"], deleted["values"]["name"]["snapshotValue"]) == (None, "Bob")
    assert [r["id"] for r in ok(api.get(f"/snapshots/{snapshot_id}/records"))] == [ids["Ada"], ids["Bob"], ids["Dee"]]
    assert page("createdSince", pageNumber=2) == []


def test_restore_selectively_then_all_in_one_commit(api: httpx.Client, sdk: Flatfile, sheet: dict[str, Any]) -> None:
    sheet_id, ids, snapshot_id = sheet["sheet"], sheet["ids"], sheet["snapshot"]["id"]
    # only the deleted: Bob comes back with his id, Ada keeps her new name, Dee stays
    ok(api.post(f"/snapshots/{snapshot_id}/restore", json={"created": False, "updated": False, "deleted": True}))
    now = state(api, sheet_id)
    assert set(now) == {ids["Ada"], ids["Bob"], ids["Cy"], ids["Dee"]}
    assert now[ids["Bob"]] == sheet["then"][ids["Bob"]] and now[ids["Ada"]][0]["name"][0] == "Ada L"
    # Bob is alive again: a sinceCommitId read does not list him as deleted too
    first = ok(api.get(f"/sheets/{sheet_id}/commits"))
    oldest = min(first, key=lambda c: c["createdAt"])["id"]
    since = ok(api.get(f"/sheets/{sheet_id}/records", params={"sinceCommitId": oldest}))["records"]
    assert [r["id"] for r in since].count(ids["Bob"]) == 1

    # only the updated: Ada's name reverts
    options = RestoreOptions(created=False, updated=True, deleted=False)
    restored = sdk.snapshots.restore_snapshot(snapshot_id, request=options).data
    assert restored.id == snapshot_id
    assert state(api, sheet_id)[ids["Ada"]] == sheet["then"][ids["Ada"]]

    # everything: a new change first, then one commit brings the sheet back to the snapshot
    ok(api.put(f"/sheets/{sheet_id}/records", json=[{"id": ids["Cy"], "values": {"name": {"value": "Cyd"}}}]))
    ok(api.delete(f"/sheets/{sheet_id}/records", params={"ids": ids["Ada"]}))
    out = ok(api.post(f"/snapshots/{snapshot_id}/restore", json={}))
    [commit_id] = out["restore"]["commitIds"]
    assert (out["restore"]["createdSince"], out["restore"]["updatedSince"], out["restore"]["deletedSince"]) == (1, 1, 1)
    assert state(api, sheet_id) == sheet["then"]
    commit = ok(api.get(f"/commits/{commit_id}"))
    assert commit["sheetId"] == sheet_id
    listed = _events(api, sheet["space"], lambda e: e["context"].get("commitId") == commit_id)
    topics = [e["topic"] for e in listed if e["context"].get("commitId") == commit_id]
    assert sorted(topics) == ["commit:created", "records:created", "records:deleted", "records:updated"]
    # nothing left to restore: no commit
    again = ok(api.post(f"/snapshots/{snapshot_id}/restore", json={}))
    assert again["restore"]["commitIds"] == []
    summary = ok(api.get(f"/snapshots/{snapshot_id}", params={"includeSummary": "true"}))["summary"]
    assert [summary[k]["total"] for k in ("createdSince", "updatedSince", "deletedSince")] == [0, 0, 0]


def test_snapshot_created_is_in_the_event_feed(api: httpx.Client, sheet: dict[str, Any]) -> None:
    snapshot_id = sheet["snapshot"]["id"]
    listed = _events(api, sheet["space"], lambda e: e["topic"] == "snapshot:created")
    [event] = [e for e in listed if e["topic"] == "snapshot:created"]
    assert event["domain"] == "workbook"
    assert event["payload"] == {
        "snapshotId": snapshot_id,
        "sheetId": sheet["sheet"],
        "workbookId": sheet["workbook"],
        "spaceId": sheet["space"],
        "label": "before edits",
    }
    context = event["context"]
    assert (context["snapshotId"], context["sheetId"], context["workbookId"], context["spaceId"]) == (
        snapshot_id,
        sheet["sheet"],
        sheet["workbook"],
        sheet["space"],
    )


def test_delete_and_bad_input(api: httpx.Client, sdk: Flatfile, sheet: dict[str, Any]) -> None:
    snapshot_id, sheet_id = sheet["snapshot"]["id"], sheet["sheet"]
    missing = "us_ss_" + "0" * 10
    assert api.get("/snapshots").status_code == 400  # sheetId is required
    assert api.get("/snapshots", params={"sheetId": "nope"}).status_code == 400
    assert api.get("/snapshots", params={"sheetId": "us_sh_0000000000"}).status_code == 404
    assert api.post("/snapshots", json={}).status_code == 400
    assert api.post("/snapshots", json={"sheetId": sheet_id, "label": 5}).status_code == 400
    assert api.post("/snapshots", json={"sheetId": sheet_id, "label": "x" * 2000}).status_code == 400
    assert api.post("/snapshots", json={"sheetId": "us_sh_0000000000"}).status_code == 404
    assert api.get(f"/snapshots/{missing}").status_code == 404
    assert api.get("/snapshots/not-an-id").status_code == 404
    reply = api.get(f"/snapshots/{snapshot_id}/records", params={"changeType": "sideways"})
    assert reply.status_code == 400 and "changeType" in reply.text
    assert api.get(f"/snapshots/{snapshot_id}/records", params={"pageSize": 0}).status_code == 400
    assert api.post(f"/snapshots/{snapshot_id}/restore", json={"created": "yes"}).status_code == 400
    assert api.post(f"/snapshots/{snapshot_id}/restore", json={"other": True}).status_code == 400
    assert api.post(f"/snapshots/{missing}/restore", json={}).status_code == 404

    sdk.snapshots.delete_snapshot(snapshot_id)
    assert api.get(f"/snapshots/{snapshot_id}").status_code == 404
    assert api.delete(f"/snapshots/{snapshot_id}").status_code == 404
    assert ok(api.get("/snapshots", params={"sheetId": sheet_id})) == []

    # a deleted sheet takes its snapshots along: its restore answers 404 with a message
    kept = ok(api.post("/snapshots", json={"sheetId": sheet_id}))["id"]
    assert api.delete(f"/workbooks/{sheet['workbook']}").status_code == 200
    reply = _eventually(lambda: api.post(f"/snapshots/{kept}/restore", json={}), 404)
    assert "snapshot" in reply.json()["errors"][0]["message"]


def test_access_follows_the_sheets_records(platform: Platform, api: httpx.Client, sheet: dict[str, Any]) -> None:
    snapshot_id = sheet["snapshot"]["id"]
    viewer = _guest(api, platform, sheet["space"], "viewer")
    with httpx.Client(base_url=platform.api, headers={"Authorization": f"Bearer {viewer}"}, timeout=60) as guest:
        assert ok(guest.get(f"/snapshots/{snapshot_id}"))["id"] == snapshot_id  # a guest of the space reads
        assert guest.get(f"/snapshots/{snapshot_id}/records").status_code == 200
        assert guest.post(f"/snapshots/{snapshot_id}/restore", json={}).status_code == 403
        assert guest.delete(f"/snapshots/{snapshot_id}").status_code == 403
        assert guest.post("/snapshots", json={"sheetId": sheet["sheet"]}).status_code == 403
    stranger = ok(api.post("/environments", json={"name": f"other-{uuid.uuid4().hex[:6]}", "isProd": False}))
    key = stranger.get("secretKey")
    if key:
        with httpx.Client(base_url=platform.api, headers={"Authorization": f"Bearer {key}"}, timeout=60) as other:
            assert other.get(f"/snapshots/{snapshot_id}").status_code == 404


def _guest(api: httpx.Client, platform: Platform, space: str, role: str) -> str:
    environment = ok(api.get("/environments/current"))["id"]
    body = [
        {
            "environmentId": environment,
            "email": f"{role}-{uuid.uuid4().hex[:6]}@example.com",
            "name": "guest",
            "spaces": [{"id": space, "role": role}],
        }
    ]
    guest_id = ok(api.post("/guests", json=body))[0]["id"]
    return str(ok(api.get(f"/guests/{guest_id}/token", params={"spaceId": space}))["token"])


def _events(api: httpx.Client, space: str, until: Any) -> list[dict[str, Any]]:
    """The space's events once one matches `until` (the feed lags its writes a little; bounded)."""
    listed: list[dict[str, Any]] = []
    for _ in range(200):
        listed = ok(api.get("/events", params={"spaceId": space, "pageSize": 1000}))
        if any(until(e) for e in listed):
            break
        time.sleep(0.1)
    return listed


def _eventually(call: Callable[[], httpx.Response], status: int) -> httpx.Response:
    """`call()` until it answers `status` (another service's event reaches the record service; bounded)."""
    reply = call()
    for _ in range(100):
        if reply.status_code == status:
            break
        time.sleep(0.1)
        reply = call()
    assert reply.status_code == status, reply.text
    return reply
