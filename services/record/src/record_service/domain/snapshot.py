"""Snapshot aggregate (a named position of one sheet): pure state, evolve and decide."""

from __future__ import annotations

import msgspec

from spaceport.contracts.snapshot import MAX_LABEL, CreateSnapshot, SnapshotCreated, SnapshotDeleted
from spaceport.errors import ConflictError, NotFoundError, ValidationFailedError
from spaceport.events import Event


class SnapshotState(msgspec.Struct, frozen=True, kw_only=True):
    exists: bool = False
    deleted: bool = False
    sheet_id: str = ""


def initial() -> SnapshotState:
    return SnapshotState()


def evolve(state: SnapshotState, event: Event) -> SnapshotState:
    match event:
        case SnapshotCreated() as e:
            return SnapshotState(exists=True, sheet_id=e.sheet_id)
        case SnapshotDeleted():
            return msgspec.structs.replace(state, deleted=True)
    return state


def check_text(value: str | None, key: str) -> None:
    if value is not None and len(value) > MAX_LABEL:
        raise ValidationFailedError(f"{key} is longer than {MAX_LABEL} characters", key=key)


def create(state: SnapshotState, snapshot_id: str, workbook_id: str, space_id: str, cmd: CreateSnapshot) -> list[Event]:
    """The sheet was found live by the caller; a retried create (same key) finds its snapshot."""
    if state.exists:
        raise ConflictError(f"snapshot {snapshot_id} already exists", key="snapshotId")
    check_text(cmd.label, "label")
    check_text(cmd.thread_id, "threadId")
    return [
        SnapshotCreated(
            snapshot_id=snapshot_id,
            sheet_id=cmd.sheet_id,
            workbook_id=workbook_id,
            space_id=space_id,
            label=cmd.label,
            thread_id=cmd.thread_id,
            created_by=cmd.principal.actor,
        )
    ]


def delete(state: SnapshotState, snapshot_id: str) -> list[Event]:
    if not state.exists or state.deleted:
        raise NotFoundError(f"snapshot {snapshot_id} not found", key="snapshotId")
    return [SnapshotDeleted(snapshot_id=snapshot_id, sheet_id=state.sheet_id)]
