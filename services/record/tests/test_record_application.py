"""The record write handlers on the in-memory event store and a folded read model: no servers.

Each test drives `WriteHandlers` as the RPC entrypoint would and checks the reply against the
events that landed in the store (and what the read model folded from them).
"""

from __future__ import annotations

from typing import Any

import msgspec
import pytest

from record_service.application.context import Context
from record_service.application.writes import WriteHandlers
from record_service.bootstrap import EVENTS
from record_service.testing import FoldedRecords, InlinePayloads, context
from spaceport import ids
from spaceport.claimcheck import Payload
from spaceport.contracts.blueprint import SheetConfig
from spaceport.contracts.record import (
    CommitCreated,
    DeleteRecords,
    FindReplace,
    InsertRecords,
    RecordQuery,
    RecordsInserted,
    RecordsUpdated,
    StoredRecord,
    UpdateRecords,
    Written,
)
from spaceport.contracts.space import Principal, SpaceArchived, SpaceCreated, SpaceDeleted, SpaceUnarchived
from spaceport.contracts.workbook import SheetSpec, WorkbookCreated
from spaceport.errors import ConflictError, NotFoundError, ServiceUnavailableError
from spaceport.events import ERASED_TYPE, EventRegistry
from spaceport.memstore import InMemoryEventStore
from spaceport.ports import AggregateRef

pytestmark = pytest.mark.unit

ENV, SPACE, WORKBOOK = "us_env_t", "us_sp_t", "us_wb_t"
PEOPLE, OTHERS = "us_sh_people", "us_sh_others"
ME = Principal(environment_id=ENV, kind="secret", actor="us_key_1")
CONFIG = msgspec.convert(
    {
        "name": "People",
        "fields": [
            {"key": "email", "type": "string", "constraints": [{"type": "unique"}]},
            {"key": "age", "type": "number"},
        ],
    },
    SheetConfig,
)
SPACE_REF = AggregateRef(environment_id=ENV, space_id=SPACE, aggregate="space", aggregate_id=SPACE)
_stored = msgspec.json.Decoder(RecordsInserted | RecordsUpdated | CommitCreated)


@pytest.fixture
async def store() -> InMemoryEventStore:
    """A space with one workbook of two sheets (People, Others)."""
    memory = InMemoryEventStore(EventRegistry(EVENTS))
    await memory.append(SPACE_REF, [SpaceCreated(space_id=SPACE, environment_id=ENV)], expected_version=0)
    sheets = [SheetSpec(sheet_id=s, slug=s, config=CONFIG) for s in (PEOPLE, OTHERS)]
    created = WorkbookCreated(workbook_id=WORKBOOK, space_id=SPACE, environment_id=ENV, name="W", sheets=sheets)
    ref = AggregateRef(environment_id=ENV, space_id=SPACE, aggregate="workbook", aggregate_id=WORKBOOK)
    await memory.append(ref, [created], expected_version=0)
    return memory


async def insert(ctx: Context, *emails: str, key: str | None = None, sheet: str = PEOPLE) -> Written:
    body = msgspec.json.encode([{"email": {"value": e}} for e in emails])
    command = InsertRecords(principal=ME, sheet_id=sheet, body=Payload(data=body), idempotency_key=key)
    return await WriteHandlers(ctx).insert(command)


def replied(written: Written) -> list[dict[str, Any]]:
    assert written.records is not None
    found: list[dict[str, Any]] = msgspec.json.decode(written.records.data)
    return found


async def commits(store: InMemoryEventStore, sheet: str = PEOPLE) -> list[tuple[CommitCreated, list[StoredRecord]]]:
    """Every commit of `sheet` in the stream, with the records its events carry."""
    found: list[tuple[CommitCreated, list[StoredRecord]]] = []
    records: list[StoredRecord] = []
    async for message in store.read_raw(f"{store.prefix}.{SPACE}.records.{sheet}.*"):
        opened = await store.open(message)
        if opened.type == ERASED_TYPE:
            continue  # its space was deleted (spaceport.crypto)
        event = _stored.decode(opened.data)
        if isinstance(event, CommitCreated):
            found.append((event, records))
            records = []
        else:
            records += event.records
    return found


def as_replied(record: StoredRecord, commit_id: str) -> dict[str, Any]:
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


async def live(ctx: Context, sheet: str = PEOPLE) -> list[StoredRecord]:
    model = ctx.model
    assert isinstance(model, FoldedRecords)
    await model.catch_up(1.0)
    async with model.session() as q:
        return list((await q.current(sheet, await q.matching(await ctx.sheet(sheet), RecordQuery()))).values())


# ---- decisions ---------------------------------------------------------------------------------


async def test_insert_replies_with_the_records_it_stored(store: InMemoryEventStore) -> None:
    ctx = context(store)
    written = await insert(ctx, "a@x.io", "A@x.io", "b@x.io")
    [(commit, stored)] = await commits(store)
    assert written.commit_id == commit.commit_id
    assert written.position == (await store.last_seq())
    assert replied(written) == [as_replied(r, commit.commit_id) for r in stored]
    assert [r["valid"] for r in replied(written)] == [True, False, True]  # unique ignores case
    assert all(ids.has_kind(r["id"], "record") for r in replied(written))


async def test_update_frees_a_unique_value_for_its_first_waiter(store: InMemoryEventStore) -> None:
    ctx = context(store)
    holder, waiter = replied(await insert(ctx, "a@x.io", "a@x.io"))
    assert not waiter["valid"]
    body = msgspec.json.encode([{"id": holder["id"], "values": {"email": {"value": "c@x.io"}}}])
    await WriteHandlers(ctx).update(UpdateRecords(principal=ME, sheet_id=PEOPLE, body=Payload(data=body)))
    _, (commit, written) = await commits(store)
    assert commit.kind == "update"
    assert [(r.id, r.valid) for r in written] == [(waiter["id"], True), (holder["id"], True)]
    assert {r.id: r.claims for r in await live(ctx)} == {
        holder["id"]: {"email": "c@x.io"},
        waiter["id"]: {"email": "a@x.io"},
    }


async def test_delete_by_ids_then_by_filter(store: InMemoryEventStore) -> None:
    ctx = context(store)
    a, duplicate, c = replied(await insert(ctx, "a@x.io", "a@x.io", "c@x.io"))
    handlers = WriteHandlers(ctx)
    one = await handlers.delete(DeleteRecords(principal=ME, sheet_id=PEOPLE, ids=[a["id"], "us_rc_unknown"]))
    assert one.record_count == 2  # the deleted record and the duplicate it frees (decided again)
    none = await handlers.delete(DeleteRecords(principal=ME, sheet_id=PEOPLE, query=RecordQuery(filter="error")))
    assert (none.commit_id, none.record_count) == (None, 0)  # nothing is invalid any more
    assert {r.id: r.valid for r in await live(ctx)} == {duplicate["id"]: True, c["id"]: True}
    every = await handlers.delete(DeleteRecords(principal=ME, sheet_id=PEOPLE, query=RecordQuery(filter="all")))
    assert every.record_count == 2
    assert await live(ctx) == []


async def test_find_replace_updates_the_matching_cells(store: InMemoryEventStore) -> None:
    ctx = context(store)
    await insert(ctx, "a@x.io", "b@y.io")
    command = FindReplace(principal=ME, sheet_id=PEOPLE, field_key="email", find="@x.io", replace="@z.io")
    written = await WriteHandlers(ctx).find_replace(command)
    assert written.record_count == 1
    assert sorted(r.values["email"].value for r in await live(ctx)) == ["a@z.io", "b@y.io"]


# ---- idempotency: the ids that landed ----------------------------------------------------------


@pytest.mark.parametrize("lagging", [True, False], ids=["store-reports-duplicate", "found-by-key"])
async def test_insert_retried_after_a_lost_ack_gets_the_ids_that_landed(
    store: InMemoryEventStore, lagging: bool
) -> None:
    """The append lands but its ack is lost: the client sees 503 and retries with its key. Lagging,
    the read model has not seen the commit (the store answers the retry as a duplicate); else the
    retry finds the commit by its key. Either way the reply is what landed, once."""
    ctx = context(store, lagging=lagging)
    store.lose_next_acks(1)
    with pytest.raises(ServiceUnavailableError):
        await insert(ctx, "a@x.io", "b@x.io", key="k1")
    again = await insert(ctx, "a@x.io", "b@x.io", key="k1")
    model = ctx.model
    assert isinstance(model, FoldedRecords)
    assert (model.position < await store.last_seq()) is lagging  # lagging: it never saw the commit
    [(commit, stored)] = await commits(store)
    assert again.commit_id == commit.commit_id == ids.derived_id("commit", f"{PEOPLE}:k1")
    assert replied(again) == [as_replied(r, commit.commit_id) for r in stored]
    assert [r.id for r in stored] == ids.derived_ids("record", f"{PEOPLE}:k1", 2)
    assert sorted(r.id for r in await live(ctx)) == sorted(r.id for r in stored)


async def test_a_reply_lost_inside_the_store_is_answered_from_the_landed_events(store: InMemoryEventStore) -> None:
    ctx = context(store)
    store.drop_next_replies(1)  # the store's own retry finds its events
    written = await insert(ctx, "a@x.io", key="k1")
    [(commit, stored)] = await commits(store)
    assert written.commit_id == commit.commit_id
    assert replied(written) == [as_replied(r, commit.commit_id) for r in stored]


async def test_an_insert_lost_before_the_append_is_appended_once_on_retry(store: InMemoryEventStore) -> None:
    ctx = context(store)
    store.refuse_next_appends(1)
    with pytest.raises(ServiceUnavailableError):
        await insert(ctx, "a@x.io", key="k1")
    assert await commits(store) == []
    again = await insert(ctx, "a@x.io", key="k1")
    [(commit, stored)] = await commits(store)
    assert replied(again) == [as_replied(r, commit.commit_id) for r in stored]
    assert [r.id for r in await live(ctx)] == [stored[0].id]


async def test_a_retried_insert_gets_the_first_reply(store: InMemoryEventStore) -> None:
    ctx = context(store)
    first = await insert(ctx, "a@x.io", key="k1")
    again = await insert(ctx, "a@x.io", key="k1")
    assert (again.commit_id, replied(again), again.position) == (first.commit_id, replied(first), first.position)
    assert len(await commits(store)) == 1


async def test_one_key_on_two_sheets_makes_two_commits(store: InMemoryEventStore) -> None:
    ctx = context(store)
    people = await insert(ctx, "a@x.io", key="k1")
    others = await insert(ctx, "a@x.io", key="k1", sheet=OTHERS)
    assert people.commit_id != others.commit_id
    assert len(await commits(store)) == len(await commits(store, OTHERS)) == 1


# ---- conflicts ---------------------------------------------------------------------------------


async def test_a_write_another_replica_got_ahead_of_is_decided_again(store: InMemoryEventStore) -> None:
    """Replica A's read model has not seen B's commit: A decides at a stale version, the append is
    refused, A catches up and decides again, and B's record keeps the unique value."""
    a, b = context(store, lagging=True), context(store)
    await insert(a, "first@x.io")
    (theirs,) = replied(await insert(b, "shared@x.io"))
    (ours,) = replied(await insert(a, "shared@x.io"))
    assert theirs["valid"]
    assert not ours["valid"]
    assert ours["values"]["email"]["messages"][0]["source"] == "unique-constraint"
    model = a.model
    assert isinstance(model, FoldedRecords)
    assert model.catch_ups == 2  # the unknown sheet at the first write, the conflict at the third
    assert [c.record_count for c, _ in await commits(store)] == [1, 1, 1]


# ---- the space must be live --------------------------------------------------------------------


@pytest.mark.parametrize(("event", "refusal"), [(SpaceArchived, ConflictError), (SpaceDeleted, NotFoundError)])
async def test_writes_in_an_archived_or_deleted_space_are_refused(
    store: InMemoryEventStore, event: type[SpaceArchived | SpaceDeleted], refusal: type[Exception]
) -> None:
    ctx = context(store, lagging=True)
    (record,) = replied(await insert(ctx, "a@x.io"))
    written = [m async for m in store.read_raw(f"{store.prefix}.{SPACE}.records.>")]
    await store.append(SPACE_REF, [event(space_id=SPACE)], expected_version=None)
    handlers = WriteHandlers(ctx)
    body = Payload(data=msgspec.json.encode([{"id": record["id"], "values": {"age": {"value": 3}}}]))
    with pytest.raises(refusal):
        await insert(ctx, "b@x.io")
    with pytest.raises(refusal):
        await handlers.update(UpdateRecords(principal=ME, sheet_id=PEOPLE, body=body))
    with pytest.raises(refusal):
        await handlers.delete(DeleteRecords(principal=ME, sheet_id=PEOPLE, ids=[record["id"]]))
    assert [m async for m in store.read_raw(f"{store.prefix}.{SPACE}.records.>")] == written  # no new commit
    assert len(await commits(store)) == (0 if event is SpaceDeleted else 1)  # a deleted space's is erased


async def test_an_unarchived_space_takes_writes_again(store: InMemoryEventStore) -> None:
    ctx = context(store)
    await store.append(SPACE_REF, [SpaceArchived(space_id=SPACE)], expected_version=None)
    with pytest.raises(ConflictError):
        await insert(ctx, "a@x.io")
    await store.append(SPACE_REF, [SpaceUnarchived(space_id=SPACE)], expected_version=None)
    assert replied(await insert(ctx, "a@x.io"))[0]["valid"]


# ---- a sheet the read model does not know (yet) -----------------------------------------------


class _Starting(FoldedRecords):
    """A read model whose projector has not caught up (still starting): catch_up times out."""

    async def catch_up(self, timeout: float) -> bool:
        self.catch_ups += 1
        return False


async def test_an_unknown_sheet_is_503_while_the_read_model_catches_up_and_404_once_it_has(
    store: InMemoryEventStore,
) -> None:
    """A sheet created a moment ago may be in events not applied yet: not known to be missing."""
    starting = Context(store, _Starting(store), InlinePayloads())
    with pytest.raises(ServiceUnavailableError, match="catching up"):
        await starting.sheet("us_sh_unknown")
    with pytest.raises(NotFoundError, match="us_sh_unknown"):
        await context(store).sheet("us_sh_unknown")
