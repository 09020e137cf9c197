"""Which version each event belongs to, and what it adds to it: pure, deterministic, rebuild-safe.

- A records event (aggregate `records`) belongs to the version of its `commit_id`; its actor is
  the commit's `created_by` (record events carry no envelope actor), its kind the commit's. A
  later `CommitCompleted` is counted in, but does not move the version's position.
- Any other event of a space belongs to the version of the append that wrote it: the events of
  one append are consecutive in the stream and share aggregate, actor, correlation and the
  envelope's `occurredAt` (one instant per append). The version's id is derived from the first
  event's id, so a rebuild mints the same one.
- Events of no space (environments, apps, keys…) are in no version.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import msgspec

from job_service.feed.lean import LeanRecordsInserted, LeanRecordsUpdated
from spaceport import ids
from spaceport.contracts import record
from spaceport.events import StoredEvent


class Acc(msgspec.Struct, kw_only=True):
    """A version being folded (mutable inside one batch; a row of `version` otherwise)."""

    id: str
    space_id: str
    first_seq: int
    last_seq: int
    created_at: datetime
    actor: str
    sheet_id: str | None
    workbook_id: str | None
    kind: str
    events: dict[str, int]
    records: int
    topics: list[str]
    source: dict[str, Any] | None = None  # a records commit's CommitCreated.source (provenance)

    def add(self, stored: StoredEvent, topics: Sequence[str], *, moves: bool = True) -> None:
        """Count `stored` in; `moves`: it is of the version's append (its position is the version's)."""
        if moves:
            self.first_seq = min(self.first_seq, stored.seq)
            self.last_seq = max(self.last_seq, stored.seq)
            self.created_at = min(self.created_at, stored.stored_at)
        kind = stored.envelope.type
        self.events[kind] = self.events.get(kind, 0) + 1
        for topic in topics:
            if topic not in self.topics:
                self.topics.append(topic)


class Tail(msgspec.Struct, frozen=True, kw_only=True):
    version_id: str
    group_key: str
    last_seq: int


COMMIT_KINDS = {
    "RecordsInserted": "insert",
    "RecordsUpdated": "update",
    "RecordsDeleted": "delete",
    "RecordsRestored": "insert",
}


def group_key(stored: StoredEvent) -> str:
    e = stored.envelope
    return f"{e.aggregate}|{e.aggregate_id}|{e.actor}|{e.occurred_at.isoformat()}|{e.correlation_id or ''}"


def version_id_of(first_event_id: str) -> str:
    return ids.derived_id("commit", f"version:{first_event_id}", 20)


def record_ids(stored: StoredEvent) -> list[str]:
    """The records an insert / update event wrote (lean events: ids only)."""
    event = stored.event
    if isinstance(event, LeanRecordsInserted | LeanRecordsUpdated | record.RecordsInserted | record.RecordsUpdated):
        return [r.id for r in event.records]
    if isinstance(event, record.RecordsRestored):  # a restore's compact re-create: ids only
        return list(event.record_ids)
    return []


def records_in(stored: StoredEvent) -> int:
    event = stored.event
    if isinstance(event, record.RecordsDeleted):
        return len(event.record_ids)
    return len(record_ids(stored))


def new_acc(version_id: str, stored: StoredEvent, kind: str) -> Acc:
    return Acc(
        id=version_id,
        space_id=stored.envelope.space_id or "",
        first_seq=stored.seq,
        last_seq=stored.seq,
        created_at=stored.stored_at,
        actor=stored.envelope.actor,
        sheet_id=None,
        workbook_id=None,
        kind=kind,
        events={},
        records=0,
        topics=[],
    )


def fold_record_event(acc: Acc | None, stored: StoredEvent, topics: Sequence[str]) -> Acc:
    """`stored` (a records event) added to its commit's version (`acc`: the version so far)."""
    event = stored.event
    commit_id = getattr(event, "commit_id", None) or version_id_of(stored.envelope.id)
    if acc is None:
        acc = new_acc(commit_id, stored, COMMIT_KINDS.get(stored.envelope.type, "commit"))
    acc.sheet_id = getattr(event, "sheet_id", None) or acc.sheet_id
    acc.workbook_id = getattr(event, "workbook_id", None) or acc.workbook_id
    if isinstance(event, record.CommitCreated):
        acc.kind = event.kind
        acc.actor = event.created_by or acc.actor
        acc.source = msgspec.to_builtins(event.source) if event.source is not None else None
    elif not acc.actor:
        acc.actor = stored.envelope.actor
    acc.records += records_in(stored)
    # A commit's completion (its listener's hooks are done) comes later, after other writes
    # perhaps: it is counted, but the version's position stays the commit's append.
    acc.add(stored, topics, moves=not isinstance(event, record.CommitCompleted))
    return acc


def kind_of(stored: StoredEvent, topics: Sequence[str]) -> str:
    return topics[0] if topics else stored.envelope.type
