"""The timeout sweeper: every `interval` seconds, fail the ready or executing jobs past their deadline.

Each failure goes through the normal command path, guarded by the version the read model saw:
an ack that lands first wins, and several replicas sweeping at once is harmless (one append
wins, the others conflict and skip).
"""

from __future__ import annotations

import asyncio
import logging

from job_service.application.jobs import JobHandlers
from job_service.application.ports import JobReads
from spaceport.runtime import Loop

log = logging.getLogger(__name__)
BATCH = 100


class Sweeper(Loop):
    task_name = "job-timeout-sweeper"

    def __init__(self, jobs: JobHandlers, reads: JobReads, interval: float) -> None:
        super().__init__()
        self.jobs = jobs
        self.reads = reads
        self.interval = interval

    async def sweep(self) -> int:
        """One pass; how many jobs it failed."""
        failed = 0
        for due in await self.reads.due(BATCH):
            try:
                failed += await self.jobs.time_out(due)
            except Exception:
                log.exception("timing out job %s failed; the next sweep retries", due.job_id)
        return failed

    async def run(self) -> None:
        while True:
            try:
                if await self.sweep():
                    continue  # more may be due: sweep again at once
            except Exception:
                log.exception("job timeout sweep failed; retrying")
            await asyncio.sleep(self.interval)
