"""The Contacts example end to end against the fake server, including a full redelivery."""

from __future__ import annotations

import asyncio
import importlib.util
from pathlib import Path
from types import ModuleType

import httpx
import pytest

from spaceport_listener import MemoryCursor, serve
from spaceport_listener.testing import FakeFlatfileServer

pytestmark = pytest.mark.unit

EXAMPLE = Path(__file__).parents[1] / "examples" / "contacts.py"


def load_example() -> ModuleType:
    spec = importlib.util.spec_from_file_location("listener_example_contacts", EXAMPLE)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


async def drain(server: FakeFlatfileServer, module: ModuleType, cursor: MemoryCursor) -> None:
    server.drained.clear()
    transport = httpx.MockTransport(server.handle)
    run = serve(module.build_listener(), "http://spaceport.test", "sk_test", cursor=cursor, transport=transport)
    listening = asyncio.create_task(run)
    await asyncio.wait_for(server.drained.wait(), timeout=5)
    listening.cancel()
    await asyncio.gather(listening, return_exceptions=True)


async def test_contacts_configures_validates_submits_and_survives_redelivery() -> None:
    module = load_example()
    server = FakeFlatfileServer()
    configure = server.add_job_ready("space:configure")
    cursor = MemoryCursor()
    await drain(server, module, cursor)

    [workbook] = server.workbooks
    [sheet] = workbook["sheets"]
    assert sheet["slug"] == "contacts"
    assert workbook["actions"][0]["operation"] == "submitActionFg"
    assert workbook["actions"][0]["constraints"] == [{"type": "hasAllValid"}]
    assert [d["title"] for d in server.documents] == ["Welcome Guide"]
    assert server.spaces["us_sp_1"]["primaryWorkbookId"] == workbook["id"]
    assert "theme" in server.spaces["us_sp_1"]["metadata"]
    assert server.jobs[configure["context"]["jobId"]]["status"] == "complete"

    server.records[sheet["id"]] = [
        {"id": f"us_rc_{n}", "values": {"email": {"value": email, "messages": []}}}
        for n, email in enumerate(["Ada@Example.com", "nope", "bob@example.org"])
    ]
    commit = server.add_commit(sheet["id"], "contacts", track_changes=True)
    submit = server.add_job_ready("workbook:submitActionFg", workbookId=workbook["id"])
    await drain(server, module, cursor)

    emails = {r["id"]: r["values"]["email"] for r in server.records[sheet["id"]]}
    assert emails["us_rc_0"]["value"] == "ada@example.com"
    assert emails["us_rc_1"]["messages"] == [{"type": "error", "message": "Invalid email address"}]
    assert server.completed_commits == [commit["context"]["commitId"]]
    job = server.jobs[submit["context"]["jobId"]]
    assert job["status"] == "complete"
    assert job["outcome"]["message"] == "Submitted 3 contacts"

    # a listener that lost its cursor gets every event again: nothing is duplicated
    writes = len(server.requests("PUT", r"/v1/sheets/.*/records"))
    job_steps = len(job["history"])
    await drain(server, module, MemoryCursor())
    assert len(server.workbooks) == 1
    assert len(server.documents) == 1
    assert len(server.requests("PUT", r"/v1/sheets/.*/records")) == writes
    assert len(job["history"]) == job_steps
