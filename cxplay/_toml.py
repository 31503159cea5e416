"""Reading TOML with positions: tomllib gives values, users need line numbers.

:func:`read_toml` parses a file and returns the data together with a :class:`LineIndex`
that maps a key path such as ``("rule", 3, "actions", 0, "percent")`` to the line where it
is written. The index is built by a light scan of the text (table headers, array-of-table
headers and ``key =`` lines), which is all an error message needs; it never decides what
the data is -- tomllib does.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from cxplay.errors import LoadError, Problem

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on 3.10 only
    import tomli as tomllib

__all__ = ["LineIndex", "parse_toml", "read_toml"]

KeyPath = tuple[str | int, ...]

_HEADER = re.compile(r"^\s*(\[\[?)\s*([^\[\]]+?)\s*\]\]?\s*(#.*)?$")
_KEY = re.compile(
    r"""^\s*((?:[A-Za-z0-9_-]+|"[^"]*"|'[^']*')(?:\s*\.\s*(?:[A-Za-z0-9_-]+|"[^"]*"|'[^']*'))*)\s*="""
)
_TOML_LINE = re.compile(r"at line (\d+)")


def _split_dotted(key: str) -> list[str]:
    parts = re.findall(r"""[A-Za-z0-9_-]+|"[^"]*"|'[^']*'""", key)
    return [p[1:-1] if p[:1] in "\"'" else p for p in parts]


def _ints(path: Sequence[str | int]) -> int:
    return sum(1 for p in path if isinstance(p, int))


class LineIndex:
    """Maps TOML key paths to 1-based line numbers."""

    def __init__(self, text: str) -> None:
        self._lines: dict[KeyPath, int] = {}
        self._order: list[tuple[int, KeyPath]] = []
        self._text_lines = text.splitlines()
        counters: dict[tuple[str | int, ...], int] = {}
        arrays: dict[tuple[str, ...], KeyPath] = {}
        table: KeyPath = ()
        in_multiline: str | None = None
        for number, line in enumerate(self._text_lines, start=1):
            if in_multiline is not None:
                if line.count(in_multiline) % 2 == 1:
                    in_multiline = None
                continue
            header = _HEADER.match(line)
            if header and not _KEY.match(line):
                names = _split_dotted(header.group(2))
                # A sub-table of the current array element ([[speaker]] then
                # [speaker.travel]) belongs to that element: ("speaker", 2, "travel").
                parent = self._array_parent(names, arrays)
                if header.group(1) == "[[":
                    array = tuple(parent + [str(n) for n in names[len(parent) - _ints(parent) :]])
                    index = counters.get(array, 0)
                    counters[array] = index + 1
                    table = (*array, index)
                    arrays[tuple(names)] = table
                else:
                    table = (*parent, *names[len(parent) - _ints(parent) :])
                self._record(table, number)
                continue
            key = _KEY.match(line)
            if key:
                path = (*table, *_split_dotted(key.group(1)))
                self._record(path, number)
                rest = line[key.end() :]
                for quote in ('"""', "'''"):
                    if rest.count(quote) % 2 == 1:
                        in_multiline = quote

    @staticmethod
    def _array_parent(names: list[str], arrays: dict[tuple[str, ...], KeyPath]) -> list[str | int]:
        """The path of the innermost array element that ``names`` is nested in, if any."""
        for end in range(len(names) - 1, 0, -1):
            found = arrays.get(tuple(names[:end]))
            if found is not None:
                return list(found)
        return []

    def _record(self, path: KeyPath, number: int) -> None:
        self._lines.setdefault(path, number)
        self._order.append((number, path))

    def line(self, path: Sequence[str | int]) -> int | None:
        """The line of ``path``, or of its longest prefix written in the file.

        For a key inside an inline table or array (``actions = [{ kind = ... }]``), the
        line of the enclosing key is refined by looking for ``name =`` on the lines that
        follow it, up to the next table header.
        """
        path = tuple(path)
        for end in range(len(path), 0, -1):
            found = self._lines.get(path[:end])
            if found is None:
                continue
            if end == len(path):
                return found
            leaf = next((p for p in reversed(path[end:]) if isinstance(p, str)), None)
            if leaf is None:
                return found
            pattern = re.compile(rf"(^|[\s{{,]){re.escape(leaf)}\s*=")
            for offset, text in enumerate(self._text_lines[found - 1 :]):
                if offset and _HEADER.match(text) and not _KEY.match(text):
                    break
                if pattern.search(text):
                    return found + offset
            return found
        return None


def parse_toml(text: str, *, source: str) -> tuple[dict[str, Any], LineIndex]:
    """Parse TOML text; a syntax error becomes a one-line :class:`LoadError`."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        message = str(exc)
        match = _TOML_LINE.search(message)
        line = int(match.group(1)) if match else None
        message = _TOML_LINE.sub("", message).replace("(, column", "(column").strip()
        message = re.sub(r"\s*\(\s*\)$", "", message)
        raise LoadError([Problem(f"invalid TOML: {message}", file=source, line=line)]) from None
    except RecursionError:
        raise LoadError([Problem("invalid TOML: nested too deeply", file=source)]) from None
    return data, LineIndex(text)


def read_toml(path: Path) -> tuple[dict[str, Any], LineIndex]:
    """Read and parse a TOML file; unreadable files and invalid UTF-8 are LoadErrors."""
    source = str(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise LoadError([Problem(f"cannot read: {exc.strerror or exc}", file=source)]) from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise LoadError(
            [Problem(f"not valid UTF-8 (byte {exc.start})", file=source, line=line)]
        ) from None
    return parse_toml(text, source=source)
