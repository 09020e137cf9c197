"""The job service's NATS request/reply subjects (`cmd.job.<snake name>`), one per message."""

from __future__ import annotations

from job_service.application.app import JobApplication
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
    GetJobPlan,
    ListJobs,
    RetryJob,
    SetJobPlan,
    UpdateJob,
)
from spaceport.messaging import RpcServer


def bind(rpc: RpcServer, app: JobApplication) -> None:
    """Subscribe every command and query of `app`; `rpc` decodes, calls and encodes the reply."""
    jobs = app.jobs
    rpc.handle(CreateJob)(jobs.create)
    rpc.handle(UpdateJob)(jobs.update)
    rpc.handle(ExecuteJob)(jobs.execute)
    rpc.handle(AckJob)(jobs.ack)
    rpc.handle(CompleteJob)(jobs.complete)
    rpc.handle(FailJob)(jobs.fail)
    rpc.handle(CancelJob)(jobs.cancel)
    rpc.handle(RetryJob)(jobs.retry)
    rpc.handle(AcknowledgeJobOutcome)(jobs.acknowledge_outcome)
    rpc.handle(SetJobPlan)(jobs.set_plan)
    rpc.handle(DeleteJob)(jobs.delete)
    rpc.handle(GetJobPlan)(jobs.plan)
    rpc.handle(GetJob)(jobs.get)
    rpc.handle(ListJobs)(jobs.list_jobs)
