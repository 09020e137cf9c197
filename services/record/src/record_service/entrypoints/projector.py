"""The records projector child process: started with the service, restarted if it dies, and
stopping itself once its parent is gone (PERFORMANCE.md: the projection of one write runs on
the other core while the next write is decided)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import subprocess
import sys

log = logging.getLogger(__name__)
ROLE = "RECORD_ROLE"  # = "projector" in the child
_watchers: set[asyncio.Task[None]] = set()


def is_projector() -> bool:
    return os.environ.get(ROLE) == "projector"


async def watch_parent(parent: int) -> None:
    """Stop (as on SIGTERM) once the parent is gone, even if it was killed without a word."""

    async def watch() -> None:
        while os.getppid() == parent:  # noqa: ASYNC110 - a parent's death sends no event to wait on
            await asyncio.sleep(1.0)
        os.kill(os.getpid(), signal.SIGTERM)

    task = asyncio.create_task(watch())
    _watchers.add(task)


class Projector:
    """The projector child: started with the service, restarted if it dies, stopped with it."""

    def __init__(self) -> None:
        self.child = self._start()
        self._task: asyncio.Task[None] | None = None

    def _start(self) -> subprocess.Popen[bytes]:
        return subprocess.Popen([sys.executable, "-m", "record_service"], env={**os.environ, ROLE: "projector"})

    async def supervise(self) -> None:
        async def loop() -> None:
            while True:
                await asyncio.sleep(1.0)
                if self.child.poll() is not None:
                    log.error("the records projector exited with %s; restarting it", self.child.returncode)
                    self.child = self._start()

        self._task = asyncio.create_task(loop())

    def stop(self) -> None:
        self.child.terminate()
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.child.wait(10.0)
        if self.child.poll() is None:
            self.child.kill()
