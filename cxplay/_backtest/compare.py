"""Compare: one incident under the baseline and the new playbooks, and the tally of many.

:func:`run_task` is the map: it evaluates one partition and returns a :class:`Tally`.
:meth:`Tally.merge` is the reduce. Everything in a tally is an integer count, an integer
amount in minor units (grosze, cents) or a list cut by a total order (examples by size of
change then position; malformed lines by position), so merging is exact, associative and
commutative: any number of workers, in any order of completion, gives the same result.

Classes of an incident (see docs/backtest.md):

- exactly one *outcome*: ``same``, ``changed``, ``error_now`` (it evaluated under the
  baseline and fails under the new playbooks, e.g. a fact they now require),
  ``error_fixed`` (the reverse) or ``error_both``;
- for a changed incident, every *change* that applies: ``actions_added``,
  ``actions_removed``, ``compensation_changed``, ``approval_newly_required``,
  ``approval_no_longer_required``, ``no_match_now``, ``matched_now``, ``severity_changed``,
  ``reply_changed`` (with replies) and ``details_changed`` (the same actions, ordered,
  costed or approved differently one by one).
"""

from __future__ import annotations

import gc
import json
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from cxplay._backtest.recipe import Recipe
from cxplay._backtest.side import Side, side_of, side_of_logged
from cxplay._backtest.source import Partition, Unusable, parse_line
from cxplay._engine.decide import ActionKey
from cxplay._engine.engine import Engine, Outliner, coerce_incident, reply_context
from cxplay.errors import BacktestError, CxplayError
from cxplay.models import Incident

__all__ = [
    "CHANGES",
    "CLASSES",
    "OUTCOMES",
    "Options",
    "Side",
    "Tally",
    "Task",
    "classify",
    "run_task",
    "side_of",
    "side_of_logged",
]

OUTCOMES = ("same", "changed", "error_now", "error_fixed", "error_both")
CHANGES = (
    "actions_added",
    "actions_removed",
    "compensation_changed",
    "approval_newly_required",
    "approval_no_longer_required",
    "no_match_now",
    "matched_now",
    "severity_changed",
    "reply_changed",
    "details_changed",
)
CLASSES = OUTCOMES + CHANGES

#: Malformed records listed by position (all are counted).
MALFORMED_LISTED = 20


def _action_key(action: ActionKey) -> str:
    params = {k: v for k, v in action[1].items() if k != "capped_from"}
    return action[0] + json.dumps(params, sort_keys=True, default=str)


def _delta(old: Mapping[str, int], new: Mapping[str, int]) -> dict[str, int]:
    delta = {}
    for currency in sorted({*old, *new}):
        change = new.get(currency, 0) - old.get(currency, 0)
        if change:
            delta[currency] = change
    return delta


def classify(old: Side, new: Side) -> tuple[str, list[str], int]:
    """The outcome, the changes and how many actions were added or removed."""
    if old.error is not None or new.error is not None:
        if new.error is None:
            return "error_fixed", [], 0
        return ("error_both" if old.error is not None else "error_now"), [], 0
    if old.actions == new.actions and old.severity == new.severity and old.reply == new.reply:
        return "same", [], 0
    changes: list[str] = []
    before = Counter(map(_action_key, old.actions))
    after = Counter(map(_action_key, new.actions))
    added = sum((after - before).values())
    removed = sum((before - after).values())
    if added:
        changes.append("actions_added")
    if removed:
        changes.append("actions_removed")
    if old.compensation() != new.compensation():
        changes.append("compensation_changed")
    was, now = old.approval(), new.approval()
    if now and not was:
        changes.append("approval_newly_required")
    elif was and not now:
        changes.append("approval_no_longer_required")
    if old.actions and not new.actions:
        changes.append("no_match_now")
    elif new.actions and not old.actions:
        changes.append("matched_now")
    if old.severity != new.severity:
        changes.append("severity_changed")
    if old.reply != new.reply:
        changes.append("reply_changed")
    if not changes:
        changes.append("details_changed")
    return "changed", changes, added + removed


@dataclass
class Tally:
    """Counts over some incidents; :meth:`merge` adds two tallies exactly.

    Per incident only two signatures are counted -- (type, outcome, changes) and (rules
    applied before, rules applied now) -- and money and error messages; the counts per
    class, type and rule are expanded from the signatures when asked (few distinct ones
    against many incidents).
    """

    top: int = 10
    incidents: int = 0  # valid incidents compared
    malformed: int = 0
    malformed_listed: list[tuple[int, str]] = field(default_factory=list)
    outcomes: Counter[tuple[str, str, tuple[str, ...]]] = field(default_factory=Counter)
    rule_sets: Counter[tuple[tuple[str, ...], tuple[str, ...]]] = field(default_factory=Counter)
    compensation_baseline: Counter[str] = field(default_factory=Counter)
    compensation_new: Counter[str] = field(default_factory=Counter)
    errors_new: Counter[str] = field(default_factory=Counter)
    errors_baseline: Counter[str] = field(default_factory=Counter)
    examples: list[tuple[tuple[int, int, int], dict[str, Any]]] = field(default_factory=list)

    def merge(self, other: Tally) -> Tally:
        """Add ``other`` into this tally (exact; the order of merges does not matter)."""
        self.incidents += other.incidents
        self.malformed += other.malformed
        self.malformed_listed = sorted(self.malformed_listed + other.malformed_listed)[
            :MALFORMED_LISTED
        ]
        for name in (
            "outcomes",
            "rule_sets",
            "compensation_baseline",
            "compensation_new",
            "errors_new",
            "errors_baseline",
        ):
            getattr(self, name).update(getattr(other, name))
        self.examples = sorted(self.examples + other.examples, key=_rank)[: self.top]
        return self

    @property
    def classes(self) -> Counter[str]:
        """Incidents per outcome and per change."""
        counts: Counter[str] = Counter()
        for (_, outcome, changes), n in self.outcomes.items():
            counts[outcome] += n
            for change in changes:
                counts[change] += n
        return counts

    @property
    def by_type(self) -> Counter[tuple[str, str]]:
        """Incidents per (type, "incidents" | outcome | change)."""
        counts: Counter[tuple[str, str]] = Counter()
        for (kind, outcome, changes), n in self.outcomes.items():
            counts[kind, "incidents"] += n
            counts[kind, outcome] += n
            for change in changes:
                counts[kind, change] += n
        return counts

    def rules(self) -> dict[str, Counter[str]]:
        """Per rule: incidents it applied to before and now, and how many it gained and lost.

        Keys of each counter: ``baseline``, ``new``, ``gained``, ``lost``.
        """
        counts: dict[str, Counter[str]] = {}
        for (before, after), n in self.rule_sets.items():
            for rule in before:
                counts.setdefault(rule, Counter())["baseline"] += n
            for rule in after:
                counts.setdefault(rule, Counter())["new"] += n
            if before != after:
                for rule in set(after) - set(before):
                    counts[rule]["gained"] += n
                for rule in set(before) - set(after):
                    counts[rule]["lost"] += n
        return counts

    def add_malformed(self, position: int, message: str) -> None:
        """Count a record that is not an incident."""
        self.malformed += 1
        if len(self.malformed_listed) < MALFORMED_LISTED:
            self.malformed_listed.append((position, message))

    def add(self, position: int, incident: Incident, raw: Any, old: Side, new: Side) -> None:
        """Count one compared incident."""
        outcome, changes, moved = classify(old, new)
        self.incidents += 1
        self.outcomes[incident.type, outcome, tuple(changes)] += 1
        self.rule_sets[old.rules, new.rules] += 1
        if old.error is not None:
            self.errors_baseline[old.error] += 1
        if new.error is not None:
            self.errors_new[new.error] += 1
        delta: dict[str, int] = {}
        if old.error is None and new.error is None:
            before, after = old.compensation(), new.compensation()
            if before or after:  # most incidents cost nothing: no counter to touch
                totals = self.compensation_baseline
                for currency, cents in before.items():
                    totals[currency] += cents
                totals = self.compensation_new
                for currency, cents in after.items():
                    totals[currency] += cents
                if before != after:
                    delta = _delta(before, after)
        if outcome in ("changed", "error_now"):
            rank = (-sum(abs(v) for v in delta.values()), -moved, position)
            examples = self.examples
            # top 0: no examples kept (and no last one to compare with)
            if self.top > 0 and (len(examples) < self.top or rank < examples[-1][0]):
                examples.append(
                    (
                        rank,
                        {
                            "position": position,
                            "incident": json.loads(raw) if isinstance(raw, bytes) else raw,
                            "outcome": outcome,
                            "changes": changes,
                            "compensation_delta": delta,
                            "baseline": old.as_dict(),
                            "new": new.as_dict(),
                        },
                    )
                )
                examples.sort(key=_rank)
                del examples[self.top :]


def _rank(item: tuple[tuple[int, int, int], dict[str, Any]]) -> tuple[int, int, int]:
    return item[0]


@dataclass(frozen=True)
class Options:
    """How each task evaluates: shared by all tasks of a run."""

    source: str = "<incidents>"
    unit: str = "line"
    strict: bool = False
    replies: bool = False
    top: int = 10
    now: datetime | None = None


@dataclass(frozen=True)
class Task:
    """One partition to compare, with everything a worker needs to do it anywhere."""

    new: Recipe
    baseline: Recipe | None  # None: the partition carries what was logged
    partition: Partition
    options: Options


def _where(options: Options, position: int) -> str:
    if options.unit == "line":
        return f"{options.source}:{position}"
    return f"{options.source}: {options.unit} {position}"


def _records(partition: Partition) -> Iterable[tuple[int, Any, str | None]]:
    """(position, record, why it is not a mapping) for each record of a partition."""
    if partition.kind == "rows":
        assert isinstance(partition.data, list)
        for offset, row in enumerate(partition.data):
            if isinstance(row, Unusable):
                yield partition.start + offset, None, row.reason
                continue
            problem = None if isinstance(row, dict) else "an incident must be an object"
            yield partition.start + offset, row, problem
        return
    assert isinstance(partition.data, bytes)
    for offset, line in enumerate(partition.data.split(b"\n")):
        if line.strip():
            yield partition.start + offset, line, None  # parsed by _incident


def _incident(raw: Any) -> tuple[Incident | None, Any, str | None]:
    """(the incident, the record as a mapping or its JSON bytes, why it is not an incident).

    A JSON line is parsed and validated in one call of pydantic's own JSON parser; any
    line it refuses takes the slow path (``json.loads``, then the model), which gives the
    one-line message every other command gives, so only the speed differs.
    """
    if isinstance(raw, bytes):
        try:
            return Incident.model_validate_json(raw), raw, None
        except ValueError:  # pydantic's ValidationError is a ValueError
            try:
                raw = parse_line(raw)
            except ValueError as exc:
                return None, None, str(exc)
    try:
        return coerce_incident(raw), raw, None
    except CxplayError as exc:
        return None, raw, str(exc)


def _evaluator(
    engine: Engine, options: Options, *, logged: bool = False
) -> Callable[[Incident], Side]:
    """One side, through :meth:`Engine.decide`: every result model built (and the reply)."""
    now = options.now
    renderer = engine.renderer if options.replies else None

    def evaluate(incident: Incident) -> Side:
        try:
            decision = engine.decide(incident, now=now)
            reply = None
            if renderer is not None and decision.kept:
                rendered = renderer.render(incident, reply_context(decision))
                reply = (rendered.subject, rendered.body)
            return side_of(decision, reply, rules_of_actions=logged)
        except CxplayError as exc:
            return Side(error=str(exc))

    return evaluate


def _parsed(task: Task, tally: Tally) -> list[tuple[int, int, Incident, Any]]:
    """(index, position, incident, raw record) for each incident of the partition.

    Each record is parsed and validated as an Incident once, whatever the playbooks; a
    malformed one is counted here (or, with ``strict``, is the task's error).
    """
    options = task.options
    parsed = []
    for index, (position, record, problem) in enumerate(_records(task.partition)):
        incident = raw = None
        if problem is None:
            incident, raw, problem = _incident(record)
        if incident is None:
            message = problem or "not an incident"
            if options.strict:
                raise BacktestError(f"{_where(options, position)}: {message}")
            tally.add_malformed(position, message)
            continue
        parsed.append((index, position, incident, raw))
    return parsed


def _outlined(
    outliner: Outliner,
    models: Sequence[Incident | str],
    flats: Sequence[Any] | None = None,
    *,
    logged: bool = False,
) -> list[Side]:
    """One side of every incident, from :func:`~cxplay._engine.decide.outline`.

    ``models``: each incident checked against these playbooks, or the message of why it is
    an error for them. ``flats``: each one flattened already (None: flatten here).
    ``logged``: the rules counted are those that gave an action (what the log records).
    """
    sides = []
    decide = outliner.outline
    for index, model in enumerate(models):
        if isinstance(model, str):
            sides.append(Side(error=model))
            continue
        try:
            found = decide(model, None if flats is None else flats[index])
        except CxplayError as exc:
            sides.append(Side(error=str(exc)))
            continue
        sides.append(Side(found.actions, found.rules if logged else found.kept, found.severity))
    return sides


def _checked(outliner: Outliner, incidents: Iterable[Incident]) -> list[Incident | str]:
    """Each incident checked against the outliner's playbooks, or why it is an error there."""
    check = outliner.check
    out: list[Incident | str] = []
    for incident in incidents:
        try:
            out.append(check(incident))
        except CxplayError as exc:
            out.append(str(exc))
    return out


@contextmanager
def _collector_paused() -> Iterator[None]:
    """Python's cyclic garbage collector paused for one partition, then as it was.

    A task keeps every incident of its partition alive until they are tallied, and makes
    no cycles of its own: each collection the allocations set off walked thousands of
    live objects and freed nothing (a third of a task's time). What a task does leave
    behind, reference counting frees; anything else, the next collection after it.
    """
    paused = gc.isenabled()
    if paused:
        gc.disable()
    try:
        yield
    finally:
        if paused:
            gc.enable()


def run_task(task: Task, *, models: bool = False) -> Tally:
    """The map: compare every incident of one partition under both playbook sets.

    Each record is parsed once; when both sets declare the same facts and types, each
    incident is checked once for both, and when their conditions read the same paths, it
    is flattened once. Decisions are compared as tuples
    (:func:`~cxplay._engine.decide.outline`): no result model is built, no date counted.
    ``models`` (and ``replies``) decide through :meth:`Engine.decide`, building every
    model: the reference the fast path is tested against.
    """
    with _collector_paused():
        return _compared(task, models=models)


def _compared(task: Task, *, models: bool) -> Tally:
    options = task.options
    tally = Tally(top=options.top)
    parsed = _parsed(task, tally)
    logged: Sequence[Any] | None = task.partition.logged
    incidents = [incident for _, _, incident, _ in parsed]
    new_sides: list[Side]
    old_sides: list[Side]
    if models or options.replies:
        new = _evaluator(task.new.engine(), options, logged=task.baseline is None)
        new_sides = [new(incident) for incident in incidents]
        if task.baseline is not None:
            old = _evaluator(task.baseline.engine(), options)
            old_sides = [old(incident) for incident in incidents]
    else:
        fresh = Outliner(task.new.engine())
        checked = _checked(fresh, incidents)
        if task.baseline is None:
            new_sides = _outlined(fresh, checked, logged=True)
        else:
            base = Outliner(task.baseline.engine())
            shared = base.checks == fresh.checks
            flats = None
            if shared and base.reads == fresh.reads:
                flatten = fresh.flatten
                flats = [None if isinstance(m, str) else flatten(m) for m in checked]
            new_sides = _outlined(fresh, checked, flats)
            old_sides = _outlined(base, checked if shared else _checked(base, incidents), flats)
    if task.baseline is None:
        assert logged is not None, "a task without a baseline recipe carries logged sides"
        old_sides = [logged[index] for index, _, _, _ in parsed]
    add = tally.add
    for (_, position, incident, raw), old_side, new_side in zip(
        parsed, old_sides, new_sides, strict=True
    ):
        add(position, incident, raw, old_side, new_side)
    return tally
