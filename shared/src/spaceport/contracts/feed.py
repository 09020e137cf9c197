"""The Flatfile event feed's contract: the wire `Event`, its topics and domains, the feed's own
events (acknowledgements, custom events) and the queries the gateway sends to the job service.

A Flatfile event is derived from a domain event by the job service's feed projection; its id is
`derived_id("event", f"{domain event id}:{ordinal}")`, so a rebuild reproduces it. Wire views use
Flatfile's camelCase names (reference §5.1). Add fields with defaults only.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, ClassVar

import msgspec

from spaceport.claimcheck import Payload
from spaceport.contracts.space import Principal
from spaceport.events import Event

SERVICE = "job"  # the job service hosts the feed
AGGREGATE = "feed"  # evt.<space or environment>.feed.<flatfile event id>.<event>
ACCOUNT_ID = "us_acc_local"  # one account per installation (the space service answers the same)
NOTIFY_CHANNEL = "spaceport_feed"  # Postgres LISTEN/NOTIFY channel: the payload is the newest position
MAX_PAGE_SIZE = 1000
MAX_READ_WAIT = 30.0
Json = dict[str, Any]

# Python SDK 1.0.0 `EventTopic` (66 topics), by domain prefix.
TOPICS_BY_PREFIX: dict[str, tuple[str, ...]] = {
    "agent": ("created", "updated", "deleted"),
    "space": ("created", "updated", "deleted", "archived", "unarchived", "expired", "guestAdded", "guestRemoved"),
    "document": ("created", "updated", "deleted"),
    "workbook": ("created", "updated", "deleted", "expired"),
    "sheet": ("created", "updated", "deleted", "counts-updated"),
    "snapshot": ("created",),
    "records": ("created", "updated", "deleted"),
    "file": ("created", "updated", "deleted", "expired"),
    "job": (
        "created",
        "updated",
        "deleted",
        "completed",
        "ready",
        "scheduled",
        "outcome-acknowledged",
        "parts-completed",
        "failed",
    ),
    "program": ("created", "updated"),
    "commit": ("created", "updated", "completed"),
    "layer": ("created",),
    "secret": ("created", "updated", "deleted"),
    "cron": ("5-minutes", "hourly", "daily", "weekly"),
    "environment": ("created", "updated", "deleted", "autobuild-created"),
    "action": ("created", "updated", "deleted"),
    "data-clip": (
        "created",
        "updated",
        "deleted",
        "collaborator-updated",
        "resolutions-created",
        "resolutions-updated",
        "resolutions-refreshed",
    ),
}
TOPICS: tuple[str, ...] = tuple(f"{prefix}:{name}" for prefix, names in TOPICS_BY_PREFIX.items() for name in names)
# Spaceport's own topics, outside the SDK's `EventTopic`. The official SDK parses an event list
# as a union tagged by those 66 topics and fails on any other, so these are delivered (listed,
# streamed) only to a filter that names them: `topic=app:created` or `topic=app:*`.
EXTENSION_TOPICS_BY_PREFIX: dict[str, tuple[str, ...]] = {"app": ("created", "updated", "deleted")}
EXTENSION_TOPICS: tuple[str, ...] = tuple(
    f"{prefix}:{name}" for prefix, names in EXTENSION_TOPICS_BY_PREFIX.items() for name in names
)


def names_extension(topic: str | None) -> bool:
    """Does the filter `topic` ask for Spaceport's own topics (`app:created`, `app:*`)?"""
    return topic is not None and topic.partition(":")[0] in EXTENSION_TOPICS_BY_PREFIX


# Flatfile's `Domain` (Python SDK 1.0.0).
DOMAINS: tuple[str, ...] = (
    "file",
    "space",
    "workbook",
    "job",
    "document",
    "sheet",
    "program",
    "secret",
    "cron",
    "environment",
    "data-clip",
)
# The domain of the events the feed derives, by topic prefix; records and commits are the workbook's.
DOMAIN_OF_PREFIX: dict[str, str] = {
    "space": "space",
    "environment": "environment",
    "document": "document",
    "workbook": "workbook",
    "sheet": "sheet",
    "records": "workbook",
    "commit": "workbook",
    "snapshot": "workbook",
    "layer": "workbook",
    "job": "job",
    "file": "file",
    "secret": "secret",
    "program": "program",
    "cron": "cron",
    "data-clip": "data-clip",
    "agent": "environment",
    "action": "workbook",
    "app": "environment",
}


def domain_of(topic: str) -> str:
    return DOMAIN_OF_PREFIX.get(topic.partition(":")[0], "space")


# ---- the wire event ------------------------------------------------------------------------


class Slugs(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    space: str | None = None
    workbook: str | None = None
    sheet: str | None = None


class FlatfileContext(msgspec.Struct, frozen=True, kw_only=True, rename="camel", omit_defaults=True):
    """`event.context`; fields without a value are left out (listeners match `null` as missing)."""

    account_id: str  # required (the SDK's Context says so): never left out
    environment_id: str
    space_id: str | None = None
    workbook_id: str | None = None
    sheet_id: str | None = None
    sheet_slug: str | None = None
    job_id: str | None = None
    file_id: str | None = None
    document_id: str | None = None
    commit_id: str | None = None
    version_id: str | None = None
    snapshot_id: str | None = None
    actor_id: str | None = None
    namespaces: list[str] | None = None
    slugs: Slugs | None = None


class FlatfileEvent(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    """Flatfile's `Event` as `/v1/events` answers it (reference §5.1)."""

    id: str
    topic: str
    domain: str
    context: FlatfileContext
    payload: Json = msgspec.field(default_factory=dict)
    created_at: datetime
    namespaces: list[str] = msgspec.field(default_factory=list)
    data_url: str | None = None
    callback_url: str | None = None
    attributes: Json | None = None
    target: str | None = None
    origin: Json | None = None
    acknowledged_at: datetime | None = None
    acknowledged_by: str | None = None


# ---- the feed's own events (aggregate `feed`, id = the Flatfile event id) --------------------


class EventAcknowledged(Event, frozen=True, kw_only=True):
    """`POST /v1/events/{id}/ack`: sets the event's acknowledgedAt/By; makes no new event."""

    aggregate: ClassVar[str] = AGGREGATE
    event_id: str
    acknowledged_by: str


class EventPublished(Event, frozen=True, kw_only=True):
    """`POST /v1/events`: a custom event a client posted; the feed lists it as it was posted."""

    aggregate: ClassVar[str] = AGGREGATE
    event_id: str
    topic: str
    domain: str
    context: Json = msgspec.field(default_factory=dict)
    payload: Json = msgspec.field(default_factory=dict)
    namespaces: list[str] = msgspec.field(default_factory=list)
    data_url: str | None = None
    callback_url: str | None = None
    attributes: Json | None = None
    target: str | None = None
    origin: Json | None = None


EVENTS: tuple[type[Event], ...] = (EventAcknowledged, EventPublished)

# ---- queries and commands (gateway -> job service) ------------------------------------------


class EventFilter(msgspec.Struct, frozen=True, kw_only=True):
    """Which events: of one environment; optionally one space, a domain, a topic (or `job:*` glob)."""

    environment_id: str
    space_id: str | None = None
    domain: str | None = None
    topic: str | None = None
    since: datetime | None = None
    include_acknowledged: bool = False
    # A guest limited to some workbooks: events of other workbooks are left out (None: no limit),
    # and file and job events of files it may not see (`actor`: that guest, whose uploads it sees).
    workbook_ids: list[str] | None = None
    actor: str | None = None


class ListEvents(msgspec.Struct, frozen=True, kw_only=True):
    filter: EventFilter
    page_size: int = 10
    page_number: int = 1


class EventList(msgspec.Struct, frozen=True, kw_only=True):
    """The page: a JSON array of `FlatfileEvent`, by claim check when large (a page of 1,000
    `records:created` events of 1,000 ids each is far more than one NATS message)."""

    events: Payload
    count: int


class GetEvent(msgspec.Struct, frozen=True, kw_only=True):
    environment_id: str
    event_id: str
    space_id: str | None = None  # a guest's space: another space's event is not found
    # A guest limited to some workbooks (as `EventFilter`): an event it may not see is not found.
    workbook_ids: list[str] | None = None
    actor: str | None = None


class AckEvent(msgspec.Struct, frozen=True, kw_only=True):
    principal: Principal
    event_id: str


class Acked(msgspec.Struct, frozen=True, kw_only=True):
    event: FlatfileEvent
    position: int


class PublishEvent(msgspec.Struct, frozen=True, kw_only=True):
    principal: Principal
    topic: str
    domain: str
    context: Json = msgspec.field(default_factory=dict)
    payload: Json = msgspec.field(default_factory=dict)
    namespaces: list[str] = msgspec.field(default_factory=list)
    data_url: str | None = None
    callback_url: str | None = None
    attributes: Json | None = None
    target: str | None = None
    origin: Json | None = None
    idempotency_key: str | None = None


class ReadEvents(msgspec.Struct, frozen=True, kw_only=True):
    """Streaming: the events matching `filter` after a cursor, up to `limit`; when there are none
    yet, wait up to `wait` seconds for some.

    The cursor is `after_position` with `after_slot` (what an earlier `EventBatch` answered) or
    else `after` (an event id, e.g. SSE's Last-Event-ID; unknown: 400); neither means "from now".
    """

    filter: EventFilter
    after: str | None = None
    after_position: int | None = None
    after_slot: int | None = None  # None: `after_position` (see EventBatch.slot)
    limit: int = 100
    wait: float = 10.0


class EventBatch(msgspec.Struct, frozen=True, kw_only=True):
    """The events read (a JSON array of `FlatfileEvent`, by claim check when large) and the
    cursor to read after next: the last event's position and slot.

    Events come in (slot, position) order. An event's slot is its position, except for a guest
    limited to some workbooks: the events of its own upload's source workbook that the feed holds
    before the extractor linked the file to it (`file:updated`) have that link's position as
    their slot, so they come once the link is known, just before it, in their own order."""

    events: Payload
    count: int
    position: int
    slot: int | None = None  # None: `position`


def topic_problem(topic: str) -> str | None:
    """Why `topic` is not a topic or glob the feed can filter by (None when it is).

    Globs: `*` or `**` (every topic), `<prefix>:*` (e.g. `job:*`), `*:<name>` (e.g. `*:created`).
    """
    if topic in TOPICS or topic in EXTENSION_TOPICS or topic in ("*", "**"):
        return None
    prefix, colon, name = topic.partition(":")
    if colon and (prefix in TOPICS_BY_PREFIX or prefix in EXTENSION_TOPICS_BY_PREFIX) and name == "*":
        return None
    if colon and prefix == "*" and any(name in names for names in TOPICS_BY_PREFIX.values()):
        return None
    valid = ", ".join((*TOPICS, *EXTENSION_TOPICS))
    return f"unknown topic {topic[:100]!r}; valid topics are {valid} (or a glob such as job:* or *:created)"


def domain_problem(domain: str) -> str | None:
    if domain in DOMAINS:
        return None
    return f"unknown domain {domain[:100]!r}; valid domains are {', '.join(DOMAINS)}"
