"""Scale-out (issue 12): two record-service replicas on a 3-node NATS cluster share the records
projection's partitions; kill -9 of one hands its partitions to the other.

The records projection runs in 4 partitions by space (`RECORD_PARTITIONS=4`,
`spaceport.projection.partition`). The platform's record service is one replica, a second
`python -m record_service` the other; each runs its projector child. Writers insert rows into
eight spaces (two per partition) through the gateway, retrying with their idempotency keys.
Checks: each replica applied 40-60% of the record events; after kill -9 of the second replica
(service and projector) the first holds all four partitions within 10 s; every row of every
sheet is present exactly once.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from spaceport.devinfra.process import ManagedProcess
from spaceport.devinfra.servers import start_nats_cluster, start_postgres
from spaceport.testing.faults import RetryingWriter, all_values, kill9, server_dir, wait_for
from spaceport.testing.infra import InfraUrls
from spaceport.testing.platform import Platform, running_platform
from spaceport.testing.scaleout import applied, balanced, create_streams, holders, record_replica, spaces_per_partition

PARTITIONS = 4
ROWS = 1_000  # per space and phase
PER_REQUEST = 100
HANDOVER = 10.0  # seconds (the bound)


async def _holders(dsn: str) -> dict[str, list[int]]:
    """Projector (its pools' application_name, `host:pid`) -> the partitions whose lease it holds."""
    return await holders(dsn, PARTITIONS)


async def _applied(dsn: str) -> dict[str, int]:
    return await applied(dsn)


def _spaces_two_per_partition(api: httpx.Client) -> list[tuple[str, str]]:
    """(space, sheet) pairs, two in each partition."""
    return spaces_per_partition(api, PARTITIONS, 2)


def _write(platform: Platform, sheets: list[str], *, during: object = None) -> list[RetryingWriter]:
    writers: list[RetryingWriter] = []
    clients = [platform.client(timeout=30) for _ in sheets]
    try:
        writers = [RetryingWriter(c, s, ROWS, PER_REQUEST, timeout=120.0) for c, s in zip(clients, sheets, strict=True)]
        for w in writers:
            w.start()
        if during is not None:
            during(writers)  # type: ignore[operator]
        for w in writers:
            w.join()
    finally:
        for c in clients:
            c.close()
    return writers


@contextmanager
def _second_replica(platform: Platform, log_dir: Path) -> Iterator[ManagedProcess]:
    with record_replica("record-2", platform.env, log_dir) as replica:
        yield replica


@pytest.mark.timeout(240)
def test_two_record_replicas_share_partitions_and_hand_over_on_kill9(
    infra: InfraUrls, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with server_dir() as base:
        cluster = start_nats_cluster(base / "cluster", sync_always=True)
        postgres = start_postgres(base / "postgres", durable=False)
        try:
            monkeypatch.setenv("SPACEPORT_STREAM_REPLICAS", "3")
            monkeypatch.setenv("RECORD_PARTITIONS", str(PARTITIONS))
            asyncio.run(create_streams(cluster.nodes[0].url))  # R3, before the services start
            urls = InfraUrls(
                nats_url=cluster.url,  # every node: the services connect to the cluster
                database_url=postgres.dsn,
                s3_endpoint=infra.s3_endpoint,
                s3_access_key=infra.s3_access_key,
                s3_secret_key=infra.s3_secret_key,
            )
            with (
                running_platform(urls, tmp_path / "platform") as platform,
                platform.client(timeout=30) as api,
                _second_replica(platform, tmp_path / "platform" / "logs") as second,
            ):
                _scale_out(platform, api, second, postgres.dsn)
        finally:
            postgres.stop()
            cluster.stop()


def _wait_rows(api: httpx.Client, sheet: str, rows: int) -> None:
    def landed() -> bool:
        return len(all_values(api, sheet, deadline=time.monotonic() + 30)) >= rows

    wait_for(landed, f"{rows} rows in sheet {sheet}", timeout=60, interval=0.5)


def _all_held_by_one(dsn: str) -> bool:
    held = asyncio.run(_holders(dsn))
    return len(held) == 1 and sorted(next(iter(held.values()))) == list(range(PARTITIONS))


def _balanced(dsn: str) -> bool:
    return balanced(asyncio.run(_holders(dsn)), PARTITIONS, 2)


def _scale_out(platform: Platform, api: httpx.Client, second: ManagedProcess, dsn: str) -> None:
    pairs = _spaces_two_per_partition(api)
    sheets = [sheet for _, sheet in pairs]
    wait_for(lambda: _balanced(dsn), "two projector replicas hold two partitions each", timeout=60)

    # Phase 1: both replicas project; each applies about half of the import's events (the
    # spaces made while looking for two per partition had events of their own: not counted).
    wait_for(lambda: sum(asyncio.run(_applied(dsn)).values()) > 0, "the workbooks are projected")
    before = asyncio.run(_applied(dsn))
    _write(platform, sheets)
    for sheet in sheets:
        _wait_rows(api, sheet, ROWS)
    after = asyncio.run(_applied(dsn))
    applied = {holder: events - before.get(holder, 0) for holder, events in after.items()}
    assert len(applied) == 2, applied
    total = sum(applied.values())
    print(f"\nscale-out: record events applied per replica: {applied}")
    for holder, events in applied.items():
        assert 0.4 <= events / total <= 0.6, f"{holder} applied {events} of {total} events: {applied}"

    # Phase 2: kill -9 the second replica mid-import; the first takes its partitions.
    handed_over: list[float] = []

    def kill_mid_import(writers: list[RetryingWriter]) -> None:
        wait_for(lambda: sum(w.sent for w in writers) >= len(writers) * 2, "the writers got going")
        kill9(second)
        killed_at = time.monotonic()
        wait_for(
            lambda: _all_held_by_one(dsn),
            "the surviving replica holds every partition",
            timeout=HANDOVER,
            interval=0.2,
        )
        handed_over.append(time.monotonic() - killed_at)

    _write(platform, sheets, during=kill_mid_import)
    assert handed_over, "the hand-over was not observed"
    print(f"scale-out: partitions handed over {handed_over[0]:.1f}s after the kill -9")
    for sheet in sheets:
        _wait_rows(api, sheet, 2 * ROWS)
        values = all_values(api, sheet, deadline=time.monotonic() + 30)
        # both phases wrote n = 0..ROWS-1: each value exactly twice, nothing lost or applied twice
        assert sorted(values) == sorted(list(range(ROWS)) * 2), f"sheet {sheet}: {len(values)} records"
