"""`/v1/events`: Flatfile events — list, get, ack, custom events, a resumable SSE stream — and
`/v1/asyncapi.json`, the AsyncAPI document of the NATS subjects in-cluster listeners subscribe to.

Secret keys see their environment's events; a guest only its space's, and a guest limited to
some workbooks only the events about what it sees (`job_service.feed.queries.visible`: its
workbooks, their sheets, its own uploads and its workbooks' files; space-level events too) in
the list, one event, acks and the stream alike. Its own uploads' source workbooks are decided by
the feed from its own rows at each read (`queries.own`), not by the gateway when a request or a
stream starts (`auth.with_own_uploads`): these routes pass the grant as granted, so a stream
opened before an upload shows that upload's source workbook as the list does. That workbook's
events come before the extractor links the file to it; the stream sends them once the link is
there, just before the link's `file:updated`, in their order (`EventBatch.slot`; a resume with
`Last-Event-ID` keeps that order). The job service hosts the feed (`job_service.feed`); the
stream loops on its `ReadEvents` long poll.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from functools import cache
from typing import Any

import msgspec
from faststream.nats import NatsBroker
from faststream.specification import AsyncAPI
from litestar import Request, Response, get, post
from litestar.response import ServerSentEvent, ServerSentEventMessage

from gateway_service.api_docs import EVENT_STREAM, JSON_OBJECT
from gateway_service.auth import (
    authenticated,
    environment_of,
    refuse_publishable,
    require_space_role,
)
from gateway_service.body import MAX_JSON_BODY, SUCCESS, data, decode
from gateway_service.query import bool_param, int_param, param
from gateway_service.routes.records import claims, json_response
from gateway_service.state import Gateway
from spaceport.claimcheck import Payload
from spaceport.contracts.feed import (
    DOMAIN_OF_PREFIX,
    DOMAINS,
    SERVICE,
    TOPICS_BY_PREFIX,
    Acked,
    AckEvent,
    EventBatch,
    EventFilter,
    EventList,
    FlatfileEvent,
    GetEvent,
    ListEvents,
    PublishEvent,
    ReadEvents,
    domain_problem,
    topic_problem,
)
from spaceport.contracts.space import Principal
from spaceport.errors import ServiceUnavailableError, ValidationFailedError
from spaceport.settings import Settings

HEARTBEAT = 15.0  # seconds of quiet before a comment line keeps proxies and clients from timing out
STREAM_BATCH = 500
RETRY_MS = 2000
log = logging.getLogger(__name__)
_encoder = msgspec.json.Encoder()
_batch_decoder = msgspec.json.Decoder(list[FlatfileEvent])


class EventBody(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    """`POST /v1/events` (Flatfile's CreateEventConfig)."""

    topic: str
    payload: dict[str, Any]
    domain: str
    context: dict[str, Any]
    attributes: dict[str, Any] | None = None
    callback_url: str | None = None
    data_url: str | None = None
    target: str | None = None
    origin: dict[str, Any] | None = None
    namespaces: list[str] | None = None
    deleted_at: datetime | None = None


def _since(request: Request[Any, Any, Any]) -> datetime | None:
    value = param(request, "since")
    if value is None:
        return None
    try:
        since = datetime.fromisoformat(value.replace("Z", "+00:00").replace(" ", "+"))
    except ValueError:
        raise ValidationFailedError(f"since {value[:80]!r} is not an ISO-8601 date-time", key="since") from None
    try:  # in UTC here: an offset can carry it past year 1 or 9999, which the feed's query cannot hold
        return since.astimezone(UTC) if since.tzinfo is not None else since.replace(tzinfo=UTC)
    except OverflowError:
        raise ValidationFailedError(f"since {value[:80]!r} is out of range in UTC", key="since") from None


def _filter(request: Request[Any, Any, Any], principal: Principal, *, acknowledged: bool) -> EventFilter:
    """The filter a query string asks for, within what `principal` may see."""
    refuse_publishable(principal)
    environment_id = environment_of(principal, param(request, "environmentId"))
    space_id = param(request, "spaceId")
    if principal.kind == "guest":
        space_id = space_id or principal.space_id
        require_space_role(principal, space_id or "", "read")
    domain, topic = param(request, "domain"), param(request, "topic")
    if domain is not None and (problem := domain_problem(domain)) is not None:
        raise ValidationFailedError(problem, key="domain")
    if topic is not None and (problem := topic_problem(topic)) is not None:
        raise ValidationFailedError(problem, key="topic")
    return EventFilter(
        environment_id=environment_id,
        space_id=space_id,
        domain=domain,
        topic=topic,
        since=_since(request),
        include_acknowledged=bool_param(request, "includeAcknowledged", acknowledged),
        workbook_ids=principal.workbook_ids if principal.kind == "guest" else None,
        actor=principal.actor if principal.kind == "guest" else None,
    )


def _guest_space(principal: Principal) -> str | None:
    return principal.space_id if principal.kind == "guest" else None


@get("/v1/events", responses=JSON_OBJECT)
async def list_events(request: Request[Any, Any, Any], gateway: Gateway) -> Response[bytes]:
    principal = await authenticated(request, gateway)
    query = ListEvents(
        filter=_filter(request, principal, acknowledged=False),
        page_size=int_param(request, "pageSize", 10),
        page_number=int_param(request, "pageNumber", 1),
    )
    page = await gateway.rpc.request(SERVICE, query, EventList)
    return json_response(b'{"data":' + await claims(gateway).unpack(page.events) + b"}")


@get("/v1/events/{event_id:str}")
async def get_event(request: Request[Any, Any, Any], gateway: Gateway, event_id: str) -> dict[str, object]:
    principal = await authenticated(request, gateway)
    refuse_publishable(principal)
    guest = principal.kind == "guest"
    query = GetEvent(
        environment_id=principal.environment_id,
        event_id=event_id,
        space_id=_guest_space(principal),
        workbook_ids=principal.workbook_ids if guest else None,
        actor=principal.actor if guest else None,
    )
    return data(await gateway.rpc.request(SERVICE, query, FlatfileEvent))


@post("/v1/events/{event_id:str}/ack", status_code=200)
async def ack_event(request: Request[Any, Any, Any], gateway: Gateway, event_id: str) -> dict[str, object]:
    principal = await authenticated(request, gateway)
    refuse_publishable(principal)
    # the feed finds only what the caller sees (a guest limited to some workbooks acks only that)
    await gateway.rpc.request(SERVICE, AckEvent(principal=principal, event_id=event_id), Acked)
    return SUCCESS


@post("/v1/events", status_code=200, request_max_body_size=MAX_JSON_BODY)
async def create_event(request: Request[Any, Any, Any], gateway: Gateway) -> dict[str, object]:
    principal = await authenticated(request, gateway)
    refuse_publishable(principal)
    body = await decode(request, EventBody)
    if principal.kind == "guest":
        require_space_role(principal, str(body.context.get("spaceId") or principal.space_id), "write")
    command = PublishEvent(
        principal=principal,
        topic=body.topic,
        domain=body.domain,
        context=body.context,
        payload=body.payload,
        namespaces=body.namespaces or [],
        data_url=body.data_url,
        callback_url=body.callback_url,
        attributes=body.attributes,
        target=body.target,
        origin=body.origin,
        idempotency_key=request.headers.get("idempotency-key"),
    )
    return data(await gateway.rpc.request(SERVICE, command, FlatfileEvent))


# ---- Server-Sent Events --------------------------------------------------------------------


def _message(event: FlatfileEvent) -> ServerSentEventMessage:
    return ServerSentEventMessage(id=event.id, event=event.topic, data=_encoder.encode(event).decode())


async def _read(gateway: Gateway, query: ReadEvents) -> EventBatch:
    return await gateway.rpc.request(SERVICE, query, EventBatch, timeout=query.wait + gateway.settings.request_timeout)


async def _follow(gateway: Gateway, first: EventBatch, events: EventFilter) -> AsyncIterator[ServerSentEventMessage]:
    """Every event after the first batch, as it comes; a comment line after each quiet HEARTBEAT."""
    batch = first
    while True:
        for event in _batch_decoder.decode(await claims(gateway).unpack(batch.events)) if batch.count else []:
            yield _message(event)
        if not batch.count:
            yield ServerSentEventMessage(data=None, comment="keep-alive")  # a comment only: no empty event
        query = ReadEvents(
            filter=events, after_position=batch.position, after_slot=batch.slot, limit=STREAM_BATCH, wait=HEARTBEAT
        )
        try:
            batch = await _read(gateway, query)
        except ServiceUnavailableError:  # the job service restarts: keep the connection, retry
            log.warning("events stream: the feed did not answer; retrying")
            await asyncio.sleep(1.0)
            batch = EventBatch(events=Payload(data=b"[]"), count=0, position=batch.position, slot=batch.slot)


@get("/v1/events/stream", responses=EVENT_STREAM)
async def stream_events(request: Request[Any, Any, Any], gateway: Gateway) -> ServerSentEvent:
    """SSE: `id: <event id>`, `event: <topic>`, `data: <event JSON>`; resumes after `Last-Event-ID`
    (or `?lastEventId=`) with nothing missed or repeated; without one it starts at "now"."""
    principal = await authenticated(request, gateway)
    events = _filter(request, principal, acknowledged=True)
    last = request.headers.get("last-event-id") or param(request, "lastEventId")
    # The first read checks the cursor before the response starts: an unknown id answers 400.
    first = await _read(gateway, ReadEvents(filter=events, after=last or None, limit=STREAM_BATCH, wait=0.0))
    headers = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
    return ServerSentEvent(_follow(gateway, first, events), retry_duration=RETRY_MS, headers=headers)


# ---- AsyncAPI ------------------------------------------------------------------------------


@cache
def asyncapi_document(settings: Settings) -> dict[str, Any]:
    """The relay's subjects, one channel per domain, each message a `FlatfileEvent`."""
    broker = NatsBroker(settings.nats_servers)
    for domain in DOMAINS:
        topics = [
            f"{p}:{n}" for p, names in TOPICS_BY_PREFIX.items() for n in names if DOMAIN_OF_PREFIX.get(p) == domain
        ]
        broker.publisher(
            f"{settings.feed_prefix}.{{environment_id}}.{{space_id}}.{domain}.{{topic}}",
            title=f"{domain} events",
            description=(
                f"Flatfile events of domain `{domain}` in stream `{settings.feed_stream}`; `space_id` is `_` for"
                " environment-level events, `topic` is the topic with ':' as '_'"
                + (f" ({', '.join(topics)})." if topics else ".")
                + " Each message's `Nats-Msg-Id` header is the event id."
            ),
        )
    spec = AsyncAPI(
        broker,
        title="Spaceport Flatfile events",
        version="1.0.0",
        description="Flatfile events relayed to NATS JetStream for in-cluster listeners (docs/api.md).",
        schema_version="3.0.0",
    )
    document: dict[str, Any] = spec.to_specification().to_jsonable()
    (_,), components = msgspec.json.schema_components([FlatfileEvent], ref_template="#/components/schemas/{name}")
    schemas = document.setdefault("components", {}).setdefault("schemas", {})
    for name in list(schemas):
        schemas[name] = {"$ref": "#/components/schemas/FlatfileEvent"}
    schemas.update(components)
    return document


@get("/v1/asyncapi.json", include_in_schema=False)
async def asyncapi(gateway: Gateway) -> dict[str, Any]:
    return asyncapi_document(gateway.settings)


ROUTES: list[Any] = [list_events, stream_events, get_event, ack_event, create_event, asyncapi]
