"""Fakes of the workbook application's read-model ports, for tests that run without servers.

`FoldedPlaces` answers `Places` by folding the event store's events the way the KnownSpaces and
catalog projections fold them into Postgres; `tests/test_places_contract.py` runs the same
scenario against it and against `CatalogQueries` on Postgres.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field

from spaceport import known_spaces
from spaceport.contracts import space, workbook
from spaceport.contracts.space import SpaceCreated
from spaceport.contracts.workbook import SheetAdded, SheetDeleted, WorkbookCreated, WorkbookDeleted
from spaceport.events import Event, EventRegistry, StoredEvent
from spaceport.known_spaces import SpaceFact
from spaceport.ports import EventStorePort
from workbook_service.application.ports import Place


@dataclass
class _Folded:
    workbooks: dict[str, Place] = field(default_factory=dict)
    sheets: dict[str, str] = field(default_factory=dict)  # live sheet id -> its workbook id
    spaces: dict[str, SpaceFact] = field(default_factory=dict)


class FoldedPlaces:
    """`Places` folded from `store` on each call.

    `lagging=True` makes it behave like a projection that has applied nothing yet: it sees only
    events up to the positions `catch_up` (its `WaitFor`) was asked for.
    """

    def __init__(self, store: EventStorePort, *, lagging: bool = False) -> None:
        self.store = store
        self.applied: int | None = 0 if lagging else None  # None: every stored event

    async def catch_up(self, position: int) -> bool:
        if self.applied is not None:
            self.applied = max(self.applied, position)
        return True

    async def place_of_workbook(self, workbook_id: str) -> Place | None:
        return (await self._fold()).workbooks.get(workbook_id)

    async def place_of_sheet(self, sheet_id: str) -> Place | None:
        folded = await self._fold()
        workbook_id = folded.sheets.get(sheet_id)
        return None if workbook_id is None else folded.workbooks.get(workbook_id)

    async def space_fact(self, space_id: str) -> SpaceFact | None:
        return (await self._fold()).spaces.get(space_id)

    async def _fold(self) -> _Folded:
        folded = _Folded()
        async for stored in self._events():
            _apply(folded, stored)
        return folded

    async def _events(self) -> AsyncIterator[StoredEvent]:
        async for stored in self.store.read(f"{self.store.prefix}.>"):
            if self.applied is not None and stored.seq > self.applied:
                return
            yield stored


def _apply(folded: _Folded, stored: StoredEvent) -> None:
    match stored.event:
        case WorkbookCreated() as e:
            folded.workbooks[e.workbook_id] = Place(
                environment_id=e.environment_id, space_id=e.space_id, workbook_id=e.workbook_id
            )
            folded.sheets.update({s.sheet_id: e.workbook_id for s in e.sheets})
        case SheetAdded() as e:
            folded.sheets[e.sheet.sheet_id] = e.workbook_id
        case SheetDeleted() as e:
            folded.sheets.pop(e.sheet_id, None)
        case WorkbookDeleted() as e:
            folded.workbooks.pop(e.workbook_id, None)
            folded.sheets = {s: w for s, w in folded.sheets.items() if w != e.workbook_id}
        case _:
            known_spaces.fold(folded.spaces, stored.event, stored.envelope.environment_id)


REGISTRY = EventRegistry((*space.EVENTS, *workbook.EVENTS))
"""The events the workbook service reads: its own and the space service's."""


async def given_space(store: EventStorePort, environment_id: str, space_id: str, *later: Event) -> int:
    """Append what the space service would for a space (created, then `later`); its version."""
    ref = known_spaces.space_ref(space_id, environment_id)
    created = SpaceCreated(space_id=space_id, environment_id=environment_id, name=space_id)
    return (await store.append(ref, [created, *later], expected_version=None)).last_seq


async def workbook_events(store: EventStorePort) -> list[Event]:
    """Every workbook event in the store, in order."""
    return [s.event async for s in store.read(f"{store.prefix}.*.workbook.>") if s.event is not None]
