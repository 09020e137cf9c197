"""The event store port: what application and projection code may ask of an event store.

Two adapters implement it and pass one contract suite (`shared/tests/test_eventstore_contract.py`):
`spaceport.eventstore.EventStore` on JetStream and `spaceport.memstore.InMemoryEventStore`.
The value types an append or a read speaks in live here too, so both adapters share them.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from datetime import datetime
from typing import Protocol

import msgspec

from spaceport import ids
from spaceport.events import Envelope, Event, EventRegistry, StoredEvent

READ_BATCH = 1000
MAX_ATOMIC_BATCH = 1000


class AggregateRef(msgspec.Struct, frozen=True, kw_only=True):
    """Where an aggregate's events live: its scope (space, or environment) and identity."""

    environment_id: str
    space_id: str | None
    aggregate: str
    aggregate_id: str

    @property
    def scope_id(self) -> str:
        return self.space_id or self.environment_id


class AppendContext(msgspec.Struct, frozen=True, kw_only=True):
    """Who causes an append and why; an idempotency key makes event ids deterministic."""

    actor: str = ""
    causation_id: str | None = None
    correlation_id: str | None = None
    idempotency_key: str | None = None

    def event_id(self, index: int) -> str:
        if self.idempotency_key is None:
            return ids.new_id("event", 16)
        return ids.derived_id("event", f"{self.idempotency_key}#{index}", 16)


class AppendResult(msgspec.Struct, frozen=True, kw_only=True):
    first_seq: int
    last_seq: int
    event_ids: list[str]
    duplicate: bool = False


class Loaded(msgspec.Struct, frozen=True, kw_only=True):
    """An aggregate's events in order and its version (the stream sequence of its last event)."""

    events: list[StoredEvent]
    version: int


class RawMessage(msgspec.Struct, frozen=True, kw_only=True):
    """One stored message as the stream holds it, not decoded: its position, subject, time, body."""

    seq: int
    subject: str
    stored_at: datetime
    data: bytes


class EventStorePort(Protocol):
    """An append-only log of events with one global sequence, addressed by NATS subjects.

    Subjects are `<prefix>.<scope>.<aggregate>.<id>.<event>` (`spaceport.subjects`); filters use
    NATS wildcards (`*` one token, `>` the rest). An aggregate's version is the sequence of its
    last event, 0 when it has none.
    """

    prefix: str
    registry: EventRegistry

    async def ensure_stream(self, replicas: int = 1) -> None:
        """Create the log if missing (idempotent)."""
        ...

    async def append(
        self,
        ref: AggregateRef,
        events: Sequence[Event],
        *,
        expected_version: int | None,
        context: AppendContext | None = None,
    ) -> AppendResult:
        """Append atomically; `expected_version` None = unguarded, 0 = no events yet, N = version.

        Raises ConcurrencyError when another writer won. A retry (same event ids) of an append
        that landed returns the landed sequences with `duplicate=True`.
        """
        ...

    async def load(self, ref: AggregateRef) -> Loaded:
        """Every event of one aggregate, in order, and its version."""
        ...

    def read(self, filter_subject: str, *, from_seq: int = 1, batch: int = READ_BATCH) -> AsyncIterator[StoredEvent]:
        """Decoded events matching `filter_subject` from `from_seq` on, in stream order."""
        ...

    def read_raw(
        self, filter_subject: str, *, from_seq: int = 1, to_seq: int | None = None, batch: int = READ_BATCH
    ) -> AsyncIterator[RawMessage]:
        """Stored messages matching `filter_subject` with `from_seq <= seq <= to_seq`, in order."""
        ...

    def read_scope(
        self,
        scope_id: str,
        *,
        up_to_seq: int | None = None,
        up_to_time: datetime | None = None,
        from_seq: int = 1,
    ) -> AsyncIterator[StoredEvent]:
        """A space's (or environment's) history in order, up to a sequence or a stored time."""
        ...

    async def last_seq(self) -> int:
        """The sequence of the last stored event of any aggregate (0 when the log is empty)."""
        ...

    async def open(self, message: RawMessage) -> Envelope:
        """A stored message's envelope with its payload in clear (type `Erased` once its space
        was deleted: spaceport.crypto)."""
        ...

    async def stored_batch(self, messages: Sequence[RawMessage]) -> list[StoredEvent]:
        """Stored messages decoded as `read` decodes them."""
        ...
