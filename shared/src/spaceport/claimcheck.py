"""Claim checks for request and reply bodies too big for one NATS message (1 MB by default).

A `Payload` carries small bodies inline and big ones as the name of an object in a JetStream
object store bucket with a short TTL (memory storage: these bodies are transient by nature).
The sender `pack`s, the receiver `unpack`s; both sides only need the NATS connection.
"""

from __future__ import annotations

import asyncio
import uuid

import msgspec
from nats.aio.client import Client
from nats.js.api import ObjectStoreConfig, StorageType
from nats.js.errors import BucketNotFoundError
from nats.js.object_store import ObjectStore

INLINE_LIMIT = 600 * 1024  # bytes travel base64-encoded in JSON: 600 KB -> 800 KB
BUCKET = "spaceport-bodies"
TTL_SECONDS = 300.0
BURST_BYTES = 8 * 1024 * 1024


class Payload(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    """Bytes inline (`data`) or by reference (`ref`, an object name in the bodies bucket)."""

    data: bytes = b""
    ref: str | None = None


class ClaimCheck:
    """Packs and unpacks Payloads over one NATS connection; the bucket is created on first use."""

    def __init__(self, nc: Client, bucket: str = BUCKET) -> None:
        self.nc = nc
        self.bucket = bucket
        self._store: ObjectStore | None = None
        self._deleting: set[asyncio.Task[object]] = set()

    async def _obs(self) -> ObjectStore:
        if self._store is None:
            js = self.nc.jetstream()
            try:
                self._store = await js.object_store(self.bucket)
            except BucketNotFoundError:
                config = ObjectStoreConfig(bucket=self.bucket, ttl=TTL_SECONDS, storage=StorageType.MEMORY)
                self._store = await js.create_object_store(self.bucket, config)
        return self._store

    async def pack(self, data: bytes) -> Payload:
        if len(data) <= INLINE_LIMIT:
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
        seq = 1
        while len(parts) < count:
            burst, seq = await self._burst(subject, seq, count - len(parts))
            if not burst:
                break
            parts.extend(burst)
        return b"".join(parts)

    async def _burst(self, subject: str, seq: int, count: int) -> tuple[list[bytes], int]:
        inbox = self.nc.new_inbox()
        sub = await self.nc.subscribe(inbox)
        parts: list[bytes] = []
        try:
            request = {"seq": seq, "next_by_subj": subject, "batch": count, "max_bytes": BURST_BYTES}
            await self.nc.publish(f"$JS.API.DIRECT.GET.OBJ_{self.bucket}", msgspec.json.encode(request), reply=inbox)
            while len(parts) < count:
                msg = await sub.next_msg(timeout=10.0)
                headers = msg.headers or {}
                if headers.get("Status"):
                    break
                parts.append(msg.data)
                seq = int(headers["Nats-Sequence"]) + 1
        finally:
            await sub.unsubscribe()
        return parts, seq
