"""Composition root of the record service: the one place that reads settings and wires adapters."""

from __future__ import annotations

from record_service.application.context import Context
from record_service.application.reads import ReadHandlers
from record_service.application.writes import WriteHandlers
from record_service.projections.records import RecordsProjection
from spaceport import runtime, telemetry
from spaceport.contracts import record, space, workbook
from spaceport.known_spaces import KnownSpaces
from spaceport.settings import Settings

NAME = "record"


def build(settings: Settings) -> tuple[runtime.ServiceRuntime, Context]:
    # Record events are decoded by the projection itself (cells stay bytes), so only their small
    # CommitCreated is registered for typed decoding.
    rt = runtime.ServiceRuntime(settings, (*space.EVENTS, *workbook.EVENTS, record.CommitCreated))
    rt.add_projection(KnownSpaces(NAME, settings.event_prefix))
    rt.add_projection(RecordsProjection(settings.event_prefix))
    ctx = Context(rt)
    WriteHandlers(ctx).register()
    ReadHandlers(ctx).register()
    return rt, ctx


def main() -> None:
    settings = Settings.from_env(NAME)
    telemetry.setup(settings.service_name, settings.otel_exporter, settings.otel_endpoint)
    rt, _ = build(settings)
    runtime.run(rt)
