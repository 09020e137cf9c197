"""Views end to end (the official `flatfile` SDK) and entitlements (httpx) against the real platform.

Bad inputs each answer a 4xx in the errors envelope and leave the sheet's views as they were.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from flatfile import Flatfile
from flatfile.core.api_error import ApiError
from flatfile.views import ViewConfig

from spaceport.testing.platform import Platform

SHEET = {
    "name": "People",
    "slug": "people",
    "fields": [{"key": "email", "type": "string"}, {"key": "name", "type": "string"}],
}


@dataclass(frozen=True)
class Book:
    space: str
    workbook: str
    sheet: str


def _data(reply: httpx.Response) -> Any:
    assert reply.status_code == 200, reply.text
    return reply.json()["data"]


def _book(api: httpx.Client, sheets: list[dict[str, Any]] | None = None) -> Book:
    space = _data(api.post("/spaces", json={"name": "views"}))["id"]
    workbook = _data(api.post("/workbooks", json={"name": "wb", "spaceId": space, "sheets": sheets or [SHEET]}))
    return Book(space=space, workbook=workbook["id"], sheet=workbook["sheets"][0]["id"])


@pytest.fixture
def api(platform: Platform) -> Iterator[httpx.Client]:
    with platform.client(timeout=30) as client:
        yield client


@pytest.fixture
def book(api: httpx.Client) -> Book:
    return _book(api)


def sdk(platform: Platform) -> Flatfile:
    return Flatfile(token=platform.secret_key, base_url=platform.api)


def _listed(api: httpx.Client, sheet_id: str) -> list[dict[str, Any]]:
    views: list[dict[str, Any]] = _data(api.get("/views", params={"sheetId": sheet_id, "pageSize": 100}))
    return views


# ---- the SDK ----------------------------------------------------------------------------------


def test_views_through_the_sdk(platform: Platform, book: Book) -> None:
    client = sdk(platform)
    config = ViewConfig(
        filter="error", filter_field="email", q="name like %Ada%", sort_field="name", sort_direction="asc"
    )
    created = client.views.create(sheet_id=book.sheet, name="Errors by name", config=config).data
    assert created.id.startswith("us_vi_")
    assert (created.sheet_id, created.name) == (book.sheet, "Errors by name")
    assert created.config == config
    assert created.created_by  # the key's actor
    assert client.views.get(created.id).data == created

    second = client.views.create(sheet_id=book.sheet, name="All", config=ViewConfig()).data
    listed = client.views.list(sheet_id=book.sheet)
    assert [v.id for v in listed.data] == [created.id, second.id]  # oldest first
    assert listed.pagination is not None and listed.pagination.total_count == 2
    page = client.views.list(sheet_id=book.sheet, page_size=1, page_number=2)
    assert [v.id for v in page.data] == [second.id]
    assert page.pagination is not None and (page.pagination.page_count, page.pagination.current_page) == (2, 2)

    searched = ViewConfig(search_field="email", search_value="@example.com")
    updated = client.views.update(created.id, name="By email", config=searched).data
    assert (updated.name, updated.config) == ("By email", searched)  # the config is replaced whole
    assert updated.config.filter is None
    kept = client.views.update(created.id, config=ViewConfig(filter="valid")).data
    assert (kept.name, kept.config.filter) == ("By email", "valid")  # no name: the name stays
    assert client.views.get(created.id).data == kept

    deleted = client.views.delete(second.id).data
    assert deleted is not None and deleted.success
    with pytest.raises(ApiError) as gone:
        client.views.get(second.id)
    assert gone.value.status_code == 404
    assert [v.id for v in client.views.list(sheet_id=book.sheet).data] == [created.id]


def test_a_retried_create_with_the_same_idempotency_key_saves_one_view(api: httpx.Client, book: Book) -> None:
    body = {"sheetId": book.sheet, "name": "Once", "config": {"filter": "valid"}}
    headers = {"Idempotency-Key": uuid.uuid4().hex}
    first = _data(api.post("/views", json=body, headers=headers))
    again = _data(api.post("/views", json=body, headers=headers))
    assert first["id"] == again["id"]
    assert [v["id"] for v in _listed(api, book.sheet)] == [first["id"]]


def test_a_deleted_sheets_views_are_gone(api: httpx.Client) -> None:
    book = _book(api, [SHEET, {**SHEET, "name": "Other", "slug": "other"}])
    view = _data(api.post("/views", json={"sheetId": book.sheet, "name": "v", "config": {"sortField": "email"}}))
    assert _data(api.delete(f"/sheets/{book.sheet}"))["success"]
    assert api.get(f"/views/{view['id']}").status_code == 404
    listed = api.get("/views", params={"sheetId": book.sheet})
    assert listed.status_code == 404 and listed.json()["errors"][0]["key"] == "sheetId"
    assert api.patch(f"/views/{view['id']}", json={"name": "x", "config": {}}).status_code == 404
    assert api.delete(f"/views/{view['id']}").status_code == 404


def test_a_deleted_workbooks_views_are_gone(api: httpx.Client, book: Book) -> None:
    view = _data(api.post("/views", json={"sheetId": book.sheet, "name": "v", "config": {}}))
    assert api.delete(f"/workbooks/{book.workbook}").status_code == 200
    assert api.get(f"/views/{view['id']}").status_code == 404
    assert api.get("/views", params={"sheetId": book.sheet}).status_code == 404


def test_a_config_is_checked_against_the_sheet_as_it_is_now(api: httpx.Client, book: Book) -> None:
    """A field added to the sheet may be named at once; one removed may no longer be."""
    added = {"id": book.sheet, "fields": [*SHEET["fields"], {"key": "phone", "type": "string"}]}
    assert api.patch(f"/workbooks/{book.workbook}", json={"sheets": [added]}).status_code == 200
    view = _data(api.post("/views", json={"sheetId": book.sheet, "name": "v", "config": {"sortField": "phone"}}))
    assert view["config"] == {"sortField": "phone"}
    removed = {"id": book.sheet, "fields": SHEET["fields"]}
    assert api.patch(f"/workbooks/{book.workbook}", json={"sheets": [removed]}).status_code == 200
    refused = api.patch(f"/views/{view['id']}", json={"config": {"filterField": "phone"}})
    assert refused.status_code == 400 and refused.json()["errors"][0]["key"] == "config.filterField"


# ---- bad inputs --------------------------------------------------------------------------------

GOOD = {"name": "ok", "config": {"filter": "all"}}
BAD_CREATES: list[tuple[str, dict[str, Any], int, str | None]] = [
    ("unknown sheet", {**GOOD, "sheetId": "us_sh_nosuchsheet"}, 404, "sheetId"),
    ("malformed sheet id", {**GOOD, "sheetId": "not a sheet"}, 400, "sheetId"),
    ("no sheet", GOOD, 400, "sheetId"),
    ("no name", {"config": {}}, 400, "name"),
    ("blank name", {"name": "  ", "config": {}}, 400, "name"),
    ("long name", {"name": "n" * 256, "config": {}}, 400, "name"),
    ("name not a string", {"name": 7, "config": {}}, 400, "name"),
    ("no config", {"name": "n"}, 400, "config"),
    ("config not an object", {"name": "n", "config": "error"}, 400, "config"),
    ("unknown sortField", {"name": "n", "config": {"sortField": "phone"}}, 400, "config.sortField"),
    ("unknown filterField", {"name": "n", "config": {"filterField": "phone"}}, 400, "config.filterField"),
    ("unknown searchField", {"name": "n", "config": {"searchField": "phone"}}, 400, "config.searchField"),
    ("bad filter", {"name": "n", "config": {"filter": "broken"}}, 400, "config.filter"),
    ("bad sortDirection", {"name": "n", "config": {"sortDirection": "up"}}, 400, "config.sortDirection"),
    ("pageSize a string", {"name": "n", "config": {"pageSize": "ten"}}, 400, "config.pageSize"),
    ("pageSize 0", {"name": "n", "config": {"pageSize": 0}}, 400, "config.pageSize"),
    ("ids not a list", {"name": "n", "config": {"ids": "us_rc_1"}}, 400, "config.ids"),
    ("ids not record ids", {"name": "n", "config": {"ids": ["nope"]}}, 400, "config.ids[0]"),
    ("too many ids", {"name": "n", "config": {"ids": [f"us_rc_{n}" for n in range(101)]}}, 400, "config.ids"),
    ("bad commitId", {"name": "n", "config": {"commitId": "us_sh_x"}}, 400, "config.commitId"),
    ("unknown config key", {"name": "n", "config": {"columns": ["email"]}}, 400, "config"),
    ("q too long", {"name": "n", "config": {"q": "x" * 10_001}}, 400, "config.q"),
]


@pytest.mark.parametrize("bad", BAD_CREATES, ids=[c[0] for c in BAD_CREATES])
def test_a_bad_create_is_refused_and_saves_nothing(
    api: httpx.Client, book: Book, bad: tuple[str, dict[str, Any], int, str | None]
) -> None:
    case, body, status, key = bad
    payload = body if case in ("unknown sheet", "malformed sheet id", "no sheet") else {"sheetId": book.sheet, **body}
    reply = api.post("/views", json=payload)
    assert reply.status_code == status, reply.text
    error = reply.json()["errors"][0]
    assert error["key"] == key, error
    if key == "config.sortField":
        assert "phone" in error["message"] and "email" in error["message"]  # names the field and the sheet's
    assert _listed(api, book.sheet) == []


def test_malformed_json_is_refused(api: httpx.Client, book: Book) -> None:
    reply = api.post("/views", content=b'{"sheetId": ', headers={"Content-Type": "application/json"})
    assert reply.status_code == 400 and "errors" in reply.json()
    assert _listed(api, book.sheet) == []


BAD_UPDATES: list[tuple[dict[str, Any], str]] = [
    ({"name": ""}, "name"),
    ({"name": "n" * 256}, "name"),
    ({"config": {"sortField": "phone"}}, "config.sortField"),
    ({"config": {"filter": 3}}, "config.filter"),
    ({"config": {"whatever": True}}, "config"),
    ({"config": []}, "config"),
    ({"sheetId": "us_sh_elsewhere", "name": "moved"}, "sheetId"),
]


@pytest.mark.parametrize(("body", "key"), BAD_UPDATES)
def test_a_bad_update_is_refused_and_changes_nothing(
    api: httpx.Client, book: Book, body: dict[str, Any], key: str
) -> None:
    view = _data(api.post("/views", json={"sheetId": book.sheet, "name": "keep", "config": {"filter": "error"}}))
    reply = api.patch(f"/views/{view['id']}", json=body)
    assert reply.status_code == 400, reply.text
    assert reply.json()["errors"][0]["key"] == key
    assert _data(api.get(f"/views/{view['id']}")) == view


WEIRD_IDS = (
    "us_vi_nosuchview",
    "not-a-view",
    "a.b",
    ">",
    "*",
    "us_vi_a.b",
    "us_vi_%2E",
    "us_vi_ñ",
    "us_sh_x",
    "x" * 5000,
)
BAD_PAGES = [
    ("pageSize", "0"),
    ("pageSize", "-1"),
    ("pageSize", "x"),
    ("pageSize", "1001"),
    ("pageSize", "1000000000000"),
    ("pageNumber", "0"),
    ("pageNumber", "abc"),
    ("pageNumber", "9223372036854775807"),
    ("pageNumber", "99999999999999999999"),
]


def test_unknown_views_and_bad_pages_answer_4xx(api: httpx.Client, book: Book) -> None:
    for method in ("GET", "PATCH", "DELETE"):
        for view_id in WEIRD_IDS:
            reply = api.request(method, f"/views/{view_id}", json={"name": "n"})
            assert reply.status_code == 404, (method, view_id, reply.text)
            assert reply.json()["errors"][0]["key"] == "viewId"
    assert api.get("/views").json()["errors"][0]["key"] == "sheetId"
    for name, value in BAD_PAGES:
        reply = api.get("/views", params={"sheetId": book.sheet, name: value})
        assert reply.status_code == 400, (name, value, reply.text)
        assert reply.json()["errors"][0]["key"] == name


# ---- entitlements ------------------------------------------------------------------------------


def test_entitlements_are_an_empty_list_for_a_readable_space(api: httpx.Client, book: Book) -> None:
    reply = api.get("/entitlements", params={"resourceId": book.space})
    assert reply.status_code == 200 and reply.json() == {"data": []}


def test_entitlements_through_the_sdk(platform: Platform, book: Book) -> None:
    assert sdk(platform).entitlements.list(resource_id=book.space).data == []


@pytest.mark.parametrize(
    ("params", "status"),
    [({}, 400), ({"resourceId": ""}, 400), ({"resourceId": "us_sp_nosuchspace"}, 404), ({"resourceId": "a.b"}, 404)],
)
def test_entitlements_need_a_space(api: httpx.Client, params: dict[str, str], status: int) -> None:
    reply = api.get("/entitlements", params=params)
    assert reply.status_code == status, reply.text
    assert reply.json()["errors"][0]["key"] == "resourceId"


def test_a_deleted_spaces_entitlements_are_not_found(api: httpx.Client) -> None:
    space = _data(api.post("/spaces", json={"name": "gone"}))["id"]
    assert api.delete(f"/spaces/{space}").status_code == 200
    assert api.get("/entitlements", params={"resourceId": space}).status_code == 404
