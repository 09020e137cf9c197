"""`record_hook(slug, fn)` / `bulk_record_hook(slug, fn)`: validate and fix records on each commit (§7).

On `commit:created` for the sheet: read the commit's records from `dataUrl`, run `fn`, PUT back
only the records it changed (with `X-Disable-Hooks`, so the write makes no new hook commit),
then complete the commit when the workbook tracks changes. The commit is completed even when
`fn` raises, so one bad hook cannot leave the sheet's actions blocked.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from spaceport_listener.event import FlatfileEvent
from spaceport_listener.listener import FlatfileListener, Plugin
from spaceport_listener.record import Record

__all__ = ["BulkRecordHook", "RecordHook", "bulk_record_hook", "record_hook"]

RecordHook = Callable[[Record], Awaitable[Any] | Any]
BulkRecordHook = Callable[[list[Record]], Awaitable[Any] | Any]


def record_hook(sheet_slug: str, fn: RecordHook) -> Plugin:
    """Call `fn(record)` for every record of each commit on sheet `sheet_slug` (a glob)."""

    async def each(records: list[Record]) -> None:
        for record in records:
            await _maybe_await(fn(record))

    return bulk_record_hook(sheet_slug, each)


def bulk_record_hook(sheet_slug: str, fn: BulkRecordHook) -> Plugin:
    """Call `fn(records)` once per commit on sheet `sheet_slug`, with all of the commit's records."""

    async def run(event: FlatfileEvent) -> None:
        try:
            records = [Record(raw) for raw in _records_of(await event.data)]
            await _maybe_await(fn(records))
            changed = [record.to_update() for record in records if record.changed]
            if changed:
                await event.update(changed)
        except Exception:
            # `Exception` only: a cancelled (dying) listener leaves the commit open for redelivery
            await _complete_commit(event)
            raise
        await _complete_commit(event)

    def plugin(listener: FlatfileListener) -> None:
        listener.on("commit:created", {"sheetSlug": sheet_slug}, run)

    return plugin


async def _complete_commit(event: FlatfileEvent) -> None:
    if not event.payload.get("trackChanges"):
        return
    commit_id = event.context.get("commitId") or event.payload.get("commitId")
    if commit_id:
        await event.fetch(f"commits/{commit_id}/complete", method="POST")


def _records_of(data: Any) -> Sequence[Any]:
    records = data.get("records") if isinstance(data, dict) else data
    return records if isinstance(records, list) else []


async def _maybe_await(result: Any) -> Any:
    return await result if inspect.isawaitable(result) else result
