"""`/v1/secrets` through the platform: the official `flatfile` SDK, overrides, refusals, and the
event log and read model holding only ciphertext."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import asyncpg
import httpx
import nats
import pytest
from flatfile import Flatfile

from spaceport.settings import Settings
from spaceport.testing.infra import InfraUrls
from spaceport.testing.platform import Platform
from spaceport.testing.stream import opened_payload

PLAIN = "e2e-plaintext-" + uuid.uuid4().hex


@dataclass(frozen=True)
class Env:
    id: str
    secret_key: str
    publishable_key: str
    space: str
    other_env: str
    other_key: str
    other_space: str
    guest_token: str


def _data(reply: httpx.Response) -> object:
    assert reply.status_code == 200, reply.text
    return reply.json()["data"]


@pytest.fixture(scope="module")
def env(platform: Platform) -> Iterator[Env]:
    with platform.client(timeout=30) as http:
        made = [_data(http.post("/environments", json={"name": f"secrets-{n}"})) for n in ("a", "b")]
        a, b = (m for m in made if isinstance(m, dict))
        sk_a, sk_b = ({"Authorization": f"Bearer {e['secretKey']}"} for e in (a, b))
        space = _data(http.post("/spaces", json={"name": "secrets"}, headers=sk_a))
        other_space = _data(http.post("/spaces", json={"name": "secrets-b"}, headers=sk_b))
        assert isinstance(space, dict) and isinstance(other_space, dict)
        guest = [{"environmentId": a["id"], "email": "s@example.com", "name": "g", "spaces": [{"id": space["id"]}]}]
        invited = _data(http.post("/guests", json=guest, headers=sk_a))
        assert isinstance(invited, list)
        token = _data(http.get(f"/guests/{invited[0]['id']}/token", params={"spaceId": space["id"]}, headers=sk_a))
        assert isinstance(token, dict)
        yield Env(
            id=a["id"],
            secret_key=a["secretKey"],
            publishable_key=a["publishableKey"],
            space=space["id"],
            other_env=b["id"],
            other_key=b["secretKey"],
            other_space=other_space["id"],
            guest_token=token["token"],
        )


def http_as(platform: Platform, token: str) -> httpx.Client:
    return httpx.Client(base_url=platform.api, headers={"Authorization": f"Bearer {token}"}, timeout=30)


def test_the_sdk_lists_upserts_and_deletes(platform: Platform, env: Env) -> None:
    client = Flatfile(token=env.secret_key, base_url=platform.api)
    created = client.secrets.upsert(name="SDK_KEY", value="one", environment_id=env.id).data
    assert [(s.name, s.value, s.environment_id) for s in created] == [("SDK_KEY", "one", env.id)]
    secret_id = created[0].id
    assert secret_id.startswith("us_sec_")
    updated = client.secrets.upsert(name="SDK_KEY", value="two", environment_id=env.id).data
    assert updated[0].id == secret_id and updated[0].value == "two"
    listed = client.secrets.list(environment_id=env.id).data
    assert ("SDK_KEY", "two") in [(s.name, s.value) for s in listed]
    in_space = client.secrets.upsert(name="SDK_KEY", value="space", environment_id=env.id, space_id=env.space).data
    assert in_space[0].id != secret_id and in_space[0].space_id == env.space
    overridden = {s.name: s.value for s in client.secrets.list(environment_id=env.id, space_id=env.space).data}
    assert overridden["SDK_KEY"] == "space"
    client.secrets.delete(secret_id)
    assert "SDK_KEY" not in {s.name for s in client.secrets.list(environment_id=env.id).data}
    client.secrets.delete(in_space[0].id)


def test_overrides_over_http(platform: Platform, env: Env) -> None:
    with http_as(platform, env.secret_key) as http:
        for body in (
            {"name": "OVR", "value": "env"},
            {"name": "OVR", "value": "space", "spaceId": env.space},
            {"name": "OVR", "value": "actor", "actorId": "us_usr_someone", "environmentId": env.id},
        ):
            _data(http.post("/secrets", json=body))

        def named(**params: str) -> str:
            found = _data(http.get("/secrets", params={"environmentId": env.id, **params}))
            assert isinstance(found, list)
            return str(next(s["value"] for s in found if s["name"] == "OVR"))

        assert named() == "env"
        assert named(spaceId=env.space) == "space"
        assert named(actorId="us_usr_someone") == "actor"
        assert named(actorId="us_usr_other", spaceId=env.space) == "space"
        one = _data(http.get("/secrets", params={"environmentId": env.id, "spaceId": env.space}))
        assert isinstance(one, list)
        row = next(s for s in one if s["name"] == "OVR")
        assert set(row) >= {"id", "name", "value", "environmentId", "spaceId", "actorId"}


@pytest.mark.parametrize(
    ("who", "method", "path", "body", "status"),
    [
        ("pk", "GET", "/secrets", None, 403),
        ("pk", "POST", "/secrets", {"name": "A", "value": "v"}, 403),
        ("guest", "GET", "/secrets", None, 403),
        ("guest", "POST", "/secrets", {"name": "A", "value": "v"}, 403),
        ("none", "GET", "/secrets", None, 401),
        ("sk", "GET", "/secrets?environmentId={other_env}", None, 404),
        ("sk", "POST", "/secrets", {"name": "A", "value": "v", "environmentId": "{other_env}"}, 404),
        ("sk", "POST", "/secrets", {"name": "A", "value": "v", "spaceId": "{other_space}"}, 404),
        ("sk", "GET", "/secrets?spaceId={other_space}", None, 404),
        ("sk", "POST", "/secrets", {"name": "A", "value": "v", "spaceId": "us_sp_nothere"}, 404),
        ("sk", "POST", "/secrets", {"name": "", "value": "v"}, 400),
        ("sk", "POST", "/secrets", {"name": "has space", "value": "v"}, 400),
        ("sk", "POST", "/secrets", {"name": "x" * 256, "value": "v"}, 400),
        ("sk", "POST", "/secrets", {"name": "BIG", "value": "x" * (64 * 1024 + 1)}, 400),
        ("sk", "POST", "/secrets", {"name": "A"}, 400),
        ("sk", "POST", "/secrets", {"name": "A", "value": 3}, 400),
        ("sk", "POST", "/secrets", "not json", 400),
        ("sk", "POST", "/secrets", {"name": "A", "value": "v", "actorId": "bad actor"}, 400),
        ("sk", "DELETE", "/secrets/us_sec_nothere", None, 404),
        ("sk", "DELETE", "/secrets/not-an-id", None, 404),
        ("other", "DELETE", "/secrets/{own_secret}", None, 404),
        ("pk", "DELETE", "/secrets/{own_secret}", None, 403),
    ],
)
def test_bad_requests(  # noqa: PLR0917 - one parameter per column of the table above
    platform: Platform, env: Env, who: str, method: str, path: str, body: object, status: int
) -> None:
    with http_as(platform, env.secret_key) as http:
        own = _data(http.post("/secrets", json={"name": "OWN", "value": "kept"}))
    assert isinstance(own, list)
    names = {"other_env": env.other_env, "other_space": env.other_space, "own_secret": own[0]["id"]}
    tokens = {"pk": env.publishable_key, "guest": env.guest_token, "sk": env.secret_key, "other": env.other_key}
    headers = {"Authorization": f"Bearer {tokens[who]}"} if who in tokens else {}
    if isinstance(body, dict):
        body = {k: v.format(**names) if isinstance(v, str) and "{" in v else v for k, v in body.items()}
    content = body if isinstance(body, str) else None
    reply = httpx.request(
        method,
        platform.api + path.format(**names),
        json=None if content is not None else body,
        content=content,
        headers=headers,
        timeout=30,
    )
    assert reply.status_code == status, reply.text
    assert reply.json()["errors"][0]["message"]
    with http_as(platform, env.secret_key) as http:  # nothing half-written
        found = _data(http.get("/secrets", params={"environmentId": env.id}))
    assert isinstance(found, list)
    assert {s["name"]: s["value"] for s in found}.get("OWN") == "kept"
    assert "A" not in {s["name"] for s in found}


async def test_only_ciphertext_is_stored(platform: Platform, env: Env, infra: InfraUrls) -> None:
    async with httpx.AsyncClient(
        base_url=platform.api, headers={"Authorization": f"Bearer {env.secret_key}"}, timeout=30
    ) as http:
        reply = await http.post("/secrets", json={"name": "PLAIN_CHECK", "value": PLAIN, "spaceId": env.space})
        assert reply.status_code == 200, reply.text
        secret_id = reply.json()["data"][0]["id"]
        listed = await http.get("/secrets", params={"environmentId": env.id, "spaceId": env.space})
        assert PLAIN in listed.text  # the API answers it in clear text
    conn = await asyncpg.connect(infra.database_url)
    try:
        rows = await conn.fetch("SELECT * FROM space.secret WHERE id = $1", secret_id)
        assert len(rows) == 1 and PLAIN not in str(dict(rows[0]))
    finally:
        await conn.close()
    nc = await nats.connect(infra.nats_url)
    try:
        subject = f"{Settings().event_prefix}.{env.space}.secret.{secret_id}.secret_created"
        stored = await nc.jetstream().get_last_msg(Settings().event_stream, subject)
        assert stored.data and PLAIN.encode() not in stored.data
        payload = await opened_payload(nc, stored)  # opened with the space's key, as the service reads it
        assert payload.get("ciphertext") and PLAIN not in json.dumps(payload)
    finally:
        await nc.close()
