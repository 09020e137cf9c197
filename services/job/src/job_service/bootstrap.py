"""Composition root of the job service: the one place that reads settings and wires adapters.

The service hosts two things: the job aggregates (`job_service.application`, `domain`,
`projections`) and the Flatfile event feed (`job_service.feed`), a projection of every
domain event into Flatfile's event shape with its delivery (list, ack, stream, NATS relay).
"""

from __future__ import annotations

from job_service import feed
from spaceport import runtime, telemetry
from spaceport.contracts import job, space
from spaceport.known_spaces import KnownSpaces
from spaceport.settings import Settings

NAME = "job"


def build(settings: Settings) -> runtime.ServiceRuntime:
    rt = runtime.ServiceRuntime(settings, (*space.EVENTS, *job.EVENTS))
    rt.add_projection(KnownSpaces(NAME, settings.event_prefix))
    feed.install(rt, settings)
    return rt


def main() -> None:
    settings = Settings.from_env(NAME)
    telemetry.setup(settings.service_name, settings.otel_exporter, settings.otel_endpoint)
    runtime.run(build(settings))
