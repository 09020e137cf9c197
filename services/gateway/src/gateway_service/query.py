"""Query-string parameters: the ones several routes declare, and the hand-parsed ones of the records API.

Declared parameters are named once here with their wire names, so Litestar parses (and refuses)
them the same way on every route. The record endpoints read theirs by hand: an empty value counts
as absent, and a list may be repeated or comma-separated (`ids=a,b&ids=c`).
"""

from __future__ import annotations

from typing import Annotated, Any

import msgspec
from litestar import Request
from litestar.params import QueryParameter

from gateway_service.state import Gateway
from spaceport.contracts.history import SERVICE as HISTORY
from spaceport.contracts.history import Position, ResolvePosition
from spaceport.errors import ValidationFailedError

PageSize = Annotated[int, QueryParameter(name="pageSize")]
PageNumber = Annotated[int, QueryParameter(name="pageNumber")]
OptionalSpaceId = Annotated[str | None, QueryParameter(name="spaceId")]


def param(request: Request[Any, Any, Any], *names: str) -> str | None:
    """The first of `names` given a non-empty value."""
    for name in names:
        value = request.query_params.get(name)
        if value not in (None, ""):
            return str(value)
    return None


def int_param(request: Request[Any, Any, Any], name: str, default: int) -> int:
    value = param(request, name)
    if value is None:
        return default
    try:
        return int(value)
    except ValueError:
        raise ValidationFailedError(f"{name} must be an integer", key=name) from None


def bool_param(request: Request[Any, Any, Any], name: str, default: bool) -> bool:
    value = param(request, name)
    if value is None:
        return default
    if value.lower() not in ("true", "false", "1", "0"):
        raise ValidationFailedError(f"{name} must be true or false", key=name)
    return value.lower() in ("true", "1")


def list_param(request: Request[Any, Any, Any], name: str) -> list[str]:
    values = [str(v) for v in request.query_params.getall(name, [])]
    return [p for v in values for p in v.split(",") if p]


class AsOf(msgspec.Struct, frozen=True):
    """`asOf` of a workbook or sheet read, as the workbook service takes it (a sequence or a time),
    and the space a version id belongs to (None unless `asOf` was a version id)."""

    value: str | None
    space_id: str | None = None


async def as_of_param(request: Request[Any, Any, Any], gateway: Gateway) -> AsOf:
    """`asOf` of a workbook or sheet read: a stream sequence, an ISO-8601 time, or a version id from
    `GET /v1/spaces/{id}/versions` (resolved to its sequence by the job service's history)."""
    value = param(request, "asOf")
    if value is None or not value.startswith(("us_vr_", "dev_vr_")):
        return AsOf(value)
    position = await gateway.rpc.request(HISTORY, ResolvePosition(space_id="", version_id=value), Position)
    return AsOf(str(position.sequence), position.space_id)
