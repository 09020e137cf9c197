"""SQL reads of the `job` read model (the pool's search_path is the service's schema)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import asyncpg

from job_service.application.ports import DueJob, JobPlace
from spaceport import known_spaces
from spaceport.contracts.job import JobView, ListJobs
from spaceport.known_spaces import SpaceFact
from spaceport.readmodel import from_jsonb

Pool = Callable[[], "asyncpg.Pool[Any]"]
"""The runtime's pool once it has started (the queries are built before it exists)."""

JSON_COLUMNS = ("config", "input", "subject", "predecessor_ids", "part_data", "metadata", "outcome", "action")
VIEW_COLUMNS = (
    "id, type, operation, source, destination, config, trigger, status, progress, info, mode, input, subject,"
    " outcome, managed, file_id, environment_id, space_id, workbook_id, sheet_id, document_id, parent_id, part,"
    " part_data, part_execution, predecessor_ids, metadata, action, timeout_seconds, created_at, updated_at,"
    " started_at, finished_at, outcome_acknowledged_at, estimated_completion_at"
)


def job_view(row: asyncpg.Record) -> JobView:
    values = dict(row)
    for column in JSON_COLUMNS:
        values[column] = from_jsonb(values[column])
    return JobView(**values)


def _filters(query: ListJobs) -> tuple[str, list[object]]:
    clauses = ["NOT deleted", "environment_id = $1"]
    params: list[object] = [query.environment_id]

    def add(sql: str, value: object) -> None:
        params.append(value)
        clauses.append(sql.replace("$?", f"${len(params)}"))

    if query.space_id is not None:
        add("space_id = $?", query.space_id)
    if query.workbook_id is not None:
        add("(workbook_id = $? OR source = $? OR destination = $?)", query.workbook_id)
    if query.file_id is not None:
        add("(file_id = $? OR (type = 'file' AND source = $?))", query.file_id)
    if query.parent_id is not None:
        add("parent_id = $?", query.parent_id)
    if query.exclude_child_jobs:
        clauses.append("parent_id IS NULL")
    if (limited := query.principal.workbook_ids) is not None:  # a guest granted some workbooks only
        # its workbooks' jobs and the space's; a job of a file and no workbook (an upload's extraction)
        # only to its creator (the uploader), so another guest's upload stays unseen
        params += [limited, query.principal.actor]
        mine = f"workbook_id IS NULL AND (file_id IS NULL OR created_by = ${len(params)})"
        clauses.append(f"(workbook_id = ANY(${len(params) - 1}) OR ({mine}))")
    return " AND ".join(clauses), params


class JobQueries:
    """The `JobReads` port on Postgres."""

    def __init__(self, pool: Pool, default_timeout: float = 300.0) -> None:
        self._pool = pool
        self.default_timeout = default_timeout

    async def place(self, job_id: str) -> JobPlace | None:
        row = await self._row("SELECT environment_id, space_id FROM job WHERE id = $1", job_id)
        return None if row is None else JobPlace(**dict(row))

    async def job(self, job_id: str) -> JobView | None:
        row = await self._row(f"SELECT {VIEW_COLUMNS} FROM job WHERE id = $1 AND NOT deleted", job_id)
        return None if row is None else job_view(row)

    async def jobs(self, query: ListJobs) -> tuple[list[JobView], int]:
        where, params = _filters(query)
        direction = "DESC" if query.sort_direction == "desc" else "ASC"
        offset = (query.page_number - 1) * query.page_size
        async with self._pool().acquire() as conn:
            total = int(await conn.fetchval(f"SELECT count(*) FROM job WHERE {where}", *params))
            # Jobs per environment are modest next to records: OFFSET over the index is acceptable.
            found = await conn.fetch(
                f"SELECT {VIEW_COLUMNS} FROM job WHERE {where} ORDER BY created_at {direction}, id {direction}"
                f" LIMIT {query.page_size} OFFSET {offset}",
                *params,
            )
        return [job_view(r) for r in found], total

    async def space_fact(self, space_id: str) -> SpaceFact | None:
        async with self._pool().acquire() as conn:
            return await known_spaces.space_fact(conn, space_id)

    async def due(self, limit: int) -> list[DueJob]:
        async with self._pool().acquire() as conn:
            found = await conn.fetch(
                "SELECT id AS job_id, environment_id, space_id, position,"
                " coalesce(timeout_seconds, $2) AS timeout_seconds FROM job"
                " WHERE deadline < now() AND status IN ('ready', 'executing') AND NOT deleted"
                " ORDER BY deadline LIMIT $1",
                limit,
                self.default_timeout,
            )
        return [DueJob(**dict(r)) for r in found]

    async def _row(self, sql: str, *args: object) -> asyncpg.Record | None:
        async with self._pool().acquire() as conn:
            return await conn.fetchrow(sql, *args)
