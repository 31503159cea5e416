"""The reference backend: conditions as Python closures, rules indexed by incident type.

It defines what a condition means (the durable backend is tested against it), runs where
durable_rules does not import, and produces the per-condition traces of ``explain``.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable, Mapping
from typing import Any

from cxplay._conditions import And, Cmp, Exists, In, Match, Node, Or
from cxplay._loader import CompiledRule, PlaybookSet

__all__ = ["ReferenceBackend", "compile_node", "explain_node"]

Flat = Mapping[str, Any]
Predicate = Callable[[Flat], bool]

_ORDER: Mapping[str, Callable[[Any, Any], bool]] = {
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}


def compile_node(node: Node) -> Predicate:
    """A closure evaluating ``node`` on a flat incident (path -> value; absent = missing)."""
    if isinstance(node, And):
        items = tuple(compile_node(i) for i in node.items)
        return lambda d: all(p(d) for p in items)
    if isinstance(node, Or):
        items = tuple(compile_node(i) for i in node.items)
        return lambda d: any(p(d) for p in items)
    path = node.path
    if isinstance(node, Exists):
        if node.negated:
            return lambda d: d.get(path) is None
        return lambda d: d.get(path) is not None
    if isinstance(node, Match):
        search = re.compile(node.pattern).search
        negated = node.negated

        def match(d: Flat) -> bool:
            value = d.get(path)
            found = isinstance(value, str) and search(value) is not None
            return found != negated

        return match
    if isinstance(node, In):
        values = frozenset(node.values)
        if node.negated:
            return lambda d: d.get(path) not in values
        return lambda d: d.get(path) in values
    assert isinstance(node, Cmp)
    value = node.value
    if node.op == "==":
        return lambda d: d.get(path) == value
    if node.op == "!=":
        return lambda d: d.get(path) != value
    compare = _ORDER[node.op]
    if node.or_missing:

        def ordered_or_missing(d: Flat) -> bool:
            found = d.get(path)
            return found is None or compare(found, value)

        return ordered_or_missing

    def ordered(d: Flat) -> bool:
        found = d.get(path)
        return found is not None and compare(found, value)

    return ordered


def explain_node(node: Node, flat: Flat) -> tuple[bool, Node | None]:
    """Evaluate ``node`` and return the first sub-condition that failed (None if it held)."""
    if isinstance(node, And):
        for item in node.items:
            held, failed = explain_node(item, flat)
            if not held:
                return False, failed
        return True, None
    if isinstance(node, Or):
        for item in node.items:
            if explain_node(item, flat)[0]:
                return True, None
        return False, node
    held = compile_node(node)(flat)
    return held, None if held else node


class ReferenceBackend:
    """Evaluate rules with Python closures, looking only at rules that can match the type."""

    name = "python"

    def __init__(self, rules: PlaybookSet) -> None:
        self._compiled: list[tuple[int, Predicate]] = [
            (position, compile_node(rule.condition)) for position, rule in enumerate(rules.rules)
        ]
        self._generic = tuple((p, f) for p, f in self._compiled if rules.rules[p].types is None)
        typed: dict[str, list[tuple[int, Predicate]]] = {}
        for position, predicate in self._compiled:
            rule: CompiledRule = rules.rules[position]
            for incident_type in rule.types or ():
                typed.setdefault(incident_type, []).append((position, predicate))
        # Each type's candidates merged with the generic rules, in file order.
        self._by_type = {
            t: tuple(sorted([*candidates, *self._generic], key=lambda c: c[0]))
            for t, candidates in typed.items()
        }

    def evaluate(self, incident_type: str, flat: Flat) -> list[int]:
        """Positions (in file order) of the rules whose condition holds."""
        candidates = self._by_type.get(incident_type, self._generic)
        return [position for position, predicate in candidates if predicate(flat)]

    def close(self) -> None:
        """Nothing to free."""
