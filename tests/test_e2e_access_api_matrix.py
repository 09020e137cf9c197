"""Authorization matrix for the access API: every principal x every key, role and guest-role
endpoint, and the workbook-scoped endpoints for a guest limited to one workbook.

Env A holds spaces S and T; S holds workbooks W1 and W2 (a sheet, a record, a commit and a job
each). Guests of S: admin, editor, viewer, and `limited_s`, an editor limited to W1; an editor of
T. Env B is another environment. A cell is the status one principal gets from one endpoint; no
cell may leak what the principal must not see (W2 for `limited_s`, S for T's guest, env A for
env B's key), ids the caller sent excepted.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from spaceport.contracts.space import actor_role_id, role_id
from spaceport.testing.matrix import Findings, send
from spaceport.testing.platform import Platform

PRINCIPALS = ("sk_a", "sk_b", "pk_a", "admin_s", "editor_s", "viewer_s", "limited_s", "guest_t", "none", "garbage")
SHEET: dict[str, Any] = {"name": "people", "slug": "people", "fields": [{"key": "name", "type": "string"}]}


@dataclass
class Wb:
    id: str
    sheet: str
    commit: str
    job: str


@dataclass
class World:
    tokens: dict[str, str | None]
    env_a: str
    space_s: str
    space_t: str
    w1: Wb
    w2: Wb
    guest: str  # the viewer of S
    keys: list[str]  # env A's raw keys: no answer ever holds them (only hashes are stored)
    new_key: Callable[[], str]
    new_guest: Callable[[], str]

    def markers(self, principal: str) -> set[str]:
        """What `principal` must never see."""
        w2 = {self.w2.id, self.w2.sheet, self.w2.commit, self.w2.job, "access-secret-w2"}
        in_s = {self.space_s, self.guest, self.w1.id, self.w1.sheet, "access-secret-w1", *w2}
        everything = {self.env_a, self.space_t, *in_s}
        hidden = {
            "sk_b": everything,
            "pk_a": in_s,
            "limited_s": w2,
            "guest_t": in_s,
            "none": everything,
            "garbage": everything,
        }
        return hidden.get(principal, set()) | set(self.keys)


def _ok(reply: httpx.Response) -> Any:
    assert reply.status_code == 200, reply.text
    return reply.json()["data"]


@pytest.fixture(scope="module")
def world(platform: Platform) -> Iterator[World]:
    with platform.client(timeout=30) as http:
        env_a = _ok(http.post("/environments", json={"name": "access-matrix-a"}))
        env_b = _ok(http.post("/environments", json={"name": "access-matrix-b"}))
        sk_a = {"Authorization": f"Bearer {env_a['secretKey']}"}

        def post(path: str, body: object, **params: str) -> Any:
            return _ok(http.post(path, json=body, params=params, headers=sk_a))

        space_s = str(post("/spaces", {"name": "access-secret-s"})["id"])
        space_t = str(post("/spaces", {"name": "access-secret-t"})["id"])

        def workbook(name: str) -> Wb:
            made = post("/workbooks", {"name": name, "spaceId": space_s, "sheets": [SHEET]})
            sheet = str(made["sheets"][0]["id"])
            post(f"/sheets/{sheet}/records", [{"name": {"value": name}}])
            commit = str(_ok(http.get(f"/sheets/{sheet}/commits", headers=sk_a))[0]["id"])
            job = str(post("/jobs", {"type": "workbook", "operation": "matrix", "source": made["id"]})["id"])
            return Wb(id=str(made["id"]), sheet=sheet, commit=commit, job=job)

        w1, w2 = workbook("access-secret-w1"), workbook("access-secret-w2")

        def invite(space: str, role: str, workbooks: list[str] | None = None) -> tuple[str, str]:
            email = f"{role}-{uuid.uuid4().hex[:6]}@example.com"
            grant: dict[str, Any] = {"id": space, "role": role}
            if workbooks:
                grant["workbooks"] = [{"id": w} for w in workbooks]
            guest_id = str(post("/guests", [{"email": email, "name": "guest", "spaces": [grant]}])[0]["id"])
            token = _ok(http.get(f"/guests/{guest_id}/token", params={"spaceId": space}, headers=sk_a))
            return guest_id, str(token["token"])

        viewer, viewer_token = invite(space_s, "viewer")
        tokens: dict[str, str | None] = {
            "sk_a": env_a["secretKey"],
            "sk_b": env_b["secretKey"],
            "pk_a": env_a["publishableKey"],
            "admin_s": invite(space_s, "admin")[1],
            "editor_s": invite(space_s, "editor")[1],
            "viewer_s": viewer_token,
            "limited_s": invite(space_s, "editor", [w1.id])[1],
            "guest_t": invite(space_t, "editor")[1],
            "none": None,
            "garbage": "sk_garbage_" + uuid.uuid4().hex,
        }
        yield World(
            tokens=tokens,
            env_a=str(env_a["id"]),
            space_s=space_s,
            space_t=space_t,
            w1=w1,
            w2=w2,
            guest=viewer,
            keys=[str(env_a["secretKey"]), str(env_a["publishableKey"])],
            new_key=lambda: str(post("/auth/api-key", None, type="PUBLISHABLE")["id"]),
            new_guest=lambda: invite(space_s, "viewer")[0],
        )


Expect = dict[str, int]
DEFAULT: Expect = {
    "sk_a": 200,
    "sk_b": 404,
    "pk_a": 403,
    "admin_s": 403,
    "editor_s": 403,
    "viewer_s": 403,
    "limited_s": 403,
    "guest_t": 403,
    "none": 401,
    "garbage": 401,
}
GUESTS: Expect = {"admin_s": 200, "editor_s": 200, "viewer_s": 200, "limited_s": 200, "guest_t": 200}
ADMIN: Expect = {"admin_s": 200}
READ_W1: Expect = {"admin_s": 200, "editor_s": 200, "viewer_s": 200, "limited_s": 200}
READ_W2: Expect = {**READ_W1, "limited_s": 404}
VIEWER = role_id("viewer")
TABLE: list[tuple[str, str, object, Expect]] = [
    # keys (secret keys only; env B's key gets 404 for env A's id)
    ("GET", "/auth/api-keys?environmentId={env_a}", None, {}),
    ("GET", "/auth/api-keys", None, {"sk_b": 200}),  # each key lists its own environment's
    ("POST", "/auth/api-key?environmentId={env_a}&type=PUBLISHABLE", None, {}),
    ("DELETE", "/auth/api-key?environmentId={env_a}&key={new_key}", None, {}),
    ("DELETE", "/auth/api-key?key={new_key}", None, {}),  # env B's key: not one of its keys
    ("GET", "/auth/publishable-key?environmentId={env_a}", None, {}),
    # roles
    ("GET", "/roles", None, {"sk_b": 200, **GUESTS}),
    ("GET", "/guests/{guest}/roles", None, ADMIN),
    ("POST", "/guests/{guest}/roles", {"roleId": VIEWER, "resourceId": "{space_s}"}, ADMIN),
    ("DELETE", "/guests/{new_guest}/roles/{new_actor_role}", None, ADMIN),
    # the workbook-scoped endpoints: `limited_s` sees W1 only
    ("GET", "/workbooks?spaceId={space_s}", None, {**READ_W1, "sk_b": 200}),  # env B: an empty list
    ("GET", "/workbooks/{w1}", None, READ_W1),
    ("GET", "/workbooks/{w2}", None, READ_W2),
    ("GET", "/workbooks/{w2}/commits", None, READ_W2),
    ("GET", "/sheets?workbookId={w2}", None, READ_W2),
    ("GET", "/sheets/{w2_sheet}", None, READ_W2),
    ("GET", "/sheets/{w1_sheet}/records", None, READ_W1),
    ("GET", "/sheets/{w2_sheet}/records", None, READ_W2),
    ("GET", "/sheets/{w2_sheet}/counts", None, READ_W2),
    ("GET", "/sheets/{w2_sheet}/cells?fieldKey=name", None, READ_W2),
    ("GET", "/sheets/{w2_sheet}/commits", None, READ_W2),
    ("GET", "/commits/{w2_commit}", None, READ_W2),
    ("GET", "/jobs?spaceId={space_s}", None, {**READ_W1, "sk_b": 200, "guest_t": 404}),  # env B: an empty page
    ("GET", "/jobs/{w1_job}", None, {**READ_W1, "guest_t": 404}),
    ("GET", "/jobs/{w2_job}", None, {**READ_W2, "guest_t": 404}),
    ("GET", "/jobs/{w2_job}/plan", None, {**READ_W2, "guest_t": 404}),
]


def _fill(value: Any, world: World, fresh: dict[str, str]) -> Any:
    if isinstance(value, str):
        known = {"env_a": world.env_a, "space_s": world.space_s, "guest": world.guest}
        for name, wb in (("w1", world.w1), ("w2", world.w2)):
            known |= {name: wb.id, f"{name}_sheet": wb.sheet, f"{name}_commit": wb.commit, f"{name}_job": wb.job}
        return value.format(**known, **fresh)
    if isinstance(value, dict):
        return {k: _fill(v, world, fresh) for k, v in value.items()}
    return value


def _fresh(template: str, world: World) -> dict[str, str]:
    fresh: dict[str, str] = {}
    if "{new_key}" in template:
        fresh["new_key"] = world.new_key()
    if "{new_guest}" in template:
        fresh["new_guest"] = world.new_guest()
        fresh["new_actor_role"] = actor_role_id(fresh["new_guest"], world.space_s)
    return fresh


def test_access_authorization_matrix(platform: Platform, world: World) -> None:
    findings = Findings()
    with httpx.Client(base_url=platform.api, timeout=30) as http:
        for method, template, body, overrides in TABLE:
            expected_by = {**DEFAULT, **overrides}
            for principal in PRINCIPALS:
                expected = expected_by[principal]
                fresh = _fresh(template, world)
                path = _fill(template, world, fresh)
                payload = _fill(body, world, fresh)
                token = world.tokens[principal]
                headers = {"Authorization": f"Bearer {token}"} if token else {}
                reply = send(http, method, path, payload, headers)  # once more if a pooled connection closed
                cell = f"{principal:9} {method:6} {template}"
                if reply.status_code == 200 and "rawKey" in reply.text and method != "POST":
                    findings.leaks.append(f"{cell}: a raw key in {reply.text[:200]}")
                findings.check(reply, cell, expected, world.markers(principal), asked=f"{path} {payload}")
    findings.assert_clean()
