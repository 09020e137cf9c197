"""`python -m spaceport.bench [part ...]`: run the bench parts and print each one's table.

With no arguments every part in PARTS runs, in order; a part whose module is not there yet
(another layer not benched so far) is skipped with a note.
"""

from __future__ import annotations

import asyncio
import importlib
import sys
from types import ModuleType

from spaceport.bench import harness

PARTS: tuple[str, ...] = ("foundation", "records", "events", "imports")


def load(part: str) -> ModuleType | None:
    try:
        return importlib.import_module(f"spaceport.bench.{part}")
    except ModuleNotFoundError as error:
        if error.name != f"spaceport.bench.{part}":
            raise  # the part exists but something it imports is missing: that is a bug
        return None


async def run_parts(parts: list[tuple[str, ModuleType]], nats_url: str, database_url: str) -> None:
    events = harness.env_int("BENCH_EVENTS", 20_000)
    async with harness.connected(nats_url, database_url, events) as bench:
        info = harness.machine(bench.nc)
        harness.print_header(info)
        for name, module in parts:
            title: str = getattr(module, "TITLE", name)
            bench.progress(f"--- {title} (BENCH_EVENTS={events:,})")
            figures = await module.run(bench)
            harness.print_table(title, figures)
            path = harness.write_json(name, title, info, {"BENCH_EVENTS": events}, figures)
            print(f"results written to {path}", flush=True)


def main(argv: list[str]) -> int:
    wanted = argv or list(PARTS)
    parts: list[tuple[str, ModuleType]] = []
    for name in wanted:
        module = load(name)
        if module is None:
            print(f"bench part {name!r} is not there yet; skipped", flush=True)
            continue
        parts.append((name, module))
    if not parts:
        return 1
    with harness.servers() as (nats_url, database_url):
        asyncio.run(run_parts(parts, nats_url, database_url))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
