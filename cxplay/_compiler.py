"""Compile condition trees into durable_rules ruleset definitions (pure data, no durable).

Layout of what is sent to durable_rules, and why:

* **Partitions.** Rules that pin the incident type (``type == 'x' and ...``) go into the
  partition of that type; the rest into a generic one. An incident is asserted into its
  type's partition and the generic one only.
* **Chunks.** durable_rules fails on data-dependent limits (error 303 when more than 64
  sibling tests are true at once, 108 for ~256 identical conditions, a hang at 513 distinct
  sibling tests, at most ~254 fields per fact). Each partition is cut into chunks whose
  *worst case* stays inside those limits: at most :data:`MAX_TRUE` tests that can be true at
  the same time, :data:`MAX_LEAVES` tests and :data:`MAX_FIELDS` fields. A single rule that
  cannot fit is a :class:`~cxplay.errors.CompileError` at load time, never a surprise at
  evaluation time.
* **Facts.** Each chunk receives a flat fact ``{"k": 1, "id": n, "sid": s, "f3": ...}``: the
  marker ``k`` anchors every rule (durable's per-session state fact would otherwise match
  rules made only of absence tests), fields get short keys, strings are replaced by integer
  codes (durable's own string handling is never exercised: no escaping, unicode or length
  surprises), numbers are floats, and regexes arrive as booleans computed with Python's
  ``re`` (durable's ``$mt`` gives false negatives).
"""

from __future__ import annotations

import itertools
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from cxplay._conditions import And, Cmp, Exists, In, Match, Node, Or, leaves
from cxplay._loader import CompiledRule, PlaybookSet
from cxplay.errors import CompileError, Problem

__all__ = ["MAX_FIELDS", "MAX_LEAVES", "MAX_TRUE", "Chunk", "Program", "compile_program"]

#: Most tests in one ruleset that may be true at once (durable fails above 64).
MAX_TRUE = 64
#: Most tests in one ruleset (durable hangs at 513 sibling tests).
MAX_LEAVES = 400
#: Most fields in one fact (durable fails above ~254; the marker, id and sid take three).
MAX_FIELDS = 200

_DURABLE_OPS = {"<": "$lt", "<=": "$lte", ">": "$gt", ">=": "$gte"}


@dataclass(frozen=True)
class Chunk:
    """One durable ruleset: some rules, the fields its facts carry, its definition."""

    name: str
    rules: tuple[int, ...]  # positions in PlaybookSet.rules
    fields: tuple[tuple[str, str], ...]  # (fact key, incident path)
    regexes: tuple[tuple[str, int], ...]  # (fact key, regex number)
    definition: Mapping[str, Any]


@dataclass(frozen=True)
class Program:
    """Everything the durable backend needs, as plain data."""

    by_type: Mapping[str, tuple[Chunk, ...]]
    generic: tuple[Chunk, ...]
    strings: Mapping[str, int]
    string_paths: frozenset[str]
    regexes: tuple[tuple[str, re.Pattern[str]], ...]  # (path, pattern) by regex number

    def chunks_for(self, incident_type: str) -> tuple[Chunk, ...]:
        """The chunks an incident of this type is asserted into."""
        return self.by_type.get(incident_type, ()) + self.generic


@dataclass(frozen=True)
class _Compiled:
    expr: dict[str, Any]
    at_once: int
    count: int
    fields: frozenset[str]
    regexes: frozenset[tuple[str, int]]


class _Builder:
    def __init__(self, fields: Mapping[str, Any]) -> None:
        self.strings: dict[str, int] = {}
        self.string_paths: set[str] = set()
        self.keys: dict[str, str] = {}
        self.regex_index: dict[tuple[str, str], int] = {}
        self.regexes: list[tuple[str, re.Pattern[str]]] = []
        self.fields = fields

    def key(self, path: str) -> str:
        if path not in self.keys:
            self.keys[path] = f"f{len(self.keys)}"
        return self.keys[path]

    def regex(self, path: str, pattern: str) -> tuple[str, int]:
        number = self.regex_index.get((path, pattern))
        if number is None:
            number = len(self.regexes)
            self.regex_index[(path, pattern)] = number
            self.regexes.append((path, re.compile(pattern)))
        return f"x{number}", number

    def value(self, path: str, value: Any) -> Any:
        if isinstance(value, str):
            self.string_paths.add(path)
            return self.strings.setdefault(value, len(self.strings))
        if isinstance(value, bool):
            return value
        return float(value)

    def expr(self, node: Node) -> dict[str, Any]:
        if isinstance(node, And):
            return {"$and": [self.expr(i) for i in node.items]}
        if isinstance(node, Or):
            return {"$or": [self.expr(i) for i in node.items]}
        if isinstance(node, Match):
            key, _ = self.regex(node.path, node.pattern)
            return {key: not node.negated}
        key = self.key(node.path)
        missing = {"$nex": {key: 1}}
        if isinstance(node, Exists):
            return missing if node.negated else {"$ex": {key: 1}}
        if isinstance(node, In):
            values = [self.value(node.path, v) for v in node.values]
            if node.negated:
                return {"$or": [missing, {"$and": [{"$neq": {key: v}} for v in values]}]}
            if len(values) == 1:
                return {key: values[0]}
            return {"$or": [{key: v} for v in values]}
        assert isinstance(node, Cmp)
        value = self.value(node.path, node.value)
        if node.op == "==":
            return {key: value}
        if node.op == "!=":
            return {"$or": [{"$neq": {key: value}}, missing]}
        test = {_DURABLE_OPS[node.op]: {key: value}}
        return {"$or": [test, missing]} if node.or_missing else test


def _tests_true_at_once(expr: Mapping[str, Any]) -> int:
    """Upper bound of the tests of an expression that can be true at the same time."""
    if "$and" in expr:
        return math.prod(_tests_true_at_once(e) for e in expr["$and"])
    if "$or" in expr:
        items = expr["$or"]
        if _exclusive(items):
            return 1
        return sum(_tests_true_at_once(e) for e in items)
    return 1


def _exclusive(items: Sequence[Mapping[str, Any]]) -> bool:
    """True for alternatives on one field of which at most one can hold.

    That is: equalities with distinct values (``x == 1 or x == 2``), or a single other test
    (``x != 1``, ``x > 3``, ``x not in [...]``); either optionally with ``x`` missing, which
    excludes every other test on ``x`` (all of them are false on a missing field).
    """
    field: str | None = None
    equal: set[Any] = set()
    other = missing = 0
    for item in items:
        if len(item) != 1:
            return False
        ((op, body),) = item.items()
        if op == "$and":
            if not all(len(e) == 1 and "$neq" in e for e in body):
                return False
            names = {next(iter(e["$neq"])) for e in body}
            if len(names) != 1:
                return False
            name = names.pop()
            other += 1
        elif op == "$nex":
            (name,) = body
            missing += 1
        elif op in ("$neq", "$lt", "$lte", "$gt", "$gte"):
            (name,) = body
            other += 1
        elif op.startswith("$"):
            return False
        else:
            name = op
            if body in equal:
                return False
            equal.add(body)
        if field not in (None, name):
            return False
        field = name
    return missing <= 1 and (other == 0 or (other == 1 and not equal))


def _cost(expr: Mapping[str, Any]) -> tuple[int, int]:
    """(tests true at once, number of tests) of one rule's expression."""
    count = 0

    def walk(e: Mapping[str, Any]) -> None:
        nonlocal count
        for op, body in e.items():
            if op in ("$and", "$or"):
                for item in body:
                    walk(item)
            else:
                count += 1

    walk(expr)
    return _tests_true_at_once(expr), count


def compile_program(rules: PlaybookSet, *, prefix: str) -> Program:
    """Compile every rule of a playbook set into chunked durable_rules definitions."""
    builder = _Builder(rules.fields)
    compiled: list[_Compiled] = []
    problems: list[Problem] = []
    for rule in rules.rules:
        expr = builder.expr(rule.condition)
        at_once, count = _cost(expr)
        paths = {
            builder.keys[leaf.path]
            for leaf in leaves(rule.condition)
            if not isinstance(leaf, Match)
        }
        regexes = {
            builder.regex(leaf.path, leaf.pattern)
            for leaf in leaves(rule.condition)
            if isinstance(leaf, Match)
        }
        for what, value, limit in (
            ("alternatives that can hold at once", at_once, MAX_TRUE),
            ("tests", count, MAX_LEAVES),
            ("distinct fields", len(paths) + len(regexes), MAX_FIELDS),
        ):
            if value > limit:
                problems.append(
                    _limit_problem(
                        rule,
                        f"the condition has {value} {what}; the rule engine takes at most {limit}",
                    )
                )
        compiled.append(_Compiled(expr, at_once, count, frozenset(paths), frozenset(regexes)))
    if problems:
        raise CompileError(problems, hint="split the rule into several rules")

    partitions: dict[str | None, list[int]] = {}
    for position, rule in enumerate(rules.rules):
        for key in sorted(rule.types) if rule.types is not None else [None]:
            partitions.setdefault(key, []).append(position)

    key_paths = {v: k for k, v in builder.keys.items()}
    serial = itertools.count()
    by_type: dict[str, tuple[Chunk, ...]] = {}
    generic: tuple[Chunk, ...] = ()
    for key, positions in partitions.items():
        chunks = tuple(
            Chunk(
                name=f"{prefix}_{next(serial)}",
                rules=tuple(group),
                fields=tuple(
                    sorted(
                        (f, key_paths[f]) for f in set().union(*(compiled[p].fields for p in group))
                    )
                ),
                regexes=tuple(sorted(set().union(*(compiled[p].regexes for p in group)))),
                definition={
                    f"r{p}": {"all": [{"m": {"$and": [{"k": 1}, compiled[p].expr]}}]} for p in group
                },
            )
            for group in _cut(positions, compiled)
        )
        if key is None:
            generic = chunks
        else:
            by_type[key] = chunks
    return Program(
        by_type=by_type,
        generic=generic,
        strings=dict(builder.strings),
        string_paths=frozenset(builder.string_paths),
        regexes=tuple(builder.regexes),
    )


def _cut(positions: Sequence[int], compiled: Sequence[_Compiled]) -> list[list[int]]:
    """Cut a partition's rules, in order, into groups that stay inside durable's limits."""
    groups: list[list[int]] = []
    current: list[int] = []
    at_once = count = 0
    fields: set[str] = set()
    regexes: set[tuple[str, int]] = set()
    for position in positions:
        rule = compiled[position]
        if current and (
            at_once + rule.at_once > MAX_TRUE
            or count + rule.count > MAX_LEAVES
            or len(fields | rule.fields) + len(regexes | rule.regexes) > MAX_FIELDS
        ):
            groups.append(current)
            current, at_once, count, fields, regexes = [], 0, 0, set(), set()
        current.append(position)
        at_once += rule.at_once
        count += rule.count
        fields |= rule.fields
        regexes |= rule.regexes
    if current:
        groups.append(current)
    return groups


def _limit_problem(rule: CompiledRule, message: str) -> Problem:
    return Problem(message, file=rule.playbook.source, line=rule.line, rule=rule.id, key="when")
