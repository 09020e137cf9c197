"""`python -m spaceport.bench [--quick] [part ...]`: run the bench parts, write bench/results.json
and print one table of every figure next to its ceiling.

With no part named, every part in PARTS runs, in order, on one set of servers and one shared
platform (every service as a process); the quick profile leaves out FULL_ONLY's parts unless
they are named. `--quick` (`make bench-quick`) applies QUICK's smaller sizes (an environment
variable that is set wins over both profiles); without it FULL's apply.
Each part's figures also go to `.data/bench/<part>.json` as before. A part that fails is
reported (results.json `failures`, its scenarios "skipped" with the error) and the run goes on
to the next; the exit status is then 1. BENCH_STRICT=1 stops at the first failure instead.
"""

from __future__ import annotations

import asyncio
import importlib
import json
import os
import signal
import sys
import traceback
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType
from typing import Any

from spaceport.bench import harness, report
from spaceport.bench.harness import Figure

PARTS: tuple[str, ...] = ("foundation", "rebuild", "records", "events", "concurrency", "imports", "web", "scaleout")
# Parts the quick profile leaves out unless named (`--quick scaleout`): too slow for its two minutes
# (scaleout starts a 3-node NATS cluster and the platform once per replica count).
FULL_ONLY: tuple[str, ...] = ("scaleout",)
RESULTS = Path("bench") / "results.json"

# The knobs each profile sets unless the environment already does (see each part's docstring).
FULL: dict[str, str] = {
    "BENCH_EVENTS": "20000",
    "BENCH_RECORDS": "1000000",
    "BENCH_REBUILD_RECORDS": "1000000",
    "BENCH_IMPORT_SIZES": "100000,1000000",
    "BENCH_CONCURRENCY_SECONDS": "10",
    "BENCH_WEB_RECORDS": "1000000",
    "BENCH_SCALEOUT_RECORDS": "120000",
}
QUICK: dict[str, str] = {
    "BENCH_EVENTS": "2000",
    "BENCH_SINGLE_EVENTS": "500",
    "BENCH_BIG_EVENTS": "25",
    "BENCH_PROJECTION_TIMEOUT": "60",
    "BENCH_RECORDS": "5000",
    "BENCH_RECORDS_BATCH": "1000",
    "BENCH_RECORDS_SAMPLES": "10",
    "BENCH_RECORDS_QUERY_SAMPLES": "5",
    "BENCH_RECORDS_BIG_PAGES": "2",
    "BENCH_REBUILD_RECORDS": "5000",
    "BENCH_FEED_WRITES": "50",
    "BENCH_IMPORT_SIZES": "5000",
    "BENCH_IMPORT_STALL": "60",
    "BENCH_IMPORT_TIMEOUT": "120",
    "BENCH_CONCURRENCY_SECONDS": "1",
    "BENCH_WEB_RECORDS": "5000",
    "BENCH_WEB_SAMPLES": "5",
    "BENCH_WEB_FLINGS": "1",
    "BENCH_WEB_FLING_MS": "500",
    "BENCH_SCALEOUT_RECORDS": "6000",  # only when named: `--quick scaleout`
    "BENCH_SCALEOUT_BATCH": "500",
    # the record service builds per-sheet query indexes from this many records: none in the
    # quick run (waiting for them alone takes ~20 s here); the full run keeps the service's 50,000
    "RECORDS_INDEX_MIN": "100000000",
}


def load(part: str) -> ModuleType | None:
    try:
        return importlib.import_module(f"spaceport.bench.{part}")
    except ModuleNotFoundError as error:
        if error.name != f"spaceport.bench.{part}":
            raise  # the part exists but something it imports is missing: that is a bug
        return None


async def run_parts(
    parts: list[tuple[str, ModuleType]], servers: harness.Servers, profile: str, knobs: dict[str, str]
) -> dict[str, Any]:
    events = harness.env_int("BENCH_EVENTS", 20_000)
    results: list[tuple[str, str, list[Figure]]] = []
    failures: dict[str, str] = {}
    async with harness.connected(servers, events, quick=profile == "quick") as bench:
        info = harness.machine(bench.nc)
        harness.print_header(info)
        for name, module in parts:
            title: str = getattr(module, "TITLE", name)
            bench.progress(f"--- {title}")
            try:
                figures = harness.keyed(name, await module.run(bench))
            except Exception as problem:  # one broken part must not hide every other figure
                if os.environ.get("BENCH_STRICT", "0") == "1":
                    raise
                failures[name] = f"{type(problem).__name__}: {problem}"
                traceback.print_exc()
                bench.progress(f"!!! {name} failed: {failures[name][:2000]}")
                continue
            harness.print_table(title, figures)
            harness.write_json(name, title, info, knobs, figures)
            results.append((name, title, figures))
        if bench.stack_started():
            rss = harness.keyed("rss", bench.rss_figures())
            harness.print_table("peak RSS of every process (sampled during the whole run)", rss)
            results.append(("rss", "peak RSS of every process", rss))
        harness.warn_if_busy("at the end of the run")
    return report.document(profile, info, knobs, results, failures)


def usage() -> str:
    return (
        "usage: python -m spaceport.bench [--quick] [part ...]   (make bench / make bench-quick)\n"
        f"parts, in the order they run: {' '.join(PARTS)} (the quick profile leaves out {' '.join(FULL_ONLY)}"
        " unless named)\n"
        "sizes: the BENCH_* environment variables, set, win over the profile's (see each part's docstring)"
    )


class _TerminatedError(KeyboardInterrupt):
    """SIGTERM (a `timeout`, a `kill`): unwound like Ctrl-C, so that the servers and services the
    run started are stopped instead of outliving it."""


def _terminate(_signum: int, _frame: object) -> None:
    raise _TerminatedError


def main(argv: Sequence[str]) -> int:
    args = list(argv)
    if "-h" in args or "--help" in args:
        print((__doc__ or "").strip() + "\n\n" + usage(), flush=True)
        return 0
    wrong = [a for a in args if a.startswith("-") and a != "--quick"] or [
        a for a in args if not a.startswith("-") and a not in PARTS
    ]
    if wrong:
        print(f"spaceport.bench: {wrong[0]!r} is neither --quick nor a bench part; nothing ran\n{usage()}", flush=True)
        return 2
    quick = "--quick" in args
    wanted = [a for a in args if not a.startswith("--")] or [p for p in PARTS if not (quick and p in FULL_ONLY)]
    profile = "quick" if quick else "full"
    for name, value in (QUICK if quick else FULL).items():
        os.environ.setdefault(name, value)
    knobs = {k: v for k, v in sorted(os.environ.items()) if k.startswith(("BENCH_", "RECORDS_INDEX"))}
    parts: list[tuple[str, ModuleType]] = []
    for name in wanted:
        module = load(name)
        if module is None:
            print(f"bench part {name!r} is not there yet; skipped", flush=True)
            continue
        parts.append((name, module))
    if not parts:
        return 1
    began = datetime.now(UTC)
    signal.signal(signal.SIGTERM, _terminate)
    try:
        with harness.servers() as servers:
            document = asyncio.run(run_parts(parts, servers, profile, knobs))
    except KeyboardInterrupt as stop:
        print("\nbench interrupted: the servers and services it started are stopped; no results written", flush=True)
        return 143 if isinstance(stop, _TerminatedError) else 130
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
    document["seconds"] = round((datetime.now(UTC) - began).total_seconds(), 1)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
    report.print_summary(document)
    print(f"results written to {RESULTS.resolve()} ({document['seconds']:.0f} s)", flush=True)
    return 1 if document["failures"] else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
