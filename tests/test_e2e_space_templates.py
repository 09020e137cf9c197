"""Spaces of apps and spaces made from templates, through the gateway and every service.

The official `flatfile` SDK where it has the fields (`appId`, `isAppTemplate`), httpx for
Spaceport's `templateId` and for the refusals. A copy has the template's workbooks (sheets and
fields), documents, theme and settings, its metadata deep-merged with the request's, and stays as
it was when the template changes. Every refused create leaves no space and no workbook behind.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import msgspec
import nats
import pytest
from flatfile import Flatfile
from flatfile.spaces import SpaceSettings, SpaceSidebarConfig

from spaceport.contracts import space as space_contract
from spaceport.contracts.space import AppCreated, Caught
from spaceport.events import EventRegistry
from spaceport.eventstore import EventStore
from spaceport.messaging import request_subject
from spaceport.ports import AggregateRef, AppendContext
from spaceport.settings import Settings
from spaceport.testing.infra import InfraUrls
from spaceport.testing.platform import Platform

CONTACTS: dict[str, Any] = {
    "name": "Contacts",
    "slug": "contacts",
    "fields": [
        {"key": "email", "type": "string", "label": "Email", "constraints": [{"type": "required"}]},
        {"key": "tier", "type": "enum", "config": {"options": [{"value": "gold"}, {"value": "silver"}]}},
    ],
}
BLUEPRINT: list[dict[str, Any]] = [
    {
        "name": "CRM",
        "labels": ["crm"],
        "namespace": "crm",
        "metadata": {"origin": "blueprint"},
        "actions": [{"operation": "submit", "label": "Submit", "mode": "foreground"}],
        "settings": {"trackChanges": True},
        "sheets": [CONTACTS],
    }
]


@dataclass(frozen=True)
class Env:
    id: str
    key: str
    other_key: str

    def headers(self, key: str | None = None) -> dict[str, str]:
        return {"Authorization": f"Bearer {key or self.key}"}


def _data(reply: httpx.Response) -> Any:
    assert reply.status_code == 200, reply.text
    return reply.json()["data"]


@pytest.fixture(scope="module")
def env(platform: Platform) -> Iterator[Env]:
    with platform.client(timeout=30) as http:
        a, b = (_data(http.post("/environments", json={"name": f"templates-{n}"})) for n in ("a", "b"))
        yield Env(id=a["id"], key=a["secretKey"], other_key=b["secretKey"])


@pytest.fixture
def http(platform: Platform, env: Env) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=platform.api, headers=env.headers(), timeout=30) as client:
        yield client


def sdk(platform: Platform, env: Env) -> Flatfile:
    return Flatfile(token=env.key, base_url=platform.api)


def _app(http: httpx.Client, blueprint: list[dict[str, Any]] | None = None, name: str = "Onboarding") -> str:
    body: dict[str, Any] = {"name": name, "namespace": f"ns-{uuid.uuid4().hex[:8]}", "type": "CUSTOM"}
    if blueprint is not None:
        body["blueprint"] = blueprint
    return str(_data(http.post("/apps", json=body))["id"])


def _workbooks(http: httpx.Client, space_id: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = _data(http.get("/workbooks", params={"spaceId": space_id}))
    return sorted(found, key=lambda w: (w["createdAt"], w["id"]))


def _shape(workbooks: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    """What a copy must repeat of each workbook: everything but ids, times and counts."""
    return [
        (
            w["name"],
            w.get("labels"),
            w.get("namespace"),
            w.get("metadata"),
            w.get("actions"),
            w.get("settings"),
            [(s["name"], s["slug"], s["config"]) for s in w["sheets"]],
        )
        for w in workbooks
    ]


def _documents(http: httpx.Client, space_id: str) -> list[tuple[str, str, list[str], list[Any]]]:
    found = _data(http.get(f"/spaces/{space_id}/documents"))
    return [(d["title"], d["body"], d["treatments"], d["actions"]) for d in found]


def _census(http: httpx.Client) -> tuple[list[str], list[str]]:
    """Every live space id of the environment (archived too) and every workbook id in it."""
    spaces = [
        s["id"]
        for archived in ("false", "true")
        for s in _data(http.get("/spaces", params={"pageSize": 1000, "archived": archived}))
    ]
    workbooks = [w["id"] for w in _data(http.get("/workbooks", params={"includeSheets": "false"}))]
    return sorted(spaces), sorted(workbooks)


def test_a_space_of_an_app_copies_its_template_space(platform: Platform, env: Env, http: httpx.Client) -> None:
    client = sdk(platform, env)
    app_id = _app(http, BLUEPRINT)
    template = client.spaces.create(
        name="Template",
        app_id=app_id,
        is_app_template=True,
        metadata={"theme": {"root": {"primaryColor": "red", "fontFamily": "Inter"}}, "team": "ops"},
        settings=SpaceSettings(sidebar_config=SpaceSidebarConfig(workbook_sidebar_order=["us_wb_placeholder"])),
        labels=["template"],
    ).data
    assert template.app_id == app_id and template.is_app_template is True
    extra = {"name": "Notes", "sheets": [{"name": "Notes", "fields": [{"key": "text", "type": "string"}]}]}
    _data(http.post("/workbooks", json={**extra, "spaceId": template.id}))
    doc = {"title": "Welcome", "body": "<h1>Hi</h1>", "treatments": ["intro"], "actions": []}
    _data(http.post(f"/spaces/{template.id}/documents", json=doc))

    project = client.spaces.create(
        name="Project", app_id=app_id, metadata={"theme": {"root": {"primaryColor": "blue"}}, "customer": "acme"}
    ).data
    assert project.model_extra is not None and project.model_extra["templateId"] == template.id
    assert project.app_id == app_id and not project.is_app_template
    assert project.metadata == {
        "theme": {"root": {"primaryColor": "blue", "fontFamily": "Inter"}},
        "team": "ops",
        "customer": "acme",
    }
    assert project.settings is not None and project.settings.sidebar_config is not None
    assert project.settings.sidebar_config.workbook_sidebar_order == ["us_wb_placeholder"]
    assert project.labels == ["template"] and project.workbooks_count == 2
    # read-your-writes: listable right after the create answered
    assert _shape(_workbooks(http, project.id)) == _shape(_workbooks(http, template.id))
    assert [w["name"] for w in _workbooks(http, project.id)] == ["CRM", "Notes"]
    sdk_books = client.workbooks.list(space_id=project.id).data
    assert sorted(str(w.name) for w in sdk_books) == ["CRM", "Notes"]
    assert _documents(http, project.id) == [("Welcome", "<h1>Hi</h1>", ["intro"], [])]
    assert [d.title for d in client.documents.list(project.id).data] == ["Welcome"]

    # a copy is by value: the template changes, the copy does not
    before = (_shape(_workbooks(http, project.id)), _documents(http, project.id))
    client.spaces.update(template.id, metadata={"theme": {"root": {"primaryColor": "green"}}})
    first = _workbooks(http, template.id)[0]
    _data(http.patch(f"/workbooks/{first['id']}", json={"name": "CRM renamed", "labels": ["changed"]}))
    _data(http.post(f"/spaces/{template.id}/documents", json={"title": "Later", "body": "x"}))
    after = client.spaces.get(project.id).data
    assert after.metadata is not None and after.metadata["theme"]["root"]["primaryColor"] == "blue"
    assert (_shape(_workbooks(http, project.id)), _documents(http, project.id)) == before


def test_an_app_without_a_template_space_gives_its_blueprint(platform: Platform, env: Env, http: httpx.Client) -> None:
    app_id = _app(http, BLUEPRINT)
    space = _data(http.post("/spaces", json={"name": "From blueprint", "appId": app_id}))
    assert (space["appId"], space["templateId"], space["isAppTemplate"]) == (app_id, app_id, False)
    made = _workbooks(http, space["id"])
    assert [(w["name"], w["labels"], w["namespace"], w["metadata"]) for w in made] == [
        ("CRM", ["crm"], "crm", {"origin": "blueprint"})
    ]
    assert made[0]["settings"] == {"trackChanges": True} and made[0]["actions"][0]["operation"] == "submit"
    (sheet,) = made[0]["sheets"]
    assert (sheet["slug"], [f["key"] for f in sheet["config"]["fields"]]) == ("contacts", ["email", "tier"])
    assert sheet["config"]["fields"][0]["constraints"] == [{"type": "required"}]


def test_template_id_copies_a_space_explicitly(env: Env, http: httpx.Client) -> None:
    source = _data(http.post("/spaces", json={"name": "Source", "metadata": {"a": {"b": 1, "c": 2}}}))
    _data(http.post("/workbooks", json={"name": "Only", "spaceId": source["id"], "sheets": [CONTACTS]}))
    copy = _data(http.post("/spaces", json={"templateId": source["id"], "metadata": {"a": {"c": 3}}}))
    assert copy["templateId"] == source["id"] and copy["appId"] is None
    assert copy["name"] == "Source" and copy["metadata"] == {"a": {"b": 1, "c": 3}}
    assert _shape(_workbooks(http, copy["id"])) == _shape(_workbooks(http, source["id"]))


def test_a_retried_create_with_the_same_idempotency_key_copies_once(env: Env, http: httpx.Client) -> None:
    app_id = _app(http, BLUEPRINT)
    headers = {"Idempotency-Key": uuid.uuid4().hex}
    first = _data(http.post("/spaces", json={"appId": app_id}, headers=headers))
    second = _data(http.post("/spaces", json={"appId": app_id}, headers=headers))
    assert first["id"] == second["id"]
    assert len(_workbooks(http, first["id"])) == 1


def test_spaces_are_listed_by_app_and_template_status(platform: Platform, env: Env, http: httpx.Client) -> None:
    client = sdk(platform, env)
    app_id = _app(http, [])
    template = client.spaces.create(name="t", app_id=app_id, is_app_template=True).data
    member = client.spaces.create(name="m", app_id=app_id).data
    client.spaces.create(name="unrelated")
    templates = client.spaces.list(app_id=app_id, is_app_template=True, page_size=100).data
    assert [s.id for s in templates] == [template.id]
    members = client.spaces.list(app_id=app_id, is_app_template=False, page_size=100).data
    assert [s.id for s in members] == [member.id]
    assert {s.id for s in client.spaces.list(app_id=app_id, page_size=100).data} == {template.id, member.id}
    assert template.id in {s.id for s in client.spaces.list(is_app_template=True, page_size=1000).data}
    # a template may stop being one (and become one again): PATCH isAppTemplate
    client.spaces.update(template.id, is_app_template=False)
    assert client.spaces.list(app_id=app_id, is_app_template=True).data == []
    other = _app(http, [])
    assert client.spaces.list(app_id=other).data == []
    refused = http.get("/spaces", params={"appId": "not an app"})
    assert refused.status_code == 400 and refused.json()["errors"][0]["key"] == "appId"


# ---- refusals: nothing is left behind ------------------------------------------------------


def _refused(http: httpx.Client, status: int, key: str, body: dict[str, Any], token: str | None = None) -> str:
    before = _census(http)
    headers = {"Authorization": f"Bearer {token}"} if token else None
    reply = http.post("/spaces", json=body, headers=headers)
    assert reply.status_code == status, reply.text
    (error,) = reply.json()["errors"]
    assert error.get("key") == key, error
    assert _census(http) == before
    return str(error["message"])


def test_an_app_that_is_not_there_answers_404(env: Env, http: httpx.Client, platform: Platform) -> None:
    gone = _app(http, BLUEPRINT)
    assert http.delete(f"/apps/{gone}").status_code == 200
    with httpx.Client(base_url=platform.api, headers=env.headers(env.other_key), timeout=30) as theirs:
        other_env_app = _app(theirs, BLUEPRINT)
    for app_id in ("us_app_doesnotexist", "not an app id", gone, other_env_app):
        _refused(http, 404, "appId", {"name": "x", "appId": app_id})


def test_is_app_template_needs_an_app(env: Env, http: httpx.Client) -> None:
    _refused(http, 400, "isAppTemplate", {"name": "x", "isAppTemplate": True})
    plain = _data(http.post("/spaces", json={"name": "plain"}))
    reply = http.patch(f"/spaces/{plain['id']}", json={"isAppTemplate": True})
    assert reply.status_code == 400 and reply.json()["errors"][0]["key"] == "isAppTemplate"
    app_id = _app(http, [])
    reply = http.patch(f"/spaces/{plain['id']}", json={"appId": app_id})
    assert reply.status_code == 400 and reply.json()["errors"][0]["key"] == "appId"
    assert _data(http.get(f"/spaces/{plain['id']}"))["appId"] is None


def test_a_template_that_is_not_there_answers_404(env: Env, http: httpx.Client, platform: Platform) -> None:
    with httpx.Client(base_url=platform.api, headers=env.headers(env.other_key), timeout=30) as theirs:
        foreign = _data(theirs.post("/spaces", json={"name": "foreign"}))["id"]
    deleted = _data(http.post("/spaces", json={"name": "deleted"}))["id"]
    assert http.delete(f"/spaces/{deleted}").status_code == 200
    for template_id in (foreign, deleted, "us_sp_doesnotexist", "garbage"):
        _refused(http, 404, "templateId", {"templateId": template_id})


def test_bad_fields_beside_an_app_are_400_before_anything_is_written(env: Env, http: httpx.Client) -> None:
    app_id = _app(http, BLUEPRINT)
    _refused(http, 400, "access", {"appId": app_id, "access": ["everything"]})
    _refused(http, 400, "name", {"appId": app_id, "name": "n" * 300})


def test_a_recorded_blueprint_that_no_longer_validates_is_400_naming_the_app(
    env: Env, http: httpx.Client, infra: InfraUrls
) -> None:
    """An app whose blueprint was recorded before a rule it breaks (two fields with one key)."""
    twice = {"name": "S", "fields": [{"key": "a", "type": "string"}, {"key": "a", "type": "string"}]}
    app_id = asyncio.run(_record_app(infra, env.id, [{"name": "Broken", "sheets": [twice]}]))
    assert _data(http.get(f"/apps/{app_id}"))["blueprint"][0]["name"] == "Broken"
    message = _refused(http, 400, "appId", {"name": "x", "appId": app_id})
    assert app_id in message and "Broken" in message


async def _record_app(infra: InfraUrls, environment_id: str, blueprint: list[dict[str, Any]]) -> str:
    settings = Settings()
    app_id = "us_app_" + uuid.uuid4().hex[:12]
    nc = await nats.connect(infra.nats_url)
    try:
        store = EventStore(
            nc, EventRegistry(space_contract.EVENTS), stream=settings.event_stream, prefix=settings.event_prefix
        )
        ref = AggregateRef(environment_id=environment_id, space_id=None, aggregate="app", aggregate_id=app_id)
        created = AppCreated(
            app_id=app_id, environment_id=environment_id, name="old", namespace="old", blueprint=blueprint
        )
        landed = await store.append(ref, [created], expected_version=0, context=AppendContext(actor="us_key_test"))
        # wait for the space read model to apply it: the `Caught` checkpoint the gateway uses too
        subject = request_subject(settings.command_prefix, space_contract.SERVICE, Caught)
        reply = await nc.request(subject, msgspec.json.encode(Caught(position=landed.last_seq)), timeout=10)
        assert reply.data.startswith(b'{"ok"'), reply.data
    finally:
        await nc.close()
    return app_id
