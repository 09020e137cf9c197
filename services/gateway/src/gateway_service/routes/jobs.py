"""`/v1/jobs`: Flatfile's jobs and their lifecycle (the job service), and actions -> jobs.

`POST /v1/jobs` resolves what the job acts on before the job service sees it: the space (from a
space, workbook, sheet or document source; Spaceport's `spaceId` otherwise), the workbook and
sheet context, and — when `operation` names an action declared on that workbook, sheet or
document — the action itself, its `mode`, and its constraints (hasData, hasAllValid,
hasSelection), checked against the record counts. Other operations are listener-defined jobs.
Writes answer the job as it is after them (read-your-writes through `min_position`).
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any, Literal

import msgspec
from litestar import Request, delete, get, patch, post, put

from gateway_service import compose
from gateway_service.auth import (
    environment_of,
    principal_of,
    refuse_publishable,
    require_secret,
    require_space_access,
    require_space_role,
    require_workbook,
)
from gateway_service.body import MAX_JSON_BODY, SUCCESS, Int32, data, decode
from gateway_service.ids import is_id
from gateway_service.query import bool_param, int_param, param
from gateway_service.state import Gateway
from spaceport.contracts import file, record, workbook
from spaceport.contracts.job import (
    SERVICE,
    AckJob,
    AcknowledgeJobOutcome,
    CancelJob,
    CompleteJob,
    CreateJob,
    DeleteJob,
    ExecuteJob,
    FailJob,
    GetJob,
    GetJobPlan,
    JobPage,
    JobPlanView,
    JobSpec,
    JobView,
    JobWritten,
    ListJobs,
    RetryJob,
    SetJobPlan,
    UpdateJob,
)
from spaceport.contracts.space import SERVICE as SPACE
from spaceport.contracts.space import DocumentView, GetDocument, Principal
from spaceport.errors import ConflictError, NotFoundError, ServiceUnavailableError, ValidationFailedError

BASE = "/v1/jobs"
ONE = BASE + "/{job_id:str}"
Json = dict[str, Any]
_TOKEN = re.compile(r"^[A-Za-z0-9_\-]{1,255}$")
COUNTS_TIMEOUT = 60.0


class NewJobBody(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    """Flatfile's JobConfig; `timeoutSeconds` and `spaceId` are Spaceport additions."""

    type: str
    operation: str
    source: str
    destination: str | None = None
    config: Json | None = None
    trigger: str | None = None
    status: str | None = None
    mode: str | None = None
    input: Json | None = None
    subject: Json | None = None
    managed: bool | None = None
    file_id: str | None = None
    environment_id: str | None = None
    progress: int | None = None
    info: str | None = None
    outcome: Json | None = None
    parent_id: str | None = None
    predecessor_ids: list[str] | None = None
    part: Int32 | None = None
    part_data: Json | None = None
    part_execution: str | None = None
    metadata: Json | None = None
    timeout_seconds: float | None = None
    space_id: str | None = None


class JobUpdateBody(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    status: str | None = None
    progress: int | None = None
    info: str | None = None
    config: Json | None = None
    metadata: Json | None = None
    outcome_acknowledged_at: datetime | None = None
    estimated_completion_at: datetime | None = None


class AckBody(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    info: str | None = None
    progress: int | None = None
    estimated_completion_at: datetime | None = None


class OutcomeBody(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    outcome: Json | None = None
    info: str | None = None


class CancelBody(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    info: str | None = None


class PlanBody(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    """Flatfile's JobExecutionPlan (`PUT`/`PATCH /v1/jobs/{id}/plan`)."""

    field_mapping: list[Json] = msgspec.field(default_factory=list)
    unmapped_source_fields: list[Json] = msgspec.field(default_factory=list)
    unmapped_destination_fields: list[Json] = msgspec.field(default_factory=list)


class Target(msgspec.Struct, frozen=True, kw_only=True):
    """What a new job acts on, as the gateway resolved it."""

    space_id: str | None = None
    workbook_id: str | None = None
    sheet_id: str | None = None
    document_id: str | None = None
    actions: list[Json] = msgspec.field(default_factory=list)
    sheet_ids: list[str] = msgspec.field(default_factory=list)  # whose records the action's constraints count


# ---- resolving the target and the action ---------------------------------------------------


def _token(value: str | None, key: str) -> None:
    if value is not None and not _TOKEN.match(value):
        raise ValidationFailedError(f"{key} {value[:80]!r} is not an id", key=key)


async def _target(gateway: Gateway, principal: Principal, body: NewJobBody) -> Target:
    source = body.source
    if body.type == "workbook":
        wb = await gateway.rpc.request(
            workbook.SERVICE, workbook.GetWorkbook(workbook_id=source), workbook.WorkbookView
        )
        require_space_access(
            principal, wb.environment_id, wb.space_id, write=True, asked=("workbook", source), workbook_id=wb.id
        )
        sheets = [s.id for s in wb.sheets or []]
        return Target(space_id=wb.space_id, workbook_id=wb.id, actions=wb.actions, sheet_ids=sheets)
    if body.type == "sheet":
        sheet = await gateway.rpc.request(workbook.SERVICE, workbook.GetSheet(sheet_id=source), workbook.SheetView)
        require_space_access(
            principal,
            sheet.environment_id,
            sheet.space_id,
            write=True,
            asked=("sheet", source),
            workbook_id=sheet.workbook_id,
        )
        actions = sheet.config.actions or []
        return Target(
            space_id=sheet.space_id,
            workbook_id=sheet.workbook_id,
            sheet_id=sheet.id,
            actions=actions,
            sheet_ids=[source],
        )
    if body.type == "space":
        require_space_role(principal, source, "write")
        return Target(space_id=source)
    space_id = body.space_id or principal.space_id
    if space_id is not None:
        require_space_role(principal, space_id, "write")
    else:
        refuse_publishable(principal)
        require_secret(principal)
    if body.type == "document":
        if space_id is None:
            raise ValidationFailedError("a document job needs spaceId (the document's space)", key="spaceId")
        query = GetDocument(environment_id=principal.environment_id, space_id=space_id, document_id=source)
        document = await gateway.rpc.request(SPACE, query, DocumentView)
        return Target(space_id=space_id, document_id=document.id, actions=document.actions)
    return Target(space_id=space_id)


def _action(target: Target, operation: str) -> Json | None:
    """The action declared on the target whose `operation` (or deprecated `slug`) is `operation`."""
    for action in target.actions:
        if operation in (action.get("operation"), action.get("slug")):
            return action
    return None


def _constraints(action: Json) -> set[str]:
    kinds = {c.get("type") for c in action.get("constraints") or [] if isinstance(c, dict)}
    if action.get("requireAllValid"):
        kinds.add("hasAllValid")
    if action.get("requireSelection"):
        kinds.add("hasSelection")
    return {k for k in kinds if isinstance(k, str)}


def _selection(body: NewJobBody) -> Json:
    query = (body.subject or {}).get("query")
    return query if isinstance(query, dict) else {}


def _ignores_selection(action: Json) -> bool:
    return any(
        isinstance(c, dict) and c.get("type") == "hasAllValid" and c.get("ignoreSelection")
        for c in action.get("constraints") or []
    )


async def _check_constraints(gateway: Gateway, target: Target, action: Json, body: NewJobBody) -> None:
    """Refuse a job whose action's constraints do not hold now (Flatfile's UI disables it then)."""
    kinds = _constraints(action)
    label = action.get("label") or action.get("operation")
    selection = _selection(body)
    ids = selection.get("ids") or []
    if "hasSelection" in kinds and target.sheet_id is not None and not ids:
        raise ValidationFailedError(f"action {label!r} needs a selection: subject.query.ids is empty", key="subject")
    if not kinds & {"hasData", "hasAllValid"} or not target.sheet_ids:
        return
    counts = await compose.record_counts(gateway, target.sheet_ids)
    if counts is None:
        raise ServiceUnavailableError("record counts are unavailable, so the action's constraints cannot be checked")
    totals = [counts.get(s, compose.ZERO) for s in target.sheet_ids]
    if "hasData" in kinds and all(c.total == 0 for c in totals):
        raise ConflictError(f"action {label!r} needs data: there are no records", key="operation")
    if "hasAllValid" not in kinds:
        return
    invalid = sum(c.error for c in totals)
    if invalid and target.sheet_id is not None and ids and not _ignores_selection(action):
        invalid = await _invalid_in_selection(gateway, target.sheet_id, selection)
    if invalid:
        raise ConflictError(f"action {label!r} needs every record valid: {invalid} are invalid", key="operation")


async def _invalid_in_selection(gateway: Gateway, sheet_id: str, selection: Json) -> int:
    """Invalid records among a sheet action's selection (Flatfile's include/exclude rule on ids)."""
    try:
        query = msgspec.convert(selection, record.RecordQuery, strict=False)
    except msgspec.ValidationError as error:
        raise ValidationFailedError(f"invalid subject.query: {error}", key="subject.query") from None
    counts = await gateway.rpc.request(
        record.SERVICE, record.GetCounts(sheet_id=sheet_id, query=query), record.Counts, timeout=COUNTS_TIMEOUT
    )
    return counts.error


def _spec(body: NewJobBody, target: Target, action: Json | None) -> JobSpec:
    mode = body.mode or (action.get("mode") if action else None)
    file_id = body.file_id or (body.source if body.type == "file" else None)
    return JobSpec(
        job_type=body.type,
        operation=body.operation,
        source=body.source,
        destination=body.destination,
        status=body.status,
        trigger=body.trigger,
        mode=mode if isinstance(mode, str) else None,
        config=body.config,
        input=body.input,
        subject=body.subject,
        managed=bool(body.managed),
        file_id=file_id,
        workbook_id=target.workbook_id,
        sheet_id=target.sheet_id,
        document_id=target.document_id,
        parent_id=body.parent_id,
        predecessor_ids=body.predecessor_ids or [],
        part=body.part,
        part_data=body.part_data,
        part_execution=body.part_execution,
        metadata=body.metadata or {},
        progress=body.progress,
        info=body.info,
        outcome=body.outcome,
        action=action,
        timeout_seconds=body.timeout_seconds,
    )


# ---- routes ------------------------------------------------------------------------------


async def _job(gateway: Gateway, principal: Principal, job_id: str, position: int = 0) -> dict[str, object]:
    query = GetJob(principal=principal, job_id=job_id, min_position=position)
    view = await gateway.rpc.request(SERVICE, query, JobView)
    require_workbook(principal, view.workbook_id, ("job", job_id))
    await _require_file_of_job(gateway, principal, view)
    return data(view)


async def _require_file_of_job(gateway: Gateway, principal: Principal, view: JobView) -> None:
    """A job of a file and no workbook (its extraction) is the file's: a guest limited to some
    workbooks sees it when it sees the file (its own upload), else 404."""
    if principal.workbook_ids is None or view.workbook_id is not None or view.file_id is None:
        return
    try:
        await gateway.rpc.request(file.SERVICE, file.GetFile(principal=principal, file_id=view.file_id), file.FileView)
    except NotFoundError:
        raise NotFoundError(f"job {view.id} not found", key="jobId") from None


async def _visible_job(gateway: Gateway, principal: Principal, job_id: str) -> None:
    """Before a guest limited to some workbooks acts on a job: 404 for a job of another workbook."""
    if principal.workbook_ids is not None:
        await _job(gateway, principal, job_id)


async def _written(gateway: Gateway, principal: Principal, command: msgspec.Struct) -> dict[str, object]:
    written = await gateway.rpc.request(SERVICE, command, JobWritten)
    return await _job(gateway, principal, written.job_id, written.position)


async def _secret(request: Request[Any, Any, Any], gateway: Gateway) -> Principal:
    """Listeners drive a job's lifecycle with a secret key of its environment."""
    principal = await principal_of(request, gateway)
    require_secret(principal)
    return principal


async def _editor(request: Request[Any, Any, Any], gateway: Gateway, job_id: str) -> Principal:
    """A secret key, or a guest who may write in the job's space (editing a mapping plan and
    running the import from the space's web app); 404 for a job the guest cannot see."""
    principal = await principal_of(request, gateway)
    if principal.kind == "secret":
        return principal
    refuse_publishable(principal)
    view = await gateway.rpc.request(SERVICE, GetJob(principal=principal, job_id=job_id), JobView)
    require_workbook(principal, view.workbook_id, ("job", job_id))
    await _require_file_of_job(gateway, principal, view)
    require_space_role(principal, view.space_id or "", "write")
    return principal


async def _guest_or_secret(request: Request[Any, Any, Any], gateway: Gateway) -> Principal:
    """A secret key, or a guest (the job service shows a guest its own space's jobs only)."""
    principal = await principal_of(request, gateway)
    refuse_publishable(principal)
    return principal


@post(BASE, status_code=200, request_max_body_size=MAX_JSON_BODY)
async def create_job(request: Request[Any, Any, Any], gateway: Gateway) -> dict[str, object]:
    principal = await _guest_or_secret(request, gateway)
    body = await decode(request, NewJobBody)
    environment_of(principal, body.environment_id)
    for value, key in ((body.source, "source"), (body.destination, "destination"), (body.space_id, "spaceId")):
        _token(value, key)
    target = await _target(gateway, principal, body)
    if body.destination is not None and is_id(body.destination, "workbook"):
        # a guest limited to some workbooks maps (or copies) only into one it sees
        require_workbook(principal, body.destination, ("workbook", body.destination))
    if body.space_id is not None and target.space_id != body.space_id:
        raise ValidationFailedError(f"spaceId {body.space_id} is not the space of source {body.source}", key="spaceId")
    action = _action(target, body.operation)
    if action is not None:
        await _check_constraints(gateway, target, action, body)
    command = CreateJob(
        principal=principal,
        space_id=target.space_id,
        spec=_spec(body, target, action),
        idempotency_key=request.headers.get("idempotency-key"),
    )
    return await _written(gateway, principal, command)


@get(BASE)
async def list_jobs(request: Request[Any, Any, Any], gateway: Gateway) -> JobPage:
    principal = await _guest_or_secret(request, gateway)
    direction = param(request, "sortDirection") or "asc"
    if direction not in ("asc", "desc"):
        raise ValidationFailedError("sortDirection must be asc or desc", key="sortDirection")
    sort: Literal["asc", "desc"] = "desc" if direction == "desc" else "asc"
    query = ListJobs(
        principal=principal,
        environment_id=environment_of(principal, param(request, "environmentId")),
        space_id=param(request, "spaceId"),
        workbook_id=param(request, "workbookId"),
        file_id=param(request, "fileId"),
        parent_id=param(request, "parentId"),
        exclude_child_jobs=bool_param(request, "excludeChildJobs", False),
        sort_direction=sort,
        page_size=int_param(request, "pageSize", 20),
        page_number=int_param(request, "pageNumber", 1),
    )
    require_workbook(principal, query.workbook_id, ("workbook", query.workbook_id or ""))
    # a guest limited to some workbooks: the job service lists (and counts) only theirs
    return await gateway.rpc.request(SERVICE, query, JobPage)


@get(ONE)
async def get_job(request: Request[Any, Any, Any], gateway: Gateway, job_id: str) -> dict[str, object]:
    return await _job(gateway, await _guest_or_secret(request, gateway), job_id)


@patch(ONE, request_max_body_size=MAX_JSON_BODY)
async def update_job(request: Request[Any, Any, Any], gateway: Gateway, job_id: str) -> dict[str, object]:
    principal = await _secret(request, gateway)
    body = await decode(request, JobUpdateBody)
    command = UpdateJob(principal=principal, job_id=job_id, **msgspec.structs.asdict(body))
    return await _written(gateway, principal, command)


@delete(ONE, status_code=200)
async def delete_job(request: Request[Any, Any, Any], gateway: Gateway, job_id: str) -> dict[str, object]:
    principal = await _secret(request, gateway)
    await gateway.rpc.request(SERVICE, DeleteJob(principal=principal, job_id=job_id), JobWritten)
    return SUCCESS


@post(ONE + "/execute", status_code=200)
async def execute_job(request: Request[Any, Any, Any], gateway: Gateway, job_id: str) -> dict[str, object]:
    principal = await _editor(request, gateway, job_id)
    await _written(gateway, principal, ExecuteJob(principal=principal, job_id=job_id))
    return SUCCESS


async def _step(
    request: Request[Any, Any, Any],
    gateway: Gateway,
    job_id: str,
    command: type[msgspec.Struct],
    body: type[msgspec.Struct] | None = None,
    *,
    guests: bool = False,
) -> dict[str, object]:
    """One lifecycle step: who may take it, its optional body, the command; answers the job after it."""
    principal = await (_guest_or_secret if guests else _secret)(request, gateway)
    await _visible_job(gateway, principal, job_id)
    fields = msgspec.structs.asdict(await decode(request, body)) if body is not None else {}
    return await _written(gateway, principal, command(principal=principal, job_id=job_id, **fields))


@post(ONE + "/ack", status_code=200, request_max_body_size=MAX_JSON_BODY)
async def ack_job(request: Request[Any, Any, Any], gateway: Gateway, job_id: str) -> dict[str, object]:
    return await _step(request, gateway, job_id, AckJob, AckBody)


@post(ONE + "/complete", status_code=200, request_max_body_size=MAX_JSON_BODY)
async def complete_job(request: Request[Any, Any, Any], gateway: Gateway, job_id: str) -> dict[str, object]:
    return await _step(request, gateway, job_id, CompleteJob, OutcomeBody)


@post(ONE + "/fail", status_code=200, request_max_body_size=MAX_JSON_BODY)
async def fail_job(request: Request[Any, Any, Any], gateway: Gateway, job_id: str) -> dict[str, object]:
    return await _step(request, gateway, job_id, FailJob, OutcomeBody)


@post(ONE + "/cancel", status_code=200, request_max_body_size=MAX_JSON_BODY)
async def cancel_job(request: Request[Any, Any, Any], gateway: Gateway, job_id: str) -> dict[str, object]:
    return await _step(request, gateway, job_id, CancelJob, CancelBody, guests=True)


@post(ONE + "/retry", status_code=200)
async def retry_job(request: Request[Any, Any, Any], gateway: Gateway, job_id: str) -> dict[str, object]:
    return await _step(request, gateway, job_id, RetryJob)


@post(ONE + "/outcome/ack", status_code=200)
async def acknowledge_outcome(request: Request[Any, Any, Any], gateway: Gateway, job_id: str) -> dict[str, object]:
    return await _step(request, gateway, job_id, AcknowledgeJobOutcome, guests=True)


# Before the mapper has planned a job its plan is empty, not null: the official SDK's
# JobPlanResponse requires a plan object.
EMPTY_PLAN: dict[str, Any] = {"fieldMapping": [], "unmappedSourceFields": [], "unmappedDestinationFields": []}


async def _plan(gateway: Gateway, principal: Principal, job_id: str, position: int = 0) -> dict[str, object]:
    query = GetJobPlan(principal=principal, job_id=job_id, min_position=position)
    view = await gateway.rpc.request(SERVICE, query, JobPlanView)
    return data(view if view.plan is not None else msgspec.structs.replace(view, plan=EMPTY_PLAN))


@get(ONE + "/plan")
async def get_plan(request: Request[Any, Any, Any], gateway: Gateway, job_id: str) -> dict[str, object]:
    principal = await _guest_or_secret(request, gateway)
    await _visible_job(gateway, principal, job_id)
    return await _plan(gateway, principal, job_id)


async def _set_plan(request: Request[Any, Any, Any], gateway: Gateway, job_id: str, merge: bool) -> dict[str, object]:
    principal = await _editor(request, gateway, job_id)
    body = await decode(request, PlanBody)
    plan = {
        "fieldMapping": body.field_mapping,
        "unmappedSourceFields": body.unmapped_source_fields,
        "unmappedDestinationFields": body.unmapped_destination_fields,
    }
    command = SetJobPlan(principal=principal, job_id=job_id, plan=plan, merge=merge)
    written = await gateway.rpc.request(SERVICE, command, JobWritten)
    return await _plan(gateway, principal, job_id, written.position)


@put(ONE + "/plan", request_max_body_size=MAX_JSON_BODY)
async def put_plan(request: Request[Any, Any, Any], gateway: Gateway, job_id: str) -> dict[str, object]:
    return await _set_plan(request, gateway, job_id, merge=False)


@patch(ONE + "/plan", request_max_body_size=MAX_JSON_BODY)
async def patch_plan(request: Request[Any, Any, Any], gateway: Gateway, job_id: str) -> dict[str, object]:
    """Merges: the body's mappings replace those of the same source key; unmapped fields lose theirs."""
    return await _set_plan(request, gateway, job_id, merge=True)


ROUTES = [
    create_job,
    list_jobs,
    get_job,
    update_job,
    delete_job,
    execute_job,
    ack_job,
    complete_job,
    fail_job,
    cancel_job,
    retry_job,
    acknowledge_outcome,
    get_plan,
    put_plan,
    patch_plan,
]
