"""Benchmark ``matches()``: cxplay's RE2 yes-or-no against Python's ``re`` and RE2's own API.

For ordinary patterns on a customer's description (a few hundred characters) and for the
catastrophic ``(a+)+$`` on a 20,000-character attack, prints the median time per search in
microseconds. Python's ``re`` is timed on the attack only up to 22 characters: each further
character doubles its time (19 s at 28).

``--json`` prints rows ``{"case": ..., "engine": ..., "median_us": ...}``; ``--quick`` runs
a few hundred searches per row (the smoke test); exit status 1 when the engines disagree.
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import sys
import time
from collections.abc import Callable
from typing import Any

import re2

from cxplay._conditions.regex import compile_regex

DESCRIPTION = (
    "Dzień dobry, paczka przyszła rozbita, szkło w środku jest stłuczone. Proszę o zwrot "
    "pieniędzy albo nową wysyłkę; zamówienie PL-5531, kurier InPost, 20 listopada. "
) * 2
PATTERNS = {
    "keywords": r"(?i)(glass|szk[łl]o|скло)",
    "order id": r"PL-\d{4}",
    "no match": r"(?i)(refund|повернення)\b",
}
ATTACK = "a" * 19_999 + "!"


def _median_us(search: Callable[[str], Any], text: str, number: int) -> float:
    samples = []
    for _ in range(5):
        start = time.perf_counter()
        for _ in range(number):
            search(text)
        samples.append((time.perf_counter() - start) / number * 1e6)
    return statistics.median(samples)


def rows(number: int) -> tuple[list[dict[str, Any]], list[str]]:
    """The measured rows, and every case where the engines disagree."""
    options = re2.Options()
    options.log_errors = False
    out: list[dict[str, Any]] = []
    disagreements = []
    for case, pattern in PATTERNS.items():
        engines = {
            "re": re.compile(pattern).search,
            "re2 search": re2.compile(pattern, options).search,
            "cxplay": compile_regex(pattern).search,
        }
        answers = {name: search(DESCRIPTION) is not None for name, search in engines.items()}
        if len(set(answers.values())) > 1:
            disagreements.append(f"{case}: {answers}")
        for name, search in engines.items():
            out.append(
                {"case": case, "engine": name, "median_us": _median_us(search, DESCRIPTION, number)}
            )
    evil = compile_regex(r"(a+)+$").search
    if evil(ATTACK) is not None:
        disagreements.append("(a+)+$ matched the attack")
    out.append(
        {
            "case": "(a+)+$ on 20,000 chars",
            "engine": "cxplay",
            "median_us": _median_us(evil, ATTACK, number),
        }
    )
    length = 16 if number < 1000 else 22  # every character more doubles re's time
    backtracking = re.compile(r"(a+)+$").search
    start = time.perf_counter()
    backtracking("a" * length + "!")
    out.append(
        {
            "case": f"(a+)+$ on {length + 1} chars",
            "engine": "re",
            "median_us": (time.perf_counter() - start) * 1e6,
        }
    )
    return out, disagreements


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print JSON rows")
    parser.add_argument("--quick", action="store_true", help="few searches per row (smoke)")
    args = parser.parse_args(argv)
    measured, disagreements = rows(200 if args.quick else 20_000)
    if args.json:
        print(json.dumps(measured, indent=2))
    else:
        for row in measured:
            print(f"{row['case']:24} {row['engine']:12} {row['median_us']:12.2f} µs")
    for line in disagreements:
        print(f"disagree: {line}", file=sys.stderr)
    print("agree" if not disagreements else "DISAGREE", file=sys.stderr)
    return 1 if disagreements else 0


if __name__ == "__main__":
    sys.exit(main())
