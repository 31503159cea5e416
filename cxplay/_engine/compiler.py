"""Compile condition trees into durable_rules ruleset definitions (pure data, no durable).

Layout of what is sent to durable_rules, and why:

* **Partitions.** Rules that pin the incident type (``type == 'x' and ...``) go into the
  partition of that type; the rest into a generic one, whose rules every type's partition
  holds too. An incident is asserted into its type's partition only (the generic one when
  its type has none): one assertion per chunk, and a partition is usually one chunk.
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
  surprises), numbers are floats, and regexes arrive as booleans computed with RE2
  (durable's ``$mt`` gives false negatives).
"""

from __future__ import annotations

import itertools
import json
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from cxplay._conditions.parse import And, Cmp, Exists, In, Match, Node, Or
from cxplay._conditions.regex import Regex, compile_regex
from cxplay._playbooks.loader import CompiledRule, PlaybookSet
from cxplay.errors import CompileError, Problem

__all__ = [
    "MAX_FIELDS",
    "MAX_LEAVES",
    "MAX_TRUE",
    "Chunk",
    "Program",
    "compile_program",
    "definition_text",
    "number_text",
]

#: Most tests in one ruleset that may be true at once (durable fails above 64).
MAX_TRUE = 64
#: Most tests in one ruleset (durable hangs at 513 sibling tests).
MAX_LEAVES = 400
#: Most fields in one fact (durable fails above ~254; the marker, id and sid take three).
MAX_FIELDS = 200

_DURABLE_OPS = {"<": "$lt", "<=": "$lte", ">": "$gt", ">=": "$gte"}


#: What a fact carries for a field that the incident does not have. Literals are bounded
#: (numbers within ±2**53, strings and booleans are small non-negative integers), so no
#: sentinel ever equals one; the two ordered ones make "x >= v or x is missing" a single test.
ABSENT = -2
ABSENT_NUMBER = -1.5e308
ABSENT_HIGH = 1.5e308
ABSENT_LOW = -1.5e308

#: durable keeps the and/or structure of one rule in a sequence of at most 32 entries:
#: 14 nested and/or groups fill it (measured; "error code: 113" beyond).
MAX_GROUPS = 14


@dataclass(frozen=True)
class FactField:
    """One key of the fact sent to durable, and how to fill it from the incident."""

    key: str
    path: str
    variant: str  # "eq": value or ABSENT*; "raw": number, absent when missing; "high"/"low"
    kind: str  # string | number | boolean | list | datetime


@dataclass(frozen=True)
class Chunk:
    """One durable ruleset: some rules, the fields its facts carry, its definition."""

    name: str
    rules: tuple[int, ...]  # positions in PlaybookSet.rules
    fields: tuple[FactField, ...]
    regexes: tuple[tuple[str, int], ...]  # (fact key, regex number)
    definition: Mapping[str, Any]


@dataclass(frozen=True)
class Program:
    """Everything the durable backend needs, as plain data."""

    by_type: Mapping[str, tuple[Chunk, ...]]
    generic: tuple[Chunk, ...]
    strings: Mapping[str, int]
    regexes: tuple[tuple[str, Regex], ...]  # (path, pattern) by regex number

    def chunks_for(self, incident_type: str) -> tuple[Chunk, ...]:
        """The chunks an incident of this type is asserted into (holding the generic rules)."""
        return self.by_type.get(incident_type, self.generic)


@dataclass(frozen=True)
class _Compiled:
    expr: dict[str, Any] | None  # None: always true (in its partition)
    at_once: int
    count: int
    fields: frozenset[str]  # fact keys, regex keys included


class _Builder:
    def __init__(self, fields: Mapping[str, Any]) -> None:
        self.strings: dict[str, int] = {}
        self.index: dict[str, int] = {}
        self.used: dict[str, FactField] = {}
        self.regex_index: dict[tuple[str, str], int] = {}
        self.regexes: list[tuple[str, Regex]] = []
        self.fields = fields

    def key(self, path: str, variant: str) -> str:
        number = self.index.setdefault(path, len(self.index))
        key = f"{variant[0]}{number}"
        if key not in self.used:
            self.used[key] = FactField(key, path, variant, self.fields[path].kind)
        return key

    def regex(self, path: str, pattern: str) -> tuple[str, int]:
        number = self.regex_index.get((path, pattern))
        if number is None:
            number = len(self.regexes)
            self.regex_index[(path, pattern)] = number
            self.regexes.append((path, compile_regex(pattern)))
        return f"x{number}", number

    def value(self, value: Any) -> Any:
        if isinstance(value, str):
            return self.strings.setdefault(value, len(self.strings))
        if isinstance(value, bool):
            return int(value)
        return float(value)

    def expr(self, node: Node) -> dict[str, Any]:
        if isinstance(node, And):
            return {"$and": [self.expr(i) for i in node.items]}
        if isinstance(node, Or):
            return {"$or": [self.expr(i) for i in node.items]}
        if isinstance(node, Match):
            key, _ = self.regex(node.path, node.pattern)
            return {key: 0 if node.negated else 1}
        equal = self.key(node.path, "eq")
        absent = ABSENT_NUMBER if self.fields[node.path].kind == "number" else ABSENT
        if isinstance(node, Exists):
            return {equal: absent} if node.negated else {"$neq": {equal: absent}}
        if isinstance(node, In):
            values = [self.value(v) for v in node.values]
            if node.negated:
                if len(values) == 1:
                    return {"$neq": {equal: values[0]}}
                return {"$and": [{"$neq": {equal: v}} for v in values]}
            if len(values) == 1:
                return {equal: values[0]}
            return {"$or": [{equal: v} for v in values]}
        assert isinstance(node, Cmp)
        value = self.value(node.value)
        if node.op == "==":
            return {equal: value}
        if node.op == "!=":
            return {"$neq": {equal: value}}
        if not node.or_missing:
            return {_DURABLE_OPS[node.op]: {self.key(node.path, "raw"): value}}
        variant = "high" if node.op in (">", ">=") else "low"
        return {_DURABLE_OPS[node.op]: {self.key(node.path, variant): value}}


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


def _cost(expr: Mapping[str, Any]) -> tuple[int, int, int, set[str]]:
    """(tests true at once, tests, nested and/or groups, fact keys) of one rule."""
    count = groups = 0
    keys: set[str] = set()

    def walk(e: Mapping[str, Any]) -> None:
        nonlocal count, groups
        for op, body in e.items():
            if op in ("$and", "$or"):
                groups += 1
                for item in body:
                    walk(item)
            elif op.startswith("$"):
                count += 1
                keys.update(body)
            else:
                count += 1
                keys.add(op)

    walk(expr)
    return _tests_true_at_once(expr), count, groups, keys


def compile_program(rules: PlaybookSet, *, prefix: str) -> Program:
    """Compile every rule of a playbook set into chunked durable_rules definitions."""
    builder = _Builder(rules.fields)
    compiled: list[_Compiled] = []
    problems: list[Problem] = []
    for rule in rules.rules:
        expr = builder.expr(rule.condition)
        at_once, count, groups, keys = _cost(expr)
        for what, value, limit in (
            ("alternatives that can hold at once", at_once, MAX_TRUE),
            ("tests", count, MAX_LEAVES),
            ("nested and/or groups", groups, MAX_GROUPS),
            ("distinct fields", len(keys), MAX_FIELDS),
        ):
            if value > limit:
                problems.append(
                    _limit_problem(
                        rule,
                        f"the condition has {value} {what}; the rule engine takes at most {limit}",
                    )
                )
        compiled.append(_Compiled(expr, at_once, count, frozenset(keys)))
    if problems:
        raise CompileError(problems, hint="split the rule into several rules")

    partitions: dict[str | None, list[int]] = {}
    for position, rule in enumerate(rules.rules):
        for key in sorted(rule.types) if rule.types is not None else [None]:
            partitions.setdefault(key, []).append(position)

    # A type's partition carries the generic rules too (after its own, so that the cut
    # never needs more chunks than the two partitions apart): an incident is asserted
    # once, not once per partition (each assertion and retraction cost ~10 us).
    shared = partitions.get(None, [])
    serial = itertools.count()
    by_type: dict[str, tuple[Chunk, ...]] = {}
    generic: tuple[Chunk, ...] = ()
    for key, own in partitions.items():
        positions = own if key is None else own + shared
        # Inside a type's partition its type test always holds: leave it out of durable.
        local = {
            p: compiled[p]
            if key is None or rules.rules[p].types is None
            else _without_type(builder, rules.rules[p], key)
            for p in positions
        }
        chunks = tuple(
            Chunk(
                name=f"{prefix}_{next(serial)}",
                rules=tuple(group),
                fields=tuple(
                    builder.used[k]
                    for k in sorted(set().union(*(local[p].fields for p in group)))
                    if k in builder.used
                ),
                regexes=tuple(
                    (k, int(k[1:]))
                    for k in sorted(set().union(*(local[p].fields for p in group)))
                    if k.startswith("x")
                ),
                definition={f"r{p}": {"all": [{"m": _anchored(local[p].expr)}]} for p in group},
            )
            for group in _cut(positions, local)
        )
        if key is None:
            generic = chunks
        else:
            by_type[key] = chunks
    return Program(
        by_type=by_type,
        generic=generic,
        strings=dict(builder.strings),
        regexes=tuple(builder.regexes),
    )


def _anchored(expr: Mapping[str, Any] | None) -> dict[str, Any]:
    """Every rule tests the marker first: only incidents carry it, not durable's state fact."""
    return {"k": 1} if expr is None else {"$and": [{"k": 1}, expr]}


def _without_type(builder: _Builder, rule: CompiledRule, incident_type: str) -> _Compiled:
    """The rule compiled for its type's partition, where its top-level type test is true."""
    node = rule.condition
    items = node.items if isinstance(node, And) else (node,)
    kept = tuple(
        item
        for item in items
        if not (
            (isinstance(item, Cmp) and item.path == "type" and item.op == "==")
            or (isinstance(item, In) and item.path == "type" and not item.negated)
        )
        or incident_type not in ((item.value,) if isinstance(item, Cmp) else item.values)
    )
    if not kept:
        return _Compiled(None, 1, 0, frozenset())
    reduced = kept[0] if len(kept) == 1 else And(kept, node.source)
    expr = builder.expr(reduced)
    at_once, count, _, keys = _cost(expr)
    return _Compiled(expr, at_once, count, frozenset(keys))


def _cut(positions: Sequence[int], compiled: Mapping[int, _Compiled]) -> list[list[int]]:
    """Cut a partition's rules, in order, into groups that stay inside durable's limits."""
    groups: list[list[int]] = []
    current: list[int] = []
    at_once = count = 0
    fields: set[str] = set()
    for position in positions:
        rule = compiled[position]
        if current and (
            at_once + rule.at_once > MAX_TRUE
            or count + rule.count > MAX_LEAVES
            or len(fields | rule.fields) > MAX_FIELDS
        ):
            groups.append(current)
            current, at_once, count, fields = [], 0, 0, set()
        current.append(position)
        at_once += rule.at_once
        count += rule.count
        fields |= rule.fields
    if current:
        groups.append(current)
    return groups


_BARE_EXPONENT = re.compile(r"(?<![\w.])(-?\d+)(e[+-]?\d)")


def number_text(value: float) -> str:
    """A float as JSON that durable's parser reads: it refuses ``1e-05`` but takes ``1.0e-05``."""
    text = repr(float(value))
    if "e" in text:  # rare: only very small or very large numbers
        mantissa, _, exponent = text.partition("e")
        if "." not in mantissa:
            text = f"{mantissa}.0e{exponent}"
    return text


def definition_text(definition: Mapping[str, Any]) -> str:
    """A ruleset definition as JSON for durable (literals written as :func:`number_text`)."""
    return _BARE_EXPONENT.sub(r"\1.0\2", json.dumps(definition, ensure_ascii=False))


def _limit_problem(rule: CompiledRule, message: str) -> Problem:
    line = rule.when_line or rule.line
    return Problem(message, file=rule.playbook.source, line=line, rule=rule.id, key="when")
