"""The event store against a real JetStream server: concurrency, idempotency, atomicity, reads."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import pytest
from counter import EVENTS, FOLDER, CounterIncremented, CounterReset, increment

from spaceport.aggregate import execute
from spaceport.errors import ConcurrencyError
from spaceport.events import EventRegistry, encode
from spaceport.eventstore import AggregateRef, AppendContext, EventStore


@pytest.fixture(autouse=True)
def _types(registry: EventRegistry) -> None:
    registry.register(*EVENTS)


def counter(name: str = "c1", space: str = "us_sp_test") -> AggregateRef:
    return AggregateRef(environment_id="us_env_test", space_id=space, aggregate="counter", aggregate_id=name)


async def test_two_concurrent_writers_one_wins_the_other_conflicts(store: EventStore) -> None:
    ref = counter()
    await store.append(ref, [CounterIncremented(by=1)], expected_version=0)
    version = (await store.load(ref)).version
    results = await asyncio.gather(
        store.append(ref, [CounterIncremented(by=10, writer="a")], expected_version=version),
        store.append(ref, [CounterIncremented(by=20, writer="b")], expected_version=version),
        return_exceptions=True,
    )
    conflicts = [r for r in results if isinstance(r, ConcurrencyError)]
    assert len(conflicts) == 1
    loaded = await store.load(ref)
    assert len(loaded.events) == 2  # the loser wrote nothing


async def test_conflicting_commands_retry_and_both_apply(store: EventStore) -> None:
    ref = counter()
    writers = [
        execute(store, ref, FOLDER, increment(by, writer=f"w{by}"), AppendContext(), attempts=20)  # type: ignore[arg-type]
        for by in (1, 2, 3, 4, 5, 6)
    ]
    await asyncio.gather(*writers)
    state = FOLDER.fold(await store.load(ref))
    assert state.value == 21
    assert state.increments == 6


async def test_retry_decides_against_the_fresh_state(store: EventStore) -> None:
    """The loser's retry sees the winner's event: the cap holds across the race."""
    ref = counter()
    results = await asyncio.gather(
        *(execute(store, ref, FOLDER, increment(600, cap=1000), AppendContext(), attempts=10) for _ in range(2)),  # type: ignore[arg-type]
        return_exceptions=True,
    )
    assert sum(isinstance(r, Exception) for r in results) == 1
    assert FOLDER.fold(await store.load(ref)).value == 600


async def test_same_append_twice_is_stored_once(store: EventStore) -> None:
    ref = counter()
    context = AppendContext(idempotency_key="request-1")
    first = await store.append(ref, [CounterIncremented(by=1)], expected_version=None, context=context)
    again = await store.append(ref, [CounterIncremented(by=1)], expected_version=None, context=context)
    assert again.duplicate
    assert again.last_seq == first.last_seq
    assert len((await store.load(ref)).events) == 1


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


async def test_lost_ack_of_an_atomic_batch_is_recognised(store: EventStore) -> None:
    ref = counter()
    context = AppendContext(idempotency_key="batch-lost-ack")
    events = [CounterIncremented(by=1), CounterIncremented(by=2), CounterReset()]
    first = await store.append(ref, events, expected_version=0, context=context)
    retried = await store.append(ref, events, expected_version=0, context=context)
    assert retried.duplicate
    assert (retried.first_seq, retried.last_seq) == (first.first_seq, first.last_seq)
    assert len((await store.load(ref)).events) == 3


async def test_command_retried_with_its_idempotency_key_is_not_applied_twice(store: EventStore) -> None:
    ref = counter()
    context = AppendContext(idempotency_key="http-retry")
    one = await execute(store, ref, FOLDER, increment(7), context)  # type: ignore[arg-type]
    two = await execute(store, ref, FOLDER, increment(7), context)  # type: ignore[arg-type]
    assert two.result is not None and two.result.duplicate
    assert one.result is not None and two.result.last_seq == one.result.last_seq
    assert FOLDER.fold(await store.load(ref)).value == 7


async def test_multi_event_append_is_atomic(store: EventStore) -> None:
    ref = counter()
    await store.append(ref, [CounterIncremented(by=1)], expected_version=0)
    stale = [CounterIncremented(by=2), CounterIncremented(by=3), CounterReset()]
    with pytest.raises(ConcurrencyError):
        await store.append(ref, stale, expected_version=0)
    assert len((await store.load(ref)).events) == 1  # none of the three landed
    result = await store.append(ref, stale, expected_version=(await store.load(ref)).version)
    assert result.last_seq - result.first_seq == 2
    assert len((await store.load(ref)).events) == 4


async def test_load_reads_only_its_aggregate_in_order(store: EventStore) -> None:
    a, b = counter("a"), counter("b")
    for by in range(1, 4):
        await store.append(a, [CounterIncremented(by=by)], expected_version=None)
        await store.append(b, [CounterIncremented(by=by * 100)], expected_version=None)
    loaded = await store.load(a)
    assert [e.event.by for e in loaded.events if isinstance(e.event, CounterIncremented)] == [1, 2, 3]
    assert loaded.version == loaded.events[-1].seq
    assert [e.seq for e in loaded.events] == sorted(e.seq for e in loaded.events)


async def test_load_pages_past_one_read_batch(store: EventStore) -> None:
    ref = counter()
    for start in range(0, 2500, 500):
        await store.append(ref, [CounterIncremented(by=1)] * 500, expected_version=None)
        del start
    assert FOLDER.fold(await store.load(ref)).value == 2500


async def test_space_history_up_to_sequence_and_time(store: EventStore) -> None:
    space, other = "us_sp_history", "us_sp_other"
    seqs = []
    for i in range(6):
        result = await store.append(counter(f"c{i % 2}", space), [CounterIncremented(by=i)], expected_version=None)
        await store.append(counter("x", other), [CounterIncremented(by=99)], expected_version=None)
        seqs.append(result.last_seq)
    everything = [e async for e in store.read_scope(space)]
    assert [e.seq for e in everything] == seqs  # only this space, in order
    upto = [e.seq async for e in store.read_scope(space, up_to_seq=seqs[3])]
    assert upto == seqs[:4]
    cut = everything[2].stored_at
    by_time = [e.seq async for e in store.read_scope(space, up_to_time=cut)]
    assert by_time == seqs[:3]
    before_all = [e async for e in store.read_scope(space, up_to_time=everything[0].stored_at - timedelta(seconds=1))]
    assert before_all == []


async def test_unknown_event_types_are_read_not_lost(store: EventStore) -> None:
    ref = counter()
    await store.append(ref, [CounterIncremented(by=1)], expected_version=None)
    narrow = EventStore(store.nc, EventRegistry(), stream=store.stream, prefix=store.prefix)
    [stored] = (await narrow.load(ref)).events
    assert stored.event is None
    assert stored.envelope.type == "CounterIncremented"


async def test_load_of_large_events_pages_by_bytes(store: EventStore) -> None:
    """Reads are capped per burst (8 MB), so aggregates of big events load in several requests."""
    ref = counter()
    big = [CounterIncremented(by=1, writer="x" * 200_000)] * 5  # ~1 MB per atomic append
    for _ in range(12):
        await store.append(ref, big, expected_version=None)
    assert FOLDER.fold(await store.load(ref)).value == 60


async def test_append_at_conflict_is_refused_without_reading_the_aggregate(
    store: EventStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    ref = counter()
    first = await store.append_at(ref, [CounterIncremented(by=1)], expected_version=0)
    await store.append_at(ref, [CounterIncremented(by=2)], expected_version=first.last_seq)

    def no_reads(*_: object, **__: object) -> None:
        raise AssertionError("a conflict of fresh events must not read the stream")

    monkeypatch.setattr(store, "read", no_reads)
    monkeypatch.setattr(store, "load", no_reads)
    with pytest.raises(ConcurrencyError):
        await store.append_at(ref, [CounterIncremented(by=3)], expected_version=first.last_seq)


async def test_append_at_recognises_a_lost_ack_reading_only_after_the_guard(
    store: EventStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """History of 50 events; the retry of a landed (ack lost) append reads only what follows its guard."""
    ref = counter()
    for n in range(50):
        await store.append(ref, [CounterIncremented(by=n)], expected_version=None)
    version = (await store.load(ref)).version
    context = AppendContext(idempotency_key="append-at-lost-ack")
    events = [CounterIncremented(by=1), CounterReset()]
    landed = await store.append_at(ref, events, expected_version=version, context=context)
    await store.append(ref, [CounterIncremented(by=9)], expected_version=None)  # someone else, later

    read = store.read
    reads: list[tuple[int, int]] = []

    def counting(filter_subject: str, *, from_seq: int = 1, batch: int = 1000) -> Any:
        reads.append((from_seq, batch))
        return read(filter_subject, from_seq=from_seq, batch=batch)

    def no_load(*_: object) -> None:
        raise AssertionError("the aggregate must not be loaded")

    monkeypatch.setattr(store, "read", counting)
    monkeypatch.setattr(store, "load", no_load)
    retried = await store.append_at(ref, events, expected_version=version, context=context)
    assert retried.duplicate
    assert (retried.first_seq, retried.last_seq) == (landed.first_seq, landed.last_seq)
    assert reads == [(version + 1, 3)]

    other = AppendContext(idempotency_key="append-at-never-landed")
    with pytest.raises(ConcurrencyError):
        await store.append_at(ref, [CounterReset()], expected_version=version, context=other)
