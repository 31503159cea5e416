"""The reference backend: conditions as Python closures, rules indexed by incident type.

It defines what a condition means (the durable backend is tested against it), runs where
durable_rules does not import, and produces the per-condition traces of ``explain``.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from cxplay._conditions.parse import And, Cmp, Exists, In, Match, Node, Or
from cxplay._conditions.regex import compile_regex
from cxplay._engine.backend import Flat
from cxplay._playbooks.loader import PlaybookSet
from cxplay.errors import EngineClosedError

__all__ = ["ReferenceBackend", "compile_node", "explain_node"]

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
        search = compile_regex(node.pattern).search
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


class _Generator:
    """Python source for one function that tests many rules.

    The source holds nothing a user wrote except ``repr()`` of literals (str, float, bool)
    that the condition parser already checked, and field paths that are known names: the
    condition *text* is never evaluated. Sets and regexes are passed in as constants.
    """

    def __init__(self) -> None:
        self.paths: dict[str, str] = {}
        self.constants: dict[str, Any] = {}

    def var(self, path: str) -> str:
        return self.paths.setdefault(path, f"p{len(self.paths)}")

    def constant(self, value: Any) -> str:
        name = f"c{len(self.constants)}"
        self.constants[name] = value
        return name

    def expr(self, node: Node) -> str:
        if isinstance(node, And | Or):
            joiner = " and " if isinstance(node, And) else " or "
            return "(" + joiner.join(self.expr(i) for i in node.items) + ")"
        var = self.var(node.path)
        if isinstance(node, Exists):
            return f"({var} is None)" if node.negated else f"({var} is not None)"
        if isinstance(node, Match):
            search = compile_regex(node.pattern).search
            test = self.constant(lambda v: isinstance(v, str) and search(v) is not None)
            return f"(not {test}({var}))" if node.negated else f"{test}({var})"
        if isinstance(node, In):
            values = self.constant(frozenset(node.values))
            return f"({var} {'not in' if node.negated else 'in'} {values})"
        assert isinstance(node, Cmp)
        literal = repr(node.value)
        if node.op in ("==", "!="):
            return f"({var} {node.op} {literal})"
        if node.or_missing:
            return f"({var} is None or {var} {node.op} {literal})"
        return f"({var} is not None and {var} {node.op} {literal})"

    def function(self, rules: Sequence[tuple[int, Node]]) -> Callable[[Flat], list[int]]:
        tests = [(position, self.expr(node)) for position, node in rules]
        lines = ["def match(d):", "    get = d.get", "    out = []"]
        lines += [f"    {var} = get({path!r})" for path, var in self.paths.items()]
        for position, test in tests:
            lines += [f"    if {test}:", f"        out.append({position})"]
        lines.append("    return out")
        namespace: dict[str, Any] = {"__builtins__": {}, **self.constants}
        exec(compile("\n".join(lines), "<cxplay rules>", "exec"), namespace)
        function: Callable[[Flat], list[int]] = namespace["match"]
        return function


class ReferenceBackend:
    """Evaluate rules in plain Python, looking only at rules that can match the type.

    Each incident type gets one generated function testing its candidate rules (the rules
    that pin that type, plus the type-independent ones) in file order; that is several
    times faster than calling a closure per rule. :func:`compile_node` keeps the same
    semantics for ``explain``, and the tests hold the two against each other.
    """

    name = "python"

    def __init__(self, rules: PlaybookSet) -> None:
        generic = [(p, r.condition) for p, r in enumerate(rules.rules) if r.types is None]
        typed: dict[str, list[tuple[int, Node]]] = {}
        for position, rule in enumerate(rules.rules):
            for incident_type in sorted(rule.types or ()):
                typed.setdefault(incident_type, []).append((position, rule.condition))
        self._generic = _Generator().function(generic)
        self._by_type = {
            t: _Generator().function(sorted([*candidates, *generic], key=lambda c: c[0]))
            for t, candidates in typed.items()
        }

        self._closed = False

    def evaluate(self, incident_type: str, flat: Flat) -> list[int]:
        """Positions (in file order) of the rules whose condition holds."""
        if self._closed:
            raise EngineClosedError("this engine has been closed")
        return self._by_type.get(incident_type, self._generic)(flat)

    def close(self) -> None:
        """Nothing to free; evaluations asked for afterwards raise, as on durable."""
        self._closed = True
