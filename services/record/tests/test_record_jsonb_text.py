"""`at_commit` renders a cell as the read model's SQL does (`->>'value'` for a search, `csv_value`
for a download), checked against the real Postgres so the two cannot drift; and the property
test's model (`record_model.pg_text`) with it."""

from __future__ import annotations

from typing import Any

import asyncpg
import msgspec
import pytest

from record_service.application import at_commit
from record_service.application.query import csv_value
from spaceport.contracts.record import RecordQuery
from spaceport.testing import record_model

# JSON as an event may hold it (any spelling of a number): read back exactly (`exact_cells`)
WRITTEN = [
    '["a","b"]',
    "[]",
    "{}",
    "[[],{},[[]]]",
    '{"k":"v"}',
    '{"bb":1,"a":2,"ab":{"z":[1,{"y":null}],"":0}}',
    '{"\u00e9":1,"z":2,"\u65e5":3,"aa":4}',  # key order: shorter in bytes first, then bytewise
    '["\u00fcn\u00ef","\u65e5\u672c","\U0001f600","\u2028"]',
    r'["a\"b","c\\d","\n\t\r\b\f","\u0001\u001f","\u007f","/","\/"]',
    "[1,-1,0,1.5,1.50,1e20,1E+2,1.5e-7,-0.0,0,0.1,1e16]",
    "[123456789012345678901234567890,5e-324,1.7976931348623157e308,2.5e-5,1e+20,-12.3400]",
    "[true,false,null]",
    '[1,null,"a",[null],{"n":null}]',
    '[{"b":[1.0,"x"],"a":{"c":true}}]',
    "1.0",
    "1.50",
    "100",
    "-0",
    "1e3",
    "0.30000000000000004",
    "true",
    "false",
    '"text"',
    '""',
    "null",
]

# Python values as the service holds them (floats decoded), written to events by msgspec
HELD: list[Any] = [
    1e16,
    1e15,
    1.5e-7,
    1e-5,
    -0.0,
    0.1 + 0.2,
    1e22,
    123456789.123,
    5e-324,
    2.0**53,
    -1e300,
    float("nan"),
    [1.0, 2.5, -0.0, 100.0, 1e21],
    {"x": 1.25, "yy": [True, None, "\u00e9"]},
    ["a", "b"],
    "a",
    10**20,
    False,
]


async def postgres(pool: asyncpg.Pool, value_json: str) -> tuple[str, str | None, str]:
    """(jsonb text, `->>'value'`, the download's cell) of a cell `{"value": <value_json>}`."""
    row = await pool.fetchrow(
        f"SELECT $1::jsonb::text AS j, r.cells->'k'->>'value' AS t, {csv_value('$3')} AS c"
        " FROM (SELECT $2::jsonb AS cells) r",
        value_json,
        '{"k":{"value":' + value_json + "}}",
        "k",
    )
    assert row is not None
    return row["j"], row["t"], row["c"] or ""


@pytest.mark.parametrize("written", WRITTEN)
async def test_a_written_value_renders_as_postgres_prints_it(pool: asyncpg.Pool, written: str) -> None:
    jsonb, text, csv = await postgres(pool, written)
    cell = at_commit.exact_cells(('{"k":{"value":' + written + "}}").encode())["k"]
    if cell["value"] is not None:
        assert at_commit.jsonb_text(cell["value"]) == jsonb
    assert at_commit.pg_text(cell["value"]) == text
    assert at_commit.csv_text(cell) == csv


@pytest.mark.parametrize("held", HELD, ids=repr)
async def test_a_held_value_renders_as_postgres_prints_its_event(pool: asyncpg.Pool, held: Any) -> None:
    jsonb, text, csv = await postgres(pool, msgspec.json.encode(held).decode())
    assert at_commit.pg_text(held) == text
    assert at_commit.csv_text({"value": held}) == csv
    assert at_commit.jsonb_text(held) == jsonb
    assert record_model.pg_text(held) == text  # the property test's model agrees


@pytest.mark.parametrize("written", WRITTEN)
async def test_the_model_renders_a_decoded_value_as_postgres(pool: asyncpg.Pool, written: str) -> None:
    """The model holds values as the API answers them (floats: `1.50` is 1.5), which msgspec
    writes to the events again."""
    value = msgspec.json.decode(written)
    _, text, _ = await postgres(pool, msgspec.json.encode(value).decode())
    assert record_model.pg_text(value) == text


def test_a_commit_search_finds_a_list_as_the_live_search_does() -> None:
    values = msgspec.json.encode({"tags": {"value": ["a", "b"]}, "n": {"value": 1.50}})
    rows: list[tuple[str, bool, list[str], bytes]] = [
        ("r1", True, [], values),
        ("r2", True, [], b'{"n":{"value":1.50}}'),
    ]

    def found(search: str, field: str | None = None) -> list[int]:
        query = RecordQuery(search_value=search, search_field=field)
        return [i for i, _ in at_commit.select(rows, query, [], True)]

    assert found('"a", "b', "tags") == [0]
    assert found('["a", "b"]') == [0]
    assert found('"["a","b"]"') == []
    assert found('"1.50"', "n") == [1]  # as written: jsonb keeps `1.50` of the second event
