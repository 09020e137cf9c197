"""Restart crashed child processes with exponential backoff: the policy, without sleeping.

`Supervisor.tick()` looks at every child once: a child that exited is reported (`Crashed`: exit
code, uptime, the last lines of its log, the delay) and restarted when its delay has passed
(`Restarted`). The delay doubles from `Backoff.initial` to `Backoff.maximum` per crash and starts
over once the child stayed up `Backoff.reset_after` seconds, so a crash loop costs little and a
rare crash comes back at once. The caller owns the loop (`make run`'s launcher, the test
platform's thread) and the clock is injected, so the whole policy is tested without processes.
"""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Protocol

__all__ = ["Backoff", "Child", "Crashed", "Restarted", "Supervisor", "describe_exit"]

TAIL_LINES = 15


@dataclass
class Backoff:
    """Delays between restarts: `initial`, doubling (`factor`) up to `maximum`; reset after
    `reset_after` seconds of uptime."""

    initial: float = 0.5
    maximum: float = 30.0
    factor: float = 2.0
    reset_after: float = 60.0
    _next: float = field(init=False)

    def __post_init__(self) -> None:
        self._next = self.initial

    def delay(self, uptime: float) -> float:
        """The delay before restarting a child that crashed after `uptime` seconds up."""
        if uptime >= self.reset_after:
            self._next = self.initial
        chosen = self._next
        self._next = min(self.maximum, self._next * self.factor)
        return chosen


class Child(Protocol):
    """What the supervisor needs of a process (`ManagedProcess` is one)."""

    @property
    def pid(self) -> int: ...

    @property
    def returncode(self) -> int | None: ...

    def log_tail(self, lines: int = 40) -> str: ...

    def note(self, line: str) -> None: ...

    def stop(self, timeout: float = 10.0) -> int: ...


def describe_exit(code: int) -> str:
    """`exited with code 1`, `was killed by SIGKILL` (Popen reports a signal as -signum)."""
    if code < 0:
        try:
            return f"was killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"was killed by signal {-code}"
    return f"exited with code {code}"


@dataclass(frozen=True)
class Crashed:
    name: str
    code: int
    uptime: float
    delay: float
    tail: str

    def __str__(self) -> str:
        return f"service {self.name} {describe_exit(self.code)} after {self.uptime:.1f}s; restarting in {self.delay:g}s"


@dataclass(frozen=True)
class Restarted:
    name: str
    pid: int
    restarts: int

    def __str__(self) -> str:
        return f"service {self.name} restarted (pid {self.pid}, restart #{self.restarts})"


Report = Crashed | Restarted


@dataclass
class _Slot:
    child: Child
    started_at: float
    backoff: Backoff
    restart_at: float | None = None  # set while the child is down
    restarts: int = 0


class Supervisor:
    """Keeps named children running: `tick()` reports crashes and restarts due children.

    `start(name)` starts a child (the first time too). Thread-safe: the test platform ticks in a
    thread while a test reads pids; `stop_all` ends supervision before stopping the children, so
    nothing is restarted during shutdown.
    """

    def __init__(
        self,
        start: Callable[[str], Child],
        *,
        backoff: Callable[[], Backoff] = Backoff,
        report: Callable[[Report], None] = lambda _: None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._start = start
        self._backoff = backoff
        self._report = report
        self._clock = clock
        self._slots: dict[str, _Slot] = {}
        self._lock = threading.RLock()
        self._stopped = False

    def start(self, names: Iterable[str]) -> None:
        with self._lock:
            for name in names:
                self._slots[name] = _Slot(self._start(name), self._clock(), self._backoff())

    @property
    def names(self) -> list[str]:
        return list(self._slots)

    def child(self, name: str) -> Child:
        with self._lock:
            return self._slots[name].child

    def restarts(self, name: str) -> int:
        with self._lock:
            return self._slots[name].restarts

    def is_up(self, name: str) -> bool:
        with self._lock:
            slot = self._slots[name]
            return slot.restart_at is None and slot.child.returncode is None

    def first_dead(self) -> str | None:
        """The first child that is not running (startup checks, before supervision begins)."""
        with self._lock:
            return next((n for n, s in self._slots.items() if s.child.returncode is not None), None)

    def tick(self) -> list[Report]:
        """One look at every child; returns (and reports) what happened."""
        happened: list[Report] = []
        with self._lock:
            if self._stopped:
                return happened
            now = self._clock()
            for name, slot in self._slots.items():
                found = self._look(name, slot, now)
                if found is not None:
                    happened.append(found)
                    self._report(found)
        return happened

    def _look(self, name: str, slot: _Slot, now: float) -> Report | None:
        if slot.restart_at is None:
            code = slot.child.returncode
            if code is None:
                return None
            uptime = now - slot.started_at
            delay = slot.backoff.delay(uptime)
            slot.restart_at = now + delay
            crashed = Crashed(name, code, uptime, delay, slot.child.log_tail(TAIL_LINES))
            slot.child.note(f"--- {time.strftime('%Y-%m-%d %H:%M:%S')} {crashed}")
            return crashed
        if now < slot.restart_at:
            return None
        slot.child.stop(0)  # sweep what the dead child left in its process group (e.g. a worker on the port)
        slot.child = self._start(name)
        slot.started_at = now
        slot.restart_at = None
        slot.restarts += 1
        return Restarted(name, slot.child.pid, slot.restarts)

    def stop_all(self, stop: Callable[[list[Child]], object]) -> None:
        """End supervision, then hand every child to `stop` (e.g. stopped in parallel)."""
        with self._lock:
            self._stopped = True
            children = [s.child for s in self._slots.values()]
        stop(children)
