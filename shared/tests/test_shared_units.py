"""Pure pieces of the shared library: ids, subjects, settings, envelopes, folding."""

from __future__ import annotations

from datetime import UTC, datetime

import msgspec
import pytest
from counter import FOLDER, CounterIncremented, CounterReset
from hypothesis import given
from hypothesis import strategies as st

from spaceport import ids, subjects
from spaceport.events import EventRegistry, StoredEvent, snake
from spaceport.eventstore import AggregateRef, AppendContext, EventStore, Loaded, parse_nats_time
from spaceport.settings import Settings

pytestmark = pytest.mark.unit


def test_ids_have_flatfile_prefixes_and_derived_ids_are_stable() -> None:
    assert ids.new_id("space").startswith("us_sp_")
    assert ids.has_kind(ids.new_id("commit"), "commit")
    assert ids.derived_id("space", "k") == ids.derived_id("space", "k")
    assert ids.derived_id("space", "k") != ids.derived_id("space", "k2")


def test_bulk_ids_of_one_call_sort_together_in_call_order() -> None:
    """One prefix per call, then the id's number: a btree takes a call's ids at one place."""
    first, second = ids.new_ids("record", 300), ids.new_ids("record", 300)
    for batch in (first, second):
        assert all(ids.has_kind(i, "record") for i in batch)
        assert batch == sorted(batch) and len(set(batch)) == len(batch)
        assert len({i[: -ids.BULK_NUMBER] for i in batch}) == 1
    assert first[0][: -ids.BULK_NUMBER] != second[0][: -ids.BULK_NUMBER]
    derived = ids.derived_ids("record", "sheet:key", 300)
    assert derived == sorted(derived) and derived[:7] == ids.derived_ids("record", "sheet:key", 7)
    assert ids.derived_ids("record", "sheet:other", 1)[0] not in derived


def test_subjects_are_derived_from_names() -> None:
    assert snake("SpaceCreated") == "space_created"
    assert subjects.event_subject("evt", "us_sp_1", "space", "us_sp_1", "SpaceCreated") == (
        "evt.us_sp_1.space.us_sp_1.space_created"
    )
    assert subjects.aggregate_filter("evt", "s", "space", "a") == "evt.s.space.a.*"
    assert subjects.command_subject("cmd", "space", "CreateSpace") == "cmd.space.create_space"


@pytest.mark.parametrize("bad", ["a.b", "a*", ">", "a b", ""])
def test_subject_tokens_refuse_wildcards_and_dots(bad: str) -> None:
    with pytest.raises(ValueError, match="subject"):
        subjects.event_subject("evt", bad, "space", "x", "SpaceCreated")


def test_settings_read_environment_and_keep_defaults() -> None:
    settings = Settings.from_env("space", {"NATS_URL": "nats://h:1", "GATEWAY_PORT": "9000"})
    assert (settings.nats_url, settings.gateway_port, settings.service_name) == ("nats://h:1", 9000, "space")
    assert settings.event_stream == "SPACEPORT_EVENTS"
    with pytest.raises(msgspec.ValidationError):
        Settings.from_env("space", {"GATEWAY_PORT": "not a port"})


def test_nats_timestamps_keep_microseconds() -> None:
    parsed = parse_nats_time("2026-11-21T19:47:35.947197456Z")
    assert parsed == datetime(2026, 11, 21, 19, 47, 35, 947197, tzinfo=UTC)
    assert parse_nats_time("2026-11-21T19:47:35Z").second == 35


def test_idempotency_keys_make_event_ids_deterministic() -> None:
    keyed = AppendContext(idempotency_key="req-1")
    assert keyed.event_id(0) == AppendContext(idempotency_key="req-1").event_id(0)
    assert keyed.event_id(0) != keyed.event_id(1)
    assert AppendContext().event_id(0) != AppendContext().event_id(0)


def _stored(events: list[CounterIncremented | CounterReset]) -> Loaded:
    store = EventStore.__new__(EventStore)  # only envelopes() is used: no connection needed
    ref = AggregateRef(environment_id="e", space_id="s", aggregate="counter", aggregate_id="c")
    envelopes = store.envelopes(ref, events, AppendContext())
    registry = EventRegistry([CounterIncremented, CounterReset])
    stored = [
        StoredEvent(
            seq=i + 1,
            subject="x",
            stored_at=env.occurred_at,
            envelope=env,
            event=registry.decode_data(env.type, env.data),
        )
        for i, env in enumerate(envelopes)
    ]
    return Loaded(events=stored, version=len(stored))


@given(
    st.lists(
        st.one_of(st.integers(-5, 5).map(lambda by: CounterIncremented(by=by)), st.just(CounterReset())), max_size=30
    )
)
def test_folding_stored_events_equals_folding_the_events(events: list[CounterIncremented | CounterReset]) -> None:
    """Encoding into envelopes and decoding back never changes what an aggregate folds to."""
    expected = FOLDER.initial()
    for event in events:
        expected = FOLDER.evolve(expected, event)
    assert FOLDER.fold(_stored(events)) == expected
