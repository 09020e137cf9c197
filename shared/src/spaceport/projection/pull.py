"""Pull requests bounded in bytes as well as in messages, answered on an inbox of our own.

nats-py's `PullSubscription.fetch` asks a consumer for a number of messages only. A projection
of bulk events (records: up to 512 KB each) asks for up to `batch` x 512 KB at once, and every
runner of a process shares the process's one NATS connection. nats-server buffers at most
`max_pending` (64 MB) of outbound data for a client and closes the connection of a client that
falls further behind ("Slow Consumer Detected"). The job service, started late against a backlog
of record events, had its feed, metrics and history runners ask for ~50 MB each (and prefetch as
much again): the server reset the connection, batches arrived with holes ("deliveries never
arrived"), and after each reconnect every runner asked again, so it never caught up. Here each
request also carries `max_bytes` (JetStream stops the batch there), so what one runner has in
flight on the connection stays below `max_bytes` whatever the size of the events.

Deliveries arrive on `<inbox>.<request number>`. Data messages are taken in arrival order,
whichever request they answer (a lingering request may still deliver after its fetch returned:
its messages are the next deliveries, so they open the next batch); a status message (404 no
messages, 408 expired, 409 max bytes reached) ends only the request it answers.
"""

from __future__ import annotations

import asyncio
import collections
import json

from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription

FETCH_MAX_BYTES = 8 * 1024 * 1024  # per request; three bulk runners stay far below the server's 64 MB
_PENDING_BYTES = 256 * 1024 * 1024  # the client-side queue of our inbox (nats-py's JetStream default)
_PENDING_MSGS = 512 * 1024
_HEARTBEAT = "100"
# A request ends without error: none now (no wait), none before it expired, or a conflict that
# ends the batch (max bytes reached, batch completed, too many waiting requests, leader change).
_ENDS = ("404", "408", "409")
_TOO_BIG = "409 Message Size Exceeds MaxBytes"  # the batch reached max_bytes, or its next message alone does


class PullError(Exception):
    """The consumer answered a pull request with an error (deleted, no responders, leader change)."""


class BoundedPull:
    """A bound pull "subscription" on durable consumer `consumer` of `stream`."""

    def __init__(self, nc: Client, stream: str, consumer: str, *, max_bytes: int = FETCH_MAX_BYTES) -> None:
        self._nc = nc
        self._next_subject = f"$JS.API.CONSUMER.MSG.NEXT.{stream}.{consumer}"
        self._inbox = nc.new_inbox()
        self._max_bytes = max_bytes
        self._sub: Subscription | None = None
        self._queue: collections.deque[Msg] = collections.deque()
        self._ended: dict[str, str] = {}  # request number -> the status (and description) that ended it
        self._arrived = asyncio.Event()
        self._requests = 0

    async def subscribe(self) -> BoundedPull:
        self._sub = await self._nc.subscribe(
            f"{self._inbox}.*", cb=self._received, pending_msgs_limit=_PENDING_MSGS, pending_bytes_limit=_PENDING_BYTES
        )
        return self

    async def unsubscribe(self) -> None:
        if self._sub is not None:
            sub, self._sub = self._sub, None
            await sub.unsubscribe()

    async def _received(self, msg: Msg) -> None:
        status = msg.headers.get("Status") if msg.headers and not msg.data else None
        if status is None:
            self._queue.append(msg)
        elif status != _HEARTBEAT:
            description = msg.headers.get("Description", "") if msg.headers else ""
            self._ended[msg.subject.rpartition(".")[2]] = f"{status} {description}".strip()
        self._arrived.set()

    async def fetch(self, batch: int, timeout: float) -> list[Msg]:
        """Up to `batch` messages (and about `max_bytes`); [] if none came within `timeout`.

        First what earlier requests delivered late, else what the consumer has now (no wait),
        else the first messages to arrive within `timeout` (a lingering request)."""
        deadline = asyncio.get_running_loop().time() + timeout
        if not self._queue:
            ended = await self._ask(batch, deadline, linger=False)
            if ended == _TOO_BIG and not self._queue:
                await self._ask(1, deadline, linger=False, bounded=False)  # one event above max_bytes
            if not self._queue:
                await self._ask(batch, deadline, linger=True)
        taken: list[Msg] = []
        while self._queue and len(taken) < batch:
            taken.append(self._queue.popleft())
        return taken

    async def _ask(self, batch: int, deadline: float, *, linger: bool, bounded: bool = True) -> str | None:
        """Send one pull request and wait until it is answered: the status that ended it, if any.

        A request without wait ends with its batch or a status; a lingering one as soon as
        anything arrived (its other messages, if any, come to the queue for the next fetch)."""
        loop = asyncio.get_running_loop()
        self._requests += 1
        token = str(self._requests)
        request: dict[str, object] = {"batch": batch}
        if bounded:
            request["max_bytes"] = self._max_bytes
        if linger:
            remaining = deadline - loop.time()
            if remaining <= 0.01:
                return None
            request["expires"] = int(remaining * 1e9) - 5_000_000  # it expires before we stop waiting
        else:
            request["no_wait"] = True
        await self._nc.publish(self._next_subject, json.dumps(request).encode(), reply=f"{self._inbox}.{token}")
        while token not in self._ended:
            if len(self._queue) >= batch or (linger and self._queue):
                break
            remaining = deadline - loop.time()
            if remaining <= 0:
                break
            self._arrived.clear()
            try:
                await asyncio.wait_for(self._arrived.wait(), remaining)
            except TimeoutError:
                break
        ended = self._ended.pop(token, None)
        if len(self._ended) > 64:  # statuses of requests that ended after we stopped waiting
            self._ended.clear()
        if ended is not None and not ended.startswith(_ENDS):
            raise PullError(f"pull request on {self._next_subject} answered {ended!r}")
        return ended
