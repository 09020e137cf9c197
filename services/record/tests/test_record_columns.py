"""The columnar insert path gives the row path's records (decoded, types included)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime
from typing import Any

import msgspec
import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from record_service.domain import columns
from record_service.domain import records as domain
from record_service.domain.validation import Schema, compile_schema
from spaceport.contracts.blueprint import SheetConfig
from spaceport.contracts.record import MAX_CELL_BYTES
from spaceport.errors import ValidationFailedError

pytestmark = pytest.mark.unit
NOW = datetime(2026, 1, 2, 3, 4, 5, 600000, tzinfo=UTC)


def row_path(
    schema: Schema, frame: pl.DataFrame, ids: Sequence[str], held: Mapping[str, Mapping[str, str]]
) -> list[Any]:
    body: list[dict[str, domain.CellInput]] = [
        {k: domain.InCell(value=v) for k, v in row.items()} for row in frame.iter_rows(named=True)
    ]
    built = domain.build_inserts(schema, body, NOW, ids.__getitem__)
    checked = domain.apply_uniques(schema.uniques, built, lambda name: dict(held.get(name, {})))
    return [msgspec.json.decode(msgspec.json.encode(r)) for r in checked]


def column_path(
    schema: Schema, frame: pl.DataFrame, ids: Sequence[str], held: Mapping[str, Mapping[str, str]]
) -> list[Any]:
    prepared = columns.prepare(schema, frame, NOW)
    return [msgspec.json.decode(b) for b in columns.encode(prepared, ids, held)]


def same(a: Any, b: Any) -> bool:
    """Equal values of the same types, all the way down."""
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    return bool(a == b)


def check(schema: Schema, frame: pl.DataFrame, held: Mapping[str, Mapping[str, str]] | None = None) -> list[Any]:
    ids = [f"us_rc_{n}" for n in range(frame.height)]
    expected = row_path(schema, frame, ids, held or {})
    actual = column_path(schema, frame, ids, held or {})
    for n, (want, got) in enumerate(zip(expected, actual, strict=True)):
        assert same(want, got), (n, frame.row(n), want, got)
    assert len(expected) == len(actual)
    return actual


# ---- the property -----------------------------------------------------------------------------

KEYS = ["name", "age", "born", "tier", "ok", "e-mail", 'q"uote', "ünï"]
KINDS = ["string", "number", "boolean", "date", "enum"]
SAMPLES = [
    "",
    " ",
    "  \t",
    "0",
    "7",
    "007",
    "42",
    "-0",
    "+5",
    " 12 ",
    "1,234.5",
    "1,234",
    "1e3",
    "1E-2",
    "1e-5",
    "0.00001",
    "1e16",
    "12345678901234567.5",
    "2.50",
    ".5",
    "5.",
    "1e400",
    "123456789012345678",
    "1234567890123456789012",
    " 12345678901234567 ",
    "²",
    "١٢",
    "abc",
    "n/a",
    "true",
    "FALSE",
    " Yes ",
    "y",
    "off",
    "On",
    "maybe",
    "2024-02-29",
    "2023-02-30",
    "2024-02-30",
    "0000-01-01",
    "2024-1-5",
    "1/2/2024",
    "13/02/2024",
    "02/13/2024",
    "05/05/2024",
    "2024/2/3",
    "2024.02.03",
    "2024-03-04T10:00:00Z",
    "2024-03-04 10:00",
    "2024-03-04T25:00",
    " 2024-03-04 ",
    "20240304",
    "gold",
    "GOLD",
    " Gold Tier ",
    "silver",
    "Silver",
    "au",
    "bronze",
    "1",
    "x@y.com",
    "X@Y.com",
    "ÄÖÜ",
    "äöü",
    "İstanbul",
    "ΣΑΣ",
    'say "hi"',
    "back\\slash",
    "it's",
    "tab\there",
    "line\nbreak",
    "\x00\x1f\x7f",
    "\x1cgold\x1c",
    "emoji 😀",
    "\u2028",
    "x" * 300,
]
cell_values = st.one_of(st.none(), st.sampled_from(SAMPLES), st.text(max_size=8))


@st.composite
def field_configs(draw: st.DrawFn, key: str) -> dict[str, Any]:
    kind = draw(st.sampled_from(KINDS))
    field: dict[str, Any] = {"key": key, "type": kind}
    constraints: list[dict[str, Any]] = []
    if draw(st.booleans()):
        constraints.append({"type": "required"})
    if draw(st.integers(0, 2)) == 0:
        config = {}
        if draw(st.booleans()):
            config["caseSensitive"] = draw(st.booleans())
        if draw(st.booleans()):
            config["ignoreEmpty"] = draw(st.booleans())
        constraints.append({"type": "unique", "config": config} if config else {"type": "unique"})
    if constraints:
        field["constraints"] = constraints
    if kind == "enum":
        options: list[dict[str, Any]] = [
            {"value": "gold", "label": "Gold Tier", "alternativeNames": ["au", "ÄÖÜ"]},
            {"value": "Silver"},
        ]
        if draw(st.booleans()):
            options.append({"value": 1, "label": "one"})
        if draw(st.booleans()):
            options.append({"value": "", "label": "nothing"})
        field["config"] = {"options": options, "allowCustom": draw(st.booleans())}
    return field


@st.composite
def cases(draw: st.DrawFn) -> tuple[Schema, pl.DataFrame]:
    keys = draw(st.lists(st.sampled_from(KEYS), min_size=1, max_size=6, unique=True))
    fields = [draw(field_configs(k)) for k in keys]
    config: dict[str, Any] = {"name": "S", "fields": fields}
    if draw(st.booleans()):
        pair = draw(st.lists(st.sampled_from(keys), min_size=1, max_size=2, unique=True))
        config["constraints"] = [{"type": "unique", "name": "pair", "fields": pair}]
    additional = draw(st.booleans())
    if additional:
        config["allowAdditionalFields"] = True
    schema = compile_schema(msgspec.convert(config, SheetConfig))
    present = draw(st.lists(st.sampled_from(keys), max_size=len(keys), unique=True))
    if additional and draw(st.booleans()):
        present.append("extra")
    height = draw(st.integers(0, 25))
    data = {k: draw(st.lists(cell_values, min_size=height, max_size=height)) for k in present}
    frame = pl.DataFrame(data, schema=dict.fromkeys(present, pl.String))
    return schema, frame


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(case=cases(), data=st.data())
def test_columns_equal_the_row_path(case: tuple[Schema, pl.DataFrame], data: st.DataObject) -> None:
    schema, frame = case
    held: dict[str, dict[str, str]] = {}
    if frame.height:
        try:
            prepared = columns.prepare(schema, frame, NOW)
        except (ValidationFailedError, ValueError):
            prepared = None
        if prepared is not None:
            for name, values in columns.wanted(prepared).items():
                chosen = data.draw(st.lists(st.sampled_from(values), unique=True)) if values else []
                holders = [f"us_rc_{n}" for n in range(frame.height)] + ["us_rc_other"]
                held[name] = {v: data.draw(st.sampled_from(holders)) for v in chosen}
    ids = [f"us_rc_{n}" for n in range(frame.height)]
    refusal: Exception | None = None
    try:
        row_path(schema, frame, ids, held)
    except Exception as problem:  # the row path refuses (or fails): so must the columnar one
        refusal = problem
    if refusal is None:
        check(schema, frame, held)
        return
    with pytest.raises(type(refusal)) as raised:
        column_path(schema, frame, ids, held)
    assert str(raised.value) == str(refusal)


def test_wanted_lists_distinct_normalised_values() -> None:
    schema = compile_schema(
        msgspec.convert(
            {"name": "S", "fields": [{"key": "email", "type": "string", "constraints": [{"type": "unique"}]}]},
            SheetConfig,
        )
    )
    frame = pl.DataFrame({"email": ["A@x", "a@X", None, "", "b@x"]})
    assert columns.wanted(columns.prepare(schema, frame, NOW)) == {"email": ["a@x", "b@x"]}
    records = check(schema, frame, {"email": {"b@x": "us_rc_other"}})
    assert records[0]["claims"] == {"email": "a@x"}
    assert records[1]["waits"] == {"email": "a@x"}
    assert records[4]["waits"] == {"email": "b@x"}


# ---- other dtypes and errors --------------------------------------------------------------------

TYPED = compile_schema(
    msgspec.convert(
        {
            "name": "Typed",
            "constraints": [{"type": "unique", "name": "pair", "fields": ["n", "when"]}],
            "fields": [
                {"key": "s", "type": "string", "constraints": [{"type": "required"}]},
                {"key": "n", "type": "number", "constraints": [{"type": "unique"}]},
                {"key": "b", "type": "boolean"},
                {"key": "when", "type": "date"},
                {"key": "tier", "type": "enum", "config": {"options": [{"value": 1}, {"value": "two"}]}},
                {"key": "tags", "type": "string-list"},
                {"key": "colors", "type": "enum-list", "config": {"options": [{"value": "red"}]}},
                {"key": "ref", "type": "reference", "config": {"ref": "other", "key": "id"}},
            ],
        },
        SheetConfig,
    )
)


@pytest.mark.parametrize(
    "frame",
    [
        pl.DataFrame({"s": [1, 2, None, 2], "n": [1, None, 1, -3], "tier": [1, 2, 1, None]}),
        pl.DataFrame({"s": [1.5, None, -0.0, 1e20], "n": [1.5, 2.0, None, 1.5], "b": [0.0, 1.0, 2.0, None]}),
        pl.DataFrame({"s": [True, False, None], "b": [True, None, False], "n": [True, False, True]}),
        pl.DataFrame(
            {"when": [date(2024, 2, 29), None, date(2024, 2, 29)], "s": [date(2024, 1, 1), None, None]},
        ),
        pl.DataFrame({"tags": ["a, b", " , ", None], "colors": ["Red, blue", "", "red"], "ref": ["k", "", None]}),
        pl.DataFrame({"tags": [["x", "y"], [], None], "colors": [["RED"], ["green"], None]}),
        pl.DataFrame({"s": ["a", "b"], "tier": pl.Series(["1", "two"], dtype=pl.Categorical)}),
        pl.DataFrame({"n": pl.Series([None, None], dtype=pl.Int64)}),
        pl.DataFrame({"s": pl.Series([], dtype=pl.String)}),
    ],
)
def test_other_dtypes(frame: pl.DataFrame) -> None:
    check(TYPED, frame)


def test_unknown_key_is_refused_like_the_row_path() -> None:
    frame = pl.DataFrame({"s": ["a"], "nope": ["b"]})
    with pytest.raises(ValidationFailedError, match="unknown field 'nope'"):
        columns.prepare(TYPED, frame, NOW)
    columns.prepare(TYPED, frame.clear(), NOW)  # no rows: nothing is refused


def test_oversize_cell_is_refused_like_the_row_path() -> None:
    big = "é" * (MAX_CELL_BYTES // 2 + 1)
    frame = pl.DataFrame(
        {"s": ["a", big, "c"], "tags": [None, None, ["x" * (MAX_CELL_BYTES + 1)]], "n": ["1", big, "2"]}
    )
    body: list[dict[str, domain.CellInput]] = [
        {k: domain.InCell(value=v) for k, v in row.items()} for row in frame.iter_rows(named=True)
    ]
    with pytest.raises(ValidationFailedError) as expected:
        domain.build_inserts(TYPED, body, NOW)
    with pytest.raises(ValidationFailedError) as raised:
        columns.prepare(TYPED, frame, NOW)
    assert str(raised.value) == str(expected.value) == f"value of 's' is larger than {MAX_CELL_BYTES} bytes"
    frame = frame.select("n", "tags", "s")
    with pytest.raises(ValidationFailedError, match="value of 'n'"):
        columns.prepare(TYPED, frame, NOW)


def test_encode_wants_one_distinct_id_per_row() -> None:
    prepared = columns.prepare(TYPED, pl.DataFrame({"s": ["a", "b"]}), NOW)
    with pytest.raises(ValueError, match="ids"):
        columns.encode(prepared, ["x"], {})
    with pytest.raises(ValueError, match="distinct"):
        columns.encode(prepared, ["x", "x"], {})


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("flags", ["", "required", "unique", "unique-cs-keep-empty", "custom"])
def test_every_sample_in_every_kind(kind: str, flags: str) -> None:
    field: dict[str, Any] = {"key": "x", "type": kind}
    if flags == "required":
        field["constraints"] = [{"type": "required"}]
    if flags.startswith("unique"):
        config = {"caseSensitive": True, "ignoreEmpty": False} if flags != "unique" else {}
        field["constraints"] = [{"type": "unique", "config": config}]
    if kind == "enum":
        options = [{"value": "gold", "label": "Gold Tier", "alternativeNames": ["au", "ÄÖÜ"]}, {"value": 1}]
        field["config"] = {"options": options, "allowCustom": flags == "custom"}
    schema = compile_schema(
        msgspec.convert({"name": "S", "fields": [field, {"key": "y", "type": "string"}]}, SheetConfig)
    )
    samples = list(SAMPLES)
    values = [*samples, None, *samples[::-1]]
    check(schema, pl.DataFrame({"x": values}, schema={"x": pl.String}))
    check(schema, pl.DataFrame({"x": [v for v in values if v is not None]}, schema={"x": pl.String}))


def test_unicode_digits_are_numbers_only_where_int_reads_them() -> None:
    """`"²".isdigit()` but `int("²")` fails: both paths give a type-cast message (once a crash)."""
    schema = compile_schema(msgspec.convert({"name": "S", "fields": [{"key": "n", "type": "number"}]}, SheetConfig))
    frame = pl.DataFrame({"n": ["1", "²", "٣"]})
    check(schema, frame)
    [_, bad, arabic] = row_path(schema, frame, ["a", "b", "c"], {})
    assert bad["valid"] is False and bad["values"]["n"]["messages"][0]["source"] == "type-cast"
    assert arabic["values"]["n"]["value"] == 3
