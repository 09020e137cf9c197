"""The listener SDK in-process against the platform: `listener.on` with a filter, `event.secrets()`
(a space secret overriding the environment's), `event.api` (the official client), the job handler
(ack → progress → complete, and fail with the exception's message), topic globs and namespaces."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from spaceport.testing.platform import Platform
from spaceport_listener import FlatfileEvent, FlatfileListener, MemoryCursor, Tick, job_handler


@pytest.fixture
def environment(platform: Platform) -> dict[str, Any]:
    with platform.client(timeout=30) as api:
        reply = api.post("/environments", json={"name": "listener sdk", "isProd": False})
        assert reply.status_code == 200, reply.text
        env: dict[str, Any] = reply.json()["data"]
        return env


@pytest.fixture
async def api(platform: Platform, environment: dict[str, Any]) -> AsyncIterator[httpx.AsyncClient]:
    headers = {"Authorization": f"Bearer {environment['secretKey']}"}
    async with httpx.AsyncClient(base_url=platform.api, headers=headers, timeout=30) as client:
        yield client


async def ok(request: Any) -> Any:
    reply: httpx.Response = await request
    assert reply.status_code == 200, reply.text
    return reply.json()["data"]


async def test_listener_sdk_against_the_platform(
    platform: Platform, environment: dict[str, Any], api: httpx.AsyncClient
) -> None:
    space = await ok(api.post("/spaces", json={"name": "sdk", "namespace": "red"}))
    space_id = space["id"]
    await ok(api.post("/secrets", json={"name": "TOKEN", "value": "environment-wide"}))
    await ok(api.post("/secrets", json={"name": "TOKEN", "value": "this space's", "spaceId": space_id}))
    cursor = (await ok(api.get("/events", params={"spaceId": space_id, "includeAcknowledged": "true"})))[-1]["id"]

    listener = FlatfileListener()
    seen: list[tuple[str, str]] = []
    red: list[str] = []

    async def export(event: FlatfileEvent, tick: Tick) -> dict[str, Any]:
        token = await event.secrets("TOKEN")
        await tick(50, "halfway")
        job = await event.api.jobs.get(event.context["jobId"])  # the official client, authenticated
        assert job.data.status == "executing"
        return {"outcome": {"acknowledge": True, "message": f"exported with {token}"}}

    async def broken(event: FlatfileEvent, tick: Tick) -> None:
        raise RuntimeError("the downstream system said no")

    listener.use(job_handler("workbook:export", export))
    listener.use(job_handler("workbook:broken", broken))
    listener.on("job:*", lambda e: seen.append((e.topic, str(e.payload.get("job")))))
    listener.namespace("space:red", lambda ns: ns.on("**", lambda e: red.append(e.topic)))

    stop = asyncio.Event()
    serving = asyncio.create_task(
        listener.serve(
            platform.api, environment["secretKey"], space_id=space_id, cursor=MemoryCursor(cursor), stop=stop
        )
    )
    try:
        workbook = await ok(api.post("/workbooks", json={"name": "W", "spaceId": space_id, "sheets": []}))
        body = {"type": "workbook", "source": workbook["id"], "trigger": "immediate"}
        exported = await ok(api.post("/jobs", json={**body, "operation": "export"}))
        failed = await ok(api.post("/jobs", json={**body, "operation": "broken"}))

        async def finished(job_id: str) -> dict[str, Any]:
            for _ in range(300):
                job: dict[str, Any] = await ok(api.get(f"/jobs/{job_id}"))
                if job["status"] in ("complete", "failed"):
                    return job
                await asyncio.sleep(0.1)
            raise AssertionError(f"job {job_id} did not finish")

        done = await finished(exported["id"])
        assert done["status"] == "complete"
        assert done["outcome"]["message"] == "exported with this space's"  # the space secret wins
        bad = await finished(failed["id"])
        assert bad["status"] == "failed"
        assert bad["outcome"]["message"] == "the downstream system said no"
        # the listener hears of the end a moment after the API shows it (feed, then the stream)
        wanted = {("job:completed", "workbook:export"), ("job:failed", "workbook:broken")}
        for _ in range(100):
            if wanted <= set(seen):
                break
            await asyncio.sleep(0.1)
    finally:
        stop.set()
        serving.cancel()
        await asyncio.gather(serving, return_exceptions=True)

    assert ("job:ready", "workbook:export") in seen
    assert ("job:completed", "workbook:export") in seen
    assert ("job:failed", "workbook:broken") in seen
    assert "workbook:created" in red  # the space's namespace reaches its events
