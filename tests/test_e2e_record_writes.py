"""Record writes through the gateway: refused in an archived (409) or deleted (404) space, like
workbook writes, and a retried insert (same Idempotency-Key) answered with its first reply."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from spaceport.testing.platform import Platform

PEOPLE: dict[str, Any] = {
    "name": "People",
    "slug": "people",
    "fields": [
        {"key": "email", "type": "string", "constraints": [{"type": "unique"}]},
        {"key": "age", "type": "number"},
    ],
}


@pytest.fixture
def api(platform: Platform) -> Iterator[httpx.Client]:
    with platform.client(timeout=60) as client:
        yield client


@pytest.fixture
def sheet(api: httpx.Client) -> tuple[str, str]:
    """(space id, sheet id) of a fresh workbook in a fresh space."""
    space = api.post("/spaces", json={"name": "record writes"})
    assert space.status_code == 200, space.text
    space_id: str = space.json()["data"]["id"]
    workbook = api.post("/workbooks", json={"name": "W", "spaceId": space_id, "sheets": [PEOPLE]})
    assert workbook.status_code == 200, workbook.text
    sheet_id: str = workbook.json()["data"]["sheets"][0]["id"]
    return space_id, sheet_id


def insert(api: httpx.Client, sheet_id: str, email: str, key: str | None = None) -> httpx.Response:
    headers = {"Idempotency-Key": key} if key else {}
    return api.post(f"/sheets/{sheet_id}/records", json=[{"email": {"value": email}}], headers=headers)


def attempts(api: httpx.Client, sheet_id: str, record_id: str) -> list[httpx.Response]:
    """An insert, an update, a delete and a find-replace on the sheet."""
    update = [{"id": record_id, "values": {"age": {"value": 3}}}]
    return [
        insert(api, sheet_id, "b@x.io"),
        api.put(f"/sheets/{sheet_id}/records", json=update),
        api.delete(f"/sheets/{sheet_id}/records", params={"ids": record_id}),
        api.put(f"/sheets/{sheet_id}/find-replace", json={"fieldKey": "email", "find": "a", "replace": "c"}),
    ]


def written(api: httpx.Client, sheet_id: str) -> tuple[int, int]:
    """(records, commits) of the sheet."""
    counts = api.get(f"/sheets/{sheet_id}/counts")
    commits = api.get(f"/sheets/{sheet_id}/commits")
    assert counts.status_code == commits.status_code == 200, (counts.text, commits.text)
    return counts.json()["data"]["counts"]["total"], len(commits.json()["data"])


def test_record_writes_in_an_archived_space_are_refused_with_409(api: httpx.Client, sheet: tuple[str, str]) -> None:
    space_id, sheet_id = sheet
    first = insert(api, sheet_id, "a@x.io")
    assert first.status_code == 200, first.text
    record_id = first.json()["data"]["records"][0]["id"]
    assert api.post(f"/spaces/{space_id}/archive").status_code == 200
    refused = attempts(api, sheet_id, record_id)
    assert [r.status_code for r in refused] == [409, 409, 409, 409], [r.text for r in refused]
    assert written(api, sheet_id) == (1, 1)
    assert api.post(f"/spaces/{space_id}/unarchive").status_code == 200
    assert insert(api, sheet_id, "b@x.io").status_code == 200


def test_record_writes_in_a_deleted_space_are_refused_with_404(api: httpx.Client, sheet: tuple[str, str]) -> None:
    space_id, sheet_id = sheet
    first = insert(api, sheet_id, "a@x.io")
    assert first.status_code == 200, first.text
    record_id = first.json()["data"]["records"][0]["id"]
    assert api.delete(f"/spaces/{space_id}").status_code == 200
    refused = attempts(api, sheet_id, record_id)
    assert [r.status_code for r in refused] == [404, 404, 404, 404], [r.text for r in refused]
    assert api.get(f"/sheets/{sheet_id}/counts").status_code == 404  # the sheet was erased with its space


def test_a_retried_insert_gets_its_first_reply(api: httpx.Client, sheet: tuple[str, str]) -> None:
    _, sheet_id = sheet
    first = insert(api, sheet_id, "a@x.io", key="retry-1")
    again = insert(api, sheet_id, "a@x.io", key="retry-1")
    assert first.status_code == again.status_code == 200, (first.text, again.text)
    assert again.json() == first.json()
    assert len(first.json()["data"]["records"]) == 1
    assert written(api, sheet_id) == (1, 1)
