"""Delivery: each event is deduplicated, dispatched, acked, and only then recorded in the cursor.

That order makes delivery at-least-once: a listener that dies while a handler runs has not
moved its cursor, so on restart it resumes before that event and gets it again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import OrderedDict
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import httpx

from spaceport_listener.client import ApiRequestError, Connection
from spaceport_listener.cursor import Cursor, MemoryCursor
from spaceport_listener.stream import Backoff, EventStream, Sleep

if TYPE_CHECKING:
    from spaceport_listener.listener import FlatfileListener

__all__ = ["Delivery", "serve"]

log = logging.getLogger("spaceport_listener")


ACKS_IN_FLIGHT = 8


class Delivery:
    """Handles one event at a time; remembers the last `remember` ids to drop reconnect overlap.

    Acks go out in the background (at most ACKS_IN_FLIGHT at once): they are bookkeeping for
    pollers, and the cursor, saved as soon as the handlers are done, is what decides redelivery.
    So a listener handles events at the rate of its handlers, not of ack round trips.
    """

    def __init__(
        self,
        listener: FlatfileListener,
        connection: Connection,
        cursor: Cursor,
        *,
        remember: int = 10_000,
        acknowledge: bool = True,
    ) -> None:
        self.listener = listener
        self.acknowledge = acknowledge
        self.connection = connection
        self.cursor = cursor
        self.remember = remember
        self._seen: OrderedDict[str, None] = OrderedDict()
        self._acks: set[asyncio.Task[None]] = set()
        self._ack_slots = asyncio.Semaphore(ACKS_IN_FLIGHT)

    async def deliver(self, src: Mapping[str, Any]) -> bool:
        """False for a duplicate; otherwise runs the handlers, acks if any matched, saves the cursor."""
        event_id = str(src.get("id") or "")
        if event_id and event_id in self._seen:
            log.debug("skipping duplicate event %s", event_id)
            return False
        matched = await self.listener.dispatch_event(src, self.connection)
        if event_id:
            if matched and self.acknowledge:
                await self._ack_slots.acquire()  # waits only while ACKS_IN_FLIGHT acks are out
                task = asyncio.create_task(self._ack(event_id))
                self._acks.add(task)
                task.add_done_callback(self._acks.discard)
            await self.cursor.save(event_id)
            self._remember(event_id)
        return True

    async def flush(self) -> None:
        """Wait for the acks still in flight (on stop)."""
        if self._acks:
            await asyncio.gather(*self._acks, return_exceptions=True)

    async def _ack(self, event_id: str) -> None:
        try:
            await self.connection.request("POST", f"events/{event_id}/ack")
        except (ApiRequestError, httpx.HTTPError) as error:
            # the ack is bookkeeping for pollers; the cursor, not the ack, decides redelivery here
            log.warning("could not ack event %s: %s", event_id, error)
        finally:
            self._ack_slots.release()

    def _remember(self, event_id: str) -> None:
        self._seen[event_id] = None
        while len(self._seen) > self.remember:
            self._seen.popitem(last=False)


async def serve(
    listener: FlatfileListener,
    base_url: str,
    token: str,
    *,
    environment_id: str | None = None,
    space_id: str | None = None,
    cursor: Cursor | None = None,
    transport: httpx.AsyncBaseTransport | None = None,
    http: httpx.AsyncClient | None = None,
    stop: asyncio.Event | None = None,
    acknowledge: bool = True,
    backoff: Backoff | None = None,
    sleep: Sleep = asyncio.sleep,
) -> None:
    """Consume the events stream for an environment and/or space until `stop` is set.

    `stop` lets the event in hand finish first. `acknowledge=False` skips `POST /events/{id}/ack`
    for handled events (the cursor alone decides redelivery; acks only matter to pollers that list
    `includeAcknowledged=false`). `transport` / `http` inject the HTTP layer
    (an `httpx.MockTransport` in tests, or an ASGI transport in integration tests).
    """
    connection = Connection(base_url, token, transport=transport, http=http)
    store = cursor if cursor is not None else MemoryCursor()
    stop = stop or asyncio.Event()
    try:
        stream = EventStream(
            connection,
            params={"environmentId": environment_id, "spaceId": space_id},
            last_event_id=await store.load(),
            backoff=backoff,
            sleep=sleep,
            stop=stop,
        )
        delivery = Delivery(listener, connection, store, acknowledge=acknowledge)
        try:
            await _consume(stream, delivery, stop)
        finally:
            await delivery.flush()
    finally:
        await connection.aclose()


async def _consume(stream: EventStream, delivery: Delivery, stop: asyncio.Event) -> None:
    busy = False

    async def loop() -> None:
        nonlocal busy
        async with contextlib.aclosing(stream.events()) as events:
            async for src in events:
                busy = True
                try:
                    await delivery.deliver(src)
                finally:
                    busy = False
                if src.get("id"):
                    stream.confirm(str(src["id"]))
                if stop.is_set():
                    return

    task = asyncio.create_task(loop())
    stopper = asyncio.create_task(stop.wait())
    try:
        await asyncio.wait({task, stopper}, return_when=asyncio.FIRST_COMPLETED)
        if not task.done() and not busy:
            task.cancel()
        await asyncio.wait({task})
    finally:
        stopper.cancel()
        if not task.done():
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
    error = None if task.cancelled() else task.exception()
    if error is not None:
        raise error
