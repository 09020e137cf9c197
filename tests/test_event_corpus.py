"""Recorded events must keep decoding: the corpus replayed through today's event types."""

from __future__ import annotations

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
