"""`/v1/environments`: list, create, get (`current` too), update, delete, rotate keys."""

from __future__ import annotations

from typing import Annotated, Any, Literal

import msgspec
from litestar import Request, delete, get, patch, post
from litestar.params import QueryParameter

from gateway_service.auth import environment_of, principal_of, refuse_publishable, require_secret, secret_principal
from gateway_service.body import MAX_JSON_BODY, SUCCESS, data, decode
from gateway_service.query import PageNumber, PageSize
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
    Principal,
    RotateKeys,
    UpdateEnvironment,
    Written,
)


class EnvironmentBody(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    name: str | None = None
    is_prod: bool | None = None
    guest_authentication: list[Literal["shared_link", "magic_link"]] | None = None
    metadata: dict[str, Any] | None = None
    namespaces: list[str] | None = None
    translations_path: str | None = None
    language_override: str | None = None


async def _secret_in(request: Request[Any, Any, Any], gateway: Gateway, environment_id: str) -> tuple[Principal, str]:
    """A secret key's principal and the id of the environment it names (`current` too; 404 if another)."""
    principal = await principal_of(request, gateway)
    own = environment_of(principal, environment_id)
    require_secret(principal)
    return principal, own


@get("/v1/environments")
async def list_environments(
    request: Request[Any, Any, Any],
    gateway: Gateway,
    page_size: PageSize = 10,
    page_number: PageNumber = 1,
) -> EnvironmentPage:
    await secret_principal(request, gateway)
    query = ListEnvironments(page_size=page_size, page_number=page_number)
    return await gateway.rpc.request(SERVICE, query, EnvironmentPage)


@post("/v1/environments", status_code=200, request_max_body_size=MAX_JSON_BODY)
async def create_environment(request: Request[Any, Any, Any], gateway: Gateway) -> dict[str, object]:
    principal = await secret_principal(request, gateway)
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
    refuse_publishable(principal)
    return data(await gateway.rpc.request(SERVICE, GetEnvironment(environment_id=own), EnvironmentView))


@patch("/v1/environments/{environment_id:str}", request_max_body_size=MAX_JSON_BODY)
async def update_environment(
    request: Request[Any, Any, Any], gateway: Gateway, environment_id: str
) -> dict[str, object]:
    """Flatfile's SDKs type this answer as a bare Environment; `data` repeats it for wrapped readers."""
    principal, own = await _secret_in(request, gateway, environment_id)
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
    principal, own = await _secret_in(request, gateway, environment_id)
    await gateway.space_write(DeleteEnvironment(actor=principal.actor, environment_id=own), Written)
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
    principal, own = await _secret_in(request, gateway, environment_id)
    kinds: list[Literal["secret", "publishable"]] = ["secret", "publishable"] if key_type == "all" else [key_type]
    reply = await gateway.space_write(RotateKeys(actor=principal.actor, environment_id=own, kinds=kinds), KeysRotated)
    gateway.forget(environment_id=own)
    return data(reply.keys)


ROUTES = [list_environments, create_environment, get_environment, update_environment, delete_environment, rotate_keys]
