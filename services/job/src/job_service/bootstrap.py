"""Composition root of the job service: the one place that reads settings and wires adapters.

The service hosts two things: the job aggregates (`job_service.application`, `domain`,
`projections`) and the Flatfile event feed (`job_service.feed`), a projection of every
domain event into Flatfile's event shape with its delivery (list, ack, stream, NATS relay).

Besides its projections the runtime runs three workers (`rt.add_background`): the `space:configure`
and `file:extract` process managers (`entrypoints/configure.py`, `entrypoints/extract.py`, each its
own consumer and checkpoint) and the timeout sweeper (`entrypoints/sweeper.py`). They are not in
`rt.projections`: a rebuild replays read models, never commands.
"""

from __future__ import annotations

from job_service import feed, history, metrics
from job_service.application.app import JobApplication
from job_service.entrypoints import rpc
from job_service.entrypoints.configure import ConfigureSpaces
from job_service.entrypoints.extract import ExtractFiles
from job_service.entrypoints.sweeper import Sweeper
from job_service.projections.jobs import NAME as SCHEMA
from job_service.projections.jobs import JobProjection
from job_service.projections.queries import JobQueries
from spaceport import runtime, telemetry
from spaceport.contracts import job, space
from spaceport.projection import ProjectionRunner
from spaceport.settings import Settings

NAME = "job"


class JobWorkers:
    """The workers that issue commands, as `rt` background work (started after its projections)."""

    def __init__(self, rt: runtime.ServiceRuntime, app: JobApplication) -> None:
        self.rt = rt
        self.app = app
        self.managers: list[ProjectionRunner] = []  # the process managers' consumers, once started
        self.sweeper = Sweeper(app.jobs, app.reads, rt.settings.job_sweep_interval)

    async def start(self) -> None:
        prefix = self.rt.settings.event_prefix
        for manager in (ConfigureSpaces(self.app.jobs, prefix), ExtractFiles(self.app.jobs, prefix)):
            runner = ProjectionRunner(self.rt.store, self.rt.pool, manager)
            await runner.start()
            self.managers.append(runner)
        await self.sweeper.start()

    async def stop(self) -> None:
        await self.sweeper.stop()
        for runner in reversed(self.managers):
            await runner.stop()
        self.managers.clear()


def build(settings: Settings) -> tuple[runtime.ServiceRuntime, JobApplication]:
    rt = runtime.ServiceRuntime(settings, (*space.EVENTS, *job.EVENTS))
    rt.add_projection(JobProjection(settings.event_prefix, default_timeout=settings.job_timeout, name=SCHEMA))
    reads = JobQueries(lambda: rt.pool, settings.job_timeout)
    # Only the job read model is waited for (the feed's projection never reaches some positions).
    app = JobApplication(rt.store, reads, lambda position: rt.runner(SCHEMA).wait_for(position))
    rpc.bind(rt.rpc, app)
    rt.add_background(JobWorkers(rt, app))
    feed.install(rt, settings)
    metrics.install(rt, settings)  # after the feed: it decodes with the feed's event types
    history.install(rt, settings)  # after the feed, as metrics
    return rt, app


def main() -> None:
    settings = Settings.from_env(NAME)
    telemetry.setup(settings.service_name, settings.otel_exporter, settings.otel_endpoint)
    rt, _ = build(settings)
    runtime.run(rt)
