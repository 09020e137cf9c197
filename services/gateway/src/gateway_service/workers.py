"""How many gateway processes serve the port, and the rate limit each of them enforces."""

import os

MAX_AUTO_WORKERS = 8


class WorkersError(ValueError):
    """GATEWAY_WORKERS is neither `auto` nor a whole number from 1 up."""


def worker_count(value: str, cores: int) -> int:
    """`auto` (or empty): one per usable core, 1 to MAX_AUTO_WORKERS; otherwise the number given."""
    text = value.strip().lower()
    if text in ("", "auto"):
        return max(1, min(cores, MAX_AUTO_WORKERS))
    try:
        count = int(text)
    except ValueError:
        count = 0
    if count < 1:
        raise WorkersError(
            f"GATEWAY_WORKERS={value!r} is not a worker count; set it to a whole number from 1 up, or to `auto`"
        )
    return count


def configured_workers() -> int:
    """The gateway's worker count from GATEWAY_WORKERS (default `auto`) and the cores this
    process may run on (the bench's granian ceiling uses the same count)."""
    return worker_count(os.environ.get("GATEWAY_WORKERS", "auto"), len(os.sched_getaffinity(0)))


def split_rate_limit(per_second: float, burst: int, workers: int) -> dict[str, str]:
    """The per-key limit of one worker, as environment variables, so that `workers` of them
    together allow what the operator configured (connections are spread over the workers)."""
    return {
        "SPACEPORT_RATE_LIMIT_PER_SECOND": repr(per_second / workers),
        "SPACEPORT_RATE_LIMIT_BURST": str(max(1, burst // workers)),
    }
