"""Crypto-shredding in the event store: sealed at rest, opened on read, erased once destroyed."""

from __future__ import annotations

import asyncio
import os
from typing import ClassVar

import msgspec
import nats.js.errors
import pytest

from spaceport.crypto import SealedPayloadError, SpaceErasedError
from spaceport.events import Event, EventRegistry, decode_envelope
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


def note(space: str | None) -> AggregateRef:
    return AggregateRef(environment_id="us_env_c", space_id=space, aggregate="note", aggregate_id="n1")


async def raw(store: StoreCore, space: str) -> list[RawMessage]:
    return [m async for m in store.read_raw(f"{store.prefix}.{space}.>")]


async def delete(store: StoreCore, space: str) -> None:
    ref = AggregateRef(environment_id="us_env_c", space_id=space, aggregate="space", aggregate_id=space)
    await store.append(ref, [SpaceDeleted(space_id=space)], expected_version=None)


async def check_erasure(store: StoreCore, space: str) -> None:
    await store.append(note(space), [NoteTaken(text=SECRET)], expected_version=None)
    stored = await raw(store, space)
    assert SECRET.encode() not in stored[0].data and decode_envelope(stored[0].data).sealed == 1
    [event] = [e async for e in store.read(f"{store.prefix}.{space}.>")]
    assert event.event == NoteTaken(text=SECRET) and not event.erased

    await delete(store, space)
    events = await store.stored_batch(await raw(store, space))
    assert [e.erased for e in events] == [True, False]  # SpaceDeleted stays in clear
    assert events[0].event is None and bytes(events[0].envelope.data) == b"null"
    assert events[1].event == SpaceDeleted(space_id=space)
    with pytest.raises(SpaceErasedError):
        await store.append(note(space), [NoteTaken(text="again")], expected_version=None)


async def test_the_memory_store_seals_and_erases() -> None:
    await check_erasure(InMemoryEventStore(REGISTRY), "us_sp_mem")


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
