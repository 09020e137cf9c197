"""`job_handler("domain:operation", handler)`: the whole job lifecycle around one function (§4.2).

ack ("Accepted", 0) → handler(event, tick) → complete with its result, or fail with the error.
A redelivered `job:ready` for a job that already finished is skipped, so a listener that
crashed after completing but before saving its cursor does not run the job twice.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Protocol

from flatfile.core.api_error import ApiError
from flatfile.core.pydantic_utilities import parse_obj_as
from flatfile.jobs import JobAckDetails, JobCompleteDetails

from spaceport_listener.event import FlatfileEvent
from spaceport_listener.listener import FlatfileListener, Plugin

__all__ = ["FINISHED_STATUSES", "JobHandler", "Tick", "job_handler"]

log = logging.getLogger("spaceport_listener")

FINISHED_STATUSES = frozenset({"complete", "failed", "canceled"})
NOT_YET_READABLE_TRIES, NOT_YET_READABLE_PAUSE = 50, 0.1  # up to ~5 s for a just-created job to be readable
DEFAULT_COMPLETION: Mapping[str, Any] = {"info": "Job complete", "outcome": {"message": "Job complete"}}


class Tick(Protocol):
    """Report progress (0-100) and an info line; acks the job again with them."""

    def __call__(self, progress: float, info: str | None = None) -> Awaitable[None]: ...


JobHandler = Callable[[FlatfileEvent, Tick], Awaitable[Any] | Any]


def job_handler(job: str, handler: JobHandler, *, accepted_info: str = "Accepted") -> Plugin:
    """A plugin that runs `handler` for `job:ready` events whose `payload.job` matches `job` (a glob).

    The handler may return `None` (a default completion), a `JobCompleteDetails`-shaped mapping
    (`{"outcome": {...}, "info": ...}`) or a bare outcome mapping (`{"message": ..., ...}`).
    """

    async def run(event: FlatfileEvent) -> None:
        job_id = str(event.context.get("jobId", ""))
        if await _already_finished(event, job_id):
            log.info("job %s already finished; skipping redelivered event %s", job_id, event.id)
            return
        jobs = event.api.jobs
        await jobs.ack(job_id, request=JobAckDetails(info=accepted_info, progress=0))

        async def tick(progress: float, info: str | None = None) -> None:
            await jobs.ack(job_id, request=JobAckDetails(info=info, progress=int(progress)))

        try:
            result = handler(event, tick)
            if inspect.isawaitable(result):
                result = await result
        except Exception as error:
            log.exception("job %s (%s) failed", job_id, job)
            failure = {"info": str(error), "outcome": {"acknowledge": True, "message": str(error)}}
            await jobs.fail(job_id, request=parse_obj_as(JobCompleteDetails, failure))
            return
        completion = parse_obj_as(JobCompleteDetails, completion_details(result))
        await jobs.complete(job_id, request=completion)

    def plugin(listener: FlatfileListener) -> None:
        listener.on("job:ready", {"job": job}, run)

    return plugin


def completion_details(result: Any) -> Mapping[str, Any]:
    """Normalise a handler's return value to a `JobCompleteDetails` body."""
    if result is None:
        return DEFAULT_COMPLETION
    if hasattr(result, "dict") and not isinstance(result, Mapping):
        result = result.dict()
    if isinstance(result, Mapping):
        return result if ("outcome" in result or "info" in result) else {"outcome": dict(result)}
    return {"outcome": {"message": str(result)}}


async def _already_finished(event: FlatfileEvent, job_id: str) -> bool:
    """Was the job finished before this delivery (a redelivered `job:ready`)?

    The event feed can be a moment ahead of the server's jobs read model: a job just heard of may
    answer 404 for a short while. It exists (its event says so), so ask again briefly; if it is
    still not readable, treat it as not finished and let the ack decide."""
    for _ in range(NOT_YET_READABLE_TRIES):
        try:
            job = await event.api.jobs.get(job_id)
        except ApiError as problem:
            if problem.status_code != 404:
                raise
            await asyncio.sleep(NOT_YET_READABLE_PAUSE)
            continue
        return str(job.data.status) in FINISHED_STATUSES
    return False
