"""Reading the platform's event stream in tests as the services do: payloads opened with their
space's key (`spaceport.crypto`), not parsed from the sealed bytes."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from nats.aio.client import Client
from nats.js.api import RawStreamMsg

from spaceport.events import EventRegistry
from spaceport.eventstore import EventStore
from spaceport.ports import RawMessage
from spaceport.settings import Settings


async def opened_payload(nc: Client, stored: RawStreamMsg) -> dict[str, Any]:
    """The event's payload (`data`) in clear, as the service's own decoder reads it."""
    settings = Settings()
    store = EventStore(nc, EventRegistry(), stream=settings.event_stream, prefix=settings.event_prefix)
    message = RawMessage(
        seq=stored.seq or 0, subject=stored.subject or "", stored_at=datetime.now(UTC), data=stored.data or b""
    )
    envelope = await store.open(message)
    found: dict[str, Any] = json.loads(bytes(envelope.data))
    return found
