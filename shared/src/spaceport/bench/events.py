"""Flatfile events delivered to an SSE subscriber and to a Python listener, next to raw JetStream.

Runs on the shared platform (`stack`: every service as a real process). A producer sends
BENCH_FEED_WRITES record inserts of BENCH_FEED_ROWS rows each (every insert is one
`records:created` and one `commit:created` event) with BENCH_FEED_CONCURRENCY requests in
flight, while an SSE subscriber (`GET /v1/events/stream`) and a `spaceport_listener` listener
receive the space's events live: their lag is the receive time minus the event's `createdAt`
(when the domain event was appended), p50/p99. Then both drain the whole backlog again from the space's first event
(`Last-Event-ID`): events/s delivered.

The ceiling for both is raw JetStream: the same number of ~Flatfile-event-sized messages
published to a bench stream and consumed by a nats-py pull consumer (throughput), and the
append-to-receive lag of messages published at the producer's pace to a push subscriber.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
import time
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any

import httpx
import msgspec
from nats.js.api import DeliverPolicy

from spaceport.bench.foundation import raw_consume
from spaceport.bench.harness import Bench, Figure, env_int, percentiles
from spaceport.bench.records import retried

TITLE = "events: Flatfile events to SSE and a listener vs. raw JetStream"
FIELDS: list[dict[str, Any]] = [
    {"key": "first", "type": "string"},
    {"key": "email", "type": "string"},
    {"key": "age", "type": "number"},
]
_encoder = msgspec.json.Encoder()


def row(i: int) -> dict[str, dict[str, Any]]:
    return {"first": {"value": f"First{i}"}, "email": {"value": f"user{i}@example.com"}, "age": {"value": i % 90}}


def lag_ms(event: dict[str, Any], received: float) -> float:
    """Receive time (epoch seconds) minus the event's createdAt, in milliseconds."""
    created = datetime.fromisoformat(str(event["createdAt"]).replace("Z", "+00:00"))
    return (received - created.timestamp()) * 1000


async def sse_events(
    api: httpx.AsyncClient, params: dict[str, str], last_id: str | None
) -> AsyncIterator[dict[str, Any]]:
    """Parse `GET /events/stream` into event dicts (only `data:` matters here; `id:` is inside it)."""
    headers = {"Accept": "text/event-stream"}
    if last_id:
        headers["Last-Event-ID"] = last_id
    async with api.stream("GET", "/events/stream", params=params, headers=headers, timeout=None) as reply:
        if reply.status_code != 200:
            raise RuntimeError(f"GET /events/stream answered {reply.status_code}: {(await reply.aread())[:500]!r}")
        data: list[str] = []
        async for line in reply.aiter_lines():
            if line.startswith("data:"):
                data.append(line[5:].lstrip())
            elif not line and data:
                yield msgspec.json.decode("\n".join(data))
                data = []


async def collect_sse(
    api: httpx.AsyncClient,
    params: dict[str, str],
    last_id: str | None,
    until: int,
    seen: list[tuple[dict[str, Any], float]],
) -> None:
    async for event in sse_events(api, params, last_id):
        seen.append((event, time.time()))
        if len(seen) >= until:
            return


async def produce(api: httpx.AsyncClient, sheet: str, writes: int, rows: int, concurrency: int) -> None:
    queue: asyncio.Queue[int] = asyncio.Queue()
    for i in range(writes):
        queue.put_nowait(i)

    async def worker() -> None:
        while not queue.empty():
            i = queue.get_nowait()
            body = _encoder.encode([row(i * rows + j) for j in range(rows)])
            reply = await api.post(
                f"/sheets/{sheet}/records", content=body, headers={"Content-Type": "application/json"}
            )
            reply.raise_for_status()

    await asyncio.gather(*(worker() for _ in range(concurrency)))


async def raw_ceilings(bench: Bench, count: int, pace: float) -> tuple[Figure, Figure, list[float]]:
    """Raw JetStream: pull-consume throughput of `count` messages, and publish→receive lag at `pace`/s."""
    store = await bench.raw_stream()
    js = store.js
    body = b"x" * 700  # about one Flatfile event
    subject = f"{store.prefix}.bench.raw"
    for start in range(0, count, 500):
        await asyncio.gather(*(js.publish(subject, body) for _ in range(min(500, count - start))))
    throughput = await bench.measure(
        "raw JetStream pull consume",
        count,
        lambda: raw_consume(store, count),
        unit="ev/s",
        raw=True,
        key="jetstream_consume",
    )

    lags: list[float] = []
    received = asyncio.Event()
    samples = min(count, 2000)

    async def on_message(msg: Any) -> None:
        lags.append((time.time() - float(msg.data.decode())) * 1000)
        if len(lags) >= samples:
            received.set()

    push = await js.subscribe(f"{store.prefix}.bench.lag", cb=on_message, deliver_policy=DeliverPolicy.NEW)
    began = time.perf_counter()
    for _ in range(samples):
        await js.publish(f"{store.prefix}.bench.lag", str(time.time()).encode())
        await asyncio.sleep(1.0 / pace)
    await asyncio.wait_for(received.wait(), 30)
    p50, p99 = percentiles(lags)
    await push.unsubscribe()
    lag = Figure(
        "raw JetStream publish → push consumer (lag)",
        samples,
        time.perf_counter() - began,
        raw=True,
        note="publish → receive lag",
        key="jetstream_lag",
        p50_ms=p50,
        p99_ms=p99,
    )
    bench.progress(f"    raw lag p50 {p50:.1f} ms, p99 {p99:.1f} ms")
    return throughput, lag, lags


async def listener_drain(
    api_url: str, secret: str, space: str, first_id: str | None, until: int, *, acknowledge: bool = True
) -> tuple[float, list[float]]:
    """(seconds, lags ms) for the listener SDK to receive `until` events of the space from its first."""
    from spaceport_listener import FlatfileListener, MemoryCursor  # noqa: PLC0415 - the SDK is not a dependency of shared

    listener = FlatfileListener()
    lags: list[float] = []
    done = asyncio.Event()

    def count(event: Any) -> None:
        lags.append(lag_ms({"createdAt": event.created_at}, time.time()))
        if len(lags) >= until:
            done.set()

    listener.on("**", count)
    began = time.perf_counter()
    task = asyncio.create_task(
        listener.serve(api_url, secret, space_id=space, cursor=MemoryCursor(first_id), acknowledge=acknowledge)
    )
    try:
        await asyncio.wait_for(done.wait(), 600)
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await task
    return time.perf_counter() - began, lags


async def last_event(api: httpx.AsyncClient, space: str, topic: str) -> str:
    """The id of the space's last event once `topic` is in the feed (it trails writes a little)."""
    for _ in range(200):
        reply = await api.get("/events", params={"spaceId": space, "pageSize": 1000, "includeAcknowledged": "true"})
        events = reply.json()["data"]
        if any(e["topic"] == topic for e in events):
            return str(events[-1]["id"])
        await asyncio.sleep(0.1)
    raise RuntimeError(f"no {topic} event in the feed")


async def run(bench: Bench) -> list[Figure]:
    writes = env_int("BENCH_FEED_WRITES", 2000)
    rows = env_int("BENCH_FEED_ROWS", 10)
    concurrency = env_int("BENCH_FEED_CONCURRENCY", 4)
    figures: list[Figure] = []
    stack = bench.stack()
    with contextlib.nullcontext((stack.api, stack.secret)) as (api_url, secret):
        headers = {"Authorization": f"Bearer {secret}"}
        async with httpx.AsyncClient(base_url=api_url, headers=headers, timeout=600) as api:
            space = (await retried(api, "/spaces", {"name": "bench-events"}))["id"]
            sheets = [{"name": "People", "slug": "people", "fields": FIELDS}]
            workbook = await retried(api, "/workbooks", {"name": "bench", "spaceId": space, "sheets": sheets})
            sheet = workbook["sheets"][0]["id"]
            params = {"spaceId": space}
            cursor = await last_event(api, space, "sheet:created")  # both start right after it
            expected = 2 * writes

            bench.progress(f"live: {writes:,} inserts of {rows} rows, SSE subscriber and listener connected ...")
            live: list[tuple[dict[str, Any], float]] = []
            subscriber = asyncio.create_task(collect_sse(api, params, cursor, expected, live))
            listening = asyncio.create_task(listener_drain(api_url, secret, space, cursor, expected))
            await asyncio.sleep(1.0)
            began = time.perf_counter()
            await produce(api, sheet, writes, rows, concurrency)
            produced = time.perf_counter() - began
            await asyncio.wait_for(subscriber, 600)
            _, listener_lags = await asyncio.wait_for(listening, 600)
            pace = expected / produced
            sse_lags = [lag_ms(event, at) for event, at in live]
            p50, p99 = percentiles(sse_lags)
            lp50, lp99 = percentiles(listener_lags)
            bench.progress(f"    produced {expected:,} events in {produced:.1f}s ({pace:,.0f} ev/s)")
            bench.progress(f"    SSE lag p50 {p50:.1f} ms p99 {p99:.1f} ms; listener lag p50 {lp50:.1f} p99 {lp99:.1f}")

            raw_throughput, raw_lag, raw_lags = await raw_ceilings(bench, expected, pace)
            figures += [raw_throughput, raw_lag]
            raw50, raw99 = percentiles(raw_lags)

            def versus(a: float, b: float) -> str:
                return f"{a / b:.1f}x raw" if b > 0 else "raw 0"

            figures.append(
                Figure(
                    "SSE live: append → subscriber (lag)",
                    len(sse_lags),
                    produced,
                    note=f"lag p50 {versus(p50, raw50)}, p99 {versus(p99, raw99)}",
                    key="sse_live",
                    p50_ms=p50,
                    p99_ms=p99,
                )
            )
            figures.append(
                Figure(
                    "listener live: append → handler (lag)",
                    len(listener_lags),
                    produced,
                    note=f"lag p50 {versus(lp50, raw50)}, p99 {versus(lp99, raw99)}",
                    key="listener_live",
                    p50_ms=lp50,
                    p99_ms=lp99,
                )
            )

            drained: list[tuple[dict[str, Any], float]] = []

            async def drain_sse() -> None:
                await collect_sse(api, params, cursor, expected, drained)

            figures.append(
                await bench.measure(
                    "SSE drain of the backlog (GET /events/stream, Last-Event-ID)",
                    expected,
                    drain_sse,
                    ceilings=(raw_throughput.as_ceiling(),),
                    key="sse_drain",
                )
            )
            seconds, _ = await listener_drain(api_url, secret, space, cursor, expected)
            figure = Figure(
                "listener drain of the backlog (spaceport_listener, acks each event)",
                expected,
                seconds,
                ceilings=(raw_throughput.as_ceiling(),),
                key="listener_drain",
            )
            bench.progress(f"    listener drain {figure.rate:,.0f} ev/s")
            figures.append(figure)
            seconds, _ = await listener_drain(api_url, secret, space, cursor, expected, acknowledge=False)
            figure = Figure(
                "listener drain of the backlog (spaceport_listener, acknowledge=False)",
                expected,
                seconds,
                ceilings=(raw_throughput.as_ceiling(),),
                key="listener_drain_noack",
            )
            bench.progress(f"    listener drain without acks {figure.rate:,.0f} ev/s")
            figures.append(figure)
    return figures


if __name__ == "__main__":
    from spaceport.bench.__main__ import main

    sys.exit(main(["events"]))
