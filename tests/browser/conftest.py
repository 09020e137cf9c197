"""Browser tests of the space web app: Debian's Chromium driven by Playwright (never a downloaded browser).

`chromium` is installed with apt-get when /usr/bin/chromium is missing. Screenshots of every screen
go to tests/browser/artifacts/ (ignored by git; a few are copied to docs/screenshots/ by hand).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, Page, sync_playwright

from space_service.application import tokens
from spaceport.testing.platform import Platform

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).parent / "artifacts"
REQUIRED = "email is required"  # the message the server's required-constraint check writes (asserted loosely)


def _ensure_chromium() -> None:
    if CHROMIUM.exists():
        return
    sudo = [] if os.geteuid() == 0 else ["sudo", "-n"]
    apt = shutil.which("apt-get")
    if apt is None:
        pytest.skip("no /usr/bin/chromium and no apt-get to install Debian's chromium")
    subprocess.run([*sudo, apt, "install", "-y", "chromium"], check=True, timeout=600)


@pytest.fixture(scope="package")  # not session: sync playwright holds an event loop in this thread while open
def browser() -> Iterator[Browser]:
    _ensure_chromium()
    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as driver:
        launched = driver.chromium.launch(executable_path=str(CHROMIUM), headless=True)
        yield launched
        launched.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1366, "height": 768})
    opened = context.new_page()
    opened.set_default_timeout(15_000)
    yield opened
    context.close()


def shot(page: Page, name: str) -> Path:
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path))
    return path


def ok(reply: httpx.Response) -> Any:
    assert reply.status_code == 200, reply.text
    return reply.json()["data"]


FIELDS = [
    {"key": "name", "type": "string", "label": "Name"},
    {"key": "email", "type": "string", "label": "Email", "constraints": [{"type": "required"}]},
    {"key": "age", "type": "number", "label": "Age"},
]
THEME = {
    "root": {"primaryColor": "#d6336c", "actionColor": "#d6336c"},
    "sidebar": {"backgroundColor": "#1f2937", "textColor": "#f9fafb", "titleColor": "#fcc2d7"},
}
DOCUMENT = (
    "<h1>Welcome aboard</h1><p>Upload your <b>contacts</b>.</p>"
    '<script>window.__pwned = 1</script><img src=x onerror="window.__pwned = 2">'
    '<a href="javascript:window.__pwned=3">bad link</a><iframe src="https://example.com"></iframe>'
)


@dataclass(frozen=True)
class World:
    platform: Platform
    space_id: str
    other_space_id: str
    contacts_id: str  # sheet with 20 contacts, rows 3 and 7 missing their email
    reference_id: str  # a second workbook's sheet
    contacts_workbook: str
    reference_workbook: str
    document_id: str
    guest_link: str
    editor_token: str
    viewer_token: str
    foreign_token: str  # an editor of another space

    def url(self, token: str, space_id: str | None = None) -> str:
        return f"{self.platform.base_url}/space/{space_id or self.space_id}?token={token}"

    def expired_token(self) -> str:
        """A well-signed guest token of the editor that expired a minute ago."""
        secret = (
            os.environ.get("SPACEPORT_GUEST_TOKEN_SECRET", "").encode()
            or hashlib.sha256(b"guest-token:" + self.platform.secret_key.encode()).digest()
        )
        claims = tokens.verify(secret, self.editor_token)
        assert claims is not None, "the test derives the server's token secret the way the space service does"
        return tokens.issue(secret, tokens.Claims(g=claims.g, s=claims.s, e=claims.e, x=int(time.time()) - 60))


def _invite(api: httpx.Client, space_id: str, email: str, role: str) -> str:
    body = [{"email": email, "name": email.split("@", maxsplit=1)[0], "spaces": [{"id": space_id, "role": role}]}]
    guest_id = ok(api.post("/guests", json=body))[0]["id"]
    return str(ok(api.get(f"/guests/{guest_id}/token", params={"spaceId": space_id}))["token"])


@pytest.fixture(scope="session")
def world(platform: Platform) -> World:
    with platform.client(timeout=60) as api:
        space = ok(
            api.post(
                "/spaces",
                json={
                    "name": "Q3 contacts import",
                    "guestAuthentication": ["shared_link", "magic_link"],
                    "metadata": {"theme": THEME},
                },
            )
        )
        space_id = space["id"]
        contacts = ok(
            api.post(
                "/workbooks",
                json={
                    "name": "Contacts",
                    "spaceId": space_id,
                    "sheets": [{"name": "Contacts", "slug": "contacts", "fields": FIELDS}],
                },
            )
        )
        reference = ok(
            api.post(
                "/workbooks",
                json={
                    "name": "Reference data",
                    "spaceId": space_id,
                    "sheets": [
                        {"name": "Countries", "slug": "countries", "fields": [{"key": "code", "type": "string"}]}
                    ],
                },
            )
        )
        contacts_id = contacts["sheets"][0]["id"]
        rows = [
            {
                "name": {"value": f"Person {i}"},
                "email": {"value": None if i in (3, 7) else f"p{i}@example.com"},
                "age": {"value": 20 + i},
            }
            for i in range(20)
        ]
        ok(api.post(f"/sheets/{contacts_id}/records", json=rows))
        # the sidebar shows Reference first: sidebarConfig orders the workbooks
        ok(
            api.patch(
                f"/spaces/{space_id}",
                json={
                    "settings": {
                        "sidebarConfig": {
                            "workbookSidebarOrder": [reference["id"], contacts["id"]],
                            "defaultPage": {"workbook": {"workbookId": contacts["id"], "sheetId": contacts_id}},
                        }
                    }
                },
            )
        )
        document_id = ok(
            api.post(f"/spaces/{space_id}/documents", json={"title": "Getting started", "body": DOCUMENT})
        )["id"]
        ok(api.post(f"/spaces/{space_id}/documents", json={"title": "FAQ", "body": "<p>Questions</p>"}))
        guest_link = ok(api.get(f"/spaces/{space_id}"))["guestLink"]
        other = ok(api.post("/spaces", json={"name": "someone else's"}))["id"]
        return World(
            platform=platform,
            space_id=space_id,
            other_space_id=other,
            contacts_id=contacts_id,
            reference_id=reference["sheets"][0]["id"],
            contacts_workbook=contacts["id"],
            reference_workbook=reference["id"],
            document_id=document_id,
            guest_link=guest_link,
            editor_token=_invite(api, space_id, "editor@example.com", "editor"),
            viewer_token=_invite(api, space_id, "viewer@example.com", "viewer"),
            foreign_token=_invite(api, other, "elsewhere@example.com", "editor"),
        )
