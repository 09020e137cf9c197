"""A projection every non-space service runs: its own directory of spaces.

Services never read each other's tables; each folds the space events it needs into its own
schema, so it can refuse work in an unknown, archived or deleted space without a round trip.
"""

from __future__ import annotations

from pathlib import Path

from spaceport.contracts.space import SpaceArchived, SpaceCreated, SpaceDeleted, SpaceUnarchived, SpaceUpdated
from spaceport.events import StoredEvent
from spaceport.readmodel import Conn

MIGRATIONS = Path(__file__).parent / "migrations" / "known_spaces"


class KnownSpaces:
    """Projection named after the service that runs it (the schema is the service's)."""

    migrations: Path | None = MIGRATIONS

    def __init__(self, service: str, prefix: str = "evt") -> None:
        self.name = service
        self.filter_subjects = [f"{prefix}.*.space.>"]

    async def apply(self, conn: Conn, stored: StoredEvent) -> None:
        match stored.event:
            case SpaceCreated() as e:
                await conn.execute(
                    "INSERT INTO known_space (id, environment_id, name, created_at, position)"
                    " VALUES ($1, $2, $3, $4, $5) ON CONFLICT (id) DO NOTHING",
                    e.space_id,
                    e.environment_id,
                    e.name,
                    stored.envelope.occurred_at,
                    stored.seq,
                )
            case SpaceUpdated(name=str() as name) as e:
                await self._set(conn, e.space_id, "name = $2", name, stored.seq)
            case SpaceArchived() as e:
                await self._set(conn, e.space_id, "archived = $2", True, stored.seq)
            case SpaceUnarchived() as e:
                await self._set(conn, e.space_id, "archived = $2", False, stored.seq)
            case SpaceDeleted() as e:
                await self._set(conn, e.space_id, "deleted = $2", True, stored.seq)

    async def _set(self, conn: Conn, space_id: str, assignment: str, value: object, seq: int) -> None:
        await conn.execute(f"UPDATE known_space SET {assignment}, position = $3 WHERE id = $1", space_id, value, seq)
