"""Scrolling a big sheet: 100,000 records here (the grid's scroll mapping is the same for 1,000,000:
past MAX_PX the spacer is capped and positions scale; the suite stays fast with 100k)."""

from __future__ import annotations

import json

import pytest
from playwright.sync_api import Page, expect

from spaceport.testing.platform import Platform
from tests.browser.conftest import ARTIFACTS, ok, shot

TOTAL = 100_000
BATCH = 10_000
MEASURE = """v => new Promise(done => {
  v.scrollTop = (v.scrollHeight - v.clientHeight) / 2;
  const started = performance.now();
  const check = () => {
    const row = v.querySelector(".rows [role=row]");
    const far = row && Number(row.getAttribute("aria-rowindex")) > 1000;
    if (far && row.dataset.recordId) done(performance.now() - started);
    else requestAnimationFrame(check);
  };
  check();
})"""


@pytest.fixture(scope="module")
def big_sheet(platform: Platform) -> tuple[str, str]:
    with platform.client(timeout=120) as api:
        space_id = ok(api.post("/spaces", json={"name": "Big import"}))["id"]
        fields = [{"key": "n", "type": "number", "label": "N"}, {"key": "label", "type": "string", "label": "Label"}]
        sheet_id = ok(
            api.post(
                "/workbooks",
                json={
                    "name": "Big",
                    "spaceId": space_id,
                    "sheets": [{"name": "Rows", "slug": "rows", "fields": fields}],
                },
            )
        )["sheets"][0]["id"]
        for start in range(0, TOTAL, BATCH):
            rows = [{"n": {"value": i}, "label": {"value": f"row {i}"}} for i in range(start, start + BATCH)]
            ok(api.post(f"/sheets/{sheet_id}/records", json=rows))
        return space_id, sheet_id


def test_scrolling_a_big_sheet_to_the_middle_shows_its_rows(
    page: Page, platform: Platform, big_sheet: tuple[str, str]
) -> None:
    space_id, _ = big_sheet
    page.goto(f"{platform.base_url}/space/{space_id}?token={platform.secret_key}")
    grid = page.get_by_role("grid", name="Rows")
    expect(grid).to_have_attribute("aria-rowcount", str(TOTAL + 1))
    page.wait_for_selector("[role=row][data-record-id]")
    # How long rows take to show after the scroll stops is measured in the page and written to the
    # artifacts (not asserted: timings belong in benchmarks).
    elapsed = page.locator(".viewport").evaluate(MEASURE)
    (ARTIFACTS / "scroll-timing.json").write_text(json.dumps({"records": TOTAL, "scrollToRowsMs": elapsed}))
    first = page.locator(".rows [role=row][data-record-id]").first
    expect(first).to_be_visible()
    index = int(first.get_attribute("aria-rowindex") or "0") - 2
    assert abs(index - TOTAL / 2) < 50, index
    expect(first.locator("[data-key=label]")).to_have_text(f"row {index}")
    shot(page, "12-big-sheet-middle")
    # keyboard: Ctrl+End goes to the last record, which loads
    first.locator("[data-key=n]").click()
    page.keyboard.press("Control+End")
    last = page.locator(f"[role=row][aria-rowindex='{TOTAL + 1}'][data-record-id]")
    expect(last.locator("[data-key=label]")).to_have_text(f"row {TOTAL - 1}")
