"""Projections: durable JetStream consumers that fold events into Postgres read models.

Each batch of events and the checkpoint commit in one Postgres transaction; the ack follows
the commit. A redelivered event (crash after commit, before ack) is at or below the checkpoint
and is skipped, so every event is applied exactly once. Postgres, not the consumer, is the
authority on position: a consumer that is ahead of it is recreated at checkpoint + 1.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from pathlib import Path
from typing import Protocol

import asyncpg
import nats.errors
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
from nats.js.errors import NotFoundError
from opentelemetry import context as otel_context
from opentelemetry import trace

from spaceport import readmodel, telemetry
from spaceport.errors import ServiceUnavailableError
from spaceport.events import StoredEvent
from spaceport.eventstore import EventStore
from spaceport.readmodel import Conn

log = logging.getLogger(__name__)

LEASE_RETRY = 1.0  # seconds between a standby replica's attempts to take the lease

ApplyBatch = Callable[[Conn, Sequence[StoredEvent]], Awaitable[None]]


class Projection(Protocol):
    """A read model: which events it reads, its tables, and how one event changes them.

    A projection may also define `async apply_batch(conn, events)`: the runner then hands it
    every fresh event of a batch in one call (one `executemany` / COPY instead of a round trip
    per event). It must have the same effect as `apply` on each event in order; the runner also
    calls it with a single event when it isolates a poison event.
    """

    @property
    def name(self) -> str:
        """Also the Postgres schema and the durable consumer's name."""

    @property
    def migrations(self) -> Path | None: ...

    @property
    def filter_subjects(self) -> Sequence[str]: ...

    async def apply(self, conn: Conn, event: StoredEvent) -> None:
        """Change rows for one event; runs inside the batch's transaction."""


class ProjectionRunner:
    """Runs one projection against the stream: migrate, consume, checkpoint, rebuild."""

    prefetch = True  # fetch the next batch while a full one commits

    def __init__(
        self,
        store: EventStore,
        pool: asyncpg.Pool,
        projection: Projection,
        *,
        batch_size: int = 500,
        ack_wait: float = 30.0,
    ) -> None:
        self.store = store
        self.pool = pool
        self.projection = projection
        self.batch_size = batch_size
        self.ack_wait = ack_wait
        self.position = 0
        self._advanced = asyncio.Condition()
        self._task: asyncio.Task[None] | None = None
        self._stopping = asyncio.Event()
        self._apply_batch: ApplyBatch | None = getattr(projection, "apply_batch", None)

    @property
    def schema(self) -> str:
        return self.projection.name

    @property
    def consumer_name(self) -> str:
        return f"proj_{self.projection.name}"

    # ---- lifecycle ----------------------------------------------------------------------

    async def start(self) -> None:
        async with self.pool.acquire() as conn:
            await readmodel.migrate(conn, self.schema, self.projection.migrations)
            await conn.execute(f"SET search_path TO {readmodel.quote_ident(self.schema)}")
            self.position = await readmodel.checkpoint(conn, self.projection.name)
        await self._ensure_consumer()
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
            async with self._advanced:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._advanced.wait(), min(remaining, 0.05))
            if self.position < position:
                await self._refresh_position()  # another replica may have applied it
        return True

    async def _refresh_position(self) -> None:
        async with self.pool.acquire() as conn:
            await conn.execute(f"SET search_path TO {readmodel.quote_ident(self.schema)}")
            self.position = max(self.position, await readmodel.checkpoint(conn, self.projection.name))

    # ---- consuming ----------------------------------------------------------------------

    def _consumer_config(self, start: int) -> ConsumerConfig:
        return ConsumerConfig(
            durable_name=self.consumer_name,
            deliver_policy=DeliverPolicy.BY_START_SEQUENCE if start > 1 else DeliverPolicy.ALL,
            opt_start_seq=start if start > 1 else None,
            ack_policy=AckPolicy.ALL,
            ack_wait=self.ack_wait,
            filter_subjects=list(self.projection.filter_subjects),
            max_ack_pending=self.batch_size * 4,
        )

    async def _ensure_consumer(self) -> None:
        js, stream = self.store.js, self.store.stream
        try:
            info = await js.consumer_info(stream, self.consumer_name)
        except NotFoundError:
            await js.add_consumer(stream, self._consumer_config(self.position + 1))
            return
        behind = info.ack_floor is not None and (info.ack_floor.stream_seq or 0) > self.position
        configured = info.config.filter_subjects or ([info.config.filter_subject] if info.config.filter_subject else [])
        if behind or sorted(configured) != sorted(self.projection.filter_subjects):
            # The read model is behind what the consumer acknowledged (restored or rebuilt
            # database), or the projection now reads other subjects (a new release folds a new
            # kind of event): replay from the database's checkpoint with today's filter. Events
            # of a newly added kind older than the checkpoint need a rebuild of the projection.
            await js.delete_consumer(stream, self.consumer_name)
            await js.add_consumer(stream, self._consumer_config(self.position + 1))

    async def _run(self) -> None:
        """Consume while holding this projection's lease; standby replicas wait for it.

        Replicas share one durable consumer, so without a lease two of them could commit
        batches out of order and the checkpoint would skip the earlier batch. A session-level
        Postgres advisory lock makes exactly one replica the active projector.
        """
        while not self._stopping.is_set():
            async with self.pool.acquire() as lease:
                if not await lease.fetchval("SELECT pg_try_advisory_lock(hashtext($1))", self._lease_key):
                    await asyncio.sleep(LEASE_RETRY)  # another replica projects; poll for its lease
                    continue
                try:
                    await self._consume()
                finally:
                    with contextlib.suppress(Exception):
                        await lease.execute("SELECT pg_advisory_unlock(hashtext($1))", self._lease_key)

    @property
    def _lease_key(self) -> str:
        return f"projection:{self.store.stream}:{self.projection.name}"

    async def _consume(self) -> None:
        """Fetch, apply + commit, ack, in order. While a full batch commits, the next one is fetched.

        A full batch means more events are probably waiting: fetching them during the commit's
        round trips overlaps NATS and Postgres. The prefetched batch is applied after the current
        one commits; if that fails, the prefetched batch is dropped with the session's consumer.
        """
        sub: JetStreamContext.PullSubscription | None = None
        ahead: asyncio.Task[list[Msg]] | None = None
        # A session that ended (crash, stop, lost lease) may leave a fetched batch uncommitted and
        # unacked; the next fetch would skip it until ack_wait and the next ack would acknowledge
        # it (AckAll). So every session starts with a consumer recreated at checkpoint + 1.
        resync = True
        try:
            while not self._stopping.is_set():
                if sub is None:
                    try:
                        sub = await self._subscribe(resync=resync)
                    except Exception:
                        log.exception("projection %s: cannot bind its consumer; retrying", self.projection.name)
                        await asyncio.sleep(LEASE_RETRY)
                        continue
                    resync = False
                msgs = await self._fetch(sub, ahead)
                ahead = None
                if self.prefetch and msgs is not None and len(msgs) >= self.batch_size:
                    ahead = asyncio.create_task(sub.fetch(self.batch_size, timeout=1.0))
                failed = msgs is None
                if msgs:
                    try:
                        await self.handle_batch(msgs)
                    except asyncio.CancelledError:
                        raise
                    except Exception:
                        # Postgres or NATS trouble: nothing was acked. The next fetch would hand
                        # out the events after this batch (it is redelivered only after ack_wait),
                        # and acking those would acknowledge it unapplied (AckAll). So the consumer
                        # restarts at the checkpoint + 1, which Postgres decides.
                        log.exception("projection %s: batch failed; resuming from the checkpoint", self.projection.name)
                        failed = True
                if failed:
                    await _cancelled(ahead)
                    ahead = None
                    await asyncio.sleep(LEASE_RETRY)
                    with contextlib.suppress(Exception):
                        await sub.unsubscribe()
                    sub, resync = None, True
        finally:
            await _cancelled(ahead)
            if sub is not None:
                with contextlib.suppress(Exception):
                    await sub.unsubscribe()

    async def _fetch(
        self, sub: JetStreamContext.PullSubscription, ahead: asyncio.Task[list[Msg]] | None
    ) -> list[Msg] | None:
        """The next batch (the prefetched one if any); [] when there is none; None if the fetch failed."""
        try:
            return await (ahead if ahead is not None else sub.fetch(self.batch_size, timeout=1.0))
        except (TimeoutError, nats.errors.TimeoutError):
            return []  # nats-py also answers a server-side fetch timeout with an empty list
        except Exception:
            # Part of a batch may have been delivered to us and lost: resume from the checkpoint.
            log.exception("projection %s: fetch failed; resuming from the checkpoint", self.projection.name)
            return None

    async def _subscribe(self, *, resync: bool) -> JetStreamContext.PullSubscription:
        """Bind to the durable consumer; with `resync`, first recreate it at checkpoint + 1.

        Only the lease holder consumes, so recreating the shared consumer is safe here; it drops
        whatever an earlier session had fetched without committing.
        """
        if resync:
            async with self.pool.acquire() as conn:
                await conn.execute(f"SET search_path TO {readmodel.quote_ident(self.schema)}")
                self.position = max(self.position, await readmodel.checkpoint(conn, self.projection.name))
            with contextlib.suppress(NotFoundError):
                await self.store.js.delete_consumer(self.store.stream, self.consumer_name)
            await self.store.js.add_consumer(self.store.stream, self._consumer_config(self.position + 1))
        return await self.store.js.pull_subscribe_bind(durable=self.consumer_name, stream=self.store.stream)

    async def handle_batch(self, msgs: list[Msg]) -> None:
        """Apply a fetched batch and commit with its checkpoint, then ack (AckAll: the last one)."""
        events = [self.store.stored_from_js(m) for m in msgs]
        traces = [_sampled_trace(m.headers) for m in msgs]
        position = await self._apply_and_commit(events, traces)
        await self.after_commit(msgs)
        await msgs[-1].ack()
        await self._advance(position)

    async def after_commit(self, msgs: list[Msg]) -> None:
        """Seam between commit and ack; tests use it to simulate a crash there."""

    async def _apply_and_commit(self, events: list[StoredEvent], traces: Sequence[otel_context.Context | None]) -> int:
        name = self.projection.name
        async with self.pool.acquire() as conn, conn.transaction():
            await conn.execute(f"SET LOCAL search_path TO {readmodel.quote_ident(self.schema)}")
            position = await readmodel.checkpoint(conn, name, lock=True)
            # Events at or below the checkpoint were applied already: redelivery after a crash
            # between commit and ack.
            fresh = [(e, t) for e, t in zip(events, traces, strict=True) if e.seq > position]
            if fresh:
                await self._apply_all(conn, fresh)
                position = fresh[-1][0].seq
            await readmodel.save_checkpoint(conn, name, position)
        return position

    async def _apply_all(self, conn: Conn, batch: Sequence[tuple[StoredEvent, otel_context.Context | None]]) -> None:
        """Apply a batch under one savepoint; if any event fails, redo it with one savepoint per event.

        A savepoint per event always would cost two extra round trips per event (it tripled the
        time per event in `make bench`); the slow path still records and skips a poison event.

        Tracing: one span per batch, linked to the trace context of every traced event, and a
        `project <EventType>` span per event only for events that carry a sampled trace context
        (a child of it, so a request's trace reaches its projections). Untraced events (bulk
        imports, replays) cost no span each.
        """
        links = [trace.Link(trace.get_current_span(t).get_span_context()) for _, t in batch if t is not None]
        attributes = {
            "projection": self.projection.name,
            "batch.size": len(batch),
            "batch.first_seq": batch[0][0].seq,
            "batch.last_seq": batch[-1][0].seq,
        }
        with telemetry.span(f"project {self.projection.name} batch", attributes, parent=_ROOT, links=links):
            try:
                async with conn.transaction():
                    await self._apply_events(conn, batch)
            except Exception:
                log.warning("projection %s: a batch failed; applying it event by event", self.projection.name)
            else:
                return
            for event, trace_ctx in batch:
                await self._apply_one(conn, event, trace_ctx)

    async def _apply_events(self, conn: Conn, batch: Sequence[tuple[StoredEvent, otel_context.Context | None]]) -> None:
        if self._apply_batch is None:
            for event, trace_ctx in batch:
                if trace_ctx is None:
                    await self.projection.apply(conn, event)
                else:
                    with self._span(event, trace_ctx):
                        await self.projection.apply(conn, event)
            return
        # One call for the whole batch: the traced events' spans cover that call.
        spans = [self._start_span(event, trace_ctx) for event, trace_ctx in batch if trace_ctx is not None]
        try:
            await self._apply_batch(conn, [event for event, _ in batch])
        except Exception as error:
            for span in spans:
                span.record_exception(error)
                span.set_status(trace.Status(trace.StatusCode.ERROR, "batch failed; retried event by event"))
            raise
        finally:
            for span in spans:
                span.end()

    def _attributes(self, event: StoredEvent) -> dict[str, str | int]:
        return {
            "event.type": event.envelope.type,
            "event.seq": event.seq,
            "event.aggregate_id": event.envelope.aggregate_id,
            "projection": self.projection.name,
        }

    def _span(
        self, event: StoredEvent, trace_ctx: otel_context.Context | None
    ) -> contextlib.AbstractContextManager[trace.Span]:
        if trace_ctx is None:
            return contextlib.nullcontext(trace.INVALID_SPAN)
        return telemetry.span(f"project {event.envelope.type}", self._attributes(event), parent=trace_ctx)

    def _start_span(self, event: StoredEvent, trace_ctx: otel_context.Context) -> trace.Span:
        return telemetry.tracer().start_span(
            f"project {event.envelope.type}", context=trace_ctx, attributes=self._attributes(event)
        )

    async def _apply_one(self, conn: Conn, event: StoredEvent, trace_ctx: otel_context.Context | None) -> None:
        with self._span(event, trace_ctx):
            try:
                async with conn.transaction():  # a savepoint: a poison event cannot undo the batch
                    if self._apply_batch is None:
                        await self.projection.apply(conn, event)
                    else:
                        await self._apply_batch(conn, [event])
            except Exception as error:
                log.exception(
                    "projection %s: event %s at %s failed; recorded and skipped",
                    self.projection.name,
                    event.event_id,
                    event.seq,
                )
                await conn.execute(
                    "INSERT INTO projection_failure (name, position, event_id, error)"
                    " VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
                    self.projection.name,
                    event.seq,
                    event.event_id,
                    repr(error)[:2000],
                )

    async def _advance(self, position: int) -> None:
        async with self._advanced:
            self.position = max(self.position, position)
            self._advanced.notify_all()

    # ---- rebuild ------------------------------------------------------------------------

    async def rebuild(self, *, swap: bool = True) -> str:
        """Replay the whole stream into a shadow schema; with `swap`, make it the live one.

        The live projection keeps serving while the shadow fills; it pauses only for the final
        catch-up and the rename, which happen in one transaction.
        """
        shadow = f"{self.schema}_rebuild"
        async with self.pool.acquire() as conn:
            await conn.execute(f"DROP SCHEMA IF EXISTS {readmodel.quote_ident(shadow)} CASCADE")
            await readmodel.migrate(conn, shadow, self.projection.migrations)
        position = await self._fill(shadow, 0)
        if not swap:
            return shadow
        running = self._task is not None
        await self.stop()
        position = await self._fill(shadow, position)
        async with self.pool.acquire() as conn, conn.transaction():
            old = f"{self.schema}_old"
            await conn.execute(f"DROP SCHEMA IF EXISTS {readmodel.quote_ident(old)} CASCADE")
            await conn.execute(
                f"ALTER SCHEMA {readmodel.quote_ident(self.schema)} RENAME TO {readmodel.quote_ident(old)}"
            )
            await conn.execute(
                f"ALTER SCHEMA {readmodel.quote_ident(shadow)} RENAME TO {readmodel.quote_ident(self.schema)}"
            )
            await conn.execute(f"DROP SCHEMA {readmodel.quote_ident(old)} CASCADE")
        self.position = position
        if running:
            await self.start()
        return self.schema

    async def _fill(self, schema: str, after: int) -> int:
        """Apply every matching event after `after` into `schema`; returns the new position."""
        position = after
        async for batch in self._replay(after + 1):
            async with self.pool.acquire() as conn, conn.transaction():
                await conn.execute(f"SET LOCAL search_path TO {readmodel.quote_ident(schema)}")
                await self._apply_all(conn, [(event, None) for event in batch])
                position = batch[-1].seq
                await readmodel.checkpoint(conn, self.projection.name, lock=True)
                await readmodel.save_checkpoint(conn, self.projection.name, position)
        return position

    async def _replay(self, start: int) -> AsyncIterator[list[StoredEvent]]:
        js, stream = self.store.js, self.store.stream
        name = f"rebuild_{self.projection.name}_{uuid.uuid4().hex[:8]}"
        config = ConsumerConfig(
            durable_name=name,
            deliver_policy=DeliverPolicy.BY_START_SEQUENCE if start > 1 else DeliverPolicy.ALL,
            opt_start_seq=start if start > 1 else None,
            ack_policy=AckPolicy.NONE,
            filter_subjects=list(self.projection.filter_subjects),
            inactive_threshold=60.0,
            mem_storage=True,
        )
        info = await js.add_consumer(stream, config)
        remaining = info.num_pending or 0
        sub = await js.pull_subscribe_bind(durable=name, stream=stream)
        try:
            while remaining > 0:
                msgs = await sub.fetch(min(self.batch_size, remaining), timeout=5.0)
                if not msgs:
                    raise ServiceUnavailableError(f"replay of {self.projection.name} stalled with {remaining} left")
                remaining -= len(msgs)
                yield [self.store.stored_from_js(m) for m in msgs]
        finally:
            with contextlib.suppress(Exception):
                await sub.unsubscribe()
            with contextlib.suppress(Exception):
                await js.delete_consumer(stream, name)


async def _cancelled(task: asyncio.Task[list[Msg]] | None) -> None:
    """Cancel a prefetch and wait for it; its messages go unacked (the consumer is recreated)."""
    if task is not None:
        task.cancel()
        await asyncio.wait([task])  # never raises the task's error; our own cancellation propagates
        if not task.cancelled():
            task.exception()  # retrieved, so asyncio does not log it as never retrieved


_ROOT = otel_context.Context()  # batch spans start their own trace; they link to the events' traces


def _sampled_trace(headers: dict[str, str] | None) -> otel_context.Context | None:
    """The trace context a message carries if it is sampled, else None (no per-event span)."""
    if not headers or "traceparent" not in headers:
        return None
    ctx = telemetry.extract(headers)
    span_context = trace.get_current_span(ctx).get_span_context()
    return ctx if span_context.is_valid and span_context.trace_flags.sampled else None
