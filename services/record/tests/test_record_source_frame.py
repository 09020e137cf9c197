"""`source_frame` (MapRecords' read of a source page) gives the same frame from the Postgres read
model (COPY ... TO STDOUT as CSV, parsed by polars) and from its fake `FoldedRecords`, for the same
events: real NATS and Postgres."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import msgspec
import polars as pl
import pytest

from record_service.application.context import ServiceContext
from record_service.application.writes import WriteHandlers
from record_service.bootstrap import build
from record_service.testing import FoldedRecords
from spaceport.contracts.blueprint import SheetConfig
from spaceport.contracts.record import DeleteRecords, InsertRecords, Written
from spaceport.contracts.space import Principal, SpaceCreated
from spaceport.contracts.workbook import SheetSpec, WorkbookCreated
from spaceport.ids import derived_ids
from spaceport.ports import AggregateRef
from spaceport.runtime import ServiceRuntime
from spaceport.settings import Settings

ENV, SPACE, WORKBOOK, SHEET = "us_env_t", "us_sp_t", "us_wb_t", "us_sh_t"
ME = Principal(environment_id=ENV, kind="secret", actor="test")
CONFIG = msgspec.convert(
    {
        "name": "Source",
        "allowAdditionalFields": True,
        "fields": [
            {"key": "text", "type": "string"},
            {"key": "n", "type": "number"},
            {"key": "ok", "type": "boolean"},
            {"key": 'we ird,"key"', "type": "string"},
        ],
    },
    SheetConfig,
)
KEYS = ["text", "n", "ok", 'we ird,"key"', "extra"]
TEXTS = [
    "plain",
    'say "hi"',
    "a,b,c",
    "line\nbreak",
    "cr\r\nlf",
    "ünïcödé 😀 ΣΑΣ",
    "",
    " ",
    "\\N",
    "NULL",
    '"',
    '""',
    ",",
    "tab\there",
    "back\\slash",
]


@pytest.fixture
async def service(record_settings: Settings) -> AsyncIterator[tuple[ServiceRuntime, ServiceContext]]:
    """A started record service and a sheet (additional fields allowed) in a live space, projected."""
    rt, ctx = build(record_settings)
    await rt.start()
    space = AggregateRef(environment_id=ENV, space_id=SPACE, aggregate="space", aggregate_id=SPACE)
    await rt.store.append(space, [SpaceCreated(space_id=SPACE, environment_id=ENV)], expected_version=0)
    sheets = [SheetSpec(sheet_id=SHEET, slug="source", config=CONFIG)]
    created = WorkbookCreated(workbook_id=WORKBOOK, space_id=SPACE, environment_id=ENV, name="W", sheets=sheets)
    workbook = AggregateRef(environment_id=ENV, space_id=SPACE, aggregate="workbook", aggregate_id=WORKBOOK)
    await rt.store.append(workbook, [created], expected_version=0)
    await ctx.sheet(SHEET)  # waits until the projection knows the sheet
    yield rt, ctx
    await ctx.close()
    await rt.stop()


async def insert(ctx: ServiceContext, rows: list[dict[str, Any]], key: str | None = None) -> Written:
    body = msgspec.json.encode([{k: {"value": v} for k, v in row.items()} for row in rows])
    command = InsertRecords(principal=ME, sheet_id=SHEET, body=await ctx.claims.pack(body), idempotency_key=key)
    return await WriteHandlers(ctx).insert(command)


async def frames(
    rt: ServiceRuntime, ctx: ServiceContext, keys: list[str], after_row: int, limit: int
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The page from Postgres and from a FoldedRecords over the same stream."""
    await ctx.settled(SHEET)
    async with ctx.model.session() as q:
        real = await q.source_frame(SHEET, keys, after_row, limit)
    fake = FoldedRecords(rt.store)
    async with fake.session() as q:
        folded = await q.source_frame(SHEET, keys, after_row, limit)
    return real, folded


def same(real: pl.DataFrame, folded: pl.DataFrame) -> None:
    assert real.schema == folded.schema
    assert real.to_dicts() == folded.to_dicts()
    assert real.equals(folded)


async def test_text_values_round_trip_the_csv(service: tuple[ServiceRuntime, ServiceContext]) -> None:
    rt, ctx = service
    await insert(ctx, [{"text": t, 'we ird,"key"': t[::-1]} for t in TEXTS])
    real, folded = await frames(rt, ctx, ["text", 'we ird,"key"'], 0, 100)
    same(real, folded)
    assert real["text"].to_list() == TEXTS
    assert real["row_no"].to_list() == list(range(1, len(TEXTS) + 1))


async def test_empty_string_null_and_absent_cells(service: tuple[ServiceRuntime, ServiceContext]) -> None:
    rt, ctx = service
    await insert(ctx, [{"text": ""}, {"text": None}, {"n": 1}, {"text": "x", "extra": ""}, {"extra": None}])
    real, folded = await frames(rt, ctx, ["text", "extra"], 0, 100)
    same(real, folded)
    assert real["text"].to_list() == ["", None, None, "x", None]
    assert real["extra"].to_list() == [None, None, None, "", None]


async def test_numbers_and_booleans_as_json_text(service: tuple[ServiceRuntime, ServiceContext]) -> None:
    rt, ctx = service
    rows: list[dict[str, Any]] = [
        {"n": 3, "ok": True, "extra": 7},
        {"n": -2.5, "ok": False, "extra": True},
        {"n": "12", "ok": "yes", "extra": 0.1},
        {"n": "x", "ok": "maybe", "extra": False},
        {"n": 0, "ok": None, "extra": 123456789012},
    ]
    await insert(ctx, rows)
    real, folded = await frames(rt, ctx, ["n", "ok", "extra"], 0, 100)
    same(real, folded)
    assert real["ok"].to_list() == ["true", "false", "true", "maybe", None]
    assert real["extra"].to_list() == ["7", "true", "0.1", "false", "123456789012"]


@pytest.mark.parametrize(
    "value",
    [1e20, 1.5e-7, 2.0, -0.0, [1, "a"], {"b": 1, "a": [True, None]}],
    ids=["large-float", "small-float", "whole-float", "negative-zero", "list", "object"],
)
async def test_other_json_values_as_json_text(service: tuple[ServiceRuntime, ServiceContext], value: Any) -> None:
    """Values of an additional field are stored as sent: their text is Postgres' `->>` of jsonb."""
    rt, ctx = service
    await insert(ctx, [{"extra": value}])
    real, folded = await frames(rt, ctx, ["extra"], 0, 100)
    same(real, folded)


async def test_after_row_and_limit_page_the_same_rows(service: tuple[ServiceRuntime, ServiceContext]) -> None:
    rt, ctx = service
    await insert(ctx, [{"text": f"r{n}", "n": n} for n in range(7)], key="a")
    await insert(ctx, [{"text": f"s{n}"} for n in range(3)], key="b")
    deleted = derived_ids("record", f"{SHEET}:a", 7)[2:4]
    await WriteHandlers(ctx).delete(DeleteRecords(principal=ME, sheet_id=SHEET, ids=deleted))
    seen: list[str] = []
    after = 0
    while True:
        real, folded = await frames(rt, ctx, ["text", "n"], after, 3)
        same(real, folded)
        if not real.height:
            break
        seen += real["text"].to_list()
        after = int(real["row_no"][-1])
    assert seen == ["r0", "r1", "r4", "r5", "r6", "s0", "s1", "s2"]
    for after_row, limit in [(0, 1), (2, 2), (9, 5), (10, 5), (100, 5)]:
        real, folded = await frames(rt, ctx, ["n", "text"], after_row, limit)
        same(real, folded)
    real, _ = await frames(rt, ctx, ["n", "text"], 10, 5)
    assert real.height == 0
    assert real.columns == ["row_no", "n", "text"]


async def test_one_key_twice_and_no_keys(service: tuple[ServiceRuntime, ServiceContext]) -> None:
    rt, ctx = service
    await insert(ctx, [{"text": "a"}, {"text": "b"}])
    for keys in (["text"], ["text", "n", "extra"], []):
        real, folded = await frames(rt, ctx, keys, 0, 10)
        same(real, folded)


async def test_commits_of_many_events_are_projected_in_order(service: tuple[ServiceRuntime, ServiceContext]) -> None:
    """The projection COPYs a run of one sheet's RecordsInserted events at once (apply_batch):
    rows keep the stream's order, numbered on across events and commits, counters add up."""
    rt, ctx = service
    first = await insert(ctx, [{"text": f"a{n}", "n": n if n % 7 else "x"} for n in range(2_600)])
    second = await insert(ctx, [{"text": f"b{n}"} for n in range(1_500)], key="second")
    assert first.record_count == 2_600 and second.record_count == 1_500
    real, folded = await frames(rt, ctx, ["text"], 0, 10_000)
    same(real, folded)
    assert real["row_no"].to_list() == list(range(1, 4_101))
    assert real["text"].to_list() == [f"a{n}" for n in range(2_600)] + [f"b{n}" for n in range(1_500)]
    async with (await ctx.pool()).acquire() as conn:
        sheet = await conn.fetchrow("SELECT total, valid, next_row FROM sheet WHERE id = $1", SHEET)
        commits = await conn.fetchval("SELECT count(*) FROM record_commit WHERE sheet_id = $1", SHEET)
        errors = await conn.fetchval("SELECT errors FROM field_errors WHERE sheet_id = $1 AND field = 'n'", SHEET)
    invalid = len([n for n in range(2_600) if n % 7 == 0])
    assert sheet is not None
    assert dict(sheet) == {"total": 4_100, "valid": 4_100 - invalid, "next_row": 4_100}
    assert commits == 2 and errors == invalid
