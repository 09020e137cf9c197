"""Space history (a Spaceport addition to Flatfile's API): versions and cell history.

A version is one write to a space: a records commit (its id is the commit's `us_vr_…` id), or
one command's append of other events (a space, workbook, document, job… change; its `us_vr_…`
id is derived from the append's first event id, so a rebuild derives the same one). The job
service's `history` projection keeps them (`job_service.history`); a cell's history is read from
the record events at the positions the projection noted for the record.

Wire names are camelCase. Positions (`sequence`) are the event stream's sequence numbers.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

import msgspec

SERVICE = "job"
MAX_PAGE_SIZE = 1000
DEFAULT_PAGE_SIZE = 50

ProvenanceKind = Literal["file", "mapping", "api", "listener", "guest", "restore"]


class Wire(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    pass


class VersionCounts(Wire, frozen=True, kw_only=True):
    events: dict[str, int]  # domain event type -> how many of them the version appended
    records: int = 0  # records inserted, updated or deleted by the version


class Version(Wire, frozen=True, kw_only=True):
    id: str
    space_id: str
    sequence: int  # the stream sequence of the version's last event
    first_sequence: int
    created_at: datetime
    actor_id: str
    kind: str  # a commit's kind (insert, update, delete, find-replace), else the first event's topic
    sheet_id: str | None = None
    workbook_id: str | None = None
    topics: list[str] = msgspec.field(default_factory=list)
    counts: VersionCounts


class Pagination(Wire, frozen=True, kw_only=True):
    current_page: int
    page_count: int
    total_count: int


class VersionPage(Wire, frozen=True, kw_only=True):
    environment_id: str  # of the space: the gateway checks it, and does not serve it
    data: list[Version]
    pagination: Pagination


class VersionFound(Wire, frozen=True, kw_only=True):
    environment_id: str
    version: Version


class Position(Wire, frozen=True, kw_only=True):
    environment_id: str
    sequence: int  # 0: before the space's first version
    version_id: str | None = None  # the version at that position, if any
    space_id: str = ""  # the space whose position this is


class Provenance(Wire, frozen=True, kw_only=True):
    kind: ProvenanceKind
    file_id: str | None = None
    job_id: str | None = None
    commit_kind: str | None = None  # insert, update, find-replace
    source_sheet_id: str | None = None  # mapping: the sheet the value was mapped from
    source_field: str | None = None  # file: the column (field key) it was extracted into; mapping: the source field
    # file: the row among the file's data rows (1: the first under the header); mapping: the source
    # record's row number in the source sheet (for a sheet extracted from a file, the same number)
    source_row: int | None = None
    source_column: str | None = None  # the file's column header the value came from (file, mapping of a file's sheet)
    restored_to: int | None = None  # restore: the stream position the space or sheet was restored to


class CellVersion(Wire, frozen=True, kw_only=True):
    version_id: str
    sequence: int
    created_at: datetime
    actor_id: str
    field: str
    value: Any = None
    valid: bool = True
    messages: list[dict[str, Any]] = msgspec.field(default_factory=list)
    provenance: Provenance


class CellHistory(Wire, frozen=True, kw_only=True):
    data: list[CellVersion]


# ---- queries ---------------------------------------------------------------------------


class ListVersions(msgspec.Struct, frozen=True, kw_only=True):
    """-> VersionPage, newest first; NotFound for a space the projection never saw."""

    space_id: str
    page_size: int = DEFAULT_PAGE_SIZE
    page_number: int = 1
    sheet_id: str | None = None
    since: datetime | None = None
    until: datetime | None = None


class GetVersion(msgspec.Struct, frozen=True, kw_only=True):
    """-> VersionFound; NotFound for an unknown space or a version not of it."""

    space_id: str
    version_id: str


class ResolvePosition(msgspec.Struct, frozen=True, kw_only=True):
    """-> Position: the stream sequence of a version (`version_id`) or of the space as of a time
    (`at`: the last version created at or before it). Exactly one of the two. With `version_id`,
    an empty `space_id` means the version's own space (`Position.space_id` says which)."""

    space_id: str
    version_id: str | None = None
    at: datetime | None = None


class GetCellHistory(msgspec.Struct, frozen=True, kw_only=True):
    """-> CellHistory, oldest first: every value `field` of the record had (the gateway checks access)."""

    sheet_id: str
    record_id: str
    field: str
