"""Routes of the space web app (see the package docstring)."""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

from litestar import MediaType, Request, Response, get
from litestar.datastructures import CacheControlHeader
from litestar.static_files import create_static_files_router

from gateway_service.auth import authenticated, require_space_role
from gateway_service.body import data
from gateway_service.ids import is_id
from gateway_service.state import Gateway
from spaceport.contracts.space import SERVICE, GetSpace, SpaceView
from spaceport.errors import NotFoundError

STATIC = Path(__file__).parent / "static"
# The page is opened with a token in its URL: never send it on as a Referer; scripts only from here.
PAGE_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' https: data:;"
        " connect-src 'self'; frame-ancestors 'self'; base-uri 'none'; form-action 'none'"
    ),
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "no-store",
}


@cache
def _page() -> bytes:
    return (STATIC / "index.html").read_bytes()


@get("/space/{space:str}", include_in_schema=False, media_type=MediaType.HTML)
async def space_page(space: str) -> Response[bytes]:
    """The app's one page; it reads the space id from its URL (a bad id shows "not found" there)."""
    del space
    return Response(_page(), media_type=MediaType.HTML, headers=PAGE_HEADERS)


@get("/space/{space:str}/session", include_in_schema=False)
async def session(request: Request[Any, Any, Any], gateway: Gateway, space: str) -> dict[str, object]:
    """Who the bearer token is in this space: 401 bad or expired, 403 another space, 404 no such space.
    `workbookIds` is the guest's grant as granted (the sidebar's workbooks), without its uploads'."""
    principal = await authenticated(request, gateway)
    if not is_id(space, "space"):
        raise NotFoundError(f"space {space[:80]!r} not found", key="spaceId")
    require_space_role(principal, space, "read")
    view = await gateway.rpc.request(
        SERVICE, GetSpace(environment_id=principal.environment_id, space_id=space), SpaceView
    )
    role = "admin" if principal.kind == "secret" else (principal.role or "viewer")
    return data(
        {
            "spaceId": view.id,
            "kind": principal.kind,
            "role": role,
            "canEdit": role in ("editor", "admin"),
            "workbookIds": principal.workbook_ids,
        }
    )


static_app = create_static_files_router(
    path="/static/app",
    directories=[STATIC],
    name="web-app",
    cache_control=CacheControlHeader(no_cache=True),
    include_in_schema=False,
)

ROUTES: list[Any] = [space_page, session, static_app]
