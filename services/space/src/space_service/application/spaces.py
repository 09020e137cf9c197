"""Spaces: commands on the Space aggregate, queries (filtered, sorted pages) on the read model."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from space_service.application import revocations, rows
from space_service.application.environments import EnvironmentHandlers
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
from spaceport.eventstore import AggregateRef, AppendContext
from spaceport.runtime import ServiceRuntime

SPACES = Folder(domain.initial, domain.evolve)
SORT_COLUMNS = {
    "name": "lower(name)",
    "workbooksCount": "workbooks_count",
    "filesCount": "files_count",
    "environmentId": "environment_id",
    "createdByUserName": "created_by",
    "createdAt": "created_at",
    "lastActivityAt": "last_activity_at",
}
MAX_BULK = 100


def ref(environment_id: str, space_id: str) -> AggregateRef:
    return AggregateRef(environment_id=environment_id, space_id=space_id, aggregate="space", aggregate_id=space_id)


class SpaceHandlersPart:
    def __init__(self, runtime: ServiceRuntime, environments: EnvironmentHandlers) -> None:
        self.runtime = runtime
        self.environments = environments

    def register(self) -> None:
        rpc = self.runtime.rpc
        rpc.handle(CreateSpace)(self.create)
        rpc.handle(UpdateSpace)(self.update)
        rpc.handle(ChangeSpaceLifecycle)(self.change_lifecycle)
        rpc.handle(GetSpace)(self.get)
        rpc.handle(ListSpaces)(self.list_spaces)

    async def create(self, cmd: CreateSpace) -> SpaceWritten:
        domain.check_fields(cmd.fields)  # before the environment lookup: bad input is a 400 either way
        await self.environments.require_live(cmd.environment_id)
        key = cmd.idempotency_key
        space_id = ids.derived_id("space", f"{cmd.environment_id}:{key}") if key else ids.new_id("space")
        done = await self._execute(
            cmd.environment_id,
            space_id,
            lambda state: domain.create(state, space_id, cmd),
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
        return SpaceWritten(space_id=cmd.space_id, position=done.result.last_seq if done.result else 0)

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
            done = await self._execute(
                cmd.environment_id,
                space_id,
                lambda state, sid=space_id: domain.transition(state, sid, cmd.environment_id, cmd.transition),  # type: ignore[misc]
                AppendContext(actor=cmd.principal.actor),
            )
            position = max(position, done.result.last_seq if done.result else 0)
        if cmd.transition != "unarchive":  # guests of an archived or deleted space may lose access
            change = AuthInvalidated(reason="space_closed", environment_id=cmd.environment_id, space_ids=space_ids)
            await revocations.announce(self.runtime, position, change)
        return Written(position=position)

    async def state(self, environment_id: str, space_id: str) -> domain.SpaceState:
        """The space as its events say (authoritative, no projection lag)."""
        if not limits.is_id(space_id, ids.PREFIXES["space"]):
            return domain.initial()
        return SPACES.fold(await self.runtime.store.load(ref(environment_id, space_id)))

    async def require_live(self, environment_id: str, space_id: str) -> domain.SpaceState:
        state = await self.state(environment_id, space_id)
        domain.require_live(state, space_id, environment_id)
        return state

    async def get(self, query: GetSpace) -> SpaceView:
        await self.runtime.wait_for(query.min_position)
        async with self.runtime.pool.acquire() as conn:
            row = await conn.fetchrow(
                f"SELECT {rows.SPACE_COLUMNS} FROM space WHERE id = $1 AND environment_id = $2 AND deleted_at IS NULL",
                query.space_id,
                query.environment_id,
            )
        if row is None:
            raise NotFoundError(f"space {query.space_id} not found", key="spaceId")
        return rows.space_view(row)

    async def list_spaces(self, query: ListSpaces) -> SpacePage:
        limits.page(query.page_size, query.page_number)
        limits.text(query.search, "search")
        where, params = _filters(query)
        order = f"{SORT_COLUMNS[query.sort_field]} {query.sort_direction} NULLS LAST, id {query.sort_direction}"
        await self.runtime.wait_for(query.min_position)
        async with self.runtime.pool.acquire() as conn:
            total = int(await conn.fetchval(f"SELECT count(*) FROM space WHERE {where}", *params))
            # Spaces per environment are modest (hundreds to thousands): OFFSET over the
            # (environment_id, created_at) index is acceptable here, unlike records.
            found = await conn.fetch(
                f"SELECT {rows.SPACE_COLUMNS} FROM space WHERE {where} ORDER BY {order}"
                f" LIMIT {query.page_size} OFFSET {(query.page_number - 1) * query.page_size}",
                *params,
            )
        pages = max(1, -(-total // query.page_size))
        return SpacePage(
            data=[rows.space_view(r) for r in found],
            pagination=Pagination(current_page=query.page_number, page_count=pages, total_count=total),
        )

    async def _execute(
        self,
        environment_id: str,
        space_id: str,
        decide: Callable[[domain.SpaceState], Sequence[Event]],
        context: AppendContext,
    ) -> Executed[domain.SpaceState]:
        if not limits.is_id(space_id, ids.PREFIXES["space"]):
            raise NotFoundError(f"space {space_id} not found", key="spaceId")
        return await execute(self.runtime.store, ref(environment_id, space_id), SPACES, decide, context)


def _filters(query: ListSpaces) -> tuple[str, list[object]]:
    """A WHERE clause of constant fragments and its $n parameters."""
    clauses = ["environment_id = $1", "deleted_at IS NULL"]
    params: list[object] = [query.environment_id]

    def add(fragment: str, value: object) -> None:
        params.append(value)
        clauses.append(fragment.replace("$?", f"${len(params)}"))

    clauses.append("archived_at IS NOT NULL" if query.archived else "archived_at IS NULL")
    if query.space_ids is not None:
        add("id = ANY($?::text[])", query.space_ids)
    if query.namespace is not None:
        add("namespace = $?", query.namespace)
    if query.search:
        add("strpos(lower(name), lower($?)) > 0", query.search)
    if query.is_collaborative is not None:
        add("is_collaborative = $?", query.is_collaborative)
    return " AND ".join(clauses), params
