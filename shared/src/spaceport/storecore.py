"""What every event store does above its log: envelopes, the append loop, decoded reads.

An adapter supplies the log: `_publish` (one atomic, optionally guarded publish with JetStream's
answers: an ack, a duplicate ack, ConcurrencyError, or a timeout), `read_raw` (a range of stored
messages), `last_seq` and `ensure_stream`. Lost acks, conflicts that are really duplicates, and
decoding through the registry are handled here once, so every adapter behaves alike; so is
sealing a space's payloads with its key and opening them again (`spaceport.crypto`).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Sequence
from datetime import datetime
from typing import NamedTuple

import msgspec
import nats.errors

from spaceport import subjects, telemetry
from spaceport.crypto import CLEAR_TYPES, DESTROYS_KEY, InMemoryKeyring, Keyring, SealedPayloadError, needs_key
from spaceport.errors import ConcurrencyError, ServiceUnavailableError
from spaceport.events import (
    ERASED_TYPE,
    Envelope,
    Event,
    EventRegistry,
    StoredEvent,
    decode_envelope,
    encode,
    type_name,
    utcnow,
)
from spaceport.ports import (
    MAX_ATOMIC_BATCH,
    READ_BATCH,
    AggregateRef,
    AppendContext,
    AppendResult,
    Loaded,
    RawMessage,
)

PUBLISH_ATTEMPTS = 3


class Outgoing(NamedTuple):
    """One message of an append: where it goes, its encoded envelope, its id (for dedup)."""

    subject: str
    body: bytes
    event_id: str


class Guard(NamedTuple):
    """Optimistic concurrency: the last sequence among subjects matching `filter_subject`."""

    filter_subject: str
    last_seq: int


class StoreCore(ABC):
    """The adapter-independent half of an event store (see the module docstring)."""

    def __init__(self, registry: EventRegistry, prefix: str, keys: Keyring | None = None) -> None:
        self.registry = registry
        self.prefix = prefix
        self.keys: Keyring = keys if keys is not None else InMemoryKeyring()

    # ---- the log, supplied by an adapter ----------------------------------------------------

    @abstractmethod
    async def ensure_stream(self, replicas: int = 1) -> None: ...

    @abstractmethod
    async def _publish(self, messages: list[Outgoing], guard: Guard | None) -> AppendResult:
        """Store `messages` atomically, contiguous, if `guard` holds.

        Like JetStream: a stale guard raises ConcurrencyError; a single message whose id is
        stored returns its stored sequence with `duplicate=True`; a batch holding a stored id
        raises ConcurrencyError. A lost reply raises TimeoutError (the messages may have landed).
        """

    @abstractmethod
    def read_raw(
        self, filter_subject: str, *, from_seq: int = 1, to_seq: int | None = None, batch: int = READ_BATCH
    ) -> AsyncIterator[RawMessage]: ...

    @abstractmethod
    async def last_seq(self) -> int: ...

    def _now(self) -> datetime:
        return utcnow()

    # ---- append -------------------------------------------------------------------------

    def envelopes(self, ref: AggregateRef, events: Sequence[Event], context: AppendContext) -> list[Envelope]:
        now = self._now()
        return [
            Envelope(
                id=context.event_id(index),
                type=type_name(event),
                schema_version=type(event).schema_version,
                environment_id=ref.environment_id,
                space_id=ref.space_id,
                aggregate=ref.aggregate,
                aggregate_id=ref.aggregate_id,
                actor=context.actor,
                occurred_at=now,
                causation_id=context.causation_id,
                correlation_id=context.correlation_id,
                data=msgspec.Raw(encode(event)),
            )
            for index, event in enumerate(events)
        ]

    async def append(
        self,
        ref: AggregateRef,
        events: Sequence[Event],
        *,
        expected_version: int | None,
        context: AppendContext | None = None,
    ) -> AppendResult:
        """Append `events` to `ref` atomically.

        `expected_version`: None = no check, 0 = the aggregate must have no events, N = the
        stream sequence of its last event (for a sheet's records: the version its read model
        was decided at). Raises ConcurrencyError when another writer won. A retry (same
        idempotency key) of an append that already landed returns its result with
        `duplicate=True`, also when the lost ack turns the retry into a conflict. A conflict
        never reads the aggregate's history: the store looks for its own first event only when
        it can have landed (an idempotency key, or a publish of this call that timed out), and
        only among the events right after `expected_version`.
        """
        _check_count(events)
        return await self._append(ref, events, expected_version, context or AppendContext())

    def subject_for(self, ref: AggregateRef, event_type: str) -> str:
        return subjects.event_subject(self.prefix, ref.scope_id, ref.aggregate, ref.aggregate_id, event_type)

    def _aggregate_filter(self, ref: AggregateRef) -> str:
        return subjects.aggregate_filter(self.prefix, ref.scope_id, ref.aggregate, ref.aggregate_id)

    async def _append(
        self, ref: AggregateRef, events: Sequence[Event], expected_version: int | None, context: AppendContext
    ) -> AppendResult:
        envelopes = self.envelopes(ref, events, context)
        sealed = await self._sealed(ref, envelopes)
        messages = [Outgoing(self.subject_for(ref, env.type), encode(env), env.id) for env in sealed]
        guard = None if expected_version is None else Guard(self._aggregate_filter(ref), expected_version)
        # Random event ids (no idempotency key) can only be in the stream if a publish of this
        # very call timed out after landing.
        maybe_landed = context.idempotency_key is not None
        with telemetry.span("eventstore.append", {"events": len(events), "aggregate": ref.aggregate_id}):
            for attempt in range(PUBLISH_ATTEMPTS):
                try:
                    return await self._destroying(ref, envelopes, await self._publish(messages, guard))
                except (TimeoutError, nats.errors.TimeoutError):
                    maybe_landed = True
                    if attempt == PUBLISH_ATTEMPTS - 1:
                        raise ServiceUnavailableError("the event store did not answer; retry") from None
                except ConcurrencyError:
                    if maybe_landed:
                        landed = await self._find_landed(ref, [env.id for env in envelopes], expected_version)
                        if landed is not None:
                            return await self._destroying(ref, envelopes, landed)
                    raise
        raise AssertionError("unreachable")

    async def _sealed(self, ref: AggregateRef, envelopes: list[Envelope]) -> list[Envelope]:
        """A space's payloads sealed with its key (environment-level and CLEAR_TYPES stay plain)."""
        if ref.space_id is None or not needs_key(ref.space_id, (env.type for env in envelopes)):
            return envelopes
        key = await self.keys.for_write(ref.space_id)
        return [env if env.type in CLEAR_TYPES else self.keys.seal(env, key) for env in envelopes]

    async def _destroying(self, ref: AggregateRef, envelopes: list[Envelope], result: AppendResult) -> AppendResult:
        """Once a space's `SpaceDeleted` is stored, its key goes (again on a retry: idempotent)."""
        if ref.space_id is not None and any(env.type in DESTROYS_KEY for env in envelopes):
            await self.keys.destroy(ref.space_id)
        return result

    async def _find_landed(
        self, ref: AggregateRef, event_ids: list[str], expected_version: int | None
    ) -> AppendResult | None:
        """An earlier landing of these events (a lost ack), read from the stream.

        Guarded by `expected_version`, they can only be the aggregate's first events after it:
        the read starts there and stops at the first event that is not one of them, so it costs
        one Direct Get, not the aggregate's history. Unguarded, the aggregate is searched.
        """
        wanted = set(event_ids)
        found: dict[str, int] = {}
        batch = len(event_ids) + 1 if expected_version is not None else READ_BATCH
        async for event in self.read(self._aggregate_filter(ref), from_seq=(expected_version or 0) + 1, batch=batch):
            if event.event_id in wanted:
                found[event.event_id] = event.seq
                if len(found) == len(wanted):
                    break
            elif found or expected_version is not None:
                break  # an atomic batch is contiguous; after the guard, another writer's event
        if event_ids[0] not in found:
            return None
        seqs = list(found.values())
        return AppendResult(first_seq=min(seqs), last_seq=max(seqs), event_ids=event_ids, duplicate=True)

    # ---- read ---------------------------------------------------------------------------

    async def load(self, ref: AggregateRef) -> Loaded:
        """Every event of one aggregate, in order, and its version."""
        events = [e async for e in self.read(self._aggregate_filter(ref))]
        return Loaded(events=events, version=events[-1].seq if events else 0)

    async def read_scope(
        self,
        scope_id: str,
        *,
        up_to_seq: int | None = None,
        up_to_time: datetime | None = None,
        from_seq: int = 1,
    ) -> AsyncIterator[StoredEvent]:
        """A space's (or environment's) whole history in order, up to a sequence or a time."""
        async for event in self.read(subjects.scope_filter(self.prefix, scope_id), from_seq=from_seq):
            if up_to_seq is not None and event.seq > up_to_seq:
                return
            if up_to_time is not None and event.stored_at > up_to_time:
                return
            yield event

    async def read(
        self, filter_subject: str, *, from_seq: int = 1, batch: int = READ_BATCH
    ) -> AsyncIterator[StoredEvent]:
        """Events whose subject matches `filter_subject`, from `from_seq` on, in stream order
        (fetched `batch` events per request)."""
        async for message in self.read_raw(filter_subject, from_seq=from_seq, batch=batch):
            envelope = decode_envelope(message.data)
            if envelope.sealed and envelope.space_id is not None:
                await self.keys.load([envelope.space_id])
            yield self._stored(message, envelope)

    def stored(self, message: RawMessage) -> StoredEvent:
        """Decode a stored message; an event type this registry does not know comes back as None,
        an event of a deleted space as erased (`StoredEvent.erased`, event None). A sealed
        message needs its space's key loaded (`stored_batch` and `open` load it)."""
        return self._stored(message, decode_envelope(message.data))

    async def stored_batch(self, messages: Sequence[RawMessage]) -> list[StoredEvent]:
        """`stored` for each message, their spaces' keys loaded first (one lookup per space not cached)."""
        envelopes = [decode_envelope(message.data) for message in messages]
        spaces = {env.space_id for env in envelopes if env.sealed and env.space_id is not None}
        await self.keys.load(spaces)
        try:
            return self._stored_in_order(messages, envelopes)
        except SealedPayloadError:  # a stale cached key (another process's answer): read the keys again
            for space_id in spaces:
                self.keys.forget(space_id)
            await self.keys.load(spaces)
            return self._stored_in_order(messages, envelopes)

    def _stored_in_order(self, messages: Sequence[RawMessage], envelopes: Sequence[Envelope]) -> list[StoredEvent]:
        """In stream order; once a space's SpaceDeleted has passed, its later events read as
        erased here at once (as a replay after the key's destruction reads them), so a write that
        raced the deletion is not projected live only."""
        out = []
        for message, envelope in zip(messages, envelopes, strict=True):
            out.append(self._stored(message, envelope))
            if envelope.type in DESTROYS_KEY and envelope.space_id is not None:
                self.keys.erased(envelope.space_id)
        return out

    async def open(self, message: RawMessage) -> Envelope:
        """A stored message's envelope with its payload in clear (type `Erased` once its space
        was deleted): for readers that decode `data` themselves with lean types."""
        envelope = decode_envelope(message.data)
        if not envelope.sealed:
            return envelope
        if envelope.space_id is not None:
            await self.keys.load([envelope.space_id])
        try:
            return self.keys.open(envelope)
        except SealedPayloadError:  # a stale cached key: read it again, once
            if envelope.space_id is None:
                raise
            self.keys.forget(envelope.space_id)
            await self.keys.load([envelope.space_id])
            return self.keys.open(envelope)

    def _stored(self, message: RawMessage, envelope: Envelope) -> StoredEvent:
        if envelope.sealed:
            envelope = self.keys.open(envelope)
        return StoredEvent(
            seq=message.seq,
            subject=message.subject,
            stored_at=message.stored_at,
            envelope=envelope,
            event=None if envelope.sealed else self._event(envelope),
        )

    def _event(self, envelope: Envelope) -> Event | None:
        if envelope.type == ERASED_TYPE:
            return None
        return self.registry.decode_data(envelope.type, envelope.data)


def _check_count(events: Sequence[Event]) -> None:
    if not events:
        raise ValueError("append needs at least one event")
    if len(events) > MAX_ATOMIC_BATCH:
        raise ValueError(f"at most {MAX_ATOMIC_BATCH} events per atomic append")
