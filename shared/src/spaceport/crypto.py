"""Crypto-shredding: each space's event payloads are sealed with the space's own data key.

A space's events carry their envelope in clear (id, type, space and environment ids, aggregate,
actor, times, causality: what subjects, routing and projections need) and their `data` sealed
with AES-256-GCM under a random 32-byte key of that space: `data` is then a JSON string, the
base64 of a fresh 12-byte nonce followed by the ciphertext and tag, and the envelope's `sealed`
says how the plain bytes went in:

- `sealed: 1` (`SEALED_AES_GCM`): the plain JSON itself is encrypted; the additional data binds
  the ciphertext to its event (id, space, type), so a payload cannot be moved onto another event.
  Payloads under `COMPRESS_FROM` bytes (and every sealed event written before sealing 2 existed)
  are sealed so; they open forever.
- `sealed: 2` (`SEALED_ZSTD_AES_GCM`): the plain JSON is compressed with zstd (level
  `ZSTD_LEVEL`, one frame that records its size) and the frame is encrypted as above; the
  additional data also names the sealing (`<id>\\0<space>\\0<type>\\0zstd`), so a payload cannot be
  relabelled to the other sealing either. Large payloads (a `RecordsInserted` of 1,000 records
  is about 1 MB of JSON) come out 10 to 30 times smaller: less to store, deliver to every consumer,
  base64 and decrypt. Compression comes before encryption, so a sealed payload's length says how
  well it compressed; only readers of the stream see lengths, never the API's callers.
  Opening refuses (`SealedPayloadError`) a frame that claims more than `MAX_OPENED_BYTES` (a
  decompression bomb) or does not record its size; a writer never compresses more than that.

Envelopes without `sealed` (environment-level events, every event written before sealing
existed, the recorded corpus) are plain as always.

Deleting a space destroys its key (`Keyring.destroy`, done by the store once the space's
`SpaceDeleted` is stored). From then on its sealed events open as erased: the store delivers
them with type `Erased`, no data and no event, which every projection and replay skips like an
event type it does not know. `SpaceDeleted` and `SpaceExpired` (ids only, no customer data)
stay in clear, so a projection that reads them after the key is gone still removes the space's
rows.

Keys live in a JetStream KV bucket next to the event stream, `<stream>_KEYS` (so
`SPACEPORT_EVENTS_KEYS`; file storage, the stream's replicas), which every process reaches
through the NATS connection it already has. Each process caches keys; a destroyed key is dropped
from every cache at once through the bucket's own subjects (`$KV.<bucket>.<space>`, a core
subscription), and a cached key is looked up again after `KEY_TTL` seconds, which bounds how
long a process that missed that message (a reconnect) could still open the space's events.
`InMemoryKeyring` is the same for the in-memory store.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Iterable

import msgspec
import nats.errors
import zstandard
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription
from nats.js.api import DiscardPolicy, StorageType, StreamConfig
from nats.js.errors import (
    APIError,
    BucketNotFoundError,
    KeyDeletedError,
    KeyNotFoundError,
    KeyWrongLastSequenceError,
    NoKeysError,
    NotFoundError,
)
from nats.js.kv import KeyValue

from spaceport.errors import NotFoundError as SpaceportNotFoundError
from spaceport.errors import ServiceUnavailableError
from spaceport.events import ERASED_TYPE, Envelope

SEALED_AES_GCM = 1  # `Envelope.sealed`: 0 plain, 1 AES-256-GCM under the space's key
SEALED_ZSTD_AES_GCM = 2  # 2: zstd, then AES-256-GCM (the additional data names the sealing)
# Plain payloads from this size up are sealed 2 (smaller ones gain little).
# SPACEPORT_SEAL_COMPRESS=off keeps writing sealing 1: for a rolling upgrade from a release that
# cannot open sealing 2, until every reader runs this one (readers open both either way).
COMPRESS_FROM = 1024 if os.environ.get("SPACEPORT_SEAL_COMPRESS", "on").lower() not in ("off", "0", "false") else -1
ZSTD_LEVEL = 1
MAX_OPENED_BYTES = 64 * 1024 * 1024  # the largest payload sealing 2 writes or opens (8x max_payload)
CLEAR_TYPES = frozenset({"SpaceDeleted", "SpaceExpired"})  # ids only; must stay readable after erasure
DESTROYS_KEY = frozenset({"SpaceDeleted"})
KEY_BUCKET = "SPACEPORT_EVENTS_KEYS"  # the default; the event store names it after its stream
KEY_BYTES = 32
NONCE_BYTES = 12
KEY_TTL = 30.0  # seconds a cached key is used before it is looked up again
ATTEMPTS = 3  # a key store request that times out is retried (a create that landed is then found)
HISTORY = 2  # a destroyed key's tombstone, then its erased value
MISSING = b""  # `_fetch`: the store has no value for the space (never made, or not visible yet)
TOMBSTONE = b"erased"  # a destroyed key's value: it is never created again
log = logging.getLogger(__name__)

_ERASED_DATA = msgspec.Raw(b"null")
_bytes_decoder = msgspec.json.Decoder(bytes)
_encoder = msgspec.json.Encoder()


class SpaceErasedError(SpaceportNotFoundError):
    """A write to a space whose key was destroyed (the space was deleted)."""


class SealedPayloadError(Exception):
    """A sealed payload that its space's key does not open: it was altered (not erased)."""


def _aad(envelope: Envelope, sealing: int = SEALED_AES_GCM) -> bytes:
    """What a payload is bound to: its event, and (from sealing 2 on) how it was sealed. Sealing 1
    keeps the additional data it always had, so the events written with it still open."""
    aad = f"{envelope.id}\x00{envelope.space_id}\x00{envelope.type}"
    return (aad if sealing == SEALED_AES_GCM else f"{aad}\x00zstd").encode()


class _Codecs(threading.local):
    """A zstd compressor and decompressor per thread: their contexts are reused from call to
    call, and neither may be used by two threads at once. Seal and open run on the event
    loop's thread, but nothing stops a caller from a worker thread (`asyncio.to_thread`)."""

    def __init__(self) -> None:
        self.compressor = zstandard.ZstdCompressor(level=ZSTD_LEVEL)  # records the content size
        self.decompressor = zstandard.ZstdDecompressor()


_codecs = _Codecs()


def _compressed(plain: bytes) -> bytes | None:
    """The plain payload as one zstd frame; None when sealing 1 is the better choice (small,
    incompressible, or larger than any reader opens)."""
    if COMPRESS_FROM < 0 or not COMPRESS_FROM <= len(plain) <= MAX_OPENED_BYTES:
        return None
    frame = _codecs.compressor.compress(plain)
    return frame if len(frame) < len(plain) else None


def _decompressed(frame: bytes, event_id: str) -> bytes:
    """The payload of a zstd frame, refused (SealedPayloadError) beyond `MAX_OPENED_BYTES`.

    The frame was authenticated already (only a holder of the key wrote it), but a bug or a
    hostile writer must not make every reader allocate what a header claims: the size is read
    first, and a frame that does not record it (sealing 2 always does) is refused."""
    try:
        size = zstandard.frame_content_size(frame)  # -1 (or CONTENTSIZE_UNKNOWN): not recorded
        if not 0 <= size <= MAX_OPENED_BYTES:
            raise SealedPayloadError(
                f"event {event_id}: its payload records no size, or one over {MAX_OPENED_BYTES} bytes"
            )
        return _codecs.decompressor.decompress(frame, allow_extra_data=False)
    except zstandard.ZstdError as error:  # not a zstd frame, a damaged one, or trailing data
        raise SealedPayloadError(f"event {event_id}: its payload does not decompress") from error


def needs_key(space_id: str | None, types: Iterable[str]) -> bool:
    """Whether an append of events of these types into this scope seals anything."""
    return space_id is not None and any(t not in CLEAR_TYPES for t in types)


class Keyring(ABC):
    """Each space's data key: created on a space's first sealed write, destroyed on deletion.

    `cached` answers from memory (the decoding hot path); `load` fills the cache for a read.
    A key is bytes, `None` once destroyed (or never made: nothing sealed can exist then).
    """

    def __init__(self) -> None:
        self._keys: dict[str, tuple[bytes | None, float]] = {}
        self._ciphers: dict[bytes, AESGCM] = {}

    # ---- what the store calls ---------------------------------------------------------------

    def cached(self, space_id: str) -> tuple[bool, bytes | None]:
        """(known, key): known is False when the cache has no fresh answer."""
        found = self._keys.get(space_id)
        if found is None:
            return False, None
        key, at = found
        if key is not None and time.monotonic() - at > KEY_TTL:
            return False, None
        return True, key

    async def load(self, space_ids: Iterable[str]) -> None:
        """Make `cached` answer for each of `space_ids` (one lookup per space not cached).

        Only a destroyed key (its tombstone) makes a space erased: a key the store does not show
        (yet: a replica behind its leader) is a retryable error, never cached as erased."""
        for space_id in set(space_ids):
            if not self.cached(space_id)[0]:
                key = await self._fetch(space_id)
                if key == MISSING:
                    raise ServiceUnavailableError(f"the data key of space {space_id} is not readable yet; retry")
                self._remember(space_id, key)

    def erased(self, space_id: str) -> None:
        """The space's deletion was read: its key counts as destroyed in this process from now on."""
        self._remember(space_id, None)

    def forget(self, space_id: str) -> None:
        """Drop the cached answer (a payload the cached key did not open: look it up again)."""
        self._keys.pop(space_id, None)

    async def for_write(self, space_id: str) -> bytes:
        """The space's key, made now if it has none; SpaceErasedError once it was destroyed."""
        known, key = self.cached(space_id)
        if known and key is not None:
            # Looked up again on every write (one KV read per append, which carries up to
            # 1,000 events): a key destroyed by another process stops writes at once, so no
            # event lands after a space's SpaceDeleted unless it raced that very moment.
            fetched = await self._fetch(space_id)
            key = key if fetched == MISSING else fetched
        elif not known:
            key = await self._fetch(space_id)  # most writes find it: no create attempt
            if key == MISSING:
                key = await self._fetch_or_create(space_id)
            if key == MISSING:  # made by another writer, not readable here yet
                raise ServiceUnavailableError(f"the data key of space {space_id} is not readable yet; retry")
        self._remember(space_id, key)
        if key is None:
            raise SpaceErasedError(f"space {space_id} was deleted")
        return key

    async def destroy(self, space_id: str) -> None:
        """Destroy the space's key for good (idempotent)."""
        await self._destroy(space_id)
        self._remember(space_id, None)

    # ---- sealing ----------------------------------------------------------------------------

    def seal(self, envelope: Envelope, key: bytes) -> Envelope:
        """The envelope with its `data` sealed under `key`: compressed first (sealing 2) when the
        payload is at least `COMPRESS_FROM` bytes and compresses, else as is (sealing 1)."""
        plain = bytes(envelope.data)
        frame = _compressed(plain)
        sealing, clear = (SEALED_AES_GCM, plain) if frame is None else (SEALED_ZSTD_AES_GCM, frame)
        nonce = os.urandom(NONCE_BYTES)
        sealed = nonce + self._cipher(key).encrypt(nonce, clear, _aad(envelope, sealing))
        return msgspec.structs.replace(envelope, sealed=sealing, data=msgspec.Raw(_encoder.encode(sealed)))

    def open(self, envelope: Envelope) -> Envelope:
        """The envelope with its plain `data`; erased (type `Erased`, no data) when the key is gone.

        The space's key must be cached (`load`) unless the envelope is plain.
        """
        if not envelope.sealed:
            return envelope
        sealing = envelope.sealed
        if envelope.space_id is None or sealing not in (SEALED_AES_GCM, SEALED_ZSTD_AES_GCM):
            raise SealedPayloadError(f"event {envelope.id}: unknown sealing {envelope.sealed}")
        known, key = self.cached(envelope.space_id)
        if not known:
            raise LookupError(f"the key of space {envelope.space_id} is not loaded")
        if key is None:
            return msgspec.structs.replace(envelope, type=ERASED_TYPE, data=_ERASED_DATA)
        blob = _bytes_decoder.decode(envelope.data)
        try:
            plain = self._cipher(key).decrypt(blob[:NONCE_BYTES], blob[NONCE_BYTES:], _aad(envelope, sealing))
        except Exception as error:  # cryptography's InvalidTag: altered, relabelled, or under another key
            raise SealedPayloadError(f"event {envelope.id}: its payload does not open") from error
        if sealing == SEALED_ZSTD_AES_GCM:
            plain = _decompressed(plain, envelope.id)
        return msgspec.structs.replace(envelope, sealed=0, data=msgspec.Raw(plain))

    def _cipher(self, key: bytes) -> AESGCM:
        cipher = self._ciphers.get(key)
        if cipher is None:
            cipher = self._ciphers[key] = AESGCM(key)
        return cipher

    def _remember(self, space_id: str, key: bytes | None) -> None:
        self._keys[space_id] = (key, time.monotonic())
        if key is None:
            self._ciphers.clear()  # no destroyed key stays reachable in this process

    # ---- where keys live, supplied by an adapter --------------------------------------------

    @abstractmethod
    async def _fetch(self, space_id: str) -> bytes | None: ...

    @abstractmethod
    async def _fetch_or_create(self, space_id: str) -> bytes | None: ...

    @abstractmethod
    async def _destroy(self, space_id: str) -> None: ...


class InMemoryKeyring(Keyring):
    """Keys in a dict: the in-memory event store's (shared by the stores on one log)."""

    def __init__(self) -> None:
        super().__init__()
        self.store: dict[str, bytes | None] = {}

    async def _fetch(self, space_id: str) -> bytes | None:
        return self.store.get(space_id, MISSING)

    async def _fetch_or_create(self, space_id: str) -> bytes | None:
        if space_id not in self.store:
            self.store[space_id] = AESGCM.generate_key(bit_length=KEY_BYTES * 8)
        return self.store[space_id]

    async def _destroy(self, space_id: str) -> None:
        self.store[space_id] = None


class KvKeyring(Keyring):
    """Keys in a JetStream KV bucket (`<stream>_KEYS`), opened by `ensure_stream` or on first use.

    Two values per key kept (`HISTORY`) so that a destroy first writes the tombstone (from then
    on no writer can create a new key: `create` fails on a live value) and then erases the key's
    own message with JetStream's message delete, which overwrites it on disk (`no_erase` false).
    """

    def __init__(self, nc: Client | None = None, bucket: str = KEY_BUCKET, replicas: int = 1) -> None:
        super().__init__()
        self._nc = nc
        self.bucket = bucket
        self.replicas = replicas
        self._kv: KeyValue | None = None
        self._watch: Subscription | None = None
        self._opening = asyncio.Lock()

    def bind(self, nc: Client) -> None:
        self._nc = nc
        self._kv = None
        self._watch = None

    async def _bucket(self) -> KeyValue:
        if self._kv is not None:
            return self._kv
        async with self._opening:
            if self._kv is None:
                assert self._nc is not None, "keyring not bound to a NATS connection"
                js = self._nc.jetstream()
                try:
                    kv = await js.key_value(self.bucket)
                except BucketNotFoundError:
                    with contextlib.suppress(APIError):  # another process made it first
                        await js.add_stream(self._stream_config())
                    kv = await js.key_value(self.bucket)
                self._watch = await self._nc.subscribe(f"$KV.{self.bucket}.>", cb=self._changed)
                self._kv = kv
        return self._kv

    def _stream_config(self) -> StreamConfig:
        """A KV bucket's stream as nats-py makes it, but allowing message deletes: `destroy`
        erases the key's message (KV buckets deny deletes, and that cannot be undone later)."""
        return StreamConfig(
            name=f"KV_{self.bucket}",
            subjects=[f"$KV.{self.bucket}.>"],
            allow_direct=True,
            allow_rollup_hdrs=True,
            deny_delete=False,
            discard=DiscardPolicy.NEW,
            duplicate_window=120.0,
            max_consumers=-1,
            max_msgs=-1,
            max_msgs_per_subject=HISTORY,
            num_replicas=self.replicas,
            storage=StorageType.FILE,
        )

    async def _changed(self, msg: Msg) -> None:
        """Another process destroyed a key (or made one): this cache follows at once.

        This is a core NATS subscription: it also sees publishes the stream REFUSED (a create
        that lost the race to another writer's key). So a key seen here is never used, only
        the cached answer dropped (the next use reads the bucket); a destroy always lands."""
        space_id = msg.subject.removeprefix(f"$KV.{self.bucket}.")
        operation = (msg.headers or {}).get("KV-Operation")
        if msg.data == TOMBSTONE or operation in ("DEL", "PURGE"):
            self._remember(space_id, None)
        else:
            self.forget(space_id)

    async def open_bucket(self) -> None:
        """Open (or create) the bucket now rather than on the first sealed write or read."""
        await self._bucket()

    async def _fetch(self, space_id: str) -> bytes | None:
        kv = await self._bucket()
        for attempt in range(ATTEMPTS):
            try:
                entry = await kv.get(space_id)
            except KeyDeletedError:  # a deleted or purged key: destroyed
                return None
            except KeyNotFoundError:  # never made (or not on this replica yet)
                return MISSING
            except (TimeoutError, nats.errors.TimeoutError):
                if attempt == ATTEMPTS - 1:
                    raise ServiceUnavailableError("the key store did not answer; retry") from None
                continue
            return _key_of(entry.value)
        raise AssertionError("unreachable")

    async def _fetch_or_create(self, space_id: str) -> bytes | None:
        kv = await self._bucket()
        key = AESGCM.generate_key(bit_length=KEY_BYTES * 8)
        for attempt in range(ATTEMPTS):
            try:
                await kv.create(space_id, key)
            except KeyWrongLastSequenceError:
                # Another writer made it first, it was destroyed, or an earlier attempt of ours
                # landed unanswered: the stored value is the one.
                return await self._fetch(space_id)
            except (TimeoutError, nats.errors.TimeoutError):
                if attempt == ATTEMPTS - 1:
                    raise ServiceUnavailableError("the key store did not answer; retry") from None
                continue
            return key
        raise AssertionError("unreachable")

    async def _destroy(self, space_id: str) -> None:
        kv = await self._bucket()
        await kv.put(space_id, TOMBSTONE)
        assert self._nc is not None
        js = self._nc.jetstream()
        with contextlib.suppress(NoKeysError, KeyNotFoundError):
            for entry in await kv.history(space_id):
                if entry.value != TOMBSTONE and entry.revision is not None:
                    with contextlib.suppress(NotFoundError):
                        await js.delete_msg(f"KV_{self.bucket}", entry.revision)
        log.info("space %s: data key destroyed", space_id)


def _key_of(value: bytes | None) -> bytes | None:
    return value if value is not None and len(value) == KEY_BYTES else None
