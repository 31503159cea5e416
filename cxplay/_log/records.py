"""What the log returns, and what it stores per decision: ids, rows, compensation.

A decision id is derived from the incident's id, its content and the playbooks' digest (a
random one when the incident has no id): the same incident suggested twice under the same
playbooks is one decision seen twice; the same id with other content is another decision.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal, get_args

from pydantic_core import PydanticSerializationError, to_json

from cxplay._common.models import json_tuple_bytes
from cxplay._common.text import text_problem
from cxplay._log.fast import JsonText
from cxplay._log.faults import TEXT_COLUMNS, RowRefused, first_line
from cxplay._log.privacy import mask_incident
from cxplay.models import COMPENSATION_KINDS
from cxplay.results import SuggestedAction

if TYPE_CHECKING:
    from cxplay.models import Incident
    from cxplay.results import Suggestion

__all__ = [
    "HISTORY_DAYS",
    "SCALES",
    "STATUSES",
    "CustomerDecision",
    "CustomerHistory",
    "GivenCompensation",
    "LogHealth",
    "LoggedDecision",
    "OutcomeRecord",
    "Status",
    "decision_id_for",
    "decision_row",
    "given_compensation",
    "incident_content",
    "prepare_row",
    "summed_history",
]

Status = Literal["accepted", "edited", "rejected"]
STATUSES: tuple[str, ...] = get_args(Status)
HISTORY_DAYS = 90
#: Survey scales: CSAT 1-5, NPS 0-10, CES 1-7.
SCALES = {"csat": (1, 5), "nps": (0, 10), "ces": (1, 7)}


@dataclass(frozen=True)
class GivenCompensation:
    """Compensation that happened: what kind, how much (None: unknown), which rule offered it."""

    kind: str
    amount: float | None
    currency: str | None
    rule: str | None = None


@dataclass(frozen=True)
class OutcomeRecord:
    """What an agent did with a decision (the latest one counts; earlier ones are kept)."""

    decision_id: str
    status: Status
    actions: tuple[str, ...]
    given: tuple[GivenCompensation, ...]
    note: str | None
    at: datetime
    replaced: bool = False  # an earlier outcome existed and was superseded


@dataclass(frozen=True)
class CustomerHistory:
    """A customer's compensations in the ``days`` before ``until``, from accepted outcomes."""

    customer_id: str
    compensations: int
    amounts: dict[str | None, float]  # currency -> total given (None: no currency)
    since: datetime
    until: datetime
    days: int = HISTORY_DAYS


def summed_history(
    customer_id: str,
    rows: Sequence[Sequence[Any]],
    since: datetime,
    until: datetime,
    days: int,
) -> CustomerHistory:
    """A customer's history from the look-up's (decision_id, currency, amount) rows."""
    if not rows:  # most customers
        return _history(customer_id, 0, {}, since, until, days)
    decisions: set[str] = set()
    totals: dict[str | None, float] = {}
    for decision_id, currency, amount in rows:
        decisions.add(decision_id)
        if amount is not None:
            totals[currency] = totals.get(currency, 0.0) + amount
    amounts = {currency: round(total, 2) for currency, total in sorted(totals.items(), key=str)}
    return _history(customer_id, len(decisions), amounts, since, until, days)


def _history(
    customer_id: str,
    compensations: int,
    amounts: dict[str | None, float],
    since: datetime,
    until: datetime,
    days: int,
) -> CustomerHistory:
    """``CustomerHistory(customer_id, compensations, amounts, since, until, days)``.

    Its fields set at once: a frozen dataclass's ``__init__`` sets each through
    ``object.__setattr__``, most of a look-up's Python once the history is kept (one
    per logged suggestion). The class has no ``__post_init__`` nor slots;
    ``tests/test_log.py`` holds the two equal, field by field.
    """
    history = object.__new__(CustomerHistory)
    history.__dict__.update(
        customer_id=customer_id,
        compensations=compensations,
        amounts=amounts,
        since=since,
        until=until,
        days=days,
    )
    return history


@dataclass(frozen=True)
class CustomerDecision:
    """One of a customer's earlier decisions, as the console's history panel shows it.

    ``actions`` are the suggested action kinds in order (one each); ``given`` the
    compensation the latest outcome booked (empty: none, or no outcome yet); ``status``
    the latest outcome (None: none recorded).
    """

    decision_id: str
    created_at: datetime
    incident_id: str | None
    type: str
    channel: str | None
    language: str | None
    severity: str
    actions: tuple[str, ...]
    given: tuple[GivenCompensation, ...]
    status: Status | None
    decided_at: datetime | None

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready: datetimes as ISO 8601 strings."""
        return {
            "decision_id": self.decision_id,
            "created_at": self.created_at.isoformat(),
            "incident_id": self.incident_id,
            "type": self.type,
            "channel": self.channel,
            "language": self.language,
            "severity": self.severity,
            "actions": list(self.actions),
            "given": [vars(g) for g in self.given],
            "status": self.status,
            "decided_at": self.decided_at.isoformat() if self.decided_at else None,
        }


@dataclass(frozen=True)
class LogHealth:
    """How the log's writer is doing (for a readiness probe and metrics).

    ``ok`` is False while the last write failed (``error`` says why; the decisions stay
    queued and are retried) or while the batch writer thread is not running.
    """

    ok: bool
    error: str | None
    pending: int  # decisions waiting to be written
    refused: int  # decisions dropped because they could not be written at all
    restarts: int  # times the batch writer thread died and was started again
    writer: Literal["running", "stopped", "none"]  # none: not batching (or nothing yet)


@dataclass(frozen=True)
class LoggedDecision:
    """One decision as the log holds it (the incident masked, maybe forgotten)."""

    id: str
    created_at: datetime
    seen_at: datetime
    views: int
    incident: Mapping[str, object]
    actions: Sequence[Mapping[str, object]]
    digest: str
    playbooks: list[str]
    backend: str
    type: str
    customer_id: str | None
    channel: str | None
    language: str | None
    severity: str
    matched: bool
    occurred_at: datetime | None
    respond_by: datetime | None
    status: Status | None
    decided_at: datetime | None
    first_response_s: float | None
    on_time: bool | None
    csat: int | None
    nps: int | None
    ces: int | None
    forgotten: bool
    outcomes: Sequence[Mapping[str, object]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready: datetimes as ISO 8601 strings."""
        out: dict[str, Any] = {}
        for name in self.__dataclass_fields__:
            value = getattr(self, name)
            out[name] = value.isoformat() if isinstance(value, datetime) else value
        return out


def decision_id_for(incident_id: str | None, digest: str, content: str = "") -> str:
    """The decision id: derived from the incident id, its content and the playbooks.

    ``content`` is :func:`incident_content` of the incident: the same id with other content
    (another customer, another amount) is another decision. Without an id: random.
    """
    if incident_id is None:
        return uuid.uuid4().hex
    key = f"{incident_id}\x00{content}\x00{digest}"
    return hashlib.sha256(key.encode()).hexdigest()[:32]


def incident_content(dumped: Mapping[str, Any]) -> str:
    """A fingerprint of an incident's content (its JSON, facts in name order).

    ``dumped`` is ``incident.model_dump(mode="json", exclude_none=True,
    exclude_defaults=True)``; every other mapping in it has the model's fixed key order.
    """
    facts = dumped.get("facts")
    if facts:
        dumped = {**dumped, "facts": dict(sorted(facts.items()))}
    return hashlib.sha256(to_json(dumped)).hexdigest()[:32]


def decision_row(
    incident: Incident,
    suggestion: Suggestion,
    *,
    digest: str,
    playbooks: Sequence[str],
    backend: str,
    at: datetime,
    mask: Sequence[str],
) -> dict[str, Any]:
    """The decision table's row for a suggestion; what cannot be stored is refused here.

    The incident is stored masked (see :mod:`cxplay._log.privacy`); the reply only by its
    language and channel. Raises :class:`RowRefused` (a ``LogError``) for a value no
    store could hold, before the row joins any queue.

    The caller's thread computes what the decision id and those checks need (the incident
    dumped once, its JSON for the content hash); its two JSON columns, the masked incident
    and the actions, are left as :class:`Deferred` values that :func:`prepare_row` turns into
    JSON text on the writer's side (the batch writer thread when batched), each in one
    pydantic-core pass.
    """
    dumped = incident.model_dump(mode="json", exclude_none=True, exclude_defaults=True)
    try:
        # the content's JSON: the decision id's key, and the proof that the incident's
        # values can be written as JSON (the masked copy only has fewer of them)
        content = incident_content(dumped)
    except (PydanticSerializationError, UnicodeError, ValueError) as error:
        raise RowRefused(
            f"decision not logged: the incident cannot be stored ({first_line(error)})"
        ) from None
    decision_id = decision_id_for(incident.id, digest, content)
    reply = suggestion.reply
    row: dict[str, Any] = {
        "id": decision_id,
        "incident_key": incident.id,
        "digest": digest,
        "created_at": at,
        "seen_at": at,
        "views": 1,
        "customer_id": incident.customer.id,
        "type": incident.type,
        "channel": reply.channel if reply is not None else incident.channel,
        "language": reply.language if reply is not None else incident.customer.language,
        "severity": suggestion.severity,
        "matched": suggestion.matched,
        "backend": backend,
        "playbooks": list(playbooks),
        "incident": Deferred(_masked_json, (dumped, mask)),
        "actions": Deferred(actions_json, suggestion.actions),
        "rules": ";".join(
            f"{rule} {playbook}"
            for rule, playbook in dict.fromkeys((a.rule, a.playbook) for a in suggestion.actions)
        ),
        "occurred_at": incident.occurred_at,
        "respond_by": suggestion.respond_by,
        "status": None,
        "decided_at": None,
        "first_response_s": None,
        "on_time": None,
        "csat": None,
        "nps": None,
        "ces": None,
        "forgotten": False,
    }
    # what cannot be stored is refused here, alone, before it joins the queue
    for column in TEXT_COLUMNS:
        value = row[column]
        problem = text_problem(value) if isinstance(value, str) else None
        if problem is not None:
            raise RowRefused(f"decision {decision_id} not logged: {column}: {problem}")
    return row


class Deferred:
    """A JSON column's value, serialised when the row is written (:func:`prepare_row`)."""

    __slots__ = ("function", "value")

    def __init__(self, function: Callable[[Any], str], value: Any) -> None:
        self.function = function
        self.value = value


def _masked_json(value: tuple[dict[str, Any], Sequence[str]]) -> str:
    dumped, mask = value
    return to_json(mask_incident(dumped, mask)).decode()


def actions_json(actions: tuple[SuggestedAction, ...]) -> str:
    """The actions as the suggestion's JSON has them: one pydantic-core pass, no callbacks."""
    return json_tuple_bytes(SuggestedAction, actions).decode()


def prepare_row(row: dict[str, Any]) -> str | None:
    """Serialise a row's :class:`Deferred` columns in place; why it cannot be, or None."""
    for column in ("incident", "actions"):
        value = row[column]
        if isinstance(value, Deferred):
            try:
                row[column] = JsonText(value.function(value.value))
            except (PydanticSerializationError, UnicodeError, ValueError) as error:
                return f"the incident cannot be stored ({first_line(error)})"
    return None


def given_compensation(
    suggested: list[dict[str, Any]],
    taken: list[str],
    given: Mapping[str, float | tuple[float, str | None]],
) -> list[GivenCompensation]:
    """What was given per action kind taken: the amounts given, else the suggested costs."""
    offered = {a["kind"]: a for a in reversed(suggested)}  # the first of each kind
    out: list[GivenCompensation] = []
    for kind in taken:
        action = offered.get(kind)
        cost = (action or {}).get("cost") or {}
        amount: float | None
        currency: str | None = cost.get("currency")
        if kind in given:
            value = given[kind]
            amount, currency = (
                (float(value[0]), value[1])
                if isinstance(value, tuple)
                else (float(value), currency)
            )
        elif kind in COMPENSATION_KINDS:
            amount = cost.get("amount")
        else:
            continue
        out.append(
            GivenCompensation(
                kind=kind,
                amount=None if amount is None else round(amount, 2),
                currency=currency,
                rule=(action or {}).get("rule"),
            )
        )
    return out
