"""The import benchmark, small: it must keep running end to end (upload, extraction, mapping,
counts checked by the bench itself) so that `make bench` never rots. No timing is asserted."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path


def test_the_imports_bench_runs_end_to_end_on_a_small_file(tmp_path: Path) -> None:
    env = {**os.environ, "BENCH_IMPORT_ROWS": "3000", "BENCH_IMPORT_TIMEOUT": "240"}
    done = subprocess.run(
        [sys.executable, "-m", "spaceport.bench", "imports"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    result = json.loads((tmp_path / ".data" / "bench" / "imports.json").read_text())
    labels = [f["label"] for f in result["figures"]]
    for wanted in ("extraction", "mapping", "end to end"):
        assert any(label.startswith(wanted) for label in labels), labels
    assert all(f["count"] == 3000 for f in result["figures"] if f["label"].startswith(("extraction", "mapping")))
