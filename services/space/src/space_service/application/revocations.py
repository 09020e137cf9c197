"""Tells every gateway that credentials may have stopped working, so none keeps serving them from its cache."""

from __future__ import annotations

import logging

from space_service.application.ports import Broadcast, WaitFor
from spaceport.contracts.space import AuthInvalidated

log = logging.getLogger(__name__)


class Revocations:
    def __init__(self, caught_up: WaitFor, broadcast: Broadcast) -> None:
        self.caught_up = caught_up
        self.broadcast = broadcast

    async def announce(self, position: int, change: AuthInvalidated) -> None:
        """Broadcast `change` once the read model applied `position`.

        After the projection, not just after the append: a gateway that re-authenticates on the
        broadcast must already see the revocation, or it would cache the old principal again.
        Best effort: the write has succeeded either way, and the gateways' cache TTL bounds a miss.
        """
        if position <= 0:  # nothing was appended: nothing changed
            return
        if not await self.caught_up(position):
            log.warning("read model not at %d yet; announcing %s anyway", position, change.reason)
        await self.broadcast(change)
