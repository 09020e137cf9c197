"""`/v1/views`: saved filters, searches and sorts of a sheet (the workbook service owns them).

Access is the sheet's: secret keys of its environment; guests of its space read (viewer) and
write (editor, admin). Every check goes through `view_in_space` on the sheet or the view, so
whatever limits a guest inside its space limits its views too. Another environment's sheet or
view answers 404 naming what the caller sent.
"""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import Request, delete, get, patch, post

from gateway_service import ids
from gateway_service.auth import principal_of, view_in_space
from gateway_service.body import MAX_JSON_BODY, SUCCESS, data, decode
from gateway_service.query import int_param, param
from gateway_service.state import Gateway
from spaceport.contracts.space import Principal
from spaceport.contracts.view import (
    SERVICE,
    CreateView,
    DeleteView,
    GetView,
    ListViews,
    UpdateView,
    ViewConfig,
    ViewList,
    ViewView,
    ViewWritten,
)
from spaceport.contracts.workbook import GetSheet, SheetView
from spaceport.errors import ValidationFailedError


class ViewBody(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    """Flatfile's `ViewCreate` (all three required) and `ViewUpdate` (any of name and config)."""

    sheet_id: str | None = None
    name: str | None = None
    config: ViewConfig | None = None


async def _sheet(gateway: Gateway, principal: Principal, sheet_id: str | None, *, write: bool) -> SheetView:
    if not sheet_id:
        raise ValidationFailedError("sheetId is required: a view belongs to a sheet", key="sheetId")
    if not ids.is_id(sheet_id, "sheet"):
        raise ValidationFailedError(f"sheetId {sheet_id[:80]!r} is not a sheet id", key="sheetId")
    query = GetSheet(sheet_id=sheet_id)
    return await view_in_space(gateway, principal, SERVICE, query, SheetView, asked=("sheet", sheet_id), write=write)


async def _view(gateway: Gateway, principal: Principal, view_id: str, *, write: bool) -> ViewView:
    query = GetView(view_id=view_id)
    return await view_in_space(gateway, principal, SERVICE, query, ViewView, asked=("view", view_id), write=write)


async def _read_back(gateway: Gateway, written: ViewWritten) -> dict[str, object]:
    query = GetView(view_id=written.view_id, min_position=written.position)
    return data(await gateway.rpc.request(SERVICE, query, ViewView))


@get("/v1/views")
async def list_views(request: Request[Any, Any, Any], gateway: Gateway) -> dict[str, object]:
    principal = await principal_of(request, gateway)
    sheet = await _sheet(gateway, principal, param(request, "sheetId"), write=False)
    query = ListViews(
        sheet_id=sheet.id,
        page_size=int_param(request, "pageSize", 10),
        page_number=int_param(request, "pageNumber", 1),
    )
    found = await gateway.rpc.request(SERVICE, query, ViewList)
    return {"data": found.data, "pagination": found.pagination}


@post("/v1/views", status_code=200, request_max_body_size=MAX_JSON_BODY)
async def create_view(request: Request[Any, Any, Any], gateway: Gateway) -> dict[str, object]:
    principal = await principal_of(request, gateway)
    body = await decode(request, ViewBody)
    if body.name is None:
        raise ValidationFailedError("name is required", key="name")
    if body.config is None:
        raise ValidationFailedError("config is required (an empty object saves no filters)", key="config")
    sheet = await _sheet(gateway, principal, body.sheet_id, write=True)
    command = CreateView(
        principal=principal,
        sheet_id=sheet.id,
        name=body.name,
        config=body.config,
        idempotency_key=request.headers.get("idempotency-key"),
    )
    return await _read_back(gateway, await gateway.rpc.request(SERVICE, command, ViewWritten))


@get("/v1/views/{view_id:str}")
async def get_view(request: Request[Any, Any, Any], gateway: Gateway, view_id: str) -> dict[str, object]:
    principal = await principal_of(request, gateway)
    return data(await _view(gateway, principal, view_id, write=False))


@patch("/v1/views/{view_id:str}", request_max_body_size=MAX_JSON_BODY)
async def update_view(request: Request[Any, Any, Any], gateway: Gateway, view_id: str) -> dict[str, object]:
    principal = await principal_of(request, gateway)
    body = await decode(request, ViewBody)
    view = await _view(gateway, principal, view_id, write=True)
    if body.sheet_id not in (None, view.sheet_id):
        raise ValidationFailedError("a view cannot move to another sheet; create one there", key="sheetId")
    command = UpdateView(principal=principal, view_id=view_id, name=body.name, config=body.config)
    return await _read_back(gateway, await gateway.rpc.request(SERVICE, command, ViewWritten))


@delete("/v1/views/{view_id:str}", status_code=200)
async def delete_view(request: Request[Any, Any, Any], gateway: Gateway, view_id: str) -> dict[str, object]:
    principal = await principal_of(request, gateway)
    view = await _view(gateway, principal, view_id, write=True)
    written = await gateway.rpc.request(SERVICE, DeleteView(principal=principal, view_id=view_id), ViewWritten)
    # Read-your-writes: the next read must miss it, so wait until the catalog has the delete.
    settle = ListViews(sheet_id=view.sheet_id, page_size=1, min_position=written.position)
    await gateway.rpc.request(SERVICE, settle, ViewList)
    return SUCCESS


ROUTES = [list_views, create_view, get_view, update_view, delete_view]
