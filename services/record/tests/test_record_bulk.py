"""The columnar bulk path (`ImportRecords`, `MapRecords`, the columnar `InsertRecords`) on the
in-memory event store and a folded read model: no servers.

Each test drives the handlers as the RPC entrypoint would and checks the reply against the events
that landed in the store (and what the read model folded from them).
"""

from __future__ import annotations

from typing import Any

import msgspec
import pyarrow as pa
import pytest

from record_service.application import bulk, writes
from record_service.application.bulk import BulkHandlers, write_ipc
from record_service.application.context import Context
from record_service.application.writes import WriteHandlers
from record_service.bootstrap import EVENTS
from record_service.testing import FoldedRecords, context
from spaceport import ids
from spaceport.claimcheck import Payload
from spaceport.contracts.blueprint import SheetConfig
from spaceport.contracts.record import (
    MAX_RECORDS_PER_WRITE,
    CommitCreated,
    CommitSource,
    DeleteRecords,
    FieldMapping,
    ImportRecords,
    InsertRecords,
    Mapped,
    MapRecords,
    RecordQuery,
    RecordsInserted,
    StoredRecord,
    UpdateRecords,
    Written,
)
from spaceport.contracts.space import Principal, SpaceCreated
from spaceport.contracts.workbook import SheetSpec, WorkbookCreated
from spaceport.errors import PayloadTooLargeError, ValidationFailedError
from spaceport.events import EventRegistry
from spaceport.memstore import InMemoryEventStore
from spaceport.ports import AggregateRef

pytestmark = pytest.mark.unit


@pytest.fixture(autouse=True)
def columnar_inserts(monkeypatch: pytest.MonkeyPatch) -> None:
    """These tests' inserts are a few records: on the columnar path all the same (it starts at
    `writes.COLUMNAR_MIN` records, 500, in production)."""
    monkeypatch.setattr(writes, "COLUMNAR_MIN", 1)


ENV, SPACE, WORKBOOK = "us_env_t", "us_sp_t", "us_wb_t"
PEOPLE, OTHERS, PLAIN, SOURCE, DEST = "us_sh_people", "us_sh_others", "us_sh_plain", "us_sh_source", "us_sh_dest"
ME = Principal(environment_id=ENV, kind="secret", actor="us_key_1")
TIERS = {"options": [{"value": "gold", "label": "Gold"}, {"value": "silver", "label": "Silver"}]}
PEOPLE_CONFIG = msgspec.convert(
    {
        "name": "People",
        "fields": [
            {"key": "name", "type": "string", "constraints": [{"type": "required"}]},
            {"key": "email", "type": "string", "constraints": [{"type": "unique"}]},
            {"key": "age", "type": "number"},
            {"key": "tier", "type": "enum", "config": TIERS},
            {"key": "ok", "type": "boolean"},
        ],
    },
    SheetConfig,
)
PLAIN_CONFIG = msgspec.convert(
    {"name": "Plain", "fields": [{"key": "note", "type": "string"}, {"key": "count", "type": "number"}]},
    SheetConfig,
)
SOURCE_CONFIG = msgspec.convert(
    {
        "name": "Source",
        "fields": [
            {"key": "name", "type": "string"},
            {"key": "mail", "type": "string"},
            {"key": "age", "type": "string"},
            {"key": "level", "type": "string"},
        ],
    },
    SheetConfig,
)
DEST_CONFIG = msgspec.convert(
    {
        "name": "Dest",
        "fields": [
            {"key": "full_name", "type": "string"},
            {"key": "email", "type": "string", "constraints": [{"type": "unique"}]},
            {"key": "years", "type": "number"},
            {"key": "tier", "type": "enum", "config": TIERS},
            {"key": "country", "type": "string", "constraints": [{"type": "required"}]},
        ],
    },
    SheetConfig,
)
SPACE_REF = AggregateRef(environment_id=ENV, space_id=SPACE, aggregate="space", aggregate_id=SPACE)
_stored = msgspec.json.Decoder(RecordsInserted | CommitCreated)

# the same five people as JSON values and as Arrow columns
ROWS: list[dict[str, Any]] = [
    {"name": "Ann", "email": "ann@x.io", "age": "31", "tier": "gold", "ok": "true"},
    {"name": "", "email": "bob@x.io", "age": "x", "tier": "Gold", "ok": "no"},
    {"name": "Cy", "email": "ANN@x.io", "age": "7.5", "tier": "bronze", "ok": "maybe"},
    {"name": None, "email": None, "age": None, "tier": None, "ok": None},
    {"name": 'Dé "q", z\nline', "email": "d@x.io", "age": "1e3", "tier": "Silver", "ok": "FALSE"},
]
SOURCE_ROWS: list[dict[str, Any]] = [
    {"name": "Ann", "mail": "ann@x.io", "age": "31", "level": "Gold"},
    {"name": "Bob", "mail": "bob@x.io", "age": "x", "level": "Silver"},
    {"name": "Cy", "mail": "ann@x.io", "age": "7", "level": "Bronze"},
    {"name": "Di", "mail": None, "age": None, "level": None},
    {"name": "Ed", "mail": "ed@x.io", "age": "50", "level": "Gold"},
]
FIELDS = [
    FieldMapping(source="name", destination="full_name"),
    FieldMapping(source="mail", destination="email"),
    FieldMapping(source="age", destination="years"),
    FieldMapping(source="level", destination="tier", values={"Gold": "gold", "Silver": "silver"}),
]


@pytest.fixture
async def store() -> InMemoryEventStore:
    """A live space with one workbook of five sheets (People, Others: same fields; Plain: no
    unique field; Source and Dest: a mapping's two sides)."""
    memory = InMemoryEventStore(EventRegistry(EVENTS))
    await memory.append(SPACE_REF, [SpaceCreated(space_id=SPACE, environment_id=ENV)], expected_version=0)
    configs = {
        PEOPLE: PEOPLE_CONFIG,
        OTHERS: PEOPLE_CONFIG,
        PLAIN: PLAIN_CONFIG,
        SOURCE: SOURCE_CONFIG,
        DEST: DEST_CONFIG,
    }
    sheets = [SheetSpec(sheet_id=s, slug=s, config=c) for s, c in configs.items()]
    created = WorkbookCreated(workbook_id=WORKBOOK, space_id=SPACE, environment_id=ENV, name="W", sheets=sheets)
    ref = AggregateRef(environment_id=ENV, space_id=SPACE, aggregate="workbook", aggregate_id=WORKBOOK)
    await memory.append(ref, [created], expected_version=0)
    return memory


# ---- helpers -----------------------------------------------------------------------------------


def ipc(rows: list[dict[str, Any]]) -> bytes:
    return write_ipc(pa.Table.from_pylist(rows))


def ipc_strings(rows: list[dict[str, Any]]) -> bytes:
    keys = list(rows[0])
    schema = pa.schema([(k, pa.string()) for k in keys])
    return write_ipc(pa.Table.from_pylist(rows, schema=schema))


async def import_ipc(
    ctx: Context, body: bytes, *, sheet: str = PEOPLE, key: str | None = None, source: CommitSource | None = None
) -> Written:
    command = ImportRecords(principal=ME, sheet_id=sheet, body=Payload(data=body), idempotency_key=key, source=source)
    return await BulkHandlers(ctx).import_records(command)


async def insert_json(
    ctx: Context, body: list[dict[str, Any]], *, sheet: str = PEOPLE, key: str | None = None
) -> Written:
    command = InsertRecords(
        principal=ME, sheet_id=sheet, body=Payload(data=msgspec.json.encode(body)), idempotency_key=key
    )
    return await WriteHandlers(ctx).insert(command)


def cells(rows: list[dict[str, Any]], **extra: Any) -> list[dict[str, Any]]:
    """Rows as an insert body of `{key: {value, ...extra}}` cells."""
    return [{k: {"value": v, **extra} for k, v in row.items()} for row in rows]


def replied(written: Written) -> list[dict[str, Any]]:
    assert written.records is not None
    found: list[dict[str, Any]] = msgspec.json.decode(written.records.data)
    return found


async def commits(store: InMemoryEventStore, sheet: str = PEOPLE) -> list[tuple[CommitCreated, list[StoredRecord]]]:
    """Every commit of `sheet` in the stream, with the records its events carry."""
    found: list[tuple[CommitCreated, list[StoredRecord]]] = []
    records: list[StoredRecord] = []
    async for message in store.read_raw(f"{store.prefix}.{SPACE}.records.{sheet}.*"):
        event = _stored.decode((await store.open(message)).data)
        if isinstance(event, CommitCreated):
            found.append((event, records))
            records = []
        else:
            records += event.records
    return found


def content(records: list[StoredRecord]) -> list[dict[str, Any]]:
    """Stored records without their ids and cell timestamps: what two writes of the same data share."""
    out = []
    for r in records:
        encoded: dict[str, Any] = msgspec.json.decode(msgspec.json.encode(r))
        encoded.pop("id")
        for cell in encoded["values"].values():
            cell.pop("updatedAt", None)
        out.append(encoded)
    return out


def as_replied(record: StoredRecord, commit_id: str | None) -> dict[str, Any]:
    """A stored record as an insert's reply shows it."""
    config: object = record.config or {}
    wire = {
        "id": record.id,
        "values": record.values,
        "valid": record.valid,
        "metadata": record.metadata,
        "config": config,
    }
    decoded: dict[str, Any] = msgspec.json.decode(msgspec.json.encode(wire))
    return {**decoded, "commitId": commit_id, "versionId": commit_id}


async def live(ctx: Context, sheet: str) -> list[StoredRecord]:
    """The sheet's records in row order, as the read model folded them."""
    model = ctx.model
    assert isinstance(model, FoldedRecords)
    await model.catch_up(1.0)
    async with model.session() as q:
        selected = await q.matching(await ctx.sheet(sheet), RecordQuery())
        found = await q.current(sheet, selected)
    return [found[i] for i in selected]


# ---- ImportRecords -----------------------------------------------------------------------------


@pytest.mark.parametrize("typed", [False, True], ids=["string-columns", "typed-columns"])
async def test_import_stores_what_an_insert_of_the_same_json_stores(store: InMemoryEventStore, typed: bool) -> None:
    ctx = context(store)
    rows = ROWS
    if typed:
        rows = [
            {"name": "Ann", "email": "a@x.io", "age": 31, "tier": "gold", "ok": True},
            {"name": "Bo", "email": "A@x.io", "age": None, "tier": "silver", "ok": False},
            {"name": None, "email": "c@x.io", "age": -2, "tier": None, "ok": None},
        ]
    body = ipc(rows) if typed else ipc_strings(rows)
    imported = await import_ipc(ctx, body, key="k1")
    inserted = await insert_json(ctx, cells(rows), sheet=OTHERS, key="k1")
    [(commit, stored)] = await commits(store)
    [(_, expected)] = await commits(store, OTHERS)
    assert (imported.commit_id, imported.record_count) == (commit.commit_id, len(rows))
    assert imported.commit_id == ids.derived_id("commit", f"{PEOPLE}:k1")
    assert imported.records is None  # a bulk import replies without its records
    assert imported.position < inserted.position
    assert content(stored) == content(expected)
    assert [r.id for r in stored] == ids.derived_ids("record", f"{PEOPLE}:k1", len(rows))
    assert [(r.valid, r.error_fields) for r in stored] == [(r.valid, r.error_fields) for r in expected]
    assert [r.id for r in await live(ctx, PEOPLE)] == [r.id for r in stored]
    if not typed:
        assert [r.valid for r in stored] == [True, False, False, False, True]
        assert stored[2].values["email"].messages[0].source == "unique-constraint"  # ann ignores case
        assert stored[1].error_fields == ["name", "age"]


async def test_import_reply_position_is_the_commit_event(store: InMemoryEventStore) -> None:
    ctx = context(store)
    written = await import_ipc(ctx, ipc_strings(ROWS[:2]))
    assert written.position == await store.last_seq()
    assert written.record_count == 2
    assert written.records is None


async def test_import_of_no_rows_writes_nothing(store: InMemoryEventStore) -> None:
    ctx = context(store)
    before = await store.last_seq()
    empty = write_ipc(pa.table({"name": pa.array([], pa.string())}))
    written = await import_ipc(ctx, empty)
    assert (written.commit_id, written.record_count) == (None, 0)
    assert await store.last_seq() == before


@pytest.mark.parametrize(
    ("body", "refusal"),
    [
        (b"", ValidationFailedError),
        (b"not an arrow stream", ValidationFailedError),
        (b'[{"name": {"value": "a"}}]', ValidationFailedError),
        (write_ipc(pa.table({"name": ["a"], "nickname": ["b"]})), ValidationFailedError),
        (write_ipc(pa.table({"name": ["a"] * (MAX_RECORDS_PER_WRITE + 1)})), PayloadTooLargeError),
    ],
    ids=["empty", "garbage", "json", "unknown-column", "too-many-rows"],
)
async def test_import_refuses_a_bad_body_and_writes_nothing(
    store: InMemoryEventStore, body: bytes, refusal: type[Exception]
) -> None:
    ctx = context(store)
    before = await store.last_seq()
    with pytest.raises(refusal):
        await import_ipc(ctx, body, key="k1")
    assert await store.last_seq() == before
    assert await commits(store) == []


async def test_unknown_column_names_the_column(store: InMemoryEventStore) -> None:
    ctx = context(store)
    with pytest.raises(ValidationFailedError, match="nickname"):
        await import_ipc(ctx, write_ipc(pa.table({"name": ["a"], "nickname": ["b"]})))


async def test_import_retried_with_its_key_commits_once(store: InMemoryEventStore) -> None:
    ctx = context(store)
    body = ipc_strings(ROWS)
    first = await import_ipc(ctx, body, key="k1")
    again = await import_ipc(ctx, body, key="k1")
    [(commit, stored)] = await commits(store)
    assert (again.commit_id, again.position, again.record_count) == (first.commit_id, first.position, 5)
    assert again.commit_id == commit.commit_id
    assert [r.id for r in stored] == ids.derived_ids("record", f"{PEOPLE}:k1", 5)
    assert sorted(r.id for r in await live(ctx, PEOPLE)) == sorted(r.id for r in stored)


async def test_import_retried_on_a_lagging_model_commits_once(store: InMemoryEventStore) -> None:
    """The retry's read model never saw the first commit: the store reports the append a duplicate."""
    ctx = context(store, lagging=True)
    body = ipc_strings(ROWS[:2])
    first = await import_ipc(ctx, body, key="k1")
    again = await import_ipc(context(store, lagging=True), body, key="k1")
    assert (again.commit_id, again.position, again.record_count) == (first.commit_id, first.position, 2)
    assert len(await commits(store)) == 1


# ---- InsertRecords: the columnar path and the row path -----------------------------------------


@pytest.mark.parametrize("different_keys", [False, True], ids=["messages", "different-keys"])
async def test_the_columnar_and_the_row_path_store_the_same_records(
    store: InMemoryEventStore, different_keys: bool
) -> None:
    """The row path is taken for cells with messages of their own (here none) or for records of
    different fields (here: null cells left out); both store what the columnar path stores."""
    ctx = context(store)
    if different_keys:
        row_body = [{k: {"value": v} for k, v in row.items() if v is not None} for row in ROWS]
    else:
        row_body = cells(ROWS, messages=[])
    columnar = await insert_json(ctx, cells(ROWS), key="c")
    rows = await insert_json(ctx, row_body, sheet=OTHERS, key="c")
    [(_, by_columns)] = await commits(store)
    [(_, by_rows)] = await commits(store, OTHERS)
    got, want = content(by_columns), content(by_rows)
    if different_keys:
        # a cell left out is not stored (but for the required name); a null value is a null cell
        for g, w in zip(got, want, strict=True):
            extra = {k: c for k, c in g["values"].items() if k not in w["values"]}
            assert all(c == {"value": None, "valid": True, "messages": []} for c in extra.values()), extra
            g["values"] = {k: c for k, c in g["values"].items() if k in w["values"]}
    assert got == want
    assert [r.id for r in by_columns] == ids.derived_ids("record", f"{PEOPLE}:c", 5)
    for written, stored in ((columnar, by_columns), (rows, by_rows)):
        assert written.record_count == 5
        reply = replied(written)
        assert [r["id"] for r in reply] == [r.id for r in stored]
        assert [r["commitId"] for r in reply] == [written.commit_id] * 5
        assert reply == [as_replied(r, written.commit_id) for r in stored]


async def test_the_columnar_insert_replies_with_the_records_it_stored(store: InMemoryEventStore) -> None:
    ctx = context(store)
    written = await insert_json(ctx, cells(ROWS))
    [(commit, stored)] = await commits(store)
    assert written.commit_id == commit.commit_id
    assert written.record_count == 5
    assert replied(written) == [as_replied(r, commit.commit_id) for r in stored]


async def test_the_row_path_takes_cells_with_metadata(store: InMemoryEventStore) -> None:
    ctx = context(store)
    body = cells(ROWS[:1])
    body[0]["name"]["metadata"] = {"from": "test"}
    written = await insert_json(ctx, body)
    (record,) = replied(written)
    assert record["metadata"] == {"from": "test"}


# ---- inserts without unique keys overlap the projection ----------------------------------------


async def test_two_inserts_without_uniques_do_not_wait_for_the_projection(store: InMemoryEventStore) -> None:
    ctx = context(store, lagging=True)
    first = await insert_json(ctx, cells([{"note": "a", "count": 1}, {"note": "b", "count": 2}]), sheet=PLAIN)
    model = ctx.model
    assert isinstance(model, FoldedRecords)
    second = await insert_json(ctx, cells([{"note": "c", "count": 3}]), sheet=PLAIN)
    # the read model never applied the first commit: the second was not waiting for it
    assert model.position < first.position
    assert model.catch_ups == 1  # the unknown sheet at the first write; no conflict at the second
    assert first.position < second.position
    assert ctx.written[PLAIN] == second.position
    landed = await commits(store, PLAIN)
    assert [c.commit_id for c, _ in landed] == [first.commit_id, second.commit_id]
    assert [[r.values["note"].value for r in records] for _, records in landed] == [["a", "b"], ["c"]]
    assert [r.values["note"].value for r in await live(ctx, PLAIN)] == ["a", "b", "c"]


def _email_errors(written: Written) -> list[list[str]]:
    return [[m["source"] for m in r["values"]["email"]["messages"]] for r in replied(written)]


async def test_unique_inserts_overlap_and_still_flag_duplicates(store: InMemoryEventStore) -> None:
    """The second insert does not wait for the first one's projection: the value the first one
    claimed is held in memory, so the duplicate is flagged all the same (row and columnar path)."""
    ctx = context(store, lagging=True)
    first = await insert_json(ctx, cells([{"name": "A", "email": "a@x.io"}]))
    second = await insert_json(ctx, cells([{"name": "B", "email": "A@X.IO"}, {"name": "C", "email": "c@x.io"}]))
    third = await import_ipc(ctx, ipc_strings([{"name": "D", "email": "c@x.io"}, {"name": "E", "email": "e@x.io"}]))
    model = ctx.model
    assert isinstance(model, FoldedRecords)
    assert model.position < first.position  # nothing was waited for
    assert _email_errors(first) == [[]]
    assert _email_errors(second) == [["unique-constraint"], []]
    stored = {r.values["name"].value: r for r in await live(ctx, PEOPLE)}
    assert not stored["D"].valid and stored["E"].valid and third.record_count == 2
    assert stored["B"].waits == {"email": "a@x.io"} and stored["D"].waits == {"email": "c@x.io"}


async def test_an_update_settles_the_sheet_and_forgets_the_claims_in_memory(store: InMemoryEventStore) -> None:
    ctx = context(store, lagging=True)
    first = await insert_json(ctx, cells([{"name": "A", "email": "a@x.io"}]))
    [record] = replied(first)
    body = msgspec.json.encode([{"id": record["id"], "values": {"email": {"value": "z@x.io"}}}])
    await WriteHandlers(ctx).update(UpdateRecords(principal=ME, sheet_id=PEOPLE, body=Payload(data=body)))
    assert ctx.claimed.get(PEOPLE) is None
    again = await insert_json(ctx, cells([{"name": "B", "email": "a@x.io"}]))
    assert _email_errors(again) == [[]]  # a@x.io was given up by the update


async def test_keyed_inserts_overlap_the_projection_and_a_retry_commits_once(store: InMemoryEventStore) -> None:
    """A mapping's pages (inserts with idempotency keys) do not wait for the previous page's
    projection; a page retried before its first attempt is projected is answered from memory
    with that commit, and nothing is written twice (row and columnar path alike)."""
    ctx = context(store, lagging=True)
    model = ctx.model
    assert isinstance(model, FoldedRecords)
    first = await insert_json(ctx, cells([{"note": "a", "count": 1}]), sheet=PLAIN, key="p1")
    second = await import_ipc(ctx, ipc([{"note": "b", "count": 2}]), sheet=PLAIN, key="p2")
    assert model.position < first.position  # the second did not wait for the first's projection
    again = await insert_json(ctx, cells([{"note": "a", "count": 1}]), sheet=PLAIN, key="p1")
    assert model.position < second.position  # nor did the retry
    assert (again.commit_id, again.position, again.record_count) == (first.commit_id, first.position, 1)
    landed = await commits(store, PLAIN)
    assert [c.commit_id for c, _ in landed] == [first.commit_id, second.commit_id]
    assert [r.values["note"].value for r in await live(ctx, PLAIN)] == ["a", "b"]


async def test_a_keyed_insert_after_another_write_settles_first(store: InMemoryEventStore) -> None:
    """An update forgets the keys held in memory: the next keyed insert waits for the projection
    and finds an earlier key in the read model instead."""
    ctx = context(store, lagging=True)
    model = ctx.model
    assert isinstance(model, FoldedRecords)
    first = await insert_json(ctx, cells([{"note": "a", "count": 1}]), sheet=PLAIN, key="p1")
    [record] = await live(ctx, PLAIN)
    await WriteHandlers(ctx).update(
        UpdateRecords(
            principal=ME,
            sheet_id=PLAIN,
            body=Payload(data=msgspec.json.encode([{"id": record.id, "values": {"note": {"value": "z"}}}])),
        )
    )
    assert ctx.own_keys(PLAIN) == {}  # the update settled: tracking starts afresh
    again = await insert_json(ctx, cells([{"note": "a", "count": 1}]), sheet=PLAIN, key="p1")
    assert again.commit_id == first.commit_id
    assert [r.values["note"].value for r in await live(ctx, PLAIN)] == ["z"]  # not inserted again


async def test_another_writer_freeing_a_value_is_seen_after_the_conflict(store: InMemoryEventStore) -> None:
    """A inserts a@x.io (held in A's memory); B deletes that record, freeing the value; A's next
    insert of a@x.io is refused by the append guard, forgets its claims, catches up and finds the
    value free."""
    a, b = context(store, lagging=True), context(store)
    [record] = replied(await insert_json(a, cells([{"name": "A", "email": "a@x.io"}])))
    await b.catch_up()
    await WriteHandlers(b).delete(DeleteRecords(principal=ME, sheet_id=PEOPLE, ids=[record["id"]]))
    again = await insert_json(a, cells([{"name": "B", "email": "a@x.io"}]))
    assert _email_errors(again) == [[]]
    assert [r.values["name"].value for r in await live(a, PEOPLE)] == ["B"]


async def test_overlapping_inserts_on_a_lagging_model_append_after_another_writer(store: InMemoryEventStore) -> None:
    """A (lagging) writes, B writes, A writes again: A's second insert is guarded by its own last
    commit, the append is refused, A catches up and appends after B's commit."""
    a, b = context(store, lagging=True), context(store)
    one = await insert_json(a, cells([{"note": "a1"}]), sheet=PLAIN)
    two = await insert_json(b, cells([{"note": "b1"}]), sheet=PLAIN)
    three = await insert_json(a, cells([{"note": "a2"}]), sheet=PLAIN)
    assert one.position < two.position < three.position
    landed = await commits(store, PLAIN)
    assert [c.commit_id for c, _ in landed] == [one.commit_id, two.commit_id, three.commit_id]
    model = a.model
    assert isinstance(model, FoldedRecords)
    assert model.catch_ups == 2  # the unknown sheet, then the refused append
    assert [r.values["note"].value for r in await live(a, PLAIN)] == ["a1", "b1", "a2"]


async def test_many_overlapping_inserts_keep_their_order(store: InMemoryEventStore) -> None:
    ctx = context(store, lagging=True)
    replies = [await insert_json(ctx, cells([{"note": f"n{n}", "count": n}]), sheet=PLAIN) for n in range(6)]
    assert [w.position for w in replies] == sorted(w.position for w in replies)
    assert [r.values["note"].value for r in await live(ctx, PLAIN)] == [f"n{n}" for n in range(6)]
    assert [r.values["count"].value for r in await live(ctx, PLAIN)] == list(range(6))


# ---- MapRecords --------------------------------------------------------------------------------


async def map_page(
    ctx: Context,
    after: int,
    limit: int,
    *,
    fields: list[FieldMapping] = FIELDS,
    key: str | None = None,
    source: str = SOURCE,
    destination: str = DEST,
) -> Mapped:
    command = MapRecords(
        principal=ME,
        source_sheet_id=source,
        destination_sheet_id=destination,
        fields=fields,
        after_row=after,
        limit=limit,
        idempotency_key=key,
    )
    return await BulkHandlers(ctx).map_records(command)


async def test_map_records_pages_through_the_source(store: InMemoryEventStore) -> None:
    ctx = context(store)
    await import_ipc(ctx, ipc_strings(SOURCE_ROWS), sheet=SOURCE)
    pages: list[Mapped] = []
    after = 0
    while True:
        page = await map_page(ctx, after, 2, key=f"job:map:{after}")
        pages.append(page)
        after = page.last_row
        if page.done:
            break
    assert [(p.read, p.written.record_count, p.last_row, p.done) for p in pages] == [
        (2, 2, 2, False),
        (2, 2, 4, False),
        (1, 1, 5, True),
    ]
    landed = await commits(store, DEST)
    assert [c.commit_id for c, _ in landed] == [p.written.commit_id for p in pages]
    for (_, records), start in zip(landed, (0, 2, 4), strict=True):
        assert [r.id for r in records] == ids.derived_ids("record", f"{DEST}:job:map:{start}", len(records))
    records = await live(ctx, DEST)
    assert [r.values["full_name"].value for r in records] == ["Ann", "Bob", "Cy", "Di", "Ed"]
    assert [r.values["tier"].value if "tier" in r.values else None for r in records] == [
        "gold",
        "silver",
        "Bronze",
        None,
        "gold",
    ]
    assert [r.values["tier"].valid if "tier" in r.values else True for r in records] == [True, True, False, True, True]
    assert records[0].values["years"].value == 31  # a number field: the source's text is coerced
    assert not records[1].values["years"].valid
    assert records[2].values["email"].messages[0].source == "unique-constraint"  # ann@x.io again
    # the destination's required field no source maps onto: its required error on every record
    for r in records:
        assert not r.valid
        assert "country" in r.error_fields
        assert not r.values["country"].valid
        assert r.values["country"].value is None
        assert [m.type for m in r.values["country"].messages] == ["error"]
    assert all(p.written.records is None for p in pages)


async def test_map_records_of_a_source_that_ends_on_a_page_boundary(store: InMemoryEventStore) -> None:
    ctx = context(store)
    await import_ipc(ctx, ipc_strings(SOURCE_ROWS[:4]), sheet=SOURCE)
    first = await map_page(ctx, 0, 2)
    second = await map_page(ctx, first.last_row, 2)
    third = await map_page(ctx, second.last_row, 2)
    assert [(p.read, p.last_row, p.done) for p in (first, second, third)] == [
        (2, 2, False),
        (2, 4, False),
        (0, 4, True),
    ]
    assert (third.written.commit_id, third.written.record_count) == (None, 0)
    assert len(await commits(store, DEST)) == 2


async def test_map_records_skips_deleted_source_rows(store: InMemoryEventStore) -> None:
    ctx = context(store)
    await import_ipc(ctx, ipc_strings(SOURCE_ROWS), sheet=SOURCE, key="src")
    source_ids = ids.derived_ids("record", f"{SOURCE}:src", 5)
    await WriteHandlers(ctx).delete(DeleteRecords(principal=ME, sheet_id=SOURCE, ids=source_ids[1:3]))
    first = await map_page(ctx, 0, 2)
    second = await map_page(ctx, first.last_row, 2)
    assert [(p.read, p.last_row, p.done) for p in (first, second)] == [(2, 4, False), (1, 5, True)]
    assert [r.values["full_name"].value for r in await live(ctx, DEST)] == ["Ann", "Di", "Ed"]


async def test_a_replayed_map_page_inserts_nothing_twice(store: InMemoryEventStore) -> None:
    ctx = context(store)
    await import_ipc(ctx, ipc_strings(SOURCE_ROWS), sheet=SOURCE)
    first = await map_page(ctx, 0, 2, key="job:map:0")
    again = await map_page(ctx, 0, 2, key="job:map:0")
    assert (again.read, again.last_row, again.done) == (first.read, first.last_row, first.done)
    assert (again.written.commit_id, again.written.position, again.written.record_count) == (
        first.written.commit_id,
        first.written.position,
        2,
    )
    [(commit, _)] = await commits(store, DEST)
    assert commit.commit_id == first.written.commit_id
    assert len(await live(ctx, DEST)) == 2
    # a replay on another process (its read model behind) finds the same commit
    other = await map_page(context(store, lagging=True), 0, 2, key="job:map:0")
    assert other.written.commit_id == first.written.commit_id
    assert len(await commits(store, DEST)) == 1


async def test_map_values_leave_unlisted_values_and_nulls_as_they_are(store: InMemoryEventStore) -> None:
    ctx = context(store)
    await import_ipc(ctx, ipc_strings(SOURCE_ROWS), sheet=SOURCE)
    fields = [
        FieldMapping(source="name", destination="full_name", values={"Ann": "Anne", "Bob": None}),
        FieldMapping(source="name", destination="country"),  # one source onto two destinations
    ]
    page = await map_page(ctx, 0, 10, fields=fields)
    assert page.done
    records = await live(ctx, DEST)
    assert [r.values["full_name"].value for r in records] == ["Anne", None, "Cy", "Di", "Ed"]
    assert [r.values["country"].value for r in records] == ["Ann", "Bob", "Cy", "Di", "Ed"]
    assert [r.valid for r in records] == [True] * 5


@pytest.mark.parametrize(
    ("fields", "limit"),
    [
        ([FieldMapping(source="nope", destination="full_name")], 2),
        ([FieldMapping(source="name", destination="nope")], 2),
        (
            [
                FieldMapping(source="name", destination="full_name"),
                FieldMapping(source="mail", destination="full_name"),
            ],
            2,
        ),
        ([], 2),
        (FIELDS, 0),
        (FIELDS, -1),
        (FIELDS, MAX_RECORDS_PER_WRITE + 1),
    ],
    ids=[
        "unknown-source",
        "unknown-destination",
        "two-onto-one",
        "no-fields",
        "limit-0",
        "limit-negative",
        "limit-big",
    ],
)
async def test_map_records_refuses_a_bad_mapping(
    store: InMemoryEventStore, fields: list[FieldMapping], limit: int
) -> None:
    ctx = context(store)
    await import_ipc(ctx, ipc_strings(SOURCE_ROWS), sheet=SOURCE)
    before = await store.last_seq()
    with pytest.raises(ValidationFailedError):
        await map_page(ctx, 0, limit, fields=fields)
    assert await store.last_seq() == before
    assert await commits(store, DEST) == []


@pytest.mark.parametrize("limit", [10, 3], ids=["last-page-capped", "full-pages-capped"])
async def test_map_pages_capped_by_size_lose_no_row(
    store: InMemoryEventStore, monkeypatch: pytest.MonkeyPatch, limit: int
) -> None:
    """Wide rows: a page is cut to MAX_PAGE_BYTES; the rows it read past the cut come with the
    next page, also when the page read was the source's last (found with a 1 GB import)."""
    monkeypatch.setattr(bulk, "MAX_PAGE_BYTES", 1)  # every page holds one row
    ctx = context(store)
    await import_ipc(ctx, ipc_strings(SOURCE_ROWS), sheet=SOURCE)
    pages: list[Mapped] = []
    after = 0
    while not (pages and pages[-1].done):
        page = await map_page(ctx, after, limit, key=f"job:map:{after}")
        pages.append(page)
        after = page.last_row
    assert [p.read for p in pages] == [1, 1, 1, 1, 1]
    assert [p.done for p in pages] == [False, False, False, False, True]
    assert [r.values["full_name"].value for r in await live(ctx, DEST)] == ["Ann", "Bob", "Cy", "Di", "Ed"]


async def test_a_nul_in_a_value_is_refused_and_nothing_is_written(store: InMemoryEventStore) -> None:
    """Postgres cannot store a NUL: the JSON and the Arrow path both refuse it, saying where."""
    ctx = context(store)
    with pytest.raises(ValidationFailedError, match=r"NUL character at `\$\[1\]\.note\.value`"):
        await insert_json(ctx, cells([{"note": "a"}, {"note": "b\x00"}]), sheet=PLAIN)
    with pytest.raises(ValidationFailedError, match="column 'note' has a NUL character in row 2"):
        await import_ipc(ctx, ipc([{"note": "a"}, {"note": "\x00"}]), sheet=PLAIN)
    # an extraction's batch: the file's data row and column header (runs of rows: 40,001-40,002, 90,000)
    extracted = CommitSource(job_id="us_jb_x", fields={"note": "Note (free text)"}, rows=[(40_001, 2), (90_000, 1)])
    with pytest.raises(ValidationFailedError, match=r"column 'Note \(free text\)' has a NUL character in row 90000,"):
        await import_ipc(ctx, ipc([{"note": "a"}, {"note": "b"}, {"note": "\x00"}]), sheet=PLAIN, source=extracted)
    assert await commits(store, PLAIN) == []


@pytest.mark.parametrize(("records", "columnar"), [(499, False), (500, True)])
async def test_an_insert_below_columnar_min_takes_the_row_path(
    store: InMemoryEventStore, monkeypatch: pytest.MonkeyPatch, records: int, columnar: bool
) -> None:
    monkeypatch.setattr(writes, "COLUMNAR_MIN", 500)
    taken: list[int] = []
    real = bulk.insert_frame

    async def spy(*args: Any) -> Written:
        taken.append(1)
        return await real(*args)

    monkeypatch.setattr(writes, "insert_frame", spy)
    body = [{"name": {"value": f"N{i}"}, "email": {"value": f"e{i}@x.io"}} for i in range(records)]
    written = await insert_json(context(store), body)
    assert written.record_count == records
    assert bool(taken) is columnar
