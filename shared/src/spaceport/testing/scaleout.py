"""Scale-out machinery shared by tests/test_scale_out.py and the `scaleout` bench part: R3 streams
on a 3-node cluster, record-service replicas, spaces chosen per partition, and who holds and
applied which partitions of a partitioned projection (Postgres `pg_locks` and
`projection_partitions.applied`, see `spaceport.projection.partition`).
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator, Mapping
from functools import partial
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import nats

from job_service.feed import relay
from spaceport.devinfra.process import ManagedProcess
from spaceport.events import EventRegistry
from spaceport.eventstore import EventStore
from spaceport.projection.lease import lease_key
from spaceport.projection.partition import partition_name, partition_of
from spaceport.settings import Settings
from spaceport.testing.faults import PEOPLE, kill9, ok, wait_for

PROJECTION = "records"


async def create_streams(url: str, replicas: int = 3) -> None:
    """The event and feed streams at `replicas` before the services start (six services creating
    them at once on a cluster formed seconds earlier time out: docs/operations.md)."""
    settings = Settings(stream_replicas=replicas)
    nc = await nats.connect(url)
    try:
        await EventStore(nc, EventRegistry(), stream=settings.event_stream).ensure_stream(replicas)
        await nc.jetstream(timeout=30).add_stream(relay.stream_config(settings))
    finally:
        await nc.close()


async def holders(dsn: str, partitions: int, projection: str = PROJECTION) -> dict[str, list[int]]:
    """Projector (its pools' application_name, `host:pid`) -> the partitions whose lease it holds."""
    keys = [lease_key(Settings().event_stream, partition_name(projection, k)) for k in range(partitions)]
    conn = await asyncpg.connect(dsn)
    try:
        rows = await conn.fetch(
            "SELECT t.k - 1 AS k, a.application_name AS holder FROM unnest($1::text[]) WITH ORDINALITY AS t(key, k)"
            " JOIN pg_locks l ON l.locktype = 'advisory' AND l.granted AND l.objsubid = 1"
            " AND l.objid::bigint = (hashtext(t.key)::bigint & 4294967295)"
            " AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())"
            " JOIN pg_stat_activity a ON a.pid = l.pid",
            keys,
        )
    finally:
        await conn.close()
    held: dict[str, list[int]] = {}
    for r in rows:
        held.setdefault(str(r["holder"]), []).append(int(r["k"]))
    return {holder: sorted(ks) for holder, ks in held.items()}


def balanced(held: Mapping[str, list[int]], partitions: int, replicas: int) -> bool:
    """Every partition held, by `replicas` holders with partitions/replicas each (± 1)."""
    counts = sorted(len(v) for v in held.values())
    covered = sorted(k for v in held.values() for k in v) == list(range(partitions))
    return covered and len(counts) == replicas and counts[-1] - counts[0] <= 1


async def applied(dsn: str, projection: str = PROJECTION) -> dict[str, int]:
    """Holder (`host:pid`) -> events of `projection` it applied (every partition, ever)."""
    conn = await asyncpg.connect(dsn)
    try:
        rows = await conn.fetch(
            "SELECT holder, sum(events)::bigint AS events FROM projection_partitions.applied"
            " WHERE projection = $1 GROUP BY holder",
            projection,
        )
    finally:
        await conn.close()
    return {r["holder"]: int(r["events"]) for r in rows}


def spaces_per_partition(
    api: httpx.Client, partitions: int, per: int, *, sheet: Mapping[str, Any] = PEOPLE, name: str = "scale"
) -> list[tuple[str, str]]:
    """(space, sheet) pairs, `per` in each partition (in partition order), each space with one
    workbook holding `sheet`, returned once the record service knows every sheet. Spaces are made
    until every partition has its share; the workbook only in the ones kept."""
    chosen: dict[int, list[str]] = {k: [] for k in range(partitions)}
    made = 0
    while any(len(v) < per for v in chosen.values()):
        space: str = ok(api.post("/spaces", json={"name": f"{name} {made}"}))["id"]
        made += 1
        assert made < 40 * partitions * per, "space ids do not spread over the partitions"
        bucket = chosen[partition_of(f"evt.{space}.x", partitions)]
        if len(bucket) < per:
            bucket.append(space)
    pairs: list[tuple[str, str]] = []
    for k in range(partitions):
        for space in chosen[k]:
            workbook = ok(api.post("/workbooks", json={"name": "W", "spaceId": space, "sheets": [dict(sheet)]}))
            pairs.append((space, workbook["sheets"][0]["id"]))

    def known(sheet_id: str) -> bool:
        return api.get(f"/sheets/{sheet_id}/records", params={"pageSize": 1}).status_code == 200

    for _, sheet_id in pairs:  # (see `faults.sheet_in_new_space` on a first read answering 404)
        wait_for(partial(known, sheet_id), f"the record service knows sheet {sheet_id}")
    return pairs


@contextlib.contextmanager
def record_replica(name: str, env: Mapping[str, str], log_dir: Path) -> Iterator[ManagedProcess]:
    """One more `python -m record_service` (with its projector child) on the platform's `env`;
    killed (-9, with its group) on the way out unless it already ended."""
    log_dir.mkdir(parents=True, exist_ok=True)
    replica = ManagedProcess.start(
        name, [sys.executable, "-m", "record_service"], log_dir / f"{name}.log", env=dict(env)
    )
    try:
        yield replica
    finally:
        if replica.popen.poll() is None:
            kill9(replica)
