"""Commits end to end: get, complete (once), `completed` filters, `X-Disable-Hooks`, and the
listener's `event.update` (gzip PUT on the event's `dataUrl`)."""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterator
from typing import Any

import httpx
import nats
import pytest
from flatfile import Flatfile

from spaceport.settings import Settings
from spaceport.testing.infra import InfraUrls
from spaceport.testing.platform import Platform
from spaceport.testing.stream import opened_payload

SHEET: dict[str, Any] = {"name": "People", "slug": "people", "fields": [{"key": "name", "type": "string"}]}


@pytest.fixture
def api(platform: Platform) -> Iterator[httpx.Client]:
    with platform.client(timeout=60) as client:
        yield client


@pytest.fixture
def sheet(api: httpx.Client) -> tuple[str, str, str]:
    """(space id, workbook id, sheet id) of a fresh workbook."""
    space = api.post("/spaces", json={"name": "commits"}).json()["data"]["id"]
    workbook = api.post("/workbooks", json={"name": "W", "spaceId": space, "sheets": [SHEET]}).json()["data"]
    return space, workbook["id"], workbook["sheets"][0]["id"]


def insert(api: httpx.Client, sheet_id: str, *names: str, headers: dict[str, str] | None = None) -> str:
    body = [{"name": {"value": n}} for n in names]
    reply = api.post(f"/sheets/{sheet_id}/records", json=body, headers=headers or {})
    assert reply.status_code == 200, reply.text
    return str(reply.json()["data"]["commitId"])


def commit_ids(api: httpx.Client, path: str, **params: str) -> list[str]:
    reply = api.get(path, params=params)
    assert reply.status_code == 200, reply.text
    return [c["id"] for c in reply.json()["data"]]


def test_complete_a_commit_once(api: httpx.Client, platform: Platform, sheet: tuple[str, str, str]) -> None:
    _, workbook, sheet_id = sheet
    first, second = insert(api, sheet_id, "a"), insert(api, sheet_id, "b")
    got = api.get(f"/commits/{first}").json()["data"]
    assert (got["id"], got["sheetId"]) == (first, sheet_id)
    assert got["createdBy"] and got["createdAt"] and got.get("completedAt") is None
    assert commit_ids(api, f"/sheets/{sheet_id}/commits", completed="false") == [second, first]
    assert commit_ids(api, f"/sheets/{sheet_id}/commits", completed="true") == []
    for _ in range(2):  # completing again changes nothing
        done = api.post(f"/commits/{first}/complete")
        assert done.status_code == 200, done.text
        assert done.json() == {"data": {"success": True}}
    got = api.get(f"/commits/{first}").json()["data"]
    assert got["completedBy"] == got["createdBy"] and got["completedAt"] >= got["createdAt"]
    assert commit_ids(api, f"/sheets/{sheet_id}/commits", completed="true") == [first]
    assert commit_ids(api, f"/sheets/{sheet_id}/commits", completed="false") == [second]
    assert commit_ids(api, f"/sheets/{sheet_id}/commits") == [second, first]
    assert commit_ids(api, f"/workbooks/{workbook}/commits", completed="true") == [first]
    assert commit_ids(api, f"/workbooks/{workbook}/commits", completed="false") == [second]
    # the sheet still takes writes after a completion moved its version
    insert(api, sheet_id, "c")
    client = Flatfile(token=platform.secret_key, base_url=platform.api)
    assert client.commits.get(second).data.completed_at is None
    client.commits.complete(second)
    sdk_view = client.commits.get(second).data
    assert sdk_view.completed_at is not None and sdk_view.completed_by


def test_commit_refusals(api: httpx.Client, platform: Platform, sheet: tuple[str, str, str]) -> None:
    _, _, sheet_id = sheet
    commit = insert(api, sheet_id, "a")
    other = api.post("/environments", json={"name": "commits-other"}).json()["data"]["secretKey"]
    with httpx.Client(base_url=platform.api, headers={"Authorization": f"Bearer {other}"}, timeout=30) as theirs:
        assert theirs.get(f"/commits/{commit}").status_code == 404
        assert theirs.post(f"/commits/{commit}/complete").status_code == 404
    assert api.get("/commits/us_vr_nothere").status_code == 404
    assert api.post("/commits/us_vr_nothere/complete").status_code == 404
    assert api.get(f"/sheets/{sheet_id}/commits", params={"completed": "maybe"}).status_code == 400
    assert api.get(f"/commits/{commit}").json()["data"].get("completedAt") is None


async def test_disable_hooks_reaches_the_commit(
    api: httpx.Client, infra: InfraUrls, sheet: tuple[str, str, str]
) -> None:
    space, _, sheet_id = sheet
    subject = f"{Settings().event_prefix}.{space}.records.{sheet_id}.commit_created"
    nc = await nats.connect(infra.nats_url)
    try:
        js = nc.jetstream()
        for headers, expected in (({"X-Disable-Hooks": "true"}, True), ({"X-Disable-Hooks": "false"}, False)):
            commit = insert(api, sheet_id, "a", headers=headers)
            event = await opened_payload(nc, await js.get_last_msg(Settings().event_stream, subject))
            assert (event["commit_id"], event["disable_hooks"]) == (commit, expected)
        forced = insert(api, sheet_id, "b", headers={"X-Disable-Hooks": "true", "X-Force-Hooks": "true"})
        event = await opened_payload(nc, await js.get_last_msg(Settings().event_stream, subject))
        assert (event["commit_id"], event["disable_hooks"]) == (forced, False)
    finally:
        await nc.close()


def test_the_listener_updates_through_data_url_with_gzip(api: httpx.Client, sheet: tuple[str, str, str]) -> None:
    _, _, sheet_id = sheet
    commit = insert(api, sheet_id, "alice", "bob")
    insert(api, sheet_id, "carol")  # another commit: not in this one's dataUrl
    data_url = f"/sheets/{sheet_id}/records?commitId={commit}"
    records = api.get(data_url).json()["data"]["records"]  # event.data
    assert sorted(r["values"]["name"]["value"] for r in records) == ["alice", "bob"]
    for record in records:  # a hook upper-cases names and adds a message, as listeners do
        cell = record["values"]["name"]
        cell["value"] = cell["value"].upper()
        cell["messages"] = [{"type": "info", "message": "upper-cased"}]
    headers = {"Content-Encoding": "gzip", "Content-Type": "application/json", "X-Disable-Hooks": "true"}
    reply = api.put(data_url, content=gzip.compress(json.dumps(records).encode()), headers=headers)
    assert reply.status_code == 200, reply.text
    assert reply.json()["data"]["versionId"]
    after = api.get(f"/sheets/{sheet_id}/records").json()["data"]["records"]
    assert sorted(r["values"]["name"]["value"] for r in after) == ["ALICE", "BOB", "carol"]
    # the dataUrl still answers that commit's records, as that commit wrote them
    at_commit = api.get(data_url).json()["data"]["records"]
    assert sorted(r["values"]["name"]["value"] for r in at_commit) == ["alice", "bob"]
    updated = api.get(f"/sheets/{sheet_id}/records", params={"commitId": reply.json()["data"]["versionId"]})
    assert sorted(r["values"]["name"]["value"] for r in updated.json()["data"]["records"]) == ["ALICE", "BOB"]


def test_bad_gzip_bodies(api: httpx.Client, sheet: tuple[str, str, str]) -> None:
    _, _, sheet_id = sheet
    path = f"/sheets/{sheet_id}/records?commitId=us_vr_x"
    headers = {"Content-Encoding": "gzip", "Content-Type": "application/json"}
    bomb = gzip.compress(b"[" + b" " * (65 * 1024 * 1024) + b"]")
    assert api.put(path, content=bomb, headers=headers).status_code == 413
    assert api.put(path, content=b"not gzip at all", headers=headers).status_code == 400
    assert api.get(f"/sheets/{sheet_id}/records").json()["data"]["records"] == []
