"""Text shared by every error message: did-you-mean suggestions and truncated echoes."""

from __future__ import annotations

from collections.abc import Iterable

from cxplay._common.lazy import lazy_pattern

__all__ = [
    "ECHO_LIMIT",
    "NO_CONTROL",
    "NO_CONTROL_LINE",
    "closest",
    "did_you_mean",
    "echo",
    "text_problem",
]

#: The most characters of a user's value an error message repeats.
ECHO_LIMIT = 60


def closest(
    word: str, choices: Iterable[str], *, cutoff: float = 0.6, casefold: bool = False
) -> str | None:
    """The choice nearest to ``word`` (difflib's ratio at least ``cutoff``), or None.

    With ``casefold`` the comparison ignores case and the choice is returned as written.
    """
    import difflib  # only when something is misspelt: not at every start

    if casefold:
        folded = {choice.casefold(): choice for choice in choices}
        match = difflib.get_close_matches(word.casefold(), list(folded), n=1, cutoff=cutoff)
        return folded[match[0]] if match else None
    match = difflib.get_close_matches(word, list(choices), n=1, cutoff=cutoff)
    return match[0] if match else None


def did_you_mean(
    word: str,
    choices: Iterable[str],
    *,
    cutoff: float = 0.6,
    casefold: bool = False,
    otherwise: str = "",
) -> str:
    """``"; did you mean 'x'?"`` for the nearest choice, else ``otherwise`` (default empty).

    The suffix is written to follow a message: ``f"unknown key {k!r}{did_you_mean(k, keys)}"``.
    """
    found = closest(word, choices, cutoff=cutoff, casefold=casefold)
    return f"; did you mean {echo(found)}?" if found is not None else otherwise


def echo(value: object, limit: int = ECHO_LIMIT) -> str:
    """A user's value as an error message repeats it: ``repr`` of at most ``limit`` characters.

    A 10 MB ``reason`` must not come back as a 10 MB error line, so longer values are cut
    in the middle of the text and marked: ``'aaaa…' (10000000 characters)``. Control
    characters and newlines are escaped by ``repr``, so the echo stays on one line.
    """
    if isinstance(value, str) and len(value) > limit:
        return f"{value[:limit]!r}… ({len(value)} characters)"
    text = repr(value)
    if len(text) > limit + 2:
        return f"{text[:limit]}… ({len(text)} characters)"
    return text


# Text is valid Unicode text: no lone surrogate (it cannot be encoded, so it would poison
# every JSON document and database row it reaches) and no C0 or C1 control character (an
# escape sequence rewrites an agent's terminal; U+009B is a one-character CSI). Multi-line
# texts (descriptions, notes, text facts) may hold tab, newline and carriage return;
# one-line texts (names, ids) may not.
_NOT_TEXT = lazy_pattern(
    globals(), "_NOT_TEXT", r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]"
)
_NOT_LINE = lazy_pattern(globals(), "_NOT_LINE", r"[\x00-\x1f\x7f-\x9f\ud800-\udfff]")


def text_problem(value: str, *, lines: bool = True) -> str | None:
    """Why ``value`` is not valid text (None: it is), naming the first bad character.

    ``lines``: tab, newline and carriage return are allowed (a multi-line text).
    """
    found = (_NOT_TEXT if lines else _NOT_LINE).search(value)
    if found is None:
        return None
    char = found.group()
    where = f"U+{ord(char):04X} at character {found.start() + 1}"
    if "\ud800" <= char <= "\udfff":
        return f"a lone surrogate ({where}) is not valid Unicode text"
    return f"control character {where} is not allowed"


#: The same rules as patterns for pydantic-core (which refuses lone surrogates itself).
NO_CONTROL = r"^[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]*$"
NO_CONTROL_LINE = r"^[^\x00-\x1f\x7f-\x9f]*$"
