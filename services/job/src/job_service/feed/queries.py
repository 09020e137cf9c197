"""Reading the feed (`feed.event`): lists, one event, positions and the events after a cursor.

The job service's pool reads schema `job` by default, so every statement names `feed.`.
"""

from __future__ import annotations

from typing import Any

import asyncpg
import msgspec

from spaceport.contracts import feed
from spaceport.contracts.feed import EventFilter, FlatfileEvent
from spaceport.readmodel import Conn

_decoder = msgspec.json.Decoder(FlatfileEvent)
SELECT = "SELECT body, acknowledged_at, acknowledged_by, position, environment_id, space_id FROM feed.event"


class FoundEvent(msgspec.Struct, frozen=True, kw_only=True):
    event: FlatfileEvent
    position: int
    environment_id: str
    space_id: str | None


def _found(record: asyncpg.Record) -> FoundEvent:
    event = _decoder.decode(record["body"])
    if record["acknowledged_at"] is not None:
        event = msgspec.structs.replace(
            event, acknowledged_at=record["acknowledged_at"], acknowledged_by=record["acknowledged_by"]
        )
    return FoundEvent(
        event=event,
        position=record["position"],
        environment_id=record["environment_id"],
        space_id=record["space_id"],
    )


def like(glob: str) -> str:
    """A topic glob (`job:*`, `*:created`, `**`) as a LIKE pattern."""
    escaped = glob.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return escaped.replace("**", "*").replace("*", "%")


def where(f: EventFilter, params: list[Any]) -> str:
    """The WHERE clause of `f`; its values are appended to `params`."""

    def add(value: Any) -> str:
        params.append(value)
        return f"${len(params)}"

    clauses = [f"environment_id = {add(f.environment_id)}"]
    if f.space_id is not None:
        clauses.append(f"space_id = {add(f.space_id)}")
    if f.domain is not None:
        clauses.append(f"domain = {add(f.domain)}")
    if f.topic is not None and "*" in f.topic:
        clauses.append(f"topic LIKE {add(like(f.topic))}")
    elif f.topic is not None:
        clauses.append(f"topic = {add(f.topic)}")
    if not feed.names_extension(f.topic):  # Spaceport's own topics only when asked for by name
        clauses.append(f"topic <> ALL({add(list(feed.EXTENSION_TOPICS))})")
    if f.workbook_ids is not None:
        in_workbook = "body->'context'->>'workbookId'"
        clauses.append(f"({in_workbook} IS NULL OR {in_workbook} = ANY({add(f.workbook_ids)}))")
    if f.since is not None:
        clauses.append(f"created_at >= {add(f.since)}")
    if not f.include_acknowledged:
        clauses.append("acknowledged_at IS NULL")
    return " AND ".join(clauses)


async def list_events(conn: Conn, f: EventFilter, page_size: int, page_number: int) -> list[FlatfileEvent]:
    params: list[Any] = []
    clause = where(f, params)
    sql = f"{SELECT} WHERE {clause} ORDER BY position LIMIT ${len(params) + 1} OFFSET ${len(params) + 2}"
    rows = await conn.fetch(sql, *params, page_size, (page_number - 1) * page_size)
    return [_found(r).event for r in rows]


async def after(conn: Conn, f: EventFilter, position: int, limit: int) -> list[FoundEvent]:
    """The events matching `f` after `position`, in feed order."""
    params: list[Any] = []
    clause = where(f, params)
    sql = f"{SELECT} WHERE {clause} AND position > ${len(params) + 1} ORDER BY position LIMIT ${len(params) + 2}"
    return [_found(r) for r in await conn.fetch(sql, *params, position, limit)]


async def get(conn: Conn, event_id: str) -> FoundEvent | None:
    record = await conn.fetchrow(f"{SELECT} WHERE id = $1", event_id)
    return None if record is None else _found(record)


async def position_of(conn: Conn, event_id: str) -> tuple[int, str] | None:
    """(position, environment) of an event."""
    record = await conn.fetchrow("SELECT position, environment_id FROM feed.event WHERE id = $1", event_id)
    return None if record is None else (record["position"], record["environment_id"])


async def newest(conn: Conn) -> tuple[int, str | None]:
    """The newest event's position and id ((0, None) when the feed is empty): "from now"."""
    record = await conn.fetchrow("SELECT position, id FROM feed.event ORDER BY position DESC LIMIT 1")
    return (0, None) if record is None else (record["position"], record["id"])


async def space_environment(conn: Conn, space_id: str) -> str | None:
    """The environment of a space the feed has seen (custom events name their space)."""
    info = await conn.fetchval("SELECT info FROM feed.lookup WHERE kind = 'space' AND key = $1", space_id)
    if info is None:
        return None
    environment: str = msgspec.json.decode(info)["environment_id"]
    return environment
