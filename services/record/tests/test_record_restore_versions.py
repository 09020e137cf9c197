"""A restore reads the versions it re-creates or reverts by row range (`records.history_span`,
`snapshot_diff.history_versions`, the projection's `_RESTORE`): the same versions as a probe per
id (the queries before it, kept here as the reference) for ids in row order, out of it, sparse,
unknown or created since; records re-created meanwhile skipped; a record with several versions
(restored with a new row number, deleted again) found at the one of the position.
"""

from __future__ import annotations

import random
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime
from typing import Any

import asyncpg
import msgspec
import pytest

from record_service.application import restore, snapshot_diff
from record_service.projections.records import LeanRecord, LeanRecords, RecordsProjection, history_span
from spaceport.contracts.record import RecordsRestored
from spaceport.readmodel import migrate
from spaceport.settings import Settings

SHEET = "us_sh_versions"
OTHER = "us_sh_other"
AT = datetime(2026, 12, 3, 12, 0, tzinfo=UTC)
# ids whose order is not the row order (as random record ids)
IDS = [f"us_rc_{(n * 7919) % 1000:03d}" for n in range(1, 31)]
POSITION = 3  # after the insert (1) and an update (2, 3), before the deletes

# the reference: one probe per id of its last version up to $3 (the queries before the range scans)
PROBED = (
    "SELECT h.id, h.row_no, h.cells::text AS cells, h.valid, h.seq FROM unnest($2::text[]) o(id)"
    " CROSS JOIN LATERAL (SELECT * FROM record_history x WHERE x.id = o.id AND x.seq <= $3"
    "   ORDER BY x.seq DESC LIMIT 1) h WHERE h.sheet_id = $1 AND h.seq_to > $3 ORDER BY h.row_no"
)
OLD_THEN = (
    "SELECT r.id, r.row_no, r.cells::text AS cells FROM (SELECT id, row_no, cells FROM record"
    " WHERE sheet_id = $1 AND seq <= $3 UNION ALL SELECT id, row_no, cells FROM record_history"
    " WHERE sheet_id = $1 AND seq <= $3 AND seq_to > $3) r WHERE r.id = ANY($2::text[]) ORDER BY r.row_no"
)


def lean(record_id: str, name: str, *, invalid: bool = False) -> LeanRecord:
    cells = {
        "name": {"value": name, "valid": True, "messages": []},
        "email": {"value": f"{name.lower()}@x.io", "valid": not invalid, "messages": []},
    }
    return LeanRecord(id=record_id, values=msgspec.Raw(msgspec.json.encode(cells)), valid=not invalid)


def records(sheet: str, commit: str, leans: Sequence[LeanRecord]) -> LeanRecords:
    return LeanRecords(sheet_id=sheet, commit_id=commit, records=list(leans))


@pytest.fixture
async def conn(record_settings: Settings) -> AsyncIterator[asyncpg.Connection[Any]]:
    """A read model with a history: 30 records (rows 1-30) inserted at 1, 10 updated at 2 and 3
    times (its version at POSITION from 3), then at 4 all but the last 3 deleted, at 5 one of
    them re-created (row 31) and at 6 deleted again; another sheet's records around them."""
    db: asyncpg.Connection[Any] = await asyncpg.connect(record_settings.database_url)
    projection = RecordsProjection(partitions=1)
    assert projection.migrations is not None
    await migrate(db, "records", projection.migrations)
    await db.execute("SET search_path TO records")
    for sheet in (SHEET, OTHER):
        await db.execute(
            "INSERT INTO sheet (id, workbook_id, space_id, environment_id, slug, config, config_seq)"
            " VALUES ($1, 'us_wb_1', 'us_sp_1', 'us_env_1', $1, '{}', 0)",
            sheet,
        )
    others = [f"us_rc_o{n}" for n in range(5)]
    await projection._inserted(db, records(OTHER, "c0", [lean(i, "Other") for i in others]), 1, AT)
    await projection._inserted(db, records(SHEET, "c1", [lean(i, f"N{n}") for n, i in enumerate(IDS)]), 1, AT)
    await projection._updated(db, records(SHEET, "c2", [lean(i, "Upd2") for i in IDS[:10]]), 2, AT)
    await projection._updated(db, records(SHEET, "c3", [lean(i, "Upd3", invalid=True) for i in IDS[5:10]]), 3, AT)
    await projection._updated(db, records(OTHER, "c3", [lean(i, "Upd3") for i in others]), 3, AT)
    await projection._deleted(db, LeanRecords(sheet_id=SHEET, commit_id="c4", record_ids=IDS[:27]), 4, AT)
    await projection._deleted(db, LeanRecords(sheet_id=OTHER, commit_id="c4", record_ids=others), 4, AT)
    await projection._restored(db, restored([IDS[4]], position=POSITION), 5, AT)
    await projection._deleted(db, LeanRecords(sheet_id=SHEET, commit_id="c6", record_ids=[IDS[4]]), 6, AT)
    try:
        yield db
    finally:
        await db.close()


def restored(ids: Sequence[str], *, position: int) -> RecordsRestored:
    return RecordsRestored(
        sheet_id=SHEET,
        workbook_id="us_wb_1",
        space_id="us_sp_1",
        commit_id="c9",
        position=position,
        record_ids=list(ids),
    )


def chunks() -> dict[str, list[str]]:
    """Chunks of ids as a restore could send them, and some it would not."""
    deleted = IDS[:27]  # in row order
    shuffled = list(deleted)
    random.Random(7).shuffle(shuffled)
    return {
        "row order": deleted,
        "a few": deleted[3:9],
        "reversed": deleted[::-1],
        "shuffled": shuffled,
        "first and last only (sparse)": [deleted[0], deleted[-1]],
        "out of order at the ends": [deleted[10], *deleted[2:8], deleted[1]],
        "with unknown, live and other sheets' ids": [*deleted[:5], "us_rc_nope", IDS[28], "us_rc_o1", *deleted[5:9]],
        "one": [deleted[12]],
    }


async def test_the_span_is_the_rows_of_the_first_and_last_version(conn: asyncpg.Connection[Any]) -> None:
    assert await history_span(conn, SHEET, POSITION, IDS[2:20]) == (3, 20)
    assert await history_span(conn, SHEET, POSITION, IDS[19:1:-1]) == (3, 20)  # min and max either way
    assert await history_span(conn, SHEET, POSITION, [IDS[0], IDS[26]]) is None  # 27 rows for 2 ids: probed
    assert await history_span(conn, SHEET, POSITION, ["us_rc_nope"]) is None
    assert await history_span(conn, SHEET, POSITION, []) is None
    # the version of the position, not the later one (row 31, re-created at 5 and deleted at 6)
    assert await history_span(conn, SHEET, POSITION, [IDS[4]]) == (5, 5)
    assert await history_span(conn, SHEET, 5, [IDS[4]]) == (31, 31)


async def test_versions_by_range_equal_a_probe_per_id(conn: asyncpg.Connection[Any]) -> None:
    for position in (1, 2, POSITION, 5):
        for label, ids in chunks().items():
            expected = await conn.fetch(PROBED, SHEET, ids, position)
            args = (SHEET, ids, position, 0, ["email"])
            found = await snapshot_diff.history_versions(conn, restore._REVIVABLE_RANGE, restore._REVIVABLE, args)
            assert sorted(r["id"] for r in found) == sorted(r["id"] for r in expected), (label, position)
            probed = {r["id"]: r for r in await conn.fetch(restore._REVIVABLE, *args)}
            assert {r["id"]: tuple(r) for r in found} == {i: tuple(r) for i, r in probed.items()}, (label, position)


async def test_then_rows_equal_the_as_of_read(conn: asyncpg.Connection[Any]) -> None:
    for position in (1, 2, POSITION, 5, 6):
        for label, ids in chunks().items():
            expected = [(r["id"], r["cells"]) for r in await conn.fetch(OLD_THEN, SHEET, ids, position)]
            then = await snapshot_diff.then_rows(conn, SHEET, position, ids, 2, ["email"])
            assert [(t.id, msgspec.json.decode(t.record)["values"]) for t in then] == [
                (i, msgspec.json.decode(c)) for i, c in expected
            ], (label, position)
            for t in then:
                cells = msgspec.json.decode(t.record)["values"]
                assert msgspec.json.decode(t.uniques) == {"email": cells["email"]}
    # decided: written after the last config change (2) and free of unique-constraint messages
    decided = {t.id: t.decided for t in await snapshot_diff.then_rows(conn, SHEET, POSITION, IDS[:12], 2, [])}
    assert decided == {i: n in range(5, 10) for n, i in enumerate(IDS[:12])}


async def test_the_projection_re_creates_the_versions_of_the_position(conn: asyncpg.Connection[Any]) -> None:
    projection = RecordsProjection(partitions=1)
    for label, ids in chunks().items():
        tx = conn.transaction()
        await tx.start()
        try:
            expected = await conn.fetch(PROBED, SHEET, ids, POSITION)
            versions = {r["id"]: r for r in expected}
            live = {r["id"] for r in await conn.fetch("SELECT id FROM record")}
            wanted = [i for i in dict.fromkeys(ids) if i in versions and i not in live]  # event order
            next_row = await conn.fetchval("SELECT next_row FROM sheet WHERE id = $1", SHEET)
            await projection._restored(conn, restored(ids, position=POSITION), 9, AT)
            rows = await conn.fetch(
                "SELECT id, row_no, cells::text AS cells, valid FROM record WHERE seq = 9 ORDER BY row_no"
            )
            assert [r["id"] for r in rows] == wanted, label
            assert [r["row_no"] for r in rows] == list(range(next_row + 1, next_row + 1 + len(wanted))), label
            assert [(r["cells"], r["valid"]) for r in rows] == [
                (versions[i]["cells"], versions[i]["valid"]) for i in wanted
            ], label
            total = await conn.fetchval("SELECT total FROM sheet WHERE id = $1", SHEET)
            assert total == 3 + len(wanted), label
        finally:
            await tx.rollback()
