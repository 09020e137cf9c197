"""A Server-Sent Events decoder (the WHATWG `text/event-stream` rules), fed line by line."""

from __future__ import annotations

from collections.abc import AsyncIterable, AsyncIterator
from dataclasses import dataclass

__all__ = ["SSEDecoder", "ServerSentEvent", "iter_sse"]


@dataclass(frozen=True)
class ServerSentEvent:
    event: str
    data: str
    id: str | None
    retry: int | None


class SSEDecoder:
    """`decode(line)` returns a message at each blank line that ends one; comments (`: …`) are skipped."""

    def __init__(self) -> None:
        self._event = ""
        self._data: list[str] = []
        self._id: str | None = None
        self.retry: int | None = None
        self.last_event_id: str | None = None

    def decode(self, line: str) -> ServerSentEvent | None:
        line = line.rstrip("\r\n")
        if not line:
            return self._dispatch()
        if line.startswith(":"):
            return None
        field, _, value = line.partition(":")
        self._apply(field, value.removeprefix(" "))
        return None

    def _apply(self, field: str, value: str) -> None:
        if field == "event":
            self._event = value
        elif field == "data":
            self._data.append(value)
        elif field == "id" and "\0" not in value:
            self._id = value
        elif field == "retry" and value.isdigit():
            self.retry = int(value)

    def _dispatch(self) -> ServerSentEvent | None:
        if self._id is not None:
            self.last_event_id = self._id
        message = None
        if self._data:
            message = ServerSentEvent(self._event or "message", "\n".join(self._data), self.last_event_id, self.retry)
        self._event, self._data, self._id = "", [], None
        return message


async def iter_sse(lines: AsyncIterable[str]) -> AsyncIterator[ServerSentEvent]:
    """Messages from a stream of lines; an unterminated last message is dropped, as the spec says."""
    decoder = SSEDecoder()
    async for line in lines:
        message = decoder.decode(line)
        if message is not None:
            yield message
