"""Request bodies (typed Structs decoded with msgspec, with messages a client can act on, or raw
bytes) and Flatfile's `{"data": …}` envelope for answers."""

from __future__ import annotations

import zlib
from typing import Any, TypeVar

import msgspec
from litestar import Request

from spaceport.errors import PayloadTooLargeError, ValidationFailedError

T = TypeVar("T")
MAX_INFLATED = 64 * 1024 * 1024


async def decode(request: Request[Any, Any, Any], cls: type[T]) -> T:
    raw = await request.body()
    if not raw.strip():
        raw = b"{}"
    try:
        return msgspec.json.decode(raw, type=cls)
    except msgspec.ValidationError as error:
        path = str(error).rpartition("at `$.")[2].rstrip("`") if "at `$." in str(error) else None
        raise ValidationFailedError(f"invalid body: {error}", key=path) from None
    except msgspec.DecodeError as error:
        raise ValidationFailedError(f"malformed JSON body: {error}") from None
    except RecursionError:  # msgspec's guard against deeply nested input, not a DecodeError
        raise ValidationFailedError("malformed JSON body: nested too deeply") from None


async def body_bytes(request: Request[Any, Any, Any]) -> bytes:
    """The body's bytes, inflated when sent `Content-Encoding: gzip` (at most MAX_INFLATED of them)."""
    raw = await request.body()
    if request.headers.get("content-encoding", "").lower() not in ("gzip", "x-gzip"):
        return raw
    inflater = zlib.decompressobj(wbits=31)
    try:
        out = inflater.decompress(raw, MAX_INFLATED)
    except zlib.error as problem:
        raise ValidationFailedError(f"the gzip body is corrupt: {problem}") from None
    if inflater.unconsumed_tail:
        raise PayloadTooLargeError(f"the inflated body is larger than {MAX_INFLATED} bytes")
    return out


# JSON bodies of the space-service resources; larger ones answer 413 before they are read whole.
MAX_JSON_BODY = 2 * 1024 * 1024
SUCCESS: dict[str, object] = {"data": {"success": True}}


def data(value: object) -> dict[str, object]:
    """Flatfile's envelope for one object or a list without pagination."""
    return {"data": value}
