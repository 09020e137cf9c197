"""Space aggregate: pure state, decide and evolve."""

from __future__ import annotations

import msgspec

from spaceport.contracts.space import (
    CreateSpace,
    SpaceArchived,
    SpaceCreated,
    SpaceDeleted,
    SpaceUnarchived,
    SpaceUpdated,
)
from spaceport.errors import ConflictError, NotFoundError
from spaceport.events import Event

MAX_NAME = 255


class SpaceState(msgspec.Struct, frozen=True, kw_only=True):
    exists: bool = False
    deleted: bool = False
    archived: bool = False
    environment_id: str = ""


def initial() -> SpaceState:
    return SpaceState()


def evolve(state: SpaceState, event: Event) -> SpaceState:
    match event:
        case SpaceCreated(environment_id=environment_id):
            return SpaceState(exists=True, environment_id=environment_id)
        case SpaceArchived():
            return msgspec.structs.replace(state, archived=True)
        case SpaceUnarchived():
            return msgspec.structs.replace(state, archived=False)
        case SpaceDeleted():
            return msgspec.structs.replace(state, deleted=True)
    return state


def create(state: SpaceState, space_id: str, cmd: CreateSpace) -> list[Event]:
    if state.exists:
        raise ConflictError(f"space {space_id} already exists")
    return [
        SpaceCreated(
            space_id=space_id,
            environment_id=cmd.environment_id,
            name=cmd.name,
            namespace=cmd.namespace,
            labels=cmd.labels,
            metadata=cmd.metadata,
            settings=cmd.settings,
            auto_configure=cmd.auto_configure,
            created_by=cmd.principal.actor,
        )
    ]


def require_live(state: SpaceState, space_id: str) -> None:
    if not state.exists or state.deleted:
        raise NotFoundError(f"space {space_id} not found", key="spaceId")


def update(state: SpaceState, event: SpaceUpdated) -> list[Event]:
    require_live(state, event.space_id)
    return [event]
