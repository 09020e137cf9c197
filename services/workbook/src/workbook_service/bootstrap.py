"""Composition root of the workbook service: the one place that reads settings and wires adapters."""

from __future__ import annotations

from spaceport import runtime, telemetry
from spaceport.contracts import space, view, workbook
from spaceport.known_spaces import KnownSpaces
from spaceport.settings import Settings
from workbook_service.application.app import WorkbookApplication
from workbook_service.application.commands import WorkbookCommands
from workbook_service.application.queries import WorkbookQueries
from workbook_service.application.restore import WorkbookRestores
from workbook_service.application.views import ViewCommands, ViewQueries
from workbook_service.entrypoints import rpc
from workbook_service.projections.catalog import SCHEMA, WorkbookCatalog
from workbook_service.projections.view_queries import ViewCatalogQueries

NAME = "workbook"


def build(settings: Settings) -> tuple[runtime.ServiceRuntime, WorkbookApplication]:
    rt = runtime.ServiceRuntime(settings, (*space.EVENTS, *workbook.EVENTS, *view.EVENTS))
    rt.add_projection(KnownSpaces(NAME, settings.event_prefix))
    rt.add_projection(WorkbookCatalog(settings.event_prefix))
    catalog = ViewCatalogQueries(lambda: rt.pool)
    # Each waits for its own runner: KnownSpaces never reaches a workbook event's position.
    commands = WorkbookCommands(rt.store, catalog, lambda position: rt.runner(NAME).wait_for(position))
    app = WorkbookApplication(
        commands=commands,
        queries=WorkbookQueries(catalog, lambda position: rt.runner(SCHEMA).wait_for(position), rt.store, catalog),
        views=ViewCommands(rt.store, catalog),
        view_queries=ViewQueries(catalog, lambda position: rt.runner(SCHEMA).wait_for(position)),
        restores=WorkbookRestores(rt.store, commands, lambda position: rt.runner(SCHEMA).wait_for(position)),
    )
    rpc.bind(rt.rpc, app)
    return rt, app


def main() -> None:
    settings = Settings.from_env(NAME)
    telemetry.setup(settings.service_name, settings.otel_exporter, settings.otel_endpoint)
    rt, _ = build(settings)
    runtime.run(rt)
