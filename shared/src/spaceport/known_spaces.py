"""A projection every non-space service runs: its own directory of spaces.

Services never read each other's tables; each folds the space events it needs into its own
schema, so it can refuse work in an unknown, archived or deleted space without a round trip.
Here too what they share about it: the row as a `SpaceFact`, the query that reads it, where a
space's own events live (whose version says how far the directory must have read), and the same
fold in memory for fakes.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from pathlib import Path

import msgspec

from spaceport.contracts.space import SpaceArchived, SpaceCreated, SpaceDeleted, SpaceUnarchived, SpaceUpdated
from spaceport.events import Event, StoredEvent
from spaceport.ports import AggregateRef, EventStorePort
from spaceport.readmodel import Conn

MIGRATIONS = Path(__file__).parent / "migrations" / "known_spaces"


class SpaceFact(msgspec.Struct, frozen=True, kw_only=True):
    """What a service knows of a space (its known_space row)."""

    space_id: str
    environment_id: str
    archived: bool = False
    deleted: bool = False


def space_ref(space_id: str, environment_id: str = "") -> AggregateRef:
    """Where the space's own events live (their subjects are scoped by the space id alone)."""
    return AggregateRef(environment_id=environment_id, space_id=space_id, aggregate="space", aggregate_id=space_id)


async def space_fact(conn: Conn, space_id: str) -> SpaceFact | None:
    """The space's row in the service's directory (the connection's search_path is its schema)."""
    row = await conn.fetchrow(
        "SELECT id AS space_id, environment_id, archived, deleted FROM known_space WHERE id = $1", space_id
    )
    return None if row is None else SpaceFact(**dict(row))


def fold(facts: dict[str, SpaceFact], event: Event | None, environment_id: str | None = None) -> None:
    """`KnownSpaces.apply` in memory (fakes): a row per created space; flags change rows it has.
    With the event's `environment_id`, a deleted space becomes a tombstone fact as in SQL (its
    earlier events may be erased, spaceport.crypto)."""
    match event:
        case SpaceCreated() as e:
            facts.setdefault(e.space_id, SpaceFact(space_id=e.space_id, environment_id=e.environment_id))
        case SpaceArchived(space_id=space_id) | SpaceUnarchived(space_id=space_id) if space_id in facts:
            facts[space_id] = msgspec.structs.replace(facts[space_id], archived=isinstance(event, SpaceArchived))
        case SpaceDeleted(space_id=space_id) if space_id in facts:
            facts[space_id] = SpaceFact(space_id=space_id, environment_id=facts[space_id].environment_id, deleted=True)
        case SpaceDeleted(space_id=space_id) if environment_id is not None:
            facts[space_id] = SpaceFact(space_id=space_id, environment_id=environment_id, deleted=True)


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
                # Erasure: what is left of a deleted space is its ids, the same row a replay
                # makes once the space's other events are erased (spaceport.crypto).
                await conn.execute(
                    "INSERT INTO known_space (id, environment_id, name, archived, deleted, created_at, position)"
                    " VALUES ($1, $2, '', false, true, $3, $4) ON CONFLICT (id) DO UPDATE SET name = '',"
                    " archived = false, deleted = true, created_at = $3, position = $4",
                    e.space_id,
                    stored.envelope.environment_id,
                    stored.envelope.occurred_at,
                    stored.seq,
                )

    async def _set(self, conn: Conn, space_id: str, assignment: str, value: object, seq: int) -> None:
        await conn.execute(f"UPDATE known_space SET {assignment}, position = $3 WHERE id = $1", space_id, value, seq)


SPACE_TOKEN = re.compile(r"^[A-Za-z0-9_\-]{1,255}$")  # ids become subject tokens


async def lookup(
    space_id: str,
    fact: Callable[[str], Awaitable[SpaceFact | None]],
    store: EventStorePort,
    caught_up: Callable[[int], Awaitable[object]],
) -> SpaceFact | None:
    """The space as a service's directory has it (`fact`); a miss waits until the directory has
    read the space's own events, so a space created a moment ago is found, and an unknown one is None."""
    if not SPACE_TOKEN.match(space_id):
        return None
    found = await fact(space_id)
    if found is not None:
        return found
    loaded = await store.load(space_ref(space_id))
    if loaded.version == 0:
        return None
    await caught_up(loaded.version)
    return await fact(space_id)
