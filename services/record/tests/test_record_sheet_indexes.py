"""Per-sheet query indexes (`projections.sheet_indexes`) on real Postgres: built by the record
service's indexer once a sheet is big and quiet, usable by the queries `select()` writes
(search with and without searchField, sort both ways), dropped with their sheet."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import msgspec
import pytest

from record_service.application import query as record_query
from record_service.application.context import ServiceContext
from record_service.application.query import Cursors, page_bounds, select
from record_service.application.reads import ReadHandlers
from record_service.application.writes import WriteHandlers
from record_service.bootstrap import build
from record_service.projections import sheet_indexes
from record_service.projections.records import NAME as PROJECTION
from record_service.projections.sheet_indexes import SheetIndexer, sheet_of, wanted
from spaceport.contracts.blueprint import SheetConfig
from spaceport.contracts.record import DeleteRecords, GetRecords, InsertRecords, RecordQuery, page_json
from spaceport.contracts.space import Principal, SpaceCreated
from spaceport.contracts.workbook import SheetSpec, WorkbookCreated
from spaceport.ports import AggregateRef
from spaceport.runtime import ServiceRuntime
from spaceport.settings import Settings

ENV, SPACE, WORKBOOK, SHEET = "us_env_ix", "us_sp_ix", "us_wb_ix", "us_sh_ix"
ME = Principal(environment_id=ENV, kind="secret", actor="test")
CONFIG = msgspec.convert(
    {"name": "People", "fields": [{"key": "name", "type": "string"}, {"key": "it's", "type": "number"}]},
    SheetConfig,
)


def test_names_fit_postgres_and_lead_back_to_their_sheet() -> None:
    specs = wanted("us_sh_abc123", ["name", "it's", "x" * 300], '"public".gin_trgm_ops')
    assert [sheet_of(s.name) for s in specs] == ["us_sh_abc123"] * 4
    assert all(len(s.name) <= 63 for s in specs)
    assert "'it''s'" in specs[2].ddl  # the key is a quoted literal, never raw SQL
    assert wanted("us_sh_x'; DROP TABLE record; --", ["a"], None) == []
    assert [s.name.endswith("_s") for s in wanted("us_sh_1", ["a"], None)] == [False]  # no pg_trgm: no search index


@pytest.fixture
async def service(
    record_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[tuple[ServiceRuntime, ServiceContext]]:
    monkeypatch.setattr(sheet_indexes, "MIN_RECORDS", 50)
    monkeypatch.setattr(sheet_indexes, "QUIET_SECONDS", 0.0)
    rt, ctx = build(record_settings)
    await rt.start()
    space = AggregateRef(environment_id=ENV, space_id=SPACE, aggregate="space", aggregate_id=SPACE)
    await rt.store.append(space, [SpaceCreated(space_id=SPACE, environment_id=ENV)], expected_version=0)
    created = WorkbookCreated(
        workbook_id=WORKBOOK,
        space_id=SPACE,
        environment_id=ENV,
        name="W",
        sheets=[SheetSpec(sheet_id=SHEET, slug="people", config=CONFIG)],
    )
    workbook = AggregateRef(environment_id=ENV, space_id=SPACE, aggregate="workbook", aggregate_id=WORKBOOK)
    await rt.store.append(workbook, [created], expected_version=0)
    await ctx.sheet(SHEET)
    yield rt, ctx
    await ctx.close()
    await rt.stop()


async def index_names(ctx: ServiceContext) -> set[str]:
    async with (await ctx.pool()).acquire() as conn:
        rows = await conn.fetch(
            "SELECT c.relname FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid"
            " JOIN pg_namespace n ON n.oid = c.relnamespace"
            " WHERE n.nspname = current_schema() AND c.relname LIKE 'rx\\_%' AND i.indisvalid"
        )
    return {r["relname"] for r in rows}


async def until(check: Any, what: str) -> None:
    for _ in range(300):  # a bounded wait for background work, not a timing assertion
        if await check():
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"gave up waiting for {what}")


async def plan(ctx: ServiceContext, query: RecordQuery) -> str:
    """EXPLAIN of the page query with sequential scans priced out: shows which index can serve it."""
    sheet = await ctx.sheet(SHEET)
    sel = select(sheet, query)
    page = page_bounds(sheet, sel, 10, 1, Cursors())
    async with (await ctx.pool()).acquire() as conn, conn.transaction():
        await conn.execute("SET LOCAL enable_seqscan = off")
        rows = await conn.fetch(f"EXPLAIN {page.source}", *sel.params)
    return "\n".join(r[0] for r in rows)


async def test_a_big_quiet_sheet_gets_indexes_its_queries_use(service: tuple[ServiceRuntime, ServiceContext]) -> None:
    rt, ctx = service
    rows = [{"name": {"value": f"Person {i}"}, "it's": {"value": i % 7}} for i in range(120)]
    rows.append({"name": {"value": "nobody's number"}})
    body = msgspec.json.encode(rows)
    await WriteHandlers(ctx).insert(InsertRecords(principal=ME, sheet_id=SHEET, body=await ctx.claims.pack(body)))
    await ctx.settled(SHEET)
    reads = ReadHandlers(ctx)

    async def ids(**params: Any) -> list[str]:
        reply = await reads.records(GetRecords(sheet_id=SHEET, query=RecordQuery(**params), page_size=1000))
        return [r["id"] for r in msgspec.json.decode(await page_json(reply, ctx.claims.unpack))]

    queries: list[dict[str, Any]] = [
        {"search_value": "person 11"},
        {"search_value": "Person 5", "search_field": "name"},
        {"sort_field": "it's"},
        {"sort_field": "it's", "sort_direction": "desc"},
        {"sort_field": "name", "sort_direction": "desc", "search_value": "1"},
    ]
    before = [await ids(**q) for q in queries]
    indexer = next(b for b in rt.background if isinstance(b, SheetIndexer))
    expected = {s.name for s in wanted(SHEET, ["name", "it's"], '"public".gin_trgm_ops')}

    async def all_built() -> bool:
        return await index_names(ctx) == expected

    await until(all_built, "the sheet's indexes")

    async def all_counted() -> bool:
        return set(indexer.built) >= expected

    await until(all_counted, "the indexer to note its builds")
    assert set(indexer.built) == expected
    search_index = f"rx_{SHEET}_s"
    assert search_index in await plan(ctx, RecordQuery(search_value="person 11"))
    # with searchField the same indexed prefilter is there (on 121 rows the planner may prefer another index)
    sheet = await ctx.sheet(SHEET)
    where = select(sheet, RecordQuery(search_value="Person 5", search_field="name")).where
    assert "jsonb_path_query_array(r.cells, '$.*.value')::text ILIKE" in where
    (sort_index,) = (s.name for s in wanted(SHEET, ["it's"], None))
    assert sort_index in await plan(ctx, RecordQuery(sort_field="it's"))
    assert sort_index in await plan(ctx, RecordQuery(sort_field="it's", sort_direction="desc"))
    assert [await ids(**q) for q in queries] == before  # an index changes speed, never answers
    assert len(before[0]) == 11 and len(before[1]) == 11  # Person 11, 110..119 / Person 5, 50..59
    asc, desc = before[2], before[3]
    assert desc[:-1] == asc[:-1][::-1] and asc[-1] == desc[-1]  # desc reverses asc; the empty cell stays last

    async with (await ctx.pool()).acquire() as conn:
        await conn.execute("UPDATE sheet SET deleted = true WHERE id = $1", SHEET)

    async def all_dropped() -> bool:
        return not await index_names(ctx)

    await until(all_dropped, "the deleted sheet's indexes to go")


async def test_a_sheet_waits_until_its_whole_space_is_quiet(service: tuple[ServiceRuntime, ServiceContext]) -> None:
    """A write to another sheet of the space (an import's mapping writing the destination while
    its source sheet is big and idle) keeps the space's sheets waiting; another space does not."""
    _rt, ctx = service
    indexer = SheetIndexer("unused", "unused")  # only its bookkeeping is exercised, on our connection
    async with (await ctx.pool()).acquire() as conn:
        for sheet_id, space_id in (("us_sh_ix_dest", SPACE), ("us_sh_ix_other", "us_sp_ix_other")):
            await conn.execute(
                "INSERT INTO sheet (id, workbook_id, space_id, environment_id, slug, config, config_seq)"
                " VALUES ($1, $2, $3, $4, 'dest', '{}', 0)",
                sheet_id,
                WORKBOOK,
                space_id,
                ENV,
            )
        spaces = {SPACE, "us_sp_ix_other"}
        assert await indexer._quiet_spaces(conn, spaces) == set()  # first seen: not quiet yet
        assert await indexer._quiet_spaces(conn, spaces) == spaces  # unchanged for QUIET_SECONDS (0 here)
        await conn.execute("UPDATE sheet SET version = version + 1 WHERE id = 'us_sh_ix_dest'")
        assert await indexer._quiet_spaces(conn, spaces) == {"us_sp_ix_other"}  # SHEET waits for its space
        assert await indexer._quiet_spaces(conn, spaces) == spaces
        await conn.execute("DELETE FROM sheet WHERE id IN ('us_sh_ix_dest', 'us_sh_ix_other')")


async def test_a_build_gives_way_to_a_write_in_its_space(
    service: tuple[ServiceRuntime, ServiceContext], record_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A long build (here a stand-in statement that would take 60 s) is cancelled when the space
    gets a write, and the indexer's connection stays usable; an undisturbed one completes. Each
    build cut short doubles the quiet the space needs next (capped); a build that completes
    resets it."""
    monkeypatch.setattr(sheet_indexes, "QUIET_SECONDS", 2.0)
    _rt, ctx = service
    indexer = SheetIndexer(record_settings.database_url, PROJECTION)
    assert indexer.quiet_needed(SPACE) == 2.0
    async with (await ctx.pool()).acquire() as conn, (await ctx.pool()).acquire() as writer:

        async def write_soon() -> None:
            await asyncio.sleep(1.5)
            await writer.execute("UPDATE sheet SET version = version + 1 WHERE id = $1", SHEET)

        for needed in (4.0, 8.0):
            bump = asyncio.ensure_future(write_soon())
            assert await indexer.build(conn, "SELECT pg_sleep(60)", SPACE) is False
            await bump
            assert indexer.quiet_needed(SPACE) == needed
            assert indexer.quiet_needed("us_sp_elsewhere") == 2.0  # another space is not held back
        assert await conn.fetchval("SELECT 1") == 1  # cancelled, not broken
        indexer._gave_way[SPACE] = 30
        assert indexer.quiet_needed(SPACE) == sheet_indexes.MAX_QUIET_SECONDS
        assert await indexer.build(conn, "SELECT pg_sleep(0.1)", SPACE) is True
        assert indexer.quiet_needed(SPACE) == 2.0


async def test_deep_pages_through_ladders_equal_the_whole_order(
    service: tuple[ServiceRuntime, ServiceContext], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Random deep pages start at their query's ladder step (`query.Ladders`), skip the rest, and
    list exactly the rows of the query's whole order at that position: with sort (both ways,
    ties and empty cells), filters, search and holes left by deletes; rebuilt after a write."""
    monkeypatch.setattr(record_query, "LADDER_MIN_SKIP", 1)
    monkeypatch.setattr(record_query, "LADDER_STEP", 7)
    _rt, ctx = service
    rows: list[dict[str, Any]] = [{"name": {"value": f"P{i % 13}"}, "it's": {"value": i % 5}} for i in range(150)]
    rows += [{"name": {"value": f"empty {i}"}} for i in range(20)]  # no value to sort by: last, in row order
    body = msgspec.json.encode(rows)
    await WriteHandlers(ctx).insert(InsertRecords(principal=ME, sheet_id=SHEET, body=await ctx.claims.pack(body)))
    await ctx.settled(SHEET)

    async def page(reads: ReadHandlers, size: int, number: int, **params: Any) -> list[str]:
        q = GetRecords(sheet_id=SHEET, query=RecordQuery(**params), page_size=size, page_number=number)
        reply = await reads.records(q)
        return [r["id"] for r in msgspec.json.decode(await page_json(reply, ctx.claims.unpack))]

    queries: list[dict[str, Any]] = [
        {},
        {"sort_field": "it's"},
        {"sort_field": "it's", "sort_direction": "desc"},
        {"sort_field": "name", "search_value": "p1"},
        {"filter": "valid", "sort_field": "name", "sort_direction": "desc"},
    ]

    async def check_all(holes: bool) -> None:
        for params in queries:
            whole = await page(ReadHandlers(ctx), 1000, 1, **params)
            reads = ReadHandlers(ctx)  # no cursors: every page below is reached by ladder or OFFSET
            for number in (9, 3, 14, 1, 20, 6):  # out of order, so no page leaves the next one's cursor
                assert await page(reads, 9, number, **params) == whole[(number - 1) * 9 : number * 9], params
            if params or holes:  # a whole sheet without holes pages by row_no arithmetic instead
                assert reads.ladders._items, f"the deep pages of {params} did not use a ladder"

    await check_all(holes=False)
    first = await page(ReadHandlers(ctx), 1000, 1)
    await WriteHandlers(ctx).delete(DeleteRecords(principal=ME, sheet_id=SHEET, ids=first[5:40:3]))
    await ctx.settled(SHEET)
    await check_all(holes=True)  # holes in row_no, and every ladder built before the delete is stale


async def test_a_sorted_first_page_prepares_its_ladder_in_the_background(
    service: tuple[ServiceRuntime, ServiceContext], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The pages a person scrolls to after sorting need no ladder pass of their own: the first page
    of a sorted (or filtered) query of a big sheet starts it; a search's or a plain sheet's does not."""
    monkeypatch.setattr(record_query, "LADDER_MIN_SKIP", 20)
    monkeypatch.setattr(record_query, "LADDER_STEP", 7)
    _rt, ctx = service
    rows = [{"name": {"value": f"P{i % 13}"}, "it's": {"value": i % 5}} for i in range(60)]
    await WriteHandlers(ctx).insert(
        InsertRecords(principal=ME, sheet_id=SHEET, body=await ctx.claims.pack(msgspec.json.encode(rows)))
    )
    await ctx.settled(SHEET)
    reads = ReadHandlers(ctx)
    queries: list[dict[str, Any]] = [
        {},
        {"search_value": "p1", "sort_field": "name"},
        {"sort_field": "it's", "sort_direction": "desc"},
    ]
    for params in queries:
        await reads.records(GetRecords(sheet_id=SHEET, query=RecordQuery(**params), page_size=5))

    async def built() -> bool:
        return len(reads.ladders._items) == 1 and not reads.ladders._background

    await until(built, "the sorted query's ladder")
    [(_, signature)] = reads.ladders._items
    assert "it's" in signature and "p1" not in signature


async def test_a_bulk_write_drops_the_sheets_indexes_and_the_indexer_builds_them_again(
    service: tuple[ServiceRuntime, ServiceContext],
) -> None:
    rt, ctx = service
    rows = [{"name": {"value": f"Person {i}"}, "it's": {"value": i}} for i in range(60)]
    body = await ctx.claims.pack(msgspec.json.encode(rows))
    await WriteHandlers(ctx).insert(InsertRecords(principal=ME, sheet_id=SHEET, body=body))
    await ctx.settled(SHEET)
    expected = {s.name for s in wanted(SHEET, ["name", "it's"], '"public".gin_trgm_ops')}

    async def all_built() -> bool:
        return await index_names(ctx) == expected

    await until(all_built, "the sheet's indexes")
    indexer = next(b for b in rt.background if isinstance(b, SheetIndexer))

    async def first_noted() -> bool:  # the indexer notes a build once its statement returned
        return expected <= set(indexer.built)

    await until(first_noted, "the indexer to note its first builds")
    built = len(indexer.built)
    async with (await ctx.pool()).acquire() as conn:
        assert set(await sheet_indexes.drop_for_bulk(conn, SHEET)) == expected
        assert await sheet_indexes.drop_for_bulk(conn, "us_sh_x'; --") == []  # an unsafe id names nothing
    await until(all_built, "the sheet's indexes again")

    async def all_counted() -> bool:
        return len(indexer.built) >= built + len(expected)

    await until(all_counted, "the indexer to note its builds")
    assert len(indexer.built) == built + len(expected)  # built anew, not left over


async def test_a_held_sheet_keeps_the_indexer_off_its_space_until_released(
    service: tuple[ServiceRuntime, ServiceContext], record_settings: Settings
) -> None:
    """`hold_off` (a restore's bulk re-create under way): the sheet's space is never quiet for the
    indexer, however long it goes unwritten, until `release` or the hold runs out."""
    rt, _ctx = service
    await next(b for b in rt.background if isinstance(b, SheetIndexer)).stop()  # this test steps its own
    indexer = SheetIndexer(record_settings.database_url, PROJECTION)
    conn = await asyncpg.connect(record_settings.database_url, server_settings={"search_path": PROJECTION})
    try:
        await conn.execute("UPDATE sheet SET total = 100 WHERE id = $1", SHEET)  # big enough (MIN_RECORDS 50)
        await sheet_indexes.hold_off(conn, SHEET)
        for _ in range(3):  # unwritten across passes (QUIET_SECONDS 0): quiet, but held
            await indexer.step(conn, None)
        assert indexer.built == []
        await sheet_indexes.hold_off(conn, SHEET, seconds=0.0)  # a crashed writer's hold runs out
        await indexer.step(conn, None)
        assert len(indexer.built) == 1
        await sheet_indexes.hold_off(conn, SHEET)
        await indexer.step(conn, None)
        assert len(indexer.built) == 1
        await sheet_indexes.release(conn, SHEET)
        await indexer.step(conn, None)
        assert len(indexer.built) == 2
    finally:
        await conn.close()
