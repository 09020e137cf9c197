"""Records that send no cell (`POST …/records` with `{}`) are inserted, as Flatfile does: each gets
an id and is decided like any record (a required field then has its error), alone or mixed with
records that send cells, in the order sent."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from flatfile import Flatfile

from spaceport.testing.platform import Platform

REQUIRED = {"key": "name", "type": "string", "constraints": [{"type": "required"}]}
NAME_REQUIRED = "name is required"


@pytest.fixture
def api(platform: Platform) -> Iterator[httpx.Client]:
    with platform.client(timeout=60) as client:
        yield client


@pytest.fixture
def space_id(api: httpx.Client) -> str:
    space = api.post("/spaces", json={"name": "empty records"})
    assert space.status_code == 200, space.text
    found: str = space.json()["data"]["id"]
    return found


def new_sheet(api: httpx.Client, space_id: str, *fields: dict[str, Any]) -> str:
    sheet = {"name": "S", "fields": list(fields)}
    reply = api.post("/workbooks", json={"name": "W", "spaceId": space_id, "sheets": [sheet]})
    assert reply.status_code == 200, reply.text
    sheet_id: str = reply.json()["data"]["sheets"][0]["id"]
    return sheet_id


def insert(api: httpx.Client, sheet_id: str, body: list[dict[str, Any]]) -> list[dict[str, Any]]:
    reply = api.post(f"/sheets/{sheet_id}/records", json=body)
    assert reply.status_code == 200, reply.text
    records: list[dict[str, Any]] = reply.json()["data"]["records"]
    return records


def listed(api: httpx.Client, sheet_id: str, **params: str) -> list[dict[str, Any]]:
    reply = api.get(f"/sheets/{sheet_id}/records", params=params)
    assert reply.status_code == 200, reply.text
    records: list[dict[str, Any]] = reply.json()["data"]["records"]
    return records


def messages(record: dict[str, Any], key: str) -> list[str]:
    return [m["message"] for m in record["values"].get(key, {}).get("messages", [])]


def test_records_of_no_cells_are_each_inserted_with_an_id(api: httpx.Client, space_id: str) -> None:
    sheet_id = new_sheet(api, space_id, {"key": "a", "type": "string"})
    inserted = insert(api, sheet_id, [{}, {}])
    ids = [r["id"] for r in inserted]
    assert len(set(ids)) == 2
    assert all(i.startswith("us_rc_") for i in ids)
    assert [r["values"] for r in inserted] == [{}, {}]
    assert [r["valid"] for r in inserted] == [True, True]
    assert [r["id"] for r in listed(api, sheet_id)] == ids
    counts = api.get(f"/sheets/{sheet_id}/counts").json()["data"]["counts"]
    assert (counts["total"], counts["valid"], counts["error"]) == (2, 2, 0)


def test_a_record_of_no_cells_has_the_error_of_each_required_field(api: httpx.Client, space_id: str) -> None:
    sheet_id = new_sheet(api, space_id, REQUIRED, {"key": "note", "type": "string"})
    inserted = insert(api, sheet_id, [{}, {}, {}])
    assert [r["valid"] for r in inserted] == [False, False, False]
    assert [messages(r, "name") for r in inserted] == [[NAME_REQUIRED]] * 3
    assert "note" not in inserted[0]["values"]
    errors = listed(api, sheet_id, filter="error", filterField="name")
    assert [r["id"] for r in errors] == [r["id"] for r in inserted]


def test_a_mixed_batch_keeps_every_record_in_order(api: httpx.Client, space_id: str) -> None:
    sheet_id = new_sheet(api, space_id, REQUIRED, {"key": "n", "type": "number"})
    body: list[dict[str, Any]] = [
        {},
        {"name": {"value": "Ada"}, "n": {"value": 1}},
        {},
        {"n": {"value": "2"}},
        {},
    ]
    inserted = insert(api, sheet_id, body)
    assert len(inserted) == 5
    assert [r["values"].get("name", {}).get("value") for r in inserted] == [None, "Ada", None, None, None]
    assert [r["values"].get("n", {}).get("value") for r in inserted] == [None, 1, None, 2, None]
    assert [r["valid"] for r in inserted] == [False, True, False, False, False]
    assert [r["id"] for r in listed(api, sheet_id)] == [r["id"] for r in inserted]
    first_full = insert(api, sheet_id, [{"name": {"value": "Bob"}}, {}])  # the empty record last
    assert [r["valid"] for r in first_full] == [True, False]
    assert [r["id"] for r in listed(api, sheet_id)][-2:] == [r["id"] for r in first_full]


def test_the_sdk_inserts_records_of_no_cells(platform: Platform, api: httpx.Client, space_id: str) -> None:
    sheet_id = new_sheet(api, space_id, REQUIRED)
    sdk = Flatfile(token=platform.secret_key, base_url=platform.api)
    inserted = sdk.records.insert(sheet_id, request=[{}, {}])
    records = inserted.data.records or []
    assert len(records) == 2
    assert [r.valid for r in records] == [False, False]
    fetched = sdk.records.get(sheet_id).data.records or []
    assert [r.id for r in fetched] == [r.id for r in records]
