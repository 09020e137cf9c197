"""Flatfile events (being built): a projection of every domain event into Flatfile's event shape."""

from __future__ import annotations

from spaceport import runtime
from spaceport.settings import Settings


def install(rt: runtime.ServiceRuntime, settings: Settings) -> None:
    """Register the feed's event types, projection, RPC handlers and background tasks on `rt`."""
