"""Composition root of the file service: the one place that reads settings and wires adapters."""

from __future__ import annotations

import asyncio

from spaceport import runtime, s3, telemetry
from spaceport.contracts import space
from spaceport.known_spaces import KnownSpaces
from spaceport.settings import Settings

NAME = "file"


def build(settings: Settings) -> runtime.ServiceRuntime:
    rt = runtime.ServiceRuntime(settings, space.EVENTS)
    rt.add_projection(KnownSpaces(NAME, settings.event_prefix))
    return rt


async def ensure_bucket(settings: Settings) -> None:
    """The file service owns the bucket uploads go to; it creates it at start."""
    await asyncio.to_thread(s3.ensure_bucket, s3.make_client(settings), settings.s3_bucket)


def main() -> None:
    settings = Settings.from_env(NAME)
    telemetry.setup(settings.service_name, settings.otel_exporter, settings.otel_endpoint)
    runtime.run(build(settings), after_start=lambda: ensure_bucket(settings))
