"""`/v1/snapshots`: named points in a sheet's history (Flatfile's snapshots API, reference §2.10,
§7; docs/api.md "Snapshots"), answered by the record service.

Access is that of the sheet's records: reading a snapshot (its summary, its diff records) needs
read access to the sheet's space, creating, deleting and restoring one write access. Another
environment's snapshot answers 404.
"""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import Request, Response, delete, get, post

from gateway_service.api_docs import JSON_OBJECT
from gateway_service.auth import principal_of, view_in_space
from gateway_service.body import decode
from gateway_service.ids import is_id
from gateway_service.query import bool_param, int_param, param
from gateway_service.routes.records import authorize, claims, data, json_response
from gateway_service.state import Gateway
from spaceport.contracts.snapshot import (
    CHANGE_TYPES,
    SERVICE,
    CreateSnapshot,
    DeleteSnapshot,
    DiffRecordsReply,
    GetSnapshot,
    GetSnapshotRecords,
    ListSnapshots,
    RestoreSnapshot,
    SnapshotList,
    SnapshotRestored,
    SnapshotView,
    SnapshotWritten,
)
from spaceport.contracts.space import Principal
from spaceport.errors import ValidationFailedError

RESTORE_TIMEOUT = 600.0  # up to a whole sheet deleted, reverted or re-created
DIFF_TIMEOUT = 120.0  # the difference of a big sheet since its snapshot
SUCCESS = b'{"data":{"success":true}}'


class SnapshotBody(msgspec.Struct, frozen=True, kw_only=True, rename="camel", forbid_unknown_fields=True):
    sheet_id: str
    label: str | None = None
    thread_id: str | None = None


class RestoreBody(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Flatfile's RestoreOptions; a left-out option restores that kind of change too."""

    created: bool = True
    updated: bool = True
    deleted: bool = True


def _sheet_id(value: str | None) -> str:
    if not value:
        raise ValidationFailedError("sheetId is required", key="sheetId")
    if not is_id(value, "sheet"):
        raise ValidationFailedError(f"sheetId {value[:80]!r} is not a sheet id", key="sheetId")
    return value


async def _snapshot(
    gateway: Gateway, principal: Principal, snapshot_id: str, *, write: bool, summary: bool = False, after: int = 0
) -> SnapshotView:
    query = GetSnapshot(snapshot_id=snapshot_id, include_summary=summary, min_position=after)
    return await view_in_space(
        gateway, principal, SERVICE, query, SnapshotView, asked=("snapshot", snapshot_id), write=write
    )


@post("/v1/snapshots", status_code=200, responses=JSON_OBJECT)
async def create_snapshot(request: Request[Any, Any, Any], gateway: Gateway) -> Response[bytes]:
    body = await decode(request, SnapshotBody)
    principal, _ = await authorize(request, gateway, _sheet_id(body.sheet_id), write=True)
    command = CreateSnapshot(
        principal=principal,
        sheet_id=body.sheet_id,
        label=body.label,
        thread_id=body.thread_id,
        idempotency_key=request.headers.get("idempotency-key"),
    )
    written = await gateway.rpc.request(SERVICE, command, SnapshotWritten)
    view = await _snapshot(gateway, principal, written.snapshot_id, write=False, after=written.position)
    return json_response(data(view))


@get("/v1/snapshots", responses=JSON_OBJECT)
async def list_snapshots(request: Request[Any, Any, Any], gateway: Gateway) -> Response[bytes]:
    sheet_id = _sheet_id(param(request, "sheetId"))
    await authorize(request, gateway, sheet_id, write=False)
    query = ListSnapshots(sheet_id=sheet_id, thread_id=param(request, "threadId"))
    reply = await gateway.rpc.request(SERVICE, query, SnapshotList)
    return json_response(data(reply.data))


@get("/v1/snapshots/{snapshot_id:str}", responses=JSON_OBJECT)
async def get_snapshot(request: Request[Any, Any, Any], gateway: Gateway, snapshot_id: str) -> Response[bytes]:
    principal = await principal_of(request, gateway)
    summary = bool_param(request, "includeSummary", default=False)
    return json_response(data(await _snapshot(gateway, principal, snapshot_id, write=False, summary=summary)))


@get("/v1/snapshots/{snapshot_id:str}/records", responses=JSON_OBJECT)
async def snapshot_records(request: Request[Any, Any, Any], gateway: Gateway, snapshot_id: str) -> Response[bytes]:
    change = request.query_params.get("changeType")  # an empty one is no kind either
    if change is not None and change not in CHANGE_TYPES:
        raise ValidationFailedError(f"changeType must be one of {', '.join(CHANGE_TYPES)}", key="changeType")
    query = GetSnapshotRecords(
        snapshot_id=snapshot_id,
        change_type=change,  # checked above
        page_size=int_param(request, "pageSize", 1000),
        page_number=int_param(request, "pageNumber", 1),
    )
    principal = await principal_of(request, gateway)
    await _snapshot(gateway, principal, snapshot_id, write=False)
    reply = await gateway.rpc.request(SERVICE, query, DiffRecordsReply, timeout=DIFF_TIMEOUT)
    return json_response(b'{"data":' + await claims(gateway).unpack(reply.records) + b"}")


@post("/v1/snapshots/{snapshot_id:str}/restore", status_code=200, responses=JSON_OBJECT)
async def restore_snapshot(request: Request[Any, Any, Any], gateway: Gateway, snapshot_id: str) -> Response[bytes]:
    """-> `{data: Snapshot}`, plus (a Spaceport addition) `restore`: the commits it appended and
    how many records it deleted (`createdSince`), reverted (`updatedSince`) and re-created."""
    principal = await principal_of(request, gateway)
    view = await _snapshot(gateway, principal, snapshot_id, write=True)
    body = await decode(request, RestoreBody)
    command = RestoreSnapshot(
        principal=principal, snapshot_id=snapshot_id, created=body.created, updated=body.updated, deleted=body.deleted
    )
    done = await gateway.rpc.request(SERVICE, command, SnapshotRestored, timeout=RESTORE_TIMEOUT)
    out: dict[str, Any] = msgspec.to_builtins(view)
    out["restore"] = {
        "commitIds": done.commit_ids,
        "createdSince": done.created_since,
        "updatedSince": done.updated_since,
        "deletedSince": done.deleted_since,
    }
    return json_response(data(out))


@delete("/v1/snapshots/{snapshot_id:str}", status_code=200, responses=JSON_OBJECT)
async def delete_snapshot(request: Request[Any, Any, Any], gateway: Gateway, snapshot_id: str) -> Response[bytes]:
    principal = await principal_of(request, gateway)
    await _snapshot(gateway, principal, snapshot_id, write=True)
    await gateway.rpc.request(SERVICE, DeleteSnapshot(principal=principal, snapshot_id=snapshot_id), SnapshotWritten)
    return json_response(SUCCESS)


ROUTES = [create_snapshot, list_snapshots, get_snapshot, snapshot_records, restore_snapshot, delete_snapshot]
