"""A bench stopped by SIGTERM (a `timeout`, a `kill`) stops the servers and services it started."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil  # type: ignore[import-untyped]  # no stubs

READY = "platform up at"  # the records part's services answer: every server and service runs
WAIT = 180.0


def test_sigterm_stops_every_server_and_service_the_bench_started(tmp_path: Path) -> None:
    env = {
        **os.environ,
        "BENCH_RECORDS": "100000",  # still inserting (or waiting for its indexes) when the signal comes
        "BENCH_RECORDS_READS": "0",
        "BENCH_RECORDS_RESTORE": "0",
        "BENCH_EVENTS": "1000",
    }
    for name in ("NATS_URL", "DATABASE_URL", "S3_ENDPOINT"):  # its own throwaway servers
        env.pop(name, None)
    log = tmp_path / "bench.log"
    with log.open("w") as out:
        bench = subprocess.Popen(
            [sys.executable, "-m", "spaceport.bench", "records"], stdout=out, stderr=subprocess.STDOUT, env=env
        )
    try:
        deadline = time.monotonic() + WAIT
        while READY not in log.read_text() and bench.poll() is None and time.monotonic() < deadline:
            time.sleep(0.2)
        assert READY in log.read_text(), log.read_text()[-3000:]
        started = psutil.Process(bench.pid).children(recursive=True)
        names = " ".join(p.name() for p in started)
        assert "postgres" in names and "nats-server" in names, names  # the servers and the services
        assert len(started) > 6, names
        bench.send_signal(signal.SIGTERM)
        assert bench.wait(WAIT) == 143, log.read_text()[-3000:]
        assert "bench interrupted: the servers and services it started are stopped" in log.read_text()
        _, alive = psutil.wait_procs(started, timeout=10)
        assert not alive, [(p.pid, p.name()) for p in alive]
    finally:
        if bench.poll() is None:
            bench.kill()
