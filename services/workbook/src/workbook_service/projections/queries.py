"""SQL reads of the catalog (schema `workbook_catalog`) and of the KnownSpaces directory.

`known_space` is read through the pool's search_path (the service's own schema); the catalog's
schema is named in the SQL, so a test can point both at scratch schemas.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import asyncpg
import msgspec

from spaceport import known_spaces
from spaceport.contracts.blueprint import SheetConfig
from spaceport.contracts.workbook import ListWorkbooks, SheetView, WorkbookView
from spaceport.known_spaces import SpaceFact
from spaceport.readmodel import Conn, quote_ident
from spaceport.readmodel import from_jsonb as _json
from workbook_service.application.ports import Place
from workbook_service.projections.catalog import SCHEMA

_config = msgspec.json.Decoder(SheetConfig)
Pool = Callable[[], "asyncpg.Pool[Any]"]
"""The runtime's pool once it has started (the queries are built before it exists)."""


class CatalogQueries:
    """Implements `Places` and `CatalogReads` on Postgres."""

    def __init__(self, pool: Pool, schema: str = SCHEMA) -> None:
        self._pool = pool
        self._schema = schema
        catalog = quote_ident(schema)
        self._sheets = (
            f"SELECT s.*, w.namespace FROM {catalog}.sheet s JOIN {catalog}.workbook w ON w.id = s.workbook_id"
            " WHERE s.deleted_at IS NULL AND w.deleted_at IS NULL"
        )
        self._workbooks = f"SELECT * FROM {catalog}.workbook WHERE deleted_at IS NULL"

    # ---- CatalogReads -------------------------------------------------------------------

    async def sheet(self, sheet_id: str) -> SheetView | None:
        async with self._pool().acquire() as conn:
            row = await conn.fetchrow(f"{self._sheets} AND s.id = $1", sheet_id)
        return None if row is None else sheet_view(row)

    async def sheets(self, workbook_id: str) -> list[SheetView]:
        async with self._pool().acquire() as conn:
            rows = await conn.fetch(f"{self._sheets} AND s.workbook_id = $1 ORDER BY s.ordinal", workbook_id)
        return [sheet_view(r) for r in rows]

    async def workbook(self, workbook_id: str) -> WorkbookView | None:
        async with self._pool().acquire() as conn:
            row = await conn.fetchrow(f"{self._workbooks} AND id = $1", workbook_id)
            if row is None:
                return None
            sheets = await self._sheets_of(conn, [row["id"]])
        return workbook_view(row, sheets.get(row["id"], []))

    async def workbooks(self, query: ListWorkbooks) -> list[WorkbookView]:
        sql, args = _list_filter(query)
        async with self._pool().acquire() as conn:
            rows = await conn.fetch(f"{self._workbooks}{sql} ORDER BY created_at, id", *args)
            sheets = await self._sheets_of(conn, [r["id"] for r in rows]) if query.include_sheets else None
        return [workbook_view(r, None if sheets is None else sheets.get(r["id"], [])) for r in rows]

    async def _sheets_of(self, conn: Conn, workbook_ids: list[str]) -> dict[str, list[SheetView]]:
        sql = f"{self._sheets} AND s.workbook_id = any($1::text[]) ORDER BY s.ordinal"
        by_workbook: dict[str, list[SheetView]] = {}
        for row in await conn.fetch(sql, workbook_ids):
            by_workbook.setdefault(row["workbook_id"], []).append(sheet_view(row))
        return by_workbook

    # ---- Places -------------------------------------------------------------------------

    async def place_of_workbook(self, workbook_id: str) -> Place | None:
        sql = f"SELECT environment_id, space_id, id AS workbook_id FROM ({self._workbooks} AND id = $1) w"
        return await self._place(sql, workbook_id)

    async def place_of_sheet(self, sheet_id: str) -> Place | None:
        sql = f"SELECT s.environment_id, s.space_id, s.workbook_id FROM ({self._sheets} AND s.id = $1) s"
        return await self._place(sql, sheet_id)

    async def place_ever(self, *, workbook_id: str | None = None, sheet_id: str | None = None) -> Place | None:
        """Where a workbook (or a sheet's workbook) lives, deleted or not: reads as of an earlier moment."""
        catalog = quote_ident(self._schema)
        if sheet_id is not None:
            sql = f"SELECT environment_id, space_id, workbook_id FROM {catalog}.sheet WHERE id = $1"
            return await self._place(sql, sheet_id)
        sql = f"SELECT environment_id, space_id, id AS workbook_id FROM {catalog}.workbook WHERE id = $1"
        return await self._place(sql, workbook_id or "")

    async def _place(self, sql: str, key: str) -> Place | None:
        async with self._pool().acquire() as conn:
            row = await conn.fetchrow(sql, key)
        return None if row is None else Place(**dict(row))

    async def space_fact(self, space_id: str) -> SpaceFact | None:
        async with self._pool().acquire() as conn:
            return await known_spaces.space_fact(conn, space_id)


def _list_filter(query: ListWorkbooks) -> tuple[str, list[object]]:
    """WHERE fragments for the list filters; `name`, `namespace`, `label` negate with a leading `-`."""
    clauses: list[str] = ["environment_id = $1"]
    args: list[object] = [query.environment_id]

    def add(template: str, negated: str, value: str | None, *, negatable: bool = True) -> None:
        if value is None:
            return
        negate = negatable and value.startswith("-")
        args.append(value[1:] if negate else value)
        clauses.append((negated if negate else template).format(f"${len(args)}"))

    add("space_id = {}", "", query.space_id, negatable=False)
    add("name = {}", "name <> {}", query.name)
    add("namespace = {}", "namespace IS DISTINCT FROM {}", query.namespace)
    add("labels ? {}", "NOT labels ? {}", query.label)
    add("treatments ? {}", "", query.treatment, negatable=False)
    return " AND " + " AND ".join(clauses), args


def sheet_view(row: asyncpg.Record) -> SheetView:
    config = _config.decode(row["config"])
    return SheetView(
        id=row["id"],
        workbook_id=row["workbook_id"],
        space_id=row["space_id"],
        environment_id=row["environment_id"],
        name=row["name"],
        slug=row["slug"],
        config=config,
        metadata=config.metadata,
        namespace=row["namespace"],
        locked_by=row["locked_by"],
        locked_at=row["locked_at"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
    )


def workbook_view(row: asyncpg.Record, sheets: list[SheetView] | None) -> WorkbookView:
    return WorkbookView(
        id=row["id"],
        name=row["name"],
        space_id=row["space_id"],
        environment_id=row["environment_id"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        sheets=sheets,
        labels=_json(row["labels"]),
        actions=_json(row["actions"]),
        settings=_json(row["settings"]),
        metadata=_json(row["metadata"]),
        treatments=_json(row["treatments"]),
        namespace=row["namespace"],
    )
