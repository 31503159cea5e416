"""Smoke test of the watch benchmark: it runs, its detections equal the brute-force
reference, and its JSON keeps its shape (no timing is asserted: performance is measured by
benchmarks, never by unit tests)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]


def _bench(script: str, *args: str) -> dict[str, Any]:
    """Run ``benchmarks/<script>`` as a user does; its JSON output (it exits 0)."""
    done = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / script), *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    result: dict[str, Any] = json.loads(done.stdout)
    return result


def test_quick_run_detects_the_waves_like_the_reference() -> None:
    result = _bench("bench_watch.py", "--quick", "--json")
    assert result["detections"]["equal"] is True
    assert result["correlation"]["disruptions"] == 5  # the 5 injected waves, nothing else
    assert len(result["correlation"]["rss_mib"]) == 4  # one sample per chunk
    assert result["time_to_notices"]["calls"] > 0
    assert set(result["full_watch"]) == {"incidents", "suggest_us", "watch_us", "added"}


def _correlator_ab(*extra: str) -> dict[str, Any]:
    own = ROOT / "cxplay" / "_watch" / "correlator.py"
    return _bench(
        "bench_correlator.py", "--base", str(own), "--n", "20000", "--chunk", "5000", *extra
    )


def test_the_correlator_ab_agrees_with_itself_and_sees_a_difference() -> None:
    """Against its own correlator the A/B finds the same verdicts and snapshot; offering the
    incidents without ids on one side (no duplicate memory) is a difference it reports."""
    same = _correlator_ab()
    assert same["verdicts_equal"] is True and same["snapshots_equal"] is True
    assert set(same) >= {"base_per_s", "ours_per_s", "ours_over_base_cpu", "load"}
    changed = _correlator_ab("--no-ids")
    assert changed["verdicts_equal"] is False and changed["snapshots_equal"] is False
