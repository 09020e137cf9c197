"""Authorization matrix: every principal x every `/v1/apps` endpoint.

Env A holds app P (constraint C, two versions) and space S with guests (admin, editor, viewer);
env B is another environment of the account. Only a secret key of env A reaches env A's apps:
publishable keys and guests get 403, env B's key 404 (an app belongs to the environment of the
key that created it), no credentials 401. No cell may leak env A's ids or names to another.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import httpx
import pytest

from spaceport.testing.matrix import Findings
from spaceport.testing.platform import Platform

PRINCIPALS = ("sk_a", "sk_b", "pk_a", "admin_s", "editor_s", "viewer_s", "none", "garbage")
SECRET_NAMES = ("alpha-app-secret", "alpha-validator-secret", "alpha-label-secret", "alpha-namespace-secret")


@dataclass
class World:
    tokens: dict[str, str | None]
    app: str
    constraint: str
    new_app: Callable[[], str]
    new_constraint: Callable[[], str]

    def markers(self, principal: str) -> set[str]:
        """What `principal` must never see (sk_a sees everything)."""
        return set() if principal == "sk_a" else {self.app, self.constraint, *SECRET_NAMES}


def _data(reply: httpx.Response) -> dict[str, object]:
    assert reply.status_code == 200, reply.text
    body = reply.json()["data"]
    assert isinstance(body, dict)
    return body


@pytest.fixture(scope="module")
def world(platform: Platform) -> Iterator[World]:
    with httpx.Client(base_url=platform.api, timeout=15) as http:
        dev = {"Authorization": f"Bearer {platform.secret_key}"}
        env_a = _data(http.post("/environments", json={"name": "apps-env-a", "isProd": False}, headers=dev))
        env_b = _data(http.post("/environments", json={"name": "apps-env-b", "isProd": False}, headers=dev))
        sk_a = {"Authorization": f"Bearer {env_a['secretKey']}"}

        def post(path: str, body: object) -> str:
            return str(_data(http.post(path, json=body, headers=sk_a))["id"])

        def new_app() -> str:
            return post("/apps", {"name": "victim", "namespace": "victim", "type": "CUSTOM"})

        body = {"name": "alpha-app-secret", "namespace": "alpha-namespace-secret", "type": "PORTAL"}
        app = post("/apps", body)
        constraint = post(
            f"/apps/{app}/constraints", {"validator": "alpha-validator-secret", "label": "alpha-label-secret"}
        )
        assert (
            http.patch(
                f"/apps/{app}/constraints/{constraint}", json={"label": "alpha-label-secret"}, headers=sk_a
            ).status_code
            == 200
        )
        space = post("/spaces", {"name": "apps-space"})

        def invite(role: str) -> str:
            email = f"{role}-{uuid.uuid4().hex[:6]}@example.com"
            guest = [
                {"environmentId": env_a["id"], "email": email, "name": "g", "spaces": [{"id": space, "role": role}]}
            ]
            guest_id = str(http.post("/guests", json=guest, headers=sk_a).json()["data"][0]["id"])
            token = _data(http.get(f"/guests/{guest_id}/token", params={"spaceId": space}, headers=sk_a))
            return str(token["token"])

        tokens: dict[str, str | None] = {
            "sk_a": str(env_a["secretKey"]),
            "sk_b": str(env_b["secretKey"]),
            "pk_a": str(env_a["publishableKey"]),
            "none": None,
            "garbage": "sk_garbage_" + uuid.uuid4().hex,
        }
        for role in ("admin", "editor", "viewer"):
            tokens[f"{role}_s"] = invite(role)
        yield World(
            tokens=tokens,
            app=app,
            constraint=constraint,
            new_app=new_app,
            new_constraint=lambda: post(f"/apps/{app}/constraints", {"validator": f"v{uuid.uuid4().hex[:8]}"}),
        )


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
OWN_LIST: Expect = {"sk_b": 200}  # env B lists (and creates in) its own environment
C = "/apps/{app}/constraints"
TABLE: list[tuple[str, str, object, Expect]] = [
    ("GET", "/apps", None, OWN_LIST),
    ("POST", "/apps", {"name": "matrix", "namespace": "matrix", "type": "CUSTOM"}, OWN_LIST),
    ("GET", "/apps/{app}", None, {}),
    ("PATCH", "/apps/{app}", {"entity": "Sync"}, {}),
    ("DELETE", "/apps/{new_app}", None, {}),
    ("GET", C, None, {}),
    ("GET", C + "?includeBuiltins=true", None, {}),
    ("POST", C, "new_validator", {}),
    ("GET", C + "/{constraint}", None, {}),
    ("PATCH", C + "/{constraint}", {"description": "d"}, {}),
    ("DELETE", C + "/{new_constraint}", None, {}),
    ("GET", C + "/{constraint}/versions", None, {}),
    ("GET", C + "/{constraint}/versions/1", None, {}),
]


def _fill(template: str, world: World) -> str:
    values = {"app": world.app, "constraint": world.constraint}
    if "{new_app}" in template:
        values["new_app"] = world.new_app()
    if "{new_constraint}" in template:
        values["new_constraint"] = world.new_constraint()
    return template.format(**values)


def _body(body: object) -> object:
    return {"validator": f"v{uuid.uuid4().hex[:8]}"} if body == "new_validator" else body


def test_authorization_matrix(platform: Platform, world: World) -> None:
    findings = Findings()
    with httpx.Client(base_url=platform.api, timeout=15) as http:
        for method, template, body, overrides in TABLE:
            expected_by = {**DEFAULT, **overrides}
            for principal in PRINCIPALS:
                expected = expected_by[principal]
                path = _fill(template, world)
                token = world.tokens[principal]
                headers = {"Authorization": f"Bearer {token}"} if token else {}
                reply = http.request(method, path, json=_body(body), headers=headers)
                cell = f"{principal:9} {method:6} {template}"
                findings.check(reply, cell, expected, world.markers(principal), asked=path)
    findings.assert_clean()


def test_another_environment_lists_none_of_env_as_apps(platform: Platform, world: World) -> None:
    as_b = {"Authorization": f"Bearer {world.tokens['sk_b']}"}
    listed = httpx.get(f"{platform.api}/apps", headers=as_b).json()["data"]
    assert world.app not in [a["id"] for a in listed]
    as_a = {"Authorization": f"Bearer {world.tokens['sk_a']}"}
    assert world.app in [a["id"] for a in httpx.get(f"{platform.api}/apps", headers=as_a).json()["data"]]
