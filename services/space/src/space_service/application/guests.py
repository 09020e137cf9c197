"""Guests: commands on the Guest aggregate (scope: the environment), tokens, queries on the read model.

Guest principals (a guest admin managing its space's guests) only ever see and change grants on
their own space; the gateway has already checked the role. A guest admin limited to some workbooks
grants at most those workbooks.

Roles: the built-in guest roles (admin, editor, viewer) have stable ids (`role_id`); a guest's grant
on a space is its ActorRole (`actor_role_id(guest, space)`), so assigning a role is a grant change.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import get_args

from space_service.application import tokens
from space_service.application.ports import GuestReads, WaitFor
from space_service.application.revocations import Revocations
from space_service.application.spaces import SpaceHandlers
from space_service.domain import guest as domain
from space_service.domain import limits
from space_service.domain import space as space_domain
from spaceport import ids
from spaceport.aggregate import Executed, Folder, execute
from spaceport.contracts.feed import ACCOUNT_ID
from spaceport.contracts.space import (
    GUEST_ROLE_NAMES,
    ActorRoleView,
    ActorRoleWritten,
    AssignGuestRole,
    AuthInvalidated,
    DeleteGuest,
    DeleteGuestRole,
    GetGuest,
    GuestGrant,
    GuestRole,
    GuestsWritten,
    GuestTokenView,
    GuestView,
    InviteGuests,
    IssueGuestToken,
    ListGuestRoles,
    ListGuests,
    ListRoles,
    Principal,
    RoleView,
    UpdateGuest,
    actor_role_id,
    role_id,
)
from spaceport.errors import ForbiddenError, NotFoundError, ServiceUnavailableError, ValidationFailedError
from spaceport.events import Event
from spaceport.ports import AggregateRef, AppendContext, EventStorePort

GUESTS = Folder(domain.initial, domain.evolve)
MAX_INVITES = 100
BUILT_IN = datetime(2024, 1, 1, tzinfo=UTC)  # createdAt/updatedAt of the built-in roles
ROLES = [
    RoleView(id=role_id(r), name=GUEST_ROLE_NAMES[r], account_id=ACCOUNT_ID, created_at=BUILT_IN, updated_at=BUILT_IN)
    for r in get_args(GuestRole)
]


def guest_id_for(environment_id: str, email: str) -> str:
    """One guest per email and environment: inviting the same address again finds the same guest."""
    return ids.derived_id("guest", f"{environment_id}:{email}")


class GuestHandlers:
    def __init__(
        self,
        store: EventStorePort,
        reads: GuestReads,
        caught_up: WaitFor,
        revocations: Revocations,
        *,
        spaces: SpaceHandlers,
        guest_tokens: tokens.GuestTokens,
    ) -> None:
        self.store = store
        self.reads = reads
        self.caught_up = caught_up
        self.revocations = revocations
        self.spaces = spaces
        self.guest_tokens = guest_tokens

    async def invite(self, cmd: InviteGuests) -> GuestsWritten:
        """Everything is checked (spaces, domains, fields) before the first guest is written."""
        if not 1 <= len(cmd.guests) <= MAX_INVITES:
            raise ValidationFailedError(f"pass 1 to {MAX_INVITES} guests", key="guests")
        planned = []
        for spec in cmd.guests:
            email = limits.email(spec.email)
            await self._check_grants(cmd.principal, cmd.environment_id, spec.spaces, email)
            guest_id = guest_id_for(cmd.environment_id, email)
            domain.invite(await self.state(cmd.environment_id, guest_id), guest_id, cmd.environment_id, spec)
            planned.append((guest_id, spec))
        position = 0
        for guest_id, spec in planned:
            done = await self._execute(
                cmd.environment_id,
                guest_id,
                lambda state, gid=guest_id, s=spec: domain.invite(state, gid, cmd.environment_id, s),  # type: ignore[misc]
                AppendContext(actor=cmd.principal.actor),
            )
            position = max(position, done.position)
        return GuestsWritten(guest_ids=[g for g, _ in planned], position=position)

    async def update(self, cmd: UpdateGuest) -> GuestsWritten:
        state = await self._visible(cmd.principal, cmd.environment_id, cmd.guest_id)
        if cmd.principal.kind == "guest":
            self._within_own_workbooks(cmd.principal, state.grant_on(cmd.principal.space_id or ""))
        spaces = cmd.spaces
        if spaces is not None:
            await self._check_grants(cmd.principal, cmd.environment_id, spaces, cmd.email or state.email)
            if cmd.principal.kind == "guest":  # a space admin rewrites its own grant only
                spaces = domain.merged(tuple(g for g in state.grants if g.space_id != cmd.principal.space_id), spaces)
        if cmd.email is not None:  # a new address must fit every space the guest keeps
            kept = state.space_ids if spaces is None else [g.space_id for g in spaces]
            await self._check_domains(cmd.environment_id, kept, limits.email(cmd.email))
        done = await self._execute(
            cmd.environment_id,
            cmd.guest_id,
            lambda s: domain.update(s, cmd.guest_id, cmd.environment_id, email=cmd.email, name=cmd.name, spaces=spaces),
            AppendContext(actor=cmd.principal.actor),
        )
        position = done.position
        if spaces is not None:  # grants replaced: a role may be lower or gone
            change = AuthInvalidated(reason="guest_changed", environment_id=cmd.environment_id, guest_id=cmd.guest_id)
            await self.revocations.announce(position, change)
        return GuestsWritten(guest_ids=[cmd.guest_id], position=position)

    async def delete(self, cmd: DeleteGuest) -> GuestsWritten:
        state = await self._visible(cmd.principal, cmd.environment_id, cmd.guest_id)
        if cmd.principal.kind == "guest":
            self._within_own_workbooks(cmd.principal, state.grant_on(cmd.principal.space_id or ""))
        space_id = cmd.principal.space_id if cmd.principal.kind == "guest" else cmd.space_id
        done = await self._execute(
            cmd.environment_id,
            cmd.guest_id,
            lambda s: domain.remove(s, cmd.guest_id, cmd.environment_id, space_id),
            AppendContext(actor=cmd.principal.actor),
        )
        position = done.position
        change = AuthInvalidated(
            reason="guest_removed",
            environment_id=cmd.environment_id,
            space_ids=[space_id] if space_id else [],
            guest_id=cmd.guest_id,
        )
        await self.revocations.announce(position, change)
        return GuestsWritten(guest_ids=[cmd.guest_id], position=position)

    async def list_roles(self, _: ListRoles) -> list[RoleView]:
        return ROLES

    async def guest_roles(self, query: ListGuestRoles) -> list[ActorRoleView]:
        await self.caught_up(query.min_position)
        visible = GetGuest(principal=query.principal, environment_id=query.environment_id, guest_id=query.guest_id)
        await self.get(visible)  # 404 unless the guest is live and visible to the principal
        found = await self.reads.guest_roles(query.environment_id, query.guest_id)
        if query.principal.kind == "guest":  # a guest admin sees its own space's grant only
            return [r for r in found if r.resource_id == query.principal.space_id]
        return found

    async def assign_role(self, cmd: AssignGuestRole) -> ActorRoleWritten:
        """Grant or change the guest's role on a space; its workbooks, if limited, stay as they were."""
        role = domain.role_named(cmd.role_id)
        state = await self._visible(cmd.principal, cmd.environment_id, cmd.guest_id)
        current = state.grant_on(cmd.resource_id)
        workbooks = current.workbook_ids if current else (cmd.principal.workbook_ids or [])
        grant = GuestGrant(space_id=cmd.resource_id, role=role, workbook_ids=workbooks)
        try:
            await self._check_grants(cmd.principal, cmd.environment_id, [grant], state.email)
        except NotFoundError as missing:
            raise NotFoundError(missing.message, key="resourceId") from None
        done = await self._execute(
            cmd.environment_id,
            cmd.guest_id,
            lambda s: domain.assign(s, cmd.guest_id, cmd.environment_id, grant),
            AppendContext(actor=cmd.principal.actor),
        )
        change = AuthInvalidated(reason="guest_changed", environment_id=cmd.environment_id, guest_id=cmd.guest_id)
        await self.revocations.announce(done.position, change)
        await self.caught_up(done.position)
        wanted = actor_role_id(cmd.guest_id, cmd.resource_id)
        found = [r for r in await self.reads.guest_roles(cmd.environment_id, cmd.guest_id) if r.id == wanted]
        if not found:
            raise ServiceUnavailableError(f"the role was assigned but cannot be read yet ({wanted})")
        return ActorRoleWritten(actor_role=found[0], position=done.position)

    async def delete_role(self, cmd: DeleteGuestRole) -> GuestsWritten:
        """Remove one grant; removing the guest's last grant removes the guest (as DELETE /guests does)."""
        state = await self._visible(cmd.principal, cmd.environment_id, cmd.guest_id)
        space_id = domain.space_of(state, cmd.guest_id, cmd.actor_role_id)
        if cmd.principal.kind == "guest" and space_id != cmd.principal.space_id:
            raise NotFoundError(f"actor role {cmd.actor_role_id} not found", key="actorRoleId")
        return await self.delete(
            DeleteGuest(
                principal=cmd.principal, environment_id=cmd.environment_id, guest_id=cmd.guest_id, space_id=space_id
            )
        )

    async def token(self, cmd: IssueGuestToken) -> GuestTokenView:
        state = await self._visible(cmd.principal, cmd.environment_id, cmd.guest_id)
        space_id = cmd.space_id or (state.space_ids[0] if len(state.grants) == 1 else "")
        if not space_id:
            raise ValidationFailedError("this guest has several spaces: pass spaceId", key="spaceId")
        if state.role_in(space_id) is None:
            raise NotFoundError(f"guest {cmd.guest_id} has no access to space {space_id}", key="spaceId")
        await self.spaces.require_live(cmd.environment_id, space_id)
        expires = int(time.time() + self.guest_tokens.ttl)
        claims = tokens.Claims(g=cmd.guest_id, s=space_id, e=cmd.environment_id, x=expires)
        token = tokens.issue(self.guest_tokens.secret, claims)
        return GuestTokenView(token=token, valid=True, expires_at=datetime.fromtimestamp(expires, UTC))

    async def get(self, query: GetGuest) -> GuestView:
        await self.caught_up(query.min_position)
        views = await self.reads.guests(query.environment_id, [query.guest_id])
        if not views or (query.principal.kind == "guest" and query.principal.space_id not in _space_ids(views[0])):
            raise NotFoundError(f"guest {query.guest_id} not found", key="guestId")
        return views[0]

    async def list_guests(self, query: ListGuests) -> list[GuestView]:
        await self.caught_up(query.min_position)
        email = None if query.email is None else query.email.strip().lower()
        await self.spaces.require_listed(query.environment_id, query.space_id)
        guest_ids = await self.reads.guest_ids_in_space(query.space_id, email)
        return await self.reads.guests(query.environment_id, guest_ids)

    async def state(self, environment_id: str, guest_id: str) -> domain.GuestState:
        if not limits.is_id(guest_id, ids.PREFIXES["guest"]):
            return domain.initial()
        ref = AggregateRef(environment_id=environment_id, space_id=None, aggregate="guest", aggregate_id=guest_id)
        return GUESTS.fold(await self.store.load(ref))

    async def _visible(self, principal: Principal, environment_id: str, guest_id: str) -> domain.GuestState:
        """The live guest, if `principal` may see it: its environment's key, or an admin of one of its spaces."""
        state = await self.state(environment_id, guest_id)
        domain.require_live(state, guest_id, environment_id)
        if principal.kind == "guest" and state.role_in(principal.space_id or "") is None:
            raise NotFoundError(f"guest {guest_id} not found", key="guestId")
        return state

    async def _check_grants(
        self, principal: Principal, environment_id: str, grants: list[GuestGrant], email: str
    ) -> None:
        for grant in grants:
            if principal.kind == "guest" and grant.space_id != principal.space_id:
                raise ForbiddenError("a guest admin may only grant access to its own space", key="spaces")
            if principal.kind == "guest":
                self._within_own_workbooks(principal, grant)
        await self._check_domains(environment_id, [g.space_id for g in grants], email)

    async def _check_domains(self, environment_id: str, space_ids: list[str], email: str) -> None:
        """Each space is live and, if it lists allowedDomains, `email` is in one of them."""
        for space_id in space_ids:
            space = await self.spaces.require_live(environment_id, space_id)
            if not space_domain.email_allowed(space, email):
                raise ForbiddenError(
                    f"{email} is not in the allowed domains of space {space_id} ({', '.join(space.allowed_domains)})",
                    key="email",
                )

    @staticmethod
    def _within_own_workbooks(principal: Principal, grant: GuestGrant | None) -> None:
        """A guest admin limited to some workbooks manages (and grants) grants within those workbooks only."""
        if principal.workbook_ids is None or grant is None:
            return
        if not grant.workbook_ids or not set(grant.workbook_ids) <= set(principal.workbook_ids):
            raise ForbiddenError("a guest admin limited to some workbooks may only grant those workbooks", key="spaces")

    async def _execute(
        self,
        environment_id: str,
        guest_id: str,
        decide: Callable[[domain.GuestState], Sequence[Event]],
        context: AppendContext,
    ) -> Executed[domain.GuestState]:
        ref = AggregateRef(environment_id=environment_id, space_id=None, aggregate="guest", aggregate_id=guest_id)
        return await execute(self.store, ref, GUESTS, decide, context)


def _space_ids(view: GuestView) -> list[str]:
    return [s.id for s in view.spaces]
