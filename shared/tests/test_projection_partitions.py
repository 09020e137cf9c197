"""Partitioned projections on real JetStream and Postgres: replicas share the partitions, a killed
replica's partitions move to the survivor, and every event is applied exactly once throughout."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Sequence
from pathlib import Path

import asyncpg
import pytest
from counter import EVENTS, CounterIncremented

from spaceport.events import EventRegistry, StoredEvent
from spaceport.eventstore import AggregateRef, EventStore
from spaceport.projection.partition import (
    PartitionedRunner,
    applied_position,
    make_runner,
    partition_name,
    partition_of,
)
from spaceport.readmodel import Conn
from spaceport.testing.infra import InfraUrls

MIGRATIONS = Path(__file__).parent / "projection_migrations"
PARTITIONS = 4
HANDOVER = 10.0  # seconds: the bound for a killed replica's partitions to move


class Totals:
    """Per counter (one per space here): the sum and how often an event was applied."""

    migrations = MIGRATIONS
    partitions = PARTITIONS

    def __init__(self, name: str, prefix: str) -> None:
        self.name = name
        self.filter_subjects = [f"{prefix}.*.counter.>"]

    async def apply(self, conn: Conn, stored: StoredEvent) -> None:
        assert isinstance(stored.event, CounterIncremented)
        await conn.execute(
            "INSERT INTO total (id, value, applied) VALUES ($1, $2, 1) ON CONFLICT (id)"
            " DO UPDATE SET value = total.value + $2, applied = total.applied + 1",
            stored.envelope.space_id,
            stored.event.by,
        )


@pytest.fixture(autouse=True)
def _types(registry: EventRegistry) -> None:
    registry.register(*EVENTS)


def balanced_spaces(per_partition: int) -> list[str]:
    """Space ids, `per_partition` of them in each partition (so a fair split is exactly half)."""
    found: dict[int, list[str]] = {k: [] for k in range(PARTITIONS)}
    i = 0
    while any(len(v) < per_partition for v in found.values()):
        space = f"us_sp_part{i}"
        bucket = found[partition_of(f"e.{space}.counter.x.y", PARTITIONS)]
        if len(bucket) < per_partition:
            bucket.append(space)
        i += 1
    return [s for k in range(PARTITIONS) for s in found[k]]


async def append_round(store: EventStore, spaces: Sequence[str]) -> int:
    last = 0
    for space in spaces:
        ref = AggregateRef(environment_id="us_env_p", space_id=space, aggregate="counter", aggregate_id=space)
        last = (await store.append(ref, [CounterIncremented(by=1)], expected_version=None)).last_seq
    return last


@contextlib.asynccontextmanager
async def replica(store: EventStore, infra: InfraUrls, projection: Totals) -> AsyncIterator[PartitionedRunner]:
    """One replica: its own pool (its own Postgres sessions, as a separate process would have)."""
    pool = await asyncpg.create_pool(infra.database_url, min_size=1, max_size=2 * PARTITIONS + 2)
    assert pool is not None
    runner = make_runner(store, pool, projection)
    assert isinstance(runner, PartitionedRunner)
    try:
        await runner.start()
        yield runner
    finally:
        with contextlib.suppress(Exception):
            await runner.stop()
        pool.terminate()


async def wait_until(check: object, timeout: float) -> bool:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while loop.time() < deadline:
        if check():  # type: ignore[operator]
            return True
        await asyncio.sleep(0.1)
    return False


async def totals(pool: asyncpg.Pool, schema: str) -> dict[str, tuple[int, int]]:
    async with pool.acquire() as conn:
        rows = await conn.fetch(f'SELECT id, value, applied FROM "{schema}".total')
    return {r["id"]: (r["value"], r["applied"]) for r in rows}


async def test_two_replicas_share_partitions_and_a_killed_ones_move_to_the_survivor(
    store: EventStore, pool: asyncpg.Pool, infra: InfraUrls, unique_name: str
) -> None:
    projection = Totals(f"pp_{unique_name}", store.prefix)
    spaces = balanced_spaces(per_partition=3)
    async with replica(store, infra, projection) as first, replica(store, infra, projection) as second:
        # Both members see each other, and each ends up holding the two partitions it prefers.
        assert await wait_until(lambda: len(first.held()) == 2 and len(second.held()) == 2, 15.0), (
            first.held(),
            second.held(),
        )
        assert sorted(first.held() + second.held()) == list(range(PARTITIONS))
        rounds = 5
        last = 0
        for _ in range(rounds):
            last = await append_round(store, spaces)
        assert await first.wait_for(last, timeout=30) and await second.wait_for(last, timeout=30)
        applied = [sum(v.applied for v in r.views) for r in (first, second)]
        total = len(spaces) * rounds
        assert sum(applied) == total
        for share in applied:
            assert 0.4 <= share / total <= 0.6, applied  # each replica applies 40-60% of the events
        assert await totals(pool, projection.name) == dict.fromkeys(spaces, (rounds, rounds))

        # kill the first replica without a goodbye: its sessions die with their connections
        held_by_first = first.held()
        for part in first.parts:
            if part._task is not None:
                part._task.cancel()
        if first._balancer is not None:
            first._balancer.cancel()
        first.pool.terminate()
        assert await wait_until(lambda: sorted(second.held()) == list(range(PARTITIONS)), HANDOVER), (
            f"partitions {held_by_first} did not move to the survivor within {HANDOVER}s: it holds {second.held()}"
        )
        for _ in range(rounds):
            last = await append_round(store, spaces)
        assert await second.wait_for(last, timeout=30)
        # nothing lost, nothing applied twice (`applied` counts every application)
        assert await totals(pool, projection.name) == dict.fromkeys(spaces, (2 * rounds, 2 * rounds))
        async with pool.acquire() as conn:
            await conn.execute(f'SET search_path TO "{projection.name}"')
            assert await applied_position(conn, projection.name) == last
            stats = await conn.fetch(
                "SELECT holder, sum(events)::bigint AS events FROM projection_partitions.applied"
                " WHERE projection = $1 GROUP BY holder",
                projection.name,
            )
        assert sum(int(r["events"]) for r in stats) == 2 * total


async def test_a_projection_that_ran_unpartitioned_continues_from_its_checkpoint(
    store: EventStore, pool: asyncpg.Pool, infra: InfraUrls, unique_name: str
) -> None:
    spaces = balanced_spaces(per_partition=1)
    unpartitioned = Totals(f"pu_{unique_name}", store.prefix)
    unpartitioned.partitions = 1
    first = make_runner(store, pool, unpartitioned)
    await first.start()
    try:
        last = await append_round(store, spaces)
        assert await first.wait_for(last, timeout=20)
    finally:
        await first.stop()
    last = await append_round(store, spaces)
    async with replica(store, infra, Totals(unpartitioned.name, store.prefix)) as partitioned:
        assert await partitioned.wait_for(last, timeout=30)
        async with pool.acquire() as conn:
            rows = await conn.fetch(f'SELECT name, position FROM "{unpartitioned.name}".projection_checkpoint')
        names = {r["name"] for r in rows}
        assert {partition_name(unpartitioned.name, k) for k in range(PARTITIONS)} <= names
        # the events the unpartitioned runner had applied are not applied again
        assert await totals(pool, unpartitioned.name) == dict.fromkeys(spaces, (2, 2))


async def test_a_partitioned_rebuild_equals_the_live_schema(
    store: EventStore, pool: asyncpg.Pool, infra: InfraUrls, unique_name: str
) -> None:
    spaces = balanced_spaces(per_partition=2)
    projection = Totals(f"pr_{unique_name}", store.prefix)
    async with replica(store, infra, projection) as live:
        last = 0
        for _ in range(3):
            last = await append_round(store, spaces)
        assert await live.wait_for(last, timeout=30)
        compared: list[int] = []

        async def verify(shadow: str, at: int) -> None:
            compared.append(at)
            assert await totals(pool, shadow) == await totals(pool, projection.name)

        await live.rebuild(swap=True, verify=verify)
        assert compared == [last]
        assert await totals(pool, projection.name) == dict.fromkeys(spaces, (3, 3))
        last = await append_round(store, spaces)
        assert await live.wait_for(last, timeout=30)  # the partitions resume after the swap
        assert await totals(pool, projection.name) == dict.fromkeys(spaces, (4, 4))


async def test_a_changed_partition_count_starts_where_every_old_partition_agreed_or_is_refused(
    store: EventStore, pool: asyncpg.Pool, infra: InfraUrls, unique_name: str
) -> None:
    spaces = balanced_spaces(per_partition=1)
    name = f"pc_{unique_name}"
    async with replica(store, infra, Totals(name, store.prefix)) as before:
        last = await append_round(store, spaces)
        assert await before.wait_for(last, timeout=30)
    last = await append_round(store, spaces)  # written while no projector runs
    grown = Totals(name, store.prefix)
    grown.partitions = PARTITIONS + 1
    async with replica(store, infra, grown) as after:
        assert await after.wait_for(last, timeout=30)
        # the first round is not applied again, the second is applied once, across the new split
        assert await totals(pool, name) == dict.fromkeys(spaces, (2, 2))
    async with pool.acquire() as conn:
        names = {r["name"] for r in await conn.fetch(f'SELECT name FROM "{name}".projection_checkpoint')}
        assert {partition_name(name, k) for k in range(PARTITIONS + 1)} <= names
        assert partition_name(name, PARTITIONS + 1) not in names
        # partitions that stopped at different positions cannot be re-split
        await conn.execute(
            f'UPDATE "{name}".projection_checkpoint SET position = position - 1 WHERE name = $1',
            partition_name(name, 0),
        )
    with pytest.raises(RuntimeError, match="stopped at different positions"):
        async with replica(store, infra, Totals(name, store.prefix)):
            pass
    assert await totals(pool, name) == dict.fromkeys(spaces, (2, 2))
