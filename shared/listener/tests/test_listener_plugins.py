"""job_handler, record_hook, configure_space and the event's API helpers, against the fake server."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from spaceport_listener import (
    Connection,
    FlatfileEvent,
    FlatfileListener,
    Record,
    SecretNotFoundError,
    Tick,
    bulk_record_hook,
    configure_space,
    job_handler,
    record_hook,
)
from spaceport_listener.testing import FakeFlatfileServer

pytestmark = pytest.mark.unit


def connect(server: FakeFlatfileServer) -> Connection:
    return Connection("http://spaceport.test/v1", "sk_test", transport=httpx.MockTransport(server.handle))


def steps(server: FakeFlatfileServer, job_id: str) -> list[tuple[str, dict[str, Any]]]:
    return list(server.jobs[job_id]["history"])


async def test_job_handler_acks_ticks_and_completes_with_the_returned_outcome() -> None:
    server = FakeFlatfileServer()
    event = server.add_job_ready("workbook:submitActionFg", workbookId="us_wb_1")

    async def submit(event: FlatfileEvent, tick: Tick) -> dict[str, Any]:
        await tick(50, "Halfway")
        return {"outcome": {"acknowledge": True, "message": "Submitted 3 contacts"}}

    listener = FlatfileListener().use(job_handler("workbook:submitActionFg", submit))
    await listener.dispatch_event(event, connect(server))

    job_id = event["context"]["jobId"]
    assert steps(server, job_id) == [
        ("ack", {"info": "Accepted", "progress": 0}),
        ("ack", {"info": "Halfway", "progress": 50}),
        ("complete", {"outcome": {"acknowledge": True, "message": "Submitted 3 contacts"}}),
    ]
    assert server.jobs[job_id]["status"] == "complete"


async def test_job_handler_fails_the_job_with_the_error_message() -> None:
    server = FakeFlatfileServer()
    event = server.add_job_ready("space:configure")

    def broken(event: FlatfileEvent, tick: Tick) -> None:
        raise ValueError("no blueprint")

    await FlatfileListener().use(job_handler("space:configure", broken)).dispatch_event(event, connect(server))
    job_id = event["context"]["jobId"]
    assert steps(server, job_id)[-1] == (
        "fail",
        {"info": "no blueprint", "outcome": {"acknowledge": True, "message": "no blueprint"}},
    )
    assert server.jobs[job_id]["status"] == "failed"


async def test_job_handler_defaults_the_outcome_and_skips_finished_jobs() -> None:
    server = FakeFlatfileServer()
    event = server.add_job_ready("space:configure")
    calls: list[str] = []
    listener = FlatfileListener().use(job_handler("space:*", lambda event, tick: calls.append(event.id)))
    await listener.dispatch_event(event, connect(server))
    await listener.dispatch_event(event, connect(server))  # redelivered after a crash
    job_id = event["context"]["jobId"]
    assert calls == [event["id"]]
    assert [step for step, _ in steps(server, job_id)] == ["ack", "complete"]
    assert server.jobs[job_id]["outcome"] == {"message": "Job complete"}


def contacts(server: FakeFlatfileServer) -> None:
    server.records["us_sh_1"] = [
        {"id": "us_rc_1", "values": {"email": {"value": "Ada@Example.COM", "valid": True, "messages": []}}},
        {"id": "us_rc_2", "values": {"email": {"value": "not-an-email", "valid": True, "messages": []}}},
        {"id": "us_rc_3", "values": {"email": {"value": "bob@example.com", "valid": True, "messages": []}}},
    ]


def check_email(record: Record) -> None:
    email = str(record.get("email", ""))
    if "@" not in email:
        record.add_error("email", "Invalid email address")
    else:
        record.set("email", email.lower())


async def test_record_hook_reads_updates_only_changed_records_and_completes_the_commit() -> None:
    server = FakeFlatfileServer()
    contacts(server)
    event = server.add_commit("us_sh_1", "contacts", track_changes=True)
    listener = FlatfileListener().use(record_hook("contacts", check_email))
    await listener.dispatch_event(event, connect(server))

    [read] = server.requests("GET", "/v1/sheets/us_sh_1/records")
    assert read.params == {"commitId": event["context"]["commitId"]}
    [write] = server.requests("PUT", "/v1/sheets/us_sh_1/records")
    assert write.headers["x-disable-hooks"] == "true"
    assert write.body == [
        {"id": "us_rc_1", "values": {"email": {"value": "ada@example.com", "messages": []}}},
        {
            "id": "us_rc_2",
            "values": {
                "email": {"value": "not-an-email", "messages": [{"type": "error", "message": "Invalid email address"}]}
            },
        },
    ]
    assert server.completed_commits == [event["context"]["commitId"]]

    # a redelivery finds its own fixes already applied: nothing more to write
    await listener.dispatch_event(event, connect(server))
    assert len(server.requests("PUT", "/v1/sheets/us_sh_1/records")) == 1


async def test_record_hook_ignores_other_sheets_and_skips_completion_without_track_changes() -> None:
    server = FakeFlatfileServer()
    contacts(server)
    calls: list[int] = []
    listener = FlatfileListener().use(bulk_record_hook("contacts", lambda records: calls.append(len(records))))
    await listener.dispatch_event(server.add_commit("us_sh_2", "companies"), connect(server))
    await listener.dispatch_event(server.add_commit("us_sh_1", "contacts"), connect(server))
    assert calls == [3]
    assert server.requests("PUT", r"/v1/sheets/.*/records") == []
    assert server.completed_commits == []


async def test_record_hook_still_completes_the_commit_when_the_hook_raises() -> None:
    server = FakeFlatfileServer()
    contacts(server)
    event = server.add_commit("us_sh_1", "contacts", track_changes=True)

    def broken(record: Record) -> None:
        raise RuntimeError("hook bug")

    await FlatfileListener().use(record_hook("contacts", broken)).dispatch_event(event, connect(server))
    assert server.completed_commits == [event["context"]["commitId"]]


SETUP = {
    "workbooks": [{"name": "Contacts", "sheets": [{"name": "Contacts", "slug": "contacts", "fields": []}]}],
    "documents": [{"title": "Welcome", "body": "<h1>Hi</h1>"}],
    "space": {"metadata": {"theme": {"root": {"primaryColor": "#4F46E5"}}}},
}


async def test_configure_space_builds_the_space_once_even_when_redelivered() -> None:
    server = FakeFlatfileServer()
    event = server.add_job_ready("space:configure")
    listener = FlatfileListener().use(configure_space(SETUP))
    await listener.dispatch_event(event, connect(server))
    server.jobs[event["context"]["jobId"]]["status"] = "executing"  # as if we died before completing
    await listener.dispatch_event(event, connect(server))

    assert [w["name"] for w in server.workbooks] == ["Contacts"]
    assert server.workbooks[0]["sheets"][0]["slug"] == "contacts"
    assert [d["title"] for d in server.documents] == ["Welcome"]
    space = server.spaces["us_sp_1"]
    assert space["primaryWorkbookId"] == server.workbooks[0]["id"]
    assert space["metadata"]["theme"]["root"]["primaryColor"] == "#4F46E5"
    [create] = server.requests("POST", "/v1/workbooks")
    assert create.headers["idempotency-key"] == f"{event['id']}:workbook:0"
    assert server.jobs[event["context"]["jobId"]]["outcome"] == {"message": "Space configured"}


async def test_event_helpers_secrets_fetch_data_and_ack() -> None:
    server = FakeFlatfileServer(
        secrets=[
            {"id": "us_sec_1", "name": "API_KEY", "value": "env-value", "environmentId": "us_env_1"},
            {"id": "us_sec_2", "name": "API_KEY", "value": "space-value", "spaceId": "us_sp_1"},
        ]
    )
    contacts(server)
    event = FlatfileEvent(server.add_commit("us_sh_1", "contacts"), connect(server))

    assert await event.secrets("API_KEY") == "space-value"
    with pytest.raises(SecretNotFoundError, match="MISSING"):
        await event.secrets("MISSING")
    assert len(server.requests("GET", "/v1/secrets")) == 1  # cached per event
    assert server.requests("GET", "/v1/secrets")[0].params == {"environmentId": "us_env_1", "spaceId": "us_sp_1"}

    data = await event.data
    assert [r["id"] for r in data["records"]] == ["us_rc_1", "us_rc_2", "us_rc_3"]
    await event.data(pageSize=1)
    assert server.requests("GET", "/v1/sheets/us_sh_1/records")[-1].params["pageSize"] == "1"

    assert await event.fetch("v1/sheets/us_sh_1/records") == data
    assert await event.fetch("/sheets/us_sh_1/records") == data
    await event.ack()
    assert server.acked == [event.id]
    assert event.context["sheetSlug"] == "contacts"
    assert event.payload["trackChanges"] is False
    assert event.api is event.connection.api


def test_a_hook_run_recomputes_its_messages_so_a_fixed_cell_loses_its_old_error() -> None:

    stored = {
        "id": "us_rc_1",
        "values": {
            "email": {
                "value": "bob@x.io",
                "messages": [
                    {"type": "error", "message": "Invalid email address", "source": "custom-logic"},
                    {"type": "error", "message": "must be unique", "source": "unique-constraint"},
                ],
            }
        },
    }
    fixed = Record(stored)  # the hook finds the value valid now and adds nothing
    assert fixed.changed
    assert fixed.to_update() == {"id": "us_rc_1", "values": {"email": {"value": "bob@x.io", "messages": []}}}

    again = Record(stored)
    again.add_error("email", "Invalid email address")  # same verdict as the stored one: nothing to write
    assert not again.changed
    assert again.messages("email")[-1]["message"] == "Invalid email address"


async def test_job_handler_waits_for_a_job_the_server_cannot_read_yet() -> None:
    """The feed can be ahead of the jobs read model: a just-heard job answers 404 for a moment."""
    server = FakeFlatfileServer()
    event = server.add_job_ready("space:configure")
    job_id = event["context"]["jobId"]
    misses = [3]

    async def lagging(request: httpx.Request) -> httpx.Response:
        if request.method == "GET" and request.url.path == f"/v1/jobs/{job_id}" and misses[0] > 0:
            misses[0] -= 1
            return httpx.Response(404, json={"errors": [{"message": f"job {job_id} not found", "key": "jobId"}]})
        return await server.handle(request)

    connection = Connection("http://spaceport.test/v1", "sk_test", transport=httpx.MockTransport(lagging))
    calls: list[str] = []
    await (
        FlatfileListener()
        .use(job_handler("space:*", lambda e, tick: calls.append(e.id)))
        .dispatch_event(event, connection)
    )
    assert misses == [0] and calls == [event["id"]]
    assert server.jobs[job_id]["status"] == "complete"
