"""Records end to end: the official `flatfile` SDK and raw HTTP through every real service."""

from __future__ import annotations

import csv
import gzip
import io
import json
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest
from flatfile import CellValue, Flatfile, Record

from spaceport.testing.platform import Platform

CONTACTS: dict[str, Any] = {
    "name": "Contacts",
    "slug": "contacts",
    "constraints": [{"type": "unique", "name": "person", "fields": ["name", "born"]}],
    "fields": [
        {"key": "name", "type": "string", "label": "Name", "constraints": [{"type": "required"}]},
        {"key": "email", "type": "string", "constraints": [{"type": "unique"}]},
        {"key": "age", "type": "number"},
        {"key": "active", "type": "boolean"},
        {"key": "born", "type": "date"},
        {"key": "tier", "type": "enum", "config": {"options": [{"value": "gold"}, {"value": "silver"}]}},
        {"key": "tags", "type": "string-list"},
        {"key": "company", "type": "reference", "config": {"ref": "companies", "key": "name"}},
    ],
}
COMPANIES: dict[str, Any] = {
    "name": "Companies",
    "slug": "companies",
    "fields": [{"key": "name", "type": "string", "constraints": [{"type": "unique"}]}],
}


@pytest.fixture
def api(platform: Platform) -> Iterator[httpx.Client]:
    with platform.client(timeout=60) as client:
        yield client


@pytest.fixture
def sdk(platform: Platform) -> Flatfile:
    return Flatfile(token=platform.secret_key, base_url=platform.api)


@pytest.fixture
def sheets(api: httpx.Client) -> dict[str, str]:
    """A fresh workbook (contacts + companies) in a fresh space: slug -> sheet id."""
    space = api.post("/spaces", json={"name": "records"})
    assert space.status_code == 200, space.text
    body = {"name": "Import", "spaceId": space.json()["data"]["id"], "sheets": [COMPANIES, CONTACTS]}
    workbook = api.post("/workbooks", json=body)
    assert workbook.status_code == 200, workbook.text
    return {s["slug"]: s["id"] for s in workbook.json()["data"]["sheets"]}


def cell(value: Any) -> dict[str, Any]:
    return {"value": value}


def insert(api: httpx.Client, sheet_id: str, rows: list[dict[str, Any]]) -> dict[str, Any]:
    reply = api.post(f"/sheets/{sheet_id}/records", json=[{k: cell(v) for k, v in r.items()} for r in rows])
    assert reply.status_code == 200, reply.text
    data: dict[str, Any] = reply.json()["data"]
    return data


def counts(api: httpx.Client, sheet_id: str, **params: Any) -> dict[str, Any]:
    reply = api.get(f"/sheets/{sheet_id}/counts", params=params)
    assert reply.status_code == 200, reply.text
    found: dict[str, Any] = reply.json()["data"]["counts"]
    return found


def test_sdk_insert_get_update_delete_and_counts(sdk: Flatfile, api: httpx.Client, sheets: dict[str, str]) -> None:
    sheet = sheets["contacts"]
    inserted = sdk.records.insert(
        sheet,
        request=[
            {"name": CellValue(value="Ada"), "email": CellValue(value="ada@x.io"), "age": CellValue(value="36")},
            {"name": CellValue(value="Bob"), "age": CellValue(value="abc")},
        ],
    )
    assert inserted.data.commit_id is not None
    assert inserted.data.commit_id.startswith("us_vr_")
    ada, bob = inserted.data.records or []
    assert ada.id.startswith("us_rc_")
    assert ada.valid is True
    assert ada.values["age"].value == 36
    assert bob.valid is False
    assert bob.values["age"].value == "abc"  # kept as sent, with an error
    assert (bob.values["age"].messages or [])[0].type == "error"

    page = sdk.records.get(sheet)
    assert [r.id for r in page.data.records or []] == [ada.id, bob.id]
    assert sdk.sheets.get_record_counts(sheet).data.counts.error == 1

    sdk.records.update(sheet, request=[Record(id=bob.id, values={"age": CellValue(value=41)})])
    fixed = sdk.records.get(sheet, ids=[bob.id]).data.records or []
    assert fixed[0].values["age"].value == 41
    assert fixed[0].valid is True
    assert counts(api, sheet) == {"total": 2, "valid": 2, "error": 0, "errorsByField": {}}

    sdk.records.delete(sheet, ids=[ada.id])
    left = sdk.records.get(sheet).data.records or []
    assert [r.id for r in left] == [bob.id]
    assert counts(api, sheet)["total"] == 1


def test_validation_per_field_type(api: httpx.Client, sheets: dict[str, str]) -> None:
    sheet = sheets["contacts"]
    insert(api, sheets["companies"], [{"name": "Acme"}])
    rows = [
        {"name": "A", "active": "yes", "born": "1990-02-03", "tier": "Gold", "tags": "a, b", "company": "Acme"},
        {"name": "B", "active": "maybe", "born": "03/02/1990", "tier": "bronze", "company": "Nope"},
        {"name": "", "born": "25/12/1990"},
    ]
    a, b, c = insert(api, sheet, rows)["records"]
    assert a["valid"] is True, a
    assert a["values"]["active"]["value"] is True
    assert a["values"]["born"]["value"] == "1990-02-03"
    assert a["values"]["tier"]["value"] == "gold"
    assert a["values"]["tags"]["value"] == ["a", "b"]
    sources = {k: [m["source"] for m in v["messages"]] for k, v in b["values"].items()}
    assert sources["tier"] == ["invalid-option"]
    assert sources["company"] == ["unlinked"]
    assert sources["born"] == ["type-cast"]  # 03/02 is ambiguous
    assert b["values"]["born"]["value"] == "03/02/1990"
    assert sources["active"] == ["type-cast"]
    assert c["values"]["born"]["value"] == "1990-12-25"
    assert c["values"]["name"]["messages"][0]["source"] == "required-constraint"
    by_field = counts(api, sheet)["errorsByField"]
    assert by_field == {"tier": 1, "company": 1, "born": 1, "active": 1, "name": 1}
    assert counts(api, sheet, byField="true")["byField"]["tier"] == {"total": 3, "valid": 2, "error": 1, "empty": 1}
    lean = api.get(f"/sheets/{sheet}/records", params={"fields": "name,tier", "includeMessages": "false"})
    first = lean.json()["data"]["records"][0]["values"]
    assert set(first) == {"name", "tier"}
    assert "messages" not in first["tier"]
    cells = api.get(f"/sheets/{sheet}/cells", params={"fieldKey": "tier"}).json()["data"]["tier"]
    assert {c["value"] for c in cells} == {"gold", "bronze", None}
    assert counts(api, sheet, filter="error", filterField="tier") == {
        "total": 1,
        "valid": 0,
        "error": 1,
        "errorsByField": by_field,
    }


def test_bad_input_is_refused_whole(api: httpx.Client, sheets: dict[str, str]) -> None:
    sheet = sheets["contacts"]
    unknown = api.post(f"/sheets/{sheet}/records", json=[{"name": cell("x")}, {"nope": cell(1)}])
    assert unknown.status_code == 400
    assert unknown.json()["errors"][0]["key"] == "nope"
    huge = api.post(f"/sheets/{sheet}/records", json=[{"name": cell("x" * 70_000)}])
    assert huge.status_code == 400
    assert api.post(f"/sheets/{sheet}/records", content=b"[{").status_code == 400
    assert api.get(f"/sheets/{sheet}/records", params={"filter": "bogus"}).status_code == 400
    assert api.get(f"/sheets/{sheet}/records", params={"sortField": "nope"}).status_code == 400
    assert api.get(f"/sheets/{sheet}/records", params={"pageSize": 0}).status_code == 400
    assert api.get(f"/sheets/{sheet}/records", params={"q": "name foo x"}).status_code == 400
    assert api.get("/sheets/us_sh_missing/records").status_code == 404
    assert counts(api, sheet)["total"] == 0  # nothing half-written


def test_unique_holds_under_concurrent_inserts(platform: Platform, sheets: dict[str, str]) -> None:
    sheet = sheets["contacts"]
    headers = {"Authorization": f"Bearer {platform.secret_key}"}

    def one(i: int) -> list[dict[str, Any]]:
        rows = [{"name": cell(f"p{i}-{n}"), "email": cell(f"shared{n}@x.io")} for n in range(50)]
        with httpx.Client(base_url=platform.api, headers=headers, timeout=60) as client:
            reply = client.post(f"/sheets/{sheet}/records", json=rows)
            assert reply.status_code == 200, reply.text
            records: list[dict[str, Any]] = reply.json()["data"]["records"]
            return records

    with ThreadPoolExecutor(4) as pool:
        batches = list(pool.map(one, range(4)))
    holders = [r for batch in batches for r in batch if r["values"]["email"]["valid"]]
    assert len(holders) == 50  # exactly one holder per email
    assert len({r["values"]["email"]["value"] for r in holders}) == 50
    with httpx.Client(base_url=platform.api, headers=headers) as client:
        assert counts(client, sheet) == {"total": 200, "valid": 50, "error": 150, "errorsByField": {"email": 150}}


def test_commit_time_travel_and_since(api: httpx.Client, sheets: dict[str, str]) -> None:
    sheet = sheets["contacts"]
    first = insert(api, sheet, [{"name": "Old"}, {"name": "Other"}])
    old, other = first["records"]
    updated = api.put(f"/sheets/{sheet}/records", json=[{"id": old["id"], "values": {"name": {"value": "New"}}}])
    assert updated.status_code == 200, updated.text
    second = updated.json()["data"]["versionId"]
    third = insert(api, sheet, [{"name": "Later"}])
    at_first = api.get(f"/sheets/{sheet}/records", params={"commitId": first["commitId"]}).json()["data"]["records"]
    assert {r["id"]: r["values"]["name"]["value"] for r in at_first} == {old["id"]: "Old", other["id"]: "Other"}
    at_second = api.get(f"/sheets/{sheet}/records", params={"commitId": second}).json()["data"]["records"]
    assert [(r["id"], r["values"]["name"]["value"]) for r in at_second] == [(old["id"], "New")]
    since = api.get(f"/sheets/{sheet}/records", params={"sinceCommitId": second}).json()["data"]["records"]
    assert sorted(r["id"] for r in since) == sorted([old["id"], third["records"][0]["id"]])
    commits = api.get(f"/sheets/{sheet}/commits").json()["data"]
    assert [c["id"] for c in commits] == [third["commitId"], second, first["commitId"]]
    assert api.get(f"/commits/{second}").json()["data"]["sheetId"] == sheet


def test_gzip_bulk_insert_paging_filters_and_csv(sdk: Flatfile, api: httpx.Client, sheets: dict[str, str]) -> None:
    sheet = sheets["contacts"]
    rows = [{"name": cell(f"n{i}"), "age": cell("x" if i % 10 == 0 else i)} for i in range(12_000)]
    body = gzip.compress(json.dumps(rows).encode())
    reply = api.post(
        f"/sheets/{sheet}/records",
        content=body,
        headers={"Content-Encoding": "gzip", "Content-Type": "application/json"},
    )
    assert reply.status_code == 200, reply.text[:500]
    assert len(reply.json()["data"]["records"]) == 12_000
    commit = reply.json()["data"]["commitId"]
    at_commit = [
        api.get(f"/sheets/{sheet}/records", params={"commitId": commit, "pageNumber": n}).json()["data"]["records"]
        for n in (1, 2)
    ]
    assert [len(p) for p in at_commit] == [10_000, 2_000]
    assert at_commit[1][-1]["values"]["name"]["value"] == "n11999"
    assert counts(api, sheet) == {"total": 12_000, "valid": 10_800, "error": 1_200, "errorsByField": {"age": 1_200}}

    page3 = api.get(f"/sheets/{sheet}/records", params={"pageSize": 1000, "pageNumber": 3}).json()["data"]
    assert [r["values"]["name"]["value"] for r in page3["records"]][:2] == ["n2000", "n2001"]
    errors = api.get(f"/sheets/{sheet}/records", params={"filter": "error", "pageSize": 100, "pageNumber": 2})
    names = [r["values"]["name"]["value"] for r in errors.json()["data"]["records"]]
    assert names[:2] == ["n1000", "n1010"]
    found = api.get(f"/sheets/{sheet}/records", params={"searchValue": '"n11999"', "searchField": "name"})
    assert [r["values"]["name"]["value"] for r in found.json()["data"]["records"]] == ["n11999"]
    for value, expected in (
        ('"n11999"', ["n11999"]),
        ("N1199", ["n1199"] + [f"n1199{i}" for i in range(10)]),
        ('n1"', []),
    ):
        anywhere = api.get(f"/sheets/{sheet}/records", params={"searchValue": value}).json()["data"]["records"]
        assert [r["values"]["name"]["value"] for r in anywhere] == expected, value
    for direction in ("asc", "desc"):
        by_age = {"sortField": "age", "sortDirection": direction}
        whole = api.get(f"/sheets/{sheet}/records", params={**by_age, "pageSize": 3000}).json()["data"]["records"]
        paged = [  # sequential pages continue from the previous page's (value, row) cursor
            r["id"]
            for n in (1, 2, 3)
            for r in api.get(f"/sheets/{sheet}/records", params={**by_age, "pageSize": 1000, "pageNumber": n}).json()[
                "data"
            ]["records"]
        ]
        assert paged == [r["id"] for r in whole]

    first_ids = [r["id"] for r in page3["records"][:5]]
    deleted = sdk.records.delete(sheet, ids=first_ids).data
    assert deleted is not None
    assert deleted.success
    page3_after = api.get(f"/sheets/{sheet}/records", params={"pageSize": 1000, "pageNumber": 3}).json()["data"]
    assert page3_after["records"][0]["values"]["name"]["value"] == "n2005"

    fixed = api.put(
        f"/sheets/{sheet}/find-replace",
        params={"filter": "error"},
        json={"fieldKey": "age", "find": '"x"', "replace": 7},
    )
    assert fixed.status_code == 200, fixed.text
    assert counts(api, sheet)["error"] == 0

    text = b"".join(sdk.sheets.get_records_as_csv(sheet)).decode()
    table = list(csv.reader(io.StringIO(text)))
    assert table[0][:3] == ["Name", "email", "age"]
    assert len(table) == 1 + 12_000 - 5
    assert table[1][:3] == ["n0", "", "7"]


def records_by_id(api: httpx.Client, sheet_id: str) -> dict[str, dict[str, Any]]:
    reply = api.get(f"/sheets/{sheet_id}/records")
    assert reply.status_code == 200, reply.text
    return {r["id"]: r for r in reply.json()["data"]["records"]}


def unique_sources(record: dict[str, Any]) -> dict[str, list[str]]:
    return {
        k: [m["source"] for m in v.get("messages", []) if m["source"] == "unique-constraint"]
        for k, v in record["values"].items()
        if any(m["source"] == "unique-constraint" for m in v.get("messages", []))
    }


def test_unique_heals_when_the_holder_is_deleted_or_changes(api: httpx.Client, sheets: dict[str, str]) -> None:
    sheet = sheets["contacts"]
    a, b, c = insert(
        api,
        sheet,
        [{"name": "A", "email": "x@x.io"}, {"name": "B", "email": "X@x.io"}, {"name": "C", "email": "x@x.io"}],
    )["records"]
    assert (a["valid"], b["valid"], c["valid"]) == (True, False, False)
    assert counts(api, sheet) == {"total": 3, "valid": 1, "error": 2, "errorsByField": {"email": 2}}

    # Deleting the holder: the first remaining duplicate (insertion order) becomes the holder.
    assert api.delete(f"/sheets/{sheet}/records", params={"ids": a["id"]}).status_code == 200
    now = records_by_id(api, sheet)
    assert now[b["id"]]["valid"] is True
    assert unique_sources(now[b["id"]]) == {}
    assert now[c["id"]]["valid"] is False
    assert unique_sources(now[c["id"]]) == {"email": ["unique-constraint"]}
    assert counts(api, sheet) == {"total": 2, "valid": 1, "error": 1, "errorsByField": {"email": 1}}

    # The holder changes its value: the waiting duplicate takes the old one, in the same commit.
    moved = api.put(f"/sheets/{sheet}/records", json=[{"id": b["id"], "values": {"email": {"value": "y@x.io"}}}])
    assert moved.status_code == 200, moved.text
    commit = moved.json()["data"]["commitId"]
    now = records_by_id(api, sheet)
    assert now[b["id"]]["valid"] is True
    assert now[c["id"]]["valid"] is True
    assert now[c["id"]]["commitId"] == commit
    at_commit = api.get(f"/sheets/{sheet}/records", params={"commitId": commit}).json()["data"]["records"]
    assert sorted(r["id"] for r in at_commit) == sorted([b["id"], c["id"]])
    assert counts(api, sheet) == {"total": 2, "valid": 2, "error": 0, "errorsByField": {}}

    # A write taking a value back while the other record still holds it is flagged again.
    back = api.put(f"/sheets/{sheet}/records", json=[{"id": b["id"], "values": {"email": {"value": "X@X.io"}}}])
    assert back.status_code == 200, back.text
    assert records_by_id(api, sheet)[b["id"]]["valid"] is False
    assert counts(api, sheet) == {"total": 2, "valid": 1, "error": 1, "errorsByField": {"email": 1}}


def test_a_bulk_delete_heals_the_first_waiter_it_does_not_delete(api: httpx.Client, sheets: dict[str, str]) -> None:
    """The waiters a delete heals are decided in the read model (`waiters_of`): a waiter deleted
    in the same request is skipped for the next one, and values nobody deleted stay held."""
    sheet = sheets["contacts"]
    a, b, c, d, e = insert(
        api,
        sheet,
        [
            {"name": "A", "email": "w@x.io"},
            {"name": "B", "email": "w@x.io"},
            {"name": "C", "email": "w@x.io"},
            {"name": "D", "email": "v@x.io"},
            {"name": "E", "email": "v@x.io"},
        ],
    )["records"]
    assert [r["valid"] for r in (a, b, c, d, e)] == [True, False, False, True, False]
    # the holder and its first waiter go together: the second waiter takes the value
    deleted = api.delete(f"/sheets/{sheet}/records", params={"ids": [a["id"], b["id"]]})
    assert deleted.status_code == 200, deleted.text
    now = records_by_id(api, sheet)
    assert set(now) == {c["id"], d["id"], e["id"]}
    assert now[c["id"]]["valid"] is True
    assert unique_sources(now[c["id"]]) == {}
    assert now[e["id"]]["valid"] is False  # D still holds v@x.io
    # a delete by filter (every valid record: C and D) heals E; the one left holds its value
    by_filter = api.delete(f"/sheets/{sheet}/records", params={"filter": "valid"})
    assert by_filter.status_code == 200, by_filter.text
    now = records_by_id(api, sheet)
    assert set(now) == {e["id"]}
    assert now[e["id"]]["valid"] is True
    assert counts(api, sheet) == {"total": 1, "valid": 1, "error": 0, "errorsByField": {}}


def test_composite_unique_heals_when_one_field_of_the_holder_changes(api: httpx.Client, sheets: dict[str, str]) -> None:
    sheet = sheets["contacts"]
    first, second = insert(api, sheet, [{"name": "P", "born": "2000-01-02"}, {"name": "p", "born": "2000-01-02"}])[
        "records"
    ]
    assert second["valid"] is False
    assert unique_sources(second) == {"name": ["unique-constraint"], "born": ["unique-constraint"]}
    assert counts(api, sheet)["errorsByField"] == {"name": 1, "born": 1}
    # An update of another field of the flagged record keeps it flagged (decided again, not doubled).
    again = api.put(f"/sheets/{sheet}/records", json=[{"id": second["id"], "values": {"age": {"value": 3}}}])
    assert again.status_code == 200, again.text
    assert unique_sources(records_by_id(api, sheet)[second["id"]]) == {
        "name": ["unique-constraint"],
        "born": ["unique-constraint"],
    }
    changed = api.put(
        f"/sheets/{sheet}/records", json=[{"id": first["id"], "values": {"born": {"value": "2001-01-02"}}}]
    )
    assert changed.status_code == 200, changed.text
    now = records_by_id(api, sheet)
    assert now[second["id"]]["valid"] is True
    assert unique_sources(now[second["id"]]) == {}
    assert counts(api, sheet) == {"total": 2, "valid": 2, "error": 0, "errorsByField": {}}


def test_readonly_sheets_and_fields_bind_guests_not_secret_keys(api: httpx.Client, platform: Platform) -> None:
    space = api.post("/spaces", json={"name": "readonly"}).json()["data"]
    people = {
        "name": "People",
        "slug": "people",
        "fields": [{"key": "name", "type": "string"}, {"key": "code", "type": "string", "readonly": True}],
    }
    locked = {"name": "Locked", "slug": "locked", "readonly": True, "fields": [{"key": "name", "type": "string"}]}
    workbook = api.post("/workbooks", json={"name": "R", "spaceId": space["id"], "sheets": [people, locked]})
    assert workbook.status_code == 200, workbook.text
    ids = {s["slug"]: s["id"] for s in workbook.json()["data"]["sheets"]}
    guest = {"environmentId": space["environmentId"], "email": "ro@x.io", "name": "R"}
    created = api.post("/guests", json=[{**guest, "spaces": [{"id": space["id"], "role": "editor"}]}])
    assert created.status_code == 200, created.text
    token = api.get(f"/guests/{created.json()['data'][0]['id']}/token", params={"spaceId": space["id"]})
    as_guest = {"Authorization": f"Bearer {token.json()['data']['token']}"}

    # A secret key (listeners, hooks) may write readonly fields and sheets.
    (row,) = insert(api, ids["people"], [{"name": "a", "code": "C1"}])["records"]
    (locked_row,) = insert(api, ids["locked"], [{"name": "x"}])["records"]
    with httpx.Client(base_url=platform.api, headers=as_guest, timeout=60) as guest_api:
        people_records = f"/sheets/{ids['people']}/records"
        ok = guest_api.put(people_records, json=[{"id": row["id"], "values": {"name": {"value": "b"}}}])
        assert ok.status_code == 200, ok.text
        same = guest_api.put(people_records, json=[{"id": row["id"], "values": {"code": {"value": "C1"}}}])
        assert same.status_code == 200, same.text  # not a change
        refused = [
            guest_api.put(people_records, json=[{"id": row["id"], "values": {"code": {"value": "C2"}}}]),
            guest_api.post(people_records, json=[{"name": {"value": "n"}, "code": {"value": "C3"}}]),
            guest_api.put(
                f"/sheets/{ids['people']}/find-replace", json={"fieldKey": "code", "find": "C", "replace": "D"}
            ),
            guest_api.post(f"/sheets/{ids['locked']}/records", json=[{"name": {"value": "y"}}]),
            guest_api.put(
                f"/sheets/{ids['locked']}/records", json=[{"id": locked_row["id"], "values": {"name": {"value": "z"}}}]
            ),
            guest_api.delete(f"/sheets/{ids['locked']}/records", params={"ids": locked_row["id"]}),
        ]
        assert [r.status_code for r in refused] == [403] * 6, [r.text for r in refused]
        assert "readonly" in refused[0].json()["errors"][0]["message"]
        assert "readonly" in refused[3].json()["errors"][0]["message"]
        allowed = guest_api.post(people_records, json=[{"name": {"value": "n"}}])
        assert allowed.status_code == 200, allowed.text
        assert guest_api.get(f"/sheets/{ids['locked']}/records").status_code == 200
    now = {r["id"]: r for r in api.get(f"/sheets/{ids['people']}/records").json()["data"]["records"]}
    assert now[row["id"]]["values"]["code"]["value"] == "C1"
    assert now[row["id"]]["values"]["name"]["value"] == "b"
    assert counts(api, ids["locked"])["total"] == 1


def test_a_commits_records_honour_every_selection_parameter(
    api: httpx.Client, sdk: Flatfile, sheets: dict[str, str]
) -> None:
    """Issue 14's defect: with `commitId`, searchField/searchValue (and the other selection
    parameters) used to be ignored and every record of the commit came back."""
    sheet = sheets["contacts"]
    rows = [{"name": {"value": f"u{n}"}, "email": {"value": f"u{n}@x.io"}, "age": {"value": n}} for n in range(6)]
    rows.append({"email": {"value": "nobody@x.io"}})  # no name: a required-constraint error
    written = api.post(f"/sheets/{sheet}/records", json=rows)
    assert written.status_code == 200, written.text
    commit = written.json()["data"]["commitId"]
    records = sdk.records.get(sheet, commit_id=commit, search_field="email", search_value="u3@x.io").data.records
    assert [r.values["email"].value for r in records] == ["u3@x.io"]

    def at(**params: Any) -> list[dict[str, Any]]:
        reply = api.get(f"/sheets/{sheet}/records", params={"commitId": commit, **params})
        assert reply.status_code == 200, reply.text
        found: list[dict[str, Any]] = reply.json()["data"]["records"]
        return found

    def emails(found: list[dict[str, Any]]) -> list[str]:
        return [r["values"]["email"]["value"] for r in found]

    assert emails(at(searchValue="U4")) == ["u4@x.io"]  # any field, any case
    assert emails(at(searchValue='"u5"')) == ["u5@x.io"]  # quoted: exact
    assert emails(at(searchValue="5", searchField="age")) == ["u5@x.io"]
    assert emails(at(filter="error")) == ["nobody@x.io"]
    assert emails(at(filter="error", filterField="name")) == ["nobody@x.io"]
    assert at(filter="error", filterField="email") == []
    assert len(at(filter="valid")) == 6
    ids = [r["id"] for r in at()]
    assert [r["id"] for r in at(ids=ids[:2])] == ids[:2]
    assert [r["id"] for r in at(filter="valid", ids=ids[:2])] == ids[2:6]  # with a filter: exclusions
    shown = at(fields="email", includeMessages="false", filter="error")
    assert list(shown[0]["values"]) == ["email"] and "messages" not in shown[0]["values"]["email"]
    messaged = at(filter="error")[0]["values"]
    assert any(cell.get("messages") for cell in messaged.values()), messaged
    assert len(at(pageSize=2, pageNumber=3)) == 2
    # counts, indices and the CSV download take commitId too (the reference's get_records_as_csv,
    # get_record_counts, indices): the same records, selected the same way
    path = f"/sheets/{sheet}"
    reply = api.get(f"{path}/records", params={"commitId": commit, "includeCounts": "true", "filter": "valid"})
    assert reply.json()["data"]["counts"] == {"total": 6, "valid": 6, "error": 0, "errorsByField": {}}
    counted = api.get(f"{path}/counts", params={"commitId": commit}).json()["data"]["counts"]
    assert (counted["total"], counted["valid"], counted["error"]) == (7, 6, 1)
    assert counted["errorsByField"] == {"name": 1}
    assert sdk.sheets.get_record_counts(sheet, commit_id=commit, search_value="u2").data.counts.total == 1
    indices = api.get(f"{path}/records/indices", params={"commitId": commit, "filter": "valid", "ids": ids[3]})
    assert indices.json() == [{"id": ids[3], "index": 3}]
    csv_text = api.get(f"{path}/download", params={"commitId": commit, "filter": "error"}).text
    assert list(csv.reader(io.StringIO(csv_text)))[1:] == [["", "nobody@x.io"] + [""] * 6]
    whole = list(csv.reader(io.StringIO(api.get(f"{path}/download", params={"commitId": commit}).text)))
    assert [row[1] for row in whole[1:]] == [f"u{n}@x.io" for n in range(6)] + ["nobody@x.io"]
    assert api.get(f"{path}/counts", params={"commitId": commit, "byField": "true"}).status_code == 400
    for refused, key in (
        ({"sortField": "name"}, "sortField"),
        ({"sinceCommitId": commit}, "sinceCommitId"),
        ({"searchField": "nope", "searchValue": "x"}, "searchField"),
        ({"filter": "error", "filterField": "nope"}, "filterField"),
        ({"q": "name eq u1"}, "q"),
    ):
        reply = api.get(f"/sheets/{sheet}/records", params={"commitId": commit, **refused})
        assert reply.status_code == 400, (refused, reply.text)
        assert reply.json()["errors"][0]["key"] == key, (refused, reply.text)


def test_cells_honour_distinct_counts_and_sort(api: httpx.Client, sdk: Flatfile, sheets: dict[str, str]) -> None:
    """`GET …/cells`: includeCounts and sortField used to be ignored (counts always, by frequency)."""
    sheet = sheets["contacts"]
    tiers = ["gold", "silver", "gold", "gold", "silver", None]
    rows = [{"name": {"value": f"c{n}"}, "tier": {"value": t}} for n, t in enumerate(tiers)]
    assert api.post(f"/sheets/{sheet}/records", json=rows).status_code == 200
    path = f"/sheets/{sheet}/cells"

    def cells(**params: Any) -> list[dict[str, Any]]:
        reply = api.get(path, params={"fieldKey": "tier", **params})
        assert reply.status_code == 200, reply.text
        found: list[dict[str, Any]] = reply.json()["data"]["tier"]
        return found

    assert [c["value"] for c in cells()] == ["gold", "silver", None]  # most frequent first
    assert all("counts" not in c for c in cells())
    assert [(c["value"], c["counts"]["total"]) for c in cells(includeCounts="true")] == [
        ("gold", 3),
        ("silver", 2),
        (None, 1),
    ]
    assert [c["value"] for c in cells(sortField="tier", sortDirection="desc")] == ["silver", "gold", None]
    assert [c["value"] for c in cells(sortField="tier")] == ["gold", "silver", None]
    assert cells(includeCounts="true")[0]["counts"] == {"total": 3, "valid": 3, "error": 0}
    found = sdk.sheets.get_cell_values(sheet, distinct=True, field_key="tier", include_counts=True)
    assert found.data is not None and [c.counts.total for c in found.data["tier"] if c.counts] == [3, 2, 1]
    for refused, key in (({"sortField": "name"}, "sortField"), ({"distinct": "false"}, "distinct")):
        reply = api.get(path, params={"fieldKey": "tier", **refused})
        assert reply.status_code == 400 and reply.json()["errors"][0]["key"] == key, reply.text


def test_record_indices_follow_the_filter_and_sort(api: httpx.Client, sdk: Flatfile, sheets: dict[str, str]) -> None:
    """`GET …/records/indices`: each id's position in the filtered, sorted view (-1 when not in it)."""
    sheet = sheets["contacts"]
    names = ["delta", "alpha", "charlie", "bravo"]
    rows = [{"name": {"value": n}, "age": {"value": i}} for i, n in enumerate(names)]
    rows.append({"email": {"value": "nameless@x.io"}})  # invalid: name is required
    written = api.post(f"/sheets/{sheet}/records", json=rows).json()["data"]["records"]
    by_name = {r["values"].get("name", {}).get("value"): r["id"] for r in written}
    ids = [by_name["charlie"], by_name["delta"], by_name[None], "us_rc_unknown"]
    found = sdk.records.indices(sheet, ids=ids, sort_field="name", filter="valid")
    assert [(i.id, i.index) for i in found] == [(ids[0], 2), (ids[1], 3), (ids[2], -1), (ids[3], -1)]
    reply = api.get(f"/sheets/{sheet}/records/indices", params={"ids": ids[:3]})  # row order, every record
    assert [i["index"] for i in reply.json()] == [2, 0, 4]
    reply = api.get(
        f"/sheets/{sheet}/records/indices", params={"ids": ids[0], "sortField": "age", "sortDirection": "desc"}
    )
    assert reply.json() == [{"id": ids[0], "index": 1}]  # bravo (3), then charlie (2)
    for params, key in (({}, "ids"), ({"ids": ids[0], "sortField": "nope"}, "sortField")):
        refused = api.get(f"/sheets/{sheet}/records/indices", params=params)
        assert refused.status_code == 400 and refused.json()["errors"][0]["key"] == key, refused.text


def test_for_an_event_reads_the_records_its_data_url_names(api: httpx.Client, sheets: dict[str, str]) -> None:
    """`for=<eventId>`: the record query is taken from that event (a commit:created's commit)."""
    sheet = sheets["contacts"]
    assert api.post(f"/sheets/{sheet}/records", json=[{"name": {"value": "first"}}]).status_code == 200
    second = api.post(f"/sheets/{sheet}/records", json=[{"name": {"value": "second"}}]).json()["data"]["commitId"]
    space = api.get(f"/sheets/{sheet}").json()["data"]["spaceId"]
    events: list[dict[str, Any]] = []
    for _ in range(200):  # the feed projects a moment after the write answers
        listed = api.get("/events", params={"spaceId": space, "topic": "commit:created", "pageSize": 100})
        events = [e for e in listed.json()["data"] if e["context"].get("commitId") == second]
        if events:
            break
        time.sleep(0.1)
    assert events, "no commit:created for the second commit"
    records = api.get(f"/sheets/{sheet}/records", params={"for": events[0]["id"]}).json()["data"]["records"]
    assert [r["values"]["name"]["value"] for r in records] == ["second"]
    missing = api.get(f"/sheets/{sheet}/records", params={"for": "us_evt_doesnotexist"})
    assert missing.status_code == 404 and missing.json()["errors"][0]["key"] == "for", missing.text
    other = api.get("/events", params={"spaceId": space, "topic": "space:created"}).json()["data"]
    assert other, "no space:created event"
    refused = api.get(f"/sheets/{sheet}/records", params={"for": other[0]["id"]})
    assert refused.status_code == 400 and refused.json()["errors"][0]["key"] == "for", refused.text


def test_include_links_resolves_reference_cells(api: httpx.Client, sdk: Flatfile, sheets: dict[str, str]) -> None:
    acme, globex = (
        r["id"] for r in insert(api, sheets["companies"], [{"name": "Acme"}, {"name": "Globex"}])["records"]
    )
    insert(
        api,
        sheets["contacts"],
        [
            {"name": "Ann", "company": "Acme"},
            {"name": "Bob", "company": "Nowhere"},
            {"name": "Cy"},
            {"name": "Di", "company": "Globex"},
        ],
    )
    path = f"/sheets/{sheets['contacts']}/records"
    plain = api.get(path).json()["data"]["records"]
    assert all("links" not in r["values"].get("company", {}) for r in plain)  # opt-in
    linked = api.get(path, params={"includeLinks": "true"}).json()["data"]["records"]
    by_name = {r["values"]["name"]["value"]: r["values"].get("company") for r in linked}
    ann = by_name["Ann"]
    assert ann is not None and [link["id"] for link in ann["links"]] == [acme]
    assert ann["links"][0]["values"]["name"]["value"] == "Acme"
    assert by_name["Bob"] is not None and by_name["Bob"]["links"] == []  # unlinked: nothing to resolve
    assert by_name["Cy"] is None  # no cell, nothing added
    di = by_name["Di"]
    assert di is not None and [link["id"] for link in di["links"]] == [globex]
    records = sdk.records.get(sheets["contacts"], include_links=True, search_value="Ann").data.records
    links = records[0].values["company"].links
    assert links is not None and [link.id for link in links] == [acme]
