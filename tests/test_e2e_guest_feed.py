"""The event feed of a guest whose grant names workbooks (`GET /v1/events`, one event, the SSE
stream), end to end: it receives its workbooks' events, the space's own and its own uploads'
(their `file:created`, the extraction's job and workbook), never another workbook's records nor
another guest's upload (file ids included). Same rule as the API's 404s (test_e2e_guest_uploads).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import msgspec
import pytest

from spaceport.testing.platform import Platform
from spaceport.testing.sse import EventStream

CSV = b"Full Name,E-mail\nAda Lovelace,ada@example.com\n"
FIELDS = [{"key": "name", "type": "string"}, {"key": "email", "type": "string"}]


@dataclass(frozen=True)
class Place:
    environment_id: str
    space_id: str
    mine: str  # the workbook both guests are granted
    mine_sheet: str
    other: str  # a workbook neither is granted
    other_sheet: str
    ann: dict[str, str]
    bob: dict[str, str]


def ok(reply: httpx.Response) -> Any:
    assert reply.status_code == 200, reply.text
    return reply.json()["data"]


def wait(check: Callable[[], Any], seconds: float = 60.0) -> Any:
    deadline = time.monotonic() + seconds
    while not (found := check()):
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.2)
    return found


@pytest.fixture(scope="module")
def place(platform: Platform) -> Iterator[Place]:
    with platform.client(timeout=60) as sk:
        environment_id = ok(sk.get("/environments/current"))["id"]
        space_id = ok(sk.post("/spaces", json={"name": "guest feed"}))["id"]
        mine = ok(sk.post("/workbooks", json={"spaceId": space_id, "name": "Mine",
                                              "sheets": [{"name": "People", "fields": FIELDS}]}))  # fmt: skip
        other = ok(sk.post("/workbooks", json={"spaceId": space_id, "name": "Other",
                                               "sheets": [{"name": "Secret", "fields": FIELDS}]}))  # fmt: skip

        def token(name: str) -> dict[str, str]:
            spaces = [{"id": space_id, "role": "editor", "workbooks": [{"id": mine["id"]}]}]
            invite = [{"environmentId": environment_id, "email": f"{name}-{uuid.uuid4().hex[:8]}@example.com",
                       "name": name, "spaces": spaces}]  # fmt: skip
            guest_id = ok(sk.post("/guests", json=invite))[0]["id"]
            found = ok(sk.get(f"/guests/{guest_id}/token", params={"spaceId": space_id}))["token"]
            return {"Authorization": f"Bearer {found}"}

        yield Place(
            environment_id=environment_id,
            space_id=space_id,
            mine=mine["id"],
            mine_sheet=mine["sheets"][0]["id"],
            other=other["id"],
            other_sheet=other["sheets"][0]["id"],
            ann=token("ann"),
            bob=token("bob"),
        )


def upload(http: httpx.Client, place: Place, headers: dict[str, str]) -> dict[str, Any]:
    """Upload as `headers`; the file once extracted (with its source workbook)."""
    form = {"spaceId": place.space_id, "environmentId": place.environment_id}
    created = ok(http.post("/files", data=form, files={"file": ("people.csv", CSV, "text/csv")}, headers=headers))
    found: dict[str, Any] = wait(
        lambda: (f := ok(http.get(f"/files/{created['id']}", headers=headers)))["sheetId"] and f
    )
    return found


def insert(http: httpx.Client, sheet_id: str, name: str) -> list[str]:
    """The new records' ids."""
    inserted = ok(http.post(f"/sheets/{sheet_id}/records", json=[{"name": {"value": name}}]))
    return [r["id"] for r in inserted["records"]]


def listed(http: httpx.Client, place: Place, headers: dict[str, str] | None = None) -> list[dict[str, Any]]:
    params: dict[str, str | int] = {"spaceId": place.space_id, "pageSize": 1000, "includeAcknowledged": "true"}
    events: list[dict[str, Any]] = ok(http.get("/events", params=params, headers=headers or {}))
    return events


def mentions(event: dict[str, Any], *ids: str) -> bool:
    text = msgspec.json.encode(event).decode()
    return any(i in text for i in ids)


def records_created(events: list[dict[str, Any]], record_ids: list[str]) -> bool:
    return any(e["topic"] == "records:created" and e["payload"].get("recordIds") == record_ids for e in events)


def test_a_limited_guest_lists_only_what_it_sees(platform: Platform, place: Place) -> None:
    with platform.client(timeout=60) as http:
        others = insert(http, place.other_sheet, "hidden")
        ours = insert(http, place.mine_sheet, "shown")
        bobs = upload(http, place, place.bob)
        anns = upload(http, place, place.ann)
        everything = wait(lambda: (e := listed(http, place)) and records_created(e, ours) and e)
        wait(lambda: any(e["topic"] == "file:created" for e in listed(http, place, place.ann)))
        # the feed has them all: a secret key sees another workbook's records and both uploads
        assert records_created(everything, others) and records_created(everything, ours)
        for f in (bobs, anns):
            assert any(e["topic"] == "file:created" and e["context"].get("fileId") == f["id"] for e in everything)

        ann = listed(http, place, place.ann)
        assert records_created(ann, ours)  # its workbook's records
        assert any(e["topic"] == "file:created" and e["context"].get("fileId") == anns["id"] for e in ann)
        assert any(e["topic"] == "workbook:created" and e["context"]["workbookId"] == place.mine for e in ann)
        assert any(e["topic"] == "space:created" for e in ann)  # the space's own events stay
        assert not records_created(ann, others)
        assert {e["context"].get("workbookId") for e in ann} <= {None, place.mine, anns["workbookId"]}
        # nothing names bob's upload, its source workbook nor the other workbook
        assert not [e["topic"] for e in ann if mentions(e, bobs["id"], bobs["workbookId"], place.other)]
        bob = listed(http, place, place.bob)
        assert any(e["topic"] == "file:created" and e["context"].get("fileId") == bobs["id"] for e in bob)
        assert not [e["topic"] for e in bob if mentions(e, anns["id"], anns["workbookId"], place.other)]

        # one event: another guest's upload is not found, as another workbook's records are
        [bobs_created] = [e for e in bob if e["topic"] == "file:created" and e["context"]["fileId"] == bobs["id"]]
        hidden = next(e for e in everything if records_created([e], others))
        for event in (bobs_created, hidden):
            for path in (f"/events/{event['id']}", f"/events/{event['id']}/ack"):
                reply = (http.post if path.endswith("ack") else http.get)(path, headers=place.ann)
                assert reply.status_code == 404, reply.text
        assert ok(http.get(f"/events/{bobs_created['id']}", headers=place.bob))["id"] == bobs_created["id"]
        # nor may ann post an event that would make bob's upload look like her own
        body = {"topic": "file:created", "domain": "file", "payload": {}, "context": {"fileId": bobs["id"]}}
        assert http.post("/events", json=body, headers=place.ann).status_code == 404


def stream(platform: Platform, headers: dict[str, str]) -> EventStream:
    """The guest's `GET /events/stream` from "now", read on the test's thread (`EventStream`)."""
    return EventStream(platform.api, headers)


def ids(events: list[dict[str, Any]]) -> set[str]:
    return {e["id"] for e in events}


def test_a_limited_guest_streams_only_what_it_sees(platform: Platform, place: Place) -> None:
    with platform.client(timeout=60) as http, stream(platform, place.ann) as feed:
        # hidden from ann, written first: had they leaked, they would come before ann's own
        others = insert(http, place.other_sheet, "streamed hidden")
        bobs = upload(http, place, place.bob)
        anns = upload(http, place, place.ann)
        ours = insert(http, place.mine_sheet, "streamed shown")
        feed.until(lambda got: records_created(got, ours), "ann's records:created")
        received = feed.received
        everything = listed(http, place)
        assert records_created(everything, others)
        assert any(e["context"].get("fileId") == bobs["id"] for e in everything)

        assert records_created(received, ours)
        assert any(e["topic"] == "file:created" and e["context"].get("fileId") == anns["id"] for e in received)
        assert not records_created(received, others)
        assert not [e["topic"] for e in received if mentions(e, bobs["id"], bobs["workbookId"], place.other)]


def test_a_limited_guest_streams_its_uploads_source_workbook_as_listed(platform: Platform, place: Place) -> None:
    """The stream, opened before the upload, sends the source workbook's events that the list
    shows (the extractor links the file to it only at the end: they come then, in order, once)."""
    with (
        platform.client(timeout=60) as http,
        stream(platform, place.ann) as ann_feed,
        stream(platform, place.bob) as bob_feed,
    ):
        anns = upload(http, place, place.ann)
        source, file_id = anns["workbookId"], anns["id"]
        wait(lambda: ok(http.get("/jobs", params={"fileId": file_id}))[0]["status"] == "complete")
        ann = listed(http, place, place.ann)
        since = ann[
            next(i for i, e in enumerate(ann) if e["topic"] == "file:created" and e["context"]["fileId"] == file_id) :
        ]
        of_source = [e for e in since if e["context"].get("workbookId") == source]
        assert {"workbook:created", "sheet:created", "records:created", "commit:created"} <= {
            e["topic"] for e in of_source
        }
        ann_feed.until(lambda got: ids(since) <= ids(got), "every event ann's list shows since her upload")
        received = ann_feed.received
        assert len(received) == len(ids(received)), "no event twice"
        assert ids(received) <= ids(listed(http, place, place.ann)), "nothing the list does not show ann"
        # the source workbook's events in their order, before the extractor's link (file:updated)
        streamed = [e["id"] for e in received if e["context"].get("workbookId") == source]
        assert streamed == [e["id"] for e in of_source]
        [link] = [
            i for i, e in enumerate(received) if e["topic"] == "file:updated" and e["payload"]["workbookId"] == source
        ]
        assert max(i for i, e in enumerate(received) if e["id"] in streamed) < link

        # bob: none of it, in his stream or his list (read up to an event both see)
        shown = insert(http, place.mine_sheet, "after ann's upload")
        bob_feed.until(lambda got: records_created(got, shown), "bob's records:created")
        for bobs in (bob_feed.received, listed(http, place, place.bob)):
            assert not [e["topic"] for e in bobs if mentions(e, file_id, source)]
