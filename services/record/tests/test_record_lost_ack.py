"""An insert whose append reply is lost, retried with its Idempotency-Key: real NATS and Postgres.

The event store's NATS `request` is wrapped so that every publish of the first call is sent and
lands but its reply never comes (or is never sent at all), as when the connection drops at the
wrong moment. The client gets 503 and retries; the retry's reply must name exactly the commit
and the records that are in the stream, and the read model must hold them once.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import msgspec
import nats.errors
import pytest

from record_service.application.context import ServiceContext
from record_service.application.reads import ReadHandlers
from record_service.application.writes import WriteHandlers
from record_service.bootstrap import build
from record_service.projections.records import NAME as RECORDS
from spaceport.claimcheck import Payload
from spaceport.contracts.blueprint import SheetConfig
from spaceport.contracts.record import (
    CommitCreated,
    GetCounts,
    GetRecords,
    InsertRecords,
    RecordsInserted,
    Written,
    page_json,
)
from spaceport.contracts.space import Principal, SpaceCreated
from spaceport.contracts.workbook import SheetSpec, WorkbookCreated
from spaceport.errors import ServiceUnavailableError
from spaceport.eventstore import EventStore
from spaceport.ports import AggregateRef
from spaceport.runtime import ServiceRuntime
from spaceport.settings import Settings
from spaceport.storecore import PUBLISH_ATTEMPTS

ENV, SPACE, WORKBOOK, SHEET = "us_env_t", "us_sp_t", "us_wb_t", "us_sh_t"
ME = Principal(environment_id=ENV, kind="secret", actor="test")
CONFIG = msgspec.convert(
    {"name": "People", "fields": [{"key": "email", "type": "string", "constraints": [{"type": "unique"}]}]},
    SheetConfig,
)
ROWS = [{"email": {"value": "a@x.io"}}, {"email": {"value": "b@x.io"}}]
_stored = msgspec.json.Decoder(RecordsInserted | CommitCreated)


@pytest.fixture
async def service(record_settings: Settings) -> AsyncIterator[tuple[ServiceRuntime, ServiceContext]]:
    """A started record service and a sheet in a live space, projected."""
    rt, ctx = build(record_settings)
    await rt.start()
    space = AggregateRef(environment_id=ENV, space_id=SPACE, aggregate="space", aggregate_id=SPACE)
    await rt.store.append(space, [SpaceCreated(space_id=SPACE, environment_id=ENV)], expected_version=0)
    sheets = [SheetSpec(sheet_id=SHEET, slug="people", config=CONFIG)]
    created = WorkbookCreated(workbook_id=WORKBOOK, space_id=SPACE, environment_id=ENV, name="W", sheets=sheets)
    workbook = AggregateRef(environment_id=ENV, space_id=SPACE, aggregate="workbook", aggregate_id=WORKBOOK)
    await rt.store.append(workbook, [created], expected_version=0)
    await ctx.sheet(SHEET)  # waits until the projection knows the sheet
    yield rt, ctx
    await ctx.close()
    await rt.stop()


def lose_replies(monkeypatch: pytest.MonkeyPatch, store: EventStore, count: int, *, sent: bool) -> None:
    """The next `count` publish requests of appends time out: `sent` (they reach the server and
    take effect, the reply is lost) or not (the request never leaves)."""
    original = store.nc.request
    left = count

    async def request(subject: str, payload: bytes = b"", timeout: float = 0.5, **options: Any) -> Any:
        nonlocal left
        if left and subject.startswith(f"{store.prefix}."):
            left -= 1
            if sent:
                await original(subject, payload, timeout=timeout, **options)
            raise nats.errors.TimeoutError
        return await original(subject, payload, timeout=timeout, **options)

    monkeypatch.setattr(store.nc, "request", request)


async def insert(ctx: ServiceContext) -> Written:
    command = InsertRecords(
        principal=ME, sheet_id=SHEET, body=Payload(data=msgspec.json.encode(ROWS)), idempotency_key="k1"
    )
    return await WriteHandlers(ctx).insert(command)


async def stored(store: EventStore) -> tuple[list[CommitCreated], list[dict[str, Any]]]:
    """The sheet's commits in the stream, and the records they inserted as an insert replies them."""
    commits: list[CommitCreated] = []
    records: list[dict[str, Any]] = []
    async for message in store.read_raw(f"{store.prefix}.{SPACE}.records.{SHEET}.*"):
        event = _stored.decode((await store.open(message)).data)
        if isinstance(event, CommitCreated):
            commits.append(event)
            continue
        for record in event.records:
            config = record.config or {}
            wire = {"id": record.id, "values": record.values, "valid": record.valid, "metadata": record.metadata}
            wire["config"] = config
            decoded = msgspec.json.decode(msgspec.json.encode(wire))
            records.append({**decoded, "commitId": event.commit_id, "versionId": event.commit_id})
    return commits, records


async def projected(ctx: ServiceContext) -> tuple[list[str], int]:
    """The ids of the sheet's records in the read model, and its count."""
    reads = ReadHandlers(ctx)
    page = await reads.records(GetRecords(sheet_id=SHEET, page_size=100))
    ids = [r["id"] for r in msgspec.json.decode(await page_json(page, ctx.claims.unpack))]
    return ids, (await reads.counts(GetCounts(sheet_id=SHEET))).total


def replied(written: Written) -> list[dict[str, Any]]:
    assert written.records is not None
    found: list[dict[str, Any]] = msgspec.json.decode(written.records.data)
    return found


@pytest.mark.parametrize("paused", [True, False], ids=["projection-behind", "projection-caught-up"])
async def test_reply_lost_after_the_append_retry_gets_what_landed(
    service: tuple[ServiceRuntime, ServiceContext], monkeypatch: pytest.MonkeyPatch, paused: bool
) -> None:
    """Behind, the retry decides again at the old version and the store answers it as a duplicate;
    caught up, the retry finds the commit by its key. Both reply with the stored commit."""
    rt, ctx = service
    runner = rt.runner(RECORDS)
    if paused:
        await runner.stop()
    lose_replies(monkeypatch, rt.store, PUBLISH_ATTEMPTS, sent=True)
    with pytest.raises(ServiceUnavailableError):
        await insert(ctx)
    (landed,), records = await stored(rt.store)
    if not paused:
        await ctx.catch_up()
    again = await insert(ctx)
    if paused:
        await runner.start()
    assert again.commit_id == landed.commit_id
    assert replied(again) == records
    assert len((await stored(rt.store))[0]) == 1
    assert await projected(ctx) == ([r["id"] for r in records], 2)


async def test_request_lost_before_the_append_retry_appends_once(
    service: tuple[ServiceRuntime, ServiceContext], monkeypatch: pytest.MonkeyPatch
) -> None:
    rt, ctx = service
    lose_replies(monkeypatch, rt.store, PUBLISH_ATTEMPTS, sent=False)
    with pytest.raises(ServiceUnavailableError):
        await insert(ctx)
    assert (await stored(rt.store))[0] == []
    again = await insert(ctx)
    (landed,), records = await stored(rt.store)
    assert again.commit_id == landed.commit_id
    assert replied(again) == records
    assert await projected(ctx) == ([r["id"] for r in records], 2)


async def test_one_lost_reply_is_resolved_inside_the_call(
    service: tuple[ServiceRuntime, ServiceContext], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The store's own retry of the publish meets its landed events and reports a duplicate."""
    rt, ctx = service
    lose_replies(monkeypatch, rt.store, 1, sent=True)
    written = await insert(ctx)
    (landed,), records = await stored(rt.store)
    assert written.commit_id == landed.commit_id
    assert replied(written) == records
