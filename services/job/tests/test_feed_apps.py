"""App events -> Flatfile events: `app:created|updated|deleted` with the app's namespace, and the
events of a space that belongs to an app (and of its workbooks) carrying the app's namespace too."""

from __future__ import annotations

from datetime import UTC, datetime

import msgspec
import pytest

from job_service.feed import WORKBOOK_EVENTS
from job_service.feed.lookups import AppInfo, Lookups, decode, encode
from job_service.feed.projection import wanted
from job_service.feed.translate import translate
from spaceport.contracts import space as sp
from spaceport.contracts.feed import FlatfileEvent
from spaceport.contracts.workbook import WorkbookCreated
from spaceport.events import Envelope, Event, EventRegistry, StoredEvent, type_name
from spaceport.events import encode as encode_event

pytestmark = pytest.mark.unit
AT = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
ENV, APP, SPACE = "us_env_a", "us_app_a", "us_sp_a"
REGISTRY = EventRegistry((*sp.EVENTS, *WORKBOOK_EVENTS))


def stored(event: Event, seq: int, *, space_id: str | None = None) -> StoredEvent:
    envelope = Envelope(
        id=f"evt{seq}",
        type=type_name(event),
        environment_id=ENV,
        space_id=space_id,
        aggregate=type(event).aggregate,
        aggregate_id="x",
        actor="us_key_1",
        occurred_at=AT,
        data=msgspec.Raw(encode_event(event)),
    )
    decoded = REGISTRY.decode_data(envelope.type, envelope.data)
    return StoredEvent(seq=seq, subject="evt.x", stored_at=AT, envelope=envelope, event=decoded)


def one(stored_event: StoredEvent, lookups: Lookups) -> FlatfileEvent:
    [(_, event)] = translate(stored_event, lookups)
    return event


def test_app_events_carry_the_apps_namespace_environment_wide() -> None:
    lookups = Lookups()
    created = one(stored(sp.AppCreated(app_id=APP, environment_id=ENV, name="Loads", namespace="nightly"), 1), lookups)
    assert (created.topic, created.domain, created.namespaces) == ("app:created", "environment", ["app:nightly"])
    assert created.context.namespaces == ["app:nightly"] and created.context.space_id is None
    assert created.payload == {
        "appId": APP,
        "environmentId": ENV,
        "name": "Loads",
        "namespace": "nightly",
        "type": "CUSTOM",
    }
    assert lookups.app(APP) == AppInfo(environment_id=ENV, namespace="nightly")
    updated = one(stored(sp.AppUpdated(app_id=APP, namespace="daily", name="L2"), 2), lookups)
    assert (updated.topic, updated.namespaces) == ("app:updated", ["app:daily"])
    assert updated.payload["changes"] == ["name", "namespace"]
    deleted = one(stored(sp.AppDeleted(app_id=APP), 3), lookups)
    assert (deleted.topic, deleted.namespaces, deleted.payload) == (
        "app:deleted",
        ["app:daily"],
        {"appId": APP, "environmentId": ENV},
    )
    assert translate(stored(sp.ConstraintCreated(app_id=APP, constraint_id="us_cn_a", validator="V"), 4), lookups) == []


def test_a_space_of_an_app_and_its_workbooks_carry_the_apps_namespace() -> None:
    lookups = Lookups()
    translate(stored(sp.AppCreated(app_id=APP, environment_id=ENV, name="Loads", namespace="nightly"), 1), lookups)
    space_created = sp.SpaceCreated(space_id=SPACE, environment_id=ENV, namespace="red", app_id=APP)
    assert ("app", APP) in wanted([stored(space_created, 2, space_id=SPACE)])
    event = one(stored(space_created, 2, space_id=SPACE), lookups)
    assert event.namespaces == ["space:red", "app:nightly"]
    workbook = WorkbookCreated(workbook_id="us_wb_a", space_id=SPACE, environment_id=ENV, name="W", namespace="blue")
    [(_, wb_event)] = translate(stored(workbook, 3, space_id=SPACE), lookups)
    assert wb_event.namespaces == ["space:red", "app:nightly", "workbook:blue"]
    plain = one(stored(sp.SpaceCreated(space_id="us_sp_b", environment_id=ENV, namespace="red"), 4), lookups)
    assert plain.namespaces == ["space:red"]


def test_app_facts_round_trip_as_stored() -> None:
    info = AppInfo(environment_id=ENV, namespace="nightly")
    assert decode("app", encode(info)) == info
