"""File aggregate (an upload in a space): pure state, decide and evolve."""

from __future__ import annotations

import json
import re

import msgspec

from spaceport.contracts.file import (
    MAX_NAME_CHARS,
    MODES,
    ORIGINS,
    STATUSES,
    CreateFile,
    FileCreated,
    FileDeleted,
    FileUpdated,
    Json,
    UpdateFile,
)
from spaceport.contracts.space import Principal
from spaceport.errors import ConflictError, NotFoundError, ValidationFailedError
from spaceport.events import Event

MAX_ACTIONS_BYTES = 256 * 1024
_TOKEN = re.compile(r"^[A-Za-z0-9_\-]{1,255}$")  # ids become subject tokens and SQL parameters


class FileState(msgspec.Struct, frozen=True, kw_only=True):
    exists: bool = False
    deleted: bool = False
    environment_id: str = ""
    space_id: str = ""
    object_key: str = ""


def initial() -> FileState:
    return FileState()


def evolve(state: FileState, event: Event) -> FileState:
    match event:
        case FileCreated() as e:
            return FileState(exists=True, environment_id=e.environment_id, space_id=e.space_id, object_key=e.object_key)
        case FileDeleted():
            return msgspec.structs.replace(state, deleted=True)
    return state


# ---- rules -----------------------------------------------------------------------------


def check_name(name: str) -> None:
    if not name.strip():
        raise ValidationFailedError("name must not be empty", key="name")
    if len(name) > MAX_NAME_CHARS or any(c in name for c in "\x00/\\"):
        raise ValidationFailedError(f"name must be at most {MAX_NAME_CHARS} characters without / or \\", key="name")


def check_choice(value: str | None, allowed: tuple[str, ...], key: str) -> None:
    if value is not None and value not in allowed:
        raise ValidationFailedError(f"{key} must be one of {', '.join(allowed)}", key=key)


def check_token(value: str | None, key: str) -> None:
    if value is not None and not _TOKEN.match(value):
        raise ValidationFailedError(f"{key} {value[:80]!r} is not an id", key=key)


def check_actions(actions: list[Json] | None) -> None:
    if actions is not None and len(json.dumps(actions)) > MAX_ACTIONS_BYTES:
        raise ValidationFailedError(f"actions must be at most {MAX_ACTIONS_BYTES} bytes of JSON", key="actions")


def object_key(space_id: str, file_id: str, name: str) -> str:
    """Where the file's bytes live: `<space_id>/<file_id>/<name>` with the name made key-safe."""
    safe = re.sub(r"[^A-Za-z0-9._\-]", "_", name)[:200].lstrip(".") or "file"
    return f"{space_id}/{file_id}/{safe}"


# ---- decisions -------------------------------------------------------------------------


def create(state: FileState, cmd: CreateFile) -> list[Event]:
    if state.exists:
        raise ConflictError(f"file {cmd.file_id} already exists", key="fileId")
    check_name(cmd.name)
    check_choice(cmd.mode, MODES, "mode")
    check_choice(cmd.origin, ORIGINS, "origin")
    check_actions(cmd.actions)
    if not cmd.object_key.startswith(f"{cmd.space_id}/{cmd.file_id}/"):
        raise ValidationFailedError("the object key is not this file's", key="objectKey")
    if cmd.size < 0:
        raise ValidationFailedError("size must not be negative", key="size")
    return [
        FileCreated(
            file_id=cmd.file_id,
            space_id=cmd.space_id,
            environment_id=cmd.environment_id,
            name=cmd.name,
            mode=cmd.mode,
            encoding=cmd.encoding,
            size=cmd.size,
            mimetype=cmd.mimetype,
            object_key=cmd.object_key,
            actions=cmd.actions,
            origin=cmd.origin,
            created_by=cmd.principal.actor,
        )
    ]


def require_live(state: FileState, file_id: str, principal: Principal) -> None:
    """The file exists, is not deleted and is visible to `principal` (else 404, never 403)."""
    hidden = state.environment_id != principal.environment_id or (
        principal.kind == "guest" and state.space_id != principal.space_id
    )
    if not state.exists or state.deleted or hidden:
        raise NotFoundError(f"file {file_id} not found", key="fileId")


def update(state: FileState, cmd: UpdateFile) -> list[Event]:
    require_live(state, cmd.file_id, cmd.principal)
    if cmd.name is not None:
        check_name(cmd.name)
    check_choice(cmd.status, STATUSES, "status")
    check_choice(cmd.mode, MODES, "mode")
    check_token(cmd.workbook_id, "workbookId")
    check_token(cmd.sheet_id, "sheetId")
    check_actions(cmd.actions)
    changes = FileUpdated(
        file_id=cmd.file_id,
        name=cmd.name,
        status=cmd.status,
        mode=cmd.mode,
        workbook_id=cmd.workbook_id,
        sheet_id=cmd.sheet_id,
        actions=cmd.actions,
    )
    return [changes]


def delete(state: FileState, file_id: str, principal: Principal) -> list[Event]:
    require_live(state, file_id, principal)
    return [FileDeleted(file_id=file_id)]
