"""Scale-out: the same record load with 1, 2 and 3 record-service replicas on a 3-node NATS cluster.

For each replica count (BENCH_SCALEOUT_REPLICAS, default `1,2,3`) the part starts a fresh 3-node
nats-server cluster (`sync_interval: always`, the streams at R3), a fresh database in the bench's
Postgres and the whole platform on them (every service a process, as `stack`) with
`RECORD_PARTITIONS=6` (divisible by 1, 2 and 3) and `SPACEPORT_STREAM_REPLICAS=3`, plus
`replicas - 1` more `python -m record_service` (each with its projector child). Once the
projectors hold 6/replicas partitions each, 12 writers (one per space, two spaces in each
partition) POST BENCH_SCALEOUT_RECORDS records in all (default 120,000) in requests of
BENCH_SCALEOUT_BATCH (1,000), the records part's 8-field rows (without the unique constraint).

Measured per replica count: records/s from the first POST until every record is counted by
`GET /sheets/{id}/counts`, next to a raw JetStream publish of the same bodies onto an R3 stream of
the same cluster by 12 publishers (and, from 2 replicas on, next to 1 replica: the speed-up); the
projection lag (the stream's last sequence minus the lowest partition checkpoint, in events,
sampled every 100 ms during the load: max and p99); the catch-up time from the last acknowledged
POST until every partition consumer has nothing pending; each replica's share of the events
applied during the load (`projection_partitions.applied`); the peak RSS of each record replica
(service and projector child).

On a 2-core machine no throughput gain is expected: the replicas share the same two cores (and
each partition consumer still receives the whole filtered subject), so what this shows is the
work spreading over the replicas and what that costs, not a speed-up (docs/operations.md,
"Scale-out", says what changes on separate machines). The part is left out of the quick run
(`--quick scaleout` runs it with 6,000 records).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import httpx
import msgspec
import nats
import psutil  # type: ignore[import-untyped]  # no stubs; pyproject is not ours to change
from nats.js.api import StorageType, StreamConfig
from nats.js.errors import NotFoundError

from spaceport.bench.harness import Bench, Figure, Servers, env_int, percentiles
from spaceport.bench.records import FIELDS, row
from spaceport.bench.stack import RssSampler, Stack
from spaceport.devinfra.servers import NatsClusterHandle, start_nats_cluster
from spaceport.projection.consumer import durable_name
from spaceport.projection.partition import applied_position, partition_name
from spaceport.settings import Settings
from spaceport.testing.scaleout import (
    PROJECTION,
    applied,
    balanced,
    create_streams,
    holders,
    record_replica,
    spaces_per_partition,
)

TITLE = "scale-out: 1, 2, 3 record replicas on a 3-node NATS cluster (RECORD_PARTITIONS=6)"
PARTITIONS = 6
SPACES = 12  # two per partition
SAMPLE_EVERY = 0.1  # seconds between lag samples
TWO_CORES = "on 2 cores no gain is expected: the replicas share the cores (spreading, not speed-up)"
SHEET: dict[str, Any] = {
    "name": "People",
    "slug": "people",
    "fields": [{k: v for k, v in f.items() if k != "constraints"} for f in FIELDS],  # no unique: no claims
}
MIB = 1024 * 1024
_encoder = msgspec.json.Encoder()


@dataclass
class Phase:
    """What one replica count measured."""

    replicas: int
    total: int
    loaded: float = 0.0  # first POST -> every record counted
    acked: float = 0.0  # first POST -> last POST answered
    catch_up: float = 0.0  # last POST answered -> every partition consumer drained
    lags: list[int] = field(default_factory=list)  # events, sampled during the load
    applied: dict[str, int] = field(default_factory=dict)  # holder (host:pid) -> events applied during the load
    held: dict[str, list[int]] = field(default_factory=dict)  # holder -> partitions held during the load
    shares: dict[int, int] = field(default_factory=dict)  # replica -> events applied during the load
    partitions: dict[int, list[int]] = field(default_factory=dict)  # replica -> partitions held
    rss: dict[int, tuple[int, int]] = field(default_factory=dict)  # replica -> (service, projector) bytes
    load: tuple[float, float] = (0.0, 0.0)  # 1-min load average at the start and end of the load
    retries: int = 0  # POSTs answered 5xx (or not at all) and sent again
    leaders: dict[int, int] = field(default_factory=dict)  # replica -> pid of its record service
    cpu: dict[int, tuple[float, float]] = field(default_factory=dict)  # replica -> (service, projector) CPU s
    groups: dict[str, list[int]] = field(default_factory=dict)  # every process of the run: name -> root pids
    group_cpu: dict[str, float] = field(default_factory=dict)  # name -> CPU s during the writes

    def attribute(self, sampler: RssSampler, leaders: Mapping[int, int]) -> None:
        """Holders (projector pids) and sampled processes to replicas 1..n."""
        replica_of = {pid: int(peak.name.split(" child ")[0].rsplit("-", 1)[1]) for pid, peak in sampler.peaks.items()}
        replica_of.update({pid: i for i, pid in leaders.items()})

        def owner(holder: str) -> int:
            return replica_of.get(int(holder.rsplit(":", 1)[1]), 0)  # 0: not one of ours (cannot happen)

        for i, leader in leaders.items():
            service = sampler.peaks[leader].bytes if leader in sampler.peaks else 0
            children = [p.bytes for pid, p in sampler.peaks.items() if replica_of[pid] == i and pid != leader]
            self.rss[i] = (service, max(children, default=0))
            self.shares[i] = sum(n for holder, n in self.applied.items() if owner(holder) == i)
            self.partitions[i] = sorted(k for holder, ks in self.held.items() if owner(holder) == i for k in ks)


@contextlib.contextmanager
def _environ(values: Mapping[str, str]) -> Iterator[None]:
    """os.environ with `values` (the platform's processes inherit it), restored afterwards."""
    saved = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def _database(dsn: str, name: str) -> str:
    parts = urlsplit(dsn)
    return urlunsplit(parts._replace(path=f"/{name}"))


def _service_env(stack: Stack, servers: Servers) -> dict[str, str]:
    """What `Stack.start` gives its services, for the extra record replicas."""
    return {
        **os.environ,
        "NATS_URL": servers.nats_url,
        "DATABASE_URL": servers.database_url,
        "S3_ENDPOINT": servers.s3_endpoint,
        "S3_ACCESS_KEY": servers.s3_access_key,
        "S3_SECRET_KEY": servers.s3_secret_key,
        "S3_BUCKET": "spaceport-bench",
        "SPACEPORT_DEV_SECRET_KEY": stack.secret,  # secret values' key is derived from it
        "OTEL_TRACES_EXPORTER": "none",
        "PYTHONUNBUFFERED": "1",
    }


async def _raw_publish(cluster: NatsClusterHandle, bodies: list[bytes], per_space: int) -> Figure:
    """The ceiling: the same request bodies published (awaited) onto an R3 file stream of the
    same cluster by SPACES publishers, in rows/s."""
    nc = await nats.connect(servers=cluster.url.split(","))
    js = nc.jetstream(timeout=30)
    name = f"SCALEOUT_RAW_{uuid.uuid4().hex[:6].upper()}"
    try:
        await js.add_stream(StreamConfig(name=name, subjects=[f"{name}.>"], storage=StorageType.FILE, num_replicas=3))

        async def publisher(index: int) -> None:
            for body in bodies:
                await js.publish(f"{name}.s{index}", body)

        began = time.perf_counter()
        await asyncio.gather(*(publisher(i) for i in range(SPACES)))
        seconds = time.perf_counter() - began
        with contextlib.suppress(Exception):
            await js.delete_stream(name)
    finally:
        await nc.close()
    return Figure(
        f"raw JetStream publish of the same bodies, R3 sync_interval always, {SPACES} publishers",
        per_space * SPACES,
        seconds,
        unit="rows/s",
        raw=True,
        key="jetstream_publish_r3",
    )


async def _drained(js: Any, stream: str) -> bool:
    """Every partition consumer of the records projection has nothing pending or unacked."""
    for k in range(PARTITIONS):
        try:
            info = await js.consumer_info(stream, durable_name(partition_name(PROJECTION, k)))
        except NotFoundError:  # being (re)created at its checkpoint
            return False
        if info.num_pending or info.num_ack_pending:
            return False
    return True


async def _until(predicate: Any, what: str, timeout: float, interval: float = 0.2) -> None:
    deadline = time.monotonic() + timeout
    while not await predicate():
        if time.monotonic() > deadline:
            raise RuntimeError(f"{what} (after {timeout:.0f} s)")
        await asyncio.sleep(interval)


async def _phase(bench: Bench, replicas: int, bodies: list[bytes], per_space: int, base: Path) -> Phase:
    """One replica count on a fresh cluster, database and platform."""
    assert bench.servers is not None, "the scale-out part needs the bench's servers"
    phase = Phase(replicas, per_space * SPACES)
    bench.progress(f"{replicas} record replica(s): a fresh 3-node NATS cluster, database and platform ...")
    cluster = await asyncio.to_thread(start_nats_cluster, base / f"cluster{replicas}", sync_always=True)
    database = f"scaleout_{bench.run_id}_{replicas}"
    try:
        async with bench.pool.acquire() as conn:
            await conn.execute(f'CREATE DATABASE "{database}"')
        await create_streams(cluster.nodes[0].url, 3)
        if "scaleout_ceiling" not in bench.memo:
            bench.memo["scaleout_ceiling"] = ceiling = await _raw_publish(cluster, bodies, per_space)
            bench.progress(f"    raw R3 publish of the same bodies: {ceiling.rate:,.0f} rows/s")
        servers = Servers(
            nats_url=cluster.nodes[0].url,  # one URL (NATS_URL takes one); clients learn the others
            database_url=_database(bench.servers.database_url, database),
            s3_endpoint=bench.servers.s3_endpoint,
            s3_access_key=bench.servers.s3_access_key,
            s3_secret_key=bench.servers.s3_secret_key,
        )
        with _environ({"RECORD_PARTITIONS": str(PARTITIONS), "SPACEPORT_STREAM_REPLICAS": "3"}):
            stack = await asyncio.to_thread(Stack.start, servers)
            env = _service_env(stack, servers)
        try:
            with contextlib.ExitStack() as extra:
                leaders = {1: next(c for c in stack.children if c.name == "record").pid}
                for i in range(2, replicas + 1):
                    leaders[i] = extra.enter_context(record_replica(f"record-{i}", env, stack.logs)).pid
                phase.leaders = leaders
                phase.groups = {
                    "gateway": [c.pid for c in stack.children if c.name == "gateway"],
                    "record replicas": list(leaders.values()),
                    "other services": [c.pid for c in stack.children if c.name not in ("gateway", "record")],
                    "nats-servers": [node.process.pid for node in cluster.nodes],
                    "postgres": [bench.servers.pids["postgres"]] if "postgres" in bench.servers.pids else [],
                    "bench client": [os.getpid()],
                }
                sampler = RssSampler({f"record-{i}": pid for i, pid in leaders.items()})
                sampler.start()
                try:
                    await _measure(bench, phase, stack, servers.database_url, cluster)
                finally:
                    sampler.stop()
                phase.attribute(sampler, leaders)
        finally:
            await asyncio.to_thread(stack.stop)
    finally:
        await asyncio.to_thread(cluster.stop)
        async with bench.pool.acquire() as conn:
            with contextlib.suppress(asyncpg.PostgresError):
                await conn.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
    return phase


@dataclass
class _Probe:
    """The bench's own view of a phase's cluster and database: lag samples, drained consumers."""

    js: Any
    conn: Any
    stream: str
    samples: list[tuple[float, int]] = field(default_factory=list)  # (time, lag in events)
    stop: asyncio.Event = field(default_factory=asyncio.Event)

    async def drained(self) -> bool:
        return await _drained(self.js, self.stream)

    async def sample(self) -> None:
        """Every SAMPLE_EVERY until `stop`: the stream's last sequence minus the applied position."""
        while not self.stop.is_set():
            at = time.perf_counter()
            with contextlib.suppress(Exception):  # a slow answer is a missed sample, not a failure
                last = (await self.js.stream_info(self.stream)).state.last_seq
                self.samples.append((at, max(0, last - await applied_position(self.conn, PROJECTION))))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.stop.wait(), max(0.0, SAMPLE_EVERY - (time.perf_counter() - at)))


def _cpu(leaders: Mapping[int, int] | Mapping[int, list[int]]) -> dict[int, tuple[float, float]]:
    """Key -> CPU seconds (user + system) so far of its process(es), and of their descendants."""
    found = {}
    for i, pids in leaders.items():
        own = descendants = 0.0
        for pid in [pids] if isinstance(pids, int) else pids:
            with contextlib.suppress(psutil.Error):
                process = psutil.Process(pid)
                times = process.cpu_times()
                own += times.user + times.system
                for child in process.children(recursive=True):
                    with contextlib.suppress(psutil.Error):
                        times = child.cpu_times()
                        descendants += times.user + times.system
        found[i] = (own, descendants)
    return found


async def _measure(bench: Bench, phase: Phase, stack: Stack, dsn: str, cluster: NatsClusterHandle) -> None:
    replicas = phase.replicas
    with httpx.Client(base_url=stack.api, headers=stack.headers(), timeout=120) as sync_api:
        pairs = await asyncio.to_thread(spaces_per_partition, sync_api, PARTITIONS, SPACES // PARTITIONS, sheet=SHEET)

    async def spread() -> bool:
        return balanced(await holders(dsn, PARTITIONS), PARTITIONS, replicas)

    await _until(spread, f"{replicas} projector(s) holding {PARTITIONS // replicas} partitions each", 120)
    nc = await nats.connect(servers=cluster.url.split(","))
    conn = await asyncpg.connect(dsn, server_settings={"search_path": PROJECTION})
    probe = _Probe(nc.jetstream(timeout=10), conn, Settings().event_stream)
    try:
        await _until(probe.drained, "the setup's events projected", 120)
        phase.held = await holders(dsn, PARTITIONS)
        before = await applied(dsn)
        sampling = asyncio.create_task(probe.sample())
        try:
            cpu, groups = _cpu(phase.leaders), _cpu(dict(enumerate(phase.groups.values())))
            began, acked = await _load(bench, phase, stack, [sheet for _, sheet in pairs], probe)
            phase.cpu = {i: (s - cpu[i][0], p - cpu[i][1]) for i, (s, p) in _cpu(phase.leaders).items()}
            spent = _cpu(dict(enumerate(phase.groups.values())))
            phase.group_cpu = {  # the bench client's descendants are every other group: its own CPU only
                name: spent[k][0] - groups[k][0] + (spent[k][1] - groups[k][1] if name != "bench client" else 0.0)
                for k, name in enumerate(phase.groups)
            }
        finally:
            probe.stop.set()
            await sampling
        phase.lags = [lag for at, lag in probe.samples if began <= at <= acked]
        after = await applied(dsn)
        phase.applied = {h: n - before.get(h, 0) for h, n in after.items() if n > before.get(h, 0)}
        held_after = await holders(dsn, PARTITIONS)
        if held_after != phase.held:
            bench.progress(f"    note: partitions moved during the load: {phase.held} -> {held_after}")
    finally:
        await conn.close()
        await nc.close()
    bench.progress(
        f"    {phase.total / phase.loaded:,.0f} rows/s until counted ({phase.loaded:.1f}s; acked {phase.acked:.1f}s,"
        f" catch-up {phase.catch_up:.2f}s); lag max {max(phase.lags, default=0)} events; applied {phase.applied}"
    )


async def _load(bench: Bench, phase: Phase, stack: Stack, sheets: list[str], probe: _Probe) -> tuple[float, float]:
    """The writers, then the catch-up and the counts; (first POST, last POST answered) times."""
    per_sheet = phase.total // len(sheets)
    bodies: list[bytes] = bench.memo["scaleout_bodies"]
    phase.load = (os.getloadavg()[0], 0.0)
    bench.progress(f"    {phase.total:,} records into {len(sheets)} sheets ({len(bodies)} POSTs each) ...")
    async with httpx.AsyncClient(base_url=stack.api, headers=stack.headers(), timeout=300) as api:

        async def writer(sheet: str) -> None:
            for n, body in enumerate(bodies):
                # a 5xx (a timeout under load) is retried with its idempotency key, and counted
                headers = {"Content-Type": "application/json", "Idempotency-Key": f"{sheet}-{n}"}
                for _attempt in range(20):
                    with contextlib.suppress(httpx.TransportError):
                        reply = await api.post(f"/sheets/{sheet}/records", content=body, headers=headers)
                        if reply.status_code == 200:
                            break
                        if reply.status_code < 500:
                            raise RuntimeError(f"POST records into {sheet}: {reply.status_code} {reply.text[:500]}")
                    phase.retries += 1
                    await asyncio.sleep(0.5)
                else:
                    raise RuntimeError(f"POST records into {sheet}: still failing after 20 attempts")

        waiting = set(sheets)

        async def counted() -> bool:
            for sheet in list(waiting):
                reply = await api.get(f"/sheets/{sheet}/counts")
                if reply.status_code == 200 and reply.json()["data"]["counts"]["total"] >= per_sheet:
                    waiting.discard(sheet)
            return not waiting

        began = time.perf_counter()
        await asyncio.gather(*(writer(s) for s in sheets))
        acked = time.perf_counter()
        await _until(probe.drained, "the projection caught up", 600, interval=0.05)
        phase.catch_up = time.perf_counter() - acked
        await _until(counted, "every record counted", 600, interval=0.1)
        phase.loaded = time.perf_counter() - began
    phase.acked = acked - began
    phase.load = (phase.load[0], os.getloadavg()[0])
    return began, acked


def _figures(phases: list[Phase], ceiling: Figure) -> list[Figure]:
    figures = [ceiling]
    one: Figure | None = None  # 1 replica's, the others' second ceiling (run first or not)
    for phase in sorted(phases, key=lambda p: p.replicas):
        r = phase.replicas
        name = f"{r} replica{'s' if r > 1 else ''}"
        p50, p99 = percentiles([float(x) for x in phase.lags])
        ceilings = (ceiling.as_ceiling(),) + ((one.as_ceiling(),) if one is not None else ())
        note = (
            f"writes acked in {phase.acked:.1f}s ({phase.total / phase.acked:,.0f} rows/s), counted after"
            f" {phase.loaded:.1f}s; load average {phase.load[0]:.1f} -> {phase.load[1]:.1f}"
        )
        if phase.retries:
            note += f"; {phase.retries} POSTs retried after a 5xx"
        if r > 1:
            note += f"; {TWO_CORES}"
        records = Figure(
            f"{name}: POST records until all counted",
            phase.total,
            phase.loaded,
            unit="rows/s",
            ceilings=ceilings,
            note=note,
            key=f"records_{r}",
        )
        if r == 1:
            one = records
        figures.append(records)
        figures.append(
            Figure(
                f"  {name}: projection lag during the load, max",
                max(phase.lags, default=0),
                1.0,
                unit="events",
                note=f"p50 {p50:.0f}, p99 {p99:.0f} of {len(phase.lags)} samples (stream last_seq - lowest partition"
                " checkpoint, every 100 ms)",
                key=f"lag_max_{r}",
            )
        )
        figures.append(
            Figure(f"  {name}: projection lag during the load, p99", int(p99), 1.0, unit="events", key=f"lag_p99_{r}")
        )
        figures.append(
            Figure(
                f"  {name}: catch-up after the last acknowledged POST",
                round(phase.catch_up * 1000),
                1.0,
                unit="ms",
                note="until every partition consumer has nothing pending or unacked",
                key=f"catch_up_{r}",
            )
        )
        service_cpu = sum(c[0] for c in phase.cpu.values())
        projector_cpu = sum(c[1] for c in phase.cpu.values())
        figures.append(
            Figure(
                f"  {name}: CPU of the record replicas during the writes",
                round((service_cpu + projector_cpu) * 100),
                phase.acked,
                unit="% of a core",
                note=f"services {service_cpu:.1f} s, projectors {projector_cpu:.1f} s of CPU in {phase.acked:.1f} s",
                key=f"cpu_records_{r}",
            )
        )
        spent = ", ".join(f"{k} {v / phase.acked:.2f}" for k, v in phase.group_cpu.items())
        figures.append(
            Figure(
                f"  {name}: CPU of every process of the run during the writes",
                round(sum(phase.group_cpu.values()) * 100),
                phase.acked,
                unit="% of a core",
                note=f"cores busy: {spent} (of {os.cpu_count()}; other sessions' processes not counted)",
                key=f"cpu_all_{r}",
            )
        )
        events = sum(phase.shares.values())
        for i in sorted(phase.rss):
            if events:
                figures.append(
                    Figure(
                        f"  {name}: replica {i} share of the applied events",
                        phase.shares[i],
                        events / 100,
                        unit="%",
                        note=f"{phase.shares[i]:,} of {events:,} events; partitions {phase.partitions.get(i, [])};"
                        f" CPU during the writes: service {phase.cpu.get(i, (0.0, 0.0))[0]:.1f} s,"
                        f" projector {phase.cpu.get(i, (0.0, 0.0))[1]:.1f} s",
                        key=f"share_{r}_{i}",
                    )
                )
            service, projector = phase.rss[i]
            figures.append(
                Figure(
                    f"  {name}: peak RSS record replica {i} (service + projector)",
                    (service + projector) // 1024,
                    1024.0,
                    unit="MiB",
                    note=f"service {service / MIB:,.0f} MiB, projector {projector / MIB:,.0f} MiB",
                    key=f"rss_{r}_{i}",
                )
            )
    return figures


async def run(bench: Bench) -> list[Figure]:
    total = env_int("BENCH_SCALEOUT_RECORDS", 120_000)
    batch = env_int("BENCH_SCALEOUT_BATCH", 1_000)
    counts = [int(x) for x in os.environ.get("BENCH_SCALEOUT_REPLICAS", "1,2,3").split(",") if x.strip()]
    if any(PARTITIONS % r for r in counts):
        raise ValueError(f"BENCH_SCALEOUT_REPLICAS={counts}: each must divide {PARTITIONS} partitions")
    per_space = max(batch, -(-total // SPACES // batch) * batch)  # whole batches per space
    rows = [row(i) for i in range(per_space)]
    bench.memo["scaleout_bodies"] = bodies = [
        _encoder.encode(rows[start : start + batch]) for start in range(0, per_space, batch)
    ]
    bench.progress(f"{per_space * SPACES:,} records per replica count ({per_space:,} per space, {batch:,} per POST)")
    base = Path(tempfile.mkdtemp(prefix="spaceport-bench-scaleout-"))
    phases: list[Phase] = []
    try:
        for replicas in counts:
            phases.append(await _phase(bench, replicas, bodies, per_space, base))
    finally:
        shutil.rmtree(base, ignore_errors=True)
    ceiling = bench.memo["scaleout_ceiling"]
    assert isinstance(ceiling, Figure)
    return _figures(phases, ceiling)


if __name__ == "__main__":
    from spaceport.bench.__main__ import main

    sys.exit(main(["scaleout"]))
