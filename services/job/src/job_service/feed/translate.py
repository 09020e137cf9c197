"""Domain event -> Flatfile events (reference §5.3, §4.2): pure, deterministic, rebuild-safe.

The facts a context needs and an event does not carry (a sheet's slug, a workbook's namespace,
a job's type) come from `Lookups`, which the translation also keeps up to date. Ids and
positions: `emit`. Topics by domain: `topics_space`, `topics_workbook`, `topics_job`, `topics_file`.
"""

from __future__ import annotations

from job_service.feed import topics_app, topics_file, topics_job, topics_space, topics_workbook
from job_service.feed.emit import POSITION_SLOTS, Handler, Out, event_id
from job_service.feed.lookups import Lookups
from spaceport.contracts.feed import FlatfileEvent
from spaceport.events import Event, StoredEvent

HANDLERS: dict[type[Event], Handler] = {
    **topics_space.HANDLERS,
    **topics_workbook.HANDLERS,
    **topics_job.HANDLERS,
    **topics_file.HANDLERS,
    **topics_app.HANDLERS,
}

__all__ = ["HANDLERS", "POSITION_SLOTS", "event_id", "translate"]


def translate(stored: StoredEvent, lookups: Lookups) -> list[tuple[int, FlatfileEvent]]:
    """(position, Flatfile event) of every Flatfile event `stored` gives; updates `lookups`."""
    out = Out(stored)
    handler = HANDLERS.get(type(stored.event)) if stored.event is not None else None
    if handler is not None:
        handler(stored.event, out, lookups)
    return out.events
