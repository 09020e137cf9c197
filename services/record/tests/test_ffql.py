"""FFQL (`q`): the parser (pure), the SQL it compiles to (parameters only), and what that SQL
selects on real Postgres through `query.select()` (a temporary `record` table)."""

from __future__ import annotations

from typing import Any

import asyncpg
import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from record_service.application import at_commit, ffql_sql
from record_service.application.context import Sheet
from record_service.application.query import Selection, select
from record_service.domain import ffql
from record_service.domain.ffql import And, Cond, Is, Or
from record_service.domain.validation import compile_schema
from spaceport.contracts.blueprint import SheetConfig
from spaceport.contracts.record import RecordQuery
from spaceport.errors import ValidationFailedError

CONFIG = msgspec.convert(
    {
        "name": "People",
        "fields": [
            {"key": "name", "type": "string", "label": "Full Name"},
            {"key": "age", "type": "number"},
            {"key": "active", "type": "boolean"},
            {"key": "born", "type": "date"},
            {
                "key": "tier",
                "type": "enum",
                "config": {"options": [{"value": "gold", "label": "Gold Tier"}, {"value": "silver"}]},
            },
            {"key": "tags", "type": "string-list"},
            {"key": "colors", "type": "enum-list", "config": {"options": [{"value": "red"}, {"value": "blue"}]}},
            {"key": "note", "type": "string", "label": "Note"},
        ],
    },
    SheetConfig,
)
SHEET = Sheet(
    id="us_sh_1",
    workbook_id="us_wb_1",
    space_id="us_sp_1",
    environment_id="us_env_1",
    slug="people",
    config=CONFIG,
    schema=compile_schema(CONFIG),
    version=1,
    total=5,
    valid=3,
    deleted_rows=0,
)

OPS = "(eq, ne, lt, gt, lte, gte, like, ilike, contains)"


def parse_error(source: str) -> str:
    with pytest.raises(ValidationFailedError) as caught:
        ffql.parse(source)
    assert caught.value.key == "q"
    return caught.value.message


# ---- parser ------------------------------------------------------------------------------------


@pytest.mark.unit
@pytest.mark.parametrize(
    ("source", "tree"),
    [
        ('email like "%@x.com"', Cond("email", "like", "%@x.com")),
        ('eq "Planet Express"', Cond(None, "eq", "Planet Express")),
        ('"First Name" eq Bender', Cond("First Name", "eq", "Bender")),
        ('first_name eq ""', Cond("first_name", "eq", "")),
        ("active eq true", Cond("active", "eq", "true")),
        ("tags CONTAINS a", Cond("tags", "contains", "a")),
        ("is error", Is(None, "error")),
        ("email IS valid", Is("email", "valid")),
        ('"is" eq is', Cond("is", "eq", "is")),  # a keyword as a field: quoted; as a value: anywhere
        ("a eq and", Cond("a", "eq", "and")),
        (
            "a eq 1 and b eq 2 or c eq 3",
            Or((And((Cond("a", "eq", "1"), Cond("b", "eq", "2"))), Cond("c", "eq", "3"))),
        ),
        (
            "a eq 1 AND (b eq 2 OR c eq 3)",
            And((Cond("a", "eq", "1"), Or((Cond("b", "eq", "2"), Cond("c", "eq", "3"))))),
        ),
        ("((is valid))", Is(None, "valid")),
        ('n like "50\\% \\"x\\" \\\\"', Cond("n", "like", '50\\% "x" \\')),
        ("  n   ne   x  ", Cond("n", "ne", "x")),
    ],
)
def test_the_documented_forms_parse(source: str, tree: ffql.Expr) -> None:
    assert ffql.parse(source) == tree


@pytest.mark.unit
def test_positions_are_1_based_and_kept_on_conditions() -> None:
    tree = ffql.parse("a eq 1 or  is error")
    assert isinstance(tree, Or)
    assert [item.at for item in tree.items if isinstance(item, Cond | Is)] == [1, 12]


@pytest.mark.unit
@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("name foo bar", f"expected an operator {OPS} or 'is' at position 6, found 'foo'"),
        ("name = 'x'", f"expected an operator {OPS} or 'is' at position 6, found '='"),
        ("(a eq b", "expected ')' at position 8 (to close '(' at position 1), found end of query"),
        ("(a eq b or (c eq d)", "expected ')' at position 20 (to close '(' at position 1)"),
        ("a eq b)", "unexpected ')' at position 7 (no '(' to close)"),
        ('a eq "open', "unterminated quoted text starting at position 6"),
        ("a eq", "expected a value at position 5, found end of query"),
        ("a eq (b)", "expected a value at position 6, found '('"),
        ("", "expected a condition at position 1, found end of query"),
        ("   ", "expected a condition at position 4, found end of query"),
        ("a eq b c eq d", "expected 'and', 'or' or the end of the query at position 8, found 'c'"),
        ("a eq b and", "expected a condition at position 11, found end of query"),
        ("is maybe", "expected 'error' or 'valid' at position 4, found 'maybe'"),
        ("a is", "expected 'error' or 'valid' at position 5, found end of query"),
        ("a", f"expected an operator {OPS} or 'is' at position 2, found end of query"),
    ],
)
def test_malformed_queries_name_the_position(source: str, expected: str) -> None:
    message = parse_error(source)
    assert message.startswith("q: ")
    assert expected in message


@pytest.mark.unit
def test_length_and_depth_are_bounded() -> None:
    assert "longer than 10000 characters" in parse_error("a eq " + "x" * ffql.MAX_LENGTH)
    assert ffql.parse("(" * 50 + "a eq b" + ")" * 50) == Cond("a", "eq", "b")
    assert "deeper than 50 at position 51" in parse_error("(" * 51 + "a eq b" + ")" * 51)
    assert isinstance(ffql.parse(" or ".join(["is valid"] * 200)), Or)
    assert "more than 200 conditions (the next one at position 2401)" in parse_error(" or ".join(["is valid"] * 201))


names = st.text(max_size=8)
leaves = st.builds(Cond, names | st.none(), st.sampled_from(ffql.OPERATORS), names) | st.builds(
    Is, names | st.none(), st.sampled_from(ffql.STATUSES)
)
trees = st.recursive(
    leaves,
    lambda inner: (
        st.builds(And, st.lists(inner, min_size=2, max_size=3).map(tuple))
        | st.builds(Or, st.lists(inner, min_size=2, max_size=3).map(tuple))
    ),
    max_leaves=8,
)


@pytest.mark.unit
@given(trees)
def test_text_parses_back_to_the_same_tree(tree: ffql.Expr) -> None:
    assert ffql.parse(ffql.to_text(tree)) == tree


pieces = st.lists(st.sampled_from([*'ab "()\\%_', " eq ", " is ", " and ", " or ", "error", "valid"]), max_size=30)


def outcome(source: str) -> ffql.Expr | ValidationFailedError:
    try:
        return ffql.parse(source)
    except ValidationFailedError as error:
        return error


@pytest.mark.unit
@given(pieces.map("".join) | st.text(max_size=60))
@settings(max_examples=300)
def test_any_text_parses_or_is_a_400(source: str) -> None:
    found = outcome(source)
    if isinstance(found, ValidationFailedError):
        assert found.key == "q"
        assert "position" in found.message
    else:
        assert isinstance(found, Cond | Is | And | Or)


# ---- SQL: parameters only -------------------------------------------------------------------------


def compiled(source: str) -> tuple[str, list[object]]:
    sel = Selection(conditions=["r.sheet_id = $1"], params=[SHEET.id], plain=True)
    return ffql_sql.condition(source, sel, SHEET), sel.params


@pytest.mark.unit
@given(st.text(min_size=1, max_size=30), st.sampled_from(ffql.OPERATORS))
@settings(max_examples=200)
def test_values_and_names_reach_sql_only_as_parameters(value: str, op: str) -> None:
    marked = "zqv" + value
    source = f'"Full Name" {op} {ffql.quote(marked)} or {op} {ffql.quote(marked)}'
    if op in ("like", "ilike") and (len(marked) - len(marked.rstrip("\\"))) % 2:
        return  # a pattern ending with a lone backslash: a 400 (tested below)
    sql, params = compiled(source)
    assert "zqv" not in sql
    assert "Full Name" not in sql
    assert "name" in params
    assert any(isinstance(p, str) and "zqv" in p for p in params)


@pytest.mark.unit
def test_equal_values_share_one_parameter() -> None:
    _, params = compiled("name eq x or note eq x or name eq y")
    assert params.count("x") == 1
    assert params.count("name") == 1


@pytest.mark.unit
@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("nope eq 1", "q: unknown field 'nope' at position 1; name a field of this sheet by its key or label"),
        ("age gt 1 and (Nope is error)", "unknown field 'Nope' at position 15"),
        ("name like a\\", "pattern of the condition at position 1 ends with a lone backslash"),
    ],
)
def test_unknown_fields_and_bad_patterns_are_400(source: str, expected: str) -> None:
    with pytest.raises(ValidationFailedError) as caught:
        compiled(source)
    assert caught.value.key == "q"
    assert expected in caught.value.message


@pytest.mark.unit
def test_q_with_commit_id_is_refused() -> None:
    with pytest.raises(ValidationFailedError, match="q is not supported with commitId") as caught:
        at_commit.check(SHEET, RecordQuery(commit_id="us_vr_1", q="name eq x"))
    assert caught.value.key == "q"
    at_commit.check(SHEET, RecordQuery(commit_id="us_vr_1", q=""))  # an empty q selects nothing


@pytest.mark.unit
def test_select_adds_q_as_one_condition() -> None:
    assert select(SHEET, RecordQuery(q="")).plain
    sel = select(SHEET, RecordQuery(q="name eq x", filter="valid"))
    assert not sel.plain
    assert len(sel.conditions) == 3
    with pytest.raises(ValidationFailedError, match="at position 9, found 'nothing'"):
        select(SHEET, RecordQuery(q="name is nothing"))


# ---- what it selects, on Postgres -------------------------------------------------------------------

ROWS: list[tuple[str, dict[str, Any], list[str]]] = [  # id, values, error fields
    (
        "r1",
        {
            "name": "Ada Lovelace",
            "age": 36,
            "active": True,
            "born": "1815-12-10",
            "tier": "gold",
            "tags": ["math", "poet"],
            "colors": ["red"],
            "note": "50% done",
        },
        [],
    ),
    ("r2", {"name": "bob", "age": "abc", "active": False, "tier": "silver", "tags": [], "note": ""}, ["age"]),
    (
        "r3",
        {"name": "Carol", "age": 7.5, "active": None, "born": "2000-01-01", "tags": ["Math"], "colors": ["red", "blue"]}
        | {"note": "a_b"},
        [],
    ),
    ("r4", {"name": "", "age": 100, "tier": "bronze"}, ["name", "tier"]),
    ("r5", {"name": 'Dé "q"', "note": "x\\y"}, []),
]

CASES: list[tuple[str, list[str]]] = [
    ('name eq "Ada Lovelace"', ["r1"]),
    ('"Full Name" eq bob', ["r2"]),  # by label
    ('"full name" eq bob', ["r2"]),  # label in any case
    ('name eq "Dé \\"q\\""', ["r5"]),
    ('note eq "x\\\\y"', ["r5"]),
    ('name eq ""', ["r4"]),
    ('note eq ""', ["r2", "r4"]),  # "" and missing
    ('tags eq ""', ["r2", "r4", "r5"]),  # [] and missing
    ('note ne ""', ["r1", "r3", "r5"]),
    ("name ne bob", ["r1", "r3", "r4", "r5"]),  # ne matches empty cells too
    ('tags eq "math, poet"', ["r1"]),  # a list as its CSV text
    ("age eq 36", ["r1"]),
    ("age eq 36.0", ["r1"]),  # numeric
    ("age eq abc", ["r2"]),  # not a number: text
    ("age gt 10", ["r1", "r4"]),
    ("age lt 10", ["r3"]),  # 'abc' never compares as a number
    ("age gte 36", ["r1", "r4"]),
    ("age lte 7.5", ["r3"]),
    ("age ne 36", ["r2", "r3", "r4", "r5"]),
    ("active eq true", ["r1"]),
    ("active eq no", ["r2"]),
    ("active ne true", ["r2", "r3", "r4", "r5"]),
    ("born eq 1815-12-10", ["r1"]),
    ("born gt 1900-01-01", ["r3"]),
    ("born lt 01/31/2000", ["r1", "r3"]),  # read as a date: 2000-01-31
    ('tier eq "Gold Tier"', ["r1"]),  # an option's label
    ("tier eq GOLD", ["r1"]),
    ("tier eq bronze", ["r4"]),
    ("tier lt t", ["r1", "r2", "r4"]),  # text order; empty cells never compare
    ("tags contains math", ["r1"]),  # an item, exactly
    ("colors contains Red", ["r1", "r3"]),  # enum items by option
    ("colors contains blue", ["r3"]),
    ("name contains AD", ["r1"]),  # substring, any case
    ('name like "Ada%"', ["r1"]),
    ('name like "ada%"', []),
    ('name ilike "ada%"', ["r1"]),
    ("name like _ob", ["r2"]),
    ('note like "50\\% done"', ["r1"]),  # an escaped wildcard
    ('note like "50\\%"', []),
    ('note like "a\\_b"', ["r3"]),
    ("is error", ["r2", "r4"]),
    ("is valid", ["r1", "r3", "r5"]),
    ("age is error", ["r2"]),
    ("tier is valid", ["r1", "r2", "r3", "r5"]),
    ('"Note" is valid and age is error', ["r2"]),
    ("age gt 10 and is valid", ["r1"]),
    ("age gt 10 or name eq bob", ["r1", "r2", "r4"]),
    ("name eq bob or name eq Carol and age gt 100", ["r2"]),  # and binds tighter
    ("(name eq bob or name eq Carol) and age lt 10", ["r3"]),
    ("eq bob", ["r2"]),  # any field
    ("eq 36", ["r1"]),
    ("contains poet", ["r1"]),
    ('ilike "%LOVE%"', ["r1"]),
    ("ne bob", ["r1", "r3", "r4", "r5"]),  # no field equals bob
    ('name eq "\'; DROP TABLE record; --"', []),
]


@pytest.fixture
async def people(pool: asyncpg.Pool) -> Any:
    async with pool.acquire() as conn:
        await conn.execute(
            "CREATE TEMP TABLE record (sheet_id text, row_no bigint, id text, cells jsonb,"
            " valid boolean, error_fields text[])"
        )
        rows = [
            (SHEET.id, n, rid, msgspec.json.encode({k: {"value": v} for k, v in cells.items()}).decode(), not e, e)
            for n, (rid, cells, e) in enumerate(ROWS)
        ]
        rows.append(("us_sh_other", 99, "other", '{"name": {"value": "bob"}}', True, []))
        await conn.executemany("INSERT INTO record VALUES ($1, $2, $3, $4::jsonb, $5, $6)", rows)
        yield conn
        await conn.execute("DROP TABLE record")


async def test_each_operator_selects_what_the_docs_say(people: asyncpg.Connection) -> None:
    wrong = {}
    for source, expected in CASES:
        sel = select(SHEET, RecordQuery(q=source))
        found = [
            r["id"]
            for r in await people.fetch(f"SELECT r.id FROM record r WHERE {sel.where} ORDER BY r.row_no", *sel.params)
        ]
        if found != expected:
            wrong[source] = found
    assert wrong == {}
    assert await people.fetchval("SELECT count(*) FROM record") == len(ROWS) + 1


async def test_q_combines_with_the_other_parameters(people: asyncpg.Connection) -> None:
    async def ids(query: RecordQuery) -> list[str]:
        sel = select(SHEET, query)
        rows = await people.fetch(f"SELECT r.id FROM record r WHERE {sel.where} ORDER BY r.row_no", *sel.params)
        return [r["id"] for r in rows]

    assert await ids(RecordQuery(q="age gt 1", filter="valid")) == ["r1", "r3"]
    assert await ids(RecordQuery(q="age gt 1", search_value="lov")) == ["r1"]
    assert await ids(RecordQuery(q="is valid", filter="error")) == []
