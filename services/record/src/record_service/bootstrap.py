"""Composition root of the record service: the one place that reads settings and wires adapters.

`python -m record_service` runs two processes (PERFORMANCE.md: use both cores): this one answers
commands and queries, and a child (`RECORD_ROLE=projector`, `entrypoints/projector.py`) runs the
records projection, so the validation of one write and the projection of the previous one
proceed in parallel. The child exits when its parent does. `build(settings)` (tests) keeps
everything in one process.
"""

from __future__ import annotations

import asyncio
import os

import asyncpg

from record_service.application.bulk import BulkHandlers
from record_service.application.completion import CompletionHandlers
from record_service.application.context import ServiceContext
from record_service.application.reads import ReadHandlers
from record_service.application.restore import RestoreHandlers
from record_service.application.snapshots import SnapshotHandlers
from record_service.application.writes import WriteHandlers
from record_service.entrypoints import rpc
from record_service.entrypoints.projector import Projector, is_projector, watch_parent
from record_service.entrypoints.restorer import Restorer, Restoring
from record_service.projections.erasure import SheetPurger
from record_service.projections.queries import PgRecordReadModel
from record_service.projections.records import NAME as PROJECTION
from record_service.projections.records import RecordsProjection
from record_service.projections.sheet_indexes import SheetIndexer
from spaceport import readmodel, runtime, telemetry
from spaceport.contracts import job, record, snapshot, space, workbook
from spaceport.events import Event
from spaceport.known_spaces import KnownSpaces
from spaceport.messaging import RpcClient
from spaceport.settings import Settings

NAME = "record"
# Record events are decoded by the projection itself (cells stay bytes), so only their small
# CommitCreated and CommitCompleted are registered for typed decoding.
EVENTS: tuple[type[Event], ...] = (
    *space.EVENTS,
    *workbook.EVENTS,
    record.CommitCreated,
    record.CommitCompleted,
    job.JobCreated,  # the restore worker's (`entrypoints/restorer.py`)
    job.JobReady,
    *snapshot.EVENTS,  # the snapshot aggregate's (projected into `snapshot`, folded by its commands)
)


def build(settings: Settings, *, project: bool = True) -> tuple[runtime.ServiceRuntime, ServiceContext]:
    """The command and query side; with `project` the records projection runs in it too."""
    rt = runtime.ServiceRuntime(settings, EVENTS)
    rt.add_projection(KnownSpaces(NAME, settings.event_prefix))
    if project:
        rt.add_projection(RecordsProjection(settings.event_prefix))
        rt.add_background(SheetIndexer(settings.database_url, PROJECTION))
        rt.add_background(SheetPurger(settings.database_url, PROJECTION))
    ctx = ServiceContext(rt, PgRecordReadModel(rt, spaces=NAME))
    rpc.bind(rt.rpc, WriteHandlers(ctx), ReadHandlers(ctx), CompletionHandlers(ctx), BulkHandlers(ctx))
    restores = RestoreHandlers(ctx)
    rpc.bind_restore(rt.rpc, restores)
    rpc.bind_snapshots(rt.rpc, SnapshotHandlers(ctx))
    requests = RpcClient(rt.broker, settings.command_prefix, settings.request_timeout)
    rt.add_background(Restorer(rt, Restoring(restores, requests)))
    return rt, ctx


def build_projector(settings: Settings) -> runtime.ServiceRuntime:
    rt = runtime.ServiceRuntime(settings, EVENTS)
    rt.add_projection(RecordsProjection(settings.event_prefix))
    rt.add_background(SheetIndexer(settings.database_url, PROJECTION))
    rt.add_background(SheetPurger(settings.database_url, PROJECTION))
    return rt


async def migrate(settings: Settings) -> None:
    """The records schema exists before the first query, whichever process starts first."""
    conn = await asyncpg.connect(settings.database_url)
    try:
        await readmodel.migrate(conn, PROJECTION, RecordsProjection.migrations)
    finally:
        await conn.close()


def main() -> None:
    settings = Settings.from_env(NAME)
    telemetry.setup(settings.service_name, settings.otel_exporter, settings.otel_endpoint)
    asyncio.run(migrate(settings))
    if is_projector():
        parent = os.getppid()
        runtime.run(build_projector(settings), after_start=lambda: watch_parent(parent))
        return
    projector = Projector()
    try:
        rt, _ = build(settings, project=False)
        runtime.run(rt, after_start=projector.supervise)
    finally:
        projector.stop()
