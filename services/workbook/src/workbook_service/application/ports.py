"""What the workbook application needs from outside it, besides `spaceport.ports.EventStorePort`.

The Postgres implementations are in `projections/queries.py`; `workbook_service.testing` has
fakes that fold the event store's events instead.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Protocol

import msgspec

from spaceport.contracts.workbook import ListWorkbooks, SheetView, WorkbookView
from spaceport.known_spaces import SpaceFact

WaitFor = Callable[[int], Awaitable[bool]]
"""Read-your-writes: wait until one read model applied a stream position; False on timeout."""


class Place(msgspec.Struct, frozen=True, kw_only=True):
    """Where a workbook (or a sheet's workbook) lives: the aggregate's scope."""

    environment_id: str
    space_id: str
    workbook_id: str


class Places(Protocol):
    """The lookups a command makes before it can load its aggregate (live rows only)."""

    async def place_of_workbook(self, workbook_id: str) -> Place | None: ...

    async def place_of_sheet(self, sheet_id: str) -> Place | None: ...

    async def space_fact(self, space_id: str) -> SpaceFact | None: ...


class CatalogReads(Protocol):
    """The catalog as the API reads it: live workbooks and sheets as wire views."""

    async def sheet(self, sheet_id: str) -> SheetView | None: ...

    async def sheets(self, workbook_id: str) -> list[SheetView]: ...

    async def workbook(self, workbook_id: str) -> WorkbookView | None:
        """The workbook with its sheets."""
        ...

    async def workbooks(self, query: ListWorkbooks) -> list[WorkbookView]:
        """Filtered as `query` says, oldest first; sheets only if `query.include_sheets`."""
        ...
