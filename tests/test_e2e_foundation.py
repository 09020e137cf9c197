"""End to end through real processes: health, a write and its read, one trace across services."""

from __future__ import annotations

import json
import time

import httpx

from spaceport.testing.platform import Platform


def client(platform: Platform, key: str | None = None) -> httpx.Client:
    headers = {"Authorization": f"Bearer {key or platform.secret_key}"}
    return httpx.Client(base_url=platform.api, headers=headers, timeout=15)


def test_health_reports_every_dependency_and_service(platform: Platform) -> None:
    reply = httpx.get(f"{platform.base_url}/health", timeout=10)
    assert reply.status_code == 200
    checks = reply.json()["checks"]
    assert set(checks) == {"nats", "postgres", "s3", "space", "workbook", "record", "file", "job"}
    assert all(check["ok"] for check in checks.values())


def test_create_then_read_a_space(platform: Platform) -> None:
    with client(platform) as api:
        created = api.post("/spaces", json={"name": "Q3 import", "metadata": {"theme": {"root": {}}}})
        assert created.status_code == 200, created.text
        space = created.json()["data"]
        assert space["id"].startswith("us_sp_")
        assert space["name"] == "Q3 import"
        fetched = api.get(f"/spaces/{space['id']}")  # read-your-writes: no waiting needed
        assert fetched.status_code == 200
        assert fetched.json()["data"]["id"] == space["id"]
        listed = api.get("/spaces", params={"pageSize": 100})
        assert space["id"] in [s["id"] for s in listed.json()["data"]]
        assert listed.json()["pagination"]["totalCount"] >= 1


def test_errors_use_flatfile_envelope(platform: Platform) -> None:
    with client(platform, key="sk_not_a_key") as api:
        reply = api.get("/spaces")
        assert reply.status_code == 401
        assert reply.json()["errors"][0]["message"]
    with client(platform) as api:
        missing = api.get("/spaces/us_sp_doesnotexist")
        assert missing.status_code == 404
        assert missing.json() == {"errors": [{"key": "spaceId", "message": "space us_sp_doesnotexist not found"}]}
        bad = api.post("/spaces", content=b"{not json", headers={"Content-Type": "application/json"})
        assert bad.status_code == 400
        assert "malformed JSON" in bad.json()["errors"][0]["message"]
        wrong_type = api.post("/spaces", json={"name": 12})
        assert wrong_type.status_code == 400
        assert wrong_type.json()["errors"][0]["key"] == "name"


def test_one_request_is_one_trace_across_gateway_service_and_projection(platform: Platform) -> None:
    with client(platform) as api:
        reply = api.post("/spaces", json={"name": "traced"})
        assert reply.status_code == 200
        space_id = reply.json()["data"]["id"]
    everyone = {"gateway", "space", "workbook", "record", "file", "job"}
    projected_by = everyone - {"gateway"}  # the services whose projections read space events
    spans = _wait_for_spans(
        platform, lambda s: s["name"] == "project SpaceCreated" and _has_space(s, space_id), projected_by
    )
    projection = next(s for s in spans if s["name"] == "project SpaceCreated" and _has_space(s, space_id))
    trace = [s for s in spans if s["traceId"] == projection["traceId"]]
    services = {s["service"] for s in trace}
    # The gateway's HTTP span, the space service's command handling and every service's projection.
    assert everyone <= services
    names = {s["name"] for s in trace}
    assert any(str(n).startswith("POST") for n in names)
    assert "eventstore.append" in names
    ids = {s["spanId"] for s in trace}
    roots = [s for s in trace if s["parentId"] is None or s["parentId"] not in ids]
    assert len(roots) == 1, f"expected one root span, got {[r['name'] for r in roots]}"


def _has_space(span: dict[str, object], space_id: str) -> bool:
    return space_id in json.dumps(span)


def _wait_for_spans(
    platform: Platform, predicate: object, services: set[str], timeout: float = 10.0
) -> list[dict[str, object]]:
    """Every span so far, once spans matching `predicate` came from each of `services` (or at the timeout)."""
    deadline = time.monotonic() + timeout
    while True:
        spans = [json.loads(line) for line in platform.trace_file.read_text().splitlines() if line.strip()]
        found = {s["service"] for s in spans if predicate(s)}  # type: ignore[operator]
        if services <= found or time.monotonic() > deadline:
            return spans
        time.sleep(0.2)
