"""`waiters_of`, the records a delete heals, decided in the read model: its two SQL forms (a few
ids followed to their claims; many ids matched as a hashed set against the sheet's waiters) give
the same answer on real Postgres as the claims-then-waiters queries
a delete used before (`claims_of` + `waiters`)."""

from __future__ import annotations

import random
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import pytest

from record_service.projections import queries
from record_service.projections.queries import PgRecordQueries
from record_service.projections.records import RecordsProjection
from spaceport.readmodel import migrate
from spaceport.settings import Settings

SHEET = "us_sh_waiters"
OTHER = "us_sh_other"
RECORDS = 400


def waiting_sheet(seed: int) -> tuple[list[tuple[str, int]], list[tuple[str, str, str]], list[tuple[str, str, str]]]:
    """Records (id, row), the claims (name, value, holder) and waiters (name, value, waiter) of a
    sheet with two unique keys where many values have one or more duplicates."""
    pick = random.Random(seed)
    ids = [f"us_rc_{n:04d}" for n in range(RECORDS)]
    rows = [(record_id, n + 1) for n, record_id in enumerate(ids)]
    claims: list[tuple[str, str, str]] = []
    waiters: list[tuple[str, str, str]] = []
    for name in ("email", "code"):
        by_value: dict[str, list[str]] = {}
        for record_id in ids:
            by_value.setdefault(f"{name}{pick.randrange(RECORDS // 3)}", []).append(record_id)
        for value, holders in by_value.items():
            claims.append((name, value, holders[0]))
            waiters += [(name, value, waiter) for waiter in holders[1:]]
    return rows, claims, waiters


@pytest.fixture
async def conn(record_settings: Settings) -> AsyncIterator[asyncpg.Connection[Any]]:
    db: asyncpg.Connection[Any] = await asyncpg.connect(record_settings.database_url)
    projection = RecordsProjection(partitions=1)
    assert projection.migrations is not None
    await migrate(db, "records", projection.migrations)
    await db.execute("SET search_path TO records")
    yield db
    await db.close()


async def load(db: asyncpg.Connection[Any], seed: int) -> list[str]:
    rows, claims, waiters = waiting_sheet(seed)
    for sheet, prefix in ((SHEET, ""), (OTHER, "o")):  # the other sheet holds the same values
        await db.execute(
            "INSERT INTO sheet (id, workbook_id, space_id, environment_id, slug, config, config_seq)"
            " VALUES ($1, 'us_wb_1', 'us_sp_1', 'us_env_1', $1, '{}', 0)",
            sheet,
        )
        await db.executemany(
            "INSERT INTO record (sheet_id, row_no, id, cells, metadata, valid, error_fields, commit_id, seq,"
            " updated_at) VALUES ($1, $2, $3, '{}', '{}', true, '{}', 'c', 1, now())",
            [(sheet, row, prefix + record_id) for record_id, row in rows],
        )
        await db.executemany(
            "INSERT INTO unique_claim (sheet_id, name, value, record_id) VALUES ($1, $2, $3, $4)",
            [(sheet, name, value, prefix + holder) for name, value, holder in claims],
        )
        await db.executemany(
            "INSERT INTO unique_waiter (sheet_id, name, value, record_id) VALUES ($1, $2, $3, $4)",
            [(sheet, name, value, prefix + waiter) for name, value, waiter in waiters],
        )
    return [record_id for record_id, _ in rows]


async def reference(q: PgRecordQueries, deleted: list[str]) -> list[str]:
    released = sorted({(name, value) for _, name, value in await q.claims_of(SHEET, deleted)})
    return await q.waiters(SHEET, released, set(deleted))


@pytest.mark.parametrize("seed", [1, 2, 3])
async def test_both_forms_heal_the_same_waiters_as_the_claims_and_waiters_queries(
    conn: asyncpg.Connection[Any], seed: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    ids = await load(conn, seed)
    q = PgRecordQueries(conn)
    pick = random.Random(seed)
    cases = [ids, ids[:1], ids[::2], pick.sample(ids, 37), pick.sample(ids, 250), ["us_rc_unknown"], []]
    healed_any = False
    for deleted in cases:
        expected = await reference(q, deleted)
        healed_any = healed_any or bool(expected)
        monkeypatch.setattr(queries, "_FEW_IDS", 10_000)
        few = await q.waiters_of(SHEET, deleted)
        monkeypatch.setattr(queries, "_FEW_IDS", 0)
        many = await q.waiters_of(SHEET, deleted)
        assert few == expected, f"{len(deleted)} deleted"
        assert many == expected, f"{len(deleted)} deleted"
        assert not set(few) & set(deleted)  # a record deleted in the same write is never healed
        assert all(not i.startswith("o") for i in few)  # the other sheet's waiters stay
    assert healed_any
