"""Input models: the incident (what happened) and the playbook (how we recover).

Every model forbids unknown keys: a typo in a playbook or an incident is an error, never a
silently ignored value. The incident shape is a public contract (see DESIGN.md).
"""

from __future__ import annotations

import functools
import math
import re
import typing
import zoneinfo
from datetime import date, datetime, timedelta
from typing import Annotated, Any, Literal, Union

from babel.numbers import list_currencies
from pydantic import (
    AfterValidator,
    ConfigDict,
    Field,
    StringConstraints,
    field_validator,
    model_validator,
)

from cxplay._common.models import Frozen
from cxplay._common.text import did_you_mean, echo

__all__ = [
    "CHANNELS",
    "COMPENSATION_KINDS",
    "DIMENSIONS",
    "SEVERITIES",
    "STAGES",
    "Action",
    "Apology",
    "Callback",
    "Channel",
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
    "Stage",
    "Survey",
]

CHANNELS = (
    "email",
    "phone",
    "chat",
    "sms",
    "social_public",
    "social_private",
    "in_person",
    "web_form",
)
SEVERITIES = ("low", "medium", "high", "critical")
STAGES = ("pre_purchase", "purchase", "delivery", "usage", "after_sales", "event")
DIMENSIONS = ("sensory", "relational", "cognitive", "behavioural", "functional")

Channel = Literal[
    "email", "phone", "chat", "sms", "social_public", "social_private", "in_person", "web_form"
]
Severity = Literal["low", "medium", "high", "critical"]
Stage = Literal["pre_purchase", "purchase", "delivery", "usage", "after_sales", "event"]
Language = Literal["en", "pl", "uk"]
Dimension = Literal["sensory", "relational", "cognitive", "behavioural", "functional"]

#: Limits that keep one incident from exhausting memory or the rule engine.
MAX_TEXT = 10_000
MAX_DESCRIPTION = 20_000
MAX_FACTS = 200
MAX_LIST = 100
#: Numbers beyond this lose integer precision in the rule engine's float comparisons.
MAX_NUMBER = 2.0**53

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def _finite(value: float) -> float:
    if not math.isfinite(value) or abs(value) > MAX_NUMBER:
        raise ValueError(f"number must be finite and within ±{MAX_NUMBER:.0f}")
    return value


def _no_control(value: str) -> str:
    if _CONTROL.search(value):
        raise ValueError("control characters are not allowed")
    return value


# The control-character check runs as a pattern inside pydantic-core (a Python validator
# per string field cost more than the rest of an incident's validation).
NO_CONTROL = r"^[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f]*$"
Text = Annotated[str, StringConstraints(max_length=MAX_TEXT, pattern=NO_CONTROL)]
ShortText = Annotated[str, StringConstraints(max_length=200, pattern=NO_CONTROL)]


# strict: a boolean is not a number (ints are still accepted); bounded, so integer values
# stay exact in the rule engine's float comparisons. inf/nan are refused by the model config.
Number = Annotated[float, Field(strict=True, ge=-MAX_NUMBER, le=MAX_NUMBER)]
Identifier = Annotated[
    str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:@/-]*$", max_length=120)
]
LanguageTag = Annotated[
    str, StringConstraints(pattern=r"^[A-Za-z]{2,3}([-_][A-Za-z0-9]{1,8})*$", max_length=35)
]

# ISO 4217 codes that are not money one can refund: "no currency" (XXX), the testing code,
# precious metals, bond-market and accounting units, and withdrawn X-codes.
_NOT_MONEY = frozenset(
    [
        "XXX",
        "XTS",
        "XAU",
        "XAG",
        "XPD",
        "XPT",
        "XBA",
        "XBB",
        "XBC",
        "XBD",
        "XDR",
        "XSU",
        "XUA",
        "XFO",
        "XFU",
        "XRE",
    ]
)


@functools.cache
def _currencies() -> frozenset[str]:
    return frozenset(list_currencies()) - _NOT_MONEY


def _currency(code: str) -> str:
    if code in _NOT_MONEY:
        raise ValueError(f"{code} is an ISO 4217 code but not a currency one pays in")
    if code not in _currencies():
        # no did-you-mean: one letter away from a three-letter code is another country
        raise ValueError(f"unknown currency {echo(code)} (an ISO 4217 code, e.g. PLN, EUR)")
    return code


CurrencyCode = Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$"), AfterValidator(_currency)]


def _timezone(name: str) -> str:
    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):
        hint = did_you_mean(name, zoneinfo.available_timezones(), casefold=True)
        raise ValueError(
            f"unknown time zone {echo(name)} (an IANA name such as Europe/Warsaw){hint}"
        ) from None
    return name


#: An IANA time zone name ("Europe/Warsaw"); an unknown one is an error, never silently UTC.
TimeZoneName = Annotated[str, StringConstraints(max_length=64), AfterValidator(_timezone)]

#: Incidents happen between these years: dates near year 9999 would overflow when a
#: deadline or a follow-up is added to them.
MIN_YEAR, MAX_YEAR = 1970, 2999


def _plausible(moment: datetime) -> datetime:
    if not MIN_YEAR <= moment.year <= MAX_YEAR:
        raise ValueError(f"must be between the years {MIN_YEAR} and {MAX_YEAR}")
    return moment


Moment = Annotated[datetime, AfterValidator(_plausible)]

#: The longest delay a playbook may write (ten years): longer ones overflow dates.
MAX_DURATION = timedelta(days=3650)


def _duration(value: timedelta) -> timedelta:
    if value < timedelta(0):
        raise ValueError("a duration cannot be negative")
    if value > MAX_DURATION:
        raise ValueError("a duration must be at most 10 years (P3650D)")
    return value


Duration = Annotated[timedelta, AfterValidator(_duration)]
#: A fact's name: ASCII letters, digits and "_" (it is a field of conditions and a flag's key).
FactName = Annotated[str, StringConstraints(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$", max_length=64)]
FactValue = Union[bool, int, float, str, list[bool | int | float | str]]


class _Strict(Frozen):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


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
    """Something that went wrong for a customer. Only ``type`` is required."""

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
    facts: dict[FactName, FactValue] = Field(default_factory=dict)

    @field_validator("facts")
    @classmethod
    def _check_facts(cls, facts: dict[str, Any]) -> dict[str, Any]:
        if len(facts) > MAX_FACTS:
            raise ValueError(f"an incident may carry at most {MAX_FACTS} facts, not {len(facts)}")
        for name, value in facts.items():
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
                    _no_control(item)
        return facts


# --------------------------------------------------------------------------- actions


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
    def _one_of(self) -> Refund:
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
    def _one_of(self) -> Discount:
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
    def _bounds_fit(self) -> FactSpec:
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

    @model_validator(mode="after")
    def _known_kinds(self) -> Labels:
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
    def _default_is_listed(self) -> PlaybookMeta:
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
    def _dated_rates(self) -> Policy:
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


class PlaybookFile(_Strict):
    """The whole TOML document of one playbook."""

    playbook: PlaybookMeta
    facts: dict[FactName, FactType | FactSpec] = Field(default_factory=dict)
    policy: Policy = Field(default_factory=Policy)
    sla: dict[Channel, Duration] = Field(default_factory=dict)
    rule: list[Rule] = Field(default_factory=list)
    test: list[Scenario] = Field(default_factory=list)
    labels: dict[Language, Labels] = Field(
        default_factory=dict, description="Titles for agents, per language (`[labels.pl]`)."
    )


class Playbook(_Strict):
    """A loaded, validated playbook, with where it came from."""

    meta: PlaybookMeta
    facts: dict[str, FactSpec]
    policy: Policy
    sla: dict[str, timedelta]
    rules: tuple[Rule, ...]
    tests: tuple[Scenario, ...]
    source: str
    rule_lines: tuple[int | None, ...]
    labels: dict[str, Labels] = Field(default_factory=dict)

    @property
    def ref(self) -> str:
        """``id@version``, as actions cite it."""
        return f"{self.meta.id}@{self.meta.version}"
