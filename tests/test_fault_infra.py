"""Infrastructure faults during an import (issue 12): kill -9 of nats-server, of Postgres, and the
loss of one node of a 3-node NATS cluster holding an R3 stream.

Each test runs the whole platform on servers of its own (`spaceport.testing.faults`), writes rows
in requests that a client retries with their idempotency keys until answered, and checks that
every row is stored exactly once, that the consumers resumed (the feed lists one
`commit:created` per request) and, where an SSE subscriber follows the space, that it received
every event once and in order. A CSV import running through the Postgres crash ends complete or
failed with an outcome, never stuck.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import nats
import pytest

from job_service.feed import relay
from spaceport.devinfra.servers import NatsClusterHandle, start_nats_cluster, start_postgres
from spaceport.events import EventRegistry
from spaceport.eventstore import EventStore
from spaceport.settings import Settings
from spaceport.testing.faults import (
    RetryingWriter,
    all_values,
    kill9,
    listed_events,
    ok,
    own_infra,
    retried,
    server_dir,
    sheet_in_new_space,
    wait_for,
)
from spaceport.testing.infra import InfraUrls
from spaceport.testing.platform import Platform, running_platform
from spaceport.testing.sse import EventStream

TOTAL = 8_000
PER_REQUEST = 200  # 40 requests, 40 commit:created events
FAULT_AFTER = 10  # requests answered before the fault
CSV_ROWS = 5_000


def commits(events: list[dict[str, Any]], sheet: str) -> int:
    """The sheet's commit:created events among `events` (the space may hold other sheets)."""
    return sum(1 for e in events if e["topic"] == "commit:created" and e["context"].get("sheetId") == sheet)


def commits_listed(api: httpx.Client, space: str, sheet: str) -> int:
    return commits(listed_events(api, space, deadline=time.monotonic() + 60), sheet)


def check_rows_once(api: httpx.Client, sheet: str) -> None:
    """Every row the writer sent, exactly once (no retry wrote twice, none was lost)."""
    values = all_values(api, sheet, deadline=time.monotonic() + 60)
    assert len(values) == TOTAL, f"{len(values)} records for {TOTAL} rows"
    assert sorted(values) == list(range(TOTAL))


def check_consumers_resumed(api: httpx.Client, space: str, sheet: str) -> None:
    """The feed's consumer resumed: one commit:created per request (retries included once)."""
    every = TOTAL // PER_REQUEST
    wait_for(lambda: commits_listed(api, space, sheet) >= every, "the feed lists every commit", interval=0.5)
    assert commits_listed(api, space, sheet) == TOTAL // PER_REQUEST


def check_sse(api: httpx.Client, space: str, sheet: str, follower: EventStream) -> None:
    """The subscriber got every event of the space after its cursor, once, in order."""
    every = TOTAL // PER_REQUEST
    wait_for(lambda: commits(list(follower.received), sheet) >= every, "the SSE subscriber saw every commit")
    listed = [e["id"] for e in listed_events(api, space, deadline=time.monotonic() + 60)]
    expected = listed[listed.index(follower.after) + 1 :]
    wait_for(lambda: len(follower.received) >= len(expected), "the SSE subscriber caught up with the list")
    follower.stop()
    received = [e["id"] for e in follower.received]
    assert len(received) == len(set(received)), "no event twice"
    assert received == expected, "every event of the space, in order"


def follow(platform: Platform, api: httpx.Client, space: str) -> EventStream:
    """An SSE subscriber of the space from its last event so far (its sheet:created)."""
    deadline = time.monotonic() + 30
    while True:
        events = listed_events(api, space, deadline=deadline)
        if any(e["topic"] == "sheet:created" for e in events):
            break
        assert time.monotonic() < deadline, "no sheet:created in the feed"
        time.sleep(0.2)
    headers = {"Authorization": f"Bearer {platform.secret_key}"}
    follower = EventStream(platform.api, headers, params={"spaceId": space}, after=events[-1]["id"], retry=0.5)
    follower.start()
    wait_for(lambda: follower.connections >= 1, "the SSE subscriber connected")
    return follower


def upload_csv(api: httpx.Client, space: str, rows: int) -> str:
    environment = ok(api.get("/environments/current"))["id"]
    content = "name,n\n" + "".join(f"p{i},{i}\n" for i in range(rows))
    form = {"spaceId": space, "environmentId": environment}
    files = {"file": ("people.csv", content.encode(), "text/csv")}
    file_id: str = ok(api.post("/files", data=form, files=files))["id"]
    return file_id


def finished_job(api: httpx.Client, file_id: str, timeout: float = 90.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        jobs: list[dict[str, Any]] = ok(retried(api, "GET", "/jobs", params={"fileId": file_id}, deadline=deadline))
        done = [j for j in jobs if j["status"] in ("complete", "failed")]
        if done:
            return done[0]
        assert time.monotonic() < deadline, f"the extract job is stuck: {jobs}"
        time.sleep(0.5)


@contextmanager
def clients(platform: Platform) -> Iterator[tuple[httpx.Client, httpx.Client]]:
    """The test's client and the writer's (its own thread)."""
    with platform.client(timeout=30) as api, platform.client(timeout=30) as writing:
        yield api, writing


@pytest.mark.timeout(150)
def test_kill9_nats_mid_import_consumers_and_sse_resume_and_rows_land_once(infra: InfraUrls, tmp_path: Path) -> None:
    with (
        own_infra(infra) as (urls, nats_server, _),
        running_platform(urls, tmp_path / "platform") as platform,
        clients(platform) as (api, writing),
    ):
        space, sheet = sheet_in_new_space(api, "nats fault")
        follower = follow(platform, api, space)
        writer = RetryingWriter(writing, sheet, TOTAL, PER_REQUEST)
        writer.start()
        wait_for(lambda: writer.sent >= FAULT_AFTER or bool(writer.failures), "the writer got going")
        at_fault = writer.sent

        nats_server.kill()
        time.sleep(2.0)
        nats_server.restart()

        writer.join()
        check_rows_once(api, sheet)
        check_consumers_resumed(api, space, sheet)
        check_sse(api, space, sheet, follower)
        assert at_fault < TOTAL // PER_REQUEST, "the fault came in the middle of the import"


@pytest.mark.timeout(150)
def test_kill9_postgres_mid_import_rows_land_once_and_the_job_ends_with_an_outcome(
    infra: InfraUrls, tmp_path: Path
) -> None:
    with (
        own_infra(infra) as (urls, _, postgres),
        running_platform(urls, tmp_path / "platform") as platform,
        clients(platform) as (api, writing),
    ):
        space, sheet = sheet_in_new_space(api, "postgres fault")
        follower = follow(platform, api, space)
        file_id = upload_csv(api, space, CSV_ROWS)
        writer = RetryingWriter(writing, sheet, TOTAL, PER_REQUEST)
        writer.start()
        wait_for(lambda: writer.sent >= FAULT_AFTER or bool(writer.failures), "the writer got going")
        at_fault = writer.sent

        postgres.kill()
        time.sleep(2.0)
        postgres.restart()

        writer.join()
        check_rows_once(api, sheet)
        check_consumers_resumed(api, space, sheet)
        check_sse(api, space, sheet, follower)
        assert at_fault < TOTAL // PER_REQUEST, "the fault came in the middle of the import"

        job = finished_job(api, file_id)
        assert job["outcome"] and job["outcome"].get("message"), job
        if job["status"] == "complete":
            extracted = ok(api.get(f"/files/{file_id}"))
            values = all_values(api, extracted["sheetId"], deadline=time.monotonic() + 60)
            assert sorted(int(v) for v in values) == list(range(CSV_ROWS))


async def _create_streams(url: str, settings: Settings) -> None:
    """The R3 streams, before the services start: six services creating them at once on a
    just-formed cluster time out (a service then exits at start; supervision restarts it)."""
    nc = await nats.connect(url)
    try:
        await EventStore(nc, EventRegistry(), stream=settings.event_stream).ensure_stream(3)
        await nc.jetstream(timeout=30).add_stream(relay.stream_config(settings))
    finally:
        await nc.close()


async def _stream_leader(url: str, stream: str) -> str:
    nc = await nats.connect(url)
    try:
        info = await nc.jetstream().stream_info(stream)
        assert info.config.num_replicas == 3
        assert info.cluster is not None and info.cluster.leader is not None
        return info.cluster.leader
    finally:
        await nc.close()


@pytest.mark.timeout(150)
def test_losing_one_node_of_a_3_node_cluster_mid_import_loses_nothing_acknowledged(
    infra: InfraUrls, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with server_dir() as base:
        _lose_a_node(infra, tmp_path, base, monkeypatch)


def _lose_a_node(infra: InfraUrls, tmp_path: Path, base: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cluster: NatsClusterHandle = start_nats_cluster(base / "cluster", sync_always=True)
    postgres = start_postgres(base / "postgres", durable=False)
    monkeypatch.setenv("SPACEPORT_STREAM_REPLICAS", "3")
    asyncio.run(_create_streams(cluster.nodes[0].url, Settings(stream_replicas=3)))
    urls = InfraUrls(
        nats_url=cluster.nodes[0].url,  # the others are learnt from the cluster (reconnects go there)
        database_url=postgres.dsn,
        s3_endpoint=infra.s3_endpoint,
        s3_access_key=infra.s3_access_key,
        s3_secret_key=infra.s3_secret_key,
    )
    try:
        with running_platform(urls, tmp_path / "platform") as platform, clients(platform) as (api, writing):
            space, sheet = sheet_in_new_space(api, "cluster fault")
            writer = RetryingWriter(writing, sheet, TOTAL, PER_REQUEST)
            writer.start()
            wait_for(lambda: writer.sent >= FAULT_AFTER or bool(writer.failures), "the writer got going")
            at_fault = writer.sent

            # The node that leads the event stream: the hardest one to lose.
            leader = asyncio.run(_stream_leader(cluster.nodes[1].url, Settings().event_stream))
            lost = next(i for i in range(3) if leader == f"n{i}")
            kill9(cluster.nodes[lost].process)

            writer.join()
            check_rows_once(api, sheet)
            check_consumers_resumed(api, space, sheet)
            assert at_fault < TOTAL // PER_REQUEST, "the node was lost in the middle of the import"
    finally:
        postgres.stop()
        cluster.stop()
