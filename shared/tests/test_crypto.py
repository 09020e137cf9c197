"""Crypto-shredding in the event store: sealed at rest, opened on read, erased once destroyed."""

from __future__ import annotations

import asyncio
import os
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import ClassVar

import msgspec
import nats.js.errors
import pytest
import zstandard
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from spaceport import crypto
from spaceport.crypto import (
    COMPRESS_FROM,
    MAX_OPENED_BYTES,
    SEALED_AES_GCM,
    SEALED_ZSTD_AES_GCM,
    InMemoryKeyring,
    SealedPayloadError,
    SpaceErasedError,
)
from spaceport.events import ERASED_TYPE, Envelope, Event, EventRegistry, decode_envelope, encode
from spaceport.eventstore import EventStore
from spaceport.memstore import InMemoryEventStore
from spaceport.ports import AggregateRef, RawMessage
from spaceport.storecore import StoreCore


class NoteTaken(Event, frozen=True, kw_only=True):
    aggregate: ClassVar[str] = "note"
    text: str


class SpaceDeleted(Event, frozen=True, kw_only=True):  # the real contract's tag and shape
    aggregate: ClassVar[str] = "space"
    space_id: str


REGISTRY = EventRegistry((NoteTaken, SpaceDeleted))
SECRET = "the customer's cell value"
# A RecordsInserted-like payload: well over COMPRESS_FROM, and as repetitive as JSON records are
LARGE = ";".join(f"{SECRET} #{i}: valid, no messages, updated 2026-12-03T13:52:14Z" for i in range(200))


def note(space: str | None) -> AggregateRef:
    return AggregateRef(environment_id="us_env_c", space_id=space, aggregate="note", aggregate_id="n1")


async def raw(store: StoreCore, space: str) -> list[RawMessage]:
    return [m async for m in store.read_raw(f"{store.prefix}.{space}.>")]


async def delete(store: StoreCore, space: str) -> None:
    ref = AggregateRef(environment_id="us_env_c", space_id=space, aggregate="space", aggregate_id=space)
    await store.append(ref, [SpaceDeleted(space_id=space)], expected_version=None)


async def check_erasure(store: StoreCore, space: str, text: str = SECRET) -> None:
    """Sealed at rest (a small payload with sealing 1, a large one compressed: 2), opened on
    read, erased once the space is deleted; no write after that."""
    await store.append(note(space), [NoteTaken(text=text)], expected_version=None)
    stored = await raw(store, space)
    sealing = SEALED_AES_GCM if len(text) < COMPRESS_FROM else SEALED_ZSTD_AES_GCM
    assert SECRET.encode() not in stored[0].data and decode_envelope(stored[0].data).sealed == sealing
    [event] = [e async for e in store.read(f"{store.prefix}.{space}.>")]
    assert event.event == NoteTaken(text=text) and not event.erased

    await delete(store, space)
    events = await store.stored_batch(await raw(store, space))
    assert [e.erased for e in events] == [True, False]  # SpaceDeleted stays in clear
    assert events[0].event is None and bytes(events[0].envelope.data) == b"null"
    assert events[1].event == SpaceDeleted(space_id=space)
    with pytest.raises(SpaceErasedError):
        await store.append(note(space), [NoteTaken(text="again")], expected_version=None)


async def test_the_memory_store_seals_and_erases() -> None:
    await check_erasure(InMemoryEventStore(REGISTRY), "us_sp_mem")


async def test_the_memory_store_compresses_a_large_payload_and_erases_it() -> None:
    store = InMemoryEventStore(REGISTRY)
    await check_erasure(store, "us_sp_big", LARGE)
    assert len(store.log.messages[0].data) < len(LARGE) // 2  # compressed, base64 and all


async def test_environment_events_stay_plain() -> None:
    store = InMemoryEventStore(REGISTRY)
    await store.append(note(None), [NoteTaken(text=SECRET)], expected_version=None)
    body = store.log.messages[0].data
    assert SECRET.encode() in body and decode_envelope(body).sealed == 0


async def test_an_altered_payload_is_refused_not_erased() -> None:
    store = InMemoryEventStore(REGISTRY)
    await store.append(note("us_sp_t"), [NoteTaken(text=SECRET)], expected_version=None)
    message = store.log.messages[0]
    envelope = decode_envelope(message.data)
    blob = bytearray(msgspec.json.decode(envelope.data, type=bytes))
    blob[-1] ^= 1
    altered = msgspec.structs.replace(envelope, data=msgspec.Raw(msgspec.json.encode(bytes(blob))))
    with pytest.raises(SealedPayloadError):
        await store.open(msgspec.structs.replace(message, data=msgspec.json.encode(altered)))


async def test_jetstream_keys_are_shared_and_a_destroy_reaches_other_processes(store: EventStore) -> None:
    other = EventStore(store.nc, REGISTRY, stream=store.stream, prefix=store.prefix)  # another process' cache
    store.registry.register(NoteTaken, SpaceDeleted)
    await store.append(note("us_sp_js"), [NoteTaken(text=SECRET)], expected_version=None)
    [seen] = await other.stored_batch(await raw(other, "us_sp_js"))
    assert seen.event == NoteTaken(text=SECRET)  # the other process opens it with the shared key
    await delete(store, "us_sp_js")
    for _ in range(100):  # the destroy reaches the other cache over NATS (no TTL wait)
        if other.keys.cached("us_sp_js") == (True, None):
            break
        await asyncio.sleep(0.05)
    assert other.keys.cached("us_sp_js") == (True, None)
    [erased, _] = await other.stored_batch(await raw(other, "us_sp_js"))
    assert erased.erased
    await check_erasure(store, "us_sp_js2")
    await check_erasure(store, "us_sp_js3", LARGE)


async def test_a_refused_create_seen_on_the_bucket_subject_does_not_replace_a_key(store: EventStore) -> None:
    """A writer that lost the race to create a space's key publishes its own key to the bucket's
    subject; JetStream refuses it, but core NATS still delivers it to every keyring's watch. No
    cache may take that key (it would seal or open nothing right)."""
    store.registry.register(NoteTaken, SpaceDeleted)
    reader = EventStore(store.nc, REGISTRY, stream=store.stream, prefix=store.prefix)
    space = "us_sp_race"
    await store.append(note(space), [NoteTaken(text=SECRET)], expected_version=None)
    [seen] = await reader.stored_batch(await raw(reader, space))  # the reader caches the real key
    assert seen.event == NoteTaken(text=SECRET)
    late = EventStore(store.nc, REGISTRY, stream=store.stream, prefix=store.prefix)  # a restarted process
    kv = await late.key_ring._bucket()
    with pytest.raises(nats.js.errors.KeyWrongLastSequenceError):
        await kv.create(space, os.urandom(32))  # what a losing create attempt sends
    await asyncio.sleep(0.2)  # the refused value reaches the watches
    await store.append(note(space), [NoteTaken(text="second")], expected_version=None)
    events = await reader.stored_batch(await raw(reader, space))
    assert [e.event for e in events] == [NoteTaken(text=SECRET), NoteTaken(text="second")]
    await late.append(note(space), [NoteTaken(text="third")], expected_version=None)  # no create attempt
    events = await store.stored_batch(await raw(store, space))
    assert [e.event.text for e in events if isinstance(e.event, NoteTaken)] == [SECRET, "second", "third"]


# ---- the two sealings, on the keyring itself ---------------------------------------------------

SPACE = "us_sp_seal"


def envelope(text: str, event_id: str = "us_ev_1") -> Envelope:
    return Envelope(
        id=event_id,
        type="NoteTaken",
        environment_id="us_env_c",
        space_id=SPACE,
        aggregate="note",
        aggregate_id="n1",
        occurred_at=datetime(2026, 12, 3, tzinfo=UTC),
        data=msgspec.Raw(encode({"text": text})),
    )


async def keyring() -> tuple[InMemoryKeyring, bytes]:
    keys = InMemoryKeyring()
    return keys, await keys.for_write(SPACE)


def sealed_by_hand(plain: Envelope, key: bytes, sealing: int, clear: bytes) -> Envelope:
    """`clear` sealed as the format says (not through `Keyring.seal`): the additional data is
    `<id>\\0<space>\\0<type>`, with `\\0zstd` after it for sealing 2."""
    aad = f"{plain.id}\x00{plain.space_id}\x00{plain.type}" + ("\x00zstd" if sealing == SEALED_ZSTD_AES_GCM else "")
    nonce = os.urandom(12)
    blob = nonce + AESGCM(key).encrypt(nonce, clear, aad.encode())
    return msgspec.structs.replace(plain, sealed=sealing, data=msgspec.Raw(msgspec.json.encode(blob)))


def blob_of(sealed: Envelope) -> bytes:
    return msgspec.json.decode(sealed.data, type=bytes)


def with_blob(sealed: Envelope, blob: bytes) -> Envelope:
    return msgspec.structs.replace(sealed, data=msgspec.Raw(msgspec.json.encode(blob)))


@pytest.mark.parametrize(("text", "sealing"), [(SECRET, SEALED_AES_GCM), (LARGE, SEALED_ZSTD_AES_GCM)])
async def test_both_sealings_round_trip_through_the_stored_bytes(text: str, sealing: int) -> None:
    keys, key = await keyring()
    plain = envelope(text)
    sealed = keys.seal(plain, key)
    assert sealed.sealed == sealing and SECRET.encode() not in bytes(sealed.data)
    stored = decode_envelope(encode(sealed))  # what a reader decodes from the stream
    assert keys.open(stored) == plain


def test_the_threshold_is_where_compression_pays() -> None:
    assert crypto._compressed(b"x" * (COMPRESS_FROM - 1)) is None  # small: sealed as is
    assert crypto._compressed(b"x" * COMPRESS_FROM) is not None
    assert crypto._compressed(os.urandom(4 * COMPRESS_FROM)) is None  # does not shrink: as is


@pytest.mark.parametrize("text", [SECRET, LARGE])
async def test_an_event_sealed_1_before_sealing_2_existed_still_opens(text: str) -> None:
    keys, key = await keyring()
    plain = envelope(text)
    old = sealed_by_hand(plain, key, SEALED_AES_GCM, bytes(plain.data))  # even a large one
    assert keys.open(decode_envelope(encode(old))) == plain


async def test_a_payload_sealed_2_by_the_format_opens() -> None:
    keys, key = await keyring()
    plain = envelope(LARGE)
    frame = zstandard.ZstdCompressor(level=3).compress(bytes(plain.data))  # any level, any writer
    assert keys.open(sealed_by_hand(plain, key, SEALED_ZSTD_AES_GCM, frame)) == plain


@pytest.mark.parametrize("where", [0, 12, 40, -1])  # nonce, first compressed byte, middle, tag
async def test_tampering_with_a_compressed_payload_is_refused(where: int) -> None:
    keys, key = await keyring()
    sealed = keys.seal(envelope(LARGE), key)
    assert sealed.sealed == SEALED_ZSTD_AES_GCM
    blob = bytearray(blob_of(sealed))
    blob[where] ^= 1
    with pytest.raises(SealedPayloadError):
        keys.open(with_blob(sealed, bytes(blob)))
    with pytest.raises(SealedPayloadError):
        keys.open(with_blob(sealed, blob_of(sealed)[:-1]))  # cut short


@pytest.mark.parametrize(("text", "relabel"), [(LARGE, SEALED_AES_GCM), (SECRET, SEALED_ZSTD_AES_GCM), (SECRET, 3)])
async def test_a_payload_relabelled_to_another_sealing_is_refused(text: str, relabel: int) -> None:
    keys, key = await keyring()
    sealed = keys.seal(envelope(text), key)
    assert sealed.sealed != relabel
    with pytest.raises(SealedPayloadError):
        keys.open(msgspec.structs.replace(sealed, sealed=relabel))


async def test_a_payload_moved_onto_another_event_is_refused() -> None:
    keys, key = await keyring()
    sealed = keys.seal(envelope(LARGE), key)
    with pytest.raises(SealedPayloadError):
        keys.open(msgspec.structs.replace(sealed, id="us_ev_2"))


def bomb(size: int) -> bytes:
    """A zstd frame of `size` zero bytes that records its size, made without holding them."""
    compressor = zstandard.ZstdCompressor(level=1).compressobj(size=size)
    chunk = bytes(1 << 20)
    parts = [compressor.compress(chunk) for _ in range(size // len(chunk))]
    parts.append(compressor.compress(bytes(size % len(chunk))))
    return b"".join([*parts, compressor.flush()])


async def test_a_decompression_bomb_beyond_the_cap_is_refused_cleanly() -> None:
    keys, key = await keyring()
    plain = envelope(SECRET)
    frame = bomb(MAX_OPENED_BYTES + 1)
    assert len(frame) < 64 * 1024 and zstandard.frame_content_size(frame) == MAX_OPENED_BYTES + 1
    with pytest.raises(SealedPayloadError, match="no size, or one over"):
        keys.open(sealed_by_hand(plain, key, SEALED_ZSTD_AES_GCM, frame))


async def test_a_frame_that_records_no_size_or_is_no_frame_is_refused() -> None:
    keys, key = await keyring()
    plain = envelope(LARGE)
    unsized = zstandard.ZstdCompressor(write_content_size=False).compress(bytes(plain.data))
    assert zstandard.frame_content_size(unsized) == -1
    trailing = zstandard.ZstdCompressor().compress(bytes(plain.data)) + b"more"
    for clear in (unsized, bytes(plain.data), trailing):
        with pytest.raises(SealedPayloadError):
            keys.open(sealed_by_hand(plain, key, SEALED_ZSTD_AES_GCM, clear))


async def test_a_payload_over_the_cap_is_not_compressed(monkeypatch: pytest.MonkeyPatch) -> None:
    """A writer never makes a sealing 2 that readers refuse (it goes out as sealing 1, which the
    stream's max_payload then bounds as before)."""
    keys, key = await keyring()
    plain = envelope(LARGE)
    monkeypatch.setattr(crypto, "MAX_OPENED_BYTES", len(plain.data) - 1)
    sealed = keys.seal(plain, key)
    assert sealed.sealed == SEALED_AES_GCM and keys.open(sealed) == plain


async def test_a_destroyed_key_erases_both_sealings() -> None:
    keys, key = await keyring()
    sealed = [keys.seal(envelope(SECRET, "us_ev_1"), key), keys.seal(envelope(LARGE, "us_ev_2"), key)]
    assert [s.sealed for s in sealed] == [SEALED_AES_GCM, SEALED_ZSTD_AES_GCM]
    await keys.destroy(SPACE)
    for opened in map(keys.open, sealed):
        assert opened.type == ERASED_TYPE and bytes(opened.data) == b"null"


async def test_threads_seal_and_open_at_once() -> None:
    """The zstd contexts are per thread: concurrent seals and opens of event-sized payloads from
    worker threads all round-trip (one shared context crashes the process, seen with zstandard 0.25)."""
    keys, key = await keyring()
    plains = [envelope(f"{LARGE * 200} {os.urandom(500).hex()}", f"us_ev_{i}") for i in range(48)]

    def round_trip(plain: Envelope) -> Envelope:
        return keys.open(keys.seal(plain, key))

    with ThreadPoolExecutor(max_workers=4) as pool:
        assert list(pool.map(round_trip, plains)) == plains


def test_compression_can_be_switched_off_for_a_rolling_upgrade(monkeypatch: pytest.MonkeyPatch) -> None:
    """SPACEPORT_SEAL_COMPRESS=off (COMPRESS_FROM -1): writers keep sealing 1, which older readers open."""
    monkeypatch.setattr(crypto, "COMPRESS_FROM", -1)
    assert crypto._compressed(b"x" * 100_000) is None
