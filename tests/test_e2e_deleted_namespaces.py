"""`space:deleted` carries the deleted space's namespaces (its own and its app's), as every other
event of the space does, though the space's earlier events are erased by then: the deletion
event names them in clear (`SpaceDeleted.namespace`, `app_id`), so a rebuilt feed says the same."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from spaceport.testing.platform import Platform


@pytest.fixture
def api(platform: Platform) -> Iterator[httpx.Client]:
    with platform.client(timeout=60) as client:
        yield client


def ok(reply: httpx.Response) -> Any:
    assert reply.status_code == 200, reply.text
    return reply.json()["data"]


def deleted_event(api: httpx.Client, environment: str, space: str) -> dict[str, Any]:
    deadline = time.monotonic() + 30
    while True:
        params: dict[str, str | int] = {"environmentId": environment, "topic": "space:deleted", "pageSize": 100}
        found = [e for e in ok(api.get("/events", params=params)) if e["context"].get("spaceId") == space]
        if found:
            return dict(found[0])
        assert time.monotonic() < deadline, "no space:deleted"
        time.sleep(0.2)


def test_space_deleted_names_the_namespaces_of_the_space_and_its_app(api: httpx.Client) -> None:
    environment = ok(api.get("/environments/current"))["id"]
    tag = uuid.uuid4().hex[:8]
    app = ok(api.post("/apps", json={"name": f"app {tag}", "namespace": f"loads{tag}", "type": "CUSTOM"}))["id"]
    space = ok(api.post("/spaces", json={"name": "namespaced", "namespace": f"red{tag}", "appId": app}))["id"]
    ok(api.patch(f"/spaces/{space}", json={"namespace": f"blue{tag}"}))  # the namespace it has when deleted
    plain = ok(api.post("/spaces", json={"name": "plain"}))["id"]
    ok(api.delete(f"/spaces/{space}"))
    ok(api.delete(f"/spaces/{plain}"))

    event = deleted_event(api, environment, space)
    assert event["namespaces"] == [f"space:blue{tag}", f"app:loads{tag}"] == event["context"]["namespaces"]
    assert event["payload"] == {"spaceId": space, "environmentId": environment}
    assert deleted_event(api, environment, plain)["namespaces"] == []
