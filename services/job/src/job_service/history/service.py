"""The history queries: wait for the projection to reach the stream's end, then read.

Read-your-writes as in `job_service.metrics.service`: a query waits for the projection to apply
the stream's last position when it arrived (503 if it cannot in time). A cell's history reads
the record's insert / update events back from the stream at the positions `record_change`
noted (one Direct Get each) and keeps each value the cell changed to, with its version and
provenance: an import's commit names each inserted record's source row (`CommitSource.rows`, in
insert order), so a value's row is the one at its record's place among the commit's inserts.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import msgspec

from job_service.history.queries import HistoryQueries
from spaceport.contracts.history import (
    DEFAULT_PAGE_SIZE,
    MAX_PAGE_SIZE,
    CellHistory,
    CellVersion,
    GetCellHistory,
    GetVersion,
    ListVersions,
    Position,
    Provenance,
    ProvenanceKind,
    ResolvePosition,
    VersionFound,
    VersionPage,
)
from spaceport.contracts.record import StoredRecord, row_at
from spaceport.errors import NotFoundError, ServiceUnavailableError, ValidationFailedError
from spaceport.events import ERASED_TYPE, Envelope, decode_envelope
from spaceport.ports import RawMessage

CATCH_UP = 10.0
ReadRange = Callable[[int], AsyncIterator[RawMessage]]  # the stored message at one position
OpenEnvelope = Callable[[RawMessage], Awaitable[Envelope]]  # its envelope, payload in clear (the store's `open`)


async def _plain(message: RawMessage) -> Envelope:
    return decode_envelope(message.data)


class WrittenRecords(msgspec.Struct, frozen=True, kw_only=True):
    """An insert / update event's records with their cells (the other fields are skipped)."""

    records: list[StoredRecord]


_records = msgspec.json.Decoder(WrittenRecords)


class RestoredAt(msgspec.Struct, frozen=True):
    """A `RecordsRestored`'s position (its records are back as they were then)."""

    position: int


_restored = msgspec.json.Decoder(RestoredAt)
_to_builtins = msgspec.to_builtins


def provenance_of(
    actor: str,
    commit_kind: str,
    source: dict[str, Any] | None = None,
    field: str | None = None,
    row: int | None = None,
) -> Provenance:
    """What the events tell of where a value came from: the commit's source (an extraction's job,
    file and the column's header; a mapping's job, source sheet and the field mapped into `field`),
    `row` the source row of the value's record (`source_row`), else the actor's kind and the commit's.
    A mapping's file and header are filled in by the caller (`HistoryQueries.extraction_of`)."""
    if source and source.get("file_id"):
        return Provenance(
            kind="file",
            file_id=source["file_id"],
            job_id=source.get("job_id"),
            commit_kind=commit_kind,
            source_field=field,
            source_row=row,
            source_column=(source.get("fields") or {}).get(field) if field is not None else None,
        )
    if source and source.get("sheet_id"):
        fields = source.get("fields") or {}
        return Provenance(
            kind="mapping",
            job_id=source.get("job_id"),
            commit_kind=commit_kind,
            source_sheet_id=source["sheet_id"],
            source_field=fields.get(field) if field is not None else None,
            source_row=row,
        )
    if source and source.get("restored_to") is not None:
        return Provenance(kind="restore", commit_kind=commit_kind, restored_to=int(source["restored_to"]))
    kind: ProvenanceKind = "api"
    if actor.startswith("us_g_"):
        kind = "guest"
    elif actor.startswith("us_ag_"):
        kind = "listener"
    return Provenance(kind=kind, commit_kind=commit_kind)


class HistoryService:
    def __init__(
        self,
        queries: HistoryQueries,
        last_position: Callable[[], Awaitable[int]],
        wait_for: Callable[[int, float], Awaitable[bool]],
        read_at: ReadRange,
        open_envelope: OpenEnvelope | None = None,
    ) -> None:
        self.queries = queries
        self.last_position = last_position
        self.wait_for = wait_for
        self.read_at = read_at
        self.open_envelope = open_envelope or _plain

    async def caught_up(self) -> None:
        if not await self.wait_for(await self.last_position(), CATCH_UP):
            raise ServiceUnavailableError("the history is catching up with the event stream; retry shortly")

    async def versions(self, query: ListVersions) -> VersionPage:
        if not 1 <= query.page_size <= MAX_PAGE_SIZE:
            raise ValidationFailedError(
                f"pageSize must be 1..{MAX_PAGE_SIZE} (default {DEFAULT_PAGE_SIZE})", key="pageSize"
            )
        if query.page_number < 1:
            raise ValidationFailedError("pageNumber must be 1 or more", key="pageNumber")
        await self.caught_up()
        environment_id, data, pagination = await self.queries.page(
            query.space_id,
            page_size=query.page_size,
            page_number=query.page_number,
            sheet_id=query.sheet_id,
            since=query.since,
            until=query.until,
        )
        return VersionPage(environment_id=environment_id, data=data, pagination=pagination)

    async def version(self, query: GetVersion) -> VersionFound:
        await self.caught_up()
        environment_id, version = await self.queries.version(query.space_id, query.version_id)
        return VersionFound(environment_id=environment_id, version=version)

    async def position(self, query: ResolvePosition) -> Position:
        await self.caught_up()
        return await self.queries.position(query.space_id, version_id=query.version_id, at=query.at)

    async def cell_history(self, query: GetCellHistory) -> CellHistory:
        await self.caught_up()
        changes = [c for c in await self.queries.record_changes(query.record_id) if c["sheet_id"] == query.sheet_id]
        if not changes:
            raise NotFoundError(f"record {query.record_id} not found in sheet {query.sheet_id}", key="recordId")
        found: list[CellVersion] = []
        last: tuple[Any, ...] | None = None
        seen: list[tuple[int, tuple[Any, bool, list[Any], int]]] = []  # (seq, cell) of every change read
        for change in changes:
            cell = await self._cell(change["seq"], query.record_id, query.field)
            revived = isinstance(cell, int)
            if isinstance(cell, int):  # a restore's compact re-create: the cell as it was at that position
                then = [c for seq, c in seen if seq <= cell]
                cell = then[-1] if then else None
            if cell is None:
                continue
            seen.append((change["seq"], cell))
            value, valid, messages, place = cell
            if last is not None and last == (value, valid, messages) and not revived:
                continue  # an update of other cells: this one kept its value (a re-create is shown)
            last = (value, valid, messages)
            found.append(
                CellVersion(
                    version_id=change["id"],
                    sequence=change["seq"],
                    created_at=change["created_at"],
                    actor_id=change["actor"],
                    field=query.field,
                    value=value,
                    valid=valid,
                    messages=messages,
                    provenance=await self._provenance(change, query.field, place),
                )
            )
        return CellHistory(data=found)

    async def _provenance(self, change: Any, field: str, place: int) -> Provenance:
        """`place`: the record's index in its event; with the records the commit wrote before that
        event, its index among the commit's inserts, whose source row `CommitSource.rows` names."""
        source = None if change["source"] is None else json.loads(change["source"])
        row = None
        if source and source.get("rows") and change["kind"] == "insert":
            before = await self.queries.inserted_before(change["id"], change["first_seq"], change["seq"])
            row = row_at(source["rows"], before + place)
        found = provenance_of(change["actor"], change["kind"], source, field, row)
        if found.kind == "mapping" and found.source_sheet_id is not None:
            extraction = await self.queries.extraction_of(found.source_sheet_id) or {}
            headers = extraction.get("fields") or {}
            found = msgspec.structs.replace(
                found,
                file_id=extraction.get("file_id"),
                source_column=headers.get(found.source_field) if found.source_field is not None else None,
            )
        return found

    async def _cell(self, seq: int, record_id: str, field: str) -> tuple[Any, bool, list[Any], int] | int | None:
        """The cell's value, `valid` and messages in the event at `seq`, and the record's index
        there; for a `RecordsRestored` (no cells: the record is back as it was at a position), that
        position."""
        async for message in self.read_at(seq):
            if message.seq != seq:
                return None
            envelope = await self.open_envelope(message)
            if envelope.type == ERASED_TYPE:
                return None  # the space was deleted: its values are gone
            if envelope.type == "RecordsRestored":
                return _restored.decode(envelope.data).position
            written = _records.decode(envelope.data)
            for place, stored in enumerate(written.records):
                if stored.id == record_id:
                    cell = stored.values.get(field)
                    if cell is None:
                        return (None, True, [], place)
                    return (cell.value, cell.valid, _to_builtins(cell.messages), place)
        return None
