"""The space service's contract: environments, API keys and spaces.

Events are facts other services may project (every service keeps a directory of spaces);
commands and queries are what the gateway sends. Wire views use Flatfile's camelCase names.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, ClassVar, Literal

import msgspec

from spaceport.events import Event

SERVICE = "space"

KeyKind = Literal["secret", "publishable"]


# ---- events ----------------------------------------------------------------------------


class EnvironmentCreated(Event, frozen=True, kw_only=True):
    aggregate: ClassVar[str] = "environment"
    environment_id: str
    name: str
    is_prod: bool = False
    guest_authentication: list[str] = msgspec.field(default_factory=lambda: ["magic_link"])
    metadata: dict[str, Any] = msgspec.field(default_factory=dict)


class ApiKeyIssued(Event, frozen=True, kw_only=True):
    aggregate: ClassVar[str] = "environment"
    key_id: str
    kind: KeyKind
    key_hash: str  # sha256 hex of the raw key; the raw key is never stored
    hint: str  # the last characters, to tell keys apart in listings


class SpaceCreated(Event, frozen=True, kw_only=True):
    aggregate: ClassVar[str] = "space"
    space_id: str
    environment_id: str
    name: str = ""
    namespace: str | None = None
    labels: list[str] = msgspec.field(default_factory=list)
    metadata: dict[str, Any] = msgspec.field(default_factory=dict)
    settings: dict[str, Any] = msgspec.field(default_factory=dict)
    auto_configure: bool = False
    created_by: str = ""


class SpaceUpdated(Event, frozen=True, kw_only=True):
    aggregate: ClassVar[str] = "space"
    space_id: str
    name: str | None = None
    namespace: str | None = None
    labels: list[str] | None = None
    metadata: dict[str, Any] | None = None
    settings: dict[str, Any] | None = None


class SpaceArchived(Event, frozen=True, kw_only=True):
    aggregate: ClassVar[str] = "space"
    space_id: str


class SpaceUnarchived(Event, frozen=True, kw_only=True):
    aggregate: ClassVar[str] = "space"
    space_id: str


class SpaceDeleted(Event, frozen=True, kw_only=True):
    aggregate: ClassVar[str] = "space"
    space_id: str


EVENTS: tuple[type[Event], ...] = (
    EnvironmentCreated,
    ApiKeyIssued,
    SpaceCreated,
    SpaceUpdated,
    SpaceArchived,
    SpaceUnarchived,
    SpaceDeleted,
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
    features: dict[str, Any] = msgspec.field(default_factory=dict)
    metadata: dict[str, Any] = msgspec.field(default_factory=dict)
    namespaces: list[str] | None = None


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
    metadata: dict[str, Any] = msgspec.field(default_factory=dict)
    settings: dict[str, Any] = msgspec.field(default_factory=dict)
    auto_configure: bool = False
    is_collaborative: bool = True


class Pagination(Wire, frozen=True, kw_only=True):
    current_page: int
    page_count: int
    total_count: int


class SpacePage(msgspec.Struct, frozen=True, kw_only=True):
    data: list[SpaceView]
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


class CreateEnvironment(msgspec.Struct, frozen=True, kw_only=True):
    name: str
    is_prod: bool = False
    guest_authentication: list[str] = msgspec.field(default_factory=lambda: ["magic_link"])
    metadata: dict[str, Any] = msgspec.field(default_factory=dict)
    idempotency_key: str | None = None


class EnvironmentCreatedReply(msgspec.Struct, frozen=True, kw_only=True):
    environment: EnvironmentView
    secret_key: str | None  # returned once, at creation; None when the call was a retry
    publishable_key: str | None
    position: int


class GetEnvironment(msgspec.Struct, frozen=True, kw_only=True):
    environment_id: str
    min_position: int = 0


class CreateSpace(msgspec.Struct, frozen=True, kw_only=True):
    principal: Principal
    environment_id: str
    name: str = ""
    namespace: str | None = None
    labels: list[str] = msgspec.field(default_factory=list)
    metadata: dict[str, Any] = msgspec.field(default_factory=dict)
    settings: dict[str, Any] = msgspec.field(default_factory=dict)
    auto_configure: bool = False
    idempotency_key: str | None = None


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
