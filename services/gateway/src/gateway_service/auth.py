"""Authentication: `Authorization: Bearer <key or guest token>` -> a Principal."""

from __future__ import annotations

from typing import Any

from litestar import Request

from gateway_service.state import Gateway
from spaceport.contracts.space import Principal
from spaceport.errors import ForbiddenError, NotFoundError, UnauthorizedError


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


def require_space_access(principal: Principal, environment_id: str, space_id: str, *, write: bool) -> None:
    """May `principal` read (or write) inside space `space_id` of `environment_id`?

    Secret keys: any space of their environment. Publishable keys: nothing inside a space.
    Guests: only their own space; viewers never write. Another environment's space answers 404
    (the caller must not learn that it exists), so callers pass the environment the space is in.
    """
    if environment_id != principal.environment_id:
        raise NotFoundError(f"space {space_id} not found", key="spaceId")
    if principal.kind == "secret":
        return
    if principal.kind == "publishable":
        raise ForbiddenError("a publishable key may only create spaces")
    if principal.space_id != space_id:
        raise ForbiddenError("this guest token is for another space", key="spaceId")
    if write and principal.role == "viewer":
        raise ForbiddenError("viewers cannot change data")
