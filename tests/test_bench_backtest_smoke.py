"""Smoke test of the backtest benchmark: it runs every mode and they agree (exit 0).

Timings are never asserted (DESIGN.md); only the rows' shape and the agreement gate are.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "benchmarks" / "bench_backtest.py"
KEYS = {"mode", "workers", "incidents", "seconds", "incidents_per_s", "per_core", "cpu_per_s"}


@pytest.mark.slow
def test_quick_run_prints_rows_and_the_scaling() -> None:
    done = subprocess.run(
        [sys.executable, str(SCRIPT), "--quick", "--json", "--no-dask", "--backend", "python"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stderr  # 0: every mode gave the same report
    rows = [json.loads(line) for line in done.stdout.splitlines()]
    *modes, last = rows
    assert [(r["mode"], r["workers"]) for r in modes] == [("local", 1), ("local", 2)]
    assert all(set(r) == KEYS and r["incidents"] == 4_000 for r in modes)
    assert all(r["incidents_per_s"] > 0 for r in modes)
    assert set(last) == {"scaling_2_over_1"} and last["scaling_2_over_1"] > 0
