"""The recorded corpus applied through every projection of every service, into scratch schemas.

Each projection gets what its consumer would: the events on its filter subjects, decoded with its
service's registry (the record service registers no RecordsInserted/Updated/Deleted: its projection
decodes their raw bytes with its `Lean*` Structs). The rows are checked against what the corpus
implies, computed here from the events themselves.

The corpus holds one example per event type, not whole histories, so `corpus.context` first
creates what it changes without creating (a space, its environment, the sheet records go to).
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import AsyncIterator, Callable
from typing import Any

import asyncpg
import msgspec
import pytest

from file_service.projections.files import FileProjection
from job_service.feed.projection import FeedProjection
from job_service.history import HistoryProjection
from job_service.metrics import MetricsProjection
from job_service.projections.jobs import JobProjection
from record_service.projections.records import RecordsProjection
from space_service.projections.directory import SpaceDirectory
from spaceport import ids
from spaceport.contracts import file, job, record, snapshot
from spaceport.contracts.feed import EventAcknowledged, EventPublished
from spaceport.contracts.job import JobCreated, JobDeleted, JobUpdated
from spaceport.contracts.space import (
    ApiKeyIssued,
    ApiKeyRevoked,
    DataRetentionPolicyCreated,
    DataRetentionPolicyDeleted,
    DataRetentionPolicyUpdated,
    DocumentCreated,
    DocumentDeleted,
    DocumentUpdated,
    EnvironmentCreated,
    EnvironmentDeleted,
    EnvironmentUpdated,
    GuestCreated,
    GuestDeleted,
    GuestUpdated,
    SpaceArchived,
    SpaceCreated,
    SpaceDeleted,
    SpaceUnarchived,
    SpaceUpdated,
)
from spaceport.contracts.workbook import (
    SheetAdded,
    SheetConfigChanged,
    SheetDeleted,
    SheetLocked,
    SheetUnlocked,
    WorkbookCreated,
    WorkbookDeleted,
    WorkbookUpdated,
)
from spaceport.crypto import CLEAR_TYPES
from spaceport.events import StoredEvent
from spaceport.known_spaces import KnownSpaces
from spaceport.testing import corpus, readmodels, scratch, services
from spaceport.testing.infra import InfraUrls
from workbook_service.projections.catalog import WorkbookCatalog

RECORDED = corpus.load()
HISTORY = corpus.context(RECORDED) + RECORDED
TYPED = corpus.stored(HISTORY, corpus.registry())  # positions and events as every projection sees them


def _erased(typed: list[StoredEvent]) -> list[StoredEvent]:
    """The events a replay sees once the deleted spaces' keys are gone (spaceport.crypto): a
    deleted space keeps only its clear events. Erasure makes the live rows equal those of it."""
    deleted = {e.event.space_id for e in typed if isinstance(e.event, SpaceDeleted)}
    return [e for e in typed if e.envelope.space_id not in deleted or e.envelope.type in CLEAR_TYPES]


ERASED = _erased(TYPED)
SERVED = services.projections()
LEAN = {"RecordsInserted", "RecordsUpdated", "RecordsDeleted", "RecordsRestored"}  # decoded by the records projection

Rows = list[tuple[Any, ...]]
Expectations = Callable[[list[StoredEvent]], dict[str, Rows]]  # SQL ({s} = schema) -> its rows, sorted


@pytest.mark.unit
def test_every_recorded_event_type_reaches_a_projection() -> None:
    reached = {
        e.envelope.type
        for served in SERVED
        for e in scratch.delivered(corpus.stored(HISTORY, served.registry), served.projection)
    }
    missing = sorted({e.type for e in RECORDED} - reached)
    assert not missing, f"no projection reads {missing}"


@pytest.mark.unit
@pytest.mark.parametrize("served", SERVED, ids=lambda s: s.id)
def test_a_projection_is_given_only_events_its_service_decodes(served: services.ServiceProjection) -> None:
    given = scratch.delivered(corpus.stored(HISTORY, served.registry), served.projection)
    assert given, f"{served.id} reads nothing of the corpus"
    undecoded = {e.envelope.type for e in given if e.event is None}
    assert undecoded == (LEAN if isinstance(served.projection, RecordsProjection) else set())


@pytest.fixture
async def db(infra: InfraUrls, unique_name: str) -> AsyncIterator[asyncpg.Connection]:
    """A connection; every schema named `<unique_name>_*` is dropped after the test."""
    conn = await asyncpg.connect(infra.database_url)
    yield conn
    for row in await conn.fetch("SELECT nspname FROM pg_namespace WHERE nspname LIKE $1", f"{unique_name}\\_%"):
        await conn.execute(f'DROP SCHEMA "{row["nspname"]}" CASCADE')
    await conn.close()


@pytest.mark.parametrize("served", SERVED, ids=lambda s: s.id)
async def test_the_corpus_projects_into_the_rows_it_implies(
    served: services.ServiceProjection, db: asyncpg.Connection, unique_name: str
) -> None:
    expectations = EXPECTATIONS.get(type(served.projection))
    assert expectations is not None, f"no expectations for {type(served.projection).__name__}: add them below"
    given = scratch.delivered(corpus.stored(HISTORY, served.registry), served.projection)
    schema = f"{unique_name}_apply"
    await scratch.apply(db, served.projection, given, schema)
    for sql, expected in expectations(ERASED).items():
        found = sorted(tuple(_plain(v) for v in r) for r in await db.fetch(sql.format(s=f'"{schema}"')))
        assert found == expected, sql
    assert await db.fetch(f'SELECT * FROM "{schema}".projection_failure') == []
    if hasattr(served.projection, "apply_batch"):  # one call for all must equal one apply per event
        await scratch.apply(db, served.projection, given, f"{unique_name}_batch", batch=True)
        batched = await readmodels.snapshot(db, f"{unique_name}_batch")
        assert batched == await readmodels.snapshot(db, schema)


@pytest.mark.unit
def test_the_expectations_are_not_empty() -> None:
    """Expected tables have rows, so a projection that writes nothing fails the test above."""
    empty = {sql for expect in EXPECTATIONS.values() for sql, rows in expect(TYPED).items() if not rows}
    assert empty <= {
        "SELECT id, title FROM {s}.document",  # the recorded document is deleted
        "SELECT id, name FROM {s}.guest",  # ... and so is the recorded guest
        "SELECT guest_id, space_id, role FROM {s}.guest_space",
        "SELECT sheet_id, name, value, record_id FROM {s}.unique_claim",  # the recorded holder is deleted
    }


# ---- what the corpus implies, computed from its events -------------------------------------


def _spaces(typed: list[StoredEvent]) -> dict[str, list[Any]]:
    """space id -> [name, archived, deleted, workbooks]."""
    spaces: dict[str, list[Any]] = {}
    for s in typed:
        match s.event:
            case SpaceCreated() as e:
                spaces[e.space_id] = [e.name, False, False, 0]
            case SpaceUpdated(name=str() as name) as e if e.space_id in spaces:
                spaces[e.space_id][0] = name
            case SpaceArchived() | SpaceUnarchived() as e if e.space_id in spaces:
                spaces[e.space_id][1] = isinstance(e, SpaceArchived)
            case SpaceDeleted() as e:  # erasure: a tombstone of ids
                spaces[e.space_id] = ["", False, True, 0]
            case WorkbookCreated() | WorkbookDeleted() if s.envelope.space_id in spaces:
                row = spaces[s.envelope.space_id]
                row[3] = max(0, row[3] + (1 if isinstance(s.event, WorkbookCreated) else -1))
    return spaces


def known_spaces(typed: list[StoredEvent]) -> dict[str, Rows]:
    rows = sorted((i, n, a, d) for i, (n, a, d, _) in _spaces(typed).items())
    return {"SELECT id, name, archived, deleted FROM {s}.known_space": rows}


def directory(typed: list[StoredEvent]) -> dict[str, Rows]:
    environments, keys = _environments(typed)
    documents, guests = _documents_and_guests(typed)
    return {
        "SELECT id, name, deleted_at IS NOT NULL FROM {s}.environment": sorted(
            (i, *v) for i, v in environments.items()
        ),
        "SELECT key_id, environment_id, revoked FROM {s}.api_key": sorted((k, *v) for k, v in keys.items()),
        "SELECT id, name, archived_at IS NOT NULL, deleted_at IS NOT NULL, workbooks_count FROM {s}.space": sorted(
            (i, *v) for i, v in _spaces(typed).items()
        ),
        "SELECT id, title FROM {s}.document": sorted(documents.items()),
        "SELECT id, name FROM {s}.guest": sorted((i, n) for i, (n, _) in guests.items()),
        "SELECT guest_id, space_id, role FROM {s}.guest_space": sorted(
            (i, sp, role) for i, (_, grants) in guests.items() for sp, role in grants.items()
        ),
        "SELECT id, environment_id, type, period FROM {s}.data_retention_policy": _retention_policies(typed),
    }


def _retention_policies(typed: list[StoredEvent]) -> Rows:
    """Live data retention policies: (id, environment, type, period)."""
    live: dict[str, tuple[str, str, int]] = {}
    for s in typed:
        match s.event:
            case DataRetentionPolicyCreated() as e:
                live[e.policy_id] = (e.environment_id, e.policy_type, e.period)
            case DataRetentionPolicyUpdated() as e if e.policy_id in live:
                live[e.policy_id] = (live[e.policy_id][0], e.policy_type, e.period)
            case DataRetentionPolicyDeleted() as e:
                live.pop(e.policy_id, None)
    return sorted((i, *v) for i, v in live.items())


def _environments(typed: list[StoredEvent]) -> tuple[dict[str, list[Any]], dict[str, tuple[str, bool]]]:
    """environment id -> [name, deleted]; key id -> (environment id, revoked)."""
    environments: dict[str, list[Any]] = {}
    keys: dict[str, tuple[str, bool]] = {}
    for s in typed:
        match s.event:
            case EnvironmentCreated() as e:
                environments[e.environment_id] = [e.name, False]
            case EnvironmentUpdated(name=str() as name) as e if e.environment_id in environments:
                environments[e.environment_id][0] = name
            case EnvironmentDeleted() as e if e.environment_id in environments:
                environments[e.environment_id][1] = True
                keys.update({k: (env, True) for k, (env, _) in keys.items() if env == e.environment_id})
            case ApiKeyIssued() as e:
                keys[e.key_id] = (s.envelope.environment_id, False)
            case ApiKeyRevoked() as e if e.key_id in keys:
                keys[e.key_id] = (keys[e.key_id][0], True)
    return environments, keys


def _documents_and_guests(
    typed: list[StoredEvent],
) -> tuple[dict[str, str], dict[str, tuple[str, dict[str, str]]]]:
    """live document id -> title; live guest id -> (name, {space id: role})."""
    documents: dict[str, str] = {}
    guests: dict[str, tuple[str, dict[str, str]]] = {}
    for s in typed:
        match s.event:
            case DocumentCreated() as e:
                documents[e.document_id] = e.title
            case DocumentUpdated(title=str() as title) as e if e.document_id in documents:
                documents[e.document_id] = title
            case DocumentDeleted() as e:
                documents.pop(e.document_id, None)
            case GuestCreated() as e:
                guests[e.guest_id] = (e.name, {g.space_id: g.role for g in e.spaces})
            case GuestUpdated() as e if e.guest_id in guests:
                name, grants = guests[e.guest_id]
                spaces: dict[str, str] = grants if e.spaces is None else {g.space_id: g.role for g in e.spaces}
                guests[e.guest_id] = (e.name or name, spaces)
            case GuestDeleted() as e:
                guests.pop(e.guest_id, None)
            case SpaceDeleted() as e:
                for _, grants in guests.values():
                    grants.pop(e.space_id, None)
    return documents, guests


def _sheets(typed: list[StoredEvent]) -> tuple[dict[str, list[Any]], dict[str, list[Any]]]:
    """workbook id -> [name, deleted]; sheet id -> [workbook id, name, slug, locked by, deleted]."""
    workbooks: dict[str, list[Any]] = {}
    sheets: dict[str, list[Any]] = {}
    for s in typed:
        match s.event:
            case WorkbookCreated() as e:
                workbooks[e.workbook_id] = [e.name, False]
                sheets.update({x.sheet_id: [e.workbook_id, x.config.name, x.slug, None, False] for x in e.sheets})
            case WorkbookUpdated(name=str() as name) as e:
                workbooks[e.workbook_id][0] = name
            case SheetAdded(sheet=x) as e:
                sheets[x.sheet_id] = [e.workbook_id, x.config.name, x.slug, None, False]
            case SheetConfigChanged() as e:
                row = sheets[e.sheet_id]
                row[1:3] = [e.config.name, e.slug or e.config.slug or row[2]]  # the domain's rule
            case SheetLocked() | SheetUnlocked() as e:
                sheets[e.sheet_id][3] = e.locked_by if isinstance(e, SheetLocked) else None
            case SheetDeleted() as e:
                sheets[e.sheet_id][4] = True
            case WorkbookDeleted() as e:
                workbooks[e.workbook_id][1] = True
                for row in sheets.values():
                    row[4] = row[4] or row[0] == e.workbook_id
    return workbooks, sheets


def catalog(typed: list[StoredEvent]) -> dict[str, Rows]:
    workbooks, sheets = _sheets(typed)
    return {
        "SELECT id, name, deleted_at IS NOT NULL FROM {s}.workbook": sorted((i, *v) for i, v in workbooks.items()),
        "SELECT id, workbook_id, name, slug, locked_by, deleted_at IS NOT NULL FROM {s}.sheet": sorted(
            (i, *v) for i, v in sheets.items()
        ),
    }


def records(typed: list[StoredEvent]) -> dict[str, Rows]:
    """Record rows from the raw event JSON (neither the typed nor the Lean decoders)."""
    live: dict[str, tuple[str, int, dict[str, Any]]] = {}  # record id -> (sheet, row_no, record JSON)
    versions: dict[str, list[tuple[int, dict[str, Any]]]] = {}  # record id -> (seq, record JSON) written
    sheets: dict[str, Counter[str]] = {}
    commits: Rows = []
    for s in typed:
        if s.envelope.aggregate != record.AGGREGATE:
            continue
        data = msgspec.json.decode(s.envelope.data)
        sheet = sheets.setdefault(data["sheet_id"], Counter())
        sheet["version"] = s.seq
        for r in data.get("records", ()):
            versions.setdefault(r["id"], []).append((s.seq, r))
            if s.envelope.type == "RecordsInserted":
                sheet["inserted"] += 1
                live[r["id"]] = (data["sheet_id"], sheet["inserted"], r)
            else:
                live[r["id"]] = (*live[r["id"]][:2], r)
        if s.envelope.type == "RecordsRestored":  # absent records come back as they were at `position`
            claims: dict[str, dict[str, str]] = {}
            for record_id, name, value in data.get("claims", ()):
                claims.setdefault(record_id, {})[name] = value
            for record_id in data["record_ids"]:
                then = [r for seq, r in versions.get(record_id, ()) if seq <= data["position"]]
                if record_id in live or not then:
                    continue
                sheet["inserted"] += 1
                live[record_id] = (
                    data["sheet_id"],
                    sheet["inserted"],
                    {**then[-1], "claims": claims.get(record_id, {})},
                )
                versions[record_id].append((s.seq, live[record_id][2]))
            continue
        for record_id in data.get("record_ids", ()):
            del live[record_id]
            sheet["deleted"] += 1
        if s.envelope.type == "CommitCreated":
            commits.append((data["commit_id"], data["sheet_id"], data["kind"], s.seq - data["events"], s.seq))
    errors = Counter((sheet, f) for sheet, _, r in live.values() for f in _error_fields(r))
    workbooks, defined = _sheets(typed)
    return {
        "SELECT id, deleted FROM {s}.workbook": sorted((i, deleted) for i, (_, deleted) in workbooks.items()),
        "SELECT id, workbook_id, slug, deleted FROM {s}.sheet": sorted(
            (i, w, slug, deleted) for i, (w, _, slug, _, deleted) in defined.items()
        ),
        "SELECT id, sheet_id, row_no, valid, array_to_string(ARRAY(SELECT unnest(error_fields) ORDER BY 1), ','),"
        " cells::text FROM {s}.record": sorted(
            (i, sh, n, r.get("valid", True), ",".join(sorted(_error_fields(r))), _canonical(r["values"]))
            for i, (sh, n, r) in live.items()
        ),
        "SELECT id, total, valid, next_row, deleted_rows, version FROM {s}.sheet WHERE version > 0": sorted(
            (sh, *_counts(sh, c, live)) for sh, c in sheets.items()
        ),
        "SELECT sheet_id, name, value, record_id FROM {s}.unique_claim": sorted(
            (sh, name, value, i) for i, (sh, _, r) in live.items() for name, value in r.get("claims", {}).items()
        ),
        "SELECT sheet_id, field, errors FROM {s}.field_errors WHERE errors <> 0": sorted(
            (sh, f, n) for (sh, f), n in errors.items()
        ),
        "SELECT id, sheet_id, kind, first_seq, last_seq FROM {s}.record_commit": sorted(commits),
        "SELECT id, sheet_id, label, seq FROM {s}.snapshot": _snapshots(typed, defined),
    }


def _snapshots(typed: list[StoredEvent], defined: dict[str, list[Any]]) -> Rows:
    """Snapshots of live sheets: (id, sheet, label, position); deleted with the snapshot, sheet or space."""
    live: dict[str, tuple[str, str | None, int, str | None]] = {}
    for s in typed:
        match s.event:
            case snapshot.SnapshotCreated() as e if e.sheet_id in defined and not defined[e.sheet_id][4]:
                live[e.snapshot_id] = (e.sheet_id, e.label, s.seq, e.space_id)
            case snapshot.SnapshotDeleted() as e:
                live.pop(e.snapshot_id, None)
            case SpaceDeleted() as e:
                live = {k: v for k, v in live.items() if v[3] != e.space_id}
    return sorted((i, sh, label, seq) for i, (sh, label, seq, _) in live.items() if not defined[sh][4])


def _error_fields(r: dict[str, Any]) -> list[str]:
    return [key for key, cell in r["values"].items() if cell.get("valid", True) is False]


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True)


def _plain(value: Any) -> Any:
    """A fetched value as compared: jsonb text canonicalised (Postgres orders object keys its own way)."""
    return _canonical(json.loads(value)) if isinstance(value, str) and value[:1] in ("{", "[") else value


def _counts(sheet: str, c: Counter[str], live: dict[str, tuple[str, int, dict[str, Any]]]) -> tuple[int, ...]:
    rows = [r for sh, _, r in live.values() if sh == sheet]
    valid = sum(1 for r in rows if r.get("valid", True))
    return (len(rows), valid, c["inserted"], c["deleted"], c["version"])


# ---- jobs ---------------------------------------------------------------------------------

STATUS_AFTER = {  # the job lifecycle (reference §4.2): the status a step leaves its job in
    "JobReady": "ready",
    "JobRetried": "ready",
    "JobAcknowledged": "executing",
    "JobCompleted": "complete",
    "JobFailed": "failed",
    "JobCanceled": "canceled",
}


def _job_steps(typed: list[StoredEvent]) -> list[tuple[StoredEvent, str, list[Any] | None]]:
    """Each job event with its job's folded row after it: [environment id, space id, type,
    operation, status, deleted, position]; None for a job whose JobCreated is not recorded (the
    corpus holds one example per type: some are of jobs created elsewhere)."""
    jobs: dict[str, list[Any]] = {}
    steps: list[tuple[StoredEvent, str, list[Any] | None]] = []
    for s in typed:
        if s.envelope.aggregate != job.AGGREGATE:
            continue
        job_id = s.envelope.aggregate_id
        if isinstance(s.event, JobCreated):
            e = s.event
            jobs[job_id] = [e.environment_id, e.space_id, e.job_type, e.operation, e.status, False, s.seq]
        elif (row := jobs.get(job_id)) is not None:
            match s.event:
                case JobUpdated(status=str() as status):
                    row[4] = status
                case JobDeleted():
                    row[5] = True
                case _:
                    row[4] = STATUS_AFTER.get(s.envelope.type, row[4])
            row[6] = s.seq
        steps.append((s, job_id, list(jobs[job_id]) if job_id in jobs else None))
    return steps


def jobs(typed: list[StoredEvent]) -> dict[str, Rows]:
    last = {job_id: row for _, job_id, row in _job_steps(typed) if row is not None}
    return {
        **known_spaces(typed),
        "SELECT id, environment_id, space_id, type, operation, status, deleted, position,"
        " deadline IS NOT NULL, finished_at IS NOT NULL FROM {s}.job": sorted(
            (
                i,
                *row,
                row[4] in ("ready", "executing") and not row[5],  # the sweeper's deadline
                row[4] in ("complete", "failed", "canceled"),
            )
            for i, row in last.items()
        ),
    }


def files(typed: list[StoredEvent]) -> dict[str, Rows]:
    rows: dict[str, list[Any]] = {}  # file id -> [space id, name, status, workbook id, deleted]
    for s in typed:
        match s.event:
            case file.FileCreated() as e:
                rows[e.file_id] = [e.space_id, e.name, e.status, None, False]
            case file.FileUpdated() as e if e.file_id in rows:
                row = rows[e.file_id]
                row[1], row[2], row[3] = e.name or row[1], e.status or row[2], e.workbook_id or row[3]
            case file.FileDeleted() as e if e.file_id in rows:
                rows[e.file_id][4] = True
    return {
        **known_spaces(typed),
        "SELECT id, space_id, name, status, workbook_id, deleted FROM {s}.file": sorted(
            (i, *row) for i, row in rows.items()
        ),
    }


# ---- the Flatfile event feed ----------------------------------------------------------------

# domain event type -> the Flatfile topics it gives (reference §5.2-5.3), for the types whose
# topics do not depend on their content (those are in `_feed` below). API keys have no topic; a
# cancellation has none of its own (§5.2 lists no job:canceled): it is a `job:updated`.
FEED_TOPICS: dict[str, tuple[str, ...]] = {
    "EnvironmentCreated": ("environment:created",),
    "EnvironmentUpdated": ("environment:updated",),
    "EnvironmentDeleted": ("environment:deleted",),
    "ApiKeyIssued": (),
    "ApiKeyRevoked": (),
    "SpaceCreated": ("space:created",),
    "SpaceUpdated": ("space:updated",),
    "SpaceArchived": ("space:archived",),
    "SpaceUnarchived": ("space:unarchived",),
    "SpaceDeleted": ("space:deleted",),
    "SpaceExpired": ("space:expired",),  # a data retention policy's expiry; its SpaceDeleted follows
    "DataRetentionPolicyCreated": (),  # Flatfile has no retention policy topics
    "DataRetentionPolicyUpdated": (),
    "DataRetentionPolicyDeleted": (),
    "DocumentCreated": ("document:created",),
    "DocumentUpdated": ("document:updated",),
    "DocumentDeleted": ("document:deleted",),
    "SecretCreated": ("secret:created",),
    "SecretUpdated": ("secret:updated",),
    "SecretDeleted": ("secret:deleted",),
    "WorkbookUpdated": ("workbook:updated",),
    "WorkbookDeleted": ("workbook:deleted",),
    "SheetAdded": ("sheet:created",),
    "SheetConfigChanged": ("sheet:updated",),
    "SheetLocked": ("sheet:updated",),
    "SheetUnlocked": ("sheet:updated",),
    "SheetDeleted": ("sheet:deleted",),
    "RecordsInserted": ("records:created",),
    "RecordsUpdated": ("records:updated",),
    "RecordsDeleted": ("records:deleted",),
    "RecordsRestored": ("records:created",),
    "CommitCompleted": ("commit:completed",),
    "SnapshotCreated": ("snapshot:created",),
    "SnapshotDeleted": (),  # Flatfile has no snapshot:deleted topic
    "JobUpdated": ("job:updated",),
    "JobReady": ("job:ready",),
    "JobAcknowledged": ("job:updated",),
    "JobCompleted": ("job:completed",),
    "JobFailed": ("job:failed",),
    "JobCanceled": ("job:updated",),
    "JobRetried": ("job:ready",),
    "JobOutcomeAcknowledged": ("job:outcome-acknowledged",),
    "JobDeleted": ("job:deleted",),
    "JobPlanned": ("job:updated",),
    "FileCreated": ("file:created",),
    "FileUpdated": ("file:updated",),
    "FileDeleted": ("file:deleted",),
    "EventAcknowledged": (),  # marks the acknowledged event's row instead (§5.6)
    "ViewCreated": (),  # saved views have no Flatfile topic
    "ViewUpdated": (),
    "ViewDeleted": (),
    "AppCreated": ("app:created",),  # Spaceport's own topics (contracts.feed.EXTENSION_TOPICS)
    "AppUpdated": ("app:updated",),
    "AppDeleted": ("app:deleted",),
    "ConstraintCreated": (),  # Flatfile has no constraint topics
    "ConstraintUpdated": (),
    "ConstraintDeleted": (),
}
# topic prefix -> the event's domain (§5.1; records and commits are the workbook's, as in its example)
FEED_DOMAINS = {
    "environment": "environment",
    "space": "space",
    "document": "document",
    "secret": "secret",
    "workbook": "workbook",
    "sheet": "sheet",
    "records": "workbook",
    "commit": "workbook",
    "snapshot": "workbook",
    "job": "job",
    "file": "file",
    "app": "environment",
}
SLOTS = 1024  # an event's position is its domain event's stream position * 1024 + its ordinal (001_feed.sql)

Given = tuple[str, str | None, tuple[str, str] | None]  # topic, space id, job payload's (job, status)


def _feed(typed: list[StoredEvent]) -> list[tuple[StoredEvent, list[Given]]]:
    """Each envelope with the Flatfile events it gives, in order."""
    job_rows = {id(s): row for s, _, row in _job_steps(typed)}
    guests: dict[str, list[str]] = {}  # guest id -> the spaces granted to it
    given: list[tuple[StoredEvent, list[Given]]] = []
    for s in typed:
        space = s.envelope.space_id
        match s.event:
            case WorkbookCreated() as e:  # ... and each of its sheets
                topics = ["workbook:created", *["sheet:created"] * len(e.sheets)]
            case record.CommitCreated() as e:  # none for a hook's own write: it must not trigger hooks again
                topics = [] if e.disable_hooks else ["commit:created"]
            case GuestCreated() | GuestUpdated() | GuestDeleted() as e:  # a topic per space granted or removed
                before = guests.get(e.guest_id, [])
                after = before if isinstance(e, GuestUpdated) and e.spaces is None else _granted(e)
                guests[e.guest_id] = after
                added = [("space:guestAdded", sp, None) for sp in after if sp not in before]
                removed = [("space:guestRemoved", sp, None) for sp in before if sp not in after]
                given.append((s, [*added, *removed]))
                continue
            case JobCreated() as e:
                topics = ["job:created", "job:ready"] if e.status == "ready" else ["job:created"]
            case EventPublished() as e:  # listed as posted
                topics = [e.topic]
            case _:
                assert s.envelope.type in FEED_TOPICS, f"add {s.envelope.type} to FEED_TOPICS"
                topics = list(FEED_TOPICS[s.envelope.type])
        row = job_rows.get(id(s))
        if s.envelope.aggregate == job.AGGREGATE and row is None:
            topics = []  # a job whose creation is not recorded: the feed cannot describe it
        about = None if row is None else (f"{row[2]}:{row[3]}", row[4])
        given.append((s, [(topic, space, about) for topic in topics]))
    return given


def _granted(e: GuestCreated | GuestUpdated | GuestDeleted) -> list[str]:
    return [g.space_id for g in e.spaces or []] if isinstance(e, GuestCreated | GuestUpdated) else []


def feed(typed: list[StoredEvent]) -> dict[str, Rows]:
    listed: Rows = []
    numbered: Rows = []
    about_jobs: Rows = []
    ids_listed: set[str] = set()
    acknowledged: dict[str, tuple[str, Any]] = {}
    for s, events in _feed(typed):
        for n, (topic, space, about) in enumerate(events):
            published = s.event if isinstance(s.event, EventPublished) else None
            event_id = published.event_id if published else ids.derived_id("event", f"{s.envelope.id}:{n}", 16)
            domain = published.domain if published else FEED_DOMAINS[topic.partition(":")[0]]
            listed.append((s.seq, topic, domain, s.envelope.environment_id, space))
            numbered.append((s.seq, n, event_id))
            ids_listed.add(event_id)
            if about is not None:
                about_jobs.append((event_id, *about))
        ack = s.event  # marks the row of an earlier event; the first acknowledgement wins
        if isinstance(ack, EventAcknowledged) and ack.event_id in ids_listed and ack.event_id not in acknowledged:
            acknowledged[ack.event_id] = (ack.acknowledged_by, s.envelope.occurred_at)
    return {
        "SELECT position / 1024, topic, domain, environment_id, space_id FROM {s}.event": sorted(listed),
        "SELECT position / 1024, position % 1024, id FROM {s}.event": sorted(numbered),
        "SELECT id, body->'payload'->>'job', body->'payload'->>'status' FROM {s}.event"
        " WHERE topic LIKE 'job:%'": sorted(about_jobs),
        "SELECT id, acknowledged_by, acknowledged_at FROM {s}.event WHERE acknowledged_at IS NOT NULL": sorted(
            (i, *v) for i, v in acknowledged.items()
        ),
    }


def metrics(typed: list[StoredEvent]) -> dict[str, Rows]:
    """Per space: its Flatfile events (as `_feed` derives them), records and files created."""
    spaces: dict[str, list[Any]] = {}  # id -> [environment, app, events, inserted, updated, deleted, files]
    for s in typed:
        if isinstance(s.event, SpaceCreated):
            spaces[s.event.space_id] = [s.event.environment_id, s.event.app_id, 0, 0, 0, 0, 0]
        if isinstance(s.event, file.FileCreated) and s.event.space_id in spaces:
            spaces[s.event.space_id][6] += 1
        if s.envelope.aggregate == record.AGGREGATE and s.envelope.space_id in spaces:
            data = msgspec.json.decode(s.envelope.data)
            row = spaces[data["space_id"]]
            kind = {"RecordsInserted": 3, "RecordsUpdated": 4}.get(s.envelope.type)
            if kind is not None:
                row[kind] += len(data["records"])
            row[3 if s.envelope.type == "RecordsRestored" else 5] += len(data.get("record_ids", ()))
    for _, events in _feed(typed):
        for _, space, _ in events:
            if space in spaces:
                spaces[space][2] += 1
    return {
        "SELECT space_id, environment_id, app_id, events, records_created, records_updated, records_deleted,"
        " files_created FROM {s}.space": sorted((i, *row) for i, row in spaces.items())
    }


def history(typed: list[StoredEvent]) -> dict[str, Rows]:
    """Per records commit: one version (its kind, records, sheet); one record_change per record written."""
    commits: dict[str, list[Any]] = {}  # commit id -> [space, sheet, kind, records]
    changes: Rows = []
    for s in typed:
        if s.envelope.aggregate != record.AGGREGATE:
            continue
        data = msgspec.json.decode(s.envelope.data)
        row = commits.setdefault(data["commit_id"], [data["space_id"], data["sheet_id"], None, 0])
        kind = {
            "RecordsInserted": "insert",
            "RecordsUpdated": "update",
            "RecordsDeleted": "delete",
            "RecordsRestored": "insert",
        }
        row[2] = data["kind"] if s.envelope.type == "CommitCreated" else row[2] or kind.get(s.envelope.type, "commit")
        row[3] += len(data.get("records", ())) + len(data.get("record_ids", ()))
        changes += [(r["id"], s.seq, data["commit_id"]) for r in data.get("records", ())]
        if s.envelope.type == "RecordsRestored":
            changes += [(i, s.seq, data["commit_id"]) for i in data["record_ids"]]
    return {
        "SELECT id, space_id, sheet_id, kind, records FROM {s}.version WHERE sheet_id IS NOT NULL": sorted(
            (i, *row) for i, row in commits.items()
        ),
        "SELECT record_id, seq, commit_id FROM {s}.record_change": sorted(changes),
    }


EXPECTATIONS: dict[type, Expectations] = {
    KnownSpaces: known_spaces,
    FileProjection: files,
    JobProjection: jobs,
    SpaceDirectory: directory,
    WorkbookCatalog: catalog,
    RecordsProjection: records,
    FeedProjection: feed,
    MetricsProjection: metrics,
    HistoryProjection: history,
}
