"""Smoke test of the service benchmark: it runs, every answer is right, its rows keep their keys.

Timings are never asserted (performance is measured by benchmarks, not unit tests).
"""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.components import need


@pytest.fixture(autouse=True)
def _serve_extra() -> None:
    """The serve extra, or a visible skip (a failure under CI=true)."""
    need(
        importlib.util.find_spec("uvicorn") is not None,
        "the serve extra is not installed: pip install 'cxplay[serve]'",
    )


ROOT = Path(__file__).resolve().parents[1]
KEYS = {
    "workers",
    "phase",
    "requests",
    "rps",
    "p50_ms",
    "p99_ms",
    "errors",
    "library_p50_us",
    "http_over_library",
    "server_cpu_us",
    "client_cpu_us",
}


def test_quick_run_answers_every_request_right() -> None:
    done = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "bench_service.py"), "--quick", "--json"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    rows = json.loads(done.stdout)
    assert [(r["workers"], r["phase"]) for r in rows] == [(1, "max"), (1, "half")]
    for row in rows:
        assert set(row) == KEYS
        assert row["errors"] == 0
        assert row["requests"] > 0
