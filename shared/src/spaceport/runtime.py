"""A service's runtime: broker, event store, database pool, projections and RPC handlers.

Each service's `bootstrap.py` builds one `ServiceRuntime`, registers its handlers and
projections on it, and calls `run()`. Tests build the same runtime against test servers.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import signal
from collections.abc import Awaitable, Callable, Sequence
from typing import Protocol

import asyncpg
from faststream.nats import NatsBroker
from faststream.nats.opentelemetry import NatsTelemetryMiddleware

from spaceport import readmodel
from spaceport.claimcheck import ClaimCheck
from spaceport.contracts.health import Ping, Pong, ProjectionStatus
from spaceport.events import Event, EventRegistry
from spaceport.eventstore import EventStore
from spaceport.messaging import RpcServer
from spaceport.projection import Projection, ProjectionRunner
from spaceport.projection.partition import PartitionedRunner, holder_id, partitions_of
from spaceport.settings import Settings, uses_uvloop

log = logging.getLogger(__name__)


def make_broker(settings: Settings) -> NatsBroker:
    """A FastStream NATS broker whose messages carry the trace context."""
    middleware = NatsTelemetryMiddleware()  # resolves the global provider lazily
    return NatsBroker(settings.nats_servers, middlewares=[middleware], logger=None, name=settings.service_name)


class Background(Protocol):
    """Work a service runs besides its handlers and projections (a relay, a sweeper)."""

    async def start(self) -> None: ...

    async def stop(self) -> None: ...


class Loop:
    """Background work that is one long-running coroutine, `run()`: started as a task, cancelled on stop."""

    task_name = "background"

    def __init__(self) -> None:
        self._task: asyncio.Task[None] | None = None

    async def run(self) -> None:
        raise NotImplementedError

    async def start(self) -> None:
        self._task = asyncio.create_task(self.run(), name=self.task_name)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None


class ServiceRuntime:
    """Everything one service process runs; built by the service's bootstrap."""

    def __init__(self, settings: Settings, event_types: Sequence[type[Event]]) -> None:
        self.settings = settings
        self.name = settings.service_name
        self.broker = make_broker(settings)
        self.registry = EventRegistry(event_types)
        self.rpc = RpcServer(self.broker, self.name, settings.command_prefix, direct=True)
        self.projections: list[Projection] = []
        self.runners: list[ProjectionRunner | PartitionedRunner] = []
        self._own_pools: list[asyncpg.Pool] = []
        self.background: list[Background] = []
        # Made now, bound to the broker's connection at start: handlers are wired before that.
        self.store = EventStore(None, self.registry, stream=settings.event_stream, prefix=settings.event_prefix)
        self.claims = ClaimCheck(None)  # request/reply bodies too big for a message (opened on first use)
        self._pool: asyncpg.Pool | None = None
        self.rpc.handle(Ping)(self._ping)

    @property
    def pool(self) -> asyncpg.Pool:
        assert self._pool is not None, "runtime not started"
        return self._pool

    def add_projection(self, projection: Projection) -> None:
        self.projections.append(projection)

    def add_background(self, work: Background) -> None:
        """Started after the projections and handlers, stopped before them."""
        self.background.append(work)

    def runner(self, name: str) -> ProjectionRunner | PartitionedRunner:
        return next(r for r in self.runners if r.projection.name == name)

    def single_runner(self, name: str) -> ProjectionRunner:
        """The runner of an unpartitioned projection (one checkpoint, one consumer)."""
        runner = self.runner(name)
        if not isinstance(runner, ProjectionRunner):
            raise TypeError(f"projection {name!r} is partitioned")
        return runner

    async def start(self) -> None:
        await self.broker.connect()
        self.store.bind(self.broker.connection)
        self.claims.bind(self.broker.connection)
        await self.store.ensure_stream(self.settings.stream_replicas)
        self._pool = await readmodel.create_pool(self.settings.database_url, self.name)
        for projection in self.projections:
            runner = await self._runner(projection)
            await runner.start()
            self.runners.append(runner)
        await self.broker.start()
        await self.rpc.start()
        for work in self.background:
            await work.start()
        log.info("%s started; subjects: %s", self.name, ", ".join(self.rpc.subjects))

    async def _runner(self, projection: Projection) -> ProjectionRunner | PartitionedRunner:
        count = partitions_of(projection)
        if count <= 1:
            return ProjectionRunner(self.store, self.pool, projection)
        # Each held partition keeps a lease connection and commits on another: a pool of its own.
        pool = await readmodel.create_pool(
            self.settings.database_url,
            self.name,
            max_size=2 * count + 2,
            settings={"application_name": holder_id()},  # who holds which lease, in pg_stat_activity
        )
        self._own_pools.append(pool)
        return PartitionedRunner(self.store, pool, projection, count=count)

    async def stop(self) -> None:
        await self.rpc.stop()  # first: handlers under way still have the projections and pools
        for work in reversed(self.background):
            await work.stop()
        for runner in self.runners:
            await runner.stop()
        self.runners.clear()
        for pool in self._own_pools:
            await pool.close()
        self._own_pools.clear()
        await self.broker.stop()
        if self._pool is not None:
            await self._pool.close()
            self._pool = None

    async def wait_for(self, position: int, timeout: float = 5.0) -> bool:
        """Read-your-writes: wait until every projection of this service applied `position`.

        False if one had not within `timeout` (each runner gets the whole timeout)."""
        caught_up = True
        for runner in self.runners:
            caught_up = await runner.wait_for(position, timeout) and caught_up
        return caught_up

    async def _ping(self, _: Ping) -> Pong:
        database = False
        with contextlib.suppress(Exception):
            async with self.pool.acquire() as conn:
                database = await conn.fetchval("SELECT 1") == 1
        return Pong(
            service=self.name,
            database=database,
            projections=[ProjectionStatus(name=r.projection.name, position=r.position) for r in self.runners],
        )


def run(runtime: ServiceRuntime, after_start: Callable[[], Awaitable[None]] | None = None) -> None:
    """Run a service until SIGINT/SIGTERM: the process entry point of every service.

    The caller has set up telemetry first (the bootstrap), so spans reach its exporter.
    """
    with asyncio.Runner(loop_factory=loop_factory()) as runner:
        runner.run(_serve(runtime, after_start))


def loop_factory() -> Callable[[], asyncio.AbstractEventLoop] | None:
    """The event loop a service process runs on: uvloop's (libuv; measured: less CPU per RPC and
    per HTTP request than asyncio's selector loop), or asyncio's with SPACEPORT_LOOP=asyncio.
    granian picks the gateway's the same way (`loop="auto"`: uvloop when it is installed)."""
    if not uses_uvloop():
        return None
    import uvloop  # noqa: PLC0415 - only a service process's entry point needs it

    return uvloop.new_event_loop


async def _serve(runtime: ServiceRuntime, after_start: Callable[[], Awaitable[None]] | None) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await runtime.start()
    try:
        if after_start is not None:
            await after_start()
        gc.freeze()  # startup's objects live as long as the process: keep full collections short
        await stop.wait()
    finally:
        await runtime.stop()
