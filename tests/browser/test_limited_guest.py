"""A guest whose grant names workbooks sees only those in the web app, as the API answers
(tests/test_e2e_access_api.py): the sidebar lists only them, the space's default page in another
workbook is skipped, and another workbook's sheet opened by its URL is "not found". It imports
into them: its upload's source workbook is its own (tests/test_e2e_guest_uploads.py), and
another limited guest cannot read it."""

from __future__ import annotations

import re
from dataclasses import dataclass

import pytest
from playwright.sync_api import FilePayload, Page, expect

from spaceport.testing.platform import Platform
from tests.browser.conftest import World, ok, shot

ROW = "[role=grid] .rows [role=row][data-record-id]"
CSV = b"Full Name,E-mail\nAda Lovelace,ada@example.com\nAlan Turing,alan@example.com\n"
UPLOAD: FilePayload = {"name": "team.csv", "mimeType": "text/csv", "buffer": CSV}


def limited_token(world: World, email: str, workbook_id: str, role: str = "editor") -> str:
    return _limited(world.platform, world.space_id, email, workbook_id, role)


def _limited(platform: Platform, space_id: str, email: str, workbook_id: str, role: str = "editor") -> str:
    spaces = [{"id": space_id, "role": role, "workbooks": [{"id": workbook_id}]}]
    with platform.client(timeout=60) as api:
        guest_id = ok(api.post("/guests", json=[{"email": email, "name": "Limited", "spaces": spaces}]))[0]["id"]
        return str(ok(api.get(f"/guests/{guest_id}/token", params={"spaceId": space_id}))["token"])


@dataclass(frozen=True)
class Desk:
    """A space of its own (the shared world's sheets stay as other tests expect them)."""

    platform: Platform
    space_id: str
    team_id: str  # the workbook both guests are granted
    members_id: str  # its sheet, empty: the import target
    ann: str  # tokens of two editors limited to the Team workbook
    bob: str

    def url(self, token: str) -> str:
        return f"{self.platform.base_url}/space/{self.space_id}?token={token}#/sheet/{self.members_id}"


@pytest.fixture(scope="module")
def desk(platform: Platform) -> Desk:
    fields = [{"key": "name", "type": "string", "label": "Name"}, {"key": "email", "type": "string", "label": "Email"}]
    with platform.client(timeout=60) as api:
        space_id = ok(api.post("/spaces", json={"name": "Team desk"}))["id"]
        members = [{"name": "Members", "slug": "members", "fields": fields}]
        team = ok(api.post("/workbooks", json={"name": "Team", "spaceId": space_id, "sheets": members}))
        salaries = [{"name": "Salaries", "fields": fields}]
        ok(api.post("/workbooks", json={"name": "Payroll", "spaceId": space_id, "sheets": salaries}))
    return Desk(
        platform=platform,
        space_id=space_id,
        team_id=team["id"],
        members_id=team["sheets"][0]["id"],
        ann=_limited(platform, space_id, "ann-limited@example.com", team["id"]),
        bob=_limited(platform, space_id, "bob-limited@example.com", team["id"]),
    )


def status_of(page: Page, path: str, token: str) -> int:
    """What the API answers `token` for GET `path`, fetched from the page (as the app would)."""
    found = page.evaluate(
        "async ([path, token]) => (await fetch(path, { headers: { Authorization: `Bearer ${token}` } })).status",
        [path, token],
    )
    assert isinstance(found, int)
    return found


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
    # an editor limited to some workbooks imports too (its upload's source workbook is its own)
    expect(page.locator("[data-panel=import]")).to_have_count(1)
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


def test_a_limited_guest_imports_a_csv_into_its_workbook(page: Page, desk: Desk) -> None:
    page.goto(desk.url(desk.ann))
    page.wait_for_selector("[role=grid]")
    nav = page.get_by_role("navigation", name="Space navigation")
    assert nav.locator(".workbooks .workbook").all_inner_texts() == ["Team"]
    expect(nav.locator(".kind")).to_contain_text("Guest · editor · 1 workbook")
    page.get_by_role("button", name="Import").click()
    page.get_by_test_id("drop-zone").wait_for()
    page.locator("input[type=file]").set_input_files(files=[UPLOAD])
    mapping = page.get_by_test_id("mapping")
    expect(mapping).to_be_visible(timeout=30_000)
    mapping.get_by_label(re.compile("Destination field for Full Name", re.I)).select_option("name")
    mapping.get_by_label(re.compile("Destination field for E-mail", re.I)).select_option("email")
    shot(page, "16-limited-guest-mapping")
    mapping.get_by_role("button", name="Import records").click()
    outcome = page.get_by_test_id("outcome-dialog")
    expect(outcome).to_contain_text("Mapped 2 records", timeout=30_000)
    outcome.get_by_role("button", name="Close").click()
    grid = page.get_by_role("grid", name="Members")
    expect(grid).to_have_attribute("aria-rowcount", "3")  # the header and two records
    expect(page.locator(ROW).filter(has_text="ada@example.com")).to_have_count(1)
    expect(page.locator(ROW).filter(has_text="Alan Turing")).to_have_count(1)
    shot(page, "17-limited-guest-imported")
    # the sidebar still lists the grant's workbook only (the upload's source workbook is not a page of it)
    assert nav.locator(".workbooks .workbook").all_inner_texts() == ["Team"]

    with desk.platform.client(timeout=30) as api:  # the upload, as the admin sees it
        [upload] = [f for f in ok(api.get("/files", params={"spaceId": desk.space_id})) if f["name"] == "team.csv"]
        mapped = ok(api.get(f"/sheets/{desk.members_id}/records"))["records"]
    assert sorted(r["values"]["email"]["value"] for r in mapped) == ["ada@example.com", "alan@example.com"]
    source, source_sheet = upload["workbookId"], upload["sheetId"]
    assert source and source != desk.team_id
    own = [f"/v1/workbooks/{source}", f"/v1/sheets/{source_sheet}/records", f"/v1/files/{upload['id']}"]
    for path in own:
        assert status_of(page, path, desk.ann) == 200, path
    # another guest limited to the same workbook reads none of it, nor the grid shows it to them
    for path in own:
        assert status_of(page, path, desk.bob) == 404, path
    page.goto(desk.url(desk.bob).replace(desk.members_id, source_sheet))
    expect(page.get_by_role("alert")).to_contain_text("This sheet was not found")
    expect(page.locator(ROW)).to_have_count(0)
