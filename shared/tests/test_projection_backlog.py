"""A backlog of bulk events read by several projections on one connection (regression, issue 12).

Started late against a backlog of record events, the job service's feed, metrics and history
runners each fetched 100 events of ~400 KB (plus a prefetch as large) on the process's one NATS
connection: nats-server closed the connection as a slow consumer (its 64 MB `max_pending`), the
batches arrived with holes and, after each reconnect, every runner asked again; the service never
caught up. Fetches are now bounded in bytes (`spaceport.projection.pull`).
"""

from __future__ import annotations

import asyncio
import base64
import os

import asyncpg
import pytest
from counter import EVENTS, CounterIncremented
from test_projection import Totals, ref, rows

from spaceport.events import EventRegistry
from spaceport.eventstore import EventStore
from spaceport.projection import ProjectionRunner
from spaceport.projection.consumer import DurableConsumer
from spaceport.projection.pull import BoundedPull

BULK = 400_000  # bytes of padding per event, as a 1,000-record event
EVENT_COUNT = 240  # ~96 MB: three runners asking 100 at once want ~120 MB, twice the server's buffer


@pytest.fixture(autouse=True)
def _types(registry: EventRegistry) -> None:
    registry.register(*EVENTS)


async def _append_bulk(store: EventStore, count: int, size: int = BULK) -> int:
    last = 0
    for _ in range(count):
        # random text: sealed payloads are compressed (crypto sealing 2), "x" * size would not fill a fetch
        event = CounterIncremented(by=1, writer=base64.b64encode(os.urandom(size * 3 // 4 + 3)).decode()[:size])
        last = (await store.append(ref("c"), [event], expected_version=None)).last_seq
    return last


@pytest.mark.timeout(120)
async def test_runners_started_late_catch_up_a_bulk_backlog_on_one_connection(
    store: EventStore, pool: asyncpg.Pool, unique_name: str
) -> None:
    last = await _append_bulk(store, EVENT_COUNT)
    reconnects = store.nc.stats["reconnects"]
    runners = [
        ProjectionRunner(store, pool, Totals(f"p_{unique_name}_{n}", store.prefix), batch_size=100) for n in range(3)
    ]
    for runner in runners:
        await runner.start()
    try:
        caught_up = await asyncio.gather(*(r.wait_for(last, timeout=90) for r in runners))
        assert caught_up == [True, True, True]
        for runner in runners:
            # Each event applied once: no batch with a hole, no replay after a reset connection.
            assert await rows(pool, runner.schema) == [("c", EVENT_COUNT, EVENT_COUNT)]
        assert store.nc.stats["reconnects"] == reconnects  # the server never dropped the connection
    finally:
        for runner in runners:
            await runner.stop()


async def test_a_fetch_stops_at_max_bytes_and_still_delivers_an_event_larger_than_that(
    store: EventStore, pool: asyncpg.Pool, unique_name: str
) -> None:
    await _append_bulk(store, 10, size=100_000)
    big = await _append_bulk(store, 1, size=1_500_000)
    consumer = DurableConsumer(store, Totals(f"p_{unique_name}", store.prefix), batch_size=100, ack_wait=30.0)
    await consumer.ensure(0)
    pull = await BoundedPull(store.nc, store.stream, consumer.name, max_bytes=450_000).subscribe()
    try:
        first = await pull.fetch(100, timeout=2.0)
        assert 1 <= len(first) <= 4  # 4 x 100 KB (and headers) fill 450 KB
        seen = list(first)
        while len(seen) < 11:
            msgs = await pull.fetch(100, timeout=2.0)
            assert msgs, f"stalled after {len(seen)} events"
            seen += msgs
        assert [m.metadata.sequence.stream for m in seen] == list(range(big - 10, big + 1))
        assert len(seen[-1].data) > 1_500_000  # alone above max_bytes: fetched by itself
        assert await pull.fetch(100, timeout=0.5) == []
    finally:
        await pull.unsubscribe()
