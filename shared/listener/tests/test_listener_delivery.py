"""Transport and delivery: SSE resume with Last-Event-ID, dedup, acks and the at-least-once cursor."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
import pytest

from spaceport_listener import Backoff, FileCursor, FlatfileEvent, FlatfileListener, MemoryCursor, serve
from spaceport_listener.testing import FakeFlatfileServer

pytestmark = pytest.mark.unit

BASE_URL = "http://spaceport.test/v1"


async def no_wait(_: float) -> None:
    await asyncio.sleep(0)


def recording_listener(seen: list[str], topics: str = "**") -> FlatfileListener:
    listener = FlatfileListener()
    listener.on(topics, lambda event: seen.append(event.id))
    return listener


async def run_until_drained(
    server: FakeFlatfileServer, listener: FlatfileListener, cursor: MemoryCursor | FileCursor | None = None
) -> None:
    server.drained.clear()
    await asyncio.wait_for(
        serve(
            listener,
            BASE_URL,
            "sk_test",
            environment_id=server.environment_id,
            cursor=cursor,
            transport=httpx.MockTransport(server.handle),
            stop=server.drained,
            sleep=no_wait,
        ),
        timeout=5,
    )


async def test_events_are_dispatched_acked_and_the_cursor_moves() -> None:
    server = FakeFlatfileServer()
    events = [server.add_event("space:created"), server.add_event("file:created")]
    seen: list[str] = []
    cursor = MemoryCursor()
    await run_until_drained(server, recording_listener(seen), cursor)
    assert seen == [e["id"] for e in events]
    assert server.acked == seen
    assert cursor.event_id == events[-1]["id"]
    [stream] = server.requests("GET", "/v1/events/stream")
    assert stream.params == {"environmentId": "us_env_1"}
    assert stream.headers["authorization"] == "Bearer sk_test"


async def test_events_no_handler_matches_are_not_acked_but_are_passed() -> None:
    server = FakeFlatfileServer()
    server.add_event("space:created")
    wanted = server.add_event("commit:created")
    seen: list[str] = []
    cursor = MemoryCursor()
    await run_until_drained(server, recording_listener(seen, "commit:*"), cursor)
    assert seen == server.acked == [wanted["id"]]
    assert cursor.event_id == wanted["id"]


async def test_a_dropped_connection_resumes_with_last_event_id_missing_and_repeating_nothing() -> None:
    server = FakeFlatfileServer(drop_after=[2, 1])
    events = [server.add_event("records:created") for _ in range(5)]
    seen: list[str] = []
    await run_until_drained(server, recording_listener(seen))
    assert seen == [e["id"] for e in events]
    resumes = [headers.get("last-event-id") for headers in server.stream_headers]
    assert resumes == [None, events[1]["id"], events[2]["id"]]


async def test_reconnect_overlap_is_deduplicated_by_event_id() -> None:
    server = FakeFlatfileServer()
    first, second = server.add_event("job:ready"), server.add_event("job:updated")
    server.events.append(dict(first))  # a server replaying an event it already sent
    seen: list[str] = []
    await run_until_drained(server, recording_listener(seen))
    assert seen == [first["id"], second["id"]]


async def test_errors_back_off_exponentially_and_401_is_fatal() -> None:
    delays: list[float] = []

    async def record_sleep(delay: float) -> None:
        delays.append(delay)
        await asyncio.sleep(0)

    attempts = 0

    def flaky(request: httpx.Request) -> httpx.Response:
        nonlocal attempts
        attempts += 1
        if attempts <= 3:
            return httpx.Response(503, json={"errors": [{"message": "starting"}]})
        return httpx.Response(401, json={"errors": [{"message": "bad key"}]})

    with pytest.raises(Exception, match="bad key") as raised:
        await serve(
            FlatfileListener(),
            BASE_URL,
            "sk_test",
            transport=httpx.MockTransport(flaky),
            backoff=Backoff(initial=1, factor=2, maximum=3),
            sleep=record_sleep,
        )
    assert type(raised.value).__name__ == "StreamRejectedError"
    assert delays == [1, 2, 3]


async def test_a_listener_killed_mid_event_gets_the_event_again_and_not_after_success(tmp_path: Path) -> None:
    server = FakeFlatfileServer()
    done = server.add_event("job:ready")
    crashing = server.add_event("commit:created")
    cursor = FileCursor(tmp_path / "cursor")
    started = asyncio.Event()
    handled: list[str] = []

    async def hangs(event: FlatfileEvent) -> None:
        if event.id == crashing["id"]:
            started.set()
            await asyncio.Event().wait()  # the process "dies" here
        handled.append(event.id)

    first_run = FlatfileListener().on("**", hangs)
    task = asyncio.create_task(
        serve(first_run, BASE_URL, "sk_test", cursor=cursor, transport=httpx.MockTransport(server.handle))
    )
    await asyncio.wait_for(started.wait(), timeout=5)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert handled == [done["id"]]
    assert await cursor.load() == done["id"]
    assert server.acked == [done["id"]]

    second: list[str] = []
    await run_until_drained(server, recording_listener(second), FileCursor(tmp_path / "cursor"))
    assert second == [crashing["id"]]
    assert server.stream_headers[-1]["last-event-id"] == done["id"]

    third: list[str] = []
    await run_until_drained(server, recording_listener(third), FileCursor(tmp_path / "cursor"))
    assert third == []


async def test_file_cursor_round_trips_and_starts_empty(tmp_path: Path) -> None:
    cursor = FileCursor(tmp_path / "nested" / "cursor.txt")
    assert await cursor.load() is None
    await cursor.save("us_evt_42")
    assert await FileCursor(tmp_path / "nested" / "cursor.txt").load() == "us_evt_42"
