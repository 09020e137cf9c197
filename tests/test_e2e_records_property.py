"""Property: for random sheets and random query parameters, the records API answers what the same
query evaluated in Python over all records answers (`spaceport.testing.record_model`), order included.

Three sheets are built once (seeded data with invalid cells, duplicates of unique values, updates,
deletes, a delete by selection, inserts after the deletes): `dense` never loses a row (pages by
arithmetic), `holes` and `orders` do (pages by the previous page's cursor or by an index skip).
Each example asks one page and the next one (the next page continues from a cursor), then the
counts of the same selection. A last property builds a small random sheet per example.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterator
from dataclasses import dataclass, replace
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, Phase, event, given, settings
from hypothesis import strategies as st

from spaceport.testing import record_model as model
from spaceport.testing.platform import Platform
from spaceport.testing.record_model import Deleted, Query, Row

WORDS = ["ada", "bob", "cy", "dee", "eve", "finn", "gus", "hal", "ivy", "jo", "kai", "lu", "max", "ned", "oz"]
TIER = {"type": "enum", "config": {"options": [{"value": "gold", "label": "Gold"}, {"value": "silver"}]}}
PEOPLE: dict[str, Any] = {
    "name": "People",
    "fields": [
        {"key": "name", "type": "string", "constraints": [{"type": "required"}]},
        {"key": "email", "type": "string", "constraints": [{"type": "unique"}]},
        {"key": "age", "type": "number"},
        {"key": "active", "type": "boolean"},
        {"key": "born", "type": "date"},
        {"key": "tier", **TIER},
        {"key": "tags", "type": "string-list"},
        {"key": "note", "type": "string"},
    ],
}
ORDERS: dict[str, Any] = {
    "name": "Orders",
    "constraints": [{"type": "unique", "name": "slot", "fields": ["status", "qty"]}],
    "fields": [
        {"key": "code", "type": "string", "constraints": [{"type": "unique"}]},
        {"key": "qty", "type": "number", "constraints": [{"type": "required"}]},
        {
            "key": "status",
            "type": "enum",
            "config": {"options": [{"value": "open"}, {"value": "paid"}, {"value": "void"}]},
        },
        {"key": "shipped", "type": "date"},
        {"key": "rush", "type": "boolean"},
    ],
}
PAGE_SIZES = [None, 1, 2, 3, 5, 7, 10, 10, 33, 100, 250, 10_000, 50_000]  # above 10,000: streamed in chunks
SEARCH_CONSTANTS = ["", '""', "a%b", "a_c", "%", "_", "zzzz", '"', ", ", "GOLD", '"gold"', "1", "-0", "true"]


# ---- values as sent, each with whether the cell must come back valid (None: not decided here) --

Sent = dict[str, Any]
Expect = dict[str, bool | None]


def _name(rng: random.Random, columnar: bool) -> tuple[Any, bool]:
    roll = rng.random()
    if roll < 0.05:
        return "", False  # required
    if roll < 0.08 and not columnar:
        return None, False
    return f"{rng.choice(WORDS)}{rng.randint(0, 40) if rng.random() < 0.7 else ''}", True


def _number(rng: random.Random, columnar: bool) -> tuple[Any, bool]:
    choices: list[tuple[Any, bool]] = [
        (str(rng.randint(0, 99)), True),
        (f"{rng.randint(0, 9)},{rng.randint(100, 999)}.5", True),
        (f"{rng.randint(0, 99)}.25", True),
        ("abc", False),
        ("", True),
    ]
    if not columnar:
        choices += [(rng.randint(-5, 99), True), (rng.randint(0, 40) + 0.5, True), (None, True), (True, False)]
    return rng.choice(choices)


def _boolean(rng: random.Random, columnar: bool) -> tuple[Any, bool]:
    choices: list[tuple[Any, bool]] = [("yes", True), ("no", True), ("true", True), ("0", True), ("maybe", False)]
    if not columnar:
        choices += [(True, True), (False, True), (None, True)]
    return rng.choice(choices)


def _date(rng: random.Random, _columnar: bool) -> tuple[Any, bool]:
    if rng.random() < 0.07:
        return rng.choice(["soon", "yesterday"]), False
    if rng.random() < 0.05:
        return "", True
    return f"{rng.randint(1950, 2010)}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}", True


def _tier(rng: random.Random, _columnar: bool) -> tuple[Any, bool]:
    return rng.choice([("gold", True), ("Gold", True), ("silver", True), ("SILVER", True), ("platinum", False)])


def _tags(rng: random.Random, columnar: bool) -> tuple[Any, bool]:
    if columnar:
        return rng.choice(["a, b", "c", "", "b, a, c", "a"]), True
    return rng.choice([["a", "b"], [], "c, d", None, ["b"], "a"]), True


def _note(rng: random.Random, columnar: bool) -> tuple[Any, bool]:
    if not columnar and rng.random() < 0.1:
        return None, True
    return (rng.choice(WORDS) + rng.choice(["", "x", "9"])) if rng.random() < 0.8 else "", True


def person(rng: random.Random, n: int, columnar: bool) -> tuple[Sent, Expect]:
    """One People record; columnar = every key, every value text (the insert's columnar path)."""
    sent: Sent = {}
    expect: Expect = {}
    makers = {"name": _name, "age": _number, "active": _boolean, "born": _date, "tier": _tier, "tags": _tags}
    for key, make in {**makers, "note": _note}.items():
        if not columnar and key != "name" and rng.random() < 0.15:
            continue  # no cell at all
        sent[key], expect[key] = make(rng, columnar)
    taken = n if rng.random() > 0.06 else rng.randint(0, max(0, n - 1))  # a few duplicates
    sent["email"] = f"{rng.choice(WORDS)}{taken}mail" if columnar or rng.random() > 0.05 else ""
    expect["email"] = None  # the first holder wins: decided by the order of writes
    return sent, expect


def order(rng: random.Random, n: int, columnar: bool) -> tuple[Sent, Expect]:
    sent: Sent = {"code": f"c{n if rng.random() > 0.05 else rng.randint(0, max(0, n - 1))}"}
    expect: Expect = {"code": None}
    sent["qty"] = str(rng.randint(1, 60)) if rng.random() > 0.05 else ""  # required
    expect["qty"] = None  # in the sheet's unique constraint: decided by the order of writes
    sent["status"] = rng.choice(["open", "paid", "void", "Paid", "lost"])
    expect["status"] = None
    for key, make in {"shipped": _date, "rush": _boolean}.items():
        if columnar or rng.random() > 0.2:
            sent[key], expect[key] = make(rng, columnar)
    return sent, expect


# ---- the API -----------------------------------------------------------------------------------


@dataclass(frozen=True, repr=False)
class Built:
    """A sheet as the API lists it after its writes: `rows` in insertion order, `commits` oldest first."""

    name: str
    sheet_id: str
    keys: tuple[str, ...]
    rows: tuple[Row, ...]
    commits: tuple[str, ...]
    deleted: tuple[Deleted, ...]

    def __repr__(self) -> str:
        return f"Built({self.name}: {len(self.rows)} records, {len(self.commits)} commits)"


class Writer:
    """Writes to one sheet and remembers what it wrote: ids in insertion order, values sent, commits."""

    def __init__(self, api: httpx.Client, sheet_id: str) -> None:
        self.api = api
        self.sheet_id = sheet_id
        self.order: list[str] = []
        self.sent: dict[str, Sent] = {}
        self.expect: dict[str, Expect] = {}
        self.last_write: dict[str, int] = {}
        self.commits: list[str] = []
        self.deleted: list[Deleted] = []

    def insert(self, rows: list[tuple[Sent, Expect]]) -> list[str]:
        body = [{k: {"value": v} for k, v in sent.items()} for sent, _ in rows]
        reply = self.api.post(f"/sheets/{self.sheet_id}/records", json=body)
        assert reply.status_code == 200, reply.text
        data = reply.json()["data"]
        self.commits.append(data["commitId"])
        ids = [r["id"] for r in data["records"]]
        assert len(ids) == len(rows)
        for record_id, (sent, expect) in zip(ids, rows, strict=True):
            self.order.append(record_id)
            self.sent[record_id], self.expect[record_id] = dict(sent), dict(expect)
            self.last_write[record_id] = len(self.commits) - 1
        return ids

    def update(self, items: dict[str, tuple[Sent, Expect]]) -> None:
        body = [{"id": i, "values": {k: {"value": v} for k, v in s.items()}} for i, (s, _) in items.items()]
        reply = self.api.put(f"/sheets/{self.sheet_id}/records", json=body)
        assert reply.status_code == 200, reply.text
        self.commits.append(reply.json()["data"]["commitId"])
        for record_id, (sent, expect) in items.items():
            self.sent[record_id].update(sent)
            self.expect[record_id].update(expect)
            self.last_write[record_id] = len(self.commits) - 1

    def delete(self, params: tuple[tuple[str, str], ...], ids: list[str]) -> None:
        reply = self.api.delete(f"/sheets/{self.sheet_id}/records", params=params)
        assert reply.status_code == 200, reply.text
        self.commits.append(reply.json()["data"]["commitId"])
        gone = set(ids)
        self.order = [i for i in self.order if i not in gone]
        self.deleted += [Deleted(i, self.commits[-1]) for i in ids]

    def delete_ids(self, ids: list[str]) -> None:
        self.delete((("ids", ",".join(ids)),), ids)

    def listing(self) -> list[Row]:
        return listing(self.api, self.sheet_id)

    def built(self, name: str, keys: tuple[str, ...]) -> Built:
        """The sheet's records as listed, checked against what was written to it."""
        rows = self.listing()
        assert [r.id for r in rows] == self.order, f"{name}: the listing is not the records written, in order"
        for r in rows:
            assert r.commit_id in self.commits, f"{name}: {r.id} names commit {r.commit_id}, not one of this sheet"
            assert self.commits.index(r.commit_id) >= self.last_write[r.id], f"{name}: {r.id} commit is too old"
            assert r.valid == (not r.error_fields), f"{name}: {r.id} valid={r.valid} with cells {r.cells}"
            for key, ok in self.expect[r.id].items():
                if ok is not None:
                    assert r.cells[key]["valid"] is ok, f"{name}: {r.id}.{key} sent {self.sent[r.id][key]!r}: {r.cells}"
        return Built(name, self.sheet_id, keys, tuple(rows), tuple(self.commits), tuple(self.deleted))


def listing(api: httpx.Client, sheet_id: str) -> list[Row]:
    reply = api.get(f"/sheets/{sheet_id}/records", params={"pageSize": 10_000})
    assert reply.status_code == 200, reply.text
    records = reply.json()["data"]["records"]
    return [Row(r["id"], r["values"], r["valid"], r["commitId"], r["metadata"], r.get("config")) for r in records]


def new_sheet(api: httpx.Client, space_id: str, blueprint: dict[str, Any]) -> str:
    reply = api.post("/workbooks", json={"name": "Property", "spaceId": space_id, "sheets": [blueprint]})
    assert reply.status_code == 200, reply.text
    sheet_id: str = reply.json()["data"]["sheets"][0]["id"]
    return sheet_id


def rewrite(rng: random.Random, writer: Writer, make: Any, share: float) -> None:
    """Update a share of the records: new values (fixing or breaking cells), duplicate emails."""
    items: dict[str, tuple[Sent, Expect]] = {}
    for record_id in rng.sample(writer.order, int(len(writer.order) * share)):
        fresh, expect = make(rng, len(writer.order) + len(items), False)
        keys = rng.sample(sorted(fresh), rng.randint(1, min(3, len(fresh))))
        items[record_id] = ({k: fresh[k] for k in keys}, {k: expect[k] for k in keys})
    writer.update(items)


def build_people(api: httpx.Client, space_id: str, seed: int, count: int, holes: bool) -> Built:
    rng = random.Random(seed)
    writer = Writer(api, new_sheet(api, space_id, {**PEOPLE, "name": f"People {seed}"}))
    first = count * 4 // 10
    writer.insert([person(rng, n, True) for n in range(first)])  # the columnar path
    writer.insert([person(rng, n, False) for n in range(first, count * 8 // 10)])  # the row path
    rewrite(rng, writer, person, 0.15)
    if holes:
        by_email: dict[str, list[str]] = {}
        for record_id in writer.order:
            by_email.setdefault(str(writer.sent[record_id].get("email")), []).append(record_id)
        holders = [ids[0] for e, ids in by_email.items() if len(ids) > 1 and e][:4]  # their duplicates heal
        doomed = sorted(set(rng.sample(writer.order, len(writer.order) // 10)) | set(holders))
        writer.delete_ids(doomed[: len(doomed) // 2])
        writer.delete_ids(doomed[len(doomed) // 2 :])
        # a delete by selection: the model says which records it takes
        selection = Query(filter="error", filter_field="born")
        before = writer.listing()
        taken = [r.id for r in model.selected(before, selection, writer.commits)]
        assert taken, "the data should hold invalid dates"
        writer.delete(selection.params(), taken)
    writer.insert([person(rng, n, False) for n in range(count * 8 // 10, count)])
    rewrite(rng, writer, person, 0.03)
    return writer.built("holes" if holes else "dense", tuple(f["key"] for f in PEOPLE["fields"]))


def build_orders(api: httpx.Client, space_id: str, seed: int, count: int) -> Built:
    rng = random.Random(seed)
    writer = Writer(api, new_sheet(api, space_id, ORDERS))
    writer.insert([order(rng, n, True) for n in range(count // 2)])
    writer.insert([order(rng, n, False) for n in range(count // 2, count)])
    writer.delete_ids(rng.sample(writer.order, count // 8))
    rewrite(rng, writer, order, 0.1)
    writer.delete_ids(writer.order[::17])
    return writer.built("orders", tuple(f["key"] for f in ORDERS["fields"]))


@pytest.fixture(scope="module")
def api(platform: Platform) -> Iterator[httpx.Client]:
    with platform.client(timeout=60) as client:
        yield client


@pytest.fixture(scope="module")
def space_id(api: httpx.Client) -> str:
    space = api.post("/spaces", json={"name": "records property"})
    assert space.status_code == 200, space.text
    found: str = space.json()["data"]["id"]
    return found


@pytest.fixture(scope="module")
def sheets(api: httpx.Client, space_id: str) -> dict[str, Built]:
    built = [
        build_people(api, space_id, seed=1, count=400, holes=False),
        build_people(api, space_id, seed=2, count=700, holes=True),
        build_orders(api, space_id, seed=3, count=320),
    ]
    return {b.name: b for b in built}


# ---- queries and their comparison --------------------------------------------------------------


def _texts(built: Built) -> list[str]:
    return sorted(
        {t for r in built.rows for c in r.cells.values() if (t := model.pg_text(c.get("value"))) not in (None, "")}
    )


@st.composite
def search_values(draw: st.DrawFn, built: Built) -> str:
    texts = _texts(built)
    kind = draw(st.sampled_from(["substring", "substring", "exact", "constant"]))
    if kind == "constant" or not texts:
        return draw(st.sampled_from(SEARCH_CONSTANTS))
    text = draw(st.sampled_from(texts))
    if kind == "exact":
        return f'"{text.upper() if draw(st.booleans()) and draw(st.booleans()) else text}"'
    start = draw(st.integers(0, len(text) - 1))
    end = draw(st.integers(start + 1, len(text)))
    part = text[start:end]
    return draw(st.sampled_from([part, part.upper(), part.title()]))


@st.composite
def queries(draw: st.DrawFn, built: Built) -> Query:
    """A random selection, order and shape over `built` (paging is drawn once it is evaluated)."""
    keys = st.sampled_from(built.keys)
    known = [r.id for r in built.rows] + [d.id for d in built.deleted[:20]]
    ids = st.lists(st.sampled_from(known), max_size=12, unique=True) if known else st.just([])
    return Query(
        filter=draw(st.sampled_from([None, None, "valid", "error", "error", "all", "none"])),
        filter_field=draw(st.none() | st.none() | keys),
        search_value=draw(st.none() | st.none() | search_values(built)),
        search_field=draw(st.none() | keys),
        sort_field=draw(st.none() | st.none() | keys),
        sort_direction=draw(st.sampled_from([None, "asc", "desc", "DESC"])),
        ids=tuple(draw(ids)) if draw(st.booleans()) else (),
        ids_repeated=draw(st.booleans()),
        since_commit_id=draw(st.none() | st.sampled_from(built.commits)),
        page_size=draw(st.sampled_from(PAGE_SIZES)),
        fields=tuple(draw(st.lists(keys, max_size=3, unique=True))),
        include_messages=draw(st.sampled_from([None, True, False])),
        include_counts=draw(st.booleans()),
    )


def _show(record: dict[str, Any] | None) -> str:
    return "nothing" if record is None else str(record)


def check_page(api: httpx.Client, built: Built, query: Query) -> list[str]:
    """Ask one page; fail naming the params and the first differing position. -> the page's ids."""
    params = query.params()
    reply = api.get(f"/sheets/{built.sheet_id}/records", params=params)
    where = f"sheet {built.name}, params {params}"
    assert reply.status_code == 200, f"{where}: {reply.status_code} {reply.text[:300]}"
    data = reply.json()["data"]
    got: list[dict[str, Any]] = data["records"]
    expected = model.answer(built.rows, built.deleted, query, built.commits)
    at = model.first_difference([r["id"] for r in expected], [r["id"] for r in got])
    if at is None:
        at = model.first_difference(expected, got)
    if at is not None:
        raise AssertionError(
            f"{where}: records differ first at position {at} (expected {len(expected)} records, got {len(got)}):\n"
            f"  expected {_show(expected[at] if at < len(expected) else None)}\n"
            f"  got      {_show(got[at] if at < len(got) else None)}"
        )
    if query.include_counts:
        want_counts = model.counts(model.selected(built.rows, query, built.commits))
        found_counts = {k: data["counts"][k] for k in ("total", "valid", "error")}
        assert found_counts == want_counts, f"{where}: counts expected {want_counts}, got {data['counts']}"
    else:
        assert "counts" not in data, f"{where}: counts without includeCounts"
    return [r["id"] for r in got]


def check_counts(api: httpx.Client, built: Built, query: Query, by_field: bool) -> None:
    selection = Query(
        filter=query.filter,
        filter_field=query.filter_field,
        search_value=query.search_value,
        search_field=query.search_field,
        ids=query.ids,
        ids_repeated=query.ids_repeated,
        since_commit_id=query.since_commit_id,
    )
    params = selection.params() + ((("byField", "true"),) if by_field else ())
    reply = api.get(f"/sheets/{built.sheet_id}/counts", params=params)
    where = f"sheet {built.name}, counts params {params}"
    assert reply.status_code == 200, f"{where}: {reply.status_code} {reply.text[:300]}"
    found = reply.json()["data"]["counts"]
    expected: dict[str, Any] = {
        **model.counts(model.selected(built.rows, selection, built.commits)),
        "errorsByField": model.errors_by_field(built.rows),
    }
    if by_field:
        expected["byField"] = model.by_field(built.rows, built.keys)
    assert found == expected, f"{where}:\n  expected {expected}\n  got      {found}"


@st.composite
def asks(draw: st.DrawFn, built: Built) -> tuple[Query, bool]:
    """A query with its page (drawn once the model counts its pages) and whether counts ask byField."""
    query = draw(queries(built), label="query")
    total = len(model.selected(built.rows, query, built.commits))
    size = 10_000 if query.page_size is None else query.page_size
    last = max(1, math.ceil(total / size))
    pages = st.integers(1, last + 1) | st.integers(2, last + 1) | st.integers(max(1, last - 2), last + 1)
    number = draw(st.none() | pages, label="page")
    return replace(query, page_number=number), draw(st.booleans(), label="byField")


def check_query(api: httpx.Client, built: Built, asked: Query, by_field: bool) -> None:
    """The asked page of a query, the page after it (from the first one's cursor), the counts."""
    number = asked.page_number or 1
    selected = model.selected(built.rows, asked, built.commits)
    event(f"{built.name}: {'sorted' if asked.sort_field else 'row order'}, page {'1' if number == 1 else 'n'}")
    event("answer: " + ("none" if not selected else "all" if len(selected) == len(built.rows) else "some"))
    if model.tombstones(built.rows, built.deleted, asked, built.commits):
        event("deleted records on the page")
    first = check_page(api, built, asked)
    second = check_page(api, built, replace(asked, page_number=number + 1))
    assert not set(first) & set(second), f"sheet {built.name}: pages overlap for {asked.params()}"
    check_counts(api, built, asked, by_field)


PROPERTY = settings(
    max_examples=100,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    # no shrinking: each step is HTTP requests (minutes); a failure names its params and position
    phases=[Phase.explicit, Phase.generate],
    report_multiple_bugs=False,
)


@PROPERTY
@given(data=st.data())
def test_records_api_answers_as_the_model(api: httpx.Client, sheets: dict[str, Built], data: st.DataObject) -> None:
    built = sheets[data.draw(st.sampled_from(sorted(sheets)), label="sheet")]
    asked, by_field = data.draw(asks(built), label="ask")  # every draw before the first request
    check_query(api, built, asked, by_field)


def test_the_sheets_hold_what_the_property_needs(sheets: dict[str, Built]) -> None:
    """The data is rich enough to judge the API: errors on many fields, holes, empty cells."""
    for built in sheets.values():
        assert len(built.rows) > 250
        assert 0 < model.counts(list(built.rows))["error"] < len(built.rows)
        assert len(built.commits) >= 4
    holes = sheets["holes"]
    assert set(model.errors_by_field(list(holes.rows))) >= {"name", "email", "age", "active", "tier"}
    assert len(holes.deleted) > 50
    assert not sheets["dense"].deleted
    assert any(not r.value("note")[0] for r in holes.rows)  # no cell: sorts last
    assert any(r.value("note") == (True, None) for r in holes.rows)  # a null cell: sorts first


@pytest.mark.parametrize(
    ("name", "query"),
    [
        ("dense", Query(page_size=37)),  # arithmetic: the sheet never lost a row
        ("holes", Query(page_size=37)),  # index skip, then the cursor of the previous page
        ("holes", Query(filter="error", page_size=11)),
        ("holes", Query(sort_field="note", page_size=23)),  # keyset (value, row), into the empty cells
        ("holes", Query(sort_field="note", sort_direction="desc", page_size=23)),
        ("holes", Query(sort_field="tags", page_size=29)),  # arrays, [] below null
        ("holes", Query(sort_field="age", sort_direction="desc", search_value="1", page_size=13)),
        ("orders", Query(sort_field="qty", filter="valid", page_size=17)),
    ],
)
def test_walking_every_page_is_the_whole_answer(
    api: httpx.Client, sheets: dict[str, Built], name: str, query: Query
) -> None:
    """Every page from the last to the first (random access, no cursor yet: arithmetic, an index
    skip, or OFFSET when sorted), then page after page (each from the previous page's cursor),
    each equal to the model's page."""
    built = sheets[name]
    expected = [r.id for r in model.selected(built.rows, query, built.commits)]
    size = query.page_size or 10_000
    pages = math.ceil(len(expected) / size) + 1
    backward = [check_page(api, built, replace(query, page_number=n)) for n in range(pages, 0, -1)]
    assert [i for p in reversed(backward) for i in p] == expected
    forward = [i for n in range(1, pages + 1) for i in check_page(api, built, replace(query, page_number=n))]
    assert forward == expected


@pytest.mark.parametrize("name", ["holes", "orders"])
def test_since_every_commit_with_the_deleted_records(api: httpx.Client, sheets: dict[str, Built], name: str) -> None:
    """`sinceCommitId` of every commit of the sheet: the changed records, then on the last page the
    records deleted since (limited by `ids`: included, or excluded with `filter=all`)."""
    built = sheets[name]
    deleted = [d.id for d in built.deleted]
    some = (deleted[0], deleted[-1], built.rows[0].id, built.rows[-1].id)
    seen = 0
    for commit in built.commits:
        for query in (
            Query(since_commit_id=commit),
            Query(since_commit_id=commit, page_size=50, page_number=2),
            Query(since_commit_id=commit, ids=some),
            Query(since_commit_id=commit, ids=some, filter="all", sort_field=built.keys[1], page_size=7),
            Query(since_commit_id=commit, filter="none", include_counts=True),
            Query(since_commit_id=commit, filter="valid"),  # no deleted records
        ):
            total = len(model.selected(built.rows, query, built.commits))
            size = query.page_size or 10_000
            for number in sorted({query.page_number or 1, total // size + 1}):
                asked = replace(query, page_number=number)
                check_page(api, built, asked)
                seen += len(model.tombstones(built.rows, built.deleted, asked, built.commits))
            check_counts(api, built, query, by_field=False)  # counts hold no deleted record
    assert seen > len(deleted)  # deleted records were on the pages compared


# ---- a small random sheet per example ----------------------------------------------------------

VALUES: dict[str, list[Any]] = {
    "string": ["", "a", "ab", "abc", "b", "ba", "zz9", "x1", None, 5, True],
    "number": [0, 1, 7, -3, 1.5, "7", "1,000", "abc", "", None, True],
    "boolean": [True, False, "yes", "no", "maybe", 1, None, ""],
    "date": ["2020-01-02", "1999-12-31", "2020-1-2", "soon", "03/02/1990", "", None],
    "enum": ["gold", "Gold", "silver", "platinum", "", None],
    "string-list": [["a", "b"], "a, b", [], "", ["b"], "c", None, ["a", "b", "c"]],
}


@st.composite
def blueprints(draw: st.DrawFn) -> dict[str, Any]:
    types = draw(st.lists(st.sampled_from(sorted(VALUES)), min_size=1, max_size=5))
    fields = []
    for n, kind in enumerate(types):
        spec: dict[str, Any] = {"key": f"f{n}", "type": kind}
        if kind == "enum":
            spec["config"] = TIER["config"]
        constraints = []
        if draw(st.booleans()) and draw(st.booleans()):
            constraints.append({"type": "required"})
        if kind in ("string", "number") and draw(st.booleans()):
            constraints.append({"type": "unique"})
        if constraints:
            spec["constraints"] = constraints
        fields.append(spec)
    return {"name": "Random", "fields": fields}


@st.composite
def random_rows(draw: st.DrawFn, blueprint: dict[str, Any], most: int) -> list[tuple[Sent, Expect]]:
    keys = [(f["key"], f["type"]) for f in blueprint["fields"]]
    every_key = draw(st.booleans())  # True: often the columnar path
    rows = []
    for _ in range(draw(st.integers(1, most))):
        sent: Sent = {}
        for key, kind in keys:
            if every_key or draw(st.integers(0, 4)):  # some records send no cell
                sent[key] = draw(st.sampled_from(VALUES[kind]))
        expect: Expect = dict.fromkeys(sent, None)
        rows.append((sent, expect))
    return rows


@settings(PROPERTY, max_examples=8)
@given(data=st.data())
def test_a_random_sheet_answers_as_the_model(api: httpx.Client, space_id: str, data: st.DataObject) -> None:
    blueprint = data.draw(blueprints(), label="blueprint")
    writer = Writer(api, new_sheet(api, space_id, blueprint))
    writer.insert(data.draw(random_rows(blueprint, 30), label="rows"))
    update, delete = data.draw(st.booleans(), label="update"), data.draw(st.booleans(), label="delete")
    if writer.order and update:
        chosen = data.draw(st.lists(st.sampled_from(writer.order), min_size=1, max_size=6, unique=True))
        fresh = data.draw(random_rows(blueprint, 1).filter(lambda r: bool(r[0][0])), label="values")
        writer.update(dict.fromkeys(chosen, fresh[0]))
    if writer.order and delete:
        writer.delete_ids(data.draw(st.lists(st.sampled_from(writer.order), min_size=1, max_size=8, unique=True)))
    if data.draw(st.booleans(), label="insert again"):
        writer.insert(data.draw(random_rows(blueprint, 10), label="more rows"))
    built = writer.built("random", tuple(f["key"] for f in blueprint["fields"]))
    for asked, by_field in data.draw(st.lists(asks(built), min_size=5, max_size=5), label="asks"):
        check_query(api, built, asked, by_field)


def test_a_record_without_cells_is_inserted(api: httpx.Client, space_id: str) -> None:
    """Found by the random sheets: records that send no cell were dropped when no record sent one
    (a frame of no columns has no rows); more in test_e2e_empty_records."""
    writer = Writer(api, new_sheet(api, space_id, {"name": "Empty", "fields": [{"key": "a", "type": "string"}]}))
    assert len(writer.insert([({}, {}), ({}, {})])) == 2


def test_a_commit_is_searched_as_the_live_records(api: httpx.Client, space_id: str) -> None:
    """`searchValue` reads a list cell as Postgres' `->>` prints it (`["a", "b"]`) on the live
    records; with `commitId` (`at_commit.pg_text`) the same search finds the same record."""
    blueprint = {"name": "Lists", "fields": [{"key": "tags", "type": "string-list"}]}
    writer = Writer(api, new_sheet(api, space_id, blueprint))
    (record_id,) = writer.insert([({"tags": ["a", "b"]}, {})])
    search = {"searchField": "tags", "searchValue": '"a", "b'}
    live = api.get(f"/sheets/{writer.sheet_id}/records", params=search).json()["data"]["records"]
    assert [r["id"] for r in live] == [record_id]
    at_commit = {**search, "commitId": writer.commits[-1]}
    written = api.get(f"/sheets/{writer.sheet_id}/records", params=at_commit).json()["data"]["records"]
    assert [r["id"] for r in written] == [record_id]
