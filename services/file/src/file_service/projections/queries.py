"""SQL reads of the `file` read model (the pool's search_path is the service's schema)."""

from __future__ import annotations

import posixpath
from collections.abc import Callable
from typing import Any

import asyncpg

from file_service.application.ports import FileRow
from spaceport import known_spaces
from spaceport.contracts.file import DEFAULT_ENCODING, FileView, ListFiles
from spaceport.known_spaces import SpaceFact
from spaceport.readmodel import from_jsonb

Pool = Callable[[], "asyncpg.Pool[Any]"]
"""The runtime's pool once it has started (the queries are built before it exists)."""

COLUMNS = (
    "id, environment_id, space_id, name, mode, status, encoding, size, mimetype, object_key, description,"
    " workbook_id, sheet_id, actions, origin, created_at, updated_at"
)


def ext_of(name: str) -> str:
    return posixpath.splitext(name)[1].lstrip(".").lower()


def file_view(row: asyncpg.Record) -> FileView:
    return FileView(
        id=row["id"],
        name=row["name"],
        ext=ext_of(row["name"]),
        mimetype=row["mimetype"],
        encoding=row["encoding"] or DEFAULT_ENCODING,
        status=row["status"],
        mode=row["mode"],
        description=row["description"],
        size=row["size"],
        bytes_received=row["size"],
        space_id=row["space_id"],
        workbook_id=row["workbook_id"],
        sheet_id=row["sheet_id"],
        actions=from_jsonb(row["actions"]) or [],
        origin=row["origin"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
    )


class FileQueries:
    """The `FileReads` port on Postgres."""

    def __init__(self, pool: Pool) -> None:
        self._pool = pool

    async def file(self, file_id: str) -> FileRow | None:
        async with self._pool().acquire() as conn:
            row = await conn.fetchrow(f"SELECT {COLUMNS}, created_by FROM file WHERE id = $1 AND NOT deleted", file_id)
        if row is None:
            return None
        return FileRow(
            view=file_view(row),
            environment_id=row["environment_id"],
            object_key=row["object_key"],
            created_by=row["created_by"],
        )

    async def files(self, environment_id: str, query: ListFiles) -> tuple[list[FileView], int]:
        where = "NOT deleted AND environment_id = $1 AND mode = $2"
        params: list[object] = [environment_id, query.mode]
        if query.space_id is not None:
            params.append(query.space_id)
            where += " AND space_id = $3"
        if (limited := query.principal.workbook_ids) is not None:  # a guest granted some workbooks only
            params += [limited, query.principal.actor]  # its workbooks' files and its own uploads
            where += f" AND (workbook_id = ANY(${len(params) - 1}) OR created_by = ${len(params)})"
        offset = (query.page_number - 1) * query.page_size
        async with self._pool().acquire() as conn:
            total = int(await conn.fetchval(f"SELECT count(*) FROM file WHERE {where}", *params))
            found = await conn.fetch(
                f"SELECT {COLUMNS} FROM file WHERE {where} ORDER BY created_at, id"
                f" LIMIT {query.page_size} OFFSET {offset}",
                *params,
            )
        return [file_view(r) for r in found], total

    async def uploaded_workbooks(self, environment_id: str, space_id: str, created_by: str) -> list[str]:
        sql = (
            "SELECT DISTINCT extracted_workbook_id FROM file WHERE space_id = $1 AND created_by = $2"
            " AND environment_id = $3 AND NOT deleted AND extracted_workbook_id IS NOT NULL"
        )
        async with self._pool().acquire() as conn:
            return [r[0] for r in await conn.fetch(sql, space_id, created_by, environment_id)]

    async def space_fact(self, space_id: str) -> SpaceFact | None:
        async with self._pool().acquire() as conn:
            return await known_spaces.space_fact(conn, space_id)
