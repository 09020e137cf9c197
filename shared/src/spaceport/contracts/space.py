"""The space service's contract: environments, API keys, spaces, documents and guests.

Events are facts other services may project (every service keeps a directory of spaces);
commands and queries are what the gateway sends. Wire views use Flatfile's camelCase names.
Add fields with defaults only; never change a recorded shape.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, ClassVar, Literal

import msgspec

from spaceport.events import Event

SERVICE = "space"

KeyKind = Literal["secret", "publishable"]
GuestRole = Literal["admin", "editor", "viewer"]
SortDirection = Literal["asc", "desc"]
SpaceSortField = Literal[
    "name", "workbooksCount", "filesCount", "environmentId", "createdByUserName", "createdAt", "lastActivityAt"
]

Json = dict[str, Any]


# ---- events: environments and keys ---------------------------------------------------


class EnvironmentCreated(Event, frozen=True, kw_only=True):
    aggregate: ClassVar[str] = "environment"
    environment_id: str
    name: str
    is_prod: bool = False
    guest_authentication: list[str] = msgspec.field(default_factory=lambda: ["magic_link"])
    metadata: Json = msgspec.field(default_factory=dict)
    namespaces: list[str] | None = None
    translations_path: str | None = None
    language_override: str | None = None


class EnvironmentUpdated(Event, frozen=True, kw_only=True):
    aggregate: ClassVar[str] = "environment"
    environment_id: str
    name: str | None = None
    is_prod: bool | None = None
    guest_authentication: list[str] | None = None
    metadata: Json | None = None
    namespaces: list[str] | None = None
    translations_path: str | None = None
    language_override: str | None = None


class EnvironmentDeleted(Event, frozen=True, kw_only=True):
    aggregate: ClassVar[str] = "environment"
    environment_id: str


class ApiKeyIssued(Event, frozen=True, kw_only=True):
    aggregate: ClassVar[str] = "environment"
    key_id: str
    kind: KeyKind
    key_hash: str  # sha256 hex of the raw key; the raw key is never stored
    hint: str  # the last characters, to tell keys apart in listings


class ApiKeyRevoked(Event, frozen=True, kw_only=True):
    aggregate: ClassVar[str] = "environment"
    key_id: str


# ---- events: spaces ------------------------------------------------------------------


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


class SpaceArchived(Event, frozen=True, kw_only=True):
    aggregate: ClassVar[str] = "space"
    space_id: str


class SpaceUnarchived(Event, frozen=True, kw_only=True):
    aggregate: ClassVar[str] = "space"
    space_id: str


class SpaceDeleted(Event, frozen=True, kw_only=True):
    aggregate: ClassVar[str] = "space"
    space_id: str


# ---- events: documents (scope: their space) ------------------------------------------


class DocumentCreated(Event, frozen=True, kw_only=True):
    aggregate: ClassVar[str] = "document"
    document_id: str
    space_id: str
    title: str
    body: str
    treatments: list[str] = msgspec.field(default_factory=list)
    actions: list[Json] = msgspec.field(default_factory=list)


class DocumentUpdated(Event, frozen=True, kw_only=True):
    aggregate: ClassVar[str] = "document"
    document_id: str
    title: str | None = None
    body: str | None = None
    treatments: list[str] | None = None
    actions: list[Json] | None = None


class DocumentDeleted(Event, frozen=True, kw_only=True):
    aggregate: ClassVar[str] = "document"
    document_id: str


# ---- events: guests (scope: their environment) ---------------------------------------


class GuestGrant(msgspec.Struct, frozen=True, kw_only=True):
    """A guest's access to one space."""

    space_id: str
    role: GuestRole = "editor"
    workbook_ids: list[str] = msgspec.field(default_factory=list)


class GuestCreated(Event, frozen=True, kw_only=True):
    aggregate: ClassVar[str] = "guest"
    guest_id: str
    environment_id: str
    email: str
    name: str
    spaces: list[GuestGrant] = msgspec.field(default_factory=list)


class GuestUpdated(Event, frozen=True, kw_only=True):
    aggregate: ClassVar[str] = "guest"
    guest_id: str
    email: str | None = None
    name: str | None = None
    spaces: list[GuestGrant] | None = None


class GuestDeleted(Event, frozen=True, kw_only=True):
    aggregate: ClassVar[str] = "guest"
    guest_id: str


EVENTS: tuple[type[Event], ...] = (
    EnvironmentCreated,
    EnvironmentUpdated,
    EnvironmentDeleted,
    ApiKeyIssued,
    ApiKeyRevoked,
    SpaceCreated,
    SpaceUpdated,
    SpaceArchived,
    SpaceUnarchived,
    SpaceDeleted,
    DocumentCreated,
    DocumentUpdated,
    DocumentDeleted,
    GuestCreated,
    GuestUpdated,
    GuestDeleted,
)


# ---- views (wire shapes) ---------------------------------------------------------------


class Wire(msgspec.Struct, frozen=True, kw_only=True, rename="camel", omit_defaults=False):
    pass


class EnvironmentView(Wire, frozen=True, kw_only=True):
    id: str
    account_id: str
    name: str
    is_prod: bool
    guest_authentication: list[str]
    features: Json = msgspec.field(default_factory=dict)
    metadata: Json = msgspec.field(default_factory=dict)
    namespaces: list[str] | None = None
    translations_path: str | None = None
    language_override: str | None = None


class EnvironmentWithKeys(EnvironmentView, frozen=True, kw_only=True):
    """The answer to a create: the raw keys are shown this once and never again."""

    secret_key: str | None = None
    publishable_key: str | None = None


class ApiKeysView(Wire, frozen=True, kw_only=True):
    environment_id: str
    secret_key: str | None = None
    publishable_key: str | None = None


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


class DocumentView(Wire, frozen=True, kw_only=True):
    id: str
    space_id: str
    environment_id: str
    title: str
    body: str
    treatments: list[str]
    actions: list[Json]
    created_at: datetime
    updated_at: datetime


class GuestWorkbookView(Wire, frozen=True, kw_only=True):
    id: str


class GuestSpaceView(Wire, frozen=True, kw_only=True):
    id: str
    role: GuestRole
    workbooks: list[GuestWorkbookView] = msgspec.field(default_factory=list)
    last_accessed: datetime | None = None


class GuestView(Wire, frozen=True, kw_only=True):
    id: str
    environment_id: str
    email: str
    name: str
    spaces: list[GuestSpaceView]
    created_at: datetime
    updated_at: datetime


class GuestTokenView(Wire, frozen=True, kw_only=True):
    token: str
    valid: bool
    expires_at: datetime


class Pagination(Wire, frozen=True, kw_only=True):
    current_page: int
    page_count: int
    total_count: int


class SpacePage(msgspec.Struct, frozen=True, kw_only=True):
    data: list[SpaceView]
    pagination: Pagination


class EnvironmentPage(msgspec.Struct, frozen=True, kw_only=True):
    data: list[EnvironmentView]
    pagination: Pagination


class Written(msgspec.Struct, frozen=True, kw_only=True):
    """Where a write landed: the gateway reads after it with `min_position`."""

    position: int


# ---- commands and queries --------------------------------------------------------------


class Principal(msgspec.Struct, frozen=True, kw_only=True):
    environment_id: str
    kind: Literal["secret", "publishable", "guest"]
    actor: str
    space_id: str | None = None
    role: str | None = None


class Authenticate(msgspec.Struct, frozen=True, kw_only=True):
    token: str


class Caught(msgspec.Struct, frozen=True, kw_only=True):
    """Answers once the read model applied `position`: read-your-writes for writes that return no view."""

    position: int


class CreateEnvironment(msgspec.Struct, frozen=True, kw_only=True):
    name: str
    is_prod: bool = False
    guest_authentication: list[str] = msgspec.field(default_factory=lambda: ["magic_link"])
    metadata: Json = msgspec.field(default_factory=dict)
    namespaces: list[str] | None = None
    translations_path: str | None = None
    language_override: str | None = None
    idempotency_key: str | None = None
    actor: str = "system"


class EnvironmentCreatedReply(msgspec.Struct, frozen=True, kw_only=True):
    environment: EnvironmentView
    secret_key: str | None  # returned once, at creation; None when the call was a retry
    publishable_key: str | None
    position: int


class GetEnvironment(msgspec.Struct, frozen=True, kw_only=True):
    environment_id: str
    min_position: int = 0


class ListEnvironments(msgspec.Struct, frozen=True, kw_only=True):
    page_size: int = 10
    page_number: int = 1
    min_position: int = 0


class UpdateEnvironment(msgspec.Struct, frozen=True, kw_only=True):
    actor: str
    environment_id: str
    name: str | None = None
    is_prod: bool | None = None
    guest_authentication: list[str] | None = None
    metadata: Json | None = None
    namespaces: list[str] | None = None
    translations_path: str | None = None
    language_override: str | None = None


class DeleteEnvironment(msgspec.Struct, frozen=True, kw_only=True):
    actor: str
    environment_id: str


class RotateKeys(msgspec.Struct, frozen=True, kw_only=True):
    actor: str
    environment_id: str
    kinds: list[KeyKind] = msgspec.field(default_factory=lambda: ["secret", "publishable"])


class KeysRotated(msgspec.Struct, frozen=True, kw_only=True):
    keys: ApiKeysView
    position: int


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


class CreateSpace(msgspec.Struct, frozen=True, kw_only=True):
    principal: Principal
    environment_id: str
    fields: SpaceFields = msgspec.field(default_factory=SpaceFields)
    auto_configure: bool = False
    is_collaborative: bool = False
    idempotency_key: str | None = None


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
    sort_field: SpaceSortField = "createdAt"
    sort_direction: SortDirection = "desc"


class DocumentFields(msgspec.Struct, frozen=True, kw_only=True):
    title: str | None = None
    body: str | None = None
    treatments: list[str] | None = None
    actions: list[Json] | None = None


class CreateDocument(msgspec.Struct, frozen=True, kw_only=True):
    principal: Principal
    environment_id: str
    space_id: str
    title: str
    body: str
    treatments: list[str] = msgspec.field(default_factory=list)
    actions: list[Json] = msgspec.field(default_factory=list)
    idempotency_key: str | None = None


class UpdateDocument(msgspec.Struct, frozen=True, kw_only=True):
    principal: Principal
    environment_id: str
    space_id: str
    document_id: str
    fields: DocumentFields


class DeleteDocument(msgspec.Struct, frozen=True, kw_only=True):
    principal: Principal
    environment_id: str
    space_id: str
    document_id: str


class DocumentWritten(msgspec.Struct, frozen=True, kw_only=True):
    document_id: str
    position: int


class GetDocument(msgspec.Struct, frozen=True, kw_only=True):
    environment_id: str
    space_id: str
    document_id: str
    min_position: int = 0


class ListDocuments(msgspec.Struct, frozen=True, kw_only=True):
    environment_id: str
    space_id: str
    min_position: int = 0


class GuestSpec(msgspec.Struct, frozen=True, kw_only=True):
    email: str
    name: str
    spaces: list[GuestGrant]


class InviteGuests(msgspec.Struct, frozen=True, kw_only=True):
    """Create guests, or add the given spaces to the guest who has that email already."""

    principal: Principal
    environment_id: str
    guests: list[GuestSpec]


class GuestsWritten(msgspec.Struct, frozen=True, kw_only=True):
    guest_ids: list[str]
    position: int


class UpdateGuest(msgspec.Struct, frozen=True, kw_only=True):
    principal: Principal
    environment_id: str
    guest_id: str
    email: str | None = None
    name: str | None = None
    spaces: list[GuestGrant] | None = None


class DeleteGuest(msgspec.Struct, frozen=True, kw_only=True):
    principal: Principal
    environment_id: str
    guest_id: str
    space_id: str | None = None  # only remove this space's grant (the guest stays)


class GetGuest(msgspec.Struct, frozen=True, kw_only=True):
    principal: Principal
    environment_id: str
    guest_id: str
    min_position: int = 0


class ListGuests(msgspec.Struct, frozen=True, kw_only=True):
    environment_id: str
    space_id: str
    email: str | None = None
    min_position: int = 0


class IssueGuestToken(msgspec.Struct, frozen=True, kw_only=True):
    principal: Principal
    environment_id: str
    guest_id: str
    space_id: str


# ---- broadcasts --------------------------------------------------------------------------

AUTH_INVALIDATE_SUBJECT = "spaceport.auth.invalidate"
AuthChange = Literal["keys_rotated", "environment_deleted", "guest_changed", "guest_removed", "space_closed"]


class AuthInvalidated(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    """Credentials may have stopped working: every gateway drops its cached principals.

    Core NATS on `AUTH_INVALIDATE_SUBJECT`, no queue group (each gateway process must get it),
    published by the space service once its read model has the change. Gateways clear their
    whole auth cache on any such message (revocations are rare); the fields say what changed.
    """

    reason: AuthChange
    environment_id: str
    space_ids: list[str] = msgspec.field(default_factory=list)
    guest_id: str | None = None
