"""GATEWAY_WORKERS and the rate limit each gateway worker enforces."""

from __future__ import annotations

import pytest

from gateway_service.workers import MAX_AUTO_WORKERS, WorkersError, split_rate_limit, worker_count

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    ("value", "cores", "expected"),
    [("auto", 2, 2), ("", 1, 1), ("AUTO", 64, MAX_AUTO_WORKERS), ("auto", 0, 1), ("3", 2, 3), (" 1 ", 8, 1)],
)
def test_worker_count(value: str, cores: int, expected: int) -> None:
    assert worker_count(value, cores) == expected


@pytest.mark.parametrize("value", ["0", "-2", "two", "1.5"])
def test_a_bad_worker_count_says_what_to_set(value: str) -> None:
    with pytest.raises(WorkersError, match="whole number from 1 up, or to `auto`"):
        worker_count(value, 2)


def test_the_limit_is_split_between_the_workers() -> None:
    assert split_rate_limit(1000.0, 2000, 1) == {
        "SPACEPORT_RATE_LIMIT_PER_SECOND": "1000.0",
        "SPACEPORT_RATE_LIMIT_BURST": "2000",
    }
    split = split_rate_limit(1000.0, 2000, 3)
    assert float(split["SPACEPORT_RATE_LIMIT_PER_SECOND"]) * 3 == pytest.approx(1000.0)
    assert split["SPACEPORT_RATE_LIMIT_BURST"] == "666"
    assert split_rate_limit(0.01, 2, 4)["SPACEPORT_RATE_LIMIT_BURST"] == "1"  # a worker always lets one through
