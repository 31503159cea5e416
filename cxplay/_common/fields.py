"""The fields incidents and playbooks are made of: channels, limits, checked types.

Constants (channels, severities, stages, dimensions), the limits that keep one incident
from exhausting memory, and the constrained types (text, numbers, currencies, time zones,
moments, durations, fact names) with their validators, shared by :mod:`cxplay.models`
(which re-exports the public ones) and the modules that check incidents and playbooks.
"""

from __future__ import annotations

import functools
import math
import zoneinfo
from datetime import datetime, timedelta, timezone
from typing import Annotated, Literal, Union

from babel.numbers import list_currencies
from pydantic import AfterValidator, ConfigDict, Field, StringConstraints

from cxplay._common.models import Frozen
from cxplay._common.text import NO_CONTROL, NO_CONTROL_LINE, did_you_mean, echo

#: The channel of the reply, and of its ``respond_by``, when an incident names none.
DEFAULT_CHANNEL = "email"
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


def _finite(value: float) -> float:
    if not math.isfinite(value) or abs(value) > MAX_NUMBER:
        raise ValueError(f"number must be finite and within ±{MAX_NUMBER:.0f}")
    return value


# The control-character check runs as a pattern inside pydantic-core (a Python validator
# per string field cost more than the rest of an incident's validation); pydantic-core
# itself refuses a lone surrogate in a ``str`` field (``string_unicode``).
# cxplay._common.problems turns both errors into text_problem()'s message.
Text = Annotated[str, StringConstraints(max_length=MAX_TEXT, pattern=NO_CONTROL)]
ShortText = Annotated[str, StringConstraints(max_length=200, pattern=NO_CONTROL_LINE)]


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
    offset = moment.utcoffset()
    if offset is None:
        # a naive time would give a naive respond_by, which breaks the caller's comparisons
        raise ValueError(
            "needs a UTC offset, as in 2026-11-20T09:15:00+01:00 (Z for UTC): "
            "a time without one is ambiguous"
        )
    zone = moment.tzinfo
    if not offset and zone is not timezone.utc and not isinstance(zone, zoneinfo.ZoneInfo):
        # "Z" from JSON is pydantic's TzInfo(0): UTC is the standard library's (a named
        # zone such as Europe/London keeps its name, and with it its DST rules)
        moment = moment.replace(tzinfo=timezone.utc)
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
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False, defer_build=True)
