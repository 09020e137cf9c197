"""The `file:extract` process manager: an upload in mode `import` gets its extract job.

A consumer of the file events with its own checkpoint (schema `job_extract`), run by the service
beside its read model like `configure.py`: applying an event issues a command. The job id derives
from the file id and the create is idempotent, so a redelivered or replayed FileCreated never
makes a second job. The file service's extractor (`file_service.entrypoints.extractor`) runs it.
"""

from __future__ import annotations

from pathlib import Path

from job_service.application.jobs import JobHandlers
from spaceport.contracts.file import FileCreated
from spaceport.contracts.space import SpaceDeleted
from spaceport.events import StoredEvent
from spaceport.readmodel import Conn

NAME = "job_extract"


class ExtractFiles:
    migrations = Path(__file__).parent.parent / "projections" / "extract_migrations"

    def __init__(self, jobs: JobHandlers, prefix: str = "evt", name: str = NAME) -> None:
        self.name = name
        self.jobs = jobs
        self.filter_subjects = [f"{prefix}.*.file.>", f"{prefix}.*.space.*.space_deleted"]

    async def apply(self, conn: Conn, stored: StoredEvent) -> None:
        match stored.event:
            case FileCreated(mode="import") as e:
                written = await self.jobs.extract_file(
                    e.environment_id, e.space_id, e.file_id, e.created_by or stored.envelope.actor
                )
                await conn.execute(
                    "INSERT INTO extract_request (file_id, job_id, position, space_id) VALUES ($1, $2, $3, $4)"
                    " ON CONFLICT (file_id) DO NOTHING",
                    e.file_id,
                    written.job_id,
                    stored.seq,
                    e.space_id,
                )
            case SpaceDeleted() as e:  # erasure: nothing of the space stays
                await conn.execute("DELETE FROM extract_request WHERE space_id = $1", e.space_id)
