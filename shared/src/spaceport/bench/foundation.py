"""The foundation layer: event store appends and projection applies next to raw nats-py/asyncpg.

Knobs (environment): BENCH_EVENTS (default 20,000: batched, concurrent, projection, Postgres),
BENCH_SINGLE_EVENTS (default BENCH_EVENTS / 2: the awaited one-by-one paths), BENCH_BIG_EVENTS
(default 300 events of 1,000 records), BENCH_WINDOW (default 100 in flight).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar

import msgspec
from nats.js.api import AckPolicy, ConsumerConfig

from spaceport.bench.harness import Bench, Ceiling, Figure, RawStream, env_int
from spaceport.events import Event, EventRegistry, StoredEvent, encode
from spaceport.eventstore import AggregateRef, AppendContext, EventStore
from spaceport.projection import ProjectionRunner
from spaceport.readmodel import Conn, migrate

TITLE = "foundation: event store and projections"
MIGRATIONS = Path(__file__).parent / "migrations"
BATCH = 100  # events per atomic append
RECORDS_PER_EVENT = 1_000
AGGREGATES = 100  # the one-by-one paths rotate over this many aggregates
CONCURRENT_AGGREGATES = 1_000
PROJECTION_BATCH = 500  # ProjectionRunner's default fetch size
COLUMNS = ("seq", "event_id", "aggregate_id", "n", "label")


class BenchCounted(Event, frozen=True, kw_only=True):
    """A small domain event (~300 bytes as an envelope)."""

    aggregate: ClassVar[str] = "bench"
    n: int
    label: str
    note: str = ""


class BenchRecordsAdded(Event, frozen=True, kw_only=True):
    """A bulk event: 1,000 records of 10 fields (~300 KB), like a record-insert batch."""

    aggregate: ClassVar[str] = "bench"
    records: list[dict[str, str]]


class _RawEnvelope(msgspec.Struct, rename="camel"):
    id: str
    aggregate_id: str
    data: msgspec.Raw
    sealed: int = 0


class _RawData(msgspec.Struct):
    n: int
    label: str


class BenchProjection:
    """One row per event: what a simple read model costs per event."""

    migrations: Path | None = MIGRATIONS

    def __init__(self, name: str, prefix: str) -> None:
        self.name = name
        self.filter_subjects = [f"{prefix}.*.bench.>"]

    async def apply(self, conn: Conn, stored: StoredEvent) -> None:
        event = stored.event
        assert isinstance(event, BenchCounted)
        await conn.execute(
            "INSERT INTO bench_event (seq, event_id, aggregate_id, n, label) VALUES ($1, $2, $3, $4, $5)",
            stored.seq,
            stored.event_id,
            stored.envelope.aggregate_id,
            event.n,
            event.label,
        )


class BatchBenchProjection(BenchProjection):
    """The same read model with `apply_batch`: one `executemany` per batch."""

    async def apply_batch(self, conn: Conn, events: Sequence[StoredEvent]) -> None:
        rows = []
        for stored in events:
            event = stored.event
            assert isinstance(event, BenchCounted)
            rows.append((stored.seq, stored.event_id, stored.envelope.aggregate_id, event.n, event.label))
        await conn.executemany(
            "INSERT INTO bench_event (seq, event_id, aggregate_id, n, label) VALUES ($1, $2, $3, $4, $5)", rows
        )


def refs(count: int, kind: str = "a") -> list[AggregateRef]:
    return [
        AggregateRef(
            environment_id="us_env_bench", space_id="us_sp_bench", aggregate="bench", aggregate_id=f"{kind}{i}"
        )
        for i in range(count)
    ]


def small_event(i: int = 0) -> BenchCounted:
    return BenchCounted(n=i, label="bench-event", note="a small domain event, like a space or sheet change")


def big_event() -> BenchRecordsAdded:
    record = {f"field_{c}": f"value {c:02d} of a typical cell" for c in range(10)}
    return BenchRecordsAdded(records=[record] * RECORDS_PER_EVENT)


def wire(store: EventStore, ref: AggregateRef, event: Event) -> tuple[str, bytes]:
    """The subject and the exact bytes an append of `event` publishes (for the raw ceilings)."""
    envelope = store.envelopes(ref, [event], AppendContext())[0]
    return store.subject_for(ref, envelope.type), encode(envelope)


class Versions:
    """Expected versions of the aggregates one measurement appends to."""

    def __init__(self, aggregates: Sequence[AggregateRef]) -> None:
        self.refs = list(aggregates)
        self.seen = [0] * len(self.refs)

    async def append(self, store: EventStore, index: int, events: Sequence[Event]) -> None:
        k = index % len(self.refs)
        result = await store.append(self.refs[k], events, expected_version=self.seen[k])
        self.seen[k] = result.last_seq


async def run(bench: Bench) -> list[Figure]:
    registry = EventRegistry([BenchCounted, BenchRecordsAdded])
    figures = await _appends(bench, registry)
    figures += await _projection(bench, registry)
    return figures


# ---- appends ------------------------------------------------------------------------------


async def _appends(bench: Bench, registry: EventRegistry) -> list[Figure]:
    n, single, window = bench.events, env_int("BENCH_SINGLE_EVENTS", bench.events // 2), env_int("BENCH_WINDOW", 100)
    raw_store = await bench.stream(registry)
    subjects = [wire(raw_store, r, small_event())[0] for r in refs(AGGREGATES)]
    body = wire(raw_store, refs(1)[0], small_event())[1]
    js = raw_store.js
    size = f"{len(body)} B"

    async def raw_awaited() -> None:
        for i in range(single):
            await js.publish(subjects[i % AGGREGATES], body)

    async def raw_window() -> None:
        for start in range(0, n, window):
            await asyncio.gather(*(js.publish(subjects[i % AGGREGATES], body) for i in range(start, start + window)))

    async def raw_async() -> None:
        futures = [await js.publish_async(subjects[i % AGGREGATES], body) for i in range(n)]
        await asyncio.gather(*futures)

    awaited = await bench.measure(
        f"JetStream publish {size}, awaited",
        single,
        raw_awaited,
        raw=True,
        unit="msg/s",
        key="jetstream_publish_awaited",
    )
    windowed = await bench.measure(
        f"JetStream publish {size}, window {window}",
        n,
        raw_window,
        raw=True,
        unit="msg/s",
        key="jetstream_publish_window",
    )
    pub_async = await bench.measure(
        f"JetStream publish_async {size}", n, raw_async, raw=True, unit="msg/s", key="jetstream_publish_async"
    )

    store = await bench.stream(registry)
    event = small_event()
    one = Versions(refs(AGGREGATES))
    many = Versions(refs(CONCURRENT_AGGREGATES, "c"))
    batched = Versions(refs(AGGREGATES, "b"))

    async def append_single() -> None:
        for i in range(single):
            await one.append(store, i, [event])

    async def append_window() -> None:
        for start in range(0, n, window):
            await asyncio.gather(*(many.append(store, i, [event]) for i in range(start, start + window)))

    async def append_batched() -> None:
        events = [event] * BATCH
        for i in range(n // BATCH):
            await batched.append(store, i, events)

    figures = [awaited, windowed, pub_async]
    figures.append(
        await bench.measure(
            "append single (expected_version), awaited", single, append_single, ceilings=(awaited.as_ceiling(),)
        )
    )
    figures.append(
        await bench.measure(
            f"append single to {CONCURRENT_AGGREGATES:,} aggregates, window {window}",
            n,
            append_window,
            ceilings=(windowed.as_ceiling(),),
        )
    )
    figures.append(
        await bench.measure(
            f"append atomic batch of {BATCH}, awaited",
            n // BATCH * BATCH,
            append_batched,
            ceilings=(pub_async.as_ceiling(), windowed.as_ceiling()),
        )
    )
    return figures + await _big_appends(bench, registry)


async def _big_appends(bench: Bench, registry: EventRegistry) -> list[Figure]:
    """Big events are disk-bound and the server slows as its stream grows, so the raw and the
    Spaceport appends alternate in chunks, each into its own fresh stream, and both see the
    same disk and the same stream length."""
    count, chunk = env_int("BENCH_BIG_EVENTS", 300), 25
    raw_store, store = await bench.stream(registry), await bench.stream(registry)
    event = big_event()
    subjects = [wire(raw_store, r, event)[0] for r in refs(AGGREGATES, "r")]
    body = wire(raw_store, refs(1, "r")[0], event)[1]
    big = Versions(refs(AGGREGATES, "big"))
    kb = len(body) // 1024
    bench.progress(f"{kb} KB events, raw publish and append alternating in chunks of {chunk}: {count:,} each ...")
    raw_seconds = ours_seconds = 0.0
    for start in range(0, count, chunk):
        began = time.perf_counter()
        for i in range(start, start + chunk):
            await raw_store.js.publish(subjects[i % AGGREGATES], body)
        middle = time.perf_counter()
        for i in range(start, start + chunk):
            await big.append(store, i, [event])
        raw_seconds, ours_seconds = raw_seconds + middle - began, ours_seconds + time.perf_counter() - middle
    done = count // chunk * chunk
    raw = Figure(
        f"JetStream publish {kb} KB, awaited", done, raw_seconds, unit="msg/s", raw=True, key="jetstream_publish_big"
    )
    ours = Figure(
        f"append one {RECORDS_PER_EVENT:,}-record event ({kb} KB), awaited",
        done,
        ours_seconds,
        ceilings=(raw.as_ceiling(),),
    )
    rows = Figure(
        f"  = records through append ({RECORDS_PER_EVENT:,} per event)",
        done * RECORDS_PER_EVENT,
        ours_seconds,
        unit="rows/s",
    )
    bench.progress(f"    raw {raw.rate:,.0f} msg/s, append {ours.rate:,.0f} ev/s")
    return [raw, ours, rows]


# ---- projection ---------------------------------------------------------------------------


async def _projection(bench: Bench, registry: EventRegistry) -> list[Figure]:
    n = bench.events // BATCH * BATCH
    store = await bench.stream(registry)
    bench.progress(f"pre-appending {n:,} events for the projection ...")
    writer = Versions(refs(AGGREGATES))
    for i in range(n // BATCH):
        await writer.append(store, i, [small_event(i * BATCH + j) for j in range(BATCH)])
    last = max(writer.seen)

    consume = await bench.measure(
        f"JetStream pull fetch({PROJECTION_BATCH}) + ack last",
        n,
        lambda: raw_consume(store, n),
        raw=True,
        key="jetstream_consume",
    )
    rows = await _rows(store, n)
    raw_schema = bench.schema("raw")
    async with bench.pool.acquire() as conn:
        await migrate(conn, raw_schema, MIGRATIONS)
    many = await bench.measure(
        f"asyncpg executemany, {PROJECTION_BATCH} rows/txn",
        n,
        lambda: _executemany(bench, raw_schema, rows),
        raw=True,
        unit="rows/s",
        key="pg_executemany",
    )
    await _truncate(bench, raw_schema)
    copy = await bench.measure(
        "asyncpg copy_records_to_table",
        n,
        lambda: _copy(bench, raw_schema, rows),
        raw=True,
        unit="rows/s",
        key="pg_copy",
    )
    await _truncate(bench, raw_schema)
    pipeline = await bench.measure(
        "fetch + decode + executemany + ack, 1 txn/batch",
        n,
        lambda: _raw_pipeline(bench, store, raw_schema, n),
        raw=True,
        key="raw_pipeline",
    )

    ceilings = (pipeline.as_ceiling(), many.as_ceiling(), consume.as_ceiling())
    per_event = await _run_projection(
        bench,
        BenchProjection(bench.schema("proj"), store.prefix),
        store,
        last=last,
        label=f"ProjectionRunner, apply per event, checkpoint per {PROJECTION_BATCH}",
        n=n,
        ceilings=ceilings,
    )
    batched = await _run_projection(
        bench,
        BatchBenchProjection(bench.schema("projbatch"), store.prefix),
        store,
        last=last,
        label=f"ProjectionRunner, apply_batch, checkpoint per {PROJECTION_BATCH}",
        n=n,
        ceilings=ceilings,
    )
    return [consume, many, copy, pipeline, per_event, batched]


async def _run_projection(
    bench: Bench,
    projection: BenchProjection,
    store: EventStore,
    *,
    last: int,
    label: str,
    n: int,
    ceilings: tuple[Ceiling, ...],
) -> Figure:
    runner = ProjectionRunner(store, bench.pool, projection, batch_size=PROJECTION_BATCH)
    async with bench.pool.acquire() as conn:  # outside the timing, as for the raw pipeline
        await migrate(conn, projection.name, projection.migrations)

    async def project() -> None:
        await runner.start()
        timeout = env_int("BENCH_PROJECTION_TIMEOUT", 600)
        assert await runner.wait_for(last, timeout=timeout), f"projection did not catch up in {timeout}s"

    try:
        return await bench.measure(label, n, project, ceilings=ceilings)
    finally:
        await runner.stop()


async def raw_consume(store: EventStore | RawStream, n: int) -> None:
    """The raw ceiling of consuming: a nats-py pull consumer fetching `n` messages, acking each batch's last."""
    sub = await _pull(store, "raw_consume")
    seen = 0
    while seen < n:
        msgs = await sub.fetch(PROJECTION_BATCH, timeout=5.0)
        seen += len(msgs)
        await msgs[-1].ack()
    await sub.unsubscribe()


async def _pull(store: EventStore | RawStream, name: str) -> Any:
    config = ConsumerConfig(durable_name=name, ack_policy=AckPolicy.ALL, max_ack_pending=PROJECTION_BATCH * 4)
    await store.js.add_consumer(store.stream, config)
    return await store.js.pull_subscribe_bind(durable=name, stream=store.stream)


_raw_envelope = msgspec.json.Decoder(_RawEnvelope)
_raw_data = msgspec.json.Decoder(_RawData)


def _row(seq: int, body: bytes) -> tuple[int, str, str, int, str]:
    envelope = _raw_envelope.decode(body)
    if envelope.sealed:  # a space's payload sealed with its key (spaceport.crypto): not opened here
        return (seq, envelope.id, envelope.aggregate_id, 0, "sealed")
    data = _raw_data.decode(envelope.data)
    return (seq, envelope.id, envelope.aggregate_id, data.n, data.label)


async def _rows(store: EventStore, n: int) -> list[tuple[int, str, str, int, str]]:
    sub = await _pull(store, "raw_rows")
    rows: list[tuple[int, str, str, int, str]] = []
    while len(rows) < n:
        msgs = await sub.fetch(PROJECTION_BATCH, timeout=5.0)
        rows += [_row(m.metadata.sequence.stream, m.data) for m in msgs]
        await msgs[-1].ack()
    await sub.unsubscribe()
    return rows


async def _executemany(bench: Bench, schema: str, rows: list[tuple[int, str, str, int, str]]) -> None:
    sql = f'INSERT INTO "{schema}".bench_event ({", ".join(COLUMNS)}) VALUES ($1, $2, $3, $4, $5)'
    async with bench.pool.acquire() as conn:
        for start in range(0, len(rows), PROJECTION_BATCH):
            async with conn.transaction():
                await conn.executemany(sql, rows[start : start + PROJECTION_BATCH])


async def _copy(bench: Bench, schema: str, rows: list[tuple[int, str, str, int, str]]) -> None:
    async with bench.pool.acquire() as conn:
        await conn.copy_records_to_table("bench_event", records=rows, columns=COLUMNS, schema_name=schema)


async def _truncate(bench: Bench, schema: str) -> None:
    async with bench.pool.acquire() as conn:
        await conn.execute(f'TRUNCATE "{schema}".bench_event')


async def _raw_pipeline(bench: Bench, store: EventStore, schema: str, n: int) -> None:
    """The least a projection has to do: fetch, decode, insert and checkpoint in one txn, ack
    (a sealed payload is not opened: the ceiling leaves out the decryption the runner does)."""
    sub = await _pull(store, "raw_pipeline")
    sql = f'INSERT INTO "{schema}".bench_event ({", ".join(COLUMNS)}) VALUES ($1, $2, $3, $4, $5)'
    checkpoint = f'UPDATE "{schema}".projection_checkpoint SET position = $1 WHERE name = $2'
    async with bench.pool.acquire() as conn:
        await conn.execute(f'INSERT INTO "{schema}".projection_checkpoint (name) VALUES ($1)', "raw")
        seen = 0
        while seen < n:
            msgs = await sub.fetch(PROJECTION_BATCH, timeout=5.0)
            rows = [_row(m.metadata.sequence.stream, m.data) for m in msgs]
            async with conn.transaction():
                await conn.executemany(sql, rows)
                await conn.execute(checkpoint, rows[-1][0], "raw")
            await msgs[-1].ack()
            seen += len(msgs)
    await sub.unsubscribe()
