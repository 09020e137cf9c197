"""`/v1/guests`: invite (a JSON array), list by space, get, update, delete, issue a guest token.

A grant's `role` (admin | editor | viewer, default editor) is Spaceport's addition to Flatfile's
`spaces: [{id, workbooks?}]`; the SDK models accept it as an extra field. A grant that names
`workbooks` limits the guest to those workbooks of the space; each must be a live workbook of that
space (404 otherwise, checked here against the workbook service before anything is written).
"""

from __future__ import annotations

from typing import Annotated, Any

import msgspec
from litestar import Request, delete, get, patch, post
from litestar.params import QueryParameter

from gateway_service.auth import admin_principal, environment_of, secret_principal, space_principal
from gateway_service.body import MAX_JSON_BODY, SUCCESS, data, decode
from gateway_service.query import OptionalSpaceId
from gateway_service.state import Gateway
from spaceport.contracts import workbook
from spaceport.contracts.space import (
    SERVICE,
    DeleteGuest,
    GetGuest,
    GuestGrant,
    GuestRole,
    GuestSpec,
    GuestsWritten,
    GuestTokenView,
    GuestView,
    InviteGuests,
    IssueGuestToken,
    ListGuests,
    Principal,
    UpdateGuest,
)
from spaceport.errors import NotFoundError, ValidationFailedError
from spaceport.ids import PREFIXES

MAX_WORKBOOKS = 100  # per grant


class WorkbookRef(msgspec.Struct, frozen=True, kw_only=True):
    id: str


class GuestSpaceBody(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    id: str
    role: GuestRole = "editor"
    workbooks: list[WorkbookRef] | None = None

    def grant(self) -> GuestGrant:
        return GuestGrant(space_id=self.id, role=self.role, workbook_ids=[w.id for w in self.workbooks or []])


class GuestBody(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    environment_id: str | None = None
    email: str
    name: str
    spaces: list[GuestSpaceBody]


class GuestPatchBody(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    environment_id: str | None = None
    email: str | None = None
    name: str | None = None
    spaces: list[GuestSpaceBody] | None = None


async def _check_workbooks(gateway: Gateway, principal: Principal, spaces: list[GuestSpaceBody]) -> None:
    """Every workbook a grant names is a live workbook of that grant's space (and environment)."""
    for space in spaces:
        named = [w.id for w in space.workbooks or []]
        if len(named) > MAX_WORKBOOKS:
            raise ValidationFailedError(f"a grant names at most {MAX_WORKBOOKS} workbooks", key="workbooks")
        for workbook_id in dict.fromkeys(named):
            if not workbook_id.startswith(PREFIXES["workbook"] + "_") or len(workbook_id) > 100:
                raise NotFoundError(f"workbook {workbook_id[:80]!r} not found", key="workbooks")
            try:
                found = await gateway.rpc.request(
                    workbook.SERVICE, workbook.GetWorkbook(workbook_id=workbook_id), workbook.WorkbookView
                )
            except NotFoundError:
                found = None
            if found is None or (found.environment_id, found.space_id) != (principal.environment_id, space.id):
                raise NotFoundError(f"workbook {workbook_id} not found in space {space.id}", key="workbooks")


async def _views(gateway: Gateway, principal: Principal, written: GuestsWritten) -> list[GuestView]:
    return [
        await gateway.rpc.request(
            SERVICE,
            GetGuest(
                principal=principal,
                environment_id=principal.environment_id,
                guest_id=guest_id,
                min_position=written.position,
            ),
            GuestView,
        )
        for guest_id in written.guest_ids
    ]


@post("/v1/guests", status_code=200, request_max_body_size=MAX_JSON_BODY)
async def invite_guests(request: Request[Any, Any, Any], gateway: Gateway) -> dict[str, object]:
    principal = await admin_principal(request, gateway)
    bodies = await decode(request, list[GuestBody])
    specs = []
    for body in bodies:
        environment_of(principal, body.environment_id)
        await _check_workbooks(gateway, principal, body.spaces)
        specs.append(GuestSpec(email=body.email, name=body.name, spaces=[s.grant() for s in body.spaces]))
    command = InviteGuests(principal=principal, environment_id=principal.environment_id, guests=specs)
    written = await gateway.rpc.request(SERVICE, command, GuestsWritten)
    return data(await _views(gateway, principal, written))


@get("/v1/guests")
async def list_guests(
    request: Request[Any, Any, Any],
    gateway: Gateway,
    space_id: Annotated[str, QueryParameter(name="spaceId")],
    email: str | None = None,
) -> dict[str, object]:
    principal = await space_principal(request, gateway, space_id, "admin")
    query = ListGuests(environment_id=principal.environment_id, space_id=space_id, email=email)
    return data(await gateway.rpc.request(SERVICE, query, list[GuestView]))


@get("/v1/guests/{guest_id:str}")
async def get_guest(request: Request[Any, Any, Any], gateway: Gateway, guest_id: str) -> dict[str, object]:
    principal = await admin_principal(request, gateway)
    query = GetGuest(principal=principal, environment_id=principal.environment_id, guest_id=guest_id)
    return data(await gateway.rpc.request(SERVICE, query, GuestView))


@patch("/v1/guests/{guest_id:str}", request_max_body_size=MAX_JSON_BODY)
async def update_guest(request: Request[Any, Any, Any], gateway: Gateway, guest_id: str) -> dict[str, object]:
    principal = await admin_principal(request, gateway)
    body = await decode(request, GuestPatchBody)
    environment_of(principal, body.environment_id)
    await _check_workbooks(gateway, principal, body.spaces or [])
    command = UpdateGuest(
        principal=principal,
        environment_id=principal.environment_id,
        guest_id=guest_id,
        email=body.email,
        name=body.name,
        spaces=None if body.spaces is None else [s.grant() for s in body.spaces],
    )
    written = await gateway.rpc.request(SERVICE, command, GuestsWritten)
    gateway.forget(actor=guest_id)
    return data((await _views(gateway, principal, written))[0])


@delete("/v1/guests/{guest_id:str}", status_code=200)
async def delete_guest(
    request: Request[Any, Any, Any],
    gateway: Gateway,
    guest_id: str,
    space_id: OptionalSpaceId = None,
) -> dict[str, object]:
    principal = await admin_principal(request, gateway)
    command = DeleteGuest(
        principal=principal, environment_id=principal.environment_id, guest_id=guest_id, space_id=space_id
    )
    await gateway.space_write(command, GuestsWritten)
    gateway.forget(actor=guest_id)
    return SUCCESS


@get("/v1/guests/{guest_id:str}/token")
async def guest_token(
    request: Request[Any, Any, Any],
    gateway: Gateway,
    guest_id: str,
    space_id: OptionalSpaceId = None,
) -> dict[str, object]:
    principal = await secret_principal(request, gateway)
    command = IssueGuestToken(
        principal=principal, environment_id=principal.environment_id, guest_id=guest_id, space_id=space_id or ""
    )
    return data(await gateway.rpc.request(SERVICE, command, GuestTokenView))


ROUTES = [invite_guests, list_guests, get_guest, update_guest, delete_guest, guest_token]
