"""Bad input on the environment, space, document and guest endpoints: a clear 4xx, never a 500,
nothing half-written. Also the 413 body limit and the per-key rate limit (429 + Retry-After)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import httpx
import pytest
from litestar.testing import AsyncTestClient

from spaceport.settings import Settings
from spaceport.testing.infra import InfraUrls
from spaceport.testing.platform import Platform


@pytest.fixture(scope="module")
def api(platform: Platform) -> Iterator[httpx.Client]:
    with platform.client(timeout=15) as client:
        yield client


def _error(reply: httpx.Response, status: int, key: str | None = None) -> str:
    assert reply.status_code == status, reply.text
    errors = reply.json()["errors"]
    assert errors and errors[0]["message"]
    if key is not None:
        assert errors[0].get("key") == key, reply.text
    return str(errors[0]["message"])


@pytest.mark.parametrize("value", ["0", "-1", "abc", "1001", ""])
def test_bad_page_size_is_a_400(api: httpx.Client, value: str) -> None:
    _error(api.get("/spaces", params={"pageSize": value}), 400)
    _error(api.get("/environments", params={"pageSize": value}), 400)


@pytest.mark.parametrize(
    ("params", "key"),
    [
        ({"pageNumber": "0"}, "pageNumber"),
        ({"sortField": "password"}, None),
        ({"sortDirection": "sideways"}, None),
        ({"archived": "maybe"}, None),
    ],
)
def test_bad_list_parameters_are_a_400(api: httpx.Client, params: dict[str, str], key: str | None) -> None:
    _error(api.get("/spaces", params=params), 400, key)


@pytest.mark.parametrize(
    ("body", "key"),
    [
        ({"name": "x" * 256}, "name"),
        ({"name": 12}, "name"),
        ({"labels": "not-a-list"}, "labels"),
        ({"metadata": {"blob": "x" * 70_000}}, "metadata"),
        ({"metadata": []}, "metadata"),
        ({"access": ["everything"]}, "access"),
        ({"guestAuthentication": ["password"]}, "guestAuthentication"),
        ({"autoConfigure": "yes"}, "autoConfigure"),
    ],
)
def test_bad_space_bodies_are_a_400_and_write_nothing(api: httpx.Client, body: dict[str, object], key: str) -> None:
    before = api.get("/spaces", params={"pageSize": 1}).json()["pagination"]["totalCount"]
    _error(api.post("/spaces", json=body), 400, key)
    after = api.get("/spaces", params={"pageSize": 1}).json()["pagination"]["totalCount"]
    assert after == before


def test_malformed_and_mistyped_json(api: httpx.Client) -> None:
    raw = {"Content-Type": "application/json"}
    assert "malformed JSON" in _error(api.post("/spaces", content=b'{"name": ', headers=raw), 400)
    assert "malformed JSON" in _error(api.post("/guests", content=b"[{,]", headers=raw), 400)
    _error(api.post("/guests", json={"email": "not-an-array"}), 400)
    _error(api.post("/environments", json={"name": ["x"], "isProd": False}), 400, "name")


def test_unknown_and_malformed_ids_are_404(api: httpx.Client) -> None:
    for path in (
        "/spaces/us_sp_doesnotexist",
        "/spaces/not-an-id",
        "/spaces/us_sp_a.b.c",
        "/spaces/us_sp_doesnotexist/documents",
        "/guests/us_g_doesnotexist",
        "/environments/us_env_doesnotexist",
    ):
        _error(api.get(path), 404)
    space = api.post("/spaces", json={"name": "ids"}).json()["data"]["id"]
    _error(api.get(f"/spaces/{space}/documents/us_dc_nope"), 404, "documentId")
    _error(api.patch(f"/spaces/{space}/documents/us_dc_nope", json={"title": "t"}), 404, "documentId")
    _error(api.patch("/spaces/us_sp_nope", json={"name": "n"}), 404, "spaceId")
    _error(api.post("/spaces/us_sp_nope/archive"), 404, "spaceId")


def test_documents_validate_title_and_body(api: httpx.Client) -> None:
    space = api.post("/spaces", json={"name": "docs input"}).json()["data"]["id"]
    _error(api.post(f"/spaces/{space}/documents", json={"body": "no title"}), 400)
    _error(api.post(f"/spaces/{space}/documents", json={"title": "", "body": "b"}), 400, "title")
    _error(api.post(f"/spaces/{space}/documents", json={"title": "t" * 300, "body": "b"}), 400, "title")
    assert api.get(f"/spaces/{space}/documents").json() == {"data": []}


def test_bulk_delete_with_one_unknown_id_deletes_nothing(api: httpx.Client) -> None:
    space = api.post("/spaces", json={"name": "survivor"}).json()["data"]["id"]
    _error(api.delete("/spaces", params={"spaceIds": [space, "us_sp_unknown"]}), 404)
    assert api.get(f"/spaces/{space}").status_code == 200
    _error(api.delete("/spaces"), 400)


def test_allowed_domains_refuse_other_guests_and_nothing_is_half_written(api: httpx.Client) -> None:
    space = api.post("/spaces", json={"name": "closed", "allowedDomains": ["@customer.com"]}).json()["data"]
    assert space["allowedDomains"] == ["customer.com"]
    env = space["environmentId"]
    tag = uuid.uuid4().hex[:6]
    ok = {"environmentId": env, "email": f"a{tag}@customer.com", "name": "A", "spaces": [{"id": space["id"]}]}
    bad = {"environmentId": env, "email": f"b{tag}@elsewhere.com", "name": "B", "spaces": [{"id": space["id"]}]}
    message = _error(api.post("/guests", json=[ok, bad]), 403, "email")
    assert "allowed domains" in message
    assert api.get("/guests", params={"spaceId": space["id"]}).json() == {"data": []}
    assert api.post("/guests", json=[ok]).status_code == 200
    _error(api.post("/guests", json=[{**ok, "email": "not an email"}]), 400, "email")
    _error(api.post("/guests", json=[{**ok, "spaces": [{"id": space["id"], "role": "owner"}]}]), 400)
    _error(api.post("/guests", json=[{**ok, "spaces": [{"id": "us_sp_missing"}]}]), 404, "spaceId")
    _error(api.get("/guests"), 400)


def test_oversized_body_is_a_413_with_the_envelope(api: httpx.Client) -> None:
    reply = api.post("/spaces", content=b'{"name": "' + b"x" * (3 * 1024 * 1024) + b'"}')
    _error(reply, 413)


# Litestar 2.x warns about inferred dependencies and older Parameter() forms when an app is built
# in-process; the gateway process itself is unaffected.
@pytest.mark.filterwarnings("ignore::DeprecationWarning")
async def test_rate_limit_answers_429_with_retry_after(platform: Platform, infra: InfraUrls) -> None:
    settings = Settings(
        service_name="gateway",
        nats_url=infra.nats_url,
        database_url=infra.database_url,
        s3_endpoint=infra.s3_endpoint,
        otel_exporter="none",
        rate_limit_per_second=0.01,
        rate_limit_burst=2,
    )
    from gateway_service.app import create_app  # noqa: PLC0415 - only this test builds an app in-process

    headers = {"Authorization": f"Bearer {platform.secret_key}"}
    async with AsyncTestClient(app=create_app(settings)) as client:
        assert (await client.get("/v1/environments/current", headers=headers)).status_code == 200
        assert (await client.get("/v1/environments/current", headers=headers)).status_code == 200
        limited = await client.get("/v1/environments/current", headers=headers)
        assert limited.status_code == 429
        assert int(limited.headers["retry-after"]) >= 1
        assert limited.json()["errors"][0]["message"].startswith("too many requests")
        other = {"Authorization": "Bearer sk_another_key"}  # buckets are per key
        assert (await client.get("/v1/environments/current", headers=other)).status_code == 401
