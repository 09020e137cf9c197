"""`/v1/entitlements?resourceId=<spaceId>`: always `{"data": []}`.

Flatfile's plugins ask a space's entitlements (`headerSelection`, `sourceEditor`,
`customRecordsPageSize`) and run with their defaults when none is listed. Spaceport lists none:
an entitlement it listed would have to be honoured, and none is built. The space must be one the
caller may read (secret key of its environment, or a guest of it); anything else answers as
`GET /v1/spaces/{id}` would (403 for a publishable key or another space's guest, 404 otherwise).
"""

from __future__ import annotations

from typing import Any

from litestar import Request, get

from gateway_service import ids
from gateway_service.auth import principal_of, require_space_role
from gateway_service.query import param
from gateway_service.state import Gateway
from spaceport.contracts.space import SERVICE, GetSpace, SpaceView
from spaceport.errors import NotFoundError, ValidationFailedError


@get("/v1/entitlements")
async def list_entitlements(request: Request[Any, Any, Any], gateway: Gateway) -> dict[str, object]:
    principal = await principal_of(request, gateway)
    resource_id = param(request, "resourceId")
    if resource_id is None:
        raise ValidationFailedError("resourceId is required: the id of a space", key="resourceId")
    if not ids.is_id(resource_id, "space"):
        raise NotFoundError(f"resource {resource_id[:80]!r} not found: entitlements are per space", key="resourceId")
    require_space_role(principal, resource_id, "read")
    query = GetSpace(environment_id=principal.environment_id, space_id=resource_id)
    try:
        await gateway.rpc.request(SERVICE, query, SpaceView)
    except NotFoundError:
        raise NotFoundError(f"space {resource_id} not found", key="resourceId") from None
    return {"data": []}


ROUTES = [list_entitlements]
