"""Secrets: upserts and deletes on the Secret aggregate (scope: its space, else its environment),
lists from the read model with the values opened.

Only a secret key of the secret's environment reads or writes them (the gateway checks it too):
a publishable key or a guest is refused, another environment is not found.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from space_service.application import secretbox
from space_service.application.ports import SecretReads, SecretRow, WaitFor
from space_service.application.secretbox import SecretBox
from space_service.application.spaces import SpaceHandlers
from space_service.domain import limits
from space_service.domain import secret as domain
from spaceport import ids
from spaceport.aggregate import Executed, Folder, execute
from spaceport.contracts.space import DeleteSecret, ListSecrets, Principal, SecretView, SecretWritten, UpsertSecret
from spaceport.errors import ForbiddenError, NotFoundError
from spaceport.events import Event
from spaceport.ports import AggregateRef, AppendContext, EventStorePort

SECRETS = Folder(domain.initial, domain.evolve)


def ref(scope: domain.Scope, secret_id: str) -> AggregateRef:
    return AggregateRef(
        environment_id=scope.environment_id, space_id=scope.space_id, aggregate="secret", aggregate_id=secret_id
    )


def require_secret_key(principal: Principal, environment_id: str) -> None:
    if principal.kind != "secret":
        raise ForbiddenError("secrets need a secret key (sk_…) of their environment")
    if principal.environment_id != environment_id:
        raise NotFoundError(f"environment {environment_id} not found", key="environmentId")


def rank(row: SecretRow) -> int:
    """How specific a secret is: the environment's < the space's < the actor's < the actor's in the space."""
    return (1 if row.space_id is not None else 0) + (2 if row.actor_id is not None else 0)


def effective(rows: Sequence[SecretRow]) -> list[SecretRow]:
    """One secret per name, the most specific one, by name."""
    chosen: dict[str, SecretRow] = {}
    for row in rows:
        if row.name not in chosen or rank(row) > rank(chosen[row.name]):
            chosen[row.name] = row
    return [chosen[name] for name in sorted(chosen)]


class SecretHandlers:
    def __init__(
        self,
        store: EventStorePort,
        reads: SecretReads,
        caught_up: WaitFor,
        spaces: SpaceHandlers,
        box: SecretBox | None,
    ) -> None:
        self.store = store
        self.reads = reads
        self.caught_up = caught_up
        self.spaces = spaces
        self.box = box

    async def upsert(self, cmd: UpsertSecret) -> SecretWritten:
        require_secret_key(cmd.principal, cmd.environment_id)
        domain.check_name(cmd.name)
        domain.check_value(cmd.value)
        domain.check_actor(cmd.actor_id)
        box = secretbox.require(self.box)
        await self._require_scope(cmd.environment_id, cmd.space_id)
        scope = domain.Scope(environment_id=cmd.environment_id, space_id=cmd.space_id, actor_id=cmd.actor_id)
        secret_id = domain.secret_id(scope, cmd.name)
        ciphertext = box.seal(cmd.value, secret_id)
        done = await self._execute(
            scope,
            secret_id,
            lambda state: domain.upsert(state, secret_id, scope, cmd.name, ciphertext),
            cmd.principal,
        )
        view = SecretView(
            id=secret_id,
            name=cmd.name,
            value=cmd.value,
            environment_id=cmd.environment_id,
            space_id=cmd.space_id,
            actor_id=cmd.actor_id,
        )
        return SecretWritten(secret=view, position=done.position)

    async def delete(self, cmd: DeleteSecret) -> SecretWritten:
        """Needs no key: a secret can be deleted even when it can no longer be opened."""
        require_secret_key(cmd.principal, cmd.environment_id)
        found = None
        if limits.is_id(cmd.secret_id, ids.PREFIXES["secret"]):
            found = await self.reads.secret(cmd.environment_id, cmd.secret_id)
        if found is None:
            raise NotFoundError(f"secret {cmd.secret_id} not found", key="secretId")
        scope = domain.Scope(environment_id=found.environment_id, space_id=found.space_id, actor_id=found.actor_id)
        done = await self._execute(
            scope, cmd.secret_id, lambda state: domain.delete(state, cmd.secret_id, cmd.environment_id), cmd.principal
        )
        return SecretWritten(secret=None, position=done.position)

    async def list_secrets(self, query: ListSecrets) -> list[SecretView]:
        require_secret_key(query.principal, query.environment_id)
        domain.check_actor(query.actor_id)
        await self.caught_up(query.min_position)
        if query.space_id is not None:
            await self.spaces.require_listed(query.environment_id, query.space_id)
        rows = effective(await self.reads.secrets(query.environment_id, query.space_id, query.actor_id))
        if not rows:
            return []
        box = secretbox.require(self.box)
        return [_view(row, box.open(row.ciphertext, row.id)) for row in rows]

    async def _require_scope(self, environment_id: str, space_id: str | None) -> None:
        """The environment, or the space in it, is live (per the event log)."""
        if space_id is None:
            await self.spaces.environments.require_live(environment_id)
        else:
            await self.spaces.require_live(environment_id, space_id)

    async def _execute(
        self,
        scope: domain.Scope,
        secret_id: str,
        decide: Callable[[domain.SecretState], Sequence[Event]],
        principal: Principal,
    ) -> Executed[domain.SecretState]:
        return await execute(self.store, ref(scope, secret_id), SECRETS, decide, AppendContext(actor=principal.actor))


def _view(row: SecretRow, value: str) -> SecretView:
    return SecretView(
        id=row.id,
        name=row.name,
        value=value,
        environment_id=row.environment_id,
        space_id=row.space_id,
        actor_id=row.actor_id,
    )
