"""What every part of the space contract shares: the service name, wire base, pages and write receipts."""

from __future__ import annotations

from typing import Any

import msgspec

SERVICE = "space"
Json = dict[str, Any]


class Wire(msgspec.Struct, frozen=True, kw_only=True, rename="camel", omit_defaults=False):
    pass


class Pagination(Wire, frozen=True, kw_only=True):
    current_page: int
    page_count: int
    total_count: int


class Written(msgspec.Struct, frozen=True, kw_only=True):
    """Where a write landed: the gateway reads after it with `min_position`."""

    position: int


class Caught(msgspec.Struct, frozen=True, kw_only=True):
    """Answers once the read model applied `position`: read-your-writes for writes that return no view."""

    position: int
