"""Watch benchmark: correlation over a million incidents, against a brute-force reference.

A generated stream: ``--n`` incidents (1,000,000 by default) of late parcels over 10,000
carriers spread across a week (about one incident per carrier every 1.7 hours: far below
the shipped carrier-wave threshold of 20 in 2 hours), with 5 injected waves (400 incidents
of one carrier within an hour), in arrival order shuffled by up to 15 minutes (each
incident arrives at its occurred_at plus a uniform delay of 0-15 minutes); the watcher's
lateness is 15 minutes.

Measured, on the shipped playbooks:

Times are CPU time of this process (``time.process_time``): on a shared machine the wall
clock measures the neighbours; the time to notices is wall time (what a customer waits).

1. **Correlation alone**: the correlation conditions evaluated and the windows updated
   (``Watcher.offer``: the keys, the event time and ``Correlator.offer``, the call
   ``Watcher.correlate`` makes per incident, the model kept as a waiting incident's
   payload), no suggestion and no rendering, on incidents validated beforehand; against a
   baseline in the same run, chunk by chunk alternately: the same flattening and a plain
   dict count per key (the floor any correlation pays).
2. **Detections**: the disruptions opened equal those of the brute-force reference
   (tests/watch_reference.py) on the 5 wave carriers and 200 sampled others, over the
   whole stream (its watermark and duplicates included).
3. **Memory**: RSS after each chunk of phase 1 (flat: only the open windows are kept).
4. **Full watch**: ``Watcher.process`` (suggestion, correlation, notices) against a watch
   without correlation (``Engine.suggest`` and the event's JSON dump) on ``--full``
   incidents, rounds alternating; the cost correlation adds.
5. **Time to notices**: per incident that produced notices (the N-th of a wave renders
   all N; later ones one), the wall time of its ``process`` call; p50/p99/max.

    python benchmarks/bench_watch.py                  # ~2-4 min on a free 2-core machine
    python benchmarks/bench_watch.py --n 200000       # a busy machine
    python benchmarks/bench_watch.py --quick --json   # the smoke test's run
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import random
import statistics
import sys
import time
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))  # the brute-force reference lives with the tests

from watch_reference import reference  # noqa: E402

from cxplay import Engine  # noqa: E402
from cxplay._common.instants import micros  # noqa: E402
from cxplay._watch.correlator import Opened  # noqa: E402
from cxplay._watch.watch import Watcher  # noqa: E402
from cxplay.models import Incident  # noqa: E402

T0 = datetime(2026, 11, 16, tzinfo=timezone.utc)
WEEK = 7 * 24 * 3600
DISORDER = 15 * 60
KEYS = 10_000
WAVES = 5
WAVE_SIZE = 400
LANGUAGES = ("en", "pl", "uk")
CHANNELS = ("email", "sms", "chat", "phone")


def rss_mib() -> float:
    try:
        with open("/proc/self/statm", encoding="ascii") as statm:
            return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
    except OSError:  # not Linux
        import resource

        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def stream(n: int, seed: int) -> tuple[list[tuple[float, int, int]], set[int]]:
    """(arrival time, event time in s, carrier) for every incident, in arrival order."""
    rng = random.Random(seed)
    waves = rng.sample(range(KEYS), WAVES)
    rows: list[tuple[float, int, int]] = []
    background = n - WAVES * WAVE_SIZE
    for _ in range(background):
        at = rng.randrange(WEEK)
        rows.append((at + rng.uniform(0, DISORDER), at, rng.randrange(KEYS)))
    for number, carrier in enumerate(waves):
        start = (number + 1) * WEEK // (WAVES + 2)
        for _ in range(WAVE_SIZE):
            at = start + rng.randrange(3600)
            rows.append((at + rng.uniform(0, DISORDER), at, carrier))
    rows.sort()
    return rows, set(waves)


def incidents(rows: list[tuple[float, int, int]], start: int, stop: int) -> list[Incident]:
    out = []
    for number in range(start, stop):
        _, at, carrier = rows[number]
        out.append(
            Incident.model_validate(
                {
                    "id": f"I-{number}",
                    "type": "parcel_late",
                    "occurred_at": T0 + timedelta(seconds=at),
                    "channel": CHANNELS[number % 4],
                    "customer": {"id": f"C-{number}", "language": LANGUAGES[number % 3]},
                    "order": {"id": f"O-{number}", "carrier": f"K{carrier:05d}"},
                    "facts": {"delay_days": 2},
                }
            )
        )
    return out


def chunks(rows: list[tuple[float, int, int]], size: int) -> Iterator[list[Incident]]:
    for start in range(0, len(rows), size):
        yield incidents(rows, start, min(start + size, len(rows)))


def correlation(engine: Engine, rows: list[tuple[float, int, int]], chunk: int) -> dict[str, Any]:
    """Phase 1 and 3: correlation alone vs the dict-count baseline; RSS per chunk.

    The models waiting in windows are freed when a window lets them go, inside a later
    offer; an incident is freed anyway (without correlation right after its suggestion),
    and the baseline frees none in its timing. So the previous chunk's models are kept
    until the end of this chunk: neither side times freeing a model, whatever ``chunk``
    (dropping each chunk's list at its end had phase 1 free about a quarter of the models
    in its timing at 50,000, a share that depends on the chunk's size).
    """
    watcher = Watcher(engine, lateness=timedelta(seconds=DISORDER), suggestions=False)
    correlator, offer = watcher.correlator, watcher.offer
    flatten = watcher._flatten
    counts: dict[Any, int] = {}
    ours = base = 0.0
    opened: list[Opened] = []
    rss: list[float] = []
    previous: list[list[Incident]] = []  # the chunk before this one
    for number, batch in enumerate(chunks(rows, chunk)):
        gc.collect()
        gc.disable()  # neither side pays for a collection the other triggered
        order = (0, 1) if number % 2 == 0 else (1, 0)
        for side in order:
            if side == 0:
                started = time.process_time()
                for incident in batch:
                    verdict, _ = offer(incident)  # what Watcher.correlate runs per incident
                    for event in verdict.events:
                        if isinstance(event, Opened):
                            opened.append(event)
                ours += time.process_time() - started
            else:
                started = time.process_time()
                for incident in batch:
                    carrier = flatten(incident).get("order.carrier")
                    counts[carrier] = counts.get(carrier, 0) + 1
                base += time.process_time() - started
        gc.enable()
        previous[:] = [batch]  # the chunk before is freed here, outside the timing
        del batch
        rss.append(round(rss_mib(), 1))
    n = len(rows)
    return {
        "incidents": n,
        "correlation_per_s": round(n / ours),
        "baseline_per_s": round(n / base),
        "ratio": round(ours / base, 2),
        "disruptions": len(opened),
        "opened": opened,
        "rss_mib": rss,
        "keys_held_at_end": correlator.keys_held(),
        "window_size_at_end": correlator.window_size(),
    }


def detections(
    engine: Engine, rows: list[tuple[float, int, int]], opened: list[Opened], waves: set[int]
) -> dict[str, Any]:
    """Phase 2: the reference's disruptions on the wave keys and 200 others equal ours."""
    watcher = Watcher(engine, suggestions=False)
    (compiled,) = [c for c in watcher.correlations if c.id == "parcel.carrier_wave"]
    block = compiled.correlate
    us = timedelta(microseconds=1)
    spec = (block.threshold, block.within // us, block.hold // us)
    index = watcher.correlations.index(compiled)
    chosen = set(waves) | set(random.Random(7).sample(range(KEYS), 200))
    arrivals = (
        (f"I-{n}", micros(T0 + timedelta(seconds=at)), [(0, (f"K{c:05d}",))] if c in chosen else [])
        for n, (_, at, c) in enumerate(rows)
    )
    lateness = DISORDER * 1_000_000
    expected = [
        (e[2], e[3], tuple(m for m, _ in e[4]))
        for e in reference([spec], lateness, spec[1] + spec[2] + lateness, arrivals)
        if e[0] == "open"
    ]
    got = [
        (o.key, o.opened, tuple(m for m, _, _ in o.members))
        for o in opened
        if o.spec == index and int(o.key[0][1:]) in chosen
    ]
    return {"keys_checked": len(chosen), "reference": len(expected), "equal": got == expected}


def full_watch(engine: Engine, rows: list[tuple[float, int, int]], count: int) -> dict[str, Any]:
    """Phase 4: a full watch against suggestions alone, rounds alternating.

    The benchmark's own heap (the stream's million rows, phase 1's leftovers) is frozen
    first: a watch process does not carry it, and a full collection that scans it lands on
    whichever side happens to trigger it (phase 4 moved by 5-10 points between runs).
    """
    gc.collect()
    gc.freeze()
    try:
        return _full_watch(engine, rows, count)
    finally:
        gc.unfreeze()


def _full_watch(engine: Engine, rows: list[tuple[float, int, int]], count: int) -> dict[str, Any]:
    sample = incidents(rows, 0, min(count, len(rows)))
    rounds = 6
    size = len(sample) // rounds or 1
    alone = full = 0.0
    watcher = Watcher(engine, lateness=timedelta(seconds=DISORDER))
    for incident in sample[:50]:  # warm both up: compiled templates, caches
        engine.suggest(incident)
    for number in range(rounds):
        batch = sample[number * size : (number + 1) * size]
        for side in (0, 1) if number % 2 == 0 else (1, 0):
            started = time.process_time()
            if side == 0:  # what a watch without correlation does: suggest, dump the event
                for incident in batch:
                    event = {
                        "event": "suggestion",
                        **engine.suggest(incident).model_dump(mode="json"),
                    }
                    del event
                alone += time.process_time() - started
            else:
                for incident in batch:
                    watcher.process(incident)
                full += time.process_time() - started
    done = size * rounds
    return {
        "incidents": done,
        "suggest_us": round(alone / done * 1e6, 1),
        "watch_us": round(full / done * 1e6, 1),
        "added": round(full / alone - 1, 3),
    }


def latency(engine: Engine, rows: list[tuple[float, int, int]], waves: set[int]) -> dict[str, Any]:
    """Phase 5: the wall time of each process() call that produced notices."""
    wave_rows = [r for r in rows if r[2] in waves]
    watcher = Watcher(engine, lateness=timedelta(seconds=DISORDER), suggestions=False)
    opening: list[float] = []
    attaching: list[float] = []
    for incident in incidents(wave_rows, 0, len(wave_rows)):
        started = time.perf_counter()  # wall time: what a customer waits
        out = watcher.process(incident) or []
        took = (time.perf_counter() - started) * 1000
        notices = sum(1 for e in out if e["event"] == "notice")
        if any(e["event"] == "disruption_opened" for e in out):
            opening.append(took)
        elif notices:
            attaching.append(took)
    every = sorted(opening + attaching)
    return {
        "calls": len(every),
        "p50_ms": round(statistics.median(every), 2),
        "p99_ms": round(every[min(len(every) - 1, int(len(every) * 0.99))], 2),
        "max_ms": round(every[-1], 2),
        "opening_ms": [round(t, 1) for t in opening],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1_000_000)
    parser.add_argument("--full", type=int, default=12_000, help="incidents for phase 4")
    parser.add_argument("--chunk", type=int, default=50_000)
    parser.add_argument("--seed", type=int, default=21)
    parser.add_argument("--quick", action="store_true", help="a small run (the smoke test)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    if args.quick:
        args.n, args.full, args.chunk = 20_000, 600, 5_000
    load = os.getloadavg()[0]
    engine = Engine.from_path(backend="python")
    rows, waves = stream(args.n, args.seed)
    result: dict[str, Any] = {"load_before": round(load, 2), "cpus": os.cpu_count()}
    corr = correlation(engine, rows, args.chunk)
    opened = corr.pop("opened")
    result["correlation"] = corr
    result["detections"] = detections(engine, rows, opened, waves)
    del opened
    result["full_watch"] = full_watch(engine, rows, args.full)
    result["time_to_notices"] = latency(engine, rows, waves)
    result["load_after"] = round(os.getloadavg()[0], 2)
    if args.json:
        print(json.dumps(result, indent=2))
        return
    c, d, f, t = (
        result["correlation"],
        result["detections"],
        result["full_watch"],
        result["time_to_notices"],
    )
    print(
        f"{c['incidents']:,} incidents, {WAVES} waves over {KEYS:,} carriers, disorder up to 15 min"
    )
    print(
        f"correlation alone   {c['correlation_per_s']:>10,}/s   baseline (dict count) "
        f"{c['baseline_per_s']:,}/s   ratio {c['ratio']}"
    )
    print(
        f"disruptions         {c['disruptions']}   reference agrees on "
        f"{d['keys_checked']} keys: {d['equal']}"
    )
    print(f"RSS (MiB per chunk) {c['rss_mib'][0]} … {c['rss_mib'][-1]} (max {max(c['rss_mib'])})")
    print(
        f"full watch          {f['watch_us']} µs vs suggest {f['suggest_us']} µs: "
        f"{f['added'] * 100:+.1f}%"
    )
    print(f"time to notices     p50 {t['p50_ms']} ms  p99 {t['p99_ms']} ms  max {t['max_ms']} ms")
    print(
        f"load average        {result['load_before']} → {result['load_after']} "
        f"on {result['cpus']} CPUs"
    )


if __name__ == "__main__":
    main()
