"""FFQL (`q`) end to end: records, counts, cells, indices, CSV download, find-replace and delete
through the gateway and every real service, raw HTTP and the official `flatfile` SDK."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from flatfile import Flatfile

from spaceport.testing.platform import Platform

PEOPLE: dict[str, Any] = {
    "name": "People",
    "slug": "people",
    "fields": [
        {"key": "name", "type": "string", "label": "Full Name", "constraints": [{"type": "required"}]},
        {"key": "age", "type": "number"},
        {"key": "active", "type": "boolean"},
        {
            "key": "tier",
            "type": "enum",
            "config": {"options": [{"value": "gold", "label": "Gold Tier"}, {"value": "silver"}]},
        },
        {"key": "tags", "type": "string-list"},
        {"key": "colors", "type": "enum-list", "config": {"options": [{"value": "red"}, {"value": "blue"}]}},
        {"key": "note", "type": "string", "label": "Note"},
    ],
}
ROWS: list[dict[str, Any]] = [
    {
        "name": "Ada Lovelace",
        "age": 36,
        "active": True,
        "tier": "Gold Tier",
        "tags": "math, poet",
        "colors": "red",
        "note": "50% done",
    },
    {"name": "Bob", "age": "abc", "active": "no", "tier": "silver", "note": ""},  # age: not a number
    {"name": "Carol", "age": "7.5", "tags": ["Math"], "colors": "red, blue", "note": "a_b"},
    {"name": "", "age": 100, "tier": "bronze"},  # name required, tier not an option
    {"name": "Planet Express", "note": 'say "hi"'},
]
EVERYONE = ["Ada Lovelace", "Bob", "Carol", "", "Planet Express"]

# (q, names selected): every operator, and/or/parentheses, is error/valid, key vs label, quotes, "".
CASES: list[tuple[str, list[str]]] = [
    ('name eq "Ada Lovelace"', ["Ada Lovelace"]),
    ('"Full Name" eq Bob', ["Bob"]),
    ('NAME EQ "Planet Express"', ["Planet Express"]),
    ('eq "Planet Express"', ["Planet Express"]),  # any field
    ('note eq "say \\"hi\\""', ["Planet Express"]),
    ('name eq ""', [""]),
    ('note eq ""', ["Bob", ""]),  # "" and missing
    ('tags eq ""', ["Bob", "", "Planet Express"]),
    ('note ne ""', ["Ada Lovelace", "Carol", "Planet Express"]),
    ("name ne Bob", ["Ada Lovelace", "Carol", "", "Planet Express"]),
    ("age eq 36", ["Ada Lovelace"]),
    ("age eq 36.00", ["Ada Lovelace"]),
    ("age eq abc", ["Bob"]),
    ("age gt 10", ["Ada Lovelace", ""]),
    ("age lt 10", ["Carol"]),
    ("age gte 36", ["Ada Lovelace", ""]),
    ("age lte 7.5", ["Carol"]),
    ("active eq true", ["Ada Lovelace"]),
    ("active eq false", ["Bob"]),
    ('tier eq "Gold Tier"', ["Ada Lovelace"]),
    ("tier eq gold", ["Ada Lovelace"]),
    ("tags contains math", ["Ada Lovelace"]),
    ("tags contains Math", ["Carol"]),
    ("colors contains red", ["Ada Lovelace", "Carol"]),
    ("colors contains blue", ["Carol"]),
    ("name contains LOVE", ["Ada Lovelace"]),
    ("contains poet", ["Ada Lovelace"]),
    ('name like "%o%"', ["Ada Lovelace", "Bob", "Carol"]),
    ('name like "B%"', ["Bob"]),
    ('name like "b%"', []),
    ('name ilike "b%"', ["Bob"]),
    ("name like C_rol", ["Carol"]),
    ('note like "50\\% done"', ["Ada Lovelace"]),
    ('note like "a\\_b"', ["Carol"]),
    ("is error", ["Bob", ""]),
    ("is valid", ["Ada Lovelace", "Carol", "Planet Express"]),
    ("age is error", ["Bob"]),
    ("tier is error", [""]),
    ('"Full Name" is valid', ["Ada Lovelace", "Bob", "Carol", "Planet Express"]),
    ("age gt 1 and is valid", ["Ada Lovelace", "Carol"]),
    ("name eq Bob or name eq Carol and age gt 10", ["Bob"]),
    ("(name eq Bob or name eq Carol) and age lt 10", ["Carol"]),
    ("is error or tier eq silver", ["Bob", ""]),
]
MALFORMED: list[tuple[str, str]] = [
    ("name foo bar", "at position 6, found 'foo'"),
    ("(name eq Bob", "expected ')' at position 13"),
    ("name eq Bob)", "unexpected ')' at position 12"),
    ('name eq "Bob', "unterminated quoted text starting at position 9"),
    ("name eq", "expected a value at position 8"),
    ("nope eq 1", "unknown field 'nope' at position 1"),
    ("name = 'x'", "at position 6, found '='"),
]


@pytest.fixture
def api(platform: Platform) -> Iterator[httpx.Client]:
    with platform.client(timeout=60) as client:
        yield client


@pytest.fixture
def sdk(platform: Platform) -> Flatfile:
    return Flatfile(token=platform.secret_key, base_url=platform.api)


@pytest.fixture
def people(api: httpx.Client) -> str:
    """A fresh sheet holding ROWS."""
    space = api.post("/spaces", json={"name": "ffql"})
    assert space.status_code == 200, space.text
    workbook = api.post("/workbooks", json={"name": "Q", "spaceId": space.json()["data"]["id"], "sheets": [PEOPLE]})
    assert workbook.status_code == 200, workbook.text
    sheet: str = workbook.json()["data"]["sheets"][0]["id"]
    body = [{k: {"value": v} for k, v in row.items()} for row in ROWS]
    inserted = api.post(f"/sheets/{sheet}/records", json=body)
    assert inserted.status_code == 200, inserted.text
    return sheet


def names(api: httpx.Client, sheet: str, **params: Any) -> list[str]:
    reply = api.get(f"/sheets/{sheet}/records", params=params)
    assert reply.status_code == 200, reply.text
    return [r["values"].get("name", {}).get("value") or "" for r in reply.json()["data"]["records"]]


def refused(reply: httpx.Response) -> str:
    assert reply.status_code == 400, reply.text
    error = reply.json()["errors"][0]
    assert error["key"] == "q"
    message: str = error["message"]
    return message


def test_every_operator_over_get_records_and_counts(api: httpx.Client, people: str) -> None:
    wrong: dict[str, list[str]] = {}
    for q, expected in CASES:
        if names(api, people, q=q) != expected:
            wrong[q] = names(api, people, q=q)
    assert wrong == {}
    assert names(api, people, q="") == EVERYONE  # an empty q selects everything
    counted = api.get(f"/sheets/{people}/counts", params={"q": "age gt 1"}).json()["data"]["counts"]
    assert (counted["total"], counted["valid"], counted["error"]) == (3, 2, 1)


def test_q_combines_with_filter_search_and_paging(api: httpx.Client, people: str) -> None:
    assert names(api, people, q="age gt 1", filter="valid") == ["Ada Lovelace", "Carol"]
    assert names(api, people, q="is valid", searchValue="o") == ["Ada Lovelace", "Carol"]
    assert names(api, people, q="note ne xyz", pageSize=2, pageNumber=2) == ["Carol", ""]
    paged = [n for page in (1, 2, 3) for n in names(api, people, q="note ne xyz", pageSize=2, pageNumber=page)]
    assert paged == EVERYONE
    assert names(api, people, q="note ne xyz", sortField="name", sortDirection="desc")[:2] == [
        "Planet Express",
        "Carol",
    ]


def test_the_sdk_sends_q_to_records_and_counts(sdk: Flatfile, people: str) -> None:
    found = sdk.records.get(people, q='"Full Name" like "%a%" and is valid and age lt 50').data.records or []
    assert [r.values["name"].value for r in found] == ["Ada Lovelace", "Carol"]
    counts = sdk.sheets.get_record_counts(people, q="is error").data.counts
    assert (counts.total, counts.valid, counts.error) == (2, 0, 2)


def test_cells_and_indices_honour_q(api: httpx.Client, people: str) -> None:
    cells = api.get(f"/sheets/{people}/cells", params={"fieldKey": "tier", "q": "age gt 10"})
    assert cells.status_code == 200, cells.text
    assert sorted(c["value"] for c in cells.json()["data"]["tier"]) == ["bronze", "gold"]
    ids = {
        r["values"]["name"]["value"]: r["id"] for r in api.get(f"/sheets/{people}/records").json()["data"]["records"]
    }
    indices = api.get(f"/sheets/{people}/records/indices", params={"ids": [ids["Carol"], ids["Bob"]], "q": "is valid"})
    assert indices.json() == [{"id": ids["Carol"], "index": 1}, {"id": ids["Bob"], "index": -1}]


def test_download_csv_honours_q(api: httpx.Client, people: str) -> None:
    reply = api.get(f"/sheets/{people}/download", params={"q": "tags contains math or colors contains blue"})
    assert reply.status_code == 200, reply.text
    table = list(csv.reader(io.StringIO(reply.text)))
    assert table[0][0] == "Full Name"
    assert [row[0] for row in table[1:]] == ["Ada Lovelace", "Carol"]


def test_find_replace_and_delete_select_with_q(sdk: Flatfile, api: httpx.Client, people: str) -> None:
    sdk.records.find_and_replace(people, field_key="note", find="a", replace="A", q="age lt 10")
    assert names(api, people, q='note eq "A_b"') == ["Carol"]
    assert names(api, people, q='note like "%a%"') == ["Planet Express"]  # not selected: untouched
    deleted = api.delete(f"/sheets/{people}/records", params={"q": "is error or age gt 50"})
    assert deleted.status_code == 200, deleted.text
    assert names(api, people) == ["Ada Lovelace", "Carol", "Planet Express"]
    refused(api.delete(f"/sheets/{people}/records", params={"q": "is nothing"}))
    assert len(names(api, people)) == 3


def test_malformed_queries_are_400_naming_the_position(api: httpx.Client, people: str) -> None:
    wrong: dict[str, str] = {}
    for q, expected in MALFORMED:
        for path in ("records", "counts", "download"):
            message = refused(api.get(f"/sheets/{people}/{path}", params={"q": q}))
            if expected not in message:
                wrong[f"{path} {q}"] = message
    assert wrong == {}
    commit = api.get(f"/sheets/{people}/commits").json()["data"][0]["id"]
    with_commit = api.get(f"/sheets/{people}/records", params={"q": "is valid", "commitId": commit})
    assert refused(with_commit) == "q is not supported with commitId"
