"""The event store on JetStream.

One stream holds every domain event. Appends are optimistic (expected last sequence of the
aggregate's subjects), idempotent (`Nats-Msg-Id` = event id) and atomic for several events
(JetStream atomic batch publish). Reads use batched Direct Get: one request per 1,000 events.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Sequence
from datetime import datetime
from typing import Any

import msgspec
import nats.errors
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.js.api import DiscardPolicy, RetentionPolicy, StorageType, StreamConfig
from nats.js.client import JetStreamContext
from nats.js.errors import APIError, NotFoundError

from spaceport import ids, subjects, telemetry
from spaceport.errors import ConcurrencyError, ServiceUnavailableError
from spaceport.events import (
    Envelope,
    Event,
    EventRegistry,
    StoredEvent,
    decode_envelope,
    encode,
    type_name,
    utcnow,
)

WRONG_LAST_SEQUENCE = 10071
BATCH_DUPLICATE_MSG_ID = 10201
READ_BATCH = 1000
READ_MAX_BYTES = 8 * 1024 * 1024  # one read burst stays far below the client's pending-bytes limit
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


def stream_config(name: str, prefix: str, replicas: int = 1) -> StreamConfig:
    """The one stream of domain events: append-only, on disk, atomic batches, direct reads."""
    return StreamConfig(
        name=name,
        subjects=[f"{prefix}.>"],
        retention=RetentionPolicy.LIMITS,
        storage=StorageType.FILE,
        discard=DiscardPolicy.OLD,
        num_replicas=replicas,
        deny_delete=True,
        deny_purge=True,
        allow_direct=True,
        allow_atomic=True,
        duplicate_window=120.0,
    )


class EventStore:
    """Append to and read from the event stream. Safe to share within a process."""

    def __init__(
        self,
        nc: Client,
        registry: EventRegistry,
        *,
        stream: str = "SPACEPORT_EVENTS",
        prefix: str = "evt",
        timeout: float = 5.0,
    ) -> None:
        self.nc = nc
        self.js: JetStreamContext = nc.jetstream(timeout=timeout)
        self.registry = registry
        self.stream = stream
        self.prefix = prefix
        self.timeout = timeout

    async def ensure_stream(self, replicas: int = 1) -> None:
        """Create the stream if missing (idempotent; every service may call it at start)."""
        try:
            await self.js.stream_info(self.stream)
        except NotFoundError:
            try:
                await self.js.add_stream(stream_config(self.stream, self.prefix, replicas))
            except APIError:
                await self.js.stream_info(self.stream)  # another service created it first

    # ---- append -------------------------------------------------------------------------

    def envelopes(self, ref: AggregateRef, events: Sequence[Event], context: AppendContext) -> list[Envelope]:
        now = utcnow()
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
        stream sequence of its last event. Raises ConcurrencyError when another writer won.
        A retry (same idempotency key) of an append that already landed returns its result
        with `duplicate=True`, also when the lost ack turns the retry into a conflict.
        """
        if not events:
            raise ValueError("append needs at least one event")
        if len(events) > MAX_ATOMIC_BATCH:
            raise ValueError(f"at most {MAX_ATOMIC_BATCH} events per atomic append")
        return await self._append(ref, events, expected_version, context or AppendContext())

    async def append_at(
        self,
        ref: AggregateRef,
        events: Sequence[Event],
        *,
        expected_version: int,
        context: AppendContext | None = None,
    ) -> AppendResult:
        """Append `events` atomically only if `ref`'s last event is still at `expected_version`.

        The guarded append for aggregates with a long history whose state is not folded from
        their events (a sheet's records: the caller decided against a read model at that
        version). `expected_version` is the stream sequence of the aggregate's last event
        (0 = it has none). Raises ConcurrencyError when another writer appended in between;
        the caller decides again. It never reads the aggregate's history: on a conflict it looks
        for its own first event only when that event can have landed (an idempotency key, or
        an earlier attempt of this call whose ack was lost), and only among the events after
        `expected_version`; found, it returns that earlier append with `duplicate=True`.
        """
        if not events:
            raise ValueError("append needs at least one event")
        if len(events) > MAX_ATOMIC_BATCH:
            raise ValueError(f"at most {MAX_ATOMIC_BATCH} events per atomic append")
        return await self._append(ref, events, expected_version, context or AppendContext())

    async def _append(
        self, ref: AggregateRef, events: Sequence[Event], expected_version: int | None, context: AppendContext
    ) -> AppendResult:
        envelopes = self.envelopes(ref, events, context)
        messages = [(self.subject_for(ref, env.type), encode(env), env.id) for env in envelopes]
        headers = self._concurrency_headers(ref, expected_version)
        # Random event ids (no idempotency key) can only be in the stream if a publish of this
        # very call timed out after landing.
        maybe_landed = context.idempotency_key is not None
        with telemetry.span("eventstore.append", {"events": len(events), "aggregate": ref.aggregate_id}):
            for attempt in range(3):
                try:
                    return await self._publish(messages, headers)
                except (TimeoutError, nats.errors.TimeoutError):
                    maybe_landed = True
                    if attempt == 2:
                        raise ServiceUnavailableError("the event store did not answer; retry") from None
                except ConcurrencyError:
                    if maybe_landed:
                        landed = await self._find_landed(ref, [env.id for env in envelopes], expected_version)
                        if landed is not None:
                            return landed
                    raise
        raise AssertionError("unreachable")

    def subject_for(self, ref: AggregateRef, event_type: str) -> str:
        return subjects.event_subject(self.prefix, ref.scope_id, ref.aggregate, ref.aggregate_id, event_type)

    def _concurrency_headers(self, ref: AggregateRef, expected_version: int | None) -> dict[str, str]:
        if expected_version is None:
            return {}
        return {
            "Nats-Expected-Last-Subject-Sequence": str(expected_version),
            "Nats-Expected-Last-Subject-Sequence-Subject": subjects.aggregate_filter(
                self.prefix, ref.scope_id, ref.aggregate, ref.aggregate_id
            ),
        }

    async def _publish(self, messages: list[tuple[str, bytes, str]], guard: dict[str, str]) -> AppendResult:
        trace_headers = telemetry.inject_headers()
        if len(messages) == 1:
            subject, body, event_id = messages[0]
            headers = {**trace_headers, **guard, "Nats-Msg-Id": event_id}
            reply = await self.nc.request(subject, body, timeout=self.timeout, headers=headers)
            ack = _parse_ack(reply)
            seq = int(ack["seq"])
            return AppendResult(first_seq=seq, last_seq=seq, event_ids=[event_id], duplicate=bool(ack.get("duplicate")))
        batch_id = uuid.uuid4().hex
        last = len(messages)
        for index, (subject, body, event_id) in enumerate(messages, start=1):
            headers = {
                **trace_headers,
                "Nats-Msg-Id": event_id,
                "Nats-Batch-Id": batch_id,
                "Nats-Batch-Sequence": str(index),
            }
            if index == 1:
                headers.update(guard)
            if index < last:
                await self.nc.publish(subject, body, headers=headers)
                continue
            headers["Nats-Batch-Commit"] = "1"
            reply = await self.nc.request(subject, body, timeout=self.timeout, headers=headers)
        ack = _parse_ack(reply)
        last_seq = int(ack["seq"])
        return AppendResult(first_seq=last_seq - last + 1, last_seq=last_seq, event_ids=[m[2] for m in messages])

    async def _find_landed(
        self, ref: AggregateRef, event_ids: list[str], expected_version: int | None
    ) -> AppendResult | None:
        """An earlier landing of these events (a lost ack), read from the stream.

        Guarded by `expected_version`, they can only be the aggregate's first events after it:
        the read starts there and stops at the first event that is not one of them, so it costs
        one Direct Get, not the aggregate's history. Unguarded, the aggregate is searched.
        """
        filter_subject = subjects.aggregate_filter(self.prefix, ref.scope_id, ref.aggregate, ref.aggregate_id)
        wanted = set(event_ids)
        found: dict[str, int] = {}
        batch = len(event_ids) + 1 if expected_version is not None else READ_BATCH
        async for event in self.read(filter_subject, from_seq=(expected_version or 0) + 1, batch=batch):
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
        filter_subject = subjects.aggregate_filter(self.prefix, ref.scope_id, ref.aggregate, ref.aggregate_id)
        events = [e async for e in self.read(filter_subject)]
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
        (fetched `batch` events per Direct Get)."""
        seq = from_seq
        while True:
            found, pending = await self._direct_batch(filter_subject, seq, batch)
            for event in found:
                yield event
            if not found or pending == 0:
                return
            seq = found[-1].seq + 1

    async def last_seq(self) -> int:
        info = await self.js.stream_info(self.stream)
        return int(info.state.last_seq)

    async def _direct_batch(
        self, filter_subject: str, seq: int, batch: int = READ_BATCH
    ) -> tuple[list[StoredEvent], int]:
        inbox = self.nc.new_inbox()
        sub = await self.nc.subscribe(inbox)
        try:
            request = encode({"seq": seq, "next_by_subj": filter_subject, "batch": batch, "max_bytes": READ_MAX_BYTES})
            await self.nc.publish(f"$JS.API.DIRECT.GET.{self.stream}", request, reply=inbox)
            events: list[StoredEvent] = []
            while True:
                msg = await sub.next_msg(timeout=self.timeout)
                status = (msg.headers or {}).get("Status")
                if status == "404":
                    return events, 0
                if status is not None:
                    return events, int((msg.headers or {}).get("Nats-Num-Pending", "0"))
                events.append(self._stored(msg))
        finally:
            await sub.unsubscribe()

    def _stored(self, msg: Msg) -> StoredEvent:
        headers = msg.headers or {}
        envelope = decode_envelope(msg.data)
        return StoredEvent(
            seq=int(headers["Nats-Sequence"]),
            subject=headers["Nats-Subject"],
            stored_at=parse_nats_time(headers["Nats-Time-Stamp"]),
            envelope=envelope,
            event=self.registry.decode_data(envelope.type, envelope.data),
        )

    def stored_from_js(self, msg: Msg) -> StoredEvent:
        """Decode a message delivered by a consumer (projections)."""
        meta = msg.metadata
        envelope = decode_envelope(msg.data)
        return StoredEvent(
            seq=meta.sequence.stream,
            subject=msg.subject,
            stored_at=meta.timestamp,
            envelope=envelope,
            event=self.registry.decode_data(envelope.type, envelope.data),
        )


def parse_nats_time(value: str) -> datetime:
    """RFC 3339 with nanoseconds -> aware datetime (microseconds kept)."""
    head, _, frac = value.rstrip("Z").partition(".")
    micros = (frac + "000000")[:6]
    return datetime.fromisoformat(f"{head}.{micros}+00:00")


def _parse_ack(reply: Msg) -> dict[str, Any]:
    body: dict[str, Any] = msgspec.json.decode(reply.data)
    error = body.get("error")
    if isinstance(error, dict):
        code = int(error.get("err_code", 0))
        if code in (WRONG_LAST_SEQUENCE, BATCH_DUPLICATE_MSG_ID):
            raise ConcurrencyError(str(error.get("description", "concurrent write")))
        raise ServiceUnavailableError(f"event store rejected the append: {error.get('description')}")
    return body
