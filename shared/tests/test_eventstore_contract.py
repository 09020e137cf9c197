"""The event store port's contract, run against every adapter: in memory and JetStream.

`EventStoreContract` holds the behaviour application code relies on; each adapter's class
supplies the store (`store` fixture) and two hooks a test cannot write portably: another
registry's view of the same stream, and losing the reply of the next publish after it landed.
"""

from __future__ import annotations

import asyncio
from abc import ABC, abstractmethod
from datetime import timedelta
from typing import Any, ClassVar

import msgspec
import nats.errors
import pytest
from counter import EVENTS, FOLDER, CounterIncremented, CounterReset, increment
from nats.aio.msg import Msg

from spaceport import subjects
from spaceport.aggregate import execute
from spaceport.errors import ConcurrencyError
from spaceport.events import Event, EventRegistry
from spaceport.eventstore import EventStore
from spaceport.memstore import InMemoryEventStore
from spaceport.ports import AggregateRef, AppendContext, EventStorePort


class RawCounterIncremented(Event, frozen=True, kw_only=True, tag="CounterIncremented"):
    """A pass-through twin (like the record service's RawRecordsInserted): a field kept encoded."""

    aggregate: ClassVar[str] = "counter"
    by: msgspec.Raw
    writer: str = ""


@pytest.fixture(autouse=True)
def _types(registry: EventRegistry) -> None:
    registry.register(*EVENTS)


def counter(name: str = "c1", space: str = "us_sp_test") -> AggregateRef:
    return AggregateRef(environment_id="us_env_test", space_id=space, aggregate="counter", aggregate_id=name)


def conforming(jetstream: EventStore, memory: InMemoryEventStore) -> list[EventStorePort]:
    """Never called: mypy checks here that both adapters satisfy the port."""
    return [jetstream, memory]


class EventStoreContract(ABC):
    """Every adapter of `EventStorePort` passes these; subclasses provide a `store` fixture."""

    @abstractmethod
    def sibling(self, store: EventStorePort, registry: EventRegistry) -> EventStorePort:
        """A store on the same stream decoding with `registry`."""

    @abstractmethod
    def lose_next_reply(self, store: EventStorePort, monkeypatch: pytest.MonkeyPatch) -> None:
        """The next publish lands, but its reply never reaches the store."""

    # ---- append and load -------------------------------------------------------------------

    async def test_load_reads_only_its_aggregate_in_order(self, store: EventStorePort) -> None:
        a, b = counter("a"), counter("b")
        for by in range(1, 4):
            await store.append(a, [CounterIncremented(by=by)], expected_version=None)
            await store.append(b, [CounterIncremented(by=by * 100)], expected_version=None)
        loaded = await store.load(a)
        assert [e.event.by for e in loaded.events if isinstance(e.event, CounterIncremented)] == [1, 2, 3]
        assert loaded.version == loaded.events[-1].seq
        assert [e.seq for e in loaded.events] == sorted(e.seq for e in loaded.events)

    async def test_sequence_is_global_and_starts_at_one(self, store: EventStorePort) -> None:
        assert await store.last_seq() == 0
        assert (await store.load(counter())).version == 0
        one = await store.append(counter("a"), [CounterIncremented(by=1)], expected_version=0)
        two = await store.append(counter("b"), [CounterIncremented(by=2)], expected_version=0)
        assert (one.first_seq, one.last_seq, two.first_seq) == (1, 1, 2)
        assert await store.last_seq() == 2
        assert (await store.load(counter("b"))).version == 2

    async def test_expected_version_zero_n_and_none(self, store: EventStorePort) -> None:
        ref = counter()
        first = await store.append(ref, [CounterIncremented(by=1)], expected_version=0)
        with pytest.raises(ConcurrencyError):
            await store.append(ref, [CounterIncremented(by=2)], expected_version=0)
        second = await store.append(ref, [CounterIncremented(by=3)], expected_version=first.last_seq)
        with pytest.raises(ConcurrencyError):
            await store.append(ref, [CounterIncremented(by=4)], expected_version=first.last_seq)
        await store.append(counter("other"), [CounterReset()], expected_version=None)
        await store.append(ref, [CounterIncremented(by=5)], expected_version=second.last_seq)  # others don't count
        await store.append(ref, [CounterIncremented(by=6)], expected_version=None)
        assert FOLDER.fold(await store.load(ref)).value == 1 + 3 + 5 + 6

    async def test_the_guard_covers_every_event_type_of_the_aggregate(self, store: EventStorePort) -> None:
        ref = counter()
        first = await store.append(ref, [CounterIncremented(by=1)], expected_version=0)
        await store.append(ref, [CounterReset()], expected_version=first.last_seq)
        with pytest.raises(ConcurrencyError):
            await store.append(ref, [CounterIncremented(by=2)], expected_version=first.last_seq)

    async def test_appends_need_one_to_a_thousand_events(self, store: EventStorePort) -> None:
        with pytest.raises(ValueError, match="at least one"):
            await store.append(counter(), [], expected_version=None)
        with pytest.raises(ValueError, match="at most"):
            await store.append(counter(), [CounterReset()] * 1001, expected_version=0)

    async def test_events_with_pre_encoded_fields_read_back_as_the_full_type(self, store: EventStorePort) -> None:
        ref = counter()
        await store.append(ref, [RawCounterIncremented(by=msgspec.Raw(b"7"), writer="raw")], expected_version=0)
        [stored] = (await store.load(ref)).events
        assert stored.event == CounterIncremented(by=7, writer="raw")
        assert stored.envelope.type == "CounterIncremented"

    async def test_unknown_event_types_are_read_not_lost(self, store: EventStorePort) -> None:
        ref = counter()
        await store.append(ref, [CounterIncremented(by=1)], expected_version=None)
        narrow = self.sibling(store, EventRegistry())
        [stored] = (await narrow.load(ref)).events
        assert stored.event is None
        assert stored.envelope.type == "CounterIncremented"

    # ---- concurrency -------------------------------------------------------------------------

    async def test_two_concurrent_writers_one_wins_the_other_conflicts(self, store: EventStorePort) -> None:
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

    async def test_conflicting_commands_retry_and_both_apply(self, store: EventStorePort) -> None:
        ref = counter()
        writers = [
            execute(store, ref, FOLDER, increment(by, writer=f"w{by}"), AppendContext(), attempts=20)  # type: ignore[arg-type]
            for by in (1, 2, 3, 4, 5, 6)
        ]
        await asyncio.gather(*writers)
        state = FOLDER.fold(await store.load(ref))
        assert state.value == 21
        assert state.increments == 6

    async def test_retry_decides_against_the_fresh_state(self, store: EventStorePort) -> None:
        """The loser's retry sees the winner's event: the cap holds across the race."""
        ref = counter()
        results = await asyncio.gather(
            *(execute(store, ref, FOLDER, increment(600, cap=1000), AppendContext(), attempts=10) for _ in range(2)),  # type: ignore[arg-type]
            return_exceptions=True,
        )
        assert sum(isinstance(r, Exception) for r in results) == 1
        assert FOLDER.fold(await store.load(ref)).value == 600

    async def test_a_guarded_append_is_refused_past_its_version(self, store: EventStorePort) -> None:
        ref = counter()
        first = await store.append(ref, [CounterIncremented(by=1)], expected_version=0)
        with pytest.raises(ConcurrencyError):
            await store.append(ref, [CounterIncremented(by=2)], expected_version=0)
        second = await store.append(ref, [CounterIncremented(by=3)], expected_version=first.last_seq)
        assert second.last_seq > first.last_seq
        assert FOLDER.fold(await store.load(ref)).value == 4

    async def test_a_guarded_conflict_is_refused_without_reading_the_aggregate(
        self, store: EventStorePort, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        ref = counter()
        first = await store.append(ref, [CounterIncremented(by=1)], expected_version=0)
        await store.append(ref, [CounterIncremented(by=2)], expected_version=first.last_seq)

        def no_reads(*_: object, **__: object) -> None:
            raise AssertionError("a conflict of fresh events must not read the stream")

        monkeypatch.setattr(store, "read", no_reads)
        monkeypatch.setattr(store, "load", no_reads)
        with pytest.raises(ConcurrencyError):
            await store.append(ref, [CounterIncremented(by=3)], expected_version=first.last_seq)

    # ---- idempotency and lost acks -------------------------------------------------------------

    async def test_an_idempotency_key_makes_the_same_event_ids(self, store: EventStorePort) -> None:
        context = AppendContext(idempotency_key="same-ids")
        events = [CounterIncremented(by=1), CounterReset()]
        one = await store.append(counter("a"), events, expected_version=0, context=context)
        two = await store.append(counter("b"), events, expected_version=0, context=AppendContext())
        again = await store.append(counter("a"), events, expected_version=0, context=context)
        assert again.event_ids == one.event_ids == [context.event_id(0), context.event_id(1)]
        assert set(two.event_ids).isdisjoint(one.event_ids)

    async def test_same_append_twice_is_stored_once(self, store: EventStorePort) -> None:
        ref = counter()
        context = AppendContext(idempotency_key="request-1")
        first = await store.append(ref, [CounterIncremented(by=1)], expected_version=None, context=context)
        again = await store.append(ref, [CounterIncremented(by=1)], expected_version=None, context=context)
        assert again.duplicate
        assert again.last_seq == first.last_seq
        assert len((await store.load(ref)).events) == 1

    async def test_lost_ack_of_an_atomic_batch_is_recognised(self, store: EventStorePort) -> None:
        ref = counter()
        context = AppendContext(idempotency_key="batch-lost-ack")
        events = [CounterIncremented(by=1), CounterIncremented(by=2), CounterReset()]
        first = await store.append(ref, events, expected_version=0, context=context)
        retried = await store.append(ref, events, expected_version=0, context=context)
        assert retried.duplicate
        assert (retried.first_seq, retried.last_seq) == (first.first_seq, first.last_seq)
        assert len((await store.load(ref)).events) == 3

    async def test_command_retried_with_its_idempotency_key_is_not_applied_twice(self, store: EventStorePort) -> None:
        ref = counter()
        context = AppendContext(idempotency_key="http-retry")
        one = await execute(store, ref, FOLDER, increment(7), context)  # type: ignore[arg-type]
        two = await execute(store, ref, FOLDER, increment(7), context)  # type: ignore[arg-type]
        assert two.result is not None and two.result.duplicate
        assert one.result is not None and two.result.last_seq == one.result.last_seq
        assert FOLDER.fold(await store.load(ref)).value == 7

    @pytest.mark.parametrize("count", [1, 3])
    @pytest.mark.parametrize("expected_version", [0, None])
    async def test_a_reply_lost_after_the_append_returns_what_landed(
        self, store: EventStorePort, monkeypatch: pytest.MonkeyPatch, count: int, expected_version: int | None
    ) -> None:
        """No idempotency key: the store's own retry carries the same (random) event ids."""
        ref = counter()
        self.lose_next_reply(store, monkeypatch)
        result = await store.append(ref, [CounterIncremented(by=1)] * count, expected_version=expected_version)
        stored = (await store.load(ref)).events
        assert result.duplicate
        assert result.event_ids == [e.event_id for e in stored]  # stored once
        assert (result.first_seq, result.last_seq) == (stored[0].seq, stored[-1].seq)

    async def test_a_guarded_append_recognises_a_lost_ack_reading_only_after_the_guard(
        self, store: EventStorePort, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """History of 50 events; the retry of a landed (ack lost) append reads only what follows its guard."""
        ref = counter()
        for n in range(50):
            await store.append(ref, [CounterIncremented(by=n)], expected_version=None)
        version = (await store.load(ref)).version
        context = AppendContext(idempotency_key="append-at-lost-ack")
        events = [CounterIncremented(by=1), CounterReset()]
        landed = await store.append(ref, events, expected_version=version, context=context)
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
        retried = await store.append(ref, events, expected_version=version, context=context)
        assert retried.duplicate
        assert (retried.first_seq, retried.last_seq) == (landed.first_seq, landed.last_seq)
        assert reads == [(version + 1, 3)]

        other = AppendContext(idempotency_key="append-at-never-landed")
        with pytest.raises(ConcurrencyError):
            await store.append(ref, [CounterReset()], expected_version=version, context=other)

    async def test_a_retry_guarded_after_its_own_landing(self, store: EventStorePort) -> None:
        """JetStream's answers when a retry was decided after its first try landed: a single event
        is a duplicate (its id is known), a batch a conflict (10201; its events lie before the
        guard, where the store does not look). Callers recognise such batches themselves."""
        single, batch = AppendContext(idempotency_key="single"), AppendContext(idempotency_key="batch")
        one = await store.append(counter("a"), [CounterReset()], expected_version=0, context=single)
        again = await store.append(counter("a"), [CounterReset()], expected_version=one.last_seq, context=single)
        assert (again.duplicate, again.last_seq) == (True, one.last_seq)
        events = [CounterIncremented(by=1), CounterReset()]
        landed = await store.append(counter("b"), events, expected_version=0, context=batch)
        with pytest.raises(ConcurrencyError):
            await store.append(counter("b"), events, expected_version=landed.last_seq, context=batch)
        assert len((await store.load(counter("b"))).events) == 2

    # ---- batches -------------------------------------------------------------------------------

    async def test_multi_event_append_is_atomic(self, store: EventStorePort) -> None:
        ref = counter()
        await store.append(ref, [CounterIncremented(by=1)], expected_version=0)
        stale = [CounterIncremented(by=2), CounterIncremented(by=3), CounterReset()]
        with pytest.raises(ConcurrencyError):
            await store.append(ref, stale, expected_version=0)
        assert len((await store.load(ref)).events) == 1  # none of the three landed
        result = await store.append(ref, stale, expected_version=(await store.load(ref)).version)
        assert result.last_seq - result.first_seq == 2
        assert len((await store.load(ref)).events) == 4

    async def test_a_batch_lands_contiguous_with_its_event_ids(self, store: EventStorePort) -> None:
        await store.append(counter("other"), [CounterReset()], expected_version=None)
        result = await store.append(counter(), [CounterIncremented(by=n) for n in range(5)], expected_version=0)
        loaded = await store.load(counter())
        assert [e.seq for e in loaded.events] == list(range(result.first_seq, result.last_seq + 1))
        assert [e.event_id for e in loaded.events] == result.event_ids
        assert await store.last_seq() == result.last_seq

    # ---- reads ---------------------------------------------------------------------------------

    async def test_space_history_up_to_sequence_and_time(self, store: EventStorePort) -> None:
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
        before_all = [
            e async for e in store.read_scope(space, up_to_time=everything[0].stored_at - timedelta(seconds=1))
        ]
        assert before_all == []
        later = [e.seq async for e in store.read_scope(space, from_seq=seqs[2], up_to_seq=seqs[4])]
        assert later == seqs[2:5]

    async def test_read_from_a_sequence_by_filter(self, store: EventStorePort) -> None:
        seqs = [
            (await store.append(counter(f"c{i % 3}"), [CounterIncremented(by=i)], expected_version=None)).last_seq
            for i in range(9)
        ]
        kind = subjects.aggregate_kind_filter(store.prefix, "counter")
        assert [e.seq async for e in store.read(kind, from_seq=seqs[4])] == seqs[4:]
        assert [e.seq async for e in store.read(kind, from_seq=seqs[4], batch=2)] == seqs[4:]
        one = subjects.aggregate_filter(store.prefix, "us_sp_test", "counter", "c1")
        assert [e.seq async for e in store.read(one, from_seq=seqs[2])] == [seqs[4], seqs[7]]
        assert [e async for e in store.read(kind, from_seq=seqs[-1] + 1)] == []

    async def test_read_raw_between_two_sequences(self, store: EventStorePort) -> None:
        for i in range(8):
            await store.append(counter(f"c{i % 2}"), [CounterIncremented(by=i)], expected_version=None)
        c0 = subjects.aggregate_filter(store.prefix, "us_sp_test", "counter", "c0")
        raw = [m async for m in store.read_raw(c0, from_seq=2, to_seq=6)]
        assert [m.seq for m in raw] == [3, 5]
        decoded = [e async for e in store.read(c0)]
        assert [m.seq for m in raw] == [e.seq for e in decoded[1:3]]
        assert [m.subject for m in raw] == [e.subject for e in decoded[1:3]]
        assert [m.stored_at for m in raw] == [e.stored_at for e in decoded[1:3]]
        assert [msgspec.json.decode(m.data)["id"] for m in raw] == [e.event_id for e in decoded[1:3]]
        everything = subjects.scope_filter(store.prefix, "us_sp_test")
        assert [m.seq async for m in store.read_raw(everything, from_seq=3, to_seq=7, batch=2)] == [3, 4, 5, 6, 7]
        assert [m.seq async for m in store.read_raw(everything, from_seq=7, to_seq=100)] == [7, 8]
        assert [m.seq async for m in store.read_raw(everything, from_seq=5, to_seq=4)] == []
        assert [m.seq async for m in store.read_raw(c0, from_seq=8, to_seq=8)] == []


class TestInMemoryEventStore(EventStoreContract):
    pytestmark = pytest.mark.unit

    @pytest.fixture
    def store(self, registry: EventRegistry) -> InMemoryEventStore:
        return InMemoryEventStore(registry)

    def sibling(self, store: EventStorePort, registry: EventRegistry) -> EventStorePort:
        assert isinstance(store, InMemoryEventStore)
        return store.with_registry(registry)

    def lose_next_reply(self, store: EventStorePort, monkeypatch: pytest.MonkeyPatch) -> None:
        assert isinstance(store, InMemoryEventStore)
        store.drop_next_replies(1)


class TestJetStreamEventStore(EventStoreContract):
    """On the session's NATS server, a stream per test (the `store` fixture of spaceport.testing)."""

    def sibling(self, store: EventStorePort, registry: EventRegistry) -> EventStorePort:
        assert isinstance(store, EventStore)
        return EventStore(store.nc, registry, stream=store.stream, prefix=store.prefix)

    def lose_next_reply(self, store: EventStorePort, monkeypatch: pytest.MonkeyPatch) -> None:
        assert isinstance(store, EventStore)
        request = store.nc.request

        async def landed_unanswered(*args: Any, **kwargs: Any) -> Msg:
            if not str(args[0] if args else kwargs.get("subject", "")).startswith(f"{store.prefix}."):
                return await request(*args, **kwargs)  # not the append (e.g. the space's data key)
            monkeypatch.setattr(store.nc, "request", request)
            await request(*args, **kwargs)
            raise nats.errors.TimeoutError

        monkeypatch.setattr(store.nc, "request", landed_unanswered)
