"""The history projection: every domain event (`<prefix>.>`) into the versions of its space
(schema `history`), and one narrow `record_change` row per record per insert / update event.

Per batch: translate each event as the feed does (for its Flatfile topics, with this schema's own
`lookup` facts), load the versions the batch touches (its commits and the tail), fold the events
into them (`grouping`), write them back, COPY the record changes. All of it in the runner's
transaction with the checkpoint. Record events arrive lean (ids only, `feed.lean`): no cell is
written here; a cell's history reads the events at the noted positions back from the stream.
Statements are not schema-qualified: the runner sets the search_path (live schema or shadow).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import asyncpg

from job_service.feed.projection import forget_spaces, lookups_for, save_lookups
from job_service.feed.translate import translate
from job_service.history.grouping import (
    Acc,
    Tail,
    fold_record_event,
    group_key,
    kind_of,
    new_acc,
    record_ids,
    version_id_of,
)
from spaceport.contracts import record
from spaceport.events import StoredEvent
from spaceport.readmodel import Conn

NAME = "history"
MIGRATIONS = Path(__file__).parent / "migrations"
COLUMNS = (
    "id",
    "space_id",
    "first_seq",
    "last_seq",
    "created_at",
    "actor",
    "sheet_id",
    "workbook_id",
    "kind",
    "events",
    "records",
    "topics",
    "source",
)
UPSERT = (
    f"INSERT INTO version ({', '.join(COLUMNS)}) VALUES ({', '.join(f'${n}' for n in range(1, len(COLUMNS) + 1))})"
    " ON CONFLICT (id) DO UPDATE SET " + ", ".join(f"{c} = EXCLUDED.{c}" for c in COLUMNS if c != "id")
)


def _row(acc: Acc) -> tuple[object, ...]:
    return tuple(_column(acc, c) for c in COLUMNS)


def _column(acc: Acc, column: str) -> object:
    if column == "events":
        return json.dumps(acc.events, sort_keys=True)
    if column == "source":
        return None if acc.source is None else json.dumps(acc.source, sort_keys=True)
    return getattr(acc, column)


async def load_versions(conn: Conn, version_ids: set[str]) -> dict[str, Acc]:
    if not version_ids:
        return {}
    rows = await conn.fetch(f"SELECT {', '.join(COLUMNS)} FROM version WHERE id = ANY($1::text[])", list(version_ids))
    return {r["id"]: _acc(r) for r in rows}


def _acc(row: asyncpg.Record) -> Acc:
    values: dict[str, Any] = dict(row)
    values["events"] = json.loads(values["events"])
    values["topics"] = list(values["topics"])
    values["source"] = None if values["source"] is None else json.loads(values["source"])
    return Acc(**values)


async def load_tail(conn: Conn) -> Tail | None:
    row = await conn.fetchrow("SELECT version_id, group_key, last_seq FROM tail WHERE one = 1")
    return (
        None
        if row is None
        else Tail(version_id=row["version_id"], group_key=row["group_key"], last_seq=row["last_seq"])
    )


class HistoryProjection:
    """Projection `history` (schema `history`): the versions of every space, record positions."""

    name = NAME
    migrations: Path | None = MIGRATIONS
    batch_size = 100  # as the feed: it reads record events too

    def __init__(self, prefix: str = "evt") -> None:
        self.filter_subjects = [f"{prefix}.>"]

    async def apply(self, conn: Conn, event: StoredEvent) -> None:
        await self.apply_batch(conn, [event])

    async def apply_batch(self, conn: Conn, events: Sequence[StoredEvent]) -> None:
        lookups = await lookups_for(conn, events)
        tail = await load_tail(conn)
        commits = {
            c for s in events if s.envelope.aggregate == record.AGGREGATE if (c := getattr(s.event, "commit_id", None))
        }
        versions = await load_versions(conn, commits | ({tail.version_id} if tail else set()))
        changed: dict[str, Acc] = {}
        spaces: dict[str, str] = {}
        changes: list[tuple[str, int, str]] = []
        for stored in events:
            topics = [e.topic for _, e in translate(stored, lookups)]
            envelope = stored.envelope
            if envelope.space_id is None or stored.erased:
                continue
            spaces[envelope.space_id] = envelope.environment_id
            if envelope.aggregate == record.AGGREGATE:
                commit_id = getattr(stored.event, "commit_id", None) or version_id_of(envelope.id)
                acc = fold_record_event(versions.get(commit_id), stored, topics)
                changes += [(rid, stored.seq, acc.id) for rid in record_ids(stored)]
            else:
                key = group_key(stored)
                joined = tail is not None and tail.group_key == key and tail.last_seq == stored.seq - 1
                joined_to = versions.get(tail.version_id) if joined and tail is not None else None
                if joined_to is not None:
                    acc = joined_to
                else:
                    acc = new_acc(version_id_of(envelope.id), stored, kind_of(stored, topics))
                    if envelope.aggregate == "workbook":
                        acc.workbook_id = envelope.aggregate_id
                acc.add(stored, topics)
                tail = Tail(version_id=acc.id, group_key=key, last_seq=stored.seq)
            versions[acc.id] = changed[acc.id] = acc
        if spaces:
            await conn.executemany(
                "INSERT INTO space (space_id, environment_id) VALUES ($1, $2) ON CONFLICT (space_id) DO NOTHING",
                list(spaces.items()),
            )
        if changed:
            await conn.executemany(UPSERT, [_row(acc) for acc in changed.values()])
        if tail is not None:
            await conn.execute(
                "INSERT INTO tail (one, version_id, group_key, last_seq) VALUES (1, $1, $2, $3)"
                " ON CONFLICT (one) DO UPDATE SET version_id = EXCLUDED.version_id,"
                " group_key = EXCLUDED.group_key, last_seq = EXCLUDED.last_seq",
                tail.version_id,
                tail.group_key,
                tail.last_seq,
            )
        if changes:
            await conn.copy_records_to_table(
                "record_change", records=changes, columns=["record_id", "seq", "commit_id"]
            )
        await save_lookups(conn, lookups)
        for space_id, _ in await forget_spaces(conn, events):
            await erase_space(conn, space_id)


async def erase_space(conn: Conn, space_id: str) -> None:
    """Erasure (`SpaceDeleted`): the space's versions, record changes and row go, and the tail
    if it is the space's, so that the next event starts a version as it does in a replay (where
    the space's events are erased, spaceport.crypto)."""
    await conn.execute(
        "DELETE FROM record_change rc USING version v WHERE v.space_id = $1 AND v.sheet_id IS NOT NULL"
        " AND rc.seq BETWEEN v.first_seq AND v.last_seq AND rc.commit_id = v.id",
        space_id,
    )
    await conn.execute("DELETE FROM tail WHERE version_id IN (SELECT id FROM version WHERE space_id = $1)", space_id)
    await conn.execute("DELETE FROM version WHERE space_id = $1", space_id)
    await conn.execute("DELETE FROM space WHERE space_id = $1", space_id)
