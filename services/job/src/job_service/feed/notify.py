"""Waking readers when the feed moves: one LISTEN connection per replica, and a poll as backstop.

The projection calls `pg_notify(NOTIFY_CHANNEL, position)` inside its transaction, so a
notification arrives only once the rows are visible, on every replica. A reader takes the
current `signal()` before it queries; if the query finds nothing it waits on that signal, so a
commit between its query and its wait still wakes it. If the listening connection is lost, the
readers' poll (`POLL` seconds) keeps them going until it is back.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

import asyncpg

from spaceport.contracts.feed import NOTIFY_CHANNEL
from spaceport.runtime import Loop

POLL = 1.0
RECONNECT = 1.0
log = logging.getLogger(__name__)


class FeedSignal(Loop):
    """An asyncio.Event per generation: set (and replaced) by every notification."""

    task_name = "feed-listen"

    def __init__(self, dsn: str) -> None:
        super().__init__()
        self._dsn = dsn
        self._event = asyncio.Event()

    def signal(self) -> asyncio.Event:
        return self._event

    def fire(self, *_: Any) -> None:
        event, self._event = self._event, asyncio.Event()
        event.set()

    async def wait(self, signal: asyncio.Event, timeout: float) -> None:
        # asyncio.timeout, not wait_for: on 3.11 wait_for can swallow a cancel that races the
        # timeout, and a stopping runtime would then wait forever for this task.
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(min(timeout, POLL)):
                await signal.wait()

    async def run(self) -> None:
        while True:
            try:
                await self._session()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.warning("feed: the LISTEN connection failed; readers poll until it is back", exc_info=True)
            await asyncio.sleep(RECONNECT)

    async def _session(self) -> None:
        conn = await asyncpg.connect(self._dsn)
        lost = asyncio.Event()
        conn.add_termination_listener(lambda _: lost.set())
        try:
            await conn.add_listener(NOTIFY_CHANNEL, self.fire)
            self.fire()  # whatever was committed while no one listened
            await lost.wait()
        finally:
            with contextlib.suppress(Exception):
                await conn.close()
