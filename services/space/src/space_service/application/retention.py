"""Data retention policies (CRUD on the environment's `retention` aggregate) and the expiry sweep.

Only a secret key of the environment reads or writes policies. The sweep asks the read model
which spaces are past their environment's policy, then for each appends `SpaceExpired` (once:
decided on the space's own events) and deletes the space through `SpaceHandlers.change_lifecycle`,
the path `DELETE /v1/spaces/{id}` takes. A sweep that stopped between the two finishes the
delete on the next run without expiring the space twice.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Protocol

import msgspec

from space_service.application.ports import WaitFor
from space_service.application.secrets import require_secret_key
from space_service.application.spaces import SpaceHandlers
from space_service.application.spaces import ref as space_ref
from space_service.domain import limits
from space_service.domain import retention as domain
from spaceport import ids
from spaceport.aggregate import Executed, Folder, execute
from spaceport.contracts.space import (
    ChangeSpaceLifecycle,
    CreateDataRetentionPolicy,
    DataRetentionPolicyView,
    DataRetentionPolicyWritten,
    DeleteDataRetentionPolicy,
    GetDataRetentionPolicy,
    ListDataRetentionPolicies,
    Principal,
    UpdateDataRetentionPolicy,
)
from spaceport.contracts.space.retention import AGGREGATE
from spaceport.errors import NotFoundError
from spaceport.events import Event
from spaceport.ports import AggregateRef, AppendContext, EventStorePort

log = logging.getLogger(__name__)
POLICIES = Folder(domain.initial, domain.evolve)
EXPIRY = Folder(domain.expiry_initial, domain.expiry_evolve)
SWEEPER = "system:retention"  # the actor of expiries
BATCH = 100


class Due(msgspec.Struct, frozen=True, kw_only=True):
    """A live space past its environment's policy."""

    space_id: str
    environment_id: str
    policy_id: str
    policy_type: str
    period: int


class RetentionReads(Protocol):
    async def policy(self, environment_id: str, policy_id: str) -> DataRetentionPolicyView | None: ...

    async def policies(self, environment_id: str) -> list[DataRetentionPolicyView]: ...

    async def due(self, now: datetime, limit: int) -> list[Due]:
        """Live spaces whose policy's clock (last activity or creation) is `period` days before `now`."""
        ...


def ref(environment_id: str) -> AggregateRef:
    return AggregateRef(environment_id=environment_id, space_id=None, aggregate=AGGREGATE, aggregate_id=environment_id)


class RetentionHandlers:
    def __init__(self, store: EventStorePort, reads: RetentionReads, caught_up: WaitFor, spaces: SpaceHandlers) -> None:
        self.store = store
        self.reads = reads
        self.caught_up = caught_up
        self.spaces = spaces

    async def create(self, cmd: CreateDataRetentionPolicy) -> DataRetentionPolicyWritten:
        require_secret_key(cmd.principal, cmd.environment_id)
        domain.check(cmd.type, cmd.period)
        await self.spaces.environments.require_live(cmd.environment_id)
        key = cmd.idempotency_key
        policy_id = (
            ids.derived_id("data_retention_policy", f"{cmd.environment_id}:{key}")
            if key
            else ids.new_id("data_retention_policy")
        )
        done = await self._execute(
            cmd.environment_id,
            lambda state: domain.create(state, policy_id, cmd.environment_id, cmd.type, cmd.period),
            cmd.principal,
            key,
        )
        return DataRetentionPolicyWritten(policy_id=policy_id, position=done.position)

    async def update(self, cmd: UpdateDataRetentionPolicy) -> DataRetentionPolicyWritten:
        require_secret_key(cmd.principal, cmd.environment_id)
        self._require_id(cmd.policy_id)
        done = await self._execute(
            cmd.environment_id, lambda state: domain.update(state, cmd.policy_id, cmd.type, cmd.period), cmd.principal
        )
        return DataRetentionPolicyWritten(policy_id=cmd.policy_id, position=done.position)

    async def delete(self, cmd: DeleteDataRetentionPolicy) -> DataRetentionPolicyWritten:
        require_secret_key(cmd.principal, cmd.environment_id)
        self._require_id(cmd.policy_id)
        done = await self._execute(cmd.environment_id, lambda state: domain.delete(state, cmd.policy_id), cmd.principal)
        return DataRetentionPolicyWritten(policy_id=cmd.policy_id, position=done.position)

    async def get(self, query: GetDataRetentionPolicy) -> DataRetentionPolicyView:
        require_secret_key(query.principal, query.environment_id)
        self._require_id(query.policy_id)
        await self.caught_up(query.min_position)
        view = await self.reads.policy(query.environment_id, query.policy_id)
        if view is None:
            raise NotFoundError(f"data retention policy {query.policy_id} not found", key="id")
        return view

    async def list_policies(self, query: ListDataRetentionPolicies) -> list[DataRetentionPolicyView]:
        require_secret_key(query.principal, query.environment_id)
        await self.caught_up(query.min_position)
        return await self.reads.policies(query.environment_id)

    # ---- expiry ----------------------------------------------------------------------------

    async def sweep(self, now: datetime) -> tuple[list[str], int]:
        """One pass over every due space (in batches); the spaces expired and the last position."""
        expired: list[str] = []
        position = 0
        while due := await self.reads.due(now, BATCH):
            done = 0
            for space in due:
                try:
                    at = await self.expire(space)
                except Exception:
                    log.exception("expiring space %s failed; the next sweep retries", space.space_id)
                    continue
                if at:
                    expired.append(space.space_id)
                    position, done = max(position, at), done + 1
            if not done:  # what is left failed, or the read model has not caught up yet
                break
        return expired, position

    async def expire(self, due: Due) -> int:
        """`SpaceExpired` (once), then the normal delete; the delete's position (0: nothing to do)."""
        policy = domain.Policy(type=due.policy_type, period=due.period)
        done = await execute(
            self.store,
            space_ref(due.environment_id, due.space_id),
            EXPIRY,
            lambda state: domain.expire(state, due.space_id, due.policy_id, policy),
            AppendContext(actor=SWEEPER),
        )
        if done.state.deleted or not done.state.exists:
            return 0
        principal = Principal(environment_id=due.environment_id, kind="secret", actor=SWEEPER)
        command = ChangeSpaceLifecycle(
            principal=principal, environment_id=due.environment_id, space_ids=[due.space_id], transition="delete"
        )
        return (await self.spaces.change_lifecycle(command)).position

    def _require_id(self, policy_id: str) -> None:
        if not limits.is_id(policy_id, ids.PREFIXES["data_retention_policy"]):
            raise NotFoundError(f"data retention policy {policy_id} not found", key="id")

    async def _execute(
        self,
        environment_id: str,
        decide: Callable[[domain.PoliciesState], Sequence[Event]],
        principal: Principal,
        idempotency_key: str | None = None,
    ) -> Executed[domain.PoliciesState]:
        context = AppendContext(actor=principal.actor, idempotency_key=idempotency_key)
        return await execute(self.store, ref(environment_id), POLICIES, decide, context)
