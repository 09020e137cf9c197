"""What `/v1/openapi.json` says the error answers are.

Every non-2xx answer is Flatfile's envelope `{"errors":[{"key","message"}]}` (errors.py), whatever
the operation, with the status of the rule it breaks (spaceport.errors). Litestar documents only
its own 400 shape (`{status_code, detail, extra}`, which the gateway never sends); this documents
the envelope for each status any operation may answer, on every route handler at app start-up.
tests/test_fuzz_openapi.py checks every answer against the document."""

from __future__ import annotations

from typing import Any

import msgspec
from litestar.config.app import AppConfig
from litestar.handlers import HTTPRouteHandler
from litestar.openapi.datastructures import ResponseSpec


class ErrorItem(msgspec.Struct, frozen=True, kw_only=True):
    message: str
    key: str | None = None  # the offending field, when there is one (left out otherwise)


class ErrorBody(msgspec.Struct, frozen=True, kw_only=True):
    errors: list[ErrorItem]


ERROR_STATUSES = {
    400: "The request is invalid (a parameter or the body); `key` names the field",
    401: "No key, or a key that is not valid (any longer)",
    403: "The key may not do this",
    404: "Not found (or not visible to this key)",
    405: "The resource does not accept this method",
    409: "Conflicts with the resource's current state",
    413: "The body is larger than this operation accepts",
    422: "Well-formed but cannot be processed",
    429: "Rate limited; retry after the `Retry-After` header's seconds",
    503: "A service behind the gateway is not answering; retry",
}
ERROR_RESPONSES = {
    status: ResponseSpec(data_container=ErrorBody, description=description, generate_examples=False)
    for status, description in ERROR_STATUSES.items()
}
# For handlers answering pre-encoded JSON (`Response[bytes]`), which Litestar documents as a string.
JSON_OBJECT = {
    200: ResponseSpec(data_container=dict[str, Any], description="Request fulfilled", generate_examples=False)
}


def document_errors(app_config: AppConfig) -> AppConfig:
    """An `on_app_init` hook: the error envelope on every HTTP route (a handler's own entries win)."""
    for handler in app_config.route_handlers:
        if isinstance(handler, HTTPRouteHandler):
            handler.responses = {**ERROR_RESPONSES, **(handler.responses or {})}
    return app_config


# Answers that are not JSON: a sheet as CSV, a file's own bytes (its own Content-Type), SSE.
CSV_FILE = {
    200: ResponseSpec(
        data_container=str, media_type="text/csv", generate_examples=False, description="The records as CSV"
    )
}
ANY_FILE = {
    200: ResponseSpec(
        data_container=bytes,
        media_type="*/*",
        generate_examples=False,
        description="The file, with its own Content-Type",
    )
}
EVENT_STREAM = {
    200: ResponseSpec(
        data_container=str,
        media_type="text/event-stream",
        generate_examples=False,
        description="Server-sent events, one per event",
    )
}
