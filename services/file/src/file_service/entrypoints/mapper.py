"""The `workbook:map` worker: a source sheet's records become a destination sheet's, by a plan.

`POST /v1/jobs {type: "workbook", operation: "map", source, destination, config: {sourceSheetId,
destinationSheetId}}` creates the job in status `planning` (reference §4.2-4.4). This worker
consumes the job events with its own checkpoint (schema `file_map`), as background work like the
extractor:

- JobCreated of a `workbook:map` job is remembered (table `map_job`); while it is planning and has
  no plan yet, both sheets' fields are read (workbook service), the plan is computed
  (`file_service.mapping.plan`) and stored (`SetJobPlan`: the feed says `job:updated`);
- its JobReady (after `POST /jobs/{id}/execute`) runs it: ack; read the (possibly edited) plan;
  `MapRecords` page by page (the record service maps and validates column-wise), each page one
  commit with the idempotency key `<job id>:map:<row it starts after>` (a redelivery inserts
  nothing twice; a retried job's later run uses `<job id>~<run>`); complete with "Mapped N
  records into <sheet>". Any failure reverts the pages that landed and fails the job with the
  error as its outcome message.
- SpaceDeleted erases, in the same transaction as the checkpoint, the space's `map_job` rows and
  the `remembered_mapping` rows its completed jobs taught (each row names the space that taught
  it; a plan takes the newest row of a name among the environment's spaces).
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Any, TypeVar

import msgspec

from file_service.mapping.plan import (
    DestinationField,
    EnumChoice,
    SourceField,
    add_enum_details,
    compute_plan,
    remembered_edges,
)
from spaceport import runtime
from spaceport.claimcheck import ClaimCheck
from spaceport.contracts import job, record, workbook
from spaceport.contracts.blueprint import EnumField, EnumListField
from spaceport.contracts.job import (
    AckJob,
    CompleteJob,
    FailJob,
    GetJobPlan,
    JobCreated,
    JobPlanView,
    JobReady,
    JobWritten,
    SetJobPlan,
)
from spaceport.contracts.record import (
    MAX_IDS,
    CellsReply,
    Counts,
    DeleteRecords,
    FieldMapping,
    GetCells,
    GetCounts,
    GetRecords,
    Mapped,
    MapRecords,
    RecordsReply,
    Written,
)
from spaceport.contracts.space import Principal, SpaceDeleted
from spaceport.contracts.workbook import GetSheet, GetWorkbook, SheetView, WorkbookView
from spaceport.errors import ConflictError, NotFoundError, ServiceUnavailableError, ValidationFailedError
from spaceport.events import StoredEvent
from spaceport.ids import derived_ids
from spaceport.messaging import RpcClient
from spaceport.projection import ProjectionRunner
from spaceport.readmodel import Conn

log = logging.getLogger(__name__)

NAME = "file_map"
ACTOR = "us_ag_mapper"
PAGE_SIZE = 20_000  # source records per MapRecords (one commit each; fewer when rows are wide)
ENUM_VALUES = 100  # distinct source values looked at for enumDetails
WRITE_TIMEOUT = 120.0
# A service killed mid-request never answers it: each attempt waits this long, then the same
# (idempotent) command is sent again, to its restarted process, until WRITE_TIMEOUT has passed.
ATTEMPT_TIMEOUT = 10.0
RETRY_PAUSE = 0.5
MAX_MESSAGE = 2_000
BATCH = 10
ACK_WAIT = 600.0
_encoder = msgspec.json.Encoder()
_cells = msgspec.json.Decoder(dict[str, list[dict[str, Any]]])
R = TypeVar("R")


def principal(environment_id: str) -> Principal:
    return Principal(environment_id=environment_id, kind="secret", actor=ACTOR)


def sources_of(sheet: SheetView) -> list[SourceField]:
    return [SourceField(key=f.key, label=f.label) for f in sheet.config.fields]


def destinations_of(sheet: SheetView) -> list[DestinationField]:
    out = []
    for f in sheet.config.fields:
        options: list[EnumChoice] = []
        if isinstance(f, EnumField | EnumListField):
            options = [
                EnumChoice(value=o.value, label=o.label, alternative_names=o.alternative_names or [])
                for o in f.config.options
            ]
        kind = type(f).__struct_config__.tag
        out.append(
            DestinationField(
                key=f.key,
                label=f.label,
                type=str(kind),
                alternative_names=f.alternative_names or [],
                options=options,
            )
        )
    return out


class MappingFailedError(Exception):
    """A mapping that failed after some pages landed; they were reverted."""


def mapping_fields(plan: dict[str, Any]) -> list[FieldMapping]:
    """The plan's edges as the record service's field mappings, enum details as value maps."""
    if not plan.get("fieldMapping"):
        raise ValidationFailedError("the plan maps no field; map at least one source field", key="fieldMapping")
    out = []
    for edge in plan.get("fieldMapping") or []:
        values = {}
        for pair in ((edge.get("enumDetails") or {}).get("mapping")) or []:
            if pair.get("sourceValue") is not None and pair.get("destinationValue") is not None:
                values[str(pair["sourceValue"])] = pair["destinationValue"]
        out.append(
            FieldMapping(source=edge["sourceField"]["key"], destination=edge["destinationField"]["key"], values=values)
        )
    return out


class MapJob(msgspec.Struct, frozen=True, kw_only=True):
    job_id: str
    environment_id: str
    source: str
    destination: str | None
    source_sheet_id: str | None
    destination_sheet_id: str | None
    run: int = 1  # which run of the job (a retried job runs again with fresh page keys)

    @property
    def keys(self) -> str:
        """The prefix of this run's idempotency keys: a redelivery of the run replays the pages
        that landed; a later run (after a revert) must not find them."""
        return self.job_id if self.run == 1 else f"{self.job_id}~{self.run}"


class Mapping:
    """One `workbook:map` job's planning and run."""

    def __init__(self, rpc: RpcClient, claims: ClaimCheck) -> None:
        self.rpc = rpc
        self.claims = claims

    async def plan(self, m: MapJob, conn: Conn) -> None:
        """Compute and store the plan; `initial`: the job service keeps a plan already set (a
        redelivery keeps an edited plan). Mappings remembered from earlier imports into a sheet
        of the same slug in the environment win; enum destinations get the source's values."""
        who = principal(m.environment_id)
        try:
            source, destination = await self._sheets(m)
            destinations = destinations_of(destination)
            rows = await conn.fetch(  # what the environment's spaces taught; the newest wins
                "SELECT DISTINCT ON (source_name) source_name, destination_key FROM remembered_mapping"
                " WHERE environment_id = $1 AND destination_slug = $2 ORDER BY source_name, used_at DESC",
                m.environment_id,
                destination.slug,
            )
            remembered = {r["source_name"]: r["destination_key"] for r in rows}
            plan = compute_plan(sources_of(source), destinations, remembered)
            add_enum_details(plan, destinations, await self._enum_values(source.id, plan, destinations))
            await self._job(SetJobPlan(principal=who, job_id=m.job_id, plan=plan, initial=True))
        except (ConflictError, NotFoundError) as refused:
            log.info("workbook:map job %s not planned: %s", m.job_id, refused)
        except Exception as error:
            await self._fail(who, m.job_id, error)

    async def run(self, m: MapJob) -> tuple[str, dict[str, Any] | None, str | None]:
        """-> (skipped, complete or failed; the plan it ran; the destination sheet's slug)."""
        who = principal(m.environment_id)
        try:
            await self._job(AckJob(principal=who, job_id=m.job_id, info="Mapping", progress=0))
        except (ConflictError, NotFoundError) as refused:
            log.info("workbook:map job %s not started: %s", m.job_id, refused)
            return "skipped", None, None
        try:
            source, destination = await self._sheets(m)
            planned = await self._retried(job.SERVICE, GetJobPlan(principal=who, job_id=m.job_id), JobPlanView)
            plan = planned.plan or compute_plan(sources_of(source), destinations_of(destination))
            fields = mapping_fields(plan)
            count = await self._map(who, m, source, destination, fields)
            outcome = {"acknowledge": False, "message": f"Mapped {count} records into {destination.name}"}
            await self._job(CompleteJob(principal=who, job_id=m.job_id, outcome=outcome))
        except Exception as error:
            await self._fail(who, m.job_id, error)
            return "failed", None, None
        return "complete", plan, destination.slug

    async def _map(
        self, who: Principal, m: MapJob, source: SheetView, destination: SheetView, fields: list[FieldMapping]
    ) -> int:
        """Page by page (one commit each, keyed by the job and the source row it starts after, so a
        rerun replays what landed); any failure reverts the pages that landed, then raises."""
        landed: list[tuple[str, int]] = []  # (idempotency key, records) of each page's commit
        total = await self._source_total(source.id)
        count = last = after = 0
        try:
            while True:
                key = f"{m.keys}:map:{after}"
                command = MapRecords(
                    principal=who,
                    source_sheet_id=source.id,
                    destination_sheet_id=destination.id,
                    fields=fields,
                    after_row=after,
                    limit=PAGE_SIZE,
                    idempotency_key=key,
                    job_id=m.job_id,
                )
                page = await self._retried(record.SERVICE, command, Mapped, ATTEMPT_TIMEOUT)
                if page.written.record_count:
                    landed.append((key, page.written.record_count))
                count += page.written.record_count
                last = max(last, page.written.position)
                after = page.last_row
                if page.done:
                    break
                progress = min(99, int(100 * count / total)) if total else None
                await self._job(
                    AckJob(principal=who, job_id=m.job_id, info=f"Mapped {count} records", progress=progress)
                )
            await self._settled(destination.id, last)
        except Exception as error:
            if landed:
                await self._revert(who, m.keys, destination.id, landed)
                raise MappingFailedError(f"{error}; the {count} records it had inserted were removed") from error
            raise
        return count

    async def _revert(self, who: Principal, keys: str, sheet_id: str, landed: list[tuple[str, int]]) -> None:
        """Delete the records of the pages that landed (their ids derive from each page's key)."""
        ids = [i for key, n in landed for i in derived_ids("record", f"{sheet_id}:{key}", n)]
        for start in range(0, len(ids), MAX_IDS):
            command = DeleteRecords(
                principal=who,
                sheet_id=sheet_id,
                ids=ids[start : start + MAX_IDS],
                idempotency_key=f"{keys}:revert:{start}",
            )
            await self._retried(record.SERVICE, command, Written, ATTEMPT_TIMEOUT)

    async def _retried(self, service: str, command: msgspec.Struct, reply: type[R], attempt: float | None = None) -> R:
        """`command` (idempotent: keyed, or a job step that a replay repeats harmlessly) until it is
        answered; a service that is down or restarting answers 503 until WRITE_TIMEOUT has passed."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + WRITE_TIMEOUT
        while True:
            try:
                return await self.rpc.request(service, command, reply, timeout=attempt)
            except ServiceUnavailableError:
                if loop.time() + RETRY_PAUSE > deadline:
                    raise
                log.info("workbook:map: the %s service did not answer %s; retrying", service, type(command).__name__)
                await asyncio.sleep(RETRY_PAUSE)

    async def _source_total(self, sheet_id: str) -> int:
        counts = await self.rpc.request(record.SERVICE, GetCounts(sheet_id=sheet_id), Counts)
        return counts.total

    async def _enum_values(
        self, sheet_id: str, plan: dict[str, Any], destinations: list[DestinationField]
    ) -> dict[str, list[Any]]:
        """The distinct values (the most frequent ENUM_VALUES) of each source field mapped to an enum."""
        enums = {d.key for d in destinations if d.options}
        out: dict[str, list[Any]] = {}
        for edge in plan["fieldMapping"]:
            if edge["destinationField"]["key"] not in enums:
                continue
            key = edge["sourceField"]["key"]
            query = GetCells(sheet_id=sheet_id, field_key=key, page_size=ENUM_VALUES)
            reply = await self.rpc.request(record.SERVICE, query, CellsReply, timeout=WRITE_TIMEOUT)
            cells = _cells.decode(await self.claims.unpack(reply.cells)).get(key, [])
            out[key] = [c.get("value") for c in cells]
        return out

    async def _sheets(self, m: MapJob) -> tuple[SheetView, SheetView]:
        if m.destination is None:
            raise ValidationFailedError("a workbook:map job needs a destination workbook", key="destination")
        source = await self._sheet(m.environment_id, m.source, m.source_sheet_id, "source")
        destination = await self._sheet(m.environment_id, m.destination, m.destination_sheet_id, "destination")
        return source, destination

    async def _sheet(self, environment_id: str, workbook_id: str, sheet_id: str | None, side: str) -> SheetView:
        """The configured sheet (it must be in the job's workbook), else the workbook's first sheet."""
        if sheet_id is None:
            view = await self.rpc.request(workbook.SERVICE, GetWorkbook(workbook_id=workbook_id), WorkbookView)
            if view.environment_id != environment_id or not view.sheets:
                raise NotFoundError(f"{side} workbook {workbook_id} has no sheet", key=side)
            return view.sheets[0]
        sheet = await self.rpc.request(workbook.SERVICE, GetSheet(sheet_id=sheet_id), SheetView)
        if sheet.environment_id != environment_id or sheet.workbook_id != workbook_id:
            raise ValidationFailedError(f"{side} sheet {sheet_id} is not in workbook {workbook_id}", key=side)
        return sheet

    async def _settled(self, sheet_id: str, position: int) -> None:
        """Until the records read model has the last insert: whoever sees the job complete sees the records."""
        if position:
            query = GetRecords(sheet_id=sheet_id, page_size=1, min_position=position, include_messages=False)
            await self._retried(record.SERVICE, query, RecordsReply, ATTEMPT_TIMEOUT)

    async def _job(self, command: msgspec.Struct) -> None:
        await self._retried(job.SERVICE, command, JobWritten)

    async def _fail(self, who: Principal, job_id: str, error: Exception) -> None:
        message = f"Mapping failed: {error or type(error).__name__}"[:MAX_MESSAGE]
        log.info("workbook:map job %s failed: %s", job_id, message)
        try:
            await self._job(FailJob(principal=who, job_id=job_id, outcome={"acknowledge": True, "message": message}))
        except (ConflictError, NotFoundError) as refused:
            log.info("workbook:map job %s not failed: %s", job_id, refused)


class MapJobs:
    """The consumer of the job events (schema `file_map`): remember map jobs, plan them, run them when ready."""

    migrations = Path(__file__).parent.parent / "projections" / "mapper_migrations"

    def __init__(self, work: Mapping, prefix: str = "evt", name: str = NAME) -> None:
        self.name = name
        self.work = work
        self.filter_subjects = [f"{prefix}.*.job.>", f"{prefix}.*.space.*.space_deleted"]

    async def apply(self, conn: Conn, stored: StoredEvent) -> None:
        match stored.event:
            case JobCreated(job_type="workbook", operation="map") as e:
                config = e.config or {}
                m = MapJob(
                    job_id=e.job_id,
                    environment_id=e.environment_id,
                    source=e.source,
                    destination=e.destination,
                    source_sheet_id=_text(config.get("sourceSheetId")),
                    destination_sheet_id=_text(config.get("destinationSheetId")),
                )
                await conn.execute(
                    "INSERT INTO map_job (job_id, environment_id, source, destination, source_sheet_id,"
                    " destination_sheet_id, position, space_id) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"
                    " ON CONFLICT (job_id) DO NOTHING",
                    m.job_id,
                    m.environment_id,
                    m.source,
                    m.destination,
                    m.source_sheet_id,
                    m.destination_sheet_id,
                    stored.seq,
                    e.space_id or stored.envelope.space_id,
                )
                if e.status == "planning":
                    await self.work.plan(m, conn)
                elif e.status == "ready":
                    await self._run(conn, e.job_id)
            case JobReady() as e:
                await self._run(conn, e.job_id)
            case SpaceDeleted() as e:  # erasure, with the checkpoint: the space's jobs and what they taught
                await erase_space(conn, e.space_id)

    async def _run(self, conn: Conn, job_id: str) -> None:
        row: Any = await conn.fetchrow(
            "SELECT job_id, environment_id, source, destination, source_sheet_id, destination_sheet_id, space_id"
            " FROM map_job WHERE job_id = $1",
            job_id,
        )
        if row is None:
            return
        values = dict(row)
        space_id = values.pop("space_id")
        # counted in the consumer's transaction: a crash mid-run rolls it back, so the redelivered
        # run replays its landed pages; a finished run commits it, so a retry starts afresh
        run = await conn.fetchval("UPDATE map_job SET runs = runs + 1 WHERE job_id = $1 RETURNING runs", job_id)
        state, plan, slug = await self.work.run(MapJob(**values, run=run))
        if state != "skipped":
            await conn.execute("UPDATE map_job SET state = $2 WHERE job_id = $1", job_id, state)
        if state == "complete" and plan is not None and slug is not None and space_id is not None:
            learned = remembered_edges(plan)  # the space's own rows: erased with it
            await conn.execute(
                "INSERT INTO remembered_mapping"
                " (environment_id, destination_slug, space_id, source_name, destination_key)"
                " SELECT $1, $2, $3, * FROM unnest($4::text[], $5::text[])"
                " ON CONFLICT (environment_id, destination_slug, source_name, space_id)"
                " DO UPDATE SET destination_key = excluded.destination_key, used_at = now()",
                row["environment_id"],
                slug,
                space_id,
                list(learned),
                list(learned.values()),
            )


async def erase_space(conn: Conn, space_id: str) -> None:
    """`SpaceDeleted`: the space's map jobs, and the mappings its imports taught (other spaces'
    rows for the same names stay: what they taught is theirs)."""
    await conn.execute("DELETE FROM map_job WHERE space_id = $1", space_id)
    await conn.execute("DELETE FROM remembered_mapping WHERE space_id = $1", space_id)


def _text(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


class Mapper:
    """The `workbook:map` worker as `rt` background work."""

    def __init__(self, rt: runtime.ServiceRuntime, work: Mapping) -> None:
        self.rt = rt
        self.work = work
        self.runner: ProjectionRunner | None = None

    async def start(self) -> None:
        consumer = MapJobs(self.work, self.rt.settings.event_prefix)
        self.runner = ProjectionRunner(self.rt.store, self.rt.pool, consumer, batch_size=BATCH, ack_wait=ACK_WAIT)
        await self.runner.start()

    async def stop(self) -> None:
        if self.runner is not None:
            await self.runner.stop()
            self.runner = None
