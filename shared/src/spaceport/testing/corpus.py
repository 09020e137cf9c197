"""A corpus of recorded events: old events must always decode with new code.

`python -m spaceport.testing.corpus dump NATS_URL [STREAM]` appends one stored envelope per event
type not yet in the corpus (tests/corpus/events.jsonl), taken from a real stream (e.g. the one
`make run` or an end-to-end test run leaves behind). The replay test decodes every line.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import msgspec
import nats

from spaceport.contracts import space, workbook
from spaceport.events import Envelope, Event, EventRegistry, decode_envelope, encode

CORPUS = Path(__file__).resolve().parents[4] / "tests" / "corpus" / "events.jsonl"


def all_event_types() -> tuple[type[Event], ...]:
    """Every event type of every contract module (each module lists its own in EVENTS)."""
    found: list[type[Event]] = [*space.EVENTS, *workbook.EVENTS]
    for name in ("record", "file", "job"):
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
