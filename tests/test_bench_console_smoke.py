"""Smoke test of the console benchmark: it runs and its figures keep their keys.

Timings are never asserted (performance is measured by benchmarks, not unit tests); the
page's weight is a size, not a timing, and is checked against the issue's 150 KB.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.components import need

pytest.importorskip("uvicorn", reason="the serve extra is not installed")

ROOT = Path(__file__).resolve().parents[1]


def test_quick_run_reports_weight_render_and_round_trip() -> None:
    need(os.path.exists("/usr/bin/chromium"), "/usr/bin/chromium is missing")
    done = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "bench_console.py"), "--quick", "--json"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert set(result) == {
        "load_average",
        "load_average_after",
        "weight",
        "first_render",
        "round_trip",
    }
    assert set(result["weight"]["files"]) == {"/", "/static/console.js", "/static/cxplay.css"}
    assert result["weight"]["kb"] <= 150  # the page and every asset it loads
    assert set(result["first_render"]) == {"console", "floor", "ratio"}
    assert set(result["round_trip"]) >= {"suggest_p95_ms", "healthz_p95_ms", "ratio_p95"}
