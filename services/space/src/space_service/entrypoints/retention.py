"""The data-retention sweeper: every `interval` seconds, expire the spaces past their policy.

One replica sweeps at a time (a session-level Postgres advisory lock, like a projection's
lease); the others skip the round. `SweepRetention` (NATS only) runs one sweep on demand at a
given time, waiting for the lock: how an operator or a test expires spaces without waiting days.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import asyncpg

from space_service.application.retention import RetentionHandlers
from spaceport.contracts.space import RetentionSwept, SweepRetention
from spaceport.errors import ServiceUnavailableError
from spaceport.projection.lease import lease
from spaceport.runtime import Loop

log = logging.getLogger(__name__)
LOCK = "space:retention-sweeper"
LOCK_WAIT = 5.0  # seconds a `SweepRetention` waits for a sweep in progress elsewhere
LOCK_RETRY = 0.1


def utcnow() -> datetime:
    return datetime.now(UTC)


class RetentionSweeper(Loop):
    task_name = "space-retention-sweeper"

    def __init__(
        self,
        retention: RetentionHandlers,
        pool: Callable[[], asyncpg.Pool[Any]],
        interval: float,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        super().__init__()
        self.retention = retention
        self.pool = pool
        self.interval = interval
        self.clock = clock

    async def sweep_once(self, now: datetime) -> RetentionSwept | None:
        """One sweep as of `now` if this process gets the lock; None when another holds it."""
        async with lease(self.pool(), LOCK) as held:
            if not held:
                return None
            expired, position = await self.retention.sweep(now)
        if expired:
            log.info("data retention expired %d space(s): %s", len(expired), ", ".join(expired))
        return RetentionSwept(expired=expired, position=position)

    async def on_demand(self, cmd: SweepRetention) -> RetentionSwept:
        now = cmd.now or self.clock()
        deadline = asyncio.get_running_loop().time() + LOCK_WAIT
        while (swept := await self.sweep_once(now)) is None:
            if asyncio.get_running_loop().time() > deadline:
                raise ServiceUnavailableError("another data-retention sweep is running; retry shortly")
            await asyncio.sleep(LOCK_RETRY)
        return swept

    async def run(self) -> None:
        while True:
            try:
                await self.sweep_once(self.clock())
            except Exception:
                log.exception("data retention sweep failed; retrying")
            await asyncio.sleep(self.interval)
