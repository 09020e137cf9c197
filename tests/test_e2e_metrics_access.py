"""Authorization matrix of the metrics endpoints: every principal x space / environment metrics.

Env A holds spaces S and T and guests of S (admin, editor, viewer) and of T; env B is another
environment of the same account. Secret keys read their environment's metrics; a guest admin reads
its own space's; everyone else 403; another environment 404. No cell may leak env A's ids or names.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest

from spaceport.testing.matrix import Findings
from spaceport.testing.platform import Platform

PRINCIPALS = ("sk_a", "sk_b", "pk_a", "admin_s", "editor_s", "viewer_s", "guest_t", "none", "garbage")


@dataclass
class World:
    tokens: dict[str, str | None]
    env_a: str
    env_b: str
    space_s: str
    space_t: str

    def markers(self, principal: str) -> set[str]:
        """What `principal` must never see."""
        space_s = {self.space_s, "metrics-secret-s"}
        everything = {self.env_a, self.space_t, "metrics-secret-t", *space_s}
        return {
            "sk_b": everything,
            "pk_a": everything - {self.env_a},
            "admin_s": {self.space_t, "metrics-secret-t"},
            "editor_s": {self.space_t, "metrics-secret-t"},
            "viewer_s": {self.space_t, "metrics-secret-t"},
            "guest_t": space_s,
            "none": everything,
            "garbage": everything,
        }.get(principal, set())


def _ok(reply: httpx.Response) -> dict[str, object]:
    assert reply.status_code == 200, reply.text
    body: dict[str, object] = reply.json()
    return body


@pytest.fixture(scope="module")
def world(platform: Platform) -> Iterator[World]:
    with httpx.Client(base_url=platform.api, timeout=15) as http:
        dev = {"Authorization": f"Bearer {platform.secret_key}"}
        env_a = _ok(http.post("/environments", json={"name": "metrics-a", "isProd": False}, headers=dev))["data"]
        env_b = _ok(http.post("/environments", json={"name": "metrics-b", "isProd": False}, headers=dev))["data"]
        assert isinstance(env_a, dict) and isinstance(env_b, dict)
        sk_a = {"Authorization": f"Bearer {env_a['secretKey']}"}

        def post(path: str, body: object) -> dict[str, object]:
            data = _ok(http.post(path, json=body, headers=sk_a))["data"]
            assert isinstance(data, dict | list)
            return data[0] if isinstance(data, list) else data

        space_s = str(post("/spaces", {"name": "metrics-secret-s"})["id"])
        space_t = str(post("/spaces", {"name": "metrics-secret-t"})["id"])

        def invite(space: str, role: str) -> str:
            email = f"{role}-{uuid.uuid4().hex[:6]}@example.com"
            body = [
                {"environmentId": env_a["id"], "email": email, "name": "g", "spaces": [{"id": space, "role": role}]}
            ]
            guest_id = str(post("/guests", body)["id"])
            token = _ok(http.get(f"/guests/{guest_id}/token", params={"spaceId": space}, headers=sk_a))["data"]
            assert isinstance(token, dict)
            return str(token["token"])

        tokens: dict[str, str | None] = {
            "sk_a": env_a["secretKey"],
            "sk_b": env_b["secretKey"],
            "pk_a": env_a["publishableKey"],
            "admin_s": invite(space_s, "admin"),
            "editor_s": invite(space_s, "editor"),
            "viewer_s": invite(space_s, "viewer"),
            "guest_t": invite(space_t, "admin"),
            "none": None,
            "garbage": "sk_garbage_" + uuid.uuid4().hex,
        }
        yield World(tokens=tokens, env_a=str(env_a["id"]), env_b=str(env_b["id"]), space_s=space_s, space_t=space_t)


Expect = dict[str, int]
DEFAULT: Expect = {
    "sk_a": 200,
    "sk_b": 404,
    "pk_a": 403,
    "admin_s": 403,
    "editor_s": 403,
    "viewer_s": 403,
    "guest_t": 403,
    "none": 401,
    "garbage": 401,
}
TABLE: list[tuple[str, Expect]] = [
    ("/spaces/{space_s}/metrics", {"admin_s": 200}),
    ("/spaces/{space_t}/metrics", {"guest_t": 200}),  # T's admin: its own space
    ("/spaces/us_sp_unknown0000/metrics", {"sk_a": 404}),
    ("/spaces/not-an-id/metrics", dict.fromkeys(PRINCIPALS, 404)),  # ids are checked before credentials
    ("/metrics", {"sk_b": 200}),  # each key its own environment
    ("/metrics?environmentId={env_a}", {}),
    ("/metrics?environmentId={env_b}", {"sk_a": 404, "sk_b": 200}),
    ("/metrics?environmentId=current", {"sk_b": 200}),
    ("/metrics?appId=us_app_unknown0000", {"sk_b": 200}),
    ("/metrics?appId=not-an-app", {"sk_a": 400, "sk_b": 400}),
    ("/metrics?environmentId=bad.id", dict.fromkeys(PRINCIPALS, 400)),
]


def test_authorization_matrix(platform: Platform, world: World) -> None:
    findings = Findings()
    with httpx.Client(base_url=platform.api, timeout=15) as http:
        for template, overrides in TABLE:
            path = template.format(env_a=world.env_a, env_b=world.env_b, space_s=world.space_s, space_t=world.space_t)
            expected_by = {**DEFAULT, **overrides}
            for principal in PRINCIPALS:
                token = world.tokens[principal]
                headers = {"Authorization": f"Bearer {token}"} if token else {}
                reply = http.get(path, headers=headers)
                cell = f"{principal:9} GET {template}"
                findings.check(reply, cell, expected_by[principal], world.markers(principal), asked=path)
    findings.assert_clean()


def test_what_a_guest_admin_reads_is_its_space(platform: Platform, world: World) -> None:
    headers = {"Authorization": f"Bearer {world.tokens['admin_s']}"}
    reply = httpx.get(f"{platform.api}/spaces/{world.space_s}/metrics", headers=headers)
    data = _ok(reply)["data"]
    assert isinstance(data, dict)
    assert (data["spaceId"], data["environmentId"], data["guests"]) == (world.space_s, world.env_a, 3)
