"""`/v1/sheets/{id}/records|counts|download|cells|commits|find-replace` and `/v1/commits/{id}`.

Record bodies are never parsed here: the (gunzipped) bytes go to the record service, by claim
check when large, and pages come back as JSON bytes that are wrapped and passed through.
"""

from __future__ import annotations

import zlib
from collections.abc import AsyncIterator
from typing import Any

import msgspec
from litestar import Request, Response, delete, get, post, put
from litestar.response import Stream

from gateway_service.auth import principal_of, require_space_access
from gateway_service.body import decode
from gateway_service.state import Gateway
from spaceport.claimcheck import ClaimCheck
from spaceport.contracts.record import (
    SERVICE,
    CellsReply,
    CommitList,
    CommitReply,
    Counts,
    CsvChunk,
    DeleteRecords,
    DownloadChunk,
    FindReplace,
    GetCells,
    GetCommit,
    GetCounts,
    GetRecords,
    GetSheetScope,
    InsertRecords,
    ListCommits,
    RecordQuery,
    RecordsReply,
    SheetScope,
    UpdateRecords,
    Written,
)
from spaceport.contracts.space import Principal
from spaceport.errors import PayloadTooLargeError, ValidationFailedError

MAX_INFLATED = 64 * 1024 * 1024
MAX_QUERY_IDS = 10_000
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


async def authorize(
    request: Request[Any, Any, Any], gateway: Gateway, sheet_id: str, *, write: bool
) -> tuple[Principal, SheetScope]:
    principal = await principal_of(request, gateway)
    scope = _scopes.get(sheet_id)
    if scope is None:
        scope = await gateway.rpc.request(SERVICE, GetSheetScope(sheet_id=sheet_id), SheetScope)
        if len(_scopes) > 100_000:
            _scopes.clear()
        _scopes[sheet_id] = scope
    require_space_access(principal, scope.environment_id, scope.space_id, write=write, asked=("sheet", sheet_id))
    return principal, scope


def json_response(body: bytes) -> Response[bytes]:
    return Response(content=body, media_type="application/json", status_code=200)


def data(value: object) -> bytes:
    return b'{"data":' + _encoder.encode(value) + b"}"


# ---- query strings --------------------------------------------------------------------------


def _one(request: Request[Any, Any, Any], *names: str) -> str | None:
    for name in names:
        value = request.query_params.get(name)
        if value not in (None, ""):
            return str(value)
    return None


def _int(request: Request[Any, Any, Any], name: str, default: int) -> int:
    value = _one(request, name)
    if value is None:
        return default
    try:
        return int(value)
    except ValueError:
        raise ValidationFailedError(f"{name} must be an integer", key=name) from None


def _bool(request: Request[Any, Any, Any], name: str, default: bool) -> bool:
    value = _one(request, name)
    if value is None:
        return default
    if value.lower() not in ("true", "false", "1", "0"):
        raise ValidationFailedError(f"{name} must be true or false", key=name)
    return value.lower() in ("true", "1")


def _list(request: Request[Any, Any, Any], name: str) -> list[str]:
    values = [str(v) for v in request.query_params.getall(name, [])]
    return [p for v in values for p in v.split(",") if p]


def record_query(request: Request[Any, Any, Any]) -> RecordQuery:
    filter_ = _one(request, "filter")
    if filter_ is not None and filter_ not in FILTERS:
        raise ValidationFailedError(f"filter must be one of {', '.join(FILTERS)}", key="filter")
    direction = (_one(request, "sortDirection") or "asc").lower()
    if direction not in ("asc", "desc"):
        raise ValidationFailedError("sortDirection must be asc or desc", key="sortDirection")
    if _one(request, "q") is not None:
        raise ValidationFailedError("q (FFQL) is not supported yet; use filter, searchValue and ids", key="q")
    ids = _list(request, "ids")
    if len(ids) > MAX_QUERY_IDS:
        raise ValidationFailedError(f"at most {MAX_QUERY_IDS} ids", key="ids")
    return RecordQuery(
        filter=filter_,  # type: ignore[arg-type]
        filter_field=_one(request, "filterField"),
        search_value=request.query_params.get("searchValue"),
        search_field=_one(request, "searchField"),
        sort_field=_one(request, "sortField"),
        sort_direction=direction,  # type: ignore[arg-type]
        ids=ids,
        commit_id=_one(request, "commitId", "versionId"),
        since_commit_id=_one(request, "sinceCommitId", "sinceVersionId"),
    )


async def body_bytes(request: Request[Any, Any, Any]) -> bytes:
    raw = await request.body()
    if request.headers.get("content-encoding", "").lower() not in ("gzip", "x-gzip"):
        return raw
    inflater = zlib.decompressobj(wbits=31)
    try:
        out = inflater.decompress(raw, MAX_INFLATED)
    except zlib.error as problem:
        raise ValidationFailedError(f"the gzip body is corrupt: {problem}") from None
    if inflater.unconsumed_tail:
        raise PayloadTooLargeError(f"the inflated body is larger than {MAX_INFLATED} bytes")
    return out


# ---- records --------------------------------------------------------------------------------


@get("/v1/sheets/{sheet_id:str}/records")
async def get_records(request: Request[Any, Any, Any], gateway: Gateway, sheet_id: str) -> Response[bytes]:
    await authorize(request, gateway, sheet_id, write=False)
    query = GetRecords(
        sheet_id=sheet_id,
        query=record_query(request),
        page_size=_int(request, "pageSize", 10_000),
        page_number=_int(request, "pageNumber", 1),
        fields=_list(request, "fields"),
        include_messages=_bool(request, "includeMessages", True),
        include_counts=_bool(request, "includeCounts", False) or _bool(request, "includeLength", False),
    )
    reply = await gateway.rpc.request(SERVICE, query, RecordsReply, timeout=60.0)
    records = await claims(gateway).unpack(reply.records)
    counts = b',"counts":' + _encoder.encode(reply.counts) if reply.counts is not None else b""
    return json_response(b'{"data":{"success":true,"records":' + records + counts + b"}}")


@post("/v1/sheets/{sheet_id:str}/records", status_code=200)
async def insert_records(request: Request[Any, Any, Any], gateway: Gateway, sheet_id: str) -> Response[bytes]:
    principal, _ = await authorize(request, gateway, sheet_id, write=True)
    body = await claims(gateway).pack(await body_bytes(request))
    command = InsertRecords(
        principal=principal, sheet_id=sheet_id, body=body, idempotency_key=request.headers.get("idempotency-key")
    )
    written = await gateway.rpc.request(SERVICE, command, Written, timeout=120.0)
    records = await claims(gateway).unpack(written.records) if written.records is not None else b"[]"
    commit = _encoder.encode(written.commit_id)
    return json_response(
        b'{"data":{"success":true,"records":' + records + b',"commitId":' + commit + b',"versionId":' + commit + b"}}"
    )


@put("/v1/sheets/{sheet_id:str}/records", status_code=200)
async def update_records(request: Request[Any, Any, Any], gateway: Gateway, sheet_id: str) -> Response[bytes]:
    principal, _ = await authorize(request, gateway, sheet_id, write=True)
    body = await claims(gateway).pack(await body_bytes(request))
    command = UpdateRecords(
        principal=principal, sheet_id=sheet_id, body=body, idempotency_key=request.headers.get("idempotency-key")
    )
    written = await gateway.rpc.request(SERVICE, command, Written, timeout=120.0)
    return json_response(data({"versionId": written.commit_id, "commitId": written.commit_id}))


@delete("/v1/sheets/{sheet_id:str}/records", status_code=200)
async def delete_records(request: Request[Any, Any, Any], gateway: Gateway, sheet_id: str) -> Response[bytes]:
    principal, _ = await authorize(request, gateway, sheet_id, write=True)
    query = record_query(request)
    by_query = query.filter in ("valid", "error", "all") or query.search_value is not None
    if not by_query and not query.ids:
        raise ValidationFailedError("pass ids=… or a filter (filter=all deletes every record)", key="ids")
    command = DeleteRecords(
        principal=principal,
        sheet_id=sheet_id,
        ids=[] if by_query else query.ids,
        query=query if by_query else None,
        idempotency_key=request.headers.get("idempotency-key"),
    )
    written = await gateway.rpc.request(SERVICE, command, Written, timeout=120.0)
    return json_response(data({"success": True, "commitId": written.commit_id}))


@put("/v1/sheets/{sheet_id:str}/find-replace", status_code=200)
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
    )
    written = await gateway.rpc.request(SERVICE, command, Written, timeout=120.0)
    return json_response(data({"versionId": written.commit_id, "commitId": written.commit_id}))


# ---- counts, cells, download, commits ----------------------------------------------------------


@get("/v1/sheets/{sheet_id:str}/counts")
async def get_counts(request: Request[Any, Any, Any], gateway: Gateway, sheet_id: str) -> Response[bytes]:
    await authorize(request, gateway, sheet_id, write=False)
    query = GetCounts(sheet_id=sheet_id, query=record_query(request), by_field=_bool(request, "byField", False))
    counts = await gateway.rpc.request(SERVICE, query, Counts, timeout=60.0)
    return json_response(data({"success": True, "counts": counts}))


@get("/v1/sheets/{sheet_id:str}/cells")
async def get_cells(request: Request[Any, Any, Any], gateway: Gateway, sheet_id: str) -> Response[bytes]:
    await authorize(request, gateway, sheet_id, write=False)
    field_key = _one(request, "fieldKey")
    if field_key is None:
        raise ValidationFailedError("fieldKey is required", key="fieldKey")
    query = GetCells(
        sheet_id=sheet_id,
        field_key=field_key,
        query=record_query(request),
        page_size=_int(request, "pageSize", 1000),
        page_number=_int(request, "pageNumber", 1),
    )
    reply = await gateway.rpc.request(SERVICE, query, CellsReply, timeout=60.0)
    return json_response(b'{"data":' + await claims(gateway).unpack(reply.cells) + b"}")


@get("/v1/sheets/{sheet_id:str}/download")
async def download(request: Request[Any, Any, Any], gateway: Gateway, sheet_id: str) -> Stream:
    await authorize(request, gateway, sheet_id, write=False)
    query = record_query(request)
    first = await gateway.rpc.request(SERVICE, DownloadChunk(sheet_id=sheet_id, query=query), CsvChunk, timeout=60.0)

    async def chunks() -> AsyncIterator[bytes]:
        chunk = first
        yield await claims(gateway).unpack(chunk.csv)
        while not chunk.done:
            request_next = DownloadChunk(
                sheet_id=sheet_id, query=query, after=chunk.after, offset=chunk.offset, header=False
            )
            chunk = await gateway.rpc.request(SERVICE, request_next, CsvChunk, timeout=60.0)
            yield await claims(gateway).unpack(chunk.csv)

    headers = {"Content-Disposition": f'attachment; filename="{sheet_id}.csv"'}
    return Stream(chunks(), media_type="text/csv", headers=headers)


@get("/v1/sheets/{sheet_id:str}/commits")
async def list_commits(request: Request[Any, Any, Any], gateway: Gateway, sheet_id: str) -> Response[bytes]:
    await authorize(request, gateway, sheet_id, write=False)
    commits = await gateway.rpc.request(SERVICE, ListCommits(sheet_id=sheet_id), CommitList)
    return json_response(data(commits.data))


@get("/v1/commits/{commit_id:str}")
async def get_commit(request: Request[Any, Any, Any], gateway: Gateway, commit_id: str) -> Response[bytes]:
    principal = await principal_of(request, gateway)
    reply = await gateway.rpc.request(SERVICE, GetCommit(commit_id=commit_id), CommitReply)
    require_space_access(principal, reply.environment_id, reply.space_id, write=False, asked=("commit", commit_id))
    return json_response(data(reply.commit))


ROUTES = [
    get_records,
    insert_records,
    update_records,
    delete_records,
    find_replace,
    get_counts,
    get_cells,
    download,
    list_commits,
    get_commit,
]
