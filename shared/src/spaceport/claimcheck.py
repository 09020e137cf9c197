"""Claim checks for request and reply bodies too big for one NATS message (1 MB by default).

A `Payload` carries small bodies inline and big ones as the name of an object in a JetStream
object store bucket with a short TTL (memory storage: these bodies are transient by nature).
The sender `pack`s, the receiver `unpack`s; both sides only need the NATS connection.
"""

from __future__ import annotations

import uuid

import msgspec
from nats.aio.client import Client
from nats.js.api import ObjectStoreConfig, StorageType
from nats.js.errors import BucketNotFoundError
from nats.js.object_store import ObjectStore

INLINE_LIMIT = 600 * 1024  # bytes travel base64-encoded in JSON: 600 KB -> 800 KB
BUCKET = "spaceport-bodies"
TTL_SECONDS = 300.0


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
        result = await obs.get(payload.ref)
        data = result.data or b""
        await obs.delete(payload.ref)
        return data
