"""SQL reads of saved views (table `saved_view` of the catalog schema).

A view is read only while its sheet and workbook are live, so a deleted sheet's views are gone
from gets and lists without the projection touching them.
"""

from __future__ import annotations

import asyncpg
import msgspec

from spaceport.contracts.view import ViewConfig, ViewView
from spaceport.readmodel import quote_ident
from workbook_service.application.views import ViewPlace
from workbook_service.projections.catalog import SCHEMA
from workbook_service.projections.queries import CatalogQueries, Pool

_config = msgspec.json.Decoder(ViewConfig)


class ViewCatalogQueries(CatalogQueries):
    """`CatalogQueries` plus what views need: implements `ViewPlaces` and `ViewReads` on Postgres."""

    def __init__(self, pool: Pool, schema: str = SCHEMA) -> None:
        super().__init__(pool, schema)
        catalog = quote_ident(schema)
        self._live_views = (
            f"FROM {catalog}.saved_view v JOIN {catalog}.sheet s ON s.id = v.sheet_id"
            f" JOIN {catalog}.workbook w ON w.id = s.workbook_id"
            " WHERE v.deleted_at IS NULL AND s.deleted_at IS NULL AND w.deleted_at IS NULL"
        )
        self._view_place = f"SELECT environment_id, space_id, workbook_id, sheet_id FROM {catalog}.saved_view"

    async def place_of_view(self, view_id: str) -> ViewPlace | None:
        async with self._pool().acquire() as conn:
            row = await conn.fetchrow(f"{self._view_place} WHERE id = $1 AND deleted_at IS NULL", view_id)
        return None if row is None else ViewPlace(**dict(row))

    async def view(self, view_id: str) -> ViewView | None:
        async with self._pool().acquire() as conn:
            row = await conn.fetchrow(f"SELECT v.* {self._live_views} AND v.id = $1", view_id)
        return None if row is None else view_view(row)

    async def views(self, sheet_id: str, page_size: int, page_number: int) -> tuple[list[ViewView], int]:
        offset = (page_number - 1) * page_size
        async with self._pool().acquire() as conn, conn.transaction(isolation="repeatable_read", readonly=True):
            total = await conn.fetchval(f"SELECT count(*) {self._live_views} AND v.sheet_id = $1", sheet_id)
            rows = await conn.fetch(
                f"SELECT v.* {self._live_views} AND v.sheet_id = $1 ORDER BY v.created_at, v.id LIMIT $2 OFFSET $3",
                sheet_id,
                page_size,
                offset,
            )
        return [view_view(r) for r in rows], int(total)


def view_view(row: asyncpg.Record) -> ViewView:
    return ViewView(
        id=row["id"],
        sheet_id=row["sheet_id"],
        name=row["name"],
        config=_config.decode(row["config"]),
        created_by=row["created_by"],
        workbook_id=row["workbook_id"],
        space_id=row["space_id"],
        environment_id=row["environment_id"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
    )
