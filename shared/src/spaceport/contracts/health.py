"""Every service answers `Ping` on `cmd.<service>.ping`."""

from __future__ import annotations

import msgspec


class Ping(msgspec.Struct, frozen=True, kw_only=True):
    pass


class ProjectionStatus(msgspec.Struct, frozen=True, kw_only=True):
    name: str
    position: int


class Pong(msgspec.Struct, frozen=True, kw_only=True):
    service: str
    database: bool
    projections: list[ProjectionStatus]
