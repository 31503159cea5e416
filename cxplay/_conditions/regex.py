r"""The regular expressions of ``matches()``: RE2, a linear-time engine.

Customer text is untrusted, and Python's backtracking :mod:`re` can take exponential time:
``(a+)+$`` against ``'a' * 28 + '!'`` takes about 19 seconds. RE2 (google-re2) runs in time
linear in the text, whatever the pattern. The price is a smaller syntax: no backreferences
(``\1``), lookaround (``(?=``, ``(?<=``), possessive quantifiers or ``\Z``; repetition counts
up to 1,000. A pattern RE2 refuses is refused when the playbook loads, with RE2's reason.
"""

from __future__ import annotations

import functools
from typing import Protocol

import re2

__all__ = ["Regex", "compile_regex"]


class Regex(Protocol):
    """A compiled pattern: only ``search`` is used."""

    def search(self, text: str) -> object | None:
        """A match object when the pattern occurs in ``text``, else ``None``."""


_OPTIONS = re2.Options()
_OPTIONS.log_errors = False  # RE2 would print each refused pattern to stderr


@functools.lru_cache(maxsize=1024)  # rule sets repeat patterns; compiling is the costly part
def compile_regex(pattern: str) -> Regex:
    """Compile a ``matches()`` pattern with RE2 (``search`` semantics, as with :mod:`re`).

    Raises:
        ValueError: RE2 refuses the pattern; the message is RE2's reason in words
            ("invalid perl operator: (?=").
    """
    try:
        compiled: Regex = re2.compile(pattern, _OPTIONS)
    except re2.error as exc:
        reason = exc.args[0] if exc.args else "refused"
        if isinstance(reason, bytes):
            reason = reason.decode("utf-8", "replace")
        raise ValueError(str(reason)) from None
    return compiled
