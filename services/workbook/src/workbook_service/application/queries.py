"""Workbook queries: read-your-writes on the catalog, then its answer or 404; with `as_of`, the
workbook folded from its own events up to that moment (`domain.as_of`), deleted ones included."""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from spaceport import moments
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
from spaceport.ports import AggregateRef, EventStorePort
from workbook_service.application.ports import CatalogReads, Place, WaitFor
from workbook_service.domain.as_of import fold


class WorkbookQueries:
    """`caught_up` waits for the catalog alone: the KnownSpaces runner reads only space events,
    so it never reaches a workbook event's position and would sit out its whole timeout."""

    def __init__(
        self, catalog: CatalogReads, caught_up: WaitFor, store: EventStorePort | None = None, ever: Ever | None = None
    ) -> None:
        self.catalog = catalog
        self.caught_up = caught_up
        self.store = store
        self.ever = ever

    async def get_sheet(self, query: GetSheet) -> SheetView:
        await self._wait(query.min_position)
        if query.as_of is not None:
            then = await self._then(await self._place(sheet_id=query.sheet_id), query.as_of)
            found = next((s for s in (then.sheets or []) if s.id == query.sheet_id), None) if then else None
            if found is None:
                raise NotFoundError(f"sheet {query.sheet_id} did not exist at {query.as_of}", key="asOf")
            return found
        view = await self.catalog.sheet(query.sheet_id)
        if view is None:
            raise NotFoundError(f"sheet {query.sheet_id} not found", key="sheetId")
        return view

    async def list_sheets(self, query: ListSheets) -> SheetList:
        await self._wait(query.min_position)
        if query.as_of is not None:
            then = await self._then(await self._place(workbook_id=query.workbook_id), query.as_of)
            return SheetList(data=list(then.sheets or []) if then else [])
        return SheetList(data=await self.catalog.sheets(query.workbook_id))

    async def get_workbook(self, query: GetWorkbook) -> WorkbookView:
        await self._wait(query.min_position)
        if query.as_of is not None:
            then = await self._then(await self._place(workbook_id=query.workbook_id), query.as_of)
            if then is None:
                raise NotFoundError(f"workbook {query.workbook_id} did not exist at {query.as_of}", key="asOf")
            return then
        view = await self.catalog.workbook(query.workbook_id)
        if view is None:
            raise NotFoundError(f"workbook {query.workbook_id} not found", key="workbookId")
        return view

    async def list_workbooks(self, query: ListWorkbooks) -> WorkbookList:
        await self._wait(query.min_position)
        return WorkbookList(data=await self.catalog.workbooks(query))

    async def _place(self, *, workbook_id: str | None = None, sheet_id: str | None = None) -> Place:
        place = None if self.ever is None else await self.ever.place_ever(workbook_id=workbook_id, sheet_id=sheet_id)
        if place is None:
            what = f"sheet {sheet_id}" if sheet_id else f"workbook {workbook_id}"
            raise NotFoundError(f"{what} not found", key="sheetId" if sheet_id else "workbookId")
        return place

    async def _then(self, place: Place, as_of: str) -> WorkbookView | None:
        """The workbook folded from its events up to `as_of` (a stream sequence or an ISO-8601 time)."""
        assert self.store is not None, "reads as of a moment need the event store"
        up_to_seq, up_to_time = moment(as_of)
        ref = AggregateRef(
            environment_id=place.environment_id,
            space_id=place.space_id,
            aggregate="workbook",
            aggregate_id=place.workbook_id,
        )
        events = (await self.store.load(ref)).events
        return fold(
            e
            for e in events
            if (up_to_seq is None or e.seq <= up_to_seq)
            and (up_to_time is None or e.envelope.occurred_at <= up_to_time)
        )

    async def _wait(self, position: int) -> None:
        if position > 0:
            await self.caught_up(position)


class Ever(Protocol):
    async def place_ever(self, *, workbook_id: str | None = None, sheet_id: str | None = None) -> Place | None: ...


def moment(as_of: str) -> tuple[int | None, datetime | None]:
    """`asOf` as (stream sequence, None) or (None, time); 400 for anything else. A version id
    is resolved to its sequence by the gateway (the history of versions lives in the job service)."""
    if as_of.isdigit():
        return moments.sequence(as_of, "asOf"), None
    return None, moments.time(as_of, "asOf", " or a stream sequence")
