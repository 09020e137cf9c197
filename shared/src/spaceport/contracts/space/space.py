"""Spaces (aggregate `space`): created in an environment, archived, unarchived, deleted."""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar, Literal

import msgspec

from spaceport.contracts.space.common import Json, Pagination, Wire
from spaceport.contracts.space.principal import Principal
from spaceport.events import Event

SortDirection = Literal["asc", "desc"]
SpaceSortField = Literal[
    "name", "workbooksCount", "filesCount", "environmentId", "createdByUserName", "createdAt", "lastActivityAt"
]

# ---- events ----------------------------------------------------------------------------


class SpaceCreated(Event, frozen=True, kw_only=True):
    aggregate: ClassVar[str] = "space"
    space_id: str
    environment_id: str
    name: str = ""
    namespace: str | None = None
    labels: list[str] = msgspec.field(default_factory=list)
    metadata: Json = msgspec.field(default_factory=dict)
    settings: Json = msgspec.field(default_factory=dict)
    auto_configure: bool = False
    created_by: str = ""
    access: list[str] | None = None
    guest_authentication: list[str] = msgspec.field(default_factory=lambda: ["magic_link"])
    actions: list[Json] = msgspec.field(default_factory=list)
    primary_workbook_id: str | None = None
    translations_path: str | None = None
    language_override: str | None = None
    display_order: int | None = None
    allowed_domains: list[str] = msgspec.field(default_factory=list)
    is_collaborative: bool = False
    app_id: str | None = None  # the app the space belongs to
    is_app_template: bool = False  # the space is its app's template
    template_id: str | None = None  # the template space (or app, `us_app_…`) it was made from


class SpaceUpdated(Event, frozen=True, kw_only=True):
    """Only the fields that changed are set; None means unchanged."""

    aggregate: ClassVar[str] = "space"
    space_id: str
    name: str | None = None
    namespace: str | None = None
    labels: list[str] | None = None
    metadata: Json | None = None
    settings: Json | None = None
    access: list[str] | None = None
    guest_authentication: list[str] | None = None
    actions: list[Json] | None = None
    primary_workbook_id: str | None = None
    translations_path: str | None = None
    language_override: str | None = None
    display_order: int | None = None
    allowed_domains: list[str] | None = None
    is_app_template: bool | None = None


class SpaceArchived(Event, frozen=True, kw_only=True):
    aggregate: ClassVar[str] = "space"
    space_id: str


class SpaceUnarchived(Event, frozen=True, kw_only=True):
    aggregate: ClassVar[str] = "space"
    space_id: str


class SpaceDeleted(Event, frozen=True, kw_only=True):
    """In clear after the space's key is gone (spaceport.crypto): ids, and the space's namespace
    (a routing tag set by its developer, not customer data) for the `namespaces` of `space:deleted`,
    which a replay cannot fold from the space's erased events. Absent in events written before."""

    aggregate: ClassVar[str] = "space"
    space_id: str
    namespace: str | None = None  # the space's namespace when it was deleted
    app_id: str | None = None  # the app the space belonged to (its namespace is the app's own fact)


# ---- views (wire shapes) ---------------------------------------------------------------


class SpaceView(Wire, frozen=True, kw_only=True):
    id: str
    environment_id: str
    name: str
    created_at: datetime
    updated_at: datetime
    guest_authentication: list[str]
    workbooks_count: int = 0
    files_count: int = 0
    created_by_user_id: str | None = None
    last_activity_at: datetime | None = None
    archived_at: datetime | None = None
    namespace: str | None = None
    labels: list[str] = msgspec.field(default_factory=list)
    metadata: Json = msgspec.field(default_factory=dict)
    settings: Json = msgspec.field(default_factory=dict)
    auto_configure: bool = False
    is_collaborative: bool = False
    access: list[str] | None = None
    actions: list[Json] = msgspec.field(default_factory=list)
    primary_workbook_id: str | None = None
    translations_path: str | None = None
    language_override: str | None = None
    display_order: int | None = None
    allowed_domains: list[str] = msgspec.field(default_factory=list)
    app_id: str | None = None
    is_app_template: bool = False
    template_id: str | None = None
    # Flatfile's `guestLink`: the web app's URL for anonymous (`shared_link`) guests, carrying a
    # shared-link token; set only while `guest_authentication` has "shared_link". The space service
    # answers the path (`/space/<id>?token=…`), the gateway makes it absolute and shows it only to
    # secret keys and guest admins.
    guest_link: str | None = None


class SpacePage(msgspec.Struct, frozen=True, kw_only=True):
    data: list[SpaceView]
    pagination: Pagination


# ---- commands and queries --------------------------------------------------------------


class SpaceFields(msgspec.Struct, frozen=True, kw_only=True):
    """What a client may set on a space; on update None means unchanged."""

    name: str | None = None
    namespace: str | None = None
    labels: list[str] | None = None
    metadata: Json | None = None
    settings: Json | None = None
    access: list[str] | None = None
    guest_authentication: list[str] | None = None
    actions: list[Json] | None = None
    primary_workbook_id: str | None = None
    translations_path: str | None = None
    language_override: str | None = None
    display_order: int | None = None
    allowed_domains: list[str] | None = None
    is_app_template: bool | None = None  # only on a space that belongs to an app


class CreateSpace(msgspec.Struct, frozen=True, kw_only=True):
    principal: Principal
    environment_id: str
    fields: SpaceFields = msgspec.field(default_factory=SpaceFields)
    auto_configure: bool = False
    is_collaborative: bool = False
    idempotency_key: str | None = None
    app_id: str | None = None  # the app the space belongs to: its template space (or blueprint) is copied
    template_id: str | None = None  # Spaceport addition: copy this space (a template) explicitly


class UpdateSpace(msgspec.Struct, frozen=True, kw_only=True):
    principal: Principal
    environment_id: str
    space_id: str
    fields: SpaceFields


SpaceTransition = Literal["archive", "unarchive", "delete"]


class ChangeSpaceLifecycle(msgspec.Struct, frozen=True, kw_only=True):
    """Archive, unarchive or delete one or several spaces; all ids are checked before any changes."""

    principal: Principal
    environment_id: str
    space_ids: list[str]
    transition: SpaceTransition


class SpaceWritten(msgspec.Struct, frozen=True, kw_only=True):
    space_id: str
    position: int


class GetSpace(msgspec.Struct, frozen=True, kw_only=True):
    environment_id: str
    space_id: str
    min_position: int = 0


class ListSpaces(msgspec.Struct, frozen=True, kw_only=True):
    environment_id: str
    page_size: int = 10
    page_number: int = 1
    min_position: int = 0
    space_ids: list[str] | None = None  # a guest sees only its own space
    namespace: str | None = None
    archived: bool | None = None  # None: live spaces only (Flatfile's default); True: archived only
    search: str | None = None
    is_collaborative: bool | None = None
    app_id: str | None = None
    is_app_template: bool | None = None
    sort_field: SpaceSortField = "createdAt"
    sort_direction: SortDirection = "desc"
