"""Request bodies: decoded with msgspec into typed Structs, with messages a client can act on."""

from __future__ import annotations

from typing import Any, TypeVar

import msgspec
from litestar import Request

from spaceport.errors import ValidationFailedError

T = TypeVar("T")


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


# JSON bodies of the space-service resources; larger ones answer 413 before they are read whole.
MAX_JSON_BODY = 2 * 1024 * 1024
SUCCESS: dict[str, object] = {"data": {"success": True}}


def data(value: object) -> dict[str, object]:
    """Flatfile's envelope for one object or a list without pagination."""
    return {"data": value}
