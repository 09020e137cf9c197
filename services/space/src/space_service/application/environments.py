"""Environments and their API keys: commands on the Environment aggregate, queries on the read model."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from space_service.application import keys, revocations, rows
from space_service.domain import environment as domain
from space_service.domain import limits
from spaceport import ids
from spaceport.aggregate import Executed, Folder, execute
from spaceport.contracts.space import (
    ApiKeysView,
    AuthInvalidated,
    CreateEnvironment,
    DeleteEnvironment,
    EnvironmentCreatedReply,
    EnvironmentPage,
    EnvironmentView,
    GetEnvironment,
    KeysRotated,
    ListEnvironments,
    Pagination,
    RotateKeys,
    UpdateEnvironment,
    Written,
)
from spaceport.errors import NotFoundError
from spaceport.events import Event
from spaceport.eventstore import AggregateRef, AppendContext
from spaceport.runtime import ServiceRuntime

ENVIRONMENTS = Folder(domain.initial, domain.evolve)


def ref(environment_id: str) -> AggregateRef:
    return AggregateRef(
        environment_id=environment_id, space_id=None, aggregate="environment", aggregate_id=environment_id
    )


class EnvironmentHandlers:
    def __init__(self, runtime: ServiceRuntime) -> None:
        self.runtime = runtime

    def register(self) -> None:
        rpc = self.runtime.rpc
        rpc.handle(CreateEnvironment)(self.create)
        rpc.handle(GetEnvironment)(self.get)
        rpc.handle(ListEnvironments)(self.list_environments)
        rpc.handle(UpdateEnvironment)(self.update)
        rpc.handle(DeleteEnvironment)(self.delete)
        rpc.handle(RotateKeys)(self.rotate)

    async def create(self, cmd: CreateEnvironment, *, secret_key: str | None = None) -> EnvironmentCreatedReply:
        key = cmd.idempotency_key
        environment_id = ids.derived_id("environment", key) if key else ids.new_id("environment")
        secret = secret_key or keys.new_key("secret")
        publishable = keys.new_key("publishable")
        issued = [keys.issued(secret, "secret"), keys.issued(publishable, "publishable")]
        done = await self._execute(
            environment_id,
            lambda state: domain.create(state, environment_id, cmd, issued),
            AppendContext(actor=cmd.actor, idempotency_key=key),
        )
        assert done.result is not None
        fresh = not done.result.duplicate
        view = await self.view(environment_id, done.result.last_seq)
        return EnvironmentCreatedReply(
            environment=view,
            secret_key=secret if fresh else None,
            publishable_key=publishable if fresh else None,
            position=done.result.last_seq,
        )

    async def update(self, cmd: UpdateEnvironment) -> Written:
        done = await self._execute(
            cmd.environment_id, lambda state: domain.update(state, cmd), AppendContext(actor=cmd.actor)
        )
        return Written(position=done.result.last_seq if done.result else 0)

    async def delete(self, cmd: DeleteEnvironment) -> Written:
        done = await self._execute(
            cmd.environment_id, lambda state: domain.delete(state, cmd.environment_id), AppendContext(actor=cmd.actor)
        )
        position = done.result.last_seq if done.result else 0
        change = AuthInvalidated(reason="environment_deleted", environment_id=cmd.environment_id)
        await revocations.announce(self.runtime, position, change)
        return Written(position=position)

    async def rotate(self, cmd: RotateKeys) -> KeysRotated:
        raw = {kind: keys.new_key(kind) for kind in dict.fromkeys(cmd.kinds)}
        fresh = [keys.issued(value, kind) for kind, value in raw.items()]
        done = await self._execute(
            cmd.environment_id,
            lambda state: domain.rotate(state, cmd.environment_id, fresh),
            AppendContext(actor=cmd.actor),
        )
        assert done.result is not None
        change = AuthInvalidated(reason="keys_rotated", environment_id=cmd.environment_id)
        await revocations.announce(self.runtime, done.result.last_seq, change)
        view = ApiKeysView(
            environment_id=cmd.environment_id, secret_key=raw.get("secret"), publishable_key=raw.get("publishable")
        )
        return KeysRotated(keys=view, position=done.result.last_seq)

    async def get(self, query: GetEnvironment) -> EnvironmentView:
        return await self.view(query.environment_id, query.min_position)

    async def list_environments(self, query: ListEnvironments) -> EnvironmentPage:
        limits.page(query.page_size, query.page_number)
        await self.runtime.wait_for(query.min_position)
        async with self.runtime.pool.acquire() as conn:
            total = int(await conn.fetchval("SELECT count(*) FROM environment WHERE deleted_at IS NULL"))
            # An account has a handful of environments: OFFSET is fine here.
            found = await conn.fetch(
                "SELECT * FROM environment WHERE deleted_at IS NULL ORDER BY created_at, id LIMIT $1 OFFSET $2",
                query.page_size,
                (query.page_number - 1) * query.page_size,
            )
        pages = max(1, -(-total // query.page_size))
        return EnvironmentPage(
            data=[rows.environment_view(r) for r in found],
            pagination=Pagination(current_page=query.page_number, page_count=pages, total_count=total),
        )

    async def view(self, environment_id: str, min_position: int) -> EnvironmentView:
        await self.runtime.wait_for(min_position)
        async with self.runtime.pool.acquire() as conn:
            row = await conn.fetchrow("SELECT * FROM environment WHERE id = $1 AND deleted_at IS NULL", environment_id)
        if row is None:
            raise NotFoundError(f"environment {environment_id} not found", key="environmentId")
        return rows.environment_view(row)

    async def require_live(self, environment_id: str) -> None:
        """Checked against the event log, not the read model: a write must not race the projection."""
        loaded = await self.runtime.store.load(ref(environment_id))
        domain.require_live(ENVIRONMENTS.fold(loaded), environment_id)

    async def _execute(
        self, environment_id: str, decide: Callable[[domain.EnvironmentState], Sequence[Event]], context: AppendContext
    ) -> Executed[domain.EnvironmentState]:
        return await execute(self.runtime.store, ref(environment_id), ENVIRONMENTS, decide, context)
