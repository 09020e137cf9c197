"""`GET /v1/events/stream` read in tests the way a browser's EventSource reads it: whenever a
connection ends (dropped, or quiet past the read timeout), it is opened again after the last
event received with `Last-Event-ID` (the stream resumes with nothing missed or repeated,
tests/test_e2e_sse_resume.py), so `received` is what one subscriber got, in order.

One reader, two ways to run it:

- on the test's own thread (`with EventStream(...) as stream: ...; stream.until(done, what)`):
  opened on entry, before the test's writes (its cursor is fixed once the response starts; the
  events wait in the socket meanwhile), read when the test asks, so no reader thread can outlive
  the test;
- in a thread of its own (`start()` ... `stop()`) that follows the stream until stopped, for a
  test whose other work blocks meanwhile (the fault tests kill servers under it).

It starts at "now", or after the event id `after`.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import msgspec

RETRY_SECONDS = 2.0  # the stream's `retry:` (gateway RETRY_MS): how long an EventSource waits to reconnect
TIMEOUT = httpx.Timeout(10.0, read=60.0)  # read: 4 heartbeats (a keep-alive comment after 15 s of quiet)

Event = dict[str, Any]


class EventStream:
    """A reconnecting SSE subscriber of `/events/stream` on `api` as `headers` (a key's or a
    guest's `Authorization`), with `params` (e.g. `spaceId`)."""

    def __init__(
        self,
        api: str,
        headers: dict[str, str],
        *,
        params: dict[str, str] | None = None,
        after: str | None = None,
        retry: float = RETRY_SECONDS,
    ) -> None:
        self.api = api
        self.headers = {**headers, "Accept": "text/event-stream"}
        self.params = params or {}
        self.after = after
        self.retry = retry
        self.received: list[Event] = []
        self.connections = 0  # connections answered 200
        self._client: httpx.Client | None = None
        self._reply: httpx.Response | None = None
        self._lines: Iterator[str] = iter(())
        self._data: list[str] = []  # the `data:` lines of the event being read
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # ---- one connection ----------------------------------------------------------------------

    def open(self) -> None:
        """A connection after the last event received (or `after`; neither: from "now"), read by
        `until` or the thread. Raises httpx.TransportError if not answered, AssertionError if not 200."""
        self.close()
        last = self.received[-1]["id"] if self.received else self.after
        headers = {**self.headers, **({"Last-Event-ID": last} if last else {})}
        self._client = httpx.Client(base_url=self.api, headers=headers, timeout=TIMEOUT)
        request = self._client.build_request("GET", "/events/stream", params=self.params)
        self._reply = reply = self._client.send(request, stream=True)
        if reply.status_code != 200:
            body = reply.read().decode(errors="replace")[:500]
            self.close()
            raise AssertionError(f"GET /events/stream answered {reply.status_code}: {body}")
        self.connections += 1
        self._lines = reply.iter_lines()

    def close(self) -> None:
        """End the connection (an event half read is dropped: the next connection sends it again)."""
        self._lines, self._data = iter(()), []
        if self._reply is not None:
            self._reply.close()
            self._reply = None
        if self._client is not None:
            self._client.close()
            self._client = None

    def _read_line(self) -> bool:
        """Read one line of the connection (an event's data, the blank line that ends it, a
        comment, ...); False once the connection ended (closed, dropped, or quiet past the read
        timeout), which it then closes."""
        try:
            line = next(self._lines)
        except (StopIteration, httpx.TransportError):
            self.close()
            return False
        if line.startswith("data:"):
            self._data.append(line[5:].lstrip())
        elif not line and self._data:  # `id:`, `event:` and `retry:` say nothing the data does not
            self.received.append(msgspec.json.decode("\n".join(self._data)))
            self._data = []
        return True

    # ---- on the test's thread ----------------------------------------------------------------

    def __enter__(self) -> EventStream:
        try:
            self.open()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *_: object) -> None:
        self.stop()
        self.close()

    def until(self, done: Callable[[list[Event]], bool], what: str, seconds: float = 180.0) -> None:
        """Read until `done(received)`, reconnecting as an EventSource does; the bound is checked
        at each line (a keep-alive comment comes after each quiet heartbeat) and each reconnection."""
        deadline = time.monotonic() + seconds
        while not done(self.received):
            assert time.monotonic() < deadline, f"{what} never came ({len(self.received)} events came)"
            if not self._read_line():
                self._reopen(deadline)

    def _reopen(self, deadline: float) -> None:
        while True:
            time.sleep(self.retry)
            try:
                self.open()
            except httpx.TransportError:
                assert time.monotonic() < deadline, "the stream could not be opened again"
            else:
                return

    # ---- in a thread of its own ----------------------------------------------------------------

    def start(self) -> None:
        """Follow the stream in a thread until `stop()` (checked at each line); `connections`
        counts its connections."""
        self._thread = threading.Thread(target=self._follow, daemon=True, name="sse-stream")
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(30)
            self._thread = None

    def _follow(self) -> None:
        while not self._stop.is_set():
            with contextlib.suppress(httpx.HTTPError, msgspec.DecodeError, AssertionError):  # again, as a browser
                self.open()
                while not self._stop.is_set() and self._read_line():
                    pass
            self.close()
            self._stop.wait(self.retry)
