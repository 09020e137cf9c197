"""The workbook service's use cases as one object: what the entrypoints bind."""

from __future__ import annotations

from dataclasses import dataclass

from workbook_service.application.commands import WorkbookCommands
from workbook_service.application.queries import WorkbookQueries
from workbook_service.application.restore import WorkbookRestores
from workbook_service.application.views import ViewCommands, ViewQueries


@dataclass(frozen=True)
class WorkbookApplication:
    commands: WorkbookCommands
    queries: WorkbookQueries
    views: ViewCommands
    view_queries: ViewQueries
    restores: WorkbookRestores
