"""`/v1/spaces/{spaceId}/versions` and a cell's history (Spaceport additions; docs/api.md "Versions").

A secret key reads its environment's spaces; a guest reads its own space's (any role); a
publishable key and a guest of another space get 403; another environment's space answers 404,
as an unknown one does. A cell's history is checked as a read of its sheet (`records.authorize`).
The job service keeps the history (`job_service.history`).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import msgspec
from litestar import Request, get

from gateway_service.auth import principal_of, require_space_role
from gateway_service.ids import is_id
from gateway_service.query import int_param, param
from gateway_service.routes.records import authorize
from gateway_service.state import Gateway
from spaceport.contracts.history import (
    DEFAULT_PAGE_SIZE,
    MAX_PAGE_SIZE,
    SERVICE,
    CellHistory,
    GetCellHistory,
    GetVersion,
    ListVersions,
    VersionFound,
    VersionPage,
)
from spaceport.errors import NotFoundError, ValidationFailedError

MAX_PAGE_NUMBER = 1_000_000


def time_param(request: Request[Any, Any, Any], name: str) -> datetime | None:
    value = param(request, name)
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise ValidationFailedError(f"{name} must be an ISO-8601 time, not {value[:80]!r}", key=name) from None
    try:
        return parsed.astimezone(UTC) if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)
    except OverflowError:
        raise ValidationFailedError(f"{name} is out of range: {value[:80]!r}", key=name) from None


def page_params(request: Request[Any, Any, Any]) -> tuple[int, int]:
    size = int_param(request, "pageSize", DEFAULT_PAGE_SIZE)
    if not 1 <= size <= MAX_PAGE_SIZE:
        raise ValidationFailedError(
            f"pageSize must be 1..{MAX_PAGE_SIZE} (default {DEFAULT_PAGE_SIZE})", key="pageSize"
        )
    number = int_param(request, "pageNumber", 1)
    if not 1 <= number <= MAX_PAGE_NUMBER:
        raise ValidationFailedError(f"pageNumber must be 1..{MAX_PAGE_NUMBER}", key="pageNumber")
    return size, number


def _in_environment(environment_id: str, expected: str, space_id: str) -> None:
    if environment_id != expected:
        raise NotFoundError(f"space {space_id} not found", key="spaceId")


@get("/v1/spaces/{space_id:str}/versions")
async def list_versions(request: Request[Any, Any, Any], gateway: Gateway, space_id: str) -> dict[str, object]:
    principal = await principal_of(request, gateway)
    require_space_role(principal, space_id, "read")
    sheet_id = param(request, "sheetId")
    if sheet_id is not None and not is_id(sheet_id, "sheet"):
        raise ValidationFailedError(f"sheetId {sheet_id[:80]!r} is not a sheet id", key="sheetId")
    page_size, page_number = page_params(request)
    query = ListVersions(
        space_id=space_id,
        page_size=page_size,
        page_number=page_number,
        sheet_id=sheet_id,
        since=time_param(request, "since"),
        until=time_param(request, "until"),
    )
    page = await gateway.rpc.request(SERVICE, query, VersionPage)
    _in_environment(page.environment_id, principal.environment_id, space_id)
    return {"data": msgspec.to_builtins(page.data), "pagination": msgspec.to_builtins(page.pagination)}


@get("/v1/spaces/{space_id:str}/versions/{version_id:str}")
async def get_version(
    request: Request[Any, Any, Any], gateway: Gateway, space_id: str, version_id: str
) -> dict[str, object]:
    principal = await principal_of(request, gateway)
    require_space_role(principal, space_id, "read")
    if not is_id(version_id, "commit"):
        raise NotFoundError(f"version {version_id[:80]!r} not found", key="versionId")
    found = await gateway.rpc.request(SERVICE, GetVersion(space_id=space_id, version_id=version_id), VersionFound)
    _in_environment(found.environment_id, principal.environment_id, space_id)
    return {"data": msgspec.to_builtins(found.version)}


@get("/v1/sheets/{sheet_id:str}/records/{record_id:str}/history")
async def cell_history(
    request: Request[Any, Any, Any], gateway: Gateway, sheet_id: str, record_id: str
) -> dict[str, object]:
    await authorize(request, gateway, sheet_id, write=False)
    field = param(request, "field")
    if field is None:
        raise ValidationFailedError("field is required: the key of the cell's field", key="field")
    if len(field) > 255:
        raise ValidationFailedError("field is longer than 255 characters", key="field")
    query = GetCellHistory(sheet_id=sheet_id, record_id=record_id, field=field)
    history = await gateway.rpc.request(SERVICE, query, CellHistory)
    return {"data": msgspec.to_builtins(history.data)}


ROUTES = [list_versions, get_version, cell_history]
