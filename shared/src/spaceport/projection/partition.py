"""Partitioned projections: replicas share one projection's work, by space, on NATS and Postgres alone.

A projection that declares `partitions = N` (N > 1) runs as N partitions. Partition k applies the
events of the spaces whose id hashes to k (`partition_of`): every event of a space, in stream
order, is applied by one partition, so anything a projection keeps per space (the records
projection: sheets, row numbers, claims, counters) is unchanged. Each partition is an ordinary
`ProjectionRunner` with its own durable consumer (`proj_<name>_p<k>`), its own checkpoint row
(`<name>_p<k>`) and its own advisory-lock lease; all of them write the one schema `<name>`.

Replicas (processes, on any machine) balance the partitions without a coordinator of ours:
each takes a *member slot* (another advisory lock) and reads the held slots from `pg_locks`, so
every replica knows the live members and its rank among them; the replica of rank r prefers
the partitions k with k % members == r. A partition nobody holds for `ADOPT_AFTER` seconds is
taken by any replica (its preferred owner is gone or cannot consume), and a replica gives back
a partition it does not prefer once that partition's preferred owner is alive. A killed replica's
Postgres sessions end with it, so its member slot and leases are free at once; the others count
one member fewer within a second and take its partitions, resuming each from its checkpoint.

Every partition reads the projection's whole filter (JetStream cannot filter by a hash of a
token), but it skips the events of other partitions by subject, before decoding or decrypting
them: on one machine this costs NATS bandwidth, not Postgres or CPU. docs/operations.md says
what changes on separate machines.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import re
import zlib
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any

import asyncpg

from spaceport import readmodel
from spaceport.events import StoredEvent
from spaceport.eventstore import EventStore
from spaceport.projection import lease as leases
from spaceport.projection.apply import BatchApplier
from spaceport.projection.protocol import Projection
from spaceport.projection.rebuild import Rebuilder
from spaceport.projection.runner import ProjectionRunner
from spaceport.readmodel import Conn

log = logging.getLogger(__package__)

MAX_MEMBERS = 64  # member slots per projection: more replicas than this wait for a free one
ADOPT_AFTER = 3.0  # seconds a partition stays unheld before a replica that does not prefer it takes it
STATS_DDL = """
CREATE SCHEMA IF NOT EXISTS projection_partitions;
CREATE TABLE IF NOT EXISTS projection_partitions.applied (
    projection text NOT NULL,
    partition integer NOT NULL,
    holder text NOT NULL,
    events bigint NOT NULL DEFAULT 0,
    batches bigint NOT NULL DEFAULT 0,
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (projection, partition, holder)
);
"""


def partition_of(subject: str, count: int) -> int:
    """The partition of an event subject (`<prefix>.<space>.…`): a stable hash of its space id."""
    parts = subject.split(".", 2)
    scope = parts[1] if len(parts) > 1 else subject
    return zlib.crc32(scope.encode()) % count


def partition_name(projection: str, index: int) -> str:
    return f"{projection}_p{index}"


def holder_id() -> str:
    """Who applies a batch, in the stats table: host and process id."""
    return f"{os.uname().nodename}:{os.getpid()}"


async def applied_position(conn: Conn, name: str) -> int:
    """The stream position every part of projection `name` has applied (partitions: the lowest)."""
    rows = await conn.fetch(
        "SELECT name, position FROM projection_checkpoint WHERE name = $1 OR name LIKE $2", name, f"{name}\\_p%"
    )
    parts = [int(r["position"]) for r in rows if r["name"] != name]
    if parts:
        return min(parts)
    return next((int(r["position"]) for r in rows), 0)


class PartitionView:
    """Partition `index` of `count` of a projection, as the runner sees it."""

    def __init__(self, inner: Projection, index: int, count: int, holder: str) -> None:
        self.inner = inner
        self.index = index
        self.count = count
        self.holder = holder
        self.name = partition_name(inner.name, index)  # consumer, checkpoint row and lease
        self.schema = inner.name  # the one schema every partition writes
        self.batch_size = getattr(inner, "batch_size", None)
        self.fetch_max_bytes = getattr(inner, "fetch_max_bytes", None)
        self.applied = 0  # events this process applied in this partition (stats, tests)

    @property
    def migrations(self) -> Path | None:
        return self.inner.migrations

    @property
    def filter_subjects(self) -> Sequence[str]:
        return self.inner.filter_subjects

    def accepts(self, subject: str) -> bool:
        return partition_of(subject, self.count) == self.index

    async def apply(self, conn: Conn, event: StoredEvent) -> None:
        await self.inner.apply(conn, event)

    async def apply_batch(self, conn: Conn, events: Sequence[StoredEvent]) -> None:
        batch = getattr(self.inner, "apply_batch", None)
        if batch is None:
            for event in events:
                await self.inner.apply(conn, event)
        else:
            await batch(conn, events)

    async def record_applied(self, conn: Conn, events: int) -> None:
        """Counted in the batch's own transaction (so a rolled-back batch is not counted)."""
        self.applied += events
        await conn.execute(
            "INSERT INTO projection_partitions.applied AS a (projection, partition, holder, events, batches)"
            " VALUES ($1, $2, $3, $4, 1) ON CONFLICT (projection, partition, holder)"
            " DO UPDATE SET events = a.events + $4, batches = a.batches + 1, updated_at = now()",
            self.inner.name,
            self.index,
            self.holder,
            events,
        )


class Membership:
    """This replica's member slot and its view of the live members (see the module docstring)."""

    def __init__(self, pool: asyncpg.Pool, stream: str, projection: str, count: int) -> None:
        self._pool = pool
        self._group = f"members:{stream}:{projection}"
        self._count = count
        self._conn: Any = None
        self.slot: int | None = None
        self.members: list[int] = []
        self.held: set[int] = set()  # partitions held by anyone (from pg_locks)
        self._leases = [leases.lease_key(stream, partition_name(projection, k)) for k in range(count)]
        self._unheld_since: dict[int, float] = {}

    async def refresh(self) -> None:
        """Take a member slot if this replica has none; re-read members and held leases."""
        try:
            if self._conn is None:
                self._conn = await self._pool.acquire()
                self.slot = None
            if self.slot is None:
                for slot in range(MAX_MEMBERS):
                    if await self._conn.fetchval("SELECT pg_try_advisory_lock(hashtext($1), $2)", self._group, slot):
                        self.slot = slot
                        break
            rows = await self._conn.fetch(
                "SELECT l.objid::bigint AS slot FROM pg_locks l WHERE l.locktype = 'advisory' AND l.granted"
                " AND l.objsubid = 2 AND l.classid::bigint = (hashtext($1)::bigint & 4294967295)"
                " AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())",
                self._group,
            )
            self.members = sorted({int(r["slot"]) for r in rows})
            held = await self._conn.fetch(
                "SELECT k FROM unnest($1::text[]) WITH ORDINALITY AS t(key, k) JOIN pg_locks l"
                " ON l.locktype = 'advisory' AND l.granted AND l.objsubid = 1"
                " AND l.objid::bigint = (hashtext(t.key)::bigint & 4294967295)"
                " AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())",
                self._leases,
            )
            self.held = {int(r["k"]) - 1 for r in held}
        except Exception:
            log.exception("partition membership %s: cannot refresh; retrying", self._group)
            await self.close()
            return
        now = asyncio.get_running_loop().time()
        for k in range(self._count):
            if k in self.held:
                self._unheld_since.pop(k, None)
            else:
                self._unheld_since.setdefault(k, now)

    def prefers(self, index: int) -> bool:
        if self.slot is None or self.slot not in self.members:
            return False
        return index % len(self.members) == self.members.index(self.slot)

    def may_take(self, index: int) -> bool:
        """Preferred, or left unheld long enough that its preferred owner is evidently not coming."""
        if self.prefers(index):
            return True
        since = self._unheld_since.get(index)
        return since is not None and asyncio.get_running_loop().time() - since >= ADOPT_AFTER

    def should_release(self, index: int) -> bool:
        """A partition held here that another live member prefers goes back to it."""
        return self.slot is not None and not self.prefers(index) and len(self.members) > 1

    async def close(self) -> None:
        conn, slot, self._conn, self.slot = self._conn, self.slot, None, None
        if conn is not None:
            if slot is not None:
                with contextlib.suppress(Exception):
                    await conn.execute("SELECT pg_advisory_unlock(hashtext($1), $2)", self._group, slot)
            with contextlib.suppress(Exception):
                await self._pool.release(conn)


class PartitionedRunner:
    """N `ProjectionRunner`s (one per partition) behind the interface of one."""

    def __init__(self, store: EventStore, pool: asyncpg.Pool, projection: Projection, *, count: int) -> None:
        self.store = store
        self.pool = pool
        self.projection = projection
        self.count = count
        self.holder = holder_id()
        self.views = [PartitionView(projection, k, count, self.holder) for k in range(count)]
        self.parts: list[ProjectionRunner] = [ProjectionRunner(store, pool, view) for view in self.views]
        self.batch_size = self.parts[0].batch_size
        self.membership = Membership(pool, store.stream, projection.name, count)
        self._balancer: asyncio.Task[None] | None = None
        self._applier = BatchApplier(projection)

    @property
    def schema(self) -> str:
        return self.projection.name

    @property
    def consumer_name(self) -> str:
        return self.parts[0].consumer_name.rsplit("_p", 1)[0]

    @property
    def position(self) -> int:
        return min(p.position for p in self.parts)

    @position.setter
    def position(self, value: int) -> None:
        for part in self.parts:
            part.position = value

    def held(self) -> list[int]:
        """The partitions this replica projects right now."""
        return [k for k, part in enumerate(self.parts) if part.holding]

    async def start(self) -> None:
        async with self.pool.acquire() as conn:
            await readmodel.migrate(conn, self.schema, self.projection.migrations)
            await conn.execute(STATS_DDL)
            await self._seed(conn)
        await self.membership.refresh()
        for k, part in enumerate(self.parts):
            part.lease_policy = _Policy(self.membership, k)
            await part.start()
        self._balancer = asyncio.create_task(self._balance(), name=f"{self.consumer_name}_balancer")

    async def _seed(self, conn: Conn) -> None:
        """Partition checkpoints of a projection that ran unpartitioned start where it stopped;
        after a change of the partition count, every new partition starts at the position all
        the old ones had reached (each passes every event, so idle partitions agree), else the
        start is refused: the old partitions split the spaces differently, so their positions
        say nothing about the new ones."""
        await conn.execute(f"SET search_path TO {readmodel.quote_ident(self.schema)}")
        async with conn.transaction():
            await conn.execute("SELECT pg_advisory_xact_lock(hashtext($1))", f"seed:{self.schema}")
            names = [partition_name(self.projection.name, k) for k in range(self.count)]
            rows = await conn.fetch("SELECT name, position FROM projection_checkpoint")
            have = {r["name"]: int(r["position"]) for r in rows}
            pattern = re.compile(re.escape(self.projection.name) + r"_p\d+")
            earlier = {n: p for n, p in have.items() if pattern.fullmatch(n)}
            if set(earlier) == set(names):
                return  # the same partitioning as before
            if not earlier:
                start = have.get(self.projection.name, 0)
            elif len(set(earlier.values())) == 1:
                start = next(iter(earlier.values()))
                await conn.execute("DELETE FROM projection_checkpoint WHERE name = ANY($1::text[])", list(earlier))
            else:
                raise RuntimeError(
                    f"projection {self.projection.name} ran with {len(earlier)} partitions, now {self.count}, and"
                    f" its partitions stopped at different positions ({min(earlier.values())}.."
                    f"{max(earlier.values())}); start it again with RECORD_PARTITIONS={len(earlier)} until the"
                    " partitions agree (they do once no writes arrive), or run `spaceport rebuild` for it"
                )
            for name in names:
                await conn.execute(
                    "INSERT INTO projection_checkpoint (name, position) VALUES ($1, $2) ON CONFLICT DO NOTHING",
                    name,
                    start,
                )

    async def _balance(self) -> None:
        while True:
            await asyncio.sleep(leases.LEASE_RETRY)
            await self.membership.refresh()

    async def stop(self) -> None:
        if self._balancer is not None:
            self._balancer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._balancer
            self._balancer = None
        for part in self.parts:
            await part.stop()
        await self.membership.close()

    async def wait_for(self, position: int, timeout: float = 5.0) -> bool:
        """Every partition has passed `position` (a partition passes the events of others too)."""
        results = await asyncio.gather(*(p.wait_for(position, timeout) for p in self.parts))
        return all(results)

    async def rebuild(
        self,
        *,
        swap: bool = True,
        progress: Callable[[int], None] | None = None,
        verify: Callable[[str, int], Awaitable[None]] | None = None,
    ) -> str:
        """As `ProjectionRunner.rebuild`, filling one unpartitioned shadow; at the swap every
        partition's checkpoint is set to the shadow's position."""
        rebuilder = Rebuilder(self.store, self.pool, self.projection, self._applier, batch_size=self.batch_size)
        shadow = f"{self.schema}_rebuild"
        await rebuilder.prepare(shadow)
        position = 0
        if verify is not None:
            live_at = await self._converged()
            position = await rebuilder.fill(shadow, 0, progress, until=live_at)
            await self._mirror_checkpoints(shadow, position)
            await verify(shadow, position)
        position = await rebuilder.fill(shadow, position, progress)
        if not swap:
            return shadow
        running = [part for part in self.parts if part.running]
        for part in running:
            await part.stop()
        position = await rebuilder.fill(shadow, position, progress)
        async with self.pool.acquire() as conn, conn.transaction():
            await conn.execute(f"SET LOCAL search_path TO {readmodel.quote_ident(shadow)}")
            for k in range(self.count):
                name = partition_name(self.projection.name, k)
                await readmodel.checkpoint(conn, name, lock=True)
                await readmodel.save_checkpoint(conn, name, position)
        await rebuilder.swap(self.schema, shadow)
        self.position = position
        for part in running:
            await part.start()
        return self.schema

    async def _mirror_checkpoints(self, shadow: str, position: int) -> None:
        """The shadow's checkpoint rows as the live schema's would be at `position` (compared too)."""
        async with self.pool.acquire() as conn, conn.transaction():
            base = await conn.fetchval(
                f"SELECT position FROM {readmodel.quote_ident(self.schema)}.projection_checkpoint WHERE name = $1",
                self.projection.name,
            )
            await conn.execute(f"SET LOCAL search_path TO {readmodel.quote_ident(shadow)}")
            for k in range(self.count):
                name = partition_name(self.projection.name, k)
                await readmodel.checkpoint(conn, name, lock=True)
                await readmodel.save_checkpoint(conn, name, position)
            if base is None:
                await conn.execute("DELETE FROM projection_checkpoint WHERE name = $1", self.projection.name)
            else:
                await readmodel.save_checkpoint(conn, self.projection.name, int(base))

    async def _converged(self, timeout: float = 60.0) -> int:
        """The one position all partitions stand at (a verified rebuild compares the live schema
        at one position); they converge once the stream's latest matching event is applied."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            async with self.pool.acquire() as conn:
                await conn.execute(f"SET search_path TO {readmodel.quote_ident(self.schema)}")
                rows = await conn.fetch(
                    "SELECT name, position FROM projection_checkpoint WHERE name = ANY($1::text[])",
                    [partition_name(self.projection.name, k) for k in range(self.count)],
                )
                if not rows:  # never ran partitioned: the unpartitioned checkpoint is the live one
                    return await readmodel.checkpoint(conn, self.projection.name)
                positions = {int(r["position"]) for r in rows} | ({0} if len(rows) < self.count else set())
            if len(positions) == 1:
                return positions.pop()
            if loop.time() > deadline:
                raise RuntimeError(
                    f"the partitions of {self.projection.name} stand at different positions {sorted(positions)} after"
                    f" {timeout:.0f}s (writes keep arriving, or a partition is not being projected): stop writes, or"
                    " rebuild without verification"
                )
            await asyncio.sleep(0.2)


class _Policy:
    """What partition `index`'s runner asks before taking its lease and while holding it."""

    def __init__(self, membership: Membership, index: int) -> None:
        self._membership = membership
        self._index = index

    def may_take(self) -> bool:
        return self._membership.may_take(self._index)

    def should_release(self) -> bool:
        return self._membership.should_release(self._index)


def partitions_of(projection: Projection) -> int:
    return int(getattr(projection, "partitions", 1) or 1)


def make_runner(store: EventStore, pool: asyncpg.Pool, projection: Projection) -> ProjectionRunner | PartitionedRunner:
    """The runner of `projection`: partitioned when it declares more than one partition."""
    count = partitions_of(projection)
    if count > 1:
        return PartitionedRunner(store, pool, projection, count=count)
    return ProjectionRunner(store, pool, projection)
