"""CSV imports end to end (upload → extract → map → validated records) next to raw ceilings.

For each row count in BENCH_IMPORT_SIZES (default "100000,1000000"; BENCH_IMPORT_ROWS, if set,
is the only size) writes that many rows of 10 columns (~110 bytes a row, ~10% invalid ages;
BENCH_IMPORT_PAD extra characters in `notes` make bigger files) to a temporary CSV, then
measures, in the same run on the same servers:

- ceiling (b): asyncpg `copy_to_table` of the CSV (text COPY, format csv) into a 10-column text table;
- ceiling (a): asyncpg `copy_records_to_table` (binary COPY) of the same rows as the destination
  sheet stores them (jsonb cells) into a table shaped like the record service's `record` table,
  with its indexes (rows built in batches; only the COPY is timed);
- the raw S3 put of the same file (minio `fput_object` into the bench's S3): the upload's ceiling;
- the platform (the shared `stack`: every service as a real process), through the public HTTP
  API only: streamed `POST /v1/files`, the `file:extract` job, a `workbook:map` job into a sheet
  of 10 typed fields, and `GET /v1/sheets/{id}/counts` until it holds every row.

The first size's figures are keyed `imports.csv_small_*` (the 100k scenario), the second's
`imports.csv_large_*` (1M). Peak RSS is sampled for the whole run by `stack`. A job that does not
finish in BENCH_IMPORT_TIMEOUT seconds (default max(600, rows / 200)), or sheet counts that stop
moving for BENCH_IMPORT_STALL seconds (default 120) short of every row, fail the part with the
services' log tails.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import httpx
import msgspec
from minio import Minio

from spaceport.bench.harness import TIMES, Bench, Ceiling, Figure, env_int
from spaceport.bench.records import COPY_COLUMNS
from spaceport.bench.stack import Stack
from spaceport.s3 import ensure_bucket

TITLE = "imports: CSV upload to validated records vs. raw COPY"
SERVICES = ("space", "workbook", "record", "file", "job", "gateway")
COLUMNS = ("first", "last", "email", "age", "born", "tier", "active", "city", "phone", "notes")
FIELDS: list[dict[str, Any]] = [
    {"key": "first", "label": "first", "type": "string"},
    {"key": "last", "label": "last", "type": "string"},
    {"key": "email", "label": "email", "type": "string"},
    {"key": "age", "label": "age", "type": "number"},
    {"key": "born", "label": "born", "type": "date"},
    {
        "key": "tier",
        "label": "tier",
        "type": "enum",
        "config": {"options": [{"value": "gold"}, {"value": "silver"}, {"value": "bronze"}]},
    },
    {"key": "active", "label": "active", "type": "boolean"},
    {"key": "city", "label": "city", "type": "string"},
    {"key": "phone", "label": "phone", "type": "string"},
    {"key": "notes", "label": "notes", "type": "string"},
]
TIERS = ("gold", "silver", "bronze")
WRITE_CHUNK = 10_000  # rows per write() of the CSV
COPY_BATCH = 20_000  # rows per binary COPY (built just before it, so memory stays bounded)
POLL = 0.5  # seconds between job polls
REPORT_EVERY = 5.0  # seconds between progress lines while waiting
MIB = 1024  # VmHWM is in KiB
_encoder = msgspec.json.Encoder()


# ---- the rows -----------------------------------------------------------------------------


def values(i: int, pad: str = "") -> tuple[str, ...]:
    """Row `i` as CSV text cells (no commas or quotes in any, so no quoting is needed)."""
    return (
        f"First{i}",
        f"Last{i % 977}",
        f"user{i}@example.com",
        "n/a" if i % 10 == 0 else str(18 + i % 60),
        f"19{50 + i % 50}-{1 + i % 12:02d}-{1 + i % 28:02d}",
        TIERS[i % 3],
        "yes" if i % 3 else "no",
        f"City {i % 1000}",
        f"+1-555-{i % 10_000_000:07d}",
        f"imported row {i} note{pad}",
    )


def invalid_rows(total: int) -> int:
    return (total + 9) // 10  # i % 10 == 0: the age is "n/a"


def write_csv(path: Path, total: int, pad: int) -> int:
    """Stream `total` rows to `path` (a chunk at a time); returns the file size in bytes."""
    padding = "x" * pad
    with path.open("w", encoding="utf-8", newline="") as out:
        out.write(",".join(COLUMNS) + "\n")
        for start in range(0, total, WRITE_CHUNK):
            out.write(
                "".join(",".join(values(i, padding)) + "\n" for i in range(start, min(start + WRITE_CHUNK, total)))
            )
    return path.stat().st_size


def stored_cells(i: int, pad: str, at: str) -> tuple[str, bool, list[str]]:
    """(cells jsonb text, valid, error fields) of row `i` as the destination sheet stores it."""
    first, last, email, age, born, tier, active, city, phone, notes = values(i, pad)
    typed: dict[str, Any] = {
        "first": first,
        "last": last,
        "email": email,
        "age": age if age == "n/a" else int(age),
        "born": born,
        "tier": tier,
        "active": active == "yes",
        "city": city,
        "phone": phone,
        "notes": notes,
    }
    cells: dict[str, Any] = {}
    errors: list[str] = []
    for key, value in typed.items():
        messages: list[dict[str, str]] = []
        if key == "age" and value == "n/a":
            messages = [{"message": "'n/a' is not a number", "type": "error", "source": "type-cast", "field": key}]
            errors.append(key)
        cells[key] = {"value": value, "valid": not messages, "messages": messages, "updatedAt": at}
    return _encoder.encode(cells).decode(), not errors, errors


# ---- the ceilings -------------------------------------------------------------------------


async def text_copy_ceiling(bench: Bench, csv_path: Path, total: int) -> Figure:
    """(b) text COPY of the CSV file itself into a 10-column text table."""
    schema = bench.schema("imports_text")
    async with bench.pool.acquire() as conn:
        await conn.execute(f"CREATE SCHEMA {schema}")
        await conn.execute(f"CREATE TABLE {schema}.upload ({', '.join(f'{c} text' for c in COLUMNS)})")

        async def copy() -> None:
            await conn.copy_to_table(
                "upload", schema_name=schema, source=csv_path, format="csv", header=True, columns=list(COLUMNS)
            )

        figure = await bench.measure(
            "(b) text COPY of the CSV, 10 text columns", total, copy, unit="rows/s", raw=True, key="pg_text_copy"
        )
        copied = await conn.fetchval(f"SELECT count(*) FROM {schema}.upload")
        if copied != total:
            raise RuntimeError(f"text COPY stored {copied:,} rows, not {total:,}")
        await conn.execute(f"DROP SCHEMA {schema} CASCADE")
    return figure


async def binary_copy_ceiling(bench: Bench, total: int, pad: int) -> Figure:
    """(a) binary COPY of the stored form of the same rows into a `record`-shaped table."""
    schema = bench.schema("imports_records")
    padding = "x" * pad
    at = datetime.now(UTC)
    stamp = at.isoformat().replace("+00:00", "Z")
    label = "(a) binary COPY, record table (jsonb cells, indexes)"
    bench.progress(f"{label}: {total:,} ...")
    async with bench.pool.acquire() as conn:
        await conn.execute(f"CREATE SCHEMA {schema}")
        await conn.execute(
            f"CREATE TABLE {schema}.record (sheet_id text NOT NULL, row_no bigint NOT NULL, id text NOT NULL,"
            " cells jsonb NOT NULL, metadata jsonb NOT NULL, valid boolean NOT NULL, error_fields text[] NOT NULL,"
            " commit_id text NOT NULL, seq bigint NOT NULL, updated_at timestamptz NOT NULL,"
            " PRIMARY KEY (sheet_id, row_no))"
        )
        await conn.execute(f"CREATE UNIQUE INDEX ON {schema}.record (id)")
        await conn.execute(f"CREATE INDEX ON {schema}.record (sheet_id, row_no) WHERE NOT valid")
        await conn.execute(f"CREATE INDEX ON {schema}.record (sheet_id, seq)")
        seconds = 0.0
        for start in range(0, total, COPY_BATCH):
            rows: list[tuple[Any, ...]] = []
            for i in range(start, min(start + COPY_BATCH, total)):
                cells, valid, errors = stored_cells(i, padding, stamp)
                rows.append(("us_sh_bench", i + 1, f"us_rc_{i:012x}", cells, "{}", valid, errors, "c", 1, at))
            began = time.perf_counter()
            await conn.copy_records_to_table("record", schema_name=schema, records=rows, columns=COPY_COLUMNS)
            seconds += time.perf_counter() - began
        await conn.execute(f"DROP SCHEMA {schema} CASCADE")
    figure = Figure(label, total, seconds, unit="rows/s", raw=True, note="only the COPY is timed", key="pg_binary_copy")
    bench.progress(f"    {figure.rate:,.0f} {figure.unit} ({figure.seconds:.2f}s)")
    return figure


# ---- the platform -------------------------------------------------------------------------


def data(reply: httpx.Response) -> Any:
    if reply.status_code != 200:
        raise RuntimeError(f"{reply.request.method} {reply.request.url} answered {reply.status_code}: {reply.text}")
    return reply.json()["data"]


class Watch:
    """Polls a job until it is done, printing its status and progress every few seconds."""

    def __init__(self, bench: Bench, running: Stack, what: str, timeout: float) -> None:
        self.bench, self.running, self.what = bench, running, what
        self.deadline = time.monotonic() + timeout
        self.next_report = time.monotonic() + REPORT_EVERY

    def tick(self, state: str) -> None:
        now = time.monotonic()
        dead = self.running.dead()
        if dead:
            raise RuntimeError(f"{dead[0].name} died while waiting for {self.what}:\n{self.running.tails()}")
        if now > self.deadline:
            raise RuntimeError(f"timed out waiting for {self.what} ({state})\n{self.running.tails()}")
        if now >= self.next_report:
            self.bench.progress(f"    {self.what}: {state}")
            self.next_report = now + REPORT_EVERY


def job_state(job: dict[str, Any]) -> str:
    info = f", {job['info']}" if job.get("info") else ""
    return f"{job['status']} {job.get('progress', 0)}%{info}"


async def finished(api: httpx.AsyncClient, watch: Watch, job_id: str) -> dict[str, Any]:
    while True:
        job: dict[str, Any] = data(await api.get(f"/jobs/{job_id}"))
        if job["status"] in ("complete", "failed", "canceled"):
            return job
        watch.tick(job_state(job))
        await asyncio.sleep(POLL)


def ceilings(*figures: Figure) -> tuple[Ceiling, ...]:
    return tuple(f.as_ceiling() for f in figures)


@dataclass
class Upload:
    path: Path
    size: int
    rows: int


@dataclass
class Importer:
    """One import through the HTTP API; the `perf_counter` stamps of its steps become the figures."""

    bench: Bench
    running: Stack
    api: httpx.AsyncClient
    timeout: float
    stamps: dict[str, float] = field(default_factory=dict)

    def stamp(self, step: str) -> None:
        self.stamps[step] = time.perf_counter()

    def watch(self, what: str) -> Watch:
        return Watch(self.bench, self.running, what, self.timeout)

    async def destination(self) -> tuple[str, str, str, str]:
        """(environment, space, destination workbook, destination sheet)."""
        environment = data(await self.api.get("/environments/current"))["id"]
        space = data(await self.api.post("/spaces", json={"name": "bench import"}))["id"]
        sheets = [{"name": "Contacts", "fields": FIELDS}]
        created = data(await self.api.post("/workbooks", json={"name": "Contacts", "spaceId": space, "sheets": sheets}))
        return environment, space, created["id"], created["sheets"][0]["id"]

    async def upload(self, upload: Upload, environment: str, space: str) -> str:
        self.bench.progress(
            f"POST /v1/files: {upload.path.name}, {upload.size / 1e6:,.1f} MB, {upload.rows:,} rows ..."
        )
        self.stamp("began")
        with upload.path.open("rb") as stream:  # httpx reads it a chunk at a time
            form = {"spaceId": space, "environmentId": environment}
            files = {"file": (upload.path.name, stream, "text/csv")}
            file_id: str = data(await self.api.post("/files", data=form, files=files))["id"]
        self.stamp("uploaded")
        seconds = self.stamps["uploaded"] - self.stamps["began"]
        self.bench.progress(f"    uploaded in {seconds:.2f}s ({upload.size / 1e6 / seconds:,.1f} MB/s)")
        return file_id

    async def extract(self, file_id: str, rows: int) -> tuple[str, str]:
        """(source workbook, source sheet) once the file's extract job completed."""
        self.bench.progress("file:extract ...")
        watch = self.watch("file:extract")
        while not (jobs := data(await self.api.get("/jobs", params={"fileId": file_id}))):
            watch.tick("no extract job yet")
            await asyncio.sleep(POLL)
        [job_id] = [j["id"] for j in jobs if (j["type"], j["operation"]) == ("file", "extract")]
        job = await finished(self.api, watch, job_id)
        self.stamp("extracted")
        if job["status"] != "complete":
            raise RuntimeError(f"the extract job ended {job['status']}: {job.get('outcome')}\n{self.running.tails()}")
        self.bench.progress(f"    {job['outcome']} in {self.stamps['extracted'] - self.stamps['uploaded']:.2f}s")
        described = data(await self.api.get(f"/files/{file_id}"))
        await self.settled(described["sheetId"], rows, "source counts")
        self.stamp("settled")
        self.bench.progress(
            f"    source sheet counts right {self.stamps['settled'] - self.stamps['extracted']:.2f}s after the job"
        )
        return described["workbookId"], described["sheetId"]

    async def settled(self, sheet: str, rows: int, what: str) -> dict[str, Any]:
        """The sheet's counts once they hold `rows` records (the projection may lag behind a job)."""
        watch = self.watch(what)
        stall = float(env_int("BENCH_IMPORT_STALL", 120))
        last, changed = -1, time.monotonic()
        while (counts := data(await self.api.get(f"/sheets/{sheet}/counts"))["counts"])["total"] != rows:
            if counts["total"] > rows:
                raise RuntimeError(f"{what}: {counts}, more than the {rows:,} rows of the file")
            if counts["total"] != last:
                last, changed = counts["total"], time.monotonic()
            elif time.monotonic() - changed > stall:
                raise RuntimeError(
                    f"{what}: stuck at {counts} for {stall:.0f}s (BENCH_IMPORT_STALL), expected {rows:,} rows\n"
                    f"{self.running.tails()}"
                )
            watch.tick(f"{counts}")
            await asyncio.sleep(POLL)
        found: dict[str, Any] = counts
        return found

    async def map(self, source: tuple[str, str], destination: tuple[str, str]) -> None:
        self.bench.progress("workbook:map ...")
        body = {
            "type": "workbook",
            "operation": "map",
            "source": source[0],
            "destination": destination[0],
            "config": {"sourceSheetId": source[1], "destinationSheetId": destination[1]},
        }
        job_id = data(await self.api.post("/jobs", json=body))["id"]
        watch = self.watch("workbook:map plan")
        while not (found := data(await self.api.get(f"/jobs/{job_id}/plan")))["plan"]["fieldMapping"]:
            watch.tick(job_state(found["job"]))
            await asyncio.sleep(POLL)
        self.stamp("planned")
        pairs = {m["sourceField"]["key"]: m["destinationField"]["key"] for m in found["plan"]["fieldMapping"]}
        if pairs != {c: c for c in COLUMNS}:
            raise RuntimeError(f"the plan maps {pairs}, not every column onto its namesake")
        self.bench.progress(f"    planned in {self.stamps['planned'] - self.stamps['settled']:.2f}s; execute ...")
        data(await self.api.post(f"/jobs/{job_id}/execute"))
        job = await finished(self.api, self.watch("workbook:map"), job_id)
        self.stamp("executed")
        if job["status"] != "complete":
            raise RuntimeError(f"the map job ended {job['status']}: {job.get('outcome')}\n{self.running.tails()}")
        self.bench.progress(f"    {job['outcome']} in {self.stamps['executed'] - self.stamps['planned']:.2f}s")

    async def verify(self, sheet: str, rows: int) -> dict[str, Any]:
        """Wait until the destination counts hold every row; check the invalid ones. Returns the counts."""
        counts = await self.settled(sheet, rows, "destination counts")
        self.stamp("done")
        self.bench.progress(
            f"    destination counts {counts} (after {self.stamps['done'] - self.stamps['executed']:.2f}s more)"
        )
        if counts["valid"] + counts["error"] != rows:
            raise RuntimeError(f"destination counts {counts} do not add up to {rows:,}")
        if counts["error"] != invalid_rows(rows):
            raise RuntimeError(f"destination has {counts['error']:,} invalid rows, expected {invalid_rows(rows):,}")
        page = data(await self.api.get(f"/sheets/{sheet}/records", params={"filter": "error", "pageSize": 5}))
        bad = [r["values"]["age"] for r in page["records"]]
        if not bad or any(cell["valid"] or cell["value"] != "n/a" for cell in bad):
            raise RuntimeError(f"filter=error does not show the invalid ages: {bad}")
        found: dict[str, Any] = counts
        return found

    def figures(
        self, upload: Upload, counts: dict[str, Any], against: tuple[Ceiling, ...], s3_put: Ceiling
    ) -> list[Figure]:
        t = self.stamps
        mb = upload.size / 1e6

        def span(
            label: str, first: str, last: str, note: str, *, key: str, to: tuple[Ceiling, ...] = against
        ) -> Figure:
            return Figure(
                f"{label} ({upload.rows:,} rows)",
                upload.rows,
                t[last] - t[first],
                unit="rows/s",
                ceilings=to,
                note=note,
                key=key,
            )

        return [
            span(
                "upload: POST /v1/files (streamed to S3)",
                "began",
                "uploaded",
                f"{mb / (t['uploaded'] - t['began']):,.1f} MB/s of {mb:,.1f} MB",
                key="upload",
                to=(s3_put, *against),
            ),
            span(
                "extraction: file:extract job, to source counts right",
                "uploaded",
                "settled",
                f"{t['settled'] - t['uploaded']:.1f}s: job {t['extracted'] - t['uploaded']:.1f}s,"
                f" counts right {t['settled'] - t['extracted']:.1f}s later",
                key="extraction",
            ),
            span(
                "mapping: workbook:map job, to destination counts right",
                "settled",
                "done",
                f"{t['done'] - t['settled']:.1f}s: plan {t['planned'] - t['settled']:.1f}s,"
                f" execute {t['executed'] - t['planned']:.1f}s, counts right {t['done'] - t['executed']:.1f}s later",
                key="mapping",
            ),
            span(
                "end to end: upload start to counts right",
                "began",
                "done",
                f"{t['done'] - t['began']:.1f}s, {counts['valid']:,} valid + {counts['error']:,} invalid",
                key="end_to_end",
            ),
        ]


async def import_csv(
    bench: Bench, running: Stack, upload: Upload, against: tuple[Ceiling, ...], s3_put: Figure
) -> list[Figure]:
    timeout = float(env_int("BENCH_IMPORT_TIMEOUT", max(600, upload.rows // 200)))
    headers = {"Authorization": f"Bearer {running.secret}"}
    async with httpx.AsyncClient(base_url=running.api, headers=headers, timeout=timeout) as api:
        importer = Importer(bench, running, api, timeout)
        environment, space, workbook, sheet = await importer.destination()
        file_id = await importer.upload(upload, environment, space)
        source = await importer.extract(file_id, upload.rows)
        await importer.map(source, (workbook, sheet))
        counts = await importer.verify(sheet, upload.rows)
    return importer.figures(upload, counts, against, s3_put.as_ceiling())


# ---- the runs ----------------------------------------------------------------------------


def sizes() -> list[int]:
    """BENCH_IMPORT_SIZES (comma-separated row counts), or the single BENCH_IMPORT_ROWS."""
    if os.environ.get("BENCH_IMPORT_ROWS"):
        return [env_int("BENCH_IMPORT_ROWS", 0)]
    raw = os.environ.get("BENCH_IMPORT_SIZES", "100000,1000000")
    return [int(x.replace("_", "")) for x in raw.split(",") if x.strip()]


async def s3_put_ceiling(bench: Bench, stack: Stack, csv_path: Path, rows: int, size: int) -> Figure:
    """The raw S3 put of the very file the upload streams (minio client, multipart as needed)."""
    servers = stack.servers
    url = urlparse(servers.s3_endpoint)
    client = Minio(
        url.netloc,
        access_key=servers.s3_access_key,
        secret_key=servers.s3_secret_key,
        secure=url.scheme == "https",
    )
    bucket = f"bench-raw-{bench.run_id}"
    await asyncio.to_thread(ensure_bucket, client, bucket)

    async def put() -> None:
        await asyncio.to_thread(client.fput_object, bucket, csv_path.name, str(csv_path), content_type="text/csv")

    figure = await bench.measure(
        f"raw S3 put of the CSV (minio fput_object, {size / 1e6:,.1f} MB)",
        rows,
        put,
        unit="rows/s",
        raw=True,
        key="s3_put",
    )
    figure = Figure(**{**figure.__dict__, "note": f"{size / 1e6 / figure.seconds:,.1f} MB/s"})
    with contextlib.suppress(Exception):
        await asyncio.to_thread(client.remove_object, bucket, csv_path.name)
        await asyncio.to_thread(client.remove_bucket, bucket)
    return figure


async def one_import(bench: Bench, stack: Stack, work: Path, total: int, scenario: str) -> list[Figure]:
    pad = env_int("BENCH_IMPORT_PAD", 0)
    csv_path = work / f"import-{total}.csv"
    try:
        bench.progress(f"writing {total:,} rows {TIMES} {len(COLUMNS)} columns to {csv_path} ...")
        size = write_csv(csv_path, total, pad)
        bench.progress(f"    {size / 1e6:,.1f} MB ({size / total:,.0f} bytes/row)")
        text = await text_copy_ceiling(bench, csv_path, total)
        binary = await binary_copy_ceiling(bench, total, pad)
        s3_put = await s3_put_ceiling(bench, stack, csv_path, total, size)
        figures = await import_csv(bench, stack, Upload(csv_path, size, total), ceilings(binary, text), s3_put)
        return [Figure(**{**f.__dict__, "key": f"{f.key}_{total}"}) for f in (text, binary, s3_put)] + [
            Figure(**{**f.__dict__, "key": f"{scenario}_{f.key}"}) for f in figures
        ]
    finally:
        with contextlib.suppress(OSError):
            csv_path.unlink()


async def run(bench: Bench) -> list[Figure]:
    stack = bench.stack()
    work = Path(tempfile.mkdtemp(prefix="spaceport-bench-imports-"))
    figures: list[Figure] = []
    try:
        for index, total in enumerate(sizes()):
            scenario = "csv_small" if index == 0 else "csv_large" if index == 1 else f"csv_{total}"
            figures += await one_import(bench, stack, work, total, scenario)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return figures


if __name__ == "__main__":
    from spaceport.bench.__main__ import main

    sys.exit(main(["imports"]))
