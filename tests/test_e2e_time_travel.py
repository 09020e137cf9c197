"""Reads as of an earlier moment (`asOf`, issue 10): records, counts and download of a sheet as
they were at a commit, a stream sequence or a time — through updates, deletes and inserts —
with the selection parameters still applied, and every misuse answered 400/404."""

from __future__ import annotations

import csv
import io
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from spaceport.testing.platform import Platform

SHEET: dict[str, Any] = {
    "name": "People",
    "slug": "people",
    "fields": [
        {"key": "name", "type": "string"},
        {"key": "email", "type": "string", "constraints": [{"type": "required"}]},
    ],
}


@pytest.fixture
def api(platform: Platform) -> Iterator[httpx.Client]:
    with platform.client(timeout=60) as client:
        yield client


def ok(reply: httpx.Response) -> Any:
    assert reply.status_code == 200, reply.text
    return reply.json()["data"]


def names(api: httpx.Client, sheet: str, **params: Any) -> list[str]:
    records = ok(api.get(f"/sheets/{sheet}/records", params=params))["records"]
    return [r["values"]["name"]["value"] for r in records]


@pytest.fixture
def history(api: httpx.Client) -> dict[str, Any]:
    """A sheet with four commits: insert Ada/Bob/Cy, rename Ada, delete Bob, insert Dee (and the moments between)."""
    space = ok(api.post("/spaces", json={"name": "time travel"}))["id"]
    sheet = ok(api.post("/workbooks", json={"name": "W", "spaceId": space, "sheets": [SHEET]}))["sheets"][0]["id"]
    people = [{"name": {"value": n}, "email": {"value": f"{n.lower()}@x.io"}} for n in ("Ada", "Bob", "Cy")]
    first = ok(api.post(f"/sheets/{sheet}/records", json=people))
    ids = {r["values"]["name"]["value"]: r["id"] for r in first["records"]}
    time.sleep(0.05)
    after_insert = datetime.now(UTC).isoformat()
    time.sleep(0.05)
    renamed = ok(api.put(f"/sheets/{sheet}/records", json=[{"id": ids["Ada"], "values": {"name": {"value": "Ada L"}}}]))
    deleted = ok(api.delete(f"/sheets/{sheet}/records", params={"ids": ids["Bob"]}))
    last = ok(api.post(f"/sheets/{sheet}/records", json=[{"name": {"value": "Dee"}}]))  # no email: invalid
    return {
        "sheet": sheet,
        "ids": ids,
        "insert": first["records"][0]["commitId"],
        "after_insert": after_insert,
        "rename": renamed["versionId"],
        "delete": deleted.get("versionId") or deleted.get("commitId"),
        "last": last["records"][0]["commitId"],
    }


def test_records_as_of_each_commit(api: httpx.Client, history: dict[str, Any]) -> None:
    sheet = history["sheet"]
    assert names(api, sheet, asOf=history["insert"]) == ["Ada", "Bob", "Cy"]
    assert names(api, sheet, asOf=history["after_insert"]) == ["Ada", "Bob", "Cy"]
    assert names(api, sheet, asOf=history["rename"]) == ["Ada L", "Bob", "Cy"]
    assert names(api, sheet, asOf=history["delete"]) == ["Ada L", "Cy"]
    assert names(api, sheet, asOf=history["last"]) == names(api, sheet) == ["Ada L", "Cy", "Dee"]
    assert names(api, sheet, asOf="2000-01-01T00:00:00Z") == []  # before the sheet had records
    # the record as it was: its earlier value and the commit that wrote it
    then = ok(api.get(f"/sheets/{sheet}/records", params={"asOf": history["insert"], "ids": history["ids"]["Ada"]}))
    assert [r["commitId"] for r in then["records"]] == [history["insert"]]


def test_selection_parameters_apply_to_the_earlier_state(api: httpx.Client, history: dict[str, Any]) -> None:
    sheet, at = history["sheet"], history["rename"]
    assert names(api, sheet, asOf=at, sortField="name", sortDirection="desc") == ["Cy", "Bob", "Ada L"]
    assert names(api, sheet, asOf=at, searchValue="ada") == ["Ada L"]
    assert names(api, sheet, asOf=at, pageSize=1, pageNumber=2) == ["Bob"]
    assert names(api, sheet, asOf=history["last"], filter="error") == ["Dee"]
    assert names(api, sheet, asOf=at, filter="error") == []
    counts = ok(api.get(f"/sheets/{sheet}/counts", params={"asOf": history["insert"]}))["counts"]
    assert (counts["total"], counts["valid"], counts["error"]) == (3, 3, 0)
    counts = ok(api.get(f"/sheets/{sheet}/counts", params={"asOf": history["last"]}))["counts"]
    assert (counts["total"], counts["error"], counts["errorsByField"]) == (3, 1, {"email": 1})


def test_download_as_of(api: httpx.Client, history: dict[str, Any]) -> None:
    reply = api.get(f"/sheets/{history['sheet']}/download", params={"asOf": history["insert"]})
    assert reply.status_code == 200, reply.text
    rows = list(csv.DictReader(io.StringIO(reply.text)))
    assert [r["name"] for r in rows] == ["Ada", "Bob", "Cy"]


def test_misuse_is_answered_with_a_reason(api: httpx.Client, history: dict[str, Any]) -> None:
    sheet = history["sheet"]
    for params, status in (
        ({"asOf": "yesterday"}, 400),
        ({"asOf": "2026-13-45T99:00:00Z"}, 400),
        ({"asOf": "us_vr_doesnotexist"}, 404),
        ({"asOf": "9" * 5_000}, 400),
        ({"asOf": "9223372036854775808"}, 400),
        ({"asOf": history["insert"], "commitId": history["rename"]}, 400),
        ({"asOf": history["insert"], "sinceCommitId": history["rename"]}, 400),
    ):
        reply = api.get(f"/sheets/{sheet}/records", params=params)
        assert reply.status_code == status, (params, reply.text)
        assert "asOf" in reply.text or "version" in reply.text, reply.text
    reply = api.get(f"/sheets/{sheet}/counts", params={"asOf": history["insert"], "byField": "true"})
    assert reply.status_code == 400, reply.text
    # writes act on the records as they are: asOf is refused, nothing is deleted
    reply = api.delete(f"/sheets/{sheet}/records", params={"filter": "all", "asOf": history["insert"]})
    assert reply.status_code == 400, reply.text
    assert names(api, sheet) == ["Ada L", "Cy", "Dee"]


def moment() -> str:
    """A time strictly between the writes before and after it."""
    time.sleep(0.05)
    at = datetime.now(UTC).isoformat()
    time.sleep(0.05)
    return at


def test_workbooks_and_sheets_as_of(api: httpx.Client) -> None:
    space = ok(api.post("/spaces", json={"name": "schema travel"}))["id"]
    workbook = ok(api.post("/workbooks", json={"name": "W1", "spaceId": space, "sheets": [SHEET]}))
    workbook_id, sheet_id = workbook["id"], workbook["sheets"][0]["id"]
    ok(api.post(f"/sheets/{sheet_id}/records", json=[{"name": {"value": "Ada"}, "email": {"value": "a@x.io"}}]))
    first = moment()
    ok(api.patch(f"/workbooks/{workbook_id}", json={"name": "W2", "labels": ["renamed"]}))
    ok(api.patch(f"/sheets/{sheet_id}", json={"name": "People 2"}))
    ok(api.post(f"/sheets/{sheet_id}/records", json=[{"name": {"value": "Bob"}, "email": {"value": "b@x.io"}}]))
    second = moment()

    then = ok(api.get(f"/workbooks/{workbook_id}", params={"asOf": first}))
    assert (then["name"], then["labels"], then["sheets"][0]["name"]) == ("W1", [], "People")
    assert then["sheets"][0]["recordCounts"]["total"] == 1  # the sheet's records as of then too
    later = ok(api.get(f"/workbooks/{workbook_id}", params={"asOf": second}))
    assert (later["name"], later["labels"], later["sheets"][0]["name"]) == ("W2", ["renamed"], "People 2")
    assert later["sheets"][0]["recordCounts"]["total"] == 2
    sheet = ok(api.get(f"/sheets/{sheet_id}", params={"asOf": first}))
    assert (sheet["name"], [f["key"] for f in sheet["config"]["fields"]]) == ("People", ["name", "email"])
    listed = ok(api.get("/sheets", params={"workbookId": workbook_id, "asOf": second}))
    assert [s["name"] for s in listed] == ["People 2"]
    # deleted now: gone from live reads, still readable as it was (its records are not: a known gap)
    assert api.delete(f"/workbooks/{workbook_id}").status_code == 200
    assert api.get(f"/workbooks/{workbook_id}").status_code == 404
    assert ok(api.get(f"/workbooks/{workbook_id}", params={"asOf": second}))["name"] == "W2"
    assert api.get(f"/workbooks/{workbook_id}", params={"asOf": "2000-01-01T00:00:00Z"}).status_code == 404
    reply = api.get(f"/workbooks/{workbook_id}", params={"asOf": "soon"})
    assert reply.status_code == 400, reply.text


def test_workbooks_and_sheets_as_of_a_version_id(api: httpx.Client) -> None:
    """A version id from /versions reads the workbook as that version left it; one of another
    space, or an unknown one, answers 404."""
    space = ok(api.post("/spaces", json={"name": "version travel"}))["id"]
    workbook = ok(api.post("/workbooks", json={"name": "V1", "spaceId": space, "sheets": [SHEET]}))
    workbook_id, sheet_id = workbook["id"], workbook["sheets"][0]["id"]
    ok(api.post(f"/sheets/{sheet_id}/records", json=[{"name": {"value": "Ada"}, "email": {"value": "a@x.io"}}]))
    insert = versions_of(api, space)[0]  # newest first: the insert, after the workbook's creation
    ok(api.patch(f"/workbooks/{workbook_id}", json={"name": "V2"}))
    ok(api.patch(f"/sheets/{sheet_id}", json={"name": "People 2"}))
    then = ok(api.get(f"/workbooks/{workbook_id}", params={"asOf": insert}))
    assert (then["name"], then["sheets"][0]["name"], then["sheets"][0]["recordCounts"]["total"]) == ("V1", "People", 1)
    assert ok(api.get(f"/sheets/{sheet_id}", params={"asOf": insert}))["name"] == "People"
    assert [s["name"] for s in ok(api.get("/sheets", params={"workbookId": workbook_id, "asOf": insert}))] == ["People"]
    assert ok(api.get(f"/workbooks/{workbook_id}"))["name"] == "V2"

    other = ok(api.post("/spaces", json={"name": "another"}))["id"]
    other_book = ok(api.post("/workbooks", json={"name": "O", "spaceId": other, "sheets": [SHEET]}))
    ok(api.post(f"/sheets/{other_book['sheets'][0]['id']}/records", json=[{"name": {"value": "Z"}}]))
    foreign = versions_of(api, other)[0]
    for bad in (foreign, "us_vr_" + "x" * 8):
        for path in (f"/workbooks/{workbook_id}", f"/sheets/{sheet_id}"):
            reply = api.get(path, params={"asOf": bad})
            assert reply.status_code == 404, (path, bad, reply.text)


def versions_of(api: httpx.Client, space_id: str) -> list[str]:
    """The ids of the space's versions, newest first, once its latest write is in the history."""
    deadline = time.monotonic() + 15
    while True:
        found = [v["id"] for v in ok(api.get(f"/spaces/{space_id}/versions"))]
        if found or time.monotonic() > deadline:
            return found
        time.sleep(0.1)
