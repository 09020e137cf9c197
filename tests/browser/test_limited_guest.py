"""A guest whose grant names workbooks sees only those in the web app, as the API answers
(tests/test_e2e_access_api.py): the sidebar lists only them, the space's default page in another
workbook is skipped, and another workbook's sheet opened by its URL is "not found"."""

from __future__ import annotations

from playwright.sync_api import Page, expect

from tests.browser.conftest import World, ok, shot

ROW = "[role=grid] .rows [role=row][data-record-id]"


def limited_token(world: World, email: str, workbook_id: str, role: str = "editor") -> str:
    spaces = [{"id": world.space_id, "role": role, "workbooks": [{"id": workbook_id}]}]
    with world.platform.client(timeout=60) as api:
        guest_id = ok(api.post("/guests", json=[{"email": email, "name": "Limited", "spaces": spaces}]))[0]["id"]
        return str(ok(api.get(f"/guests/{guest_id}/token", params={"spaceId": world.space_id}))["token"])


def test_a_guest_limited_to_one_workbook_sees_and_opens_only_it(page: Page, world: World) -> None:
    token = limited_token(world, "limited-reference@example.com", world.reference_workbook)
    page.goto(world.url(token))
    nav = page.get_by_role("navigation", name="Space navigation")
    expect(nav.locator(".workbooks .workbook")).to_have_count(1)
    assert nav.locator(".workbooks .workbook").all_inner_texts() == ["Reference data"]
    expect(nav.locator(f"[data-sheet-id='{world.contacts_id}']")).to_have_count(0)
    expect(nav.locator(".kind")).to_contain_text("1 workbook")
    assert nav.locator(".documents a").all_inner_texts() == ["Getting started", "FAQ"]  # space-level: all shown
    # the space's defaultPage is the Contacts sheet, which this guest does not see: its own first sheet opens
    expect(nav.get_by_role("link", name="Countries")).to_have_attribute("aria-current", "page")
    expect(page.get_by_role("grid", name="Countries")).to_be_visible()
    assert page.url.endswith(f"#/sheet/{world.reference_id}")
    # an upload would be extracted into a workbook outside the grant (404 to this guest): no Import
    expect(page.locator("[data-panel=import]")).to_have_count(0)
    shot(page, "14-limited-guest")

    # the other workbook's sheet, opened by its URL, is not found (as the API answers: 404, not 403)
    page.goto(world.url(token) + f"#/sheet/{world.contacts_id}")
    expect(page.get_by_role("alert")).to_contain_text("This sheet was not found")
    expect(page.get_by_role("grid")).to_have_count(0)
    expect(page.locator(ROW)).to_have_count(0)
    status = page.evaluate(
        """async ([sheet, token]) => (await fetch(`/v1/sheets/${sheet}/records`,
             { headers: { Authorization: `Bearer ${token}` } })).status""",
        [world.contacts_id, token],
    )
    assert status == 404
    shot(page, "15-limited-guest-other-workbook")


def test_a_guest_limited_to_the_default_workbook_opens_its_default_page(page: Page, world: World) -> None:
    token = limited_token(world, "limited-contacts@example.com", world.contacts_workbook, role="viewer")
    page.goto(world.url(token))
    page.wait_for_selector(ROW)
    nav = page.get_by_role("navigation", name="Space navigation")
    assert nav.locator(".workbooks .workbook").all_inner_texts() == ["Contacts"]
    expect(nav.get_by_role("link", name="Contacts")).to_have_attribute("aria-current", "page")  # defaultPage
    expect(page.get_by_role("grid", name="Contacts")).to_have_attribute("aria-readonly", "true")  # a viewer
    page.goto(world.url(token) + f"#/sheet/{world.reference_id}")
    expect(page.get_by_role("alert")).to_contain_text("This sheet was not found")
