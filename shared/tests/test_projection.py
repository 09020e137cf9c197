"""Projections against real JetStream and Postgres: exactly-once apply, crash recovery, rebuild."""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import asyncpg
import nats.js.errors
import pytest
from counter import EVENTS, CounterIncremented, CounterReset
from nats.aio.msg import Msg
from opentelemetry import context as otel_context
from opentelemetry import trace

from spaceport.events import EventRegistry, StoredEvent
from spaceport.eventstore import AggregateRef, EventStore
from spaceport.projection import ProjectionRunner, _sampled_trace
from spaceport.projection.consumer import Batches
from spaceport.readmodel import Conn
from spaceport.testing.infra import InfraUrls

MIGRATIONS = Path(__file__).parent / "projection_migrations"


class Totals:
    """Sums increments per counter and counts applications (to catch double-applies)."""

    migrations = MIGRATIONS

    def __init__(self, name: str, prefix: str) -> None:
        self.name = name
        self.filter_subjects = [f"{prefix}.*.counter.>"]

    async def apply(self, conn: Conn, stored: StoredEvent) -> None:
        counter_id = stored.envelope.aggregate_id
        match stored.event:
            case CounterIncremented(by=by):
                await conn.execute(
                    "INSERT INTO total (id, value, applied) VALUES ($1, $2, 1) ON CONFLICT (id)"
                    " DO UPDATE SET value = total.value + $2, applied = total.applied + 1",
                    counter_id,
                    by,
                )
            case CounterReset():
                await conn.execute("UPDATE total SET value = 0, applied = applied + 1 WHERE id = $1", counter_id)


@pytest.fixture(autouse=True)
def _types(registry: EventRegistry) -> None:
    registry.register(*EVENTS)


def ref(name: str) -> AggregateRef:
    return AggregateRef(environment_id="us_env_p", space_id="us_sp_p", aggregate="counter", aggregate_id=name)


async def rows(pool: asyncpg.Pool, schema: str) -> list[tuple[str, int, int]]:
    async with pool.acquire() as conn:
        records = await conn.fetch(f'SELECT id, value, applied FROM "{schema}".total ORDER BY id')
    return [(r["id"], r["value"], r["applied"]) for r in records]


async def test_events_are_projected_and_checkpointed(store: EventStore, pool: asyncpg.Pool, unique_name: str) -> None:
    runner = ProjectionRunner(store, pool, Totals(f"p_{unique_name}", store.prefix), batch_size=50)
    await runner.start()
    try:
        last = 0
        for i in range(120):
            last = (await store.append(ref(f"c{i % 3}"), [CounterIncremented(by=1)], expected_version=None)).last_seq
        assert await runner.wait_for(last, timeout=20)
        assert await rows(pool, runner.schema) == [("c0", 40, 40), ("c1", 40, 40), ("c2", 40, 40)]
        async with pool.acquire() as conn:
            position = await conn.fetchval(f'SELECT position FROM "{runner.schema}".projection_checkpoint')
        assert position == last
    finally:
        await runner.stop()


class DiesAfterCommit(ProjectionRunner):
    """Commits the batch, then 'dies' before acknowledging it."""

    async def after_commit(self, msgs: list[Msg]) -> None:
        self.died_at = msgs[-1].metadata.sequence.stream
        raise asyncio.CancelledError


async def test_crash_between_commit_and_ack_applies_each_event_once(
    store: EventStore, pool: asyncpg.Pool, unique_name: str
) -> None:
    totals = Totals(f"p_{unique_name}", store.prefix)
    for _ in range(10):
        await store.append(ref("c"), [CounterIncremented(by=1)], expected_version=None)
    dying = DiesAfterCommit(store, pool, totals, batch_size=100, ack_wait=1.0)
    await dying.start()
    assert dying._task is not None
    with pytest.raises(asyncio.CancelledError):
        await dying._task
    assert await rows(pool, dying.schema) == [("c", 10, 10)]  # committed, never acked

    info = await store.js.consumer_info(store.stream, dying.consumer_name)
    assert info.num_ack_pending == 10  # JetStream still owes these to someone

    survivor = ProjectionRunner(store, pool, totals, batch_size=100, ack_wait=1.0)
    await survivor.start()
    try:
        last = (await store.append(ref("c"), [CounterIncremented(by=5)], expected_version=None)).last_seq
        assert await survivor.wait_for(last, timeout=20)
        # The redelivered ten were skipped by the checkpoint; only the new event was applied.
        assert await rows(pool, survivor.schema) == [("c", 15, 11)]
        for _ in range(50):  # the redelivered batch gets acknowledged once the survivor saw it
            info = await store.js.consumer_info(store.stream, survivor.consumer_name)
            if info.num_ack_pending == 0:
                break
            await asyncio.sleep(0.1)
        assert info.num_ack_pending == 0
    finally:
        await survivor.stop()


async def test_rebuild_from_zero_equals_live(store: EventStore, pool: asyncpg.Pool, unique_name: str) -> None:
    runner = ProjectionRunner(store, pool, Totals(f"p_{unique_name}", store.prefix), batch_size=64)
    await runner.start()
    try:
        last = 0
        for i in range(300):
            events = [CounterReset()] if i % 37 == 0 else [CounterIncremented(by=i % 7), CounterIncremented(by=1)]
            last = (await store.append(ref(f"c{i % 5}"), events, expected_version=None)).last_seq
        assert await runner.wait_for(last, timeout=30)
        live = await rows(pool, runner.schema)
        shadow = await runner.rebuild(swap=False)
        assert await rows(pool, shadow) == live
        assert live  # a non-empty comparison

        await runner.rebuild(swap=True)  # the shadow becomes live; the runner keeps consuming
        assert await rows(pool, runner.schema) == live
        extra = (await store.append(ref("c0"), [CounterIncremented(by=1000)], expected_version=None)).last_seq
        assert await runner.wait_for(extra, timeout=20)
        after = {i: v for i, v, _ in await rows(pool, runner.schema)}
        assert after["c0"] == {i: v for i, v, _ in live}["c0"] + 1000
    finally:
        await runner.stop()


async def test_rebuild_verifies_at_the_live_checkpoint_before_applying_later_events(
    store: EventStore, pool: asyncpg.Pool, unique_name: str
) -> None:
    """`verify` sees the shadow filled exactly to the live checkpoint (events after it, appended
    while live was stopped, not yet applied); raising leaves the live schema in place."""
    runner = ProjectionRunner(store, pool, Totals(f"p_{unique_name}", store.prefix), batch_size=8)
    await runner.start()
    for i in range(40):
        live_at = (await store.append(ref(f"c{i % 3}"), [CounterIncremented(by=1)], expected_version=None)).last_seq
    assert await runner.wait_for(live_at, timeout=30)
    await runner.stop()
    live = await rows(pool, runner.schema)
    later = (await store.append(ref("c0"), [CounterIncremented(by=100)], expected_version=None)).last_seq
    seen: list[tuple[int, Any]] = []

    async def verify(shadow: str, at: int) -> None:
        seen.append((at, await rows(pool, shadow)))

    assert await runner.rebuild(swap=False, verify=verify) == f"{runner.schema}_rebuild"
    assert seen == [(live_at, live)]
    rebuilt = {i: v for i, v, _ in await rows(pool, f"{runner.schema}_rebuild")}
    assert rebuilt["c0"] == {i: v for i, v, _ in live}["c0"] + 100  # then filled to the end
    assert later > live_at

    async def refuse(shadow: str, at: int) -> None:
        raise RuntimeError("differs")

    with pytest.raises(RuntimeError, match="differs"):
        await runner.rebuild(swap=True, verify=refuse)
    assert await rows(pool, runner.schema) == live  # not swapped


async def test_a_poison_event_is_recorded_and_skipped_not_fatal(
    store: EventStore, pool: asyncpg.Pool, unique_name: str
) -> None:
    class Fragile(Totals):
        async def apply(self, conn: Conn, stored: StoredEvent) -> None:
            if isinstance(stored.event, CounterIncremented) and stored.event.by == 13:
                raise ValueError("unlucky")
            await super().apply(conn, stored)

    runner = ProjectionRunner(store, pool, Fragile(f"p_{unique_name}", store.prefix))
    await runner.start()
    try:
        for by in (1, 13, 2):
            last = (await store.append(ref("c"), [CounterIncremented(by=by)], expected_version=None)).last_seq
        assert await runner.wait_for(last, timeout=20)
        assert await rows(pool, runner.schema) == [("c", 3, 2)]
        async with pool.acquire() as conn:
            failures = await conn.fetch(f'SELECT event_id, error FROM "{runner.schema}".projection_failure')
        assert len(failures) == 1 and "unlucky" in failures[0]["error"]
    finally:
        await runner.stop()


async def test_projector_process_killed_after_commit_before_ack_applies_once(
    store: EventStore, pool: asyncpg.Pool, unique_name: str, infra: InfraUrls
) -> None:
    name = f"p_{unique_name}"
    for _ in range(7):
        await store.append(ref("c"), [CounterIncremented(by=1)], expected_version=None)
    child = await asyncio.create_subprocess_exec(
        sys.executable,
        str(Path(__file__).parent / "projector_child.py"),
        infra.nats_url,
        infra.database_url,
        store.stream,
        store.prefix,
        name,
        env={**os.environ, "PYTHONPATH": os.pathsep.join([str(Path(__file__).parent), *sys.path])},
    )
    assert await asyncio.wait_for(child.wait(), timeout=60) == 17  # died inside after_commit
    assert await rows(pool, name) == [("c", 7, 7)]  # its commit survived

    survivor = ProjectionRunner(store, pool, Totals(name, store.prefix), batch_size=100, ack_wait=1.0)
    await survivor.start()
    try:
        last = (await store.append(ref("c"), [CounterIncremented(by=3)], expected_version=None)).last_seq
        assert await survivor.wait_for(last, timeout=20)
        assert await rows(pool, name) == [("c", 10, 8)]  # the seven redelivered were not re-applied
    finally:
        await survivor.stop()


async def test_two_replicas_share_a_projection_without_losing_or_repeating_events(
    store: EventStore, pool: asyncpg.Pool, unique_name: str
) -> None:
    """Both replicas run; one holds the lease and projects, the other stands by. Every event
    is applied exactly once, and when the active one stops the standby takes over."""
    totals = Totals(f"p_{unique_name}", store.prefix)
    first = ProjectionRunner(store, pool, totals, batch_size=40)
    second = ProjectionRunner(store, pool, totals, batch_size=40)
    await first.start()
    await second.start()
    try:
        last = 0
        for i in range(200):
            last = (await store.append(ref(f"c{i % 4}"), [CounterIncremented(by=1)], expected_version=None)).last_seq
        assert await first.wait_for(last, timeout=30)
        assert await second.wait_for(last, timeout=30)
        assert await rows(pool, totals.name) == [(f"c{i}", 50, 50) for i in range(4)]

        await first.stop()  # the lease passes to the standby
        for i in range(40):
            last = (await store.append(ref(f"c{i % 4}"), [CounterIncremented(by=1)], expected_version=None)).last_seq
        assert await second.wait_for(last, timeout=30)
        assert await rows(pool, totals.name) == [(f"c{i}", 60, 60) for i in range(4)]
    finally:
        await first.stop()
        await second.stop()


async def test_a_changed_filter_recreates_the_consumer_from_the_checkpoint(
    store: EventStore, pool: asyncpg.Pool, unique_name: str
) -> None:
    """A release that folds a new kind of event widens the filter of an existing durable consumer."""
    totals = Totals(f"p_{unique_name}", store.prefix)
    runner = ProjectionRunner(store, pool, totals)
    await runner.start()
    last = (await store.append(ref("c"), [CounterIncremented(by=2)], expected_version=None)).last_seq
    assert await runner.wait_for(last, timeout=20)
    await runner.stop()

    totals.filter_subjects = [*totals.filter_subjects, f"{store.prefix}.*.other.>"]
    widened = ProjectionRunner(store, pool, totals)
    await widened.start()
    try:
        info = None
        for _ in range(200):  # the runner binds its consumer in the background: a bounded wait for it
            with contextlib.suppress(nats.js.errors.NotFoundError):
                info = await store.js.consumer_info(store.stream, widened.consumer_name)
                break
            await asyncio.sleep(0.05)
        assert info is not None, "the widened consumer was never created"
        assert sorted(info.config.filter_subjects or []) == sorted(totals.filter_subjects)
        last = (await store.append(ref("c"), [CounterIncremented(by=3)], expected_version=None)).last_seq
        assert await widened.wait_for(last, timeout=20)
        assert await rows(pool, widened.schema) == [("c", 5, 2)]  # nothing replayed twice
    finally:
        await widened.stop()


class BatchTotals(Totals):
    """Totals with `apply_batch`: the runner hands it whole batches (and single poison suspects)."""

    def __init__(self, name: str, prefix: str) -> None:
        super().__init__(name, prefix)
        self.calls: list[int] = []

    async def apply(self, conn: Conn, stored: StoredEvent) -> None:
        raise AssertionError("the runner must use apply_batch when a projection has it")

    async def apply_batch(self, conn: Conn, events: Sequence[StoredEvent]) -> None:
        self.calls.append(len(events))
        for stored in events:
            if isinstance(stored.event, CounterIncremented) and stored.event.by == 13:
                raise ValueError("unlucky")
            await Totals.apply(self, conn, stored)


async def test_apply_batch_gets_whole_batches_and_isolates_a_poison_event(
    store: EventStore, pool: asyncpg.Pool, unique_name: str
) -> None:
    for by in (1, 2, 13, 4):
        last = (await store.append(ref("c"), [CounterIncremented(by=by)], expected_version=None)).last_seq
    projection = BatchTotals(f"p_{unique_name}", store.prefix)
    runner = ProjectionRunner(store, pool, projection, batch_size=100)
    await runner.start()
    try:
        assert await runner.wait_for(last, timeout=20)
        assert await rows(pool, runner.schema) == [("c", 7, 3)]
        # The batch of four failed, then each event was applied alone under its own savepoint.
        assert projection.calls == [4, 1, 1, 1, 1]
        async with pool.acquire() as conn:
            failures = await conn.fetch(f'SELECT position, error FROM "{runner.schema}".projection_failure')
        assert len(failures) == 1 and "unlucky" in failures[0]["error"]

        last = (await store.append(ref("c"), [CounterIncremented(by=10)], expected_version=None)).last_seq
        assert await runner.wait_for(last, timeout=20)
        assert await rows(pool, runner.schema) == [("c", 17, 4)]
        assert projection.calls[-1] == 1
    finally:
        await runner.stop()


class FailsOnce(ProjectionRunner):
    """Its first batch fails before commit, as a dropped Postgres connection would."""

    failed = False

    async def _apply_and_commit(
        self, events: list[StoredEvent], traces: Sequence[otel_context.Context | None], *, upto: int | None = None
    ) -> int:
        if not self.failed:
            self.failed = True
            raise ConnectionError("postgres went away")
        return await super()._apply_and_commit(events, traces, upto=upto)


async def test_a_failed_batch_is_applied_before_the_events_after_it(
    store: EventStore, pool: asyncpg.Pool, unique_name: str
) -> None:
    """Acking a later batch (AckAll) must never acknowledge a failed, unapplied one."""
    for _ in range(30):
        last = (await store.append(ref("c"), [CounterIncremented(by=1)], expected_version=None)).last_seq
    runner = FailsOnce(store, pool, Totals(f"p_{unique_name}", store.prefix), batch_size=10)
    await runner.start()
    try:
        assert await runner.wait_for(last, timeout=20)
        assert runner.failed
        assert await rows(pool, runner.schema) == [("c", 30, 30)]
    finally:
        await runner.stop()


class DiesBeforeCommit(ProjectionRunner):
    """Fetches its first batch, then 'dies' before applying it: the batch stays unacked."""

    async def handle_batch(self, msgs: list[Msg]) -> None:
        raise asyncio.CancelledError


async def test_a_batch_fetched_but_never_committed_is_applied_by_the_next_runner(
    store: EventStore, pool: asyncpg.Pool, unique_name: str
) -> None:
    """Within ack_wait the fetched batch is not redelivered, and acking the events after it would
    acknowledge it unapplied (AckAll); the next runner must start from the checkpoint."""
    for _ in range(30):
        last = (await store.append(ref("c"), [CounterIncremented(by=1)], expected_version=None)).last_seq
    totals = Totals(f"p_{unique_name}", store.prefix)
    dying = DiesBeforeCommit(store, pool, totals, batch_size=10)
    await dying.start()
    assert dying._task is not None
    with pytest.raises(asyncio.CancelledError):
        await dying._task
    info = await store.js.consumer_info(store.stream, dying.consumer_name)
    assert info.num_ack_pending == 10  # fetched, never acknowledged

    survivor = ProjectionRunner(store, pool, totals, batch_size=10)
    await survivor.start()
    try:
        assert await survivor.wait_for(last, timeout=20)
        assert await rows(pool, survivor.schema) == [("c", 30, 30)]
    finally:
        await survivor.stop()


def test_only_sampled_trace_contexts_get_a_span_per_event() -> None:
    trace_id, span_id = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"
    assert _sampled_trace(None) is None
    assert _sampled_trace({"Nats-Msg-Id": "x"}) is None
    assert _sampled_trace({"traceparent": f"00-{trace_id}-{span_id}-00"}) is None  # not sampled
    ctx = _sampled_trace({"traceparent": f"00-{trace_id}-{span_id}-01"})
    assert ctx is not None
    assert f"{trace.get_current_span(ctx).get_span_context().trace_id:032x}" == trace_id


class DropsDeliveries(ProjectionRunner):
    """Its client loses three messages of the first fetch, as nats-py does when a subscription's
    pending queue overflows (slow consumer) or a fetch reply arrives too late."""

    dropped = 0

    async def _subscribe(self, *, resync: bool) -> Batches:
        batches = await super()._subscribe(resync=resync)
        sub: Any = batches._sub
        fetch = sub.fetch

        async def lossy(size: int, timeout: float | None = None) -> list[Msg]:
            msgs: list[Msg] = await fetch(size, timeout=timeout)
            if not self.dropped and len(msgs) > 5:
                self.dropped = 3
                return msgs[:2] + msgs[5:]
            return msgs

        sub.fetch = lossy
        return batches


async def test_deliveries_the_client_lost_are_applied_not_acknowledged_unseen(
    store: EventStore, pool: asyncpg.Pool, unique_name: str
) -> None:
    """Acking the events after lost deliveries (AckAll) would acknowledge them unapplied: a gap in
    the consumer's delivery sequence ends the session, which resumes from the checkpoint."""
    for _ in range(30):
        last = (await store.append(ref("c"), [CounterIncremented(by=1)], expected_version=None)).last_seq
    runner = DropsDeliveries(store, pool, Totals(f"p_{unique_name}", store.prefix), batch_size=10)
    await runner.start()
    try:
        assert await runner.wait_for(last, timeout=20)
        assert runner.dropped == 3
        assert await rows(pool, runner.schema) == [("c", 30, 30)]
    finally:
        await runner.stop()
