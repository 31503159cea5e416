"""The one TOML reader: values from tomli, line numbers for every key.

Why tomli (>= 2.1) and not the standard library's ``tomllib``: tomllib *is* tomli, vendored
into CPython 3.11, but frozen at the version of that release; its ``TOMLDecodeError``
carries the position only inside the message text ("... (at line 3, column 7)"), which
we would have to parse back out with a regular expression. tomli 2.1 added ``msg``,
``lineno`` and ``colno`` attributes, so an error's position is data, on every supported
Python (3.10 has no tomllib at all). tomli is small, pure Python with compiled wheels
(faster than the stdlib module), and has no dependencies.

:func:`read_toml` parses a file and returns the data together with a :class:`LineIndex`
that maps a key path such as ``("rule", 3, "actions", 0, "percent")`` to the line where it
is written. The index follows TOML's structure just enough (tables, arrays of tables and their
sub-tables, dotted keys, inline tables, arrays spanning lines, strings, comments); it never
decides what the data is -- tomli does. Playbooks, reply catalogs and event files all use
it, so every error message points at a line the same way.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import pickle
import pkgutil
import re
import sys
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import tomli

from cxplay._common import cache
from cxplay._common.files import read_bytes
from cxplay.errors import LoadError, PlaybookError, Problem

__all__ = ["LineIndex", "parse_toml", "read_package_toml", "read_toml"]

KeyPath = tuple[str | int, ...]

_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")
_SCALAR = re.compile(r"[^,\]}\n#]+")  # numbers, booleans, dates: up to a delimiter


# Indexes scan lazily; a lock shared by all (not an attribute: an index stays picklable).
_SCANNING = threading.Lock()


class _Stop(Exception):
    """The scanner met text it does not understand (it only ever sees valid TOML)."""


class LineIndex:
    """Maps key paths such as ``("session", 2, "end")`` to the line that writes them.

    tomllib gives values without positions, so this scans the text once, following TOML's
    structure just enough: table headers (``[venue]``, ``[speaker.travel]`` under the latest
    ``[[speaker]]``), arrays of tables (``[[session]]`` counted per parent), dotted keys,
    inline tables, arrays spanning lines, strings and comments. It never decides what the data
    is -- tomllib does -- and it runs only on text tomllib accepted.
    """

    def __init__(self, text: str) -> None:
        self._text = text
        self._pos = 0
        self._line = 1
        self._lines: dict[KeyPath, int] = {}
        self._starts: dict[KeyPath, int] = {}  # where a multi-line string's text begins
        self._arrays: dict[KeyPath, int] = {}
        self._scanned = False  # scanned when a line is first asked for: most files never are

    def _scan_once(self) -> None:
        if self._scanned:
            return
        with _SCANNING:  # one scanner at a time: the scan's position is the index's state
            if not self._scanned:
                # on a surprise, keep what was found; lines fall back to the nearest known
                # parent
                with contextlib.suppress(_Stop, IndexError, ValueError):
                    self._scan()
                self._scanned = True

    def line(self, path: Sequence[str | int]) -> int | None:
        """The line of ``path``, or of its longest prefix written in the file (else None)."""
        self._scan_once()
        for end in range(len(path), 0, -1):
            found = self._lines.get(tuple(path[:end]))
            if found is not None:
                return found
        return None

    def text_line(self, path: Sequence[str | int]) -> int | None:
        """The line where the text of a string value begins.

        That is the key's line, except for a multi-line string opened at the end of it
        (``key = \"\"\"`` then the text): TOML drops that first newline, so line 1 of
        the value is the next line of the file.
        """
        self._scan_once()
        return self._starts.get(tuple(path)) or self.line(path)

    # -- scanning

    def _record(self, path: KeyPath) -> None:
        self._lines.setdefault(path, self._line)

    def _peek(self, literal: str) -> bool:
        return self._text.startswith(literal, self._pos)

    def _skip_blank(self, *, newlines: bool) -> None:
        text = self._text
        while self._pos < len(text):
            char = text[self._pos]
            if char in " \t\r":
                self._pos += 1
            elif char == "\n" and newlines:
                self._line += 1
                self._pos += 1
            elif char == "#":
                end = text.find("\n", self._pos)
                self._pos = len(text) if end < 0 else end
            else:
                return

    def _scan(self) -> None:
        table: KeyPath = ()
        while True:
            self._skip_blank(newlines=True)
            if self._pos >= len(self._text):
                return
            if self._peek("[["):
                self._pos += 2
                keys = self._keys()
                self._expect("]]")
                parent = self._resolve(keys[:-1])
                array = (*parent, keys[-1])
                count = self._arrays.get(array, 0)
                self._arrays[array] = count + 1
                self._record(array)
                table = (*array, count)
                self._record(table)
            elif self._peek("["):
                self._pos += 1
                table = self._resolve(self._keys())
                self._expect("]")
                for end in range(1, len(table) + 1):  # [contacts.chair] also locates contacts
                    self._record(table[:end])
            else:
                self._key_value(table)

    def _resolve(self, keys: Sequence[str]) -> KeyPath:
        path: KeyPath = ()
        for key in keys:
            path = (*path, key)
            if path in self._arrays:  # a sub-table of the latest [[array]] entry
                path = (*path, self._arrays[path] - 1)
        return path

    def _expect(self, literal: str) -> None:
        self._skip_blank(newlines=False)
        if not self._peek(literal):
            raise _Stop
        self._pos += len(literal)

    def _keys(self) -> list[str]:
        keys: list[str] = []
        while True:
            self._skip_blank(newlines=False)
            char = self._text[self._pos]
            if char in "\"'":
                keys.append(self._string())
            else:
                match = _BARE_KEY.match(self._text, self._pos)
                if match is None:
                    raise _Stop
                keys.append(match.group())
                self._pos = match.end()
            self._skip_blank(newlines=False)
            if not self._peek("."):
                return keys
            self._pos += 1

    def _key_value(self, table: KeyPath) -> None:
        keys = self._keys()
        for end in range(1, len(keys) + 1):
            self._record((*table, *keys[:end]))
        self._expect("=")
        self._skip_blank(newlines=False)
        self._value((*table, *keys))

    def _string(self) -> str:
        """Consume a string (any of TOML's four kinds); return its raw content."""
        text = self._text
        quote = text[self._pos]
        if text.startswith(quote * 3, self._pos):
            end = self._pos + 3
            while True:
                end = text.index(quote * 3, end)
                if quote == "'" or not _escaped(text, end):
                    break
                end += 1
            run = 3  # up to two quotes may stand just before the closing delimiter
            while run < 5 and end + run < len(text) and text[end + run] == quote:
                run += 1
            content = text[self._pos + 3 : end + run - 3]
            self._line += content.count("\n")
            self._pos = end + run
            return content
        end = self._pos + 1
        while text[end] != quote or (quote == '"' and _escaped(text, end)):
            if text[end] == "\n":
                raise _Stop
            end += 1
        content = text[self._pos + 1 : end]
        self._pos = end + 1
        return content

    def _value(self, path: KeyPath) -> None:
        char = self._text[self._pos]
        if char in "\"'":
            start = self._line
            if self._string().startswith(("\n", "\r\n")):
                self._starts[path] = start + 1
        elif char == "[":
            self._pos += 1
            index = 0
            while True:
                self._skip_blank(newlines=True)
                if self._peek("]"):
                    self._pos += 1
                    return
                self._record((*path, index))
                self._value((*path, index))
                index += 1
                self._skip_blank(newlines=True)
                if self._peek(","):
                    self._pos += 1
        elif char == "{":
            self._pos += 1
            while True:
                self._skip_blank(newlines=True)
                if self._peek("}"):
                    self._pos += 1
                    return
                self._key_value(path)
                self._skip_blank(newlines=True)
                if self._peek(","):
                    self._pos += 1
        else:
            match = _SCALAR.match(self._text, self._pos)
            if match is None:
                raise _Stop
            self._pos = match.end()


def _escaped(text: str, index: int) -> bool:
    """Whether the character at ``index`` is escaped by an odd run of backslashes."""
    run = 0
    while index - run - 1 >= 0 and text[index - run - 1] == "\\":
        run += 1
    return run % 2 == 1


def toml_problem(error: tomli.TOMLDecodeError, text: str, source: str) -> Problem:
    """A TOML syntax error as one :class:`Problem`: ``file:line: invalid TOML: ... (column c)``."""
    message = error.msg[:1].lower() + error.msg[1:]
    if error.pos >= len(text):
        where = "at the end of the file"
        line = max(1, len(text.splitlines()))
    else:
        where = f"column {error.colno}"
        line = error.lineno
    return Problem(f"invalid TOML: {message} ({where})", file=source, line=line)


def parse_toml(
    text: str, *, source: str, error: type[PlaybookError] = LoadError
) -> tuple[dict[str, Any], LineIndex]:
    """Parse TOML text into its data and a :class:`LineIndex` of its keys.

    Args:
        text: the document (a leading BOM is ignored).
        source: how to call it in problems (a path, ``<stdin>``).
        error: the :class:`~cxplay.errors.PlaybookError` to raise (``LoadError`` for
            playbooks and catalogs, ``EventFileError`` for event files).

    Raises:
        PlaybookError: of type ``error``, with one problem: the syntax error and its line.
    """
    text = text.removeprefix("\ufeff")  # editors may write a BOM
    try:
        data = _loads(text)
    except tomli.TOMLDecodeError as exc:
        raise error([toml_problem(exc, text, source)]) from None
    except RecursionError:
        raise error([Problem("invalid TOML: nested too deeply", file=source)]) from None
    return data, LineIndex(text)


#: Parsed documents kept in the cache: the most recently used (a shipped set reads ~30).
KEEP_PARSED = 256


@functools.cache
def _parser_stamp() -> str:
    """The parser a cached document was parsed by: tomli's version and file, Python's."""
    return f"parsed-toml 1|{cache.module_stamp(tomli)}|{sys.version}"


def _loads(text: str) -> dict[str, Any]:
    """``tomli.loads(text)``; within a command, from the cache when the same text was parsed.

    The reply catalogs are read whole at every start (~30 documents, 200 kB): their data
    is kept in ``<cache dir>/toml/`` under a SHA-256 of the text and the parser, written
    and checked as every cache entry is (:mod:`cxplay._common.cache`). An entry that does
    not check or unpickle is parsed again; only text that parsed is kept. Lines still
    come from the text (:class:`LineIndex`), never from the cache.
    """
    where = cache.private_dir("toml", create=True) if cache.is_on() else None
    if where is None:
        return tomli.loads(text)
    digest = hashlib.sha256(f"{_parser_stamp()}\x00".encode())
    digest.update(text.encode("utf-8", "surrogatepass"))
    entry = where / f"{digest.hexdigest()}.pickle"
    found = cache.load(entry, pickle.loads, dict)  # corrupt or foreign: parsed again
    if found is not None:
        return found
    data = tomli.loads(text)
    cache.write(entry, pickle.dumps(data, protocol=pickle.HIGHEST_PROTOCOL))
    cache.prune(where, KEEP_PARSED)
    return data


def decode_utf8(raw: bytes, source: str, *, error: type[PlaybookError] = LoadError) -> str:
    """UTF-8 bytes as text; invalid UTF-8 is one problem with its line and column."""
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        column = exc.start - (raw.rfind(b"\n", 0, exc.start) + 1) + 1
        raise error(
            [
                Problem(
                    f"not valid UTF-8 (byte 0x{raw[exc.start]:02x} at column {column}); "
                    "save the file as UTF-8",
                    file=source,
                    line=line,
                )
            ]
        ) from None


def read_toml(
    path: Path, *, error: type[PlaybookError] = LoadError, what: str = "file"
) -> tuple[dict[str, Any], LineIndex]:
    """Read and parse a TOML file; see :func:`parse_toml`.

    Raises:
        PlaybookError: of type ``error``: the file cannot be read, is not UTF-8 or not TOML.
    """
    source = str(path)
    raw = read_bytes(path, what=what, fail=lambda reason: error([Problem(reason, file=source)]))
    return parse_toml(decode_utf8(raw, source, error=error), source=source, error=error)


def read_package_toml(package: str, resource: str) -> dict[str, Any]:
    """The data of a TOML file shipped inside a package (tables cxplay itself ships).

    Args:
        package: the package that holds it, e.g. ``"cxplay._replies"``.
        resource: its path relative to that package, e.g. ``"data/names.toml"``.
    """
    # pkgutil asks the package's loader for the bytes; importlib.resources, which does the
    # same for a package on disk, imports tempfile, shutil, zipfile and its readers (~19 M
    # instructions, 2 % of a warm `cxplay suggest`) to do it
    raw = pkgutil.get_data(package, resource)
    if raw is None:  # a loader pkgutil cannot ask
        import importlib.resources

        text = importlib.resources.files(package).joinpath(resource).read_text(encoding="utf-8")
    else:  # read_text's universal newlines
        text = raw.decode("utf-8").replace("\r\n", "\n").replace("\r", "\n")
    return tomli.loads(text)
