"""Reading the feed (`feed.event`): lists, one event, positions and the events after a cursor.

The job service's pool reads schema `job` by default, so every statement names `feed.`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import asyncpg
import msgspec

from spaceport.contracts import feed
from spaceport.contracts.feed import EventFilter, FlatfileEvent
from spaceport.readmodel import Conn

_decoder = msgspec.json.Decoder(FlatfileEvent)
CONTEXT = "event.body->'context'"  # a listed row's context (the subqueries of `visible` name theirs `c`)
SELECT = "SELECT body, acknowledged_at, acknowledged_by, position, environment_id, space_id FROM feed.event"


class Limit(msgspec.Struct, frozen=True, kw_only=True):
    """A guest limited to some workbooks: what it sees of the feed (`visible`)."""

    workbook_ids: list[str]
    actor: str | None = None  # the guest: its own uploads are its
    space_id: str | None = None  # its space: the facts about a file come from there

    @classmethod
    def of(cls, f: EventFilter) -> Limit:
        return cls(workbook_ids=f.workbook_ids or [], actor=f.actor, space_id=f.space_id)


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


def adder(params: list[Any]) -> Callable[[Any], str]:
    """Appends a value to `params`; returns its placeholder (`$n`)."""

    def add(value: Any) -> str:
        params.append(value)
        return f"${len(params)}"

    return add


def visible(context: str, limit: Limit, add: Callable[[Any], str]) -> str:
    """SQL: may a guest limited to some workbooks see an event whose context is `context` (a json
    expression)? Only if every workbook, sheet and file the context names is one it sees:

    - `workbookId` one of its workbooks; a `sheetId` without one, a sheet of such a workbook;
    - `fileId` a file it may read (file service `_sees`): its own upload (the file's `file:created`
      is its actor's) or a file whose workbook (the last `workbookId` a `file:updated` set) it sees.

    A context naming none of them (space, document, secret events) is the space's: visible."""
    workbooks, actor = add(limit.workbook_ids), add(limit.actor or "")
    workbook, sheet, file = (f"({context}->>'{key}')" for key in ("workbookId", "sheetId", "fileId"))
    in_space = f" AND c.space_id = {add(limit.space_id)}" if limit.space_id is not None else ""
    sheet_of = (
        f"SELECT 1 FROM feed.lookup s WHERE s.kind = 'sheet' AND s.key = {sheet}"
        f" AND s.info::jsonb->>'workbook_id' = ANY({workbooks})"
    )
    uploaded = (
        f"SELECT 1 FROM feed.event c WHERE c.topic = 'file:created' AND c.body->'context'->>'fileId' = {file}"
        f" AND c.body->'context'->>'actorId' = {actor}{in_space}"
    )
    linked = (
        f"SELECT c.body->'payload'->>'workbookId' FROM feed.event c WHERE c.topic = 'file:updated'"
        f" AND c.body->'context'->>'fileId' = {file} AND c.body->'payload'->>'workbookId' IS NOT NULL{in_space}"
        " ORDER BY c.position DESC LIMIT 1"
    )
    return (
        f"({workbook} IS NULL OR {workbook} = ANY({workbooks}))"
        f" AND ({sheet} IS NULL OR {workbook} IS NOT NULL OR EXISTS ({sheet_of}))"
        f" AND ({file} IS NULL OR EXISTS ({uploaded}) OR ({linked}) = ANY({workbooks}))"
    )


def where(f: EventFilter, params: list[Any]) -> str:
    """The WHERE clause of `f`; its values are appended to `params`."""
    add = adder(params)
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
        clauses.append(visible(CONTEXT, Limit.of(f), add))
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


async def get(conn: Conn, event_id: str, limit: Limit | None = None) -> FoundEvent | None:
    """The event; with `limit`, only if that limited guest may see it."""
    params: list[Any] = [event_id]
    clause = "" if limit is None else f" AND {visible(CONTEXT, limit, adder(params))}"
    record = await conn.fetchrow(f"{SELECT} WHERE id = $1{clause}", *params)
    return None if record is None else _found(record)


async def sees_context(conn: Conn, context: dict[str, Any], limit: Limit) -> bool:
    """May the limited guest see an event of this context (one it means to publish)?"""
    params: list[Any] = [msgspec.json.encode(context).decode()]
    return bool(await conn.fetchval(f"SELECT {visible('$1::json', limit, adder(params))}", *params))


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
