"""Who is calling: the principal the gateway authenticates, and the broadcast that invalidates it."""

from __future__ import annotations

from typing import Literal

import msgspec


class Principal(msgspec.Struct, frozen=True, kw_only=True):
    environment_id: str
    kind: Literal["secret", "publishable", "guest"]
    actor: str
    space_id: str | None = None
    role: str | None = None
    # A guest limited to some workbooks of its space (its grant's `workbook_ids`); None: the whole space.
    workbook_ids: list[str] | None = None


class Authenticate(msgspec.Struct, frozen=True, kw_only=True):
    token: str


# ---- broadcasts ------------------------------------------------------------------------


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
