"""Reading a user's file: bytes with a size limit, and one-line reasons when it fails."""

from __future__ import annotations

from collections.abc import Callable
from os import PathLike
from pathlib import Path

__all__ = ["read_bytes"]


def read_bytes(
    path: str | PathLike[str],
    *,
    what: str,
    fail: Callable[[str], Exception],
    limit: int | None = None,
) -> bytes:
    """The bytes of ``path``, at most ``limit + 1`` of them (so the caller can refuse more).

    Args:
        path: the file.
        what: what the file is, for messages ("plan file", "incident file").
        fail: builds the exception to raise from a one-line reason without the path
            ("no such plan file", "cannot read the event file: Permission denied").
        limit: the most bytes worth reading; ``None`` reads everything.

    Raises:
        Exception: whatever ``fail`` returns, when the file cannot be read.
    """
    try:
        with Path(path).open("rb") as file:
            return file.read() if limit is None else file.read(limit + 1)
    except FileNotFoundError:
        raise fail(f"no such {what}") from None
    except IsADirectoryError:
        raise fail(f"is a directory, not {_article(what)} {what}") from None
    except OSError as exc:
        raise fail(f"cannot read the {what}: {exc.strerror or exc}") from None


def _article(noun: str) -> str:
    return "an" if noun[:1] in "aeiou" else "a"
