"""The dev/test infrastructure really works: real servers, real clients, no mocks."""

from __future__ import annotations

import io
import signal
import socket
import sys
import time
from pathlib import Path

import asyncpg
import nats
import pytest
import urllib3
from minio import Minio

from spaceport.devinfra import servers
from spaceport.devinfra.process import (
    InfraStartError,
    ManagedProcess,
    free_port,
    port_is_free,
    wait_for_tcp,
    wait_until,
)
from spaceport.testing.infra import InfraUrls


async def test_jetstream_publish_and_consume(infra: InfraUrls, unique_name: str) -> None:
    nc = await nats.connect(infra.nats_url)
    try:
        js = nc.jetstream()
        subject = f"{unique_name}.hello"
        await js.add_stream(name=unique_name.upper(), subjects=[f"{unique_name}.>"])
        ack = await js.publish(subject, b"payload")
        assert ack.seq == 1

        sub = await js.pull_subscribe(subject, durable=unique_name)
        [msg] = await sub.fetch(1, timeout=5)
        await msg.ack()
        assert msg.data == b"payload"
        await js.delete_stream(unique_name.upper())
    finally:
        await nc.close()


async def test_postgres_query_and_ddl(infra: InfraUrls, unique_name: str) -> None:
    conn = await asyncpg.connect(infra.database_url)
    try:
        assert await conn.fetchval("SELECT 1") == 1
        # A schema per test keeps tests independent on the shared session database.
        await conn.execute(f"CREATE SCHEMA {unique_name}")
        await conn.execute(f"SET search_path TO {unique_name}")
        await conn.execute("CREATE TABLE t (id int PRIMARY KEY, v text)")
        await conn.execute("INSERT INTO t VALUES ($1, $2)", 1, "x")
        assert await conn.fetchval("SELECT v FROM t WHERE id = $1", 1) == "x"
        await conn.execute(f"DROP SCHEMA {unique_name} CASCADE")
    finally:
        await conn.close()


def test_s3_put_and_get(infra: InfraUrls, unique_name: str) -> None:
    http = urllib3.PoolManager()
    try:
        client = Minio(
            infra.s3_endpoint.removeprefix("http://"),
            access_key=infra.s3_access_key,
            secret_key=infra.s3_secret_key,
            secure=False,
            http_client=http,
        )
        client.make_bucket(unique_name)
        client.put_object(unique_name, "dir/hello.txt", io.BytesIO(b"hello"), length=5)
        response = client.get_object(unique_name, "dir/hello.txt")
        try:
            assert response.read() == b"hello"
        finally:
            response.close()
            response.release_conn()
        client.remove_object(unique_name, "dir/hello.txt")
        client.remove_bucket(unique_name)
    finally:
        http.clear()


# A child that swallows SIGTERM, like a server with a stuck shutdown hook.
_STUBBORN = (
    "import signal, time\nsignal.signal(signal.SIGTERM, signal.SIG_IGN)\nprint('ready', flush=True)\ntime.sleep(60)\n"
)


def test_stop_escalates_to_sigkill(tmp_path: Path) -> None:
    log = tmp_path / "stubborn.log"
    proc = ManagedProcess.start("stubborn", [sys.executable, "-c", _STUBBORN], log)
    wait_until(lambda: "ready" in log.read_text(), 10, "child to ignore SIGTERM", proc)

    started = time.monotonic()
    code = proc.stop(timeout=0.5)

    assert code == -signal.SIGKILL
    assert 0.5 <= time.monotonic() - started < 5
    assert not proc.is_running()


def test_stop_uses_polite_signal_first(tmp_path: Path) -> None:
    proc = ManagedProcess.start(
        "sleeper", [sys.executable, "-c", "import time; time.sleep(60)"], tmp_path / "sleeper.log"
    )
    assert proc.stop(timeout=5) == -signal.SIGTERM


def test_wait_until_reports_death_with_log_tail(tmp_path: Path) -> None:
    proc = ManagedProcess.start(
        "crasher",
        [sys.executable, "-c", "import sys; print('boom: bad config', flush=True); sys.exit(3)"],
        tmp_path / "crasher.log",
    )
    with pytest.raises(InfraStartError, match=r"(?s)exited with code 3.*boom: bad config"):
        wait_until(lambda: False, 10, "something that never happens", proc)


def test_wait_for_tcp_times_out_clearly() -> None:
    port = free_port()
    with pytest.raises(InfraStartError, match=f"timed out .* 127.0.0.1:{port}"):
        wait_for_tcp("127.0.0.1", port, timeout=0.3)


def test_port_is_free_sees_listeners() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        assert not port_is_free(s.getsockname()[1])
    assert port_is_free(free_port())


def test_shared_buffers_is_a_quarter_of_memory_within_bounds() -> None:
    gib = 2**30
    assert servers.shared_buffers(8 * gib) == "2048MB"
    assert servers.shared_buffers(64 * gib) == f"{servers.SHARED_BUFFERS_MAX_MB}MB"
    assert servers.shared_buffers(gib // 4) == f"{servers.SHARED_BUFFERS_MIN_MB}MB"
    assert servers.shared_buffers(None) == f"{servers.SHARED_BUFFERS_MIN_MB}MB"


def test_machine_memory_takes_a_lower_cgroup_limit(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    limit = tmp_path / "memory.max"
    monkeypatch.setattr(servers, "_CGROUP_MEMORY", limit)
    limit.write_text("max\n")
    physical = servers.machine_memory()
    assert physical is not None and physical > 2**20
    limit.write_text(f"{2**20}\n")
    assert servers.machine_memory() == 2**20
    limit.write_text(f"{physical * 2}\n")  # a limit above the machine's memory changes nothing
    assert servers.machine_memory() == physical


async def test_embedded_postgres_sizes_its_buffers_and_takes_the_operators_setting(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The default shared_buffers reaches the server, and SPACEPORT_POSTGRES_SETTINGS overrides it
    (given after it on the command line: the last one wins)."""

    async def shown(handle: servers.PostgresHandle) -> str:
        conn = await asyncpg.connect(handle.dsn)
        try:
            return str(await conn.fetchval("SHOW shared_buffers"))
        finally:
            await conn.close()

    monkeypatch.setenv("SPACEPORT_POSTGRES_SETTINGS", "shared_buffers=160MB")
    handle = servers.start_postgres(tmp_path / "pg", durable=False)
    try:
        assert await shown(handle) == "160MB"
    finally:
        handle.stop()
    monkeypatch.delenv("SPACEPORT_POSTGRES_SETTINGS")
    handle = servers.start_postgres(tmp_path / "pg", durable=False)
    try:
        expected = int(servers.shared_buffers(servers.machine_memory()).removesuffix("MB"))
        value = await shown(handle)  # Postgres shows e.g. 4GB for 4096MB
        unit = {"MB": 1, "GB": 1024}[value[-2:]]
        assert int(value[:-2]) * unit == expected
    finally:
        handle.stop()
