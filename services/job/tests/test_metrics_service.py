"""Space metrics on real NATS and Postgres, through the job service's runtime as bootstrap builds it:
events appended to the stream, the queries answered at once (read-your-writes), sums by app, the
record service's counts (a stand-in answering `GetSheetCounts`), and a rebuild equal to live."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import msgspec
import pytest

from job_service import bootstrap
from job_service.metrics import NAME
from spaceport import readmodel
from spaceport.contracts import job, record, workbook
from spaceport.contracts import space as sp
from spaceport.contracts.blueprint import SheetConfig
from spaceport.contracts.metrics import EnvironmentMetrics, GetEnvironmentMetrics, GetSpaceMetrics, SpaceMetrics
from spaceport.contracts.record import Counts, GetSheetCounts, SheetCountsList, StoredRecord
from spaceport.errors import NotFoundError
from spaceport.events import Event
from spaceport.messaging import RpcClient, RpcServer
from spaceport.ports import AggregateRef
from spaceport.projection import ProjectionRunner
from spaceport.runtime import ServiceRuntime
from spaceport.testing import readmodels
from spaceport.testing.fixtures import own_settings
from spaceport.testing.infra import InfraUrls

ENV, OTHER_ENV = "us_env_met", "us_env_met_b"
S1, S2, S3, S4, SB = "us_sp_met1", "us_sp_met2", "us_sp_met3", "us_sp_met4", "us_sp_metb"
APP1, APP2 = "us_app_met1", "us_app_met2"
WB, SHEET = "us_wb_met", "us_sh_met"
COUNTS = {SHEET: Counts(total=3, valid=1, error=2), "us_sh_elsewhere": Counts(total=9, valid=9, error=0)}


@pytest.fixture
async def rt(infra: InfraUrls, unique_name: str) -> AsyncIterator[ServiceRuntime]:
    async with own_settings(infra, unique_name, "job") as base:
        settings = msgspec.structs.replace(base, feed_stream=f"F_{unique_name.upper()}", feed_prefix=f"f{unique_name}")
        runtime, _ = bootstrap.build(settings)
        asked: list[list[str]] = []

        async def sheet_counts(query: GetSheetCounts) -> SheetCountsList:
            asked.append(query.sheet_ids)
            return SheetCountsList(counts={s: COUNTS[s] for s in query.sheet_ids if s in COUNTS})

        RpcServer(runtime.broker, "record", settings.command_prefix).handle(GetSheetCounts)(sheet_counts)
        await runtime.start()
        try:
            yield runtime
        finally:
            await stop(runtime)


async def append(
    rt: ServiceRuntime, aggregate: str, aggregate_id: str, *events: Event, env: str = ENV, space: str | None = None
) -> int:
    ref = AggregateRef(environment_id=env, space_id=space, aggregate=aggregate, aggregate_id=aggregate_id)
    return (await rt.store.append(ref, list(events), expected_version=None)).last_seq


async def stop(runtime: ServiceRuntime) -> None:
    """`runtime.stop()`, cancelling again a background loop whose cancellation was lost: on Python 3.11
    `asyncio.wait_for` may swallow a cancel that lands as its inner wait completes (the feed relay's
    `FeedSignal.wait`), and the loop then runs on while `stop` waits for it."""
    stopping = asyncio.ensure_future(runtime.stop())
    while not (await asyncio.wait({stopping}, timeout=1.0))[0]:
        for task in asyncio.all_tasks():
            if task.cancelling() and task.get_name() in {"feed-relay", "feed-listen"}:
                task.cancel()
    await stopping


def rpc(rt: ServiceRuntime) -> RpcClient:
    return RpcClient(rt.broker, rt.settings.command_prefix, timeout=30)


async def space_created(rt: ServiceRuntime, space_id: str, app_id: str | None, env: str = ENV) -> None:
    created = sp.SpaceCreated(space_id=space_id, environment_id=env, name=space_id, app_id=app_id)
    await append(rt, "space", space_id, created, env=env, space=space_id)


def stored_records(*ids: str) -> list[StoredRecord]:
    return [StoredRecord(id=i, values={}) for i in ids]


async def scenario(rt: ServiceRuntime) -> None:
    await space_created(rt, S1, APP1)
    await space_created(rt, S2, APP1)
    await space_created(rt, S3, None)
    await space_created(rt, S4, APP2)
    await space_created(rt, SB, APP1, env=OTHER_ENV)
    config = msgspec.convert({"name": "A", "slug": "a", "fields": [{"key": "a", "type": "string"}]}, SheetConfig)
    sheets = [workbook.SheetSpec(sheet_id=SHEET, slug="a", config=config)]
    created = workbook.WorkbookCreated(workbook_id=WB, space_id=S1, environment_id=ENV, name="W", sheets=sheets)
    await append(rt, "workbook", WB, created, space=S1)
    scope = {"sheet_id": SHEET, "workbook_id": WB, "space_id": S1, "commit_id": "us_vr_met"}
    await append(
        rt,
        "records",
        SHEET,
        record.RecordsInserted(**scope, records=stored_records("a", "b", "c", "d")),
        record.RecordsUpdated(**scope, records=stored_records("a", "b")),
        record.RecordsDeleted(**scope, record_ids=["d"]),
        space=S1,
    )
    submit = job.JobCreated(
        job_id="us_jb_met", environment_id=ENV, space_id=S1, job_type="workbook", operation="submitAction", source=WB
    )
    await append(rt, "job", "us_jb_met", submit, job.JobReady(job_id="us_jb_met"), space=S1)
    await append(rt, "job", "us_jb_met", job.JobCompleted(job_id="us_jb_met"), space=S1)
    guest = sp.GuestCreated(
        guest_id="us_g_met",
        environment_id=ENV,
        email="g@x.io",
        name="G",
        spaces=[sp.GuestGrant(space_id=S1), sp.GuestGrant(space_id=S2)],
    )
    await append(rt, "guest", "us_g_met", guest)
    await append(rt, "space", S4, sp.SpaceDeleted(space_id=S4), space=S4)  # no query answers it


async def test_a_space_answers_what_happened_in_it_without_waiting(rt: ServiceRuntime) -> None:
    await scenario(rt)  # no wait for the projection: the query waits for the stream's end itself
    got = await rpc(rt).request("job", GetSpaceMetrics(space_id=S1), SpaceMetrics)
    assert (got.environment_id, got.app_id, got.guests) == (ENV, APP1, 1)
    assert (got.records.created, got.records.updated, got.records.deleted) == (4, 2, 1)
    assert (got.records.valid, got.records.error) == (1, 2)  # the record service's counts of its sheet
    assert got.first_submit_at is not None and got.last_activity_at is not None
    assert got.seconds_to_first_submit == (got.first_submit_at - got.created_at).total_seconds()
    assert got.seconds_to_first_submit >= 0
    # space, workbook, sheet, records x3, job created, ready, completed, guest added
    assert got.events == 10
    for missing in (S4, "us_sp_never"):
        with pytest.raises(NotFoundError):
            await rpc(rt).request("job", GetSpaceMetrics(space_id=missing), SpaceMetrics)


async def test_an_environment_sums_its_live_spaces_by_app(rt: ServiceRuntime) -> None:
    await scenario(rt)
    got = await rpc(rt).request("job", GetEnvironmentMetrics(environment_id=ENV), EnvironmentMetrics)
    assert (got.spaces, got.submitted_spaces, got.guests) == (3, 1, 2)  # S4 is deleted; SB is elsewhere
    assert [(a.app_id, a.spaces, a.guests) for a in got.apps] == [(None, 1, 0), (APP1, 2, 2)]
    assert (got.records.created, got.records.valid, got.records.error) == (4, 1, 2)
    assert got.events == 10 + 2 + 1  # S1's, S2's (created, guest added) and S3's (created)
    one = await rpc(rt).request("job", GetEnvironmentMetrics(environment_id=ENV, app_id=APP1), EnvironmentMetrics)
    assert (one.app_id, one.spaces, one.events, [a.app_id for a in one.apps]) == (APP1, 2, 12, [APP1])
    assert one.average_seconds_to_first_submit == got.average_seconds_to_first_submit
    assert got.last_activity_at is not None and one.last_activity_at == got.last_activity_at
    gone = await rpc(rt).request("job", GetEnvironmentMetrics(environment_id=ENV, app_id=APP2), EnvironmentMetrics)
    assert (gone.spaces, gone.events, gone.apps) == (0, 0, [])
    other = await rpc(rt).request("job", GetEnvironmentMetrics(environment_id=OTHER_ENV), EnvironmentMetrics)
    assert (other.spaces, [a.app_id for a in other.apps]) == (1, [APP1])


async def test_a_workbook_deleted_takes_its_sheets_out_of_the_counts(rt: ServiceRuntime) -> None:
    await scenario(rt)
    await append(rt, "workbook", WB, workbook.WorkbookDeleted(workbook_id=WB), space=S1)
    got = await rpc(rt).request("job", GetSpaceMetrics(space_id=S1), SpaceMetrics)
    assert (got.records.created, got.records.valid, got.records.error) == (4, 0, 0)


async def test_a_rebuild_equals_the_live_metrics(rt: ServiceRuntime) -> None:
    await scenario(rt)
    runner: ProjectionRunner = rt.single_runner(NAME)
    assert await runner.wait_for(await rt.store.last_seq(), timeout=15)
    shadow = await runner.rebuild(swap=False)
    async with rt.pool.acquire() as conn:
        live = await readmodels.snapshot(conn, NAME)
        rebuilt = await readmodels.snapshot(conn, shadow)
        await conn.execute(f"DROP SCHEMA {readmodel.quote_ident(shadow)} CASCADE")
    assert len(live["space"]) == 4  # the deleted space's counters are erased with it
    assert not readmodels.differences(live, rebuilt)
    assert rebuilt == live
