"""The whole platform as real processes for end-to-end tests: six services on the test servers.

Spans from every process go to one JSON-lines file so a test can follow a trace across them.
The services run under the `make run` launcher's supervisor (a thread ticks it): a service that
dies is restarted with backoff, so fault tests can `kill` one and wait for it to come back.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from spaceport.devinfra.launcher import stop_together
from spaceport.devinfra.process import ManagedProcess, free_port, log_tail
from spaceport.devinfra.supervisor import Backoff, Supervisor
from spaceport.testing.infra import InfraUrls

SERVICES = ("space", "workbook", "record", "file", "job", "gateway")
BUCKET = "spaceport-test"
MAX_FILE_SIZE = 50 * 1024 * 1024  # small enough that a test can stream a 413 quickly
TICK = 0.1  # seconds between the supervisor's looks
STARTUP_CRASHES = 3  # restarts of one service while the platform starts before it counts as broken


@dataclass(frozen=True)
class Platform:
    base_url: str  # http://127.0.0.1:<port>
    secret_key: str  # the development environment's secret key
    trace_file: Path
    log_dir: Path
    supervisor: Supervisor | None = field(default=None, compare=False, repr=False)
    env: dict[str, str] = field(default_factory=dict, compare=False, repr=False)  # what the services run with

    @property
    def api(self) -> str:
        return f"{self.base_url}/v1"

    def pid(self, service: str) -> int:
        return self._supervisor.child(service).pid

    def kill(self, service: str) -> int:
        """`kill -9` the service's main process, as a crash would (its children are left to notice);
        returns the pid killed. The supervisor restarts it."""
        pid = self.pid(service)
        os.kill(pid, signal.SIGKILL)
        return pid

    def wait_restarted(self, service: str, killed: int, timeout: float = 60.0) -> None:
        """Until `service` runs again under a pid other than `killed` and the platform is healthy."""
        deadline = time.monotonic() + timeout
        supervisor = self._supervisor
        while not (supervisor.is_up(service) and self.pid(service) != killed):
            if time.monotonic() > deadline:
                raise RuntimeError(
                    f"{service} not restarted after {timeout}s\n{log_tail(self.log_dir / f'{service}.log')}"
                )
            time.sleep(0.05)
        _wait_healthy(self, supervisor, max(1.0, deadline - time.monotonic()))

    @property
    def _supervisor(self) -> Supervisor:
        if self.supervisor is None:
            raise RuntimeError("this platform runs without a supervisor")
        return self.supervisor

    def client(self, *, timeout: float, base_url: str | None = None) -> httpx.Client:
        """An HTTP client on the API (or `base_url`) authenticated with the secret key."""
        headers = {"Authorization": f"Bearer {self.secret_key}"}
        return httpx.Client(base_url=base_url or self.api, headers=headers, timeout=timeout)


@contextmanager
def running_platform(infra: InfraUrls, work_dir: Path) -> Iterator[Platform]:
    port = free_port()
    secret = "sk_test_" + os.urandom(12).hex()
    trace_file = work_dir / "traces.jsonl"
    env = {
        **os.environ,
        "NATS_URL": infra.nats_url,
        "DATABASE_URL": infra.database_url,
        "S3_ENDPOINT": infra.s3_endpoint,
        "S3_ACCESS_KEY": infra.s3_access_key,
        "S3_SECRET_KEY": infra.s3_secret_key,
        "S3_BUCKET": BUCKET,
        "GATEWAY_PORT": str(port),
        "SPACEPORT_DEV_SECRET_KEY": secret,
        "OTEL_TRACES_EXPORTER": f"file:{trace_file}",
        "SPACEPORT_MAX_FILE_SIZE": str(MAX_FILE_SIZE),
        # the e2e tests insert a few records at a time and were written for the columnar insert
        # path (their bodies of mixed fields take the row path); in production it starts at 500
        "RECORDS_COLUMNAR_MIN": os.environ.get("RECORDS_COLUMNAR_MIN", "1"),
    }
    log_dir = work_dir / "logs"

    def start(name: str) -> ManagedProcess:
        return ManagedProcess.start(name, [sys.executable, "-m", f"{name}_service"], log_dir / f"{name}.log", env=env)

    supervisor = Supervisor(start, backoff=lambda: Backoff(initial=0.2, maximum=5.0))
    supervisor.start(SERVICES)
    done = threading.Event()
    ticking = threading.Thread(target=_tick, args=(supervisor, done), name="platform-supervisor", daemon=True)
    try:
        platform = Platform(f"http://127.0.0.1:{port}", secret, trace_file, log_dir, supervisor, env=env)
        ticking.start()
        _wait_healthy(platform, supervisor, startup=True)
        yield platform
    finally:
        done.set()
        supervisor.stop_all(stop_together)
        if ticking.is_alive():
            ticking.join()


def _tick(supervisor: Supervisor, done: threading.Event) -> None:
    while not done.wait(TICK):
        supervisor.tick()


def _wait_healthy(platform: Platform, supervisor: Supervisor, timeout: float = 60.0, *, startup: bool = False) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        # A service that exits at start is restarted (e.g. a NATS cluster still forming); one that
        # keeps exiting is broken: fail now, with its log, rather than at the timeout.
        broken = [n for n in supervisor.names if supervisor.restarts(n) >= STARTUP_CRASHES] if startup else []
        if broken:
            raise RuntimeError(
                f"{broken[0]} keeps exiting at start:\n{log_tail(platform.log_dir / f'{broken[0]}.log')}"
            )
        try:
            with urllib.request.urlopen(f"{platform.base_url}/health", timeout=2) as reply:  # noqa: S310 - loopback
                healthy = reply.status == 200
            # The space service creates the development environment just after it starts answering:
            # wait for the key too, so a test's first request is not a 401.
            current = urllib.request.Request(  # noqa: S310 - loopback
                f"{platform.api}/environments/current", headers={"Authorization": f"Bearer {platform.secret_key}"}
            )
            with urllib.request.urlopen(current, timeout=2) as reply:  # noqa: S310 - loopback
                if healthy and reply.status == 200:
                    return
        except OSError:  # urllib's HTTPError (a 401 while the key is not there yet) is one
            pass
        time.sleep(0.25)
    tails = "\n".join(f"--- {name}\n{log_tail(platform.log_dir / f'{name}.log', 15)}" for name in supervisor.names)
    raise RuntimeError(f"platform not healthy after {timeout}s\n{tails}")
