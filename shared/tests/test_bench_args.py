"""`python -m spaceport.bench` answers --help and a wrong argument without starting anything."""

from __future__ import annotations

import pytest

from spaceport.bench import __main__ as bench
from spaceport.bench import harness

pytestmark = pytest.mark.unit


@pytest.fixture(autouse=True)
def no_servers(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse() -> None:
        raise AssertionError("the bench started its servers")

    monkeypatch.setattr(harness, "servers", refuse)


def test_help_prints_the_usage_and_the_parts(capsys: pytest.CaptureFixture[str]) -> None:
    assert bench.main(["--help"]) == 0
    out = capsys.readouterr().out
    assert "usage: python -m spaceport.bench [--quick] [part ...]" in out
    assert " ".join(bench.PARTS) in out


@pytest.mark.parametrize("args", [["--quik"], ["records", "recrods"], ["-x"]])
def test_a_wrong_argument_runs_nothing_and_says_what_is_accepted(
    args: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert bench.main(args) == 2
    out = capsys.readouterr().out
    assert "is neither --quick nor a bench part; nothing ran" in out
    assert "parts, in the order they run" in out
