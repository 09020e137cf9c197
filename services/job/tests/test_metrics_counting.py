"""The metrics counting, pure: deltas of domain events and of their Flatfile translations, the fold,
the submit rule, live sheets, and the answers shaped from rows and record counts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st

from job_service.feed import RECORD_EVENTS, WORKBOOK_EVENTS
from job_service.feed.lookups import Lookups
from job_service.feed.translate import translate
from job_service.metrics import counting, views
from job_service.metrics.counting import Delta, Opened, SheetClosed, SheetOpened, SpaceCounters, WorkbookClosed
from job_service.metrics.projection import changes_of, fold_all
from job_service.metrics.queries import AppSums
from spaceport.contracts import feed, file, job, record, workbook
from spaceport.contracts import space as sp
from spaceport.contracts.blueprint import SheetConfig
from spaceport.contracts.record import Counts, StoredRecord
from spaceport.contracts.space.secret import SECRET_EVENTS
from spaceport.events import Envelope, Event, EventRegistry, StoredEvent, encode, type_name

pytestmark = pytest.mark.unit
T0 = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
ENV, SPACE, OTHER, WB, SHEET = "us_env_m", "us_sp_m", "us_sp_other", "us_wb_m", "us_sh_m"
# The job service's registry: record events decode lean (ids only).
REGISTRY = EventRegistry(
    (*sp.EVENTS, *job.EVENTS, *WORKBOOK_EVENTS, *RECORD_EVENTS, *SECRET_EVENTS, *file.EVENTS, *feed.EVENTS)
)


class Clock:
    def __init__(self) -> None:
        self.seq = 0

    def stored(self, event: Event, *, space_id: str | None = SPACE, minutes: float | None = None) -> StoredEvent:
        self.seq += 1
        at = T0 + timedelta(minutes=self.seq if minutes is None else minutes)
        envelope = Envelope(
            id=f"evt{self.seq}",
            type=type_name(event),
            environment_id=ENV,
            space_id=space_id,
            aggregate=type(event).aggregate,
            aggregate_id="x",
            actor="us_key_1",
            occurred_at=at,
            data=msgspec.Raw(encode(event)),
        )
        decoded = REGISTRY.decode_data(envelope.type, envelope.data)
        return StoredEvent(seq=self.seq, subject="evt.x", stored_at=at, envelope=envelope, event=decoded)


def config(slug: str) -> SheetConfig:
    return msgspec.convert({"name": slug, "slug": slug, "fields": [{"key": "a", "type": "string"}]}, SheetConfig)


def records(*ids: str) -> list[StoredRecord]:
    return [StoredRecord(id=i, values={"a": record.Cell(value=i)}, valid=True) for i in ids]


SCOPE = {"sheet_id": SHEET, "workbook_id": WB, "space_id": SPACE, "commit_id": "us_vr_1"}


def history(clock: Clock) -> list[StoredEvent]:
    """A space's life: created in an app, a workbook, records, guests, files, jobs, a custom event."""
    submit = "us_jb_submit"
    return [
        clock.stored(sp.SpaceCreated(space_id=SPACE, environment_id=ENV, name="S", app_id="us_app_1"), minutes=0),
        clock.stored(sp.SpaceCreated(space_id=OTHER, environment_id=ENV, name="O"), space_id=OTHER),
        clock.stored(
            workbook.WorkbookCreated(
                workbook_id=WB,
                space_id=SPACE,
                environment_id=ENV,
                name="W",
                sheets=[workbook.SheetSpec(sheet_id=SHEET, slug="a", config=config("a"))],
            )
        ),
        clock.stored(record.RecordsInserted(**SCOPE, records=records("r1", "r2", "r3"))),
        clock.stored(record.RecordsUpdated(**SCOPE, records=records("r1", "r2"))),
        clock.stored(record.RecordsUpdated(**SCOPE, records=records("r1"))),
        clock.stored(record.RecordsDeleted(**SCOPE, record_ids=["r3"])),
        clock.stored(
            sp.GuestCreated(
                guest_id="us_g_1",
                environment_id=ENV,
                email="a@x.io",
                name="A",
                spaces=[sp.GuestGrant(space_id=SPACE), sp.GuestGrant(space_id=OTHER)],
            ),
            space_id=None,
        ),
        clock.stored(
            sp.GuestCreated(
                guest_id="us_g_2", environment_id=ENV, email="b@x.io", name="B", spaces=[sp.GuestGrant(space_id=SPACE)]
            ),
            space_id=None,
        ),
        clock.stored(sp.GuestUpdated(guest_id="us_g_1", spaces=[sp.GuestGrant(space_id=OTHER)]), space_id=None),
        clock.stored(file.FileCreated(file_id="us_fl_1", space_id=SPACE, environment_id=ENV, name="a", object_key="k")),
        clock.stored(file.FileCreated(file_id="us_fl_2", space_id=SPACE, environment_id=ENV, name="b", object_key="k")),
        clock.stored(file.FileDeleted(file_id="us_fl_1")),
        clock.stored(
            job.JobCreated(
                job_id="us_jb_map", environment_id=ENV, space_id=SPACE, job_type="workbook", operation="map", source=WB
            )
        ),
        clock.stored(job.JobCompleted(job_id="us_jb_map")),  # not a submit
        clock.stored(
            job.JobCreated(
                job_id=submit,
                environment_id=ENV,
                space_id=SPACE,
                job_type="workbook",
                operation="submitActionFg",
                source=WB,
                status="ready",
            )
        ),
        clock.stored(job.JobAcknowledged(job_id=submit), minutes=30),
        clock.stored(job.JobCompleted(job_id=submit), minutes=45),
        clock.stored(job.JobRetried(job_id=submit), minutes=50),  # (not allowed by the domain; counted once anyway)
        clock.stored(job.JobUpdated(job_id=submit, status="complete"), minutes=55),
        clock.stored(
            feed.EventPublished(event_id="us_evt_custom", topic="custom:thing", domain="space", payload={}),
            minutes=60,
        ),
    ]


def folded(events: list[StoredEvent]) -> tuple[dict[str, SpaceCounters], int]:
    """The counters after `events` in one batch, and the Flatfile events of SPACE (a second translation)."""
    deltas, _ = changes_of(events, Lookups())
    check = Lookups()
    in_space = sum(1 for s in events for _, e in translate(s, check) if e.context.space_id == SPACE)
    return fold_all({}, deltas), in_space


def test_a_history_folds_into_its_counts() -> None:
    rows, feed_events = folded(history(Clock()))
    row = rows[SPACE]
    assert (row.environment_id, row.app_id, row.created_at, row.deleted) == (ENV, "us_app_1", T0, False)
    assert (row.records_created, row.records_updated, row.records_deleted) == (3, 3, 1)
    assert (row.files, row.files_created) == (1, 2)
    assert row.guests == 1  # us_g_2; us_g_1 was moved to the other space
    assert rows[OTHER].guests == 1
    assert row.first_submit_at == T0 + timedelta(minutes=45)  # the first completion of a submit job
    assert row.last_activity_at == T0 + timedelta(minutes=60)  # the custom event
    assert row.events == feed_events
    assert row.events > 15


def test_a_batch_split_anywhere_folds_the_same() -> None:
    events = history(Clock())
    whole, _ = folded(events)
    for cut in range(1, len(events)):
        lookups = Lookups()
        first, _ = changes_of(events[:cut], lookups)
        second, _ = changes_of(events[cut:], lookups)
        rows = fold_all({}, first)
        assert {**rows, **fold_all(rows, second)} == whole, cut


def test_a_deleted_space_keeps_its_row_marked_deleted() -> None:
    clock = Clock()
    events = [*history(clock), clock.stored(sp.SpaceDeleted(space_id=SPACE))]
    assert folded(events)[0][SPACE].deleted


def test_events_of_a_space_never_created_are_dropped() -> None:
    clock = Clock()
    events = [clock.stored(record.RecordsInserted(**SCOPE, records=records("r1")))]
    assert folded(events)[0] == {}
    assert counting.fold(None, Delta(space_id=SPACE, events=1)) is None


@pytest.mark.parametrize(
    ("operation", "submit"),
    [
        ("submitAction", True),
        ("submitActionFg", True),
        ("workbookSubmitAction", True),
        ("sheetSubmitAction-contacts", True),
        ("submit", True),
        ("SUBMIT", True),
        ("map", False),
        ("extract", False),
        ("downloadWorkbook", False),
        ("configure", False),
    ],
)
def test_the_submit_rule(operation: str, submit: bool) -> None:
    assert counting.is_submit(operation) is submit


def test_only_a_move_to_complete_completes() -> None:
    assert counting.completes(job.JobCompleted(job_id="j"))
    assert counting.completes(job.JobUpdated(job_id="j", status="complete"))
    assert not counting.completes(job.JobUpdated(job_id="j", status="executing"))
    assert not counting.completes(job.JobFailed(job_id="j"))


def test_live_sheets_follow_the_workbook_events() -> None:
    clock = Clock()
    spec = workbook.SheetSpec(sheet_id="us_sh_2", slug="b", config=config("b"))
    created = workbook.WorkbookCreated(workbook_id=WB, space_id=SPACE, environment_id=ENV, name="W", sheets=[spec])
    assert counting.sheet_changes(clock.stored(created)) == [
        SheetOpened(sheet_id="us_sh_2", workbook_id=WB, space_id=SPACE)
    ]
    added = clock.stored(workbook.SheetAdded(workbook_id=WB, sheet=spec))
    assert counting.sheet_changes(added) == [SheetOpened(sheet_id="us_sh_2", workbook_id=WB, space_id=SPACE)]
    deleted = clock.stored(workbook.SheetDeleted(workbook_id=WB, sheet_id="us_sh_2"))
    assert counting.sheet_changes(deleted) == [SheetClosed(sheet_id="us_sh_2")]
    assert counting.sheet_changes(clock.stored(workbook.WorkbookDeleted(workbook_id=WB))) == [
        WorkbookClosed(workbook_id=WB)
    ]


counters = st.builds(
    Delta,
    space_id=st.just(SPACE),
    events=st.integers(0, 5),
    guests=st.integers(-2, 2),
    files=st.integers(-1, 2),
    records_created=st.integers(0, 1000),
    activity_at=st.none() | st.integers(0, 100).map(lambda m: T0 + timedelta(minutes=m)),
    submitted_at=st.none() | st.integers(0, 100).map(lambda m: T0 + timedelta(minutes=m)),
)
OPEN = Delta(space_id=SPACE, opened=Opened(environment_id=ENV, app_id=None, created_at=T0))


@given(st.lists(counters, max_size=20), st.integers(0, 20))
def test_folding_is_the_sum_of_the_deltas_whatever_the_batches(deltas: list[Delta], cut: int) -> None:
    whole = fold_all({}, [OPEN, *deltas])[SPACE]
    first = fold_all({}, [OPEN, *deltas[:cut]])
    assert {**first, **fold_all(first, deltas[cut:])}[SPACE] == whole
    assert whole.events == sum(d.events for d in deltas)
    assert whole.records_created == sum(d.records_created for d in deltas)
    submits = [d.submitted_at for d in deltas if d.submitted_at]
    assert whole.first_submit_at == (submits[0] if submits else None)
    times = [d.activity_at for d in deltas if d.activity_at]
    assert whole.last_activity_at == (max(times) if times else None)


def sums(app_id: str | None, spaces: int, submitted: int, seconds: float, events: int) -> AppSums:
    return AppSums(
        app_id=app_id,
        spaces=spaces,
        submitted_spaces=submitted,
        seconds_to_first_submit=seconds,
        last_activity_at=T0 + timedelta(minutes=events),
        events=events,
        guests=1,
        files=2,
        files_created=3,
        records_created=10,
        records_updated=4,
        records_deleted=1,
    )


def test_an_environment_sums_its_apps_with_their_sheets_counts() -> None:
    groups = [sums(None, 1, 0, 0.0, 5), sums("us_app_1", 2, 2, 300.0, 7)]
    sheets = {"us_sh_a": None, "us_sh_b": "us_app_1", "us_sh_c": "us_app_1", "us_sh_new": "us_app_1"}
    counts = {
        "us_sh_a": Counts(total=3, valid=2, error=1),
        "us_sh_b": Counts(total=5, valid=5, error=0),
        "us_sh_c": Counts(total=4, valid=1, error=3),
    }  # us_sh_new: no records yet
    view = views.environment_view(ENV, None, groups, sheets, counts)
    assert (view.spaces, view.submitted_spaces, view.average_seconds_to_first_submit) == (3, 2, 150.0)
    assert (view.events, view.guests, view.files.current, view.files.created) == (12, 2, 4, 6)
    assert (view.records.created, view.records.updated, view.records.deleted) == (20, 8, 2)
    assert (view.records.valid, view.records.error) == (8, 4)
    assert view.last_activity_at == T0 + timedelta(minutes=7)
    no_app, app = view.apps
    assert (no_app.app_id, no_app.records.valid, no_app.records.error, no_app.average_seconds_to_first_submit) == (
        None,
        2,
        1,
        None,
    )
    assert (app.app_id, app.records.valid, app.records.error, app.average_seconds_to_first_submit) == (
        "us_app_1",
        6,
        3,
        150.0,
    )


def test_an_environment_without_spaces_is_all_zero() -> None:
    view = views.environment_view(ENV, "us_app_9", [], {}, {})
    assert (view.spaces, view.events, view.records.valid, view.apps) == (0, 0, 0, [])
    assert view.average_seconds_to_first_submit is None
    assert view.last_activity_at is None


def test_a_space_answer_adds_its_sheets_counts_and_the_time_to_submit() -> None:
    row = SpaceCounters(
        space_id=SPACE,
        environment_id=ENV,
        app_id=None,
        created_at=T0,
        events=4,
        first_submit_at=T0 + timedelta(minutes=2),
    )
    counts = {SHEET: Counts(total=3, valid=2, error=1), "us_sh_gone": Counts(total=9, valid=9, error=0)}
    view = views.space_view(row, [SHEET], counts)
    assert (view.records.valid, view.records.error, view.seconds_to_first_submit) == (2, 1, 120.0)
    wire = msgspec.to_builtins(view)
    assert wire["secondsToFirstSubmit"] == 120.0
    assert wire["files"] == {"current": 0, "created": 0}
    assert wire["appId"] is None
