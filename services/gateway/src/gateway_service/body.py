"""Request bodies (typed Structs decoded with msgspec, with messages a client can act on, or raw
bytes) and Flatfile's `{"data": …}` envelope for answers."""

from __future__ import annotations

import zlib
from typing import Annotated, Any, TypeVar

import msgspec
from litestar import Request

from spaceport.errors import PayloadTooLargeError, ValidationFailedError
from spaceport.nul import nul_at

T = TypeVar("T")
MAX_INFLATED = 64 * 1024 * 1024
# A body field the services keep in a Postgres `integer` column: a larger value would be accepted
# and never projected (its create answered 404; tests/test_fuzz_openapi.py found it), so 400.
Int32 = Annotated[int, msgspec.Meta(ge=-(2**31), le=2**31 - 1)]


async def decode(request: Request[Any, Any, Any], cls: type[T]) -> T:
    raw = await request.body()
    if not raw.strip():
        raw = b"{}"
    try:
        decoded = msgspec.json.decode(raw, type=cls)
        if b"\\u0000" in raw:  # only an escaped NUL is valid JSON: look for it only then
            _refuse_nul(msgspec.json.decode(raw))
    except msgspec.ValidationError as error:
        path = str(error).rpartition("at `$.")[2].rstrip("`") if "at `$." in str(error) else None
        raise ValidationFailedError(f"invalid body: {error}", key=path) from None
    except msgspec.DecodeError as error:
        raise ValidationFailedError(f"malformed JSON body: {error}") from None
    except RecursionError:  # msgspec's guard against deeply nested input, not a DecodeError
        raise ValidationFailedError("malformed JSON body: nested too deeply") from None
    return decoded


def _refuse_nul(value: Any) -> None:
    """400 for a NUL character in any string of the body (a key or a value): the services' Postgres
    text and jsonb cannot hold one, so the write would be accepted but never projected (its
    create answered 404 for the resource it made; the fuzz of tests/test_fuzz_openapi.py)."""
    if (found := nul_at(value)) is not None:
        raise ValidationFailedError(f"invalid body: a NUL character at `{found.jsonpath}`", key=found.path or None)


def refuse_nul_record_ids(raw: bytes) -> None:
    """400 for a NUL character in a record id of a `PUT …/records` body (which the record service
    decodes: its id lookup in Postgres answered 503; tests/test_fuzz_openapi.py found it)."""
    if b"\\u0000" not in raw:
        return
    try:
        items = msgspec.json.decode(raw)
    except (msgspec.DecodeError, RecursionError):
        return  # the record service answers the malformed body
    for n, item in enumerate(items if isinstance(items, list) else []):
        if isinstance(item, dict) and isinstance(item.get("id"), str) and "\x00" in item["id"]:
            raise ValidationFailedError(f"invalid records body: a NUL character at `$[{n}].id`", key=f"[{n}].id")


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
