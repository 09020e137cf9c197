"""Emitting Flatfile events for one domain event: ids, positions and contexts (shared by the
topic modules `topics_space`, `topics_workbook`, `topics_job`).

One domain event gives zero or more Flatfile events, numbered by an ordinal: the event's id is
`derived_id("event", f"{domain event id}:{ordinal}")` and its position in the feed is
`stream sequence * POSITION_SLOTS + ordinal`, so a rebuild reproduces both.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from job_service.feed.lookups import Lookups, SpaceInfo
from spaceport import ids
from spaceport.contracts.feed import ACCOUNT_ID, FlatfileContext, FlatfileEvent, domain_of
from spaceport.events import Event, StoredEvent

POSITION_SLOTS = 1024  # Flatfile events one domain event may give (a workbook with its sheets)
ID_LENGTH = 16
Json = dict[str, Any]


def event_id(domain_event_id: str, ordinal: int) -> str:
    return ids.derived_id("event", f"{domain_event_id}:{ordinal}", ID_LENGTH)


def namespaced(kind: str, namespace: str | None) -> list[str]:
    """A space's or workbook's namespace as listeners filter it: `space:red` (kept if prefixed)."""
    if not namespace:
        return []
    return [namespace if ":" in namespace else f"{kind}:{namespace}"]


@dataclass
class Out:
    """The Flatfile events derived from one stored domain event, in ordinal order."""

    stored: StoredEvent
    events: list[tuple[int, FlatfileEvent]] = field(default_factory=list)

    def context(self, **values: Any) -> FlatfileContext:
        envelope = self.stored.envelope
        values.setdefault("account_id", ACCOUNT_ID)
        values.setdefault("environment_id", envelope.environment_id)
        values.setdefault("space_id", envelope.space_id)
        values.setdefault("actor_id", envelope.actor or None)
        return FlatfileContext(**values)

    def emit(
        self,
        topic: str,
        context: FlatfileContext,
        payload: Json,
        *,
        data_url: str | None = None,
        **extra: Any,
    ) -> None:
        ordinal = len(self.events)
        if ordinal >= POSITION_SLOTS:
            raise ValueError(f"event {self.stored.event_id} gives more than {POSITION_SLOTS} Flatfile events")
        event = FlatfileEvent(
            id=extra.pop("id", None) or event_id(self.stored.envelope.id, ordinal),
            topic=topic,
            domain=extra.pop("domain", None) or domain_of(topic),
            context=context,
            payload=payload,
            created_at=self.stored.envelope.occurred_at,
            namespaces=context.namespaces or [],
            data_url=data_url,
            **extra,
        )
        self.events.append((self.stored.seq * POSITION_SLOTS + ordinal, event))


Handler = Callable[[Any, Out, Lookups], None]


def changes(event: Event, skip: tuple[str, ...] = ()) -> list[str]:
    """The camelCase names of the fields an update event sets."""
    names = event.__struct_fields__
    return [camel(n) for n in names if n not in skip and not n.endswith("_id") and getattr(event, n) is not None]


def camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


def space_namespaces(lookups: Lookups, info: SpaceInfo | None) -> list[str]:
    """A space's namespace, and its app's (`app:<namespace>`) when the space belongs to an app."""
    if info is None:
        return []
    app = lookups.app(info.app_id)
    return namespaced("space", info.namespace) + namespaced("app", app.namespace if app else None)


def space_context(out: Out, lookups: Lookups, space_id: str, **values: Any) -> FlatfileContext:
    info = lookups.space(space_id)
    namespaces = space_namespaces(lookups, info)
    environment_id = info.environment_id if info else out.stored.envelope.environment_id
    return out.context(environment_id=environment_id, space_id=space_id, namespaces=namespaces or None, **values)
