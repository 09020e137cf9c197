"""The `spaceport` operator CLI.

    spaceport projections rebuild <service> [--projection NAME] [--force]

Rebuilds a service's read models from the event stream: each projection is replayed from
sequence 0 into a shadow schema, which then replaces the live one (`ProjectionRunner.rebuild`).
It reads the same environment variables as the service (NATS_URL, DATABASE_URL, ...).

Stop every replica of the service first: a replica that keeps projecting while the schemas are
swapped would commit its last batch into the replaced schema. The command refuses to run while
the service answers its ping, unless `--force`.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import importlib
import sys
from collections.abc import Sequence

import nats
from nats.aio.client import Client

from spaceport import readmodel, subjects
from spaceport.eventstore import EventStore
from spaceport.projection import ProjectionRunner
from spaceport.runtime import ServiceRuntime
from spaceport.settings import Settings


class CliError(Exception):
    """A problem the operator must fix; printed without a traceback."""


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


async def rebuild(service: str, settings: Settings, *, projection: str | None = None, force: bool = False) -> list[str]:
    """Rebuild `service`'s projections (or just `projection`); returns the rebuilt names."""
    runtime = service_runtime(service, settings)
    chosen = [p for p in runtime.projections if projection in (None, p.name)]
    if not chosen:
        raise CliError(f"{service} has no projection {projection!r}")
    nc = await nats.connect(settings.nats_url)
    try:
        if not force and await _answers_ping(nc, settings, service):
            raise CliError(f"the {service} service is running; stop it first (or pass --force)")
        store = EventStore(nc, runtime.registry, stream=settings.event_stream, prefix=settings.event_prefix)
        pool = await readmodel.create_pool(settings.database_url, service, max_size=2)
        try:
            for item in chosen:
                runner = ProjectionRunner(store, pool, item)
                async with pool.acquire() as conn:  # the swap needs a live schema, even an empty one
                    await readmodel.migrate(conn, runner.schema, item.migrations)
                print(f"rebuilding {item.name} from the start of {settings.event_stream} ...", flush=True)
                await runner.rebuild(swap=True)
                print(f"  {item.name}: live, at position {runner.position}", flush=True)
        finally:
            await pool.close()
    finally:
        await nc.drain()
    return [p.name for p in chosen]


async def _answers_ping(nc: Client, settings: Settings, service: str) -> bool:
    subject = subjects.command_subject(settings.command_prefix, service, "Ping")
    with contextlib.suppress(Exception):
        await nc.request(subject, b"{}", timeout=1.0)
        return True
    return False


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(prog="spaceport", description="Spaceport operator commands")
    groups = root.add_subparsers(dest="group", required=True)
    projections = groups.add_parser("projections", help="read models").add_subparsers(dest="action", required=True)
    rebuild_cmd = projections.add_parser("rebuild", help="replay the stream into a shadow schema, then swap it in")
    rebuild_cmd.add_argument("service", help="space, workbook, record, file or job")
    rebuild_cmd.add_argument("--projection", help="only this projection (default: all of the service's)")
    rebuild_cmd.add_argument("--force", action="store_true", help="run even though the service answers")
    return root


def run(argv: Sequence[str]) -> int:
    args = parser().parse_args(argv)
    settings = Settings.from_env(args.service)
    try:
        asyncio.run(rebuild(args.service, settings, projection=args.projection, force=args.force))
    except CliError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    return 0


def main() -> None:
    sys.exit(run(sys.argv[1:]))
