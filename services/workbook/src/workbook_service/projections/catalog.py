"""The workbook service's read model: workbooks and sheets (schema `workbook_catalog`).

A projection's name is its schema; the service's own schema `workbook` holds the KnownSpaces
directory, so this one lives beside it and the queries name it explicitly.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from spaceport.contracts.space import SpaceDeleted
from spaceport.contracts.workbook import (
    SheetAdded,
    SheetConfigChanged,
    SheetDeleted,
    SheetLocked,
    SheetSpec,
    SheetUnlocked,
    WorkbookCreated,
    WorkbookDeleted,
    WorkbookUpdated,
)
from spaceport.events import StoredEvent
from spaceport.readmodel import Conn
from spaceport.readmodel import to_jsonb as js
from workbook_service.projections.views import VIEW_EVENTS, apply_view, view_filter

SCHEMA = "workbook_catalog"


def _opt(value: object | None) -> str | None:
    return None if value is None else js(value)


class WorkbookCatalog:
    migrations = Path(__file__).parent / "migrations"

    def __init__(self, prefix: str = "evt", name: str = SCHEMA) -> None:
        self.name = name
        self.filter_subjects = [f"{prefix}.*.workbook.>", view_filter(prefix), f"{prefix}.*.space.*.space_deleted"]

    async def apply(self, conn: Conn, stored: StoredEvent) -> None:
        at, seq = stored.envelope.occurred_at, stored.seq
        if isinstance(stored.event, SpaceDeleted):  # erasure: nothing of the space stays
            for table in ("saved_view", "sheet", "workbook"):
                await conn.execute(f"DELETE FROM {table} WHERE space_id = $1", stored.event.space_id)
            return
        if isinstance(stored.event, VIEW_EVENTS):
            await apply_view(conn, stored)
            return
        match stored.event:
            case WorkbookCreated() as e:
                await self._workbook(conn, e, at, seq)
                for ordinal, sheet in enumerate(e.sheets):
                    await self._sheet(conn, e.workbook_id, stored, sheet, ordinal, placed=True)
            case WorkbookUpdated() as e:
                await conn.execute(
                    "UPDATE workbook SET name = coalesce($2, name), namespace = coalesce($3, namespace),"
                    " labels = coalesce($4::jsonb, labels), metadata = coalesce($5::jsonb, metadata),"
                    " settings = coalesce($6::jsonb, settings), actions = coalesce($7::jsonb, actions),"
                    " updated_at = $8, position = $9 WHERE id = $1",
                    e.workbook_id,
                    e.name,
                    e.namespace,
                    _opt(e.labels),
                    _opt(e.metadata),
                    _opt(e.settings),
                    _opt(e.actions),
                    at,
                    seq,
                )
            case SheetAdded() as e:
                ordinal = await conn.fetchval(
                    "SELECT coalesce(max(ordinal) + 1, 0) FROM sheet WHERE workbook_id = $1", e.workbook_id
                )
                await self._sheet(conn, e.workbook_id, stored, e.sheet, ordinal)
                await self._touch(conn, e.workbook_id, at, seq)
            case SheetConfigChanged() as e:
                await conn.execute(
                    "UPDATE sheet SET config = $2::jsonb, name = $3, slug = coalesce($4, slug),"
                    " updated_at = $5, position = $6 WHERE id = $1",
                    e.sheet_id,
                    js(e.config),
                    e.config.name,
                    e.slug or e.config.slug,
                    at,
                    seq,
                )
                await self._touch(conn, e.workbook_id, at, seq)
            case SheetLocked() as e:
                await self._set_sheet(conn, e.sheet_id, "locked_by = $2, locked_at = $3", e.locked_by, at, seq)
            case SheetUnlocked() as e:
                await self._set_sheet(conn, e.sheet_id, "locked_by = $2, locked_at = NULL", None, at, seq)
            case SheetDeleted() as e:
                await self._set_sheet(conn, e.sheet_id, "deleted_at = $2", at, at, seq)
                await self._touch(conn, e.workbook_id, at, seq)
            case WorkbookDeleted() as e:
                await conn.execute(
                    "UPDATE workbook SET deleted_at = $2, position = $3 WHERE id = $1", e.workbook_id, at, seq
                )
                await conn.execute(
                    "UPDATE sheet SET deleted_at = $2, position = $3 WHERE workbook_id = $1 AND deleted_at IS NULL",
                    e.workbook_id,
                    at,
                    seq,
                )

    async def _workbook(self, conn: Conn, e: WorkbookCreated, at: datetime, seq: int) -> None:
        await conn.execute(
            "INSERT INTO workbook (id, space_id, environment_id, name, namespace, labels, metadata, settings,"
            " actions, treatments, created_at, updated_at, position)"
            " VALUES ($1,$2,$3,$4,$5,$6::jsonb,$7::jsonb,$8::jsonb,$9::jsonb,$10::jsonb,$11,$11,$12)"
            # a restore revives a deleted workbook: a second WorkbookCreated of the same id
            " ON CONFLICT (id) DO UPDATE SET name = excluded.name, namespace = excluded.namespace,"
            " labels = excluded.labels, metadata = excluded.metadata, settings = excluded.settings,"
            " actions = excluded.actions, treatments = excluded.treatments, created_at = excluded.created_at,"
            " updated_at = excluded.updated_at, deleted_at = NULL, position = excluded.position",
            e.workbook_id,
            e.space_id,
            e.environment_id,
            e.name,
            e.namespace,
            js(e.labels),
            js(e.metadata),
            js(e.settings),
            js(e.actions),
            js(e.treatments),
            at,
            seq,
        )

    async def _sheet(  # noqa: PLR0917  (the sheet, where it goes and whether a revival places it)
        self, conn: Conn, workbook_id: str, stored: StoredEvent, sheet: SheetSpec, ordinal: int, placed: bool = False
    ) -> None:
        envelope = stored.envelope
        await conn.execute(
            "INSERT INTO sheet (id, workbook_id, space_id, environment_id, ordinal, name, slug, config,"
            " created_at, updated_at, position) VALUES ($1,$2,$3,$4,$5,$6,$7,$8::jsonb,$9,$9,$10)"
            # a restore re-adds a removed sheet with its id: it keeps its place unless its workbook
            # is revived (then the revival's order counts, as `domain.as_of` folds it)
            " ON CONFLICT (id) DO UPDATE SET name = excluded.name, slug = excluded.slug, config = excluded.config,"
            " ordinal = CASE WHEN $11 THEN excluded.ordinal ELSE sheet.ordinal END, locked_by = NULL,"
            " locked_at = NULL, created_at = excluded.created_at, updated_at = excluded.updated_at,"
            " deleted_at = NULL, position = excluded.position",
            sheet.sheet_id,
            workbook_id,
            envelope.space_id or "",
            envelope.environment_id,
            ordinal,
            sheet.config.name,
            sheet.slug,
            js(sheet.config),
            envelope.occurred_at,
            stored.seq,
            placed,
        )

    async def _set_sheet(  # noqa: PLR0917  (the row, the change and its stamp)
        self, conn: Conn, sheet_id: str, assignment: str, value: object, at: datetime, seq: int
    ) -> None:
        await conn.execute(
            f"UPDATE sheet SET {assignment}, updated_at = $3, position = $4 WHERE id = $1", sheet_id, value, at, seq
        )

    async def _touch(self, conn: Conn, workbook_id: str, at: datetime, seq: int) -> None:
        await conn.execute("UPDATE workbook SET updated_at = $2, position = $3 WHERE id = $1", workbook_id, at, seq)
