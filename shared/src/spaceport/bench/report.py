"""bench/results.json and the one table printed at the end of a run.

`SCENARIOS` names what the bench must cover (issue 12's list) and which figures show each: a
scenario is "measured" when at least one figure matches, else "skipped" with the reason (a
part that failed, or a size only the full profile runs). `ratio`/`p99` say which of its
figures must carry a ratio to a ceiling and p50/p99 latencies.
"""

from __future__ import annotations

import fnmatch
import json
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from spaceport.bench.harness import TIMES, Figure, figure_json

FIGURE_KEYS = ("key", "part", "label", "value", "unit", "ratio", "p50_ms", "p99_ms")


@dataclass(frozen=True)
class Scenario:
    name: str
    patterns: tuple[str, ...]  # fnmatch patterns over figure keys
    ratio: bool = False  # every matching figure has a ratio to a ceiling
    p99: bool = False  # every matching figure has p50/p99
    full_only: str = ""  # why the quick profile leaves it out


SCENARIOS: tuple[Scenario, ...] = (
    Scenario("ceiling_postgres_copy", ("records.pg_copy_records", "imports.pg_binary_copy_*", "foundation.pg_copy")),
    Scenario("ceiling_jetstream_publish", ("foundation.jetstream_publish_*",)),
    Scenario("ceiling_jetstream_consume", ("foundation.jetstream_consume", "events.jetstream_consume")),
    Scenario("ceiling_s3_put", ("imports.s3_put_*",)),
    Scenario("csv_import_100k", ("imports.csv_small_end_to_end", "imports.csv_small_*"), ratio=True),
    Scenario(
        "csv_import_1m",
        ("imports.csv_large_end_to_end", "imports.csv_large_*"),
        ratio=True,
        full_only="1M rows run in the full bench only",
    ),
    Scenario("api_insert", ("records.api_insert",), ratio=True),
    Scenario("page_reads", ("records.page_*",), p99=True),
    Scenario("queries", ("records.query_*",), p99=True),
    Scenario("event_delivery_sse", ("events.sse_live", "events.sse_*"), ratio=True, p99=True),
    Scenario("event_delivery_listener", ("events.listener_live", "events.listener_*"), ratio=True, p99=True),
    Scenario("projection_rebuild", ("rebuild.rebuild_*_records", "rebuild.rebuild_*"), ratio=True),
    Scenario("restore", ("records.restore",), ratio=True),
    Scenario("concurrent_clients_10", ("concurrency.get_page_10", "concurrency.*_10"), ratio=True, p99=True),
    Scenario("concurrent_clients_50", ("concurrency.get_page_50", "concurrency.*_50"), ratio=True, p99=True),
    Scenario("get_space_64_clients", ("concurrency.get_space_64",), ratio=True, p99=True),
    Scenario("peak_rss", ("rss.rss_*",)),
    Scenario(
        "web_scroll_1m",
        ("web.scroll_1m_jump", "web.scroll_1m_*"),
        ratio=True,
        p99=True,
        full_only="the 1M-record sheet in the browser runs in the full bench only",
    ),
)
GOALS = {
    "concurrency.get_space_64": {"req_per_s": 3000.0, "p99_ms": 50.0},
    "imports.csv_large_end_to_end": {"ratio_to_copy": 0.5},
}


def document(
    profile: str,
    info: dict[str, Any],
    knobs: dict[str, str],
    results: Sequence[tuple[str, str, list[Figure]]],
    failures: dict[str, str],
) -> dict[str, Any]:
    known = {(f.label, f.rate): f.key for _, _, figures in results for f in figures}
    figures = [figure_json(part, f, known) for part, _, found in results for f in found]
    scenarios: dict[str, Any] = {}
    for scenario in SCENARIOS:
        matching = []  # in pattern order: the first pattern names the headline figures
        for pattern in scenario.patterns:
            matching += [f for f in figures if fnmatch.fnmatchcase(f["key"], pattern) and f not in matching]
        entry: dict[str, Any] = {"ratio_due": scenario.ratio, "p99_due": scenario.p99, "figures": []}
        if matching:
            entry["status"] = "measured"
            entry["figures"] = [f["key"] for f in matching]
            with_ratio = next((f for f in matching if f["ratio"] is not None), None)
            with_p99 = next((f for f in matching if f["p99_ms"] is not None), None)
            entry["ratio"] = with_ratio["ratio"] if with_ratio else None
            entry["ratio_of"] = with_ratio["key"] if with_ratio else None
            entry["p50_ms"] = with_p99["p50_ms"] if with_p99 else None
            entry["p99_ms"] = with_p99["p99_ms"] if with_p99 else None
            entry["p99_of"] = with_p99["key"] if with_p99 else None
        else:
            entry["status"] = "skipped"
            part = scenario.patterns[0].split(".")[0]
            entry["reason"] = (
                f"the {part} part failed: {failures[part]}"
                if part in failures
                else scenario.full_only
                if scenario.full_only and profile == "quick"
                else "no figure measured"
            )
        scenarios[scenario.name] = entry
    goals = {}
    for key, goal in GOALS.items():
        found = next((f for f in figures if f["key"] == key), None)
        if found is not None:
            measured = {"req_per_s": found["value"], "p99_ms": found["p99_ms"], "ratio_to_copy": found["ratio"]}
            goals[key] = {
                "goal": goal,
                "measured": {k: measured[k] for k in goal},
                "met": all(
                    (measured[k] or 0) <= v if k.endswith("_ms") else (measured[k] or 0) >= v for k, v in goal.items()
                ),
            }
    return {
        "profile": profile,
        "machine": info,
        "settings": knobs,
        "parts": [{"part": part, "title": title} for part, title, _ in results],
        "failures": failures,
        "scenarios": scenarios,
        "goals": goals,
        "figures": figures,
    }


def _cells(figure: dict[str, Any]) -> list[str]:
    ceiling = figure["ceiling"]
    return [
        figure["part"],
        figure["label"].strip(),
        f"{figure['value']:,.{0 if figure['value'] >= 10 else 2}f} {figure['unit']}",
        f"{ceiling['label']} ({ceiling['value']:,.0f}/s)" if ceiling else ("(raw ceiling)" if figure["raw"] else ""),
        f"{figure['ratio']:.{2 if figure['ratio'] >= 0.1 else 3}f}{TIMES}" if figure["ratio"] is not None else "",
        f"{figure['p50_ms']:,.1f}" if figure["p50_ms"] is not None else "",
        f"{figure['p99_ms']:,.1f}" if figure["p99_ms"] is not None else "",
    ]


HEADINGS = ("part", "figure", "value", "ceiling (same run)", "ratio", "p50 ms", "p99 ms")


def print_summary(document: dict[str, Any]) -> None:
    """Every figure in one table (rich when installed, else aligned plain text), then the
    scenarios and goals."""
    rows = [_cells(f) for f in document["figures"]]
    info = document["machine"]
    title = (
        f"spaceport bench ({document['profile']}): {info['cores']} cores {info['cpu_model']}, "
        f"{info['ram_gib']} GiB, Python {info['python']}, {info['date']}"
    )
    try:
        from rich.console import Console  # noqa: PLC0415 - optional
        from rich.table import Table  # noqa: PLC0415
    except ImportError:
        _plain(title, rows)
    else:
        table = Table(title=title, show_lines=False)
        for heading in HEADINGS:
            table.add_column(heading, justify="right" if heading in ("value", "ratio", "p50 ms", "p99 ms") else "left")
        for row in rows:
            table.add_row(*row)
        Console(width=200).print(table)
    for name, scenario in document["scenarios"].items():
        if scenario["status"] != "measured":
            print(f"scenario {name}: {scenario['status']} ({scenario['reason']})")
    for key, goal in document["goals"].items():
        print(f"goal {key}: {goal['goal']} measured {goal['measured']}: {'met' if goal['met'] else 'NOT met'}")
    for part, why in document["failures"].items():
        print(f"part {part} FAILED: {why[:500]}")


def _plain(title: str, rows: list[list[str]]) -> None:
    table = [list(HEADINGS), *rows]
    widths = [min(70, max(len(r[i]) for r in table)) for i in range(len(HEADINGS))]
    print(f"\n{title}")
    for row in table:
        print("  ".join(cell[: widths[i]].ljust(widths[i]) for i, cell in enumerate(row)))


def markdown(document: dict[str, Any]) -> str:
    """The table as Markdown (docs/benchmarks.md is made with it): `python -m spaceport.bench.report`."""
    lines = [
        "| " + " | ".join(HEADINGS) + " |",
        "|" + "|".join("---:" if h in ("value", "ratio", "p50 ms", "p99 ms") else "---" for h in HEADINGS) + "|",
    ]
    for figure in document["figures"]:
        cells = [c.replace("|", "\\|") for c in _cells(figure)]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    print(markdown(json.loads(Path(sys.argv[1] if len(sys.argv) > 1 else "bench/results.json").read_text())))
