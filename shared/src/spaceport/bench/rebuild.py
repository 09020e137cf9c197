"""Projection rebuild: the record service's read models replayed from the event stream, the
path `spaceport rebuild record` takes (`ProjectionRunner.rebuild`), next to raw ceilings.

Inserts BENCH_REBUILD_RECORDS records (default 1,000,000; 10,000 per request, the records
part's 8-field sheet) through the API into a fresh sheet while the stream holds little else
(this part runs before the others that write to it), waits until the live projection has
them, then rebuilds every projection of the record service into a shadow schema
(`rebuild(swap=False)`: the running service keeps its live schema; the shadow is dropped
afterwards). Figures: events/s against a raw nats-py replay of the same subjects with the
same consumer settings (ack none, memory, fetch batches), and records/s against binary COPY
of the same rows (with and without the record table's indexes).
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import httpx
import nats.errors
from nats.js.api import AckPolicy, ConsumerConfig

from spaceport import readmodel
from spaceport.bench.harness import Bench, Figure, env_int
from spaceport.bench.records import FIELDS, bodies, copy_ceiling, retried
from spaceport.cli.projections import service_runtime
from spaceport.eventstore import EventStore
from spaceport.projection import ProjectionRunner
from spaceport.settings import Settings

TITLE = "rebuild: record projections replayed from the stream vs. raw replay and COPY"
RAW_FETCH = 50  # messages per fetch of the raw replay (a record event can be megabytes)


async def raw_replay(bench: Bench, stream: str, subjects: list[str]) -> int:
    """Fetch every message of `subjects` once, as the rebuild's consumer does, decoding nothing."""
    js = bench.nc.jetstream()
    name = f"bench_replay_{bench.run_id}"
    config = ConsumerConfig(
        durable_name=name,
        ack_policy=AckPolicy.NONE,
        filter_subjects=subjects,
        inactive_threshold=60.0,
        mem_storage=True,
    )
    info = await js.add_consumer(stream, config)
    remaining = total = info.num_pending or 0
    sub = await js.pull_subscribe_bind(durable=name, stream=stream)
    deadline = time.monotonic() + 600
    try:
        while remaining > 0:  # record events are big (a batch of records each): small fetches, patient
            try:
                msgs = await sub.fetch(min(RAW_FETCH, remaining), timeout=30.0)
            except nats.errors.TimeoutError:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"the raw replay stalled with {remaining:,} messages to go") from None
                continue  # a busy server; the consumer is not acked (ack none), nothing is lost
            remaining -= len(msgs)
    finally:
        await sub.unsubscribe()
        await js.delete_consumer(stream, name)
    return total


async def insert(bench: Bench, total: int, batch: int) -> tuple[str, float]:
    """(sheet id, seconds until its counts held every record) for `total` records via the API."""
    stack = bench.stack()
    payloads = bodies(total, batch)
    async with httpx.AsyncClient(base_url=stack.api, headers=stack.headers(), timeout=600) as api:
        space = (await retried(api, "/spaces", {"name": "bench-rebuild"}))["id"]
        sheets = [{"name": "People", "slug": "people", "fields": FIELDS}]
        workbook = await retried(api, "/workbooks", {"name": "bench", "spaceId": space, "sheets": sheets})
        sheet: str = workbook["sheets"][0]["id"]
        bench.progress(f"inserting {total:,} records to rebuild from ...")
        began = time.perf_counter()
        for body in payloads:
            reply = await api.post(
                f"/sheets/{sheet}/records", content=body, headers={"Content-Type": "application/json"}
            )
            reply.raise_for_status()
        counts: dict[str, Any] = {}
        for _ in range(1200):
            reply = await api.get(f"/sheets/{sheet}/counts")
            if reply.status_code == 200 and (counts := reply.json()["data"]["counts"])["total"] == total:
                break
            await asyncio.sleep(0.25)
        else:
            raise RuntimeError(f"the sheet's counts stopped at {counts}, not {total:,}")
        return sheet, time.perf_counter() - began


async def run(bench: Bench) -> list[Figure]:
    total = env_int("BENCH_REBUILD_RECORDS", 1_000_000)
    batch = env_int("BENCH_RECORDS_BATCH", 10_000)
    stack = bench.stack()
    copy = await copy_ceiling(bench, total)
    indexed = await copy_ceiling(bench, total, indexed=True)
    sheet, seconds = await insert(bench, total, batch)
    bench.progress(f"    {total / seconds:,.0f} records/s inserted and projected")
    servers = stack.servers
    settings = Settings.from_env(
        "record",
        {"NATS_URL": servers.nats_url, "DATABASE_URL": servers.database_url, "S3_ENDPOINT": servers.s3_endpoint},
    )
    runtime = service_runtime("record", settings)
    store = EventStore(bench.nc, runtime.registry, stream=settings.event_stream, prefix=settings.event_prefix)
    pool = await readmodel.create_pool(settings.database_url, "record", max_size=2)
    figures = [copy, indexed]
    try:
        for projection in runtime.projections:
            subjects = list(projection.filter_subjects)
            replayed = 0

            async def replay(subjects: list[str] = subjects) -> None:
                nonlocal replayed
                replayed = await raw_replay(bench, settings.event_stream, subjects)

            raw = await bench.measure(
                f"raw replay of {projection.name}'s subjects (nats-py fetch, no decode)",
                0,
                replay,
                raw=True,
                key=f"jetstream_replay_{projection.name}",
            )
            raw = Figure(**{**raw.__dict__, "count": replayed})
            bench.progress(f"    {replayed:,} events: {raw.rate:,.0f} ev/s")
            runner = ProjectionRunner(store, pool, projection)
            async with pool.acquire() as conn:
                await readmodel.migrate(conn, runner.schema, projection.migrations)
            shadow = ""

            async def rebuild(runner: ProjectionRunner = runner) -> None:
                nonlocal shadow
                shadow = await runner.rebuild(swap=False)

            events = await bench.measure(
                f"rebuild {projection.name} (ProjectionRunner.rebuild, as `spaceport rebuild record`)",
                replayed,
                rebuild,
                ceilings=(raw.as_ceiling(),),
                key=f"rebuild_{projection.name}_events",
            )
            figures += [raw, events]
            async with pool.acquire() as conn:
                if await conn.fetchval("SELECT to_regclass($1)", f"{shadow}.record"):
                    rebuilt = await conn.fetchval(f'SELECT count(*) FROM "{shadow}".record WHERE sheet_id = $1', sheet)
                    if rebuilt != total:
                        raise RuntimeError(f"the rebuilt {projection.name} holds {rebuilt:,} records, not {total:,}")
                    figures.append(
                        Figure(
                            f"  = records rebuilt ({projection.name})",
                            rebuilt,
                            events.seconds,
                            unit="rows/s",
                            ceilings=(copy.as_ceiling(), indexed.as_ceiling()),
                            key=f"rebuild_{projection.name}_records",
                            note=f"{replayed:,} events replayed",
                        )
                    )
                await conn.execute(f'DROP SCHEMA IF EXISTS "{shadow}" CASCADE')
    finally:
        await pool.close()
    return figures
