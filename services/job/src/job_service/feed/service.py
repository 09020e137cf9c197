"""The feed's queries and commands (RPC handlers): list, get, ack, publish and read-after-cursor.

Acks and custom events are events of the `feed` aggregate (id = the Flatfile event id, scoped
by the event's space or environment), appended through the shared conflict loop; the reply
waits until the feed projection has applied them (read-your-writes).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import asyncpg
import msgspec

from job_service.feed import queries
from job_service.feed.notify import FeedSignal
from spaceport import ids, paging
from spaceport.aggregate import Append, Decision, run_command
from spaceport.claimcheck import ClaimCheck, Payload
from spaceport.contracts.feed import (
    ACCOUNT_ID,
    AGGREGATE,
    MAX_PAGE_SIZE,
    MAX_READ_WAIT,
    Acked,
    AckEvent,
    EventAcknowledged,
    EventBatch,
    EventList,
    EventPublished,
    FlatfileContext,
    FlatfileEvent,
    GetEvent,
    ListEvents,
    PublishEvent,
    ReadEvents,
    domain_problem,
    topic_problem,
)
from spaceport.errors import NotFoundError, ServiceUnavailableError, ValidationFailedError
from spaceport.eventstore import EventStore
from spaceport.ports import AggregateRef, AppendContext, AppendResult
from spaceport.projection import ProjectionRunner

CATCH_UP = 10.0  # seconds a write waits for the feed to show it
MAX_READ_LIMIT = 1000


@dataclass
class FeedService:
    pool: Callable[[], asyncpg.Pool]
    store: EventStore
    runner: Callable[[], ProjectionRunner]
    signal: FeedSignal
    claims: ClaimCheck

    async def _packed(self, events: list[FlatfileEvent]) -> Payload:
        return await self.claims.pack(msgspec.json.encode(events))

    async def list(self, query: ListEvents) -> EventList:
        paging.check(query.page_size, query.page_number, MAX_PAGE_SIZE)
        async with self.pool().acquire() as conn:
            events = await queries.list_events(conn, query.filter, query.page_size, query.page_number)
        return EventList(events=await self._packed(events), count=len(events))

    async def get(self, query: GetEvent) -> FlatfileEvent:
        limit = _limit(query.workbook_ids, query.actor, query.space_id)
        return (await self._found(query.event_id, query.environment_id, query.space_id, limit)).event

    async def _found(
        self, event_id: str, environment_id: str, space_id: str | None, limit: queries.Limit | None = None
    ) -> queries.FoundEvent:
        """The event, if it is in `environment_id` (and `space_id`, for a guest, and one a guest
        limited to some workbooks may see, `limit`); else 404."""
        async with self.pool().acquire() as conn:
            found = await queries.get(conn, event_id, limit)
        if found is None or found.environment_id != environment_id or (space_id and found.space_id != space_id):
            raise NotFoundError(f"event {event_id} not found", key="eventId")
        return found

    async def ack(self, command: AckEvent) -> Acked:
        principal = command.principal
        guest_space = principal.space_id if principal.kind == "guest" else None
        limit = _limit(principal.workbook_ids, principal.actor, guest_space)
        found = await self._found(command.event_id, principal.environment_id, guest_space, limit)
        if found.event.acknowledged_at is not None:
            return Acked(event=found.event, position=0)
        ref = feed_ref(found.environment_id, found.space_id, command.event_id)

        async def attempt() -> Decision[None]:
            loaded = await self.store.load(ref)
            if any(isinstance(e.event, EventAcknowledged) for e in loaded.events):
                return Append(None, [], None)  # acknowledged meanwhile: acking again changes nothing
            return Append(
                None, [EventAcknowledged(event_id=command.event_id, acknowledged_by=principal.actor)], loaded.version
            )

        done = await run_command(self.store, ref, attempt, AppendContext(actor=principal.actor), landed=_nothing)
        position = done.result.last_seq if done.result is not None else 0
        await self._caught_up(position)
        acked = await self._found(command.event_id, principal.environment_id, guest_space, limit)
        return Acked(event=acked.event, position=position)

    async def publish(self, command: PublishEvent) -> FlatfileEvent:
        principal = command.principal
        space_id = await self._publish_space(command)
        event_id = (
            ids.derived_id("event", f"published:{principal.environment_id}:{command.idempotency_key}", 16)
            if command.idempotency_key
            else ids.new_id("event", 16)
        )
        event = EventPublished(
            event_id=event_id,
            topic=command.topic,
            domain=command.domain,
            context=command.context,
            payload=command.payload,
            namespaces=command.namespaces,
            data_url=command.data_url,
            callback_url=command.callback_url,
            attributes=command.attributes,
            target=command.target,
            origin=command.origin,
        )
        ref = feed_ref(principal.environment_id, space_id, event_id)
        context = AppendContext(actor=principal.actor, idempotency_key=f"{event_id}:published")
        result = await self.store.append(ref, [event], expected_version=None, context=context)
        await self._caught_up(result.last_seq)
        return (await self._found(event_id, principal.environment_id, None)).event

    async def _publish_space(self, command: PublishEvent) -> str | None:
        """The space the custom event names (it must be of the caller's environment), if any."""
        for problem, key in ((topic_problem(command.topic), "topic"), (domain_problem(command.domain), "domain")):
            if problem is not None:
                raise ValidationFailedError(problem, key=key)
        if "*" in command.topic:
            raise ValidationFailedError("a published event needs a topic, not a glob", key="topic")
        principal = command.principal
        try:  # as the projection will read it: a context it cannot read is refused now
            msgspec.convert(
                {
                    **command.context,
                    "accountId": ACCOUNT_ID,
                    "environmentId": principal.environment_id,
                    "spaceId": None,
                },
                FlatfileContext,
                strict=False,
            )
        except msgspec.ValidationError as error:
            raise ValidationFailedError(f"invalid context: {error}", key="context") from None
        space_id = command.context.get("spaceId")
        if principal.kind == "guest":
            if space_id not in (None, principal.space_id):
                raise NotFoundError(f"space {space_id} not found", key="context.spaceId")
            space_id = principal.space_id
        if space_id is None:
            return None
        if not isinstance(space_id, str) or not ids.has_kind(space_id, "space"):
            raise ValidationFailedError("context.spaceId must be a space id", key="context.spaceId")
        async with self.pool().acquire() as conn:
            environment = await queries.space_environment(conn, space_id)
        if environment != principal.environment_id:
            raise NotFoundError(f"space {space_id} not found", key="context.spaceId")
        limit = _limit(principal.workbook_ids, principal.actor, space_id)
        if principal.kind == "guest" and limit is not None:
            await self._check_sees(command.context, limit)
        return space_id

    async def _check_sees(self, context: dict[str, Any], limit: queries.Limit) -> None:
        """A guest limited to some workbooks publishes only about what it sees: a context naming
        another workbook, sheet or file is not found (never confirmed), so that an event it posts
        can never make another guest's file look like its own upload."""
        named = {key: context[key] for key in ("workbookId", "sheetId", "fileId") if context.get(key) is not None}
        if not named:
            return
        async with self.pool().acquire() as conn:
            if await queries.sees_context(conn, named, limit):
                return
            for key, value in named.items():
                if not await queries.sees_context(conn, {key: value}, limit):
                    raise NotFoundError(f"{key.removesuffix('Id')} {value} not found", key=f"context.{key}")
        raise NotFoundError("the context names what this guest cannot see", key="context")

    async def read(self, query: ReadEvents) -> EventBatch:
        limit = max(1, min(query.limit, MAX_READ_LIMIT))
        position, slot = await self._cursor(query)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + max(0.0, min(query.wait, MAX_READ_WAIT))
        while True:
            signal = self.signal.signal()  # taken before the query: a commit after it wakes us
            async with self.pool().acquire() as conn:
                found = await queries.after(conn, query.filter, position, limit, slot)
            remaining = deadline - loop.time()
            if found or remaining <= 0:
                break
            await self.signal.wait(signal, remaining)
        if found:
            position, slot = found[-1].position, found[-1].slot
        events = await self._packed([f.event for f in found])
        return EventBatch(events=events, count=len(found), position=position, slot=slot)

    async def _cursor(self, query: ReadEvents) -> tuple[int, int]:
        """(position, slot) to read after (`EventBatch`)."""
        if query.after_position is not None:
            slot = query.after_slot if query.after_slot is not None else query.after_position
            return query.after_position, slot
        async with self.pool().acquire() as conn:
            if query.after is None:
                newest = (await queries.newest(conn))[0]
                return newest, newest
            known = await queries.position_of(conn, query.after, query.filter)
        if known is None or known[2] != query.filter.environment_id:
            raise ValidationFailedError(f"unknown event id {query.after!r} to resume after", key="Last-Event-ID")
        return known[0], known[1]

    async def _caught_up(self, position: int) -> None:
        if position and not await self.runner().wait_for(position, CATCH_UP):
            raise ServiceUnavailableError("the event feed is behind; the write landed, retry the read shortly")


def _limit(workbook_ids: list[str] | None, actor: str | None, space_id: str | None) -> queries.Limit | None:
    """What a guest limited to some workbooks sees (None: the guest is not limited)."""
    if workbook_ids is None:
        return None
    return queries.Limit(workbook_ids=workbook_ids, actor=actor, space_id=space_id)


def feed_ref(environment_id: str, space_id: str | None, event_id: str) -> AggregateRef:
    return AggregateRef(environment_id=environment_id, space_id=space_id, aggregate=AGGREGATE, aggregate_id=event_id)


async def _nothing(_: AppendResult) -> None:
    return None
