"""`/v1/roles` (the built-in guest roles) and a guest's roles: `/v1/guests/{guestId}/roles`.

A guest's grant on a space is its ActorRole (`us_acr_…`, one per space, `resourceId` = the space):
assigning a role grants the space or changes the role there; deleting the ActorRole removes the
grant (and the guest with its last one). Who may: a secret key, or a guest admin within its own
space (as with guests). The cached principal of the guest is dropped at once on this gateway and,
through the space service's AuthInvalidated broadcast, on every other.
"""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import Request, delete, get, post

from gateway_service.auth import admin_principal, principal_of, refuse_publishable
from gateway_service.body import MAX_JSON_BODY, SUCCESS, data, decode
from gateway_service.state import Gateway
from spaceport.contracts.space import (
    SERVICE,
    ActorRoleView,
    ActorRoleWritten,
    AssignGuestRole,
    DeleteGuestRole,
    GuestsWritten,
    ListGuestRoles,
    ListRoles,
    RoleView,
)
from spaceport.errors import ValidationFailedError


class AssignRoleBody(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    role_id: str
    resource_id: str


@get("/v1/roles")
async def list_roles(request: Request[Any, Any, Any], gateway: Gateway) -> dict[str, object]:
    """Any caller but a publishable key may read the built-in roles (they are the same everywhere)."""
    refuse_publishable(await principal_of(request, gateway))
    return data(await gateway.rpc.request(SERVICE, ListRoles(), list[RoleView]))


@get("/v1/guests/{guest_id:str}/roles")
async def list_guest_roles(request: Request[Any, Any, Any], gateway: Gateway, guest_id: str) -> dict[str, object]:
    principal = await admin_principal(request, gateway)
    query = ListGuestRoles(principal=principal, environment_id=principal.environment_id, guest_id=guest_id)
    return data(await gateway.rpc.request(SERVICE, query, list[ActorRoleView]))


@post("/v1/guests/{guest_id:str}/roles", status_code=200, request_max_body_size=MAX_JSON_BODY)
async def assign_guest_role(request: Request[Any, Any, Any], gateway: Gateway, guest_id: str) -> dict[str, object]:
    principal = await admin_principal(request, gateway)
    body = await decode(request, AssignRoleBody)
    for value, key in ((body.role_id, "roleId"), (body.resource_id, "resourceId")):
        if not value.strip():
            raise ValidationFailedError(f"{key} is required", key=key)
    command = AssignGuestRole(
        principal=principal,
        environment_id=principal.environment_id,
        guest_id=guest_id,
        role_id=body.role_id,
        resource_id=body.resource_id,
    )
    written = await gateway.rpc.request(SERVICE, command, ActorRoleWritten)
    gateway.forget(actor=guest_id)
    return data(written.actor_role)


@delete("/v1/guests/{guest_id:str}/roles/{actor_role_id:str}", status_code=200)
async def delete_guest_role(
    request: Request[Any, Any, Any], gateway: Gateway, guest_id: str, actor_role_id: str
) -> dict[str, object]:
    principal = await admin_principal(request, gateway)
    command = DeleteGuestRole(
        principal=principal, environment_id=principal.environment_id, guest_id=guest_id, actor_role_id=actor_role_id
    )
    await gateway.space_write(command, GuestsWritten)
    gateway.forget(actor=guest_id)
    return SUCCESS


ROUTES = [list_roles, list_guest_roles, assign_guest_role, delete_guest_role]
