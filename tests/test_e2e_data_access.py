"""Authorization matrix for data: every principal x every workbook, sheet, record and commit endpoint.

Env A holds spaces S and T; S holds workbook W (sheet H with records and a commit); guests of S
(admin, editor, viewer) and an editor of T. Env B is another environment of the same account.
A cell is the status one principal gets from one endpoint: viewers read but never write, a guest
of T gets 403 for anything in S, env B's key 404, a publishable key 403, no or a bad token 401.
No cell may leak S's ids or names (ids the caller sent are not counted).
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
OTHER_SHEET = {**SHEET, "name": "other-sheet"}


@dataclass
class World:
    tokens: dict[str, str | None]
    env_a: str
    space_s: str
    space_t: str
    workbook: str
    sheet: str
    record: str
    commit: str
    new_workbook: Callable[[], str]
    new_sheet: Callable[[], str]
    new_record: Callable[[], str]

    def markers(self, principal: str) -> set[str]:
        """What `principal` must never see."""
        in_s = {self.space_s, self.workbook, self.sheet, self.record, self.commit}
        in_s |= {"alpha-secret-space-s", "alpha-secret-wb", "alpha-secret-sheet", "alpha-secret-value"}
        everything = {self.env_a, self.space_t, "alpha-secret-t", *in_s}
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
        env_a = _ok(http.post("/environments", json={"name": "data-alpha", "isProd": False}, headers=dev))
        env_b = _ok(http.post("/environments", json={"name": "data-beta", "isProd": False}, headers=dev))
        sk_a = {"Authorization": f"Bearer {env_a['secretKey']}"}
        sk_b = {"Authorization": f"Bearer {env_b['secretKey']}"}

        def post(path: str, body: object, headers: dict[str, str] = sk_a) -> Any:
            return _ok(http.post(path, json=body, headers=headers))

        space_s = post("/spaces", {"name": "alpha-secret-space-s"})["id"]
        space_t = post("/spaces", {"name": "alpha-secret-t"})["id"]
        # T and env B hold workbooks too, so their principals' lists are not trivially empty.
        post("/workbooks", {"name": "tee-wb", "spaceId": space_t, "sheets": [OTHER_SHEET]})
        space_b = post("/spaces", {"name": "beta-space"}, sk_b)["id"]
        post("/workbooks", {"name": "beta-wb", "spaceId": space_b, "sheets": [OTHER_SHEET]}, sk_b)

        def new_workbook(name: str = "victim") -> str:
            return str(post("/workbooks", {"name": name, "spaceId": space_s, "sheets": [SHEET]})["id"])

        workbook = new_workbook("alpha-secret-wb")
        sheet = _ok(http.get(f"/workbooks/{workbook}", headers=sk_a))["sheets"][0]["id"]

        def new_record(sheet_id: str = sheet) -> str:
            inserted = post(f"/sheets/{sheet_id}/records", [{"name": {"value": "alpha-secret-value"}}])
            return str(inserted["records"][0]["id"])

        def new_sheet() -> str:
            return str(_ok(http.get(f"/workbooks/{new_workbook()}", headers=sk_a))["sheets"][0]["id"])

        record = new_record()
        commit = _ok(http.get(f"/sheets/{sheet}/commits", headers=sk_a))[0]["id"]

        def invite(space: str, role: str) -> str:
            email = f"{role}-{uuid.uuid4().hex[:6]}@example.com"
            spaces = [{"id": space, "role": role}]
            body = [{"environmentId": env_a["id"], "email": email, "name": "guest", "spaces": spaces}]
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
            workbook=workbook,
            sheet=sheet,
            record=record,
            commit=commit,
            new_workbook=new_workbook,
            new_sheet=new_sheet,
            new_record=new_record,
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
SAME = "alpha-secret-value"  # writes keep the values the markers look for
TABLE: list[tuple[str, str, object, Expect]] = [
    ("POST", "/workbooks", {"name": "matrix", "spaceId": "{space_s}", "sheets": [SHEET]}, WRITE),
    ("GET", "/workbooks", None, {**READ, "guest_t": 200, "sk_b": 200}),  # each sees its own
    ("GET", "/workbooks?spaceId={space_s}", None, {**READ, "sk_b": 200}),  # env B: an empty list
    ("GET", "/workbooks/{workbook}", None, READ),
    ("GET", "/workbooks/{workbook}/commits", None, READ),
    ("PATCH", "/workbooks/{workbook}", {"metadata": {"m": 1}}, WRITE),
    ("DELETE", "/workbooks/{new_workbook}", None, WRITE),
    ("GET", "/sheets?workbookId={workbook}", None, READ),
    ("GET", "/sheets/{sheet}", None, READ),
    ("PATCH", "/sheets/{sheet}", {"name": "alpha-secret-sheet"}, WRITE),
    ("DELETE", "/sheets/{new_sheet}", None, WRITE),
    ("GET", "/sheets/{sheet}/records", None, READ),
    ("POST", "/sheets/{sheet}/records", [{"note": {"value": "n"}}], WRITE),
    ("PUT", "/sheets/{sheet}/records", [{"id": "{record}", "values": {"name": {"value": SAME}}}], WRITE),
    ("DELETE", "/sheets/{sheet}/records?ids={new_record}", None, WRITE),
    ("PUT", "/sheets/{sheet}/find-replace", {"fieldKey": "note", "find": "zz", "replace": "yy"}, WRITE),
    ("GET", "/sheets/{sheet}/counts", None, READ),
    ("GET", "/sheets/{sheet}/cells?fieldKey=name", None, READ),
    ("GET", "/sheets/{sheet}/records/indices?ids=us_rc_matrix", None, READ),
    ("GET", "/sheets/{sheet}/download", None, READ),
    ("GET", "/sheets/{sheet}/commits", None, READ),
    ("GET", "/commits/{commit}", None, READ),
    ("POST", "/sheets/{sheet}/lock", None, WRITE),  # lock, then unlock: the sheet ends unlocked
    ("POST", "/sheets/{sheet}/unlock", None, WRITE),
]


def _fill(value: Any, world: World, fresh: dict[str, str]) -> Any:
    if isinstance(value, str):
        known = {"space_s": world.space_s, "workbook": world.workbook, "sheet": world.sheet, "record": world.record}
        known["commit"] = world.commit
        return value.format(**known, **fresh)
    if isinstance(value, list):
        return [_fill(v, world, fresh) for v in value]
    if isinstance(value, dict):
        return {k: _fill(v, world, fresh) for k, v in value.items()}
    return value


def _fresh(template: str, world: World) -> dict[str, str]:
    makers = {"new_workbook": world.new_workbook, "new_sheet": world.new_sheet, "new_record": world.new_record}
    return {name: make() for name, make in makers.items() if "{" + name + "}" in template}


def test_data_authorization_matrix(platform: Platform, world: World) -> None:
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
                reply = send(http, method, path, payload, headers)
                cell = f"{principal:9} {method:6} {template}"
                findings.check(reply, cell, expected, world.markers(principal), asked=f"{path} {payload}")
    findings.assert_clean()


def test_each_principal_lists_only_the_workbooks_it_may_see(platform: Platform, world: World) -> None:
    def names(principal: str, **params: str) -> list[str]:
        headers = {"Authorization": f"Bearer {world.tokens[principal]}"}
        reply = httpx.get(f"{platform.api}/workbooks", params=params, headers=headers)
        assert reply.status_code == 200, reply.text
        return sorted({w["name"] for w in reply.json()["data"]})

    assert names("guest_t") == ["tee-wb"]
    assert names("sk_b") == ["beta-wb"]
    assert names("sk_b", spaceId=world.space_s) == []
    assert "alpha-secret-wb" in names("viewer_s")
    assert "tee-wb" not in names("viewer_s")
    assert "tee-wb" in names("sk_a") and "alpha-secret-wb" in names("sk_a")
