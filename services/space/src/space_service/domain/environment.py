"""Environment aggregate: pure state, decide and evolve. Its API keys live in it too."""

from __future__ import annotations

import msgspec

from space_service.domain import limits
from spaceport.contracts.space import (
    ApiKeyIssued,
    ApiKeyRevoked,
    CreateEnvironment,
    EnvironmentCreated,
    EnvironmentDeleted,
    EnvironmentUpdated,
    KeyKind,
    UpdateEnvironment,
)
from spaceport.errors import ConflictError, NotFoundError, ValidationFailedError
from spaceport.events import Event

MAX_KEYS = 50  # live keys per environment


class EnvironmentState(msgspec.Struct, frozen=True, kw_only=True):
    exists: bool = False
    deleted: bool = False
    name: str = ""
    keys: tuple[tuple[str, KeyKind], ...] = ()  # active (key id, kind)

    @property
    def key_ids(self) -> tuple[str, ...]:
        return tuple(key_id for key_id, _ in self.keys)


def initial() -> EnvironmentState:
    return EnvironmentState()


def evolve(state: EnvironmentState, event: Event) -> EnvironmentState:
    match event:
        case EnvironmentCreated(name=name):
            return msgspec.structs.replace(state, exists=True, deleted=False, name=name)
        case EnvironmentUpdated(name=str() as name):
            return msgspec.structs.replace(state, name=name)
        case EnvironmentDeleted():
            return msgspec.structs.replace(state, deleted=True, keys=())
        case ApiKeyIssued(key_id=key_id, kind=kind):
            return msgspec.structs.replace(state, keys=(*state.keys, (key_id, kind)))
        case ApiKeyRevoked(key_id=key_id):
            return msgspec.structs.replace(state, keys=tuple(k for k in state.keys if k[0] != key_id))
    return state


def _check(name: str | None, metadata: object, namespaces: list[str] | None, translations: str | None) -> None:
    limits.text(name, "name")
    limits.json_size(metadata, "metadata")
    limits.strings(namespaces, "namespaces")
    limits.text(translations, "translationsPath", 2048)


def create(
    state: EnvironmentState, environment_id: str, cmd: CreateEnvironment, keys: list[ApiKeyIssued]
) -> list[Event]:
    """An environment is created once, together with its first keys."""
    if state.exists:
        raise ConflictError(f"environment {environment_id} already exists")
    limits.required_text(cmd.name, "name")
    _check(cmd.name, cmd.metadata, cmd.namespaces, cmd.translations_path)
    created = EnvironmentCreated(
        environment_id=environment_id,
        name=cmd.name,
        is_prod=cmd.is_prod,
        guest_authentication=cmd.guest_authentication,
        metadata=cmd.metadata,
        namespaces=cmd.namespaces,
        translations_path=cmd.translations_path,
        language_override=cmd.language_override,
    )
    return [created, *keys]


def require_live(state: EnvironmentState, environment_id: str) -> None:
    if not state.exists or state.deleted:
        raise NotFoundError(f"environment {environment_id} not found", key="environmentId")


def update(state: EnvironmentState, cmd: UpdateEnvironment) -> list[Event]:
    require_live(state, cmd.environment_id)
    if cmd.name is not None:
        limits.required_text(cmd.name, "name")
    _check(cmd.name, cmd.metadata, cmd.namespaces, cmd.translations_path)
    changes = msgspec.structs.asdict(cmd)
    del changes["actor"]
    return [EnvironmentUpdated(**changes)]


def delete(state: EnvironmentState, environment_id: str) -> list[Event]:
    require_live(state, environment_id)
    return [EnvironmentDeleted(environment_id=environment_id)]


def rotate(state: EnvironmentState, environment_id: str, fresh: list[ApiKeyIssued]) -> list[Event]:
    """Revoke the active keys of the kinds in `fresh` and issue `fresh` in their place."""
    require_live(state, environment_id)
    kinds = {key.kind for key in fresh}
    revoked: list[Event] = [ApiKeyRevoked(key_id=key_id) for key_id, kind in state.keys if kind in kinds]
    return [*revoked, *fresh]


def issue(state: EnvironmentState, environment_id: str, key: ApiKeyIssued) -> list[Event]:
    """One more key; the environment's other keys keep working."""
    require_live(state, environment_id)
    if len(state.keys) >= MAX_KEYS:
        raise ValidationFailedError(
            f"an environment holds at most {MAX_KEYS} live keys: delete one first", key="environmentId"
        )
    return [key]


def revoke(state: EnvironmentState, environment_id: str, key_id: str) -> list[Event]:
    """Revoke one live key, unless it is the last secret key (nobody could manage the environment then)."""
    require_live(state, environment_id)
    kind = next((k for i, k in state.keys if i == key_id), None)
    if kind is None:
        raise NotFoundError(f"API key {key_id} not found", key="key")
    if kind == "secret" and sum(k == "secret" for _, k in state.keys) == 1:
        raise ValidationFailedError(
            f"{key_id} is the environment's last secret key: create another one"
            " (POST /v1/auth/api-key?type=SECRET) before deleting it",
            key="key",
        )
    return [ApiKeyRevoked(key_id=key_id)]
