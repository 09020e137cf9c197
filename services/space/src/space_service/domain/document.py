"""Document aggregate (a page mounted in a space): pure state, decide and evolve."""

from __future__ import annotations

import msgspec

from space_service.domain import limits
from spaceport.contracts.space import (
    CreateDocument,
    DocumentCreated,
    DocumentDeleted,
    DocumentFields,
    DocumentUpdated,
)
from spaceport.errors import ConflictError, NotFoundError
from spaceport.events import Event


class DocumentState(msgspec.Struct, frozen=True, kw_only=True):
    exists: bool = False
    deleted: bool = False
    space_id: str = ""


def initial() -> DocumentState:
    return DocumentState()


def evolve(state: DocumentState, event: Event) -> DocumentState:
    match event:
        case DocumentCreated(space_id=space_id):
            return DocumentState(exists=True, space_id=space_id)
        case DocumentDeleted():
            return msgspec.structs.replace(state, deleted=True)
    return state


def check(fields: DocumentFields) -> None:
    if fields.title is not None:
        limits.required_text(fields.title, "title")
    limits.text(fields.body, "body", limits.MAX_BODY_CHARS)
    limits.strings(fields.treatments, "treatments")
    limits.json_size(fields.actions, "actions")


def create(state: DocumentState, document_id: str, cmd: CreateDocument) -> list[Event]:
    if state.exists:
        raise ConflictError(f"document {document_id} already exists")
    check(DocumentFields(title=cmd.title, body=cmd.body, treatments=cmd.treatments, actions=cmd.actions))
    return [
        DocumentCreated(
            document_id=document_id,
            space_id=cmd.space_id,
            title=cmd.title,
            body=cmd.body,
            treatments=cmd.treatments,
            actions=cmd.actions,
        )
    ]


def require_live(state: DocumentState, document_id: str, space_id: str) -> None:
    if not state.exists or state.deleted or state.space_id != space_id:
        raise NotFoundError(f"document {document_id} not found", key="documentId")


def update(state: DocumentState, document_id: str, space_id: str, fields: DocumentFields) -> list[Event]:
    require_live(state, document_id, space_id)
    check(fields)
    return [DocumentUpdated(document_id=document_id, **msgspec.structs.asdict(fields))]


def delete(state: DocumentState, document_id: str, space_id: str) -> list[Event]:
    require_live(state, document_id, space_id)
    return [DocumentDeleted(document_id=document_id)]
