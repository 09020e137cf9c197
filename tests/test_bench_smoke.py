"""`make bench-quick` must keep running end to end so that `make bench` never rots: every part
on its own servers and platform, bench/results.json written in the working directory with
every scenario of issue 12, each with the ratio and p50/p99 it is due. No timing is asserted."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from spaceport.bench.report import SCENARIOS

REPO = Path(__file__).resolve().parents[1]
MACHINE = ("cores", "cpu_model", "ram_bytes", "python", "date")


def test_the_bench_quick_target_runs_the_quick_profile() -> None:
    makefile = (REPO / "Makefile").read_text()
    recipe = re.search(r"^bench-quick:.*\n\t(.+)$", makefile, re.MULTILINE)
    assert recipe is not None, "no bench-quick target in the Makefile"
    assert recipe.group(1).strip() == "$(PY) -m spaceport.bench --quick"


@pytest.mark.timeout(900)
def test_bench_quick_writes_every_scenario_with_its_ratio_and_p99(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("BENCH_", "NATS_URL", "DATABASE_URL", "S3_"))}
    done = subprocess.run(
        [sys.executable, "-m", "spaceport.bench", "--quick"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=840,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-4000:]
    results: dict[str, Any] = json.loads((tmp_path / "bench" / "results.json").read_text())

    assert results["profile"] == "quick"
    assert results["failures"] == {}
    for key in MACHINE:
        assert results["machine"][key], key
    figures = {f["key"]: f for f in results["figures"]}
    assert len(figures) == len(results["figures"]), "figure keys are unique"
    for figure in figures.values():
        assert figure["value"] >= 0 and figure["unit"], figure
        if figure["ceiling"] is not None:  # a ratio always names the ceiling of the same run
            assert figure["ceiling"]["key"] in figures, figure
            assert figure["ratio"] == figure["ceiling"]["ratio"]

    assert set(results["scenarios"]) == {s.name for s in SCENARIOS}
    for scenario in SCENARIOS:
        entry = results["scenarios"][scenario.name]
        if scenario.full_only:
            assert entry["status"] == "skipped", scenario.name
            assert entry["reason"] == scenario.full_only
            continue
        assert entry["status"] == "measured", (scenario.name, entry)
        assert all(key in figures for key in entry["figures"])
        if scenario.ratio:
            assert entry["ratio"] is not None and entry["ratio"] > 0, (scenario.name, entry)
            assert figures[entry["ratio_of"]]["ceiling"] is not None
        if scenario.p99:
            assert entry["p99_ms"] is not None and entry["p99_ms"] >= entry["p50_ms"] >= 0, (scenario.name, entry)

    # the raw ceilings are all measured in the run, and the goals are reported against
    for ceiling in (
        "ceiling_postgres_copy",
        "ceiling_jetstream_publish",
        "ceiling_jetstream_consume",
        "ceiling_s3_put",
    ):
        assert all(figures[key]["raw"] for key in results["scenarios"][ceiling]["figures"]), ceiling
    assert "concurrency.get_space_64" in results["goals"]
    rss = [figures[key] for key in results["scenarios"]["peak_rss"]["figures"]]
    processes = {f["key"] for f in rss}
    for process in ("gateway", "space", "workbook", "record", "file", "job", "nats_server", "postgres", "seaweedfs"):
        assert f"rss.rss_{process}" in processes, processes
    assert all(f["value"] > 0 and f["unit"] == "MiB" for f in rss)
    assert "== imports" in done.stdout and "ratio" in done.stdout  # the parts' tables and the final one
