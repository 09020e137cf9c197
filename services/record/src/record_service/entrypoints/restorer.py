"""The `space:restore` worker: `POST /v1/spaces/{id}/restore` creates a job (type `space`, operation
`restore`, trigger immediate, `config` = the restore's moment, sheet and options); this consumer of
the job events (schema `record_restore`, background work of the record service's command process)
remembers it from JobCreated and runs it on JobReady: ack, `RestoreHandlers.restore` with progress
after every commit, complete with an outcome message saying what was restored (and the position
that undoes it), or fail with the error as the outcome message.

A run is idempotent without keys: it recomputes the difference with the target state from the read
model, so a redelivered or retried run applies only what is still different.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import msgspec

from record_service.application.restore import RestoreHandlers
from spaceport import runtime
from spaceport.contracts import job, workbook
from spaceport.contracts.job import AckJob, CompleteJob, FailJob, JobCreated, JobReady, JobWritten
from spaceport.contracts.record import RestoreRecords, RestoreReport
from spaceport.contracts.space import Principal
from spaceport.contracts.workbook import RestoreWorkbooks, WorkbooksRestored
from spaceport.errors import ConflictError, NotFoundError
from spaceport.events import StoredEvent
from spaceport.messaging import RpcClient
from spaceport.projection import ProjectionRunner
from spaceport.readmodel import Conn

log = logging.getLogger(__name__)

NAME = "record_restore"
ACK_WAIT = 1800.0  # a restore of 1,000,000 records runs for minutes
MAX_MESSAGE = 2_000
_json = msgspec.json.Encoder()


class RestoreConfig(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    as_of: str
    sheet_id: str | None = None
    created: bool = True
    updated: bool = True
    deleted: bool = True
    workbooks: bool = True  # False: records only


_config = msgspec.json.Decoder(RestoreConfig)


def summary(report: RestoreReport) -> str:
    deleted = sum(s.created_since for s in report.sheets)
    reverted = sum(s.updated_since for s in report.sheets)
    recreated = sum(s.deleted_since for s in report.sheets)
    sheets = len(report.sheets)
    return (
        f"Restored {sheets} sheet{'s' if sheets != 1 else ''}: {deleted} records created since deleted,"
        f" {reverted} reverted, {recreated} re-created"
    )


class Restoring:
    """One job's run, reporting to the job service."""

    def __init__(self, restores: RestoreHandlers, rpc: RpcClient) -> None:
        self.restores = restores
        self.rpc = rpc

    async def run(self, job_id: str, space_id: str, config: RestoreConfig, who: Principal) -> str:
        try:
            await self._job(AckJob(principal=who, job_id=job_id, info="Restoring", progress=0))
        except (ConflictError, NotFoundError) as refused:  # done, cancelled or gone: nothing to run
            log.info("space:restore job %s not started: %s", job_id, refused)
            return "skipped"
        cmd = RestoreRecords(
            principal=who,
            space_id=space_id,
            sheet_id=config.sheet_id,
            as_of=config.as_of,
            preview=False,
            created=config.created,
            updated=config.updated,
            deleted=config.deleted,
        )

        async def progress(done: int, total: int) -> None:
            percent = min(99, int(100 * done / total)) if total else None
            await self._job(
                AckJob(principal=who, job_id=job_id, info=f"Restored {done} of {total} records", progress=percent)
            )

        try:
            # workbooks and sheet configs first, so the records are validated against the restored fields
            restore = RestoreWorkbooks(
                principal=who, space_id=space_id, as_of=config.as_of, sheet_id=config.sheet_id, preview=False
            )
            books = WorkbooksRestored(space_id=space_id, preview=False, before=0)
            if config.workbooks:
                books = await self.rpc.request(workbook.SERVICE, restore, WorkbooksRestored, timeout=ACK_WAIT)
            await self.restores.ctx.wait_for(books.position, timeout=60.0)  # the records projection has them
            report = await self.restores.restore(cmd, progress=progress)
            report = msgspec.structs.replace(report, workbooks=books.workbooks)
        except Exception as error:
            message = str(error)[:MAX_MESSAGE] or type(error).__name__
            log.info("space:restore job %s failed: %s", job_id, message)
            failed = {"acknowledge": True, "message": f"The restore failed: {message}"}
            await self._job(FailJob(principal=who, job_id=job_id, outcome=failed))
            return "failed"
        undo = {s.sheet_id: s.before for s in report.sheets}
        outcome: dict[str, Any] = {
            "acknowledge": False,
            "message": "; ".join(m for m in (summary(report), books.summary()) if m),
            "restore": msgspec.to_builtins(report),
            "undo": undo,  # per sheet: the sequence to restore to in order to undo this restore
            "undoSequence": books.before,  # the space (or the sheet) restored to it: records and configs undone
        }
        await self._job(CompleteJob(principal=who, job_id=job_id, outcome=outcome))
        return "complete"

    async def _job(self, command: msgspec.Struct) -> None:
        await self.rpc.request(job.SERVICE, command, JobWritten)


class RestoreJobs:
    migrations = Path(__file__).parent.parent / "projections" / "restorer_migrations"

    def __init__(self, work: Restoring, prefix: str = "evt", name: str = NAME) -> None:
        self.name = name
        self.work = work
        self.filter_subjects = [f"{prefix}.*.job.>"]

    async def apply(self, conn: Conn, stored: StoredEvent) -> None:
        match stored.event:
            case JobCreated(job_type="space", operation="restore", space_id=str() as space_id) as e:
                await conn.execute(
                    "INSERT INTO restore_job (job_id, environment_id, space_id, config, actor, position)"
                    " VALUES ($1, $2, $3, $4::jsonb, $5, $6) ON CONFLICT (job_id) DO NOTHING",
                    e.job_id,
                    e.environment_id,
                    space_id,
                    _json.encode(e.config or {}).decode(),
                    stored.envelope.actor,
                    stored.seq,
                )
                if e.status == "ready":
                    await self._run(conn, e.job_id)
            case JobReady() as e:
                await self._run(conn, e.job_id)

    async def _run(self, conn: Conn, job_id: str) -> None:
        row = await conn.fetchrow(
            "SELECT environment_id, space_id, config::text AS config, actor FROM restore_job"
            " WHERE job_id = $1 AND state IS NULL",
            job_id,
        )
        if row is None:
            return
        who = Principal(environment_id=row["environment_id"], kind="secret", actor=row["actor"] or "us_ag_restore")
        try:
            config = _config.decode(row["config"])
        except (msgspec.ValidationError, msgspec.DecodeError) as problem:
            outcome = {"acknowledge": True, "message": f"The restore's config is invalid: {problem}"}
            await self.work._job(FailJob(principal=who, job_id=job_id, outcome=outcome))
            state = "failed"
        else:
            state = await self.work.run(job_id, row["space_id"], config, who)
        if state != "skipped":
            await conn.execute("UPDATE restore_job SET state = $2 WHERE job_id = $1", job_id, state)


class Restorer:
    """The worker as `rt` background work."""

    def __init__(self, rt: runtime.ServiceRuntime, work: Restoring) -> None:
        self.rt = rt
        self.work = work
        self.runner: ProjectionRunner | None = None

    async def start(self) -> None:
        consumer = RestoreJobs(self.work, self.rt.settings.event_prefix)
        self.runner = ProjectionRunner(self.rt.store, self.rt.pool, consumer, batch_size=1, ack_wait=ACK_WAIT)
        await self.runner.start()

    async def stop(self) -> None:
        if self.runner is not None:
            await self.runner.stop()
            self.runner = None
