"""The `file:extract` worker: an uploaded file's rows become a source workbook's records.

The job service creates a `file:extract` job for every upload in mode `import` (its process
manager `job_service.entrypoints.extract`). This worker consumes the job events with its own
checkpoint (schema `file_extract`), run as background work beside the read model like the job
service's process managers, never as a rebuildable projection: applying an event does the work.

JobCreated of a `file:extract` job is remembered (table `extract_job`); its JobReady runs it:

1. ack the job ("Extracting", 0); a refused ack (a redelivery of a job already executing or
   finished) skips it;
2. download the object to a temp file and `extract()` it (in threads: both block);
3. create ONE source workbook (labels ["file"], a sheet per table, a `string` field per header,
   keyed by a slug of the header) and insert each batch as records, acking progress per batch;
4. set the file's workbookId/sheetId (first sheet) and status "complete"; complete the job.

Any failure deletes the partial workbook, sets the file's status "failed" and fails the job with
the error as the outcome message (an `ExtractionError` says what and where).

The work runs inside the consumer's apply, so the consumer waits for it (a long ack wait and
small batches: one slow file holds back the files behind it). A job found executing after a
crash is not resumed: its ack is refused and the job service's sweeper times it out.
"""

from __future__ import annotations

import asyncio
import logging
import re
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import msgspec
import pyarrow as pa
from minio import Minio

from file_service.application.app import FileApplication
from file_service.extract import ExtractionError, Table, detect, extract
from spaceport.claimcheck import ClaimCheck
from spaceport.contracts import job, record, workbook
from spaceport.contracts.blueprint import SheetConfig, StringField
from spaceport.contracts.file import UpdateFile
from spaceport.contracts.job import AckJob, CompleteJob, FailJob, JobCreated, JobReady, JobWritten
from spaceport.contracts.record import InsertRecords, Written
from spaceport.contracts.space import Principal
from spaceport.contracts.workbook import CreateWorkbook, DeleteWorkbook, GetWorkbook, WorkbookView, WorkbookWritten
from spaceport.errors import ConflictError, NotFoundError
from spaceport.events import StoredEvent
from spaceport.messaging import RpcClient
from spaceport.readmodel import Conn

log = logging.getLogger(__name__)

NAME = "file_extract"
ACTOR = "us_ag_extractor"
BATCH_ROWS = 5_000  # records per InsertRecords (one commit each)
WRITE_TIMEOUT = 120.0
MAX_KEY = 255
MAX_MESSAGE = 2_000
_NOT_KEY = re.compile(r"[^a-z0-9]+")
_NOT_SLUG = re.compile(r"[^a-z0-9]+")
_encoder = msgspec.json.Encoder()


def principal(environment_id: str) -> Principal:
    """The platform's own secret-key principal in the file's environment (like the job service's)."""
    return Principal(environment_id=environment_id, kind="secret", actor=ACTOR)


def field_keys(headers: list[str]) -> list[str]:
    """Safe, unique field keys for `headers`: lowercase, runs of anything else than a-z0-9 -> `_`."""
    keys: list[str] = []
    seen: set[str] = set()
    for header in headers:
        base = _NOT_KEY.sub("_", header.lower()).strip("_")[: MAX_KEY - 8] or "field"
        key, n = base, 1
        while key in seen:
            n += 1
            key = f"{base}_{n}"
        seen.add(key)
        keys.append(key)
    return keys


def sheet_slugs(names: list[str]) -> list[str]:
    slugs: list[str] = []
    for name in names:
        base = _NOT_SLUG.sub("-", name.lower()).strip("-")[: MAX_KEY - 8] or "sheet"
        slug, n = base, 1
        while slug in slugs:
            n += 1
            slug = f"{base}-{n}"
        slugs.append(slug)
    return slugs


def records_body(batch: pa.RecordBatch, keys: list[str]) -> bytes:
    """A batch as InsertRecords' JSON body `[{key: {"value": v}}, …]`.

    Goes through `to_pylist` (a Python dict per row): simple, and fine for now; a columnar
    encoder (pyarrow compute or building the JSON per column) would avoid the per-cell objects."""
    rows = batch.rename_columns(keys).to_pylist()
    return _encoder.encode([{k: {"value": v} for k, v in row.items()} for row in rows])


class Extraction:
    """One `file:extract` job's work, start to finish (or failure)."""

    def __init__(self, app: FileApplication, rpc: RpcClient, claims: ClaimCheck, s3: Minio) -> None:
        self.app = app
        self.rpc = rpc
        self.claims = claims
        self.s3 = s3

    async def run(self, job_id: str, file_id: str, environment_id: str, space_id: str) -> tuple[str, str | None, str]:
        """-> (state, workbook id, message): state is `skipped`, `complete` or `failed`."""
        who = principal(environment_id)
        try:
            await self._job(AckJob(principal=who, job_id=job_id, info="Extracting", progress=0))
        except (ConflictError, NotFoundError) as refused:
            log.info("file:extract job %s not started: %s", job_id, refused)
            return "skipped", None, str(refused)
        created: list[str] = []  # the workbook, once made
        try:
            message = await self._extract(who, job_id, file_id, space_id, created)
        except Exception as error:
            message = _message(error)
            log.info("file:extract job %s for file %s failed: %s", job_id, file_id, message)
            await self._undo(who, file_id, created[0] if created else None)
            await self._job(FailJob(principal=who, job_id=job_id, outcome={"acknowledge": True, "message": message}))
            return "failed", None, message
        return "complete", created[0], message

    async def _extract(self, who: Principal, job_id: str, file_id: str, space_id: str, created: list[str]) -> str:
        obj = await self.app.files.stored_object(who.environment_id, space_id, file_id)
        with tempfile.TemporaryDirectory(prefix="spaceport-extract-") as tmp:
            path = Path(tmp) / f"upload{Path(obj.name).suffix[:16]}"
            await asyncio.to_thread(self.s3.fget_object, obj.bucket, obj.object_key, str(path))
            tables = await asyncio.to_thread(_tables, path, obj.name, obj.mimetype)
            if not tables:
                raise ExtractionError("the file has no table to extract")
            keys = [field_keys(t.headers) for t in tables]
            workbook_id, sheet_ids = await self._workbook(who, space_id, obj.name, tables, keys)
            created.append(workbook_id)
            count = 0
            for index, (table, sheet_id) in enumerate(zip(tables, sheet_ids, strict=True)):
                batches = table.batches()
                while (batch := await asyncio.to_thread(_next, batches)) is not None:
                    count += await self._insert(who, sheet_id, records_body(batch, keys[index]))
                    progress = min(99, int(100 * (index + _fraction(table)) / len(tables)))
                    info = f"Extracted {count} records"
                    await self._job(AckJob(principal=who, job_id=job_id, info=info, progress=progress))
        sheet_id = sheet_ids[0]
        await self.app.files.update(
            UpdateFile(principal=who, file_id=file_id, workbook_id=workbook_id, sheet_id=sheet_id, status="complete")
        )
        message = f"Extracted {count} records from {len(tables)} sheet(s)"
        outcome = {"acknowledge": False, "message": message}
        await self._job(CompleteJob(principal=who, job_id=job_id, outcome=outcome))
        return message

    async def _job(self, command: AckJob | CompleteJob | FailJob) -> None:
        await self.rpc.request(job.SERVICE, command, JobWritten)

    async def _workbook(
        self, who: Principal, space_id: str, name: str, tables: list[Table], keys: list[list[str]]
    ) -> tuple[str, list[str]]:
        slugs = sheet_slugs([t.name for t in tables])
        sheets = [
            SheetConfig(
                name=(t.name or slug)[:255],
                slug=slug,
                fields=[StringField(key=k, label=h) for k, h in zip(key, t.headers, strict=True)],
            )
            for t, key, slug in zip(tables, keys, slugs, strict=True)
        ]
        command = CreateWorkbook(principal=who, space_id=space_id, name=name[:255], sheets=sheets, labels=["file"])
        written = await self.rpc.request(workbook.SERVICE, command, WorkbookWritten)
        view = await self.rpc.request(
            workbook.SERVICE,
            GetWorkbook(workbook_id=written.workbook_id, min_position=written.position),
            WorkbookView,
        )
        by_slug = {s.slug: s.id for s in view.sheets or []}
        return written.workbook_id, [by_slug[slug] for slug in slugs]

    async def _insert(self, who: Principal, sheet_id: str, body: bytes) -> int:
        command = InsertRecords(principal=who, sheet_id=sheet_id, body=await self.claims.pack(body))
        written = await self.rpc.request(record.SERVICE, command, Written, timeout=WRITE_TIMEOUT)
        return written.record_count

    async def _undo(self, who: Principal, file_id: str, workbook_id: str | None) -> None:
        """Best effort: no partial workbook left, the file marked failed."""
        if workbook_id is not None:
            try:
                await self.rpc.request(
                    workbook.SERVICE, DeleteWorkbook(principal=who, workbook_id=workbook_id), WorkbookWritten
                )
            except Exception:  # the job must still fail
                log.exception("could not delete the partial workbook %s of file %s", workbook_id, file_id)
        try:
            await self.app.files.update(UpdateFile(principal=who, file_id=file_id, status="failed"))
        except NotFoundError:
            log.info("file %s is gone: not marked failed", file_id)
        except Exception:  # the file may be gone; the job must still fail
            log.exception("could not mark file %s failed", file_id)


def _tables(path: Path, name: str, mimetype: str) -> list[Table]:
    fmt = detect(path, filename=name, mimetype=mimetype)
    return list(extract(path, fmt, batch_rows=BATCH_ROWS, name=Path(name).stem or "data"))


def _next(batches: Iterator[pa.RecordBatch]) -> pa.RecordBatch | None:
    return next(batches, None)


def _fraction(table: Table) -> float:
    """How much of `table` is read, when its size is known up front (spreadsheets); else half."""
    if table.total_rows:
        return min(1.0, table.rows_read / table.total_rows)
    return 0.5


def _message(error: Exception) -> str:
    text = str(error) if isinstance(error, ExtractionError) else f"Extraction failed: {error or type(error).__name__}"
    return text[:MAX_MESSAGE]


class ExtractJobs:
    """The consumer of the job events (schema `file_extract`): remember extract jobs, run them when ready."""

    migrations = Path(__file__).parent.parent / "projections" / "extractor_migrations"

    def __init__(self, work: Extraction, prefix: str = "evt", name: str = NAME) -> None:
        self.name = name
        self.work = work
        self.filter_subjects = [f"{prefix}.*.job.>"]

    async def apply(self, conn: Conn, stored: StoredEvent) -> None:
        match stored.event:
            case JobCreated(job_type="file", operation="extract", file_id=str() as file_id) as e:
                await conn.execute(
                    "INSERT INTO extract_job (job_id, file_id, environment_id, space_id, position)"
                    " VALUES ($1, $2, $3, $4, $5) ON CONFLICT (job_id) DO NOTHING",
                    e.job_id,
                    file_id,
                    e.environment_id,
                    e.space_id,
                    stored.seq,
                )
                if e.status == "ready":  # created ready without a JobReady of its own
                    await self._run(conn, e.job_id)
            case JobReady() as e:
                await self._run(conn, e.job_id)

    async def _run(self, conn: Conn, job_id: str) -> None:
        row: Any = await conn.fetchrow(
            "SELECT file_id, environment_id, space_id, state FROM extract_job WHERE job_id = $1", job_id
        )
        if row is None or row["space_id"] is None:
            return
        state, workbook_id, message = await self.work.run(
            job_id, row["file_id"], row["environment_id"], row["space_id"]
        )
        if state == "skipped":
            return
        await conn.execute(
            "UPDATE extract_job SET state = $2, workbook_id = $3, message = $4 WHERE job_id = $1",
            job_id,
            state,
            workbook_id,
            message,
        )
