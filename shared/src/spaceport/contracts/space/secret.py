"""Secrets (aggregate `secret`; scope: their space, or their environment when space-wide).

The value travels and is stored encrypted (AES-256-GCM, `space_service.application.secretbox`): the event log,
its backups and the read model hold ciphertext only; the space service decrypts for a secret
key of the secret's environment. Add fields with defaults only; never change a recorded shape.
"""

from __future__ import annotations

from typing import ClassVar

import msgspec

from spaceport.contracts.space.common import Wire
from spaceport.contracts.space.principal import Principal
from spaceport.events import Event

# ---- events ----------------------------------------------------------------------------


class SecretCreated(Event, frozen=True, kw_only=True):
    aggregate: ClassVar[str] = "secret"
    secret_id: str
    environment_id: str
    space_id: str | None = None
    actor_id: str | None = None
    name: str
    ciphertext: str  # base64 of nonce + AES-GCM ciphertext of the value


class SecretUpdated(Event, frozen=True, kw_only=True):
    aggregate: ClassVar[str] = "secret"
    secret_id: str
    ciphertext: str


class SecretDeleted(Event, frozen=True, kw_only=True):
    aggregate: ClassVar[str] = "secret"
    secret_id: str


SECRET_EVENTS: tuple[type[Event], ...] = (SecretCreated, SecretUpdated, SecretDeleted)

# ---- views, commands and queries: below (the secrets helper owns them) ---------------------


# ---- views (wire shapes) ---------------------------------------------------------------


class SecretView(Wire, frozen=True, kw_only=True):
    """Flatfile's `Secret`, its value in clear text (only ever sent to a secret key of its environment)."""

    id: str
    name: str
    value: str
    environment_id: str
    space_id: str | None = None
    actor_id: str | None = None


# ---- commands and queries --------------------------------------------------------------


class UpsertSecret(msgspec.Struct, frozen=True, kw_only=True):
    """Create the secret named `name` in its scope (environment, space, actor), or replace its value."""

    principal: Principal
    environment_id: str
    name: str
    value: str
    space_id: str | None = None
    actor_id: str | None = None


class DeleteSecret(msgspec.Struct, frozen=True, kw_only=True):
    principal: Principal
    environment_id: str
    secret_id: str


class SecretWritten(msgspec.Struct, frozen=True, kw_only=True):
    """The secret as written (None after a delete) and where its event landed."""

    secret: SecretView | None
    position: int


class ListSecrets(msgspec.Struct, frozen=True, kw_only=True):
    """The environment's secrets, overridden by the space's (and the actor's) of the same name."""

    principal: Principal
    environment_id: str
    space_id: str | None = None
    actor_id: str | None = None
    min_position: int = 0
