"""Environments and their API keys: commands on the Environment aggregate, queries on the read model."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime

import msgspec

from space_service.application import keys
from space_service.application.ports import EnvironmentReads, WaitFor
from space_service.application.revocations import Revocations
from space_service.domain import environment as domain
from space_service.domain import limits
from spaceport import ids
from spaceport.aggregate import Executed, Folder, execute
from spaceport.contracts.space import (
    ApiKeyCreated,
    ApiKeysView,
    ApiKeyView,
    AuthInvalidated,
    CreateApiKey,
    CreateEnvironment,
    DeleteEnvironment,
    EnvironmentCreatedReply,
    EnvironmentPage,
    EnvironmentView,
    GetEnvironment,
    KeysRotated,
    ListApiKeys,
    ListEnvironments,
    NewApiKeyView,
    Pagination,
    RevokeApiKey,
    RotateKeys,
    UpdateEnvironment,
    Written,
)
from spaceport.errors import NotFoundError
from spaceport.events import Event
from spaceport.ports import AggregateRef, AppendContext, EventStorePort

ENVIRONMENTS = Folder(domain.initial, domain.evolve)


def ref(environment_id: str) -> AggregateRef:
    return AggregateRef(
        environment_id=environment_id, space_id=None, aggregate="environment", aggregate_id=environment_id
    )


def page_count(total: int, page_size: int) -> int:
    return max(1, -(-total // page_size))


class EnvironmentHandlers:
    def __init__(
        self, store: EventStorePort, reads: EnvironmentReads, caught_up: WaitFor, revocations: Revocations
    ) -> None:
        self.store = store
        self.reads = reads
        self.caught_up = caught_up
        self.revocations = revocations

    async def create(self, cmd: CreateEnvironment, *, secret_key: str | None = None) -> EnvironmentCreatedReply:
        """The raw keys are answered once: a retry of a create that landed gets none."""
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
        return EnvironmentCreatedReply(
            environment=await self.view(environment_id, done.result.last_seq),
            secret_key=secret if fresh else None,
            publishable_key=publishable if fresh else None,
            position=done.result.last_seq,
        )

    async def update(self, cmd: UpdateEnvironment) -> Written:
        done = await self._execute(
            cmd.environment_id, lambda state: domain.update(state, cmd), AppendContext(actor=cmd.actor)
        )
        return Written(position=done.position)

    async def delete(self, cmd: DeleteEnvironment) -> Written:
        done = await self._execute(
            cmd.environment_id, lambda state: domain.delete(state, cmd.environment_id), AppendContext(actor=cmd.actor)
        )
        position = done.position
        change = AuthInvalidated(reason="environment_deleted", environment_id=cmd.environment_id)
        await self.revocations.announce(position, change)
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
        await self.revocations.announce(done.result.last_seq, change)
        view = ApiKeysView(
            environment_id=cmd.environment_id, secret_key=raw.get("secret"), publishable_key=raw.get("publishable")
        )
        return KeysRotated(keys=view, position=done.result.last_seq)

    async def create_key(self, cmd: CreateApiKey) -> ApiKeyCreated:
        """The raw key is answered this once; only its hash is stored."""
        raw = keys.new_key(cmd.kind)
        issued = keys.issued(raw, cmd.kind)
        done = await self._execute(
            cmd.environment_id,
            lambda state: domain.issue(state, cmd.environment_id, issued),
            AppendContext(actor=cmd.actor),
        )
        view = None
        if await self.caught_up(done.position):
            view = next((k for k in await self.reads.api_keys(cmd.environment_id) if k.id == issued.key_id), None)
        if view is None:  # the read model is late: answer from the event rather than lose the raw key
            view = keys.view(issued, cmd.environment_id, datetime.now(UTC))
        fields = msgspec.structs.asdict(view)
        return ApiKeyCreated(key=NewApiKeyView(**fields, raw_key=raw), position=done.position)

    async def revoke_key(self, cmd: RevokeApiKey) -> Written:
        """The key stops authenticating on every gateway once the read model has the revocation."""
        done = await self._execute(
            cmd.environment_id,
            lambda state: domain.revoke(state, cmd.environment_id, cmd.key_id),
            AppendContext(actor=cmd.actor),
        )
        change = AuthInvalidated(reason="keys_rotated", environment_id=cmd.environment_id)
        await self.revocations.announce(done.position, change)
        return Written(position=done.position)

    async def list_keys(self, query: ListApiKeys) -> list[ApiKeyView]:
        await self.view(query.environment_id, query.min_position)  # 404 for a deleted environment
        found = await self.reads.api_keys(query.environment_id)
        return [k for k in found if query.kind is None or k.type == query.kind.upper()]

    async def get(self, query: GetEnvironment) -> EnvironmentView:
        return await self.view(query.environment_id, query.min_position)

    async def list_environments(self, query: ListEnvironments) -> EnvironmentPage:
        limits.page(query.page_size, query.page_number)
        await self.caught_up(query.min_position)
        found, total = await self.reads.environments(query.page_size, query.page_number)
        pagination = Pagination(
            current_page=query.page_number, page_count=page_count(total, query.page_size), total_count=total
        )
        return EnvironmentPage(data=found, pagination=pagination)

    async def view(self, environment_id: str, min_position: int) -> EnvironmentView:
        await self.caught_up(min_position)
        view = await self.reads.environment(environment_id)
        if view is None:
            raise NotFoundError(f"environment {environment_id} not found", key="environmentId")
        return view

    async def require_live(self, environment_id: str) -> None:
        """Checked against the event log, not the read model: a write must not race the projection."""
        loaded = await self.store.load(ref(environment_id))
        domain.require_live(ENVIRONMENTS.fold(loaded), environment_id)

    async def _execute(
        self, environment_id: str, decide: Callable[[domain.EnvironmentState], Sequence[Event]], context: AppendContext
    ) -> Executed[domain.EnvironmentState]:
        return await execute(self.store, ref(environment_id), ENVIRONMENTS, decide, context)
