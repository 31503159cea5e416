"""Decision log benchmark: what logging adds to a suggestion, and a report over 1M decisions.

Part 1 runs the same incidents through one engine without a log and through engines with a
log (SQLite written at once, SQLite in batches, PostgreSQL in batches and at once when
``CXPLAY_TEST_DATABASE_URL`` or ``--pg`` names a server), alternating rounds so that a
busy machine slows both sides alike, and prints the median time per suggestion and the
ratio. Every incident has a customer id, so the logged side also pays for the customer
history look-up; each logged round ends with a flush, so batched writes are counted.

Part 2 fills a SQLite log with synthetic decisions (1,000,000 by default; generated inside
SQLite with a recursive CTE, so filling takes seconds) and times ``build_report`` over it.

Part 3 weighs the partial customer index (revision ``customer_history``, for the console's
history panel) on that filled log: logged suggestions written (one at a time) into a copy
with the index and a copy without it, in alternating rounds, and
``customer_decisions`` with the index and without it (a scan).

    python benchmarks/bench_log.py                 # ~1-2 min
    python benchmarks/bench_log.py --quick --json  # the smoke test's run (seconds)
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from cxplay import DecisionLog, Engine
from cxplay._log import schema
from cxplay._log.report import build_report

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = sorted((ROOT / "examples" / "incidents").glob("*.json"))


def incidents(count: int, prefix: str) -> list[dict[str, Any]]:
    """``count`` incidents cycling over the examples, each with its own id and a customer."""
    base = [json.loads(p.read_text(encoding="utf-8")) for p in EXAMPLES]
    out = []
    for n in range(count):
        incident = json.loads(json.dumps(base[n % len(base)]))
        incident["id"] = f"{prefix}-{n}"
        customer = incident.setdefault("customer", {})
        customer["id"] = f"C-{n % 500}"
        customer.pop("compensations_90d", None)  # from the log
        out.append(incident)
    return out


def _round(
    engine: Engine, batch: list[dict[str, Any]], log: DecisionLog | None
) -> tuple[float, float]:
    """µs per suggestion: wall clock, and CPU time of the whole process (every thread)."""
    start, cpu = time.perf_counter(), time.process_time()
    for incident in batch:
        engine.suggest(incident)
    if log is not None:
        log.flush()  # batched writes are part of the cost
    wall, cpu = time.perf_counter() - start, time.process_time() - cpu
    return wall / len(batch) * 1e6, cpu / len(batch) * 1e6


def measure_suggest(
    targets: list[tuple[str, str, int]], rounds: int, per_round: int
) -> list[dict[str, Any]]:
    """Median µs per suggestion without and with each log, in alternating rounds."""
    plain = Engine.from_path()
    rows = []
    for name, target, batch_size in targets:
        with DecisionLog.open(target, batch_size=batch_size) as log:
            logged = Engine(plain.playbooks, log=log)
            warm = incidents(per_round, f"warm-{uuid.uuid4().hex[:6]}")
            _round(plain, warm, None)
            _round(logged, warm, log)
            without, with_log = [], []
            for r in range(rounds):
                batch = incidents(per_round, f"{name}-{r}-{uuid.uuid4().hex[:6]}")
                without.append(_round(plain, batch, None))
                with_log.append(_round(logged, batch, log))
            logged.close()
        base = statistics.median(w for w, _ in without)
        cost = statistics.median(w for w, _ in with_log)
        base_cpu = statistics.median(c for _, c in without)
        cost_cpu = statistics.median(c for _, c in with_log)
        rows.append(
            {
                "store": name,
                "batch_size": batch_size,
                "without_us": round(base, 1),
                "with_us": round(cost, 1),
                "ratio": round(cost / base, 3),
                "cpu_without_us": round(base_cpu, 1),
                "cpu_with_us": round(cost_cpu, 1),
                "cpu_ratio": round(cost_cpu / base_cpu, 3),
            }
        )
    plain.close()
    return rows


# --------------------------------------------------------------------------- report


TYPES = [
    ("parcel_damaged", ["parcel.damaged.apologise", "parcel.damaged.refund_or_replace"]),
    ("parcel_late", ["parcel.late.apologise", "parcel.late.inform", "parcel.late.free_shipping"]),
    (
        "parcel_lost",
        ["parcel.lost.apologise", "parcel.lost.search", "parcel.lost.resend_or_refund"],
    ),
    ("queue_long", ["retail.queue.apologise", "retail.queue.voucher", "retail.queue.survey"]),
    ("reply_overdue", ["contact.overdue.apologise", "contact.overdue.callback"]),
]


def fill(path: Path, count: int) -> float:
    """``count`` synthetic decisions (rules, outcomes, compensation, surveys); returns seconds."""
    with DecisionLog.open(path):
        pass  # migrated
    start = time.perf_counter()
    engine = sa.create_engine(f"sqlite:///{path}")
    kinds = len(TYPES)
    type_case = " ".join(f"WHEN {i} THEN '{name}'" for i, (name, _) in enumerate(TYPES))
    rules_case = " ".join(
        f"WHEN {i} THEN '" + ";".join(f"{r} {r.split('.')[0]}@1.0.0" for r in rules) + "'"
        for i, (_, rules) in enumerate(TYPES)
    )
    indexes = [i for table in schema.metadata.sorted_tables for i in table.indexes]
    with engine.begin() as conn:
        conn.exec_driver_sql("PRAGMA journal_mode=WAL")
        conn.exec_driver_sql("PRAGMA synchronous=OFF")
        for index in indexes:  # a bulk load builds its indexes once, at the end
            index.drop(conn)
        conn.exec_driver_sql(f"""
            WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i + 1 < {count})
            INSERT INTO cxplay_decision (id, incident_key, digest, created_at, seen_at, views,
                customer_id, type, channel, language, severity, matched, backend, playbooks,
                incident, actions, rules, occurred_at, respond_by, status, decided_at,
                first_response_s, on_time, csat, nps, ces, forgotten)
            SELECT printf('%032x', i), 'B-' || i, 'bench', '2026-11-01 00:00:00.000000',
                '2026-11-01 00:00:00.000000', 1, 'C-' || (i % 50000),
                CASE i % {kinds} {type_case} END, 'email', 'en', 'medium', 1, 'python',
                '[]', '{{}}', '[]', CASE i % {kinds} {rules_case} END, NULL, NULL,
                CASE i % 10 WHEN 0 THEN 'rejected' WHEN 1 THEN 'edited' WHEN 2 THEN NULL
                    ELSE 'accepted' END,
                NULL,
                CASE i % 10 WHEN 2 THEN NULL ELSE (i % 7200) END,
                CASE i % 10 WHEN 2 THEN NULL ELSE (i % 7200) < 6000 END,
                CASE WHEN i % 3 = 0 THEN 1 + i % 5 END,
                CASE WHEN i % 4 = 0 THEN i % 11 END,
                CASE WHEN i % 5 = 0 THEN 1 + i % 7 END,
                0
            FROM n""")
        conn.exec_driver_sql(f"""
            INSERT INTO cxplay_given (decision_id, customer_id, type, decision_at, kind, rule,
                amount, currency, at)
            SELECT d.id, d.customer_id, d.type, d.created_at, 'refund',
                CASE (d.rowid - 1) % {kinds} WHEN 0 THEN '{TYPES[0][1][1]}'
                    ELSE '{TYPES[2][1][2]}' END,
                10 + (d.rowid % 300), CASE d.rowid % 4 WHEN 0 THEN 'EUR' ELSE 'PLN' END,
                d.created_at
            FROM cxplay_decision AS d
            WHERE d.status IN ('accepted', 'edited') AND (d.rowid - 1) % {kinds} IN (0, 2)""")
        for index in indexes:
            index.create(conn)
    engine.dispose()
    return time.perf_counter() - start


def measure_report(count: int, repeats: int) -> dict[str, Any]:
    """Seconds to build the report over ``count`` decisions (median of ``repeats``)."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "report.db"
        filled = fill(path, count)
        times = []
        with DecisionLog.open(path) as log:
            for _ in range(repeats):
                start = time.perf_counter()
                report = build_report(log)
                times.append(time.perf_counter() - start)
        assert report.total.decisions == count, report.total.decisions
        return {
            "decisions": count,
            "fill_s": round(filled, 2),
            "report_s": round(statistics.median(times), 3),
            "by_type": len(report.by_type),
            "by_rule": len(report.by_rule),
        }


def measure_customer_index(count: int, rounds: int, per_round: int) -> dict[str, Any]:
    """What the customer index costs a write and saves a history look-up, on ``count`` rows."""
    import shutil

    plain = Engine.from_path()
    with tempfile.TemporaryDirectory() as tmp:
        indexed = Path(tmp) / "indexed.db"
        fill(indexed, count)
        bare = Path(tmp) / "bare.db"
        shutil.copy(indexed, bare)
        with sa.create_engine(f"sqlite:///{bare}").begin() as conn:
            conn.exec_driver_sql("DROP INDEX cxplay_decision_customer_recent")
        logs = {
            name: DecisionLog.open(path) for name, path in (("with", indexed), ("without", bare))
        }
        try:
            engines = {name: Engine(plain.playbooks, log=log) for name, log in logs.items()}
            times: dict[str, list[float]] = {"with": [], "without": []}
            lookups: dict[str, list[float]] = {"with": [], "without": []}
            for r in range(rounds + 1):
                batch = incidents(per_round, f"ix-{r}-{uuid.uuid4().hex[:6]}")
                for name in ("with", "without") if r % 2 else ("without", "with"):
                    wall, _ = _round(engines[name], batch, logs[name])
                    start = time.perf_counter()
                    for n in range(20):
                        logs[name].customer_decisions(f"C-{(r * 20 + n) % 50000}")
                    lookup = (time.perf_counter() - start) / 20 * 1e6
                    if r:  # the first round warms both up
                        times[name].append(wall)
                        lookups[name].append(lookup)
            for engine in engines.values():
                engine.close()
        finally:
            for log in logs.values():
                log.close()
    plain.close()
    write_with, write_without = (statistics.median(times[k]) for k in ("with", "without"))
    read_with, read_without = (statistics.median(lookups[k]) for k in ("with", "without"))
    return {
        "decisions": count,
        "write_with_index_us": round(write_with, 1),
        "write_without_index_us": round(write_without, 1),
        "write_ratio": round(write_with / write_without, 3),
        "lookup_with_index_us": round(read_with, 1),
        "lookup_without_index_us": round(read_without, 1),
        "lookup_ratio": round(read_with / read_without, 4),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a few rounds, 20,000 decisions")
    parser.add_argument("--json", action="store_true", help="print JSON only")
    parser.add_argument("--rounds", type=int, default=9, help="rounds per log (default 9)")
    parser.add_argument("--per-round", type=int, default=300, help="suggestions per round")
    parser.add_argument("--decisions", type=int, help="for the report (default 1,000,000)")
    parser.add_argument("--pg", default=os.environ.get("CXPLAY_TEST_DATABASE_URL"), help="URL")
    args = parser.parse_args(argv)
    if args.quick:
        args.rounds, args.per_round = 2, 40
    if args.decisions is None:
        args.decisions = 20_000 if args.quick else 1_000_000
    with tempfile.TemporaryDirectory() as tmp:
        targets = [
            ("sqlite", str(Path(tmp) / "each.db"), 1),
            ("sqlite", str(Path(tmp) / "batched.db"), 64),
        ]
        schema = None
        if args.pg:
            schema = f"bench_{os.getpid()}_{uuid.uuid4().hex[:6]}"
            admin = sa.create_engine(args.pg)
            with admin.begin() as conn:
                conn.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
            sep = "&" if "?" in args.pg else "?"
            url = f"{args.pg}{sep}options=-csearch_path%3D{schema}"
            targets += [("postgresql", url, 1), ("postgresql", url, 64)]
        try:
            suggest_rows = measure_suggest(targets, args.rounds, args.per_round)
        finally:
            if schema is not None:
                with admin.begin() as conn:
                    conn.exec_driver_sql(f'DROP SCHEMA "{schema}" CASCADE')
                admin.dispose()
    report_row = measure_report(args.decisions, 1 if args.quick else 3)
    index_row = measure_customer_index(args.decisions, args.rounds, args.per_round)
    result = {"suggest": suggest_rows, "report": report_row, "customer_index": index_row}
    if args.json:
        print(json.dumps(result, indent=2))
        return 0
    print("suggest with and without the decision log (median µs per suggestion)")
    print(f"{'':17} {'---- wall clock ----':>26}   {'--- CPU, all threads ---':>26}")
    print(
        f"{'store':<11} {'batch':>5} {'without':>9} {'with':>9} {'ratio':>6}   "
        f"{'without':>9} {'with':>9} {'ratio':>6}"
    )
    for row in suggest_rows:
        print(
            f"{row['store']:<11} {row['batch_size']:>5} {row['without_us']:>9.1f} "
            f"{row['with_us']:>9.1f} {row['ratio']:>6.2f}   {row['cpu_without_us']:>9.1f} "
            f"{row['cpu_with_us']:>9.1f} {row['cpu_ratio']:>6.2f}"
        )
    print()
    print(
        f"report over {report_row['decisions']:,} decisions on SQLite: "
        f"{report_row['report_s']:.2f} s (filled in {report_row['fill_s']:.1f} s; "
        f"{report_row['by_type']} types, {report_row['by_rule']} rules)"
    )
    row = index_row
    print()
    print(f"customer index on {row['decisions']:,} decisions (SQLite, median µs)")
    print(
        f"  logged suggestion: {row['write_with_index_us']:.1f} with, "
        f"{row['write_without_index_us']:.1f} without (ratio {row['write_ratio']:.3f})"
    )
    print(
        f"  customer_decisions: {row['lookup_with_index_us']:.1f} with, "
        f"{row['lookup_without_index_us']:.1f} without (ratio {row['lookup_ratio']:.4f})"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
