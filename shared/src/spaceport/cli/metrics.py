"""`spaceport metrics space|environment`: the job service's metrics over NATS, as a table or JSON
(the same answers as `GET /v1/spaces/{spaceId}/metrics` and `GET /v1/metrics`)."""

from __future__ import annotations

from datetime import datetime
from typing import TypeVar

import msgspec
import nats.errors

from spaceport import messaging
from spaceport.cli.errors import CliError
from spaceport.cli.projections import connect
from spaceport.contracts import metrics
from spaceport.settings import Settings

Reply = TypeVar("Reply")


# ---- spaceport metrics space <spaceId> | environment <environmentId> [--app <appId>] [--json] ------


async def ask(settings: Settings, query: msgspec.Struct, reply_type: type[Reply]) -> Reply:
    """One request to the service that answers `query` (`contracts.metrics.SERVICE`), over NATS."""
    subject = messaging.request_subject(settings.command_prefix, metrics.SERVICE, type(query))
    nc = await connect(settings.nats_url)
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


async def show_metrics(
    settings: Settings,
    *,
    space_id: str | None = None,
    environment_id: str | None = None,
    app: str | None = None,
    as_json: bool = False,
) -> str:
    """The metrics the arguments ask for: a table, or (`--json`) the API's JSON."""
    view: metrics.SpaceMetrics | metrics.EnvironmentMetrics
    if space_id is not None:
        view = await ask(settings, metrics.GetSpaceMetrics(space_id=space_id), metrics.SpaceMetrics)
    else:
        assert environment_id is not None
        query = metrics.GetEnvironmentMetrics(environment_id=environment_id, app_id=app)
        view = await ask(settings, query, metrics.EnvironmentMetrics)
    if as_json:
        return msgspec.json.encode(view).decode()
    return space_table(view) if isinstance(view, metrics.SpaceMetrics) else environment_table(view)
