"""Reading the history read model (schema `history`), and resolving a moment to a position.

The job service's pool reads schema `job` by default, so every statement names `history.`.
`HistoryQueries.position` resolves a version id or a time to a stream sequence of a space: the
base of reads as of a moment and of restores.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from typing import Any

import asyncpg

from spaceport.contracts.history import Pagination, Position, Version, VersionCounts
from spaceport.errors import NotFoundError, ValidationFailedError

Pool = Callable[[], asyncpg.Pool]
FIELDS = "id, space_id, first_seq, last_seq, created_at, actor, sheet_id, workbook_id, kind, events, records, topics"
FILTER = (
    "space_id = $1 AND ($2::text IS NULL OR sheet_id = $2)"
    " AND ($3::timestamptz IS NULL OR created_at >= $3) AND ($4::timestamptz IS NULL OR created_at <= $4)"
)


def version_of(row: asyncpg.Record) -> Version:
    events: dict[str, int] = json.loads(row["events"])
    return Version(
        id=row["id"],
        space_id=row["space_id"],
        sequence=row["last_seq"],
        first_sequence=row["first_seq"],
        created_at=row["created_at"],
        actor_id=row["actor"],
        kind=row["kind"],
        sheet_id=row["sheet_id"],
        workbook_id=row["workbook_id"],
        topics=list(row["topics"]),
        counts=VersionCounts(events=events, records=row["records"]),
    )


class HistoryQueries:
    def __init__(self, pool: Pool) -> None:
        self._pool = pool

    async def environment_of(self, conn: Any, space_id: str) -> str:
        found = await conn.fetchval("SELECT environment_id FROM history.space WHERE space_id = $1", space_id)
        if found is None:
            raise NotFoundError(f"space {space_id} not found", key="spaceId")
        return str(found)

    async def page(
        self,
        space_id: str,
        *,
        page_size: int,
        page_number: int,
        sheet_id: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
    ) -> tuple[str, list[Version], Pagination]:
        """The space's environment and one page of its versions, newest first."""
        async with self._pool().acquire() as conn, conn.transaction(isolation="repeatable_read", readonly=True):
            environment_id = await self.environment_of(conn, space_id)
            args = (space_id, sheet_id, since, until)
            total = await conn.fetchval(f"SELECT count(*) FROM history.version WHERE {FILTER}", *args)
            rows = await conn.fetch(
                f"SELECT {FIELDS} FROM history.version WHERE {FILTER} ORDER BY last_seq DESC LIMIT $5 OFFSET $6",
                *args,
                page_size,
                (page_number - 1) * page_size,
            )
        pages = max(1, -(-int(total) // page_size))
        return (
            environment_id,
            [version_of(r) for r in rows],
            Pagination(current_page=page_number, page_count=pages, total_count=int(total)),
        )

    async def version(self, space_id: str, version_id: str) -> tuple[str, Version]:
        async with self._pool().acquire() as conn:
            environment_id = await self.environment_of(conn, space_id)
            row = await conn.fetchrow(
                f"SELECT {FIELDS} FROM history.version WHERE id = $1 AND space_id = $2", version_id, space_id
            )
        if row is None:
            raise NotFoundError(f"version {version_id} not found in space {space_id}", key="versionId")
        return environment_id, version_of(row)

    async def position(self, space_id: str, *, version_id: str | None = None, at: datetime | None = None) -> Position:
        """The stream sequence of version `version_id` of the space, or of the space as of `at`
        (its last version created at or before then; 0 before its first)."""
        if (version_id is None) == (at is None):
            raise ValidationFailedError("pass exactly one of versionId or a time", key="versionId")
        async with self._pool().acquire() as conn:
            if not space_id and version_id is not None:  # the version's own space (the caller checks access)
                found = await conn.fetchrow("SELECT last_seq, space_id FROM history.version WHERE id = $1", version_id)
                if found is None:
                    raise NotFoundError(f"version {version_id} not found", key="asOf")
                space_id = found["space_id"]
            environment_id = await self.environment_of(conn, space_id)
            if version_id is not None:
                row = await conn.fetchrow(
                    "SELECT id, last_seq FROM history.version WHERE id = $1 AND space_id = $2", version_id, space_id
                )
                if row is None:
                    raise NotFoundError(f"version {version_id} not found in space {space_id}", key="versionId")
            else:
                row = await conn.fetchrow(
                    "SELECT id, last_seq FROM history.version WHERE space_id = $1 AND created_at <= $2"
                    " ORDER BY last_seq DESC LIMIT 1",
                    space_id,
                    at,
                )
        if row is None:
            return Position(environment_id=environment_id, sequence=0, space_id=space_id)
        return Position(
            environment_id=environment_id, sequence=row["last_seq"], version_id=row["id"], space_id=space_id
        )

    async def extraction_of(self, sheet_id: str) -> dict[str, Any] | None:
        """The source of the commit that first extracted records into a sheet from a file (its
        `file_id`, `job_id` and `fields`: field key -> the file's header), if any."""
        async with self._pool().acquire() as conn:
            found = await conn.fetchval(
                "SELECT source FROM history.version WHERE sheet_id = $1 AND source ? 'file_id'"
                " ORDER BY last_seq LIMIT 1",
                sheet_id,
            )
        return None if found is None else dict(json.loads(found))

    async def inserted_before(self, commit_id: str, first_seq: int, seq: int) -> int:
        """How many records the commit's events before position `seq` wrote (its record events lie
        in `first_seq..`): with a record's place in its own event, its place in the commit."""
        async with self._pool().acquire() as conn:
            found = await conn.fetchval(
                "SELECT count(*) FROM history.record_change WHERE commit_id = $1 AND seq >= $2 AND seq < $3",
                commit_id,
                first_seq,
                seq,
            )
        return int(found or 0)

    async def record_changes(self, record_id: str) -> list[asyncpg.Record]:
        """(seq, version columns) of every insert / update event of the record, oldest first."""
        async with self._pool().acquire() as conn:
            return list(
                await conn.fetch(
                    "SELECT rc.seq, v.id, v.first_seq, v.created_at, v.actor, v.kind, v.sheet_id, v.source"
                    " FROM history.record_change rc"
                    " JOIN history.version v ON v.id = rc.commit_id WHERE rc.record_id = $1 ORDER BY rc.seq",
                    record_id,
                )
            )
