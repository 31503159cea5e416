"""Smoke test of the engine benchmark: it runs, its answers agree, its JSON keeps the contract.

Timings are never asserted here (DESIGN.md: performance is measured by benchmarks, not by
unit tests); only the shape of the output and the agreement gate are.
"""

from __future__ import annotations

import importlib.util
import json
import math
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "benchmarks" / "bench_engine.py"
KEYS = {"rules", "matches", "backend", "cxplay_median_us", "baseline_median_us", "ratio"}


def _load_bench():
    spec = importlib.util.spec_from_file_location("bench_engine", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["bench_engine"] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def test_quick_run_prints_contract_rows() -> None:
    done = subprocess.run(
        [sys.executable, str(SCRIPT), "--quick", "--sizes", "20", "--json"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    # exit 0 means both backends and the baseline returned the same rule ids everywhere
    assert done.returncode == 0, done.stderr
    assert "agree" in done.stderr
    rows = json.loads(done.stdout)
    assert isinstance(rows, list) and rows
    backends = [row["backend"] for row in rows]
    assert "python" in backends
    assert set(backends) <= {"durable", "python"}
    assert len(backends) == len(set(backends))
    for row in rows:
        assert set(row) == KEYS
        assert row["rules"] == 20
        for key in ("matches", "cxplay_median_us", "baseline_median_us", "ratio"):
            assert isinstance(row[key], int | float) and not isinstance(row[key], bool)
            assert math.isfinite(row[key]) and row[key] >= 0
        assert row["baseline_median_us"] > 0
        expected = row["cxplay_median_us"] / row["baseline_median_us"]
        assert math.isclose(row["ratio"], expected, rel_tol=0.02, abs_tol=0.01)


def test_disagreement_is_detected() -> None:
    bench = _load_bench()
    incidents = bench.make_incidents("smoke", 5)

    def baseline(incident):
        return ["a", "b"]

    def wrong(incident):
        return [SimpleNamespace(rule="a")]

    right = SimpleNamespace(evaluate=lambda incident: [SimpleNamespace(rule=r) for r in "ba"])
    problems = bench.check_agreement(
        {"good": right, "bad": SimpleNamespace(evaluate=wrong)}, baseline, incidents
    )
    assert len(problems) == len(incidents)
    assert all(p.startswith("bad on ") and "missing ['b']" in p for p in problems)


def test_synthetic_rules_pin_their_type_first() -> None:
    bench = _load_bench()
    dist = bench.Distribution.of(bench.make_incidents("smoke-dist", 2000))
    rules = bench.make_rules(200, "smoke-rules", 0.3, dist)
    assert rules == bench.make_rules(200, "smoke-rules", 0.3, dist)  # seeded: repeatable
    assert len({r.type for r in rules}) == 10
    for rule in rules:
        assert rule.comparisons[0] == ("type", "==", rule.type)
        assert 2 <= len(rule.comparisons) <= 4
        assert rule.when().startswith(f"type == '{rule.type}'")


def test_reply_benchmark_runs() -> None:
    done = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "bench_replies.py"), "--json", "--repeats", "1"],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    rows = json.loads(done.stdout)
    assert {(r["metric"], r["backend"]) for r in rows} >= {
        ("render", "python"),
        ("suggest", "python"),
    }
    assert all(r["cases"] > 0 and r["median_us"] > 0 for r in rows)
