"""The catalog's part for views (table `saved_view`, migration 002): `WorkbookCatalog.apply` hands
view events here, in the same transaction as its checkpoint."""

from __future__ import annotations

from spaceport.contracts.view import ViewCreated, ViewDeleted, ViewUpdated
from spaceport.events import StoredEvent
from spaceport.readmodel import Conn
from spaceport.readmodel import to_jsonb as js

VIEW_EVENTS = (ViewCreated, ViewUpdated, ViewDeleted)


def view_filter(prefix: str) -> str:
    return f"{prefix}.*.view.>"


async def apply_view(conn: Conn, stored: StoredEvent) -> None:
    at, seq = stored.envelope.occurred_at, stored.seq
    match stored.event:
        case ViewCreated() as e:
            await conn.execute(
                "INSERT INTO saved_view (id, sheet_id, workbook_id, space_id, environment_id, name, config,"
                " created_by, created_at, updated_at, position) VALUES ($1,$2,$3,$4,$5,$6,$7::jsonb,$8,$9,$9,$10)",
                e.view_id,
                e.sheet_id,
                e.workbook_id,
                e.space_id,
                e.environment_id,
                e.name,
                js(e.config),
                e.created_by,
                at,
                seq,
            )
        case ViewUpdated() as e:
            await conn.execute(
                "UPDATE saved_view SET name = coalesce($2, name), config = coalesce($3::jsonb, config),"
                " updated_at = $4, position = $5 WHERE id = $1",
                e.view_id,
                e.name,
                None if e.config is None else js(e.config),
                at,
                seq,
            )
        case ViewDeleted() as e:
            await conn.execute("UPDATE saved_view SET deleted_at = $2, position = $3 WHERE id = $1", e.view_id, at, seq)
