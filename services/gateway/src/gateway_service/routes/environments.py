"""`/v1/environments`: list, create, get (`current` too), update, delete, rotate keys."""

from __future__ import annotations

from typing import Annotated, Any, Literal

import msgspec
from litestar import Request, delete, get, patch, post
from litestar.params import QueryParameter

from gateway_service.auth import environment_of, principal_of, require_secret
from gateway_service.body import MAX_JSON_BODY, SUCCESS, data, decode
from gateway_service.state import Gateway
from spaceport.contracts.space import (
    SERVICE,
    CreateEnvironment,
    DeleteEnvironment,
    EnvironmentCreatedReply,
    EnvironmentPage,
    EnvironmentView,
    EnvironmentWithKeys,
    GetEnvironment,
    KeysRotated,
    ListEnvironments,
    RotateKeys,
    UpdateEnvironment,
    Written,
)
from spaceport.errors import ForbiddenError


class EnvironmentBody(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    name: str | None = None
    is_prod: bool | None = None
    guest_authentication: list[Literal["shared_link", "magic_link"]] | None = None
    metadata: dict[str, Any] | None = None
    namespaces: list[str] | None = None
    translations_path: str | None = None
    language_override: str | None = None


@get("/v1/environments")
async def list_environments(
    request: Request[Any, Any, Any],
    gateway: Gateway,
    page_size: Annotated[int, QueryParameter(name="pageSize")] = 10,
    page_number: Annotated[int, QueryParameter(name="pageNumber")] = 1,
) -> EnvironmentPage:
    require_secret(await principal_of(request, gateway))
    query = ListEnvironments(page_size=page_size, page_number=page_number)
    return await gateway.rpc.request(SERVICE, query, EnvironmentPage)


@post("/v1/environments", status_code=200, request_max_body_size=MAX_JSON_BODY)
async def create_environment(request: Request[Any, Any, Any], gateway: Gateway) -> dict[str, object]:
    principal = await principal_of(request, gateway)
    require_secret(principal)
    body = await decode(request, EnvironmentBody)
    command = CreateEnvironment(
        name=body.name or "",
        is_prod=bool(body.is_prod),
        guest_authentication=list(body.guest_authentication or ["magic_link"]),
        metadata=body.metadata or {},
        namespaces=body.namespaces,
        translations_path=body.translations_path,
        language_override=body.language_override,
        idempotency_key=request.headers.get("idempotency-key"),
        actor=principal.actor,
    )
    reply = await gateway.rpc.request(SERVICE, command, EnvironmentCreatedReply)
    view = EnvironmentWithKeys(
        **msgspec.structs.asdict(reply.environment),
        secret_key=reply.secret_key,
        publishable_key=reply.publishable_key,
    )
    return data(view)


@get("/v1/environments/{environment_id:str}")
async def get_environment(request: Request[Any, Any, Any], gateway: Gateway, environment_id: str) -> dict[str, object]:
    principal = await principal_of(request, gateway)
    own = environment_of(principal, environment_id)
    if principal.kind == "publishable":
        raise ForbiddenError("a publishable key may only create spaces")
    return data(await gateway.rpc.request(SERVICE, GetEnvironment(environment_id=own), EnvironmentView))


@patch("/v1/environments/{environment_id:str}", request_max_body_size=MAX_JSON_BODY)
async def update_environment(
    request: Request[Any, Any, Any], gateway: Gateway, environment_id: str
) -> dict[str, object]:
    """Flatfile's SDKs type this answer as a bare Environment; `data` repeats it for wrapped readers."""
    principal = await principal_of(request, gateway)
    own = environment_of(principal, environment_id)
    require_secret(principal)
    body = await decode(request, EnvironmentBody)
    command = UpdateEnvironment(actor=principal.actor, environment_id=own, **msgspec.structs.asdict(body))
    written = await gateway.rpc.request(SERVICE, command, Written)
    view = await gateway.rpc.request(
        SERVICE, GetEnvironment(environment_id=own, min_position=written.position), EnvironmentView
    )
    plain = msgspec.to_builtins(view)
    return {**plain, "data": plain}


@delete("/v1/environments/{environment_id:str}", status_code=200)
async def delete_environment(
    request: Request[Any, Any, Any], gateway: Gateway, environment_id: str
) -> dict[str, object]:
    principal = await principal_of(request, gateway)
    own = environment_of(principal, environment_id)
    require_secret(principal)
    written = await gateway.rpc.request(SERVICE, DeleteEnvironment(actor=principal.actor, environment_id=own), Written)
    await gateway.caught_up(written.position)
    gateway.forget(environment_id=own)
    return SUCCESS


@post("/v1/environments/{environment_id:str}/keys/rotate", status_code=200)
async def rotate_keys(
    request: Request[Any, Any, Any],
    gateway: Gateway,
    environment_id: str,
    key_type: Annotated[Literal["secret", "publishable", "all"], QueryParameter(name="type")] = "all",
) -> dict[str, object]:
    """New keys replace the old ones at once; the answer is the only time the raw keys are shown."""
    principal = await principal_of(request, gateway)
    own = environment_of(principal, environment_id)
    require_secret(principal)
    kinds: list[Literal["secret", "publishable"]] = ["secret", "publishable"] if key_type == "all" else [key_type]
    reply = await gateway.rpc.request(
        SERVICE, RotateKeys(actor=principal.actor, environment_id=own, kinds=kinds), KeysRotated
    )
    await gateway.caught_up(reply.position)
    gateway.forget(environment_id=own)
    return data(reply.keys)


ROUTES = [list_environments, create_environment, get_environment, update_environment, delete_environment, rotate_keys]
