"""The whole platform as real processes for end-to-end tests: six services on the test servers.

Spans from every process go to one JSON-lines file so a test can follow a trace across them.
"""

from __future__ import annotations

import os
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from spaceport.devinfra.process import ManagedProcess, free_port, log_tail
from spaceport.testing.infra import InfraUrls

SERVICES = ("space", "workbook", "record", "file", "job", "gateway")
BUCKET = "spaceport-test"
MAX_FILE_SIZE = 50 * 1024 * 1024  # small enough that a test can stream a 413 quickly


@dataclass(frozen=True)
class Platform:
    base_url: str  # http://127.0.0.1:<port>
    secret_key: str  # the development environment's secret key
    trace_file: Path
    log_dir: Path

    @property
    def api(self) -> str:
        return f"{self.base_url}/v1"

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
    }
    log_dir = work_dir / "logs"
    children = [
        ManagedProcess.start(name, [sys.executable, "-m", f"{name}_service"], log_dir / f"{name}.log", env=env)
        for name in SERVICES
    ]
    try:
        platform = Platform(f"http://127.0.0.1:{port}", secret, trace_file, log_dir)
        _wait_healthy(platform, children)
        yield platform
    finally:
        for child in children:
            child.stop(10.0)


def _wait_healthy(platform: Platform, children: list[ManagedProcess], timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        dead = [c for c in children if not c.is_running()]
        if dead:
            raise RuntimeError(f"{dead[0].name} exited:\n{log_tail(dead[0].log_path)}")
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
    tails = "\n".join(f"--- {c.name}\n{log_tail(c.log_path, 15)}" for c in children)
    raise RuntimeError(f"platform not healthy after {timeout}s\n{tails}")
