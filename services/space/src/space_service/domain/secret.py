"""Secret aggregate (a named value of an environment, a space or an actor): pure state, decide and evolve.

A secret's id derives from its scope and name (`secret_id`), so every upsert of one name in one
scope lands on the same aggregate: two concurrent first writes collide there and the loser is
decided again as an update. The value arrives sealed (`application.secretbox`); the domain
checks the clear value's limits and never sees the key.
"""

from __future__ import annotations

import re

import msgspec

from spaceport import ids
from spaceport.contracts.space import SecretCreated, SecretDeleted, SecretUpdated
from spaceport.errors import NotFoundError, ValidationFailedError
from spaceport.events import Event

MAX_NAME = 255
MAX_VALUE_BYTES = 64 * 1024
MAX_ACTOR = 128
_NAME = re.compile(r"^[A-Za-z0-9_.\-]+$")
_ACTOR = re.compile(r"^[A-Za-z0-9_\-]+$")


class Scope(msgspec.Struct, frozen=True, kw_only=True):
    """Where a secret lives: its environment, and maybe one space and/or one actor in it."""

    environment_id: str
    space_id: str | None = None
    actor_id: str | None = None


class SecretState(msgspec.Struct, frozen=True, kw_only=True):
    live: bool = False
    scope: Scope | None = None
    name: str = ""


def initial() -> SecretState:
    return SecretState()


def evolve(state: SecretState, event: Event) -> SecretState:
    match event:
        case SecretCreated() as e:
            scope = Scope(environment_id=e.environment_id, space_id=e.space_id, actor_id=e.actor_id)
            return SecretState(live=True, scope=scope, name=e.name)
        case SecretDeleted():
            return msgspec.structs.replace(state, live=False)
    return state


def secret_id(scope: Scope, name: str) -> str:
    """The one id of `name` in `scope` (names are case-sensitive, like environment variables)."""
    return ids.derived_id("secret", f"secret:{scope.environment_id}:{scope.space_id}:{scope.actor_id}:{name}")


def check_name(name: str) -> None:
    if not name:
        raise ValidationFailedError("name must not be empty", key="name")
    if len(name) > MAX_NAME:
        raise ValidationFailedError(f"name is longer than {MAX_NAME} characters", key="name")
    if not _NAME.match(name):
        raise ValidationFailedError("name may hold only letters, digits, '_', '.' and '-'", key="name")


def check_value(value: str) -> None:
    if len(value.encode()) > MAX_VALUE_BYTES:
        raise ValidationFailedError(f"value is larger than {MAX_VALUE_BYTES // 1024} KiB", key="value")


def check_actor(actor_id: str | None) -> None:
    if actor_id is not None and (not actor_id or len(actor_id) > MAX_ACTOR or not _ACTOR.match(actor_id)):
        raise ValidationFailedError("actorId must be an id (letters, digits, '_' and '-')", key="actorId")


def upsert(state: SecretState, secret_id: str, scope: Scope, name: str, ciphertext: str) -> list[Event]:
    """Created when absent (or deleted), else its value replaced."""
    if state.live:
        return [SecretUpdated(secret_id=secret_id, ciphertext=ciphertext)]
    return [
        SecretCreated(
            secret_id=secret_id,
            environment_id=scope.environment_id,
            space_id=scope.space_id,
            actor_id=scope.actor_id,
            name=name,
            ciphertext=ciphertext,
        )
    ]


def delete(state: SecretState, secret_id: str, environment_id: str) -> list[Event]:
    if not state.live or state.scope is None or state.scope.environment_id != environment_id:
        raise NotFoundError(f"secret {secret_id} not found", key="secretId")
    return [SecretDeleted(secret_id=secret_id)]
