"""`/v1/workbooks`: create, list, get, update and delete workbooks (the workbook service owns them).

Authorization: reads check the workbook's space after reading it; writes read it first, so a
workbook of another environment answers 404 and a viewer's write 403 before anything is sent.

Creates and deletes also wait (in parallel with their own read-back) for the space service's read
model to apply the write, so the space's `workbooksCount` read next is already right.
"""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

import msgspec
from litestar import Request, delete, get, patch, post
from litestar.params import QueryParameter

from gateway_service import compose
from gateway_service.auth import (
    environment_of,
    principal_of,
    require_space_access,
    require_unlimited,
    sees_workbook,
    view_in_space,
)
from gateway_service.body import SUCCESS, data, decode
from gateway_service.query import AsOf, OptionalSpaceId, as_of_param
from gateway_service.state import Gateway
from spaceport.contracts.blueprint import SheetConfig
from spaceport.contracts.space import Principal
from spaceport.contracts.workbook import (
    SERVICE,
    CreateWorkbook,
    DeleteWorkbook,
    GetWorkbook,
    ListSheets,
    ListWorkbooks,
    SheetList,
    SheetPatch,
    UpdateWorkbook,
    WorkbookList,
    WorkbookView,
    WorkbookWritten,
)
from spaceport.errors import NotFoundError, ValidationFailedError


class _WorkbookFields(msgspec.Struct, frozen=True, kw_only=True, rename="camel", forbid_unknown_fields=False):
    """What a create and an update both send; a create adds sheet configs and treatments, an update sheet patches."""

    name: str | None = None
    space_id: str | None = None
    environment_id: str | None = None
    labels: list[str] | None = None
    namespace: str | None = None
    metadata: dict[str, Any] | None = None
    settings: dict[str, Any] | None = None
    actions: list[dict[str, Any]] | None = None


class WorkbookBody(_WorkbookFields, frozen=True, kw_only=True):
    sheets: list[SheetConfig] | None = None
    treatments: list[str] | None = None


class WorkbookPatchBody(_WorkbookFields, frozen=True, kw_only=True):
    sheets: list[SheetPatch] | None = None


async def readable(
    gateway: Gateway, principal: Principal, workbook_id: str, *, write: bool, as_of: AsOf | None = None
) -> WorkbookView:
    """The workbook (as of `as_of`), if `principal` may read (or write) it; 404 for another environment's."""
    query = GetWorkbook(workbook_id=workbook_id, as_of=as_of.value if as_of else None)
    view = await view_in_space(
        gateway, principal, SERVICE, query, WorkbookView, asked=("workbook", workbook_id), write=write
    )
    of_space(view.space_id, as_of)
    return view


def of_space(space_id: str, as_of: AsOf | None) -> None:
    """404 when `asOf` was a version id of another space than the one read."""
    if as_of is not None and as_of.space_id is not None and as_of.space_id != space_id:
        raise NotFoundError(f"version not found in space {space_id}", key="asOf")


async def settled(gateway: Gateway, workbook_id: str, written: WorkbookWritten) -> None:
    """Read-your-writes after a write whose result is not read back (deletes): wait for its position."""
    await gateway.rpc.request(SERVICE, ListSheets(workbook_id=workbook_id, min_position=written.position), SheetList)


@post("/v1/workbooks", status_code=200)
async def create_workbook(request: Request[Any, Any, Any], gateway: Gateway) -> dict[str, object]:
    principal = await principal_of(request, gateway)
    body = await decode(request, WorkbookBody)
    environment_of(principal, body.environment_id)
    if not body.space_id:
        raise ValidationFailedError("spaceId is required: a workbook belongs to a space", key="spaceId")
    if body.name is None:
        raise ValidationFailedError("name is required", key="name")
    require_space_access(principal, principal.environment_id, body.space_id, write=True)
    require_unlimited(principal, "create workbooks")
    command = CreateWorkbook(
        principal=principal,
        space_id=body.space_id,
        name=body.name,
        sheets=body.sheets or [],
        labels=body.labels or [],
        namespace=body.namespace,
        metadata=body.metadata or {},
        settings=body.settings or {},
        actions=body.actions or [],
        treatments=body.treatments or [],
        idempotency_key=request.headers.get("idempotency-key"),
    )
    written = await gateway.rpc.request(SERVICE, command, WorkbookWritten)
    query = GetWorkbook(workbook_id=written.workbook_id, min_position=written.position)
    view, _ = await asyncio.gather(
        gateway.rpc.request(SERVICE, query, WorkbookView), gateway.caught_up(written.position)
    )
    return data(await compose.workbook(gateway, view))


@get("/v1/workbooks")
async def list_workbooks(
    request: Request[Any, Any, Any],
    gateway: Gateway,
    *,
    space_id: OptionalSpaceId = None,
    name: str | None = None,
    namespace: str | None = None,
    label: str | None = None,
    treatment: str | None = None,
    include_sheets: Annotated[bool, QueryParameter(name="includeSheets")] = True,
) -> dict[str, object]:
    principal = await principal_of(request, gateway)
    if principal.kind != "secret":  # guests see their own space only
        space_id = space_id or principal.space_id or ""
        require_space_access(principal, principal.environment_id, space_id, write=False)
    query = ListWorkbooks(
        environment_id=principal.environment_id,
        space_id=space_id,
        name=name,
        namespace=namespace,
        label=label,
        treatment=treatment,
        include_sheets=include_sheets,
    )
    listed = await gateway.rpc.request(SERVICE, query, WorkbookList)
    shown = [w for w in listed.data if sees_workbook(principal, w.id)]  # a guest limited to some workbooks
    return data(await compose.workbooks(gateway, shown))


@get("/v1/workbooks/{workbook_id:str}")
async def get_workbook(request: Request[Any, Any, Any], gateway: Gateway, workbook_id: str) -> dict[str, object]:
    principal = await principal_of(request, gateway)
    as_of = await as_of_param(request, gateway)
    view = await readable(gateway, principal, workbook_id, write=False, as_of=as_of)
    return data(await compose.workbook(gateway, view, as_of.value))


@patch("/v1/workbooks/{workbook_id:str}")
async def update_workbook(request: Request[Any, Any, Any], gateway: Gateway, workbook_id: str) -> dict[str, object]:
    principal = await principal_of(request, gateway)
    body = await decode(request, WorkbookPatchBody)
    current = await readable(gateway, principal, workbook_id, write=True)
    if body.space_id not in (None, current.space_id):
        raise ValidationFailedError("a workbook cannot move to another space", key="spaceId")
    command = UpdateWorkbook(
        principal=principal,
        workbook_id=workbook_id,
        name=body.name,
        labels=body.labels,
        namespace=body.namespace,
        metadata=body.metadata,
        settings=body.settings,
        actions=body.actions,
        sheets=body.sheets,
        idempotency_key=request.headers.get("idempotency-key"),
    )
    written = await gateway.rpc.request(SERVICE, command, WorkbookWritten)
    query = GetWorkbook(workbook_id=workbook_id, min_position=written.position)
    return data(await compose.workbook(gateway, await gateway.rpc.request(SERVICE, query, WorkbookView)))


@delete("/v1/workbooks/{workbook_id:str}", status_code=200)
async def delete_workbook(request: Request[Any, Any, Any], gateway: Gateway, workbook_id: str) -> dict[str, object]:
    principal = await principal_of(request, gateway)
    await readable(gateway, principal, workbook_id, write=True)
    command = DeleteWorkbook(principal=principal, workbook_id=workbook_id)
    written = await gateway.rpc.request(SERVICE, command, WorkbookWritten)
    await asyncio.gather(settled(gateway, workbook_id, written), gateway.caught_up(written.position))
    return SUCCESS


@get("/v1/workbooks/{workbook_id:str}/commits")
async def workbook_commits(
    request: Request[Any, Any, Any], gateway: Gateway, workbook_id: str, completed: bool | None = None
) -> dict[str, object]:
    """Flatfile `Commit`s of every sheet of the workbook, newest first (from the record service)."""
    principal = await principal_of(request, gateway)
    view = await readable(gateway, principal, workbook_id, write=False)
    return data(await compose.workbook_commits(gateway, view, completed))


ROUTES = [create_workbook, list_workbooks, get_workbook, update_workbook, delete_workbook, workbook_commits]
