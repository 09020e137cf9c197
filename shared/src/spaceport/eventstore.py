"""The event store on JetStream.

One stream holds every domain event. Appends are optimistic (expected last sequence of the
aggregate's subjects), idempotent (`Nats-Msg-Id` = event id) and atomic for several events
(JetStream atomic batch publish). Reads use batched Direct Get (`direct_get`, the one range
reader: events, a commit's records and claim-checked bodies all read through it).
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any

import msgspec
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.js.api import DiscardPolicy, RetentionPolicy, StorageType, StreamConfig
from nats.js.client import JetStreamContext
from nats.js.errors import APIError, NotFoundError

from spaceport import telemetry
from spaceport.crypto import KvKeyring
from spaceport.errors import ConcurrencyError, ServiceUnavailableError
from spaceport.events import EventRegistry, StoredEvent, encode
from spaceport.ports import (
    MAX_ATOMIC_BATCH,
    READ_BATCH,
    AggregateRef,
    AppendContext,
    AppendResult,
    EventStorePort,
    Loaded,
    RawMessage,
)
from spaceport.storecore import Guard, Outgoing, StoreCore

__all__ = [
    "MAX_ATOMIC_BATCH",
    "READ_BATCH",
    "READ_MAX_BYTES",
    "AggregateRef",
    "AppendContext",
    "AppendResult",
    "EventStore",
    "EventStorePort",
    "Loaded",
    "RawMessage",
    "direct_get",
    "key_bucket",
    "parse_nats_time",
    "stream_config",
]

WRONG_LAST_SEQUENCE = 10071
BATCH_DUPLICATE_MSG_ID = 10201
READ_MAX_BYTES = 8 * 1024 * 1024  # one read burst stays far below the client's pending-bytes limit


def key_bucket(stream: str) -> str:
    """The KV bucket of the spaces' data keys of `stream` (spaceport.crypto): `<stream>_KEYS`."""
    return f"{stream}_KEYS"


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


class EventStore(StoreCore):
    """Append to and read from the event stream. Safe to share within a process."""

    def __init__(
        self,
        nc: Client | None,
        registry: EventRegistry,
        *,
        stream: str = "SPACEPORT_EVENTS",
        prefix: str = "evt",
        timeout: float = 5.0,
    ) -> None:
        self.key_ring = KvKeyring(bucket=key_bucket(stream))
        super().__init__(registry, prefix, self.key_ring)
        self.stream = stream
        self.timeout = timeout
        self._nc: Client | None = None
        self._js: JetStreamContext | None = None
        if nc is not None:
            self.bind(nc)

    def bind(self, nc: Client) -> None:
        """Use connection `nc` (a service's runtime wires its store before it connects)."""
        self._nc = nc
        self._js = nc.jetstream(timeout=self.timeout)
        self.key_ring.bind(nc)

    @property
    def nc(self) -> Client:
        assert self._nc is not None, "event store not bound to a NATS connection"
        return self._nc

    @property
    def js(self) -> JetStreamContext:
        assert self._js is not None, "event store not bound to a NATS connection"
        return self._js

    async def ensure_stream(self, replicas: int = 1) -> None:
        """Create the stream if missing (idempotent; every service may call it at start)."""
        self.key_ring.replicas = replicas
        try:
            await self.js.stream_info(self.stream)
        except NotFoundError:
            try:
                await self.js.add_stream(stream_config(self.stream, self.prefix, replicas))
            except APIError:
                await self.js.stream_info(self.stream)  # another service created it first
        await self.key_ring.open_bucket()

    async def last_seq(self) -> int:
        info = await self.js.stream_info(self.stream)
        return int(info.state.last_seq)

    # ---- append -------------------------------------------------------------------------

    async def _publish(self, messages: list[Outgoing], guard: Guard | None) -> AppendResult:
        trace_headers = telemetry.inject_headers()
        if len(messages) == 1:
            subject, body, event_id = messages[0]
            headers = {**trace_headers, **_guard_headers(guard), "Nats-Msg-Id": event_id}
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
                headers.update(_guard_headers(guard))
            if index < last:
                await self.nc.publish(subject, body, headers=headers)
                continue
            headers["Nats-Batch-Commit"] = "1"
            reply = await self.nc.request(subject, body, timeout=self.timeout, headers=headers)
        ack = _parse_ack(reply)
        last_seq = int(ack["seq"])
        return AppendResult(first_seq=last_seq - last + 1, last_seq=last_seq, event_ids=[m.event_id for m in messages])

    # ---- read ---------------------------------------------------------------------------

    def read_raw(
        self, filter_subject: str, *, from_seq: int = 1, to_seq: int | None = None, batch: int = READ_BATCH
    ) -> AsyncIterator[RawMessage]:
        """Stored messages matching `filter_subject` with `from_seq <= seq <= to_seq` (None: to the
        end), in stream order, `batch` messages (and at most 8 MB) per Direct Get."""
        return direct_get(
            self.nc, self.stream, filter_subject, from_seq=from_seq, to_seq=to_seq, batch=batch, timeout=self.timeout
        )

    def stored_from_js(self, msg: Msg) -> StoredEvent:
        """Decode a message delivered by a consumer (projections)."""
        meta = msg.metadata
        return self.stored(
            RawMessage(seq=meta.sequence.stream, subject=msg.subject, stored_at=meta.timestamp, data=msg.data)
        )

    async def stored_from_js_batch(self, msgs: list[Msg]) -> list[StoredEvent]:
        """`stored_from_js` for a fetched batch, its spaces' keys loaded first (projections)."""
        raw = []
        for m in msgs:
            meta = m.metadata
            raw.append(RawMessage(seq=meta.sequence.stream, subject=m.subject, stored_at=meta.timestamp, data=m.data))
        return await self.stored_batch(raw)


async def direct_get(
    nc: Client,
    stream: str,
    filter_subject: str,
    *,
    from_seq: int = 1,
    to_seq: int | None = None,
    batch: int = READ_BATCH,
    timeout: float = 5.0,
) -> AsyncIterator[RawMessage]:
    """Messages of `stream` (which allows direct reads) matching `filter_subject`, from
    `from_seq` to `to_seq` inclusive (None: to the end), in sequence order.

    One batched Direct Get per `batch` messages or READ_MAX_BYTES, whichever comes first; the
    next request starts after the last message received. It stops when a burst comes back
    empty or the server reports nothing pending after it (`Nats-Num-Pending: 0`), or past
    `to_seq`. No consumer is created. `timeout` bounds the wait for each message of a burst.
    """
    seq = from_seq
    while to_seq is None or seq <= to_seq:
        size = batch if to_seq is None else min(batch, to_seq - seq + 1)
        burst, pending = await _direct_batch(nc, stream, filter_subject, seq, batch=size, timeout=timeout)
        for message in burst:
            if to_seq is not None and message.seq > to_seq:
                return
            yield message
        if not burst or pending == 0:
            return
        seq = burst[-1].seq + 1


async def _direct_batch(
    nc: Client, stream: str, filter_subject: str, seq: int, *, batch: int, timeout: float
) -> tuple[list[RawMessage], int]:
    """One burst and the number of matching messages still pending after it.

    The burst ends with a status message: 204 EOB carrying `Nats-Num-Pending`, or 404 when
    nothing matches from `seq` on.
    """
    inbox = nc.new_inbox()
    sub = await nc.subscribe(inbox)
    try:
        request = encode({"seq": seq, "next_by_subj": filter_subject, "batch": batch, "max_bytes": READ_MAX_BYTES})
        await nc.publish(f"$JS.API.DIRECT.GET.{stream}", request, reply=inbox)
        messages: list[RawMessage] = []
        while True:
            msg = await sub.next_msg(timeout=timeout)
            headers = msg.headers or {}
            status = headers.get("Status")
            if status == "404":
                return messages, 0
            if status is not None:
                return messages, int(headers.get("Nats-Num-Pending", "0"))
            messages.append(_raw(msg, headers))
    finally:
        await sub.unsubscribe()


def _raw(msg: Msg, headers: dict[str, str]) -> RawMessage:
    return RawMessage(
        seq=int(headers["Nats-Sequence"]),
        subject=headers["Nats-Subject"],
        stored_at=parse_nats_time(headers["Nats-Time-Stamp"]),
        data=msg.data,
    )


def parse_nats_time(value: str) -> datetime:
    """RFC 3339 with nanoseconds -> aware datetime (microseconds kept)."""
    head, _, frac = value.rstrip("Z").partition(".")
    micros = (frac + "000000")[:6]
    return datetime.fromisoformat(f"{head}.{micros}+00:00")


def _guard_headers(guard: Guard | None) -> dict[str, str]:
    if guard is None:
        return {}
    return {
        "Nats-Expected-Last-Subject-Sequence": str(guard.last_seq),
        "Nats-Expected-Last-Subject-Sequence-Subject": guard.filter_subject,
    }


def _parse_ack(reply: Msg) -> dict[str, Any]:
    body: dict[str, Any] = msgspec.json.decode(reply.data)
    error = body.get("error")
    if isinstance(error, dict):
        code = int(error.get("err_code", 0))
        if code in (WRONG_LAST_SEQUENCE, BATCH_DUPLICATE_MSG_ID):
            raise ConcurrencyError(str(error.get("description", "concurrent write")))
        raise ServiceUnavailableError(f"event store rejected the append: {error.get('description')}")
    return body
