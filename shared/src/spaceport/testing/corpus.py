"""A corpus of recorded events: old events must always decode, fold and project with new code.

`python -m spaceport.testing.corpus dump NATS_URL [STREAM]` appends one stored envelope per event
type not yet in the corpus (tests/corpus/events.jsonl), taken from a real stream (e.g. the one
`make run` or an end-to-end test run leaves behind). The replay tests decode every line, fold it
through each service's `evolve` and apply it through each projection.

A line is the envelope alone: its stream position, subject and store time are not recorded.
`stored` rebuilds them as the event store would deliver them (position = line number).
"""

from __future__ import annotations

import asyncio
import hashlib
import sys
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from pathlib import Path

import msgspec
import nats

from spaceport import ids, subjects
from spaceport.contracts import feed, record, space, workbook
from spaceport.contracts.blueprint import SheetConfig
from spaceport.events import Envelope, Event, EventRegistry, StoredEvent, decode_envelope, encode, type_name

CORPUS = Path(__file__).resolve().parents[4] / "tests" / "corpus" / "events.jsonl"
CONTEXT_TIME = datetime(2026, 1, 1, tzinfo=UTC)  # before every recorded event


def all_event_types() -> tuple[type[Event], ...]:
    """Every event type of every contract module (each module lists its own in EVENTS)."""
    found: list[type[Event]] = [*space.EVENTS, *workbook.EVENTS]
    for name in ("record", "file", "job", "feed", "view", "snapshot"):
        try:
            module = __import__(f"spaceport.contracts.{name}", fromlist=["EVENTS"])
        except ImportError:
            continue
        found.extend(getattr(module, "EVENTS", ()))
    return tuple(found)


def registry() -> EventRegistry:
    return EventRegistry(all_event_types())


def load(path: Path = CORPUS) -> list[Envelope]:
    if not path.exists():
        return []
    return [decode_envelope(line.encode()) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


# ---- replaying ------------------------------------------------------------------------------


def stored(envelopes: Sequence[Envelope], types: EventRegistry, prefix: str = "evt") -> list[StoredEvent]:
    """The envelopes as a consumer receives them: at positions 1..n, on the subjects the event
    store derives, decoded with `types` (a service's registry: None where it lacks the type)."""
    return [
        StoredEvent(
            seq=seq,
            subject=subjects.event_subject(prefix, e.space_id or e.environment_id, e.aggregate, e.aggregate_id, e.type),
            stored_at=e.occurred_at,
            envelope=e,
            event=types.decode_data(e.type, e.data),
        )
        for seq, e in enumerate(envelopes, start=1)
    ]


def histories(envelopes: Iterable[Envelope]) -> dict[tuple[str, str], list[Envelope]]:
    """Envelopes grouped by aggregate (kind, id), each group in corpus order."""
    grouped: dict[tuple[str, str], list[Envelope]] = {}
    for envelope in envelopes:
        grouped.setdefault((envelope.aggregate, envelope.aggregate_id), []).append(envelope)
    return grouped


# ---- context: the creations the corpus refers to but did not record ------------------------


def context(envelopes: Sequence[Envelope]) -> list[Envelope]:
    """Creation events for the aggregates the corpus changes but never creates.

    The corpus keeps one example per event type, not whole histories: its SpaceUpdated is of a
    space whose SpaceCreated is not in it, its records events are of a sheet created elsewhere.
    Projections ignore changes to rows they do not have, so these creations go first to make
    every recorded change visible. Its EventAcknowledged is of a Flatfile event the corpus does
    not give either: an EventPublished of that id stands in for it, so the acknowledgement has a
    row to mark.
    """
    events = [(e, registry().decode_data(e.type, e.data)) for e in envelopes]
    created: list[Envelope] = []
    have = {e.aggregate_id for e, ev in events if isinstance(ev, space.EnvironmentCreated | space.SpaceCreated)}
    for environment_id in dict.fromkeys(e.environment_id for e, _ in events):
        if environment_id not in have:
            made = space.EnvironmentCreated(environment_id=environment_id, name="context")
            created.append(_envelope(made, environment_id, None, environment_id))
    for spaced in dict.fromkeys((e.environment_id, e.space_id) for e, _ in events if e.space_id):
        if spaced[1] not in have:
            made_space = space.SpaceCreated(space_id=spaced[1], environment_id=spaced[0], name="context")
            created.append(_envelope(made_space, spaced[0], spaced[1], spaced[1]))
    created += _issued_keys(events)
    created += _sheets(events)
    created += _acknowledged(events)
    return created


_ORDINALS = 64  # more Flatfile events than one recorded domain event gives (a workbook and its sheets)


def _acknowledged(events: Sequence[tuple[Envelope, Event | None]]) -> list[Envelope]:
    """A custom event for each acknowledged Flatfile event that no envelope of the corpus gives.

    A Flatfile event's id is the posted one (EventPublished) or derives from its domain event's
    id and ordinal (spaceport.contracts.feed)."""
    given = {ev.event_id for _, ev in events if isinstance(ev, feed.EventPublished)}
    given |= {ids.derived_id("event", f"{e.id}:{n}", 16) for e, _ in events for n in range(_ORDINALS)}
    acked = {ev.event_id: e for e, ev in events if isinstance(ev, feed.EventAcknowledged)}
    return [
        _envelope(
            feed.EventPublished(event_id=event_id, topic="space:updated", domain="space"),
            e.environment_id,
            e.space_id,
            event_id,
        )
        for event_id, e in acked.items()
        if event_id not in given
    ]


def _issued_keys(events: Sequence[tuple[Envelope, Event | None]]) -> list[Envelope]:
    issued = {ev.key_id for _, ev in events if isinstance(ev, space.ApiKeyIssued)}
    return [
        _envelope(
            space.ApiKeyIssued(
                key_id=ev.key_id, kind="secret", key_hash=hashlib.sha256(ev.key_id.encode()).hexdigest(), hint="ctx"
            ),
            e.environment_id,
            None,
            e.environment_id,
        )
        for e, ev in events
        if isinstance(ev, space.ApiKeyRevoked) and ev.key_id not in issued
    ]


def _sheets(events: Sequence[tuple[Envelope, Event | None]]) -> list[Envelope]:
    """A workbook for each sheet that records events are written to but no workbook event defines."""
    defined = {s.sheet_id for _, ev in events if isinstance(ev, workbook.WorkbookCreated) for s in ev.sheets}
    defined |= {ev.sheet.sheet_id for _, ev in events if isinstance(ev, workbook.SheetAdded)}
    written: dict[str, tuple[Envelope, record.RecordsEvent, dict[str, None]]] = {}
    for e, ev in events:
        if isinstance(ev, record.RecordsEvent) and ev.sheet_id not in defined:
            _, _, keys = written.setdefault(ev.sheet_id, (e, ev, {}))
            if isinstance(ev, record.RecordsInserted | record.RecordsUpdated):
                keys.update(dict.fromkeys(key for r in ev.records for key in r.values))
    return [_workbook_of(sheet_id, e, ev, list(keys)) for sheet_id, (e, ev, keys) in written.items()]


def _workbook_of(sheet_id: str, e: Envelope, ev: record.RecordsEvent, keys: list[str]) -> Envelope:
    fields = [{"key": key, "type": "string"} for key in keys]
    config = msgspec.convert({"name": "context", "slug": "context", "fields": fields}, SheetConfig)
    created = workbook.WorkbookCreated(
        workbook_id=ev.workbook_id,
        space_id=ev.space_id,
        environment_id=e.environment_id,
        name="context",
        sheets=[workbook.SheetSpec(sheet_id=sheet_id, slug="context", config=config)],
    )
    return _envelope(created, e.environment_id, ev.space_id, ev.workbook_id)


def _envelope(event: Event, environment_id: str, space_id: str | None, aggregate_id: str) -> Envelope:
    return Envelope(
        id=ids.derived_id("event", f"corpus-context:{type_name(event)}:{aggregate_id}", 16),
        type=type_name(event),
        environment_id=environment_id,
        space_id=space_id,
        aggregate=type(event).aggregate,
        aggregate_id=aggregate_id,
        actor="corpus-context",
        occurred_at=CONTEXT_TIME,
        data=msgspec.Raw(encode(event)),
    )


async def dump(nats_url: str, stream: str = "SPACEPORT_EVENTS", path: Path = CORPUS) -> int:
    have = {e.type for e in load(path)}
    client = await nats.connect(nats_url)
    added = 0
    try:
        js = client.jetstream()
        info = await js.stream_info(stream)
        sub = await js.subscribe(">", stream=stream, ordered_consumer=True)
        for _ in range(info.state.messages):
            msg = await sub.next_msg(timeout=5)
            envelope = msgspec.json.decode(msg.data, type=Envelope)
            if envelope.type not in have:
                have.add(envelope.type)
                path.parent.mkdir(parents=True, exist_ok=True)
                with path.open("ab") as out:
                    out.write(encode(envelope) + b"\n")
                added += 1
    finally:
        await client.close()
    return added


if __name__ == "__main__":
    if len(sys.argv) < 3 or sys.argv[1] != "dump":
        sys.exit("usage: python -m spaceport.testing.corpus dump NATS_URL [STREAM]")
    stream_name = sys.argv[3] if len(sys.argv) > 3 else "SPACEPORT_EVENTS"
    print(f"added {asyncio.run(dump(sys.argv[2], stream_name))} event types to {CORPUS}")
