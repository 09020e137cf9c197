"""Apps and their stored constraints through the official SDK on the real platform, bad inputs
(400/404/409 in the errors envelope, never a 500, nothing half-written), and the `app:created`
event a listener sees with the app's namespace in `namespaces`."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from flatfile import Flatfile
from flatfile.core.api_error import ApiError

from spaceport.testing.platform import Platform

ACTIVATED = datetime(2024, 1, 15, 10, 0, tzinfo=UTC)


def stored(validator: str) -> dict[str, Any]:
    return {"type": "stored", "validator": validator}


def blueprint(*constraints: dict[str, Any]) -> list[dict[str, Any]]:
    fields = [{"key": "phone", "type": "string", "constraints": list(constraints)}]
    return [{"name": "Contacts WB", "sheets": [{"name": "Contacts", "fields": fields}]}]


@pytest.fixture(scope="module")
def secret_key(platform: Platform) -> str:
    """A fresh environment's secret key: its apps are this module's only."""
    with platform.client(timeout=30) as http:
        reply = http.post("/environments", json={"name": "apps e2e", "isProd": False})
        assert reply.status_code == 200, reply.text
        key: str = reply.json()["data"]["secretKey"]
        return key


@pytest.fixture(scope="module")
def client(platform: Platform, secret_key: str) -> Flatfile:
    return Flatfile(token=secret_key, base_url=platform.api)


@pytest.fixture(scope="module")
def api(platform: Platform, secret_key: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=platform.api, headers={"Authorization": f"Bearer {secret_key}"}, timeout=30) as http:
        yield http


def refused(reply: httpx.Response, status: int, key: str | None = None) -> str:
    assert reply.status_code == status, reply.text
    [error] = reply.json()["errors"]
    if key is not None:
        assert error.get("key") == key, error
    message: str = error["message"]
    return message


def test_apps_through_the_sdk(client: Flatfile) -> None:
    icon = '<svg xmlns="http://www.w3.org/2000/svg"/>'
    created = client.apps.create(
        name="Nightly Data Loads",
        namespace="nightly-data",
        type="CUSTOM",
        entity="Sync",
        entity_plural="Syncs",
        icon=icon,
        metadata={"foo": "bar"},
        environment_filters={"type": ["PROD", "DEV"], "exclude_ids": ["us_env_123456"]},
    ).data
    assert created.id.startswith("us_app_")
    assert (created.name, created.namespace, created.type, created.entity, created.entity_plural) == (
        "Nightly Data Loads",
        "nightly-data",
        "CUSTOM",
        "Sync",
        "Syncs",
    )
    assert created.icon == icon and created.metadata == {"foo": "bar"}
    assert created.environment_filters == {"type": ["PROD", "DEV"], "exclude_ids": ["us_env_123456"]}
    assert created.deleted_at is None and created.activated_at is None
    assert client.apps.get(created.id).data.id == created.id
    assert created.id in [a.id for a in client.apps.list().data]

    updated = client.apps.update(created.id, name="Daily Loads", activated_at=ACTIVATED).data
    assert (updated.name, updated.namespace, updated.entity) == ("Daily Loads", "nightly-data", "Sync")
    assert updated.activated_at == ACTIVATED
    assert updated.updated_at >= created.updated_at

    assert client.apps.delete(created.id).success is True
    assert created.id not in [a.id for a in client.apps.list().data]
    with pytest.raises(ApiError) as gone:
        client.apps.get(created.id)
    assert gone.value.status_code == 404


def test_constraints_and_their_versions_through_the_sdk(client: Flatfile) -> None:
    app = client.apps.create(name="Phones", namespace="phones", type="WORKBOOKS").data
    function = "function constraint(value, key, { record }) { if (!value) record.addError(key, 'no') }"
    made = client.apps.create_constraint(
        app.id,
        validator="UsPhoneValidation",
        description="Validates US phone numbers",
        function=function,
        label="US Phone Number",
        options={"errorMessage": "Invalid phone number format", "allowEmpty": False},
    ).data
    assert made.id.startswith("us_cn_") and made.app_id == app.id
    assert (made.validator, made.label, made.function) == ("UsPhoneValidation", "US Phone Number", function)
    assert [c.id for c in client.apps.get_constraints(app.id, include_builtins=True).data] == [made.id]
    assert client.apps.get_constraint_by_id(app.id, made.id).data.description == "Validates US phone numbers"

    changed = client.apps.update_constraint(app.id, made.id, label="Phone (US)").data
    assert (changed.label, changed.function, changed.options) == ("Phone (US)", function, made.options)
    versions = client.apps.get_constraint_versions(app.id, made.id).data
    assert [(v.version, v.label) for v in versions] == [(1, "US Phone Number"), (2, "Phone (US)")]
    first = client.apps.get_constraint_version(app.id, made.id, 1).data
    assert (first.version, first.label, first.validator) == (1, "US Phone Number", "UsPhoneValidation")

    # A blueprint's stored constraint names the app's validator; the blueprint comes back with slugs.
    with_blueprint = client.apps.update(app.id, blueprint=blueprint(stored("UsPhoneValidation"))).data
    assert with_blueprint.blueprint is not None
    assert with_blueprint.blueprint[0]["sheets"][0]["slug"] == "contacts"
    assert with_blueprint.blueprint[0]["sheets"][0]["fields"][0]["constraints"] == [stored("UsPhoneValidation")]

    client.apps.update(app.id, blueprint=[])
    assert client.apps.delete_constraint(app.id, made.id).success is True
    assert client.apps.get_constraints(app.id).data == []
    with pytest.raises(ApiError) as gone:
        client.apps.get_constraint_versions(app.id, made.id)
    assert gone.value.status_code == 404


def test_bad_app_inputs_are_refused_with_the_path(api: httpx.Client) -> None:
    refused(api.post("/apps", json={"namespace": "n", "type": "CUSTOM"}), 400, "name")
    refused(api.post("/apps", json={"name": "A", "namespace": "n"}), 400, "type")
    assert "PORTAL" in refused(api.post("/apps", json={"name": "A", "type": "BOGUS"}), 400, "type")
    refused(api.post("/apps", json={"name": "A", "type": "CUSTOM", "namespace": "n" * 300}), 400, "namespace")
    refused(api.post("/apps", json={"name": "A", "type": "CUSTOM", "entity": "e" * 300}), 400, "entity")
    refused(api.post("/apps", json={"name": "A", "type": "CUSTOM", "entityPlural": "e" * 300}), 400, "entityPlural")
    refused(api.post("/apps", json={"name": "A", "type": "CUSTOM", "icon": "x" * 70_000}), 400, "icon")
    refused(api.post("/apps", json={"name": "A", "type": 7}), 400, "type")
    refused(api.post("/apps", content=b"{not json"), 400)
    refused(api.post("/apps", json={"name": "A", "type": "CUSTOM", "blueprint": {"not": "a list"}}), 400, "blueprint")
    bad_type = [{"name": "W", "sheets": [{"name": "S", "fields": [{"key": "k", "type": "colour"}]}]}]
    refused(
        api.post("/apps", json={"name": "A", "type": "CUSTOM", "blueprint": bad_type}),
        400,
        "blueprint[0].sheets[0].fields[0].type",
    )
    no_sheets = [{"name": "W"}]
    refused(api.post("/apps", json={"name": "A", "type": "CUSTOM", "blueprint": no_sheets}), 400, "blueprint[0].sheets")
    message = refused(
        api.post("/apps", json={"name": "A", "type": "CUSTOM", "blueprint": blueprint(stored("Missing"))}),
        400,
        "blueprint[0].sheets[0].fields[0].constraints[0].validator",
    )
    assert "Missing" in message
    # Nothing half-written: no refused app exists.
    assert [a["name"] for a in api.get("/apps").json()["data"] if a["name"] == "A"] == []


def test_bad_constraint_inputs_and_unknown_ids(api: httpx.Client) -> None:
    app = api.post("/apps", json={"name": "C", "namespace": "c", "type": "CUSTOM"}).json()["data"]["id"]
    path = f"/apps/{app}/constraints"
    refused(api.post(path, json={"label": "no validator"}), 400, "validator")
    refused(api.post(path, json={"validator": "has spaces"}), 400, "validator")
    refused(api.post(path, json={"validator": "V", "appId": "us_app_other"}), 400, "appId")
    made = api.post(path, json={"validator": "V"}).json()["data"]
    refused(api.post(path, json={"validator": "V"}), 409, "validator")
    refused(api.patch(f"{path}/{made['id']}", json={"validator": "W"}), 400, "validator")
    refused(api.get(f"{path}/{made['id']}/versions/abc"), 400, "version")
    refused(api.get(f"{path}/{made['id']}/versions/9"), 404, "version")
    # A constraint the blueprint uses cannot be deleted.
    assert api.patch(f"/apps/{app}", json={"blueprint": blueprint(stored("V"))}).status_code == 200
    refused(api.delete(f"{path}/{made['id']}"), 409, "constraintId")
    assert len(api.get(path).json()["data"]) == 1
    unknown = "us_app_0000000000"
    for reply in (
        api.get(f"/apps/{unknown}"),
        api.patch(f"/apps/{unknown}", json={"name": "x"}),
        api.delete(f"/apps/{unknown}"),
        api.get(f"/apps/{unknown}/constraints"),
        api.post(f"/apps/{unknown}/constraints", json={"validator": "V"}),
        api.get(f"{path}/us_cn_0000000000"),
        api.patch(f"{path}/us_cn_0000000000", json={"label": "x"}),
        api.delete(f"{path}/us_cn_0000000000"),
        api.get(f"{path}/us_cn_0000000000/versions"),
        api.get("/apps/not-an-id"),
    ):
        assert reply.status_code == 404, reply.text
        assert "errors" in reply.json()


def test_a_listener_sees_app_created_with_the_apps_namespace(api: httpx.Client) -> None:
    app = api.post("/apps", json={"name": "Listened", "namespace": "listened", "type": "PORTAL"}).json()["data"]
    deadline = time.monotonic() + 20
    found: list[dict[str, Any]] = []
    while not found and time.monotonic() < deadline:
        listed = api.get("/events", params={"pageSize": 1000, "topic": "app:*"}).json()["data"]
        found = [e for e in listed if e["topic"] == "app:created" and e["payload"].get("appId") == app["id"]]
        if not found:
            time.sleep(0.1)
    assert found, "no app:created event in the feed"
    [event] = found
    assert event["namespaces"] == ["app:listened"] == event["context"]["namespaces"]
    assert event["payload"]["namespace"] == "listened" and event["payload"]["type"] == "PORTAL"
    assert event["context"]["environmentId"] == app["environmentId"]
    # Not in the SDK's EventTopic: an unfiltered list leaves it out, so the SDK still parses lists
    unfiltered = api.get("/events", params={"pageSize": 1000}).json()["data"]
    assert all(not e["topic"].startswith("app:") for e in unfiltered)
    assert event["id"] in [e["id"] for e in api.get("/events", params={"topic": "app:created"}).json()["data"]]


def test_events_of_an_apps_space_carry_the_apps_namespace(api: httpx.Client) -> None:
    """Listeners filter by app: every event of a space that belongs to an app names it."""
    app = api.post("/apps", json={"name": "Scoped", "namespace": "scoped", "type": "PROJECTS"}).json()["data"]
    space = api.post("/spaces", json={"name": "in the app", "appId": app["id"], "namespace": "crm"}).json()["data"]
    assert space["appId"] == app["id"]
    sheet = {"name": "People", "slug": "people", "fields": [{"key": "name", "type": "string"}]}
    made = api.post("/workbooks", json={"spaceId": space["id"], "name": "W", "sheets": [sheet]})
    assert made.status_code == 200, made.text
    wanted = {"space:created", "workbook:created"}
    deadline = time.monotonic() + 20
    seen: dict[str, list[str]] = {}
    while not wanted <= set(seen) and time.monotonic() < deadline:
        listed = api.get("/events", params={"spaceId": space["id"], "pageSize": 100}).json()["data"]
        seen = {e["topic"]: e["namespaces"] for e in listed}
        time.sleep(0.1)
    assert wanted <= set(seen), seen
    for topic in wanted:
        assert "app:scoped" in seen[topic] and "space:crm" in seen[topic], (topic, seen[topic])
