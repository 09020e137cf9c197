"""`spaceport events tail`: the event stream read directly (JetStream Direct Get; no consumer),
filtered by space (`evt.<space>.>`), event type and a starting sequence or time."""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import msgspec
from nats.aio.client import Client

from spaceport import subjects
from spaceport.cli.errors import CliError
from spaceport.cli.projections import connect
from spaceport.events import snake
from spaceport.eventstore import direct_get
from spaceport.ports import RawMessage
from spaceport.settings import Settings

POLL = 1.0  # --follow: seconds between reads of the stream's new end


@dataclass(frozen=True)
class Tail:
    space: str | None = None
    types: tuple[str, ...] = ()  # event type names (`RecordsCreated`) or their subject form (`records_created`)
    since: str | None = None  # a stream sequence, or an ISO-8601 time
    last: int = 50  # without --since: only the last N matching events
    follow: bool = False


def parse_since(value: str) -> int | datetime:
    """`SEQ` (a whole number) or an ISO-8601 time (no offset: UTC)."""
    if value.isdigit():
        return int(value)
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise CliError(f"--since {value!r} is neither a stream sequence nor an ISO-8601 time") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def filter_subject(prefix: str, space: str | None) -> str:
    if space is None:
        return f"{prefix}.>"
    try:
        return subjects.scope_filter(prefix, space)
    except ValueError as problem:
        raise CliError(f"--space: {problem}") from None


def type_tokens(types: tuple[str, ...]) -> frozenset[str]:
    """The subject's last token for each type (`RecordsCreated` and `records_created` alike)."""
    return frozenset(t if t == t.lower() else snake(t) for t in types)


def as_dict(message: RawMessage) -> dict[str, Any]:
    """The stored message as JSON: seq, subject, storedAt and the envelope (payload undecoded
    when it is not JSON, e.g. encrypted)."""
    try:
        envelope: Any = msgspec.json.decode(message.data)
    except msgspec.DecodeError:
        envelope = {"raw": message.data[:200].decode("utf-8", "replace")}
    return {
        "seq": message.seq,
        "subject": message.subject,
        "storedAt": message.stored_at.isoformat(),
        "envelope": envelope,
    }


def line(message: RawMessage) -> str:
    item = as_dict(message)
    envelope = item["envelope"] if isinstance(item["envelope"], dict) else {}
    parts = message.subject.split(".")
    kind = envelope.get("type") or parts[-1]
    parts += ["?"] * (5 - len(parts))  # evt.<scope>.<aggregate>.<aggregateId>.<type>
    where = f"{envelope.get('aggregate', parts[2])}/{envelope.get('aggregateId', parts[3])}"
    space = envelope.get("spaceId") or parts[1]
    actor = envelope.get("actor") or "-"
    when = message.stored_at.isoformat(timespec="milliseconds")
    return f"{message.seq:>8}  {when}  {kind:<28} {space:<22} {where}  {actor}"


async def tail(settings: Settings, options: Tail, emit: Callable[[RawMessage], None]) -> int:
    """Print the matching events; with `follow`, keep printing new ones until interrupted.
    Returns how many were printed."""
    wanted = type_tokens(options.types)
    subject = filter_subject(settings.event_prefix, options.space)
    since = parse_since(options.since) if options.since is not None else None
    nc = await connect(settings.nats_url)
    printed = 0
    try:
        start = since if isinstance(since, int) else await _first_at(nc, settings.event_stream, subject, since)
        last_seen = start - 1

        def keep(m: RawMessage) -> bool:
            return not wanted or m.subject.rsplit(".", 1)[-1] in wanted

        if since is None:
            window: deque[RawMessage] = deque(maxlen=max(options.last, 0))
            async for message in _read(nc, settings, subject, start):
                last_seen = message.seq
                if keep(message):
                    window.append(message)
            for message in window:
                emit(message)
                printed += 1
        else:
            async for message in _read(nc, settings, subject, start):
                last_seen = message.seq
                if keep(message):
                    emit(message)
                    printed += 1
        while options.follow:
            await asyncio.sleep(POLL)
            async for message in _read(nc, settings, subject, last_seen + 1):
                last_seen = message.seq
                if keep(message):
                    emit(message)
                    printed += 1
    finally:
        await nc.drain()
    return printed


async def _read(nc: Client, settings: Settings, subject: str, start: int) -> AsyncIterator[RawMessage]:
    try:
        async for message in direct_get(nc, settings.event_stream, subject, from_seq=max(start, 1)):
            yield message
    except TimeoutError:
        raise CliError(
            f"the stream {settings.event_stream} did not answer (does it exist? SPACEPORT_EVENT_STREAM)"
        ) from None


async def _first_at(nc: Client, stream: str, subject: str, moment: datetime | None) -> int:
    """The first sequence stored at or after `moment` (1 without one)."""
    if moment is None:
        return 1
    request = msgspec.json.encode({"start_time": moment.isoformat().replace("+00:00", "Z"), "next_by_subj": subject})
    try:
        reply = await nc.request(f"$JS.API.DIRECT.GET.{stream}", request, timeout=5.0)
    except Exception as problem:
        raise CliError(f"the stream {stream} did not answer: {problem or type(problem).__name__}") from None
    headers = reply.headers or {}
    if headers.get("Status") == "404" or "Nats-Sequence" not in headers:
        info = await nc.jetstream().stream_info(stream)
        return int(info.state.last_seq) + 1  # nothing stored since then: only --follow prints anything
    return int(headers["Nats-Sequence"])
