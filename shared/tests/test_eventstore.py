"""The JetStream event store only: what its contract suite cannot say for every adapter.

Direct Get paging (by count and by the 8 MB burst limit) and a publish that reached the server
without the store. Behaviour every adapter shares is in test_eventstore_contract.py.
"""

from __future__ import annotations

import base64
import os

import pytest
from counter import EVENTS, FOLDER, CounterIncremented, CounterReset

from spaceport import subjects
from spaceport.events import EventRegistry, encode
from spaceport.eventstore import READ_MAX_BYTES, AggregateRef, AppendContext, EventStore

# 200 KB that zstd cannot shrink much (sealing 2 compresses large payloads: "x" * 200_000 would
# be stored in a few hundred bytes and never fill a read burst)
INCOMPRESSIBLE = base64.b64encode(os.urandom(150_000)).decode()


@pytest.fixture(autouse=True)
def _types(registry: EventRegistry) -> None:
    registry.register(*EVENTS)


def counter(name: str = "c1", space: str = "us_sp_test") -> AggregateRef:
    return AggregateRef(environment_id="us_env_test", space_id=space, aggregate="counter", aggregate_id=name)


async def test_lost_ack_retry_is_recognised_not_reported_as_conflict(store: EventStore) -> None:
    """The first publish landed but its ack was lost; the retry carries the same expected version,
    which no longer matches, so JetStream answers 'wrong last sequence'. The store must find its
    own event and report success."""
    ref = counter()
    context = AppendContext(idempotency_key="lost-ack")
    envelope = store.envelopes(ref, [CounterIncremented(by=5)], context)[0]
    # What reached the server before the ack was lost:
    await store.js.publish(
        store.subject_for(ref, envelope.type), encode(envelope), headers={"Nats-Msg-Id": envelope.id}
    )
    retried = await store.append(ref, [CounterIncremented(by=5)], expected_version=0, context=context)
    assert retried.duplicate
    assert [e.event_id for e in (await store.load(ref)).events] == [envelope.id]


async def test_load_pages_past_one_read_batch(store: EventStore) -> None:
    ref = counter()
    for start in range(0, 2500, 500):
        await store.append(ref, [CounterIncremented(by=1)] * 500, expected_version=None)
        del start
    assert FOLDER.fold(await store.load(ref)).value == 2500


async def test_load_of_large_events_pages_by_bytes(store: EventStore) -> None:
    """Reads are capped per burst (8 MB), so aggregates of big events load in several requests."""
    ref = counter()
    big = [CounterIncremented(by=1, writer=INCOMPRESSIBLE)] * 5  # ~1 MB per atomic append
    for _ in range(12):
        await store.append(ref, big, expected_version=None)
    assert FOLDER.fold(await store.load(ref)).value == 60


async def test_a_range_read_pages_by_bytes_and_stops_at_its_end(store: EventStore) -> None:
    """A range bigger than one burst (8 MB) is read in several and ends exactly at `to_seq`."""
    ref = counter()
    big = [CounterIncremented(by=1, writer=INCOMPRESSIBLE)] * 5
    results = [await store.append(ref, big, expected_version=None) for _ in range(12)]
    await store.append(ref, [CounterReset()], expected_version=None)
    first, last = results[1].first_seq, results[10].last_seq
    filter_subject = subjects.aggregate_filter(store.prefix, "us_sp_test", "counter", "c1")
    raw = [m async for m in store.read_raw(filter_subject, from_seq=first, to_seq=last)]
    assert [m.seq for m in raw] == list(range(first, last + 1))
    assert sum(len(m.data) for m in raw) > READ_MAX_BYTES  # at least two bursts
