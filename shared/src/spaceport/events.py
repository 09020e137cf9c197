"""Domain events and the envelope they travel and are stored in.

An event is a frozen, tagged msgspec Struct named in the past tense. It is stored as the `data`
of an `Envelope`; the envelope carries identity, position and causality. Changing an event means
adding a defaulted field or a new type: every recorded event must keep decoding.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any, ClassVar

import msgspec

ERASED_TYPE = "Erased"  # the type an event of a deleted space is read back as (no data, no event)


class Event(msgspec.Struct, frozen=True, kw_only=True, tag_field="type", tag=True):
    """Base of every domain event. Subclasses set `aggregate` (the kind of aggregate they belong to)."""

    aggregate: ClassVar[str] = ""
    schema_version: ClassVar[int] = 1


def snake(name: str) -> str:
    """`SpaceCreated` -> `space_created`; subjects and topics derive from type names this way."""
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


class Envelope(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    """What is stored in the stream for one event: identity, place, causality and the event."""

    id: str
    type: str
    schema_version: int = 1
    environment_id: str
    space_id: str | None = None
    aggregate: str
    aggregate_id: str
    actor: str = ""
    occurred_at: datetime
    causation_id: str | None = None
    correlation_id: str | None = None
    sealed: int = 0  # 1: `data` sealed with the space's key, 2: zstd then sealed (spaceport.crypto); 0: plain JSON
    data: msgspec.Raw


class StoredEvent(msgspec.Struct, frozen=True, kw_only=True):
    """An event read back from the stream, with its global position."""

    seq: int
    subject: str
    stored_at: datetime
    envelope: Envelope
    event: Event | None  # None when this process does not know the type (it is skipped, not lost)

    @property
    def event_id(self) -> str:
        return self.envelope.id

    @property
    def erased(self) -> bool:
        """The event's space was deleted: its payload is gone for good (see spaceport.crypto)."""
        return self.envelope.type == ERASED_TYPE


class EventRegistry:
    """Maps type tags to event classes and decodes envelopes; one decoder per class, reused."""

    def __init__(self, types: Iterable[type[Event]] = ()) -> None:
        self._types: dict[str, type[Event]] = {}
        self._decoders: dict[str, msgspec.json.Decoder[Any]] = {}
        self.register(*types)

    def register(self, *types: type[Event]) -> None:
        for cls in types:
            tag = cls.__struct_config__.tag
            assert isinstance(tag, str)
            self._types[tag] = cls
            self._decoders[tag] = msgspec.json.Decoder(cls)

    def __contains__(self, type_name: str) -> bool:
        return type_name in self._types

    @property
    def type_names(self) -> list[str]:
        return sorted(self._types)

    def decode_data(self, type_name: str, data: bytes | msgspec.Raw) -> Event | None:
        decoder = self._decoders.get(type_name)
        return None if decoder is None else decoder.decode(data)


_envelope_decoder = msgspec.json.Decoder(Envelope)
_encoder = msgspec.json.Encoder()


def encode(value: Any) -> bytes:
    return _encoder.encode(value)


def decode_envelope(body: bytes) -> Envelope:
    return _envelope_decoder.decode(body)


def type_name(event: Event) -> str:
    tag = event.__struct_config__.tag
    assert isinstance(tag, str)
    return tag


def utcnow() -> datetime:
    return datetime.now(UTC)
