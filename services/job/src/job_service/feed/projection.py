"""The feed projection: every domain event (`<prefix>.>`) into Flatfile events (`feed.event`).

Per batch: load the facts the batch's contexts need (`feed.lookup`), translate each event in
order (`translate`), COPY the new rows, apply acknowledgements, write the changed facts back
and `pg_notify` the newest position; all in the runner's transaction with the checkpoint, so
the notification is delivered only once the rows are visible. Statements are not
schema-qualified: the runner sets the search_path (the live schema, or a rebuild's shadow).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from job_service.feed.emit import POSITION_SLOTS
from job_service.feed.lookups import Info, Lookups, decode
from job_service.feed.translate import translate
from spaceport.contracts.feed import NOTIFY_CHANNEL, EventAcknowledged, FlatfileEvent
from spaceport.contracts.space import SpaceDeleted
from spaceport.events import StoredEvent, encode
from spaceport.readmodel import Conn

NAME = "feed"
MIGRATIONS = Path(__file__).parent / "migrations"
COLUMNS = ("id", "position", "environment_id", "space_id", "domain", "topic", "body", "created_at")
Row = tuple[str, int, str, str | None, str, str, str, Any]


def row(position: int, event: FlatfileEvent) -> Row:
    context = event.context
    body = encode(event).decode()
    return (
        event.id,
        position,
        context.environment_id,
        context.space_id,
        event.domain,
        event.topic,
        body,
        event.created_at,
    )


def wanted(events: Sequence[StoredEvent]) -> set[tuple[str, str]]:
    """The facts the batch may read: its spaces, workbooks, sheets, jobs, guests and apps."""
    keys: set[tuple[str, str]] = set()
    for stored in events:
        if stored.envelope.space_id:
            keys.add(("space", stored.envelope.space_id))
        event = stored.event
        for kind in ("space", "workbook", "sheet", "job", "guest", "app"):
            value = getattr(event, f"{kind}_id", None)
            if isinstance(value, str):
                keys.add((kind, value))
        for grant in getattr(event, "spaces", None) or ():  # a guest's grants: the spaces its topics are in
            if isinstance(granted := getattr(grant, "space_id", None), str):
                keys.add(("space", granted))
    return keys


async def load(conn: Conn, keys: set[tuple[str, str]], into: Lookups) -> None:
    missing = [k for k in keys if k not in into.facts]
    if not missing:
        return
    rows = await conn.fetch(
        "SELECT l.kind, l.key, l.info FROM lookup l"
        " JOIN unnest($1::text[], $2::text[]) AS k(kind, key) ON l.kind = k.kind AND l.key = k.key",
        [k for k, _ in missing],
        [v for _, v in missing],
    )
    for found in rows:
        into.facts[(found["kind"], found["key"])] = decode(found["kind"], found["info"])


async def save_lookups(conn: Conn, lookups: Lookups) -> None:
    """Write back the facts the batch's translation changed (into the schema on the search_path)."""
    changed = lookups.take_changed()
    if changed:
        await conn.executemany(
            "INSERT INTO lookup (kind, key, info) VALUES ($1, $2, $3)"
            " ON CONFLICT (kind, key) DO UPDATE SET info = EXCLUDED.info",
            changed,
        )


async def forget_spaces(conn: Conn, events: Sequence[StoredEvent]) -> list[tuple[str, int]]:
    """Erasure: the facts of each space deleted in `events` (its own, its workbooks', their
    sheets', its jobs'), after the batch's facts were saved; returns (space id, position) of each.

    A replay makes none of them (the space's events are erased, spaceport.crypto), so a rebuilt
    schema equals the live one."""
    deleted = [(e.event.space_id, e.seq) for e in events if isinstance(e.event, SpaceDeleted)]
    for space_id, _ in deleted:
        await conn.execute(
            "DELETE FROM lookup WHERE kind = 'sheet' AND info::jsonb->>'workbook_id' IN"
            " (SELECT key FROM lookup WHERE kind = 'workbook' AND info::jsonb->>'space_id' = $1)",
            space_id,
        )
        await conn.execute(
            "DELETE FROM lookup WHERE (kind = 'space' AND key = $1)"
            " OR (kind IN ('workbook', 'job') AND info::jsonb->>'space_id' = $1)",
            space_id,
        )
    return deleted


async def lookups_for(conn: Conn, events: Sequence[StoredEvent]) -> Lookups:
    lookups = Lookups()
    await load(conn, wanted(events), lookups)
    # A job's context names its workbook, whose namespace the job's events carry too.
    jobs: list[Info] = [info for (kind, _), info in lookups.facts.items() if kind == "job"]
    await load(conn, {("workbook", w) for j in jobs if (w := getattr(j, "workbook_id", None))}, lookups)
    # A guest's earlier grants: its space:guestRemoved events are in those spaces.
    guests: list[Info] = [info for (kind, _), info in lookups.facts.items() if kind == "guest"]
    await load(conn, {("space", s) for g in guests for s in getattr(g, "space_ids", ())}, lookups)
    # A space of an app: its events carry the app's namespace.
    spaces: list[Info] = [info for (kind, _), info in lookups.facts.items() if kind == "space"]
    await load(conn, {("app", a) for s in spaces if (a := getattr(s, "app_id", None))}, lookups)
    return lookups


class FeedProjection:
    """Projection `feed` (schema `feed`): Flatfile events and the facts their contexts need."""

    name = NAME
    migrations: Path | None = MIGRATIONS
    batch_size = 100  # it reads record events too (up to 512 KB each): a batch stays under ~50 MB

    def __init__(self, prefix: str = "evt") -> None:
        self.filter_subjects = [f"{prefix}.>"]

    async def apply(self, conn: Conn, event: StoredEvent) -> None:
        await self.apply_batch(conn, [event])

    async def apply_batch(self, conn: Conn, events: Sequence[StoredEvent]) -> None:
        lookups = await lookups_for(conn, events)
        rows: list[Row] = []
        acks: list[tuple[str, Any, str]] = []
        for stored in events:
            if isinstance(stored.event, EventAcknowledged):
                acks.append((stored.event.event_id, stored.envelope.occurred_at, stored.event.acknowledged_by))
                continue
            rows += [row(position, event) for position, event in translate(stored, lookups)]
        if rows:
            await conn.copy_records_to_table("event", records=rows, columns=COLUMNS)
        if acks:  # the first acknowledgement wins; an ack never refers to a later event
            await conn.executemany(
                "UPDATE event SET acknowledged_at = $2, acknowledged_by = $3 WHERE id = $1 AND acknowledged_at IS NULL",
                acks,
            )
        await save_lookups(conn, lookups)
        for space_id, seq in await forget_spaces(conn, events):
            # The space's Flatfile events go, but not `space:expired` and `space:deleted` (nor
            # later ones) that listeners await, nor the guest events an environment's guest
            # events give (not the space's: a replay gives them again).
            sql = (
                "DELETE FROM event WHERE space_id = $1 AND position < $2 AND topic <> 'space:expired'"
                " AND topic NOT LIKE 'space:guest%'"
            )
            await conn.execute(sql, space_id, seq * POSITION_SLOTS)
        if rows or acks:
            await conn.execute("SELECT pg_notify($1, $2)", NOTIFY_CHANNEL, str(rows[-1][1] if rows else 0))
