"""The library's one-shot ``cxplay.suggest`` against ``Engine.suggest``, in one run.

What it measures, on the shipped playbooks, one incident per shipped type, interleaved:

- baseline: ``engine.suggest(incident)`` on one engine built beforehand;
- one-shot: ``cxplay.suggest(incident)``, whose engine is kept per playbook source (each
  call also compares the playbook and reply files' times and sizes);
- rebuilt: ``Engine.from_path()`` + ``suggest`` + ``close()`` per call, which is what the
  one-shot did before it kept its engine.

Figures are medians in milliseconds and ratios to the baseline, measured in the same run,
with the 1-minute load average (the machine is shared). It first checks that the three
give the same suggestions, and exits 1 if not.

Usage::

    python benchmarks/bench_library.py [--repeats 30] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from collections.abc import Callable

import cxplay
from cxplay import Engine

AT = "2026-11-20T09:15:00+01:00"
INCIDENTS: list[dict[str, object]] = [
    {"type": "parcel_damaged", "channel": "email", "order": {"value": 250, "currency": "PLN"}},
    {"type": "parcel_late", "channel": "chat", "facts": {"delay_days": 6}},
    {"type": "queue_long", "channel": "in_person", "facts": {"queue_minutes": 25}},
    {"type": "reply_overdue", "channel": "email", "facts": {"waiting_minutes": 300}},
]
for _incident in INCIDENTS:
    _incident["occurred_at"] = AT


def _rebuilt(incident: dict[str, object]) -> cxplay.Suggestion:
    with Engine.from_path() as engine:
        return engine.suggest(incident)


def _median_ms(call: Callable[[dict[str, object]], object], repeats: int) -> float:
    times = []
    for _ in range(repeats):
        for incident in INCIDENTS:
            start = time.perf_counter_ns()
            call(incident)
            times.append(time.perf_counter_ns() - start)
    return statistics.median(times) / 1e6


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=30)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    engine = Engine.from_path()
    ways: dict[str, Callable[[dict[str, object]], object]] = {
        "baseline": engine.suggest,
        "one_shot": cxplay.suggest,
        "rebuilt": _rebuilt,
    }
    for incident in INCIDENTS:  # the gate: the same answers every way
        answers = {name: call(incident) for name, call in ways.items()}
        if (
            len({json.dumps(a.model_dump(mode="json"), sort_keys=True) for a in answers.values()})
            != 1
        ):  # type: ignore[attr-defined]
            print(f"the ways disagree on {incident['type']}", file=sys.stderr)
            return 1
    rounds: dict[str, list[float]] = {name: [] for name in ways}
    for _ in range(3):  # interleaved, so load changes hit every way alike
        for name, call in ways.items():
            repeats = max(1, args.repeats // 10) if name == "rebuilt" else args.repeats
            rounds[name].append(_median_ms(call, repeats))
    medians = {name: statistics.median(values) for name, values in rounds.items()}
    base = medians["baseline"]
    rows = [
        {"way": name, "median_ms": round(ms, 4), "ratio": round(ms / base, 2)}
        for name, ms in medians.items()
    ]
    load = os.getloadavg()[0]
    engine.close()
    if args.json:
        print(json.dumps({"load_1m": load, "rows": rows}))
        return 0
    print(f"cxplay.suggest one-shot vs Engine.suggest (load average {load:.2f})")
    for row in rows:
        print(f"  {row['way']:<9} {row['median_ms']:>9.3f} ms  {row['ratio']:>7.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
