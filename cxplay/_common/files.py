"""Reading a user's file: bytes with a size limit, and one-line reasons when it fails."""

from __future__ import annotations

import os
from collections.abc import Callable
from os import PathLike
from pathlib import Path

__all__ = ["broken_link", "read_bytes", "toml_files"]


def broken_link(path: Path) -> str | None:
    """Why ``path`` is a symbolic link that leads nowhere, or None when it is not one.

    ``Path.is_file()`` is simply false for a dangling link or a loop of links, so a
    directory listing that filtered on it would skip such a playbook without a word.
    """
    if not path.is_symlink():
        return None
    try:
        path.resolve(strict=True)
    except FileNotFoundError:
        return f"a dangling symbolic link (to {os.readlink(path)}, which does not exist)"
    except (RuntimeError, OSError):  # RuntimeError up to 3.12, OSError(ELOOP) from 3.13
        return "a loop of symbolic links"
    return None


def toml_files(directory: Path) -> tuple[list[Path], list[tuple[Path, str]]]:
    """The ``*.toml`` files of a directory, sorted, and the entries that cannot be read.

    Returns:
        The files, and ``(path, reason)`` for each entry named ``*.toml`` that is a broken
        symbolic link or not a file.
    """
    files: list[Path] = []
    broken: list[tuple[Path, str]] = []
    for path in sorted(directory.glob("*.toml")):
        reason = broken_link(path)
        if reason is None and not path.is_file():
            reason = "not a file" if not path.is_dir() else "a directory, not a file"
        if reason is None:
            files.append(path)
        else:
            broken.append((path, reason))
    return files, broken


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
