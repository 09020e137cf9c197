"""OpenTelemetry: one tracer provider per process; trace context crosses NATS in headers.

Exporters (OTEL_TRACES_EXPORTER): `console` (default), `otlp` (OTEL_EXPORTER_OTLP_ENDPOINT),
`file:<path>` (one JSON span per line, what the end-to-end trace test reads), `none`.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry import propagate, trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import (
    BatchSpanProcessor,
    ConsoleSpanExporter,
    SimpleSpanProcessor,
    SpanExporter,
    SpanExportResult,
)

_tracer = trace.get_tracer("spaceport")


class JsonLinesExporter(SpanExporter):
    """Appends each finished span as one JSON line: trace id, span id, parent, service, name."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._lock = threading.Lock()

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        lines = [json.dumps(_span_record(s)) + "\n" for s in spans]
        with self._lock, open(self.path, "a", encoding="utf-8") as out:
            out.writelines(lines)
        return SpanExportResult.SUCCESS


def _span_record(span: ReadableSpan) -> dict[str, Any]:
    ctx = span.get_span_context()
    assert ctx is not None
    return {
        "traceId": f"{ctx.trace_id:032x}",
        "spanId": f"{ctx.span_id:016x}",
        "parentId": f"{span.parent.span_id:016x}" if span.parent else None,
        "links": [f"{link.context.trace_id:032x}:{link.context.span_id:016x}" for link in span.links],
        "service": span.resource.attributes.get("service.name"),
        "name": span.name,
        "attributes": {k: str(v) for k, v in (span.attributes or {}).items()},
    }


def setup(service_name: str, exporter: str = "console", endpoint: str = "") -> TracerProvider:
    """Install this process's tracer provider. Call once, from the composition root."""
    provider = TracerProvider(resource=Resource.create({"service.name": service_name}))
    chosen = _exporter(exporter, endpoint)
    if chosen is not None:
        simple = isinstance(chosen, JsonLinesExporter)
        provider.add_span_processor(SimpleSpanProcessor(chosen) if simple else BatchSpanProcessor(chosen))
    trace.set_tracer_provider(provider)
    _install_log_correlation()
    return provider


def _exporter(kind: str, endpoint: str) -> SpanExporter | None:
    if kind.startswith("file:"):
        return JsonLinesExporter(kind.removeprefix("file:"))
    if kind == "otlp":
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter  # noqa: PLC0415

        return OTLPSpanExporter(endpoint=endpoint or None)
    if kind == "console":
        return ConsoleSpanExporter()
    return None


def tracer() -> trace.Tracer:
    return trace.get_tracer("spaceport")


@contextmanager
def span(
    name: str,
    attributes: Mapping[str, Any] | None = None,
    parent: otel_context.Context | None = None,
    links: Sequence[trace.Link] = (),
) -> Iterator[trace.Span]:
    """A span under the current context (or `parent`), optionally linked to other spans."""
    with tracer().start_as_current_span(
        name, context=parent, attributes=dict(attributes or {}), links=links or None
    ) as current:
        yield current


def inject_headers() -> dict[str, str]:
    """The current trace context as NATS headers (`traceparent`, `tracestate`)."""
    carrier: dict[str, str] = {}
    propagate.inject(carrier)
    return carrier


def extract(headers: Mapping[str, str] | None) -> otel_context.Context:
    """The trace context carried by NATS headers, or an empty one."""
    return propagate.extract(dict(headers or {}))


class _TraceIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        ctx = trace.get_current_span().get_span_context()
        record.trace_id = f"{ctx.trace_id:032x}" if ctx.is_valid else "-"
        return True


def _install_log_correlation() -> None:
    root = logging.getLogger()
    if not any(isinstance(f, _TraceIdFilter) for h in root.handlers for f in h.filters):
        handler = logging.StreamHandler()
        handler.addFilter(_TraceIdFilter())
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s trace=%(trace_id)s %(message)s"))
        root.addHandler(handler)
        root.setLevel(logging.INFO)
