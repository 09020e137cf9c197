"""Job commands (load -> decide -> append on the `job` aggregate) and queries (the read model).

A job's events live under its space (`evt.<space_id>.job.<job_id>.*`), or its environment when
it has no space. Commands name only the job id, so its scope is looked up: in the read model,
or — for a job created a moment ago that is not projected yet — from its first stored event.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence

import msgspec

from job_service.application.ports import DueJob, JobReads, WaitFor
from job_service.domain import job as domain
from spaceport import ids, known_spaces, paging
from spaceport.aggregate import Folder, execute
from spaceport.contracts.job import (
    AGGREGATE,
    MAX_PAGE_SIZE,
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
    JobPagination,
    JobPlanView,
    JobSpec,
    JobUpdated,
    JobView,
    JobWritten,
    ListJobs,
    RetryJob,
    SetJobPlan,
    UpdateJob,
)
from spaceport.contracts.space import Principal
from spaceport.errors import ConcurrencyError, ConflictError, NotFoundError
from spaceport.events import Event
from spaceport.known_spaces import SpaceFact
from spaceport.ports import AggregateRef, AppendContext, EventStorePort

JOBS = Folder(domain.initial, domain.evolve)
_ID = re.compile(r"^[a-z0-9]+_jb_[A-Za-z0-9]{1,64}$")
PLATFORM = Principal(environment_id="", kind="secret", actor="us_usr_platform")
Decide = Callable[[domain.JobState], Sequence[Event]]


def configure_job_id(space_id: str) -> str:
    """The one `space:configure` job of a space: a redelivered or replayed SpaceCreated finds it."""
    return ids.derived_id("job", f"space:configure:{space_id}")


def extract_job_id(file_id: str) -> str:
    """The one `file:extract` job of an uploaded file: a redelivered or replayed FileCreated finds it."""
    return ids.derived_id("job", f"extract:{file_id}")


class JobHandlers:
    def __init__(self, store: EventStorePort, reads: JobReads, caught_up: WaitFor) -> None:
        self.store = store
        self.reads = reads
        self.caught_up = caught_up

    # ---- commands -------------------------------------------------------------------------

    async def create(self, cmd: CreateJob) -> JobWritten:
        principal = cmd.principal
        if cmd.space_id is not None:
            self._require_space(await self.known_space(cmd.space_id), principal, cmd.space_id)
        if cmd.spec.parent_id is not None:
            await self._view(principal, cmd.spec.parent_id, key="parentId")
        key = cmd.idempotency_key
        seed = f"{principal.environment_id}:{cmd.space_id or ''}:{key}"
        job_id = ids.derived_id("job", seed) if key else ids.new_id("job")
        return await self._create(principal, cmd.space_id, job_id, cmd.spec, key)

    async def configure_space(self, environment_id: str, space_id: str, actor: str) -> JobWritten:
        """`space:configure` for a space created with `autoConfigure`; idempotent (derived id)."""
        spec = JobSpec(
            job_type="space", operation="configure", source=space_id, trigger="immediate", status="ready", managed=True
        )
        return await self._platform_job(environment_id, space_id, actor, configure_job_id(space_id), spec)

    async def extract_file(self, environment_id: str, space_id: str, file_id: str, actor: str) -> JobWritten:
        """`file:extract` for an upload in mode `import`; idempotent (derived id)."""
        spec = JobSpec(
            job_type="file",
            operation="extract",
            source=file_id,
            file_id=file_id,
            trigger="immediate",
            status="ready",
            managed=True,
        )
        return await self._platform_job(environment_id, space_id, actor, extract_job_id(file_id), spec)

    async def _platform_job(
        self, environment_id: str, space_id: str, actor: str, job_id: str, spec: JobSpec
    ) -> JobWritten:
        """A job the platform creates for a fact (a process manager's command); its id is derived
        from that fact, so a redelivered or replayed event makes no second job."""
        principal = msgspec.structs.replace(PLATFORM, environment_id=environment_id, actor=actor or PLATFORM.actor)
        try:
            return await self._create(principal, space_id, job_id, spec, f"{spec.operation}:{spec.source}")
        except ConflictError:  # it exists already (created through another path): nothing to do
            return JobWritten(job_id=job_id, position=0)

    async def update(self, cmd: UpdateJob) -> JobWritten:
        changes = JobUpdated(
            job_id=cmd.job_id,
            status=cmd.status,
            progress=cmd.progress,
            info=cmd.info,
            config=cmd.config,
            metadata=cmd.metadata,
            outcome_acknowledged_at=cmd.outcome_acknowledged_at,
            estimated_completion_at=cmd.estimated_completion_at,
        )
        return await self._change(cmd.principal, cmd.job_id, lambda s: domain.update(s, cmd.job_id, changes))

    async def execute(self, cmd: ExecuteJob) -> JobWritten:
        return await self._change(cmd.principal, cmd.job_id, lambda s: domain.execute(s, cmd.job_id))

    async def ack(self, cmd: AckJob) -> JobWritten:
        return await self._change(
            cmd.principal,
            cmd.job_id,
            lambda s: domain.ack(s, cmd.job_id, cmd.progress, cmd.info, cmd.estimated_completion_at),
        )

    async def complete(self, cmd: CompleteJob) -> JobWritten:
        decide: Decide = lambda s: domain.complete(s, cmd.job_id, cmd.outcome, cmd.info)  # noqa: E731
        return await self._change(cmd.principal, cmd.job_id, decide)

    async def fail(self, cmd: FailJob) -> JobWritten:
        return await self._change(
            cmd.principal, cmd.job_id, lambda s: domain.fail(s, cmd.job_id, cmd.outcome, cmd.info)
        )

    async def cancel(self, cmd: CancelJob) -> JobWritten:
        return await self._change(cmd.principal, cmd.job_id, lambda s: domain.cancel(s, cmd.job_id, cmd.info))

    async def retry(self, cmd: RetryJob) -> JobWritten:
        return await self._change(cmd.principal, cmd.job_id, lambda s: domain.retry(s, cmd.job_id))

    async def acknowledge_outcome(self, cmd: AcknowledgeJobOutcome) -> JobWritten:
        return await self._change(cmd.principal, cmd.job_id, lambda s: domain.acknowledge_outcome(s, cmd.job_id))

    async def set_plan(self, cmd: SetJobPlan) -> JobWritten:
        return await self._change(
            cmd.principal, cmd.job_id, lambda s: domain.set_plan(s, cmd.job_id, cmd.plan, cmd.merge, cmd.initial)
        )

    async def delete(self, cmd: DeleteJob) -> JobWritten:
        written = await self._change(cmd.principal, cmd.job_id, lambda s: domain.delete(s, cmd.job_id))
        await self.caught_up(written.position)  # answered {success}: the next read must 404
        return written

    async def time_out(self, due: DueJob) -> bool:
        """Fail `due` for its timeout unless something happened to it since the sweep read it
        (its version moved on: an ack won) — one guarded append, never retried."""
        ref = _ref(due.environment_id, due.space_id, due.job_id)
        loaded = await self.store.load(ref)
        if loaded.version != due.position:
            return False
        events = domain.time_out(JOBS.fold(loaded), due.job_id, due.timeout_seconds)
        if not events:
            return False
        try:
            await self.store.append(
                ref, events, expected_version=loaded.version, context=AppendContext(actor="timeout")
            )
        except ConcurrencyError:
            return False
        return True

    # ---- queries --------------------------------------------------------------------------

    async def get(self, query: GetJob) -> JobView:
        await self.caught_up(query.min_position)
        return await self._view(query.principal, query.job_id)

    async def plan(self, query: GetJobPlan) -> JobPlanView:
        """The job and its plan: the plan from the job's own events (always current), the job from the read model."""
        await self.caught_up(query.min_position)
        view = await self._view(query.principal, query.job_id)
        loaded = await self.store.load(_ref(view.environment_id, view.space_id, view.id))
        return JobPlanView(job=view, plan=JOBS.fold(loaded).plan)

    async def list_jobs(self, query: ListJobs) -> JobPage:
        paging.check(query.page_size, query.page_number, MAX_PAGE_SIZE)
        if query.principal.environment_id != query.environment_id:
            raise NotFoundError(f"environment {query.environment_id} not found", key="environmentId")
        if query.principal.kind == "guest":  # a guest lists its own space's jobs only
            if query.space_id not in (None, query.principal.space_id):
                raise NotFoundError(f"space {query.space_id} not found", key="spaceId")
            query = msgspec.structs.replace(query, space_id=query.principal.space_id)
        await self.caught_up(query.min_position)
        found, total = await self.reads.jobs(query)
        pages = math.ceil(total / query.page_size)
        return JobPage(
            data=found, pagination=JobPagination(current_page=query.page_number, page_count=pages, total_count=total)
        )

    # ---- plumbing -------------------------------------------------------------------------

    async def _view(self, principal: Principal, job_id: str, key: str = "jobId") -> JobView:
        view = await self.reads.job(job_id) if _ID.match(job_id) else None
        hidden = view is None or view.environment_id != principal.environment_id
        if view is None or hidden or (principal.kind == "guest" and view.space_id != principal.space_id):
            raise NotFoundError(f"job {job_id} not found", key=key)
        return view

    async def _create(
        self, principal: Principal, space_id: str | None, job_id: str, spec: JobSpec, key: str | None
    ) -> JobWritten:
        context = AppendContext(actor=principal.actor, idempotency_key=f"{job_id}:create" if key else None)
        done = await execute(
            self.store,
            _ref(principal.environment_id, space_id, job_id),
            JOBS,
            lambda s: domain.create(s, job_id, principal, space_id, spec),
            context,
        )
        return JobWritten(job_id=job_id, position=done.position)

    async def _change(self, principal: Principal, job_id: str, decide: Decide) -> JobWritten:
        ref = await self._locate(job_id, principal)

        def guarded(state: domain.JobState) -> Sequence[Event]:
            domain.require_live(state, job_id, principal)
            return decide(state)

        done = await execute(self.store, ref, JOBS, guarded, AppendContext(actor=principal.actor))
        return JobWritten(job_id=job_id, position=done.position)

    async def _locate(self, job_id: str, principal: Principal) -> AggregateRef:
        """Where the job's events live: the read model knows, or its first stored event does."""
        missing = NotFoundError(f"job {job_id} not found", key="jobId")
        if not _ID.match(job_id):
            raise missing
        place = await self.reads.place(job_id)
        if place is not None:
            return _ref(place.environment_id, place.space_id, job_id)
        async for first in self.store.read(f"{self.store.prefix}.*.{AGGREGATE}.{job_id}.*"):
            envelope = first.envelope
            return _ref(envelope.environment_id, envelope.space_id, job_id)
        raise missing

    async def known_space(self, space_id: str) -> SpaceFact | None:
        """The space as the directory has it; a miss waits for the space's events to be projected."""
        return await known_spaces.lookup(space_id, self.reads.space_fact, self.store, self.caught_up)

    @staticmethod
    def _require_space(space: SpaceFact | None, principal: Principal, space_id: str) -> None:
        if space is None or space.deleted or space.environment_id != principal.environment_id:
            raise NotFoundError(f"space {space_id} not found", key="spaceId")
        if principal.kind == "guest" and principal.space_id != space_id:
            raise NotFoundError(f"space {space_id} not found", key="spaceId")
        if space.archived:
            raise ConflictError(f"space {space_id} is archived; unarchive it to run jobs in it", key="spaceId")


def _ref(environment_id: str, space_id: str | None, job_id: str) -> AggregateRef:
    return AggregateRef(environment_id=environment_id, space_id=space_id, aggregate=AGGREGATE, aggregate_id=job_id)
