"""Claim checks for request and reply bodies too big for one NATS message (1 MB by default).

A `Payload` carries small bodies inline and big ones as the name of an object in a JetStream
object store bucket with a short TTL (memory storage: these bodies are transient by nature).
The sender `pack`s, the receiver `unpack`s; both sides only need the NATS connection. The bucket
is the stream `OBJ_<bucket>`: an object's chunks (subject `$O.<bucket>.C.<nuid>`) are read back
by the event store's range reader (`eventstore.direct_get`).
"""

from __future__ import annotations

import asyncio
import uuid

import msgspec
from nats.aio.client import Client
from nats.js.api import ObjectStoreConfig, StorageType
from nats.js.errors import BucketNotFoundError
from nats.js.object_store import ObjectStore

from spaceport.eventstore import direct_get

INLINE_LIMIT = 600 * 1024  # bytes travel base64-encoded in JSON: 600 KB -> 800 KB (1 MB servers)
ENVELOPE_ROOM = 64 * 1024  # the request's other fields, JSON, headers
BUCKET = "spaceport-bodies"
TTL_SECONDS = 300.0
CHUNK_TIMEOUT = 10.0  # seconds for each chunk of a burst


class Payload(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    """Bytes inline (`data`) or by reference (`ref`, an object name in the bodies bucket)."""

    data: bytes = b""
    ref: str | None = None


class ClaimCheck:
    """Packs and unpacks Payloads over one NATS connection; the bucket is created on first use.

    Like the event store it can be made before the connection exists and `bind` it later (a
    service's runtime wires its handlers before it connects).
    """

    def __init__(self, nc: Client | None, bucket: str = BUCKET) -> None:
        self._nc = nc
        self.bucket = bucket
        self._store: ObjectStore | None = None
        self._deleting: set[asyncio.Task[object]] = set()

    def bind(self, nc: Client) -> None:
        self._nc = nc
        self._store = None  # the bucket handle belongs to the connection it was opened on

    @property
    def nc(self) -> Client:
        assert self._nc is not None, "claim check not bound to a NATS connection"
        return self._nc

    async def _obs(self) -> ObjectStore:
        if self._store is None:
            js = self.nc.jetstream()
            try:
                self._store = await js.object_store(self.bucket)
            except BucketNotFoundError:
                config = ObjectStoreConfig(bucket=self.bucket, ttl=TTL_SECONDS, storage=StorageType.MEMORY)
                self._store = await js.create_object_store(self.bucket, config)
        return self._store

    def inline_limit(self) -> int:
        """The largest body sent inline: what fits base64-encoded in the server's max_payload
        (announced on connect; 1 MB by default, 8 MB on the servers Spaceport starts)."""
        max_payload = self._nc.max_payload if self._nc is not None and self._nc.is_connected else 0
        return max(INLINE_LIMIT, (max_payload - ENVELOPE_ROOM) * 3 // 4)

    async def pack(self, data: bytes) -> Payload:
        if len(data) <= self.inline_limit():
            return Payload(data=data)
        name = uuid.uuid4().hex
        await (await self._obs()).put(name, data)
        return Payload(ref=name)

    async def unpack(self, payload: Payload) -> bytes:
        if payload.ref is None:
            return payload.data
        obs = await self._obs()
        info = await obs.get_info(payload.ref)
        data = await self._chunks(f"$O.{self.bucket}.C.{info.nuid}", info.chunks or 0)
        if len(data) != info.size:  # e.g. a server that caps direct batches: the slow, sure path
            data = (await obs.get(payload.ref)).data or b""
        task: asyncio.Task[object] = asyncio.create_task(obs.delete(payload.ref))
        self._deleting.add(task)
        task.add_done_callback(self._deleting.discard)
        return data

    async def _chunks(self, subject: str, count: int) -> bytes:
        """All chunks of one object by batched Direct Gets of <= 8 MB (nats-py's get: ~10 MB/s)."""
        parts: list[bytes] = []
        if count == 0:
            return b""  # a batch of 0 would be a plain (single message) Direct Get
        async for chunk in direct_get(self.nc, f"OBJ_{self.bucket}", subject, batch=count, timeout=CHUNK_TIMEOUT):
            parts.append(chunk.data)
            if len(parts) == count:
                break
        return b"".join(parts)
