"""A revocation reaches every gateway, not only the one that handled it.

Each gateway caches token -> principal for 30 s; the space service broadcasts `AuthInvalidated`
(core NATS, `spaceport.auth.invalidate`) after a key rotation or a guest removal, and every
gateway clears its cache. A second, in-process gateway stands in for another replica. The
broadcast is asynchronous, so the tests poll for at most 2 s: far below the 30 s the cache would
otherwise serve the old credential.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from gateway_service.workers import configured_workers
from spaceport.settings import Settings
from spaceport.testing.infra import InfraUrls
from spaceport.testing.platform import Platform

BROADCAST_WAIT = 2.0

# Litestar 2.x warns about inferred dependencies when an app is built in-process (as in the rate-limit test).
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
async def first(platform: Platform) -> AsyncIterator[httpx.AsyncClient]:
    """The platform's own gateway process."""
    async with httpx.AsyncClient(base_url=platform.api, timeout=15) as client:
        yield client


@pytest.fixture
async def second(platform: Platform, infra: InfraUrls) -> AsyncIterator[AsyncTestClient[Litestar]]:
    """Another gateway replica against the same services (in-process, its own auth cache)."""
    settings = Settings(
        service_name="gateway",
        nats_url=infra.nats_url,
        database_url=infra.database_url,
        s3_endpoint=infra.s3_endpoint,
        s3_access_key=infra.s3_access_key,
        s3_secret_key=infra.s3_secret_key,
        otel_exporter="none",
    )
    from gateway_service.app import create_app  # noqa: PLC0415 - only tests build an app in-process

    async with AsyncTestClient(app=create_app(settings)) as client:
        yield client


async def _status_within(client: AsyncTestClient[Litestar], path: str, token: str, wanted: int) -> int:
    """Poll `path` until it answers `wanted` or BROADCAST_WAIT passes; the last status."""
    deadline = time.monotonic() + BROADCAST_WAIT
    while True:
        status = (await client.get(path, headers=_bearer(token))).status_code
        if status == wanted or time.monotonic() > deadline:
            return status
        await asyncio.sleep(0.05)


async def test_rotation_through_one_gateway_revokes_the_old_key_on_another(
    platform: Platform,
    first: httpx.AsyncClient,
    second: AsyncTestClient[Litestar],
) -> None:
    created = await first.post(
        "/environments", json={"name": "broadcast", "isProd": False}, headers=_bearer(platform.secret_key)
    )
    assert created.status_code == 200, created.text
    environment_id = created.json()["data"]["id"]
    old = created.json()["data"]["secretKey"]
    # The second gateway authenticates the key and caches the principal.
    assert (await second.get("/v1/environments/current", headers=_bearer(old))).status_code == 200
    assert (await second.get("/v1/environments/current", headers=_bearer(old))).status_code == 200

    rotated = await first.post(f"/environments/{environment_id}/keys/rotate", headers=_bearer(old))
    assert rotated.status_code == 200, rotated.text
    new = rotated.json()["data"]["secretKey"]

    assert await _status_within(second, "/v1/environments/current", old, 401) == 401, "old key still accepted"
    current = await second.get("/v1/environments/current", headers=_bearer(new))
    assert current.status_code == 200, current.text
    assert current.json()["data"]["id"] == environment_id


async def test_guest_deleted_through_one_gateway_is_refused_by_another(
    platform: Platform,
    first: httpx.AsyncClient,
    second: AsyncTestClient[Litestar],
) -> None:
    sk = _bearer(platform.secret_key)
    environment_id = (await first.get("/environments/current", headers=sk)).json()["data"]["id"]
    space = (await first.post("/spaces", json={"name": "broadcast guests"}, headers=sk)).json()["data"]["id"]
    body = [
        {
            "environmentId": environment_id,
            "email": f"g{uuid.uuid4().hex[:8]}@example.com",
            "name": "G",
            "spaces": [{"id": space, "role": "viewer"}],
        }
    ]
    invited = await first.post("/guests", json=body, headers=sk)
    assert invited.status_code == 200, invited.text
    guest_id = invited.json()["data"][0]["id"]
    issued = await first.get(f"/guests/{guest_id}/token", params={"spaceId": space}, headers=sk)
    assert issued.status_code == 200, issued.text
    token = issued.json()["data"]["token"]
    assert (await second.get(f"/v1/spaces/{space}", headers=_bearer(token))).status_code == 200

    deleted = await first.delete(f"/guests/{guest_id}", headers=sk)
    assert deleted.status_code == 200, deleted.text

    assert await _status_within(second, f"/v1/spaces/{space}", token, 401) == 401, "deleted guest still accepted"


def _gateway_workers(platform: Platform) -> list[int]:
    """The pids of the gateway's worker processes (granian's children of the gateway's process)."""
    main = platform.pid("gateway")
    children = Path(f"/proc/{main}/task/{main}/children").read_text().split()
    return [int(pid) for pid in children]


async def test_rotation_reaches_every_worker_of_the_platforms_gateway(platform: Platform) -> None:
    """GATEWAY_WORKERS (default `auto`: one per core) runs that many gateway processes, each with
    its own auth cache: a key cached by all of them is refused by all of them once it is rotated.
    Every request comes on a new connection, which the kernel hands to any of the workers."""
    workers = _gateway_workers(platform)
    assert len(workers) == configured_workers(), workers

    async def status(token: str) -> int:
        async with httpx.AsyncClient(base_url=platform.api, timeout=15) as fresh:
            return (await fresh.get("/environments/current", headers=_bearer(token))).status_code

    async with httpx.AsyncClient(base_url=platform.api, timeout=15) as client:
        created = await client.post(
            "/environments", json={"name": "workers", "isProd": False}, headers=_bearer(platform.secret_key)
        )
        assert created.status_code == 200, created.text
        environment_id = created.json()["data"]["id"]
        old = created.json()["data"]["secretKey"]
        assert [await status(old) for _ in range(8 * len(workers))] == [200] * 8 * len(workers)

        rotated = await client.post(f"/environments/{environment_id}/keys/rotate", headers=_bearer(old))
        assert rotated.status_code == 200, rotated.text

    deadline = time.monotonic() + BROADCAST_WAIT
    while (answers := [await status(old) for _ in range(8 * len(workers))]) != [401] * 8 * len(workers):
        assert time.monotonic() < deadline, f"the old key is still accepted by some worker: {answers}"
        await asyncio.sleep(0.05)
    assert await status(rotated.json()["data"]["secretKey"]) == 200
