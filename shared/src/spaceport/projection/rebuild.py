"""Rebuild: replay the whole stream into a shadow schema, then swap it in for the live one."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator, Callable

import asyncpg
from nats.aio.msg import Msg
from nats.js.api import AckPolicy, ConsumerConfig

from spaceport import readmodel
from spaceport.errors import ServiceUnavailableError
from spaceport.events import StoredEvent
from spaceport.eventstore import EventStore
from spaceport.projection.apply import BatchApplier
from spaceport.projection.consumer import deliver_from
from spaceport.projection.protocol import Projection
from spaceport.projection.pull import FETCH_MAX_BYTES, BoundedPull


class Rebuilder:
    """Fills schemas from an ephemeral consumer of its own; the live consumer is not touched."""

    def __init__(
        self, store: EventStore, pool: asyncpg.Pool, projection: Projection, applier: BatchApplier, *, batch_size: int
    ) -> None:
        self._store = store
        self._pool = pool
        self._projection = projection
        self._applier = applier
        self._batch_size = batch_size

    async def prepare(self, shadow: str) -> None:
        """An empty, migrated `shadow` schema (a left-over one from an earlier attempt is dropped)."""
        async with self._pool.acquire() as conn:
            await conn.execute(f"DROP SCHEMA IF EXISTS {readmodel.quote_ident(shadow)} CASCADE")
            await readmodel.migrate(conn, shadow, self._projection.migrations)

    async def fill(
        self, schema: str, after: int, progress: Callable[[int], None] | None = None, *, until: int | None = None
    ) -> int:
        """Apply every matching event after `after` (up to `until`, if given) into `schema`;
        returns the new position. `progress` (optional) is called after each committed batch."""
        position = after
        if until is not None and until <= after:
            return position
        async for batch in self._replay(after + 1):
            if until is not None and batch[-1].seq >= until:
                position = await self._commit(schema, [e for e in batch if e.seq <= until], at=until)
                if progress is not None:
                    progress(position)
                break
            position = await self._commit(schema, batch)
            if progress is not None:
                progress(position)
        else:
            if until is not None and position < until:  # the stream's last matching event is older
                position = await self._commit(schema, [], at=until)
        return position

    async def swap(self, live: str, shadow: str) -> None:
        """Make `shadow` the live schema, in one transaction; the old live schema is dropped."""
        old = f"{live}_old"
        async with self._pool.acquire() as conn, conn.transaction():
            await conn.execute(f"DROP SCHEMA IF EXISTS {readmodel.quote_ident(old)} CASCADE")
            await conn.execute(f"ALTER SCHEMA {readmodel.quote_ident(live)} RENAME TO {readmodel.quote_ident(old)}")
            await conn.execute(f"ALTER SCHEMA {readmodel.quote_ident(shadow)} RENAME TO {readmodel.quote_ident(live)}")
            await conn.execute(f"DROP SCHEMA {readmodel.quote_ident(old)} CASCADE")

    async def _commit(self, schema: str, batch: list[StoredEvent], *, at: int | None = None) -> int:
        name = self._projection.name
        async with self._pool.acquire() as conn, conn.transaction():
            await conn.execute(f"SET LOCAL search_path TO {readmodel.quote_ident(schema)}")
            if batch:
                await self._applier.apply_all(conn, [(event, None) for event in batch])
            position = batch[-1].seq if at is None else at
            await readmodel.checkpoint(conn, name, lock=True)
            await readmodel.save_checkpoint(conn, name, position)
        return position

    async def _replay(self, start: int) -> AsyncIterator[list[StoredEvent]]:
        js, stream = self._store.js, self._store.stream
        name = f"rebuild_{self._projection.name}_{uuid.uuid4().hex[:8]}"
        info = await js.add_consumer(stream, self._replay_config(name, start))
        remaining = info.num_pending or 0
        max_bytes = getattr(self._projection, "fetch_max_bytes", None) or FETCH_MAX_BYTES
        sub = await BoundedPull(self._store.nc, stream, name, max_bytes=max_bytes).subscribe()
        try:
            while remaining > 0:
                msgs = await self._fetch(sub, remaining)
                remaining -= len(msgs)
                yield await self._store.stored_from_js_batch(msgs)
        finally:
            with contextlib.suppress(Exception):
                await sub.unsubscribe()
            with contextlib.suppress(Exception):
                await js.delete_consumer(stream, name)

    def _replay_config(self, name: str, start: int) -> ConsumerConfig:
        policy, start_seq = deliver_from(start)
        return ConsumerConfig(
            durable_name=name,
            deliver_policy=policy,
            opt_start_seq=start_seq,
            ack_policy=AckPolicy.NONE,
            filter_subjects=list(self._projection.filter_subjects),
            inactive_threshold=60.0,
            mem_storage=True,
        )

    async def _fetch(self, sub: BoundedPull, remaining: int) -> list[Msg]:
        msgs = await sub.fetch(min(self._batch_size, remaining), timeout=5.0)
        if not msgs:
            raise ServiceUnavailableError(f"replay of {self._projection.name} stalled with {remaining} left")
        return msgs
