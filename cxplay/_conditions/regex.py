r"""The regular expressions of ``matches()``: RE2, a linear-time engine.

Customer text is untrusted, and Python's backtracking :mod:`re` can take exponential time:
``(a+)+$`` against ``'a' * 28 + '!'`` takes about 19 seconds. RE2 (google-re2) runs in time
linear in the text, whatever the pattern. The price is a smaller syntax: no backreferences
(``\1``), lookaround (``(?=``, ``(?<=``), possessive quantifiers or ``\Z``; repetition counts
up to 1,000. A pattern RE2 refuses is refused when the playbook loads, with RE2's reason.
"""

from __future__ import annotations

import functools
from typing import Any, Protocol

import re2

__all__ = ["Regex", "compile_regex"]


class Regex(Protocol):
    """A compiled pattern: only ``search`` is used."""

    def search(self, text: str) -> object | None:
        """A match object when the pattern occurs in ``text``, else ``None``."""


_OPTIONS = re2.Options()
_OPTIONS.log_errors = False  # RE2 would print each refused pattern to stderr


class _Found:
    """Whether a pattern occurs in a text, straight from RE2's C++ ``Match``.

    ``re2.compile(...).search`` builds a match object and maps byte offsets back to
    characters: 16 µs on a 226-character description, against 5 µs for this (and 4.6 µs
    for Python's ``re``); ``matches()`` only needs a yes or no.
    """

    __slots__ = ("_match",)

    def __init__(self, compiled: Any) -> None:
        self._match = compiled.Match

    def search(self, text: str) -> bool | None:
        """True when the pattern occurs in ``text``, else None (like ``search``)."""
        data = text.encode("utf-8", "surrogatepass")
        return True if self._match(_UNANCHORED, data, 0, len(data))[0] != _NO_SPAN else None


try:  # the extension behind google-re2's Python API; fall back to that API without it
    from re2 import _re2

    _UNANCHORED: Any = _re2.RE2.Anchor.UNANCHORED
    _NO_SPAN = (-1, -1)
except (ImportError, AttributeError):  # pragma: no cover - another google-re2 layout
    _re2 = None


@functools.lru_cache(maxsize=1024)  # rule sets repeat patterns; compiling is the costly part
def compile_regex(pattern: str) -> Regex:
    """Compile a ``matches()`` pattern with RE2 (``search`` semantics, as with :mod:`re`).

    Raises:
        ValueError: RE2 refuses the pattern; the message is RE2's reason in words
            ("invalid perl operator: (?=").
    """
    try:
        compiled = re2.compile(pattern, _OPTIONS)
    except re2.error as exc:
        reason = exc.args[0] if exc.args else "refused"
        if isinstance(reason, bytes):
            reason = reason.decode("utf-8", "replace")
        raise ValueError(str(reason)) from None
    low_level = getattr(compiled, "_regexp", None)
    if _re2 is not None and low_level is not None and hasattr(low_level, "Match"):
        return _Found(low_level)
    public: Regex = compiled
    return public
