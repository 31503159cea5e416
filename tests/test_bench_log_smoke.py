"""Smoke test of the decision-log benchmark: it runs and its JSON keeps its shape (no timing
is asserted: performance is measured by benchmarks, never by unit tests)."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "benchmarks" / "bench_log.py"
SUGGEST_KEYS = {
    "store",
    "batch_size",
    "without_us",
    "with_us",
    "ratio",
    "cpu_without_us",
    "cpu_with_us",
    "cpu_ratio",
}


def test_quick_run_prints_its_rows() -> None:
    env = {k: v for k, v in os.environ.items() if k != "CXPLAY_TEST_DATABASE_URL"}
    done = subprocess.run(
        [sys.executable, str(SCRIPT), "--quick", "--json", "--decisions", "3000"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
        env=env,
    )
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    rows = result["suggest"]
    assert [(r["store"], r["batch_size"]) for r in rows] == [("sqlite", 1), ("sqlite", 64)]
    for row in rows:
        assert set(row) == SUGGEST_KEYS
        for key in SUGGEST_KEYS - {"store", "batch_size"}:
            assert isinstance(row[key], float) and math.isfinite(row[key]) and row[key] > 0
        assert math.isclose(row["ratio"], row["with_us"] / row["without_us"], rel_tol=0.02)
    report = result["report"]
    # the report counted every generated decision (the benchmark checks it too)
    assert report["decisions"] == 3000 and report["by_type"] == 5 and report["by_rule"] == 13
    assert report["report_s"] >= 0 and report["fill_s"] > 0
