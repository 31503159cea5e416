"""Benchmark replies on the shipped playbooks: rendering alone, and the full suggest.

For every example incident (examples/incidents/) x language (en, pl, uk) x channel
(email, sms, chat, social_public), after one warm-up call (templates compiled and
cached, as in a long-running service):

* ``render``  -- Renderer.render for an already decided suggestion;
* ``decide``  -- Engine.decide: validate + evaluate + decide, no reply (the baseline);
* ``suggest`` -- Engine.suggest: validate + evaluate + decide + render.

Prints medians and p90 in microseconds of CPU time per backend, then per backend the ratios measured
in the same run (suggest / decide, render / suggest) and the load average; ``--json``
prints rows ``{"metric": ..., "backend": ..., "median_us": ..., "p90_us": ..., "cases": n}``.
Target (issue 20): suggest p50 <= 150 us on a quiet machine, the render <= 50 % of it.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from functools import partial
from pathlib import Path
from typing import Any

from cxplay import Engine
from cxplay._engine.durable import AVAILABLE as DURABLE
from cxplay._engine.engine import reply_context

ROOT = Path(__file__).resolve().parent.parent
LANGUAGES = ("en", "pl", "uk")
CHANNELS = ("email", "sms", "chat", "social_public")


def cases() -> list[dict[str, Any]]:
    found = []
    for path in sorted((ROOT / "examples" / "incidents").glob("*.json")):
        base = json.loads(path.read_text(encoding="utf-8"))
        for language in LANGUAGES:
            for channel in CHANNELS:
                incident = dict(base)
                incident["channel"] = channel
                incident["customer"] = {**base.get("customer", {}), "language": language}
                found.append(incident)
    return found


def per_call(function: Any, argument: Any, repeats: int) -> float:
    """µs of CPU time per call (this process's: a shared machine's other work is not in it)."""
    function(argument)  # warm-up: compile and cache templates
    start = time.process_time_ns()
    for _ in range(repeats):
        function(argument)
    return (time.process_time_ns() - start) / repeats / 1000


def measure(backend: str, repeats: int) -> list[dict[str, Any]]:
    engine = Engine.from_path(backend=backend)  # type: ignore[arg-type]
    renderer = engine.renderer
    assert renderer is not None
    suggest_times: list[float] = []
    decide_times: list[float] = []
    render_times: list[float] = []
    for incident in cases():
        suggest_times.append(per_call(engine.suggest, incident, repeats))
        decide_times.append(per_call(engine.decide, incident, repeats))
        model = engine.incident(incident)
        decision = engine.decide(model)
        if not decision.kept:
            continue
        context = reply_context(decision)
        render_times.append(per_call(partial(renderer.render, ctx=context), model, repeats))
    rows = []
    measured = (("render", render_times), ("decide", decide_times), ("suggest", suggest_times))
    for metric, times in measured:
        ordered = sorted(times)
        rows.append(
            {
                "metric": metric,
                "backend": engine.backend,
                "median_us": round(statistics.median(ordered), 1),
                "p90_us": round(ordered[int(len(ordered) * 0.9)], 1),
                "cases": len(ordered),
            }
        )
    engine.close()
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print JSON rows only")
    parser.add_argument("--repeats", type=int, default=200, help="calls per case (default 200)")
    args = parser.parse_args(argv)
    backends = ("durable", "python") if DURABLE else ("python",)  # durable: Python < 3.13
    rows = [row for backend in backends for row in measure(backend, args.repeats)]
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    print(f"{'metric':<8} {'backend':<8} {'median µs':>10} {'p90 µs':>8} {'cases':>6}")
    for row in rows:
        print(
            f"{row['metric']:<8} {row['backend']:<8} {row['median_us']:>10} "
            f"{row['p90_us']:>8} {row['cases']:>6}"
        )
    for backend in backends:
        median = {r["metric"]: r["median_us"] for r in rows if r["backend"] == backend}
        print(
            f"{backend}: suggest / decide {median['suggest'] / median['decide']:.2f}, "
            f"render / suggest {median['render'] / median['suggest']:.2f}"
        )
    print("load average (1, 5, 15 min): {:.2f} {:.2f} {:.2f}".format(*os.getloadavg()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
