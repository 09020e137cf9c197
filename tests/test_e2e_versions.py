"""Space versions and cell history (docs/api.md "Versions"; job_service.history).

One scenario in a fresh environment: create a space, a workbook, insert records, update them
(with a secret key, then as a guest editor), delete one. The versions list them newest first
with their kinds, counts and actors; they page and filter by sheet; a version and a time resolve
to stream positions; a cell's history lists every value it had with its actor and provenance.
The history projection's rebuild equals live in tests/test_rebuild_equals_live.py (every
projection of every service, this one included).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import asyncpg
import httpx
import pytest

from job_service.history.queries import HistoryQueries
from spaceport.errors import NotFoundError, ValidationFailedError
from spaceport.testing.platform import Platform

SHEET: dict[str, Any] = {"name": "People", "slug": "people", "fields": [{"key": "name", "type": "string"}]}
OTHER: dict[str, Any] = {"name": "Other", "slug": "other", "fields": [{"key": "x", "type": "string"}]}


@dataclass
class World:
    secret: dict[str, str]
    guest: dict[str, str]
    other_env: dict[str, str]
    actor_key: str
    guest_id: str
    environment_id: str
    space_id: str
    workbook_id: str
    sheet_id: str
    other_sheet_id: str
    record_ids: list[str]
    before_update: datetime


def _data(reply: httpx.Response) -> Any:
    assert reply.status_code == 200, reply.text
    return reply.json()["data"]


@pytest.fixture(scope="module")
def world(platform: Platform) -> Iterator[World]:
    with httpx.Client(base_url=platform.api, timeout=30) as http:
        dev = {"Authorization": f"Bearer {platform.secret_key}"}
        env = _data(http.post("/environments", json={"name": "versions", "isProd": False}, headers=dev))
        other = _data(http.post("/environments", json={"name": "versions-b", "isProd": False}, headers=dev))
        secret = {"Authorization": f"Bearer {env['secretKey']}"}
        space_id = _data(http.post("/spaces", json={"name": "versions"}, headers=secret))["id"]
        workbook = _data(
            http.post("/workbooks", json={"name": "W", "spaceId": space_id, "sheets": [SHEET, OTHER]}, headers=secret)
        )
        sheet_id, other_sheet_id = (s["id"] for s in workbook["sheets"])
        rows = [{"name": {"value": f"n{i}"}} for i in range(3)]
        inserted = _data(http.post(f"/sheets/{sheet_id}/records", json=rows, headers=secret))["records"]
        record_ids = [r["id"] for r in inserted]
        before_update = datetime.now(UTC)
        update = [{"id": record_ids[0], "values": {"name": {"value": "by api"}}}]
        _data(http.put(f"/sheets/{sheet_id}/records", json=update, headers=secret))
        email = f"editor-{uuid.uuid4().hex[:6]}@example.com"
        invite = [
            {"environmentId": env["id"], "email": email, "name": "g", "spaces": [{"id": space_id, "role": "editor"}]}
        ]
        guest_id = _data(http.post("/guests", json=invite, headers=secret))[0]["id"]
        token = _data(http.get(f"/guests/{guest_id}/token", params={"spaceId": space_id}, headers=secret))["token"]
        guest = {"Authorization": f"Bearer {token}"}
        update = [{"id": record_ids[0], "values": {"name": {"value": "by guest"}}}]
        _data(http.put(f"/sheets/{sheet_id}/records", json=update, headers=guest))
        _data(http.delete(f"/sheets/{sheet_id}/records", params={"ids": record_ids[2]}, headers=secret))
        first = _data(http.get(f"/spaces/{space_id}/versions", params={"pageSize": 1000}, headers=secret))
        actor_key = first[-1]["actorId"]  # the space's creation: the secret key's actor
        yield World(
            secret=secret,
            guest=guest,
            other_env={"Authorization": f"Bearer {other['secretKey']}"},
            actor_key=actor_key,
            guest_id=guest_id,
            environment_id=env["id"],
            space_id=space_id,
            workbook_id=workbook["id"],
            sheet_id=sheet_id,
            other_sheet_id=other_sheet_id,
            record_ids=record_ids,
            before_update=before_update,
        )


@pytest.fixture
def api(platform: Platform) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=platform.api, timeout=30) as http:
        yield http


def _versions(api: httpx.Client, world: World, **params: Any) -> dict[str, Any]:
    reply = api.get(f"/spaces/{world.space_id}/versions", params={"pageSize": 1000, **params}, headers=world.secret)
    assert reply.status_code == 200, reply.text
    body: dict[str, Any] = reply.json()
    return body


def test_versions_list_every_write_newest_first(api: httpx.Client, world: World) -> None:
    versions = _versions(api, world)["data"]
    record_versions = [v for v in versions if v["sheetId"] == world.sheet_id]
    assert [v["kind"] for v in record_versions] == ["delete", "update", "update", "insert"]
    delete, by_guest, by_api, insert = record_versions
    assert insert["counts"]["records"] == 3 and insert["counts"]["events"]["RecordsInserted"] == 1
    assert insert["counts"]["events"]["CommitCreated"] == 1 and "records:created" in insert["topics"]
    assert by_api["actorId"] == world.actor_key and delete["actorId"] == world.actor_key
    assert by_guest["actorId"] == world.guest_id
    assert delete["counts"]["records"] == 1 and "records:deleted" in delete["topics"]
    assert all(v["id"].startswith(("us_vr_", "dev_vr_")) or "_vr_" in v["id"] for v in versions)
    sequences = [v["sequence"] for v in versions]
    assert sequences == sorted(sequences, reverse=True)
    assert all(v["firstSequence"] <= v["sequence"] for v in versions)
    kinds = [v["kind"] for v in versions]
    assert kinds[-1] == "space:created" and versions[-1]["actorId"] == world.actor_key
    workbook = next(v for v in versions if v["kind"] == "workbook:created")
    assert workbook["workbookId"] == world.workbook_id and workbook["sequence"] < insert["firstSequence"]
    assert len({v["id"] for v in versions}) == len(versions)


def test_versions_page_and_filter(api: httpx.Client, world: World) -> None:
    everything = _versions(api, world)
    total = everything["pagination"]["totalCount"]
    assert total == len(everything["data"]) >= 6
    first = _versions(api, world, pageSize=2, pageNumber=1)
    second = _versions(api, world, pageSize=2, pageNumber=2)
    assert first["pagination"] == {"currentPage": 1, "pageCount": -(-total // 2), "totalCount": total}
    assert [v["id"] for v in first["data"] + second["data"]] == [v["id"] for v in everything["data"][:4]]
    by_sheet = _versions(api, world, sheetId=world.sheet_id)["data"]
    assert [v["kind"] for v in by_sheet] == ["delete", "update", "update", "insert"]
    assert _versions(api, world, sheetId=world.other_sheet_id)["data"] == []
    since = _versions(api, world, since=world.before_update.isoformat(), sheetId=world.sheet_id)["data"]
    assert [v["kind"] for v in since] == ["delete", "update", "update"]
    until = _versions(api, world, until=world.before_update.isoformat(), sheetId=world.sheet_id)["data"]
    assert [v["kind"] for v in until] == ["insert"]


def test_one_version_by_id(api: httpx.Client, world: World) -> None:
    newest = _versions(api, world)["data"][0]
    reply = api.get(f"/spaces/{world.space_id}/versions/{newest['id']}", headers=world.secret)
    assert reply.status_code == 200, reply.text
    assert reply.json()["data"] == newest


async def test_a_version_and_a_time_resolve_to_positions(pool: asyncpg.Pool, api: httpx.Client, world: World) -> None:
    versions = _versions(api, world, sheetId=world.sheet_id)["data"]
    insert = versions[-1]
    queries = HistoryQueries(lambda: pool)
    by_id = await queries.position(world.space_id, version_id=insert["id"])
    assert by_id.sequence == insert["sequence"] and by_id.version_id == insert["id"]
    by_time = await queries.position(world.space_id, at=world.before_update)
    assert by_time.sequence == insert["sequence"]  # the insert is the last write before the updates
    before = await queries.position(world.space_id, at=datetime(2000, 1, 1, tzinfo=UTC))
    assert before.sequence == 0 and before.version_id is None
    with pytest.raises(NotFoundError):
        await queries.position(world.space_id, version_id="us_vr_nothing000")
    with pytest.raises(ValidationFailedError):
        await queries.position(world.space_id)


def test_a_cell_history_lists_every_value_with_its_actor(api: httpx.Client, world: World) -> None:
    path = f"/sheets/{world.sheet_id}/records/{world.record_ids[0]}/history"
    for headers in (world.secret, world.guest):
        reply = api.get(path, params={"field": "name"}, headers=headers)
        assert reply.status_code == 200, reply.text
        cells = reply.json()["data"]
        assert [c["value"] for c in cells] == ["n0", "by api", "by guest"]
        assert [c["actorId"] for c in cells] == [world.actor_key, world.actor_key, world.guest_id]
        assert [c["provenance"]["kind"] for c in cells] == ["api", "api", "guest"]
        assert [c["provenance"]["commitKind"] for c in cells] == ["insert", "update", "update"]
        assert all(c["field"] == "name" and c["valid"] for c in cells)
        versions = {v["id"]: v for v in _versions(api, world)["data"]}
        assert all(versions[c["versionId"]]["sequence"] >= c["sequence"] for c in cells)
    # A record the updates did not touch: its one value.
    reply = api.get(f"/sheets/{world.sheet_id}/records/{world.record_ids[1]}/history?field=name", headers=world.secret)
    assert [c["value"] for c in reply.json()["data"]] == ["n1"]


def test_unknown_ids_answer_404_and_bad_params_400(api: httpx.Client, world: World) -> None:
    secret, space = world.secret, world.space_id
    assert api.get("/spaces/us_sp_nothing000/versions", headers=secret).status_code == 404
    assert api.get(f"/spaces/{space}/versions/us_vr_nothing000", headers=secret).status_code == 404
    assert api.get(f"/spaces/{space}/versions/not-a-version", headers=secret).status_code == 404
    history = f"/sheets/{world.sheet_id}/records/us_rc_nothing000/history"
    assert api.get(history, params={"field": "name"}, headers=secret).status_code == 404
    for params in ({"pageSize": 0}, {"pageSize": "x"}, {"pageNumber": 0}, {"since": "yesterday"}, {"sheetId": "bad"}):
        reply = api.get(f"/spaces/{space}/versions", params=params, headers=secret)
        assert reply.status_code == 400, (params, reply.text)
    reply = api.get(f"/sheets/{world.sheet_id}/records/{world.record_ids[0]}/history", headers=secret)
    assert reply.status_code == 400 and "field" in reply.text


def test_access_guests_read_their_space_others_do_not(api: httpx.Client, world: World) -> None:
    reply = api.get(f"/spaces/{world.space_id}/versions", headers=world.guest)
    assert reply.status_code == 200 and reply.json()["data"]
    assert api.get(f"/spaces/{world.space_id}/versions", headers=world.other_env).status_code == 404
    history = f"/sheets/{world.sheet_id}/records/{world.record_ids[0]}/history?field=name"
    assert api.get(history, headers=world.other_env).status_code == 404
    assert api.get(f"/spaces/{world.space_id}/versions").status_code == 401
    # A guest of another space of the same environment: 403 on this one's versions and cells.
    elsewhere = _data(api.post("/spaces", json={"name": "versions elsewhere"}, headers=world.secret))["id"]
    email = f"viewer-{uuid.uuid4().hex[:6]}@example.com"
    invite = [
        {
            "environmentId": world.environment_id,
            "email": email,
            "name": "g",
            "spaces": [{"id": elsewhere, "role": "viewer"}],
        }
    ]
    guest_id = _data(api.post("/guests", json=invite, headers=world.secret))[0]["id"]
    params = {"spaceId": elsewhere}
    token = _data(api.get(f"/guests/{guest_id}/token", params=params, headers=world.secret))["token"]
    outsider = {"Authorization": f"Bearer {token}"}
    assert api.get(f"/spaces/{world.space_id}/versions", headers=outsider).status_code == 403
    assert api.get(history, headers=outsider).status_code == 403
    assert api.get(f"/spaces/{elsewhere}/versions", headers=outsider).status_code == 200  # a viewer reads its own


def test_completing_a_commit_counts_in_its_version_without_moving_it(api: httpx.Client, world: World) -> None:
    insert = _versions(api, world, sheetId=world.sheet_id)["data"][-1]
    reply = api.post(f"/commits/{insert['id']}/complete", headers=world.secret)
    assert reply.status_code == 200, reply.text
    after = api.get(f"/spaces/{world.space_id}/versions/{insert['id']}", headers=world.secret).json()["data"]
    assert after["counts"]["events"].get("CommitCompleted") == 1
    assert (after["sequence"], after["firstSequence"], after["kind"]) == (
        insert["sequence"],
        insert["firstSequence"],
        "insert",
    )
    assert _versions(api, world, sheetId=world.sheet_id)["data"][-1]["id"] == insert["id"]
