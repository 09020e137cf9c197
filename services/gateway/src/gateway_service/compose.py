"""Views the gateway assembles from two services, so neither has to know the other's data.

- `Sheet.recordCounts` (Flatfile's precomputed `{total, valid, error}`): the workbook service's
  sheets plus one batched `GetSheetCounts` to the record service for all sheets of the answer.
- `GET /v1/workbooks/{id}/commits`: the record service's per-sheet commit lists, merged.

Counts are an optional decoration in Flatfile's model ("may not exist"): when the record service
does not answer in time, sheets are served without `recordCounts` (logged) instead of failing a
workbook read. Any other error propagates.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from typing import Any

import msgspec

from gateway_service.state import Gateway
from spaceport.contracts.record import (
    MAX_IDS,
    CommitList,
    CommitView,
    Counts,
    GetCounts,
    GetSheetCounts,
    ListCommits,
    RecordQuery,
    SheetCountsList,
)
from spaceport.contracts.record import SERVICE as RECORD
from spaceport.contracts.workbook import SheetView, WorkbookView
from spaceport.errors import NotFoundError, ServiceUnavailableError

log = logging.getLogger(__name__)
COUNTS_TIMEOUT = 5.0
ZERO = Counts(total=0, valid=0, error=0)  # a sheet the record service has no row for holds no records


async def record_counts(
    gateway: Gateway, sheet_ids: Sequence[str], as_of: str | None = None
) -> dict[str, Counts] | None:
    """Counts of `sheet_ids` (batched; with `as_of`, each sheet's as it was then); None when the
    record service is unavailable."""
    found: dict[str, Counts] = {}
    if as_of is not None:  # each sheet's counts then (none for a sheet deleted since: its records are gone)
        answers = await asyncio.gather(
            *(
                gateway.rpc.request(RECORD, GetCounts(sheet_id=s, query=RecordQuery(as_of=as_of)), Counts)
                for s in sheet_ids
            ),
            return_exceptions=True,
        )
        for sheet_id, answer in zip(sheet_ids, answers, strict=True):
            if isinstance(answer, Counts):
                found[sheet_id] = answer
            elif not isinstance(answer, NotFoundError):
                raise answer
        return found
    try:
        for start in range(0, len(sheet_ids), MAX_IDS):
            query = GetSheetCounts(sheet_ids=list(sheet_ids[start : start + MAX_IDS]))
            reply = await gateway.rpc.request(RECORD, query, SheetCountsList, timeout=COUNTS_TIMEOUT)
            found.update(reply.counts)
    except ServiceUnavailableError as problem:
        log.warning("sheets served without recordCounts: %s", problem)
        return None
    return found


def _sheet(view: SheetView, counts: dict[str, Counts] | None) -> dict[str, Any]:
    out: dict[str, Any] = msgspec.to_builtins(view)
    if counts is not None:
        out["recordCounts"] = msgspec.to_builtins(counts.get(view.id, ZERO))
    return out


async def sheets(gateway: Gateway, views: Sequence[SheetView], as_of: str | None = None) -> list[dict[str, Any]]:
    counts = await record_counts(gateway, [v.id for v in views], as_of) if views else {}
    return [_sheet(v, counts) for v in views]


async def sheet(gateway: Gateway, view: SheetView, as_of: str | None = None) -> dict[str, Any]:
    return (await sheets(gateway, [view], as_of))[0]


async def workbooks(gateway: Gateway, views: Sequence[WorkbookView], as_of: str | None = None) -> list[dict[str, Any]]:
    """Workbooks with `recordCounts` on every sheet: one counts request for all of them."""
    ids = [s.id for w in views for s in w.sheets or []]
    counts = await record_counts(gateway, ids, as_of) if ids else {}
    out = []
    for view in views:
        item: dict[str, Any] = msgspec.to_builtins(view)
        if view.sheets is not None:
            item["sheets"] = [_sheet(s, counts) for s in view.sheets]
        out.append(item)
    return out


async def workbook(gateway: Gateway, view: WorkbookView, as_of: str | None = None) -> dict[str, Any]:
    return (await workbooks(gateway, [view], as_of))[0]


async def workbook_commits(gateway: Gateway, view: WorkbookView, completed: bool | None) -> list[CommitView]:
    """Every commit of the workbook's sheets, newest first (`completed` filters like Flatfile's)."""
    replies = await asyncio.gather(
        *(gateway.rpc.request(RECORD, ListCommits(sheet_id=s.id), CommitList) for s in view.sheets or [])
    )
    commits = [c for reply in replies for c in reply.data]
    if completed is not None:
        commits = [c for c in commits if (c.completed_at is not None) == completed]
    commits.sort(key=lambda c: (c.created_at, c.id), reverse=True)
    return commits
