"""Input models: the incident (what happened) and the playbook (how we recover).

Every model forbids unknown keys: a typo in a playbook or an incident is an error, never a
silently ignored value. The incident shape is a public contract (see DESIGN.md).
"""

# No `from __future__ import annotations` here: pydantic would compile and evaluate every
# field's annotation string when the class is made (~200 strings, 1.3 % of a cold
# `cxplay suggest`); evaluated as the class body runs, they cost nothing extra.

import typing
from collections.abc import Mapping
from datetime import date, timedelta
from typing import Annotated, Any, Literal, Union

from pydantic import (
    AfterValidator,
    BeforeValidator,
    Field,
    StringConstraints,
    WithJsonSchema,
    field_validator,
    model_validator,
)

from cxplay._common.channels import CHANNELS
from cxplay._common.fields import (
    DIMENSIONS,
    MAX_DESCRIPTION,
    MAX_FACTS,
    MAX_LIST,
    MAX_NUMBER,
    MAX_TEXT,
    SEVERITIES,
    STAGES,
    Channel,
    CurrencyCode,
    Dimension,
    Duration,
    FactName,
    FactValue,
    Identifier,
    Language,
    LanguageTag,
    Moment,
    Number,
    Severity,
    ShortText,
    Stage,
    Text,
    TimeZoneName,
    _duration,
    _finite,
    _Strict,
)
from cxplay._common.hours import WEEKDAYS, BusinessCalendar, holiday_countries, parse_hours
from cxplay._common.text import NO_CONTROL, did_you_mean, echo, text_problem

__all__ = [
    "CHANNELS",
    "COMPENSATION_KINDS",
    "DIMENSIONS",
    "SEVERITIES",
    "STAGES",
    "Action",
    "Apology",
    "Calendar",
    "Callback",
    "Channel",
    "Correlate",
    "Customer",
    "Discount",
    "Escalate",
    "EventRef",
    "FactLabel",
    "FactSpec",
    "FollowUp",
    "FreeShipping",
    "Gesture",
    "Incident",
    "Inform",
    "Labels",
    "MovePrivate",
    "Order",
    "PlanB",
    "Playbook",
    "PlaybookFile",
    "PlaybookMeta",
    "Policy",
    "Refund",
    "Replacement",
    "Rule",
    "Scenario",
    "Severity",
    "Sla",
    "Stage",
    "Survey",
]

# --------------------------------------------------------------------------- incident


class Customer(_Strict):
    """Who the incident happened to. ``name`` is untrusted text, used only as data."""

    id: ShortText | None = None
    name: ShortText | None = None
    language: LanguageTag | None = None
    tier: ShortText | None = None
    lifetime_value: Number | None = None
    orders_count: int | None = Field(default=None, ge=0)
    compensations_90d: int | None = Field(default=None, ge=0)
    salutation: ShortText | None = None
    gender: Literal["female", "male", "unknown"] | None = None
    timezone: TimeZoneName | None = None


class Order(_Strict):
    """The order concerned, if any."""

    id: ShortText | None = None
    value: Number | None = Field(default=None, ge=0)
    currency: CurrencyCode | None = None
    carrier: ShortText | None = None


class EventRef(_Strict):
    """The event concerned, if any (conference, webinar, ...)."""

    id: ShortText | None = None
    session: ShortText | None = None
    speaker: ShortText | None = None


class Incident(_Strict):
    """Something that went wrong for a customer. Only ``type`` is required.

    Built directly, an invalid incident raises pydantic's ``ValidationError`` (a
    ``ValueError``); handed to an :class:`cxplay.Engine` as a dict, the same problems
    are one :class:`cxplay.IncidentError` with each problem located. ``occurred_at``
    needs a UTC offset. ``facts`` takes any mapping of :data:`cxplay.FactValue`.

    Example:
        >>> from cxplay import Customer, Incident, Order
        >>> incident = Incident(
        ...     type="parcel_late",
        ...     channel="email",
        ...     customer=Customer(name="Anna Kowalska", language="pl"),
        ...     order=Order(value=249.99, currency="PLN"),
        ...     facts={"delay_days": 6},
        ... )
        >>> incident.customer.language, incident.facts["delay_days"]
        ('pl', 6)
        >>> try:
        ...     Incident(type="parcel_late", occurred_at="2026-11-20T09:15:00")
        ... except ValueError as error:  # pydantic's ValidationError
        ...     print(type(error).__name__, "needs a UTC offset" in str(error))
        ValidationError True
    """

    id: ShortText | None = None
    type: Identifier
    occurred_at: Moment | None = None
    channel: Channel | None = None
    stage: Stage | None = None
    severity: Severity | None = None
    description: (
        Annotated[str, StringConstraints(max_length=MAX_DESCRIPTION, pattern=NO_CONTROL)] | None
    ) = None
    customer: Customer = Customer()
    order: Order = Order()
    event: EventRef = EventRef()
    facts: Mapping[FactName, FactValue] = Field(default_factory=dict)

    @field_validator("facts")
    @classmethod
    def _check_facts(cls, facts: dict[str, Any]) -> dict[str, Any]:
        if len(facts) > MAX_FACTS:
            raise ValueError(f"an incident may carry at most {MAX_FACTS} facts, not {len(facts)}")
        for name, value in facts.items():
            kind = type(value)  # the usual fact first: a number in range (NaN fails too)
            if (kind is int or kind is float) and -MAX_NUMBER <= value <= MAX_NUMBER:
                continue
            items = value if isinstance(value, list) else [value]
            if isinstance(value, list) and len(value) > MAX_LIST:
                raise ValueError(f"fact {echo(name)}: a list may hold at most {MAX_LIST} items")
            for item in items:
                if isinstance(item, float):
                    _finite(item)
                elif isinstance(item, int) and not isinstance(item, bool):
                    _finite(float(item))
                elif isinstance(item, str):
                    if len(item) > MAX_TEXT:
                        raise ValueError(f"fact {echo(name)} is longer than {MAX_TEXT} characters")
                    problem = text_problem(item)
                    if problem is not None:
                        raise ValueError(f"fact {echo(name)}: {problem}")
        return facts


# --------------------------------------------------------------------------- actions


#: The parts of a recovery, as a reply says them (see ``_ActionBase.step``).
RecoveryStep = Literal["care", "fix", "money", "paperwork"]


class _ActionBase(_Strict):
    template: Identifier | None = Field(
        default=None, description="Reply fragment to use instead of the kind's default."
    )
    dimension: Dimension | None = Field(default=None, description="CX dimension served.")
    stage: Stage | None = Field(default=None, description="Customer-journey stage.")
    requires_approval: bool | None = Field(
        default=None, description="Force (true) or waive (false) a supervisor's approval."
    )
    note: Text | None = Field(default=None, description="A hint for the agent, not the customer.")
    step: RecoveryStep | None = Field(
        default=None,
        description="Which part of the recovery the reply says it in: care (safety and "
        "comfort), fix (the remedy and when), money, paperwork. Default by kind: a gesture "
        "without an amount is care, refunds, discounts, free shipping and gestures with an "
        "amount are money, a survey is paperwork, the rest is the fix. The reply follows the "
        "playbook's declared order of rules and actions, one paragraph per run of a step.",
    )


class Apology(_ActionBase):
    """Apologise first, sincerely, also for a partner's fault."""

    kind: Literal["apology"]


class Refund(_ActionBase):
    """Give money back: a percent of the order value or a fixed amount, capped."""

    kind: Literal["refund"]
    percent: float | None = Field(default=None, gt=0, le=100)
    amount: float | None = Field(default=None, gt=0)
    max_amount: float | None = Field(default=None, gt=0)

    @model_validator(mode="after")
    def _one_of(self) -> "Refund":
        if (self.percent is None) == (self.amount is None):
            raise ValueError("a refund needs exactly one of 'percent' or 'amount'")
        return self


class Discount(_ActionBase):
    """A discount on the next order."""

    kind: Literal["discount"]
    percent: float | None = Field(default=None, gt=0, le=100)
    amount: float | None = Field(default=None, gt=0)
    days_valid: int = Field(default=30, gt=0, le=3650)
    code_pattern: ShortText | None = None

    @model_validator(mode="after")
    def _one_of(self) -> "Discount":
        if (self.percent is None) == (self.amount is None):
            raise ValueError("a discount needs exactly one of 'percent' or 'amount'")
        return self


class FreeShipping(_ActionBase):
    """Free shipping on the replacement or the next order."""

    kind: Literal["free_shipping"]
    on: Literal["replacement", "next_order", "return"] = "next_order"


class Replacement(_ActionBase):
    """Send the item again."""

    kind: Literal["replacement"]
    express: bool = False


class PlanB(_ActionBase):
    """Alternatives prepared in advance; each option names a reply fragment."""

    kind: Literal["plan_b"]
    options: list[Identifier] = Field(min_length=1, max_length=10)


class Escalate(_ActionBase):
    """Hand over to a person or team, within a time."""

    kind: Literal["escalate"]
    to: ShortText
    within: Duration | None = None


class FollowUp(_ActionBase):
    """Come back to the customer later."""

    kind: Literal["follow_up"]
    after: Duration
    channel: Channel | None = None
    purpose: ShortText = "update"


class Callback(_ActionBase):
    """Call the customer back."""

    kind: Literal["callback"]
    within: Duration


class Inform(_ActionBase):
    """Tell the customer something proactively (status, delay, what happens next)."""

    kind: Literal["inform"]
    topic: Identifier


class Gesture(_ActionBase):
    """A small on-the-spot gesture: water, a seat, a coffee, a late breakfast."""

    kind: Literal["gesture"]
    item: Identifier
    amount: float | None = Field(default=None, gt=0)


class MovePrivate(_ActionBase):
    """Take a public conversation to a private channel."""

    kind: Literal["move_private"]
    to: Channel = "social_private"


class Survey(_ActionBase):
    """Measure afterwards: CSAT, NPS or CES."""

    kind: Literal["survey"]
    survey: Literal["csat", "nps", "ces"] = "csat"
    after: Duration = timedelta(days=3)
    channel: Channel | None = None


Action = Annotated[
    Apology
    | Refund
    | Discount
    | FreeShipping
    | Replacement
    | PlanB
    | Escalate
    | FollowUp
    | Callback
    | Inform
    | Gesture
    | MovePrivate
    | Survey,
    Field(discriminator="kind"),
]

#: Every action kind, in the order of the union.
ACTION_KINDS = tuple(
    typing.get_args(m.model_fields["kind"].annotation)[0]
    for m in typing.get_args(typing.get_args(Action)[0])
)

#: Action kinds that give the customer something of monetary value.
COMPENSATION_KINDS = frozenset({"refund", "discount", "free_shipping", "replacement", "gesture"})


def is_compensation(action: object) -> bool:
    """Whether an action gives money's worth: a gesture only when it has an amount.

    Water and a seat in the shade are care, not compensation: they never count against
    "one compensation per incident" nor need a repeat claimant's approval.
    """
    kind = getattr(action, "kind", None)
    if kind == "gesture":
        return getattr(action, "amount", None) is not None
    return kind in COMPENSATION_KINDS


def recovery_step(action: object) -> str:
    """The part of the recovery a reply says ``action`` in: its ``step``, else by kind."""
    step = getattr(action, "step", None)
    if step is not None:
        return str(step)
    kind = getattr(action, "kind", None)
    if kind == "gesture":
        return "money" if getattr(action, "amount", None) is not None else "care"
    if kind in ("refund", "discount", "free_shipping"):
        return "money"
    if kind == "survey":
        return "paperwork"
    return "fix"


# --------------------------------------------------------------------------- playbooks


FactType = Literal["string", "number", "integer", "boolean", "list"]


class FactSpec(_Strict):
    """A fact a playbook reads from ``incident.facts``: its type and when it is required."""

    type: FactType
    required_for: list[Identifier] = Field(
        default_factory=list, description="Incident types that must carry this fact."
    )
    description: Text | None = None
    difference: tuple[Identifier, Identifier] | None = Field(
        default=None,
        description="A derived number: the first named fact minus the second, filled in when "
        "both are given and this fact is not (conditions cannot compare two facts).",
    )
    min: float | None = Field(
        default=None,
        description="The smallest value a number fact may take (0 for a duration or a count).",
    )
    max: float | None = Field(default=None, description="The largest value a number fact may take.")

    @model_validator(mode="after")
    def _bounds_fit(self) -> "FactSpec":
        if (self.min is not None or self.max is not None) and self.type not in (
            "number",
            "integer",
        ):
            raise ValueError(f"min and max bound number facts; this one is a {self.type}")
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(f"min ({self.min:g}) is greater than max ({self.max:g})")
        return self


class FactLabel(_Strict):
    """What an agent reads for a fact instead of its name: a title, its unit, a short help."""

    title: ShortText
    unit: ShortText | None = Field(default=None, description="e.g. 'business days', 'minutes'.")
    help: ShortText | None = Field(default=None, description="One sentence shown by the field.")


class Labels(_Strict):
    """Titles in one language for the ids a playbook uses (the ``[labels.<lang>]`` table).

    The console, ``cxplay suggest``'s text, ``explain``, the report and the backtest page
    show these instead of ids; ids stay in JSON. The labels of a set are merged, so channel
    and action-kind titles need to be declared in one playbook only.
    """

    types: dict[Identifier, ShortText] = Field(
        default_factory=dict, description="Incident type -> title ('Damaged parcel')."
    )
    facts: dict[FactName, FactLabel] = Field(default_factory=dict)
    channels: dict[Channel, ShortText] = Field(default_factory=dict)
    actions: dict[Identifier, ShortText] = Field(
        default_factory=dict, description="Action kind -> title ('Refund')."
    )
    values: dict[Identifier, ShortText] = Field(
        default_factory=dict,
        description="What an action names, in words: escalate's `to`, inform's `topic`, "
        "gesture's `item`, plan_b's `options` (shift_manager -> 'the shift manager').",
    )
    reasons: dict[Identifier, Text] = Field(
        default_factory=dict,
        description="Rule or [[correlate]] id -> its `reason` in this language (the "
        "`reason` itself is written in the playbook's default_language).",
    )
    disruptions: dict[Identifier, ShortText] = Field(
        default_factory=dict,
        description="[[correlate]] id -> its `title` in this language (what the console "
        "shows for a disruption).",
    )

    @model_validator(mode="after")
    def _known_kinds(self) -> "Labels":
        for kind in self.actions:
            if kind not in ACTION_KINDS:
                hint = did_you_mean(kind, ACTION_KINDS)
                raise ValueError(f"actions: unknown action kind {echo(kind)}{hint}")
        return self


class PlaybookMeta(_Strict):
    """The ``[playbook]`` table."""

    id: Identifier
    version: Annotated[str, StringConstraints(pattern=r"^\d+(\.\d+){0,2}([-+.][0-9A-Za-z.]+)?$")]
    title: Text | None = None
    description: Text | None = None
    languages: list[Language] = Field(default_factory=lambda: list[Language](["en"]), min_length=1)
    default_language: Literal["en", "pl", "uk"] = "en"
    tone: Literal["formal", "warm"] = "formal"

    @model_validator(mode="after")
    def _default_is_listed(self) -> "PlaybookMeta":
        if self.default_language not in self.languages:
            raise ValueError(
                f"default_language {echo(self.default_language)} is not in languages "
                f"{self.languages}"
            )
        return self


class Policy(_Strict):
    """Compensation guardrails of a playbook (the ``[policy]`` table), applied to its rules."""

    currency: CurrencyCode | None = Field(
        default=None,
        description="Currency of the policy's amounts and of fixed action amounts; a cost in "
        "another currency always needs approval.",
    )

    approval_above: float | None = Field(
        default=None, ge=0, description="A compensation costing more needs a supervisor."
    )
    caps: dict[ShortText, float] = Field(
        default_factory=dict,
        description="Most one compensation may cost, by customer tier; key 'default' for others.",
    )
    repeat_claimant_after: int | None = Field(
        default=None,
        ge=0,
        description="With more compensations in 90 days than this, none is automatic.",
    )
    single_compensation: bool = Field(
        default=True, description="Keep only the highest-priority compensation per incident."
    )
    rates: dict[CurrencyCode, Annotated[float, Field(gt=0)]] = Field(
        default_factory=dict,
        description="A static conversion table, not live rates: how much one unit of each "
        "currency is worth in the policy currency (EUR = 4.30 for PLN). Conditions compare "
        "order.policy_value, and caps and approval limits apply to costs in these currencies; "
        "a cost in a currency missing here always needs a person.",
    )
    rates_as_of: date | None = Field(
        default=None,
        description="The date the rates table was set; required with rates, shown to agents.",
    )

    @model_validator(mode="after")
    def _dated_rates(self) -> "Policy":
        if self.rates and (self.currency is None or self.rates_as_of is None):
            raise ValueError(
                "rates need the policy currency and the date they were set (rates_as_of)"
            )
        if self.currency is not None and self.currency in self.rates:
            raise ValueError(f"rates: {self.currency} is the policy currency itself")
        return self

    def convert(self, amount: float, currency: str | None) -> float | None:
        """``amount`` in the policy currency, or None when the table has no rate for it."""
        if currency is None or self.currency is None or currency == self.currency:
            return amount
        rate = self.rates.get(currency)
        return None if rate is None else amount * rate


def _hours(value: str | list[str]) -> str | list[str]:
    parse_hours(value)
    return value


#: Opening hours of one day: ``"08:00-18:00"``, ``["08:00-12:00", "13:00-17:00"]``, ``"closed"``.
Hours = Annotated[
    Union[Annotated[str, StringConstraints(max_length=32)], list[ShortText]],
    AfterValidator(_hours),
]
Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]


def _country(code: str) -> str:
    if code not in holiday_countries():
        hint = did_you_mean(code.upper(), holiday_countries())
        raise ValueError(
            f"no public holidays known for {echo(code)} (an ISO 3166 country code "
            f"such as PL or UA){hint}"
        )
    return code


class Calendar(_Strict):
    """When the team works (the ``[calendar]`` table): SLAs in business time count only this."""

    timezone: TimeZoneName = Field(description="The team's IANA time zone, e.g. Europe/Warsaw.")
    hours: dict[Weekday, Hours] = Field(
        description="Opening hours per weekday (mon ... sun), local time; a day not listed "
        "is closed. '08:00-18:00', a list of ranges, or 'closed'.",
    )
    holidays: list[Annotated[str, AfterValidator(_country)]] = Field(
        default_factory=list,
        description="Closed on the public holidays of these countries (ISO 3166 codes, from "
        "the holidays library), e.g. ['PL'].",
    )
    exceptions: dict[date, Hours] = Field(
        default_factory=dict,
        description="Dated exceptions, winning over the weekday and holidays: "
        "{ 2026-12-24 = '08:00-13:00', 2026-12-31 = 'closed' }.",
    )

    @model_validator(mode="after")
    def _ever_open(self) -> "Calendar":
        if not any(parse_hours(h) for h in self.hours.values()):
            raise ValueError("hours: the calendar is never open (no weekday has hours)")
        return self

    def business(self) -> BusinessCalendar:
        """The calendar the engine computes deadlines with."""
        hours: dict[str, str | list[str]] = {str(day): h for day, h in self.hours.items()}
        return BusinessCalendar(
            zone=self.timezone,
            week=tuple(parse_hours(hours.get(day, "closed")) for day in WEEKDAYS),
            countries=tuple(self.holidays),
            exceptions={day: parse_hours(h) for day, h in self.exceptions.items()},
        )


class Sla(_Strict):
    """One channel's promise: how soon, and whether it counts business or calendar time."""

    within: Duration
    time: Literal["business", "calendar"] = Field(
        default="calendar",
        description="'business' counts only the [calendar]'s opening hours.",
    )


def _sla_shorthand(value: object) -> object:
    """``"PT2H"`` is ``{ within = "PT2H" }``: calendar time."""
    return {"within": value} if isinstance(value, str) else value


_SLA_SCHEMA: dict[str, Any] = {
    "anyOf": [
        {"type": "string", "format": "duration", "description": "calendar time"},
        {
            "type": "object",
            "properties": {
                "within": {"type": "string", "format": "duration"},
                "time": {"enum": ["business", "calendar"], "default": "calendar"},
            },
            "required": ["within"],
            "additionalProperties": False,
        },
    ]
}
#: An SLA as written: a duration (calendar time) or ``{ within = ..., time = ... }``.
SlaSpec = Annotated[Sla, BeforeValidator(_sla_shorthand), WithJsonSchema(_SLA_SCHEMA)]


class Rule(_Strict):
    """When ``when`` holds for an incident, recommend ``actions``."""

    id: Identifier
    when: Annotated[str, StringConstraints(min_length=1, max_length=4000)]
    actions: list[Action] = Field(min_length=1)
    priority: int = Field(default=50, ge=-1000, le=1000)
    group: Identifier | None = Field(
        default=None, description="Exclusive group: only the highest-priority match wins."
    )
    severity: Severity | None = Field(
        default=None, description="Raise the incident's severity to at least this."
    )
    reason: Text | None = None
    stop: bool = Field(default=False, description="Drop lower-priority matches when this matches.")


class Scenario(_Strict):
    """A ``[[test]]``: an incident and the action kinds it must produce."""

    name: ShortText | None = None
    incident: dict[str, Any]
    expect: list[str] = Field(default_factory=list)
    expect_rules: list[Identifier] = Field(default_factory=list)
    expect_severity: Severity | None = None
    reply_contains: dict[Literal["en", "pl", "uk"], list[str]] = Field(default_factory=dict)


#: A correlation key: a dotted field of the incident (``order.carrier``, ``facts.route``).
KeyField = Annotated[str, StringConstraints(pattern=r"^[a-z_]+(\.[A-Za-z0-9_]+)?$", max_length=80)]


class Correlate(_Strict):
    """A ``[[correlate]]`` block: many incidents with one key are one disruption.

    Incidents for which ``when`` holds are grouped by ``key``; when a key has ``threshold``
    incidents within ``within`` of event time (``occurred_at``), a disruption opens: its own
    ``actions`` run once, every affected customer gets the ``notice``, and incidents of the
    key within ``hold`` of its latest one attach to it. ``resolution`` goes to every member
    when the disruption is resolved.
    """

    id: Identifier
    when: Annotated[str, StringConstraints(min_length=1, max_length=4000)]
    key: Annotated[list[KeyField], Field(min_length=1, max_length=4)]
    threshold: int = Field(ge=2, le=1_000_000, description="Incidents that make a disruption.")
    within: Annotated[timedelta, AfterValidator(_duration)] = Field(
        description="The window of event time the threshold counts in (ISO 8601, PT1H)."
    )
    hold: Annotated[timedelta, AfterValidator(_duration)] = Field(
        description="Incidents within this of the latest one attach to the open disruption."
    )
    severity: Severity = "high"
    title: Text | None = None
    reason: Text | None = None
    actions: list[Action] = Field(
        default_factory=list, description="The disruption's own actions (escalate, inform)."
    )
    notice: list[Action] = Field(
        min_length=1, description="What every affected customer is told (reply fragments)."
    )
    resolution: list[Action] = Field(
        min_length=1, description="What every member is told when the disruption is resolved."
    )

    @field_validator("key", mode="before")
    @classmethod
    def _one_or_many(cls, value: Any) -> Any:
        return [value] if isinstance(value, str) else value

    @model_validator(mode="after")
    def _window(self) -> "Correlate":
        if self.within <= timedelta(0):
            raise ValueError("within must be longer than zero")
        if len(set(self.key)) != len(self.key):
            raise ValueError("key names a field twice")
        for part, actions in (("notice", self.notice), ("resolution", self.resolution)):
            money = [a.kind for a in actions if a.kind in COMPENSATION_KINDS or a.kind == "plan_b"]
            if money:
                # everyone gets the same notice; what each customer is owed stays with the
                # ordinary rules, judged per incident under the policy's caps and approvals
                raise ValueError(
                    f"a {part} tells every affected customer the same thing, so it cannot "
                    f"offer {money[0]}: leave compensation to the incident's own rules"
                )
        return self


class PlaybookFile(_Strict):
    """The whole TOML document of one playbook."""

    playbook: PlaybookMeta
    facts: dict[FactName, FactType | FactSpec] = Field(default_factory=dict)
    policy: Policy = Field(default_factory=Policy)
    calendar: Calendar | None = None
    sla: dict[Channel, SlaSpec] = Field(
        default_factory=dict,
        description="How soon each channel is answered: 'PT2H' (calendar time) or "
        "{ within = 'PT2H', time = 'business' } (needs [calendar]).",
    )
    rule: list[Rule] = Field(default_factory=list)
    test: list[Scenario] = Field(default_factory=list)
    labels: dict[Language, Labels] = Field(
        default_factory=dict, description="Titles for agents, per language (`[labels.pl]`)."
    )
    correlate: list[Correlate] = Field(default_factory=list)


class Playbook(_Strict):
    """A loaded, validated playbook, with where it came from."""

    meta: PlaybookMeta
    facts: dict[str, FactSpec]
    policy: Policy
    sla: dict[str, timedelta]
    business: frozenset[str] = frozenset()  # channels whose SLA counts business time
    hours: BusinessCalendar | None = None  # the [calendar], ready for deadlines
    rules: tuple[Rule, ...]
    tests: tuple[Scenario, ...]
    source: str
    rule_lines: tuple[int | None, ...]
    labels: dict[str, Labels] = Field(default_factory=dict)
    correlations: tuple[Correlate, ...] = ()

    @property
    def ref(self) -> str:
        """``id@version``, as actions cite it."""
        return f"{self.meta.id}@{self.meta.version}"
