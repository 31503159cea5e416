"""Output models: what cxplay answers. ``Suggestion`` is the public JSON contract.

They are immutable in depth: assigning a field raises ``FrozenInstanceError`` (an
``AttributeError``), sequences are tuples and mappings read-only (a change raises
``TypeError``), and a model is hashable. ``model_dump()`` still gives lists and dicts,
and the JSON is the contract, byte for byte.
"""

# No `from __future__ import annotations` (see cxplay/models.py): real annotations spare
# pydantic a compile and an evaluation of each field's annotation string.

from collections.abc import Mapping
from dataclasses import FrozenInstanceError
from datetime import datetime, timedelta
from typing import Annotated, Any, Literal, TypeVar

from pydantic import AfterValidator, Field, PlainSerializer, WrapSerializer
from pydantic_core.core_schema import SerializerFunctionWrapHandler

from cxplay._common.models import Frozen, freeze, python_only, thaw
from cxplay.models import Severity

T = TypeVar("T")


@python_only
def _as_list(value: Any, handler: SerializerFunctionWrapHandler) -> Any:
    out = handler(value)
    return list(out) if isinstance(out, tuple) else out


class _Result(Frozen):
    """An output model: assigning or deleting a field is an ``AttributeError``."""

    def __setattr__(self, name: str, value: object) -> None:
        raise FrozenInstanceError(
            f"cannot assign to field {name!r}: a {type(self).__name__} is immutable "
            "(model_copy(update=...) makes a changed copy)"
        )

    def __delattr__(self, name: str) -> None:
        raise FrozenInstanceError(
            f"cannot delete field {name!r}: a {type(self).__name__} is immutable"
        )


#: A tuple in the model, a list in ``model_dump()`` and JSON.
Items = Annotated[tuple[T, ...], WrapSerializer(_as_list)]
#: A value read-only in depth (lists become tuples, dicts read-only mappings).
FrozenValue = Annotated[object, AfterValidator(freeze), PlainSerializer(thaw)]
#: A read-only mapping in the model, a dict in ``model_dump()`` and JSON.
FrozenMapping = Annotated[Mapping[str, object], AfterValidator(freeze), PlainSerializer(thaw)]

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


class Match(_Result):
    """A rule whose condition holds for an incident (before groups and guardrails)."""

    rule: str
    playbook: str
    priority: int
    order: int = Field(description="Position of the rule across all playbooks (file order).")


class Cost(_Result):
    """What an action costs, in the order's currency."""

    amount: float
    currency: str | None


class SuggestedAction(_Result):
    """One recommended action, with why it applies."""

    kind: str
    rule: str
    playbook: str
    priority: int
    params: FrozenMapping = Field(
        description="The action's parameters (percent, template, options, ...): read-only."
    )
    reason: str | None
    requires_approval: bool
    cost: Cost | None
    dimension: str | None
    stage: str | None


class Reply(_Result):
    """The message to send, rendered in the customer's language and for the channel."""

    language: str
    fell_back: bool
    channel: str
    subject: str | None = None
    body: str
    html: str | None = None
    segments: int | None = None


class FollowUpPlan(_Result):
    """Something to do later: a survey, an update, a check-in."""

    after: timedelta
    channel: str | None
    action: Literal["survey", "follow_up", "callback", "escalate"]
    survey: str | None = None
    purpose: str | None = None
    due: datetime | None = None


class RuleTrace(_Result):
    """How one rule fared against an incident (``--explain``)."""

    rule: str
    playbook: str
    matched: bool
    condition: str
    failed: str | None = Field(default=None, description="The first condition that did not hold.")
    value: FrozenValue = Field(
        default=None, description="The incident's value for the failed condition."
    )
    outcome: str | None = Field(
        default=None, description="What happened after matching: kept, or why it was dropped."
    )


class History(_Result):
    """The customer history the repeat-claimant guard used, and where it came from.

    ``source`` is ``incident`` when the caller gave ``customer.compensations_90d`` (it
    always wins), ``log`` when it was counted from the decision log's recorded outcomes
    (then ``amounts_90d`` holds what was given, per currency).
    """

    source: Literal["incident", "log"]
    compensations_90d: int
    amounts_90d: Items[Cost] = ()


class Suggestion(_Result):
    """Ranked recovery actions for an incident, and the reply to send.

    ``decision_id`` is the id the decision log gave this suggestion (None when not
    logged); ``history`` the customer history the guard used (None: none was known).
    ``reply`` is None when no rule matched (or the playbooks have no replies): narrow it
    with ``if s.reply is not None:`` before use. The model is immutable in depth.

    Example:
        >>> from cxplay import Engine
        >>> with Engine.from_path(backend="python") as engine:
        ...     s = engine.suggest(
        ...         {"type": "parcel_damaged", "channel": "email",
        ...          "occurred_at": "2026-11-20T09:15:00+01:00",
        ...          "order": {"value": 250, "currency": "PLN"}}
        ...     )
        >>> [a.kind for a in s.actions][:2], s.actions[1].cost
        (['apology', 'refund'], Cost(amount=250.0, currency='PLN'))
        >>> s.respond_by.isoformat() if s.respond_by else None
        '2026-11-20T11:15:00+01:00'
        >>> s.reply.language if s.reply is not None else "no reply"
        'en'
        >>> s.model_dump(mode="json")["actions"][1]["params"]["percent"]
        100.0
    """

    incident_id: str | None
    matched: bool
    severity: Severity
    actions: Items[SuggestedAction]
    reply: Reply | None = None
    respond_by: datetime | None = None
    follow_ups: Items[FollowUpPlan] = ()
    trace: Items[RuleTrace] | None = None
    decision_id: str | None = None
    history: History | None = None
