"""The backtest's result: a summary model, the measures thresholds test, and the thresholds.

:class:`BacktestReport` is what ``cxplay backtest --format json`` prints. It holds counts
and money only (no timings), so the same incidents and playbooks always give the same
report, whatever the number of workers.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from pydantic import Field

from cxplay._backtest.compare import CLASSES, Tally
from cxplay._common.fields import _currencies  # the currencies an incident may carry: one list
from cxplay._common.models import Frozen
from cxplay._common.text import closest, did_you_mean, echo
from cxplay.errors import BacktestError

__all__ = [
    "ActionSummary",
    "BacktestReport",
    "Example",
    "Malformed",
    "MessageCount",
    "Money",
    "RuleChange",
    "RuleCount",
    "SideSummary",
    "Threshold",
    "report_from_tally",
]


class Malformed(Frozen):
    """A record that is not an incident, where it is and why."""

    position: int = Field(description="Line (JSONL) or row (Parquet, log), 1-based.")
    message: str


class Money(Frozen):
    """Compensation in one currency: before, after and the difference."""

    currency: str
    baseline: float
    new: float
    delta: float


class RuleCount(Frozen):
    """How often a rule contributed to a decision, before and now."""

    rule: str
    baseline: int
    new: int
    gained: int = Field(description="Incidents where it applies now and did not before.")
    lost: int = Field(description="Incidents where it applied before and does not now.")


class MessageCount(Frozen):
    """An error message and how many incidents got it."""

    message: str
    count: int


class ActionSummary(Frozen):
    """An action of an example: kind, parameters, cost, approval."""

    kind: str
    params: dict[str, Any]
    cost: float | None
    currency: str | None
    requires_approval: bool


class SideSummary(Frozen):
    """What one playbook set decided for an example incident."""

    actions: list[ActionSummary]
    rules: list[str]
    severity: str | None
    error: str | None


class RuleChange(Frozen):
    """Why an example changed, rule by rule: how the rule fared before and now."""

    rule: str
    baseline: str = Field(description="kept | dropped: ... | not matched: <condition> (value)")
    new: str
    condition_baseline: str | None = None
    condition_new: str | None = None


class Example(Frozen):
    """One of the most changed incidents, and the rule-level explanation of why."""

    position: int
    incident_id: str | None
    type: str
    outcome: str
    changes: list[str]
    compensation_delta: dict[str, float]
    baseline: SideSummary
    new: SideSummary
    why: list[RuleChange] = Field(default_factory=list)
    incident: dict[str, Any]


class BacktestReport(Frozen):
    """What the new playbooks would have done to past incidents, next to the baseline."""

    source: str
    unit: str = Field(description="What a position counts: line, row or record.")
    baseline: str
    new: str
    incidents: int = Field(description="Valid incidents compared.")
    malformed: int = Field(description="Records that are not incidents (skipped, counted).")
    malformed_listed: list[Malformed]
    classes: dict[str, int]
    by_type: dict[str, dict[str, int]]
    by_rule: list[RuleCount]
    compensation: list[Money]
    errors_new: list[MessageCount]
    errors_baseline: list[MessageCount]
    examples: list[Example]

    @property
    def changed(self) -> int:
        """Incidents that get another answer now (errors excluded)."""
        return self.classes.get("changed", 0)

    def measures(self) -> dict[str, float]:
        """Every measure a threshold can test, by name (see :class:`Threshold`)."""
        values: dict[str, float] = {"incidents": self.incidents, "malformed": self.malformed}
        total = self.incidents
        for name in CLASSES:
            count = self.classes.get(name, 0)
            values[name] = count
            values[f"{name}_percent"] = round(100 * count / total, 4) if total else 0.0
        for money in self.compensation:
            code = money.currency.lower()
            values[f"compensation_delta_{code}"] = money.delta
            values[f"compensation_baseline_{code}"] = money.baseline
            values[f"compensation_new_{code}"] = money.new
        return values

    def breaches(self, thresholds: Iterable[Threshold | str]) -> list[str]:
        """One line per threshold the report crosses (empty: all hold)."""
        found = []
        measures = self.measures()
        for threshold in thresholds:
            parsed = threshold if isinstance(threshold, Threshold) else Threshold.parse(threshold)
            value = parsed.value_in(measures)
            if parsed.crossed(value):
                found.append(f"{parsed.text} (it is {_number(value)})")
        return found


def _number(value: float) -> str:
    return f"{value:.2f}" if value != int(value) else str(int(value))


_OPS: Mapping[str, Callable[[float, float], bool]] = {
    ">=": operator.ge,
    "<=": operator.le,
    "==": operator.eq,
    "!=": operator.ne,
    ">": operator.gt,
    "<": operator.lt,
}
_THRESHOLD = re.compile(r"\s*([a-z_]+)\s*(>=|<=|==|!=|>|<)\s*(-?[0-9]+(?:\.[0-9]+)?)\s*\Z")
_MONEY = re.compile(r"compensation_(delta|baseline|new)_([a-z]{3})\Z")


def _near_currency(code: str) -> str | None:
    """The currency a misspelt code most likely meant: its letters swapped, else the nearest."""
    codes = sorted(c.lower() for c in _currencies())
    swapped = [c for c in codes if sorted(c) == sorted(code)]
    if swapped:
        return swapped[0]
    return closest(code, codes, cutoff=0.6)


class Threshold(Frozen):
    """``measure OP number``, e.g. ``compensation_delta_pln>5000``: crossing it fails.

    Measures: ``incidents``, ``malformed``, each class (``changed``, ``error_now``,
    ``approval_newly_required``, ...) as a count and as ``<class>_percent`` of the
    incidents, and ``compensation_delta_<ccy>``, ``compensation_baseline_<ccy>``,
    ``compensation_new_<ccy>`` for any currency code (0 where it never occurs).
    """

    text: str
    measure: str
    op: str
    limit: float

    @classmethod
    def parse(cls, text: str) -> Threshold:
        """Parse one threshold; a :class:`~cxplay.errors.BacktestError` says what is wrong."""
        found = _THRESHOLD.match(text)
        if found is None:
            raise BacktestError(
                f"threshold {echo(text)}: expected MEASURE OP NUMBER, "
                "e.g. compensation_delta_pln>5000 (OP: > >= < <= == !=)"
            )
        measure, op, number = found.groups()
        money = _MONEY.match(measure)
        if not (measure in _NAMES or money):
            hint = did_you_mean(measure, [*_NAMES, "compensation_delta_pln"])
            raise BacktestError(f"threshold {echo(text)}: unknown measure {measure!r}{hint}")
        if money and money.group(2).upper() not in _currencies():
            # a misspelt currency would read 0 forever and the gate would never fire
            code = money.group(2)
            near = _near_currency(code)
            hint = f"; did you mean {echo(measure[:-3] + near)}?" if near else ""
            raise BacktestError(
                f"threshold {echo(text)}: unknown currency {code.upper()!r} "
                f"(an ISO 4217 code, e.g. pln, eur){hint}"
            )
        return cls(text=text.strip(), measure=measure, op=op, limit=float(number))

    def value_in(self, measures: Mapping[str, float]) -> float:
        """The measure's value (a currency that never occurs: 0)."""
        return measures.get(self.measure, 0.0)

    def crossed(self, value: float) -> bool:
        """Whether ``value`` breaks this threshold."""
        return _OPS[self.op](value, self.limit)


_NAMES = ("incidents", "malformed", *CLASSES, *(f"{c}_percent" for c in CLASSES))


def _money(minor: int) -> float:
    return round(minor / 100, 2)


def _messages(counts: Mapping[str, int], limit: int = 20) -> list[MessageCount]:
    ranked = sorted(counts.items(), key=lambda item: (-item[1], item[0]))[:limit]
    return [MessageCount(message=m, count=c) for m, c in ranked]


def _side(data: Mapping[str, Any]) -> SideSummary:
    return SideSummary(
        actions=[
            ActionSummary(
                kind=a["kind"],
                params=a["params"],
                cost=None if a["cost"] is None else _money(a["cost"]["minor"]),
                currency=None if a["cost"] is None else a["cost"]["currency"],
                requires_approval=a["requires_approval"],
            )
            for a in data["actions"]
        ],
        rules=data["rules"],
        severity=data["severity"],
        error=data["error"],
    )


def report_from_tally(
    tally: Tally,
    *,
    source: str,
    unit: str,
    baseline: str,
    new: str,
    explain: Callable[[Mapping[str, Any], Sequence[str]], list[RuleChange]] | None = None,
) -> BacktestReport:
    """Turn a reduced tally into the report.

    ``explain(incident, baseline_rules)`` says why an example changed, rule by rule.
    """
    counted = tally.by_type
    classes = tally.classes
    types = sorted({kind for kind, _ in counted})
    by_type = {
        kind: {name: counted[kind, name] for name in ("incidents", *CLASSES) if counted[kind, name]}
        for kind in types
    }
    by_rule = [
        RuleCount(
            rule=rule,
            baseline=counts["baseline"],
            new=counts["new"],
            gained=counts["gained"],
            lost=counts["lost"],
        )
        for rule, counts in sorted(tally.rules().items())
    ]
    by_rule.sort(key=lambda r: (-(r.gained + r.lost), r.rule))
    currencies = sorted({*tally.compensation_baseline, *tally.compensation_new})
    compensation = [
        Money(
            currency=c,
            baseline=_money(tally.compensation_baseline[c]),
            new=_money(tally.compensation_new[c]),
            delta=_money(tally.compensation_new[c] - tally.compensation_baseline[c]),
        )
        for c in currencies
    ]
    examples = []
    for _, data in tally.examples:
        incident = data["incident"]
        examples.append(
            Example(
                position=data["position"],
                incident_id=incident.get("id"),
                type=incident.get("type"),
                outcome=data["outcome"],
                changes=data["changes"],
                compensation_delta={c: _money(v) for c, v in data["compensation_delta"].items()},
                baseline=_side(data["baseline"]),
                new=_side(data["new"]),
                why=explain(incident, data["baseline"]["rules"]) if explain is not None else [],
                incident=incident,
            )
        )
    return BacktestReport(
        source=source,
        unit=unit,
        baseline=baseline,
        new=new,
        incidents=tally.incidents,
        malformed=tally.malformed,
        malformed_listed=[Malformed(position=p, message=m) for p, m in tally.malformed_listed],
        classes={name: classes[name] for name in CLASSES},
        by_type=by_type,
        by_rule=by_rule,
        compensation=compensation,
        errors_new=_messages(tally.errors_new),
        errors_baseline=_messages(tally.errors_baseline),
        examples=examples,
    )
