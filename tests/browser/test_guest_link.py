"""`guestLink` (Flatfile's Space field for `shared_link` guests): who sees it, what its token may
do, and that turning shared links off ends it. HTTP only (no browser)."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import httpx

from spaceport.testing.platform import Platform
from tests.browser.conftest import World, ok


def _token(link: str) -> str:
    return parse_qs(urlsplit(link).query)["token"][0]


def _as(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_the_guest_link_is_shown_to_those_who_may_share_the_space(world: World) -> None:
    api = world.platform.api
    assert urlsplit(world.guest_link).path == f"/space/{world.space_id}"
    for token in (world.viewer_token, world.editor_token):  # the link would make a viewer an editor
        space = ok(httpx.get(f"{api}/spaces/{world.space_id}", headers=_as(token)))
        assert space["guestLink"] is None
    listed = ok(httpx.get(f"{api}/spaces", headers=_as(world.platform.secret_key), params={"pageSize": 100}))
    assert {s["id"]: s["guestLink"] for s in listed}[world.space_id] == world.guest_link
    again = ok(httpx.get(f"{api}/spaces/{world.space_id}", headers=_as(world.platform.secret_key)))
    assert again["guestLink"] == world.guest_link  # the same link on every read


def test_the_guest_link_token_is_an_editor_of_its_space_only(world: World) -> None:
    token = _token(world.guest_link)
    session = ok(httpx.get(f"{world.platform.base_url}/space/{world.space_id}/session", headers=_as(token)))
    assert session == {
        "spaceId": world.space_id,
        "kind": "guest",
        "role": "editor",
        "canEdit": True,
        "workbookIds": None,
    }
    assert httpx.get(f"{world.platform.api}/sheets/{world.contacts_id}/counts", headers=_as(token)).status_code == 200
    other = httpx.get(f"{world.platform.api}/spaces/{world.other_space_id}", headers=_as(token))
    assert other.status_code == 403
    assert httpx.post(f"{world.platform.api}/guests", json=[], headers=_as(token)).status_code == 403


def test_a_space_without_shared_links_has_none_and_turning_them_off_ends_the_link(platform: Platform) -> None:
    with platform.client(timeout=30) as api:
        plain = ok(api.post("/spaces", json={"name": "magic only"}))
        assert plain["guestLink"] is None
        shared = ok(api.post("/spaces", json={"name": "shared", "guestAuthentication": ["shared_link"]}))
        token = _token(shared["guestLink"])
        assert httpx.get(f"{platform.api}/spaces/{shared['id']}", headers=_as(token)).status_code == 200
        off = ok(api.patch(f"/spaces/{shared['id']}", json={"guestAuthentication": ["magic_link"]}))
        assert off["guestLink"] is None
    refused = httpx.get(f"{platform.api}/spaces/{shared['id']}", headers=_as(token))
    assert refused.status_code == 401, refused.text
    assert "shared link" in refused.json()["errors"][0]["message"]


def test_the_session_endpoint_refuses_bad_tokens_and_other_spaces(world: World) -> None:
    base = world.platform.base_url
    assert httpx.get(f"{base}/space/{world.space_id}/session").status_code == 401
    assert httpx.get(f"{base}/space/{world.space_id}/session", headers=_as("gt_nope.nope")).status_code == 401
    assert httpx.get(f"{base}/space/{world.space_id}/session", headers=_as(world.foreign_token)).status_code == 403
    missing = httpx.get(f"{base}/space/us_sp_nothere000/session", headers=_as(world.platform.secret_key))
    assert missing.status_code == 404
    page = httpx.get(f"{base}/space/{world.space_id}")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert page.headers["referrer-policy"] == "no-referrer"
    assert "script-src 'self'" in page.headers["content-security-policy"]
    assert (
        httpx.get(f"{base}/static/app/grid.js")
        .headers["content-type"]
        .startswith(("text/javascript", "application/javascript"))
    )
    openapi = httpx.get(f"{world.platform.api}/openapi.json").json()
    assert not [path for path in openapi["paths"] if path.startswith(("/space/", "/static/"))]
