"""One side of a comparison: what one playbook set (or the log) made of an incident.

A :class:`Side` holds what the backtest compares -- the actions as tuples, the rules,
the severity, the reply or the error -- made from an engine's decision (:func:`side_of`),
from an outline (:mod:`cxplay._backtest.compare`) or from a logged decision
(:func:`side_of_logged`, which :class:`~cxplay._backtest.source.LogSource` uses: kept here,
apart from the comparison, so the source does not import it back).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from cxplay._common.models import freeze
from cxplay._engine.decide import ActionKey, Decision
from cxplay.models import COMPENSATION_KINDS

__all__ = ["NO_CURRENCY", "Side", "side_of", "side_of_logged"]

#: The currency key for a cost without one (ISO 4217's "no currency").
NO_CURRENCY = "XXX"


@dataclass(frozen=True)
class Side:
    """What one playbook set made of an incident, reduced to what is compared."""

    actions: tuple[ActionKey, ...] = ()
    rules: tuple[str, ...] = ()  # kept rules, in rank order
    severity: str | None = None
    reply: tuple[str | None, str] | None = None  # (subject, body) with replies
    error: str | None = None

    def compensation(self) -> dict[str, int]:
        """Minor units per currency over the compensating actions."""
        total: dict[str, int] = {}
        for kind, _, cents, currency, _ in self.actions:
            if cents is not None and kind in COMPENSATION_KINDS:
                key = currency or NO_CURRENCY
                total[key] = total.get(key, 0) + cents
        return total

    def approval(self) -> bool:
        """Whether any action needs a supervisor's approval."""
        return any(a[4] for a in self.actions)

    def as_dict(self) -> dict[str, Any]:
        """A plain summary for examples: action kinds with cost and approval, rules, error."""
        return {
            "actions": [
                {
                    "kind": kind,
                    "params": params,
                    "cost": None if cents is None else {"minor": cents, "currency": currency},
                    "requires_approval": approval,
                }
                for kind, params, cents, currency, approval in self.actions
            ],
            "rules": list(self.rules),
            "severity": self.severity,
            "error": self.error,
        }


def side_of(
    decision: Decision,
    reply: tuple[str | None, str] | None = None,
    *,
    rules_of_actions: bool = False,
) -> Side:
    """The compared summary of an engine's decision.

    ``rules_of_actions``: the rules are those that gave an action (what a logged decision
    records) rather than every kept rule.
    """
    actions = []
    for action in decision.actions:
        cost = action.cost
        actions.append(
            (
                action.kind,
                action.params,
                None if cost is None else round(cost.amount * 100),
                None if cost is None else cost.currency,
                action.requires_approval,
            )
        )
    if rules_of_actions:
        rules = tuple(dict.fromkeys(a.rule for a in decision.actions))
    else:
        rules = tuple(r.id for r in decision.kept)
    return Side(tuple(actions), rules, decision.severity, reply)


def side_of_logged(actions: Sequence[Mapping[str, Any]], severity: str | None) -> Side:
    """The compared summary of a decision as the log holds it (its actions as JSON)."""
    keys = []
    for action in actions:
        cost = action.get("cost")
        keys.append(
            (
                str(action["kind"]),
                freeze(action.get("params") or {}),  # compared with a decision's, frozen
                None if cost is None else round(float(cost["amount"]) * 100),
                None if cost is None else cost.get("currency"),
                bool(action.get("requires_approval")),
            )
        )
    rules = tuple(dict.fromkeys(str(a["rule"]) for a in actions if a.get("rule")))
    return Side(tuple(keys), rules, severity)
