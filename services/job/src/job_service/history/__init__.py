"""Space history: the versions of every space (one per write) and the cells' past values.

- `grouping`: which version an event belongs to and what it adds (pure).
- `projection`: `HistoryProjection` (schema `history`), fed by every domain subject; it
  translates each event as the feed does (`job_service.feed.translate`) for the topics.
- `queries` + `service`: `ListVersions`, `GetVersion`, `ResolvePosition` (a version id or a
  time -> a stream sequence) and `GetCellHistory` (the RPC handlers).

Installed after `job_service.feed` (it decodes with the event types the feed registers).
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from job_service.history.projection import NAME, HistoryProjection
from job_service.history.queries import HistoryQueries
from job_service.history.service import HistoryService
from spaceport import runtime
from spaceport.contracts.history import GetCellHistory, GetVersion, ListVersions, ResolvePosition
from spaceport.ports import RawMessage
from spaceport.settings import Settings

__all__ = ["NAME", "HistoryProjection", "HistoryQueries", "HistoryService", "install"]


def install(rt: runtime.ServiceRuntime, settings: Settings) -> HistoryService:
    """Register the history projection and query handlers on `rt`."""
    rt.add_projection(HistoryProjection(settings.event_prefix))
    events = f"{settings.event_prefix}.>"

    def read_at(seq: int) -> AsyncIterator[RawMessage]:
        return rt.store.read_raw(events, from_seq=seq, to_seq=seq, batch=1)

    service = HistoryService(
        HistoryQueries(lambda: rt.pool),
        rt.store.last_seq,
        lambda position, timeout: rt.runner(NAME).wait_for(position, timeout),
        read_at,
        rt.store.open,
    )
    rt.rpc.handle(ListVersions, workers=8)(service.versions)
    rt.rpc.handle(GetVersion, workers=8)(service.version)
    rt.rpc.handle(ResolvePosition, workers=8)(service.position)
    rt.rpc.handle(GetCellHistory, workers=8)(service.cell_history)
    return service
