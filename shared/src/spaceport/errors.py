"""Typed errors that cross service boundaries and map onto HTTP statuses.

Errors are named after the rule they break. Each carries the HTTP status the gateway answers
with and an optional `key` (the offending field), matching Flatfile's `{"errors":[{key,message}]}`.
"""

from __future__ import annotations

from typing import ClassVar


class SpaceportError(Exception):
    """Base of every error a command or query may answer with."""

    status: ClassVar[int] = 400
    code: ClassVar[str] = "bad_request"

    def __init__(self, message: str, key: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.key = key


class ValidationFailedError(SpaceportError):
    status = 400
    code = "validation_failed"


class UnauthorizedError(SpaceportError):
    status = 401
    code = "unauthorized"


class ForbiddenError(SpaceportError):
    status = 403
    code = "forbidden"


class NotFoundError(SpaceportError):
    status = 404
    code = "not_found"


class ConflictError(SpaceportError):
    status = 409
    code = "conflict"


class PayloadTooLargeError(SpaceportError):
    status = 413
    code = "payload_too_large"


class UnprocessableError(SpaceportError):
    status = 422
    code = "unprocessable"


class RateLimitedError(SpaceportError):
    status = 429
    code = "rate_limited"


class ServiceUnavailableError(SpaceportError):
    status = 503
    code = "service_unavailable"


class ConcurrencyError(ConflictError):
    """An append lost an optimistic-concurrency race; reload and decide again."""

    code = "concurrency_conflict"


class ContendedError(ServiceUnavailableError):
    """Every attempt of a command lost its race to other writers (e.g. two replicas writing one
    sheet while a projection hands over): nothing was written, the client should retry."""

    code = "contended"


ERRORS_BY_CODE: dict[str, type[SpaceportError]] = {
    cls.code: cls
    for cls in (
        SpaceportError,
        ValidationFailedError,
        UnauthorizedError,
        ForbiddenError,
        NotFoundError,
        ConflictError,
        PayloadTooLargeError,
        UnprocessableError,
        RateLimitedError,
        ServiceUnavailableError,
        ConcurrencyError,
        ContendedError,
    )
}


def error_from_code(code: str, message: str, key: str | None = None) -> SpaceportError:
    """Rebuild a typed error on the caller's side of a request/reply."""
    return ERRORS_BY_CODE.get(code, SpaceportError)(message, key)
