"""Flatfile events of jobs (reference §4.2): every payload says `{domain, operation, job, status,
info, isPart, input}` so that `listener.on("job:ready", {job: "space:configure"}, …)` matches.

A job created with status `ready` gives `job:created` and `job:ready`. Acknowledgements,
updates and cancellations are `job:updated`; a retry is `job:ready` again.
"""

from __future__ import annotations

import msgspec

from job_service.feed.emit import Handler, Out, namespaced, space_namespaces
from job_service.feed.lookups import JobInfo, Lookups
from spaceport.contracts import job
from spaceport.events import Event

# event type -> (topic, status after it; None: unchanged)
STEPS: dict[type[Event], tuple[str, str | None]] = {
    job.JobReady: ("job:ready", "ready"),
    job.JobAcknowledged: ("job:updated", "executing"),
    job.JobCompleted: ("job:completed", "complete"),
    job.JobFailed: ("job:failed", "failed"),
    job.JobCanceled: ("job:updated", "canceled"),
    job.JobRetried: ("job:ready", "ready"),
    job.JobOutcomeAcknowledged: ("job:outcome-acknowledged", None),
    job.JobDeleted: ("job:deleted", None),
    job.JobUpdated: ("job:updated", None),
    job.JobPlanned: ("job:updated", None),  # a plan was set (automap waits for it in status planning)
}


def _emit(out: Out, lookups: Lookups, job_id: str, info: JobInfo, topic: str) -> None:
    envelope = out.stored.envelope
    space = lookups.space(envelope.space_id)
    workbook = lookups.workbook(info.workbook_id)
    namespaces = space_namespaces(lookups, space)
    namespaces += namespaced("workbook", workbook.namespace if workbook else None)
    context = out.context(
        job_id=job_id,
        workbook_id=info.workbook_id,
        sheet_id=info.sheet_id,
        file_id=info.file_id,
        document_id=info.document_id,
        namespaces=namespaces or None,
    )
    payload = {
        "domain": info.job_type,
        "operation": info.operation,
        "job": f"{info.job_type}:{info.operation}",
        "status": info.status,
        "info": info.info,
        "isPart": info.is_part,
        "input": info.input,
    }
    out.emit(topic, context, payload)


def _created(e: job.JobCreated, out: Out, lookups: Lookups) -> None:
    info = JobInfo(
        job_type=e.job_type,
        operation=e.operation,
        status=e.status,
        info=e.info,
        input=e.input,
        is_part=e.part is not None or e.parent_id is not None,
        workbook_id=e.workbook_id,
        sheet_id=e.sheet_id,
        file_id=e.file_id,
        document_id=e.document_id,
        space_id=e.space_id,
    )
    lookups.put("job", e.job_id, info)
    _emit(out, lookups, e.job_id, info, "job:created")
    if e.status in ("ready", "scheduled"):  # created straight into a state listeners wait for
        _emit(out, lookups, e.job_id, info, f"job:{e.status}")


def _step(e: Event, out: Out, lookups: Lookups) -> None:
    job_id: str = getattr(e, "job_id")  # noqa: B009 - every job event has one; STEPS lists only those
    info = lookups.job(job_id)
    if info is None:  # a job created before this feed existed cannot be described; skip it
        return
    topic, status = STEPS[type(e)]
    if isinstance(e, job.JobUpdated):
        status = e.status
    new_info = getattr(e, "info", None)
    info = msgspec.structs.replace(
        info, status=status or info.status, info=new_info if new_info is not None else info.info
    )
    lookups.put("job", job_id, info)
    _emit(out, lookups, job_id, info, topic)


HANDLERS: dict[type[Event], Handler] = {job.JobCreated: _created, **dict.fromkeys(STEPS, _step)}
