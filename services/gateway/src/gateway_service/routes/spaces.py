"""`/v1/environments` and `/v1/spaces` (the first slice; the rest of the API grows here)."""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import Request, get, post

from gateway_service.auth import environment_of, principal_of
from gateway_service.body import decode
from gateway_service.state import Gateway
from spaceport.contracts.space import (
    SERVICE,
    CreateSpace,
    EnvironmentView,
    GetEnvironment,
    GetSpace,
    ListSpaces,
    SpacePage,
    SpaceView,
    SpaceWritten,
)


class SpaceBody(msgspec.Struct, frozen=True, kw_only=True, rename="camel", forbid_unknown_fields=False):
    environment_id: str | None = None
    name: str = ""
    namespace: str | None = None
    labels: list[str] = msgspec.field(default_factory=list)
    metadata: dict[str, Any] = msgspec.field(default_factory=dict)
    settings: dict[str, Any] = msgspec.field(default_factory=dict)
    auto_configure: bool = False


def data(value: object) -> dict[str, object]:
    return {"data": value}


@get("/v1/environments/{environment_id:str}")
async def get_environment(request: Request[Any, Any, Any], gateway: Gateway, environment_id: str) -> dict[str, object]:
    principal = await principal_of(request, gateway)
    query = GetEnvironment(environment_id=environment_of(principal, environment_id))
    return data(await gateway.rpc.request(SERVICE, query, EnvironmentView))


@post("/v1/spaces", status_code=200)
async def create_space(request: Request[Any, Any, Any], gateway: Gateway) -> dict[str, object]:
    principal = await principal_of(request, gateway)
    body = await decode(request, SpaceBody)
    environment_id = environment_of(principal, body.environment_id)
    command = CreateSpace(
        principal=principal,
        environment_id=environment_id,
        name=body.name,
        namespace=body.namespace,
        labels=body.labels,
        metadata=body.metadata,
        settings=body.settings,
        auto_configure=body.auto_configure,
        idempotency_key=request.headers.get("idempotency-key"),
    )
    written = await gateway.rpc.request(SERVICE, command, SpaceWritten)
    query = GetSpace(environment_id=environment_id, space_id=written.space_id, min_position=written.position)
    return data(await gateway.rpc.request(SERVICE, query, SpaceView))


@get("/v1/spaces/{space_id:str}")
async def get_space(request: Request[Any, Any, Any], gateway: Gateway, space_id: str) -> dict[str, object]:
    principal = await principal_of(request, gateway)
    query = GetSpace(environment_id=principal.environment_id, space_id=space_id)
    return data(await gateway.rpc.request(SERVICE, query, SpaceView))


@get("/v1/spaces")
async def list_spaces(
    request: Request[Any, Any, Any],
    gateway: Gateway,
    environment_id: str | None = None,
    page_size: int = 10,
    page_number: int = 1,
) -> SpacePage:
    principal = await principal_of(request, gateway)
    query = ListSpaces(
        environment_id=environment_of(principal, environment_id), page_size=page_size, page_number=page_number
    )
    return await gateway.rpc.request(SERVICE, query, SpacePage)


ROUTES = [get_environment, create_space, get_space, list_spaces]
