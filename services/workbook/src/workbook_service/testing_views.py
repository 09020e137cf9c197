"""Fakes of the view ports, for tests that run without servers.

`FoldedViews` answers `ViewPlaces` and `ViewReads` by folding the event store's events the way
the catalog projection folds them into Postgres; `tests/test_view_contract.py` runs the same
scenarios against it and against `ViewCatalogQueries`.
"""

from __future__ import annotations

import msgspec

from spaceport.contracts import space, view, workbook
from spaceport.contracts.view import ViewCreated, ViewDeleted, ViewUpdated, ViewView
from spaceport.events import Event, EventRegistry, StoredEvent
from spaceport.ports import EventStorePort
from workbook_service.application.views import ViewPlace
from workbook_service.testing import FoldedPlaces

REGISTRY = EventRegistry((*space.EVENTS, *workbook.EVENTS, *view.EVENTS))
"""The events the workbook service reads, views included."""


class FoldedViews(FoldedPlaces):
    """`FoldedPlaces` plus the live views, folded from the store on each call."""

    async def place_of_view(self, view_id: str) -> ViewPlace | None:
        found = (await self._views()).get(view_id)
        if found is None:
            return None
        return ViewPlace(
            environment_id=found.environment_id,
            space_id=found.space_id,
            workbook_id=found.workbook_id,
            sheet_id=found.sheet_id,
        )

    async def view(self, view_id: str) -> ViewView | None:
        found = (await self._views()).get(view_id)
        return found if found is not None and await self.place_of_sheet(found.sheet_id) is not None else None

    async def views(self, sheet_id: str, page_size: int, page_number: int) -> tuple[list[ViewView], int]:
        if await self.place_of_sheet(sheet_id) is None:
            return [], 0
        found = sorted(
            (v for v in (await self._views()).values() if v.sheet_id == sheet_id), key=lambda v: (v.created_at, v.id)
        )
        start = (page_number - 1) * page_size
        return found[start : start + page_size], len(found)

    async def _views(self) -> dict[str, ViewView]:
        live: dict[str, ViewView] = {}
        async for stored in self._events():
            _apply(live, stored)
        return live


def _apply(live: dict[str, ViewView], stored: StoredEvent) -> None:
    at = stored.envelope.occurred_at
    match stored.event:
        case ViewCreated() as e:
            live[e.view_id] = ViewView(
                id=e.view_id,
                sheet_id=e.sheet_id,
                name=e.name,
                config=e.config,
                created_by=e.created_by,
                workbook_id=e.workbook_id,
                space_id=e.space_id,
                environment_id=e.environment_id,
                created_at=at,
                updated_at=at,
            )
        case ViewUpdated() as e if e.view_id in live:
            before = live[e.view_id]
            name = before.name if e.name is None else e.name
            config = before.config if e.config is None else e.config
            live[e.view_id] = msgspec.structs.replace(before, name=name, config=config, updated_at=at)
        case ViewDeleted() as e:
            live.pop(e.view_id, None)


async def view_events(store: EventStorePort) -> list[Event]:
    """Every view event in the store, in order."""
    return [s.event async for s in store.read(f"{store.prefix}.*.view.>") if s.event is not None]
