"""Query-string parameters: the ones several routes declare, and the hand-parsed ones of the records API.

Declared parameters are named once here with their wire names, so Litestar parses (and refuses)
them the same way on every route. The record endpoints read theirs by hand: an empty value counts
as absent, and a list may be repeated or comma-separated (`ids=a,b&ids=c`).
"""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Request
from litestar.params import QueryParameter

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


def as_of_param(request: Request[Any, Any, Any]) -> str | None:
    """`asOf` of a workbook or sheet read: a stream sequence or an ISO-8601 time (400 for a version
    id: `GET /v1/spaces/{id}/versions` lists each version's `sequence`)."""
    value = param(request, "asOf")
    if value is not None and value.startswith(("us_vr_", "dev_vr_")):
        raise ValidationFailedError(
            "asOf on workbooks and sheets takes an ISO-8601 time or a stream sequence (each version's"
            " `sequence` in GET /v1/spaces/{spaceId}/versions)",
            key="asOf",
        )
    return value
