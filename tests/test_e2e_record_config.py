"""Record `config`, `POST /v1/sheets/{id}/validate` and deletions in `sinceCommitId` answers,
end to end: the official `flatfile` SDK and raw HTTP through every real service."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from flatfile import CellValue, Flatfile, Record
from flatfile.records import CellConfig, RecordConfig

from spaceport.testing.platform import Platform

PEOPLE: dict[str, Any] = {
    "name": "People",
    "slug": "people",
    "fields": [
        {"key": "name", "type": "string"},
        {"key": "email", "type": "string"},
        {"key": "age", "type": "number"},
    ],
}


@pytest.fixture
def api(platform: Platform) -> Iterator[httpx.Client]:
    with platform.client(timeout=60) as client:
        yield client


@pytest.fixture
def sdk(platform: Platform) -> Flatfile:
    return Flatfile(token=platform.secret_key, base_url=platform.api)


@pytest.fixture
def world(api: httpx.Client) -> dict[str, str]:
    """A fresh space with one workbook of one sheet (People)."""
    space = api.post("/spaces", json={"name": "record config"}).json()["data"]
    workbook = api.post("/workbooks", json={"name": "C", "spaceId": space["id"], "sheets": [PEOPLE]})
    assert workbook.status_code == 200, workbook.text
    data = workbook.json()["data"]
    return {
        "space": space["id"],
        "environment": space["environmentId"],
        "workbook": data["id"],
        "sheet": data["sheets"][0]["id"],
    }


def guest_client(api: httpx.Client, platform: Platform, world: dict[str, str], role: str) -> httpx.Client:
    guest = {"environmentId": world["environment"], "email": f"{role}@config.io", "name": role}
    created = api.post("/guests", json=[{**guest, "spaces": [{"id": world["space"], "role": role}]}])
    assert created.status_code == 200, created.text
    token = api.get(f"/guests/{created.json()['data'][0]['id']}/token", params={"spaceId": world["space"]})
    headers = {"Authorization": f"Bearer {token.json()['data']['token']}"}
    return httpx.Client(base_url=platform.api, headers=headers, timeout=60)


def records(api: httpx.Client, sheet: str, **params: Any) -> dict[str, dict[str, Any]]:
    reply = api.get(f"/sheets/{sheet}/records", params=params)
    assert reply.status_code == 200, reply.text
    return {r["id"]: r for r in reply.json()["data"]["records"]}


def insert(api: httpx.Client, sheet: str, rows: list[dict[str, Any]]) -> dict[str, Any]:
    reply = api.post(f"/sheets/{sheet}/records", json=rows)
    assert reply.status_code == 200, reply.text
    data: dict[str, Any] = reply.json()["data"]
    return data


def validated(sdk: Flatfile, sheet: str) -> bool:
    reply = sdk.sheets.validate(sheet).data
    return reply is not None and reply.success


def test_config_round_trips_through_post_put_get_and_the_sdk(
    api: httpx.Client, sdk: Flatfile, world: dict[str, str]
) -> None:
    sheet = world["sheet"]
    plain, locked = insert(
        api, sheet, [{"name": {"value": "Ann"}}, {"name": {"value": "Bob"}, "__c": {"readonly": True}}]
    )["records"]
    got = records(api, sheet)
    assert got[locked["id"]]["config"] == {"readonly": True}
    assert got[plain["id"]]["config"] == {}
    assert "__c" not in got[locked["id"]]["values"]

    # the SDK writes a config with PUT (Record.config) and reads it back typed
    sdk.records.update(
        sheet,
        request=[
            Record(
                id=plain["id"],
                values={"name": CellValue(value="Ann")},
                config=RecordConfig(fields={"email": CellConfig(readonly=True)}, marked_for_deletion=False),
            )
        ],
    )
    by_id = {r.id: r for r in sdk.records.get(sheet).data.records}
    config = by_id[plain["id"]].config
    assert config is not None and config.fields is not None
    assert config.fields["email"].readonly is True and config.marked_for_deletion is False
    assert by_id[locked["id"]].config == RecordConfig(readonly=True)

    # PUT without config keeps it; {} clears it
    kept = api.put(f"/sheets/{sheet}/records", json=[{"id": locked["id"], "values": {"age": {"value": 4}}}])
    assert kept.status_code == 200, kept.text
    assert records(api, sheet)[locked["id"]]["config"] == {"readonly": True}
    cleared = api.put(f"/sheets/{sheet}/records", json=[{"id": locked["id"], "config": {}}])
    assert cleared.status_code == 200, cleared.text
    assert records(api, sheet)[locked["id"]]["config"] == {}

    empty = api.put(f"/sheets/{sheet}/records", json=[{"id": locked["id"], "config": {"fields": {"x": {}}}}])
    assert empty.status_code == 200, empty.text  # an empty cell config says nothing: accepted
    unknown = api.put(
        f"/sheets/{sheet}/records", json=[{"id": locked["id"], "config": {"fields": {"x": {"readonly": True}}}}]
    )
    assert unknown.status_code == 400 and unknown.json()["errors"][0]["key"] == "config"


def test_readonly_records_and_cells_bind_guests_not_secret_keys(
    api: httpx.Client, platform: Platform, world: dict[str, str]
) -> None:
    sheet = world["sheet"]
    path = f"/sheets/{sheet}/records"
    locked, cells, free = insert(
        api,
        sheet,
        [
            {"name": {"value": "Ann"}, "__c": {"readonly": True}},
            {"name": {"value": "Bob"}, "email": {"value": "b@x.io"}, "__c": {"fields": {"email": {"readonly": True}}}},
            {"name": {"value": "Cy"}},
        ],
    )["records"]
    before = records(api, sheet)
    with guest_client(api, platform, world, "editor") as guest:
        refused = [
            guest.put(path, json=[{"id": locked["id"], "values": {"name": {"value": "Eve"}}}]),
            guest.put(path, json=[{"id": cells["id"], "values": {"email": {"value": "e@x.io"}}}]),
            guest.put(path, json=[{"id": free["id"], "config": {"readonly": True}}]),
            guest.post(path, json=[{"name": {"value": "Dee"}, "__c": {"readonly": False}}]),
            guest.delete(path, params={"ids": locked["id"]}),
            guest.put(f"/sheets/{sheet}/find-replace", json={"fieldKey": "name", "find": "Ann", "replace": "Eve"}),
        ]
        assert [r.status_code for r in refused] == [403] * 6, [r.text for r in refused]
        messages = [r.json()["errors"][0]["message"] for r in refused]
        assert "readonly" in messages[0] and locked["id"] in messages[0]
        assert "'email'" in messages[1]
        assert "config" in messages[2] and "config" in messages[3]
        assert records(api, sheet) == before  # nothing written

        ok = guest.put(path, json=[{"id": cells["id"], "values": {"name": {"value": "Bo"}}}])
        assert ok.status_code == 200, ok.text
    # a secret key may change all of it, and delete the readonly record
    secret = api.put(path, json=[{"id": locked["id"], "values": {"name": {"value": "Eve"}}}])
    assert secret.status_code == 200, secret.text
    after = records(api, sheet)
    assert after[locked["id"]]["values"]["name"]["value"] == "Eve"
    assert after[cells["id"]]["values"]["name"]["value"] == "Bo"
    assert after[cells["id"]]["values"]["email"]["value"] == "b@x.io"
    assert api.delete(path, params={"ids": locked["id"]}).status_code == 200
    assert locked["id"] not in records(api, sheet)


def test_validate_revalidates_records_after_a_config_change(
    api: httpx.Client, sdk: Flatfile, platform: Platform, world: dict[str, str]
) -> None:
    sheet = world["sheet"]
    bad, good = insert(api, sheet, [{"name": {"value": "Ann"}, "age": {"value": "three"}}, {"name": {"value": "Bob"}}])[
        "records"
    ]
    assert not bad["valid"] and good["valid"]
    assert validated(sdk, sheet)  # nothing to change: no commit
    commits_before = len(api.get(f"/sheets/{sheet}/commits").json()["data"])

    fields = [PEOPLE["fields"][0], PEOPLE["fields"][1], {"key": "age", "type": "string"}]
    patched = api.patch(f"/workbooks/{world['workbook']}", json={"sheets": [{"slug": "people", "fields": fields}]})
    assert patched.status_code == 200, patched.text
    assert records(api, sheet)[bad["id"]]["valid"] is False  # a config change alone re-validates nothing

    reply = api.post(f"/sheets/{sheet}/validate")
    assert reply.status_code == 200, reply.text
    assert reply.json() == {"data": {"success": True}}
    now = records(api, sheet)
    assert now[bad["id"]]["valid"] is True and now[bad["id"]]["values"]["age"]["messages"] == []
    assert api.get(f"/sheets/{sheet}/counts").json()["data"]["counts"]["error"] == 0
    assert len(api.get(f"/sheets/{sheet}/commits").json()["data"]) == commits_before + 1

    # a required constraint added later: the SDK's validate flags the record without a name
    insert(api, sheet, [{"email": {"value": "x@x.io"}}])
    required = [{**fields[0], "constraints": [{"type": "required"}]}, *fields[1:]]
    patched = api.patch(f"/workbooks/{world['workbook']}", json={"sheets": [{"slug": "people", "fields": required}]})
    assert patched.status_code == 200, patched.text
    assert validated(sdk, sheet)
    assert api.get(f"/sheets/{sheet}/counts").json()["data"]["counts"]["error"] == 1

    with guest_client(api, platform, world, "viewer") as viewer:
        assert viewer.post(f"/sheets/{sheet}/validate").status_code == 403
    assert api.post("/sheets/us_sh_nope/validate").status_code == 404


def test_deleted_records_come_back_with_since_commit_id(
    api: httpx.Client, sdk: Flatfile, world: dict[str, str]
) -> None:
    sheet = world["sheet"]
    first = insert(api, sheet, [{"name": {"value": n}} for n in ("a", "b", "c")])
    a, b, c = first["records"]
    since = first["commitId"]
    deleted = api.delete(f"/sheets/{sheet}/records", params={"ids": b["id"]})
    assert deleted.status_code == 200, deleted.text
    deleting = deleted.json()["data"]["commitId"]
    updated = api.put(f"/sheets/{sheet}/records", json=[{"id": c["id"], "values": {"name": {"value": "C"}}}])
    assert updated.status_code == 200, updated.text

    got = sdk.records.get(sheet, since_commit_id=since).data.records
    assert [r.id for r in got] == [a["id"], c["id"], b["id"]]  # live rows, then the deletions
    tombstone = got[-1]
    assert tombstone.config is not None and tombstone.config.marked_for_deletion is True
    assert (tombstone.values, tombstone.valid) == ({}, True)
    raw = api.get(f"/sheets/{sheet}/records", params={"sinceCommitId": since}).json()["data"]["records"][-1]
    assert raw == {
        "id": b["id"],
        "values": {},
        "valid": True,
        "metadata": {},
        "commitId": deleting,
        "versionId": deleting,
        "config": {"markedForDeletion": True},
    }

    # paged: only the last page of live records carries them (also when it is an empty page)
    pages = [
        [r["id"] for r in records(api, sheet, sinceCommitId=since, pageSize=1, pageNumber=n).values()]
        for n in (1, 2, 3, 4)
    ]
    assert pages == [[a["id"]], [c["id"]], [b["id"]], []]
    # a commit after the deletion: none; plain reads and filters never show them
    assert b["id"] not in records(api, sheet, sinceCommitId=deleting, filter="valid")
    assert b["id"] in records(api, sheet, sinceCommitId=deleting)
    assert b["id"] not in records(api, sheet)
    later = records(api, sheet, sinceCommitId=api.get(f"/sheets/{sheet}/commits").json()["data"][0]["id"])
    assert list(later) == [c["id"]]
