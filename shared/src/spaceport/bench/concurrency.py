"""Concurrent API clients through the whole stack (gateway → NATS → service → Postgres), next to
a bare granian ASGI app (`hello`) driven by the same client at the same concurrency.

The client is a minimal HTTP/1.1 keep-alive load generator on asyncio streams (one connection per
client, requests back to back, like wrk's), so that the Python client costs as little of the
machine's cores as possible: on a small machine it still shares them with the stack, which the
report says. Each measurement runs BENCH_CONCURRENCY_SECONDS (default 10) after a warm-up of a
quarter of that; throughput counts the measured window only; p50/p99 are per request.

Workloads: GET /v1/spaces/{id} with 64 clients (the goal: >= 3,000 req/s, p99 <= 50 ms; 10 and
50 clients too, except in the quick run), and
with 10 and 50 clients each a GET of a 100-record page and a POST of 100 records (clients spread
over 10 sheets of one workbook). Any non-200 answer is counted and reported; none is expected.

Each platform figure's note also gives the CPU time per request of the busiest processes (user +
system, warm-up included, in µs): unlike req/s and p99 it barely moves when other work shares the
cores, so it is what to compare between runs on a busy machine.
"""

from __future__ import annotations

import asyncio
import os
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlparse

import httpx
import msgspec
import psutil  # type: ignore[import-untyped]  # no stubs; pyproject is not ours to change

from gateway_service.workers import configured_workers
from spaceport.bench.harness import Bench, Figure, env_int, percentiles
from spaceport.bench.records import retried
from spaceport.devinfra.process import ManagedProcess, free_port, wait_for_tcp

TITLE = "concurrency: many API clients through the stack vs. a bare granian app"
SHEETS = 10
FIELDS = [
    {"key": "first", "type": "string"},
    {"key": "email", "type": "string"},
    {"key": "age", "type": "number"},
]
_encoder = msgspec.json.Encoder()


@dataclass
class Load:
    requests: int = 0
    seconds: float = 0.0
    latencies: list[float] = field(default_factory=list)
    statuses: Counter[int] = field(default_factory=Counter)
    sent: int = 0  # every answered request, the warm-up's too
    cpu: dict[str, float] = field(default_factory=dict)  # process -> CPU seconds while it ran

    def figure(self, label: str, key: str, ceiling: Figure | None = None) -> Figure:
        p50, p99 = percentiles(self.latencies)
        bad = {s: n for s, n in self.statuses.items() if s != 200}
        note = f"{self.requests:,} requests in {self.seconds:.1f}s"
        if bad:
            note += f"; NON-200 ANSWERS {bad}"
        busy = sorted(((n, c) for n, c in self.cpu.items() if c * 1e6 / max(self.sent, 1) >= 1), key=lambda x: -x[1])
        if busy:
            note += "; CPU µs/request " + ", ".join(f"{n} {c * 1e6 / self.sent:.0f}" for n, c in busy[:5])
        return Figure(
            label,
            self.requests,
            self.seconds,
            unit="req/s",
            raw=ceiling is None,
            ceilings=(ceiling.as_ceiling(),) if ceiling else (),
            key=key,
            p50_ms=p50,
            p99_ms=p99,
            note=note,
        )


async def _response(reader: asyncio.StreamReader) -> tuple[int, bool]:
    """(status, server closes) of one HTTP/1.1 response, body read and dropped."""
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    status = int(lines[0].split()[1])
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(b":")
        headers[name.strip().lower()] = value.strip().lower()
    if b"content-length" in headers:
        await reader.readexactly(int(headers[b"content-length"]))
    elif headers.get(b"transfer-encoding") == b"chunked":
        while True:
            size = int((await reader.readline()).split(b";")[0], 16)
            await reader.readexactly(size + 2)
            if size == 0:
                break
    return status, headers.get(b"connection") == b"close"


def request(method: str, url: str, secret: str, body: bytes = b"") -> bytes:
    parts = urlparse(url)
    path = parts.path + (f"?{parts.query}" if parts.query else "")
    head = f"{method} {path} HTTP/1.1\r\nHost: {parts.netloc}\r\nAuthorization: Bearer {secret}\r\n"
    if body:
        head += f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
    return (head + "\r\n").encode() + body


async def load(url: str, requests: list[bytes], clients: int, seconds: float) -> Load:
    """`clients` connections sending `requests` round robin for a warm-up plus `seconds`."""
    parts = urlparse(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    result = Load()
    began = time.perf_counter()
    measure_from = began + seconds / 4
    until = measure_from + seconds

    async def client(index: int) -> None:
        reader, writer = await asyncio.open_connection(host, port)
        n = index
        try:
            while (now := time.perf_counter()) < until:
                writer.write(requests[n % len(requests)])
                n += 1
                status, closing = await _response(reader)
                done = time.perf_counter()
                result.sent += 1
                if now >= measure_from:
                    result.requests += 1
                    result.latencies.append((done - now) * 1000)
                    result.statuses[status] += 1
                if closing:
                    writer.close()
                    reader, writer = await asyncio.open_connection(host, port)
        finally:
            writer.close()

    await asyncio.gather(*(client(i) for i in range(clients)))
    result.seconds = time.perf_counter() - measure_from
    return result


def cpu_seconds(groups: dict[str, int]) -> dict[str, float]:
    """User + system CPU seconds so far of each group (a leader pid and its descendants), and of
    this process (the load generator) as `client`."""
    found = {"client": _cpu(psutil.Process())}
    for name, pid in groups.items():
        try:
            root = psutil.Process(pid)
            found[name] = sum(_cpu(p) for p in [root, *root.children(recursive=True)])
        except psutil.Error:
            continue
    return found


def _cpu(process: psutil.Process) -> float:
    try:
        times = process.cpu_times()
    except psutil.Error:
        return 0.0
    return float(times.user + times.system)


async def measured(groups: dict[str, int], url: str, requests: list[bytes], clients: int, seconds: float) -> Load:
    """`load`, with the CPU each process of `groups` spent meanwhile."""
    before = cpu_seconds(groups)
    result = await load(url, requests, clients, seconds)
    after = cpu_seconds(groups)
    result.cpu = {name: after[name] - before[name] for name in after if name in before}
    return result


@contextmanager
def hello(body_bytes: int, workers: int) -> Iterator[str]:
    port = free_port()
    logs = Path(tempfile.mkdtemp(prefix="spaceport-bench-hello-"))
    env = {**os.environ, "HELLO_PORT": str(port), "HELLO_BODY_BYTES": str(body_bytes), "HELLO_WORKERS": str(workers)}
    child = ManagedProcess.start("hello", [sys.executable, "-m", "spaceport.bench.hello"], logs / "hello.log", env=env)
    try:
        wait_for_tcp("127.0.0.1", port, 30.0, child)
        yield f"http://127.0.0.1:{port}/hello"
    finally:
        child.stop(5.0)


async def run(bench: Bench) -> list[Figure]:
    seconds = float(env_int("BENCH_CONCURRENCY_SECONDS", 10))
    stack = bench.stack()
    async with httpx.AsyncClient(base_url=stack.api, headers=stack.headers(), timeout=60) as api:
        space = (await retried(api, "/spaces", {"name": "bench-concurrency"}))["id"]
        sheets = [{"name": f"Sheet {i}", "slug": f"s{i}", "fields": FIELDS} for i in range(SHEETS)]
        workbook = await retried(api, "/workbooks", {"name": "bench", "spaceId": space, "sheets": sheets})
        ids = [s["id"] for s in workbook["sheets"]]
        rows = [
            {"first": {"value": f"F{i}"}, "email": {"value": f"u{i}@x.io"}, "age": {"value": i}} for i in range(100)
        ]
        for sheet in ids:  # something to page through
            (await api.post(f"/sheets/{sheet}/records", json=rows)).raise_for_status()
        space_body = (await api.get(f"/spaces/{space}")).content
    body = _encoder.encode(rows)
    get_space = [request("GET", f"{stack.api}/spaces/{space}", stack.secret)]
    get_page = [request("GET", f"{stack.api}/sheets/{s}/records?pageSize=100", stack.secret) for s in ids]
    post = [request("POST", f"{stack.api}/sheets/{s}/records", stack.secret, body) for s in ids]
    figures: list[Figure] = []
    # the ceiling runs as many granian workers as the gateway (GATEWAY_WORKERS, `auto` by default)
    workers = configured_workers()
    with hello(len(space_body), workers) as hello_url:
        ceilings: dict[int, Figure] = {}
        for clients in (10, 50, 64):
            bench.progress(f"bare granian app, {clients} clients, {seconds:.0f}s ...")
            ceilings[clients] = (await load(hello_url, [request("GET", hello_url, "x")], clients, seconds)).figure(
                f"bare granian ASGI app ({workers} worker(s), as the gateway), {clients} clients (same client)",
                f"http_hello_{clients}",
            )
            bench.progress(f"    {ceilings[clients].rate:,.0f} req/s, p99 {ceilings[clients].p99_ms:.1f} ms")
    figures += ceilings.values()
    for clients, label, key, requests in (
        (64, "GET /v1/spaces/{id}, 64 clients", "get_space_64", get_space),
        (10, "GET /v1/spaces/{id}, 10 clients", "get_space_10", get_space),
        (50, "GET /v1/spaces/{id}, 50 clients", "get_space_50", get_space),
        (10, "GET 100-record page, 10 clients", "get_page_10", get_page),
        (50, "GET 100-record page, 50 clients", "get_page_50", get_page),
        (10, "POST 100 records, 10 clients", "post_records_10", post),
        (50, "POST 100 records, 50 clients", "post_records_50", post),
    ):
        if bench.quick and key in ("get_space_10", "get_space_50"):
            continue  # the quick run keeps the goal's 64 clients only
        bench.progress(f"{label}, {seconds:.0f}s ...")
        dead = stack.dead()
        if dead:
            raise RuntimeError(f"{dead[0].name} died:\n{stack.tails()}")
        groups = {**{c.name: c.pid for c in stack.children}, **stack.servers.pids}
        figure = (await measured(groups, stack.api, requests, clients, seconds)).figure(label, key, ceilings[clients])
        bench.progress(f"    {figure.rate:,.0f} req/s, p50 {figure.p50_ms:.1f} ms, p99 {figure.p99_ms:.1f} ms")
        figures.append(figure)
        if key.startswith("post_records"):
            figures.append(
                Figure(
                    f"  = records inserted, {clients} clients",
                    figure.count * len(rows),
                    figure.seconds,
                    unit="rows/s",
                    key=f"post_rows_{clients}",
                )
            )
    return figures


if __name__ == "__main__":
    from spaceport.bench.__main__ import main

    sys.exit(main(["concurrency"]))
