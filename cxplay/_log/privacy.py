"""What the log never stores, and what ``forget`` erases.

**Masks** are glob patterns over an incident's dotted paths (``facts.*email*``). A masked
value is stored as ``"[masked]"``, so an analyst sees that something was there. E-mail
addresses and phone numbers written into free text (the description, text facts, an
agent's note) are replaced by ``[email]`` and ``[phone]`` whatever the masks say.

**Forgetting** a customer erases whatever names or describes a person -- the customer's
id, name, salutation, gender and time zone, the description, the order id, the speaker,
text facts and agents' notes -- and keeps the anonymous rest (type, channel, tier, values,
actions, outcomes, amounts, survey scores), so the counts of the report do not change.
"""

from __future__ import annotations

import fnmatch
import functools
import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any

__all__ = [
    "DEFAULT_MASK",
    "MASKED",
    "forget_incident",
    "mask_incident",
    "path_matcher",
    "redact_text",
    "redacts",
]

#: Contact details: never stored unless a caller passes a mask list without them.
DEFAULT_MASK: tuple[str, ...] = (
    "customer.email",
    "customer.phone",
    "customer.address",
    "facts.*email*",
    "facts.*phone*",
    "facts.*mobile*",
    "facts.*address*",
    "facts.contact*",
)
MASKED = "[masked]"

# Both patterns start a match only where a run of their characters starts (the
# look-behind), so each run is scanned once: without it a long run with no "@" (or no end
# a phone may have) was rescanned from every one of its characters -- quadratic, 40 s for
# 1 MB of free text. The matches are the same: the leftmost match starts where its run does.
_EMAIL = re.compile(r"(?<![\w.+-])[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
# a run of digits with the usual separators, 9 digits or more (a date has 8)
_PHONE = re.compile(r"(?<![\w+])\+?\d[\d ().-]{7,}\d(?!\w)")

_FORGET_CUSTOMER = ("id", "name", "salutation", "gender", "timezone")


def redact_text(text: str) -> str:
    """Free text with e-mail addresses and phone numbers replaced by placeholders."""
    if "@" in text:  # an address has one; without, the scan finds nothing (~1.4 µs saved)
        text = _EMAIL.sub("[email]", text)
    return _PHONE.sub(_phone, text)


# what every phone match holds (the look-arounds and the "+" aside): a text without it has
# no phone. Starting with a character class, a search for it skips ahead by that class
# instead of trying the whole pattern at each character (a tenth of the work on a text
# without digits, on Polish and Ukrainian text too)
_PHONE_CORE = re.compile(r"\d[\d ().-]{7,}\d")


def redacts(text: str) -> bool:
    """Whether :func:`redact_text` changes ``text`` (without making the redacted copy)."""
    if "@" in text and _EMAIL.search(text) is not None:
        return True  # (an address is replaced by "[email]": always a change)
    if _PHONE_CORE.search(text) is None:
        return False
    return redact_text(text) != text  # (a run of fewer than 9 digits is kept)


def _phone(match: re.Match[str]) -> str:
    found = match.group(0)
    return "[phone]" if sum(c.isdigit() for c in found) >= 9 else found


@functools.lru_cache(maxsize=64)
def path_matcher(patterns: tuple[str, ...]) -> Callable[[str], bool]:
    """One compiled test for a mask list (a dotted path: masked?), remembering each answer."""
    if not patterns:
        return lambda path: False
    regex = re.compile("|".join(f"(?:{fnmatch.translate(p)})" for p in patterns))
    return functools.lru_cache(maxsize=4096)(lambda path: regex.match(path) is not None)


def mask_incident(incident: Mapping[str, Any], patterns: Iterable[str]) -> dict[str, Any]:
    """A copy of an incident (JSON-like) with masked paths and contacts in free text hidden."""
    masked = path_matcher(tuple(patterns))

    def walk(value: Any, path: str, free: bool) -> Any:
        if path and masked(path):
            return MASKED
        kind = type(value)  # JSON-like data: exact types, no ABC checks (this runs per value)
        if kind is dict or (kind is not str and isinstance(value, Mapping)):
            return {k: walk(v, f"{path}.{k}" if path else str(k), free) for k, v in value.items()}
        if kind is list:
            return [walk(v, path, free) for v in value]
        if free and kind is str:
            return redact_text(value)
        return value

    out: dict[str, Any] = {}
    for key, value in incident.items():
        # ids, names and codes are kept as written; only free text is redacted
        out[key] = walk(value, key, key in ("description", "facts"))
    return out


def forget_incident(incident: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of a stored incident without anything that names or describes the customer."""
    out = {k: v for k, v in incident.items() if k != "description"}
    customer = out.get("customer")
    if isinstance(customer, Mapping):
        out["customer"] = {k: v for k, v in customer.items() if k not in _FORGET_CUSTOMER}
    order = out.get("order")
    if isinstance(order, Mapping):
        out["order"] = {k: v for k, v in order.items() if k != "id"}
    event = out.get("event")
    if isinstance(event, Mapping):
        out["event"] = {k: v for k, v in event.items() if k != "speaker"}
    facts = out.get("facts")
    if isinstance(facts, Mapping):
        out["facts"] = {
            k: v
            for k, v in facts.items()
            if not isinstance(v, str)
            and not (isinstance(v, list) and any(isinstance(i, str) for i in v))
        }
    return out
