"""Views (aggregate `view`, owned by the workbook service; scope: the space of the view's sheet).

A view is a saved filter, search and sort of one sheet (Flatfile's `View` with its `ViewConfig`).
It is its own aggregate, not part of the workbook's, so saving a view never contends with a
blueprint change. Add fields with defaults only; never change a recorded shape.
"""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar, Literal

import msgspec

from spaceport.contracts.blueprint import Wire
from spaceport.contracts.space import Pagination, Principal
from spaceport.events import Event

SERVICE = "workbook"


class ViewConfig(Wire, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Flatfile's `ViewConfig`: the query parameters of a records read, saved. Absent keys stay absent.

    Unknown keys are refused (400 naming them) rather than dropped, so nothing a client saves is lost.
    """

    version_id: str | None = None
    commit_id: str | None = None
    since_version_id: str | None = None
    since_commit_id: str | None = None
    sort_field: str | None = None
    sort_direction: Literal["asc", "desc"] | None = None
    filter: Literal["valid", "error", "all", "none"] | None = None
    filter_field: str | None = None
    search_value: str | None = None
    search_field: str | None = None
    ids: list[str] | None = None
    page_size: int | None = None
    page_number: int | None = None
    include_counts: bool | None = None
    include_length: bool | None = None
    include_links: bool | None = None
    include_messages: bool | None = None
    for_: str | None = msgspec.field(default=None, name="for")
    q: str | None = None


# ---- events ----------------------------------------------------------------------------


class ViewCreated(Event, frozen=True, kw_only=True):
    aggregate: ClassVar[str] = "view"
    view_id: str
    sheet_id: str
    workbook_id: str
    space_id: str
    environment_id: str
    name: str
    config: ViewConfig
    created_by: str


class ViewUpdated(Event, frozen=True, kw_only=True):
    """What changed (None: unchanged); a config is always the whole new config."""

    aggregate: ClassVar[str] = "view"
    view_id: str
    name: str | None = None
    config: ViewConfig | None = None


class ViewDeleted(Event, frozen=True, kw_only=True):
    aggregate: ClassVar[str] = "view"
    view_id: str


EVENTS: tuple[type[Event], ...] = (ViewCreated, ViewUpdated, ViewDeleted)


# ---- views (wire shapes) ---------------------------------------------------------------


class ViewView(Wire, frozen=True, kw_only=True, omit_defaults=False):
    """Flatfile's `View` (named like every other wire shape here, `…View`), plus the ids the
    gateway authorizes with (`workbookId`, `spaceId`, `environmentId`)."""

    id: str
    sheet_id: str
    name: str
    config: ViewConfig
    created_by: str
    workbook_id: str
    space_id: str
    environment_id: str
    created_at: datetime
    updated_at: datetime


class ViewList(msgspec.Struct, frozen=True, kw_only=True):
    data: list[ViewView]
    pagination: Pagination


class ViewWritten(msgspec.Struct, frozen=True, kw_only=True):
    """Where a write landed: the gateway reads after it with `min_position`."""

    view_id: str
    position: int


# ---- queries (not scoped by caller: the gateway authorizes with the view's ids) ---------


class GetView(msgspec.Struct, frozen=True, kw_only=True):
    """-> ViewView (404 `viewId` when unknown, deleted, or its sheet or workbook is deleted)."""

    view_id: str
    min_position: int = 0


class ListViews(msgspec.Struct, frozen=True, kw_only=True):
    """-> ViewList: the sheet's live views, oldest first (empty for an unknown or deleted sheet)."""

    sheet_id: str
    page_size: int = 10
    page_number: int = 1
    min_position: int = 0


# ---- commands --------------------------------------------------------------------------


class CreateView(msgspec.Struct, frozen=True, kw_only=True):
    principal: Principal
    sheet_id: str
    name: str
    config: ViewConfig
    idempotency_key: str | None = None


class UpdateView(msgspec.Struct, frozen=True, kw_only=True):
    """PATCH: the given name and/or a whole new config (None: unchanged)."""

    principal: Principal
    view_id: str
    name: str | None = None
    config: ViewConfig | None = None


class DeleteView(msgspec.Struct, frozen=True, kw_only=True):
    principal: Principal
    view_id: str
