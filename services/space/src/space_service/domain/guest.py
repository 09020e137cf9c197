"""Guest aggregate (an outside person with roles in some spaces): pure state, decide and evolve."""

from __future__ import annotations

import msgspec

from space_service.domain import limits
from spaceport.contracts.space import (
    GUEST_ROLE_IDS,
    GuestCreated,
    GuestDeleted,
    GuestGrant,
    GuestRole,
    GuestSpec,
    GuestUpdated,
    actor_role_id,
)
from spaceport.errors import NotFoundError, ValidationFailedError
from spaceport.events import Event


class GuestState(msgspec.Struct, frozen=True, kw_only=True):
    exists: bool = False
    deleted: bool = False
    environment_id: str = ""
    email: str = ""
    grants: tuple[GuestGrant, ...] = ()

    def role_in(self, space_id: str) -> str | None:
        return next((g.role for g in self.grants if g.space_id == space_id), None)

    def grant_on(self, space_id: str) -> GuestGrant | None:
        return next((g for g in self.grants if g.space_id == space_id), None)

    @property
    def space_ids(self) -> list[str]:
        return [g.space_id for g in self.grants]


def initial() -> GuestState:
    return GuestState()


def evolve(state: GuestState, event: Event) -> GuestState:
    match event:
        case GuestCreated(environment_id=environment_id, email=email, spaces=spaces):
            return GuestState(exists=True, environment_id=environment_id, email=email, grants=tuple(spaces))
        case GuestUpdated(email=email, spaces=spaces):
            return msgspec.structs.replace(
                state,
                email=state.email if email is None else email,
                grants=state.grants if spaces is None else tuple(spaces),
            )
        case GuestDeleted():
            return msgspec.structs.replace(state, deleted=True, grants=())
    return state


def is_live(state: GuestState) -> bool:
    return state.exists and not state.deleted


def require_live(state: GuestState, guest_id: str, environment_id: str) -> None:
    if not is_live(state) or state.environment_id != environment_id:
        raise NotFoundError(f"guest {guest_id} not found", key="guestId")


MAX_WORKBOOKS = 100  # workbooks named in one grant


def check_grants(grants: list[GuestGrant]) -> None:
    if not grants:
        raise ValidationFailedError("a guest needs at least one space", key="spaces")
    if len({g.space_id for g in grants}) != len(grants):
        raise ValidationFailedError("a space is listed twice", key="spaces")
    for grant in grants:
        if len(grant.workbook_ids) > MAX_WORKBOOKS:
            raise ValidationFailedError(f"a grant names at most {MAX_WORKBOOKS} workbooks", key="workbooks")
        if len(set(grant.workbook_ids)) != len(grant.workbook_ids):
            raise ValidationFailedError(f"a workbook is listed twice for space {grant.space_id}", key="workbooks")


def role_named(role_id: str) -> GuestRole:
    """The built-in guest role with this id (`GET /v1/roles`)."""
    role = GUEST_ROLE_IDS.get(role_id)
    if role is None:
        raise ValidationFailedError(
            f"role {role_id[:80]!r} is not a guest role; GET /v1/roles lists them", key="roleId"
        )
    return role


def space_of(state: GuestState, guest_id: str, role_assignment: str) -> str:
    """The space of the guest's grant whose ActorRole id is `role_assignment`."""
    for grant in state.grants:
        if actor_role_id(guest_id, grant.space_id) == role_assignment:
            return grant.space_id
    raise NotFoundError(f"actor role {role_assignment} of guest {guest_id} not found", key="actorRoleId")


def merged(current: tuple[GuestGrant, ...], new: list[GuestGrant]) -> list[GuestGrant]:
    """New grants replace the grant of the same space; other spaces keep theirs."""
    replaced = {g.space_id for g in new}
    return [*(g for g in current if g.space_id not in replaced), *new]


def invite(state: GuestState, guest_id: str, environment_id: str, spec: GuestSpec) -> list[Event]:
    """A new guest, or new spaces for the live guest with the same email (inviting twice is harmless)."""
    email = limits.email(spec.email)
    limits.required_text(spec.name, "name")
    check_grants(spec.spaces)
    if not is_live(state):
        return [
            GuestCreated(
                guest_id=guest_id, environment_id=environment_id, email=email, name=spec.name, spaces=spec.spaces
            )
        ]
    grants = merged(state.grants, spec.spaces)
    if grants == list(state.grants):
        return []
    return [GuestUpdated(guest_id=guest_id, spaces=grants)]


def update(
    state: GuestState,
    guest_id: str,
    environment_id: str,
    *,
    email: str | None,
    name: str | None,
    spaces: list[GuestGrant] | None,
) -> list[Event]:
    require_live(state, guest_id, environment_id)
    if name is not None:
        limits.required_text(name, "name")
    if spaces is not None:
        check_grants(spaces)
    normalised = None if email is None else limits.email(email)
    return [GuestUpdated(guest_id=guest_id, email=normalised, name=name, spaces=spaces)]


def remove(state: GuestState, guest_id: str, environment_id: str, space_id: str | None) -> list[Event]:
    """Delete the guest, or only its grant for `space_id` (deleting the guest with its last grant)."""
    require_live(state, guest_id, environment_id)
    if space_id is None:
        return [GuestDeleted(guest_id=guest_id)]
    rest = [g for g in state.grants if g.space_id != space_id]
    if len(rest) == len(state.grants):
        raise NotFoundError(f"guest {guest_id} not found", key="guestId")
    return [GuestUpdated(guest_id=guest_id, spaces=rest)] if rest else [GuestDeleted(guest_id=guest_id)]


def assign(state: GuestState, guest_id: str, environment_id: str, grant: GuestGrant) -> list[Event]:
    """Grant or change the guest's role on `grant.space_id`; assigning the role it has changes nothing."""
    require_live(state, guest_id, environment_id)
    check_grants([grant])
    if state.grant_on(grant.space_id) == grant:
        return []
    return [GuestUpdated(guest_id=guest_id, spaces=merged(state.grants, [grant]))]
