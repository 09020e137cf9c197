"""The file service's read model (schema `file`): its directory of spaces and the `file` table.

One projection, so one checkpoint says how far both are. Space events go to the shared
`KnownSpaces` fold (table `known_space`); file events to the `file` row.
"""

from __future__ import annotations

from pathlib import Path

from file_service.projections import erasure
from spaceport.contracts.file import AGGREGATE, EXTRACTOR_ACTOR, FileCreated, FileDeleted, FileUpdated
from spaceport.contracts.space import SpaceDeleted
from spaceport.events import StoredEvent
from spaceport.known_spaces import KnownSpaces
from spaceport.readmodel import Conn
from spaceport.readmodel import to_jsonb as js

NAME = "file"
INSERT = (
    "INSERT INTO file (id, environment_id, space_id, name, mode, status, encoding, size, mimetype, object_key,"
    " actions, origin, created_by, created_at, updated_at, position)"
    " VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11::jsonb,$12,$13,$14,$14,$15) ON CONFLICT (id) DO NOTHING"
)
UPDATE = (
    "UPDATE file SET name = coalesce($2, name), status = coalesce($3, status), mode = coalesce($4, mode),"
    " workbook_id = coalesce($5, workbook_id), sheet_id = coalesce($6, sheet_id),"
    " description = coalesce($7, description), actions = coalesce($8::jsonb, actions),"
    " extracted_workbook_id = coalesce($11, extracted_workbook_id),"
    " updated_at = $9, position = $10 WHERE id = $1"
)


class FileProjection:
    """Projection `file`: known spaces and files."""

    migrations = Path(__file__).parent / "migrations"

    def __init__(self, prefix: str = "evt", name: str = NAME) -> None:
        self.name = name
        self.spaces = KnownSpaces(name, prefix)
        self.filter_subjects = [*self.spaces.filter_subjects, f"{prefix}.*.{AGGREGATE}.>"]

    async def apply(self, conn: Conn, stored: StoredEvent) -> None:
        if stored.envelope.aggregate != AGGREGATE:
            await self.spaces.apply(conn, stored)
            if isinstance(stored.event, SpaceDeleted):
                await erasure.erase_space(conn, stored.event.space_id)
            return
        at, seq = stored.envelope.occurred_at, stored.seq
        match stored.event:
            case FileCreated() as e:
                await conn.execute(
                    INSERT,
                    e.file_id,
                    e.environment_id,
                    e.space_id,
                    e.name,
                    e.mode,
                    e.status,
                    e.encoding,
                    e.size,
                    e.mimetype,
                    e.object_key,
                    js(e.actions),
                    e.origin,
                    e.created_by,
                    at,
                    seq,
                )
            case FileUpdated() as e:
                actions = None if e.actions is None else js(e.actions)
                # only the built-in extractor's workbook is the uploader's own (never one a PATCH named)
                extracted = e.workbook_id if stored.envelope.actor == EXTRACTOR_ACTOR else None
                await conn.execute(
                    UPDATE,
                    e.file_id,
                    e.name,
                    e.status,
                    e.mode,
                    e.workbook_id,
                    e.sheet_id,
                    e.description,
                    actions,
                    at,
                    seq,
                    extracted,
                )
            case FileDeleted() as e:
                await conn.execute(
                    "UPDATE file SET deleted = true, updated_at = $2, position = $3 WHERE id = $1", e.file_id, at, seq
                )
