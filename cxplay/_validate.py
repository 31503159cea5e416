"""Checks beyond loading, and the runner of the scenarios written in playbooks.

:func:`validate_playbooks` is what ``cxplay validate`` reports: everything the loader
checks, plus

* **rules that can never win** (:func:`unreachable_rules`): a rule whose condition can
  never hold, and a rule that is always beaten -- a rule ranked above it (higher priority,
  or equal priority and earlier in file order) in the same ``group``, or a ``stop = true``
  rule outside any group, whose condition holds whenever its own does;
* **scenarios that cite what does not exist**: ``expect_rules`` naming no rule, ``expect``
  naming no action kind;
* **the renderer's checks** (:func:`renderer_problems`): declared languages without
  templates, actions without a template.

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

:func:`run_scenarios` runs every ``[[test]]`` and measures which rules no scenario reaches.
"""

from __future__ import annotations

import math
import re
import typing
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from cxplay._conditions import And, Cmp, Exists, FieldType, In, Leaf, Match, Node, Or, leaves
from cxplay._engine import Engine
from cxplay._loader import CompiledRule, PlaybookSet, load_playbooks
from cxplay._reference import compile_node
from cxplay._render import check as render_check
from cxplay._toml import read_toml
from cxplay.errors import CxplayError, LoadError, PlaybookError, Problem
from cxplay.models import Action, Incident, Playbook, PlaybookFile, Scenario

__all__ = [
    "ScenarioReport",
    "ScenarioResult",
    "ValidationReport",
    "implies",
    "json_schema",
    "never_holds",
    "renderer_problems",
    "run_scenarios",
    "scenario_problems",
    "unreachable_rules",
    "validate_playbooks",
]

PathsLike = Path | str | Sequence[Path | str] | None
Scalar = str | float | bool

#: Case splits allowed per implication question; beyond it the answer is "not proven".
_BUDGET = 5_000
#: Most states of one field split into cases to prove a disjunction.
_MAX_CASES = 16
_FALSE = Or((), "false")  # the empty disjunction: holds for no incident


# --------------------------------------------------------------------------- implication


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
                if (re.search(pattern, value) is not None) == negated:
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


# --------------------------------------------------------------------------- lints


def _where(rule: CompiledRule) -> str:
    return rule.playbook.source if rule.line is None else f"{rule.playbook.source}:{rule.line}"


def _problem(rule: CompiledRule, message: str) -> Problem:
    return Problem(message, file=rule.playbook.source, line=rule.line, rule=rule.id)


def unreachable_rules(playbooks: PlaybookSet) -> list[Problem]:
    """Rules whose actions can never be used: never matching, or always beaten.

    Args:
        playbooks: A loaded set of playbooks; groups span all of its playbooks.

    Returns:
        One problem per such rule, located at the rule.
    """
    fields = playbooks.fields
    ranked = sorted(playbooks.rules, key=lambda r: (-r.rule.priority, r.order))
    problems: list[Problem] = []
    dead: set[str] = set()
    for position, low in enumerate(ranked):
        if never_holds(low.condition, fields):
            dead.add(low.id)
            problems.append(_problem(low, "condition can never hold"))
            continue
        for high in ranked[:position]:
            group = low.rule.group
            same_group = group is not None and high.rule.group == group
            # A stop rule inside a group may itself lose its group and then stops nothing.
            stops = high.rule.stop and high.rule.group is None
            if high.id in dead or not (same_group or stops):
                continue
            if high.types is not None and (low.types is None or not low.types <= high.types):
                continue  # low can match a type high never matches
            if not implies(low.condition, high.condition, fields):
                continue
            rank = (
                f"priority {high.rule.priority} > {low.rule.priority}"
                if high.rule.priority > low.rule.priority
                else f"same priority {low.rule.priority}, earlier in file order"
            )
            if same_group:
                message = (
                    f"can never win group '{group}': '{high.id}' ({rank}, {_where(high)}) "
                    "matches whenever this rule does"
                )
            else:
                message = (
                    f"can never apply: '{high.id}' ({rank}, stop = true, {_where(high)}) "
                    "matches whenever this rule does and drops the rules below it"
                )
            problems.append(_problem(low, message))
            break
    return problems


def _action_kinds() -> frozenset[str]:
    union = typing.get_args(Action)[0]
    kinds: set[str] = set()
    for model in typing.get_args(union):
        kinds.update(typing.get_args(model.model_fields["kind"].annotation))
    return frozenset(kinds)


def _scenario_lines(playbook: Playbook) -> list[int | None]:
    """Line of each ``[[test]]`` (the loader keeps rule lines only); None if unknown."""
    try:
        _, index = read_toml(Path(playbook.source))
    except LoadError:
        return [None] * len(playbook.tests)
    return [index.line(("test", number)) for number in range(len(playbook.tests))]


def _scenario_name(scenario: Scenario, number: int) -> str:
    return scenario.name or f"test[{number}]"


def scenario_problems(playbooks: PlaybookSet) -> list[Problem]:
    """Scenarios that cite rules or action kinds that do not exist.

    Args:
        playbooks: A loaded set of playbooks.

    Returns:
        One problem per unknown name, located at the scenario.
    """
    rule_ids = {rule.id for rule in playbooks.rules}
    kinds = _action_kinds()
    problems: list[Problem] = []
    for playbook in playbooks.playbooks:
        lines = _scenario_lines(playbook)
        for number, scenario in enumerate(playbook.tests):
            name = _scenario_name(scenario, number)
            for rule_id in scenario.expect_rules:
                if rule_id not in rule_ids:
                    problems.append(
                        Problem(
                            f"expect_rules: no rule '{rule_id}'",
                            file=playbook.source,
                            line=lines[number],
                            rule=name,
                        )
                    )
            for kind in scenario.expect:
                if kind not in kinds:
                    problems.append(
                        Problem(
                            f"expect: no action kind '{kind}' (one of: {', '.join(sorted(kinds))})",
                            file=playbook.source,
                            line=lines[number],
                            rule=name,
                        )
                    )
    return problems


def renderer_problems(playbooks: PlaybookSet) -> list[Problem]:
    """The renderer's checks: declared languages without templates, actions without a template.

    Calls ``cxplay._render.check(playbooks)``, which may return problems or raise a
    :class:`PlaybookError`; both become a list of problems.

    Args:
        playbooks: A loaded set of playbooks.

    Returns:
        The renderer's problems.
    """
    try:
        found = render_check(playbooks)
    except PlaybookError as exc:
        return list(exc.problems)
    return [p if isinstance(p, Problem) else Problem(str(p)) for p in found or ()]


@dataclass(frozen=True)
class ValidationReport:
    """What ``cxplay validate`` found; ``playbooks`` is None when they did not load."""

    problems: tuple[Problem, ...]
    playbooks: PlaybookSet | None

    @property
    def ok(self) -> bool:
        """No problem found."""
        return not self.problems

    @property
    def languages(self) -> tuple[str, ...]:
        """Every language some playbook declares, sorted."""
        if self.playbooks is None:
            return ()
        return tuple(sorted({lang for p in self.playbooks.playbooks for lang in p.meta.languages}))


def validate_playbooks(paths: PathsLike = None) -> ValidationReport:
    """Load playbooks and run every check on them; collect problems instead of raising.

    Args:
        paths: A directory, files, or None for the shipped playbooks.

    Returns:
        The report: the loader's problems if they do not load, else those of the checks.
    """
    try:
        playbooks = load_playbooks(paths)
    except PlaybookError as exc:
        return ValidationReport(tuple(exc.problems), None)
    found = [
        *unreachable_rules(playbooks),
        *scenario_problems(playbooks),
        *renderer_problems(playbooks),
    ]
    found.sort(key=lambda p: (p.file or "", p.line or 0))
    return ValidationReport(tuple(found), playbooks)


def json_schema(kind: Literal["playbook", "incident"] = "playbook") -> dict[str, Any]:
    """The JSON Schema of a playbook file or of an incident.

    Args:
        kind: ``playbook`` (the TOML format of playbooks) or ``incident``.

    Returns:
        A JSON Schema (draft 2020-12) as a dict.
    """
    model = PlaybookFile if kind == "playbook" else Incident
    title = "cxplay playbook" if kind == "playbook" else "cxplay incident"
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        **model.model_json_schema(),
        "title": title,
    }


# --------------------------------------------------------------------------- scenarios


@dataclass(frozen=True)
class ScenarioResult:
    """The outcome of one ``[[test]]``."""

    playbook: str
    source: str
    line: int | None
    name: str
    failures: tuple[str, ...]
    skipped: tuple[str, ...]
    reached: frozenset[str]

    @property
    def passed(self) -> bool:
        """Every check held."""
        return not self.failures

    @property
    def location(self) -> str:
        """``file:line`` of the scenario."""
        return self.source if self.line is None else f"{self.source}:{self.line}"


@dataclass(frozen=True)
class ScenarioReport:
    """Every scenario's result, and the rules that no scenario reaches."""

    results: tuple[ScenarioResult, ...]
    rules: tuple[CompiledRule, ...]
    unreached: tuple[CompiledRule, ...] = field(default=())

    @property
    def passed(self) -> int:
        """How many scenarios passed."""
        return sum(1 for r in self.results if r.passed)

    @property
    def failed(self) -> int:
        """How many scenarios failed."""
        return len(self.results) - self.passed


def _in_order(expected: Sequence[str], got: Sequence[str]) -> bool:
    remaining = iter(got)
    return all(any(kind == seen for seen in remaining) for kind in expected)


def _with_language(incident: Mapping[str, Any], language: str) -> dict[str, Any]:
    customer = incident.get("customer")
    customer = dict(customer) if isinstance(customer, Mapping) else {}
    customer["language"] = language
    return {**incident, "customer": customer}


def _shown(value: Any) -> str:
    if value is None:
        return "missing"
    if isinstance(value, bool):
        return "true" if value else "false"
    return repr(value)


def _why_not(engine: Engine, incident: Mapping[str, Any], rule_id: str) -> str:
    trace = {t.rule: t for t in engine.explain(incident)}
    found = trace.get(rule_id)
    if found is None:
        return f"expected rule '{rule_id}', but there is no such rule"
    if not found.matched:
        return (
            f"expected rule '{rule_id}', but it did not match: "
            f"{found.failed} (incident: {_shown(found.value)})"
        )
    return f"expected rule '{rule_id}', but it matched and was {found.outcome}"


def _run_one(engine: Engine, scenario: Scenario) -> tuple[list[str], list[str], set[str]]:
    failures: list[str] = []
    skipped: list[str] = []
    incident = scenario.incident
    try:
        kept = {rule.id for rule in engine.decide(incident).kept}
    except CxplayError as exc:  # an invalid incident
        return [str(exc)], skipped, set()
    try:
        suggestion = engine.suggest(incident)
    except CxplayError as exc:  # a reply that cannot be rendered: the rules still count
        return [str(exc)], skipped, kept
    kinds = [a.kind for a in suggestion.actions]
    got = ", ".join(kinds) or "no actions"
    if "expect" in scenario.model_fields_set:
        if not scenario.expect and kinds:
            failures.append(f"expected no actions, got {got}")
        elif not _in_order(scenario.expect, kinds):
            failures.append(f"expected actions {', '.join(scenario.expect)} (in order), got {got}")
    for rule_id in scenario.expect_rules:
        if rule_id not in kept:
            failures.append(_why_not(engine, incident, rule_id))
    if scenario.expect_severity is not None and suggestion.severity != scenario.expect_severity:
        failures.append(f"expected severity {scenario.expect_severity}, got {suggestion.severity}")
    for language, fragments in scenario.reply_contains.items():
        try:
            reply = engine.suggest(_with_language(incident, language)).reply
        except CxplayError as exc:
            failures.append(f"reply in {language}: {exc}")
            continue
        if reply is None:
            skipped.append(language)
            continue
        if reply.fell_back:
            failures.append(f"reply in {language}: no template, fell back to {reply.language}")
            continue
        text = f"{reply.subject or ''}\n{reply.body}"
        for fragment in fragments:
            if fragment not in text:
                failures.append(f"reply in {language} does not contain {fragment!r}")
    return failures, skipped, kept


def run_scenarios(
    playbooks: Engine | PathsLike = None,
) -> ScenarioReport:
    """Run the ``[[test]]`` scenarios of every playbook and measure rule coverage.

    A scenario passes when its incident produces the ``expect`` action kinds (all of them,
    in the given relative order; other actions may come between; an explicit
    ``expect = []`` means no action at all), keeps every rule of ``expect_rules``, reaches
    ``expect_severity``, and -- for each language of ``reply_contains`` -- renders a reply in
    that language (set as ``customer.language``) containing every fragment. While the
    engine renders no reply, reply checks are skipped and listed in ``skipped``.

    Args:
        playbooks: An engine, or the playbooks to load (None: the shipped ones).

    Returns:
        The results, in playbook and scenario order, and the rules no scenario kept.

    Raises:
        PlaybookError: The playbooks do not load.
    """
    engine = playbooks if isinstance(playbooks, Engine) else Engine.from_path(playbooks)
    try:
        loaded = engine.playbooks
        results: list[ScenarioResult] = []
        reached: set[str] = set()
        for playbook in loaded.playbooks:
            lines = _scenario_lines(playbook) if playbook.tests else []
            for number, scenario in enumerate(playbook.tests):
                failures, skipped, kept = _run_one(engine, scenario)
                reached |= kept
                notes = (
                    [f"reply checks ({', '.join(skipped)}) skipped: no reply was rendered"]
                    if skipped
                    else []
                )
                results.append(
                    ScenarioResult(
                        playbook=playbook.ref,
                        source=playbook.source,
                        line=lines[number],
                        name=_scenario_name(scenario, number),
                        failures=tuple(failures),
                        skipped=tuple(notes),
                        reached=frozenset(kept),
                    )
                )
        unreached = tuple(r for r in loaded.rules if r.id not in reached)
        return ScenarioReport(tuple(results), loaded.rules, unreached)
    finally:
        if engine is not playbooks:
            engine.close()
