"""Benchmark cxplay's engine against a plain-Python baseline on synthetic playbooks.

What it does, per size (20, 200, 2,000 rules by default):

1. Generates a synthetic playbook set with a seeded RNG: ten incident types, each rule a
   conjunction of 2-4 comparisons whose first one pins the incident type
   (``type == '...'``), the others on ``channel``, ``customer.tier``, ``order.value`` and
   ``facts.delay_minutes``. Thresholds are calibrated on a separate sample of incidents so
   that a typical incident matches a handful of rules (the median count M is reported).
2. Writes it as TOML (one playbook file per incident type) into a temporary directory and
   loads it with ``Engine.from_path(dir, backend=...)`` for each backend.
3. Builds the baseline: each rule one precompiled lambda over the incident dict, a linear
   scan over all rules, every match collected.
4. Checks that both backends and the baseline return the same set of rule ids for every
   incident -- and exits with status 1 if they do not (timing wrong answers is worthless).
5. Times ``engine.evaluate(incident)`` (all matches, like the baseline) and the baseline on
   the same incidents, one ``time.perf_counter_ns`` pair per evaluation, several repeats,
   interleaved; reports medians in microseconds.

Also measured (human output and ``--extra FILE`` only; the ``--json`` rows stay pure):
load+compile time per size and backend, single-thread batch throughput, and with
``--soak`` the RSS growth over 1,000,000 evaluations at 200 rules on the durable backend.

Usage::

    python benchmarks/bench_engine.py                    # full run, human table
    python benchmarks/bench_engine.py --quick --sizes 20 --json
    python benchmarks/bench_engine.py --soak --extra extras.json
"""

from __future__ import annotations

import argparse
import gc
import json
import math
import os
import platform
import random
import resource
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cxplay import CxplayError, Engine, __version__, load_playbooks
from cxplay.models import CHANNELS

TYPES = (
    "parcel_damaged",
    "parcel_lost",
    "parcel_late",
    "child_seat_missing",
    "speaker_late",
    "guest_travel_disrupted",
    "guest_early_arrival",
    "queue_long",
    "webinar_missed",
    "reply_overdue",
)
TIERS = ("standard", "silver", "gold", "platinum")
TIER_WEIGHTS = (40, 25, 20, 10)
LANGUAGES = ("en", "pl", "uk")
CURRENCIES = ("PLN", "EUR", "USD")
BACKENDS = ("durable", "python")
#: Mean matches per incident the calibration aims at (DESIGN.md: 200 rules / ~7 matches).
TARGET_MATCHES = 6.0
#: Highest per-rule match probability (given the type) the calibration may ask for.
MAX_SELECTIVITY = 0.9
#: Targets from the issue: ratio cxplay/baseline at these sizes.
DURABLE_TARGET = 1.5
PYTHON_TARGET = 1.0
TARGET_SIZES = (200, 2000)
SOAK_EVALUATIONS = 1_000_000
SOAK_RULES = 200

# Field accessors of the baseline lambdas: plain dict access, missing -> None / NaN.
_ACCESS = {
    "type": "i['type']",
    "channel": "i.get('channel')",
    "customer.tier": "(i.get('customer') or E).get('tier')",
    "order.value": "(i.get('order') or E).get('value', NAN)",
    "facts.delay_minutes": "(i.get('facts') or E).get('delay_minutes', NAN)",
}
_NUMERIC = ("order.value", "facts.delay_minutes")
_CATEGORICAL = {"channel": CHANNELS, "customer.tier": TIERS}


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# --------------------------------------------------------------------------- incidents


def make_incident(rng: random.Random, number: int) -> dict[str, Any]:
    """One random, valid incident (only ``type`` is always present, like real traffic)."""
    incident: dict[str, Any] = {"id": f"INC-{number}", "type": rng.choice(TYPES)}
    channel = rng.choice(CHANNELS)
    if rng.random() < 0.95:
        incident["channel"] = channel
    customer: dict[str, Any] = {
        "id": f"C-{rng.randrange(100_000)}",
        "language": rng.choice(LANGUAGES),
    }
    tier = rng.choices(TIERS, TIER_WEIGHTS)[0]
    if rng.random() < 0.95:
        customer["tier"] = tier
    incident["customer"] = customer
    value = round(min(5000.0, rng.lognormvariate(5.0, 1.0)), 2)
    if rng.random() < 0.85:
        incident["order"] = {
            "id": f"O-{rng.randrange(1_000_000)}",
            "value": value,
            "currency": rng.choice(CURRENCIES),
        }
    delay = rng.randrange(0, 241)
    if rng.random() < 0.8:
        incident["facts"] = {"delay_minutes": delay}
    return incident


def make_incidents(seed: str, count: int) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    return [make_incident(rng, n) for n in range(count)]


@dataclass(frozen=True)
class Distribution:
    """What the calibration knows about incidents: value frequencies and quantiles."""

    share: Mapping[tuple[str, str], float]  # P(field == value), field missing counts as no
    present: Mapping[str, float]  # P(numeric field present)
    sorted_values: Mapping[str, list[float]]  # present values of numeric fields, sorted

    @classmethod
    def of(cls, incidents: Sequence[Mapping[str, Any]]) -> Distribution:
        baseline_get = {name: _getter(name) for name in _ACCESS}
        total = len(incidents)
        share: dict[tuple[str, str], float] = {}
        for name, values in _CATEGORICAL.items():
            got = [baseline_get[name](i) for i in incidents]
            for value in values:
                share[(name, value)] = sum(v == value for v in got) / total
        present: dict[str, float] = {}
        sorted_values: dict[str, list[float]] = {}
        for name in _NUMERIC:
            got = [baseline_get[name](i) for i in incidents]
            found = sorted(v for v in got if not math.isnan(v))
            present[name] = len(found) / total
            sorted_values[name] = found
        return cls(share, present, sorted_values)

    def quantile(self, name: str, q: float) -> float:
        values = self.sorted_values[name]
        index = min(len(values) - 1, max(0, int(q * len(values))))
        return values[index]


def _getter(name: str) -> Callable[[Mapping[str, Any]], Any]:
    return eval(f"lambda i: {_ACCESS[name]}", {"E": {}, "NAN": math.nan})  # our own source


# --------------------------------------------------------------------------- rules


Comparison = tuple[str, str, Any]  # (field, operator, literal)


@dataclass(frozen=True)
class SyntheticRule:
    id: str
    type: str
    comparisons: tuple[Comparison, ...]  # the first is always ("type", "==", type)
    priority: int

    def when(self) -> str:
        """The condition in cxplay's language."""
        return " and ".join(f"{f} {op} {_literal(v)}" for f, op, v in self.comparisons)

    def python(self) -> str:
        """The same condition as a Python expression over the incident dict ``i``."""
        return " and ".join(f"{_ACCESS[f]} {op} {_literal(v)}" for f, op, v in self.comparisons)


def _literal(value: Any) -> str:
    if isinstance(value, str):
        return repr(value)
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return repr(value)


def make_rules(
    count: int, seed: str, selectivity: float, dist: Distribution
) -> list[SyntheticRule]:
    """``count`` rules spread evenly over the types; each holds with ~``selectivity``.

    The random draws do not depend on ``selectivity`` (only the operators and thresholds
    do), so calibration can regenerate the same structure with other thresholds.
    """
    rng = random.Random(seed)
    rules: list[SyntheticRule] = []
    fields = ("channel", "customer.tier", "order.value", "facts.delay_minutes")
    for number in range(count):
        incident_type = TYPES[number % len(TYPES)]
        extra = rng.choice((1, 2, 3))
        chosen = rng.sample(fields, extra)
        draws = [(rng.choice(_CATEGORICAL.get(f, ("",))), rng.random()) for f in chosen]
        priority = rng.randrange(0, 101)
        # Each of the ``extra`` comparisons should hold with ~selectivity ** (1 / extra).
        slot = selectivity ** (1.0 / extra)
        comparisons: list[Comparison] = [("type", "==", incident_type)]
        budget = selectivity
        numeric: list[tuple[str, float]] = []
        for name, (value, coin) in zip(chosen, draws, strict=True):
            if name in _CATEGORICAL:
                equal = dist.share[(name, value)]
                differ = 1.0 - equal  # != also holds when the field is missing
                # the operator whose selectivity is closer to the slot's (in log space)
                if abs(math.log(max(equal, 1e-9) / slot)) <= abs(math.log(differ / slot)):
                    comparisons.append((name, "==", value))
                    budget /= max(equal, 1e-9)
                else:
                    comparisons.append((name, "!=", value))
                    budget /= differ
            else:
                numeric.append((name, coin))
        if numeric:
            share = min(1.0, budget) ** (1.0 / len(numeric))
            for name, coin in numeric:
                within = min(1.0, share / dist.present[name])  # among incidents having it
                if coin < 0.7:  # most thresholds are "at least" ...
                    op = ">=" if coin < 0.35 else ">"
                    threshold = dist.quantile(name, 1.0 - within)
                    step = 1 if name == "facts.delay_minutes" else 0.01  # whole minutes
                    threshold = math.floor(threshold * 100) / 100 - (step if op == ">" else 0)
                    threshold = max(0.0, round(threshold, 2))
                    op = ">=" if threshold == 0.0 else op
                else:  # ... some are "below"
                    op = "<"
                    if within >= 1.0:
                        threshold = dist.sorted_values[name][-1] + 1
                    else:
                        threshold = dist.quantile(name, within)
                    threshold = math.ceil(threshold * 100) / 100
                comparisons.append((name, op, threshold))
        rules.append(
            SyntheticRule(
                f"syn.{incident_type}.r{number:04d}", incident_type, tuple(comparisons), priority
            )
        )
    return rules


def write_playbooks(rules: Sequence[SyntheticRule], directory: Path) -> None:
    """One TOML playbook per incident type, rules in generation order."""
    by_type: dict[str, list[SyntheticRule]] = {}
    for rule in rules:
        by_type.setdefault(rule.type, []).append(rule)
    for incident_type, group in by_type.items():
        lines = [
            "[playbook]",
            f'id = "synthetic_{incident_type}"',
            'version = "1.0.0"',
            f'title = "Synthetic benchmark rules for {incident_type}"',
            "",
            "[facts]",
            'delay_minutes = "number"',
            "",
        ]
        for rule in group:
            lines += [
                "[[rule]]",
                f'id = "{rule.id}"',
                f'when = "{rule.when()}"',
                f"priority = {rule.priority}",
                'actions = [{ kind = "apology" }]',
                "",
            ]
        (directory / f"{incident_type}.toml").write_text("\n".join(lines), encoding="utf-8")


# --------------------------------------------------------------------------- baseline


def make_baseline(rules: Sequence[SyntheticRule]) -> Callable[[Mapping[str, Any]], list[str]]:
    """Each rule one precompiled lambda; a linear scan over all of them, all matches kept."""
    scope = {"E": {}, "NAN": math.nan}
    compiled = [
        (rule.id, eval(compile(f"lambda i: {rule.python()}", rule.id, "eval"), scope))
        for rule in rules
    ]

    def baseline(incident: Mapping[str, Any]) -> list[str]:
        return [rule_id for rule_id, predicate in compiled if predicate(incident)]

    return baseline


def calibrate(
    count: int, seed: str, dist: Distribution, sample: Sequence[Mapping[str, Any]]
) -> tuple[list[SyntheticRule], float]:
    """Rules whose mean match count on ``sample`` is close to TARGET_MATCHES."""
    per_type = count / len(TYPES)
    selectivity = min(MAX_SELECTIVITY, TARGET_MATCHES / per_type)
    rules = make_rules(count, seed, selectivity, dist)
    for _ in range(4):
        if selectivity >= MAX_SELECTIVITY:
            break
        baseline = make_baseline(rules)
        mean = statistics.fmean(len(baseline(i)) for i in sample)
        if mean <= 0 or abs(mean - TARGET_MATCHES) / TARGET_MATCHES < 0.08:
            break
        selectivity = min(MAX_SELECTIVITY, selectivity * TARGET_MATCHES / mean)
        rules = make_rules(count, seed, selectivity, dist)
    return rules, selectivity


# --------------------------------------------------------------------------- measuring


@dataclass
class SizeResult:
    rules: int
    matches: float
    median_us: dict[str, float] = field(default_factory=dict)
    p90_us: dict[str, float] = field(default_factory=dict)
    throughput: dict[str, float] = field(default_factory=dict)
    load_ms: dict[str, float] = field(default_factory=dict)


def _timer_overhead_ns() -> int:
    clock = time.perf_counter_ns
    samples = []
    for _ in range(20_000):
        t0 = clock()
        t1 = clock()
        samples.append(t1 - t0)
    return int(statistics.median(samples))


def time_each(
    functions: Mapping[str, Callable[[Any], Any]],
    incidents: Sequence[Any],
    repeats: int,
    block: int | None = None,
) -> dict[str, list[int]]:
    """Per-evaluation times (ns) of each function on each incident, ``repeats`` times.

    The functions take turns, one whole pass over the incidents each (or ``block``
    incidents), the order of the turns rotating: every function is measured in its warm
    steady state, as a service calling one engine sees it, and a slow drift of the machine
    hits all of them alike. (Turns of a few incidents let the baseline's scan over every
    rule evict the engine's code and data from the CPU caches between calls, which adds
    ~25 % to cxplay's figures at 2,000 rules: a cold-cache measurement, not this one.)
    """
    clock = time.perf_counter_ns
    samples: dict[str, list[int]] = {name: [] for name in functions}
    names = list(functions)
    step = block or len(incidents)
    turn = 0
    for _ in range(repeats):
        for start in range(0, len(incidents), step):
            chunk = incidents[start : start + step]
            turn += 1
            for name in names[turn % len(names) :] + names[: turn % len(names)]:
                function = functions[name]
                out = samples[name]
                gc.collect()
                for incident in chunk:
                    t0 = clock()
                    function(incident)
                    t1 = clock()
                    out.append(t1 - t0)
    return samples


def throughput(function: Callable[[Any], Any], incidents: Sequence[Any], passes: int) -> float:
    """Evaluations per second on one thread: a tight loop, no per-call timers; best pass."""
    rates = []
    for _ in range(passes):
        gc.collect()
        t0 = time.perf_counter_ns()
        for incident in incidents:
            function(incident)
        elapsed = time.perf_counter_ns() - t0
        rates.append(len(incidents) / (elapsed / 1e9))
    return max(rates)


def rss_bytes() -> int:
    try:
        with open("/proc/self/statm", encoding="ascii") as statm:
            return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except OSError:  # not Linux: fall back to the peak
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def _as_number(value: float) -> int | float:
    return int(value) if float(value).is_integer() else round(value, 1)


def open_engine(directory: Path, backend: str) -> Engine | None:
    try:
        return Engine.from_path(directory, backend=backend)  # type: ignore[arg-type]
    except CxplayError as exc:
        if backend == "durable" and "does not import" in str(exc):
            log(f"  skipping the durable backend: {exc}")
            return None
        raise


def check_agreement(
    engines: Mapping[str, Engine],
    baseline: Callable[[Mapping[str, Any]], list[str]],
    incidents: Sequence[Mapping[str, Any]],
) -> list[str]:
    """Every disagreement between the baseline and a backend, as readable lines."""
    problems: list[str] = []
    for incident in incidents:
        expected = set(baseline(incident))
        for name, engine in engines.items():
            got = {m.rule for m in engine.evaluate(incident)}
            if got != expected:
                problems.append(
                    f"{name} on {json.dumps(incident, sort_keys=True)}: "
                    f"missing {sorted(expected - got)}, extra {sorted(got - expected)}"
                )
    return problems


def run_size(
    count: int, args: argparse.Namespace, incidents: list[dict[str, Any]], dist: Distribution
) -> tuple[SizeResult, list[str]]:
    sample = make_incidents(f"{args.seed}-calibration", args.calibration)
    rules, selectivity = calibrate(count, f"{args.seed}-rules-{count}", dist, sample)
    baseline = make_baseline(rules)
    counts = [len(baseline(i)) for i in incidents]
    matches = statistics.median(counts)
    result = SizeResult(rules=count, matches=matches)
    log(
        f"{count} rules: per-rule selectivity {selectivity:.3f}, "
        f"median matches {matches}, mean {statistics.fmean(counts):.2f}"
    )
    with tempfile.TemporaryDirectory(prefix=f"cxplay-bench-{count}-") as tmp:
        directory = Path(tmp)
        write_playbooks(rules, directory)

        # load + compile, each backend (a fresh engine every time, closed at once)
        load_repeats = 1 if args.quick else 3
        for backend in BACKENDS:
            times = []
            for _ in range(load_repeats):
                t0 = time.perf_counter_ns()
                engine = open_engine(directory, backend)
                times.append(time.perf_counter_ns() - t0)
                if engine is None:
                    break
                engine.close()
            else:
                result.load_ms[backend] = statistics.median(times) / 1e6
        t0 = time.perf_counter_ns()
        load_playbooks(directory)
        result.load_ms["parse+validate only"] = (time.perf_counter_ns() - t0) / 1e6

        engines: dict[str, Engine] = {}
        for backend in BACKENDS:
            engine = open_engine(directory, backend)
            if engine is not None:
                engines[backend] = engine
        try:
            problems = check_agreement(engines, baseline, incidents)
            if problems:
                return result, problems
            functions: dict[str, Callable[[Any], Any]] = {"baseline": baseline}
            functions.update({name: engine.evaluate for name, engine in engines.items()})
            samples = time_each(functions, incidents, args.repeats)
            for name, values in samples.items():
                result.median_us[name] = statistics.median(values) / 1000
                result.p90_us[name] = statistics.quantiles(values, n=10)[-1] / 1000
            passes = 1 if args.quick else 3
            for name, function in functions.items():
                result.throughput[name] = throughput(function, incidents, passes)
        finally:
            for engine in engines.values():
                engine.close()
    return result, []


def soak(
    args: argparse.Namespace, incidents: list[dict[str, Any]], dist: Distribution
) -> dict[str, Any]:
    """RSS before/after SOAK_EVALUATIONS evaluations at SOAK_RULES rules, durable backend."""
    sample = make_incidents(f"{args.seed}-calibration", args.calibration)
    rules, _ = calibrate(SOAK_RULES, f"{args.seed}-rules-{SOAK_RULES}", dist, sample)
    total = args.soak_evaluations
    with tempfile.TemporaryDirectory(prefix="cxplay-soak-") as tmp:
        directory = Path(tmp)
        write_playbooks(rules, directory)
        engine = open_engine(directory, "durable")
        if engine is None:
            return {"skipped": "durable backend unavailable"}
        try:
            evaluate = engine.evaluate
            n = len(incidents)
            warmup = min(20_000, total // 10)
            for k in range(warmup):
                evaluate(incidents[k % n])
            gc.collect()
            start = rss_bytes()
            checkpoints: list[tuple[int, int]] = [(0, start)]
            step = max(1, total // 10)
            t0 = time.perf_counter_ns()
            done = 0
            while done < total:
                for k in range(done, min(total, done + step)):
                    evaluate(incidents[k % n])
                done = min(total, done + step)
                checkpoints.append((done, rss_bytes()))
            elapsed = (time.perf_counter_ns() - t0) / 1e9
            gc.collect()
            end = rss_bytes()
        finally:
            engine.close()
    return {
        "rules": SOAK_RULES,
        "backend": "durable",
        "evaluations": total,
        "seconds": round(elapsed, 1),
        "evaluations_per_s": round(total / elapsed),
        "rss_start_mib": round(start / 2**20, 2),
        "rss_end_mib": round(end / 2**20, 2),
        "rss_growth_kib": round((end - start) / 1024),
        "rss_peak_mib": round(max(r for _, r in checkpoints) / 2**20, 2),
        "ru_maxrss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 2),
        "checkpoints_mib": [(d, round(r / 2**20, 2)) for d, r in checkpoints],
    }


# --------------------------------------------------------------------------- output


def contract_rows(results: Sequence[SizeResult]) -> list[dict[str, Any]]:
    """The ``--json`` rows, exactly the documented keys."""
    rows = []
    for result in results:
        base = result.median_us["baseline"]
        for backend in BACKENDS:
            if backend not in result.median_us:
                continue
            x = result.median_us[backend]
            rows.append(
                {
                    "rules": result.rules,
                    "matches": _as_number(result.matches),
                    "backend": backend,
                    "cxplay_median_us": round(x, 2),
                    "baseline_median_us": round(base, 2),
                    "ratio": round(x / base, 3),
                }
            )
    return rows


def verdict(rules: int, backend: str, ratio: float) -> str:
    if rules not in TARGET_SIZES:
        return "-"
    if backend == "durable":
        return f"<= {DURABLE_TARGET}x: " + ("met" if ratio <= DURABLE_TARGET else "MISSED")
    return f"< {PYTHON_TARGET}x: " + ("met" if ratio < PYTHON_TARGET else "MISSED")


def print_tables(
    results: Sequence[SizeResult], soaked: dict[str, Any] | None, header: Mapping[str, Any]
) -> None:
    print("cxplay engine benchmark")
    for key, value in header.items():
        print(f"  {key}: {value}")
    print()
    print("engine.evaluate (all matches), medians of per-evaluation times")
    print(
        f"{'rules':>6} {'M':>4}  {'backend':<8} {'cxplay µs':>10} {'p90 µs':>8} "
        f"{'baseline µs':>12} {'p90 µs':>8} {'ratio':>6}  target"
    )
    for row in contract_rows(results):
        result = next(r for r in results if r.rules == row["rules"])
        print(
            f"{row['rules']:>6} {row['matches']:>4}  {row['backend']:<8} "
            f"{row['cxplay_median_us']:>10.1f} {result.p90_us[row['backend']]:>8.1f} "
            f"{row['baseline_median_us']:>12.1f} {result.p90_us['baseline']:>8.1f} "
            f"{row['ratio']:>6.2f}  {verdict(row['rules'], row['backend'], row['ratio'])}"
        )
    print()
    print("load + compile (Engine.from_path: read TOML, validate, compile, build rulesets), ms")
    print(f"{'rules':>6}  {'durable':>9} {'python':>9} {'parse+validate only':>20}")
    for result in results:
        cells = [result.load_ms.get(k) for k in (*BACKENDS, "parse+validate only")]
        text = [f"{c:.1f}" if c is not None else "n/a" for c in cells]
        print(f"{result.rules:>6}  {text[0]:>9} {text[1]:>9} {text[2]:>20}")
    print()
    print("batch throughput, one thread, evaluations/s")
    print(f"{'rules':>6}  {'durable':>9} {'python':>9} {'baseline':>9}")
    for result in results:
        cells = [result.throughput.get(k) for k in (*BACKENDS, "baseline")]
        text = [f"{c:,.0f}" if c is not None else "n/a" for c in cells]
        print(f"{result.rules:>6}  {text[0]:>9} {text[1]:>9} {text[2]:>9}")
    if soaked is not None:
        print()
        print(
            f"RSS soak: {soaked.get('evaluations', 0):,} evaluations, "
            f"{soaked.get('rules')} rules, durable backend"
        )
        for key, value in soaked.items():
            if key not in ("rules", "backend", "evaluations"):
                print(f"  {key}: {value}")


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="20,200,2000", help="rule counts, comma-separated")
    parser.add_argument("--json", action="store_true", help="print only the JSON rows")
    parser.add_argument("--quick", action="store_true", help="fewer incidents and repeats (CI)")
    parser.add_argument("--incidents", type=int, help="incidents evaluated (default 500)")
    parser.add_argument("--repeats", type=int, help="timed passes over them (default 7)")
    parser.add_argument("--seed", default="cxplay-bench-1", help="RNG seed (runs are repeatable)")
    parser.add_argument(
        "--soak", action="store_true", help="also RSS over 1,000,000 evaluations (durable, 200)"
    )
    parser.add_argument("--soak-evaluations", type=int, default=SOAK_EVALUATIONS)
    parser.add_argument(
        "--extra", metavar="FILE", help="write load times, throughput, soak, p90 as JSON here"
    )
    args = parser.parse_args(argv)
    try:
        args.size_list = [int(s) for s in args.sizes.split(",") if s.strip()]
    except ValueError:
        parser.error(f"--sizes: expected comma-separated integers, got {args.sizes!r}")
    if not args.size_list or any(n < 1 for n in args.size_list):
        parser.error("--sizes: expected positive integers")
    args.incidents = args.incidents or (100 if args.quick else 500)
    args.repeats = args.repeats or (2 if args.quick else 7)
    args.calibration = 1000 if args.quick else 5000
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    incidents = make_incidents(f"{args.seed}-incidents", args.incidents)
    dist = Distribution.of(make_incidents(f"{args.seed}-distribution", 20_000))
    header = {
        "python": platform.python_version(),
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs, {platform.system()}",
        "cxplay": __version__,
        "incidents": args.incidents,
        "repeats": args.repeats,
        "seed": args.seed,
        "timer overhead": f"{_timer_overhead_ns()} ns per perf_counter_ns pair (not subtracted)",
    }
    results: list[SizeResult] = []
    for count in args.size_list:
        result, problems = run_size(count, args, incidents, dist)
        if problems:
            log(
                f"FAIL: the backends and the baseline disagree at {count} rules "
                f"({len(problems)} differences); not timing wrong answers"
            )
            for line in problems[:20]:
                log(f"  {line}")
            return 1
        results.append(result)
    log("all backends agree with the baseline on every incident")
    soaked = soak(args, incidents, dist) if args.soak else None
    if args.json:
        print(json.dumps(contract_rows(results), indent=2))
    else:
        print_tables(results, soaked, header)
    if args.extra:
        extra = {
            "header": header,
            "sizes": [
                {
                    "rules": r.rules,
                    "matches": _as_number(r.matches),
                    "median_us": {k: round(v, 2) for k, v in r.median_us.items()},
                    "p90_us": {k: round(v, 2) for k, v in r.p90_us.items()},
                    "throughput_per_s": {k: round(v) for k, v in r.throughput.items()},
                    "load_ms": {k: round(v, 1) for k, v in r.load_ms.items()},
                }
                for r in results
            ],
            "soak": soaked,
        }
        Path(args.extra).write_text(json.dumps(extra, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
