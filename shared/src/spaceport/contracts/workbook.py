"""The workbook service's contract: workbooks and their sheets (blueprints).

The record service folds these events to learn each sheet's fields (validation) and its
workbook and space (scoping). Add fields with defaults only; never change a recorded shape.
"""

from __future__ import annotations

from typing import Any, ClassVar

import msgspec

from spaceport.contracts.blueprint import SheetConfig
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
