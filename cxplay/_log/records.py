"""What the log returns, and what it stores per decision: ids, rows, compensation.

A decision id is derived from the incident's id, its content and the playbooks' digest (a
random one when the incident has no id): the same incident suggested twice under the same
playbooks is one decision seen twice; the same id with other content is another decision.
"""

from __future__ import annotations

import functools
import hashlib
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal, get_args

from pydantic import BaseModel
from pydantic_core import PydanticSerializationError, SchemaSerializer, to_json

from cxplay._common.models import json_bytes, json_serializer, json_tuple_bytes, shared_json
from cxplay._common.text import text_problem
from cxplay._log.fast import JsonText
from cxplay._log.faults import TEXT_COLUMNS, RowRefused, first_line
from cxplay._log.privacy import mask_incident, path_matcher, redacts
from cxplay.models import COMPENSATION_KINDS, Customer, EventRef, Incident, Order
from cxplay.results import SuggestedAction

if TYPE_CHECKING:
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
    "Pending",
    "Status",
    "action_columns",
    "content_fingerprint",
    "decision_id_for",
    "given_compensation",
    "incident_jsons",
    "pending_decision",
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

    ``content`` is :func:`content_fingerprint` of the incident: the same id with other content
    (another customer, another amount) is another decision. Without an id: random.
    """
    if incident_id is None:
        return uuid.uuid4().hex
    key = f"{incident_id}\x00{content}\x00{digest}"
    return hashlib.sha256(key.encode()).hexdigest()[:32]


def content_fingerprint(content: bytes) -> str:
    """A fingerprint of an incident's content JSON (:func:`incident_jsons`' first text)."""
    return hashlib.sha256(content).hexdigest()[:32]


class Pending:
    """A decision between :meth:`DecisionLog.record` and its write: its id and references.

    The suggesting thread computes only what the decision id and the refusal checks need
    (:func:`pending_decision`); the writer (the batch writer thread when batched) makes
    the JSON columns (:meth:`prepare`), each in one pydantic-core pass, as UTF-8 bytes
    that go to the store as they are. ``row()`` is the decision table's row as a dict (the
    Core's path, and what a test or a fault injection reads: ``pending["incident_key"]``).
    """

    __slots__ = (
        "actions",
        "actions_json",
        "at",
        "backend",
        "channel",
        "customer_id",
        "digest",
        "dumped",
        "id",
        "incident_json",
        "incident_key",
        "language",
        "mask",
        "matched",
        "occurred_at",
        "playbooks",
        "respond_by",
        "rules",
        "seen_at",
        "severity",
        "type",
        "views",
    )

    id: str
    incident_key: str | None
    digest: str
    at: datetime
    seen_at: datetime
    views: int
    customer_id: str | None
    type: str
    channel: str | None
    language: str | None
    severity: str
    matched: bool
    backend: str
    playbooks: Sequence[str]
    #: the masked incident's JSON: from the caller's thread when masking changes nothing,
    #: else None until :meth:`prepare` masks ``dumped``
    incident_json: bytes | None
    dumped: dict[str, Any] | None
    mask: Sequence[str]
    actions: tuple[SuggestedAction, ...]
    actions_json: bytes | None  # (None: not prepared yet)
    rules: str
    occurred_at: datetime | None
    respond_by: datetime | None

    def prepare(self) -> str | None:
        """Make the JSON columns (once; the writer's part); why they cannot be, or None."""
        if self.actions_json is not None:
            return None
        try:
            if self.incident_json is None:
                assert self.dumped is not None
                self.incident_json = to_json(mask_incident(self.dumped, self.mask))
            actions, rules = action_columns(self.actions)
        except (PydanticSerializationError, UnicodeError, ValueError) as error:
            return f"the incident cannot be stored ({first_line(error)})"
        self.dumped = None
        self.rules = rules
        self.actions_json = actions
        return None

    def seen_again(self, other: Pending) -> Pending:
        """A copy counting ``other`` (the same decision again in one batch) as one more view.

        A copy: the queued decision stays as it was, so a failed write retries it as it was.
        """
        copy = Pending.__new__(Pending)
        for name in Pending.__slots__:
            setattr(copy, name, getattr(self, name))
        copy.views = self.views + other.views
        copy.seen_at = max(self.seen_at, other.seen_at)
        return copy

    def row(self) -> dict[str, Any]:
        """The decision table's row; its JSON columns as :class:`JsonText` (None: unprepared)."""
        incident, actions = self.incident_json, self.actions_json
        prepared = incident is not None and actions is not None
        return {
            "id": self.id,
            "incident_key": self.incident_key,
            "digest": self.digest,
            "created_at": self.at,
            "seen_at": self.seen_at,
            "views": self.views,
            "customer_id": self.customer_id,
            "type": self.type,
            "channel": self.channel,
            "language": self.language,
            "severity": self.severity,
            "matched": self.matched,
            "backend": self.backend,
            "playbooks": list(self.playbooks),
            "incident": JsonText(incident.decode()) if incident is not None else None,
            "actions": JsonText(actions.decode()) if actions is not None else None,
            "rules": self.rules if prepared else None,
            "occurred_at": self.occurred_at,
            "respond_by": self.respond_by,
            "status": None,
            "decided_at": None,
            "first_response_s": None,
            "on_time": None,
            "csat": None,
            "nps": None,
            "ces": None,
            "forgotten": False,
        }

    def __getitem__(self, column: str) -> Any:
        return self.row()[column]


def pending_decision(
    incident: Incident,
    suggestion: Suggestion,
    *,
    digest: str,
    playbooks: Sequence[str],
    backend: str,
    at: datetime,
    mask: Sequence[str],
) -> Pending:
    """What the caller's thread does for a logged suggestion: its id, and what is refused.

    The incident is stored masked (see :mod:`cxplay._log.privacy`); the reply only by its
    language and channel. Raises :class:`RowRefused` (a ``LogError``) for a value no store
    could hold, before the decision joins any queue.

    The content's JSON (the decision id's key, and the proof that the incident's values can
    be written) is one pydantic-core pass over the model (:func:`incident_jsons`); when
    masking changes nothing, which is the rule, the same bytes are the stored incident.
    The actions and the rules are left to :meth:`Pending.prepare` (the writer's side).
    """
    try:
        content, masked, dumped = incident_jsons(incident, mask)
    except (PydanticSerializationError, UnicodeError, ValueError) as error:
        raise RowRefused(
            f"decision not logged: the incident cannot be stored ({first_line(error)})"
        ) from None
    decision_id = decision_id_for(incident.id, digest, content_fingerprint(content))
    reply = suggestion.reply
    customer = incident.customer
    pending = Pending.__new__(Pending)
    pending.id = decision_id
    pending.incident_key = incident.id
    pending.digest = digest
    pending.at = pending.seen_at = at
    pending.views = 1
    pending.customer_id = customer.id
    pending.type = incident.type
    if reply is not None:
        pending.channel, pending.language = reply.channel, reply.language
    else:
        pending.channel, pending.language = incident.channel, customer.language
    pending.severity = suggestion.severity
    pending.matched = suggestion.matched
    pending.backend = backend
    pending.playbooks = playbooks if type(playbooks) is tuple else list(playbooks)
    pending.incident_json = masked
    pending.dumped = dumped
    pending.mask = mask
    pending.actions = suggestion.actions
    pending.actions_json = None
    pending.occurred_at = incident.occurred_at
    pending.respond_by = suggestion.respond_by
    # what cannot be stored is refused here, alone, before it joins the queue: the texts
    # read at once, joined by a newline (allowed, so the joined text has a problem only
    # where one of them has), then one by one to name the first column with one
    texts = (
        pending.incident_key,
        pending.customer_id,
        pending.type,
        pending.channel,
        pending.language,
        pending.severity,
    )  # (TEXT_COLUMNS)
    if text_problem("\n".join([v for v in texts if isinstance(v, str)])) is not None:
        for column in TEXT_COLUMNS:
            value = getattr(pending, column)
            problem = text_problem(value) if isinstance(value, str) else None
            if problem is not None:
                raise RowRefused(f"decision {decision_id} not logged: {column}: {problem}")
    return pending


# -- the actions' two columns ------------------------------------------------------------

#: An action's JSON and its (rule, playbook) with their text, by the action's identity.
#: The entry holds the action, so no other object can have its id while it is kept;
#: an action is immutable (its params a FrozenMap), so its JSON never changes. Only
#: actions without a cost are kept: the engine suggests each of those as one object per
#: rule and approval (made once per playbook snapshot), shared by every decision, while an
#: action with a cost is made per decision and would never be met again.
_ACTION_PARTS: dict[int, tuple[SuggestedAction, bytes, tuple[str, str], str]] = {}
_ACTION_PARTS_LIMIT = 4096  # (a few playbook sets' plain actions; emptied when full)


def _action_parts(action: SuggestedAction) -> tuple[SuggestedAction, bytes, tuple[str, str], str]:
    """An action's JSON (its item of :func:`json_tuple_bytes`), its pair and the pair's text."""
    pair = (action.rule, action.playbook)
    text = f"{pair[0]} {pair[1]}"
    if action.cost is not None:
        return action, json_bytes(action), pair, text
    parts = (action, shared_json(action), pair, text)  # its JSON shared with the service's
    if len(_ACTION_PARTS) >= _ACTION_PARTS_LIMIT:
        _ACTION_PARTS.clear()
    _ACTION_PARTS[id(action)] = parts
    return parts


def action_columns(actions: tuple[SuggestedAction, ...]) -> tuple[bytes, str]:
    """A decision's ``actions`` JSON and its ``rules`` text.

    ``json_tuple_bytes(SuggestedAction, actions)`` and the distinct (rule, playbook)
    pairs as ``"rule playbook"`` joined by ``;`` in order of first appearance
    (:func:`_old_action_columns`), from each action's parts kept by identity: a decision
    mostly suggests actions the engine made once per snapshot (every customer alike), whose
    JSON is then not written again. Anything but exact :class:`SuggestedAction` goes the
    old way. ``tests/test_log_actions.py`` holds the two equal.
    """
    jsons: list[bytes] = []
    rules: dict[tuple[str, str], str] = {}
    kept = _ACTION_PARTS
    for action in actions:
        parts = kept.get(id(action))
        if parts is None:
            if type(action) is not SuggestedAction:
                return _old_action_columns(actions)
            parts = _action_parts(action)
        jsons.append(parts[1])
        rules[parts[2]] = parts[3]  # (the first appearance keeps its place)
    return b"[" + b",".join(jsons) + b"]", ";".join(rules.values())


def _old_action_columns(actions: tuple[SuggestedAction, ...]) -> tuple[bytes, str]:
    """The two columns as :meth:`Pending.prepare` made them before :func:`action_columns`."""
    rules = ";".join(
        f"{rule} {playbook}"
        for rule, playbook in dict.fromkeys((a.rule, a.playbook) for a in actions)
    )
    return json_tuple_bytes(SuggestedAction, actions), rules


# -- the incident's two JSON texts --------------------------------------------------------

_SUB_MODELS = (("customer", Customer), ("order", Order), ("event", EventRef))


@functools.cache
def _incident_serializer() -> tuple[SchemaSerializer, tuple[tuple[str, type, Any, Any], ...]]:
    """Incident's JSON serializer (no Python callbacks), and its sub-models' defaults."""
    defaults = tuple(
        (name, cls, Incident.model_fields[name].default, cls.model_fields.keys())
        for name, cls in _SUB_MODELS
    )
    return json_serializer(Incident), defaults


def _is_default(value: Any, cls: type[BaseModel], default: BaseModel, fields: Any) -> bool:
    """``value == default`` as pydantic's ``__eq__`` answers it, without its Python call.

    The exact sub-model class, no private or extra values, only fields in ``__dict__``:
    then pydantic compares the two ``__dict__``; anything else asks ``__eq__`` itself.
    """
    if type(value) is cls and value.__pydantic_private__ is None and not value.__pydantic_extra__:
        values = value.__dict__
        if values == default.__dict__:
            return True
        if values.keys() <= fields:  # (else pydantic compares the fields alone)
            return False
    return bool(value == default)


@functools.lru_cache(maxsize=64)
def _fixed_paths_masked(patterns: tuple[str, ...]) -> bool:
    """Whether a mask list hides one of the incident's own fields (not a fact by name).

    The paths an incident can have outside its facts are fixed by the model: its fields
    and its sub-models' fields. The default mask hides none (only facts, by name).
    """
    masked = path_matcher(patterns)
    paths = list(Incident.model_fields)
    for name, cls in _SUB_MODELS:
        paths.extend(f"{name}.{field}" for field in cls.model_fields)
    return any(masked(path) for path in paths)


def _unchanged_by_masking(incident: Incident, patterns: tuple[str, ...]) -> bool:
    """True when :func:`mask_incident` would return the incident's dump as it is.

    No mask reaches a field of the incident or a fact's name, and no contact detail is in
    its free text (the description, text facts): then the masked incident is its dump.
    """
    if _fixed_paths_masked(patterns):
        return False
    description = incident.description
    if description is not None and redacts(description):
        return False
    facts = incident.facts
    if facts:
        masked = path_matcher(patterns)
        for name, value in facts.items():
            if masked(f"facts.{name}"):
                return False
            if isinstance(value, str):
                if redacts(value):
                    return False
            elif isinstance(value, list):
                for item in value:
                    if isinstance(item, str) and redacts(item):
                        return False
            elif type(value) not in (int, float, bool):
                return False  # (not a fact value the model lets in: the general way)
    return True


def incident_jsons(
    incident: Incident, mask: Sequence[str]
) -> tuple[bytes, bytes | None, dict[str, Any] | None]:
    """The incident's content JSON, and its masked JSON or its dump for masking later.

    The content JSON is ``to_json`` of ``incident.model_dump(mode="json",
    exclude_none=True, exclude_defaults=True)`` with the facts in name order
    (the decision id's key). Made here in one pass of the model's own
    serializer (without its Python callbacks): the sub-models equal to their defaults and
    empty facts excluded by name, which is what ``exclude_defaults`` decides (every other
    default is None). When masking changes nothing, the masked JSON is the same pass with
    the facts as given (the same bytes when they are in name order already); else the
    dump is returned for :func:`mask_incident`. Anything but an exact ``Incident``, or
    facts that are not a dict, goes the general way (the dump, then ``to_json``).
    ``tests/test_log_rows.py`` holds these bytes to the general way's.
    """
    patterns = mask if type(mask) is tuple else tuple(mask)
    facts = incident.facts
    if type(incident) is not Incident or type(facts) is not dict:
        dumped = incident.model_dump(mode="json", exclude_none=True, exclude_defaults=True)
        return _content_json(dumped), None, dumped
    serializer, defaults = _incident_serializer()
    values = incident.__dict__  # (an exact Incident: its fields are its __dict__)
    exclude = set()
    for name, cls, default, fields in defaults:
        try:
            value = values[name]
        except KeyError:  # (not a field set: what pydantic says of it)
            value = getattr(incident, name)
        # the field's own default object (validation does not copy it: a frozen model)
        if value is default or _is_default(value, cls, default, fields):
            exclude.add(name)
    if not facts:
        exclude.add("facts")
    if not _unchanged_by_masking(incident, patterns):
        dumped = serializer.to_python(
            incident, mode="json", exclude_none=True, exclude=exclude or None
        )
        return _content_json(dumped), None, dumped
    as_given = serializer.to_json(incident, exclude_none=True, exclude=exclude or None)
    names = list(facts)
    if len(names) < 2 or names == sorted(names):
        return as_given, as_given, None
    # facts are the model's last field: the same JSON with them in name order
    head = serializer.to_json(incident, exclude_none=True, exclude=exclude | {"facts"})
    content = head[:-1] + b',"facts":' + to_json(dict(sorted(facts.items()))) + b"}"
    return content, as_given, None


def _content_json(dumped: Mapping[str, Any]) -> bytes:
    """The content JSON of an incident's dump: its facts in name order.

    ``dumped`` is ``model_dump(mode="json", exclude_none=True, exclude_defaults=True)``;
    every other mapping in it has the model's fixed key order.
    """
    facts = dumped.get("facts")
    if facts:
        dumped = {**dumped, "facts": dict(sorted(facts.items()))}
    return to_json(dumped)


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
