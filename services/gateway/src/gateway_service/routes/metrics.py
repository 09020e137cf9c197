"""`/v1/spaces/{spaceId}/metrics` and `/v1/metrics`: what happened in a space, and an environment's
totals by app (a Spaceport addition; docs/api.md "Space metrics").

A secret key reads its environment's; a guest admin reads its own space's; every other principal
gets 403. Another environment's space or environment answers 404, as an unknown one does. The job
service computes them (`job_service.metrics`).
"""

from __future__ import annotations

from typing import Any

from litestar import Request, get

from gateway_service.auth import environment_of, principal_of, require_space_role, secret_principal
from gateway_service.body import data
from gateway_service.ids import is_id
from gateway_service.query import param
from gateway_service.state import Gateway
from spaceport.contracts.metrics import (
    SERVICE,
    EnvironmentMetrics,
    GetEnvironmentMetrics,
    GetSpaceMetrics,
    SpaceMetrics,
)
from spaceport.errors import NotFoundError, ValidationFailedError


@get("/v1/spaces/{space_id:str}/metrics")
async def space_metrics(request: Request[Any, Any, Any], gateway: Gateway, space_id: str) -> dict[str, object]:
    principal = await principal_of(request, gateway)
    require_space_role(principal, space_id, "admin")
    view = await gateway.rpc.request(SERVICE, GetSpaceMetrics(space_id=space_id), SpaceMetrics)
    if view.environment_id != principal.environment_id:
        raise NotFoundError(f"space {space_id} not found", key="spaceId")
    return data(view)


@get("/v1/metrics")
async def environment_metrics(request: Request[Any, Any, Any], gateway: Gateway) -> dict[str, object]:
    principal = await secret_principal(request, gateway)
    environment_id = environment_of(principal, param(request, "environmentId"))
    app_id = param(request, "appId")
    if app_id is not None and not is_id(app_id, "app"):
        raise ValidationFailedError(f"appId {app_id[:80]!r} is not an app id", key="appId")
    query = GetEnvironmentMetrics(environment_id=environment_id, app_id=app_id)
    return data(await gateway.rpc.request(SERVICE, query, EnvironmentMetrics))


ROUTES = [space_metrics, environment_metrics]
