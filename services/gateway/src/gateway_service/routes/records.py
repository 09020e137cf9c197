"""`/v1/sheets/{id}/records|counts|download|cells|commits|find-replace` (`/v1/commits/{id}`: routes/commits.py).

Record bodies are never parsed here: the (gunzipped) bytes go to the record service, by claim
check when large, and pages come back as JSON bytes that are wrapped and passed through.
`PUT …/records?commitId=…` is an event's `dataUrl` (the listener's gzip `event.update`): query
parameters are ignored there. Writes sent with `X-Disable-Hooks: true` (the SDK and listeners do)
make commits whose `CommitCreated.disable_hooks` is set, so hooks do not run on their own writes.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import msgspec
from litestar import Request, Response, delete, get, post, put
from litestar.response import Stream

from gateway_service.api_docs import CSV_FILE, JSON_OBJECT
from gateway_service.auth import principal_of, require_space_access
from gateway_service.body import body_bytes, decode, refuse_nul_record_ids
from gateway_service.query import bool_param, int_param, list_param, param
from gateway_service.state import Gateway
from spaceport.claimcheck import ClaimCheck
from spaceport.contracts.feed import SERVICE as EVENTS
from spaceport.contracts.feed import FlatfileEvent, GetEvent
from spaceport.contracts.record import (
    MAX_REPLY,
    SERVICE,
    CellsReply,
    CommitList,
    Counts,
    CsvChunk,
    DeleteRecords,
    DownloadChunk,
    FindReplace,
    GetCells,
    GetCounts,
    GetRecordIndices,
    GetRecords,
    GetSheetScope,
    InsertRecords,
    ListCommits,
    RecordIndices,
    RecordQuery,
    RecordsReply,
    SheetScope,
    UpdateRecords,
    Validated,
    ValidateSheet,
    Written,
    page_json,
)
from spaceport.contracts.space import Principal
from spaceport.errors import NotFoundError, ValidationFailedError

MAX_QUERY_IDS = 10_000
PAGE_CHUNK = 5_000  # records per reply of a page above MAX_REPLY (streamed)
READ_TIMEOUT = 60.0  # a page, a download chunk or counts of a large sheet
WRITE_TIMEOUT = 120.0  # a write of up to a whole body of records
VALIDATE_TIMEOUT = 600.0  # every record of a sheet decided again (~100k records/s, writes aside)
FILTERS = ("valid", "error", "all", "none")
_encoder = msgspec.json.Encoder()
_scopes: dict[str, SheetScope] = {}  # a sheet never changes space: safe to remember
_claims: dict[int, ClaimCheck] = {}


class FindReplaceBody(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    field_key: str
    find: Any = None
    replace: Any = None


def claims(gateway: Gateway) -> ClaimCheck:
    found = _claims.get(id(gateway))
    if found is None:
        found = _claims[id(gateway)] = ClaimCheck(gateway.broker.connection)
    return found


async def sheet_scope(gateway: Gateway, sheet_id: str) -> SheetScope:
    """The sheet's workbook, space and environment (remembered: they never change)."""
    scope = _scopes.get(sheet_id)
    if scope is None:
        scope = await gateway.rpc.request(SERVICE, GetSheetScope(sheet_id=sheet_id), SheetScope)
        if len(_scopes) > 100_000:
            _scopes.clear()
        _scopes[sheet_id] = scope
    return scope


async def authorize(
    request: Request[Any, Any, Any], gateway: Gateway, sheet_id: str, *, write: bool
) -> tuple[Principal, SheetScope]:
    principal = await principal_of(request, gateway)
    scope = await sheet_scope(gateway, sheet_id)
    require_space_access(
        principal,
        scope.environment_id,
        scope.space_id,
        write=write,
        asked=("sheet", sheet_id),
        workbook_id=scope.workbook_id,
    )
    return principal, scope


def json_response(body: bytes) -> Response[bytes]:
    return Response(content=body, media_type="application/json", status_code=200)


def data(value: object) -> bytes:
    return b'{"data":' + _encoder.encode(value) + b"}"


# ---- query strings --------------------------------------------------------------------------


def record_query(request: Request[Any, Any, Any]) -> RecordQuery:
    filter_ = param(request, "filter")
    if filter_ is not None and filter_ not in FILTERS:
        raise ValidationFailedError(f"filter must be one of {', '.join(FILTERS)}", key="filter")
    direction = (param(request, "sortDirection") or "asc").lower()
    if direction not in ("asc", "desc"):
        raise ValidationFailedError("sortDirection must be asc or desc", key="sortDirection")
    ids = list_param(request, "ids")
    if len(ids) > MAX_QUERY_IDS:
        raise ValidationFailedError(f"at most {MAX_QUERY_IDS} ids", key="ids")
    return RecordQuery(
        filter=filter_,  # type: ignore[arg-type]
        filter_field=param(request, "filterField"),
        search_value=request.query_params.get("searchValue"),
        search_field=param(request, "searchField"),
        sort_field=param(request, "sortField"),
        sort_direction=direction,  # type: ignore[arg-type]
        ids=ids,
        commit_id=param(request, "commitId", "versionId"),
        since_commit_id=param(request, "sinceCommitId", "sinceVersionId"),
        q=request.query_params.get("q"),
        as_of=param(request, "asOf"),
    )


# ---- records --------------------------------------------------------------------------------


def hooks_disabled(request: Request[Any, Any, Any]) -> bool:
    """`X-Disable-Hooks: true` (any case); `x-force-hooks: true` wins over it (Flatfile's plugins send it)."""
    if request.headers.get("x-force-hooks", "").strip().lower() == "true":
        return False
    return request.headers.get("x-disable-hooks", "").strip().lower() == "true"


def _versioned(written: Written) -> Response[bytes]:
    return json_response(data({"versionId": written.commit_id, "commitId": written.commit_id}))


async def _write(gateway: Gateway, command: InsertRecords | UpdateRecords | DeleteRecords | FindReplace) -> Written:
    return await gateway.rpc.request(SERVICE, command, Written, timeout=WRITE_TIMEOUT)


async def _write_body(
    request: Request[Any, Any, Any], gateway: Gateway, sheet_id: str, command_type: type[InsertRecords | UpdateRecords]
) -> Written:
    """Send the request's records (raw bytes, by claim check when large) to be inserted or updated."""
    principal, _ = await authorize(request, gateway, sheet_id, write=True)
    raw = await body_bytes(request)
    if command_type is UpdateRecords:
        refuse_nul_record_ids(raw)
    body = await claims(gateway).pack(raw)
    idempotency_key = request.headers.get("idempotency-key")
    command = command_type(
        principal=principal,
        sheet_id=sheet_id,
        body=body,
        idempotency_key=idempotency_key,
        disable_hooks=hooks_disabled(request),
    )
    return await _write(gateway, command)


# what `for=<eventId>` takes from the event's dataUrl (its record query), unless the request sets it
FOR_EVENT = {"commitId": "commit_id", "versionId": "commit_id", "sinceCommitId": "since_commit_id"}


async def for_event(
    gateway: Gateway, principal: Principal, sheet_id: str, query: RecordQuery, event_id: str
) -> RecordQuery:
    """`for=<eventId>`: the query that event's `dataUrl` names (e.g. a commit:created's commitId)."""
    guest_space = principal.space_id if principal.kind == "guest" else None
    asked = GetEvent(environment_id=principal.environment_id, event_id=event_id, space_id=guest_space)
    try:
        event = await gateway.rpc.request(EVENTS, asked, FlatfileEvent)
    except NotFoundError:
        raise NotFoundError(f"event {event_id[:80]} not found", key="for") from None
    url = urlsplit(event.data_url or "")
    if not url.path.rstrip("/").endswith(f"sheets/{sheet_id}/records"):
        raise ValidationFailedError(f"event {event_id} names no records of sheet {sheet_id} (its dataUrl)", key="for")
    taken: dict[str, str] = {}
    for name, values in parse_qs(url.query).items():
        field = FOR_EVENT.get(name)
        if field is not None and getattr(query, field) is None and values:
            taken[field] = values[0]
    return msgspec.structs.replace(query, **taken)


@get("/v1/sheets/{sheet_id:str}/records", responses=JSON_OBJECT)
async def get_records(request: Request[Any, Any, Any], gateway: Gateway, sheet_id: str) -> Response[bytes] | Stream:
    principal, _ = await authorize(request, gateway, sheet_id, write=False)
    selection = record_query(request)
    if (event_id := param(request, "for")) is not None:
        selection = await for_event(gateway, principal, sheet_id, selection, event_id)
    query = GetRecords(
        sheet_id=sheet_id,
        query=selection,
        page_size=int_param(request, "pageSize", 10_000),
        page_number=int_param(request, "pageNumber", 1),
        fields=list_param(request, "fields"),
        include_messages=bool_param(request, "includeMessages", True),
        include_counts=bool_param(request, "includeCounts", False) or bool_param(request, "includeLength", False),
        include_links=bool_param(request, "includeLinks", False),
        tail=True,
    )
    if query.page_size > MAX_REPLY:  # one reply holds the page: no stream
        return await _streamed_page(gateway, query)
    reply, records = await _page(gateway, query)
    counts = b',"counts":' + _encoder.encode(reply.counts) if reply.counts is not None else b""
    return json_response(b"".join((b'{"data":{"success":true,"records":', records, counts, b"}}")))


async def _page(gateway: Gateway, query: GetRecords) -> tuple[RecordsReply, bytes | memoryview]:
    """A page's reply and its records' JSON array: the reply's tail (passed on unparsed), else
    its embedded or claim-checked page."""
    reply, tail = await gateway.rpc.request_tailed(SERVICE, query, RecordsReply, timeout=READ_TIMEOUT)
    return reply, tail if tail is not None else await page_json(reply, claims(gateway).unpack)


async def _streamed_page(gateway: Gateway, query: GetRecords) -> Stream:
    """A page above MAX_REPLY records (Flatfile allows 50,000) goes out as it is read, chunk by
    chunk, so neither service holds it whole. The first chunk is read before the response
    starts, so a bad query still gets its 4xx; chunks after it see later writes, if any (each
    continues where the previous one ended)."""
    first = msgspec.structs.replace(query, limit=PAGE_CHUNK)
    reply, head = await _page(gateway, first)
    counts = b',"counts":' + _encoder.encode(reply.counts) if reply.counts is not None else b""

    async def chunks() -> AsyncIterator[bytes]:
        yield b'{"data":{"success":true,"records":['
        body, offset, written = bytes(head), 0, False
        while True:
            inner = body.strip()[1:-1]
            if inner.strip():
                yield (b"," if written else b"") + inner
                written = True
            offset += PAGE_CHUNK
            if offset >= query.page_size or not inner.strip():
                break
            limit = min(PAGE_CHUNK, query.page_size - offset)
            chunk = msgspec.structs.replace(query, offset=offset, limit=limit, include_counts=False)
            body = bytes((await _page(gateway, chunk))[1])
        yield b"]" + counts + b"}}"

    return Stream(chunks(), media_type="application/json")


@post("/v1/sheets/{sheet_id:str}/records", status_code=200, responses=JSON_OBJECT)
async def insert_records(request: Request[Any, Any, Any], gateway: Gateway, sheet_id: str) -> Response[bytes]:
    written = await _write_body(request, gateway, sheet_id, InsertRecords)
    records = await claims(gateway).unpack(written.records) if written.records is not None else b"[]"
    commit = _encoder.encode(written.commit_id)
    return json_response(
        b'{"data":{"success":true,"records":' + records + b',"commitId":' + commit + b',"versionId":' + commit + b"}}"
    )


@put("/v1/sheets/{sheet_id:str}/records", status_code=200, responses=JSON_OBJECT)
async def update_records(request: Request[Any, Any, Any], gateway: Gateway, sheet_id: str) -> Response[bytes]:
    return _versioned(await _write_body(request, gateway, sheet_id, UpdateRecords))


@delete("/v1/sheets/{sheet_id:str}/records", status_code=200, responses=JSON_OBJECT)
async def delete_records(request: Request[Any, Any, Any], gateway: Gateway, sheet_id: str) -> Response[bytes]:
    principal, _ = await authorize(request, gateway, sheet_id, write=True)
    query = record_query(request)
    by_query = query.filter in ("valid", "error", "all") or query.search_value is not None or bool(query.q)
    if not by_query and not query.ids:
        raise ValidationFailedError("pass ids=… or a filter (filter=all deletes every record)", key="ids")
    command = DeleteRecords(
        principal=principal,
        sheet_id=sheet_id,
        ids=[] if by_query else query.ids,
        query=query if by_query else None,
        idempotency_key=request.headers.get("idempotency-key"),
        disable_hooks=hooks_disabled(request),
    )
    written = await _write(gateway, command)
    return json_response(data({"success": True, "commitId": written.commit_id}))


@put("/v1/sheets/{sheet_id:str}/find-replace", status_code=200, responses=JSON_OBJECT)
async def find_replace(request: Request[Any, Any, Any], gateway: Gateway, sheet_id: str) -> Response[bytes]:
    principal, _ = await authorize(request, gateway, sheet_id, write=True)
    body = await decode(request, FindReplaceBody)
    command = FindReplace(
        principal=principal,
        sheet_id=sheet_id,
        field_key=body.field_key,
        find=body.find,
        replace=body.replace,
        query=record_query(request),
        idempotency_key=request.headers.get("idempotency-key"),
        disable_hooks=hooks_disabled(request),
    )
    return _versioned(await _write(gateway, command))


@post("/v1/sheets/{sheet_id:str}/validate", status_code=200, responses=JSON_OBJECT)
async def validate_sheet(request: Request[Any, Any, Any], gateway: Gateway, sheet_id: str) -> Response[bytes]:
    """Every record validated again against the sheet's current config; Flatfile's `Success`.
    The commits it makes always trigger hooks (that is the endpoint's purpose; the SDK sends
    `X-Disable-Hooks: true` on every call)."""
    principal, _ = await authorize(request, gateway, sheet_id, write=True)
    command = ValidateSheet(principal=principal, sheet_id=sheet_id)
    await gateway.rpc.request(SERVICE, command, Validated, timeout=VALIDATE_TIMEOUT)
    return json_response(data({"success": True}))


# ---- counts, cells, download, commits ----------------------------------------------------------


@get("/v1/sheets/{sheet_id:str}/counts", responses=JSON_OBJECT)
async def get_counts(request: Request[Any, Any, Any], gateway: Gateway, sheet_id: str) -> Response[bytes]:
    await authorize(request, gateway, sheet_id, write=False)
    query = GetCounts(sheet_id=sheet_id, query=record_query(request), by_field=bool_param(request, "byField", False))
    counts = await gateway.rpc.request(SERVICE, query, Counts, timeout=READ_TIMEOUT)
    return json_response(data({"success": True, "counts": counts}))


@get("/v1/sheets/{sheet_id:str}/cells", responses=JSON_OBJECT)
async def get_cells(request: Request[Any, Any, Any], gateway: Gateway, sheet_id: str) -> Response[bytes]:
    await authorize(request, gateway, sheet_id, write=False)
    field_key = param(request, "fieldKey")
    if field_key is None:
        raise ValidationFailedError("fieldKey is required", key="fieldKey")
    if not bool_param(request, "distinct", True):
        raise ValidationFailedError(
            "only distinct values are served: distinct must be true (as Flatfile requires)", key="distinct"
        )
    query = GetCells(
        sheet_id=sheet_id,
        field_key=field_key,
        query=record_query(request),
        page_size=int_param(request, "pageSize", 1000),
        page_number=int_param(request, "pageNumber", 1),
        include_counts=bool_param(request, "includeCounts", False),
    )
    reply = await gateway.rpc.request(SERVICE, query, CellsReply, timeout=READ_TIMEOUT)
    return json_response(b'{"data":' + await claims(gateway).unpack(reply.cells) + b"}")


@get("/v1/sheets/{sheet_id:str}/records/indices", responses=JSON_OBJECT)
async def record_indices(request: Request[Any, Any, Any], gateway: Gateway, sheet_id: str) -> Response[bytes]:
    """Where records stand in a filtered, sorted view: a bare `[{id, index}]`, as the SDK parses it."""
    await authorize(request, gateway, sheet_id, write=False)
    selection = record_query(request)
    if not selection.ids:
        raise ValidationFailedError("ids is required: the records whose positions you want", key="ids")
    query = GetRecordIndices(sheet_id=sheet_id, ids=selection.ids, query=msgspec.structs.replace(selection, ids=[]))
    reply = await gateway.rpc.request(SERVICE, query, RecordIndices, timeout=READ_TIMEOUT)
    return json_response(_encoder.encode(reply.indices))


@get("/v1/sheets/{sheet_id:str}/download", responses=CSV_FILE)
async def download(request: Request[Any, Any, Any], gateway: Gateway, sheet_id: str) -> Stream:
    await authorize(request, gateway, sheet_id, write=False)
    query = record_query(request)
    first = await gateway.rpc.request(
        SERVICE, DownloadChunk(sheet_id=sheet_id, query=query), CsvChunk, timeout=READ_TIMEOUT
    )

    async def chunks() -> AsyncIterator[bytes]:
        chunk = first
        yield await claims(gateway).unpack(chunk.csv)
        while not chunk.done:
            request_next = DownloadChunk(
                sheet_id=sheet_id, query=query, after=chunk.after, offset=chunk.offset, header=False
            )
            chunk = await gateway.rpc.request(SERVICE, request_next, CsvChunk, timeout=READ_TIMEOUT)
            yield await claims(gateway).unpack(chunk.csv)

    headers = {"Content-Disposition": f'attachment; filename="{sheet_id}.csv"'}
    return Stream(chunks(), media_type="text/csv", headers=headers)


@get("/v1/sheets/{sheet_id:str}/commits", responses=JSON_OBJECT)
async def list_commits(request: Request[Any, Any, Any], gateway: Gateway, sheet_id: str) -> Response[bytes]:
    await authorize(request, gateway, sheet_id, write=False)
    completed = None if param(request, "completed") is None else bool_param(request, "completed", False)
    query = ListCommits(sheet_id=sheet_id, completed=completed)
    commits = await gateway.rpc.request(SERVICE, query, CommitList)
    return json_response(data(commits.data))


ROUTES = [
    get_records,
    insert_records,
    update_records,
    delete_records,
    find_replace,
    validate_sheet,
    get_counts,
    get_cells,
    record_indices,
    download,
    list_commits,
]
