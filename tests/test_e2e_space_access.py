"""Authorization matrix: every principal x every environment/space/document/guest endpoint.

Env A holds spaces S and T, document D in S and guests of S (admin, editor, viewer) and of T.
Env B is another environment of the same account. A cell is the status one principal gets from
one endpoint; no cell may leak another environment's or space's ids or names.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
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
    document: str
    guest: str  # the viewer of S
    new_space: Callable[[], str]
    new_document: Callable[[], str]
    new_guest: Callable[[], str]

    def markers(self, principal: str) -> set[str]:
        """What `principal` must never see."""
        space_s = {self.space_s, self.document, self.guest, "alpha-secret-s", "alpha-secret-doc", "alpha-guest"}
        everything = {self.env_a, self.space_t, "alpha-secret-t", *space_s}
        return {
            "sk_b": everything,
            "pk_a": space_s | {self.space_t, "alpha-secret-t"},
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
        env_a = _ok(http.post("/environments", json={"name": "alpha-env", "isProd": False}, headers=dev))["data"]
        env_b = _ok(http.post("/environments", json={"name": "beta-env", "isProd": False}, headers=dev))["data"]
        assert isinstance(env_a, dict) and isinstance(env_b, dict)
        sk_a = {"Authorization": f"Bearer {env_a['secretKey']}"}

        def post(path: str, body: object) -> dict[str, object]:
            data = _ok(http.post(path, json=body, headers=sk_a))["data"]
            assert isinstance(data, dict | list)
            return data[0] if isinstance(data, list) else data

        space_s = str(post("/spaces", {"name": "alpha-secret-s"})["id"])
        space_t = str(post("/spaces", {"name": "alpha-secret-t"})["id"])
        document = str(post(f"/spaces/{space_s}/documents", {"title": "alpha-secret-doc", "body": "x"})["id"])

        def invite(space: str, role: str) -> tuple[str, str]:
            email = f"{role}-{uuid.uuid4().hex[:6]}@example.com"
            body = [
                {
                    "environmentId": env_a["id"],
                    "email": email,
                    "name": "alpha-guest",
                    "spaces": [{"id": space, "role": role}],
                }
            ]
            guest_id = str(post("/guests", body)["id"])
            token = _ok(http.get(f"/guests/{guest_id}/token", params={"spaceId": space}, headers=sk_a))["data"]
            assert isinstance(token, dict)
            return guest_id, str(token["token"])

        tokens: dict[str, str | None] = {
            "sk_a": env_a["secretKey"],
            "sk_b": env_b["secretKey"],
            "pk_a": env_a["publishableKey"],
            "none": None,
            "garbage": "sk_garbage_" + uuid.uuid4().hex,
        }
        viewer_id, tokens["viewer_s"] = invite(space_s, "viewer")
        _, tokens["admin_s"] = invite(space_s, "admin")
        _, tokens["editor_s"] = invite(space_s, "editor")
        _, tokens["guest_t"] = invite(space_t, "editor")
        yield World(
            tokens=tokens,
            env_a=str(env_a["id"]),
            env_b=str(env_b["id"]),
            space_s=space_s,
            space_t=space_t,
            document=document,
            guest=viewer_id,
            new_space=lambda: str(post("/spaces", {"name": "victim"})["id"]),
            new_document=lambda: str(post(f"/spaces/{space_s}/documents", {"title": "victim", "body": ""})["id"]),
            new_guest=lambda: invite(space_s, "editor")[0],
        )


# (method, path, body, {principal: status}); unlisted principals get DEFAULT.
Expect = dict[str, int | None]  # principal -> status; None: not run
DEFAULT: dict[str, int | None] = {
    "sk_a": 200,
    "none": 401,
    "garbage": 401,
    "sk_b": 404,
    "pk_a": 403,
    "admin_s": 403,
    "editor_s": 403,
}
DEFAULT = {**DEFAULT, "viewer_s": 403, "guest_t": 403}
GUEST_READ: Expect = {"admin_s": 200, "editor_s": 200, "viewer_s": 200}
GUEST_WRITE: Expect = {"admin_s": 200, "editor_s": 200}
GUEST_ADMIN: Expect = {"admin_s": 200}
ALL_GUESTS: Expect = {"admin_s": 200, "editor_s": 200, "viewer_s": 200, "guest_t": 200}
# Env B's own key would destroy env B (covered by the SDK test); env A's principals must not find it.
OTHER_ENV: Expect = {**dict.fromkeys(("sk_a", "pk_a", "admin_s", "editor_s", "viewer_s", "guest_t"), 404), "sk_b": None}
TABLE: list[tuple[str, str, object, Expect]] = [
    ("GET", "/environments/current", None, {"sk_b": 200, **ALL_GUESTS}),
    ("GET", "/environments", None, {"sk_b": 200}),
    ("POST", "/environments", {"name": "matrix", "isProd": False}, {"sk_b": 200}),
    ("GET", "/environments/{env_a}", None, ALL_GUESTS),
    ("PATCH", "/environments/{env_a}", {"metadata": {"m": 1}}, {}),
    ("POST", "/environments/{env_b}/keys/rotate", None, OTHER_ENV),
    ("DELETE", "/environments/{env_b}", None, OTHER_ENV),
    ("POST", "/spaces", {"name": "matrix"}, {"sk_b": 200, "pk_a": 200}),
    ("GET", "/spaces", None, {"sk_b": 200, **ALL_GUESTS}),
    ("GET", "/spaces/{space_s}", None, GUEST_READ),
    ("PATCH", "/spaces/{space_s}", {"metadata": {"theme": {}}}, GUEST_ADMIN),
    ("POST", "/spaces/{space_s}/archive", None, {}),
    ("POST", "/spaces/{space_s}/unarchive", None, {}),
    ("DELETE", "/spaces/{new_space}", None, {}),
    ("DELETE", "/spaces?spaceIds={new_space}", None, {}),
    ("GET", "/spaces/{space_s}/documents", None, GUEST_READ),
    ("POST", "/spaces/{space_s}/documents", {"title": "t", "body": "b"}, GUEST_WRITE),
    ("GET", "/spaces/{space_s}/documents/{document}", None, GUEST_READ),
    ("PATCH", "/spaces/{space_s}/documents/{document}", {"body": "changed"}, GUEST_WRITE),
    ("DELETE", "/spaces/{space_s}/documents/{new_document}", None, GUEST_WRITE),
    ("POST", "/guests", "invite", GUEST_ADMIN),
    ("GET", "/guests?spaceId={space_s}", None, GUEST_ADMIN),
    ("GET", "/guests/{guest}", None, GUEST_ADMIN),
    ("PATCH", "/guests/{guest}", {"name": "alpha-guest"}, GUEST_ADMIN),
    ("DELETE", "/guests/{new_guest}", None, GUEST_ADMIN),
    ("GET", "/guests/{guest}/token?spaceId={space_s}", None, {}),
]


def _fill(template: str, world: World) -> str:
    values = {"env_a": world.env_a, "env_b": world.env_b, "space_s": world.space_s, "document": world.document}
    values["guest"] = world.guest
    if "{new_space}" in template:
        values["new_space"] = world.new_space()
    if "{new_document}" in template:
        values["new_document"] = world.new_document()
    if "{new_guest}" in template:
        values["new_guest"] = world.new_guest()
    return template.format(**values)


def _body(body: object, world: World) -> object:
    if body != "invite":
        return body
    email = f"new-{uuid.uuid4().hex[:6]}@example.com"
    return [{"environmentId": world.env_a, "email": email, "name": "n", "spaces": [{"id": world.space_s}]}]


def test_authorization_matrix(platform: Platform, world: World) -> None:
    findings = Findings()
    with httpx.Client(base_url=platform.api, timeout=15) as http:
        for method, template, body, overrides in TABLE:
            expected_by = {**DEFAULT, **overrides}
            for principal in PRINCIPALS:
                expected = expected_by[principal]
                if expected is None:
                    continue  # destructive for this principal's own environment; covered elsewhere
                path = _fill(template, world)
                token = world.tokens[principal]
                headers = {"Authorization": f"Bearer {token}"} if token else {}
                payload = _body(body, world)
                reply = http.request(method, path, json=payload, headers=headers)
                cell = f"{principal:9} {method:6} {template}"
                markers = set() if template == "/environments" else world.markers(principal)  # account-wide listing
                findings.check(reply, cell, expected, markers, asked=f"{path} {payload}")
    findings.assert_clean()


def test_a_guest_list_of_spaces_holds_only_its_space(platform: Platform, world: World) -> None:
    headers = {"Authorization": f"Bearer {world.tokens['guest_t']}"}
    reply = httpx.get(f"{platform.api}/spaces", headers=headers, params={"pageSize": 100})
    assert [s["id"] for s in reply.json()["data"]] == [world.space_t]


def test_deleting_a_guest_revokes_its_token(platform: Platform, world: World) -> None:
    sk_a = {"Authorization": f"Bearer {world.tokens['sk_a']}"}
    with httpx.Client(base_url=platform.api, timeout=15) as http:
        guest_id = world.new_guest()
        token = http.get(f"/guests/{guest_id}/token", params={"spaceId": world.space_s}, headers=sk_a).json()["data"]
        as_guest = {"Authorization": f"Bearer {token['token']}"}
        assert http.get(f"/spaces/{world.space_s}", headers=as_guest).status_code == 200
        assert http.delete(f"/guests/{guest_id}", headers=sk_a).status_code == 200
        assert http.get(f"/spaces/{world.space_s}", headers=as_guest).status_code == 401
        forged = token["token"][:-3] + ("AAA" if not token["token"].endswith("AAA") else "BBB")
        assert http.get(f"/spaces/{world.space_s}", headers={"Authorization": f"Bearer {forged}"}).status_code == 401
