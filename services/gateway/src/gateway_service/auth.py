"""Authentication (`Authorization: Bearer <key or guest token>` -> a Principal) and authorization.

Who may do what (docs/api.md has the full table):
- secret key `sk_…`: everything in its own environment; list and create environments of its account.
- publishable key `pk_…`: only `POST /v1/spaces` in its environment.
- guest token `gt_…`: only inside its one space, by role: viewer reads, editor also writes content
  (documents, workbooks, records), admin also updates the space and manages its guests.
  A guest whose grant names workbooks (`Principal.workbook_ids`) sees only those workbooks of the
  space: any other workbook, its sheets, records, commits, jobs and files answer 404. Its own
  uploads are its too (`with_own_uploads`): the file, and the source workbook the built-in
  extractor made from it, so it can map that into a workbook of its grant.
Another environment's resources answer 404, never 403, so ids and names never leak.
"""

from __future__ import annotations

from typing import Any, Literal, Protocol, TypeVar

import msgspec
from litestar import Request

from gateway_service.state import Gateway
from spaceport.contracts import file
from spaceport.contracts.space import Principal
from spaceport.contracts.workbook import WorkbookView
from spaceport.errors import (
    ForbiddenError,
    NotFoundError,
    RateLimitedError,
    ServiceUnavailableError,
    UnauthorizedError,
)

Level = Literal["read", "write", "admin"]
ROLE_RANK = {"viewer": 0, "editor": 1, "admin": 2}
LEVEL_RANK = {"read": 0, "write": 1, "admin": 2}
OWN_TIMEOUT = 5.0  # seconds for the file service to name a limited guest's upload workbooks


class RetryLaterError(RateLimitedError):
    """429 with the seconds a client should wait (the `Retry-After` header)."""

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


async def principal_of(request: Request[Any, Any, Any], gateway: Gateway) -> Principal:
    """The caller; a guest limited to some workbooks also holds those of its own uploads."""
    return await with_own_uploads(gateway, await authenticated(request, gateway))


async def authenticated(request: Request[Any, Any, Any], gateway: Gateway) -> Principal:
    """The caller as its credentials say (a guest's grant as granted, without its uploads)."""
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        raise UnauthorizedError("missing credentials: send 'Authorization: Bearer <secret key>'")
    wait = gateway.limiter.take(token)
    if wait > 0:
        raise RetryLaterError("too many requests for this key; retry after the Retry-After delay", int(wait) + 1)
    return await gateway.principal(token)


async def with_own_uploads(gateway: Gateway, principal: Principal) -> Principal:
    """A guest limited to some workbooks, with the source workbooks of the live files it uploaded
    added to `workbook_ids` (asked of the file service on each request, not cached: an upload's
    workbook appears when its extraction ends). Another guest's upload never counts; if the file
    service cannot answer, the grant alone holds."""
    if principal.kind != "guest" or principal.workbook_ids is None:
        return principal
    try:
        own = await gateway.rpc.request(
            file.SERVICE, file.ListUploadedWorkbooks(principal=principal), file.UploadedWorkbooks, timeout=OWN_TIMEOUT
        )
    except ServiceUnavailableError:
        return principal
    extra = [w for w in own.workbook_ids if w not in principal.workbook_ids]
    return msgspec.structs.replace(principal, workbook_ids=[*principal.workbook_ids, *extra]) if extra else principal


def environment_of(principal: Principal, requested: str | None) -> str:
    """The environment a request acts in; another environment's id is not found (never confirmed)."""
    if requested in (None, "", "current"):
        return principal.environment_id
    if requested != principal.environment_id:
        raise NotFoundError(f"environment {requested} not found", key="environmentId")
    return requested


def require_secret(principal: Principal) -> None:
    if principal.kind != "secret":
        raise ForbiddenError("this operation needs a secret key")


def refuse_publishable(principal: Principal) -> None:
    """A publishable key may create spaces (checked there) and nothing else."""
    if principal.kind == "publishable":
        raise ForbiddenError("a publishable key may only create spaces")


def require_space_role(principal: Principal, space_id: str, level: Level) -> None:
    """May `principal` act at `level` inside `space_id`? (The service checks the environment.)"""
    if principal.kind == "secret":
        return
    refuse_publishable(principal)
    if principal.space_id != space_id:
        raise ForbiddenError("this guest token is for another space", key="spaceId")
    if ROLE_RANK.get(principal.role or "", -1) < LEVEL_RANK[level]:
        raise ForbiddenError(f"a guest with role '{principal.role}' may not do this (needs {level} access)")


def require_admin(principal: Principal) -> None:
    """A secret key or a guest admin (whose scope the service then limits to its space)."""
    if principal.kind == "secret":
        return
    refuse_publishable(principal)
    if principal.role != "admin":
        raise ForbiddenError(f"a guest with role '{principal.role}' may not manage guests")


def sees_workbook(principal: Principal, workbook_id: str | None) -> bool:
    """Does `principal` see this workbook of a space it may enter? (None: the thing is of no workbook.)"""
    return principal.workbook_ids is None or workbook_id is None or workbook_id in principal.workbook_ids


def require_workbook(principal: Principal, workbook_id: str | None, asked: tuple[str, str]) -> None:
    """404 naming `asked` (kind, id) for a workbook the guest's grant does not name: never confirm it exists."""
    if not sees_workbook(principal, workbook_id):
        kind, named = asked
        raise NotFoundError(f"{kind} {named} not found", key=f"{kind}Id")


def require_unlimited(principal: Principal, what: str) -> None:
    """Some writes are for callers that see the whole space (a new workbook would be outside the grant)."""
    if principal.workbook_ids is not None:
        raise ForbiddenError(f"a guest limited to some workbooks may not {what}")


def require_space_access(
    principal: Principal,
    environment_id: str,
    space_id: str,
    *,
    write: bool,
    asked: tuple[str, str] | None = None,
    workbook_id: str | None = None,
) -> None:
    """May `principal` read (or write) inside space `space_id` of `environment_id`?

    Secret keys: any space of their environment. Publishable keys: nothing inside a space.
    Guests: only their own space; viewers never write. Another environment's space answers 404
    (the caller must not learn that it exists), so callers pass the environment the space is in.
    `asked` = (kind, id) of what the caller named when the space was looked up from it (a
    workbook, sheet or commit): the 404 then names that, never the space the caller did not send.
    `workbook_id`: the workbook the thing belongs to, for guests limited to some workbooks.
    """
    if environment_id != principal.environment_id:
        kind, named = asked or ("space", space_id)
        raise NotFoundError(f"{kind} {named} not found", key=f"{kind}Id")
    if principal.kind == "guest" and principal.space_id == space_id:
        require_workbook(principal, workbook_id, asked or ("workbook", workbook_id or ""))
    require_space_role(principal, space_id, "write" if write else "read")


async def secret_principal(request: Request[Any, Any, Any], gateway: Gateway) -> Principal:
    """The caller, if it holds a secret key (`require_secret`)."""
    principal = await principal_of(request, gateway)
    require_secret(principal)
    return principal


async def admin_principal(request: Request[Any, Any, Any], gateway: Gateway) -> Principal:
    """The caller, if it may manage guests (`require_admin`); its grant as granted, so a limited
    admin never passes on the workbooks of its own uploads."""
    principal = await authenticated(request, gateway)
    require_admin(principal)
    return principal


async def space_principal(request: Request[Any, Any, Any], gateway: Gateway, space_id: str, level: Level) -> Principal:
    """The caller, if it may act at `level` inside `space_id` (`require_space_role`); its grant as granted."""
    principal = await authenticated(request, gateway)
    require_space_role(principal, space_id, level)
    return principal


class InSpace(Protocol):
    """A view that names the space (and so the environment) it belongs to."""

    @property
    def environment_id(self) -> str: ...

    @property
    def space_id(self) -> str: ...


V = TypeVar("V", bound=InSpace)


async def view_in_space(
    gateway: Gateway,
    principal: Principal,
    service: str,
    query: msgspec.Struct,
    view_type: type[V],
    *,
    asked: tuple[str, str],
    write: bool,
) -> V:
    """`query`'s view, if `principal` may read (or write) inside its space and workbook; 404 naming `asked` if not."""
    view = await gateway.rpc.request(service, query, view_type)
    require_space_access(
        principal, view.environment_id, view.space_id, write=write, asked=asked, workbook_id=workbook_of(view)
    )
    return view


def workbook_of(view: object) -> str | None:
    """The workbook a view belongs to (a workbook is its own); None for views of no workbook."""
    if isinstance(view, WorkbookView):
        return view.id
    found = getattr(view, "workbook_id", None)
    return found if isinstance(found, str) else None
