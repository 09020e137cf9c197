"""The events feed: `GET /v1/events/stream` (SSE), resumed with `Last-Event-ID` after every drop."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

import httpx

from spaceport_listener.client import ApiRequestError, Connection, error_message
from spaceport_listener.sse import ServerSentEvent, SSEDecoder

__all__ = ["Backoff", "EventStream", "StreamRejectedError"]

log = logging.getLogger("spaceport_listener")

Sleep = Callable[[float], Awaitable[None]]


class StreamRejectedError(ApiRequestError):
    """The server refused the stream for a reason retrying cannot fix (401, 403)."""


@dataclass(frozen=True)
class Backoff:
    """Exponential reconnect delays: `initial`, `initial*factor`, … capped at `maximum` seconds."""

    initial: float = 0.5
    maximum: float = 30.0
    factor: float = 2.0

    def delay(self, attempt: int) -> float:
        return float(min(self.maximum, self.initial * self.factor ** max(attempt - 1, 0)))


class EventStream:
    """Yields event JSON objects until `stop` is set, reconnecting on errors and clean closes alike.

    `last_event_id` is the resume point sent as `Last-Event-ID`; the consumer moves it with
    `confirm()` once an event is handled, so a reconnect never skips an unhandled event.
    """

    def __init__(
        self,
        connection: Connection,
        *,
        params: Mapping[str, str | None],
        last_event_id: str | None = None,
        backoff: Backoff | None = None,
        sleep: Sleep = asyncio.sleep,
        read_timeout: float = 90.0,
        stop: asyncio.Event | None = None,
    ) -> None:
        self.connection = connection
        self.params = {key: value for key, value in params.items() if value is not None}
        self.last_event_id = last_event_id
        self.backoff = backoff or Backoff()
        self.sleep = sleep
        self.timeout = httpx.Timeout(30.0, read=read_timeout)
        self.stop = stop or asyncio.Event()
        self.connects = 0
        self._retry_ms: int | None = None

    def confirm(self, event_id: str) -> None:
        self.last_event_id = event_id

    async def events(self) -> AsyncGenerator[dict[str, Any], None]:
        failures = 0
        while not self.stop.is_set():
            try:
                async for event in self._connect_once():
                    failures = 0
                    yield event
                delay = self._retry_ms / 1000 if self._retry_ms is not None else self.backoff.initial
                log.info("event stream closed by the server; reconnecting after %s", self.last_event_id)
            except StreamRejectedError:
                raise
            except (httpx.HTTPError, ApiRequestError) as error:
                failures += 1
                delay = self.backoff.delay(failures)
                log.warning("event stream failed (%s); reconnecting in %.1fs", error, delay)
            if not self.stop.is_set():
                await self.sleep(delay)

    async def _connect_once(self) -> AsyncIterator[dict[str, Any]]:
        headers = {**self.connection.headers, "Accept": "text/event-stream", "Cache-Control": "no-cache"}
        if self.last_event_id:
            headers["Last-Event-ID"] = self.last_event_id
        url = self.connection.url_for("events/stream")
        async with self.connection.http.stream(
            "GET", url, params=self.params, headers=headers, timeout=self.timeout
        ) as response:
            self.connects += 1
            if response.status_code != 200:
                await self._reject(response, url)
            log.info("listening on %s (after %s)", url, self.last_event_id or "now")
            decoder = SSEDecoder()
            async for line in response.aiter_lines():
                message = decoder.decode(line)
                self._retry_ms = decoder.retry
                event = _event_of(message) if message is not None else None
                if event is not None:
                    yield event

    @staticmethod
    async def _reject(response: httpx.Response, url: str) -> None:
        await response.aread()
        try:
            message = error_message(response.json())
        except ValueError:
            message = response.text
        error_type = StreamRejectedError if response.status_code in (401, 403) else ApiRequestError
        raise error_type("GET", url, response.status_code, message)


def _event_of(message: ServerSentEvent) -> dict[str, Any] | None:
    try:
        event = json.loads(message.data)
    except json.JSONDecodeError:
        log.warning("skipping SSE message %s: data is not JSON", message.id)
        return None
    if not isinstance(event, dict):
        log.warning("skipping SSE message %s: data is not an event object", message.id)
        return None
    if not event.get("id") and message.id:
        event["id"] = message.id
    if not event.get("topic") and message.event != "message":
        event["topic"] = message.event
    return event
