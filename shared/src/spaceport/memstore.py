"""An in-memory event store: the port's semantics without a server, for tests in milliseconds.

`InMemoryEventStore` keeps one log (sequence = position + 1, starting at 1) and answers each
publish the way JetStream (nats-server 2.12) answers it:

- the guard first: the last sequence among stored subjects matching the aggregate filter must
  equal the expected version (0: none match), else ConcurrencyError ("wrong last sequence");
- then deduplication by event id (`Nats-Msg-Id`): a single event whose id is stored gets the
  stored sequence back with `duplicate=True`; a batch holding a stored id is refused with
  ConcurrencyError (JetStream's 10201), which the append loop resolves like the real store's;
- a batch lands whole, contiguous, stamped with one `stored_at`, or not at all.

Unlike JetStream, which forgets message ids after its duplicate window (2 minutes), this log
deduplicates forever. Envelopes, lost-ack and conflict handling and decoding through the registry
(unknown types come back with `event=None`) are the JetStream store's own code (`StoreCore`).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Sequence
from datetime import datetime, timedelta

from spaceport.errors import ConcurrencyError, ServiceUnavailableError
from spaceport.events import Event, EventRegistry, utcnow
from spaceport.ports import READ_BATCH, AggregateRef, AppendContext, AppendResult, RawMessage
from spaceport.storecore import Guard, Outgoing, StoreCore
from spaceport.subjects import subject_matches

Clock = Callable[[], datetime]


class MemoryLog:
    """One stream's messages in order. `publish` never awaits, so it is atomic in asyncio."""

    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self.messages: list[RawMessage] = []
        self._seq_by_id: dict[str, int] = {}
        self._last_by_subject: dict[str, int] = {}

    def last_matching(self, filter_subject: str) -> int:
        seqs = (seq for subject, seq in self._last_by_subject.items() if subject_matches(filter_subject, subject))
        return max(seqs, default=0)

    def publish(self, messages: Sequence[Outgoing], guard: Guard | None) -> AppendResult:
        if guard is not None and (last := self.last_matching(guard.filter_subject)) != guard.last_seq:
            raise ConcurrencyError(f"wrong last sequence: {last}")
        stored = [self._seq_by_id.get(m.event_id) for m in messages]
        if len(messages) == 1 and stored[0] is not None:
            return AppendResult(
                first_seq=stored[0], last_seq=stored[0], event_ids=[messages[0].event_id], duplicate=True
            )
        if any(seq is not None for seq in stored):
            raise ConcurrencyError("atomic publish batch contains duplicate message id")
        stamp = self._stamp()
        first = len(self.messages) + 1
        for seq, message in enumerate(messages, start=first):
            self.messages.append(RawMessage(seq=seq, subject=message.subject, stored_at=stamp, data=message.body))
            self._seq_by_id[message.event_id] = seq
            self._last_by_subject[message.subject] = seq
        return AppendResult(first_seq=first, last_seq=len(self.messages), event_ids=[m.event_id for m in messages])

    def read(self, filter_subject: str, from_seq: int, to_seq: int | None) -> Iterator[RawMessage]:
        """Matching messages in range; messages appended while reading are seen, as with pages."""
        index = max(from_seq, 1) - 1
        while index < len(self.messages) and (to_seq is None or index < to_seq):
            message = self.messages[index]
            index += 1
            if subject_matches(filter_subject, message.subject):
                yield message

    def _stamp(self) -> datetime:
        """The clock's time, nudged by 1 µs if it has not moved: stored times strictly increase."""
        now = self.clock()
        if self.messages and now <= self.messages[-1].stored_at:
            return self.messages[-1].stored_at + timedelta(microseconds=1)
        return now


class InMemoryEventStore(StoreCore):
    """The event store port over a `MemoryLog`; `clock` stamps `stored_at` and `occurred_at`.

    Faults for tests (each counts down, then the store behaves normally again):
    - `lose_next_acks(n)`: each of the next n `append` calls takes effect (lands,
      or is refused on a conflict) and then raises ServiceUnavailableError instead of returning,
      as the JetStream store does when none of its three publishes is answered. The caller
      cannot tell whether it landed; a retry with the same idempotency key must find out.
    - `drop_next_replies(n)`: the next n publishes take effect but their replies are lost
      (TimeoutError inside the store); the store's own retry, with the same event ids, sees
      them, e.g. one dropped reply -> the call returns the landed events with `duplicate=True`.
    - `refuse_next_appends(n)`: the next n appends raise ServiceUnavailableError before they
      reach the log (the request never got there): nothing lands.
    - `before_next_append(action)`: `action` runs once, just before the next append reaches the
      log, e.g. another writer getting in between a command's load and its append.
    """

    def __init__(self, registry: EventRegistry, *, prefix: str = "evt", clock: Clock = utcnow) -> None:
        super().__init__(registry, prefix)
        self.log = MemoryLog(clock)
        self._lost_acks = 0
        self._dropped_replies = 0
        self._refused = 0
        self._before: Callable[[], Awaitable[object]] | None = None

    def with_registry(self, registry: EventRegistry) -> InMemoryEventStore:
        """A store on the same log decoding with `registry` (another service's view of the stream)."""
        other = InMemoryEventStore(registry, prefix=self.prefix, clock=self.log.clock)
        other.log = self.log
        other.keys = self.keys  # one log, one keyring
        return other

    def lose_next_acks(self, n: int = 1) -> None:
        self._lost_acks += n

    def drop_next_replies(self, n: int = 1) -> None:
        self._dropped_replies += n

    def refuse_next_appends(self, n: int = 1) -> None:
        self._refused += n

    def before_next_append(self, action: Callable[[], Awaitable[object]]) -> None:
        self._before = action

    async def ensure_stream(self, replicas: int = 1) -> None:
        """Nothing to create: the log exists with the store."""

    async def last_seq(self) -> int:
        return len(self.log.messages)

    async def read_raw(
        self, filter_subject: str, *, from_seq: int = 1, to_seq: int | None = None, batch: int = READ_BATCH
    ) -> AsyncIterator[RawMessage]:
        """Stored messages matching `filter_subject` with `from_seq <= seq <= to_seq` (`batch`
        only shapes the real store's requests)."""
        await asyncio.sleep(0)  # a round trip: concurrent callers interleave as with a server
        for message in self.log.read(filter_subject, from_seq, to_seq):
            yield message

    def _now(self) -> datetime:
        return self.log.clock()

    async def _append(
        self, ref: AggregateRef, events: Sequence[Event], expected_version: int | None, context: AppendContext
    ) -> AppendResult:
        if (action := self._before) is not None:
            self._before = None
            await action()
        if self._refused:
            self._refused -= 1
            raise ServiceUnavailableError("the event store did not answer; retry")
        if not self._lost_acks:
            return await super()._append(ref, events, expected_version, context)
        self._lost_acks -= 1
        with contextlib.suppress(ConcurrencyError):  # refused, but the caller never hears it
            await super()._append(ref, events, expected_version, context)
        raise ServiceUnavailableError("the event store did not answer; retry")

    async def _publish(self, messages: list[Outgoing], guard: Guard | None) -> AppendResult:
        await asyncio.sleep(0)  # a round trip: a concurrent writer may get in first
        try:
            ack = self.log.publish(messages, guard)
        except ConcurrencyError:
            if self._drop_reply():
                raise TimeoutError from None
            raise
        if self._drop_reply():
            raise TimeoutError
        return ack

    def _drop_reply(self) -> bool:
        if not self._dropped_replies:
            return False
        self._dropped_replies -= 1
        return True
