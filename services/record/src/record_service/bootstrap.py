"""Composition root of the record service: the one place that reads settings and wires adapters.

`python -m record_service` runs two processes (PERFORMANCE.md: use both cores): this one answers
commands and queries, and a child (`RECORD_ROLE=projector`) runs the records projection, so the
validation of one write and the projection of the previous one proceed in parallel. The child
exits when its parent does. `build(settings)` (tests) keeps everything in one process.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import subprocess
import sys

import asyncpg

from record_service.application.context import Context
from record_service.application.reads import ReadHandlers
from record_service.application.writes import WriteHandlers
from record_service.projections.records import NAME as PROJECTION
from record_service.projections.records import RecordsProjection
from spaceport import readmodel, runtime, telemetry
from spaceport.contracts import record, space, workbook
from spaceport.events import Event
from spaceport.known_spaces import KnownSpaces
from spaceport.settings import Settings

log = logging.getLogger(__name__)
NAME = "record"
ROLE = "RECORD_ROLE"
# Record events are decoded by the projection itself (cells stay bytes), so only their small
# CommitCreated is registered for typed decoding.
EVENTS: tuple[type[Event], ...] = (*space.EVENTS, *workbook.EVENTS, record.CommitCreated)


def build(settings: Settings, *, project: bool = True) -> tuple[runtime.ServiceRuntime, Context]:
    rt = runtime.ServiceRuntime(settings, EVENTS)
    rt.add_projection(KnownSpaces(NAME, settings.event_prefix))
    if project:
        rt.add_projection(RecordsProjection(settings.event_prefix))
    ctx = Context(rt)
    WriteHandlers(ctx).register()
    ReadHandlers(ctx).register()
    return rt, ctx


def build_projector(settings: Settings) -> runtime.ServiceRuntime:
    rt = runtime.ServiceRuntime(settings, EVENTS)
    rt.add_projection(RecordsProjection(settings.event_prefix))
    return rt


async def migrate(settings: Settings) -> None:
    """The records schema exists before the first query, whichever process starts first."""
    conn = await asyncpg.connect(settings.database_url)
    try:
        await readmodel.migrate(conn, PROJECTION, RecordsProjection.migrations)
    finally:
        await conn.close()


_watchers: set[asyncio.Task[None]] = set()


async def watch_parent(parent: int) -> None:
    """Stop (as on SIGTERM) once the parent is gone, even if it was killed without a word."""

    async def watch() -> None:
        while os.getppid() == parent:  # noqa: ASYNC110 - a parent's death sends no event to wait on
            await asyncio.sleep(1.0)
        os.kill(os.getpid(), signal.SIGTERM)

    task = asyncio.create_task(watch())
    _watchers.add(task)


def main() -> None:
    settings = Settings.from_env(NAME)
    telemetry.setup(settings.service_name, settings.otel_exporter, settings.otel_endpoint)
    asyncio.run(migrate(settings))
    if os.environ.get(ROLE) == "projector":
        parent = os.getppid()
        runtime.run(build_projector(settings), after_start=lambda: watch_parent(parent))
        return
    projector = Projector()
    try:
        rt, _ = build(settings, project=False)
        runtime.run(rt, after_start=projector.supervise)
    finally:
        projector.stop()


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
