"""`/v1/sheets` metadata endpoints: list, get, update, delete, lock and unlock.

Records, counts, cells, download and commits under `/v1/sheets/{id}/…` live in routes/records.py.
Sheets are answered with Flatfile's `recordCounts` (composed from the record service: compose.py).
"""

from __future__ import annotations

from typing import Annotated, Any

import msgspec
from litestar import Request, delete, get, patch, post
from litestar.params import QueryParameter

from gateway_service import compose
from gateway_service.auth import principal_of, view_in_space
from gateway_service.body import SUCCESS, data, decode
from gateway_service.query import AsOf, as_of_param
from gateway_service.routes.workbooks import of_space, readable, settled
from gateway_service.state import Gateway
from spaceport.contracts.space import Principal
from spaceport.contracts.workbook import (
    SERVICE,
    DeleteSheet,
    GetSheet,
    LockSheet,
    SheetView,
    UnlockSheet,
    UpdateSheet,
    WorkbookWritten,
)


class SheetPatchBody(msgspec.Struct, frozen=True, kw_only=True, rename="camel", forbid_unknown_fields=False):
    name: str | None = None
    slug: str | None = None
    metadata: dict[str, Any] | None = None


async def sheet_for(
    gateway: Gateway, principal: Principal, sheet_id: str, *, write: bool, as_of: AsOf | None = None
) -> SheetView:
    """The sheet (as of `as_of`), if `principal` may read (or write) it; 404 for another environment's."""
    query = GetSheet(sheet_id=sheet_id, as_of=as_of.value if as_of else None)
    view = await view_in_space(gateway, principal, SERVICE, query, SheetView, asked=("sheet", sheet_id), write=write)
    of_space(view.space_id, as_of)
    return view


@get("/v1/sheets")
async def list_sheets(
    request: Request[Any, Any, Any], gateway: Gateway, workbook_id: Annotated[str, QueryParameter(name="workbookId")]
) -> dict[str, object]:
    principal = await principal_of(request, gateway)
    as_of = await as_of_param(request, gateway)
    workbook = await readable(gateway, principal, workbook_id, write=False, as_of=as_of)
    return data(await compose.sheets(gateway, workbook.sheets or [], as_of.value))


@get("/v1/sheets/{sheet_id:str}")
async def get_sheet(request: Request[Any, Any, Any], gateway: Gateway, sheet_id: str) -> dict[str, object]:
    principal = await principal_of(request, gateway)
    as_of = await as_of_param(request, gateway)
    return data(
        await compose.sheet(
            gateway, await sheet_for(gateway, principal, sheet_id, write=False, as_of=as_of), as_of.value
        )
    )


@patch("/v1/sheets/{sheet_id:str}")
async def update_sheet(request: Request[Any, Any, Any], gateway: Gateway, sheet_id: str) -> dict[str, object]:
    principal = await principal_of(request, gateway)
    body = await decode(request, SheetPatchBody)
    await sheet_for(gateway, principal, sheet_id, write=True)
    command = UpdateSheet(
        principal=principal, sheet_id=sheet_id, name=body.name, slug=body.slug, metadata=body.metadata
    )
    written = await gateway.rpc.request(SERVICE, command, WorkbookWritten)
    query = GetSheet(sheet_id=sheet_id, min_position=written.position)
    return data(await compose.sheet(gateway, await gateway.rpc.request(SERVICE, query, SheetView)))


@delete("/v1/sheets/{sheet_id:str}", status_code=200)
async def delete_sheet(request: Request[Any, Any, Any], gateway: Gateway, sheet_id: str) -> dict[str, object]:
    principal = await principal_of(request, gateway)
    sheet = await sheet_for(gateway, principal, sheet_id, write=True)
    written = await gateway.rpc.request(SERVICE, DeleteSheet(principal=principal, sheet_id=sheet_id), WorkbookWritten)
    await settled(gateway, sheet.workbook_id, written)
    return SUCCESS


async def _set_lock(
    request: Request[Any, Any, Any], gateway: Gateway, sheet_id: str, command_type: type[LockSheet | UnlockSheet]
) -> dict[str, object]:
    principal = await principal_of(request, gateway)
    await sheet_for(gateway, principal, sheet_id, write=True)
    written = await gateway.rpc.request(SERVICE, command_type(principal=principal, sheet_id=sheet_id), WorkbookWritten)
    await gateway.rpc.request(SERVICE, GetSheet(sheet_id=sheet_id, min_position=written.position), SheetView)
    return SUCCESS


@post("/v1/sheets/{sheet_id:str}/lock", status_code=200)
async def lock_sheet(request: Request[Any, Any, Any], gateway: Gateway, sheet_id: str) -> dict[str, object]:
    return await _set_lock(request, gateway, sheet_id, LockSheet)


@post("/v1/sheets/{sheet_id:str}/unlock", status_code=200)
async def unlock_sheet(request: Request[Any, Any, Any], gateway: Gateway, sheet_id: str) -> dict[str, object]:
    return await _set_lock(request, gateway, sheet_id, UnlockSheet)


ROUTES = [list_sheets, get_sheet, update_sheet, delete_sheet, lock_sheet, unlock_sheet]
