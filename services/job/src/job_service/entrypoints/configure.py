"""The `space:configure` process manager: a space created with `autoConfigure` gets its job.

A consumer of the space events with its own checkpoint (schema `job_configure`), run by the
service beside its read model, not as one of its rebuildable projections: applying an event
issues a command. The job id derives from the space id and the create is idempotent, so a
redelivered or replayed SpaceCreated never makes a second job.
"""

from __future__ import annotations

from pathlib import Path

from job_service.application.jobs import JobHandlers
from spaceport.contracts.space import SpaceCreated, SpaceDeleted
from spaceport.events import StoredEvent
from spaceport.readmodel import Conn

NAME = "job_configure"


class ConfigureSpaces:
    migrations = Path(__file__).parent.parent / "projections" / "configure_migrations"

    def __init__(self, jobs: JobHandlers, prefix: str = "evt", name: str = NAME) -> None:
        self.name = name
        self.jobs = jobs
        self.filter_subjects = [f"{prefix}.*.space.>"]

    async def apply(self, conn: Conn, stored: StoredEvent) -> None:
        match stored.event:
            case SpaceCreated(auto_configure=True) as e:
                written = await self.jobs.configure_space(e.environment_id, e.space_id, stored.envelope.actor)
                await conn.execute(
                    "INSERT INTO configure_request (space_id, job_id, position) VALUES ($1, $2, $3)"
                    " ON CONFLICT (space_id) DO NOTHING",
                    e.space_id,
                    written.job_id,
                    stored.seq,
                )
            case SpaceDeleted() as e:  # erasure: nothing of the space stays
                await conn.execute("DELETE FROM configure_request WHERE space_id = $1", e.space_id)
