"""The space web app's import, mapping, actions and bulk tools in headless Chromium: a file dropped
or picked is uploaded with a progress bar, extracted, mapped into the open sheet and shown in the
grid; a too-large file and a failed extraction say so; an action button waits for its constraints,
asks to confirm, creates its job and shows the outcome the job's worker wrote; a viewer gets no
edit tools; bulk delete, find-and-replace and CSV download write through the API."""

from __future__ import annotations

import re
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import FilePayload, Page, expect
from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

from spaceport.testing.platform import Platform
from tests.browser.conftest import ARTIFACTS, ok, shot

ROW = "[role=grid] .rows [role=row][data-record-id]"
DOCS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
FIELDS = [
    {"key": "name", "type": "string", "label": "Name"},
    {"key": "email", "type": "string", "label": "Email", "constraints": [{"type": "required"}]},
    {
        "key": "tier",
        "type": "enum",
        "label": "Tier",
        "config": {"options": [{"value": "gold", "label": "Gold"}, {"value": "silver", "label": "Silver"}]},
    },
]
SUBMIT = {
    "operation": "submitAction",
    "label": "Submit",
    "primary": True,
    "mode": "foreground",
    "confirm": True,
    "description": "Send the contacts to the CRM",
    "constraints": [{"type": "hasAllValid"}, {"type": "hasData"}],
}
ARCHIVE = {"operation": "archive", "label": "Archive selected", "constraints": [{"type": "hasSelection"}]}
# 3 rows; Carol has no email (required), the tier "?" has no option of its own
CSV = b"Full Name,E-mail,Level\nAda,ada@example.com,Gold\nBob,bob@example.com,?\nCarol,,Silver\n"


@dataclass(frozen=True)
class Place:
    platform: Platform
    space_id: str
    workbook_id: str
    contacts_id: str  # empty: the import target
    people_id: str  # 6 seeded records: bulk delete, find-and-replace, download
    guest_link: str
    viewer_token: str

    def url(self, token: str, sheet_id: str | None = None) -> str:
        return f"{self.platform.base_url}/space/{self.space_id}?token={token}" + (
            f"#/sheet/{sheet_id}" if sheet_id else ""
        )


def wait(check: Callable[[], Any], seconds: float = 30.0) -> Any:
    deadline = time.monotonic() + seconds
    while not (found := check()):
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.2)
    return found


@pytest.fixture(scope="module")
def place(platform: Platform) -> Place:
    with platform.client(timeout=60) as api:
        space_id = ok(api.post("/spaces", json={"name": "Import desk", "guestAuthentication": ["shared_link"]}))["id"]
        created = ok(
            api.post(
                "/workbooks",
                json={
                    "name": "CRM",
                    "spaceId": space_id,
                    "sheets": [
                        {"name": "Contacts", "slug": "contacts", "fields": FIELDS, "actions": [SUBMIT]},
                        {"name": "People", "slug": "people", "fields": FIELDS[:2], "actions": [ARCHIVE]},
                    ],
                },
            )
        )
        contacts_id, people_id = (s["id"] for s in created["sheets"])
        people = [{"name": {"value": f"P{i}"}, "email": {"value": f"p{i}@old.example"}} for i in range(6)]
        # the record service learns of a new sheet through the workbook's events: retry until it has
        wait(lambda: api.post(f"/sheets/{people_id}/records", json=people).status_code == 200)
        guests = [{"email": "v@example.com", "name": "v", "spaces": [{"id": space_id, "role": "viewer"}]}]
        viewer = ok(api.post("/guests", json=guests))[0]["id"]
        viewer_token = ok(api.get(f"/guests/{viewer}/token", params={"spaceId": space_id}))["token"]
        return Place(
            platform=platform,
            space_id=space_id,
            workbook_id=created["id"],
            contacts_id=contacts_id,
            people_id=people_id,
            guest_link=ok(api.get(f"/spaces/{space_id}"))["guestLink"],
            viewer_token=viewer_token,
        )


def payload(name: str, content: bytes = CSV) -> FilePayload:
    return {"name": name, "mimeType": "text/csv", "buffer": content}


def keep(name: str) -> None:
    """Copy a screenshot of the artifacts into docs/screenshots/."""
    DOCS.mkdir(parents=True, exist_ok=True)
    shutil.copy(ARTIFACTS / f"{name}.png", DOCS / f"{name}.png")


def open_sheet(page: Page, url: str) -> None:
    page.goto(url)
    page.wait_for_selector("[role=grid]")


def cell(row: int, key: str) -> str:
    return f"[role=grid] [role=row][aria-rowindex='{row + 2}'] [role=gridcell][data-key='{key}']"


def test_a_guest_imports_a_csv_maps_it_fixes_a_cell_and_submits(page: Page, place: Place) -> None:
    # issue 13's path, as a guest who received the space's link (an editor of the whole space)
    open_sheet(page, place.guest_link + f"#/sheet/{place.contacts_id}")
    expect(page.get_by_role("navigation", name="Space navigation")).to_contain_text("Guest · editor")
    submit = page.get_by_role("button", name="Submit")
    expect(submit).to_be_disabled()  # hasData: the sheet is empty
    page.get_by_role("button", name="Import").click()
    page.get_by_test_id("drop-zone").wait_for()
    page.locator("input[type=file]").set_input_files(files=[payload("contacts.csv")])
    mapping = page.get_by_test_id("mapping")
    expect(mapping).to_be_visible(timeout=30_000)
    expect(page.get_by_role("progressbar", name="Uploading contacts.csv")).to_have_attribute("value", "100")
    shot(page, "20-mapping")
    name = mapping.get_by_label(re.compile("Destination field for Full Name", re.I))
    email = mapping.get_by_label(re.compile("Destination field for E-mail", re.I))
    tier = mapping.get_by_label(re.compile("Destination field for Level", re.I))
    name.select_option("name")  # a person's edits of the plan
    email.select_option("email")
    tier.select_option("tier")
    expect(mapping.get_by_label("Value for Gold")).to_have_value("gold")  # guessed from the option's label
    mapping.get_by_label("Value for ?").select_option("silver")  # a value no option names: mapped by hand
    mapping.get_by_role("button", name="Save mapping").click()
    expect(page.get_by_test_id("import-status")).to_have_text("Mapping saved.")
    with place.platform.client(timeout=30) as api:  # the plan as saved
        [job] = [j for j in ok(api.get("/jobs", params={"spaceId": place.space_id})) if j["operation"] == "map"]
        plan = ok(api.get(f"/jobs/{job['id']}/plan"))["plan"]
    assert sorted(e["destinationField"]["key"] for e in plan["fieldMapping"]) == ["email", "name", "tier"], plan
    assert not plan["unmappedSourceFields"], plan
    page.get_by_test_id("mapping").get_by_role("button", name="Import records").click()
    outcome = page.get_by_test_id("outcome-dialog")
    expect(outcome).to_contain_text("Mapped 3 records", timeout=30_000)
    shot(page, "21-import-outcome")
    outcome.get_by_role("button", name="Close").click()
    grid = page.get_by_role("grid", name="Contacts")
    expect(grid).to_have_attribute("aria-rowcount", "4")
    expect(page.locator("[data-filter=error] .count")).to_have_text("1")
    expect(submit).to_be_disabled()  # hasAllValid: Carol has no email
    assert "invalid" in (submit.get_attribute("title") or "")
    shot(page, "22-imported-grid")
    keep("20-mapping")
    keep("22-imported-grid")

    carol = page.locator(ROW).filter(has_text="Carol")
    row = int(carol.get_attribute("aria-rowindex") or "0") - 2
    editor = page.get_by_role("textbox", name=f"Email, row {row + 1}")
    for attempt in range(3):  # a live refresh of the grid may take the focus between click and Enter
        page.locator(cell(row, "email")).click()
        page.keyboard.press("Enter")
        try:
            editor.wait_for(timeout=5_000)
            break
        except PlaywrightTimeoutError:
            if attempt == 2:
                raise
    editor.fill("carol@example.com")
    page.keyboard.press("Enter")
    expect(page.locator("[data-filter=error] .count")).to_have_text("0")
    expect(submit).to_be_enabled()

    submit.click()
    confirm = page.get_by_test_id("confirm-dialog")
    expect(confirm).to_contain_text("Send the contacts to the CRM")
    confirm.get_by_role("button", name="Submit").click()
    expect(page.get_by_test_id("action-progress")).to_be_visible()
    with place.platform.client(timeout=30) as api:  # the action's worker (a listener would do this)

        def created() -> Any:
            found = [
                j for j in ok(api.get("/jobs", params={"spaceId": place.space_id})) if j["operation"] == "submitAction"
            ]
            return found[0] if found else None

        action_job = wait(created)
        assert (action_job["type"], action_job["source"]) == ("sheet", place.contacts_id)
        ok(api.post(f"/jobs/{action_job['id']}/ack", json={"info": "Sending", "progress": 40}))
        expect(page.get_by_test_id("action-progress")).to_contain_text("Sending")
        shot(page, "23-action-progress")
        outcome_body = {
            "outcome": {"heading": "Sent to the CRM", "message": "3 contacts were sent.", "acknowledge": True}
        }
        ok(api.post(f"/jobs/{action_job['id']}/complete", json=outcome_body))
    dialog = page.get_by_test_id("outcome-dialog")
    expect(dialog.get_by_role("heading", name="Sent to the CRM")).to_be_visible()
    expect(dialog).to_contain_text("3 contacts were sent.")
    shot(page, "24-action-outcome")
    keep("24-action-outcome")
    dialog.get_by_role("button", name="Close").click()
    with place.platform.client(timeout=30) as api:
        wait(lambda: ok(api.get(f"/jobs/{action_job['id']}"))["outcomeAcknowledgedAt"])
        records = ok(api.get(f"/sheets/{place.contacts_id}/records"))["records"]
    got = sorted(
        (r["values"]["name"]["value"], r["values"]["email"]["value"], r["values"]["tier"]["value"]) for r in records
    )
    assert got == [
        ("Ada", "ada@example.com", "gold"),
        ("Bob", "bob@example.com", "silver"),
        ("Carol", "carol@example.com", "silver"),
    ]


def test_a_guest_drops_a_file_and_a_failed_extraction_says_why(page: Page, place: Place) -> None:
    open_sheet(page, place.guest_link)
    page.get_by_role("link", name="People").click()
    expect(page.get_by_role("grid", name="People")).to_be_visible()
    page.get_by_role("button", name="Import").click()
    handle = page.evaluate_handle(
        """() => { const dt = new DataTransfer();
                   dt.items.add(new File(['a,b\\n1,2\\n3,4,5,6\\n'], 'ragged.csv', { type: 'text/csv' }));
                   return dt; }"""
    )
    page.get_by_test_id("drop-zone").dispatch_event("drop", {"dataTransfer": handle})
    status = page.get_by_test_id("import-status")
    expect(status).to_contain_text(
        "This file could not be read: a row has 4 cells but the header has 2 (row 3)", timeout=30_000
    )
    expect(status).to_have_attribute("role", "alert")
    shot(page, "25-extraction-failed")
    # the drop zone is still there: pick another file
    expect(page.get_by_test_id("drop-zone")).to_be_visible()


def test_a_file_too_large_shows_a_clear_message(page: Page, place: Place) -> None:
    open_sheet(page, place.url(place.platform.secret_key, place.people_id))
    body = '{"errors": [{"key": "file", "message": "the file is larger than 100 MiB"}]}'
    page.route(
        re.compile(r".*/v1/files$"), lambda route: route.fulfill(status=413, body=body, content_type="application/json")
    )
    page.get_by_role("button", name="Import").click()
    page.locator("input[type=file]").set_input_files(files=[payload("huge.csv")])
    status = page.get_by_test_id("import-status")
    expect(status).to_contain_text("This file is too large to upload. the file is larger than 100 MiB")
    assert "Traceback" not in page.content()
    shot(page, "26-file-too-large")
    keep("26-file-too-large")
    page.unroute(re.compile(r".*/v1/files$"))
    page.route(re.compile(r".*/v1/files$"), lambda route: route.abort("internetdisconnected"))
    page.locator("input[type=file]").set_input_files(files=[payload("again.csv")])
    expect(status).to_contain_text("did not reach the server")
    expect(page.get_by_test_id("upload").get_by_role("button", name="Try again")).to_be_visible()


def test_a_viewer_gets_no_edit_tools(page: Page, place: Place) -> None:
    open_sheet(page, place.url(place.viewer_token, place.contacts_id))
    expect(page.get_by_role("button", name="Submit")).to_be_disabled()
    assert "View only" in (page.get_by_role("button", name="Submit").get_attribute("title") or "")
    for absent in ("Import", "Find and replace", re.compile("^Delete")):
        expect(page.get_by_role("button", name=absent)).to_have_count(0)
    expect(page.get_by_test_id("download")).to_be_visible()  # reading is fine
    shot(page, "27-viewer-tools")


def test_bulk_delete_find_replace_and_download(page: Page, place: Place, tmp_path: Path) -> None:
    open_sheet(page, place.guest_link + f"#/sheet/{place.people_id}")
    grid = page.get_by_role("grid", name="People")
    expect(grid).to_have_attribute("aria-rowcount", "7")
    archive = page.get_by_role("button", name="Archive selected")
    expect(archive).to_be_disabled()  # hasSelection
    delete = page.get_by_test_id("bulk-delete")
    expect(delete).to_be_disabled()
    page.get_by_role("checkbox", name="Select row 1").check()
    page.locator(cell(1, "name")).click()
    page.keyboard.press(" ")  # Space ticks the active row
    expect(delete).to_have_text("Delete 2 selected")
    expect(archive).to_be_enabled()
    ids = [page.locator(f"[role=row][aria-rowindex='{i}']").get_attribute("data-record-id") for i in (2, 3)]
    delete.click()
    confirm = page.get_by_test_id("confirm-dialog")
    expect(confirm).to_contain_text("Delete 2 records?")
    shot(page, "28-bulk-delete-confirm")
    confirm.get_by_role("button", name="Delete").click()
    expect(grid).to_have_attribute("aria-rowcount", "5")
    expect(delete).to_be_disabled()
    with place.platform.client(timeout=30) as api:
        left = ok(api.get(f"/sheets/{place.people_id}/records"))["records"]
    assert len(left) == 4 and not {r["id"] for r in left} & set(ids)

    page.get_by_role("button", name="Find and replace").click()
    page.get_by_label("Field").select_option("email")
    page.get_by_label("Find", exact=True).fill("old.example")
    page.get_by_label("Replace with").fill("new.example")
    page.get_by_role("button", name="Replace all").click()
    expect(page.get_by_test_id("fr-result")).to_contain_text("Replaced")
    expect(page.locator(cell(0, "email"))).to_have_text(re.compile(r"@new\.example$"))
    shot(page, "29-find-replace")
    with place.platform.client(timeout=30) as api:
        emails = [r["values"]["email"]["value"] for r in ok(api.get(f"/sheets/{place.people_id}/records"))["records"]]
    assert emails and all(e.endswith("@new.example") for e in emails), emails

    with page.expect_download() as info:
        page.get_by_test_id("download").click()
    saved = tmp_path / "people.csv"
    info.value.save_as(saved)
    lines = saved.read_text().strip().splitlines()
    assert len(lines) == 5 and "new.example" in lines[1], lines


def test_history_cell_history_and_a_restore(page: Page, place: Place) -> None:
    """After the bulk test's delete and find-and-replace: the People sheet's versions, one email
    cell's history, and a restore to the version before the find-and-replace."""
    open_sheet(page, place.url(place.platform.secret_key, place.people_id))
    page.get_by_role("button", name="History").click()
    versions = page.get_by_test_id("versions")
    expect(versions.locator("li").first.locator(".kind")).to_have_text("find-replace")
    expect(versions.locator("li").nth(1).locator(".kind")).to_have_text("delete")
    page.locator(cell(0, "email")).click(button="right")
    history = page.get_by_test_id("cell-history")
    expect(history.locator("li")).to_have_count(2)
    expect(history.locator("li").first).to_contain_text("@old.example")
    expect(history.locator("li").last).to_contain_text("@new.example")
    versions.locator("li").nth(1).get_by_role("button", name="Preview restore").click()
    summary = page.get_by_test_id("restore-summary")
    expect(summary).to_have_text(
        "0 created since would be deleted, 4 updated since reverted, 0 deleted since re-created"
    )
    shot(page, "30-history-restore-preview")
    keep("30-history-restore-preview")
    page.get_by_test_id("restore-preview").get_by_role("button", name="Restore…").click()
    page.get_by_test_id("confirm-dialog").get_by_role("button", name="Restore").click()
    outcome = page.get_by_test_id("outcome-dialog")
    expect(outcome).to_contain_text("Restored", timeout=30_000)
    outcome.get_by_role("button", name="Close").click()
    expect(page.locator(cell(0, "email"))).to_have_text(re.compile(r"@old\.example$"))
    with place.platform.client(timeout=30) as api:
        emails = [r["values"]["email"]["value"] for r in ok(api.get(f"/sheets/{place.people_id}/records"))["records"]]
    assert len(emails) == 4 and all(e.endswith("@old.example") for e in emails), emails
