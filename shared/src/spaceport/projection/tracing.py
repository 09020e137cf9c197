"""Spans of a projection: one per batch, linked to the traced events; one per sampled event.

Only events that carry a sampled trace context get a `project <EventType>` span (a child of it,
so a request's trace reaches its projections). Untraced events (bulk imports, replays) cost no
span each.
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence

from opentelemetry import context as otel_context
from opentelemetry import trace

from spaceport import telemetry
from spaceport.events import StoredEvent

Traced = tuple[StoredEvent, otel_context.Context | None]  # an event and its sampled trace context

ROOT = otel_context.Context()  # batch spans start their own trace; they link to the events' traces


def sampled_trace(headers: dict[str, str] | None) -> otel_context.Context | None:
    """The trace context a message carries if it is sampled, else None (no per-event span)."""
    if not headers or "traceparent" not in headers:
        return None
    ctx = telemetry.extract(headers)
    span_context = trace.get_current_span(ctx).get_span_context()
    return ctx if span_context.is_valid and span_context.trace_flags.sampled else None


def batch_span(projection: str, batch: Sequence[Traced]) -> contextlib.AbstractContextManager[trace.Span]:
    links = [trace.Link(trace.get_current_span(t).get_span_context()) for _, t in batch if t is not None]
    attributes = {
        "projection": projection,
        "batch.size": len(batch),
        "batch.first_seq": batch[0][0].seq,
        "batch.last_seq": batch[-1][0].seq,
    }
    return telemetry.span(f"project {projection} batch", attributes, parent=ROOT, links=links)


def event_span(
    projection: str, event: StoredEvent, trace_ctx: otel_context.Context | None
) -> contextlib.AbstractContextManager[trace.Span]:
    """A span around one event's apply when it is traced; a no-op otherwise."""
    if trace_ctx is None:
        return contextlib.nullcontext(trace.INVALID_SPAN)
    return telemetry.span(f"project {event.envelope.type}", _attributes(projection, event), parent=trace_ctx)


def start_event_span(projection: str, event: StoredEvent, trace_ctx: otel_context.Context) -> trace.Span:
    """An event's span that the caller ends: for events applied together in one `apply_batch` call."""
    return telemetry.tracer().start_span(
        f"project {event.envelope.type}", context=trace_ctx, attributes=_attributes(projection, event)
    )


def _attributes(projection: str, event: StoredEvent) -> dict[str, str | int]:
    return {
        "event.type": event.envelope.type,
        "event.seq": event.seq,
        "event.aggregate_id": event.envelope.aggregate_id,
        "projection": projection,
    }
