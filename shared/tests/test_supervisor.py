"""The restart policy of `make run` and the test platform: backoff, reports, restarts, shutdown."""

from __future__ import annotations

import signal
import sys
from pathlib import Path

import pytest

from spaceport.devinfra.process import ManagedProcess
from spaceport.devinfra.supervisor import Backoff, Crashed, Report, Restarted, Supervisor, describe_exit

pytestmark = pytest.mark.unit


class FakeChild:
    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.returncode: int | None = None
        self.notes: list[str] = []
        self.stopped = 0

    def log_tail(self, lines: int = 40) -> str:
        return f"last words of {self.pid}"

    def note(self, line: str) -> None:
        self.notes.append(line)

    def stop(self, timeout: float = 10.0) -> int:
        self.stopped += 1
        if self.returncode is None:
            self.returncode = -int(signal.SIGTERM)
        return self.returncode


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


class Rig:
    """A supervisor over fake children and a fake clock."""

    def __init__(self) -> None:
        self.clock = Clock()
        self.started: dict[str, list[FakeChild]] = {}
        self.reports: list[Report] = []
        self.supervisor = Supervisor(self._start, report=self.reports.append, clock=self.clock)

    def _start(self, name: str) -> FakeChild:
        child = FakeChild(pid=1000 + sum(len(v) for v in self.started.values()))
        self.started.setdefault(name, []).append(child)
        return child

    def crash(self, name: str, code: int = 1) -> None:
        self.started[name][-1].returncode = code

    def at(self, seconds: float) -> list[Report]:
        self.clock.now += seconds
        return self.supervisor.tick()


def test_backoff_doubles_to_its_maximum_and_starts_over_after_a_long_uptime() -> None:
    backoff = Backoff(initial=0.5, maximum=30.0, reset_after=60.0)
    delays = [backoff.delay(uptime=1.0) for _ in range(9)]
    assert delays == [0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 30.0, 30.0, 30.0]
    assert backoff.delay(uptime=60.0) == 0.5
    assert backoff.delay(uptime=59.0) == 1.0


def test_a_crashed_child_is_reported_then_restarted_after_its_delay() -> None:
    rig = Rig()
    rig.supervisor.start(["space", "record"])
    assert rig.at(1.0) == []
    rig.crash("record", -int(signal.SIGKILL))

    [crashed] = rig.at(2.0)
    assert crashed == Crashed("record", -9, uptime=3.0, delay=0.5, tail="last words of 1001")
    assert str(crashed) == "service record was killed by SIGKILL after 3.0s; restarting in 0.5s"
    assert rig.started["record"][0].notes[-1].endswith(str(crashed))  # appended to its log too
    assert not rig.supervisor.is_up("record")
    assert rig.at(0.4) == []  # still waiting

    [restarted] = rig.at(0.1)
    assert restarted == Restarted("record", pid=1002, restarts=1)
    assert rig.started["record"][0].stopped == 1  # what the dead one left behind is swept
    assert rig.supervisor.is_up("record") and rig.supervisor.child("record").pid == 1002
    assert len(rig.started["space"]) == 1  # the others are untouched
    assert rig.reports == [crashed, restarted]


def test_a_crash_loop_backs_off_and_a_stable_run_resets_the_delay() -> None:
    rig = Rig()
    rig.supervisor.start(["file"])
    delays = []
    for _ in range(4):
        rig.crash("file")
        [crashed] = rig.at(0.1)
        assert isinstance(crashed, Crashed)
        delays.append(crashed.delay)
        [restarted] = rig.at(crashed.delay)
        assert isinstance(restarted, Restarted)
    assert delays == [0.5, 1.0, 2.0, 4.0]

    rig.at(61.0)  # up for a minute
    rig.crash("file", 3)
    [crashed] = rig.at(0.1)
    assert isinstance(crashed, Crashed)
    assert (crashed.delay, crashed.code) == (0.5, 3)
    assert rig.supervisor.restarts("file") == 4


def test_first_dead_names_a_child_that_died_before_supervision() -> None:
    rig = Rig()
    rig.supervisor.start(["space", "gateway"])
    assert rig.supervisor.first_dead() is None
    rig.crash("gateway", 2)
    assert rig.supervisor.first_dead() == "gateway"


def test_nothing_is_restarted_once_stopping_began() -> None:
    rig = Rig()
    rig.supervisor.start(["space", "job"])
    rig.crash("job")
    handed: list[object] = []
    rig.supervisor.stop_all(handed.extend)
    assert handed == [rig.started["space"][0], rig.started["job"][0]]
    assert rig.at(60.0) == []
    assert len(rig.started["job"]) == 1


def test_exit_descriptions() -> None:
    assert describe_exit(1) == "exited with code 1"
    assert describe_exit(-int(signal.SIGTERM)) == "was killed by SIGTERM"
    assert describe_exit(-200) == "was killed by signal 200"


def test_a_real_process_killed_is_restarted_and_its_log_tells_why(tmp_path: Path) -> None:
    """With ManagedProcess: the crash line goes into the same log the child writes."""
    log = tmp_path / "sleeper.log"

    def start(name: str) -> ManagedProcess:
        argv = [sys.executable, "-c", "import time; print('up', flush=True); time.sleep(60)"]
        return ManagedProcess.start(name, argv, log)

    clock = Clock()
    supervisor = Supervisor(start, clock=clock)
    supervisor.start(["sleeper"])
    first = supervisor.child("sleeper")
    try:
        first.stop(5.0)
        clock.now += 1.0
        [crashed] = supervisor.tick()
        clock.now += 1.0
        [restarted] = supervisor.tick()
        assert isinstance(crashed, Crashed) and isinstance(restarted, Restarted)
        assert supervisor.child("sleeper").pid != first.pid and supervisor.is_up("sleeper")
        text = log.read_text()
        assert "sleeper was killed by SIGTERM after 1.0s; restarting in 0.5s" in text
        assert text.count("starting sleeper") == 2
    finally:
        supervisor.stop_all(lambda children: [c.stop(5.0) for c in children])
    assert not supervisor.is_up("sleeper")
