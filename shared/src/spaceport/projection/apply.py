"""Applying a batch of fresh events inside the caller's transaction, isolating poison events.

The whole batch runs under one savepoint; if any event fails, the batch is redone with one
savepoint per event, and an event that still fails is recorded in `projection_failure` and
skipped. A savepoint per event always would cost two extra round trips per event (it tripled the
time per event in `make bench`).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from opentelemetry import context as otel_context
from opentelemetry import trace

from spaceport.events import StoredEvent
from spaceport.projection import tracing
from spaceport.projection.protocol import ApplyBatch, Projection
from spaceport.projection.tracing import Traced
from spaceport.readmodel import Conn

log = logging.getLogger(__package__)  # the package's logger: log lines keep the name they always had


class BatchApplier:
    """Applies events to one projection's tables, with `apply_batch` when the projection has it."""

    def __init__(self, projection: Projection) -> None:
        self._projection = projection
        self._apply_batch: ApplyBatch | None = getattr(projection, "apply_batch", None)

    @property
    def _name(self) -> str:
        return self._projection.name

    async def apply_all(self, conn: Conn, batch: Sequence[Traced]) -> None:
        """Apply `batch` in order; a poison event is recorded and skipped, the rest still apply."""
        with tracing.batch_span(self._name, batch):
            if await self._applied_together(conn, batch):
                return
            for event, trace_ctx in batch:
                await self._apply_alone(conn, event, trace_ctx)

    async def _applied_together(self, conn: Conn, batch: Sequence[Traced]) -> bool:
        try:
            async with conn.transaction():
                await self._apply_events(conn, batch)
        except Exception:
            log.warning("projection %s: a batch failed; applying it event by event", self._name)
            return False
        return True

    async def _apply_events(self, conn: Conn, batch: Sequence[Traced]) -> None:
        if self._apply_batch is None:
            for event, trace_ctx in batch:
                with tracing.event_span(self._name, event, trace_ctx):
                    await self._projection.apply(conn, event)
        else:
            await self._apply_batch_call(self._apply_batch, conn, batch)

    async def _apply_batch_call(self, apply_batch: ApplyBatch, conn: Conn, batch: Sequence[Traced]) -> None:
        """One call for the whole batch: the traced events' spans cover that call."""
        spans = [tracing.start_event_span(self._name, event, t) for event, t in batch if t is not None]
        try:
            await apply_batch(conn, [event for event, _ in batch])
        except Exception as error:
            for span in spans:
                span.record_exception(error)
                span.set_status(trace.Status(trace.StatusCode.ERROR, "batch failed; retried event by event"))
            raise
        finally:
            for span in spans:
                span.end()

    async def _apply_alone(self, conn: Conn, event: StoredEvent, trace_ctx: otel_context.Context | None) -> None:
        with tracing.event_span(self._name, event, trace_ctx):
            try:
                async with conn.transaction():  # a savepoint: a poison event cannot undo the batch
                    await self._apply_one(conn, event)
            except Exception as error:
                log.exception(
                    "projection %s: event %s at %s failed; recorded and skipped", self._name, event.event_id, event.seq
                )
                await self._record_failure(conn, event, error)

    async def _apply_one(self, conn: Conn, event: StoredEvent) -> None:
        if self._apply_batch is None:
            await self._projection.apply(conn, event)
        else:
            await self._apply_batch(conn, [event])

    async def _record_failure(self, conn: Conn, event: StoredEvent, error: Exception) -> None:
        await conn.execute(
            "INSERT INTO projection_failure (name, position, event_id, error)"
            " VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
            self._name,
            event.seq,
            event.event_id,
            repr(error)[:2000],
        )
