"""Guests (aggregate `guest`; scope: their environment) and their grants to spaces."""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar, Literal

import msgspec

from spaceport import ids
from spaceport.contracts.space.common import Wire
from spaceport.contracts.space.principal import Principal
from spaceport.events import Event

GuestRole = Literal["admin", "editor", "viewer"]
GUEST_ROLE_NAMES: dict[GuestRole, str] = {"admin": "Guest Admin", "editor": "Guest Editor", "viewer": "Guest Viewer"}


def role_id(role: GuestRole) -> str:
    """The built-in role's stable id (`us_rol_…`), the same on every installation."""
    return ids.derived_id("role", f"guest:{role}")


def actor_role_id(guest_id: str, space_id: str) -> str:
    """The id of a guest's grant on a space as an ActorRole (`us_acr_…`); a role change keeps it."""
    return ids.derived_id("actor_role", f"{guest_id}:{space_id}")


GUEST_ROLE_IDS: dict[str, GuestRole] = {role_id(r): r for r in GUEST_ROLE_NAMES}

# ---- events ----------------------------------------------------------------------------


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


# ---- views (wire shapes) ---------------------------------------------------------------


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


class RoleView(Wire, frozen=True, kw_only=True):
    id: str
    name: str
    account_id: str
    created_at: datetime
    updated_at: datetime


class ActorRoleView(Wire, frozen=True, kw_only=True):
    """A guest's grant on one space, as Flatfile's ActorRole."""

    id: str
    role_id: str
    actor_id: str
    resource_id: str
    created_at: datetime
    updated_at: datetime


# ---- commands and queries --------------------------------------------------------------


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


class ListRoles(msgspec.Struct, frozen=True, kw_only=True):
    """-> list[RoleView]: the built-in roles."""


class ListGuestRoles(msgspec.Struct, frozen=True, kw_only=True):
    """-> list[ActorRoleView]: one per space grant of the guest (a guest admin sees its space's only)."""

    principal: Principal
    environment_id: str
    guest_id: str
    min_position: int = 0


class AssignGuestRole(msgspec.Struct, frozen=True, kw_only=True):
    """Grant (or change) the guest's role on space `resource_id`."""

    principal: Principal
    environment_id: str
    guest_id: str
    role_id: str
    resource_id: str


class ActorRoleWritten(msgspec.Struct, frozen=True, kw_only=True):
    actor_role: ActorRoleView
    position: int


class DeleteGuestRole(msgspec.Struct, frozen=True, kw_only=True):
    """Remove one grant of the guest (the guest goes with its last one); -> GuestsWritten."""

    principal: Principal
    environment_id: str
    guest_id: str
    actor_role_id: str
