"""Flatfile events of files (reference §5.3): `file:created`, `file:updated`, `file:deleted`.

The context names the file and its space; `file:updated`'s payload is `{status, workbookId}`
as the update set them (null when the update left one unchanged).
"""

from __future__ import annotations

from job_service.feed.emit import Handler, Out, space_context
from job_service.feed.lookups import Lookups
from spaceport.contracts import file
from spaceport.events import Event


def _space_id(e: file.FileCreated | file.FileUpdated | file.FileDeleted, out: Out) -> str:
    return e.space_id if isinstance(e, file.FileCreated) else out.stored.envelope.space_id or ""


def _created(e: file.FileCreated, out: Out, lookups: Lookups) -> None:
    context = space_context(out, lookups, e.space_id, file_id=e.file_id)
    out.emit("file:created", context, {"fileId": e.file_id, "spaceId": e.space_id, "name": e.name, "mode": e.mode})


def _updated(e: file.FileUpdated, out: Out, lookups: Lookups) -> None:
    space_id = _space_id(e, out)
    context = space_context(out, lookups, space_id, file_id=e.file_id)
    out.emit("file:updated", context, {"status": e.status, "workbookId": e.workbook_id})


def _deleted(e: file.FileDeleted, out: Out, lookups: Lookups) -> None:
    space_id = _space_id(e, out)
    context = space_context(out, lookups, space_id, file_id=e.file_id)
    out.emit("file:deleted", context, {"fileId": e.file_id, "spaceId": space_id})


HANDLERS: dict[type[Event], Handler] = {
    file.FileCreated: _created,
    file.FileUpdated: _updated,
    file.FileDeleted: _deleted,
}
