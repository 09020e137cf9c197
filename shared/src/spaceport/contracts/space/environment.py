"""Environments and their API keys (aggregate `environment`)."""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar, Literal

import msgspec

from spaceport.contracts.space.common import Json, Pagination, Wire
from spaceport.events import Event

KeyKind = Literal["secret", "publishable"]
KeyType = Literal["SECRET", "PUBLISHABLE"]  # Flatfile's `ApiKey.type`
KEY_TYPES: dict[KeyType, KeyKind] = {"SECRET": "secret", "PUBLISHABLE": "publishable"}

# ---- events ----------------------------------------------------------------------------


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


# ---- views (wire shapes) ---------------------------------------------------------------


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


class ApiKeyOperation(Wire, frozen=True, kw_only=True):
    path: str
    method: str


# What each kind of key may call (Flatfile's `ApiKey.operations` allow-list); `*` = anything.
KEY_OPERATIONS: dict[KeyKind, tuple[ApiKeyOperation, ...]] = {
    "secret": (ApiKeyOperation(path="*", method="*"),),
    "publishable": (ApiKeyOperation(path="/v1/spaces", method="POST"),),
}


class ApiKeyView(Wire, frozen=True, kw_only=True):
    """Flatfile's `ApiKey` without its raw value (only hashes are stored)."""

    id: str
    type: KeyType
    environment_id: str
    account_id: str
    operations: list[ApiKeyOperation]
    created_at: datetime
    updated_at: datetime | None = None
    deleted_at: datetime | None = None


class NewApiKeyView(ApiKeyView, frozen=True, kw_only=True):
    """The answer to a create: the raw key is shown this once and never again."""

    raw_key: str


class EnvironmentPage(msgspec.Struct, frozen=True, kw_only=True):
    data: list[EnvironmentView]
    pagination: Pagination


# ---- commands and queries --------------------------------------------------------------


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


class CreateApiKey(msgspec.Struct, frozen=True, kw_only=True):
    """One more key for the environment; the others keep working."""

    actor: str
    environment_id: str
    kind: KeyKind


class ApiKeyCreated(msgspec.Struct, frozen=True, kw_only=True):
    key: NewApiKeyView
    position: int


class RevokeApiKey(msgspec.Struct, frozen=True, kw_only=True):
    """Revoke one key (never the environment's last secret key); -> Written."""

    actor: str
    environment_id: str
    key_id: str


class ListApiKeys(msgspec.Struct, frozen=True, kw_only=True):
    """-> list[ApiKeyView]: the environment's live keys, oldest first."""

    environment_id: str
    kind: KeyKind | None = None
    min_position: int = 0
