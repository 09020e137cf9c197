"""`ProjectionRunner`: one projection against the stream — migrate, consume, checkpoint, rebuild."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Protocol

import asyncpg
from nats.aio.msg import Msg
from opentelemetry import context as otel_context

from spaceport import readmodel
from spaceport.events import StoredEvent
from spaceport.eventstore import EventStore
from spaceport.projection import lease as leases
from spaceport.projection.apply import BatchApplier
from spaceport.projection.consumer import Batches, DurableConsumer
from spaceport.projection.protocol import Projection
from spaceport.projection.rebuild import Rebuilder
from spaceport.projection.tracing import sampled_trace
from spaceport.readmodel import Conn

log = logging.getLogger(__package__)


class LeasePolicy(Protocol):
    """Asked by a partition's runner (`partition.py`): may it take its lease, must it give it back."""

    def may_take(self) -> bool: ...

    def should_release(self) -> bool: ...  # the package's logger: log lines keep the name they always had


DEFAULT_BATCH = 500


class ProjectionRunner:
    """Runs one projection against the stream: migrate, consume, checkpoint, rebuild.

    Subclasses may override `handle_batch`, `after_commit` and `_apply_and_commit` (tests use
    them to simulate crashes and lost connections at each step).
    """

    prefetch = True  # fetch the next batch while a full one commits

    def __init__(
        self,
        store: EventStore,
        pool: asyncpg.Pool,
        projection: Projection,
        *,
        batch_size: int | None = None,
        ack_wait: float = 30.0,
    ) -> None:
        self.store = store
        self.pool = pool
        self.projection = projection
        # A projection of bulk events (records: up to 512 KB each) takes fewer per batch, so
        # that a batch and its prefetch stay far below the client's pending-bytes limit.
        batch_size = batch_size or getattr(projection, "batch_size", None) or DEFAULT_BATCH
        self.batch_size = batch_size
        self.ack_wait = ack_wait
        self.position = 0
        self._advanced = asyncio.Condition()
        self._task: asyncio.Task[None] | None = None
        self._stopping = asyncio.Event()
        self._consumer = DurableConsumer(store, projection, batch_size=batch_size, ack_wait=ack_wait)
        self._applier = BatchApplier(projection)
        self._rebuilder = Rebuilder(store, pool, projection, self._applier, batch_size=batch_size)
        # A partition of a partitioned projection (`partition.py`) writes its projection's schema,
        # skips the events of other partitions, and asks `lease_policy` whether to take its lease.
        self._schema: str = getattr(projection, "schema", projection.name)
        self._accepts: Callable[[str], bool] | None = getattr(projection, "accepts", None)
        self._record_applied: Callable[[Conn, int], Awaitable[None]] | None = getattr(
            projection, "record_applied", None
        )
        self.lease_policy: LeasePolicy | None = None
        self.holding = False  # this process holds the lease and consumes
        # Lease sessions taken so far: between two, another replica may have written the read
        # model, so an in-process cache of it (space_service.projections.cache) starts over.
        self.sessions = 0

    @property
    def schema(self) -> str:
        return self._schema

    @property
    def running(self) -> bool:
        return self._task is not None

    @property
    def consumer_name(self) -> str:
        return self._consumer.name

    # ---- lifecycle ----------------------------------------------------------------------

    async def start(self) -> None:
        async with self.pool.acquire() as conn:
            await readmodel.migrate(conn, self.schema, self.projection.migrations)
            await self._use_schema(conn)
            self.position = await readmodel.checkpoint(conn, self.projection.name)
        await self._consumer.ensure(self.position)
        self._stopping.clear()
        self._task = asyncio.create_task(self._run(), name=self.consumer_name)

    async def stop(self) -> None:
        self._stopping.set()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def wait_for(self, position: int, timeout: float = 5.0) -> bool:
        """Wait until this read model has applied `position` (read-your-writes). False on timeout."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while self.position < position:
            remaining = deadline - loop.time()
            if remaining <= 0:
                return False
            await self._advanced_or(min(remaining, 0.05))
            if self.position < position:
                await self._refresh_position()  # another replica may have applied it
        return True

    async def _advanced_or(self, timeout: float) -> None:
        async with self._advanced:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._advanced.wait(), timeout)

    async def _refresh_position(self) -> None:
        async with self.pool.acquire() as conn:
            await self._use_schema(conn)
            self.position = max(self.position, await readmodel.checkpoint(conn, self.projection.name))

    async def _use_schema(self, conn: Conn) -> None:
        await conn.execute(f"SET search_path TO {readmodel.quote_ident(self.schema)}")

    # ---- consuming ----------------------------------------------------------------------

    async def _run(self) -> None:
        """Consume while holding this projection's lease; standby replicas wait for it."""
        key = leases.lease_key(self.store.stream, self.projection.name)
        while not self._stopping.is_set():
            if self.lease_policy is not None and not self.lease_policy.may_take():
                await asyncio.sleep(leases.LEASE_RETRY / 2)  # another replica's partition
                continue
            async with leases.lease(self.pool, key) as held:
                if not held:
                    await asyncio.sleep(leases.LEASE_RETRY)  # another replica projects; poll for its lease
                    continue
                self.holding = True
                self.sessions += 1
                try:
                    await self._consume()
                finally:
                    self.holding = False
            if self._releasing():
                log.info("projection %s: handed back to the replica that prefers it", self.projection.name)
                await asyncio.sleep(leases.LEASE_RETRY)

    def _releasing(self) -> bool:
        return self.lease_policy is not None and self.lease_policy.should_release()

    async def _consume(self) -> None:
        """Fetch, apply + commit, ack, in order. While a full batch commits, the next one is fetched.

        The prefetched batch is applied after the current one commits; if that fails, the
        prefetched batch is dropped with the session's consumer.
        """
        batches: Batches | None = None
        # A session that ended (crash, stop, lost lease) may leave a fetched batch uncommitted and
        # unacked; the next fetch would skip it until ack_wait and the next ack would acknowledge
        # it (AckAll). So every session starts with a consumer recreated at checkpoint + 1.
        resync = True
        try:
            while not self._stopping.is_set() and not self._releasing():
                if batches is None:
                    batches = await self._bind(resync=resync)
                    if batches is None:
                        continue
                    resync = False
                if not await self._take(batches):
                    await self._drop(batches)
                    batches, resync = None, True
        finally:
            if batches is not None:
                await batches.close()

    async def _bind(self, *, resync: bool) -> Batches | None:
        """The session's subscription; None (after a pause) if the consumer cannot be bound."""
        try:
            return await self._subscribe(resync=resync)
        except Exception:
            log.exception("projection %s: cannot bind its consumer; retrying", self.projection.name)
            await asyncio.sleep(leases.LEASE_RETRY)
            return None

    async def _subscribe(self, *, resync: bool) -> Batches:
        """Bind to the durable consumer; with `resync`, first recreate it at checkpoint + 1.

        Only the lease holder consumes, so recreating the shared consumer is safe here; it drops
        whatever an earlier session had fetched without committing.
        """
        if resync:
            await self._refresh_position()
            await self._consumer.recreate(self.position)
        return await self._consumer.bind()

    async def _take(self, batches: Batches) -> bool:
        """Fetch and handle the next batch; False when the session must resume from the checkpoint."""
        msgs = await batches.next(self.batch_size, prefetch=self.prefetch)
        if msgs is None:
            return False
        return not msgs or await self._handled(msgs)

    async def _handled(self, msgs: list[Msg]) -> bool:
        try:
            await self.handle_batch(msgs)
        except asyncio.CancelledError:
            raise
        except Exception:
            # Postgres or NATS trouble: nothing was acked. The next fetch would hand out the
            # events after this batch (it is redelivered only after ack_wait), and acking those
            # would acknowledge it unapplied (AckAll). So the consumer restarts at the
            # checkpoint + 1, which Postgres decides.
            log.exception("projection %s: batch failed; resuming from the checkpoint", self.projection.name)
            return False
        return True

    async def _drop(self, batches: Batches) -> None:
        """End a failed session: forget its prefetch, pause, unbind."""
        await batches.drop_prefetched()
        await asyncio.sleep(leases.LEASE_RETRY)
        await batches.close()

    async def handle_batch(self, msgs: list[Msg]) -> None:
        """Apply a fetched batch and commit with its checkpoint, then ack (AckAll: the last one)."""
        if self._accepts is None:
            events = await self.store.stored_from_js_batch(msgs)
            traces = [sampled_trace(m.headers) for m in msgs]
            position = await self._apply_and_commit(events, traces)
        else:  # a partition: other partitions' events are passed over undecoded, the checkpoint passes them
            mine = [m for m in msgs if self._accepts(m.subject)]
            events = await self.store.stored_from_js_batch(mine) if mine else []
            traces = [sampled_trace(m.headers) for m in mine]
            position = await self._apply_and_commit(events, traces, upto=msgs[-1].metadata.sequence.stream)
        await self.after_commit(msgs)
        await msgs[-1].ack()
        await self._advance(position)

    async def after_commit(self, msgs: list[Msg]) -> None:
        """Seam between commit and ack; tests use it to simulate a crash there."""

    async def _apply_and_commit(
        self, events: list[StoredEvent], traces: Sequence[otel_context.Context | None], *, upto: int | None = None
    ) -> int:
        name = self.projection.name
        async with self.pool.acquire() as conn, conn.transaction():
            await conn.execute(f"SET LOCAL search_path TO {readmodel.quote_ident(self.schema)}")
            position = await readmodel.checkpoint(conn, name, lock=True)
            # Events at or below the checkpoint were applied already: redelivery after a crash
            # between commit and ack.
            fresh = [(e, t) for e, t in zip(events, traces, strict=True) if e.seq > position]
            if fresh:
                await self._applier.apply_all(conn, fresh)
                position = fresh[-1][0].seq
                if self._record_applied is not None:
                    await self._record_applied(conn, len(fresh))
            if upto is not None:
                position = max(position, upto)
            await readmodel.save_checkpoint(conn, name, position)
        return position

    async def _advance(self, position: int) -> None:
        async with self._advanced:
            self.position = max(self.position, position)
            self._advanced.notify_all()

    # ---- rebuild ------------------------------------------------------------------------

    async def rebuild(
        self,
        *,
        swap: bool = True,
        progress: Callable[[int], None] | None = None,
        verify: Callable[[str, int], Awaitable[None]] | None = None,
    ) -> str:
        """Replay the whole stream into a shadow schema; with `swap`, make it the live one.

        The live projection keeps serving while the shadow fills; it pauses only for the final
        catch-up and the rename, which happen in one transaction. `progress` (optional) is
        called with the stream position reached after each committed batch (the CLI's bar).
        `verify(shadow, position)` (optional) is awaited once the shadow has reached the live
        schema's checkpoint, before anything later is applied; raising stops the rebuild there
        (the shadow schema is left for inspection, the live one untouched).
        """
        shadow = f"{self.schema}_rebuild"
        await self._rebuilder.prepare(shadow)
        position = 0
        if verify is not None:
            async with self.pool.acquire() as conn:
                await self._use_schema(conn)
                live_at = await readmodel.checkpoint(conn, self.projection.name)
            position = await self._rebuilder.fill(shadow, 0, progress, until=live_at)
            await verify(shadow, position)
        position = await self._rebuilder.fill(shadow, position, progress)
        if not swap:
            return shadow
        running = self._task is not None
        await self.stop()
        position = await self._rebuilder.fill(shadow, position, progress)
        await self._rebuilder.swap(self.schema, shadow)
        self.position = position
        if running:
            await self.start()
        return self.schema
