"""Commits: `X-Disable-Hooks` on `CommitCreated`, `CompleteCommit` once per commit (on fakes), and the
records projection's completion columns on Postgres."""

from __future__ import annotations

import asyncio

import msgspec
import pytest

from record_service.application.completion import CompletionHandlers
from record_service.application.context import Context
from record_service.application.writes import WriteHandlers
from record_service.bootstrap import EVENTS
from record_service.projections.records import RecordsProjection
from record_service.testing import context
from spaceport import readmodel
from spaceport.claimcheck import Payload
from spaceport.contracts.blueprint import SheetConfig
from spaceport.contracts.record import (
    CommitCompleted,
    CommitCreated,
    CompleteCommit,
    DeleteRecords,
    InsertRecords,
    UpdateRecords,
    Written,
)
from spaceport.contracts.space import Principal, SpaceCreated
from spaceport.contracts.workbook import SheetSpec, WorkbookCreated
from spaceport.errors import NotFoundError
from spaceport.events import Event, EventRegistry
from spaceport.memstore import InMemoryEventStore
from spaceport.ports import AggregateRef
from spaceport.testing import scratch
from spaceport.testing.infra import InfraUrls

ENV, SPACE, WORKBOOK, SHEET = "us_env_c", "us_sp_c", "us_wb_c", "us_sh_c"
ME = Principal(environment_id=ENV, kind="secret", actor="us_key_me")
HOOK = Principal(environment_id=ENV, kind="secret", actor="us_key_hook")
CONFIG = msgspec.convert({"name": "P", "fields": [{"key": "email", "type": "string"}]}, SheetConfig)


@pytest.fixture
async def store() -> InMemoryEventStore:
    memory = InMemoryEventStore(EventRegistry((*EVENTS, CommitCompleted)))
    space = AggregateRef(environment_id=ENV, space_id=SPACE, aggregate="space", aggregate_id=SPACE)
    await memory.append(space, [SpaceCreated(space_id=SPACE, environment_id=ENV)], expected_version=0)
    sheets = [SheetSpec(sheet_id=SHEET, slug="p", config=CONFIG)]
    created = WorkbookCreated(workbook_id=WORKBOOK, space_id=SPACE, environment_id=ENV, name="W", sheets=sheets)
    ref = AggregateRef(environment_id=ENV, space_id=SPACE, aggregate="workbook", aggregate_id=WORKBOOK)
    await memory.append(ref, [created], expected_version=0)
    return memory


async def insert(ctx: Context, *emails: str, disable_hooks: bool = False) -> Written:
    body = Payload(data=msgspec.json.encode([{"email": {"value": e}} for e in emails]))
    command = InsertRecords(principal=ME, sheet_id=SHEET, body=body, disable_hooks=disable_hooks)
    return await WriteHandlers(ctx).insert(command)


async def sheet_events(store: InMemoryEventStore) -> list[Event]:
    return [s.event async for s in store.read(f"{store.prefix}.{SPACE}.records.{SHEET}.*") if s.event is not None]


def closing(events: list[Event]) -> list[CommitCreated]:
    return [e for e in events if isinstance(e, CommitCreated)]


@pytest.mark.unit
async def test_writes_carry_disable_hooks_onto_their_commit(store: InMemoryEventStore) -> None:
    ctx = context(store)
    plain = await insert(ctx, "a@x.io")
    quiet = await insert(ctx, "b@x.io", disable_hooks=True)
    record_id = msgspec.json.decode(quiet.records.data if quiet.records else b"[]")[0]["id"]
    body = Payload(data=msgspec.json.encode([{"id": record_id, "values": {"email": {"value": "c@x.io"}}}]))
    await WriteHandlers(ctx).update(UpdateRecords(principal=ME, sheet_id=SHEET, body=body, disable_hooks=True))
    await WriteHandlers(ctx).delete(DeleteRecords(principal=ME, sheet_id=SHEET, ids=[record_id]))
    commits = closing(await sheet_events(store))
    assert [(c.commit_id, c.kind, c.disable_hooks) for c in commits][:2] == [
        (plain.commit_id, "insert", False),
        (quiet.commit_id, "insert", True),
    ]
    assert [(c.kind, c.disable_hooks) for c in commits[2:]] == [("update", True), ("delete", False)]


@pytest.mark.unit
async def test_a_commit_completes_once(store: InMemoryEventStore) -> None:
    ctx = context(store)
    written = await insert(ctx, "a@x.io")
    assert written.commit_id is not None
    handlers = CompletionHandlers(ctx)
    first = await handlers.complete(CompleteCommit(principal=HOOK, commit_id=written.commit_id))
    again = await handlers.complete(CompleteCommit(principal=ME, commit_id=written.commit_id))
    assert first.position > 0 and again.position == 0
    completed = [e for e in await sheet_events(store) if isinstance(e, CommitCompleted)]
    assert [(e.commit_id, e.completed_by, e.sheet_id, e.workbook_id) for e in completed] == [
        (written.commit_id, "us_key_hook", SHEET, WORKBOOK)
    ]
    # the sheet's version moved past the completion: the next write is not refused as a conflict
    later = await insert(ctx, "b@x.io")
    assert later.commit_id is not None and later.position > first.position


@pytest.mark.unit
async def test_concurrent_completions_append_one_event(store: InMemoryEventStore) -> None:
    ctx = context(store)
    written = await insert(ctx, "a@x.io")
    assert written.commit_id is not None
    command = CompleteCommit(principal=HOOK, commit_id=written.commit_id)
    # two replicas: each its own context (lock, read model), one store
    done = await asyncio.gather(*(CompletionHandlers(context(store)).complete(command) for _ in range(3)))
    # the losers see it done (nothing appended) or are told of the same append (a duplicate)
    assert len({d.position for d in done if d.position}) == 1
    assert len([e for e in await sheet_events(store) if isinstance(e, CommitCompleted)]) == 1


@pytest.mark.unit
async def test_unknown_commits_and_other_environments_are_not_found(store: InMemoryEventStore) -> None:
    ctx = context(store)
    written = await insert(ctx, "a@x.io")
    assert written.commit_id is not None
    with pytest.raises(NotFoundError):
        await CompletionHandlers(ctx).complete(CompleteCommit(principal=HOOK, commit_id="us_vr_nothere"))
    stranger = Principal(environment_id="us_env_other", kind="secret", actor="us_key_x")
    with pytest.raises(NotFoundError):
        await CompletionHandlers(ctx).complete(CompleteCommit(principal=stranger, commit_id=written.commit_id))
    assert not [e for e in await sheet_events(store) if isinstance(e, CommitCompleted)]


async def test_the_projection_records_completion(store: InMemoryEventStore, infra: InfraUrls, unique_name: str) -> None:
    ctx = context(store)
    done, open_ = await insert(ctx, "a@x.io"), await insert(ctx, "b@x.io")
    assert done.commit_id is not None and open_.commit_id is not None
    await CompletionHandlers(ctx).complete(CompleteCommit(principal=HOOK, commit_id=done.commit_id))
    pool = await readmodel.create_pool(infra.database_url, unique_name)
    try:
        async with pool.acquire() as conn:
            await scratch.project(conn, store, RecordsProjection(store.prefix, name=unique_name), unique_name)
            rows = {
                r["id"]: (r["completed_by"], r["completed_at"] is not None)
                for r in await conn.fetch("SELECT * FROM record_commit")
            }
            version = await conn.fetchval("SELECT version FROM sheet WHERE id = $1", SHEET)
        assert rows == {done.commit_id: ("us_key_hook", True), open_.commit_id: (None, False)}
        assert version == await store.last_seq()
    finally:
        await pool.execute(f"DROP SCHEMA IF EXISTS {unique_name} CASCADE")
        await pool.close()
