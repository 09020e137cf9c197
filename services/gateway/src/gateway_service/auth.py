"""Authentication: `Authorization: Bearer <key or guest token>` -> a Principal."""

from __future__ import annotations

from typing import Any

from litestar import Request

from gateway_service.state import Gateway
from spaceport.contracts.space import Principal
from spaceport.errors import ForbiddenError, UnauthorizedError


async def principal_of(request: Request[Any, Any, Any], gateway: Gateway) -> Principal:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise UnauthorizedError("missing credentials: send 'Authorization: Bearer <secret key>'")
    return await gateway.principal(token.strip())


def environment_of(principal: Principal, requested: str | None) -> str:
    """The environment a request acts in; another environment's id is forbidden."""
    if requested in (None, "", "current"):
        return principal.environment_id
    if requested != principal.environment_id:
        raise ForbiddenError("this key belongs to another environment", key="environmentId")
    return requested


def require_secret(principal: Principal) -> None:
    if principal.kind != "secret":
        raise ForbiddenError("this operation needs a secret key")
