"""Queries over the catalog read model (schema `workbook_catalog`) and the KnownSpaces directory."""

from __future__ import annotations

from typing import Any

import asyncpg
import msgspec

from spaceport.contracts.blueprint import SheetConfig
from spaceport.contracts.workbook import (
    GetSheet,
    GetWorkbook,
    ListSheets,
    ListWorkbooks,
    SheetList,
    SheetView,
    WorkbookList,
    WorkbookView,
)
from spaceport.errors import NotFoundError
from spaceport.readmodel import from_jsonb as _json
from spaceport.runtime import ServiceRuntime
from workbook_service.domain.workbook import SpaceFact
from workbook_service.projections.catalog import SCHEMA

_config = msgspec.json.Decoder(SheetConfig)
SHEETS = (
    f"SELECT s.*, w.namespace FROM {SCHEMA}.sheet s JOIN {SCHEMA}.workbook w ON w.id = s.workbook_id"
    " WHERE s.deleted_at IS NULL AND w.deleted_at IS NULL"
)
WORKBOOKS = f"SELECT * FROM {SCHEMA}.workbook WHERE deleted_at IS NULL"


class Place(msgspec.Struct, frozen=True, kw_only=True):
    """Where a workbook (or a sheet's workbook) lives: the aggregate's scope."""

    environment_id: str
    space_id: str
    workbook_id: str


class WorkbookQueries:
    def __init__(self, runtime: ServiceRuntime) -> None:
        self.runtime = runtime

    async def _caught_up(self, position: int) -> None:
        """Read-your-writes on the catalog alone: `runtime.wait_for` would also wait for the
        KnownSpaces runner, which never reaches a workbook event's position (it reads only
        space events) and so would sit out its whole timeout."""
        if position > 0:
            await self.runtime.runner(SCHEMA).wait_for(position)

    async def get_sheet(self, query: GetSheet) -> SheetView:
        await self._caught_up(query.min_position)
        async with self.runtime.pool.acquire() as conn:
            row = await conn.fetchrow(f"{SHEETS} AND s.id = $1", query.sheet_id)
        if row is None:
            raise NotFoundError(f"sheet {query.sheet_id} not found", key="sheetId")
        return sheet_view(row)

    async def list_sheets(self, query: ListSheets) -> SheetList:
        await self._caught_up(query.min_position)
        async with self.runtime.pool.acquire() as conn:
            rows = await conn.fetch(f"{SHEETS} AND s.workbook_id = $1 ORDER BY s.ordinal", query.workbook_id)
        return SheetList(data=[sheet_view(r) for r in rows])

    async def get_workbook(self, query: GetWorkbook) -> WorkbookView:
        await self._caught_up(query.min_position)
        async with self.runtime.pool.acquire() as conn:
            row = await conn.fetchrow(f"{WORKBOOKS} AND id = $1", query.workbook_id)
            if row is None:
                raise NotFoundError(f"workbook {query.workbook_id} not found", key="workbookId")
            sheets = await self._sheets(conn, [row["id"]])
        return workbook_view(row, sheets.get(row["id"], []))

    async def list_workbooks(self, query: ListWorkbooks) -> WorkbookList:
        await self._caught_up(query.min_position)
        sql, args = _list_filter(query)
        async with self.runtime.pool.acquire() as conn:
            rows = await conn.fetch(f"{WORKBOOKS}{sql} ORDER BY created_at, id", *args)
            sheets = await self._sheets(conn, [r["id"] for r in rows]) if query.include_sheets else None
        views = [workbook_view(r, None if sheets is None else sheets.get(r["id"], [])) for r in rows]
        return WorkbookList(data=views)

    async def _sheets(self, conn: Any, workbook_ids: list[str]) -> dict[str, list[SheetView]]:
        rows = await conn.fetch(f"{SHEETS} AND s.workbook_id = any($1::text[]) ORDER BY s.ordinal", workbook_ids)
        by_workbook: dict[str, list[SheetView]] = {}
        for row in rows:
            by_workbook.setdefault(row["workbook_id"], []).append(sheet_view(row))
        return by_workbook

    # ---- for the command handlers -------------------------------------------------------

    async def place_of_workbook(self, workbook_id: str) -> Place | None:
        async with self.runtime.pool.acquire() as conn:
            row = await conn.fetchrow(
                f"SELECT environment_id, space_id, id AS workbook_id FROM {SCHEMA}.workbook"
                " WHERE id = $1 AND deleted_at IS NULL",
                workbook_id,
            )
        return None if row is None else Place(**dict(row))

    async def place_of_sheet(self, sheet_id: str) -> Place | None:
        async with self.runtime.pool.acquire() as conn:
            row = await conn.fetchrow(
                f"SELECT s.environment_id, s.space_id, s.workbook_id FROM ({SHEETS} AND s.id = $1) s", sheet_id
            )
        return None if row is None else Place(**dict(row))

    async def space_fact(self, space_id: str) -> SpaceFact | None:
        async with self.runtime.pool.acquire() as conn:
            row = await conn.fetchrow(
                "SELECT id AS space_id, environment_id, archived, deleted FROM known_space WHERE id = $1", space_id
            )
        return None if row is None else SpaceFact(**dict(row))


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
