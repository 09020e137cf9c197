"""The `file:extract` worker: its pure parts (field keys, sheet slugs, the records body), and its
work queue on Postgres (the consumer's rows, exclusive claims, leases, re-claims after a crash)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any, cast

import asyncpg
import pyarrow as pa
import pytest

from file_service.entrypoints.extractor import (
    NAME,
    ExtractJobs,
    ExtractPool,
    LeaseLostError,
    OnWorkbook,
    field_keys,
    records_body,
    sheet_slugs,
)
from spaceport import readmodel
from spaceport.contracts.job import JobCreated, JobReady
from spaceport.events import Event, StoredEvent
from spaceport.testing.fixtures import own_settings
from spaceport.testing.infra import InfraUrls


def test_field_keys_are_safe_unique_slugs_of_the_headers() -> None:
    headers = ["First Name", "first-name", "E-mail", "  ", "Ünïcode", "a", "a_2", "A"]
    assert field_keys(headers) == ["first_name", "first_name_2", "e_mail", "field", "n_code", "a", "a_2", "a_3"]


def test_sheet_slugs_are_unique() -> None:
    assert sheet_slugs(["People", "people", "!!"]) == ["people", "people-2", "sheet"]


def test_records_body_is_the_batch_as_arrow_ipc_named_by_field_keys() -> None:
    batch = pa.record_batch({"First Name": ["Ada", "Grace"], "Note": ["x\ny", None]})
    body = records_body(batch, ["first_name", "note"])
    table = pa.ipc.open_stream(body).read_all()
    assert table.column_names == ["first_name", "note"]
    assert table.to_pylist() == [{"first_name": "Ada", "note": "x\ny"}, {"first_name": "Grace", "note": None}]


# ---- the work queue: consumer rows, claims, leases and re-claims (Postgres) ----------------------


@dataclass
class FakeWork:
    """Stands in for `Extraction`: records calls; each run waits for `release` (if set), then `outcome`."""

    workbook: str | None = None  # told to on_workbook before waiting
    outcome: tuple[str, str | None, str] = ("complete", "us_wb_done", "Extracted 1 records from 1 sheet(s)")
    release: asyncio.Event | None = None
    runs: list[str] = field(default_factory=list)
    running: int = 0
    most: int = 0
    discarded: list[tuple[str, str]] = field(default_factory=list)

    async def run(
        self, job_id: str, file_id: str, environment_id: str, space_id: str, on_workbook: OnWorkbook | None = None
    ) -> tuple[str, str | None, str]:
        self.runs.append(job_id)
        self.running += 1
        self.most = max(self.most, self.running)
        try:
            if self.workbook is not None and on_workbook is not None:
                await on_workbook(self.workbook)
            if self.release is not None:
                await self.release.wait()
            return self.outcome
        finally:
            self.running -= 1

    async def discard(self, environment_id: str, workbook_id: str) -> None:
        self.discarded.append((environment_id, workbook_id))


@pytest.fixture
async def db(infra: InfraUrls, unique_name: str) -> AsyncIterator[asyncpg.Pool]:
    async with own_settings(infra, unique_name, "file") as settings:
        pool = await readmodel.create_pool(settings.database_url, NAME)
        async with pool.acquire() as conn:
            await readmodel.migrate(conn, NAME, ExtractJobs.migrations)
        try:
            yield pool
        finally:
            await pool.close()


def stored(seq: int, event: Event) -> StoredEvent:
    return cast(StoredEvent, SimpleNamespace(seq=seq, event=event))


def created(job_id: str, status: str = "created", operation: str = "extract") -> JobCreated:
    return JobCreated(
        job_id=job_id,
        environment_id="us_env_x",
        space_id="us_sp_x",
        job_type="file",
        operation=operation,
        source=f"us_fl_{job_id}",
        file_id=f"us_fl_{job_id}",
        status=status,
    )


async def record_jobs(db: asyncpg.Pool, *events: Event) -> None:
    consumer = ExtractJobs()
    async with db.acquire() as conn, conn.transaction():
        for seq, event in enumerate(events, start=1):
            await consumer.apply(conn, stored(seq, event))


async def rows(db: asyncpg.Pool) -> dict[str, Any]:
    async with db.acquire() as conn:
        found = await conn.fetch("SELECT * FROM extract_job ORDER BY position")
    return {r["job_id"]: dict(r) for r in found}


async def eventually(check: Callable[[], Awaitable[bool]], what: str, timeout: float = 10.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not await check():
        assert asyncio.get_running_loop().time() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.05)


async def test_the_consumer_only_records_jobs_pending_once_ready(db: asyncpg.Pool) -> None:
    await record_jobs(
        db, created("a"), created("b", status="ready"), created("c", operation="map"), JobReady(job_id="a")
    )
    found = await rows(db)
    assert {k: v["status"] for k, v in found.items()} == {"a": "pending", "b": "pending"}
    await record_jobs(db, created("a"), JobReady(job_id="a"))  # redelivered: nothing changes
    assert (await rows(db))["a"]["position"] == 1


async def test_two_replicas_never_claim_the_same_job(db: asyncpg.Pool) -> None:
    await record_jobs(db, *(created(f"j{n}", status="ready") for n in range(6)))
    one, two = ExtractPool(lambda: db, FakeWork()), ExtractPool(lambda: db, FakeWork())
    claims = await asyncio.gather(*(p.claim() for p in (one, two) * 5))
    got = [c.job_id for c in claims if c is not None]
    assert sorted(got) == [f"j{n}" for n in range(6)]
    assert not any(c.reclaimed for c in claims if c is not None)
    found = await rows(db)
    assert {v["status"] for v in found.values()} == {"running"}
    assert all(v["claimed_at"] is not None for v in found.values())


async def test_the_pool_runs_jobs_concurrently_and_marks_them(db: asyncpg.Pool) -> None:
    work = FakeWork(release=asyncio.Event())
    pool = ExtractPool(lambda: db, work, concurrency=2, poll=0.05)
    await pool.start()
    try:
        await record_jobs(db, *(created(f"j{n}", status="ready") for n in range(3)))
        pool.wake()
        await eventually(lambda: _true(work.running == 2), "two running")
        await asyncio.sleep(0.3)
        assert work.runs == ["j0", "j1"]  # the third waits for a slot
        work.release.set()  # type: ignore[union-attr]
        await eventually(
            lambda: _done(db, {"j0", "j1", "j2"}),
            "all three done",
        )
    finally:
        await pool.stop()
    assert work.most == 2
    found = await rows(db)
    assert {v["state"] for v in found.values()} == {"complete"}
    assert {v["workbook_id"] for v in found.values()} == {"us_wb_done"}

    failing = FakeWork(outcome=("failed", None, "broken"))
    pool = ExtractPool(lambda: db, failing, poll=0.05)
    await record_jobs(db, created("bad", status="ready"))
    claim = await pool.claim()
    assert claim is not None
    await pool.execute(claim)
    assert ((await rows(db))["bad"]["status"], (await rows(db))["bad"]["message"]) == ("failed", "broken")


async def test_a_running_claim_keeps_its_lease(db: asyncpg.Pool) -> None:
    work = FakeWork(release=asyncio.Event())
    pool = ExtractPool(lambda: db, work, lease=0.4, poll=0.05)
    await record_jobs(db, created("slow", status="ready"))
    await pool.start()
    try:
        await eventually(lambda: _true(work.running == 1), "running")
        other = ExtractPool(lambda: db, FakeWork(), lease=0.4)
        for _ in range(6):  # 1.2 s: three leases, refreshed all along
            await asyncio.sleep(0.2)
            assert await other.claim() is None
        work.release.set()  # type: ignore[union-attr]
        await eventually(lambda: _done(db, {"slow"}), "done")
    finally:
        await pool.stop()
    assert work.runs == ["slow"]


async def test_a_dead_workers_job_is_reclaimed_after_its_partial_workbook_is_deleted(db: asyncpg.Pool) -> None:
    dying = FakeWork(workbook="us_wb_partial", release=asyncio.Event())  # never released: dies mid-file
    first = ExtractPool(lambda: db, dying, lease=0.5, poll=0.05)
    await record_jobs(db, created("j", status="ready"))
    await first.start()
    await eventually(lambda: _row(db, "j", lambda r: r["workbook_id"] == "us_wb_partial"), "the workbook recorded")
    await first.stop()  # the worker dies: its row stays running
    assert (await rows(db))["j"]["status"] == "running"

    second_work = FakeWork()
    second = ExtractPool(lambda: db, second_work, lease=0.5, poll=0.05)
    assert await second.claim() is None  # the lease has not expired yet
    await second.start()
    try:
        await eventually(lambda: _done(db, {"j"}), "re-run to done")
    finally:
        await second.stop()
    assert second_work.discarded == [("us_env_x", "us_wb_partial")]
    assert second_work.runs == ["j"]
    row = (await rows(db))["j"]
    assert (row["state"], row["workbook_id"], row["attempts"]) == ("complete", "us_wb_done", 2)


async def test_a_reclaimed_job_that_already_ended_only_loses_its_partial_workbook(db: asyncpg.Pool) -> None:
    await record_jobs(db, created("j", status="ready"))
    async with db.acquire() as conn:  # a dead attempt: running, an old claim, a partial workbook
        await conn.execute(
            "UPDATE extract_job SET status = 'running', claimed_at = now() - interval '2 minutes',"
            " claim_id = 'dead', attempts = 1, workbook_id = 'us_wb_partial'"
        )
    work = FakeWork(outcome=("skipped", None, "job j is failed: cannot ack it"))  # the ack is refused
    pool = ExtractPool(lambda: db, work)
    claim = await pool.claim()
    assert claim is not None and claim.reclaimed and claim.workbook_id == "us_wb_partial"
    await pool.execute(claim)
    assert work.discarded == [("us_env_x", "us_wb_partial")]
    row = (await rows(db))["j"]
    assert (row["status"], row["state"], row["workbook_id"]) == ("done", "skipped", None)
    # the row is the new claim's: the dead attempt's token no longer updates it
    assert (await rows(db))["j"]["claim_id"] == claim.claim_id


async def _true(value: bool) -> bool:
    return value


async def _row(db: asyncpg.Pool, job_id: str, test: Callable[[dict[str, Any]], bool]) -> bool:
    row = (await rows(db)).get(job_id)
    return row is not None and test(row)


async def _done(db: asyncpg.Pool, job_ids: set[str]) -> bool:
    found = await rows(db)
    return all(found.get(j, {}).get("status") == "done" for j in job_ids)


async def test_a_worker_that_lost_its_lease_drops_the_workbook_it_makes_after(db: asyncpg.Pool) -> None:
    await record_jobs(db, created("j", status="ready"))
    late = FakeWork(workbook="us_wb_late")
    stale = ExtractPool(lambda: db, late, lease=0.2)
    old = await stale.claim()
    await asyncio.sleep(0.3)
    new = await ExtractPool(lambda: db, FakeWork(), lease=0.2).claim()
    assert old is not None and new is not None and new.reclaimed
    with pytest.raises(LeaseLostError):
        await stale.execute(old)
    assert late.discarded == [("us_env_x", "us_wb_late")]
    row = (await rows(db))["j"]
    assert (row["status"], row["claim_id"], row["workbook_id"]) == ("running", new.claim_id, None)
