"""Flatfile events through the gateway and every service: the list and its context, acks, other
environments, bad input, the SSE stream resumed with Last-Event-ID, custom events, the official
SDK, and the OpenAPI and AsyncAPI documents."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import httpx
import msgspec
import pytest
from flatfile import Flatfile

from spaceport.testing.platform import Platform

CONTACTS: dict[str, Any] = {"name": "Contacts", "slug": "contacts", "fields": [{"key": "name", "type": "string"}]}


def ok(reply: httpx.Response) -> Any:
    assert reply.status_code == 200, reply.text
    return reply.json()["data"]


@pytest.fixture(scope="module")
def api(platform: Platform) -> Iterator[httpx.Client]:
    with platform.client(timeout=30) as client:
        yield client


@pytest.fixture(scope="module")
def sheet(api: httpx.Client) -> dict[str, str]:
    space = ok(api.post("/spaces", json={"name": "events", "namespace": "red"}))["id"]
    workbook = ok(api.post("/workbooks", json={"name": "W", "spaceId": space, "sheets": [CONTACTS]}))
    sheet_id = workbook["sheets"][0]["id"]
    written = ok(api.post(f"/sheets/{sheet_id}/records", json=[{"name": {"value": "Ada"}}, {"name": {"value": "Bo"}}]))
    return {"space": space, "workbook": workbook["id"], "sheet": sheet_id, "commit": written.get("commitId", "")}


def events(api: httpx.Client, space: str, until: str, **params: Any) -> list[dict[str, Any]]:
    """The space's events once one with topic `until` is listed (the feed lags its writes a little)."""
    deadline = time.monotonic() + 20
    while True:
        listed: list[dict[str, Any]] = ok(api.get("/events", params={"spaceId": space, "pageSize": 1000, **params}))
        if any(e["topic"] == until for e in listed) or time.monotonic() > deadline:
            return listed
        time.sleep(0.1)


def test_the_list_shows_every_step_with_its_context(api: httpx.Client, sheet: dict[str, str]) -> None:
    listed = events(api, sheet["space"], "commit:created")
    topics = [e["topic"] for e in listed]
    assert topics[:5] == ["space:created", "workbook:created", "sheet:created", "records:created", "commit:created"]
    by_topic = {e["topic"]: e for e in listed}
    commit = by_topic["commit:created"]
    assert commit["domain"] == "workbook"
    assert commit["dataUrl"] == f"v1/sheets/{sheet['sheet']}/records?commitId={commit['context']['commitId']}"
    context = commit["context"]
    assert context["sheetId"] == sheet["sheet"] and context["sheetSlug"] == "contacts"
    assert context["workbookId"] == sheet["workbook"] and context["spaceId"] == sheet["space"]
    assert commit["namespaces"] == ["space:red"] == context["namespaces"]
    assert commit["payload"]["trackChanges"] is False
    created = by_topic["records:created"]
    assert created["payload"]["recordCount"] == 2 and len(created["payload"]["recordIds"]) == 2
    assert by_topic["sheet:created"]["payload"]["slug"] == "contacts"
    # The data URL works as a listener uses it: relative to the API root.
    records = ok(api.get(f"/sheets/{sheet['sheet']}/records", params={"commitId": context["commitId"]}))["records"]
    assert sorted(r["id"] for r in records) == sorted(created["payload"]["recordIds"])
    one = ok(api.get(f"/events/{commit['id']}"))
    assert one["id"] == commit["id"] and one["topic"] == "commit:created"
    only_jobs = ok(api.get("/events", params={"spaceId": sheet["space"], "topic": "records:*"}))
    assert {e["topic"] for e in only_jobs} == {"records:created"}


def test_ack_hides_an_event_and_another_environment_cannot_ack(
    platform: Platform, api: httpx.Client, sheet: dict[str, str]
) -> None:
    event = next(e for e in events(api, sheet["space"], "records:created") if e["topic"] == "records:created")
    other = ok(api.post("/environments", json={"name": "events other", "isProd": False}))
    stranger = {"Authorization": f"Bearer {other['secretKey']}"}
    assert api.post(f"/events/{event['id']}/ack", headers=stranger).status_code == 404
    assert api.get(f"/events/{event['id']}", headers=stranger).status_code == 404
    assert ok(api.get("/events", headers=stranger)) == [] or all(
        e["context"]["environmentId"] == other["id"] for e in ok(api.get("/events", headers=stranger))
    )
    assert ok(api.post(f"/events/{event['id']}/ack")) == {"success": True}
    assert ok(api.post(f"/events/{event['id']}/ack")) == {"success": True}  # twice: still success
    hidden = ok(api.get("/events", params={"spaceId": sheet["space"], "pageSize": 1000}))
    assert event["id"] not in [e["id"] for e in hidden]
    shown = ok(api.get("/events", params={"spaceId": sheet["space"], "pageSize": 1000, "includeAcknowledged": "true"}))
    acked = next(e for e in shown if e["id"] == event["id"])
    assert acked["acknowledgedAt"] is not None and acked["acknowledgedBy"]


@pytest.mark.parametrize(
    ("params", "headers", "key"),
    [
        ({"topic": "nope:never"}, {}, "job:ready"),
        ({"domain": "nowhere"}, {}, "workbook"),
        ({"since": "yesterday"}, {}, "since"),
        ({"pageSize": "0"}, {}, "pageSize"),
        ({"pageSize": "many"}, {}, "pageSize"),
    ],
)
def test_bad_list_input_is_a_400(api: httpx.Client, params: dict[str, str], headers: dict[str, str], key: str) -> None:
    reply = api.get("/events", params=params, headers=headers)
    assert reply.status_code == 400, reply.text
    assert key in reply.text


def test_an_unknown_last_event_id_is_a_400(api: httpx.Client, sheet: dict[str, str]) -> None:
    reply = api.get("/events/stream", params={"spaceId": sheet["space"]}, headers={"Last-Event-ID": "us_evt_nothing"})
    assert reply.status_code == 400, reply.text
    assert api.get("/events/stream", params={"topic": "bogus"}).status_code == 400
    assert api.get("/events", params={"since": "2024-01-01T00:00:00Z"}).status_code == 200


def read_stream(platform: Platform, params: dict[str, str], last_id: str, count: int) -> list[dict[str, Any]]:
    received: list[dict[str, Any]] = []
    headers = {"Last-Event-ID": last_id, "Accept": "text/event-stream"}
    with (
        platform.client(timeout=30) as client,
        client.stream("GET", "/events/stream", params=params, headers=headers) as reply,
    ):
        assert reply.status_code == 200
        assert reply.headers["content-type"].startswith("text/event-stream")
        sse_id, sse_event = "", ""
        for line in reply.iter_lines():
            if line.startswith("id:"):
                sse_id = line[3:].strip()
            elif line.startswith("event:"):
                sse_event = line[6:].strip()
            elif line.startswith("data:"):
                event = msgspec.json.decode(line[5:].strip())
                assert (event["id"], event["topic"]) == (sse_id, sse_event)
                received.append(event)
                if len(received) == count:
                    break
    return received


def test_the_stream_resumes_after_last_event_id_exactly(
    platform: Platform, api: httpx.Client, sheet: dict[str, str]
) -> None:
    params = {"spaceId": sheet["space"]}
    before = events(api, sheet["space"], "commit:created", includeAcknowledged="true")
    first = read_stream(platform, params, before[0]["id"], len(before) - 1)
    assert [e["id"] for e in first] == [e["id"] for e in before[1:]]
    for n in range(3):  # written while no one is connected
        ok(api.post(f"/sheets/{sheet['sheet']}/records", json=[{"name": {"value": f"later {n}"}}]))
    after = events(api, sheet["space"], "commit:created", includeAcknowledged="true")
    deadline = time.monotonic() + 20
    while sum(e["topic"] == "commit:created" for e in after) < 4 and time.monotonic() < deadline:
        time.sleep(0.1)
        after = events(api, sheet["space"], "commit:created", includeAcknowledged="true")
    later = [e["id"] for e in after[len(before) :]]
    assert len(later) == 6  # records:created + commit:created per write
    resumed = read_stream(platform, params, first[-1]["id"], len(later))
    assert [e["id"] for e in resumed] == later


def test_custom_events_and_the_sdk(platform: Platform, api: httpx.Client, sheet: dict[str, str]) -> None:
    body = {
        "topic": "job:ready",
        "domain": "job",
        "payload": {"job": "space:configure"},
        "context": {"spaceId": sheet["space"], "jobId": "us_jb_custom"},
    }
    posted = ok(api.post("/events", json=body))
    assert posted["id"].startswith("us_evt_") and posted["context"]["jobId"] == "us_jb_custom"
    assert api.post("/events", json={**body, "topic": "job:whatever"}).status_code == 400
    client = Flatfile(token=platform.secret_key, base_url=platform.api)
    listed = client.events.list(space_id=sheet["space"], include_acknowledged=True, page_size=1000).data
    assert posted["id"] in [e.id for e in listed]
    got = client.events.get(posted["id"]).data
    assert got.id == posted["id"] and got.topic == "job:ready"
    acked = client.events.ack(posted["id"]).data
    assert acked is not None and acked.success
    assert posted["id"] not in [e.id for e in client.events.list(space_id=sheet["space"], page_size=1000).data]


def test_openapi_and_asyncapi_documents(api: httpx.Client, platform: Platform) -> None:
    openapi = httpx.get(f"{platform.api}/openapi.json", timeout=30)
    assert openapi.status_code == 200, openapi.text
    assert "/v1/events" in openapi.json()["paths"]
    asyncapi = httpx.get(f"{platform.api}/asyncapi.json", timeout=30).json()
    assert asyncapi["asyncapi"].startswith("3.")
    assert any("job" in channel["address"] for channel in asyncapi["channels"].values())
    assert "FlatfileEvent" in asyncapi["components"]["schemas"]
