"""The workbook service's contract: workbooks and their sheets (blueprints).

The record service folds these events to learn each sheet's fields (validation) and its
workbook and space (scoping). Add fields with defaults only; never change a recorded shape.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, ClassVar

import msgspec

from spaceport.contracts.blueprint import Field, SheetConfig, SheetConstraint, Wire
from spaceport.contracts.space import Principal
from spaceport.events import Event

SERVICE = "workbook"


class SheetSpec(msgspec.Struct, frozen=True, kw_only=True):
    """A sheet as defined at a point in time: its id, slug and full config."""

    sheet_id: str
    slug: str
    config: SheetConfig


class WorkbookCreated(Event, frozen=True, kw_only=True):
    aggregate: ClassVar[str] = "workbook"
    workbook_id: str
    space_id: str
    environment_id: str
    name: str
    sheets: list[SheetSpec] = msgspec.field(default_factory=list)
    labels: list[str] = msgspec.field(default_factory=list)
    namespace: str | None = None
    metadata: dict[str, Any] = msgspec.field(default_factory=dict)
    settings: dict[str, Any] = msgspec.field(default_factory=dict)
    actions: list[dict[str, Any]] = msgspec.field(default_factory=list)
    treatments: list[str] = msgspec.field(default_factory=list)


class WorkbookUpdated(Event, frozen=True, kw_only=True):
    aggregate: ClassVar[str] = "workbook"
    workbook_id: str
    name: str | None = None
    labels: list[str] | None = None
    namespace: str | None = None
    metadata: dict[str, Any] | None = None
    settings: dict[str, Any] | None = None
    actions: list[dict[str, Any]] | None = None


class SheetAdded(Event, frozen=True, kw_only=True):
    aggregate: ClassVar[str] = "workbook"
    workbook_id: str
    sheet: SheetSpec


class SheetConfigChanged(Event, frozen=True, kw_only=True):
    aggregate: ClassVar[str] = "workbook"
    workbook_id: str
    sheet_id: str
    config: SheetConfig
    slug: str | None = None


class SheetDeleted(Event, frozen=True, kw_only=True):
    aggregate: ClassVar[str] = "workbook"
    workbook_id: str
    sheet_id: str


class SheetLocked(Event, frozen=True, kw_only=True):
    aggregate: ClassVar[str] = "workbook"
    workbook_id: str
    sheet_id: str
    locked_by: str = ""


class SheetUnlocked(Event, frozen=True, kw_only=True):
    aggregate: ClassVar[str] = "workbook"
    workbook_id: str
    sheet_id: str


class WorkbookDeleted(Event, frozen=True, kw_only=True):
    aggregate: ClassVar[str] = "workbook"
    workbook_id: str


EVENTS: tuple[type[Event], ...] = (
    WorkbookCreated,
    WorkbookUpdated,
    SheetAdded,
    SheetConfigChanged,
    SheetDeleted,
    SheetLocked,
    SheetUnlocked,
    WorkbookDeleted,
)


# ---- views (wire shapes) ---------------------------------------------------------------


class View(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    pass


class SheetView(View, frozen=True, kw_only=True):
    """Flatfile's `Sheet`, plus `spaceId` and `environmentId` so the gateway can authorize."""

    id: str
    workbook_id: str
    space_id: str
    environment_id: str
    name: str
    slug: str
    config: SheetConfig
    created_at: datetime
    updated_at: datetime
    metadata: dict[str, Any] | None = None
    namespace: str | None = None
    locked_by: str | None = None
    locked_at: datetime | None = None


class WorkbookView(View, frozen=True, kw_only=True):
    id: str
    name: str
    space_id: str
    environment_id: str
    created_at: datetime
    updated_at: datetime
    sheets: list[SheetView] | None = None  # None when listed with includeSheets=false
    labels: list[str] = msgspec.field(default_factory=list)
    actions: list[dict[str, Any]] = msgspec.field(default_factory=list)
    settings: dict[str, Any] = msgspec.field(default_factory=dict)
    metadata: dict[str, Any] = msgspec.field(default_factory=dict)
    treatments: list[str] = msgspec.field(default_factory=list)
    namespace: str | None = None
    expired_at: datetime | None = None


class WorkbookList(msgspec.Struct, frozen=True, kw_only=True):
    data: list[WorkbookView]


class SheetList(msgspec.Struct, frozen=True, kw_only=True):
    data: list[SheetView]


class WorkbookWritten(msgspec.Struct, frozen=True, kw_only=True):
    """Where a write landed: the gateway reads after it with `min_position`."""

    workbook_id: str
    position: int


# ---- queries ---------------------------------------------------------------------------
# Queries are not scoped by caller: the gateway authorizes with the view's spaceId and
# environmentId (another environment's workbook or sheet answers 404 there).


class GetSheet(msgspec.Struct, frozen=True, kw_only=True):
    """-> SheetView (404 when unknown or deleted, also when its workbook is deleted)."""

    sheet_id: str
    min_position: int = 0
    as_of: str | None = None  # a stream sequence or an ISO-8601 time: the view as it was then


class ListSheets(msgspec.Struct, frozen=True, kw_only=True):
    """-> SheetList, in the workbook's order."""

    workbook_id: str
    min_position: int = 0
    as_of: str | None = None  # a stream sequence or an ISO-8601 time: the view as it was then


class GetWorkbook(msgspec.Struct, frozen=True, kw_only=True):
    """-> WorkbookView with its sheets."""

    workbook_id: str
    min_position: int = 0
    as_of: str | None = None  # a stream sequence or an ISO-8601 time: the view as it was then


class ListWorkbooks(msgspec.Struct, frozen=True, kw_only=True):
    """-> WorkbookList. `name`, `namespace` and `label` negate with a leading `-`."""

    environment_id: str
    space_id: str | None = None
    name: str | None = None
    namespace: str | None = None
    label: str | None = None
    treatment: str | None = None
    include_sheets: bool = True
    min_position: int = 0


# ---- commands --------------------------------------------------------------------------


class SheetPatch(Wire, frozen=True, kw_only=True):
    """Flatfile's `SheetConfigOrUpdate`: a sheet matched by `id` or `slug` is changed, otherwise added.

    `config` (the `SheetUpdate` half) is a whole config; top-level keys override it.
    """

    id: str | None = None
    config: SheetConfig | None = None
    name: str | None = None
    slug: str | None = None
    fields: list[Field] | None = None
    description: str | None = None
    readonly: bool | None = None
    allow_additional_fields: bool | None = None
    mapping_confidence_threshold: float | None = None
    access: list[str] | None = None
    actions: list[dict[str, Any]] | None = None
    metadata: dict[str, Any] | None = None
    constraints: list[SheetConstraint] | None = None


class CreateWorkbook(msgspec.Struct, frozen=True, kw_only=True):
    principal: Principal
    space_id: str
    name: str
    sheets: list[SheetConfig] = msgspec.field(default_factory=list)
    labels: list[str] = msgspec.field(default_factory=list)
    namespace: str | None = None
    metadata: dict[str, Any] = msgspec.field(default_factory=dict)
    settings: dict[str, Any] = msgspec.field(default_factory=dict)
    actions: list[dict[str, Any]] = msgspec.field(default_factory=list)
    treatments: list[str] = msgspec.field(default_factory=list)
    idempotency_key: str | None = None


class UpdateWorkbook(msgspec.Struct, frozen=True, kw_only=True):
    principal: Principal
    workbook_id: str
    name: str | None = None
    labels: list[str] | None = None
    namespace: str | None = None
    metadata: dict[str, Any] | None = None
    settings: dict[str, Any] | None = None
    actions: list[dict[str, Any]] | None = None
    sheets: list[SheetPatch] | None = None
    idempotency_key: str | None = None


class DeleteWorkbook(msgspec.Struct, frozen=True, kw_only=True):
    principal: Principal
    workbook_id: str


class UpdateSheet(msgspec.Struct, frozen=True, kw_only=True):
    """PATCH /v1/sheets/{id}: name, slug and metadata (recorded as SheetConfigChanged)."""

    principal: Principal
    sheet_id: str
    name: str | None = None
    slug: str | None = None
    metadata: dict[str, Any] | None = None


class DeleteSheet(msgspec.Struct, frozen=True, kw_only=True):
    principal: Principal
    sheet_id: str


class LockSheet(msgspec.Struct, frozen=True, kw_only=True):
    principal: Principal
    sheet_id: str


class UnlockSheet(msgspec.Struct, frozen=True, kw_only=True):
    principal: Principal
    sheet_id: str


# ---- restore ---------------------------------------------------------------------------


class RestoreWorkbooks(msgspec.Struct, frozen=True, kw_only=True):
    """Bring a space's workbooks and sheet configs back to how they were at `as_of` (a stream
    sequence or an ISO-8601 time; the gateway resolves a version id to its sequence): workbooks
    created since are deleted, those deleted since revived (same ids, sheets and configs), those
    changed since get their earlier attributes and sheets back (sheets added since removed,
    removed since re-added with their ids, configs re-applied). `workbook_id` restores one
    workbook; `sheet_id` only that live sheet's config. With `preview` nothing is written;
    otherwise one append of ordinary workbook events per workbook. -> WorkbooksRestored."""

    principal: Principal
    space_id: str
    as_of: str
    workbook_id: str | None = None
    sheet_id: str | None = None
    preview: bool = True


class SheetConfigRestore(View, frozen=True, kw_only=True):
    """What a restore does to one sheet: `change` is `changed` (its earlier config re-applied;
    `parts` names what differs: name, slug, fields, constraints…), `added` (removed since:
    re-added with its id), `removed` (added since) or `skipped` (left as it is: `reason`)."""

    sheet_id: str
    name: str
    change: str
    parts: list[str] = msgspec.field(default_factory=list)
    reason: str | None = None


class WorkbookRestore(View, frozen=True, kw_only=True):
    """What a restore does to one workbook: `change` is `deleted` (created since), `revived`
    (deleted since: re-created with its id, sheets and configs), `updated` (its earlier
    attributes, named in `parts`, and sheets re-applied) or `skipped` (`reason` says why).
    `position`: where its events landed (0 in a preview)."""

    workbook_id: str
    name: str
    change: str
    parts: list[str] = msgspec.field(default_factory=list)
    sheets: list[SheetConfigRestore] = msgspec.field(default_factory=list)
    reason: str | None = None
    position: int = 0


class WorkbooksRestored(View, frozen=True, kw_only=True):
    """The workbook part of a restore: only workbooks it changes (or skips) are listed.
    `before`: the stream position before it; restoring the space to it undoes the restore.
    `position`: its last event (0 when nothing was appended)."""

    space_id: str
    preview: bool
    before: int
    position: int = 0
    workbooks: list[WorkbookRestore] = msgspec.field(default_factory=list)

    def summary(self) -> str:
        """A phrase for a job's outcome message ('' when nothing changes)."""
        counts: dict[str, int] = {}
        for w in self.workbooks:
            counts[w.change] = counts.get(w.change, 0) + 1
        sheets = sum(1 for w in self.workbooks for s in w.sheets if s.change != "skipped")
        if not counts:
            return ""
        said = ", ".join(f"{n} {change}" for change, n in sorted(counts.items()))
        return f"workbooks: {said} ({sheets} sheet{'s' if sheets != 1 else ''} changed)"
