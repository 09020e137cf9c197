"""`/v1/spaces/{spaceId}/documents`: pages mounted in a space, with their actions."""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import Request, delete, get, patch, post

from gateway_service.auth import space_principal
from gateway_service.body import MAX_JSON_BODY, SUCCESS, data, decode
from gateway_service.state import Gateway
from spaceport.contracts.space import (
    SERVICE,
    CreateDocument,
    DeleteDocument,
    DocumentFields,
    DocumentView,
    DocumentWritten,
    GetDocument,
    ListDocuments,
    Principal,
    UpdateDocument,
)

BASE = "/v1/spaces/{space_id:str}/documents"


class DocumentBody(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    title: str | None = None
    body: str | None = None
    treatments: list[str] | None = None
    actions: list[dict[str, Any]] | None = None


class NewDocumentBody(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    title: str
    body: str
    treatments: list[str] = msgspec.field(default_factory=list)
    actions: list[dict[str, Any]] = msgspec.field(default_factory=list)


async def _written(
    gateway: Gateway, principal: Principal, space_id: str, command: CreateDocument | UpdateDocument
) -> dict[str, object]:
    """Send a create or update and answer the document as it is after it (read-your-writes)."""
    written = await gateway.rpc.request(SERVICE, command, DocumentWritten)
    query = GetDocument(
        environment_id=principal.environment_id,
        space_id=space_id,
        document_id=written.document_id,
        min_position=written.position,
    )
    return data(await gateway.rpc.request(SERVICE, query, DocumentView))


@get(BASE)
async def list_documents(request: Request[Any, Any, Any], gateway: Gateway, space_id: str) -> dict[str, object]:
    principal = await space_principal(request, gateway, space_id, "read")
    query = ListDocuments(environment_id=principal.environment_id, space_id=space_id)
    return data(await gateway.rpc.request(SERVICE, query, list[DocumentView]))


@post(BASE, status_code=200, request_max_body_size=MAX_JSON_BODY)
async def create_document(request: Request[Any, Any, Any], gateway: Gateway, space_id: str) -> dict[str, object]:
    principal = await space_principal(request, gateway, space_id, "write")
    body = await decode(request, NewDocumentBody)
    command = CreateDocument(
        principal=principal,
        environment_id=principal.environment_id,
        space_id=space_id,
        title=body.title,
        body=body.body,
        treatments=body.treatments,
        actions=body.actions,
        idempotency_key=request.headers.get("idempotency-key"),
    )
    return await _written(gateway, principal, space_id, command)


@get(BASE + "/{document_id:str}")
async def get_document(
    request: Request[Any, Any, Any], gateway: Gateway, space_id: str, document_id: str
) -> dict[str, object]:
    principal = await space_principal(request, gateway, space_id, "read")
    query = GetDocument(environment_id=principal.environment_id, space_id=space_id, document_id=document_id)
    return data(await gateway.rpc.request(SERVICE, query, DocumentView))


@patch(BASE + "/{document_id:str}", request_max_body_size=MAX_JSON_BODY)
async def update_document(
    request: Request[Any, Any, Any], gateway: Gateway, space_id: str, document_id: str
) -> dict[str, object]:
    principal = await space_principal(request, gateway, space_id, "write")
    body = await decode(request, DocumentBody)
    command = UpdateDocument(
        principal=principal,
        environment_id=principal.environment_id,
        space_id=space_id,
        document_id=document_id,
        fields=DocumentFields(**msgspec.structs.asdict(body)),
    )
    return await _written(gateway, principal, space_id, command)


@delete(BASE + "/{document_id:str}", status_code=200)
async def delete_document(
    request: Request[Any, Any, Any], gateway: Gateway, space_id: str, document_id: str
) -> dict[str, object]:
    principal = await space_principal(request, gateway, space_id, "write")
    command = DeleteDocument(
        principal=principal, environment_id=principal.environment_id, space_id=space_id, document_id=document_id
    )
    await gateway.space_write(command, DocumentWritten)
    return SUCCESS


ROUTES = [list_documents, create_document, get_document, update_document, delete_document]
