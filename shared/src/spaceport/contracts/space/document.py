"""Documents (aggregate `document`; scope: their space)."""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar

import msgspec

from spaceport.contracts.space.common import Json, Wire
from spaceport.contracts.space.principal import Principal
from spaceport.events import Event

# ---- events ----------------------------------------------------------------------------


class DocumentCreated(Event, frozen=True, kw_only=True):
    aggregate: ClassVar[str] = "document"
    document_id: str
    space_id: str
    title: str
    body: str
    treatments: list[str] = msgspec.field(default_factory=list)
    actions: list[Json] = msgspec.field(default_factory=list)


class DocumentUpdated(Event, frozen=True, kw_only=True):
    aggregate: ClassVar[str] = "document"
    document_id: str
    title: str | None = None
    body: str | None = None
    treatments: list[str] | None = None
    actions: list[Json] | None = None


class DocumentDeleted(Event, frozen=True, kw_only=True):
    aggregate: ClassVar[str] = "document"
    document_id: str


# ---- views (wire shapes) ---------------------------------------------------------------


class DocumentView(Wire, frozen=True, kw_only=True):
    id: str
    space_id: str
    environment_id: str
    title: str
    body: str
    treatments: list[str]
    actions: list[Json]
    created_at: datetime
    updated_at: datetime


# ---- commands and queries --------------------------------------------------------------


class DocumentFields(msgspec.Struct, frozen=True, kw_only=True):
    title: str | None = None
    body: str | None = None
    treatments: list[str] | None = None
    actions: list[Json] | None = None


class CreateDocument(msgspec.Struct, frozen=True, kw_only=True):
    principal: Principal
    environment_id: str
    space_id: str
    title: str
    body: str
    treatments: list[str] = msgspec.field(default_factory=list)
    actions: list[Json] = msgspec.field(default_factory=list)
    idempotency_key: str | None = None


class UpdateDocument(msgspec.Struct, frozen=True, kw_only=True):
    principal: Principal
    environment_id: str
    space_id: str
    document_id: str
    fields: DocumentFields


class DeleteDocument(msgspec.Struct, frozen=True, kw_only=True):
    principal: Principal
    environment_id: str
    space_id: str
    document_id: str


class DocumentWritten(msgspec.Struct, frozen=True, kw_only=True):
    document_id: str
    position: int


class GetDocument(msgspec.Struct, frozen=True, kw_only=True):
    environment_id: str
    space_id: str
    document_id: str
    min_position: int = 0


class ListDocuments(msgspec.Struct, frozen=True, kw_only=True):
    environment_id: str
    space_id: str
    min_position: int = 0
