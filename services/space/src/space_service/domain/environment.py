"""Environment aggregate: pure state, decide and evolve."""

from __future__ import annotations

import msgspec

from spaceport.contracts.space import ApiKeyIssued, CreateEnvironment, EnvironmentCreated
from spaceport.errors import ConflictError
from spaceport.events import Event


class EnvironmentState(msgspec.Struct, frozen=True, kw_only=True):
    exists: bool = False
    name: str = ""
    key_ids: tuple[str, ...] = ()


def initial() -> EnvironmentState:
    return EnvironmentState()


def evolve(state: EnvironmentState, event: Event) -> EnvironmentState:
    match event:
        case EnvironmentCreated(name=name):
            return msgspec.structs.replace(state, exists=True, name=name)
        case ApiKeyIssued(key_id=key_id):
            return msgspec.structs.replace(state, key_ids=(*state.key_ids, key_id))
    return state


def create(
    state: EnvironmentState, environment_id: str, cmd: CreateEnvironment, keys: list[ApiKeyIssued]
) -> list[Event]:
    """An environment is created once, together with its first keys."""
    if state.exists:
        raise ConflictError(f"environment {environment_id} already exists")
    created = EnvironmentCreated(
        environment_id=environment_id,
        name=cmd.name,
        is_prod=cmd.is_prod,
        guest_authentication=cmd.guest_authentication,
        metadata=cmd.metadata,
    )
    return [created, *keys]
