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
from spaceport.contracts.file import EXTRACTOR_ACTOR
from spaceport.readmodel import Conn

_decoder = msgspec.json.Decoder(FlatfileEvent)
CONTEXT = "event.body->'context'"  # a listed row's context (the subqueries of `visible` name theirs `c`)
COLUMNS = "body, acknowledged_at, acknowledged_by, position, environment_id, space_id"
SELECT = f"SELECT {COLUMNS} FROM feed.event"
OWN = "own"  # the CTE of a limited guest's own source workbooks (`own`) in the stream's reads


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
    slot: int = 0  # the stream's order (`after`); 0 where no stream reads it


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
        slot=record.get("slot") or record["position"],
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


def own(limit: Limit, add: Callable[[Any], str]) -> str:
    """SQL rows (workbook_id, link, since, live): the source workbooks the built-in extractor made
    from the files the limited guest uploaded in its space, as the feed's own rows tell it (the file
    service's `ListUploadedWorkbooks`, which the gateway's other routes ask). Per file uploaded by
    the guest (its `file:created` is the guest's), the workbook of the last `file:updated` by
    `EXTRACTOR_ACTOR` that names one (a PATCH naming a workbook never counts); `link` is that
    event's position, `since` the upload's (the workbook's events lie between the two), `live`
    whether the file has no `file:deleted` (a deleted file's workbook is no longer the guest's,
    but its link stays where it was: an event's slot in the stream never changes)."""
    if limit.space_id is None or not limit.actor:
        return "SELECT NULL::text AS workbook_id, 0::bigint AS link, 0::bigint AS since, false AS live WHERE false"
    space, actor, extractor = add(limit.space_id), add(limit.actor), add(EXTRACTOR_ACTOR)
    file_of = "u.body->'context'->>'fileId'"
    uploaded = (
        f"SELECT min(c.position) FROM feed.event c WHERE c.topic = 'file:created' AND c.space_id = {space}"
        f" AND c.body->'context'->>'fileId' = {file_of} AND c.body->'context'->>'actorId' = {actor}"
    )
    deleted = (
        f"SELECT 1 FROM feed.event d WHERE d.topic = 'file:deleted' AND d.space_id = {space}"
        f" AND d.body->'context'->>'fileId' = {file_of}"
    )
    links = (
        f"SELECT DISTINCT ON ({file_of}) u.body->'payload'->>'workbookId' AS workbook_id, u.position AS link,"
        f" ({uploaded}) AS since, NOT EXISTS ({deleted}) AS live"
        f" FROM feed.event u WHERE u.topic = 'file:updated' AND u.space_id = {space}"
        f" AND u.body->'context'->>'actorId' = {extractor} AND u.body->'payload'->>'workbookId' IS NOT NULL"
        f" ORDER BY {file_of}, u.position DESC"
    )
    return f"SELECT * FROM ({links}) l WHERE l.since IS NOT NULL"


def visible(context: str, limit: Limit, add: Callable[[Any], str], owned: str | None = None) -> str:
    """SQL: may a guest limited to some workbooks see an event whose context is `context` (a json
    expression)? Only if every workbook, sheet and file the context names is one it sees:

    - `workbookId` one of its workbooks (its grant's, or its own uploads' source workbooks: `own`,
      or the relation `owned` when given, such as a CTE of it); a `sheetId` without one, a sheet
      of such a workbook;
    - `fileId` a file it may read (file service `_sees`): its own upload (the file's `file:created`
      is its actor's) or a file whose workbook (the last `workbookId` a `file:updated` set) it sees.

    A context naming none of them (space, document, secret events) is the space's: visible."""
    workbooks, actor = add(limit.workbook_ids), add(limit.actor or "")
    relation = owned or f"({own(limit, add)})"
    seen = f"({workbooks}::text[] || ARRAY(SELECT o.workbook_id FROM {relation} o WHERE o.live))"
    workbook, sheet, file = (f"({context}->>'{key}')" for key in ("workbookId", "sheetId", "fileId"))
    in_space = f" AND c.space_id = {add(limit.space_id)}" if limit.space_id is not None else ""
    sheet_of = (
        f"SELECT 1 FROM feed.lookup s WHERE s.kind = 'sheet' AND s.key = {sheet}"
        f" AND s.info::jsonb->>'workbook_id' = ANY({seen})"
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
        f"({workbook} IS NULL OR {workbook} = ANY({seen}))"
        f" AND ({sheet} IS NULL OR {workbook} IS NOT NULL OR EXISTS ({sheet_of}))"
        f" AND ({file} IS NULL OR EXISTS ({uploaded}) OR ({linked}) = ANY({seen}))"
    )


def _late(limit: Limit, add: Callable[[Any], str]) -> str:
    """SQL (over a `feed.event` row, the CTE `own` in scope): the rows of `own` that make the row
    late in a limited guest's stream: it is about one of the guest's own source workbooks (not one
    of its grant, which it saw all along), and the feed holds it before the extractor's link."""
    workbook_of = (
        f"coalesce({CONTEXT}->>'workbookId', (SELECT s.info::jsonb->>'workbook_id' FROM feed.lookup s"
        f" WHERE s.kind = 'sheet' AND s.key = {CONTEXT}->>'sheetId'))"
    )
    return (
        f"FROM {OWN} o WHERE o.workbook_id = {workbook_of} AND o.link > event.position"
        f" AND o.workbook_id <> ALL({add(limit.workbook_ids)}::text[])"
    )


def slot(limit: Limit, add: Callable[[Any], str]) -> str:
    """SQL (over a `feed.event` row, the CTE `own` in scope): the row's slot in the limited
    guest's stream: the link's position for a late row (`_late`), else the row's position."""
    return f"greatest(event.position, coalesce((SELECT max(o.link) {_late(limit, add)}), 0))"


def where(f: EventFilter, params: list[Any], owned: str | None = None) -> str:
    """The WHERE clause of `f`; its values are appended to `params` (`owned`: see `visible`)."""
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
        clauses.append(visible(CONTEXT, Limit.of(f), add, owned))
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


async def after(conn: Conn, f: EventFilter, position: int, limit: int, at: int | None = None) -> list[FoundEvent]:
    """The events matching `f` after the cursor (`position`, slot `at`: None is `position`), in
    the stream's (slot, position) order: feed order, but for a limited guest's late events
    (`slot`), which come just before the link that made them visible."""
    params: list[Any] = []
    if f.workbook_ids is None:
        clause = where(f, params)
        sql = f"{SELECT} WHERE {clause} AND position > ${len(params) + 1} ORDER BY position LIMIT ${len(params) + 2}"
        return [_found(r) for r in await conn.fetch(sql, *params, position, limit)]
    add = adder(params)
    owned = own(Limit.of(f), add)
    clause, late, order = where(f, params, OWN), _late(Limit.of(f), add), slot(Limit.of(f), add)
    first, then, most = add(position if at is None else at), add(position), add(limit)
    # In feed order from the cursor's slot (an index range), those not late; and apart, the late
    # ones of the workbooks linked at or after it, which lie between their file's upload and the link.
    linked = f"FROM {OWN} o WHERE o.link >= {first} AND o.workbook_id <> ALL({add(f.workbook_ids)}::text[])"
    on_time = (
        f"SELECT {COLUMNS}, position AS slot FROM feed.event WHERE {clause} AND position >= {first}"
        f" AND (position, position) > ({first}, {then}) AND NOT EXISTS (SELECT 1 {late})"
        f" ORDER BY position LIMIT {most}"
    )
    behind = (
        f"SELECT {COLUMNS}, {order} AS slot FROM feed.event WHERE {clause}"
        f" AND position >= (SELECT min(o.since) {linked}) AND position < (SELECT max(o.link) {linked})"
        f" AND EXISTS (SELECT 1 {late}) AND ({order}, position) > ({first}, {then}) ORDER BY slot, position"
        f" LIMIT {most}"
    )
    sql = (
        f"WITH {OWN} AS MATERIALIZED ({owned}) SELECT * FROM (({on_time}) UNION ALL ({behind})) e"
        f" WHERE (e.slot, e.position) > ({first}, {then}) ORDER BY e.slot, e.position LIMIT {most}"
    )
    return [_found(r) for r in await conn.fetch(sql, *params)]


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


async def position_of(conn: Conn, event_id: str, f: EventFilter | None = None) -> tuple[int, int, str] | None:
    """(position, slot, environment) of an event; its slot in the stream of `f` (`after`)."""
    if f is None or f.workbook_ids is None:
        record = await conn.fetchrow("SELECT position, environment_id FROM feed.event WHERE id = $1", event_id)
        return None if record is None else (record["position"], record["position"], record["environment_id"])
    params: list[Any] = [event_id]
    add = adder(params)
    owned, order = own(Limit.of(f), add), slot(Limit.of(f), add)
    columns = f"position, {order} AS slot, environment_id"
    sql = f"WITH {OWN} AS MATERIALIZED ({owned}) SELECT {columns} FROM feed.event WHERE id = $1"
    record = await conn.fetchrow(sql, *params)
    return None if record is None else (record["position"], record["slot"], record["environment_id"])


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
