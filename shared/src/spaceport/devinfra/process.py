"""Child-process plumbing for the dev/test infrastructure (NATS, Postgres, SeaweedFS, services).

Every server runs in its own process group so that stopping it also reaches the helper
processes it forks (Postgres backends, SeaweedFS' embedded servers), and so that a Ctrl-C
in the terminal is delivered to the launcher only, which then stops children in order.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "InfraStartError",
    "ManagedProcess",
    "free_port",
    "port_is_free",
    "wait_for_tcp",
    "wait_until",
]


class InfraStartError(RuntimeError):
    """A server or service did not become ready; the message carries its log tail."""


def log_tail(path: Path, lines: int = 40, start: int = 0) -> str:
    """Last `lines` lines of a log file from byte `start` on (empty if it does not exist)."""
    try:
        with path.open("rb") as f:
            f.seek(0, os.SEEK_END)
            size = f.tell()
            # Logs can be large after a long dev session; 64 KiB is plenty for 40 lines.
            f.seek(max(start, size - 65536))
            data = f.read()
    except FileNotFoundError:
        return ""
    return "\n".join(data.decode("utf-8", "replace").splitlines()[-lines:])


@dataclass
class ManagedProcess:
    """A child process in its own session, whose output goes to a log file."""

    name: str
    popen: subprocess.Popen[bytes]
    log_path: Path
    stop_signal: signal.Signals = signal.SIGTERM
    # Where this run's output begins: logs are appended to across runs.
    log_offset: int = 0

    @classmethod
    def start(
        cls,
        name: str,
        argv: Sequence[str | os.PathLike[str]],
        log_path: Path,
        *,
        env: Mapping[str, str] | None = None,
        cwd: Path | None = None,
        user: int | None = None,
        group: int | None = None,
        stop_signal: signal.Signals = signal.SIGTERM,
    ) -> ManagedProcess:
        """Start `argv` with stdout+stderr appended to `log_path`.

        `user`/`group` (uids/gids) drop privileges in the child; needed because Postgres
        refuses to run as root. `stop_signal` is what `stop()` sends first.
        """
        log_path.parent.mkdir(parents=True, exist_ok=True)
        # The child inherits the descriptor, so it can write the log even when running as
        # an unprivileged user that could not open the file itself.
        with log_path.open("ab") as log:
            offset = log.tell()
            log.write(f"\n--- {time.strftime('%Y-%m-%d %H:%M:%S')} starting {name}\n".encode())
            log.flush()
            popen = subprocess.Popen(
                [os.fspath(a) for a in argv],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=dict(env) if env is not None else None,
                cwd=cwd,
                user=user,
                group=group,
                extra_groups=[] if group is not None else None,
                start_new_session=True,
            )
        return cls(name=name, popen=popen, log_path=log_path, stop_signal=stop_signal, log_offset=offset)

    @property
    def pid(self) -> int:
        return self.popen.pid

    def is_running(self) -> bool:
        return self.popen.poll() is None

    @property
    def returncode(self) -> int | None:
        return self.popen.poll()

    def log_tail(self, lines: int = 40) -> str:
        return log_tail(self.log_path, lines, self.log_offset)

    def note(self, line: str) -> None:
        """Append a line of our own to the process's log (e.g. the supervisor's crash report)."""
        with self.log_path.open("a") as log:
            log.write(line + "\n")

    def stop(self, timeout: float = 10.0) -> int:
        """Signal the process group, wait up to `timeout` s, then SIGKILL it. Returns exit code.

        Escalation matters: SeaweedFS' volume server lingers after SIGTERM and a dev stack
        that hangs on Ctrl-C is worse than one that needs crash recovery on the next start.
        """
        if self.popen.poll() is None:
            self._signal_group(self.stop_signal)
            try:
                self.popen.wait(timeout)
            except subprocess.TimeoutExpired:
                self._signal_group(signal.SIGKILL)
                self.popen.wait()
        # Sweep leftovers of the group (children that outlived their parent) so no orphan
        # keeps a port or a data directory busy.
        self._signal_group(signal.SIGKILL)
        return self.popen.returncode

    def _signal_group(self, sig: signal.Signals) -> None:
        # start_new_session=True made the child the leader of a group whose id is its pid.
        with contextlib.suppress(ProcessLookupError, PermissionError):  # group already gone
            os.killpg(self.popen.pid, sig)


_HANDED_OUT: set[int] = set()
_HANDED_OUT_LOCK = threading.Lock()


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port the OS considers free right now and this process has not handed out before.

    Racy by nature against other processes, but never twice the same port within one process:
    servers started concurrently (nats, Postgres, SeaweedFS's eight listeners) would otherwise
    be handed the same just-released port and one of them would find it taken.
    """
    for _ in range(64):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            s.bind((host, 0))
            port: int = s.getsockname()[1]
        with _HANDED_OUT_LOCK:
            if port not in _HANDED_OUT:
                _HANDED_OUT.add(port)
                return port
    raise OSError("no fresh free TCP port after 64 tries")


def port_is_free(port: int, host: str = "127.0.0.1") -> bool:
    """True if nothing listens on host:port and we could bind it."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        # Without SO_REUSEADDR, TIME_WAIT leftovers of a just-stopped server would look busy.
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError:
            return False
        return True


def wait_until(
    predicate: Callable[[], bool],
    timeout: float,
    what: str,
    process: ManagedProcess | None = None,
    interval: float = 0.1,
) -> None:
    """Poll `predicate` until it returns True.

    Exceptions from the predicate count as "not yet" (servers refuse connections while
    booting); the last one is reported if we give up. Fails fast if `process` exits.
    """
    deadline = time.monotonic() + timeout
    last_error: BaseException | None = None
    while True:
        try:
            if predicate():
                return
        except Exception as exc:
            last_error = exc
        if process is not None and not process.is_running():
            raise InfraStartError(
                _failure_message(
                    f"{process.name} exited with code {process.returncode} while waiting for {what}",
                    process,
                    last_error,
                )
            )
        if time.monotonic() >= deadline:
            raise InfraStartError(
                _failure_message(f"timed out after {timeout:.0f}s waiting for {what}", process, last_error)
            )
        time.sleep(interval)


def wait_for_tcp(host: str, port: int, timeout: float, process: ManagedProcess | None = None) -> None:
    """Wait until something accepts TCP connections on host:port."""

    def connectable() -> bool:
        with socket.create_connection((host, port), timeout=1.0):
            return True

    wait_until(connectable, timeout, f"{host}:{port} to accept connections", process)


def _failure_message(headline: str, process: ManagedProcess | None, last_error: BaseException | None) -> str:
    parts = [headline]
    if last_error is not None:
        parts.append(f"last error: {type(last_error).__name__}: {last_error}")
    if process is not None:
        parts.append(f"--- last lines of {process.log_path} ---\n{process.log_tail()}")
    return "\n".join(parts)
