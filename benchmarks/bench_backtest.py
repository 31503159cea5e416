"""Backtest throughput: incidents per second for 1 and 2 local workers and a 2-worker Dask cluster.

Generates N incidents (``cxplay backtest --generate``'s generator, default 100,000), writes
them as JSON lines, and backtests them with both playbook sets evaluated (the shipped
playbooks as the baseline; as the new set, the same with a refund threshold raised and a
rule added), actions and costs only (no replies). Every mode must give the same report:
the script exits 1 otherwise.

Prints a table, or with ``--json`` one row per mode:
``{"mode", "workers", "incidents", "seconds", "incidents_per_s", "per_core", "cpu_per_s"}``
and a last row ``{"scaling_2_over_1": x}``. ``cpu_per_s`` is incidents per CPU-second of
this process (workers=1 only): on a shared machine it shows the cost of the code itself.

Targets (issues 13 and 20): >= 20,000 incidents/s per core; scaling 2 workers / 1 worker >= 1.7.

    python benchmarks/bench_backtest.py            # 100,000 incidents
    python benchmarks/bench_backtest.py --quick    # 4,000: a smoke run
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import platform
import shutil
import sys
import tempfile
import time
from pathlib import Path

import cxplay
from cxplay._backtest.generate import generate_incidents

NEW_RULE = """
[[rule]]
id = "parcel.late.ten_days"
when = "type == 'parcel_late' and facts.delay_days >= 10 and channel != 'social_public'"
priority = 60
group = "compensation"
reason = "Ten days late: part of the price back"
actions = [{ kind = "refund", percent = 30, dimension = "functional", stage = "after_sales" }]
"""


def new_playbooks(root: Path) -> Path:
    """The shipped playbooks with a change: refunds from 150 zł, a rule for 10 days late."""
    target = root / "new"
    shutil.copytree(
        cxplay.shipped_playbooks_dir(), target, ignore=shutil.ignore_patterns("replies")
    )
    parcel = target / "parcel.toml"
    text = parcel.read_text("utf-8")
    for old, new in (
        ("order.policy_value >= 100 and channel", "order.policy_value >= 150 and channel"),
        ("facts.delay_days >= 10 and channel", "facts.delay_days >= 14 and channel"),
    ):
        if text.count(old) != 1:
            raise SystemExit(f"bench_backtest: the shipped parcel.toml no longer has {old!r}")
        text = text.replace(old, new)
    text = text[: text.index("\n[[test]]")] + "\n" + NEW_RULE
    parcel.write_text(text, "utf-8")
    return target


def measure(runner: cxplay.Backtest, source: Path, **kwargs: object) -> tuple[float, float, object]:
    started, cpu = time.perf_counter(), time.process_time()
    report = runner.run(source, **kwargs)  # type: ignore[arg-type]
    return time.perf_counter() - started, time.process_time() - cpu, report


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--incidents", type=int, default=100_000)
    parser.add_argument("--quick", action="store_true", help="4,000 incidents")
    parser.add_argument("--json", action="store_true", help="rows as JSON lines")
    parser.add_argument("--no-dask", action="store_true", help="skip the LocalCluster")
    parser.add_argument("--backend", default="python", choices=["auto", "durable", "python"])
    args = parser.parse_args()
    count = 4_000 if args.quick else args.incidents
    has_dask = importlib.util.find_spec("distributed") is not None and not args.no_dask

    root = Path(tempfile.mkdtemp(prefix="cxplay-bench-backtest-"))
    try:
        source = root / "incidents.jsonl"
        with source.open("w", encoding="utf-8") as out:
            for incident in generate_incidents(count, seed=2026):
                out.write(json.dumps(incident, ensure_ascii=False) + "\n")
        runner = cxplay.Backtest(
            new_playbooks(root), baseline=cxplay.shipped_playbooks_dir(), backend=args.backend
        )
        runner.run(source, workers=1, partition_size=500)  # warm: engines built in this process
        rows = []
        reports = []
        modes: list[tuple[str, int, dict[str, object]]] = [
            ("local", 1, {"workers": 1}),
            ("local", 2, {"workers": 2}),
        ]
        if has_dask:
            modes.append(("dask LocalCluster", 2, {"dask": "local", "workers": 2}))
        for mode, workers, kwargs in modes:
            seconds, cpu, report = measure(runner, source, **kwargs)
            reports.append(report)
            rate = count / seconds
            rows.append(
                {
                    "mode": mode,
                    "workers": workers,
                    "incidents": count,
                    "seconds": round(seconds, 3),
                    "incidents_per_s": round(rate),
                    "per_core": round(rate / workers),
                    "cpu_per_s": round(count / cpu) if workers == 1 and cpu else None,
                }
            )
        scaling = rows[1]["incidents_per_s"] / rows[0]["incidents_per_s"]  # type: ignore[operator]
    finally:
        shutil.rmtree(root, ignore_errors=True)

    if any(r != reports[0] for r in reports[1:]):
        print("FAIL: the modes gave different reports", file=sys.stderr)
        return 1
    if args.json:
        for row in rows:
            print(json.dumps(row))
        print(json.dumps({"scaling_2_over_1": round(scaling, 2)}))
        return 0
    print(
        f"cxplay {cxplay.__version__}, Python {platform.python_version()}, "
        f"{os.cpu_count()} cores, {count:,} incidents, both playbook sets, no replies"
    )
    header = ("workers", 8), ("seconds", 10), ("incidents/s", 13), ("per core", 10)
    print(f"{'mode':<20}" + "".join(f"{h:>{w}}" for h, w in header) + f"{'per CPU-s':>11}")
    for row in rows:
        cpu_rate = row["cpu_per_s"]
        print(
            f"{row['mode']:<20}{row['workers']:>8}{row['seconds']:>10.2f}"
            f"{row['incidents_per_s']:>13,}{row['per_core']:>10,}"
            f"{'' if cpu_rate is None else f'{cpu_rate:,}':>11}"
        )
    print(f"scaling 2 workers / 1 worker: {scaling:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
