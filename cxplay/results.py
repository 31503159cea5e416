"""Output models: what cxplay answers. ``Suggestion`` is the public JSON contract."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, Literal

from pydantic import Field

from cxplay._common.models import Frozen
from cxplay.models import Severity

__all__ = [
    "Cost",
    "FollowUpPlan",
    "History",
    "Match",
    "Reply",
    "RuleTrace",
    "SuggestedAction",
    "Suggestion",
]


class Match(Frozen):
    """A rule whose condition holds for an incident (before groups and guardrails)."""

    rule: str
    playbook: str
    priority: int
    order: int = Field(description="Position of the rule across all playbooks (file order).")


class Cost(Frozen):
    """What an action costs, in the order's currency."""

    amount: float
    currency: str | None


class SuggestedAction(Frozen):
    """One recommended action, with why it applies."""

    kind: str
    rule: str
    playbook: str
    priority: int
    params: dict[str, Any]
    reason: str | None
    requires_approval: bool
    cost: Cost | None
    dimension: str | None
    stage: str | None


class Reply(Frozen):
    """The message to send, rendered in the customer's language and for the channel."""

    language: str
    fell_back: bool
    channel: str
    subject: str | None = None
    body: str
    html: str | None = None
    segments: int | None = None


class FollowUpPlan(Frozen):
    """Something to do later: a survey, an update, a check-in."""

    after: timedelta
    channel: str | None
    action: Literal["survey", "follow_up", "callback", "escalate"]
    survey: str | None = None
    purpose: str | None = None
    due: datetime | None = None


class RuleTrace(Frozen):
    """How one rule fared against an incident (``--explain``)."""

    rule: str
    playbook: str
    matched: bool
    condition: str
    failed: str | None = Field(default=None, description="The first condition that did not hold.")
    value: Any = Field(default=None, description="The incident's value for the failed condition.")
    outcome: str | None = Field(
        default=None, description="What happened after matching: kept, or why it was dropped."
    )


class History(Frozen):
    """The customer history the repeat-claimant guard used, and where it came from.

    ``source`` is ``incident`` when the caller gave ``customer.compensations_90d`` (it
    always wins), ``log`` when it was counted from the decision log's recorded outcomes
    (then ``amounts_90d`` holds what was given, per currency).
    """

    source: Literal["incident", "log"]
    compensations_90d: int
    amounts_90d: list[Cost] = Field(default_factory=list)


class Suggestion(Frozen):
    """Ranked recovery actions for an incident, and the reply to send.

    ``decision_id`` is the id the decision log gave this suggestion (None when not
    logged); ``history`` the customer history the guard used (None: none was known).
    """

    incident_id: str | None
    matched: bool
    severity: Severity
    actions: list[SuggestedAction]
    reply: Reply | None = None
    respond_by: datetime | None = None
    follow_ups: list[FollowUpPlan] = Field(default_factory=list)
    trace: list[RuleTrace] | None = None
    decision_id: str | None = None
    history: History | None = None
