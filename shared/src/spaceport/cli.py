"""The `spaceport` operator CLI.

    spaceport projections rebuild <service> [--projection NAME] [--force]
    spaceport metrics space <spaceId> [--json]
    spaceport metrics environment <environmentId> [--app <appId>] [--json]

Rebuilds a service's read models from the event stream: each projection is replayed from
sequence 0 into a shadow schema, which then replaces the live one (`ProjectionRunner.rebuild`).
It reads the same environment variables as the service (NATS_URL, DATABASE_URL, ...).

Stop every replica of the service first: a replica that keeps projecting while the schemas are
swapped would commit its last batch into the replaced schema. The command refuses to run while
the service answers its ping, unless `--force`.

`metrics` asks the job service for a space's metrics or an environment's totals by app (the same
answers as `GET /v1/spaces/{spaceId}/metrics` and `GET /v1/metrics`; docs/api.md) and prints a
table, or with `--json` the API's JSON. It needs NATS_URL (and the subject prefix, if not `cmd`).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import importlib
import sys
from collections.abc import Sequence
from datetime import datetime
from typing import Any, TypeVar

import msgspec
import nats
import nats.errors
from nats.aio.client import Client

from spaceport import messaging, readmodel, subjects
from spaceport.contracts import metrics
from spaceport.eventstore import EventStore
from spaceport.projection import ProjectionRunner
from spaceport.runtime import ServiceRuntime
from spaceport.settings import Settings


class CliError(Exception):
    """A problem the operator must fix; printed without a traceback."""


Reply = TypeVar("Reply")


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


# ---- spaceport metrics space <spaceId> | environment <environmentId> [--app <appId>] [--json] ------


async def ask(settings: Settings, query: msgspec.Struct, reply_type: type[Reply]) -> Reply:
    """One request to the service that answers `query` (`contracts.metrics.SERVICE`), over NATS."""
    subject = messaging.request_subject(settings.command_prefix, metrics.SERVICE, type(query))
    try:
        nc = await nats.connect(
            settings.nats_url, allow_reconnect=False, connect_timeout=5, max_reconnect_attempts=1, error_cb=_quiet
        )
    except (OSError, nats.errors.Error) as problem:
        raise CliError(f"cannot reach NATS at {settings.nats_url}: {problem or type(problem).__name__}") from None
    try:
        reply = await nc.request(subject, msgspec.json.encode(query), timeout=settings.request_timeout)
    except nats.errors.NoRespondersError:
        raise CliError(f"the {metrics.SERVICE} service is not running (no one answers {subject})") from None
    except nats.errors.TimeoutError:
        raise CliError(f"the {metrics.SERVICE} service did not answer within {settings.request_timeout} s") from None
    finally:
        await nc.drain()
    envelope = msgspec.json.decode(reply.data, type=messaging.ReplyEnvelope)
    if envelope.error is not None:
        raise CliError(envelope.error.message)
    return msgspec.json.decode(envelope.ok, type=reply_type)


async def _quiet(_: Exception) -> None:
    """nats-py logs each failed attempt with a traceback; the CLI reports the outcome once."""


def _when(value: datetime | None) -> str:
    return value.isoformat(timespec="seconds") if value is not None else "-"


def _seconds(value: float | None) -> str:
    return f"{value:.1f} s" if value is not None else "-"


def space_table(m: metrics.SpaceMetrics) -> str:
    rows = [
        ("space", m.space_id),
        ("environment", m.environment_id),
        ("app", m.app_id or "-"),
        ("created", _when(m.created_at)),
        ("last activity", _when(m.last_activity_at)),
        ("first submit", f"{_when(m.first_submit_at)} (after {_seconds(m.seconds_to_first_submit)})"),
        ("events", str(m.events)),
        ("guests", str(m.guests)),
        ("files", f"{m.files.current} current, {m.files.created} created"),
        ("records", f"{m.records.created} created, {m.records.updated} updated, {m.records.deleted} deleted"),
        ("records now", f"{m.records.valid} valid, {m.records.error} with errors"),
    ]
    return "\n".join(f"{name:<14} {value}" for name, value in rows)


COLUMNS = ("app", "spaces", "submitted", "avg to submit", "events", "guests", "files", "created", "updated",
           "deleted", "valid", "error", "last activity")  # fmt: skip


def _cells(name: str, t: metrics.Totals) -> list[str]:
    files = f"{t.files.current}/{t.files.created}"
    counts = (t.records.created, t.records.updated, t.records.deleted, t.records.valid, t.records.error)
    seconds = _seconds(t.average_seconds_to_first_submit)
    return [name, str(t.spaces), str(t.submitted_spaces), seconds, str(t.events), str(t.guests), files,
            *map(str, counts), _when(t.last_activity_at)]  # fmt: skip


def environment_table(m: metrics.EnvironmentMetrics) -> str:
    """One line per app (files: current/created), then the total."""
    lines = [COLUMNS, *(_cells(a.app_id or "(no app)", a) for a in m.apps), _cells("total", m)]
    widths = [max(len(line[i]) for line in lines) for i in range(len(COLUMNS))]
    title = f"environment {m.environment_id}" + (f", app {m.app_id}" if m.app_id else "")
    return "\n".join([title, *("  ".join(c.ljust(w) for c, w in zip(line, widths, strict=True)) for line in lines)])


async def show_metrics(args: argparse.Namespace, settings: Settings) -> str:
    """The metrics the arguments ask for: a table, or (`--json`) the API's JSON."""
    view: metrics.SpaceMetrics | metrics.EnvironmentMetrics
    if args.action == "space":
        view = await ask(settings, metrics.GetSpaceMetrics(space_id=args.space_id), metrics.SpaceMetrics)
    else:
        query = metrics.GetEnvironmentMetrics(environment_id=args.environment_id, app_id=args.app)
        view = await ask(settings, query, metrics.EnvironmentMetrics)
    if args.json:
        return msgspec.json.encode(view).decode()
    return space_table(view) if isinstance(view, metrics.SpaceMetrics) else environment_table(view)


def _metrics_parser(groups: Any) -> None:
    actions = groups.add_parser("metrics", help="space metrics").add_subparsers(dest="action", required=True)
    space_cmd = actions.add_parser("space", help="what happened in one space")
    space_cmd.add_argument("space_id", metavar="spaceId")
    environment_cmd = actions.add_parser("environment", help="an environment's totals, by app")
    environment_cmd.add_argument("environment_id", metavar="environmentId")
    environment_cmd.add_argument("--app", help="only the spaces of this app (us_app_...)")
    for cmd in (space_cmd, environment_cmd):
        cmd.add_argument("--json", action="store_true", help="the API's JSON instead of a table")


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(prog="spaceport", description="Spaceport operator commands")
    groups = root.add_subparsers(dest="group", required=True)
    projections = groups.add_parser("projections", help="read models").add_subparsers(dest="action", required=True)
    rebuild_cmd = projections.add_parser("rebuild", help="replay the stream into a shadow schema, then swap it in")
    rebuild_cmd.add_argument("service", help="space, workbook, record, file or job")
    rebuild_cmd.add_argument("--projection", help="only this projection (default: all of the service's)")
    rebuild_cmd.add_argument("--force", action="store_true", help="run even though the service answers")
    _metrics_parser(groups)
    return root


def run(argv: Sequence[str]) -> int:
    args = parser().parse_args(argv)
    try:
        if args.group == "metrics":
            print(asyncio.run(show_metrics(args, Settings.from_env("cli"))))
            return 0
        settings = Settings.from_env(args.service)
        asyncio.run(rebuild(args.service, settings, projection=args.projection, force=args.force))
    except CliError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    return 0


def main() -> None:
    sys.exit(run(sys.argv[1:]))
