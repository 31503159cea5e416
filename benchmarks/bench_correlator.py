"""Correlator A/B: this tree's ``Correlator.offer`` against another tree's, in one process.

The whole-process benchmark (bench_watch.py) moves by 10-20 % between runs on a shared
machine, more than most changes to the correlator. This one loads a second correlator
module (``--base``, e.g. from ``git archive main | tar -x -C /tmp/base``) beside this
tree's and feeds both the same incidents of bench_watch's stream (the carrier-wave key,
inputs prepared per chunk and per side beforehand: no models, no ``Watcher.keys``),
chunk by chunk alternately, in CPU time with the garbage collector off; then checks that
both gave the same verdicts and the same final snapshot.

Diagnostics (on this tree's side only; the equality check then fails, as it should):
``--no-ids`` offers every incident without an id (no duplicate memory), ``--retention 0``
keeps the duplicate memory tiny.

    python benchmarks/bench_correlator.py --base /tmp/base/cxplay/_watch/correlator.py
    python benchmarks/bench_correlator.py --base ... --n 300000 --no-ids
"""

from __future__ import annotations

import argparse
import gc
import importlib.util
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))

import bench_watch  # noqa: E402

from cxplay._common.instants import micros  # noqa: E402
from cxplay._watch import correlator as ours  # noqa: E402

#: the shipped correlations (id, threshold, within, hold in µs); the stream's key is #2
SPECS = [
    ("events.travel_disruption", 3, 1_800_000_000, 10_800_000_000),
    ("events.webinar_failed", 5, 900_000_000, 7_200_000_000),
    ("parcel.carrier_wave", 20, 7_200_000_000, 86_400_000_000),
    ("retail.queue_wave", 3, 1_200_000_000, 3_600_000_000),
]


def load(path: str) -> Any:
    spec = importlib.util.spec_from_file_location("base_correlator", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["base_correlator"] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def events(verdicts: list[Any]) -> list[Any]:
    return [
        (v.member, v.late, v.duplicate, [(type(e).__name__, vars(e)) for e in v.events])
        for v in verdicts
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base", required=True, help="the other tree's correlator.py")
    parser.add_argument("--n", type=int, default=1_000_000)
    parser.add_argument("--chunk", type=int, default=50_000)
    parser.add_argument("--seed", type=int, default=21)
    parser.add_argument("--no-ids", action="store_true")
    parser.add_argument("--retention", type=int, default=None)
    args = parser.parse_args()
    load_before = os.getloadavg()[0]
    modules = (load(args.base), ours)
    lateness = bench_watch.DISORDER * 1_000_000
    sides = [m.Correlator([m.Spec(*s) for s in SPECS], lateness=lateness) for m in modules]
    if args.retention is not None:
        sides[1].retention = args.retention
    rows, _ = bench_watch.stream(args.n, args.seed)
    t0 = micros(bench_watch.T0)
    spent = [0.0, 0.0]
    kept: list[list[Any]] = [[], []]
    for number, start in enumerate(range(0, args.n, args.chunk)):
        part = rows[start : start + args.chunk]
        for side in (0, 1) if number % 2 == 0 else (1, 0):
            bare = side == 1 and args.no_ids
            prepared = [
                (None if bare else f"I-{k}", t0 + at * 1_000_000, [(2, (f"K{c:05d}",))])
                for k, (_, at, c) in enumerate(part, start)
            ]
            offer, out = sides[side].offer, kept[side]
            gc.collect()
            gc.disable()
            started = time.process_time()
            for incident_id, at, keys in prepared:
                verdict = offer(incident_id, at, keys)
                if verdict.events or verdict.late or verdict.duplicate:
                    out.append(verdict)
            spent[side] += time.process_time() - started
            gc.enable()
    same = events(kept[0]) == events(kept[1])
    snapshots = [json.dumps(s.snapshot(), sort_keys=True) for s in sides]
    print(
        json.dumps(
            {
                "incidents": args.n,
                "base_per_s": round(args.n / spent[0]),
                "ours_per_s": round(args.n / spent[1]),
                "ours_over_base_cpu": round(spent[1] / spent[0], 3),
                "verdicts_equal": same,
                "snapshots_equal": snapshots[0] == snapshots[1],
                "load": [round(load_before, 2), round(os.getloadavg()[0], 2)],
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
