"""The space web app in headless Chromium: opening it (guest link, named guest, admin key), the
sidebar and theme, documents sanitised, the grid's invalid cells, inline edits, a viewer's
read-only grid, keyboard navigation, filters, live updates and the error pages."""

from __future__ import annotations

import re

import httpx
from playwright.sync_api import Page, expect

from tests.browser.conftest import World, ok, shot

ROW = "[role=grid] .rows [role=row][data-record-id]"


def open_grid(page: Page, url: str) -> None:
    page.goto(url)
    page.wait_for_selector(ROW)


def cell(page: Page, row: int, key: str) -> str:
    """Selector of the cell of 0-based `row` (aria-rowindex = row + 2) and field `key`."""
    return f"[role=grid] [role=row][aria-rowindex='{row + 2}'] [role=gridcell][data-key='{key}']"


def test_the_guest_link_opens_the_space_with_sidebar_theme_and_grid(page: Page, world: World) -> None:
    assert world.guest_link.startswith(world.platform.base_url + f"/space/{world.space_id}?token=gt_")
    open_grid(page, world.guest_link)
    assert "token=" not in page.url  # kept in sessionStorage, not in history
    assert page.evaluate("Object.keys(sessionStorage)") == [f"spaceport.token.{world.space_id}"]
    nav = page.get_by_role("navigation", name="Space navigation")
    expect(nav.get_by_role("heading", name="Q3 contacts import")).to_be_visible()
    workbooks = nav.locator(".workbooks .workbook").all_inner_texts()
    assert workbooks == ["Reference data", "Contacts"]  # per sidebarConfig.workbookSidebarOrder
    assert nav.locator(".documents a").all_inner_texts() == ["Getting started", "FAQ"]  # as added
    expect(nav.get_by_role("link", name="Contacts")).to_have_attribute("aria-current", "page")  # defaultPage
    primary = page.evaluate("getComputedStyle(document.documentElement).getPropertyValue('--primary').trim()")
    assert primary == "#d6336c"
    assert page.evaluate("getComputedStyle(document.getElementById('sidebar')).backgroundColor") == "rgb(31, 41, 55)"
    grid = page.get_by_role("grid", name="Contacts")
    expect(grid).to_have_attribute("aria-rowcount", "21")
    expect(grid).to_have_attribute("aria-readonly", "false")
    expect(page.locator(cell(page, 0, "name"))).to_have_text("Person 0")
    expect(page.locator("[data-filter=all] .count")).to_have_text("20")
    expect(page.locator("[data-filter=error] .count")).to_have_text("2")
    shot(page, "01-guest-link-grid")


def test_an_invalid_cell_is_marked_with_its_message(page: Page, world: World) -> None:
    open_grid(page, world.url(world.editor_token))
    invalid = page.locator(cell(page, 3, "email"))
    expect(invalid).to_have_attribute("aria-invalid", "true")
    expect(invalid).to_have_class(re.compile(r"\binvalid\b"))
    title = invalid.get_attribute("title") or ""
    assert "required" in title.lower(), title
    expect(page.locator(cell(page, 2, "email"))).not_to_have_attribute("aria-invalid", "true")
    invalid.click()  # the footer shows the active cell's messages too
    expect(page.get_by_test_id("cell-info")).to_contain_text("Row 4 · Email")
    expect(page.get_by_test_id("cell-info").locator(".message.error")).to_have_text(title)
    shot(page, "02-invalid-cell")


def test_fixing_an_invalid_cell_inline_makes_it_valid_at_once(page: Page, world: World) -> None:
    open_grid(page, world.url(world.editor_token))
    target = page.locator(cell(page, 7, "email"))
    expect(target).to_have_attribute("aria-invalid", "true")
    target.click()
    page.keyboard.press("Enter")
    editor = page.get_by_role("textbox", name="Email, row 8")
    expect(editor).to_be_focused()
    editor.fill("fixed7@example.com")
    shot(page, "03-editing")
    page.keyboard.press("Enter")
    expect(target).to_have_text("fixed7@example.com")
    expect(target).not_to_have_attribute("aria-invalid", "true")
    expect(page.locator("[data-filter=error] .count")).to_have_text("1")
    # Enter moved the active cell down a row
    expect(page.get_by_role("grid", name="Contacts")).to_have_attribute("aria-activedescendant", re.compile(r"-8-1$"))
    shot(page, "04-fixed-cell")
    with world.platform.client(timeout=30) as api:
        records = ok(api.get(f"/sheets/{world.contacts_id}/records", params={"searchValue": "fixed7@example.com"}))
    [record] = records["records"]
    assert record["values"]["email"]["value"] == "fixed7@example.com"
    assert record["values"]["name"]["value"] == "Person 7"  # the other cells are untouched
    assert record["valid"] is True


def test_a_viewer_cannot_edit(page: Page, world: World) -> None:
    open_grid(page, world.url(world.viewer_token))
    grid = page.get_by_role("grid", name="Contacts")
    expect(grid).to_have_attribute("aria-readonly", "true")
    expect(page.get_by_test_id("readonly-note")).to_be_visible()
    page.locator(cell(page, 3, "email")).click()
    page.keyboard.press("Enter")
    expect(page.locator("[role=grid] input")).to_have_count(0)
    expect(page.locator(".toast")).to_contain_text("View only")
    page.locator(cell(page, 3, "email")).dblclick()
    expect(page.locator("[role=grid] input")).to_have_count(0)
    shot(page, "05-viewer-read-only")
    # and the API refuses the viewer's write the page never sends
    reply = httpx.put(
        f"{world.platform.api}/sheets/{world.contacts_id}/records",
        json=[
            {
                "id": page.locator("[aria-rowindex='5']").get_attribute("data-record-id"),
                "values": {"email": {"value": "x"}},
            }
        ],
        headers={"Authorization": f"Bearer {world.viewer_token}"},
    )
    assert reply.status_code == 403


def test_an_admin_opens_the_space_with_a_secret_key(page: Page, world: World) -> None:
    open_grid(page, world.url(world.platform.secret_key))
    expect(page.locator(".sidebar .kind")).to_contain_text("Admin")
    expect(page.get_by_role("grid", name="Contacts")).to_have_attribute("aria-readonly", "false")


def test_a_document_is_rendered_sanitised(page: Page, world: World) -> None:
    page.goto(world.url(world.editor_token))
    page.get_by_role("link", name="Getting started").click()
    article = page.locator("article.document")
    expect(article.get_by_role("heading", name="Welcome aboard")).to_be_visible()
    expect(article.locator("b")).to_have_text("contacts")
    assert article.locator("script, iframe").count() == 0
    assert article.locator("img").get_attribute("onerror") is None
    assert article.get_by_text("bad link").get_attribute("href") is None
    page.wait_for_timeout(200)  # give a smuggled handler its chance to run
    assert page.evaluate("window.__pwned") is None
    shot(page, "06-document")


def test_keyboard_navigation_filters_and_search(page: Page, world: World) -> None:
    open_grid(page, world.url(world.editor_token))
    grid = page.get_by_role("grid", name="Contacts")
    page.locator(cell(page, 0, "name")).click()
    for key in ("ArrowDown", "ArrowDown", "ArrowRight"):
        page.keyboard.press(key)
    expect(grid).to_have_attribute("aria-activedescendant", re.compile(r"-2-1$"))
    expect(page.locator(cell(page, 2, "email"))).to_have_class(re.compile(r"\bactive\b"))
    page.keyboard.press("Escape")  # nothing to cancel: stays put
    expect(grid).to_have_attribute("aria-activedescendant", re.compile(r"-2-1$"))
    page.get_by_role("button", name=re.compile("^Errors")).click()
    expect(grid).to_have_attribute("aria-rowcount", re.compile(r"^[23]$"))  # 1 or 2 errors left, by test order
    for row in page.locator(ROW).all():
        expect(row.locator("[data-key=email]")).to_have_attribute("aria-invalid", "true")
    shot(page, "07-errors-filter")
    page.get_by_role("button", name=re.compile("^All")).click()
    page.get_by_role("searchbox", name="Search Contacts").fill("Person 12")
    expect(grid).to_have_attribute("aria-rowcount", "2")
    expect(page.locator(cell(page, 0, "name"))).to_have_text("Person 12")
    page.get_by_role("searchbox", name="Search Contacts").fill("")
    expect(grid).to_have_attribute("aria-rowcount", "21")
    sort = page.get_by_role("columnheader", name="Age").get_by_role("button")
    sort.click()
    expect(page.locator("[role=columnheader][data-key=age]")).to_have_attribute("aria-sort", "ascending")
    sort.click()
    expect(page.locator("[role=columnheader][data-key=age]")).to_have_attribute("aria-sort", "descending")
    expect(page.locator(cell(page, 0, "age"))).to_have_text("39")


def test_a_listener_write_shows_without_reload(page: Page, world: World) -> None:
    open_grid(page, world.url(world.editor_token))
    expect(page.get_by_test_id("live")).to_have_text("Live")
    record_id = page.locator("[role=row][aria-rowindex='12']").get_attribute("data-record-id")
    with world.platform.client(timeout=30) as api:  # a listener's hook, with the secret key
        ok(
            api.put(
                f"/sheets/{world.contacts_id}/records",
                json=[
                    {
                        "id": record_id,
                        "values": {
                            "name": {
                                "value": "Renamed by a hook",
                                "messages": [{"type": "error", "message": "Name looks fake"}],
                            }
                        },
                    }
                ],
            )
        )
    target = page.locator(cell(page, 10, "name"))
    expect(target.locator(".value")).to_have_text("Renamed by a hook")
    expect(target).to_have_attribute("title", re.compile("Name looks fake"))
    shot(page, "08-live-update")


def test_an_expired_token_shows_a_clear_message(page: Page, world: World) -> None:
    page.goto(world.url(world.expired_token()))
    fatal = page.get_by_test_id("fatal")
    expect(fatal).to_contain_text("This link has expired or is not valid")
    assert "Traceback" not in page.content()
    shot(page, "09-expired-link")


def test_a_foreign_token_and_a_missing_space_show_clear_messages(page: Page, world: World) -> None:
    page.goto(world.url(world.foreign_token))
    expect(page.get_by_test_id("fatal")).to_contain_text("You don't have access")
    shot(page, "10-no-access")
    page.goto(world.url(world.platform.secret_key, space_id="us_sp_nothere000"))
    expect(page.get_by_test_id("fatal")).to_contain_text("was not found")
    page.goto(f"{world.platform.base_url}/space/{world.space_id}")  # a fresh tab: no token at all
    page.context.clear_cookies()
    page.evaluate("sessionStorage.clear()")
    page.reload()
    expect(page.get_by_test_id("fatal")).to_contain_text("expired or is not valid")


def test_the_server_being_down_shows_a_clear_message(page: Page, world: World) -> None:
    page.route(re.compile(r".*/(v1|space/[^/]+/session).*"), lambda route: route.abort("connectionrefused"))
    page.goto(world.url(world.editor_token))
    fatal = page.get_by_test_id("fatal")
    expect(fatal).to_contain_text("The server cannot be reached")
    expect(fatal.get_by_role("button", name="Try again")).to_be_visible()
    shot(page, "11-server-down")


def test_a_failed_save_keeps_what_was_typed_and_retries(page: Page, world: World) -> None:
    open_grid(page, world.url(world.editor_token))
    target = page.locator(cell(page, 5, "name"))
    target.click()
    page.keyboard.press("Enter")
    page.route(re.compile(r".*/v1/sheets/[^/]+/records$"), lambda route: route.abort("internetdisconnected"))
    page.get_by_role("textbox", name="Name, row 6").fill("Person Five")
    page.keyboard.press("Enter")
    expect(page.locator(".toast.error")).to_contain_text("Not saved. The server cannot be reached")
    editor = page.get_by_role("textbox", name="Name, row 6")
    expect(editor).to_have_value("Person Five")  # nothing lost
    shot(page, "13-save-failed")
    page.unroute(re.compile(r".*/v1/sheets/[^/]+/records$"))
    page.keyboard.press("Enter")
    expect(target.locator(".value")).to_have_text("Person Five")
    with world.platform.client(timeout=30) as api:
        found = ok(api.get(f"/sheets/{world.contacts_id}/records", params={"searchValue": "Person Five"}))["records"]
    assert [r["values"]["name"]["value"] for r in found] == ["Person Five"]


def test_the_apps_word_for_space_is_used(page: Page, world: World) -> None:
    with world.platform.client(timeout=60) as api:
        app = ok(
            api.post("/apps", json={"name": "Projects", "namespace": "projects", "type": "PORTAL", "entity": "Project"})
        )
        space_id = ok(api.post("/spaces", json={"name": "Launch", "appId": app["id"]}))["id"]
    page.goto(world.url(world.platform.secret_key, space_id=space_id))
    nav = page.get_by_role("navigation", name="Space navigation")
    expect(nav.locator(".kind").first).to_have_text("Project · Admin")
    expect(page.locator("#main .empty")).to_have_text("This project has no workbooks or documents yet.")
