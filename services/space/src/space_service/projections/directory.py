"""The space service's read model: environments, API keys (hashed) and spaces."""

from __future__ import annotations

from pathlib import Path

import msgspec

from spaceport.contracts.space import (
    ApiKeyIssued,
    EnvironmentCreated,
    SpaceArchived,
    SpaceCreated,
    SpaceDeleted,
    SpaceUnarchived,
    SpaceUpdated,
)
from spaceport.events import StoredEvent
from spaceport.readmodel import Conn

_json = msgspec.json.Encoder()


def js(value: object) -> str:
    return _json.encode(value).decode()


class SpaceDirectory:
    """Projection `space`: one schema of the same name."""

    migrations = Path(__file__).parent / "migrations"

    def __init__(self, prefix: str = "evt", name: str = "space") -> None:
        self.name = name
        self.filter_subjects = [f"{prefix}.*.environment.>", f"{prefix}.*.space.>"]

    async def apply(self, conn: Conn, stored: StoredEvent) -> None:
        at = stored.envelope.occurred_at
        match stored.event:
            case EnvironmentCreated() as e:
                await conn.execute(
                    "INSERT INTO environment VALUES ($1,$2,$3,$4::jsonb,$5::jsonb,$6) ON CONFLICT DO NOTHING",
                    e.environment_id,
                    e.name,
                    e.is_prod,
                    js(e.guest_authentication),
                    js(e.metadata),
                    at,
                )
            case ApiKeyIssued() as e:
                await conn.execute(
                    "INSERT INTO api_key (key_hash, key_id, environment_id, kind, hint, created_at) "
                    "VALUES ($1,$2,$3,$4,$5,$6) ON CONFLICT DO NOTHING",
                    e.key_hash,
                    e.key_id,
                    stored.envelope.environment_id,
                    e.kind,
                    e.hint,
                    at,
                )
            case SpaceCreated() as e:
                await conn.execute(
                    "INSERT INTO space (id, environment_id, name, namespace, labels, metadata, settings,"
                    " auto_configure, created_by, created_at, updated_at, last_activity_at, position)"
                    " VALUES ($1,$2,$3,$4,$5::jsonb,$6::jsonb,$7::jsonb,$8,$9,$10,$10,$10,$11)",
                    e.space_id,
                    e.environment_id,
                    e.name,
                    e.namespace,
                    js(e.labels),
                    js(e.metadata),
                    js(e.settings),
                    e.auto_configure,
                    e.created_by,
                    at,
                    stored.seq,
                )
            case SpaceUpdated() as e:
                await conn.execute(
                    "UPDATE space SET name = coalesce($2, name), namespace = coalesce($3, namespace),"
                    " labels = coalesce($4::jsonb, labels), metadata = coalesce($5::jsonb, metadata),"
                    " settings = coalesce($6::jsonb, settings), updated_at = $7, last_activity_at = $7,"
                    " position = $8 WHERE id = $1",
                    e.space_id,
                    e.name,
                    e.namespace,
                    _opt(e.labels),
                    _opt(e.metadata),
                    _opt(e.settings),
                    at,
                    stored.seq,
                )
            case SpaceArchived() as e:
                await self._stamp(conn, e.space_id, "archived_at = $2", at, stored.seq)
            case SpaceUnarchived() as e:
                await self._stamp(conn, e.space_id, "archived_at = NULL, updated_at = $2", at, stored.seq)
            case SpaceDeleted() as e:
                await self._stamp(conn, e.space_id, "deleted_at = $2", at, stored.seq)

    async def _stamp(self, conn: Conn, space_id: str, assignment: str, at: object, seq: int) -> None:
        await conn.execute(f"UPDATE space SET {assignment}, position = $3 WHERE id = $1", space_id, at, seq)


def _opt(value: object | None) -> str | None:
    return None if value is None else js(value)
