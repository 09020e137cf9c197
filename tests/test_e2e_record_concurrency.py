"""Concurrent record writes and reads through the gateway (the record service handles up to
eight at once per process; writes to one sheet still go one at a time).

Many clients insert into a few sheets with a unique field, some of them into the same sheet with
clashing values, while others page through the sheets: every insert is answered, every record
is in its sheet once, each value is held by exactly one record (the others flagged), and the
counts equal the records."""

from __future__ import annotations

import asyncio
from collections import Counter
from typing import Any

import httpx

from spaceport.testing.platform import Platform

SHEETS = 3
WRITERS = 12  # four per sheet
WRITES = 5  # inserts per writer
ROWS = 20  # records per insert


def _sheet(n: int) -> dict[str, Any]:
    return {
        "name": f"S{n}",
        "slug": f"s{n}",
        "fields": [
            {"key": "email", "type": "string", "constraints": [{"type": "unique"}]},
            {"key": "n", "type": "number"},
        ],
    }


async def test_concurrent_inserts_and_reads_keep_every_record_once(platform: Platform) -> None:
    headers = {"Authorization": f"Bearer {platform.secret_key}"}
    async with httpx.AsyncClient(base_url=platform.api, headers=headers, timeout=60) as api:
        space = (await api.post("/spaces", json={"name": "concurrent records"})).json()["data"]["id"]
        created = await api.post(
            "/workbooks", json={"name": "W", "spaceId": space, "sheets": [_sheet(n) for n in range(SHEETS)]}
        )
        assert created.status_code == 200, created.text
        sheets = [s["id"] for s in created.json()["data"]["sheets"]]

        async def writer(w: int) -> list[int]:
            sheet = sheets[w % SHEETS]
            statuses = []
            for i in range(WRITES):
                # writers 0 and SHEETS (same sheet) write the same emails: one of each pair is a duplicate
                owner = w % (2 * SHEETS)
                rows = [{"email": {"value": f"u{owner}-{i}-{r}@x.io"}, "n": {"value": w}} for r in range(ROWS)]
                statuses.append((await api.post(f"/sheets/{sheet}/records", json=rows)).status_code)
            return statuses

        async def reader(stop: asyncio.Event) -> list[int]:
            statuses = []
            while not stop.is_set():
                for sheet in sheets:
                    statuses.append((await api.get(f"/sheets/{sheet}/records", params={"pageSize": 50})).status_code)
            return statuses

        stop = asyncio.Event()
        readers = [asyncio.create_task(reader(stop)) for _ in range(4)]
        written = await asyncio.gather(*(writer(w) for w in range(WRITERS)))
        stop.set()
        read = [s for task in readers for s in await task]
        assert Counter(s for statuses in written for s in statuses) == {200: WRITERS * WRITES}
        assert read and set(read) == {200}, Counter(read)

        for n, sheet in enumerate(sheets):
            page = await api.get(f"/sheets/{sheet}/records", params={"pageSize": 10_000, "includeMessages": "true"})
            assert page.status_code == 200, page.text
            records = page.json()["data"]["records"]
            per_sheet = WRITERS // SHEETS * WRITES * ROWS
            assert len(records) == per_sheet
            assert len({r["id"] for r in records}) == per_sheet
            emails = Counter(r["values"]["email"]["value"] for r in records)
            # writers w and w + SHEETS ... of this sheet: owners n and n + SHEETS, each written twice
            assert set(emails.values()) == {2}, emails.most_common(3)
            holders = Counter(r["values"]["email"]["value"] for r in records if r["values"]["email"].get("valid", True))
            assert holders == dict.fromkeys(emails, 1), "each value is held by exactly one record"
            counts = (await api.get(f"/sheets/{sheet}/counts")).json()["data"]["counts"]
            assert counts["total"] == per_sheet
            assert counts["valid"] == per_sheet // 2, (n, counts)
