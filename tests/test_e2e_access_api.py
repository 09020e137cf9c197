"""The access API through the platform: API keys (`/v1/auth/…`, TypeScript-only, so httpx), roles
and guest roles (the official `flatfile` SDK), per-workbook guest grants, and allowedDomains."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from flatfile import Flatfile
from flatfile.core.api_error import ApiError

from spaceport.contracts.space import actor_role_id, role_id
from spaceport.testing.platform import Platform

SHEET = {"name": "People", "slug": "people", "fields": [{"key": "name", "type": "string", "label": "Name"}]}


@dataclass(frozen=True)
class Env:
    id: str
    secret_key: str
    publishable_key: str
    space: str
    other_space: str  # a second space of the environment
    foreign_env: str
    foreign_key: str
    foreign_space: str


def _data(reply: httpx.Response) -> object:
    assert reply.status_code == 200, reply.text
    return reply.json()["data"]


def _dict(reply: httpx.Response) -> dict[str, object]:
    found = _data(reply)
    assert isinstance(found, dict)
    return found


def _list(reply: httpx.Response) -> list[dict[str, object]]:
    found = _data(reply)
    assert isinstance(found, list)
    return found


def _bearer(token: object) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _error(reply: httpx.Response, status: int) -> dict[str, str]:
    assert reply.status_code == status, reply.text
    errors = reply.json()["errors"]
    assert isinstance(errors, list) and errors and errors[0]["message"]
    found: dict[str, str] = errors[0]
    return found


@pytest.fixture(scope="module")
def env(platform: Platform) -> Iterator[Env]:
    with platform.client(timeout=30) as http:
        a = _dict(http.post("/environments", json={"name": "access-a"}))
        b = _dict(http.post("/environments", json={"name": "access-b"}))
        sk_a, sk_b = _bearer(a["secretKey"]), _bearer(b["secretKey"])
        space = _dict(http.post("/spaces", json={"name": "access"}, headers=sk_a))
        other = _dict(http.post("/spaces", json={"name": "access-2"}, headers=sk_a))
        foreign = _dict(http.post("/spaces", json={"name": "access-b"}, headers=sk_b))
        yield Env(
            id=str(a["id"]),
            secret_key=str(a["secretKey"]),
            publishable_key=str(a["publishableKey"]),
            space=str(space["id"]),
            other_space=str(other["id"]),
            foreign_env=str(b["id"]),
            foreign_key=str(b["secretKey"]),
            foreign_space=str(foreign["id"]),
        )


def _invite(http: httpx.Client, env: Env, spaces: list[dict[str, Any]], email: str | None = None) -> str:
    email = email or f"g-{uuid.uuid4().hex[:8]}@example.com"
    body = [{"environmentId": env.id, "email": email, "name": "Guest", "spaces": spaces}]
    return str(_list(http.post("/guests", json=body, headers=_bearer(env.secret_key)))[0]["id"])


def _token(http: httpx.Client, env: Env, guest_id: str, space_id: str) -> dict[str, str]:
    reply = http.get(f"/guests/{guest_id}/token", params={"spaceId": space_id}, headers=_bearer(env.secret_key))
    return _bearer(_dict(reply)["token"])


# ---- API keys -------------------------------------------------------------------------------


def test_keys_are_listed_without_raw_values_and_a_new_key_works_at_once(platform: Platform, env: Env) -> None:
    sk = _bearer(env.secret_key)
    with platform.client(timeout=30) as http:
        listed = _list(http.get("/auth/api-keys", params={"environmentId": env.id}, headers=sk))
        assert sorted(str(k["type"]) for k in listed) == ["PUBLISHABLE", "SECRET"]
        assert all(k["environmentId"] == env.id and str(k["id"]).startswith("us_key_") for k in listed)
        assert all("rawKey" not in k and k["operations"] for k in listed)
        created = _dict(http.post("/auth/api-key", params={"environmentId": env.id, "type": "SECRET"}, headers=sk))
        raw = str(created["rawKey"])
        assert raw.startswith("sk_") and created["type"] == "SECRET"
        after = http.get("/auth/api-keys", params={"environmentId": env.id}, headers=sk)
        assert raw not in after.text and env.secret_key not in after.text
        assert created["id"] in [k["id"] for k in _list(after)]
        # Both secret keys work, each on its own.
        for token in (raw, env.secret_key):
            assert _dict(http.get("/environments/current", headers=_bearer(token)))["id"] == env.id
        # The new key may delete itself (another secret key is left) and stops working right away.
        gone = http.delete(
            "/auth/api-key", params={"environmentId": env.id, "key": str(created["id"])}, headers=_bearer(raw)
        )
        assert gone.status_code == 200, gone.text
        assert http.get("/environments/current", headers=_bearer(raw)).status_code == 401
        assert created["id"] not in [k["id"] for k in _list(http.get("/auth/api-keys", headers=sk))]


def test_a_deleted_key_stops_working_for_a_caller_that_had_just_used_it(platform: Platform, env: Env) -> None:
    sk = _bearer(env.secret_key)
    with platform.client(timeout=30) as http:
        created = _dict(http.post("/auth/api-key", params={"type": "SECRET"}, headers=sk))
        raw = _bearer(created["rawKey"])
        assert http.get("/spaces", headers=raw).status_code == 200  # now cached by the gateway
        assert http.delete("/auth/api-key", params={"key": str(created["id"])}, headers=sk).status_code == 200
        reply = http.get("/spaces", headers=raw)
        _error(reply, 401)


def test_a_publishable_key_can_be_added_and_only_creates_spaces(platform: Platform, env: Env) -> None:
    sk = _bearer(env.secret_key)
    with platform.client(timeout=30) as http:
        created = _dict(http.post("/auth/api-key", params={"environmentId": env.id, "type": "PUBLISHABLE"}, headers=sk))
        pk = _bearer(created["rawKey"])
        assert str(created["rawKey"]).startswith("pk_")
        assert http.post("/spaces", json={"name": "from-pk"}, headers=pk).status_code == 200
        _error(http.get("/spaces", headers=pk), 403)
        _error(http.get("/auth/api-keys", headers=pk), 403)
        newest = _dict(http.get("/auth/publishable-key", params={"environmentId": env.id}, headers=sk))
        assert newest["id"] == created["id"] and newest["type"] == "PUBLISHABLE" and "rawKey" not in newest
        assert http.delete("/auth/api-key", params={"key": str(created["id"])}, headers=sk).status_code == 200
        _error(http.post("/spaces", json={"name": "from-pk"}, headers=pk), 401)
        # The environment's first publishable key still works.
        assert http.post("/spaces", json={"name": "pk"}, headers=_bearer(env.publishable_key)).status_code == 200


def test_the_last_secret_key_cannot_be_deleted(platform: Platform, env: Env) -> None:
    sk = _bearer(env.secret_key)
    with platform.client(timeout=30) as http:
        secrets = [k for k in _list(http.get("/auth/api-keys", headers=sk)) if k["type"] == "SECRET"]
        assert len(secrets) == 1
        refused = _error(http.delete("/auth/api-key", params={"key": str(secrets[0]["id"])}, headers=sk), 400)
        assert refused["key"] == "key" and "last secret key" in refused["message"]
        assert http.get("/environments/current", headers=sk).status_code == 200


def test_bad_key_requests_answer_4xx(platform: Platform, env: Env) -> None:
    sk = _bearer(env.secret_key)
    foreign_keys = _list(httpx.get(f"{platform.api}/auth/api-keys", headers=_bearer(env.foreign_key)))
    with platform.client(timeout=30) as http:
        assert _error(http.post("/auth/api-key", params={"type": "ROOT"}, headers=sk), 400)["key"] == "type"
        assert _error(http.post("/auth/api-key", headers=sk), 400)["key"] == "type"
        assert _error(http.delete("/auth/api-key", headers=sk), 400)["key"] == "key"
        for unknown in ("us_key_nope000000", "garbage", str(foreign_keys[0]["id"])):
            assert _error(http.delete("/auth/api-key", params={"key": unknown}, headers=sk), 404)["key"] == "key"
        for path in ("/auth/api-keys", "/auth/publishable-key"):
            reply = http.get(path, params={"environmentId": env.foreign_env}, headers=sk)
            _error(reply, 404)
            assert env.foreign_key not in reply.text
        create = http.post("/auth/api-key", params={"environmentId": env.foreign_env, "type": "SECRET"}, headers=sk)
        _error(create, 404)
    assert len(_list(httpx.get(f"{platform.api}/auth/api-keys", headers=_bearer(env.foreign_key)))) == 2


# ---- roles and guest roles (SDK) ------------------------------------------------------------


def test_roles_and_guest_roles_through_the_sdk(platform: Platform, env: Env) -> None:
    client = Flatfile(token=env.secret_key, base_url=platform.api)
    roles = client.roles.list().data
    assert {(r.id, r.name) for r in roles} == {
        (role_id("admin"), "Guest Admin"),
        (role_id("editor"), "Guest Editor"),
        (role_id("viewer"), "Guest Viewer"),
    }
    with platform.client(timeout=30) as http:
        guest_id = _invite(http, env, [{"id": env.space, "role": "editor"}])
        token = _token(http, env, guest_id, env.space)
        assert http.get("/guests", params={"spaceId": env.space}, headers=token).status_code == 403  # an editor
        [first] = client.guests.list_guest_roles(guest_id).data
        assert (first.id, first.role_id, first.actor_id, first.resource_id) == (
            actor_role_id(guest_id, env.space),
            role_id("editor"),
            guest_id,
            env.space,
        )
        promoted = client.guests.assign_guest_role(guest_id, role_id=role_id("admin"), resource_id=env.space).data
        assert (promoted.id, promoted.role_id) == (first.id, role_id("admin"))
        assert promoted.created_at == first.created_at and promoted.updated_at > first.updated_at
        # The guest's cached principal is gone: the same token is an admin now.
        assert http.get("/guests", params={"spaceId": env.space}, headers=token).status_code == 200
        added = client.guests.assign_guest_role(guest_id, role_id=role_id("viewer"), resource_id=env.other_space).data
        listed = client.guests.list_guest_roles(guest_id).data
        assert sorted((r.resource_id, r.role_id) for r in listed) == sorted(
            [(env.space, role_id("admin")), (env.other_space, role_id("viewer"))]
        )
        other_token = _token(http, env, guest_id, env.other_space)
        assert http.get(f"/spaces/{env.other_space}", headers=other_token).status_code == 200
        client.guests.delete_guest_role(guest_id, added.id)
        assert http.get(f"/spaces/{env.other_space}", headers=other_token).status_code == 401
        assert [r.resource_id for r in client.guests.list_guest_roles(guest_id).data] == [env.space]
        guest = _dict(http.get(f"/guests/{guest_id}", headers=_bearer(env.secret_key)))
        assert guest["spaces"] == [{"id": env.space, "role": "admin", "workbooks": [], "lastAccessed": None}]


def test_bad_guest_role_requests_answer_4xx(platform: Platform, env: Env) -> None:
    client = Flatfile(token=env.secret_key, base_url=platform.api)
    sk = _bearer(env.secret_key)
    with platform.client(timeout=30) as http:
        guest_id = _invite(http, env, [{"id": env.space, "role": "viewer"}])
        roles = f"/guests/{guest_id}/roles"
        bad_role = http.post(roles, json={"roleId": "us_rol_nothing0", "resourceId": env.space}, headers=sk)
        assert _error(bad_role, 400)["key"] == "roleId"
        for resource in (env.foreign_space, "us_sp_nothing0000", "garbage"):
            reply = http.post(roles, json={"roleId": role_id("admin"), "resourceId": resource}, headers=sk)
            assert _error(reply, 404)["key"] == "resourceId"
        _error(http.post(roles, json={"roleId": role_id("admin")}, headers=sk), 400)
        _error(http.post(roles, content=b"{", headers=sk), 400)
        _error(http.delete(f"{roles}/us_acr_nothing000", headers=sk), 404)
        _error(http.delete(f"{roles}/not-an-id", headers=sk), 404)
        _error(http.get("/guests/us_g_nothing0000/roles", headers=sk), 404)
        with pytest.raises(ApiError) as foreign:
            Flatfile(token=env.foreign_key, base_url=platform.api).guests.list_guest_roles(guest_id)
        assert foreign.value.status_code == 404
        # Nothing changed on any refusal.
        assert [r.role_id for r in client.guests.list_guest_roles(guest_id).data] == [role_id("viewer")]


def test_a_guest_admin_manages_roles_only_in_its_own_space(platform: Platform, env: Env) -> None:
    with platform.client(timeout=30) as http:
        admin_id = _invite(http, env, [{"id": env.space, "role": "admin"}])
        admin = _token(http, env, admin_id, env.space)
        both = _invite(http, env, [{"id": env.space, "role": "viewer"}, {"id": env.other_space, "role": "viewer"}])
        listed = _list(http.get(f"/guests/{both}/roles", headers=admin))
        assert [r["resourceId"] for r in listed] == [env.space]
        to_other = {"roleId": role_id("admin"), "resourceId": env.other_space}
        _error(http.post(f"/guests/{both}/roles", json=to_other, headers=admin), 403)
        _error(http.delete(f"/guests/{both}/roles/{actor_role_id(both, env.other_space)}", headers=admin), 404)
        own = {"roleId": role_id("editor"), "resourceId": env.space}
        assert _dict(http.post(f"/guests/{both}/roles", json=own, headers=admin))["roleId"] == role_id("editor")
        outsider = _invite(http, env, [{"id": env.other_space, "role": "viewer"}])
        _error(http.get(f"/guests/{outsider}/roles", headers=admin), 404)


# ---- per-workbook grants ---------------------------------------------------------------------


@dataclass(frozen=True)
class Workbook:
    id: str
    sheet: str
    commit: str


def _workbook(http: httpx.Client, env: Env, name: str) -> Workbook:
    sk = _bearer(env.secret_key)
    made = _dict(http.post("/workbooks", json={"spaceId": env.space, "name": name, "sheets": [SHEET]}, headers=sk))
    sheets = made["sheets"]
    assert isinstance(sheets, list)
    sheet = str(sheets[0]["id"])
    inserted = http.post(f"/sheets/{sheet}/records", json=[{"name": {"value": name}}], headers=sk)
    assert inserted.status_code == 200, inserted.text
    commits = _list(http.get(f"/sheets/{sheet}/commits", headers=sk))
    return Workbook(id=str(made["id"]), sheet=sheet, commit=str(commits[0]["id"]))


def test_a_guest_limited_to_one_workbook_sees_only_it(platform: Platform, env: Env) -> None:
    with platform.client(timeout=30) as http:
        w1, w2 = _workbook(http, env, "w-one"), _workbook(http, env, "w-two")
        grant = [{"id": env.space, "role": "editor", "workbooks": [{"id": w1.id}]}]
        guest_id = _invite(http, env, grant)
        token = _token(http, env, guest_id, env.space)
        listed = _list(http.get("/workbooks", params={"spaceId": env.space}, headers=token))
        assert [w["id"] for w in listed] == [w1.id]
        paths = {
            "/workbooks/{wb}": "workbookId",
            "/workbooks/{wb}/commits": "workbookId",
            "/sheets?workbookId={wb}": "workbookId",
            "/sheets/{sheet}": "sheetId",
            "/sheets/{sheet}/records": "sheetId",
            "/sheets/{sheet}/counts": "sheetId",
            "/sheets/{sheet}/commits": "sheetId",
            "/commits/{commit}": "commitId",
        }
        for template, key in paths.items():
            for wb, expected in ((w1, 200), (w2, 404)):
                path = template.format(wb=wb.id, sheet=wb.sheet, commit=wb.commit)
                reply = http.get(path, headers=token)
                assert reply.status_code == expected, f"{path}: {reply.text}"
                if expected == 404:
                    assert reply.json()["errors"][0]["key"] == key and "w-two" not in reply.text
        writes = [
            http.post(f"/sheets/{w2.sheet}/records", json=[{"name": {"value": "x"}}], headers=token),
            http.patch(f"/workbooks/{w2.id}", json={"name": "taken"}, headers=token),
            http.post(f"/commits/{w2.commit}/complete", headers=token),
            http.post("/jobs", json={"type": "workbook", "operation": "x", "source": w2.id}, headers=token),
        ]
        assert [w.status_code for w in writes] == [404, 404, 404, 404], [w.text for w in writes]
        _error(http.post("/workbooks", json={"spaceId": env.space, "name": "new"}, headers=token), 403)
        assert (
            http.post(f"/sheets/{w1.sheet}/records", json=[{"name": {"value": "y"}}], headers=token).status_code == 200
        )
        # Widening the grant (no workbooks named) reaches the same token at once.
        widen = {"spaces": [{"id": env.space, "role": "editor"}]}
        assert http.patch(f"/guests/{guest_id}", json=widen, headers=_bearer(env.secret_key)).status_code == 200
        assert http.get(f"/workbooks/{w2.id}", headers=token).status_code == 200
        listed = _list(http.get("/workbooks", params={"spaceId": env.space}, headers=token))
        assert {w1.id, w2.id} <= {str(w["id"]) for w in listed}


def test_a_limited_guest_reads_no_events_of_other_workbooks(platform: Platform, env: Env) -> None:
    with platform.client(timeout=30) as http:
        w1, w2 = _workbook(http, env, "ev-one"), _workbook(http, env, "ev-two")
        token = _token(
            http,
            env,
            _invite(http, env, [{"id": env.space, "role": "editor", "workbooks": [{"id": w1.id}]}]),
            env.space,
        )
        sk = _bearer(env.secret_key)
        query: dict[str, str | int] = {"spaceId": env.space, "pageSize": 1000, "includeAcknowledged": "true"}
        deadline = time.monotonic() + 20
        everything: list[dict[str, Any]] = []
        while time.monotonic() < deadline:  # the feed projects a moment after the writes answer
            everything = [dict(e) for e in _list(http.get("/events", params=query, headers=sk))]
            if {w1.id, w2.id} <= {e["context"].get("workbookId") for e in everything}:
                break
            time.sleep(0.2)
        of_w2 = [e for e in everything if e["context"].get("workbookId") == w2.id]
        assert of_w2 and any(e["context"].get("workbookId") == w1.id for e in everything)
        seen: list[dict[str, Any]] = [dict(e) for e in _list(http.get("/events", params=query, headers=token))]
        workbooks = {e["context"].get("workbookId") for e in seen}
        assert w1.id in workbooks and w2.id not in workbooks
        assert any(e["context"].get("workbookId") is None for e in seen)  # space-level events stay visible
        _error(http.get(f"/events/{of_w2[0]['id']}", headers=token), 404)
        _error(http.post(f"/events/{of_w2[0]['id']}/ack", headers=token), 404)
        assert http.get(f"/events/{of_w2[0]['id']}", headers=sk).json()["data"]["acknowledgedAt"] is None
        assert http.get(f"/events/{of_w2[0]['id']}", headers=sk).status_code == 200


def test_a_file_of_another_workbook_is_not_found_for_a_limited_guest(platform: Platform, env: Env) -> None:
    sk = _bearer(env.secret_key)
    with platform.client(timeout=30) as http:
        w1 = _workbook(http, env, "files-one")
        form = {"spaceId": env.space, "environmentId": env.id}
        upload = http.post("/files", data=form, files={"file": ("f.csv", b"a,b\n1,2\n", "text/csv")}, headers=sk)
        file_id = str(_dict(upload)["id"])
        deadline = time.monotonic() + 20
        while not _dict(http.get(f"/files/{file_id}", headers=sk))["workbookId"]:  # extracted into its own workbook
            assert time.monotonic() < deadline, "the upload was not extracted"
            time.sleep(0.1)
        limited = _token(http, env, _invite(http, env, [{"id": env.space, "workbooks": [{"id": w1.id}]}]), env.space)
        whole = _token(http, env, _invite(http, env, [{"id": env.space}]), env.space)
        for path in (f"/files/{file_id}", f"/files/{file_id}/download"):
            assert http.get(path, headers=whole).status_code == 200
            assert _error(http.get(path, headers=limited), 404)["key"] == "fileId"
        _error(http.delete(f"/files/{file_id}", headers=limited), 404)
        listed = _list(http.get("/files", params={"spaceId": env.space}, headers=limited))
        assert file_id not in [f["id"] for f in listed]
        assert file_id in [f["id"] for f in _list(http.get("/files", params={"spaceId": env.space}, headers=whole))]
        # the pages count what the guest sees, not the whole space (no hint of the other workbooks)
        for path in ("/files", "/jobs"):
            page = http.get(path, params={"spaceId": env.space, "pageSize": 100}, headers=limited).json()
            assert page["pagination"]["totalCount"] == len(page["data"]), (path, page["pagination"])
            everything = http.get(path, params={"spaceId": env.space, "pageSize": 100}, headers=whole).json()
            assert everything["pagination"]["totalCount"] == len(everything["data"])
        files = http.get("/files", params={"spaceId": env.space, "pageSize": 100}, headers=whole).json()
        assert files["pagination"]["totalCount"] > len(listed)


def test_a_grant_names_only_workbooks_of_its_space(platform: Platform, env: Env) -> None:
    sk = _bearer(env.secret_key)
    with platform.client(timeout=30) as http:
        foreign_wb = _dict(
            http.post("/workbooks", json={"spaceId": env.foreign_space, "name": "f"}, headers=_bearer(env.foreign_key))
        )
        other_wb = _dict(http.post("/workbooks", json={"spaceId": env.other_space, "name": "o"}, headers=sk))
        for workbook_id in (str(foreign_wb["id"]), str(other_wb["id"]), "us_wb_nothing0000", "garbage"):
            email = f"wb-{uuid.uuid4().hex[:6]}@example.com"
            body = [{"email": email, "name": "n", "spaces": [{"id": env.space, "workbooks": [{"id": workbook_id}]}]}]
            reply = http.post("/guests", json=body, headers=sk)
            assert _error(reply, 404)["key"] == "workbooks"
            assert _list(http.get("/guests", params={"spaceId": env.space, "email": email}, headers=sk)) == []


def test_a_workbook_limited_admin_grants_only_its_workbooks(platform: Platform, env: Env) -> None:
    sk = _bearer(env.secret_key)
    with platform.client(timeout=30) as http:
        w1, w2 = _workbook(http, env, "adm-one"), _workbook(http, env, "adm-two")
        admin_id = _invite(http, env, [{"id": env.space, "role": "admin", "workbooks": [{"id": w1.id}]}])
        admin = _token(http, env, admin_id, env.space)
        for workbooks in ([{"id": w2.id}], []):
            email = f"sub-{uuid.uuid4().hex[:6]}@example.com"
            body = [{"email": email, "name": "n", "spaces": [{"id": env.space, "workbooks": workbooks}]}]
            _error(http.post("/guests", json=body, headers=admin), 403)
        ok = [{"email": "sub-ok@example.com", "name": "n", "spaces": [{"id": env.space, "workbooks": [{"id": w1.id}]}]}]
        assert http.post("/guests", json=ok, headers=admin).status_code == 200
        assert http.get("/guests", params={"spaceId": env.space}, headers=sk).status_code == 200


# ---- allowedDomains ------------------------------------------------------------------------


def test_allowed_domains_hold_for_email_changes_and_role_grants(platform: Platform, env: Env) -> None:
    sk = _bearer(env.secret_key)
    with platform.client(timeout=30) as http:
        closed = str(
            _dict(http.post("/spaces", json={"name": "closed", "allowedDomains": ["acme.com"]}, headers=sk))["id"]
        )
        member = _invite(http, env, [{"id": env.space}, {"id": closed}], email=f"m-{uuid.uuid4().hex[:6]}@acme.com")
        moved = http.patch(f"/guests/{member}", json={"email": "m@elsewhere.org"}, headers=sk)
        assert _error(moved, 403)["key"] == "email"
        assert str(_dict(http.get(f"/guests/{member}", headers=sk))["email"]).endswith("@acme.com")
        outsider = _invite(http, env, [{"id": env.space}], email=f"o-{uuid.uuid4().hex[:6]}@elsewhere.org")
        granted = http.post(
            f"/guests/{outsider}/roles", json={"roleId": role_id("viewer"), "resourceId": closed}, headers=sk
        )
        assert _error(granted, 403)["key"] == "email"
        assert [r["resourceId"] for r in _list(http.get(f"/guests/{outsider}/roles", headers=sk))] == [env.space]
        # Narrowing a space's domains later does not take access from guests already invited.
        token = _token(http, env, member, closed)
        assert http.patch(f"/spaces/{closed}", json={"allowedDomains": ["other.com"]}, headers=sk).status_code == 200
        assert http.get(f"/spaces/{closed}", headers=token).status_code == 200
        again = [{"email": "late@acme.com", "name": "n", "spaces": [{"id": closed}]}]
        _error(http.post("/guests", json=again, headers=sk), 403)


def test_bad_input_to_the_access_routes_answers_4xx_and_changes_nothing(platform: Platform, env: Env) -> None:
    sk = _bearer(env.secret_key)
    weird = ("a.b", ">", "*", "us_key_a.b", "' OR 1=1 --", "ñ€", "x" * 10_000)
    with platform.client(timeout=30) as http:
        guest_id = _invite(http, env, [{"id": env.space, "role": "viewer"}])
        keys_before = _list(http.get("/auth/api-keys", headers=sk))
        roles_before = _list(http.get(f"/guests/{guest_id}/roles", headers=sk))
        statuses: list[int] = []
        for value in weird:
            statuses.append(http.delete("/auth/api-key", params={"key": value}, headers=sk).status_code)
            statuses.append(http.post("/auth/api-key", params={"type": value}, headers=sk).status_code)
            statuses.append(http.get("/auth/api-keys", params={"environmentId": value}, headers=sk).status_code)
            statuses.append(http.get(f"/guests/{value}/roles", headers=sk).status_code)
            statuses.append(http.delete(f"/guests/{guest_id}/roles/{value}", headers=sk).status_code)
            for body in ({"roleId": value, "resourceId": env.space}, {"roleId": role_id("admin"), "resourceId": value}):
                statuses.append(http.post(f"/guests/{guest_id}/roles", json=body, headers=sk).status_code)
        shapes: list[object] = [None, [], "x", 5, {"roleId": 5, "resourceId": env.space}, {"roleId": None}, [{}]]
        for shape in shapes:
            statuses.append(http.post(f"/guests/{guest_id}/roles", json=shape, headers=sk).status_code)
        big = b'{"roleId":"' + b"x" * (3 * 1024 * 1024) + b'"}'
        statuses.append(http.post(f"/guests/{guest_id}/roles", content=big, headers=sk).status_code)
        assert all(400 <= s < 500 for s in statuses), statuses
        assert _list(http.get("/auth/api-keys", headers=sk)) == keys_before
        assert _list(http.get(f"/guests/{guest_id}/roles", headers=sk)) == roles_before
