"""Composition root of the file service: the one place that reads settings and wires adapters.

Besides its read model the runtime runs the `file:extract` worker (`entrypoints/extractor.py`) as
background work (`rt.add_background`): its own consumer and checkpoint on the job events, which
only records the jobs, and a small pool of extraction tasks that claims and runs them. Not one of
`rt.projections`, since a rebuild replays read models, never work.
"""

from __future__ import annotations

import asyncio

from file_service.application.app import FileApplication
from file_service.entrypoints import rpc
from file_service.entrypoints.extractor import Extraction, ExtractJobs, ExtractPool, ExtractRunner
from file_service.entrypoints.mapper import Mapper, Mapping
from file_service.entrypoints.objects import S3Objects
from file_service.projections.erasure import ObjectPurger
from file_service.projections.files import NAME as SCHEMA
from file_service.projections.files import FileProjection
from file_service.projections.queries import FileQueries
from spaceport import runtime, s3, telemetry
from spaceport.contracts import file, job, space
from spaceport.messaging import RpcClient
from spaceport.projection import ProjectionRunner
from spaceport.settings import Settings

NAME = "file"


EXTRACT_BATCH = 100  # job events per batch of the extractor's consumer (it only records jobs)
EXTRACT_ACK_WAIT = 30.0  # seconds a batch may take before JetStream redelivers it


class Extractor:
    """The `file:extract` worker as `rt` background work (started after the read model and handlers):
    the consumer (migrates the schema, records jobs) first, then the pool that runs them."""

    def __init__(self, rt: runtime.ServiceRuntime, work: Extraction) -> None:
        self.rt = rt
        self.work = work
        self.runner: ProjectionRunner | None = None
        self.pool: ExtractPool | None = None

    async def start(self) -> None:
        self.pool = ExtractPool(lambda: self.rt.pool, self.work)
        consumer = ExtractJobs(self.rt.settings.event_prefix)
        self.runner = ExtractRunner(
            self.rt.store,
            self.rt.pool,
            consumer,
            batch_size=EXTRACT_BATCH,
            ack_wait=EXTRACT_ACK_WAIT,
            on_commit=self.pool.wake,
        )
        await self.runner.start()
        await self.pool.start()

    async def stop(self) -> None:
        if self.pool is not None:
            await self.pool.stop()
            self.pool = None
        if self.runner is not None:
            await self.runner.stop()
            self.runner = None


def build(settings: Settings) -> runtime.ServiceRuntime:
    rt = runtime.ServiceRuntime(settings, (*space.EVENTS, *file.EVENTS, *job.EVENTS))
    rt.add_projection(FileProjection(settings.event_prefix, name=NAME))
    client = s3.make_client(settings)
    objects = S3Objects(client, settings.s3_bucket)
    app = FileApplication(rt.store, FileQueries(lambda: rt.pool), lambda p: rt.runner(SCHEMA).wait_for(p), objects)
    rpc.bind(rt.rpc, app)
    requests = RpcClient(rt.broker, settings.command_prefix, settings.request_timeout)
    rt.add_background(Extractor(rt, Extraction(app, requests, rt.claims, client)))
    rt.add_background(Mapper(rt, Mapping(requests, rt.claims)))
    rt.add_background(ObjectPurger(lambda: rt.pool, client, settings.s3_bucket))
    return rt


async def ensure_bucket(settings: Settings) -> None:
    """The file service owns the bucket uploads go to; it creates it at start."""
    await asyncio.to_thread(s3.ensure_bucket, s3.make_client(settings), settings.s3_bucket)


def main() -> None:
    settings = Settings.from_env(NAME)
    telemetry.setup(settings.service_name, settings.otel_exporter, settings.otel_endpoint)
    runtime.run(build(settings), after_start=lambda: ensure_bucket(settings))
