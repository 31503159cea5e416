"""SMS segments: how many parts a text takes in GSM 03.38 or UCS-2."""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping, Sequence
from types import MappingProxyType
from typing import Final

__all__ = [
    "sms_segments",
]

# --------------------------------------------------------------------------------------
# SMS
# --------------------------------------------------------------------------------------

# 3GPP TS 23.038 default alphabet, and its extension table (ESC + char: 2 septets).
# ESC itself is left out: in text it is a control character, not a letter. There is no
# national shift table for Polish or Ukrainian, so their letters force UCS-2.
_GSM_BASIC: Final = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
_GSM_EXTENSION: Final = frozenset("\f^{}\\[~]|€")
_GSM_ALL: Final = _GSM_BASIC | _GSM_EXTENSION
# The same sets as patterns: a search scans the text in C, where iterating it in Python
# makes a string object per character (every non-Latin-1 one is a new object) -- a Polish
# or Ukrainian SMS is counted three or four times while it is composed.
_NOT_GSM: Final = re.compile("[^" + re.escape("".join(sorted(_GSM_ALL))) + "]")
_EXTENDED: Final = re.compile("[" + re.escape("".join(sorted(_GSM_EXTENSION))) + "]")
_ASTRAL: Final = re.compile("[\U00010000-\U0010ffff]")  # two UTF-16 code units
_SMS_LIMITS: Final[Mapping[str, tuple[int, int]]] = MappingProxyType(
    {"GSM-7": (160, 153), "UCS-2": (70, 67)}
)


def _pack(units: Sequence[int], single: int, per_part: int) -> int:
    """Count segments; a character's units are never split across two parts."""
    total = sum(units)
    if total == 0:
        return 0
    if total <= single:
        return 1
    parts, used = 1, 0
    for size in units:
        if used + size > per_part:
            parts, used = parts + 1, 0
        used += size
    return parts


#: The longest text whose count is remembered, and how many counts are remembered: an SMS
#: is a few hundred characters.
_MEMO_CHARS: Final = 2_000
_MEMO_SIZE: Final = 4_096


def sms_segments(text: str) -> tuple[int, str]:
    r"""Count the SMS segments a text needs and the encoding it forces.

    GSM-7 when every character is in the GSM 03.38 alphabet (extension characters
    such as ``€ [ ] { } ^ ~ \ |`` take two septets): 160 septets in one segment,
    153 per part of a multipart message. Otherwise UCS-2: 70 UTF-16 code units in
    one segment, 67 per part (an emoji outside the BMP takes two). A character is
    never split between parts, as phones and gateways do. Run :func:`plain_spaces`
    first: a no-break space alone forces UCS-2.

    The count of a text of up to :data:`_MEMO_CHARS` characters is remembered (a pure
    function of the text; :data:`_MEMO_SIZE` of them): a reply counts its text three or
    four times while it is composed, the last time the text it counted already, and a
    reply that names no one is the same text for every customer.

    Args:
        text: The message as it will be sent.

    Returns:
        ``(segments, encoding)`` with encoding ``"GSM-7"`` or ``"UCS-2"``; an empty
        text is ``(0, "GSM-7")``.
    """
    if len(text) <= _MEMO_CHARS:
        return _counted_memo(text)
    return _counted(text)


def _counted(text: str) -> tuple[int, str]:
    """:func:`sms_segments`, counted."""
    # patterns searched in C, not a Python step per character: every SMS reply is counted
    # three or four times while it is composed
    if _NOT_GSM.search(text) is None:
        encoding = "GSM-7"
        wide = frozenset(_EXTENDED.findall(text))
    else:
        encoding = "UCS-2"
        wide = frozenset(_ASTRAL.findall(text))
    single, per_part = _SMS_LIMITS[encoding]
    if not wide:  # one unit a character: the parts are simply full
        return -(-len(text) // per_part) if len(text) > single else min(len(text), 1), encoding
    return _pack([2 if ch in wide else 1 for ch in text], single, per_part), encoding


_counted_memo: Final = functools.lru_cache(maxsize=_MEMO_SIZE)(_counted)
