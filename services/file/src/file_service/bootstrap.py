"""Composition root of the file service: the one place that reads settings and wires adapters."""

from __future__ import annotations

from spaceport import runtime, telemetry
from spaceport.contracts import space
from spaceport.known_spaces import KnownSpaces
from spaceport.settings import Settings

NAME = "file"


def build(settings: Settings) -> runtime.ServiceRuntime:
    rt = runtime.ServiceRuntime(settings, space.EVENTS)
    rt.add_projection(KnownSpaces(NAME, settings.event_prefix))
    return rt


def main() -> None:
    settings = Settings.from_env(NAME)
    telemetry.setup(settings.service_name, settings.otel_exporter, settings.otel_endpoint)
    runtime.run(build(settings))
