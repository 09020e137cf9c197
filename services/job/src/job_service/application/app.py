"""The job service's use cases as one object: what the entrypoints bind and tests drive."""

from __future__ import annotations

from job_service.application.jobs import JobHandlers
from job_service.application.ports import JobReads, WaitFor
from spaceport.ports import EventStorePort


class JobApplication:
    """Jobs: commands, queries, the `space:configure` process manager's command and timeouts."""

    def __init__(self, store: EventStorePort, reads: JobReads, caught_up: WaitFor) -> None:
        self.reads = reads
        self.jobs = JobHandlers(store, reads, caught_up)
