"""`/v1/spaces/{spaceId}/restore`: a space's records (or one sheet's) brought back to how they were
at an earlier moment (Flatfile's space restore, reference §7; docs/api.md "Restore").

`GET` previews (what would be deleted, reverted, re-created per sheet; nothing is written);
`POST` executes by appending commits (history is kept), and answers what it did with, per sheet,
`before`: the position to restore to in order to undo it. The moment is `dateTime` (ISO-8601),
`versionId` (a commit of the space) or `sequence` (a stream position, as `/versions` lists it).
Secret keys only; another environment's space answers 404.
"""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import Request, get, post

from gateway_service.auth import secret_principal
from gateway_service.body import data, decode
from gateway_service.query import param
from gateway_service.state import Gateway
from spaceport.contracts import record, space
from spaceport.contracts.record import RestoreRecords, RestoreReport
from spaceport.contracts.space import GetSpace, SpaceView
from spaceport.errors import ValidationFailedError

RESTORE_TIMEOUT = 600.0  # a restore of a 1,000,000-record sheet writes 100 commits


class RestoreBody(msgspec.Struct, frozen=True, kw_only=True, rename="camel", forbid_unknown_fields=True):
    date_time: str | None = None
    version_id: str | None = None
    sequence: int | None = None
    sheet_id: str | None = None
    created: bool = True
    updated: bool = True
    deleted: bool = True


def _moment(date_time: str | None, version_id: str | None, sequence: int | str | None) -> str:
    given = [v for v in (date_time, version_id, sequence) if v not in (None, "")]
    if len(given) != 1:
        raise ValidationFailedError("pass exactly one of dateTime, versionId or sequence", key="dateTime")
    moment = str(given[0])
    if sequence is not None and not moment.isdigit():
        raise ValidationFailedError("sequence is a stream position (a whole number >= 0)", key="sequence")
    return moment


async def _restore(request: Request[Any, Any, Any], gateway: Gateway, space_id: str, cmd: RestoreRecords) -> Any:
    principal = cmd.principal
    await gateway.rpc.request(
        space.SERVICE, GetSpace(environment_id=principal.environment_id, space_id=space_id), SpaceView
    )  # 404 for an unknown space or another environment's
    report = await gateway.rpc.request(record.SERVICE, cmd, RestoreReport, timeout=RESTORE_TIMEOUT)
    return data(report)


@get("/v1/spaces/{space_id:str}/restore")
async def preview_restore(request: Request[Any, Any, Any], gateway: Gateway, space_id: str) -> Any:
    principal = await secret_principal(request, gateway)
    moment = _moment(param(request, "dateTime"), param(request, "versionId"), param(request, "sequence"))
    cmd = RestoreRecords(
        principal=principal, space_id=space_id, sheet_id=param(request, "sheetId"), as_of=moment, preview=True
    )
    return await _restore(request, gateway, space_id, cmd)


@post("/v1/spaces/{space_id:str}/restore", status_code=200)
async def execute_restore(request: Request[Any, Any, Any], gateway: Gateway, space_id: str) -> Any:
    principal = await secret_principal(request, gateway)
    body = await decode(request, RestoreBody)
    if body.sequence is not None and body.sequence < 0:
        raise ValidationFailedError("sequence is a stream position (a whole number >= 0)", key="sequence")
    cmd = RestoreRecords(
        principal=principal,
        space_id=space_id,
        sheet_id=body.sheet_id,
        as_of=_moment(body.date_time, body.version_id, body.sequence),
        preview=False,
        created=body.created,
        updated=body.updated,
        deleted=body.deleted,
        idempotency_key=request.headers.get("idempotency-key"),
    )
    return await _restore(request, gateway, space_id, cmd)


ROUTES = [preview_restore, execute_restore]
