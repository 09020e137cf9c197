"""Composition root of the file service: the one place that reads settings and wires adapters."""

from __future__ import annotations

import asyncio

from file_service.application.app import FileApplication
from file_service.entrypoints import rpc
from file_service.entrypoints.objects import S3Objects
from file_service.projections.files import NAME as SCHEMA
from file_service.projections.files import FileProjection
from file_service.projections.queries import FileQueries
from spaceport import runtime, s3, telemetry
from spaceport.contracts import file, space
from spaceport.settings import Settings

NAME = "file"


def build(settings: Settings) -> runtime.ServiceRuntime:
    rt = runtime.ServiceRuntime(settings, (*space.EVENTS, *file.EVENTS))
    rt.add_projection(FileProjection(settings.event_prefix, name=NAME))
    objects = S3Objects(s3.make_client(settings), settings.s3_bucket)
    app = FileApplication(rt.store, FileQueries(lambda: rt.pool), lambda p: rt.runner(SCHEMA).wait_for(p), objects)
    rpc.bind(rt.rpc, app)
    return rt


async def ensure_bucket(settings: Settings) -> None:
    """The file service owns the bucket uploads go to; it creates it at start."""
    await asyncio.to_thread(s3.ensure_bucket, s3.make_client(settings), settings.s3_bucket)


def main() -> None:
    settings = Settings.from_env(NAME)
    telemetry.setup(settings.service_name, settings.otel_exporter, settings.otel_endpoint)
    runtime.run(build(settings), after_start=lambda: ensure_bucket(settings))
