"""The recorded corpus folded through every service's `evolve`: old histories still rebuild state.

Each aggregate's recorded events, decoded with today's types, are folded by a Folder of its
service's domain `initial` and `evolve` (what each service's own Folder is made of). The record
service has no folded state (its command side decides against the records projection's
sheet row: version, counters, unique claims), so its events are replayed by
tests/test_corpus_projections.py instead.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable
from typing import Any

import pytest

import record_service.domain as record_domain
from space_service.domain import document, environment, guest, space
from spaceport.aggregate import Folder
from spaceport.contracts import record
from spaceport.contracts.space import (
    ApiKeyIssued,
    ApiKeyRevoked,
    EnvironmentUpdated,
    GuestDeleted,
    GuestUpdated,
    SpaceArchived,
    SpaceUnarchived,
)
from spaceport.contracts.workbook import SheetAdded, SheetConfigChanged, SheetDeleted, SheetLocked, SheetUnlocked
from spaceport.events import Envelope, Event, StoredEvent
from spaceport.eventstore import Loaded
from spaceport.testing import corpus
from workbook_service.domain import workbook

pytestmark = pytest.mark.unit

# aggregate kind (the envelope's `aggregate`) -> how its service folds it
FOLDERS: dict[str, Folder[Any]] = {
    "environment": Folder(environment.initial, environment.evolve),
    "space": Folder(space.initial, space.evolve),
    "document": Folder(document.initial, document.evolve),
    "guest": Folder(guest.initial, guest.evolve),
    "workbook": Folder(workbook.initial, workbook.evolve),
}

# After this event, its aggregate's state must show it (given the recorded events before it).
SHOWS: dict[type[Event], Callable[[Any, Any], bool]] = {
    ApiKeyIssued: lambda state, e: e.key_id in state.key_ids,
    ApiKeyRevoked: lambda state, e: e.key_id not in state.key_ids,
    EnvironmentUpdated: lambda state, e: e.name is None or state.name == e.name,
    SpaceArchived: lambda state, _: state.archived,
    SpaceUnarchived: lambda state, _: not state.archived,
    GuestUpdated: lambda state, e: (
        (e.email is None or state.email == e.email) and (e.spaces is None or list(state.grants) == e.spaces)
    ),
    GuestDeleted: lambda state, _: state.grants == (),
    SheetAdded: lambda state, e: state.sheet(e.sheet.sheet_id).config == e.sheet.config,
    SheetConfigChanged: lambda state, e: state.sheet(e.sheet_id).config == e.config,
    SheetLocked: lambda state, e: state.sheet(e.sheet_id).locked_by == e.locked_by,
    SheetUnlocked: lambda state, e: state.sheet(e.sheet_id).locked_by is None,
    SheetDeleted: lambda state, e: e.sheet_id not in [s.sheet_id for s in state.sheets],
}


def folded_histories() -> list[Any]:
    """(aggregate kind, id, its recorded events decoded with today's types) for each folded aggregate."""
    types = corpus.registry()
    return [
        pytest.param(kind, aggregate_id, corpus.stored(envelopes, types), id=f"{kind}:{aggregate_id}")
        for (kind, aggregate_id), envelopes in corpus.histories(corpus.load()).items()
        if kind in FOLDERS
    ]


def test_every_recorded_event_type_reaches_an_evolve() -> None:
    recorded = corpus.load()
    assert recorded, "the corpus is empty"
    never_folded = sorted({e.type for e in recorded if e.aggregate not in FOLDERS and e.aggregate != record.AGGREGATE})
    assert not never_folded, f"no service folds {never_folded}"
    types = corpus.registry()
    decoded = [(e, types.decode_data(e.type, e.data)) for e in recorded]
    misfiled = sorted(e.type for e, event in decoded if event is None or type(event).aggregate != e.aggregate)
    assert not misfiled, f"recorded under another aggregate than their type's: {misfiled}"


def test_records_have_no_folded_state() -> None:
    """If the record domain gains an evolve, its aggregate belongs in FOLDERS above."""
    modules = [
        importlib.import_module(f"{record_domain.__name__}.{m.name}")
        for m in pkgutil.iter_modules(record_domain.__path__)
    ]
    assert modules
    assert [m.__name__ for m in modules if hasattr(m, "evolve")] == []
    assert any(e.aggregate == record.AGGREGATE for e in corpus.load())


@pytest.mark.parametrize(("kind", "aggregate_id", "events"), folded_histories())
def test_a_recorded_history_folds_into_the_state_it_describes(
    kind: str, aggregate_id: str, events: list[StoredEvent]
) -> None:
    folder = FOLDERS[kind]
    state = folder.fold(Loaded(events=events, version=events[-1].seq))
    assert state != folder.initial(), f"{kind} {aggregate_id}: folding changed nothing"
    names = {e.envelope.type for e in events}
    noun = kind.capitalize()  # `space` -> SpaceCreated / SpaceDeleted
    assert state.exists == (f"{noun}Created" in names), names
    assert state.deleted == (f"{noun}Deleted" in names), names
    created = next((e.envelope for e in events if e.envelope.type == f"{noun}Created"), None)
    if created is not None:
        _assert_scoped_like(state, created)


@pytest.mark.parametrize(("kind", "aggregate_id", "events"), folded_histories())
def test_each_recorded_event_shows_in_the_state_after_it(
    kind: str, aggregate_id: str, events: list[StoredEvent]
) -> None:
    folder = FOLDERS[kind]
    state = folder.initial()
    for stored in events:
        assert stored.event is not None
        state = folder.evolve(state, stored.event)
        shows = SHOWS.get(type(stored.event))
        assert shows is None or shows(state, stored.event), f"{kind} {aggregate_id}: {stored.envelope.type} not folded"
    assert folder.fold(Loaded(events=events, version=events[-1].seq)) == state  # fold == evolve step by step


def test_the_step_checks_cover_the_corpus() -> None:
    """A step check that never runs proves nothing: each names a type the corpus records."""
    recorded = {e.type for e in corpus.load()}
    unused = sorted(t.__name__ for t in SHOWS if t.__name__ not in recorded)
    assert not unused, f"no recorded {unused}"


def _assert_scoped_like(state: Any, created: Envelope) -> None:
    """A created aggregate's state is in the environment (and space) its envelope says."""
    if hasattr(state, "environment_id"):
        assert state.environment_id == created.environment_id
    if hasattr(state, "space_id"):
        assert state.space_id == created.space_id
