"""Authorization matrix for views and entitlements: every principal x every endpoint.

Env A holds spaces S and T; S holds workbook W with sheet H and its view V; guests of S (admin,
editor, viewer) and an editor of T. Env B is another environment of the same account. Views are
accessed like records: viewers read, editors and admins write, a guest of T gets 403 for anything
in S, env B's key 404, a publishable key 403, no or a bad token 401. No cell may leak S's ids or
names (ids the caller sent are not counted).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from spaceport.testing.matrix import Findings, send
from spaceport.testing.platform import Platform

PRINCIPALS = ("sk_a", "sk_b", "pk_a", "admin_s", "editor_s", "viewer_s", "guest_t", "none", "garbage")
SHEET: dict[str, Any] = {
    "name": "alpha-secret-sheet",
    "slug": "people",
    "fields": [{"key": "name", "type": "string"}, {"key": "note", "type": "string"}],
}
VIEW_NAME = "alpha-secret-view"


@dataclass
class World:
    tokens: dict[str, str | None]
    env_a: str
    space_s: str
    space_t: str
    workbook: str
    sheet: str
    view: str
    sheet_t: str
    new_view: Callable[[], str]

    def markers(self, principal: str) -> set[str]:
        """What `principal` must never see."""
        in_s = {self.space_s, self.workbook, self.sheet, self.view, VIEW_NAME, "alpha-secret-sheet", "alpha-secret-s"}
        everything = {self.env_a, self.space_t, self.sheet_t, "alpha-secret-t", *in_s}
        return {"sk_b": everything, "pk_a": in_s, "guest_t": in_s, "none": everything, "garbage": everything}.get(
            principal, set()
        )


def _ok(reply: httpx.Response) -> Any:
    assert reply.status_code == 200, reply.text
    return reply.json()["data"]


@pytest.fixture(scope="module")
def world(platform: Platform) -> Iterator[World]:
    with httpx.Client(base_url=platform.api, timeout=30) as http:
        dev = {"Authorization": f"Bearer {platform.secret_key}"}
        env_a = _ok(http.post("/environments", json={"name": "views-alpha", "isProd": False}, headers=dev))
        env_b = _ok(http.post("/environments", json={"name": "views-beta", "isProd": False}, headers=dev))
        sk_a = {"Authorization": f"Bearer {env_a['secretKey']}"}

        def post(path: str, body: object) -> Any:
            return _ok(http.post(path, json=body, headers=sk_a))

        space_s = post("/spaces", {"name": "alpha-secret-s"})["id"]
        space_t = post("/spaces", {"name": "alpha-secret-t"})["id"]
        workbook = post("/workbooks", {"name": "alpha-secret-wb", "spaceId": space_s, "sheets": [SHEET]})
        book_t = post("/workbooks", {"name": "tee-wb", "spaceId": space_t, "sheets": [{**SHEET, "name": "tee"}]})
        sheet = workbook["sheets"][0]["id"]

        def new_view() -> str:
            return str(post("/views", {"sheetId": sheet, "name": VIEW_NAME, "config": {"sortField": "name"}})["id"])

        def invite(space: str, role: str) -> str:
            email = f"{role}-{uuid.uuid4().hex[:6]}@example.com"
            body = [
                {"environmentId": env_a["id"], "email": email, "name": "guest", "spaces": [{"id": space, "role": role}]}
            ]
            guest_id = post("/guests", body)[0]["id"]
            token = _ok(http.get(f"/guests/{guest_id}/token", params={"spaceId": space}, headers=sk_a))
            return str(token["token"])

        tokens: dict[str, str | None] = {
            "sk_a": env_a["secretKey"],
            "sk_b": env_b["secretKey"],
            "pk_a": env_a["publishableKey"],
            "admin_s": invite(space_s, "admin"),
            "editor_s": invite(space_s, "editor"),
            "viewer_s": invite(space_s, "viewer"),
            "guest_t": invite(space_t, "editor"),
            "none": None,
            "garbage": "sk_garbage_" + uuid.uuid4().hex,
        }
        yield World(
            tokens=tokens,
            env_a=env_a["id"],
            space_s=space_s,
            space_t=space_t,
            workbook=workbook["id"],
            sheet=sheet,
            view=new_view(),
            sheet_t=book_t["sheets"][0]["id"],
            new_view=new_view,
        )


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
READ: Expect = {"admin_s": 200, "editor_s": 200, "viewer_s": 200}
WRITE: Expect = {"admin_s": 200, "editor_s": 200}
TABLE: list[tuple[str, str, object, Expect]] = [
    ("GET", "/views?sheetId={sheet}", None, READ),
    ("POST", "/views", {"sheetId": "{sheet}", "name": VIEW_NAME, "config": {"filter": "error"}}, WRITE),
    ("GET", "/views/{view}", None, READ),
    ("PATCH", "/views/{view}", {"name": VIEW_NAME, "config": {"sortField": "note"}}, WRITE),
    ("DELETE", "/views/{new_view}", None, WRITE),
    ("GET", "/entitlements?resourceId={space_s}", None, READ),
]


def _fill(value: Any, world: World, fresh: dict[str, str]) -> Any:
    if isinstance(value, str):
        return value.format(sheet=world.sheet, view=world.view, space_s=world.space_s, **fresh)
    if isinstance(value, dict):
        return {k: _fill(v, world, fresh) for k, v in value.items()}
    return value


def test_views_authorization_matrix(platform: Platform, world: World) -> None:
    findings = Findings()
    with httpx.Client(base_url=platform.api, timeout=30) as http:
        for method, template, body, overrides in TABLE:
            expected_by = {**DEFAULT, **overrides}
            for principal in PRINCIPALS:
                fresh = {"new_view": world.new_view()} if "{new_view}" in template else {}
                path = _fill(template, world, fresh)
                payload = _fill(body, world, fresh)
                token = world.tokens[principal]
                headers = {"Authorization": f"Bearer {token}"} if token else {}
                reply = send(http, method, path, payload, headers)
                cell = f"{principal:9} {method:6} {template}"
                findings.check(reply, cell, expected_by[principal], world.markers(principal), asked=f"{path} {payload}")
    findings.assert_clean()


def test_refused_writes_leave_the_views_as_they_were(platform: Platform, world: World) -> None:
    """Every refused principal's create, rename and delete: the sheet's views and V are unchanged."""
    sk_a = {"Authorization": f"Bearer {world.tokens['sk_a']}"}
    with httpx.Client(base_url=platform.api, timeout=30) as http:
        before = _ok(http.get("/views", params={"sheetId": world.sheet, "pageSize": 1000}, headers=sk_a))
        for principal in ("sk_b", "pk_a", "viewer_s", "guest_t", "none", "garbage"):
            token = world.tokens[principal]
            headers = {"Authorization": f"Bearer {token}"} if token else {}
            body = {"sheetId": world.sheet, "name": "intruder", "config": {}}
            assert http.post("/views", json=body, headers=headers).status_code >= 400
            assert http.patch(f"/views/{world.view}", json={"name": "intruder"}, headers=headers).status_code >= 400
            assert http.delete(f"/views/{world.view}", headers=headers).status_code >= 400
        after = _ok(http.get("/views", params={"sheetId": world.sheet, "pageSize": 1000}, headers=sk_a))
    assert after == before
    assert "intruder" not in str(after)


def test_a_guest_of_another_space_cannot_reach_its_views_either_way(platform: Platform, world: World) -> None:
    """The editor of T saves views on T's sheet; S's guests cannot read them, and T's cannot read S's."""
    as_t = {"Authorization": f"Bearer {world.tokens['guest_t']}"}
    as_s = {"Authorization": f"Bearer {world.tokens['editor_s']}"}
    with httpx.Client(base_url=platform.api, timeout=30) as http:
        made = _ok(http.post("/views", json={"sheetId": world.sheet_t, "name": "tee-view", "config": {}}, headers=as_t))
        assert _ok(http.get(f"/views/{made['id']}", headers=as_t))["name"] == "tee-view"
        assert http.get(f"/views/{made['id']}", headers=as_s).status_code == 403
        assert http.get("/views", params={"sheetId": world.sheet_t}, headers=as_s).status_code == 403
        assert http.get(f"/views/{world.view}", headers=as_t).status_code == 403
        assert http.get("/entitlements", params={"resourceId": world.space_t}, headers=as_s).status_code == 403
        assert _ok(http.get("/entitlements", params={"resourceId": world.space_t}, headers=as_t)) == []
