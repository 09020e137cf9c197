"""The record service's contract: record events, commits, commands, queries and wire views.

Records are bulk data: one event carries up to `MAX_RECORDS_PER_EVENT` records (and stays under
`MAX_EVENT_BYTES`); one API write is one commit, i.e. one atomic append of its record events
followed by a `CommitCreated` (see services/record/README.md). Cells travel in their wire form
(`{value, valid, messages, updatedAt}`), so a projection or a listener passes them through.

Large request and reply bodies (inserts of tens of thousands of records, pages, CSV chunks) do not
fit a NATS message; they travel by claim check (`spaceport.claimcheck.Payload`).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any, ClassVar, Literal

import msgspec

from spaceport.claimcheck import Payload
from spaceport.contracts.space import Principal
from spaceport.contracts.workbook import WorkbookRestore
from spaceport.events import Event

SERVICE = "record"
AGGREGATE = "records"  # one aggregate per sheet: evt.<space>.records.<sheet_id>.<event>
MAX_RECORDS_PER_EVENT = 1000
MAX_EVENT_BYTES = 512 * 1024
MAX_RECORDS_PER_WRITE = 100_000
MAX_CELL_BYTES = 64 * 1024
MAX_IDS = 10_000
MAX_REPLY = 10_000  # records in one GetRecords reply; a bigger page is asked for in chunks (offset, limit)


class Wire(msgspec.Struct, frozen=True, kw_only=True, rename="camel", omit_defaults=True):
    pass


# ---- cells and records (wire form, also inside events) ------------------------------------


class Message(msgspec.Struct, frozen=True, kw_only=True, rename="camel", gc=False):
    """Flatfile's ValidationMessage; `source` defaults to custom-logic (listeners strip it)."""

    message: str = ""
    type: Literal["error", "warn", "info"] = "error"
    source: str = "custom-logic"
    field: str | None = None
    path: str | None = None


class Cell(msgspec.Struct, frozen=True, kw_only=True, rename="camel", gc=False):
    """Stored and served as is: `valid` and `messages` are always written out."""

    value: Any = None
    valid: bool = True
    messages: list[Message] = msgspec.field(default_factory=list)
    updated_at: datetime | None = None


class CellConfig(Wire, frozen=True, kw_only=True, gc=False):
    """Flatfile's `CellConfig`: `readonly` binds guests and publishable keys (not secret keys)."""

    readonly: bool | None = None


class RecordConfig(Wire, frozen=True, kw_only=True, gc=False):
    """Flatfile's `RecordConfig` (`record.config`): a readonly record, readonly cells, a mark.

    Stored and served as written; `readonly` and `fields.<key>.readonly` bind guests and
    publishable keys, who may not change the config either (services/record/README.md)."""

    readonly: bool | None = None
    fields: dict[str, CellConfig] | None = None
    marked_for_deletion: bool | None = None


class StoredRecord(Wire, frozen=True, kw_only=True, gc=False):
    """A record's full state after a write. `errorFields` is derived from the cells.
    `config`: the record's config (None: none; absent in events written before it existed)."""

    id: str
    values: dict[str, Cell]
    valid: bool = True
    metadata: dict[str, Any] = msgspec.field(default_factory=dict)
    error_fields: list[str] = msgspec.field(default_factory=list)
    claims: dict[str, str] = msgspec.field(default_factory=dict)  # unique key name -> value held
    # unique key name -> value wanted but held by another record (flagged `unique-constraint`)
    waits: dict[str, str] = msgspec.field(default_factory=dict)
    config: RecordConfig | None = None


class WireRecord(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    """Flatfile's `Record` as the API returns it."""

    id: str
    values: dict[str, Cell]
    valid: bool
    metadata: dict[str, Any]
    config: RecordConfig | None = None
    commit_id: str | None = None
    version_id: str | None = None


# ---- events (aggregate `records`, id = sheet id) -------------------------------------------


class CommitSource(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    """Where a commit's values came from, beyond its actor: the job that wrote it, the file it was
    extracted from, or the source sheet and fields it was mapped from (destination -> source key).

    `fields` of an extraction: field key -> the file's column header. `rows`: the source row of
    each inserted record, in the commit's insert order, as runs `(first row, count)` (one run when
    the rows are consecutive): an extraction's rows are the file's data rows (1: the first row
    under the header), a mapping's the source records' row numbers in the source sheet.
    `restored_to`: the commit is a restore's (`POST /v1/spaces/{id}/restore`) back to that position."""

    job_id: str | None = None
    file_id: str | None = None
    sheet_id: str | None = None
    fields: dict[str, str] | None = None
    rows: list[tuple[int, int]] | None = None
    restored_to: int | None = None  # a space/sheet restore's commit: the stream position it restored to


def row_runs(rows: list[int]) -> list[tuple[int, int]]:
    """Row numbers as `CommitSource.rows`: runs of consecutive rows, `(first row, count)`."""
    runs: list[tuple[int, int]] = []
    for row in rows:
        if runs and runs[-1][0] + runs[-1][1] == row:
            runs[-1] = (runs[-1][0], runs[-1][1] + 1)
        else:
            runs.append((row, 1))
    return runs


def row_at(runs: Any, ordinal: int) -> int | None:
    """The source row of the commit's `ordinal`-th inserted record (0-based), from `CommitSource.rows`
    (or its JSON form, lists); None past the end."""
    for first, count in runs or ():
        if ordinal < count:
            return int(first) + ordinal
        ordinal -= count
    return None


class RecordsEvent(Event, frozen=True, kw_only=True):
    aggregate: ClassVar[str] = AGGREGATE
    sheet_id: str
    workbook_id: str
    space_id: str
    commit_id: str


class RecordsInserted(RecordsEvent, frozen=True, kw_only=True):
    records: list[StoredRecord]


class RecordsUpdated(RecordsEvent, frozen=True, kw_only=True):
    """Each record's whole state after the update (so a commit can be read back from events)."""

    records: list[StoredRecord]


class RecordsDeleted(RecordsEvent, frozen=True, kw_only=True):
    record_ids: list[str]


class CommitCreated(RecordsEvent, frozen=True, kw_only=True):
    """Last event of a write's atomic append; `events` record events precede it."""

    kind: Literal["insert", "update", "delete", "find-replace", "restore"]  # restore: a snapshot's (mixed)
    events: int
    record_count: int
    created_by: str = ""
    idempotency_key: str | None = None
    disable_hooks: bool = False  # written with `X-Disable-Hooks: true`: no `commit:created` for listeners
    source: CommitSource | None = None  # provenance (extraction and mapping jobs); None: the actor says it all


class CommitCompleted(RecordsEvent, frozen=True, kw_only=True):
    """`POST /v1/commits/{id}/complete`: the listener's hooks are done with this commit."""

    completed_by: str = ""


class RestoredClaim(msgspec.Struct, frozen=True, array_like=True):
    """A unique value a restored record holds again: `[record_id, key name, value]`."""

    record_id: str
    name: str
    value: str


class RecordsRestored(RecordsEvent, frozen=True, kw_only=True):
    """Records re-created (same ids) exactly as they were at stream position `position`: a space
    or sheet restore's compact insert (services/record/README.md "Restore of a big sheet").

    Ids only, no cells: each record's version at `position` is the one the read model already
    keeps (`record_history`: a deleted record's last version), so a projection copies it in SQL;
    a rebuild reads the same history, written by earlier events. `claims`: the unique values the
    records hold again, as the command side decided them (no record of the event waits for one).
    Up to `MAX_RECORDS_PER_EVENT * 5` ids per event."""

    position: int
    record_ids: list[str]
    claims: list[RestoredClaim] = msgspec.field(default_factory=list)


EVENTS: tuple[type[Event], ...] = (
    RecordsInserted,
    RecordsUpdated,
    RecordsDeleted,
    CommitCreated,
    CommitCompleted,
    RecordsRestored,
)


# ---- lean twins: records kept as encoded bytes where they only pass through ----------------


class RawRecordsEvent(Event, frozen=True, kw_only=True):
    aggregate: ClassVar[str] = AGGREGATE
    sheet_id: str
    workbook_id: str
    space_id: str
    commit_id: str


class RawRecordsInserted(RawRecordsEvent, frozen=True, kw_only=True, tag="RecordsInserted"):
    records: list[msgspec.Raw]


class RawRecordsUpdated(RawRecordsEvent, frozen=True, kw_only=True, tag="RecordsUpdated"):
    records: list[msgspec.Raw]


# ---- queries and commands --------------------------------------------------------------------


class RecordQuery(msgspec.Struct, frozen=True, kw_only=True):
    """The selection shared by list, count, download, delete-by-filter and find-replace."""

    filter: Literal["valid", "error", "all", "none"] | None = None
    filter_field: str | None = None
    search_value: str | None = None
    search_field: str | None = None
    sort_field: str | None = None
    sort_direction: Literal["asc", "desc"] = "asc"
    ids: list[str] = msgspec.field(default_factory=list)
    commit_id: str | None = None
    since_commit_id: str | None = None
    q: str | None = None  # FFQL (record_service.domain.ffql)
    # reads as the records were (an ISO-8601 time, a version/commit id or a stream sequence); reads only
    as_of: str | None = None


class GetSheetScope(msgspec.Struct, frozen=True, kw_only=True):
    """-> SheetScope (404 when unknown or deleted). The gateway authorizes with it."""

    sheet_id: str


class SheetScope(msgspec.Struct, frozen=True, kw_only=True):
    sheet_id: str
    workbook_id: str
    space_id: str
    environment_id: str
    slug: str


class GetRecords(msgspec.Struct, frozen=True, kw_only=True):
    """-> RecordsReply whose `records` is a JSON array of Flatfile records."""

    sheet_id: str
    query: RecordQuery = msgspec.field(default_factory=RecordQuery)
    page_size: int = 10_000
    page_number: int = 1
    fields: list[str] = msgspec.field(default_factory=list)
    include_messages: bool = True
    include_counts: bool = False
    min_position: int = 0
    include_links: bool = False  # reference cells get `links`: the records they point to
    # one chunk of the page: its records [offset, offset + limit) (pages above 10,000 records)
    offset: int = 0
    limit: int | None = None
    # the page as the reply's tail (`messaging.Tailed`), not inside its JSON: the gateway passes
    # it on without parsing it (the reply's `page` then stays unset)
    tail: bool = False


class Counts(Wire, frozen=True, kw_only=True):
    total: int
    valid: int
    error: int
    errors_by_field: dict[str, int] | None = None
    by_field: dict[str, dict[str, int]] | None = None


NO_PAGE = msgspec.Raw(b"null")


class RecordsReply(msgspec.Struct, frozen=True, kw_only=True):
    """`page`: the records' JSON array embedded as is (no base64) when it fits one NATS message;
    else `records` carries it (by claim check). `page_json()` reads either."""

    records: Payload = msgspec.field(default_factory=Payload)
    counts: Counts | None = None
    commit_id: str | None = None
    position: int = 0
    page: msgspec.Raw = NO_PAGE  # (a Raw field cannot be Optional: `null` marks "not embedded")


async def page_json(reply: RecordsReply, unpack: Callable[[Payload], Awaitable[bytes]]) -> bytes:
    """The JSON array of records a `RecordsReply` carries (`unpack`: the claim check's)."""
    page = bytes(reply.page)
    return page if page != b"null" else await unpack(reply.records)


class GetCounts(msgspec.Struct, frozen=True, kw_only=True):
    sheet_id: str
    query: RecordQuery = msgspec.field(default_factory=RecordQuery)
    by_field: bool = False
    min_position: int = 0


class DownloadChunk(msgspec.Struct, frozen=True, kw_only=True):
    """-> CsvChunk: up to `limit` rows after `after` (the previous chunk's cursor)."""

    sheet_id: str
    query: RecordQuery = msgspec.field(default_factory=RecordQuery)
    after: int = 0
    offset: int = 0
    limit: int = 5000
    header: bool = True


class CsvChunk(msgspec.Struct, frozen=True, kw_only=True):
    csv: Payload
    rows: int
    after: int
    offset: int
    done: bool


class InsertRecords(msgspec.Struct, frozen=True, kw_only=True):
    """Body: a JSON array of `{fieldKey: {value, messages?, metadata?}}`."""

    principal: Principal
    sheet_id: str
    body: Payload
    idempotency_key: str | None = None
    disable_hooks: bool = False  # `X-Disable-Hooks: true`: CommitCreated.disable_hooks


class ImportRecords(msgspec.Struct, frozen=True, kw_only=True):
    """The columnar bulk insert. Body: an Arrow IPC stream, one column per field key (cell values,
    usually strings); validated column-wise and inserted as one commit, no records in the reply."""

    principal: Principal
    sheet_id: str
    body: Payload
    idempotency_key: str | None = None
    disable_hooks: bool = False
    source: CommitSource | None = None  # the extraction job and file (CommitCreated.source)


class FieldMapping(msgspec.Struct, frozen=True, kw_only=True):
    """One source field's values into one destination field; `values`: source value -> the
    destination's value (enum mappings; unlisted values pass as they are)."""

    source: str
    destination: str
    values: dict[str, Any] = msgspec.field(default_factory=dict)


class MapRecords(msgspec.Struct, frozen=True, kw_only=True):
    """Copy up to `limit` records of the source sheet after row `after_row`, mapped field by field,
    into the destination sheet as one commit (the columnar path); the reply says where it stopped."""

    principal: Principal
    source_sheet_id: str
    destination_sheet_id: str
    fields: list[FieldMapping]
    after_row: int = 0
    limit: int = 50_000
    idempotency_key: str | None = None
    job_id: str | None = None  # the mapping job (CommitCreated.source, with the source sheet and fields)


class Mapped(msgspec.Struct, frozen=True, kw_only=True):
    """`last_row`: the source row the next page starts after; `done`: no source rows after it."""

    written: Written
    read: int
    last_row: int
    done: bool


class UpdateRecords(msgspec.Struct, frozen=True, kw_only=True):
    """Body: a JSON array of `{id, values: {fieldKey: {value?, messages?}}, metadata?}`."""

    principal: Principal
    sheet_id: str
    body: Payload
    idempotency_key: str | None = None
    disable_hooks: bool = False  # `X-Disable-Hooks: true`: CommitCreated.disable_hooks


class DeleteRecords(msgspec.Struct, frozen=True, kw_only=True):
    """Delete `ids`, or every record the query selects when `by_query`."""

    principal: Principal
    sheet_id: str
    ids: list[str] = msgspec.field(default_factory=list)
    query: RecordQuery | None = None
    idempotency_key: str | None = None
    disable_hooks: bool = False  # `X-Disable-Hooks: true`: CommitCreated.disable_hooks


class FindReplace(msgspec.Struct, frozen=True, kw_only=True):
    principal: Principal
    sheet_id: str
    field_key: str
    find: Any = None
    replace: Any = None
    query: RecordQuery = msgspec.field(default_factory=RecordQuery)
    idempotency_key: str | None = None
    disable_hooks: bool = False  # `X-Disable-Hooks: true`: CommitCreated.disable_hooks


class ValidateSheet(msgspec.Struct, frozen=True, kw_only=True):
    """`POST /v1/sheets/{id}/validate`: every record of the sheet validated again against the
    sheet's current fields and constraints; the records whose state changes are written (one
    commit per 10,000 records read, kind `update`). -> Validated."""

    principal: Principal
    sheet_id: str
    disable_hooks: bool = False


class Validated(msgspec.Struct, frozen=True, kw_only=True):
    """The commits `ValidateSheet` made (none when no record changed), records rewritten, position."""

    commit_ids: list[str]
    record_count: int
    position: int


class RestoreRecords(msgspec.Struct, frozen=True, kw_only=True):
    """Bring sheets' records back to how they were at `as_of` (an ISO-8601 time, a record commit
    id of the space, or a stream sequence): `sheet_id`, or every live sheet of `space_id`.
    With `preview` nothing is written. Flatfile's RestoreOptions: `created` deletes the records
    created since, `updated` reverts those updated since, `deleted` re-creates (same ids) those
    deleted since. Executed as commits appended (history is kept); a rerun writes only what still
    differs, so no idempotency key is needed; -> RestoreReport."""

    principal: Principal
    space_id: str
    sheet_id: str | None = None
    as_of: str
    preview: bool = True
    created: bool = True
    updated: bool = True
    deleted: bool = True


class SheetRestore(Wire, frozen=True, kw_only=True):
    sheet_id: str
    workbook_id: str
    position: int  # the stream position the sheet's records are brought back to
    created_since: int  # records created since: deleted by the restore
    updated_since: int  # reverted to their earlier values
    deleted_since: int  # re-created with their ids
    before: int = 0  # the sheet's position before the restore: restoring to it undoes the restore
    commit_ids: list[str] = msgspec.field(default_factory=list)


class RestoreReport(Wire, frozen=True, kw_only=True):
    space_id: str
    preview: bool
    sheets: list[SheetRestore]
    # the workbook part (the workbook service's `WorkbooksRestored.workbooks`), added by whoever
    # runs both parts: the gateway's preview, the restore job; empty from the record service
    workbooks: list[WorkbookRestore] = msgspec.field(default_factory=list)


class Written(msgspec.Struct, frozen=True, kw_only=True):
    """Where a write landed. `records` (inserts only): the inserted records as a JSON array."""

    commit_id: str | None
    position: int
    record_count: int
    records: Payload | None = None
    counts: Counts | None = None


class CommitView(Wire, frozen=True, kw_only=True):
    id: str
    sheet_id: str
    created_by: str
    created_at: datetime
    completed_by: str | None = None
    completed_at: datetime | None = None


class GetCommit(msgspec.Struct, frozen=True, kw_only=True):
    commit_id: str
    min_position: int = 0


class CommitReply(msgspec.Struct, frozen=True, kw_only=True):
    commit: CommitView
    space_id: str
    environment_id: str


class ListCommits(msgspec.Struct, frozen=True, kw_only=True):
    sheet_id: str
    completed: bool | None = None  # True: only completed commits, False: only open ones


class CompleteCommit(msgspec.Struct, frozen=True, kw_only=True):
    """Append `CommitCompleted` to the commit's sheet, once (completing again changes nothing)."""

    principal: Principal
    commit_id: str


class CommitCompletion(msgspec.Struct, frozen=True, kw_only=True):
    """Where the `CommitCompleted` landed (0: the commit was completed already)."""

    commit_id: str
    position: int


class CommitList(msgspec.Struct, frozen=True, kw_only=True):
    data: list[CommitView]


class GetCells(msgspec.Struct, frozen=True, kw_only=True):
    """-> CellsReply: distinct values of one field (`/sheets/{id}/cells`), most frequent first, or
    by value when `query.sort_field` is the field itself; `include_counts`: each with its count."""

    sheet_id: str
    field_key: str
    query: RecordQuery = msgspec.field(default_factory=RecordQuery)
    page_size: int = 1000
    page_number: int = 1
    include_counts: bool = True


class CellsReply(msgspec.Struct, frozen=True, kw_only=True):
    cells: Payload


class GetRecordIndices(msgspec.Struct, frozen=True, kw_only=True):
    """-> RecordIndices: where each of `ids` stands (0-based) among the records `query` selects, in
    its order (`sortField`, else row order); -1 for a record it does not select (or that is gone)."""

    sheet_id: str
    ids: list[str]
    query: RecordQuery = msgspec.field(default_factory=RecordQuery)
    min_position: int = 0


class RecordIndex(msgspec.Struct, frozen=True, kw_only=True):
    id: str
    index: int


class RecordIndices(msgspec.Struct, frozen=True, kw_only=True):
    indices: list[RecordIndex]


# ---- sheet counts in bulk (the gateway composes `Sheet.recordCounts` with it) ------------------


class GetSheetCounts(msgspec.Struct, frozen=True, kw_only=True):
    """-> SheetCountsList: the unfiltered `{total, valid, error}` of up to `MAX_IDS` sheets in one request.

    The maintained counters are read (one indexed query for all sheets); a sheet the record service
    has not seen yet, or a deleted one, has no entry (the caller shows zero or nothing).
    """

    sheet_ids: list[str]


class SheetCountsList(msgspec.Struct, frozen=True, kw_only=True):
    counts: dict[str, Counts]
