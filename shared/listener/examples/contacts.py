"""Contacts: configure a space, validate emails on every commit, and handle the Submit action.

Run it against a Spaceport (or Flatfile) API, then create a space with `autoConfigure: true`:

    SPACEPORT_API_URL=http://127.0.0.1:8080/v1 SPACEPORT_TOKEN=sk_... \\
        python shared/listener/examples/contacts.py

Environment: SPACEPORT_API_URL or FLATFILE_API_URL (default http://127.0.0.1:8080/v1);
FLATFILE_BEARER_TOKEN or SPACEPORT_TOKEN (required); SPACEPORT_ENVIRONMENT_ID (optional; the
stream is scoped to it); SPACEPORT_LISTENER_CURSOR (default .contacts-listener.cursor);
CONTACTS_SUBMIT_PAUSE (seconds the submit step waits after reading, standing in for a slow
downstream system; default 0 — the crash test kills the listener during this pause).

Every step is safe to run twice, because after a crash the last event is delivered again:
configure_space reuses what it already created, the record hook writes nothing the second time,
and job_handler skips a job that has already finished.
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
import sys
from typing import Any

from spaceport_listener import (
    FileCursor,
    FlatfileEvent,
    FlatfileListener,
    Record,
    SpaceSetup,
    Tick,
    configure_space,
    job_handler,
    record_hook,
)

SUBMIT = "submitActionFg"
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")

CONTACTS_SHEET: dict[str, Any] = {
    "name": "Contacts",
    "slug": "contacts",
    "fields": [
        {"key": "firstName", "type": "string", "label": "First Name"},
        {"key": "lastName", "type": "string", "label": "Last Name"},
        {"key": "email", "type": "string", "label": "Email Address", "constraints": [{"type": "unique"}]},
        {"key": "phone", "type": "string", "label": "Phone Number"},
    ],
}

SETUP = SpaceSetup(
    workbooks=[
        {
            "name": "Customer Data",
            "sheets": [CONTACTS_SHEET],
            "settings": {"trackChanges": True},
            "actions": [
                {
                    "operation": SUBMIT,
                    "label": "Submit Data",
                    "mode": "foreground",
                    "primary": True,
                    "description": "Submit customer data for processing",
                    "constraints": [{"type": "hasAllValid"}],
                }
            ],
        }
    ],
    documents=[
        {
            "title": "Welcome Guide",
            "body": (
                "<h1>Welcome to Customer Data Import</h1>"
                "<p>This Space helps you import and validate customer contact information.</p>"
                "<h2>Getting Started</h2><ol>"
                "<li>Upload your CSV file or enter data manually</li>"
                "<li>Review and correct any validation errors</li>"
                '<li>Click "Submit Data" when ready</li></ol>'
            ),
        }
    ],
    space={
        "metadata": {
            "theme": {
                "root": {"primaryColor": "#4F46E5", "borderColor": "#E5E7EB", "fontFamily": "Inter, sans-serif"},
                "sidebar": {"backgroundColor": "#1F2937", "textColor": "#F9FAFB", "titleColor": "#4F46E5"},
            }
        }
    },
)


def validate_email(record: Record) -> None:
    """Invalid → an error on the email cell; valid → stored lower-cased."""
    email = str(record.get("email") or "").strip()
    if not email:
        return
    if EMAIL.match(email):
        record.set("email", email.lower())
    else:
        record.add_error("email", "Invalid email address")


async def submit(event: FlatfileEvent, tick: Tick) -> dict[str, Any]:
    """Count the workbook's records; a real integration would POST them downstream here,
    with `Idempotency-Key: <jobId>` so a redelivered job cannot submit twice."""
    workbook_id = event.context["workbookId"]
    workbook = await event.fetch(f"workbooks/{workbook_id}")
    total = 0
    for sheet in workbook.get("sheets") or []:
        data = await event.fetch(f"sheets/{sheet['id']}/records")
        total += len(data.get("records") or [])
    await tick(50, f"Read {total} records")
    pause = float(os.environ.get("CONTACTS_SUBMIT_PAUSE") or 0)
    if pause:
        await asyncio.sleep(pause)
    await tick(90, f"Sent {total} records")
    return {"outcome": {"acknowledge": True, "heading": "Success", "message": f"Submitted {total} contacts"}}


def build_listener() -> FlatfileListener:
    listener = FlatfileListener()
    listener.use(configure_space(SETUP))
    listener.use(record_hook("contacts", validate_email))
    listener.use(job_handler(f"workbook:{SUBMIT}", submit))
    return listener


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    token = os.environ.get("FLATFILE_BEARER_TOKEN") or os.environ.get("SPACEPORT_TOKEN")
    if not token:
        sys.exit("set FLATFILE_BEARER_TOKEN or SPACEPORT_TOKEN to an sk_… secret key")
    base_url = os.environ.get("SPACEPORT_API_URL") or os.environ.get("FLATFILE_API_URL") or "http://127.0.0.1:8080/v1"
    cursor = FileCursor(os.environ.get("SPACEPORT_LISTENER_CURSOR", ".contacts-listener.cursor"))
    build_listener().run(base_url, token, environment_id=os.environ.get("SPACEPORT_ENVIRONMENT_ID"), cursor=cursor)


if __name__ == "__main__":
    main()
