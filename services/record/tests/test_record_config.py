"""Record `config` (readonly record / cells), `ValidateSheet`, on the in-memory store: no servers.

Config is written with POST (`__c`) and PUT (`config`), carried on the record events and
enforced for restricted principals (guests, publishable keys); `validate` decides every record
again against the sheet's current config.
"""

from __future__ import annotations

from typing import Any

import msgspec
import pytest

from record_service.application import tombstones
from record_service.application.context import Context
from record_service.application.writes import WriteHandlers
from record_service.bootstrap import EVENTS
from record_service.domain import records as domain
from record_service.domain.validation import compile_schema
from record_service.testing import FoldedRecords, context
from spaceport.claimcheck import Payload
from spaceport.contracts.blueprint import SheetConfig
from spaceport.contracts.record import (
    CommitCreated,
    DeleteRecords,
    FindReplace,
    GetRecords,
    InsertRecords,
    RecordConfig,
    RecordQuery,
    RecordsInserted,
    RecordsUpdated,
    StoredRecord,
    UpdateRecords,
    ValidateSheet,
    Written,
)
from spaceport.contracts.space import Principal, SpaceCreated
from spaceport.contracts.workbook import SheetConfigChanged, SheetSpec, WorkbookCreated
from spaceport.errors import ForbiddenError, ValidationFailedError
from spaceport.events import EventRegistry, utcnow
from spaceport.memstore import InMemoryEventStore
from spaceport.ports import AggregateRef

pytestmark = pytest.mark.unit

ENV, SPACE, WORKBOOK, SHEET = "us_env_c", "us_sp_c", "us_wb_c", "us_sh_c"
SECRET = Principal(environment_id=ENV, kind="secret", actor="us_key_1")
GUEST = Principal(environment_id=ENV, kind="guest", actor="us_g_1", space_id=SPACE, role="editor")
FIELDS: list[dict[str, Any]] = [
    {"key": "name", "type": "string"},
    {"key": "email", "type": "string"},
    {"key": "age", "type": "number"},
]
WORKBOOK_REF = AggregateRef(environment_id=ENV, space_id=SPACE, aggregate="workbook", aggregate_id=WORKBOOK)
_events = msgspec.json.Decoder(RecordsInserted | RecordsUpdated | CommitCreated)


def sheet_config(fields: list[dict[str, Any]]) -> SheetConfig:
    return msgspec.convert({"name": "People", "fields": fields}, SheetConfig)


@pytest.fixture
async def store() -> InMemoryEventStore:
    memory = InMemoryEventStore(EventRegistry(EVENTS))
    space = AggregateRef(environment_id=ENV, space_id=SPACE, aggregate="space", aggregate_id=SPACE)
    await memory.append(space, [SpaceCreated(space_id=SPACE, environment_id=ENV)], expected_version=0)
    spec = SheetSpec(sheet_id=SHEET, slug="people", config=sheet_config(FIELDS))
    created = WorkbookCreated(workbook_id=WORKBOOK, space_id=SPACE, environment_id=ENV, name="W", sheets=[spec])
    await memory.append(WORKBOOK_REF, [created], expected_version=0)
    return memory


async def change_fields(store: InMemoryEventStore, fields: list[dict[str, Any]]) -> None:
    """The workbook service's PATCH of the sheet's fields, as the record service sees it."""
    version = (await store.load(WORKBOOK_REF)).version
    event = SheetConfigChanged(workbook_id=WORKBOOK, sheet_id=SHEET, config=sheet_config(fields))
    await store.append(WORKBOOK_REF, [event], expected_version=version)


async def insert(ctx: Context, rows: list[dict[str, Any]], who: Principal = SECRET) -> list[dict[str, Any]]:
    command = InsertRecords(principal=who, sheet_id=SHEET, body=Payload(data=msgspec.json.encode(rows)))
    written = await WriteHandlers(ctx).insert(command)
    assert written.records is not None
    found: list[dict[str, Any]] = msgspec.json.decode(written.records.data)
    return found


async def update(ctx: Context, items: list[dict[str, Any]], who: Principal = SECRET) -> Written:
    command = UpdateRecords(principal=who, sheet_id=SHEET, body=Payload(data=msgspec.json.encode(items)))
    return await WriteHandlers(ctx).update(command)


async def live(ctx: Context) -> dict[str, StoredRecord]:
    model = ctx.model
    assert isinstance(model, FoldedRecords)
    await model.catch_up(1.0)
    async with model.session() as q:
        return await q.current(SHEET, await q.matching(await ctx.sheet(SHEET), RecordQuery()))


async def commits(store: InMemoryEventStore) -> list[tuple[CommitCreated, list[StoredRecord]]]:
    found: list[tuple[CommitCreated, list[StoredRecord]]] = []
    records: list[StoredRecord] = []
    async for message in store.read_raw(f"{store.prefix}.{SPACE}.records.{SHEET}.*"):
        event = _events.decode((await store.open(message)).data)
        if isinstance(event, CommitCreated):
            found.append((event, records))
            records = []
        else:
            records += event.records
    return found


READONLY = {"readonly": True}
EMAIL_READONLY = {"fields": {"email": {"readonly": True}}}


# ---- config written, carried, read --------------------------------------------------------------


async def test_config_is_written_by_post_and_put_and_carried_on_the_events(store: InMemoryEventStore) -> None:
    ctx = context(store)
    plain, locked = await insert(ctx, [{"name": "Ann"}, {"name": "Bob", "__c": READONLY}])
    [(_, inserted)] = await commits(store)
    assert [r.config for r in inserted] == [None, RecordConfig(readonly=True)]
    assert "__c" not in (await live(ctx))[locked["id"]].values  # a reserved key, not a field

    await update(ctx, [{"id": plain["id"], "values": {}, "config": EMAIL_READONLY}])
    await update(ctx, [{"id": locked["id"], "values": {"name": {"value": "Bo"}}}])  # config kept
    stored = await live(ctx)
    assert msgspec.to_builtins(stored[plain["id"]].config) == EMAIL_READONLY
    assert stored[locked["id"]].config == RecordConfig(readonly=True)
    assert stored[locked["id"]].values["name"].value == "Bo"

    await update(ctx, [{"id": locked["id"], "config": {}}])  # {} clears it
    assert (await live(ctx))[locked["id"]].config is None


async def test_a_config_naming_an_unknown_field_is_refused(store: InMemoryEventStore) -> None:
    ctx = context(store)
    with pytest.raises(ValidationFailedError, match="nope"):
        await insert(ctx, [{"name": "Ann", "__c": {"fields": {"nope": {"readonly": True}}}}])
    [ann] = await insert(ctx, [{"name": "Ann"}])
    with pytest.raises(ValidationFailedError, match="nope"):
        await update(ctx, [{"id": ann["id"], "config": {"fields": {"nope": {"readonly": True}}}}])
    assert len(await commits(store)) == 1


def test_an_empty_config_is_none() -> None:
    assert domain.normal_config(RecordConfig()) is None
    assert domain.normal_config(msgspec.convert({"fields": {"a": {}}}, RecordConfig)) is None
    assert domain.normal_config(RecordConfig(marked_for_deletion=False)) == RecordConfig(marked_for_deletion=False)


def test_a_body_without_config_takes_the_plain_decoder() -> None:
    rows, configs = domain.decode_inserts(b'[{"name": {"value": "__c"}}]')
    assert configs is None and rows == [{"name": domain.InCell(value="__c")}]
    rows, configs = domain.decode_inserts(b'[{"name": "x", "__c": {"readonly": true}}, {"name": "y"}]')
    assert rows == [{"name": "x"}, {"name": "y"}]
    assert configs == [RecordConfig(readonly=True), None]
    with pytest.raises(ValidationFailedError, match=r"\$\[0\]\.__c"):
        domain.decode_inserts(b'[{"__c": {"readonly": "yes"}}]')


# ---- enforcement: guests and publishable keys ---------------------------------------------------


async def test_a_guest_may_not_change_a_readonly_record(store: InMemoryEventStore) -> None:
    ctx = context(store)
    [locked] = await insert(ctx, [{"name": "Ann", "age": 3, "__c": READONLY}])
    before = await store.last_seq()
    with pytest.raises(ForbiddenError, match="readonly"):
        await update(ctx, [{"id": locked["id"], "values": {"name": {"value": "Eve"}}}], GUEST)
    with pytest.raises(ForbiddenError, match="readonly"):  # setting an empty cell is a change too
        await update(ctx, [{"id": locked["id"], "values": {"email": {"value": "e@x.io"}}}], GUEST)
    with pytest.raises(ForbiddenError, match="readonly"):
        await WriteHandlers(ctx).find_replace(
            FindReplace(principal=GUEST, sheet_id=SHEET, field_key="name", find="Ann", replace="Eve")
        )
    assert await store.last_seq() == before  # nothing written
    # the current value again, or messages only, change no value: allowed
    await update(ctx, [{"id": locked["id"], "values": {"name": {"value": "Ann"}}}], GUEST)
    await update(
        ctx, [{"id": locked["id"], "values": {"age": {"messages": [{"message": "hm", "type": "warn"}]}}}], GUEST
    )
    # a secret key may
    await update(ctx, [{"id": locked["id"], "values": {"name": {"value": "Eve"}}}])
    assert (await live(ctx))[locked["id"]].values["name"].value == "Eve"


async def test_a_guest_may_not_change_a_readonly_cell_but_the_others(store: InMemoryEventStore) -> None:
    ctx = context(store)
    [ann] = await insert(ctx, [{"name": "Ann", "email": "a@x.io", "__c": EMAIL_READONLY}])
    before = await store.last_seq()
    with pytest.raises(ForbiddenError, match="'email'") as refused:
        await update(ctx, [{"id": ann["id"], "values": {"email": {"value": "b@x.io"}}}], GUEST)
    assert refused.value.key == "email"
    assert await store.last_seq() == before
    await update(ctx, [{"id": ann["id"], "values": {"name": {"value": "Anna"}}}], GUEST)
    stored = (await live(ctx))[ann["id"]]
    assert (stored.values["name"].value, stored.values["email"].value) == ("Anna", "a@x.io")


async def test_a_guest_may_not_set_or_change_a_config(store: InMemoryEventStore) -> None:
    ctx = context(store)
    with pytest.raises(ForbiddenError, match="config"):
        await insert(ctx, [{"name": "Ann", "__c": READONLY}], GUEST)
    [ann] = await insert(ctx, [{"name": "Ann", "__c": EMAIL_READONLY}])
    before = await store.last_seq()
    for config in (READONLY, {}, {"fields": {"email": {"readonly": False}}}):
        with pytest.raises(ForbiddenError, match="config"):
            await update(ctx, [{"id": ann["id"], "config": config}], GUEST)
    assert await store.last_seq() == before
    await update(ctx, [{"id": ann["id"], "values": {}, "config": EMAIL_READONLY}], GUEST)  # unchanged: fine
    publishable = Principal(environment_id=ENV, kind="publishable", actor="us_key_pk")
    with pytest.raises(ForbiddenError):
        await update(ctx, [{"id": ann["id"], "config": READONLY}], publishable)


async def test_a_guest_may_not_delete_a_readonly_record(store: InMemoryEventStore) -> None:
    ctx = context(store)
    free, locked = await insert(ctx, [{"name": "Ann"}, {"name": "Bob", "__c": READONLY}])
    handlers = WriteHandlers(ctx)
    before = await store.last_seq()
    with pytest.raises(ForbiddenError, match=locked["id"]):
        await handlers.delete(DeleteRecords(principal=GUEST, sheet_id=SHEET, ids=[free["id"], locked["id"]]))
    with pytest.raises(ForbiddenError, match="readonly"):
        await handlers.delete(DeleteRecords(principal=GUEST, sheet_id=SHEET, query=RecordQuery(filter="all")))
    assert await store.last_seq() == before
    await handlers.delete(DeleteRecords(principal=GUEST, sheet_id=SHEET, ids=[free["id"]]))
    await handlers.delete(DeleteRecords(principal=SECRET, sheet_id=SHEET, ids=[locked["id"]]))
    assert await live(ctx) == {}


async def test_config_survives_uniqueness_healing(store: InMemoryEventStore) -> None:
    ctx = context(store)
    await change_fields(store, [{**FIELDS[0], "constraints": [{"type": "unique"}]}, *FIELDS[1:]])
    holder, waiter = await insert(ctx, [{"name": "Ann"}, {"name": "Ann", "__c": READONLY}])
    assert not waiter["valid"]
    await update(ctx, [{"id": holder["id"], "values": {"name": {"value": "Bob"}}}])
    healed = (await live(ctx))[waiter["id"]]
    assert healed.valid and healed.config == RecordConfig(readonly=True)


# ---- validate -------------------------------------------------------------------------------------


async def validate(ctx: Context) -> tuple[list[str], int]:
    done = await WriteHandlers(ctx).validate(ValidateSheet(principal=SECRET, sheet_id=SHEET))
    return done.commit_ids, done.record_count


async def test_validate_fixes_records_a_config_change_made_valid(store: InMemoryEventStore) -> None:
    ctx = context(store)
    bad, good = await insert(ctx, [{"name": "Ann", "age": "three"}, {"name": "Bob", "age": 3, "__c": READONLY}])
    assert (bad["valid"], good["valid"]) == (False, True)
    assert await validate(ctx) == ([], 0)  # nothing changed yet: no commit
    await change_fields(store, [FIELDS[0], FIELDS[1], {"key": "age", "type": "string"}])
    assert not (await live(ctx))[bad["id"]].valid  # a config change alone re-validates nothing
    commit_ids, count = await validate(ctx)
    assert count == 2 and len(commit_ids) == 1
    stored = await live(ctx)
    assert stored[bad["id"]].valid and stored[bad["id"]].values["age"].messages == []
    # the number is text now (coerced as a write of it would be); the config stays
    assert stored[good["id"]].values["age"].value == "3"
    assert stored[good["id"]].config == RecordConfig(readonly=True)
    assert stored[good["id"]].values["name"] == (await commits(store))[0][1][1].values["name"]  # untouched cell
    (commit, written) = (await commits(store))[-1]
    assert (commit.commit_id, commit.kind) == (commit_ids[0], "update")
    assert [r.id for r in written] == [bad["id"], good["id"]]
    assert await validate(ctx) == ([], 0)  # idempotent


async def test_validate_applies_new_required_and_unique_constraints(store: InMemoryEventStore) -> None:
    ctx = context(store)
    first, second, third = await insert(ctx, [{"name": "Ann"}, {"name": "ann"}, {"age": 1}])
    await change_fields(
        store,
        [
            {"key": "name", "type": "string", "constraints": [{"type": "unique"}, {"type": "required"}]},
            *FIELDS[1:],
        ],
    )
    _, count = await validate(ctx)
    assert count == 3
    stored = await live(ctx)
    assert [stored[r["id"]].valid for r in (first, second, third)] == [True, False, False]
    assert stored[first["id"]].claims == {"name": "ann"}  # the first (row order) holds it
    assert [m.source for m in stored[second["id"]].values["name"].messages] == ["unique-constraint"]
    assert [m.source for m in stored[third["id"]].values["name"].messages] == ["required-constraint"]
    # validating again keeps the holder (no flip to the waiter) and writes nothing
    assert await validate(ctx) == ([], 0)
    # the holder's value freed: its first waiter heals in the same commit
    await update(ctx, [{"id": first["id"], "values": {"name": {"value": "Zed"}}}])
    assert (await live(ctx))[second["id"]].valid


async def test_validate_drops_claims_of_a_removed_unique_constraint(store: InMemoryEventStore) -> None:
    ctx = context(store)
    await change_fields(store, [{**FIELDS[0], "constraints": [{"type": "unique"}]}, *FIELDS[1:]])
    holder, waiter = await insert(ctx, [{"name": "Ann"}, {"name": "Ann"}])
    await change_fields(store, FIELDS)
    _, count = await validate(ctx)
    assert count == 2
    stored = await live(ctx)
    assert all(r.valid and not r.claims for r in stored.values())
    assert {holder["id"], waiter["id"]} == set(stored)


def test_unchanged_keeps_the_cells_that_did_not_change() -> None:
    schema = compile_schema(sheet_config(FIELDS))
    [record] = domain.build_inserts(schema, [{"name": "Ann", "age": "x"}], utcnow(), lambda n: "us_rc_1")
    again = domain.revalidate(schema, record, utcnow())
    assert domain.unchanged(record, again, {}) is None
    assert domain.unchanged(record, again, {"name": "ann"}) is not None  # a stale claim goes


# ---- tombstones: which page carries them ----------------------------------------------------------


def page(number: int, size: int, offset: int = 0, limit: int | None = None) -> GetRecords:
    return GetRecords(sheet_id=SHEET, page_size=size, page_number=number, offset=offset, limit=limit)


def test_tombstones_go_on_the_last_page_of_the_live_records_only() -> None:
    assert [tombstones.last(page(n, 2), 3) for n in (1, 2, 3)] == [False, True, False]
    assert [tombstones.last(page(n, 2), 4) for n in (1, 2, 3, 4)] == [False, False, True, False]  # an empty page
    assert tombstones.last(page(1, 2), 0)
    # a page read in chunks: the chunk where its live records end
    chunks = [page(1, 10, offset, 4) for offset in (0, 4, 8)]
    assert [tombstones.last(c, 5) for c in chunks] == [False, True, False]
    assert [tombstones.last(c, 8) for c in chunks] == [False, False, True]


def test_tombstones_are_wanted_only_where_deleted_records_can_match() -> None:
    since = GetRecords(sheet_id=SHEET, query=RecordQuery(since_commit_id="us_vr_1"))
    assert tombstones.wanted(since, 7)
    assert not tombstones.wanted(since, None)
    for narrowed in ({"filter": "valid"}, {"filter": "error"}, {"search_value": "x"}, {"filter_field": "name"}):
        query = msgspec.structs.replace(since.query, **narrowed)
        assert not tombstones.wanted(msgspec.structs.replace(since, query=query), 7)
    assert tombstones.merged(b"[]", b'[{"id":"b"}]') == b'[{"id":"b"}]'
    assert tombstones.merged(b'[{"id":"a"}]', b'[{"id":"b"}]') == b'[{"id":"a"},{"id":"b"}]'
    assert tombstones.merged(b'[{"id":"a"}]', b"[]") == b'[{"id":"a"}]'
