"""The ids a write creates: derived from its idempotency key when it has one, so a retried
write (its first reply lost) creates the same commit and record ids as the first one. Pure."""

from __future__ import annotations

from collections.abc import Callable

from spaceport import ids

RecordIds = Callable[[int], str]
"""The id of the n-th record a write inserts."""


def fresh_record_id(_: int) -> str:
    return ids.new_id("record")


def record_id_list(sheet_id: str, key: str | None, count: int) -> list[str]:
    """The ids of a write's `count` records at once (one random read or one hash stream)."""
    if key is None:
        return ids.new_ids("record", count)
    return ids.derived_ids("record", f"{sheet_id}:{key}", count)


def commit_id(sheet_id: str, key: str | None) -> str:
    return ids.new_id("commit") if key is None else ids.derived_id("commit", f"{sheet_id}:{key}")


def append_key(sheet_id: str, key: str | None) -> str | None:
    """The key the commit's event ids derive from: scoped to the sheet, so one key sent to two
    sheets makes two commits (JetStream drops a message whose id it has seen)."""
    return None if key is None else f"{sheet_id}:{key}"
