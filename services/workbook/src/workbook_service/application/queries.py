"""Workbook queries: read-your-writes on the catalog, then its answer or 404."""

from __future__ import annotations

from spaceport.contracts.workbook import (
    GetSheet,
    GetWorkbook,
    ListSheets,
    ListWorkbooks,
    SheetList,
    SheetView,
    WorkbookList,
    WorkbookView,
)
from spaceport.errors import NotFoundError
from workbook_service.application.ports import CatalogReads, WaitFor


class WorkbookQueries:
    """`caught_up` waits for the catalog alone: the KnownSpaces runner reads only space events,
    so it never reaches a workbook event's position and would sit out its whole timeout."""

    def __init__(self, catalog: CatalogReads, caught_up: WaitFor) -> None:
        self.catalog = catalog
        self.caught_up = caught_up

    async def get_sheet(self, query: GetSheet) -> SheetView:
        await self._wait(query.min_position)
        view = await self.catalog.sheet(query.sheet_id)
        if view is None:
            raise NotFoundError(f"sheet {query.sheet_id} not found", key="sheetId")
        return view

    async def list_sheets(self, query: ListSheets) -> SheetList:
        await self._wait(query.min_position)
        return SheetList(data=await self.catalog.sheets(query.workbook_id))

    async def get_workbook(self, query: GetWorkbook) -> WorkbookView:
        await self._wait(query.min_position)
        view = await self.catalog.workbook(query.workbook_id)
        if view is None:
            raise NotFoundError(f"workbook {query.workbook_id} not found", key="workbookId")
        return view

    async def list_workbooks(self, query: ListWorkbooks) -> WorkbookList:
        await self._wait(query.min_position)
        return WorkbookList(data=await self.catalog.workbooks(query))

    async def _wait(self, position: int) -> None:
        if position > 0:
            await self.caught_up(position)
