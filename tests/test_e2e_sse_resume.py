"""An SSE subscriber that disconnects for 30 seconds during 100,000 record inserts resumes with
`Last-Event-ID` and receives every event of the space exactly once and in order.

"Every event" is checked two ways: the ids received equal, in order, the space's events as
`GET /v1/events` lists them (ascending); and the `recordIds` of the `records:created` events
are exactly the sheet's 100,000 records, each once.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import msgspec
import pytest

from spaceport.testing.platform import Platform

TOTAL = 100_000
PER_REQUEST = 250  # 400 inserts: 400 records:created + 400 commit:created events
DISCONNECTED_FOR = 30.0

PEOPLE: dict[str, Any] = {
    "name": "People",
    "slug": "people",
    "fields": [{"key": "email", "type": "string"}, {"key": "n", "type": "number"}],
}


@pytest.fixture
def api(platform: Platform) -> Iterator[httpx.Client]:
    with platform.client(timeout=120) as client:
        yield client


def read_stream(
    platform: Platform, params: dict[str, str], last_id: str | None, stop: threading.Event, until: int | None = None
) -> list[dict[str, Any]]:
    """Events from `GET /events/stream` until `stop` is set (checked per line) or `until` events."""
    headers = {"Accept": "text/event-stream"}
    if last_id is not None:
        headers["Last-Event-ID"] = last_id
    events: list[dict[str, Any]] = []
    with (
        platform.client(timeout=60) as client,
        client.stream("GET", "/events/stream", params=params, headers=headers) as reply,
    ):
        assert reply.status_code == 200, reply.read()
        assert reply.headers["content-type"].startswith("text/event-stream")
        data: list[str] = []
        sse_id: str | None = None
        for line in reply.iter_lines():
            if line.startswith("id:"):
                sse_id = line[3:].strip()
            elif line.startswith("data:"):
                data.append(line[5:].lstrip())
            elif not line and data:
                event = msgspec.json.decode("\n".join(data))
                assert sse_id == event["id"], "the SSE id is the event id"
                events.append(event)
                data, sse_id = [], None
                if until is not None and len(events) >= until:
                    break
            if stop.is_set():
                break
    return events


def eventually_listed(api: httpx.Client, space_id: str, topic: str) -> list[dict[str, Any]]:
    """The space's events once one with `topic` is among them (the feed trails writes a little)."""
    deadline = time.monotonic() + 30
    while True:
        events = all_events(api, space_id)
        if any(e["topic"] == topic for e in events):
            return events
        assert time.monotonic() < deadline, f"no {topic} event in the feed"
        time.sleep(0.2)


def all_events(api: httpx.Client, space_id: str) -> list[dict[str, Any]]:
    """Every event of the space, ascending, through the paged list."""
    events: list[dict[str, Any]] = []
    page = 1
    while True:
        reply = api.get(
            "/events", params={"spaceId": space_id, "pageSize": 1000, "pageNumber": page, "includeAcknowledged": "true"}
        )
        assert reply.status_code == 200, reply.text
        batch = reply.json()["data"]
        events += batch
        if len(batch) < 1000:
            return events
        page += 1


def test_sse_subscriber_disconnected_30s_during_100k_inserts_gets_every_event_once_in_order(
    platform: Platform, api: httpx.Client
) -> None:
    space_id = api.post("/spaces", json={"name": "sse resume"}).json()["data"]["id"]
    workbook = api.post("/workbooks", json={"name": "W", "spaceId": space_id, "sheets": [PEOPLE]})
    assert workbook.status_code == 200, workbook.text
    sheet_id = workbook.json()["data"]["sheets"][0]["id"]
    params = {"spaceId": space_id}

    failures: list[BaseException] = []
    inserted = threading.Event()

    def insert_all() -> None:
        try:
            with platform.client(timeout=120) as writer:
                for start in range(0, TOTAL, PER_REQUEST):
                    body = [
                        {"email": {"value": f"u{i}@x.io"}, "n": {"value": i}} for i in range(start, start + PER_REQUEST)
                    ]
                    reply = writer.post(f"/sheets/{sheet_id}/records", json=body)
                    assert reply.status_code == 200, reply.text
        except BaseException as error:  # reported by the test thread
            failures.append(error)
        finally:
            inserted.set()

    # First connection: after the space's last event so far (its sheet:created), so it is
    # independent of when the connection is established; it reads a handful of insert events.
    before = eventually_listed(api, space_id, "sheet:created")
    cursor = before[-1]["id"]
    stop = threading.Event()
    writer = threading.Thread(target=insert_all, daemon=True)
    first: list[dict[str, Any]] = []

    def first_connection() -> None:
        first.extend(read_stream(platform, params, cursor, stop, until=40))

    reader = threading.Thread(target=first_connection, daemon=True)
    reader.start()
    writer.start()
    reader.join(timeout=120)
    assert not reader.is_alive(), "the first connection got no events"
    assert len(first) == 40
    assert any(e["topic"] == "records:created" for e in first)

    # Disconnected while the inserts go on.
    time.sleep(DISCONNECTED_FOR)
    assert not failures, failures
    inserted.wait(timeout=600)
    assert not failures, failures

    assert api.get(f"/sheets/{sheet_id}/counts").json()["data"]["counts"]["total"] == TOTAL
    # The writes are done; wait until the feed has projected all of them (one commit:created each).
    deadline = time.monotonic() + 120
    while True:
        everything = all_events(api, space_id)
        commits = sum(1 for e in everything if e["topic"] == "commit:created")
        if commits == TOTAL // PER_REQUEST:
            break
        assert time.monotonic() < deadline, f"the feed has {commits} commit:created events"
        time.sleep(0.5)
    ids = [e["id"] for e in everything]
    expected = ids[ids.index(cursor) + 1 :]

    # Second connection: resume after the last event the first one saw.
    rest = read_stream(platform, params, first[-1]["id"], threading.Event(), until=len(expected) - len(first))
    received = [e["id"] for e in first + rest]
    assert len(received) == len(set(received)), "no event twice"
    assert received == expected, "every event of the space, in order"

    assert {"records:created", "commit:created"} <= {e["topic"] for e in rest}
    record_ids = [rid for e in first + rest if e["topic"] == "records:created" for rid in e["payload"]["recordIds"]]
    assert len(record_ids) == TOTAL
    assert len(set(record_ids)) == TOTAL
    commit_ids = [e["context"]["commitId"] for e in first + rest if e["topic"] == "commit:created"]
    assert len(commit_ids) == TOTAL // PER_REQUEST == len(set(commit_ids))
