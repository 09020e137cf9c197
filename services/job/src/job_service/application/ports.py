"""What the job application needs from outside it, besides `spaceport.ports.EventStorePort`.

The Postgres implementation is `projections/queries.py`; `job_service.testing` has a fake that
folds the event store's events instead.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Protocol

import msgspec

from spaceport.contracts.job import JobView, ListJobs
from spaceport.known_spaces import SpaceFact

WaitFor = Callable[[int], Awaitable[bool]]
"""Read-your-writes: wait until the `job` read model applied a stream position; False on timeout."""


class JobPlace(msgspec.Struct, frozen=True, kw_only=True):
    """Where a job's events live (its scope)."""

    environment_id: str
    space_id: str | None


class DueJob(msgspec.Struct, frozen=True, kw_only=True):
    """A ready or executing job past its deadline, as the read model saw it at `position`."""

    job_id: str
    environment_id: str
    space_id: str | None
    position: int
    timeout_seconds: float


class JobReads(Protocol):
    async def place(self, job_id: str) -> JobPlace | None:
        """The scope of a job the read model has (deleted ones too)."""
        ...

    async def job(self, job_id: str) -> JobView | None:
        """The job unless it is deleted."""
        ...

    async def jobs(self, query: ListJobs) -> tuple[list[JobView], int]:
        """The page `query` asks for and how many live jobs match."""
        ...

    async def space_fact(self, space_id: str) -> SpaceFact | None: ...

    async def due(self, limit: int) -> list[DueJob]:
        """Ready or executing jobs whose deadline has passed, oldest deadline first."""
        ...
