"""The platform every bench part drives: each service as a real process on the bench's servers,
started once per run, and a sampler of every process's resident memory for the whole run.

The bench hammers the API with one secret key, so the gateway's per-key rate limit is raised
(SPACEPORT_RATE_LIMIT_PER_SECOND / _BURST) for the run: the figures measure the stack, not the
limiter. Every other setting is the services' default.
"""

from __future__ import annotations

import contextlib
import os
import resource
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import psutil  # type: ignore[import-untyped]  # no stubs; pyproject is not ours to change

from spaceport.bench.harness import Figure, Servers, slug
from spaceport.devinfra.process import ManagedProcess, free_port

SERVICES = ("space", "workbook", "record", "file", "job", "gateway")
SAMPLE_EVERY = 0.5  # seconds between RSS samples
MIB = 1024 * 1024


@dataclass
class Peak:
    name: str
    bytes: int = 0


@dataclass
class RssSampler:
    """Samples the RSS of every process in `groups` (leader pid and its descendants) in a thread."""

    groups: dict[str, int]
    peaks: dict[int, Peak] = field(default_factory=dict)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="bench-rss", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)
        self.sample()  # and the exact high-water marks of whatever still runs

    def _loop(self) -> None:
        while not self._stop.wait(SAMPLE_EVERY):
            self.sample()

    def sample(self) -> None:
        for group, leader in self.groups.items():
            try:
                root = psutil.Process(leader)
                processes = [root, *root.children(recursive=True)]
            except psutil.Error:
                continue
            for process in processes:
                with contextlib.suppress(psutil.Error):
                    rss = max(process.memory_info().rss, _hwm(process.pid))
                    name = group if process.pid == leader else f"{group} child {process.name()}"
                    peak = self.peaks.setdefault(process.pid, Peak(name))
                    peak.bytes = max(peak.bytes, rss)

    def figures(self) -> list[Figure]:
        """Per process: peak RSS in MiB (postgres backends and weed helpers: the highest one)."""
        found: list[Figure] = []
        by_group: dict[str, list[tuple[int, Peak]]] = {}
        for pid, peak in self.peaks.items():
            by_group.setdefault(peak.name.split(" child ")[0], []).append((pid, peak))
        for group, peaks in by_group.items():
            leader = self.groups[group]
            if group in ("postgres", "seaweedfs") and len(peaks) > 1:
                pid, top = max(peaks, key=lambda p: p[1].bytes)
                note = f"highest of {len(peaks)} processes seen (pid {pid})"
                if group == "postgres":
                    note += "; shared buffers count in each backend"
                found.append(_figure(group, group, top.bytes, note))
                continue
            for pid, peak in sorted(peaks, key=lambda p: (p[0] != leader, p[0])):
                label = peak.name if pid == leader else f"{peak.name} {pid}"
                found.append(_figure(label, peak.name, peak.bytes, f"pid {pid}"))
        own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # KiB on Linux
        found.append(_figure("bench client (this process)", "bench client", own, "the ceilings' batches included"))
        return found


def _figure(label: str, name: str, rss: int, note: str) -> Figure:
    return Figure(f"peak RSS {label}", rss // 1024, 1024.0, unit="MiB", note=note, key=f"rss_{slug(name)}")


def _hwm(pid: int) -> int:
    """VmHWM (the kernel's own peak RSS) in bytes; 0 if unreadable."""
    with contextlib.suppress(OSError, ValueError, IndexError):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    return 0


@dataclass
class Stack:
    api: str  # http://127.0.0.1:<port>/v1
    secret: str
    children: list[ManagedProcess]
    logs: Path
    servers: Servers
    sampler: RssSampler

    @classmethod
    def start(cls, servers: Servers) -> Stack:
        logs = Path(tempfile.mkdtemp(prefix="spaceport-bench-logs-"))
        port = free_port()
        secret = "sk_bench_" + os.urandom(8).hex()
        env = {
            **os.environ,
            "NATS_URL": servers.nats_url,
            "DATABASE_URL": servers.database_url,
            "S3_ENDPOINT": servers.s3_endpoint,
            "S3_ACCESS_KEY": servers.s3_access_key,
            "S3_SECRET_KEY": servers.s3_secret_key,
            "S3_BUCKET": "spaceport-bench",
            "GATEWAY_PORT": str(port),
            "SPACEPORT_DEV_SECRET_KEY": secret,
            "SPACEPORT_RATE_LIMIT_PER_SECOND": "1000000",
            "SPACEPORT_RATE_LIMIT_BURST": "1000000",
            "OTEL_TRACES_EXPORTER": "none",
            "PYTHONUNBUFFERED": "1",
        }
        children = [
            ManagedProcess.start(name, [sys.executable, "-m", f"{name}_service"], logs / f"{name}.log", env=env)
            for name in SERVICES
        ]
        sampler = RssSampler({**{c.name: c.pid for c in children}, **servers.pids})
        stack = cls(f"http://127.0.0.1:{port}/v1", secret, children, logs, servers, sampler)
        sampler.start()
        try:
            stack.wait_healthy()
        except BaseException:
            stack.stop()
            raise
        return stack

    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.secret}"}

    def dead(self) -> list[ManagedProcess]:
        return [c for c in self.children if not c.is_running()]

    def tails(self, lines: int = 25) -> str:
        return "\n".join(f"--- {c.name} ({c.log_path})\n{c.log_tail(lines)}" for c in self.children)

    def wait_healthy(self, timeout: float = 120.0) -> None:
        """Until /health answers 200 (S3, NATS, Postgres) and the API answers an authorized call."""
        base = self.api.removesuffix("/v1")
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if dead := self.dead():
                raise RuntimeError(f"{dead[0].name} exited:\n{dead[0].log_tail()}")
            try:
                with urllib.request.urlopen(f"{base}/health", timeout=2) as reply:  # noqa: S310 - loopback
                    healthy = reply.status == 200
                current = urllib.request.Request(  # noqa: S310 - loopback
                    f"{self.api}/environments/current", headers=self.headers()
                )
                with urllib.request.urlopen(current, timeout=2) as reply:  # noqa: S310 - loopback
                    if healthy and reply.status == 200:
                        return
            except (OSError, urllib.error.HTTPError):
                pass
            time.sleep(0.25)
        raise RuntimeError(f"the platform was not healthy after {timeout:.0f}s\n{self.tails()}")

    def stop(self) -> None:
        self.sampler.stop()
        for child in self.children:
            child.stop(10.0)
