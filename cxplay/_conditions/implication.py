"""Whether one condition implies another, and whether a condition can ever hold.

What the implication check decides

:func:`implies` answers "does every incident that satisfies ``a`` satisfy ``b``?" with
``True`` only when that is proven; ``False`` means "not proven", so the check never
reports a rule that can win, but may miss one that cannot. It reasons per field over
conjunctions of leaf tests, with the reference evaluator's meaning of a missing field
(``==``, ``<``, ``in``, ``matches`` are false on it; ``!=``, ``not in`` are true):

* numbers as intervals: ``order.value >= 100`` implies ``order.value >= 50`` and
  ``order.value != 20``; ``x >= 5 and x != 5`` implies ``x > 5``;
* finite sets: ``type == 'x'`` implies ``type in ['x', 'y']`` and ``type != 'z'``;
  enumerated fields (``channel``, ``stage``, ``severity``, booleans) are finite, so
  ``channel in ['email', 'chat']`` implies ``channel != 'sms'``, and a test on a finite
  set of values is checked value by value (also ``matches``, with Python's ``re``);
* presence: any test that is false on a missing field implies ``exists(field)``;
* ``matches(field, 'p')`` implies only the identical test (unless the field's values
  are a known finite set);
* ``and``/``or``: ``a`` implies ``b1 and b2`` when it implies each; ``a1 or a2``
  implies ``b`` when each does; ``a`` implies ``b1 or b2`` when it implies one of them,
  after splitting ``a``'s own disjunctions into cases and, for a field with at most
  16 possible states, into one case per state (so ``type in ['a', 'b']`` implies
  ``type == 'a' or type == 'b'``). A conjunction whose tests
  contradict each other (``x > 5 and x < 3``, ``type == 'a' and type == 'b'``) holds
  for no incident.

Not decided (reported as "not proven"): integer steps (``x > 1`` on an integer fact
does not imply ``x >= 2`` here), relations between different fields, a disjunction on
the right whose alternatives only together cover an infinite range (``x > 0`` does not
imply ``x > 5 or x < 10`` here), and conditions so large that the case split exceeds a
fixed budget.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from cxplay._conditions.parse import And, Cmp, Exists, FieldType, In, Leaf, Match, Node, Or, leaves
from cxplay._conditions.regex import compile_regex
from cxplay._engine.reference import compile_node

__all__ = ["implies", "never_holds"]

Scalar = str | float | bool

#: Case splits allowed per implication question; beyond it the answer is "not proven".
_BUDGET = 5_000
#: Most states of one field split into cases to prove a disjunction.
_MAX_CASES = 16
_FALSE = Or((), "false")  # the empty disjunction: holds for no incident


class _OutOfBudget(Exception):
    pass


@dataclass
class _Domain:
    """The states one field can be in under a conjunction of leaf tests.

    A state is "missing" or a present value. Present values are those of the field's kind
    that are in ``allowed`` (when known), not in ``excluded``, within the bounds (numbers)
    and pass every regex test in ``regexes``.
    """

    ftype: FieldType
    missing: bool = True
    present: bool = True
    allowed: frozenset[Scalar] | None = None
    excluded: frozenset[Scalar] = frozenset()
    lo: float = -math.inf
    lo_open: bool = False
    hi: float = math.inf
    hi_open: bool = False
    regexes: frozenset[tuple[str, bool]] = frozenset()

    def __post_init__(self) -> None:
        if self.ftype.kind == "boolean":
            self.allowed = frozenset([True, False])
        elif self.ftype.choices is not None:
            self.allowed = frozenset(self.ftype.choices)

    def add(self, leaf: Leaf) -> None:
        """Narrow the domain by one more leaf test."""
        if isinstance(leaf, Exists):
            if leaf.negated:
                self.present = False
            else:
                self.missing = False
        elif isinstance(leaf, Match):
            self.missing = self.missing and leaf.negated
            self.regexes |= {(leaf.pattern, leaf.negated)}
        elif isinstance(leaf, In):
            if leaf.negated:
                self.excluded |= frozenset(leaf.values)
            else:
                self.missing = False
                self._allow(frozenset(leaf.values))
        elif leaf.op == "==":
            self.missing = False
            self._allow(frozenset([leaf.value]))
        elif leaf.op == "!=":
            self.excluded |= {leaf.value}
        else:
            self.missing = self.missing and leaf.or_missing
            bound = float(leaf.value)
            if leaf.op in (">", ">=") and (bound, leaf.op == ">") > (self.lo, self.lo_open):
                self.lo, self.lo_open = bound, leaf.op == ">"
            if leaf.op in ("<", "<=") and (bound, leaf.op != "<") < (self.hi, not self.hi_open):
                self.hi, self.hi_open = bound, leaf.op == "<"
        # a closed bound on an excluded point is an open one
        if not self.lo_open and self.lo in self.excluded:
            self.lo_open = True
        if not self.hi_open and self.hi in self.excluded:
            self.hi_open = True
        if self.lo == self.hi and not (self.lo_open or self.hi_open):
            self._allow(frozenset([self.lo]))

    def _allow(self, values: frozenset[Scalar]) -> None:
        self.allowed = values if self.allowed is None else self.allowed & values

    def admits(self, value: Scalar) -> bool:
        """Whether a present ``value`` is one of the domain's states."""
        if not self.present or value in self.excluded:
            return False
        if self.allowed is not None and value not in self.allowed:
            return False
        if isinstance(value, float | int) and not isinstance(value, bool):
            if value < self.lo or (value == self.lo and self.lo_open):
                return False
            if value > self.hi or (value == self.hi and self.hi_open):
                return False
        if self.regexes:
            if not isinstance(value, str):
                return all(negated for _, negated in self.regexes)
            for pattern, negated in self.regexes:
                if (compile_regex(pattern).search(value) is not None) == negated:
                    return False
        return True

    def values(self) -> frozenset[Scalar] | None:
        """The present values, when they are a known finite set."""
        if not self.present:
            return frozenset()
        if self.allowed is None:
            return None
        return frozenset(v for v in self.allowed if self.admits(v))

    def has_values(self) -> bool:
        """Whether some present value is possible (True when it cannot be ruled out)."""
        found = self.values()
        if found is not None:
            return bool(found)
        if self.ftype.kind == "number":
            return self.lo < self.hi or (self.lo == self.hi and not (self.lo_open or self.hi_open))
        return True

    def empty(self) -> bool:
        """No state at all: the conjunction never holds."""
        return not self.missing and not self.has_values()

    def entails(self, leaf: Leaf) -> bool:
        """Whether ``leaf`` holds in every state of the domain."""
        if self.empty():
            return True
        if self.missing and not _holds_when_missing(leaf):
            return False
        if not self.has_values():
            return True
        found = self.values()
        if found is not None:
            test = compile_node(leaf)
            return all(test({leaf.path: v}) for v in found)
        if isinstance(leaf, Exists):
            return not leaf.negated
        if isinstance(leaf, Match):
            return (leaf.pattern, leaf.negated) in self.regexes
        if isinstance(leaf, In):
            return leaf.negated and not any(self.admits(v) for v in leaf.values)
        if leaf.op == "==":
            return False
        if leaf.op == "!=":
            return not self.admits(leaf.value)
        bound = float(leaf.value)
        if leaf.op == ">=":
            return self.lo >= bound
        if leaf.op == ">":
            return self.lo > bound or (self.lo == bound and self.lo_open)
        if leaf.op == "<=":
            return self.hi <= bound
        return self.hi < bound or (self.hi == bound and self.hi_open)


def _holds_when_missing(leaf: Leaf) -> bool:
    if isinstance(leaf, Exists | Match | In):
        return leaf.negated
    if leaf.op in ("==", "!="):
        return leaf.op == "!="
    return leaf.or_missing


class _Decider:
    def __init__(self, fields: Mapping[str, FieldType]) -> None:
        self.fields = fields
        self.budget = _BUDGET

    def implies(self, conjunction: Sequence[Node], goal: Node) -> bool:
        self.budget -= 1
        if self.budget < 0:
            raise _OutOfBudget
        atoms: list[Leaf] = []
        choices: list[Or] = []
        pending = list(conjunction)
        while pending:
            node = pending.pop()
            if isinstance(node, And):
                pending.extend(node.items)
            elif isinstance(node, Or):
                if len(node.items) == 1:
                    pending.append(node.items[0])
                else:
                    choices.append(node)
            else:
                atoms.append(node)
        domains: dict[str, _Domain] = {}
        for leaf in atoms:
            domain = domains.get(leaf.path)
            if domain is None:
                domain = domains[leaf.path] = _Domain(self._type(leaf.path))
            domain.add(leaf)
        if any(d.empty() for d in domains.values()):
            return True  # the left side never holds
        if any(not c.items for c in choices):
            return True  # an empty disjunction among the conjuncts
        if isinstance(goal, And):
            return all(self.implies(conjunction, item) for item in goal.items)
        if isinstance(goal, Or):
            if any(self.implies(conjunction, item) for item in goal.items):
                return True
        else:
            domain = domains.get(goal.path) or _Domain(self._type(goal.path))
            if domain.entails(goal):
                return True
        if choices:
            first, rest = choices[0], choices[1:]
            return all(self.implies([*atoms, *rest, case], goal) for case in first.items)
        if isinstance(goal, Or):
            return self._split_values(conjunction, domains, goal)
        return False

    def _split_values(
        self, conjunction: Sequence[Node], domains: Mapping[str, _Domain], goal: Or
    ) -> bool:
        """Prove ``goal`` case by case over the few states a field of it can be in.

        ``type in ['a', 'b']`` implies ``type == 'a' or type == 'b'`` although neither
        alternative alone is implied.
        """
        for path in dict.fromkeys(leaf.path for leaf in leaves(goal)):
            domain = domains.get(path) or _Domain(self._type(path))
            values = domain.values()
            if values is None or not 1 < len(values) + domain.missing <= _MAX_CASES:
                continue
            cases: list[Node] = [
                Cmp(path, "==", v, f"{path} == {v!r}") for v in sorted(values, key=repr)
            ]
            if domain.missing:
                cases.append(Exists(path, True, f"not exists({path})"))
            return all(self.implies([*conjunction, case], goal) for case in cases)
        return False

    def _type(self, path: str) -> FieldType:
        return self.fields.get(path, FieldType("string"))


def implies(a: Node, b: Node, fields: Mapping[str, FieldType]) -> bool:
    """Whether every incident satisfying ``a`` satisfies ``b`` (``False``: not proven).

    Args:
        a: A condition tree (as parsed by the loader).
        b: Another condition tree.
        fields: The field types the conditions were checked against
            (:attr:`PlaybookSet.fields`); enumerations and booleans make finite domains.

    Returns:
        ``True`` only when the implication is proven; see the module docstring for what is
        decided.
    """
    try:
        return _Decider(fields).implies([a], b)
    except _OutOfBudget:
        return False


def never_holds(condition: Node, fields: Mapping[str, FieldType]) -> bool:
    """Whether ``condition`` is proven to hold for no incident (e.g. ``x > 5 and x < 3``)."""
    return implies(condition, _FALSE, fields)
