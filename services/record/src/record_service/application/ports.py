"""What the record application needs from outside it, besides `spaceport.ports.EventStorePort`.

`RecordReadModel` is the records projection as the write path decides against it, plus this
service's KnownSpaces directory. The Postgres implementation is `projections/queries.py`;
`record_service/testing.py` (`FoldedRecords`) folds the event store's events instead.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from contextlib import AbstractAsyncContextManager
from typing import TYPE_CHECKING, Any, Protocol

import msgspec
import polars as pl

from spaceport.claimcheck import Payload
from spaceport.contracts.record import RecordQuery, StoredRecord
from spaceport.known_spaces import SpaceFact

if TYPE_CHECKING:
    from record_service.application.context import Sheet


class SheetRow(msgspec.Struct, frozen=True, kw_only=True):
    """A live sheet as the records projection has it, at `version` (its last records event)."""

    id: str
    workbook_id: str
    space_id: str
    environment_id: str
    slug: str
    config: str  # the sheet's SheetConfig as JSON
    config_seq: int
    version: int
    total: int = 0
    valid: int = 0
    deleted_rows: int = 0


class CommitRow(msgspec.Struct, frozen=True, kw_only=True):
    """A projected commit: its events are the sheet's events from `first_seq` to `last_seq`."""

    id: str
    first_seq: int
    last_seq: int


class CommitState(msgspec.Struct, frozen=True, kw_only=True):
    """A projected commit's sheet, and whether `CommitCompleted` was applied for it."""

    id: str
    sheet_id: str
    completed: bool


class RecordQueries(Protocol):
    """The lookups one write attempt decides with (one connection: one attempt, one session)."""

    async def current(self, sheet_id: str, record_ids: Collection[str]) -> dict[str, StoredRecord]:
        """The records' current full state (unknown ids are left out)."""
        ...

    async def existing(self, sheet_id: str, record_ids: Collection[str]) -> list[str]:
        """Those of `record_ids` that are records of the sheet."""
        ...

    async def matching(self, sheet: Sheet, query: RecordQuery) -> list[str]:
        """Ids of the records `query` selects."""
        ...

    async def matching_values(self, sheet: Sheet, query: RecordQuery, field_key: str) -> list[tuple[str, Any]]:
        """(id, value of `field_key` or None) of the records `query` selects, in row order."""
        ...

    async def claims_held(self, sheet_id: str, name: str, values: Collection[str]) -> dict[str, str]:
        """value -> holder record id, for those of `values` held under unique key `name`."""
        ...

    async def claims_of(self, sheet_id: str, record_ids: Collection[str]) -> list[tuple[str, str, str]]:
        """(record id, unique key name, value) of every claim the records hold."""
        ...

    async def waiters(self, sheet_id: str, released: Sequence[tuple[str, str]], excluded: Collection[str]) -> list[str]:
        """The first record (by row) outside `excluded` waiting for each (unique key name,
        value), in row order, each once."""
        ...

    async def waiters_of(self, sheet_id: str, record_ids: Collection[str]) -> list[str]:
        """The first record (by row) outside `record_ids` waiting for each value the records of
        `record_ids` hold, in row order, each once: the records a delete of them heals. Decided
        in the read model, so a bulk delete never holds its records' claims in memory."""
        ...

    async def linked_values(self, workbook_id: str, slug: str, key: str, values: Collection[str]) -> set[str]:
        """Those of `values` some record of sheet `slug` of the workbook has under `key`."""
        ...

    async def source_frame(self, sheet_id: str, keys: Sequence[str], after_row: int, limit: int) -> pl.DataFrame:
        """Up to `limit` records after row `after_row`, in row order, as columns: `row_no` (Int64)
        and each of `keys` (String: the cell's value as text, null when absent or null)."""
        ...

    async def commit_by_key(self, sheet_id: str, key: str) -> CommitRow | None:
        """The sheet's commit made with idempotency key `key`."""
        ...

    async def commit_state(self, commit_id: str) -> CommitState | None:
        """The commit, of any sheet (None: not projected here)."""
        ...


class RecordReadModel(Protocol):
    """The records projection and the KnownSpaces directory, as the write path reads them."""

    async def sheet(self, sheet_id: str) -> SheetRow | None:
        """The live sheet (None: unknown here yet, or deleted)."""
        ...

    async def space(self, space_id: str, *, position: int) -> SpaceFact | None:
        """The space as the directory has it once it applied stream position `position`."""
        ...

    async def wait_for(self, position: int, timeout: float) -> bool:
        """Read-your-writes: return once the records projection applied `position` (True), or at
        timeout (False)."""
        ...

    async def catch_up(self, timeout: float) -> bool:
        """Return once the records projection applied every event it was sent (True), or at
        timeout (False: e.g. its projector is still starting)."""
        ...

    def session(self) -> AbstractAsyncContextManager[RecordQueries]:
        """Queries on one connection, for one write attempt."""
        ...


class Payloads(Protocol):
    """Request and reply bodies, inline or by claim check (`spaceport.claimcheck.ClaimCheck`)."""

    async def pack(self, data: bytes) -> Payload: ...

    async def unpack(self, payload: Payload) -> bytes: ...

    def inline_limit(self) -> int:
        """The largest body `pack` sends inline (a reply may embed one that size itself)."""
        ...
