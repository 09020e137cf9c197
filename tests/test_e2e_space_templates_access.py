"""Authorization matrix of what app spaces and templates add to `/v1/spaces`.

Env A holds app P and its template space S (with a document), whose guests are admin, editor
and viewer; env B is another environment. `appId` on a create is what a publishable key may send
(Flatfile's embedded flow). `templateId` copies a space's content, and `isAppTemplate` (on a
create or a PATCH) decides what every later space of the app copies: both take a secret key (a
publishable key is public, and a guest admin of the space may not either). No cell may leak env
A's ids or names.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest

from spaceport.testing.matrix import Findings
from spaceport.testing.platform import Platform

PRINCIPALS = ("sk_a", "sk_b", "pk_a", "admin_s", "editor_s", "viewer_s", "none", "garbage")


@dataclass
class World:
    tokens: dict[str, str | None]
    app: str
    template: str

    def markers(self, principal: str) -> set[str]:
        """What `principal` must never see (beyond what it sent)."""
        everything = {self.app, self.template, "gamma-template", "gamma-doc"}
        return everything if principal in ("sk_b", "none", "garbage") else set()


def _ok(reply: httpx.Response) -> dict[str, object]:
    assert reply.status_code == 200, reply.text
    data: dict[str, object] = reply.json()["data"]
    return data


@pytest.fixture(scope="module")
def world(platform: Platform) -> Iterator[World]:
    with platform.client(timeout=30) as dev:
        env_a, env_b = (_ok(dev.post("/environments", json={"name": f"gamma-{n}"})) for n in ("a", "b"))
        sk_a = {"Authorization": f"Bearer {env_a['secretKey']}"}
        blueprint = [{"name": "gamma-wb", "sheets": [{"name": "S", "fields": [{"key": "a", "type": "string"}]}]}]
        app = _ok(dev.post("/apps", json={"name": "gamma", "type": "CUSTOM", "blueprint": blueprint}, headers=sk_a))
        body = {"name": "gamma-template", "appId": app["id"], "isAppTemplate": True}
        template = str(_ok(dev.post("/spaces", json=body, headers=sk_a))["id"])
        _ok(dev.post(f"/spaces/{template}/documents", json={"title": "gamma-doc", "body": "x"}, headers=sk_a))
        tokens: dict[str, str | None] = {
            "sk_a": str(env_a["secretKey"]),
            "sk_b": str(env_b["secretKey"]),
            "pk_a": str(env_a["publishableKey"]),
            "none": None,
            "garbage": "sk_garbage_" + uuid.uuid4().hex,
        }
        for role in ("admin", "editor", "viewer"):
            email = f"{role}-{uuid.uuid4().hex[:6]}@example.com"
            spec = [
                {"environmentId": env_a["id"], "email": email, "name": "g", "spaces": [{"id": template, "role": role}]}
            ]
            reply = dev.post("/guests", json=spec, headers=sk_a)
            assert reply.status_code == 200, reply.text
            guest_id = reply.json()["data"][0]["id"]
            token = _ok(dev.get(f"/guests/{guest_id}/token", params={"spaceId": template}, headers=sk_a))
            tokens[f"{role}_s"] = str(token["token"])
        yield World(tokens=tokens, app=str(app["id"]), template=template)


Expect = dict[str, int]
DEFAULT: Expect = {
    "sk_a": 200,
    "sk_b": 404,
    "pk_a": 403,
    "admin_s": 403,
    "editor_s": 403,
    "viewer_s": 403,
    "none": 401,
    "garbage": 401,
}
GUEST_LISTS: Expect = {"admin_s": 200, "editor_s": 200, "viewer_s": 200}
TABLE: list[tuple[str, str, object, Expect]] = [
    ("POST", "/spaces", {"name": "m", "appId": "{app}"}, {"pk_a": 200}),
    ("POST", "/spaces", {"name": "m", "templateId": "{template}"}, {}),
    ("POST", "/spaces", {"name": "m", "appId": "{app}", "isAppTemplate": True}, {}),
    ("POST", "/spaces", {"name": "m", "appId": "{app}", "templateId": "{template}"}, {}),
    ("GET", "/spaces?appId={app}&isAppTemplate=true", None, {"sk_b": 200, **GUEST_LISTS}),
    ("GET", "/spaces?isAppTemplate=false", None, {"sk_b": 200, **GUEST_LISTS}),
    ("PATCH", "/spaces/{template}", {"isAppTemplate": True}, {}),
    ("PATCH", "/spaces/{template}", {"appId": "{app}", "name": "gamma-template"}, {"admin_s": 200}),
]


def _fill(value: object, world: World) -> object:
    if isinstance(value, str):
        return value.replace("{app}", world.app).replace("{template}", world.template)
    if isinstance(value, dict):
        return {k: _fill(v, world) for k, v in value.items()}
    return value


def test_authorization_matrix_of_app_spaces(platform: Platform, world: World) -> None:
    findings = Findings()
    with httpx.Client(base_url=platform.api, timeout=30) as http:
        for method, template, body, overrides in TABLE:
            expected_by = {**DEFAULT, **overrides}
            for principal in PRINCIPALS:
                path, payload = str(_fill(template, world)), _fill(body, world)
                token = world.tokens[principal]
                headers = {"Authorization": f"Bearer {token}"} if token else {}
                reply = http.request(method, path, json=payload, headers=headers)
                cell = f"{principal:9} {method:6} {template} {body}"
                findings.check(reply, cell, expected_by[principal], world.markers(principal), asked=f"{path} {payload}")
    findings.assert_clean()


def test_a_guest_lists_only_its_own_space_of_the_app(platform: Platform, world: World) -> None:
    headers = {"Authorization": f"Bearer {world.tokens['viewer_s']}"}
    reply = httpx.get(f"{platform.api}/spaces", headers=headers, params={"appId": world.app, "pageSize": 100})
    assert [s["id"] for s in reply.json()["data"]] == [world.template]


def test_another_environment_never_lists_the_app_spaces(platform: Platform, world: World) -> None:
    headers = {"Authorization": f"Bearer {world.tokens['sk_b']}"}
    reply = httpx.get(f"{platform.api}/spaces", headers=headers, params={"appId": world.app, "isAppTemplate": True})
    assert reply.status_code == 200 and reply.json()["data"] == []
