"""The `spaceport` command tree (click, with rich help and progress bars)."""

from __future__ import annotations

import asyncio
import functools
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click
import rich_click
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeElapsedColumn
from rich.table import Table

from spaceport.cli import events as events_mod
from spaceport.cli import export as export_mod
from spaceport.cli import spaces
from spaceport.cli.api import DEFAULT_API_URL, Api
from spaceport.cli.errors import CliError
from spaceport.cli.metrics import show_metrics
from spaceport.cli.projections import installed_services, rebuild
from spaceport.settings import Settings

F = TypeVar("F", bound=Callable[..., Any])

CONTEXT = {"help_option_names": ["-h", "--help"]}


def console() -> Console:
    """Made per command, so that it writes to the `sys.stdout` of the moment (tests capture it);
    wide when not a terminal, so that piped tables keep whole ids."""
    return Console(highlight=False, soft_wrap=True, width=None if sys.stdout.isatty() else 240)


def errors() -> Console:
    return Console(stderr=True, highlight=False, soft_wrap=True)


def bar(target: Console) -> Progress:
    return Progress(
        TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
        console=target, transient=False,
    )  # fmt: skip


def api_options(command: F) -> F:
    command = click.option(
        "--token", envvar=["SPACEPORT_API_KEY", "FLATFILE_API_KEY"], show_envvar=True,
        help="a secret key (sk_…); default $SPACEPORT_API_KEY, else $FLATFILE_API_KEY",
    )(command)  # fmt: skip
    return click.option(
        "--api-url", envvar="SPACEPORT_API_URL", show_envvar=True, default=DEFAULT_API_URL, show_default=True,
        help="the gateway's /v1 URL",
    )(command)  # fmt: skip


@rich_click.group(context_settings=CONTEXT)
def root() -> None:
    """Spaceport operator commands.

    Commands that talk to NATS and Postgres (rebuild, events, metrics) read the services'
    environment variables (NATS_URL, DATABASE_URL, SPACEPORT_EVENT_STREAM, ...); commands that
    use the HTTP API take --api-url and --token.
    """


# ---- rebuild / replay / projections rebuild -----------------------------------------------


def _rebuild(service: str | None, all_services: bool, projection: str | None, force: bool, accept: bool) -> None:
    if (service is None) == (not all_services):
        raise CliError("name one SERVICE or pass --all")
    if all_services and projection is not None:
        raise CliError("--projection needs one SERVICE, not --all")
    chosen = installed_services() if all_services else [service or ""]
    out = console()

    async def go() -> None:
        with bar(out) as progress:
            tasks: dict[str, TaskID] = {}

            def advance(name: str, position: int, last: int) -> None:
                if name not in tasks:
                    tasks[name] = progress.add_task(name, total=last)
                progress.update(tasks[name], completed=position, total=last)

            for name in chosen:
                tasks.clear()
                settings = Settings.from_env(name)
                await rebuild(
                    name, settings, projection=projection, force=force, accept_differences=accept,
                    progress=functools.partial(_named, advance, name), say=progress.console.print,
                )  # fmt: skip

    asyncio.run(go())


def _named(advance: Callable[[str, int, int], None], service: str, name: str, position: int, last: int) -> None:
    advance(f"{service}:{name}", position, last)


def _rebuild_command(name: str, help_text: str) -> click.Command:
    @rich_click.command(name, help=help_text, context_settings=CONTEXT)
    @click.argument("service", required=False, metavar="[SERVICE]")
    @click.option("--all", "all_services", is_flag=True, help="every service's projections, one service after another")
    @click.option("--projection", help="only this projection (default: all of the service's)")
    @click.option("--force", is_flag=True, help="run even though the service answers its ping")
    @click.option(
        "--accept-differences", "accept", is_flag=True,
        help="swap the rebuild in even if it differs from the live schema (after fixing a projection)",
    )  # fmt: skip
    def command(*, service: str | None, all_services: bool, projection: str | None, force: bool, accept: bool) -> None:
        _rebuild(service, all_services, projection, force, accept)

    return command


REBUILD_HELP = """Replay a service's projections from the event stream into shadow schemas, then swap them in.

Each shadow is first filled up to the live schema's position and compared with it table by
table; it is swapped in only if they are equal (else the command stops, names the differing
tables and keeps the shadow for inspection), or with --accept-differences.

SERVICE is space, workbook, record, file or job (or --all). Stop every replica of the service
first; the command refuses while the service answers its ping, unless --force.
"""

root.add_command(_rebuild_command("rebuild", REBUILD_HELP))
root.add_command(_rebuild_command("replay", "Alias of `rebuild`.\n\n" + REBUILD_HELP))


@root.group(context_settings=CONTEXT)
def projections() -> None:
    """Read models (`projections rebuild` = `rebuild`)."""


projections.add_command(_rebuild_command("rebuild", REBUILD_HELP))


# ---- metrics --------------------------------------------------------------------------------


@root.group(context_settings=CONTEXT)
def metrics() -> None:
    """Space metrics from the job service (over NATS; NATS_URL)."""


@metrics.command("space", context_settings=CONTEXT)
@click.argument("space_id", metavar="SPACE_ID")
@click.option("--json", "as_json", is_flag=True, help="the API's JSON instead of a table")
def metrics_space(space_id: str, as_json: bool) -> None:
    """What happened in one space."""
    click.echo(asyncio.run(show_metrics(Settings.from_env("cli"), space_id=space_id, as_json=as_json)))


@metrics.command("environment", context_settings=CONTEXT)
@click.argument("environment_id", metavar="ENVIRONMENT_ID")
@click.option("--app", help="only the spaces of this app (us_app_...)")
@click.option("--json", "as_json", is_flag=True, help="the API's JSON instead of a table")
def metrics_environment(environment_id: str, app: str | None, as_json: bool) -> None:
    """An environment's totals, by app."""
    settings = Settings.from_env("cli")
    click.echo(asyncio.run(show_metrics(settings, environment_id=environment_id, app=app, as_json=as_json)))


# ---- events tail ----------------------------------------------------------------------------


@root.group(context_settings=CONTEXT)
def events() -> None:
    """The event stream, read directly from JetStream (NATS_URL, SPACEPORT_EVENT_STREAM)."""


@events.command("tail", context_settings=CONTEXT)
@click.option("--space", "space_id", metavar="ID", help="only this space's (or environment's) events")
@click.option(
    "--type",
    "types",
    multiple=True,
    metavar="EventType",
    help="only this type (repeatable): RecordsCreated or records_created",
)
@click.option(
    "--since",
    metavar="SEQ|ISO-TIME",
    help="from this stream sequence on, or from this time on (default: the last --last)",
)
@click.option("--last", default=50, show_default=True, help="without --since: how many of the newest matching events")
@click.option("--follow", "-f", is_flag=True, help="keep printing new events until Ctrl-C")
@click.option("--json", "as_json", is_flag=True, help="one JSON object per line: seq, subject, storedAt, envelope")
def events_tail(
    *, space_id: str | None, types: tuple[str, ...], since: str | None, last: int, follow: bool, as_json: bool
) -> None:
    """Print stored events, oldest first, optionally following the stream."""
    options = events_mod.Tail(space=space_id, types=types, since=since, last=last, follow=follow)
    if since is not None:
        events_mod.parse_since(since)  # a bad value fails before connecting

    def emit(message: Any) -> None:
        text = json.dumps(events_mod.as_dict(message)) if as_json else events_mod.line(message)
        click.echo(text)

    asyncio.run(events_mod.tail(Settings.from_env("cli"), options, emit))


# ---- export ---------------------------------------------------------------------------------


@root.command(context_settings=CONTEXT)
@click.argument("space_id", metavar="SPACE_ID")
@click.option(
    "--out",
    "out_dir",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="the directory to write into",
)
@click.option("--format", "fmt", type=click.Choice(["csv", "json"]), default="csv", show_default=True)
@api_options
def export(*, space_id: str, out_dir: Path, fmt: str, api_url: str, token: str | None) -> None:
    """Every workbook and sheet of a space into DIR/<workbook>/<sheet>.csv|json, plus manifest.json."""
    out = console()
    with Api(api_url, token) as api, bar(out) as progress:
        tasks: dict[str, TaskID] = {}

        def advance(label: str, done: int, total: int) -> None:
            if label not in tasks:
                tasks[label] = progress.add_task(label, total=total)
            progress.update(tasks[label], completed=done, total=total)

        manifest = export_mod.export_space(api, space_id, out_dir, fmt, advance)
    sheets = sum(len(w["sheets"]) for w in manifest["workbooks"])
    out.print(f"exported {len(manifest['workbooks'])} workbooks, {sheets} sheets to {out_dir}")


# ---- cleanup --------------------------------------------------------------------------------


@root.command(context_settings=CONTEXT)
@click.option(
    "--archived-older-than",
    "days",
    type=float,
    required=True,
    metavar="DAYS",
    help="archived at least this many days ago (0: every archived space)",
)
@click.option(
    "--environment", "environment_id", metavar="ID", help="only this environment's spaces (default: the key's)"
)
@click.option("--dry-run", is_flag=True, help="list what would be deleted; delete nothing")
@click.option("--yes", "-y", is_flag=True, help="do not ask for confirmation")
@api_options
def cleanup(
    *, days: float, environment_id: str | None, dry_run: bool, yes: bool, api_url: str, token: str | None
) -> None:
    """Delete archived spaces older than DAYS (lists them, then asks unless --yes)."""
    out = console()
    with Api(api_url, token) as api:
        found = spaces.archived_older_than(api, days, environment_id)
        if not found:
            out.print(f"no space archived more than {days:g} days ago")
            return
        table = Table("space", "name", "environment", "archived at")
        for space in found:
            table.add_row(
                space["id"], space.get("name") or "", space.get("environmentId") or "", space.get("archivedAt") or ""
            )
        out.print(table)
        if dry_run:
            out.print(f"dry run: {len(found)} spaces would be deleted")
            return
        if not yes and not click.confirm(f"delete these {len(found)} spaces?", default=False):
            raise CliError("nothing deleted")
        for space in found:
            spaces.delete_space(api, space["id"])
            out.print(f"deleted {space['id']}")
        out.print(f"deleted {len(found)} spaces")


# ---- history / restore ----------------------------------------------------------------------


@root.command(context_settings=CONTEXT)
@click.argument("space_id", metavar="SPACE_ID")
@click.option("--sheet", "sheet_id", metavar="ID", help="only the versions touching this sheet")
@click.option("--limit", default=50, show_default=True, help="the newest N versions")
@click.option("--json", "as_json", is_flag=True, help="the API's JSON (a list of versions)")
@api_options
def history(*, space_id: str, sheet_id: str | None, limit: int, as_json: bool, api_url: str, token: str | None) -> None:
    """The space's versions (GET /v1/spaces/{id}/versions): when, who, what."""
    with Api(api_url, token) as api:
        found = spaces.versions(api, space_id, sheet_id=sheet_id, limit=limit)
    if as_json:
        click.echo(json.dumps(found))
        return
    table = Table("sequence", "id", "created at", "actor", "kind", "sheet", "topics", "counts")
    for v in found:
        table.add_row(
            str(v.get("sequence", "")), str(v.get("id", "")), str(v.get("createdAt", "")), str(v.get("actorId") or "-"),
            str(v.get("kind", "")), str(v.get("sheetId") or "-"), ", ".join(v.get("topics") or []),
            spaces.counts_text(v),
        )  # fmt: skip
    console().print(table)


@root.command(context_settings=CONTEXT)
@click.argument("space_id", metavar="SPACE_ID")
@click.option("--version", "version_id", metavar="ID", help="a version id from `spaceport history`")
@click.option("--at", metavar="ISO", help="an ISO-8601 time (no offset: UTC)")
@click.option("--sequence", type=int, metavar="SEQ", help="a stream position (`history`'s sequence; a restore's undo)")
@click.option("--sheet", "sheet_id", metavar="ID", help="only this sheet")
@click.option("--preview", is_flag=True, help="show what would change; change nothing")
@click.option("--no-wait", is_flag=True, help="start the restore job and return")
@api_options
def restore(
    *, space_id: str, version_id: str | None, at: str | None, sequence: int | None, sheet_id: str | None,
    preview: bool, no_wait: bool,
    api_url: str, token: str | None,
) -> None:  # fmt: skip
    """Bring a space's records (or one sheet's) back to a version, a time or a sequence; --preview first."""
    moment = spaces.restore_moment(version_id, at, sequence)
    out = console()
    with Api(api_url, token) as api:
        answer = spaces.restore(api, space_id, moment, sheet_id=sheet_id, preview=preview)
        if preview:
            table = Table("sheet", "workbook", "to position", "created since (deleted)", "updated since (reverted)",
                          "deleted since (re-created)", title=f"restore preview of {space_id}")  # fmt: skip
            for s in answer.get("sheets") or []:
                table.add_row(s.get("sheetId", ""), s.get("workbookId", ""), str(s.get("position", "")),
                              str(s.get("createdSince", 0)), str(s.get("updatedSince", 0)),
                              str(s.get("deletedSince", 0)))  # fmt: skip
            out.print(table)
            return
        job_id = answer.get("id", "?")
        out.print(f"restore job {job_id} started")
        if no_wait:
            return
        job = _wait_for_job(api, job_id, out)
    outcome = job.get("outcome") or {}
    if job.get("status") != "complete":
        raise CliError(f"restore job {job_id} {job.get('status')}: {outcome.get('message') or job.get('info') or ''}")
    out.print(outcome.get("message") or "restored")
    if outcome.get("undo"):
        out.print(f"undo: {json.dumps(outcome['undo'])} (restore each sheet to that sequence)")


def _wait_for_job(api: Api, job_id: str, out: Console, timeout: float = 3600.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    with bar(out) as progress:
        task = progress.add_task(f"restore {job_id}", total=100)
        while True:
            job: dict[str, Any] = api.get(f"/jobs/{job_id}")
            progress.update(task, completed=int(job.get("progress") or 0))
            if job.get("status") in ("complete", "failed", "canceled"):
                return job
            if time.monotonic() > deadline:
                raise CliError(f"restore job {job_id} still {job.get('status')} after {timeout:.0f} s")
            time.sleep(0.5)
