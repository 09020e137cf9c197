"""Jobs through `JobApplication` on the in-memory store with folded reads: no servers, milliseconds."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from job_service.application.jobs import configure_job_id, extract_job_id
from job_service.application.ports import JobPlace
from job_service.entrypoints.configure import ConfigureSpaces
from job_service.entrypoints.extract import ExtractFiles
from job_service.entrypoints.sweeper import Sweeper
from job_service.testing import World, world
from spaceport.contracts.file import FileCreated
from spaceport.contracts.job import (
    AckJob,
    AcknowledgeJobOutcome,
    CancelJob,
    CompleteJob,
    CreateJob,
    DeleteJob,
    ExecuteJob,
    FailJob,
    GetJob,
    JobAcknowledged,
    JobCreated,
    JobFailed,
    JobReady,
    JobSpec,
    ListJobs,
    RetryJob,
    UpdateJob,
)
from spaceport.contracts.space import Principal, SpaceArchived, SpaceCreated
from spaceport.errors import ConflictError, NotFoundError, ValidationFailedError
from spaceport.known_spaces import space_ref
from spaceport.ports import AggregateRef, AppendContext

pytestmark = pytest.mark.unit
ENV = "us_env_a"
SPACE = "us_sp_a"
WHO = Principal(environment_id=ENV, kind="secret", actor="us_key_a")
OTHER = Principal(environment_id="us_env_b", kind="secret", actor="us_key_b")


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2030, 1, 1, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


async def with_space(w: World, space_id: str = SPACE, environment_id: str = ENV) -> None:
    ref = space_ref(space_id, environment_id)
    event = SpaceCreated(space_id=space_id, environment_id=environment_id, name="s")
    await w.store.append(ref, [event], expected_version=0, context=AppendContext())


def spec(**changes: object) -> JobSpec:
    base: dict[str, object] = {"job_type": "space", "operation": "export", "source": SPACE}
    return JobSpec(**{**base, **changes})  # type: ignore[arg-type]


async def create(w: World, **changes: object) -> str:
    written = await w.app.jobs.create(CreateJob(principal=WHO, space_id=SPACE, spec=spec(**changes)))
    return written.job_id


async def get(w: World, job_id: str, who: Principal = WHO) -> object:
    return await w.app.jobs.get(GetJob(principal=who, job_id=job_id))


async def test_a_whole_lifecycle() -> None:
    w = world()
    await with_space(w)
    job_id = await create(w)
    jobs = w.app.jobs
    view = await jobs.get(GetJob(principal=WHO, job_id=job_id))
    assert view.status == "created" and view.space_id == SPACE and view.type == "space"
    await jobs.execute(ExecuteJob(principal=WHO, job_id=job_id))
    await jobs.ack(AckJob(principal=WHO, job_id=job_id, progress=10, info="Accepted"))
    await jobs.ack(AckJob(principal=WHO, job_id=job_id, progress=60))
    view = await jobs.get(GetJob(principal=WHO, job_id=job_id))
    assert view.status == "executing" and view.progress == 60 and view.started_at is not None
    await jobs.complete(CompleteJob(principal=WHO, job_id=job_id, outcome={"message": "done"}))
    await jobs.acknowledge_outcome(AcknowledgeJobOutcome(principal=WHO, job_id=job_id))
    view = await jobs.get(GetJob(principal=WHO, job_id=job_id))
    assert view.status == "complete" and view.outcome == {"message": "done"}
    assert view.outcome_acknowledged_at is not None and view.finished_at is not None
    with pytest.raises(ConflictError, match="complete"):
        await jobs.complete(CompleteJob(principal=WHO, job_id=job_id))
    with pytest.raises(ConflictError):
        await jobs.acknowledge_outcome(AcknowledgeJobOutcome(principal=WHO, job_id=job_id))


async def test_fail_retry_cancel_and_delete() -> None:
    w = world()
    await with_space(w)
    job_id = await create(w, trigger="immediate")
    jobs = w.app.jobs
    await jobs.fail(FailJob(principal=WHO, job_id=job_id, outcome={"message": "no"}))
    with pytest.raises(ConflictError):
        await jobs.execute(ExecuteJob(principal=WHO, job_id=job_id))
    await jobs.retry(RetryJob(principal=WHO, job_id=job_id))
    assert (await jobs.get(GetJob(principal=WHO, job_id=job_id))).status == "ready"
    await jobs.cancel(CancelJob(principal=WHO, job_id=job_id, info="stop"))
    await jobs.update(UpdateJob(principal=WHO, job_id=job_id, metadata={"a": 1}))
    with pytest.raises(ConflictError):
        await jobs.update(UpdateJob(principal=WHO, job_id=job_id, status="executing"))
    await jobs.delete(DeleteJob(principal=WHO, job_id=job_id))
    with pytest.raises(NotFoundError):
        await jobs.get(GetJob(principal=WHO, job_id=job_id))
    with pytest.raises(NotFoundError):
        await jobs.retry(RetryJob(principal=WHO, job_id=job_id))


async def test_idempotency_key_answers_the_same_job() -> None:
    w = world()
    await with_space(w)
    cmd = CreateJob(principal=WHO, space_id=SPACE, spec=spec(status="ready"), idempotency_key="k1")
    first = await w.app.jobs.create(cmd)
    again = await w.app.jobs.create(cmd)
    assert again.job_id == first.job_id and again.position == first.position
    created = [e async for e in w.store.read("evt.>") if isinstance(e.event, JobCreated)]
    assert len(created) == 1


async def test_unknown_archived_and_foreign_spaces() -> None:
    w = world()
    with pytest.raises(NotFoundError):
        await w.app.jobs.create(CreateJob(principal=WHO, space_id="us_sp_none", spec=spec()))
    await with_space(w, "us_sp_b", "us_env_b")
    with pytest.raises(NotFoundError):
        await w.app.jobs.create(CreateJob(principal=WHO, space_id="us_sp_b", spec=spec()))
    await with_space(w)
    ref = space_ref(SPACE, ENV)
    await w.store.append(ref, [SpaceArchived(space_id=SPACE)], expected_version=None, context=AppendContext())
    with pytest.raises(ConflictError, match="archived"):
        await w.app.jobs.create(CreateJob(principal=WHO, space_id=SPACE, spec=spec()))


async def test_another_environment_sees_nothing() -> None:
    w = world()
    await with_space(w)
    job_id = await create(w)
    with pytest.raises(NotFoundError):
        await get(w, job_id, OTHER)
    with pytest.raises(NotFoundError):
        await w.app.jobs.ack(AckJob(principal=OTHER, job_id=job_id))
    with pytest.raises(NotFoundError):
        await w.app.jobs.execute(ExecuteJob(principal=WHO, job_id="us_jb_nothing"))
    with pytest.raises(NotFoundError):
        await w.app.jobs.execute(ExecuteJob(principal=WHO, job_id="not.an.id"))


async def test_guests_see_their_own_space_only() -> None:
    w = world()
    await with_space(w)
    job_id = await create(w)
    mine = Principal(environment_id=ENV, kind="guest", actor="us_g_1", space_id=SPACE, role="editor")
    theirs = Principal(environment_id=ENV, kind="guest", actor="us_g_2", space_id="us_sp_z", role="editor")
    assert (await w.app.jobs.get(GetJob(principal=mine, job_id=job_id))).id == job_id
    with pytest.raises(NotFoundError):
        await w.app.jobs.get(GetJob(principal=theirs, job_id=job_id))
    page = await w.app.jobs.list_jobs(ListJobs(principal=theirs, environment_id=ENV))
    assert page.data == []


async def test_list_filters_and_pages() -> None:
    w = world()
    await with_space(w)
    parent = await create(w, job_type="workbook", source="us_wb_1", workbook_id="us_wb_1")
    await create(w, job_type="workbook", source="us_wb_2", destination="us_wb_1", parent_id=parent)
    await create(w, job_type="file", source="us_fl_1", file_id="us_fl_1")
    jobs = w.app.jobs

    async def ids(**filters: object) -> list[str]:
        page = await jobs.list_jobs(ListJobs(principal=WHO, environment_id=ENV, **filters))  # type: ignore[arg-type]
        return [j.id for j in page.data]

    assert len(await ids()) == 3
    assert len(await ids(workbook_id="us_wb_1")) == 2
    assert len(await ids(file_id="us_fl_1")) == 1
    assert len(await ids(parent_id=parent)) == 1
    assert len(await ids(exclude_child_jobs=True)) == 2
    assert (await ids(sort_direction="desc"))[-1] == parent
    page = await jobs.list_jobs(ListJobs(principal=WHO, environment_id=ENV, page_size=2, page_number=2))
    assert len(page.data) == 1 and page.pagination.page_count == 2 and page.pagination.total_count == 3
    with pytest.raises(ValidationFailedError):
        await jobs.list_jobs(ListJobs(principal=WHO, environment_id=ENV, page_size=1001))
    with pytest.raises(NotFoundError):
        await jobs.list_jobs(ListJobs(principal=WHO, environment_id="us_env_b"))


async def test_parent_must_be_a_visible_job() -> None:
    w = world()
    await with_space(w)
    with pytest.raises(NotFoundError):
        await create(w, parent_id="us_jb_missing")


async def test_configure_space_is_idempotent() -> None:
    w = world()
    await with_space(w)
    first = await w.app.jobs.configure_space(ENV, SPACE, "us_key_a")
    again = await w.app.jobs.configure_space(ENV, SPACE, "us_key_a")
    assert first.job_id == again.job_id == configure_job_id(SPACE)
    view = await get(w, first.job_id)
    assert view.status == "ready" and view.managed and view.operation == "configure"  # type: ignore[attr-defined]
    types = [type(e.event) async for e in w.store.read("evt.>") if e.envelope.aggregate == "job"]
    assert types == [JobCreated, JobReady]


async def test_time_out_fails_an_idle_job_and_an_ack_wins() -> None:
    clock = Clock()
    w = world(default_timeout=300, clock=clock)
    await with_space(w)
    quick = await create(w, trigger="immediate", timeout_seconds=2)
    slow = await create(w, trigger="immediate")
    clock.now += timedelta(seconds=3)
    due = await w.reads.due(10)
    assert [d.job_id for d in due] == [quick]
    await w.app.jobs.ack(AckJob(principal=WHO, job_id=quick, progress=5))  # lands after the sweep read
    assert not await w.app.jobs.time_out(due[0])
    clock.now += timedelta(seconds=3)
    [again] = await w.reads.due(10)
    assert await w.app.jobs.time_out(again)
    view = await get(w, quick)
    assert view.status == "failed"  # type: ignore[attr-defined]
    assert "timed out" in view.outcome["message"]  # type: ignore[attr-defined]
    failed = [e.event async for e in w.store.read("evt.>") if isinstance(e.event, JobFailed)]
    assert [f.reason for f in failed] == ["timeout"]
    clock.now += timedelta(seconds=300)
    assert [d.job_id for d in await w.reads.due(10)] == [slow]


async def test_a_job_not_projected_yet_is_found_in_the_store() -> None:
    w = world()
    await with_space(w)
    job_id = await create(w, trigger="immediate")

    async def nowhere(_: str) -> JobPlace | None:
        return None

    w.reads.place = nowhere  # type: ignore[method-assign,assignment]
    await w.app.jobs.ack(AckJob(principal=WHO, job_id=job_id))
    acks = [e.event async for e in w.store.read("evt.>") if isinstance(e.event, JobAcknowledged)]
    assert len(acks) == 1


async def test_the_sweeper_fails_due_jobs_once() -> None:
    clock = Clock()
    w = world(clock=clock)
    await with_space(w)
    job_id = await create(w, trigger="immediate", timeout_seconds=1)
    sweeper = Sweeper(w.app.jobs, w.reads, interval=0.01)
    assert await sweeper.sweep() == 0
    clock.now += timedelta(seconds=2)
    assert await sweeper.sweep() == 1
    assert await sweeper.sweep() == 0
    assert (await w.app.jobs.get(GetJob(principal=WHO, job_id=job_id))).status == "failed"


class Rows:
    """A connection that records the process manager's inserts."""

    def __init__(self) -> None:
        self.executed: list[tuple[object, ...]] = []

    async def execute(self, sql: str, *args: object) -> str:
        self.executed.append(args)
        return "INSERT 0 1"


async def test_the_process_manager_creates_one_configure_job_per_auto_configured_space() -> None:
    w = world()
    manager = ConfigureSpaces(w.app.jobs)
    conn = Rows()
    for auto, space_id in ((True, "us_sp_auto"), (False, "us_sp_plain")):
        created = SpaceCreated(space_id=space_id, environment_id=ENV, name="s", auto_configure=auto)
        await w.store.append(space_ref(space_id, ENV), [created], expected_version=0, context=AppendContext())
    stored = [e async for e in w.store.read("evt.>")]
    for event in stored + stored:  # redelivered
        await manager.apply(conn, event)  # type: ignore[arg-type]
    jobs = [e.event async for e in w.store.read("evt.*.job.>") if isinstance(e.event, JobCreated)]
    assert [(j.source, j.operation, j.managed) for j in jobs] == [("us_sp_auto", "configure", True)]
    assert {args[1] for args in conn.executed} == {configure_job_id("us_sp_auto")}


async def test_the_extract_process_manager_creates_one_extract_job_per_import() -> None:
    w = world()
    await with_space(w)
    manager = ExtractFiles(w.app.jobs)
    conn = Rows()
    for mode, file_id in (("import", "us_fl_in"), ("export", "us_fl_out")):
        created = FileCreated(
            file_id=file_id, space_id=SPACE, environment_id=ENV, name="a.csv", mode=mode, object_key="k"
        )
        ref = AggregateRef(environment_id=ENV, space_id=SPACE, aggregate="file", aggregate_id=file_id)
        await w.store.append(ref, [created], expected_version=0, context=AppendContext())
    stored = [e async for e in w.store.read("evt.>")]
    for event in stored + stored:  # redelivered
        await manager.apply(conn, event)  # type: ignore[arg-type]
    events = [e.event async for e in w.store.read("evt.*.job.>")]
    jobs = [e for e in events if isinstance(e, JobCreated)]
    assert [(j.job_type, j.operation, j.source, j.file_id, j.managed, j.trigger) for j in jobs] == [
        ("file", "extract", "us_fl_in", "us_fl_in", True, "immediate")
    ]
    assert jobs[0].job_id == extract_job_id("us_fl_in")
    assert [type(e) for e in events] == [JobCreated, JobReady]
    assert {args[1] for args in conn.executed} == {extract_job_id("us_fl_in")}
