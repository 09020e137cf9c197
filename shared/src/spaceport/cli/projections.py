"""`spaceport rebuild` (alias `replay`, and `projections rebuild`): a service's read models
replayed from the event stream into shadow schemas, then swapped in (`ProjectionRunner.rebuild`)."""

from __future__ import annotations

import contextlib
import importlib
import importlib.util
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import asyncpg
import nats
import nats.errors
from nats.aio.client import Client

from spaceport import readmodel, schemadiff, subjects
from spaceport.cli.errors import CliError
from spaceport.eventstore import EventStore
from spaceport.projection import ProjectionRunner
from spaceport.projection.partition import PartitionedRunner, applied_position, make_runner
from spaceport.runtime import ServiceRuntime
from spaceport.settings import Settings, nats_servers

SERVICES = ("space", "workbook", "record", "file", "job")  # the services with projections

# (projection name, position reached, stream's last sequence), after every committed batch
Progress = Callable[[str, int, int], None]


def service_runtime(service: str, settings: Settings) -> ServiceRuntime:
    """The service's runtime as its own bootstrap builds it (not started)."""
    try:
        bootstrap = importlib.import_module(f"{service}_service.bootstrap")
    except ModuleNotFoundError:
        raise CliError(f"no service named {service!r}") from None
    built = bootstrap.build(settings)
    runtime = built[0] if isinstance(built, tuple) else built
    if not isinstance(runtime, ServiceRuntime):
        raise CliError(f"{service}_service.bootstrap.build did not return a ServiceRuntime")
    return runtime


def installed_services() -> list[str]:
    """The services with a bootstrap installed in this environment."""
    return [s for s in SERVICES if importlib.util.find_spec(f"{s}_service") is not None]


async def rebuild(
    service: str,
    settings: Settings,
    *,
    projection: str | None = None,
    force: bool = False,
    accept_differences: bool = False,
    progress: Progress | None = None,
    say: Callable[[str], None] = print,
) -> list[str]:
    """Rebuild `service`'s projections (or just `projection`); returns the rebuilt names.

    Each shadow schema is first filled up to the live schema's checkpoint and compared with it
    table by table (`spaceport.schemadiff`); only if they are equal (or `accept_differences`) is
    the rest applied and the shadow swapped in."""
    runtime = service_runtime(service, settings)
    chosen = [p for p in runtime.projections if projection in (None, p.name)]
    if not chosen:
        known = ", ".join(p.name for p in runtime.projections) or "none"
        raise CliError(f"{service} has no projection {projection!r} (it has: {known})")
    nc = await connect(settings.nats_url)
    try:
        if not force and await _answers_ping(nc, settings, service):
            raise CliError(f"the {service} service is running; stop it first (or pass --force)")
        store = EventStore(nc, runtime.registry, stream=settings.event_stream, prefix=settings.event_prefix)
        pool = await _pool(settings, service)
        try:
            for item in chosen:
                runner = make_runner(store, pool, item)
                async with pool.acquire() as conn:  # the swap needs a live schema, even an empty one
                    await readmodel.migrate(conn, runner.schema, item.migrations)
                last = await store.last_seq()
                say(f"rebuilding {service}:{item.name} from the start of {settings.event_stream} ...")
                name = item.name

                def report(position: int, name: str = name, last: int = last) -> None:
                    if progress is not None:
                        progress(name, position, max(last, position))

                report(0)
                verify = _Verify(pool, runner, say, accept_differences)
                await runner.rebuild(swap=True, progress=report, verify=verify)
                report(max(runner.position, last))
                say(f"  {service}:{item.name}: live, at position {runner.position}")
        finally:
            await pool.close()
    finally:
        await nc.drain()
    return [p.name for p in chosen]


@dataclass(frozen=True)
class _Verify:
    """Awaited by the rebuild: the shadow, filled to the live checkpoint `at`, compared with the
    live schema at that moment."""

    pool: asyncpg.Pool[Any]
    runner: ProjectionRunner | PartitionedRunner
    say: Callable[[str], None]
    accept: bool

    async def __call__(self, shadow: str, at: int) -> None:
        await _verify(self, shadow, at)


async def _verify(how: _Verify, shadow: str, at: int) -> None:
    pool, runner, say, accept = how.pool, how.runner, how.say, how.accept
    name = runner.projection.name
    async with pool.acquire() as conn, conn.transaction(isolation="repeatable_read", readonly=True):
        await conn.execute(f"SET LOCAL search_path TO {readmodel.quote_ident(runner.schema)}")
        live_at = await applied_position(conn, name)  # partitioned: where every partition stands
        if live_at != at:
            say(f"  {name}: not compared: the live schema moved on to {live_at} (its service is running)")
            return
        if at == 0:
            say(f"  {name}: the live schema is empty (position 0): nothing to compare")
            return
        found = await schemadiff.differences(conn, runner.schema, shadow)
    if not found:
        say(f"  {name}: verified: the rebuild equals the live schema at position {at}")
        return
    listed = "\n    ".join(d.describe() for d in found)
    if accept:
        say(f"  {name}: the rebuild differs from live at position {at} (--accept-differences):\n    {listed}")
        return
    raise CliError(
        f"{name}: the rebuild differs from the live schema at position {at}:\n    {listed}\n"
        f"the live schema is untouched; the rebuilt one is kept as {shadow} for inspection."
        " If the difference is intended (a fixed projection), run again with --accept-differences."
    )


async def connect(url: str) -> Client:
    try:
        return await nats.connect(
            nats_servers(url),
            allow_reconnect=False,
            connect_timeout=5,
            max_reconnect_attempts=1,
            error_cb=quiet,
        )
    except (OSError, nats.errors.Error) as problem:
        raise CliError(
            f"cannot reach NATS at {url}: is `make run` running? ({problem or type(problem).__name__})"
        ) from None


async def quiet(_: Exception) -> None:
    """nats-py logs each failed attempt with a traceback; the CLI reports the outcome once."""


async def _pool(settings: Settings, service: str) -> asyncpg.Pool[Any]:
    try:
        return await readmodel.create_pool(settings.database_url, service, max_size=2)
    except OSError as problem:
        raise CliError(f"cannot reach Postgres at DATABASE_URL: {problem}") from None


async def _answers_ping(nc: Client, settings: Settings, service: str) -> bool:
    subject = subjects.command_subject(settings.command_prefix, service, "Ping")
    with contextlib.suppress(Exception):
        await nc.request(subject, b"{}", timeout=1.0)
        return True
    return False
