"""Two replicas of the record service write to one sheet at once: uniqueness and counts hold.

Within one process a lock serialises a sheet's writes; across replicas only the append guard
(the sheet's version as expected last subject sequence) does. Real NATS and Postgres.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import msgspec
import pytest

from record_service.application.context import ServiceContext
from record_service.application.reads import ReadHandlers
from record_service.application.writes import WriteHandlers
from record_service.bootstrap import build
from spaceport.contracts.blueprint import SheetConfig
from spaceport.contracts.record import GetCounts, GetRecords, InsertRecords, page_json
from spaceport.contracts.space import Principal
from spaceport.contracts.workbook import SheetSpec, WorkbookCreated
from spaceport.eventstore import AggregateRef
from spaceport.runtime import ServiceRuntime
from spaceport.settings import Settings

CONFIG = msgspec.convert(
    {"name": "People", "fields": [{"key": "email", "type": "string", "constraints": [{"type": "unique"}]}]},
    SheetConfig,
)
PRINCIPAL = Principal(environment_id="us_env_t", kind="secret", actor="test")


@pytest.fixture
async def replicas(record_settings: Settings) -> AsyncIterator[list[tuple[ServiceRuntime, ServiceContext]]]:
    built = [build(record_settings) for _ in range(2)]
    for rt, _ in built:
        await rt.start()
    yield built
    for rt, ctx in built:
        await ctx.close()
        await rt.stop()


async def test_concurrent_inserts_on_two_replicas_keep_one_holder_per_value(
    replicas: list[tuple[ServiceRuntime, ServiceContext]],
) -> None:
    (rt_a, ctx_a), (_, ctx_b) = replicas
    created = WorkbookCreated(
        workbook_id="us_wb_t",
        space_id="us_sp_t",
        environment_id="us_env_t",
        name="W",
        sheets=[SheetSpec(sheet_id="us_sh_t", slug="people", config=CONFIG)],
    )
    ref = AggregateRef(environment_id="us_env_t", space_id="us_sp_t", aggregate="workbook", aggregate_id="us_wb_t")
    await rt_a.store.append(ref, [created], expected_version=0)

    body = msgspec.json.encode([{"email": {"value": f"Shared{n}@x.io"}} for n in range(40)])

    async def insert(ctx: ServiceContext) -> None:
        for _ in range(3):
            command = InsertRecords(principal=PRINCIPAL, sheet_id="us_sh_t", body=await ctx.claims.pack(body))
            await WriteHandlers(ctx).insert(command)

    await asyncio.gather(insert(ctx_a), insert(ctx_b))
    await ctx_a.catch_up(10.0)
    await ctx_b.catch_up(10.0)
    reads = ReadHandlers(ctx_a)
    counts = await reads.counts(GetCounts(sheet_id="us_sh_t"))
    assert (counts.total, counts.valid, counts.error) == (240, 40, 200)
    page = await reads.records(GetRecords(sheet_id="us_sh_t", page_size=1000))
    records = msgspec.json.decode(await page_json(page, ctx_a.claims.unpack))
    holders = [r["values"]["email"]["value"] for r in records if r["valid"]]
    assert sorted(holders) == sorted({f"Shared{n}@x.io" for n in range(40)})
