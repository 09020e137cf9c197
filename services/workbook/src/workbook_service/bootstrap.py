"""Composition root of the workbook service: the one place that reads settings and wires adapters."""

from __future__ import annotations

from spaceport import runtime, telemetry
from spaceport.contracts import space, workbook
from spaceport.known_spaces import KnownSpaces
from spaceport.settings import Settings
from workbook_service.application.handlers import WorkbookHandlers
from workbook_service.projections.catalog import WorkbookCatalog

NAME = "workbook"


def build(settings: Settings) -> runtime.ServiceRuntime:
    rt = runtime.ServiceRuntime(settings, (*space.EVENTS, *workbook.EVENTS))
    rt.add_projection(KnownSpaces(NAME, settings.event_prefix))
    rt.add_projection(WorkbookCatalog(settings.event_prefix))
    WorkbookHandlers(rt, known_spaces=NAME).register()
    return rt


def main() -> None:
    settings = Settings.from_env(NAME)
    telemetry.setup(settings.service_name, settings.otel_exporter, settings.otel_endpoint)
    runtime.run(build(settings))
