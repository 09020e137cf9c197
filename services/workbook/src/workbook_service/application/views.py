"""Views: find the sheet (or the view) -> load -> decide -> append; queries from the catalog.

A view's sheet is read from its workbook aggregate (the event log), not from the catalog, so the
fields a config names are checked against the blueprint as it is, not as projected.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import Protocol

import msgspec

from spaceport import ids
from spaceport.aggregate import Folder, execute
from spaceport.contracts.space import Pagination, Principal
from spaceport.contracts.view import (
    CreateView,
    DeleteView,
    GetView,
    ListViews,
    UpdateView,
    ViewList,
    ViewView,
    ViewWritten,
)
from spaceport.errors import NotFoundError
from spaceport.events import Event
from spaceport.paging import check as check_page
from spaceport.ports import AggregateRef, AppendContext, EventStorePort
from workbook_service.application.commands import WORKBOOKS
from workbook_service.application.ports import Place, Places, WaitFor
from workbook_service.domain import view as domain
from workbook_service.domain.view import SheetFacts, ViewState

VIEWS = Folder(domain.initial, domain.evolve)
MAX_LIST_PAGE = 1000
_ID = re.compile(r"^[A-Za-z0-9_\-]{1,64}$")  # ids become subject tokens: no dots or wildcards


class ViewPlace(msgspec.Struct, frozen=True, kw_only=True):
    """Where a live view lives: its aggregate's scope and its sheet."""

    environment_id: str
    space_id: str
    workbook_id: str
    sheet_id: str


class ViewPlaces(Places, Protocol):
    async def place_of_view(self, view_id: str) -> ViewPlace | None:
        """The live view's place (also while its sheet is deleted: the command then refuses)."""
        ...


class ViewReads(Protocol):
    async def view(self, view_id: str) -> ViewView | None:
        """The live view of a live sheet."""
        ...

    async def views(self, sheet_id: str, page_size: int, page_number: int) -> tuple[list[ViewView], int]:
        """One page of the sheet's live views, oldest first, and how many it has."""
        ...


def view_ref(environment_id: str, space_id: str, view_id: str) -> AggregateRef:
    return AggregateRef(environment_id=environment_id, space_id=space_id, aggregate="view", aggregate_id=view_id)


def _workbook_ref(place: Place) -> AggregateRef:
    return AggregateRef(
        environment_id=place.environment_id,
        space_id=place.space_id,
        aggregate="workbook",
        aggregate_id=place.workbook_id,
    )


class ViewCommands:
    """Writes of views; each answers where its event landed (0: nothing changed)."""

    def __init__(self, store: EventStorePort, places: ViewPlaces) -> None:
        self.store = store
        self.places = places

    async def create_view(self, cmd: CreateView) -> ViewWritten:
        place = await self.places.place_of_sheet(cmd.sheet_id) if _ID.match(cmd.sheet_id) else None
        if place is None:
            raise NotFoundError(f"sheet {cmd.sheet_id} not found", key="sheetId")
        sheet = await self.sheet_facts(place, cmd.sheet_id)
        key = cmd.idempotency_key
        seed = f"view:{cmd.principal.environment_id}:{cmd.sheet_id}:{key}"
        view_id = ids.derived_id("view", seed) if key else ids.new_id("view")
        ref = view_ref(place.environment_id, place.space_id, view_id)
        # Event ids derive from the key: scope it, so another kind of write with the same key differs.
        scoped = f"view:{cmd.principal.environment_id}:{key}" if key else None
        return await self._execute(ref, lambda s: domain.create(s, view_id, sheet, cmd), cmd.principal, scoped)

    async def update_view(self, cmd: UpdateView) -> ViewWritten:
        place = await self._view_place(cmd.view_id)
        sheet = await self.sheet_facts(_sheet_place(place), place.sheet_id)
        ref = view_ref(place.environment_id, place.space_id, cmd.view_id)
        return await self._execute(ref, lambda s: domain.update(s, sheet, cmd), cmd.principal)

    async def delete_view(self, cmd: DeleteView) -> ViewWritten:
        place = await self._view_place(cmd.view_id)
        ref = view_ref(place.environment_id, place.space_id, cmd.view_id)
        return await self._execute(ref, lambda s: domain.delete(s, cmd.view_id, cmd.principal), cmd.principal)

    async def sheet_facts(self, place: Place, sheet_id: str) -> SheetFacts | None:
        """The sheet as its workbook's events have it; None once it (or its workbook) is deleted."""
        state = WORKBOOKS.fold(await self.store.load(_workbook_ref(place)))
        sheet = next((s for s in state.sheets if s.sheet_id == sheet_id), None)
        if not state.exists or state.deleted or sheet is None:
            return None
        return SheetFacts(
            sheet_id=sheet_id,
            workbook_id=place.workbook_id,
            space_id=state.space_id,
            environment_id=state.environment_id,
            field_keys=frozenset(f.key for f in sheet.config.fields),
        )

    async def _view_place(self, view_id: str) -> ViewPlace:
        place = await self.places.place_of_view(view_id) if _ID.match(view_id) else None
        if place is None:
            raise NotFoundError(f"view {view_id} not found", key="viewId")
        return place

    async def _execute(
        self,
        ref: AggregateRef,
        decide: Callable[[ViewState], Sequence[Event]],
        principal: Principal,
        idempotency_key: str | None = None,
    ) -> ViewWritten:
        context = AppendContext(actor=principal.actor, idempotency_key=idempotency_key)
        done = await execute(self.store, ref, VIEWS, decide, context)
        return ViewWritten(view_id=ref.aggregate_id, position=done.position)


class ViewQueries:
    """Read-your-writes on the catalog (which projects views too), then the answer or 404."""

    def __init__(self, reads: ViewReads, caught_up: WaitFor) -> None:
        self.reads = reads
        self.caught_up = caught_up

    async def get_view(self, query: GetView) -> ViewView:
        await self._wait(query.min_position)
        found = await self.reads.view(query.view_id)
        if found is None:
            raise NotFoundError(f"view {query.view_id} not found", key="viewId")
        return found

    async def list_views(self, query: ListViews) -> ViewList:
        check_page(query.page_size, query.page_number, MAX_LIST_PAGE)
        await self._wait(query.min_position)
        found, total = await self.reads.views(query.sheet_id, query.page_size, query.page_number)
        pages = max(1, -(-total // query.page_size))
        pagination = Pagination(current_page=query.page_number, page_count=pages, total_count=total)
        return ViewList(data=found, pagination=pagination)

    async def _wait(self, position: int) -> None:
        if position > 0:
            await self.caught_up(position)


def _sheet_place(place: ViewPlace) -> Place:
    return Place(environment_id=place.environment_id, space_id=place.space_id, workbook_id=place.workbook_id)
