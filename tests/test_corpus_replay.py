"""The recorded corpus folded through every service's `evolve`: old histories still rebuild state.

Each aggregate's recorded events, decoded with today's types, are folded by a Folder of its
service's domain `initial` and `evolve` (what each service's own Folder is made of). The record
service has no folded state (its command side decides against the records projection's
sheet row: version, counters, unique claims), and neither has the Flatfile event feed (its
commands decide against the feed read model: the `event` row an acknowledgement names), so
their events are replayed by tests/test_corpus_projections.py instead.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable
from typing import Any

import pytest

import job_service.feed as feed_package
import record_service.domain as record_domain
from file_service.domain import file
from job_service.domain import job
from record_service.domain import snapshot
from space_service.domain import app, document, environment, guest, retention, secret, space
from spaceport.aggregate import Folder
from spaceport.contracts import feed, record
from spaceport.contracts.file import FileCreated, FileDeleted
from spaceport.contracts.job import (
    JobAcknowledged,
    JobCanceled,
    JobCompleted,
    JobCreated,
    JobDeleted,
    JobFailed,
    JobOutcomeAcknowledged,
    JobPlanned,
    JobReady,
    JobRetried,
    JobUpdated,
)
from spaceport.contracts.space import (
    ApiKeyIssued,
    ApiKeyRevoked,
    ConstraintCreated,
    ConstraintDeleted,
    ConstraintUpdated,
    DataRetentionPolicyCreated,
    DataRetentionPolicyDeleted,
    DataRetentionPolicyUpdated,
    EnvironmentUpdated,
    GuestDeleted,
    GuestUpdated,
    SecretCreated,
    SecretDeleted,
    SecretUpdated,
    SpaceArchived,
    SpaceUnarchived,
)
from spaceport.contracts.view import ViewUpdated
from spaceport.contracts.workbook import SheetAdded, SheetConfigChanged, SheetDeleted, SheetLocked, SheetUnlocked
from spaceport.events import Envelope, Event, StoredEvent
from spaceport.eventstore import Loaded
from spaceport.testing import corpus
from workbook_service.domain import view, workbook

pytestmark = pytest.mark.unit

# aggregate kind (the envelope's `aggregate`) -> how its service folds it
FOLDERS: dict[str, Folder[Any]] = {
    "environment": Folder(environment.initial, environment.evolve),
    "space": Folder(space.initial, space.evolve),
    "document": Folder(document.initial, document.evolve),
    "guest": Folder(guest.initial, guest.evolve),
    "workbook": Folder(workbook.initial, workbook.evolve),
    "job": Folder(job.initial, job.evolve),
    "secret": Folder(secret.initial, secret.evolve),
    "file": Folder(file.initial, file.evolve),
    "app": Folder(app.initial, app.evolve),
    "view": Folder(view.initial, view.evolve),
    "snapshot": Folder(snapshot.initial, snapshot.evolve),  # the record service's snapshot aggregate
    "retention": Folder(retention.initial, retention.evolve),  # an environment's data retention policies
}
# Aggregates without folded state (see the module docstring): their commands decide against a read model.
UNFOLDED = (record.AGGREGATE, feed.AGGREGATE)

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
    JobCreated: lambda state, e: state.exists and state.status == e.status,
    JobUpdated: lambda state, e: e.status is None or state.status == e.status,
    JobReady: lambda state, _: state.status == "ready",
    JobAcknowledged: lambda state, _: state.status == "executing",
    JobCompleted: lambda state, _: state.status == "complete",
    JobFailed: lambda state, _: state.status == "failed",
    JobCanceled: lambda state, _: state.status == "canceled",
    JobRetried: lambda state, _: state.status == "ready" and not state.outcome_acknowledged,
    JobOutcomeAcknowledged: lambda state, _: state.outcome_acknowledged,
    JobDeleted: lambda state, _: state.deleted,
    JobPlanned: lambda state, e: state.plan == e.plan,
    DataRetentionPolicyCreated: lambda state, e: state.policies[e.policy_id].period == e.period,
    DataRetentionPolicyUpdated: lambda state, e: state.policies[e.policy_id].period == e.period,
    DataRetentionPolicyDeleted: lambda state, e: e.policy_id not in state.policies,
    SecretCreated: lambda state, e: state.live and state.name == e.name,
    SecretUpdated: lambda state, _: state.live,
    SecretDeleted: lambda state, _: not state.live,
    FileCreated: lambda state, e: state.exists and state.object_key == e.object_key,
    FileDeleted: lambda state, _: state.deleted,
    ConstraintCreated: lambda state, e: state.constraints[e.constraint_id].validator == e.validator,
    ConstraintUpdated: lambda state, e: state.constraints[e.constraint_id].version > 1,
    ConstraintDeleted: lambda state, e: e.constraint_id not in state.constraints,
    ViewUpdated: lambda state, e: (
        (e.name is None or state.name == e.name) and (e.config is None or state.config == e.config)
    ),
}

# aggregate kind -> (exists, deleted) of its state, where its state does not say `exists` and `deleted`
LIFE: dict[str, Callable[[Any], tuple[bool, bool]]] = {
    "retention": lambda state: (False, False),  # one per environment: neither created nor deleted itself
    "secret": lambda state: (state.scope is not None, state.scope is not None and not state.live),
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
    never_folded = sorted({e.type for e in recorded if e.aggregate not in FOLDERS and e.aggregate not in UNFOLDED})
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
    folded = {f.evolve for f in FOLDERS.values()}
    assert [m.__name__ for m in modules if hasattr(m, "evolve") and m.evolve not in folded] == []
    assert any(e.aggregate == record.AGGREGATE for e in corpus.load())


def test_the_feed_has_no_folded_state() -> None:
    """If the feed gains an evolve (or a Folder), its aggregate belongs in FOLDERS above."""
    modules = [
        importlib.import_module(f"{feed_package.__name__}.{m.name}")
        for m in pkgutil.iter_modules(feed_package.__path__)
    ]
    assert modules
    folding = [
        m.__name__ for m in modules if hasattr(m, "evolve") or any(isinstance(v, Folder) for v in vars(m).values())
    ]
    assert folding == []
    assert any(e.aggregate == feed.AGGREGATE for e in corpus.load())


@pytest.mark.parametrize(("kind", "aggregate_id", "events"), folded_histories())
def test_a_recorded_history_folds_into_the_state_it_describes(
    kind: str, aggregate_id: str, events: list[StoredEvent]
) -> None:
    folder = FOLDERS[kind]
    state = folder.fold(Loaded(events=events, version=events[-1].seq))
    assert state != folder.initial(), f"{kind} {aggregate_id}: folding changed nothing"
    names = {e.envelope.type for e in events}
    noun = kind.capitalize()  # `space` -> SpaceCreated / SpaceDeleted
    exists, deleted = LIFE.get(kind, _exists_and_deleted)(state)
    assert exists == (f"{noun}Created" in names), names
    assert deleted == (f"{noun}Deleted" in names), names
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


def _exists_and_deleted(state: Any) -> tuple[bool, bool]:
    return state.exists, state.deleted


def _assert_scoped_like(state: Any, created: Envelope) -> None:
    """A created aggregate's state is in the environment (and space) its envelope says."""
    state = getattr(state, "scope", state)  # a secret's state holds them in its scope
    if hasattr(state, "environment_id"):
        assert state.environment_id == created.environment_id
    if hasattr(state, "space_id"):
        assert state.space_id == created.space_id
