"""Secrets (aggregate `secret`; scope: their space, or their environment when space-wide).

The value travels and is stored encrypted (AES-256-GCM, `spaceport.secretbox`): the event log,
its backups and the read model hold ciphertext only; the space service decrypts for a secret
key of the secret's environment. Add fields with defaults only; never change a recorded shape.
"""

from __future__ import annotations

from typing import ClassVar

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
