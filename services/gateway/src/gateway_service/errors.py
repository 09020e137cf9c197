"""Flatfile's error envelope for every non-2xx answer: `{"errors":[{"key","message"}]}`."""

from __future__ import annotations

import logging
from typing import Any

from litestar import Request, Response
from litestar.exceptions import HTTPException, ValidationException
from litestar.status_codes import HTTP_413_REQUEST_ENTITY_TOO_LARGE

from spaceport.errors import RateLimitedError, SpaceportError

log = logging.getLogger(__name__)


def envelope(message: str, key: str | None = None) -> dict[str, list[dict[str, str]]]:
    item = {"message": message}
    if key:
        item["key"] = key
    return {"errors": [item]}


def spaceport_error(_: Request[Any, Any, Any], error: SpaceportError) -> Response[object]:
    retry_after = getattr(error, "retry_after", 1)
    headers = {"Retry-After": str(retry_after)} if isinstance(error, RateLimitedError) else None
    return Response(envelope(error.message, error.key), status_code=error.status, headers=headers)


def http_error(_: Request[Any, Any, Any], error: HTTPException) -> Response[object]:
    message = error.detail or "request failed"
    if isinstance(error, ValidationException) and isinstance(error.extra, list) and error.extra:
        first = error.extra[0]
        if isinstance(first, dict):
            message = f"{first.get('message', message)} ({first.get('key', '')})"
    headers = dict(error.headers or {})
    if error.status_code == HTTP_413_REQUEST_ENTITY_TOO_LARGE:
        # The body was refused unread: the connection cannot carry another request. Saying so
        # lets a keep-alive client open a new one instead of failing its next request.
        headers["Connection"] = "close"
    return Response(envelope(message), status_code=error.status_code, headers=headers)


def unexpected_error(_: Request[Any, Any, Any], error: Exception) -> Response[object]:
    log.exception("unhandled error", exc_info=error)
    return Response(envelope("internal error; the operator's logs have details"), status_code=500)


HANDLERS = {SpaceportError: spaceport_error, HTTPException: http_error, Exception: unexpected_error}
