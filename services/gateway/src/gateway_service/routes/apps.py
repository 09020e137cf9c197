"""`/v1/apps`: Flatfile Apps of an environment and their stored constraints (every version kept).

Only a secret key reads or writes them (publishable keys and guests: 403). An app belongs to the
environment of the key that created it: another environment's app answers 404. `environmentFilters`
is stored and returned as sent; it does not make an app visible in other environments.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import msgspec
from litestar import Request, delete, get, patch, post

from gateway_service.auth import secret_principal
from gateway_service.body import MAX_JSON_BODY, data, decode
from gateway_service.query import bool_param
from gateway_service.state import Gateway
from spaceport.contracts.space import (
    SERVICE,
    AppFields,
    AppView,
    AppWritten,
    ConstraintFields,
    ConstraintList,
    ConstraintVersionList,
    ConstraintVersionView,
    ConstraintView,
    ConstraintWritten,
    CreateApp,
    CreateConstraint,
    DeleteApp,
    DeleteConstraint,
    GetApp,
    GetConstraint,
    GetConstraintVersion,
    ListApps,
    ListConstraints,
    ListConstraintVersions,
    Principal,
    UpdateApp,
    UpdateConstraint,
)
from spaceport.errors import ValidationFailedError

BASE = "/v1/apps"
APP = BASE + "/{app_id:str}"
CONSTRAINTS = APP + "/constraints"
CONSTRAINT = CONSTRAINTS + "/{constraint_id:str}"
# The SDK parses a delete as `SuccessResponse{success}`; the envelope too, for clients that look there.
DELETED: dict[str, object] = {"success": True, "data": {"success": True}}


class AppPatchBody(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    """Flatfile's `AppPatch`; null or absent means unchanged."""

    name: str | None = None
    namespace: str | None = None
    entity: str | None = None
    entity_plural: str | None = None
    icon: str | None = None
    metadata: dict[str, Any] | None = None
    environment_filters: dict[str, Any] | None = None
    blueprint: list[dict[str, Any]] | None = None
    activated_at: datetime | None = None

    def fields(self) -> AppFields:
        return AppFields(**msgspec.structs.asdict(self))


class AppCreateBody(AppPatchBody, frozen=True, kw_only=True):
    """Flatfile's `AppCreate`: `name` and `type` required (`namespace` defaults to the name's slug)."""

    type: str | None = None

    def fields(self) -> AppFields:
        changes = msgspec.structs.asdict(self)
        changes.pop("type")
        changes.pop("activated_at")
        return AppFields(**changes)


class ConstraintBody(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    """Flatfile's `ConstraintCreate` (and `ConstraintUpdate`, which has no validator)."""

    validator: str | None = None
    description: str | None = None
    function: str | None = None
    options: dict[str, Any] | None = None
    label: str | None = None
    app_id: str | None = None

    def fields(self) -> ConstraintFields:
        return ConstraintFields(
            validator=self.validator,
            description=self.description,
            function=self.function,
            options=self.options,
            label=self.label,
        )


async def _app(gateway: Gateway, principal: Principal, app_id: str, position: int = 0) -> dict[str, object]:
    query = GetApp(environment_id=principal.environment_id, app_id=app_id, min_position=position)
    return data(await gateway.rpc.request(SERVICE, query, AppView))


async def _constraint(gateway: Gateway, principal: Principal, written: ConstraintWritten) -> dict[str, object]:
    query = GetConstraint(
        environment_id=principal.environment_id,
        app_id=written.app_id,
        constraint_id=written.constraint_id,
        min_position=written.position,
    )
    return data(await gateway.rpc.request(SERVICE, query, ConstraintView))


# ---- apps -------------------------------------------------------------------------------


@get(BASE)
async def list_apps(request: Request[Any, Any, Any], gateway: Gateway) -> dict[str, object]:
    principal = await secret_principal(request, gateway)
    query = ListApps(environment_id=principal.environment_id)
    return data(await gateway.rpc.request(SERVICE, query, list[AppView]))


@post(BASE, status_code=200, request_max_body_size=MAX_JSON_BODY)
async def create_app(request: Request[Any, Any, Any], gateway: Gateway) -> dict[str, object]:
    principal = await secret_principal(request, gateway)
    body = await decode(request, AppCreateBody)
    if body.name is None:
        raise ValidationFailedError("name is required", key="name")
    if body.type is None:
        raise ValidationFailedError("type is required: PORTAL, PROJECTS, MAPPING, WORKBOOKS or CUSTOM", key="type")
    command = CreateApp(
        principal=principal,
        environment_id=principal.environment_id,
        type=body.type,
        fields=body.fields(),
        idempotency_key=request.headers.get("idempotency-key"),
    )
    written = await gateway.rpc.request(SERVICE, command, AppWritten)
    return await _app(gateway, principal, written.app_id, written.position)


@get(APP)
async def get_app(request: Request[Any, Any, Any], gateway: Gateway, app_id: str) -> dict[str, object]:
    principal = await secret_principal(request, gateway)
    return await _app(gateway, principal, app_id)


@patch(APP, request_max_body_size=MAX_JSON_BODY)
async def update_app(request: Request[Any, Any, Any], gateway: Gateway, app_id: str) -> dict[str, object]:
    principal = await secret_principal(request, gateway)
    body = await decode(request, AppPatchBody)
    command = UpdateApp(
        principal=principal, environment_id=principal.environment_id, app_id=app_id, fields=body.fields()
    )
    written = await gateway.rpc.request(SERVICE, command, AppWritten)
    return await _app(gateway, principal, app_id, written.position)


@delete(APP, status_code=200)
async def delete_app(request: Request[Any, Any, Any], gateway: Gateway, app_id: str) -> dict[str, object]:
    principal = await secret_principal(request, gateway)
    await gateway.space_write(
        DeleteApp(principal=principal, environment_id=principal.environment_id, app_id=app_id), AppWritten
    )
    return DELETED


# ---- constraints ------------------------------------------------------------------------


@get(CONSTRAINTS)
async def list_constraints(request: Request[Any, Any, Any], gateway: Gateway, app_id: str) -> dict[str, object]:
    """`includeBuiltins` is accepted; there are no built-in stored constraints to add."""
    principal = await secret_principal(request, gateway)
    bool_param(request, "includeBuiltins", default=False)
    query = ListConstraints(environment_id=principal.environment_id, app_id=app_id)
    return data((await gateway.rpc.request(SERVICE, query, ConstraintList)).data)


@post(CONSTRAINTS, status_code=200, request_max_body_size=MAX_JSON_BODY)
async def create_constraint(request: Request[Any, Any, Any], gateway: Gateway, app_id: str) -> dict[str, object]:
    principal = await secret_principal(request, gateway)
    body = await decode(request, ConstraintBody)
    if body.app_id not in (None, "", app_id):
        raise ValidationFailedError(f"appId {body.app_id} does not match the app of the path ({app_id})", key="appId")
    command = CreateConstraint(
        principal=principal, environment_id=principal.environment_id, app_id=app_id, fields=body.fields()
    )
    return await _constraint(gateway, principal, await gateway.rpc.request(SERVICE, command, ConstraintWritten))


@get(CONSTRAINT)
async def get_constraint(
    request: Request[Any, Any, Any], gateway: Gateway, app_id: str, constraint_id: str
) -> dict[str, object]:
    principal = await secret_principal(request, gateway)
    written = ConstraintWritten(app_id=app_id, constraint_id=constraint_id, position=0)
    return await _constraint(gateway, principal, written)


@patch(CONSTRAINT, request_max_body_size=MAX_JSON_BODY)
async def update_constraint(
    request: Request[Any, Any, Any], gateway: Gateway, app_id: str, constraint_id: str
) -> dict[str, object]:
    principal = await secret_principal(request, gateway)
    body = await decode(request, ConstraintBody)
    command = UpdateConstraint(
        principal=principal,
        environment_id=principal.environment_id,
        app_id=app_id,
        constraint_id=constraint_id,
        fields=body.fields(),
    )
    return await _constraint(gateway, principal, await gateway.rpc.request(SERVICE, command, ConstraintWritten))


@delete(CONSTRAINT, status_code=200)
async def delete_constraint(
    request: Request[Any, Any, Any], gateway: Gateway, app_id: str, constraint_id: str
) -> dict[str, object]:
    principal = await secret_principal(request, gateway)
    command = DeleteConstraint(
        principal=principal, environment_id=principal.environment_id, app_id=app_id, constraint_id=constraint_id
    )
    await gateway.space_write(command, ConstraintWritten)
    return DELETED


@get(CONSTRAINT + "/versions")
async def list_constraint_versions(
    request: Request[Any, Any, Any], gateway: Gateway, app_id: str, constraint_id: str
) -> dict[str, object]:
    principal = await secret_principal(request, gateway)
    query = ListConstraintVersions(environment_id=principal.environment_id, app_id=app_id, constraint_id=constraint_id)
    return data((await gateway.rpc.request(SERVICE, query, ConstraintVersionList)).data)


@get(CONSTRAINT + "/versions/{version:str}")
async def get_constraint_version(
    request: Request[Any, Any, Any], gateway: Gateway, app_id: str, constraint_id: str, version: str
) -> dict[str, object]:
    principal = await secret_principal(request, gateway)
    if not version.isdigit() or len(version) > 9:
        raise ValidationFailedError(f"version must be a positive integer (got {version!r})", key="version")
    query = GetConstraintVersion(
        environment_id=principal.environment_id, app_id=app_id, constraint_id=constraint_id, version=int(version)
    )
    return data(await gateway.rpc.request(SERVICE, query, ConstraintVersionView))


ROUTES = [
    list_apps,
    create_app,
    get_app,
    update_app,
    delete_app,
    list_constraints,
    create_constraint,
    get_constraint,
    update_constraint,
    delete_constraint,
    list_constraint_versions,
    get_constraint_version,
]
