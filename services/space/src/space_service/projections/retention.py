"""Data retention in the `space` read model: the policies (table `data_retention_policy`,
applied by `SpaceDirectory`) and the sweeper's question, which spaces are past their policy.

A space's clock for `lastActivity` is its `last_activity_at` (its space, document, workbook
and file events), for `sinceCreated` its `created_at`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from space_service.application.retention import Due
from space_service.projections.queries import Pool
from spaceport.contracts.space import (
    DataRetentionPolicyCreated,
    DataRetentionPolicyDeleted,
    DataRetentionPolicyUpdated,
    DataRetentionPolicyView,
)
from spaceport.events import StoredEvent
from spaceport.readmodel import Conn

POLICY_EVENTS = (DataRetentionPolicyCreated, DataRetentionPolicyUpdated, DataRetentionPolicyDeleted)
COLUMNS = "id, environment_id, type, period, created_at, updated_at"
DUE = (
    "SELECT s.id AS space_id, s.environment_id, p.id AS policy_id, p.type AS policy_type, p.period"
    " FROM data_retention_policy p"
    " JOIN environment e ON e.id = p.environment_id AND e.deleted_at IS NULL"
    " JOIN space s ON s.environment_id = p.environment_id AND s.deleted_at IS NULL"
    " WHERE CASE p.type WHEN 'sinceCreated' THEN s.created_at"
    " ELSE COALESCE(s.last_activity_at, s.created_at) END < $1::timestamptz - make_interval(days => p.period)"
    " ORDER BY s.created_at, s.id, p.type LIMIT $2"
)


async def apply(conn: Conn, stored: StoredEvent, at: datetime) -> None:
    match stored.event:
        case DataRetentionPolicyCreated() as e:
            await conn.execute(
                f"INSERT INTO data_retention_policy ({COLUMNS}) VALUES ($1,$2,$3,$4,$5,$5) ON CONFLICT DO NOTHING",
                e.policy_id,
                e.environment_id,
                e.policy_type,
                e.period,
                at,
            )
        case DataRetentionPolicyUpdated() as e:
            await conn.execute(
                "UPDATE data_retention_policy SET type = $2, period = $3, updated_at = $4 WHERE id = $1",
                e.policy_id,
                e.policy_type,
                e.period,
                at,
            )
        case DataRetentionPolicyDeleted() as e:
            await conn.execute("DELETE FROM data_retention_policy WHERE id = $1", e.policy_id)


def _view(row: Any) -> DataRetentionPolicyView:
    return DataRetentionPolicyView(
        id=row["id"],
        environment_id=row["environment_id"],
        type=row["type"],
        period=row["period"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
    )


class RetentionQueries:
    """The `RetentionReads` port on Postgres."""

    def __init__(self, pool: Pool) -> None:
        self._pool = pool

    async def policy(self, environment_id: str, policy_id: str) -> DataRetentionPolicyView | None:
        sql = f"SELECT {COLUMNS} FROM data_retention_policy WHERE id = $1 AND environment_id = $2"
        row = await self._pool().fetchrow(sql, policy_id, environment_id)
        return None if row is None else _view(row)

    async def policies(self, environment_id: str) -> list[DataRetentionPolicyView]:
        sql = f"SELECT {COLUMNS} FROM data_retention_policy WHERE environment_id = $1 ORDER BY created_at, id"
        return [_view(row) for row in await self._pool().fetch(sql, environment_id)]

    async def due(self, now: datetime, limit: int) -> list[Due]:
        found = await self._pool().fetch(DUE, now, limit)
        # A space under two policies (both types) is due once: the first that applies.
        first: dict[str, Any] = {}
        for row in found:
            first.setdefault(row["space_id"], row)
        return [Due(**dict(row)) for row in first.values()]
