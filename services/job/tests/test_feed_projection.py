"""The feed on real NATS and Postgres, through the job service's runtime as bootstrap builds it:
projection, list filters, acks, read-after-cursor with waiting, and the relay to JetStream."""

from __future__ import annotations

import asyncio
import time

import msgspec
import pytest
from nats.js.api import ConsumerConfig, DeliverPolicy

from job_service.feed.relay import Relay
from spaceport.contracts import feed, record
from spaceport.contracts import space as sp
from spaceport.contracts.blueprint import SheetConfig
from spaceport.contracts.feed import (
    AckEvent,
    EventBatch,
    EventFilter,
    EventList,
    FlatfileEvent,
    ListEvents,
    ReadEvents,
)
from spaceport.contracts.workbook import SheetSpec, WorkbookCreated
from spaceport.errors import NotFoundError, ValidationFailedError
from spaceport.events import Event
from spaceport.messaging import RpcClient
from spaceport.ports import AggregateRef
from spaceport.runtime import ServiceRuntime

ENV, OTHER, SPACE, WB, SHEET = "us_env_feed", "us_env_other", "us_sp_feed", "us_wb_feed", "us_sh_feed"
KEY = sp.Principal(environment_id=ENV, kind="secret", actor="us_key_feed")


def rpc(rt: ServiceRuntime) -> RpcClient:
    return RpcClient(rt.broker, rt.settings.command_prefix, timeout=30)


DECODER = msgspec.json.Decoder(list[FlatfileEvent])


async def listed_of(rt: ServiceRuntime, query: ListEvents) -> list[FlatfileEvent]:
    page = await rpc(rt).request("job", query, EventList)
    events = DECODER.decode(await rt.claims.unpack(page.events))
    assert len(events) == page.count
    return events


async def read(rt: ServiceRuntime, query: ReadEvents) -> tuple[list[FlatfileEvent], int]:
    batch = await rpc(rt).request("job", query, EventBatch)
    return DECODER.decode(await rt.claims.unpack(batch.events)), batch.position


async def append(
    rt: ServiceRuntime, aggregate: str, aggregate_id: str, *events: Event, space: str | None = SPACE
) -> int:
    ref = AggregateRef(environment_id=ENV, space_id=space, aggregate=aggregate, aggregate_id=aggregate_id)
    result = await rt.store.append(ref, list(events), expected_version=None)
    assert await rt.runner("feed").wait_for(result.last_seq, timeout=15)
    return result.last_seq


def records(start: int, count: int) -> record.RecordsInserted:
    rows = [
        record.StoredRecord(id=f"us_rc_{n}", values={"a": record.Cell(value=n)}) for n in range(start, start + count)
    ]
    return record.RecordsInserted(
        sheet_id=SHEET, workbook_id=WB, space_id=SPACE, commit_id=f"us_vr_{start}", records=rows
    )


async def world(rt: ServiceRuntime) -> None:
    await append(rt, "space", SPACE, sp.SpaceCreated(space_id=SPACE, environment_id=ENV, name="S", namespace="red"))
    config = msgspec.convert({"name": "C", "slug": "contacts", "fields": [{"key": "a", "type": "string"}]}, SheetConfig)
    sheet = SheetSpec(sheet_id=SHEET, slug="contacts", config=config)
    created = WorkbookCreated(workbook_id=WB, space_id=SPACE, environment_id=ENV, name="W", sheets=[sheet])
    await append(rt, "workbook", WB, created)
    commit = record.CommitCreated(
        sheet_id=SHEET, workbook_id=WB, space_id=SPACE, commit_id="us_vr_0", kind="insert", events=1, record_count=3
    )
    await append(rt, "records", SHEET, records(0, 3), commit)


def everything(**values: object) -> EventFilter:
    return EventFilter(environment_id=ENV, include_acknowledged=True, **values)  # type: ignore[arg-type]


async def test_list_filters_ack_and_scope(rt: ServiceRuntime) -> None:
    await world(rt)
    client = rpc(rt)
    listed = await listed_of(rt, ListEvents(filter=everything(), page_size=100))
    topics = [e.topic for e in listed]
    assert topics == ["space:created", "workbook:created", "sheet:created", "records:created", "commit:created"]
    commit = listed[-1]
    assert commit.context.sheet_slug == "contacts" and commit.data_url == f"v1/sheets/{SHEET}/records?commitId=us_vr_0"
    jobs = await listed_of(rt, ListEvents(filter=everything(topic="*:created", domain="workbook")))
    assert [e.topic for e in jobs] == ["workbook:created", "records:created", "commit:created"]
    page2 = await listed_of(rt, ListEvents(filter=everything(), page_size=2, page_number=2))
    assert [e.id for e in page2] == [e.id for e in listed[2:4]]
    other = await listed_of(rt, ListEvents(filter=EventFilter(environment_id=OTHER)))
    assert other == []

    await client.request("job", AckEvent(principal=KEY, event_id=commit.id), feed.Acked)
    again = await client.request("job", AckEvent(principal=KEY, event_id=commit.id), feed.Acked)
    assert again.event.acknowledged_by == "us_key_feed" and again.event.acknowledged_at is not None
    unacked = await listed_of(rt, ListEvents(filter=EventFilter(environment_id=ENV), page_size=100))
    assert commit.id not in [e.id for e in unacked]
    stranger = sp.Principal(environment_id=OTHER, kind="secret", actor="us_key_other")
    with pytest.raises(NotFoundError):
        await client.request("job", AckEvent(principal=stranger, event_id=commit.id), feed.Acked)


async def test_read_after_a_cursor_waits_for_new_events(rt: ServiceRuntime) -> None:
    await world(rt)
    listed = await listed_of(rt, ListEvents(filter=everything(), page_size=100))
    after, _ = await read(rt, ReadEvents(filter=everything(), after=listed[1].id, wait=0))
    assert [e.id for e in after] == [e.id for e in listed[2:]]
    limited, _ = await read(rt, ReadEvents(filter=everything(), after=listed[1].id, limit=1))
    assert [e.id for e in limited] == [listed[2].id]
    now, now_at = await read(rt, ReadEvents(filter=everything(), wait=0))
    assert now == []
    with pytest.raises(ValidationFailedError):
        await read(rt, ReadEvents(filter=everything(), after="us_evt_unknown", wait=0))
    query = ReadEvents(filter=everything(topic="records:*"), after_position=now_at, wait=10)
    waiting = asyncio.create_task(read(rt, query))
    await asyncio.sleep(0.3)
    started = time.monotonic()
    await append(rt, "records", SHEET, records(10, 2))
    woke, woke_at = await asyncio.wait_for(waiting, 10)
    assert time.monotonic() - started < 2.0, "woken by the notification, not at the end of the wait"
    assert [e.payload["recordIds"] for e in woke] == [["us_rc_10", "us_rc_11"]]
    rest, rest_at = await read(rt, ReadEvents(filter=everything(), after_position=woke_at, wait=0.2))
    assert rest == [] and rest_at == woke_at


async def test_the_relay_publishes_each_event_once(rt: ServiceRuntime) -> None:
    await world(rt)
    listed = await listed_of(rt, ListEvents(filter=everything(), page_size=100))
    js = rt.broker.connection.jetstream()
    stream, prefix = rt.settings.feed_stream, rt.settings.feed_prefix

    async def relayed() -> list[tuple[str, str]]:
        deadline = time.monotonic() + 15
        # The relay is another task's work: poll the stream it fills.
        while (await js.stream_info(stream)).state.messages < len(listed) and time.monotonic() < deadline:  # noqa: ASYNC110
            await asyncio.sleep(0.1)
        sub = await js.pull_subscribe(
            f"{prefix}.>", stream=stream, config=ConsumerConfig(deliver_policy=DeliverPolicy.ALL)
        )
        msgs = await sub.fetch(100, timeout=2)
        await sub.unsubscribe()
        return [(m.subject, m.headers["Nats-Msg-Id"] if m.headers else "") for m in msgs]

    first = await relayed()
    assert [i for _, i in first] == [e.id for e in listed]
    assert first[0][0] == f"{prefix}.{ENV}.{SPACE}.space.space_created"
    assert first[-1][0] == f"{prefix}.{ENV}.{SPACE}.workbook.commit_created"
    # A relay that lost its checkpoint publishes everything again: the stream keeps each id once.
    async with rt.pool.acquire() as conn:
        await conn.execute("UPDATE feed_relay.projection_checkpoint SET position = 0")
    relay = next(b for b in rt.background if isinstance(b, Relay))
    relay.position = 0
    await relay.relay_once()
    assert (await js.stream_info(stream)).state.messages == len(listed)
    await js.delete_stream(stream)
