"""Sheet snapshots (Flatfile's snapshots API, reference §2.10 and §7): the record service's
aggregate `snapshot`, one per snapshot (`evt.<space>.snapshot.<snapshot_id>.<event>`).

A snapshot is a named stream position of one sheet: its records as they were right before its
`SnapshotCreated` (the stream sequence orders it with every records event), and the sheet's
config then. Nothing is copied: the record service reads that state from its read model as of the
position (`record` + `record_history`), so taking a snapshot of a 1,000,000-record sheet costs one
event. Add fields with defaults only; never change a recorded shape.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, ClassVar, Literal

import msgspec

from spaceport.claimcheck import Payload
from spaceport.contracts.record import Wire
from spaceport.contracts.space import Principal
from spaceport.events import Event

SERVICE = "record"
AGGREGATE = "snapshot"
CHANGE_TYPES = ("createdSince", "updatedSince", "deletedSince")
ChangeType = Literal["createdSince", "updatedSince", "deletedSince"]
MAX_LABEL = 1024
MAX_PAGE_SIZE = 10_000  # DiffRecords per page


# ---- events ----------------------------------------------------------------------------------


class SnapshotEvent(Event, frozen=True, kw_only=True):
    aggregate: ClassVar[str] = AGGREGATE
    snapshot_id: str
    sheet_id: str


class SnapshotCreated(SnapshotEvent, frozen=True, kw_only=True):
    """The sheet's state at this event's stream position is the snapshot."""

    workbook_id: str
    space_id: str
    label: str | None = None
    thread_id: str | None = None
    created_by: str = ""


class SnapshotDeleted(SnapshotEvent, frozen=True, kw_only=True):
    pass


EVENTS: tuple[type[Event], ...] = (SnapshotCreated, SnapshotDeleted)


# ---- commands and queries (`cmd.record.<snake name>`) ----------------------------------------


class CreateSnapshot(msgspec.Struct, frozen=True, kw_only=True):
    """-> SnapshotWritten. The gateway authorized the principal on the sheet's space."""

    principal: Principal
    sheet_id: str
    label: str | None = None
    thread_id: str | None = None
    idempotency_key: str | None = None


class DeleteSnapshot(msgspec.Struct, frozen=True, kw_only=True):
    """-> SnapshotWritten (404 when unknown or deleted)."""

    principal: Principal
    snapshot_id: str


class RestoreSnapshot(msgspec.Struct, frozen=True, kw_only=True):
    """Flatfile's RestoreOptions: `created` deletes the records created since the snapshot,
    `updated` reverts the ones changed since, `deleted` re-creates the ones deleted since (with
    their ids). -> SnapshotRestored."""

    principal: Principal
    snapshot_id: str
    created: bool = True
    updated: bool = True
    deleted: bool = True


class GetSnapshot(msgspec.Struct, frozen=True, kw_only=True):
    """-> SnapshotView (404 `snapshotId` when unknown, deleted, or its sheet is deleted)."""

    snapshot_id: str
    include_summary: bool = False
    min_position: int = 0


class ListSnapshots(msgspec.Struct, frozen=True, kw_only=True):
    """-> SnapshotList: the sheet's snapshots, oldest first (404 for an unknown sheet)."""

    sheet_id: str
    thread_id: str | None = None
    min_position: int = 0


class GetSnapshotRecords(msgspec.Struct, frozen=True, kw_only=True):
    """-> DiffRecordsReply: one page of the records of one kind of change since the snapshot."""

    snapshot_id: str
    change_type: ChangeType | None = None  # None: every kind, in row order
    page_size: int = 1000  # <= MAX_PAGE_SIZE
    page_number: int = 1


# ---- replies and wire views --------------------------------------------------------------------


class SummarySection(Wire, frozen=True, kw_only=True):
    """`total` records; `byField`: per field key, how many of them differ in that field."""

    total: int
    by_field: dict[str, int] | None = None


class SnapshotSummary(Wire, frozen=True, kw_only=True):
    created_since: SummarySection
    updated_since: SummarySection
    deleted_since: SummarySection
    schema_diff: dict[str, Literal["added", "removed", "unchanged"]]
    config: dict[str, Any]  # the sheet's SheetConfig when the snapshot was taken


class SnapshotView(Wire, frozen=True, kw_only=True):
    """Flatfile's `Snapshot`, plus the ids the gateway authorizes with (`workbookId`, `spaceId`,
    `environmentId`)."""

    id: str
    sheet_id: str
    label: str | None = None
    thread_id: str | None = None
    summary: SnapshotSummary | None = None
    created_at: datetime
    created_by: str
    workbook_id: str
    space_id: str
    environment_id: str


class SnapshotList(msgspec.Struct, frozen=True, kw_only=True):
    data: list[SnapshotView]


class SnapshotWritten(msgspec.Struct, frozen=True, kw_only=True):
    """Where the snapshot's event landed: the gateway reads after it with `min_position`."""

    snapshot_id: str
    position: int


class SnapshotRestored(msgspec.Struct, frozen=True, kw_only=True):
    """The restore's commits (one unless the difference exceeds one write) and where the last landed."""

    snapshot_id: str
    commit_ids: list[str]
    position: int
    created_since: int = 0  # records deleted by the restore
    updated_since: int = 0  # reverted
    deleted_since: int = 0  # re-created


class DiffRecordsReply(msgspec.Struct, frozen=True, kw_only=True):
    """`records`: a JSON array of Flatfile `DiffRecord`s (by claim check when large; passed through)."""

    records: Payload
