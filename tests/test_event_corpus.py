"""Recorded events must keep decoding: the corpus replayed through today's event types."""

from __future__ import annotations

from typing import Any

import msgspec
import pytest

from spaceport.events import type_name
from spaceport.testing import corpus

pytestmark = pytest.mark.unit


def test_every_recorded_event_decodes_with_current_types() -> None:
    recorded = corpus.load()
    assert recorded, "the corpus is empty"
    registry = corpus.registry()
    for envelope in recorded:
        event = registry.decode_data(envelope.type, envelope.data)
        assert event is not None, f"{envelope.type} is no longer a known event type"
        assert type_name(event) == envelope.type


def test_every_event_type_has_a_recorded_example() -> None:
    """A new event type needs a recorded envelope, so later changes to it are replay-tested.

    Record one from a real stream: `python -m spaceport.testing.corpus dump <NATS_URL>`.
    """
    recorded = {envelope.type for envelope in corpus.load()}
    tags = [str(t.__struct_config__.tag) for t in corpus.all_event_types()]
    missing = sorted(tag for tag in tags if tag not in recorded)
    assert not missing, f"no recorded example of {missing}"


def test_no_recorded_field_is_dropped_by_the_current_types() -> None:
    """msgspec ignores unknown fields: a renamed or removed field would decode old events with
    the value silently lost. Every recorded key must land on a field and keep its value."""
    registry = corpus.registry()
    for envelope in corpus.load():
        event = registry.decode_data(envelope.type, envelope.data)
        lost = _lost(event, msgspec.json.decode(envelope.data), envelope.type)
        assert not lost, f"recorded but not decoded: {lost}"


def _lost(decoded: Any, recorded: Any, path: str) -> list[str]:  # noqa: PLR0911 - one case per JSON shape
    """Paths of `recorded` (JSON) that `decoded` (what the current types made of it) lacks or changed."""
    if isinstance(decoded, msgspec.Struct) and decoded.__struct_config__.array_like and isinstance(recorded, list):
        values = [getattr(decoded, name) for name in decoded.__struct_fields__]  # encoded as [field, ...]
        if len(values) != len(recorded):
            return [path]
        return [
            lost for i, (d, r) in enumerate(zip(values, recorded, strict=True)) for lost in _lost(d, r, f"{path}[{i}]")
        ]
    if isinstance(decoded, msgspec.Struct):
        config = decoded.__struct_config__
        fields = dict(zip(decoded.__struct_encode_fields__, decoded.__struct_fields__, strict=True))
        return [
            lost
            for key, value in recorded.items()
            if key != config.tag_field
            for lost in (
                _lost(getattr(decoded, fields[key]), value, f"{path}.{key}") if key in fields else [f"{path}.{key}"]
            )
        ]
    if isinstance(decoded, dict) and isinstance(recorded, dict):
        return [
            lost
            for key, value in recorded.items()
            for lost in (_lost(decoded[key], value, f"{path}.{key}") if key in decoded else [f"{path}.{key}"])
        ]
    if isinstance(decoded, list | tuple) and isinstance(recorded, list):
        if len(decoded) != len(recorded):
            return [path]
        return [
            lost for i, (d, r) in enumerate(zip(decoded, recorded, strict=True)) for lost in _lost(d, r, f"{path}[{i}]")
        ]
    if isinstance(decoded, str | int | float | bool | None):
        return [] if decoded == recorded else [f"{path}: {recorded!r} became {decoded!r}"]
    return []  # dates, times, enums: decoded from the recorded text by their type
