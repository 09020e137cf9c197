"""Domain events -> Flatfile events, on synthetic stored events: ids, positions, topics, contexts,
payloads, dataUrl, and no `commit:created` for writes made with X-Disable-Hooks."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import msgspec
import pytest

from job_service.feed import RECORD_EVENTS, WORKBOOK_EVENTS
from job_service.feed.lookups import Lookups
from job_service.feed.translate import POSITION_SLOTS, event_id, translate
from spaceport.contracts import feed, job, record
from spaceport.contracts import space as sp
from spaceport.contracts.blueprint import SheetConfig
from spaceport.contracts.feed import FlatfileEvent
from spaceport.contracts.space.secret import SECRET_EVENTS, SecretCreated
from spaceport.contracts.workbook import SheetSpec, WorkbookCreated
from spaceport.events import Envelope, Event, EventRegistry, StoredEvent, encode, type_name

pytestmark = pytest.mark.unit
AT = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
ENV, SPACE, WB, SHEET = "us_env_a", "us_sp_a", "us_wb_a", "us_sh_a"
REGISTRY = EventRegistry((*sp.EVENTS, *job.EVENTS, *WORKBOOK_EVENTS, *RECORD_EVENTS, *SECRET_EVENTS, *feed.EVENTS))


def stored(event: Event, seq: int, *, space_id: str | None = SPACE, actor: str = "us_key_1") -> StoredEvent:
    """As the store hands it to a projection: encoded, then decoded with the feed's registry."""
    envelope = Envelope(
        id=f"evt{seq}",
        type=type_name(event),
        environment_id=ENV,
        space_id=space_id,
        aggregate=type(event).aggregate,
        aggregate_id="x",
        actor=actor,
        occurred_at=AT,
        data=msgspec.Raw(encode(event)),
    )
    decoded = REGISTRY.decode_data(envelope.type, envelope.data)
    return StoredEvent(seq=seq, subject="evt.x", stored_at=AT, envelope=envelope, event=decoded)


def sheet_config(name: str, slug: str) -> SheetConfig:
    return msgspec.convert({"name": name, "slug": slug, "fields": [{"key": "a", "type": "string"}]}, SheetConfig)


def workbook_created(settings: dict[str, object] | None = None) -> WorkbookCreated:
    return WorkbookCreated(
        workbook_id=WB,
        space_id=SPACE,
        environment_id=ENV,
        name="W",
        namespace="blue",
        settings=settings or {},
        sheets=[
            SheetSpec(sheet_id=SHEET, slug="contacts", config=sheet_config("Contacts", "contacts")),
            SheetSpec(sheet_id="us_sh_b", slug="deals", config=sheet_config("Deals", "deals")),
        ],
    )


def world(lookups: Lookups) -> None:
    translate(stored(sp.SpaceCreated(space_id=SPACE, environment_id=ENV, name="S", namespace="red"), 1), lookups)
    translate(stored(workbook_created({"trackChanges": True}), 2), lookups)


def test_a_workbook_gives_workbook_created_and_one_sheet_created_per_sheet() -> None:
    lookups = Lookups()
    translate(stored(sp.SpaceCreated(space_id=SPACE, environment_id=ENV, name="S", namespace="red"), 1), lookups)
    derived = translate(stored(workbook_created(), 7), lookups)
    assert [e.topic for _, e in derived] == ["workbook:created", "sheet:created", "sheet:created"]
    assert [p for p, _ in derived] == [7 * POSITION_SLOTS, 7 * POSITION_SLOTS + 1, 7 * POSITION_SLOTS + 2]
    assert [e.id for _, e in derived] == [event_id("evt7", n) for n in range(3)]
    workbook, contacts, _ = (e for _, e in derived)
    assert workbook.domain == "workbook"
    assert workbook.payload == {"workbookId": WB, "spaceId": SPACE, "name": "W", "sheetCount": 2, "namespace": "blue"}
    assert workbook.namespaces == ["space:red", "workbook:blue"]
    assert contacts.domain == "sheet"
    assert contacts.payload == {
        "sheetId": SHEET,
        "workbookId": WB,
        "name": "Contacts",
        "slug": "contacts",
        "fieldCount": 1,
    }
    assert contacts.context.sheet_slug == "contacts"
    assert contacts.context.workbook_id == WB


def test_ids_are_stable_across_translations() -> None:
    first, second = Lookups(), Lookups()
    world(first)
    world(second)
    again = translate(stored(workbook_created(), 2), Lookups())
    assert [e.id for _, e in again] == [event_id("evt2", n) for n in range(3)]
    assert event_id("evt2", 0) == event_id("evt2", 0) != event_id("evt2", 1)
    assert event_id("evt2", 0).startswith("us_evt_")


def test_records_and_commit_carry_the_sheet_context_and_the_data_url() -> None:
    lookups = Lookups()
    world(lookups)
    records = [record.StoredRecord(id=f"us_rc_{n}", values={"a": record.Cell(value=str(n))}) for n in range(3)]
    common: dict[str, Any] = {"sheet_id": SHEET, "workbook_id": WB, "space_id": SPACE, "commit_id": "us_vr_1"}
    inserted = translate(stored(record.RecordsInserted(records=records, **common), 3), lookups)
    commit = record.CommitCreated(kind="insert", events=1, record_count=3, **common)
    committed = translate(stored(commit, 4), lookups)
    ((_, created),) = inserted
    assert created.topic == "records:created" and created.domain == "workbook"
    assert created.payload == {"sheetId": SHEET, "recordIds": ["us_rc_0", "us_rc_1", "us_rc_2"], "recordCount": 3}
    assert (created.context.sheet_slug, created.context.commit_id, created.context.space_id) == (
        "contacts",
        "us_vr_1",
        SPACE,
    )
    ((_, event),) = committed
    assert event.topic == "commit:created"
    assert event.data_url == f"v1/sheets/{SHEET}/records?commitId=us_vr_1"
    assert event.payload == {
        "sheetId": SHEET,
        "workbookId": WB,
        "versionId": "us_vr_1",
        "commitId": "us_vr_1",
        "sheetSlug": "contacts",
        "trackChanges": True,
    }
    wire = msgspec.json.decode(msgspec.json.encode(event))
    assert wire["context"] == {
        "accountId": feed.ACCOUNT_ID,
        "environmentId": ENV,
        "spaceId": SPACE,
        "workbookId": WB,
        "sheetId": SHEET,
        "sheetSlug": "contacts",
        "commitId": "us_vr_1",
        "versionId": "us_vr_1",
        "actorId": "us_key_1",
        "namespaces": ["space:red", "workbook:blue"],
    }
    assert wire["dataUrl"] == f"v1/sheets/{SHEET}/records?commitId=us_vr_1"
    assert wire["createdAt"].startswith("2024-05-01T12:00:00")


def test_a_restores_compact_re_create_gives_records_created_with_its_ids() -> None:
    lookups = Lookups()
    world(lookups)
    common: dict[str, Any] = {"sheet_id": SHEET, "workbook_id": WB, "space_id": SPACE, "commit_id": "us_vr_9"}
    restored = record.RecordsRestored(position=2, record_ids=["us_rc_7", "us_rc_8"], **common)
    ((_, created),) = translate(stored(restored, 3), lookups)
    assert created.topic == "records:created"
    assert created.payload == {"sheetId": SHEET, "recordIds": ["us_rc_7", "us_rc_8"], "recordCount": 2}
    assert created.context.commit_id == "us_vr_9"


def test_a_write_with_hooks_disabled_gives_no_commit_created() -> None:
    lookups = Lookups()
    world(lookups)
    common: dict[str, Any] = {"sheet_id": SHEET, "workbook_id": WB, "space_id": SPACE, "commit_id": "us_vr_2"}
    commit = record.CommitCreated(kind="update", events=1, record_count=1, disable_hooks=True, **common)
    assert translate(stored(commit, 5), lookups) == []
    completed = translate(stored(record.CommitCompleted(**common), 6), lookups)
    assert [e.topic for _, e in completed] == ["commit:completed"]


def test_a_job_created_ready_gives_created_and_ready_then_its_lifecycle() -> None:
    lookups = Lookups()
    world(lookups)
    created = job.JobCreated(
        job_id="us_jb_1",
        environment_id=ENV,
        space_id=SPACE,
        job_type="workbook",
        operation="submit",
        source=WB,
        status="ready",
        workbook_id=WB,
        input={"x": 1},
    )
    topics: list[FlatfileEvent] = [e for _, e in translate(stored(created, 10), lookups)]
    for seq, step in enumerate(
        [
            job.JobAcknowledged(job_id="us_jb_1", info="taken"),
            job.JobCompleted(job_id="us_jb_1"),
            job.JobOutcomeAcknowledged(job_id="us_jb_1"),
            job.JobRetried(job_id="us_jb_1"),
            job.JobCanceled(job_id="us_jb_1"),
            job.JobFailed(job_id="us_jb_1"),
            job.JobUpdated(job_id="us_jb_1", status="planning"),
            job.JobDeleted(job_id="us_jb_1"),
        ],
        start=11,
    ):
        topics += [e for _, e in translate(stored(step, seq), lookups)]
    assert [(e.topic, e.payload["status"]) for e in topics] == [
        ("job:created", "ready"),
        ("job:ready", "ready"),
        ("job:updated", "executing"),
        ("job:completed", "complete"),
        ("job:outcome-acknowledged", "complete"),
        ("job:ready", "ready"),
        ("job:updated", "canceled"),
        ("job:failed", "failed"),
        ("job:updated", "planning"),
        ("job:deleted", "planning"),
    ]
    ready = topics[1]
    assert ready.domain == "job"
    assert ready.payload == {
        "domain": "workbook",
        "operation": "submit",
        "job": "workbook:submit",
        "status": "ready",
        "info": None,
        "isPart": False,
        "input": {"x": 1},
    }
    assert (ready.context.job_id, ready.context.workbook_id, ready.context.space_id) == ("us_jb_1", WB, SPACE)
    assert topics[2].payload["info"] == "taken"


def test_space_lifecycle_documents_guests_and_environments() -> None:
    lookups = Lookups()
    world(lookups)
    events: list[tuple[Event, str | None]] = [
        (sp.SpaceUpdated(space_id=SPACE, name="T"), SPACE),
        (sp.SpaceArchived(space_id=SPACE), SPACE),
        (sp.SpaceUnarchived(space_id=SPACE), SPACE),
        (sp.DocumentCreated(document_id="us_dc_1", space_id=SPACE, title="Hi", body="x"), SPACE),
        (sp.DocumentDeleted(document_id="us_dc_1"), SPACE),
        (
            sp.GuestCreated(
                guest_id="us_g_1", environment_id=ENV, email="a@b", name="A", spaces=[sp.GuestGrant(space_id=SPACE)]
            ),
            None,
        ),
        (sp.GuestDeleted(guest_id="us_g_1"), None),
        (sp.EnvironmentCreated(environment_id=ENV, name="E"), None),
        (sp.SpaceDeleted(space_id=SPACE), SPACE),
    ]
    derived = [
        e
        for n, (event, scope) in enumerate(events)
        for _, e in translate(stored(event, 20 + n, space_id=scope), lookups)
    ]
    assert [e.topic for e in derived] == [
        "space:updated",
        "space:archived",
        "space:unarchived",
        "document:created",
        "document:deleted",
        "space:guestAdded",
        "space:guestRemoved",
        "environment:created",
        "space:deleted",
    ]
    assert derived[0].payload["changes"] == ["name"]
    assert derived[3].context.document_id == "us_dc_1" and derived[4].context.document_id == "us_dc_1"
    assert derived[5].context.space_id == SPACE and derived[5].namespaces == ["space:red"]
    assert derived[7].context.space_id is None and derived[7].domain == "environment"


def test_secret_events_never_carry_the_value() -> None:
    event = SecretCreated(secret_id="us_sec_1", environment_id=ENV, space_id=SPACE, name="API", ciphertext="c2VjcmV0")
    ((_, derived),) = translate(stored(event, 30), Lookups())
    assert derived.topic == "secret:created" and derived.domain == "secret"
    assert derived.payload == {"secretId": "us_sec_1", "spaceId": SPACE, "environmentId": ENV}
    assert b"c2VjcmV0" not in msgspec.json.encode(derived)


def test_a_published_custom_event_keeps_its_id_and_shape() -> None:
    event = feed.EventPublished(
        event_id="us_evt_custom",
        topic="job:ready",
        domain="job",
        context={"jobId": "us_jb_9", "environmentId": "us_env_other"},
        payload={"job": "space:configure"},
        namespaces=["space:red"],
    )
    ((position, derived),) = translate(stored(event, 40), Lookups())
    assert position == 40 * POSITION_SLOTS
    assert derived.id == "us_evt_custom"
    assert derived.context.environment_id == ENV  # the scope it was appended in, not what was posted
    assert derived.context.job_id == "us_jb_9"
    assert derived.namespaces == ["space:red"]


def test_unknown_and_bookkeeping_events_give_nothing() -> None:
    ack = feed.EventAcknowledged(event_id="us_evt_1", acknowledged_by="us_key_1")
    assert translate(stored(ack, 50), Lookups()) == []
    key = sp.ApiKeyIssued(key_id="k", kind="secret", key_hash="h", hint="x")
    assert translate(stored(key, 51, space_id=None), Lookups()) == []


def test_topic_and_domain_validation() -> None:
    assert len(feed.TOPICS) == 66
    for good in ("job:ready", "job:*", "*:created", "**", "*"):
        assert feed.topic_problem(good) is None
    for bad in ("job:nope", "nope:*", "*:nope", "jobready"):
        problem = feed.topic_problem(bad)
        assert problem is not None and "job:ready" in problem
    assert feed.domain_problem("job") is None
    assert "workbook" in (feed.domain_problem("jobs") or "")


def test_a_job_created_scheduled_gives_created_and_scheduled() -> None:
    lookups = Lookups()
    world(lookups)
    created = job.JobCreated(
        job_id="us_jb_2",
        environment_id=ENV,
        space_id=SPACE,
        job_type="workbook",
        operation="nightly",
        source=WB,
        status="scheduled",
    )
    assert [e.topic for _, e in translate(stored(created, 20), lookups)] == ["job:created", "job:scheduled"]
    plain = job.JobCreated(
        job_id="us_jb_3", environment_id=ENV, space_id=SPACE, job_type="workbook", operation="x", source=WB
    )
    assert [e.topic for _, e in translate(stored(plain, 21), lookups)] == ["job:created"]


def test_space_deleted_and_expired_carry_the_namespaces_the_events_name_as_a_replay_does() -> None:
    app = sp.AppCreated(app_id="us_app_a", environment_id=ENV, name="Loads", namespace="nightly")
    expired = sp.SpaceExpired(
        space_id=SPACE, policy_id="us_drp_1", policy_type="sinceCreated", period=7, namespace="red", app_id="us_app_a"
    )
    deleted = sp.SpaceDeleted(space_id=SPACE, namespace="red", app_id="us_app_a")

    def derived(lookups: Lookups) -> list[FlatfileEvent]:
        translate(stored(app, 60, space_id=None), lookups)
        return [e for n, event in enumerate((expired, deleted)) for _, e in translate(stored(event, 61 + n), lookups)]

    live = Lookups()
    world(live)  # the live feed knows the space; a replay does not (its events are erased)
    assert derived(live) == derived(Lookups())
    expired_event, deleted_event = derived(Lookups())
    assert (expired_event.topic, deleted_event.topic) == ("space:expired", "space:deleted")
    for event in (expired_event, deleted_event):
        assert event.namespaces == ["space:red", "app:nightly"] == event.context.namespaces
        assert (event.context.space_id, event.context.environment_id) == (SPACE, ENV)
    assert expired_event.payload["dataRetentionPolicyId"] == "us_drp_1"
    # written before the events carried it: none, though the live feed's lookups know the space
    ((_, old),) = translate(stored(sp.SpaceDeleted(space_id=SPACE), 70), live)
    assert old.namespaces == [] and old.context.namespaces is None
