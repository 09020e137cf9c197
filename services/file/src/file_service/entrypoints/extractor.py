"""The `file:extract` worker: an uploaded file's rows become a source workbook's records.

The job service creates a `file:extract` job for every upload in mode `import` (its process
manager `job_service.entrypoints.extract`). This worker consumes the job events with its own
checkpoint (schema `file_extract`), run as background work beside the read model like the job
service's process managers, never as a rebuildable projection.

The consumer (`ExtractJobs`) only records the work: JobCreated of a `file:extract` job is a row of
table `extract_job` (status `created`, or `pending` when created ready); its JobReady makes it
`pending`. A small in-process pool (`ExtractPool`, `CONCURRENCY` extractions at a time) claims
pending rows (`UPDATE … SET status = 'running', claimed_at = now() … FOR UPDATE SKIP LOCKED`, so
two replicas never run the same job), runs them and marks them `done` or `failed`. One large
file no longer holds back the jobs behind it.

A claim is a lease (`LEASE` seconds, refreshed while the extraction runs). A row left `running`
with an expired lease (its worker died mid-file) is claimed again: the partial workbook of that
attempt (its id is recorded in the row as soon as it exists) is deleted first, then the
extraction runs again (an ack of an executing job is a progress tick, so it is allowed); if the
job meanwhile reached a terminal status (failed by the timeout sweeper, canceled) the ack is
refused and the row is just marked done.

One extraction (`Extraction.run`):

1. ack the job ("Extracting", 0); a refused ack (a job already finished) skips it;
2. download the object to a temp file and `extract()` it (in threads: both block);
3. create ONE source workbook (labels ["file"], a sheet per table, a `string` field per header,
   keyed by a slug of the header) and insert each batch as records, acking progress per batch;
4. set the file's workbookId/sheetId (first sheet) and status "complete"; complete the job.

Any failure deletes the partial workbook, sets the file's status "failed" and fails the job with
the error as the outcome message (an `ExtractionError` says what and where).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import tempfile
import uuid
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any, Protocol

import asyncpg
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
from spaceport.contracts.record import CommitSource, GetRecords, ImportRecords, RecordsReply, Written
from spaceport.contracts.space import Principal, SpaceDeleted
from spaceport.contracts.workbook import CreateWorkbook, DeleteWorkbook, GetWorkbook, WorkbookView, WorkbookWritten
from spaceport.errors import ConflictError, NotFoundError
from spaceport.events import StoredEvent
from spaceport.messaging import RpcClient
from spaceport.projection import ProjectionRunner
from spaceport.readmodel import Conn, quote_ident

log = logging.getLogger(__name__)

NAME = "file_extract"
ACTOR = "us_ag_extractor"
BATCH_ROWS = 20_000  # records per ImportRecords (one commit each) ...
MAX_BATCH_BYTES = 8 << 20  # ... or fewer, so that a batch's text stays under 8 MB (wide rows)
WRITE_TIMEOUT = 120.0
MAX_KEY = 255
MAX_MESSAGE = 2_000
_NOT_KEY = re.compile(r"[^a-z0-9]+")
_NOT_SLUG = re.compile(r"[^a-z0-9]+")
_encoder = msgspec.json.Encoder()

CONCURRENCY = 2  # extractions one worker process runs at a time
LEASE = 60.0  # seconds a claim holds without a refresh; refreshed every LEASE / 4 while running
POLL = 1.0  # seconds between looks for claimable rows when not woken by the consumer
MAX_ATTEMPTS = 5  # claims of one job before it is failed instead of tried again

OnWorkbook = Callable[[str], Awaitable[None]]


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
    """A batch as `ImportRecords`' Arrow IPC body, its columns named by the field keys (no
    Python object per row: the record service validates and encodes it column-wise)."""
    renamed = batch.rename_columns(keys)
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, renamed.schema) as writer:
        writer.write_batch(renamed)
    return bytes(sink.getvalue())


class Extraction:
    """One `file:extract` job's work, start to finish (or failure)."""

    def __init__(self, app: FileApplication, rpc: RpcClient, claims: ClaimCheck, s3: Minio) -> None:
        self.app = app
        self.rpc = rpc
        self.claims = claims
        self.s3 = s3

    async def run(
        self, job_id: str, file_id: str, environment_id: str, space_id: str, on_workbook: OnWorkbook | None = None
    ) -> tuple[str, str | None, str]:
        """-> (state, workbook id, message): state is `skipped`, `complete` or `failed`.

        `on_workbook` is told the workbook's id as soon as it is created (before any record)."""
        who = principal(environment_id)
        try:
            await self._job(AckJob(principal=who, job_id=job_id, info="Extracting", progress=0))
        except (ConflictError, NotFoundError) as refused:
            log.info("file:extract job %s not started: %s", job_id, refused)
            return "skipped", None, str(refused)
        created: list[str] = []  # the workbook, once made
        try:
            message = await self._extract(who, job_id, file_id, space_id, created, on_workbook=on_workbook)
        except Exception as error:
            message = _message(error)
            log.info("file:extract job %s for file %s failed: %s", job_id, file_id, message)
            await self._undo(who, file_id, created[0] if created else None)
            await self._job(FailJob(principal=who, job_id=job_id, outcome={"acknowledge": True, "message": message}))
            return "failed", None, message
        return "complete", created[0], message

    async def _extract(
        self,
        who: Principal,
        job_id: str,
        file_id: str,
        space_id: str,
        created: list[str],
        *,
        on_workbook: OnWorkbook | None,
    ) -> str:
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
            if on_workbook is not None:
                await on_workbook(workbook_id)
            count = 0
            last: dict[str, int] = {}  # sheet -> position of its last insert
            size = path.stat().st_size
            ticks = Ticks(self._job)
            for index, (table, sheet_id) in enumerate(zip(tables, sheet_ids, strict=True)):
                batches = bounded(table.batches(), MAX_BATCH_BYTES)
                read = Read()
                headers = dict(zip(keys[index], table.headers, strict=True))  # field key -> the file's header
                rows = 0  # the table's data rows inserted so far: each commit names its rows (provenance)
                # the next batch is parsed (a thread) while this one is inserted
                upcoming = asyncio.ensure_future(asyncio.to_thread(_next_body, batches, keys[index], read))
                try:
                    while (next_body := await upcoming) is not None:
                        body, height = next_body
                        upcoming = asyncio.ensure_future(asyncio.to_thread(_next_body, batches, keys[index], read))
                        source = CommitSource(job_id=job_id, file_id=file_id, fields=headers, rows=[(rows + 1, height)])
                        written = await self._insert(who, sheet_id, body, source)
                        rows += height
                        count += written.record_count
                        last[sheet_id] = written.position
                        done = _fraction(table, read, size if len(tables) == 1 else 0)
                        progress = min(99, int(100 * (index + done) / len(tables)))
                        info = f"Extracted {count} records"
                        await ticks.send(AckJob(principal=who, job_id=job_id, info=info, progress=progress))
                finally:
                    upcoming.cancel()
                    with contextlib.suppress(BaseException):
                        await upcoming
            await ticks.flush()
        for inserted_into, position in last.items():  # whoever sees the job complete sees the records
            query = GetRecords(sheet_id=inserted_into, page_size=1, min_position=position, include_messages=False)
            await self.rpc.request(record.SERVICE, query, RecordsReply, timeout=WRITE_TIMEOUT)
        sheet_id = sheet_ids[0]
        linked = await self.app.files.update(
            UpdateFile(principal=who, file_id=file_id, workbook_id=workbook_id, sheet_id=sheet_id, status="complete")
        )
        await self.app.files.caught_up(linked.position)  # whoever sees the job complete sees the file linked
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

    async def _insert(self, who: Principal, sheet_id: str, body: bytes, source: CommitSource) -> Written:
        command = ImportRecords(principal=who, sheet_id=sheet_id, body=await self.claims.pack(body), source=source)
        return await self.rpc.request(record.SERVICE, command, Written, timeout=WRITE_TIMEOUT)

    async def discard(self, environment_id: str, workbook_id: str) -> None:
        """Delete a partial workbook an earlier attempt left (already gone is fine)."""
        command = DeleteWorkbook(principal=principal(environment_id), workbook_id=workbook_id)
        try:
            await self.rpc.request(workbook.SERVICE, command, WorkbookWritten)
        except NotFoundError:
            log.info("partial workbook %s is gone already", workbook_id)

    async def _undo(self, who: Principal, file_id: str, workbook_id: str | None) -> None:
        """Best effort: no partial workbook left, the file marked failed."""
        if workbook_id is not None:
            try:
                deleted = await self.rpc.request(
                    workbook.SERVICE, DeleteWorkbook(principal=who, workbook_id=workbook_id), WorkbookWritten
                )
                # whoever sees the job failed no longer lists the workbook
                with contextlib.suppress(NotFoundError):
                    query = GetWorkbook(workbook_id=workbook_id, min_position=deleted.position)
                    await self.rpc.request(workbook.SERVICE, query, WorkbookView)
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


def bounded(batches: Iterator[pa.RecordBatch], max_bytes: int) -> Iterator[pa.RecordBatch]:
    """The batches sliced (zero-copy) so that none holds much more than `max_bytes`: the record
    service holds a few encoded copies of a batch at once, and its memory stays bounded."""
    for batch in batches:
        if batch.nbytes <= max_bytes or batch.num_rows <= 1:
            yield batch
            continue
        rows = max(1, batch.num_rows * max_bytes // batch.nbytes)
        for start in range(0, batch.num_rows, rows):
            yield batch.slice(start, rows)


class Read:
    """About how many bytes of the source the batches handed out so far held (progress)."""

    def __init__(self) -> None:
        self.bytes = 0


def _next_body(batches: Iterator[pa.RecordBatch], keys: list[str], read: Read) -> tuple[bytes, int] | None:
    """The next batch's body and its number of rows (None after the last)."""
    batch = next(batches, None)
    if batch is None:
        return None
    # Arrow holds the text plus a 4-byte offset per cell; the file a delimiter (or a newline) per cell
    read.bytes += max(0, batch.nbytes - 3 * batch.num_rows * batch.num_columns)
    return records_body(batch, keys), batch.num_rows


def _fraction(table: Table, read: Read, size: int) -> float:
    """How much of `table` is read: rows of rows when its size is known up front (spreadsheets),
    else estimated from the bytes of the file (`size`: 0 when the file holds several tables)."""
    if table.total_rows:
        return min(1.0, table.rows_read / table.total_rows)
    if size:
        return min(0.99, read.bytes / size)
    return 0.5


class Ticks:
    """Progress acks sent without holding up the next batch: one in flight, in order."""

    def __init__(self, send: Callable[[AckJob], Awaitable[None]]) -> None:
        self._send = send
        self._last: asyncio.Future[None] | None = None

    async def send(self, ack: AckJob) -> None:
        await self.flush()
        self._last = asyncio.ensure_future(self._send(ack))

    async def flush(self) -> None:
        """Wait for the last ack (its error, e.g. a job canceled meanwhile, is raised here)."""
        if self._last is not None:
            last, self._last = self._last, None
            await last


def _message(error: Exception) -> str:
    text = str(error) if isinstance(error, ExtractionError) else f"Extraction failed: {error or type(error).__name__}"
    return text[:MAX_MESSAGE]


class ExtractJobs:
    """The consumer of the job events (schema `file_extract`): record extract jobs, pending when ready.

    Applying an event only writes the row; `ExtractPool` does the work. `on_commit` (called by
    `ExtractRunner` after each committed batch) wakes the pool."""

    migrations = Path(__file__).parent.parent / "projections" / "extractor_migrations"

    def __init__(self, prefix: str = "evt", name: str = NAME) -> None:
        self.name = name
        self.filter_subjects = [f"{prefix}.*.job.>", f"{prefix}.*.space.*.space_deleted"]

    async def apply(self, conn: Conn, stored: StoredEvent) -> None:
        match stored.event:
            case JobCreated(job_type="file", operation="extract", file_id=str() as file_id) as e:
                # created ready: no JobReady of its own follows
                status = "pending" if e.status == "ready" and e.space_id is not None else "created"
                await conn.execute(
                    "INSERT INTO extract_job (job_id, file_id, environment_id, space_id, position, status)"
                    " VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (job_id) DO NOTHING",
                    e.job_id,
                    file_id,
                    e.environment_id,
                    e.space_id,
                    stored.seq,
                    status,
                )
            case JobReady() as e:
                await conn.execute(
                    "UPDATE extract_job SET status = 'pending'"
                    " WHERE job_id = $1 AND status = 'created' AND space_id IS NOT NULL",
                    e.job_id,
                )
            case SpaceDeleted() as e:  # erasure: nothing of the space stays
                await conn.execute("DELETE FROM extract_job WHERE space_id = $1", e.space_id)


class ExtractRunner(ProjectionRunner):
    """The consumer's runner: after each committed batch, `on_commit` (the pool's wake-up)."""

    def __init__(self, *args: Any, on_commit: Callable[[], None], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.on_commit = on_commit

    async def after_commit(self, msgs: list[Any]) -> None:
        self.on_commit()


class LeaseLostError(BaseException):
    """The claim of a running job was taken over by another worker (this one's lease expired)."""


class Work(Protocol):
    """What the pool runs (`Extraction`; tests pass a fake)."""

    async def run(
        self, job_id: str, file_id: str, environment_id: str, space_id: str, on_workbook: OnWorkbook | None = None
    ) -> tuple[str, str | None, str]: ...

    async def discard(self, environment_id: str, workbook_id: str) -> None: ...


class Claim(msgspec.Struct, frozen=True, kw_only=True):
    job_id: str
    file_id: str
    environment_id: str
    space_id: str
    claim_id: str
    attempts: int
    reclaimed: bool  # the row was `running`: an earlier attempt died
    workbook_id: str | None  # the partial workbook of an earlier attempt


class ExtractPool:
    """Claims pending (or expired running) `extract_job` rows and runs them, `concurrency` at a time."""

    def __init__(
        self,
        pool: Callable[[], asyncpg.Pool],
        work: Work,
        schema: str = NAME,
        *,
        concurrency: int = CONCURRENCY,
        lease: float = LEASE,
        poll: float = POLL,
        max_attempts: int = MAX_ATTEMPTS,
    ) -> None:
        self._pool = pool
        self.work = work
        self.table = f"{quote_ident(schema)}.extract_job"
        self.lease = lease
        self.poll = poll
        self.max_attempts = max_attempts
        self._slots = asyncio.Semaphore(concurrency)
        self._wake = asyncio.Event()
        self._loop: asyncio.Task[None] | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    def wake(self) -> None:
        self._wake.set()

    async def start(self) -> None:
        self._loop = asyncio.create_task(self._run(), name=f"{NAME}-pool")

    async def stop(self) -> None:
        tasks = [t for t in (self._loop, *self._tasks) if t is not None]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._loop = None
        self._tasks.clear()

    async def _run(self) -> None:
        while True:
            await self._slots.acquire()
            try:
                claim = await self.claim()
            except Exception:
                log.exception("file:extract: cannot claim a job; retrying")
                claim = None
            if claim is None:
                self._slots.release()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), self.poll)
                self._wake.clear()
                continue
            task = asyncio.create_task(self._work(claim), name=f"{NAME}-{claim.job_id}")
            self._tasks.add(task)
            task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        self._slots.release()

    async def claim(self) -> Claim | None:
        """Claim the oldest pending row, or a running one whose lease expired (the work of a dead worker)."""
        token = uuid.uuid4().hex
        async with self._pool().acquire() as conn:
            row: Any = await conn.fetchrow(
                f"WITH c AS (SELECT job_id, status FROM {self.table}"
                "  WHERE space_id IS NOT NULL AND (status = 'pending'"
                "   OR (status = 'running' AND claimed_at < now() - make_interval(secs => $1)))"
                "  ORDER BY position LIMIT 1 FOR UPDATE SKIP LOCKED)"
                f" UPDATE {self.table} e SET status = 'running', claimed_at = now(), claim_id = $2,"
                "  attempts = e.attempts + 1"
                " FROM c WHERE e.job_id = c.job_id"
                " RETURNING e.job_id, e.file_id, e.environment_id, e.space_id, e.workbook_id, e.attempts,"
                "  c.status AS was",
                self.lease,
                token,
            )
        if row is None:
            return None
        return Claim(
            job_id=row["job_id"],
            file_id=row["file_id"],
            environment_id=row["environment_id"],
            space_id=row["space_id"],
            claim_id=token,
            attempts=row["attempts"],
            reclaimed=row["was"] == "running",
            workbook_id=row["workbook_id"],
        )

    async def _work(self, claim: Claim) -> None:
        heartbeat = asyncio.create_task(self._heartbeat(claim, asyncio.current_task()))
        try:
            await self.execute(claim)
        except asyncio.CancelledError:
            raise  # stopped (or the lease was lost): the row stays running, re-claimed after the lease
        except LeaseLostError:
            log.warning("file:extract job %s: attempt %s lost its lease; left to its new owner", *_ids(claim))
        except Exception:
            log.exception("file:extract job %s: attempt %s broke off; retried after the lease", *_ids(claim))
        finally:
            heartbeat.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await heartbeat

    async def execute(self, claim: Claim) -> None:
        """One claimed job: clean up after an earlier attempt, run, mark the row."""
        if claim.workbook_id is not None:
            log.info("file:extract job %s: deleting partial workbook %s", claim.job_id, claim.workbook_id)
            await self.work.discard(claim.environment_id, claim.workbook_id)
            await self._update(claim, "workbook_id = NULL")
        if claim.attempts > self.max_attempts:
            log.warning("file:extract job %s: %s attempts, giving up", claim.job_id, claim.attempts - 1)
            await self._finish(claim, "failed", None, f"Extraction gave up after {claim.attempts - 1} attempts")
            return

        async def created(workbook_id: str) -> None:
            if not await self._update(claim, "workbook_id = $3", workbook_id):
                # Another worker owns the job now: this attempt's workbook is nobody's. Not an
                # Exception, so the extraction does not fail the job (the new owner runs it).
                await self.work.discard(claim.environment_id, workbook_id)
                raise LeaseLostError(claim.job_id)

        state, workbook_id, message = await self.work.run(
            claim.job_id, claim.file_id, claim.environment_id, claim.space_id, created
        )
        await self._finish(claim, state, workbook_id, message)

    async def _finish(self, claim: Claim, state: str, workbook_id: str | None, message: str) -> None:
        status = "failed" if state == "failed" else "done"
        held = await self._update(
            claim, "status = $3, state = $4, workbook_id = $5, message = $6", status, state, workbook_id, message
        )
        if not held:
            log.warning("file:extract job %s: ended %s after losing its lease", claim.job_id, state)

    async def _update(self, claim: Claim, assignments: str, *values: Any) -> bool:
        """Update the claimed row while the claim is still ours; False if it is not."""
        async with self._pool().acquire() as conn:
            found = await conn.fetchval(
                f"UPDATE {self.table} SET {assignments} WHERE job_id = $1 AND claim_id = $2 RETURNING true",
                claim.job_id,
                claim.claim_id,
                *values,
            )
        return bool(found)

    async def _heartbeat(self, claim: Claim, worker: asyncio.Task[Any] | None) -> None:
        """Refresh the lease while the job runs; cancel the work when another worker took it over."""
        while True:
            await asyncio.sleep(self.lease / 4)
            try:
                held = await self._update(claim, "claimed_at = now()")
            except Exception:
                log.exception("file:extract job %s: cannot refresh its lease", claim.job_id)
                continue
            if not held:
                log.warning("file:extract job %s: lease lost to another worker; stopping", claim.job_id)
                if worker is not None:
                    worker.cancel()
                return


def _ids(claim: Claim) -> tuple[str, int]:
    return claim.job_id, claim.attempts
