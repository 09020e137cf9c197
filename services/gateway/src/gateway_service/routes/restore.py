"""`/v1/spaces/{spaceId}/restore`: a space's records (or one sheet's) brought back to how they were
at an earlier moment (Flatfile's space restore, reference §7; docs/api.md "Restore").

`GET` previews (what would be deleted, reverted, re-created per sheet; nothing is written);
`POST` starts a `space:restore` job that executes it by appending commits (history is kept); the
job's outcome says what it did and, per sheet, the position to restore to in order to undo it.
The moment is `dateTime` (ISO-8601), `versionId` (a version of the space, as `/versions` lists
it: a records commit or a workbook change; resolved here to its sequence by the job service's
history) or `sequence` (a stream position).
Workbooks and sheet configs are part of it (the workbook service's `RestoreWorkbooks`): the
preview's `workbooks` say what would be deleted, revived or updated; the job restores them before
the records (so records are validated against the restored fields). With `sheetId`, only that
sheet's config and records. The outcome's `undoSequence` undoes all of it.
Secret keys only; another environment's space answers 404.
"""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import Request, get, post

from gateway_service.auth import secret_principal
from gateway_service.body import data, decode
from gateway_service.ids import is_id
from gateway_service.query import bool_param, param
from gateway_service.state import Gateway
from spaceport import moments
from spaceport.contracts import job, record, space, workbook
from spaceport.contracts.history import SERVICE as HISTORY
from spaceport.contracts.history import Position, ResolvePosition
from spaceport.contracts.job import CreateJob, GetJob, JobSpec, JobView, JobWritten
from spaceport.contracts.record import RestoreRecords, RestoreReport
from spaceport.contracts.space import GetSpace, SpaceView
from spaceport.contracts.workbook import RestoreWorkbooks, WorkbooksRestored
from spaceport.errors import ValidationFailedError

RESTORE_TIMEOUT = 120.0  # a preview: one difference query per sheet


class RestoreBody(msgspec.Struct, frozen=True, kw_only=True, rename="camel", forbid_unknown_fields=True):
    date_time: str | None = None
    version_id: str | None = None
    sequence: int | None = None
    sheet_id: str | None = None
    created: bool = True
    updated: bool = True
    deleted: bool = True
    workbooks: bool = True  # False: records only (workbooks and sheet configs left as they are)


def _moment(date_time: str | None, version_id: str | None, sequence: int | str | None) -> str:
    given = [v for v in (date_time, version_id, sequence) if v not in (None, "")]
    if len(given) != 1:
        raise ValidationFailedError("pass exactly one of dateTime, versionId or sequence", key="dateTime")
    moment = str(given[0])
    if sequence is not None:
        moments.sequence(moment, "sequence")
    if version_id and not is_id(version_id, "commit"):
        raise ValidationFailedError(f"versionId {version_id[:80]!r} is not a version id (us_vr_…)", key="versionId")
    return moment


async def _space(gateway: Gateway, environment_id: str, space_id: str) -> None:
    """404 for an unknown space or another environment's."""
    await gateway.rpc.request(space.SERVICE, GetSpace(environment_id=environment_id, space_id=space_id), SpaceView)


async def _position(gateway: Gateway, space_id: str, moment: str, version_id: str | None) -> str:
    """A version id of the space as its stream sequence (404 when it is not one of the space's)."""
    if not version_id:
        return moment
    query = ResolvePosition(space_id=space_id, version_id=version_id)
    return str((await gateway.rpc.request(HISTORY, query, Position)).sequence)


async def _restore(
    request: Request[Any, Any, Any], gateway: Gateway, space_id: str, cmd: RestoreRecords, *, workbooks: bool = True
) -> Any:
    """The preview of both parts: workbooks and sheet configs (unless not `workbooks`), then records
    (as they are now)."""
    await _space(gateway, cmd.principal.environment_id, space_id)
    books = RestoreWorkbooks(principal=cmd.principal, space_id=space_id, as_of=cmd.as_of, sheet_id=cmd.sheet_id)
    restored = None
    if workbooks:
        restored = await gateway.rpc.request(workbook.SERVICE, books, WorkbooksRestored, timeout=RESTORE_TIMEOUT)
    report = await gateway.rpc.request(record.SERVICE, cmd, RestoreReport, timeout=RESTORE_TIMEOUT)
    return data(report if restored is None else msgspec.structs.replace(report, workbooks=restored.workbooks))


@get("/v1/spaces/{space_id:str}/restore")
async def preview_restore(request: Request[Any, Any, Any], gateway: Gateway, space_id: str) -> Any:
    principal = await secret_principal(request, gateway)
    moment = _moment(param(request, "dateTime"), param(request, "versionId"), param(request, "sequence"))
    await _space(gateway, principal.environment_id, space_id)  # 404 before the version is looked up
    moment = await _position(gateway, space_id, moment, param(request, "versionId"))
    cmd = RestoreRecords(
        principal=principal, space_id=space_id, sheet_id=param(request, "sheetId"), as_of=moment, preview=True
    )
    return await _restore(request, gateway, space_id, cmd, workbooks=bool_param(request, "workbooks", True))


@post("/v1/spaces/{space_id:str}/restore", status_code=200)
async def execute_restore(request: Request[Any, Any, Any], gateway: Gateway, space_id: str) -> Any:
    """Checks the request as a preview does (400/404 now, not as a failed job), then creates the
    `space:restore` job the record service's worker runs (`record_service.entrypoints.restorer`):
    workbooks and sheet configs first, then records with progress after every commit, an outcome
    message, `outcome.undo` = per sheet the sequence to restore its records to in order to undo it,
    `outcome.undoSequence` = the position before the restore (restoring the space, or the sheet, to
    it undoes configs and records). -> `{data: Job}`."""
    principal = await secret_principal(request, gateway)
    await _space(gateway, principal.environment_id, space_id)  # 404 before the body is looked at
    body = await decode(request, RestoreBody)
    if body.sequence is not None:
        moments.sequence(str(body.sequence), "sequence")
    moment = await _position(
        gateway, space_id, _moment(body.date_time, body.version_id, body.sequence), body.version_id
    )
    check = RestoreRecords(principal=principal, space_id=space_id, sheet_id=body.sheet_id, as_of=moment, preview=True)
    await _restore(request, gateway, space_id, check, workbooks=body.workbooks)
    config = {
        "asOf": moment,
        "versionId": body.version_id,  # as given (`asOf` is its sequence)
        "sheetId": body.sheet_id,
        "created": body.created,
        "updated": body.updated,
        "deleted": body.deleted,
        "workbooks": body.workbooks,
    }
    spec = JobSpec(
        job_type="space",
        operation="restore",
        source=space_id,
        trigger="immediate",
        mode="foreground",
        config=config,
        info="Restore requested",
    )
    command = CreateJob(
        principal=principal, space_id=space_id, spec=spec, idempotency_key=request.headers.get("idempotency-key")
    )
    written = await gateway.rpc.request(job.SERVICE, command, JobWritten)
    view = await gateway.rpc.request(
        job.SERVICE, GetJob(principal=principal, job_id=written.job_id, min_position=written.position), JobView
    )
    return data(view)


ROUTES = [preview_restore, execute_restore]
