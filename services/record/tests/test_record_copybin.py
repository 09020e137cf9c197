"""The projector's binary COPY rows (`projections.copybin`) store exactly what asyncpg's
`copy_records_to_table` stores, on real Postgres: text with any characters, jsonb, arrays,
booleans, timestamps with their microseconds and zone, rows split over COPY messages."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import asyncpg

from record_service.projections import copybin
from record_service.projections.records import CONFIG_COLUMNS
from spaceport.settings import Settings

TABLE = """
CREATE TEMP TABLE {name} (
    sheet_id text NOT NULL, row_no bigint NOT NULL, id text NOT NULL, cells jsonb NOT NULL,
    metadata jsonb NOT NULL, valid boolean NOT NULL, error_fields text[] NOT NULL,
    commit_id text NOT NULL, seq bigint NOT NULL, updated_at timestamptz NOT NULL,
    config jsonb NOT NULL DEFAULT '{{}}'
)
"""
ROWS: list[tuple[Any, ...]] = [
    # row_no, id, cells, metadata, valid, error_fields, config
    (1, "us_rc_1", b'{"name":{"value":"Ann","valid":true,"messages":[]}}', b"{}", True, [], b"{}"),
    (
        2,
        "us_rc_é✓",
        '{"n":{"value":"Zoë 日本 \\"q\\"","valid":false}}'.encode(),
        b'{"k":[1,2]}',
        False,
        ["n", "ä b"],
        b"{}",
    ),
    (2**40, "us_rc_3", b'{"a":{"value":12.5}}', b'{"x":null}', False, ["a"], b'{"readonly":true}'),
    (4, "us_rc_4", b"{}", b"{}", True, ["x" * 300], b'{"fields":{"a":{"readonly":true}}}'),
]
COMMITS = [
    ("us_vr_1", 7, datetime(2026, 12, 3, 14, 0, 0, 123456, tzinfo=UTC)),
    ("us_vr_✓", 2**42, datetime(1999, 12, 31, 23, 59, 59, 1, tzinfo=timezone(timedelta(hours=-5)))),
]


async def test_binary_rows_equal_asyncpg_rows(record_settings: Settings) -> None:
    conn = await asyncpg.connect(record_settings.database_url)
    try:
        for name in ("via_asyncpg", "via_copybin"):
            await conn.execute(TABLE.format(name=name))
        expected: list[tuple[Any, ...]] = []
        lead = copybin.row_lead("us_sh_ç")
        encoded: list[bytes] = [copybin.HEADER]
        for n, (row_no, record_id, cells, metadata, valid, errors, config) in enumerate(ROWS):
            commit, seq, at = COMMITS[n % len(COMMITS)]
            row = ("us_sh_ç", row_no, record_id, cells.decode(), metadata.decode(), valid, errors, commit, seq, at)
            expected.append((*row, config.decode()))
            tail = copybin.event_tail(commit, seq, at)
            encoded.append(copybin.record_row(lead, row_no, record_id, cells, metadata, valid, errors, tail, config))
        encoded.append(copybin.TRAILER)

        async def chunks() -> AsyncIterator[bytes]:
            for start in range(0, len(encoded), 2):  # rows split over several COPY messages
                yield b"".join(encoded[start : start + 2])

        await conn.copy_records_to_table("via_asyncpg", records=expected, columns=CONFIG_COLUMNS)
        await conn.copy_to_table("via_copybin", source=chunks(), columns=CONFIG_COLUMNS, format="binary")
        query = "SELECT *, cells::text AS c, metadata::text AS m, config::text AS k FROM {} ORDER BY row_no"
        wanted = [dict(r) for r in await conn.fetch(query.format("via_asyncpg"))]
        got = [dict(r) for r in await conn.fetch(query.format("via_copybin"))]
        assert got == wanted
        assert [r["row_no"] for r in got] == [1, 2, 4, 2**40]
        by_row = {row[0]: COMMITS[n % len(COMMITS)][2] for n, row in enumerate(ROWS)}
        assert [r["updated_at"] for r in got] == [by_row[r["row_no"]] for r in got]
        assert got[1]["error_fields"] == ["n", "ä b"] and got[1]["id"] == "us_rc_é✓"
    finally:
        await conn.close()
