"""Spaces: commands on the Space aggregate, queries (filtered, sorted pages) on the read model."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import msgspec

from space_service.application import tokens
from space_service.application.environments import EnvironmentHandlers, page_count
from space_service.application.ports import SpaceReads, SpaceViews, WaitFor
from space_service.application.revocations import Revocations
from space_service.domain import limits
from space_service.domain import space as domain
from spaceport import ids
from spaceport.aggregate import Executed, Folder, execute
from spaceport.contracts.space import (
    AuthInvalidated,
    ChangeSpaceLifecycle,
    CreateSpace,
    GetSpace,
    ListSpaces,
    Pagination,
    SpacePage,
    SpaceView,
    SpaceWritten,
    UpdateSpace,
    Written,
)
from spaceport.errors import NotFoundError, ValidationFailedError
from spaceport.events import Event
from spaceport.ports import AggregateRef, AppendContext, EventStorePort

SPACES = Folder(domain.initial, domain.evolve)
MAX_BULK = 100


def ref(environment_id: str, space_id: str) -> AggregateRef:
    return AggregateRef(environment_id=environment_id, space_id=space_id, aggregate="space", aggregate_id=space_id)


class SpaceHandlers:
    def __init__(
        self,
        store: EventStorePort,
        reads: SpaceReads,
        caught_up: WaitFor,
        revocations: Revocations,
        environments: EnvironmentHandlers,
        *,
        link_secret: bytes | None = None,
        views: SpaceViews | None = None,
    ) -> None:
        self.store = store
        self.views = views  # GetSpace's answers kept in this process (None: read the read model each time)
        self.link_secret = link_secret  # signs shared-link tokens (`guest_link`); None: no links
        self.reads = reads
        self.caught_up = caught_up
        self.revocations = revocations
        self.environments = environments

    async def create(self, cmd: CreateSpace, copied_from: str | None = None) -> SpaceWritten:
        """`copied_from`: the template (space or app id) the caller copies into it (`templates.py`)."""
        domain.check_fields(cmd.fields)  # before the environment lookup: bad input is a 400 either way
        await self.environments.require_live(cmd.environment_id)
        key = cmd.idempotency_key
        space_id = ids.derived_id("space", f"{cmd.environment_id}:{key}") if key else ids.new_id("space")
        done = await self._execute(
            cmd.environment_id,
            space_id,
            lambda state: domain.create(state, space_id, cmd, copied_from),
            AppendContext(actor=cmd.principal.actor, idempotency_key=key),
        )
        assert done.result is not None
        return SpaceWritten(space_id=space_id, position=done.result.last_seq)

    async def update(self, cmd: UpdateSpace) -> SpaceWritten:
        done = await self._execute(
            cmd.environment_id,
            cmd.space_id,
            lambda state: domain.update(state, cmd.space_id, cmd.environment_id, cmd.fields),
            AppendContext(actor=cmd.principal.actor),
        )
        allowed = cmd.fields.guest_authentication
        if allowed is not None and tokens.SHARED_LINK not in allowed:  # the space's shared link stops working
            change = AuthInvalidated(
                reason="guest_changed", environment_id=cmd.environment_id, space_ids=[cmd.space_id]
            )
            await self.revocations.announce(done.position, change)
        return SpaceWritten(space_id=cmd.space_id, position=done.position)

    async def change_lifecycle(self, cmd: ChangeSpaceLifecycle) -> Written:
        """Every id is checked before anything is written: one unknown id refuses the whole call."""
        space_ids = list(dict.fromkeys(cmd.space_ids))
        if not 1 <= len(space_ids) <= MAX_BULK:
            raise ValidationFailedError(f"pass 1 to {MAX_BULK} spaceIds", key="spaceIds")
        for space_id in space_ids:
            state = await self.state(cmd.environment_id, space_id)
            domain.transition(state, space_id, cmd.environment_id, cmd.transition)
        position = 0
        for space_id in space_ids:
            position = max(position, await self._transition(cmd, space_id))
        if cmd.transition != "unarchive":  # guests of an archived or deleted space may lose access
            change = AuthInvalidated(reason="space_closed", environment_id=cmd.environment_id, space_ids=space_ids)
            await self.revocations.announce(position, change)
        return Written(position=position)

    async def _transition(self, cmd: ChangeSpaceLifecycle, space_id: str) -> int:
        done = await self._execute(
            cmd.environment_id,
            space_id,
            lambda state: domain.transition(state, space_id, cmd.environment_id, cmd.transition),
            AppendContext(actor=cmd.principal.actor),
        )
        return done.position

    async def state(self, environment_id: str, space_id: str) -> domain.SpaceState:
        """The space as its events say (authoritative, no projection lag)."""
        if not limits.is_id(space_id, ids.PREFIXES["space"]):
            return domain.initial()
        return SPACES.fold(await self.store.load(ref(environment_id, space_id)))

    async def require_live(self, environment_id: str, space_id: str) -> domain.SpaceState:
        state = await self.state(environment_id, space_id)
        domain.require_live(state, space_id, environment_id)
        return state

    async def require_listed(self, environment_id: str, space_id: str) -> None:
        """For queries: the space is live in the read model (a write checks the log instead)."""
        if not await self.reads.space_exists(environment_id, space_id):
            raise NotFoundError(f"space {space_id} not found", key="spaceId")

    async def get(self, query: GetSpace) -> SpaceView:
        await self.caught_up(query.min_position)
        views = self.views
        if views is not None:
            hit = views.get(query.space_id)
            if hit is not None and hit.environment_id == query.environment_id:
                return hit  # another environment's id falls through to the read model's 404
        ticket = views.ticket() if views is not None else None
        view = await self.reads.space(query.environment_id, query.space_id)
        if view is None:
            raise NotFoundError(f"space {query.space_id} not found", key="spaceId")
        linked = self._linked(view)
        if views is not None:
            views.put(ticket, linked)
        return linked

    async def list_spaces(self, query: ListSpaces) -> SpacePage:
        limits.page(query.page_size, query.page_number)
        limits.text(query.search, "search")
        await self.caught_up(query.min_position)
        found, total = await self.reads.spaces(query)
        pagination = Pagination(
            current_page=query.page_number, page_count=page_count(total, query.page_size), total_count=total
        )
        return SpacePage(data=[self._linked(view) for view in found], pagination=pagination)

    def _linked(self, view: SpaceView) -> SpaceView:
        """The view with its `guest_link` (the web app's path with a shared-link token), if it allows one."""
        if self.link_secret is None or tokens.SHARED_LINK not in view.guest_authentication:
            return view
        token = tokens.shared_link_token(self.link_secret, view.environment_id, view.id)
        return msgspec.structs.replace(view, guest_link=f"/space/{view.id}?token={token}")

    async def _execute(
        self,
        environment_id: str,
        space_id: str,
        decide: Callable[[domain.SpaceState], Sequence[Event]],
        context: AppendContext,
    ) -> Executed[domain.SpaceState]:
        if not limits.is_id(space_id, ids.PREFIXES["space"]):
            raise NotFoundError(f"space {space_id} not found", key="spaceId")
        return await execute(self.store, ref(environment_id, space_id), SPACES, decide, context)
