"""The in-memory event store's own knobs: subject matching, its clock, and injected faults.

Its behaviour as an event store is the contract suite's (test_eventstore_contract.py).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from counter import EVENTS, FOLDER, CounterIncremented, CounterReset, increment

from spaceport.aggregate import execute
from spaceport.errors import ConcurrencyError, ServiceUnavailableError
from spaceport.events import EventRegistry
from spaceport.memstore import InMemoryEventStore
from spaceport.ports import AggregateRef, AppendContext
from spaceport.subjects import subject_matches

pytestmark = pytest.mark.unit

REF = AggregateRef(environment_id="us_env_test", space_id="us_sp_test", aggregate="counter", aggregate_id="c1")
START = datetime(2026, 1, 1, tzinfo=UTC)


@pytest.fixture
def store() -> InMemoryEventStore:
    return InMemoryEventStore(EventRegistry(EVENTS))


class Clock:
    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> datetime:
        return self.now


@pytest.mark.parametrize(
    ("filter_subject", "subject", "matches"),
    [
        ("evt.s.counter.c1.*", "evt.s.counter.c1.counter_reset", True),
        ("evt.s.counter.c1.*", "evt.s.counter.c10.counter_reset", False),
        ("evt.s.counter.c1.*", "evt.s.counter.c1.counter_reset.more", False),
        ("evt.s.>", "evt.s.counter.c1.counter_reset", True),
        ("evt.s.>", "evt.s", False),
        ("evt.*.counter.>", "evt.t.counter.c2.counter_reset", True),
        ("evt.*.counter.>", "evt.t.space.c2.space_created", False),
        ("evt.s.counter.c1.counter_reset", "evt.s.counter.c1.counter_reset", True),
        ("evt.s.counter", "evt.s.counter.c1.counter_reset", False),
    ],
)
def test_subjects_match_like_nats(filter_subject: str, subject: str, matches: bool) -> None:
    assert subject_matches(filter_subject, subject) is matches


async def test_stored_and_occurred_times_come_from_the_clock() -> None:
    clock = Clock()
    store = InMemoryEventStore(EventRegistry(EVENTS), clock=clock)
    for hour in range(3):
        clock.now = START + timedelta(hours=hour)
        await store.append(REF, [CounterIncremented(by=hour)], expected_version=None)
    events = [e async for e in store.read_scope("us_sp_test", up_to_time=START + timedelta(minutes=90))]
    assert [e.stored_at for e in events] == [START, START + timedelta(hours=1)]
    assert [e.envelope.occurred_at for e in events] == [START, START + timedelta(hours=1)]


async def test_a_clock_that_stands_still_still_gives_increasing_stored_times() -> None:
    store = InMemoryEventStore(EventRegistry(EVENTS), clock=Clock())
    await store.append(REF, [CounterIncremented(by=1), CounterReset()], expected_version=None)
    await store.append(REF, [CounterIncremented(by=2)], expected_version=None)
    times = [e.stored_at for e in (await store.load(REF)).events]
    assert times == [START, START, START + timedelta(microseconds=1)]  # a batch shares one time


async def test_a_lost_ack_lands_and_raises_then_the_retry_gets_what_landed(store: InMemoryEventStore) -> None:
    context = AppendContext(idempotency_key="lost")
    events = [CounterIncremented(by=1), CounterReset()]
    store.lose_next_acks()
    with pytest.raises(ServiceUnavailableError):
        await store.append(REF, events, expected_version=0, context=context)
    landed = (await store.load(REF)).events
    assert [e.event_id for e in landed] == [context.event_id(0), context.event_id(1)]
    retried = await store.append(REF, events, expected_version=0, context=context)
    assert retried.duplicate
    assert (retried.first_seq, retried.last_seq, retried.event_ids) == (1, 2, [e.event_id for e in landed])


async def test_a_lost_ack_of_a_command_is_answered_from_what_landed_on_retry(store: InMemoryEventStore) -> None:
    context = AppendContext(idempotency_key="command")
    store.lose_next_acks()
    with pytest.raises(ServiceUnavailableError):
        await execute(store, REF, FOLDER, increment(5), context)  # type: ignore[arg-type]
    again = await execute(store, REF, FOLDER, increment(5), context)  # type: ignore[arg-type]
    assert again.result is not None and again.result.duplicate
    assert FOLDER.fold(await store.load(REF)).value == 5


async def test_a_lost_ack_of_a_refused_append_raises_the_same_and_lands_nothing(store: InMemoryEventStore) -> None:
    await store.append(REF, [CounterReset()], expected_version=0)
    store.lose_next_acks()
    with pytest.raises(ServiceUnavailableError):
        await store.append(REF, [CounterIncremented(by=1)], expected_version=0)
    assert await store.last_seq() == 1
    with pytest.raises(ConcurrencyError):  # the fault was used up
        await store.append(REF, [CounterIncremented(by=1)], expected_version=0)


async def test_faults_count_down(store: InMemoryEventStore) -> None:
    store.lose_next_acks(2)
    for _ in range(2):
        with pytest.raises(ServiceUnavailableError):
            await store.append(REF, [CounterReset()], expected_version=None)
    assert not (await store.append(REF, [CounterReset()], expected_version=None)).duplicate
    assert await store.last_seq() == 3


async def test_three_dropped_replies_exhaust_the_stores_retries(store: InMemoryEventStore) -> None:
    store.drop_next_replies(3)
    with pytest.raises(ServiceUnavailableError):
        await store.append(REF, [CounterIncremented(by=1)], expected_version=0)
    assert len((await store.load(REF)).events) == 1  # landed on the first try, once


async def test_ids_are_deduplicated_beyond_jetstreams_window(store: InMemoryEventStore) -> None:
    context = AppendContext(idempotency_key="forever")
    first = await store.append(REF, [CounterReset()], expected_version=None, context=context)
    again = await store.append(REF, [CounterReset()], expected_version=None, context=context)
    assert (again.duplicate, again.last_seq) == (True, first.last_seq)


async def test_a_store_with_another_registry_shares_the_log(store: InMemoryEventStore) -> None:
    narrow = store.with_registry(EventRegistry([CounterReset]))
    await store.append(REF, [CounterIncremented(by=1)], expected_version=0)
    await narrow.append(REF, [CounterReset()], expected_version=1)
    assert [e.event for e in (await narrow.load(REF)).events] == [None, CounterReset()]
    assert await store.last_seq() == await narrow.last_seq() == 2
