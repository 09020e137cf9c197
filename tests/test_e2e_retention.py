"""Data retention policies (`/v1/data-retention-policies`) and the expiry of spaces past them.

On the session's platform: the official SDK's CRUD, bad input (400/403/404/409, never a 500), and
a sweep run at a time days ahead (`SweepRetention` on NATS, internal) that expires only the
spaces past their own environment's policy, with `space:expired` in the event feed. In-process
on a stream and schema of its own: a sweep that stopped after `SpaceExpired` finishes on the next
run with one expiry, and a rebuild of the space read model equals the live one.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import httpx
import pytest
from flatfile import Flatfile
from flatfile.core.api_error import ApiError

from space_service.application.app import SpaceApplication
from space_service.application.retention import RetentionHandlers
from space_service.application.spaces import ref as space_ref
from space_service.bootstrap import build
from space_service.entrypoints.retention import RetentionSweeper
from spaceport.contracts.space import (
    SERVICE,
    CreateDataRetentionPolicy,
    CreateEnvironment,
    CreateSpace,
    GetSpace,
    Principal,
    RetentionSwept,
    SpaceExpired,
    SpaceFields,
    SweepRetention,
)
from spaceport.errors import NotFoundError
from spaceport.messaging import RpcClient
from spaceport.runtime import ServiceRuntime, make_broker
from spaceport.settings import Settings
from spaceport.testing import readmodels
from spaceport.testing.infra import InfraUrls
from spaceport.testing.platform import Platform

LATER = timedelta(days=3)  # how far ahead the test sweeps run


@dataclass(frozen=True)
class Env:
    id: str
    secret_key: str
    publishable_key: str
    guest_token: str
    space: str


def _data(reply: httpx.Response) -> Any:
    assert reply.status_code == 200, reply.text
    return reply.json()["data"]


def _env(http: httpx.Client, name: str, with_guest: bool = False) -> Env:
    made = _data(http.post("/environments", json={"name": name}))
    sk = {"Authorization": f"Bearer {made['secretKey']}"}
    space = _data(http.post("/spaces", json={"name": f"{name} space"}, headers=sk))
    token = ""
    if with_guest:
        guest = [{"environmentId": made["id"], "email": "r@example.com", "name": "g", "spaces": [{"id": space["id"]}]}]
        invited = _data(http.post("/guests", json=guest, headers=sk))
        params = {"spaceId": space["id"]}
        token = _data(http.get(f"/guests/{invited[0]['id']}/token", params=params, headers=sk))["token"]
    return Env(made["id"], made["secretKey"], made["publishableKey"], token, space["id"])


@pytest.fixture(scope="module")
def envs(platform: Platform) -> dict[str, Env]:
    """`expiring` (lastActivity 1 day), `kept` (sinceCreated 30 days), `bare` (no policy), `crud`."""
    with platform.client(timeout=30) as http:
        return {
            name: _env(http, f"retention-{name}", with_guest=name == "crud")
            for name in ("expiring", "kept", "bare", "crud")
        }


def http_as(platform: Platform, token: str) -> httpx.Client:
    return httpx.Client(base_url=platform.api, headers={"Authorization": f"Bearer {token}"}, timeout=30)


def refused(reply: httpx.Response, status: int, key: str | None = None) -> None:
    assert reply.status_code == status, reply.text
    [error] = reply.json()["errors"]
    if key is not None:
        assert error.get("key") == key, error


def test_the_sdk_creates_lists_gets_updates_and_deletes(platform: Platform, envs: dict[str, Env]) -> None:
    env = envs["crud"]
    client = Flatfile(token=env.secret_key, base_url=platform.api)
    created = client.data_retention_policies.create(type="lastActivity", period=5, environment_id=env.id).data
    assert created.id.startswith("us_drp_")
    assert (created.type, created.period, created.environment_id) == ("lastActivity", 5, env.id)
    assert client.data_retention_policies.get(created.id).data == created
    listed = client.data_retention_policies.list(environment_id=env.id).data
    assert [p.id for p in listed] == [created.id]
    updated = client.data_retention_policies.update(
        created.id, type="sinceCreated", period=10, environment_id=env.id
    ).data
    assert (updated.id, updated.type, updated.period) == (created.id, "sinceCreated", 10)
    assert updated.created_at == created.created_at and updated.updated_at >= created.updated_at
    client.data_retention_policies.delete(created.id)
    assert client.data_retention_policies.list(environment_id=env.id).data == []
    with pytest.raises(ApiError) as missing:
        client.data_retention_policies.get(created.id)
    assert missing.value.status_code == 404


@pytest.mark.parametrize(
    ("body", "status", "key"),
    [
        ({"type": "forever", "period": 5}, 400, "type"),
        ({"type": "lastActivity", "period": 0}, 400, "period"),
        ({"type": "lastActivity", "period": -3}, 400, "period"),
        ({"type": "lastActivity", "period": "5"}, 400, "period"),
        ({"type": "lastActivity", "period": 1.5}, 400, "period"),
        ({"type": "lastActivity"}, 400, "period"),
        ({"period": 5}, 400, "type"),
        ({"type": "lastActivity", "period": 5, "environmentId": "us_env_unknown1"}, 404, "environmentId"),
        ({"type": "lastActivity", "period": 5, "environmentId": "not an id"}, 404, "environmentId"),
    ],
)
def test_bad_bodies_are_refused(
    platform: Platform, envs: dict[str, Env], body: dict[str, Any], status: int, key: str | None
) -> None:
    with http_as(platform, envs["crud"].secret_key) as http:
        refused(http.post("/data-retention-policies", json=body), status, key)
        assert _data(http.get("/data-retention-policies")) == []  # nothing half-written


def test_keys_other_than_the_environments_secret_key_are_refused(platform: Platform, envs: dict[str, Env]) -> None:
    env, other = envs["crud"], envs["bare"]
    body = {"type": "sinceCreated", "period": 7, "environmentId": env.id}
    with http_as(platform, env.secret_key) as http:
        policy = _data(http.post("/data-retention-policies", json=body))
        refused(http.post("/data-retention-policies", json=body), 409, "type")  # one policy per type
        refused(http.get("/data-retention-policies/us_drp_unknown1"), 404)
        refused(http.get("/data-retention-policies/us_sp_wrongkind"), 404)
        refused(http.patch(f"/data-retention-policies/{policy['id']}", json={"type": "sinceCreated"}), 400, "period")
    path = f"/data-retention-policies/{policy['id']}"
    for token in (env.publishable_key, env.guest_token):
        with http_as(platform, token) as http:
            refused(http.get("/data-retention-policies"), 403)
            refused(http.post("/data-retention-policies", json=body), 403)
            refused(http.get(path), 403)
            refused(http.delete(path), 403)
    with http_as(platform, other.secret_key) as http:  # another environment's key: not found
        refused(http.get(path), 404)
        refused(http.patch(path, json=body), 404)  # the policy is not in that key's environment
        refused(http.patch(path, json={**body, "environmentId": other.id}), 404)
        refused(http.delete(path), 404)
        refused(http.get("/data-retention-policies", params={"environmentId": env.id}), 404, "environmentId")
        assert _data(http.get("/data-retention-policies")) == []
    with http_as(platform, env.secret_key) as http:
        assert [p["id"] for p in _data(http.get("/data-retention-policies"))] == [policy["id"]]
        assert _data(http.delete(path)) == {"success": True}


async def _sweep(infra: InfraUrls, now: datetime) -> RetentionSwept:
    broker = make_broker(Settings(nats_url=infra.nats_url, service_name="retention-test"))
    await broker.connect()
    try:
        return await RpcClient(broker).request(SERVICE, SweepRetention(now=now), RetentionSwept, timeout=30)
    finally:
        await broker.stop()


def _feed(http: httpx.Client, environment_id: str, topic: str, space_id: str) -> list[dict[str, Any]]:
    deadline = time.monotonic() + 20
    while True:
        listed = _data(http.get("/events", params={"environmentId": environment_id, "topic": topic, "pageSize": 100}))
        found = [e for e in listed if e["context"].get("spaceId") == space_id]
        if found or time.monotonic() > deadline:
            return found
        time.sleep(0.1)


async def test_a_policy_expires_only_the_spaces_past_it(
    platform: Platform, envs: dict[str, Env], infra: InfraUrls
) -> None:
    expiring, kept, bare = envs["expiring"], envs["kept"], envs["bare"]
    for env, policy_type, period in ((expiring, "lastActivity", 1), (kept, "sinceCreated", 30)):
        with http_as(platform, env.secret_key) as http:
            _data(http.post("/data-retention-policies", json={"type": policy_type, "period": period}))
    now = datetime.now(UTC)
    assert (await _sweep(infra, now)).expired == []  # nothing is a day old yet
    swept = await _sweep(infra, now + LATER)
    assert swept.expired == [expiring.space]
    assert (await _sweep(infra, now + LATER)).expired == []  # once
    with http_as(platform, expiring.secret_key) as http:
        refused(http.get(f"/spaces/{expiring.space}"), 404)
        [expired] = _feed(http, expiring.id, "space:expired", expiring.space)
        assert expired["domain"] == "space" and expired["payload"]["period"] == 1
        assert _feed(http, expiring.id, "space:deleted", expiring.space)
    for env in (kept, bare):
        with http_as(platform, env.secret_key) as http:
            assert _data(http.get(f"/spaces/{env.space}"))["id"] == env.space


# ---- in-process: a stopped sweep, and a rebuild --------------------------------------------


@pytest.fixture
def settings(infra: InfraUrls, unique_name: str) -> Settings:
    return Settings(
        service_name=unique_name,
        nats_url=infra.nats_url,
        database_url=infra.database_url,
        event_stream=f"T_{unique_name.upper()}",
        event_prefix=f"e{unique_name}",
        command_prefix=f"c{unique_name}",
        otel_exporter="none",
    )


@pytest.fixture
async def service(settings: Settings) -> AsyncIterator[tuple[ServiceRuntime, SpaceApplication, RetentionSweeper]]:
    rt, app = build(settings)
    await rt.start()
    try:
        [sweeper] = [work for work in rt.background if isinstance(work, RetentionSweeper)]
        yield rt, app, sweeper
    finally:
        await rt.stop()


@pytest.fixture
async def db(infra: InfraUrls, settings: Settings) -> AsyncIterator[asyncpg.Connection]:
    conn = await asyncpg.connect(infra.database_url)
    yield conn
    for schema in (settings.service_name, f"{settings.service_name}_rebuild"):
        await conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
    await conn.close()


async def _space(app: SpaceApplication, who: Principal, name: str) -> str:
    cmd = CreateSpace(principal=who, environment_id=who.environment_id, fields=SpaceFields(name=name))
    return (await app.spaces.create(cmd)).space_id


async def test_a_stopped_sweep_expires_once_and_a_rebuild_equals_live(
    service: tuple[ServiceRuntime, SpaceApplication, RetentionSweeper], db: asyncpg.Connection, settings: Settings
) -> None:
    rt, app, sweeper = service
    retention: RetentionHandlers = sweeper.retention
    env = (await app.create_environment(CreateEnvironment(name="retention"))).environment.id
    other = (await app.create_environment(CreateEnvironment(name="no policy"))).environment.id
    who = Principal(environment_id=env, kind="secret", actor="us_key_test")
    interrupted, plain = await _space(app, who, "interrupted"), await _space(app, who, "plain")
    elsewhere = await _space(app, Principal(environment_id=other, kind="secret", actor="us_key_test"), "elsewhere")
    policy = CreateDataRetentionPolicy(principal=who, environment_id=env, type="sinceCreated", period=2)
    written = await retention.create(policy)
    # A sweep that stopped after its first append: the space is marked expired but still live.
    marker = SpaceExpired(space_id=interrupted, policy_id=written.policy_id, policy_type="sinceCreated", period=2)
    stored = await rt.store.append(space_ref(env, interrupted), [marker], expected_version=None)
    await rt.wait_for(stored.last_seq)
    now = datetime.now(UTC)
    assert await sweeper.sweep_once(now) == RetentionSwept(expired=[], position=0)
    swept = await sweeper.sweep_once(now + timedelta(days=2, minutes=1))
    assert swept is not None and sorted(swept.expired) == sorted([interrupted, plain])
    assert await sweeper.sweep_once(now + timedelta(days=9)) == RetentionSwept(expired=[], position=0)
    for space_id in (interrupted, plain):
        with pytest.raises(NotFoundError):
            await app.spaces.get(GetSpace(environment_id=env, space_id=space_id, min_position=swept.position))
        types = [s.envelope.type for s in (await rt.store.load(space_ref(env, space_id))).events]
        assert types.count("SpaceExpired") == 1 and types.count("SpaceDeleted") == 1, types
    assert (await app.spaces.get(GetSpace(environment_id=other, space_id=elsewhere))).id == elsewhere
    shadow = await rt.runner(settings.service_name).rebuild(swap=False)
    live = await readmodels.snapshot(db, settings.service_name)
    rebuilt = await readmodels.snapshot(db, shadow)
    assert live["data_retention_policy"] and live["space"]
    assert rebuilt == live
