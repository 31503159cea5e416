"""Reading an event file: TOML text to an :class:`~cxplay._events.model.Event`.

Every problem is reported at once, each with the line of the file where it is written.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from os import PathLike
from typing import Any

from pydantic import (
    ValidationError,
)

from cxplay._common.files import read_bytes
from cxplay._common.problems import allowed_keys, error_message, format_key, key_path
from cxplay._common.toml import decode_utf8, parse_toml
from cxplay.errors import EventFileError, Problem

__all__ = [
    "load_event",
    "parse_event",
]


from cxplay._events.checks import (
    _cross_issues,
    _Issue,
    _salvage,
    _view_of_event,
)
from cxplay._events.model import Event, usable_timezone

# --------------------------------------------------------------------------- schema errors


_ARRAYS = ("session", "speaker", "guest")


def _schema_issue(error: Mapping[str, Any]) -> _Issue:
    path = key_path(error["loc"])
    kind = error["type"]
    value = error.get("input")
    if kind == "extra_forbidden" and path:
        return path, error_message(error, known=allowed_keys(Event, path[:-1]))
    if kind == "missing" and path:
        # point at the table the key belongs in: that is where the user adds it
        return path[:-1], error_message(error)
    if kind == "datetime_type" and isinstance(value, dt.time):
        return path, (
            "a time of day needs the event's date ([event] date = ...); "
            "or write a full date and time such as 2026-11-20T09:30:00"
        )
    if kind in ("tuple_type", "list_type") and len(path) == 1 and path[0] in _ARRAYS:
        return path, f"write each {path[0]} as an array of tables: [[{path[0]}]]"
    return path, error_message(error)


def _about_times(message: str) -> bool:
    return message.startswith(("times out of order", "ends after", "starts before"))


def parse_event(source: str | bytes, *, file: str = "<event>") -> Event:
    """Parse and check an event from TOML text.

    Args:
        source: the TOML document; bytes must be UTF-8 (a leading BOM is accepted).
        file: the name used in problems (a path, or ``<event>``).

    Returns:
        The event, with every date-time aware and in the event's time zone.

    Raises:
        EventFileError: with one :class:`~cxplay.errors.Problem` per thing that is wrong
            (file, line and key path each), sorted by line: invalid UTF-8 or broken TOML
            (reported alone, as nothing else can be read), or any number of schema and
            cross-table problems.
    """
    text = decode_utf8(source, file, error=EventFileError) if isinstance(source, bytes) else source
    text = text.removeprefix("\ufeff")
    data, locator = parse_toml(text, source=file, error=EventFileError)
    issues: list[_Issue] = []
    event: Event | None = None
    try:
        event = Event.model_validate(data)
    except ValidationError as exc:
        issues.extend(_schema_issue(error) for error in exc.errors(include_url=False))
        if not usable_timezone(data):  # times read in a stand-in zone: not worth a word
            issues = [(path, message) for path, message in issues if not _about_times(message)]
    view = _view_of_event(event) if event is not None else _salvage(data)
    issues.extend(_cross_issues(view))
    if issues:
        problems = {
            Problem(message, file=file, line=locator.line(path), key=format_key(path) or None)
            for path, message in issues
        }
        ordered = sorted(problems, key=lambda p: (p.line or 0, p.key or "", p.message))
        raise EventFileError(ordered)
    assert event is not None  # no issues means validation succeeded
    return event


def load_event(path: str | PathLike[str]) -> Event:
    """Read an event file (TOML) and check it.

    Example:
        >>> event = load_event("examples/events/cxconf-2026.toml")  # doctest: +SKIP
        >>> event.info.timezone, len(event.sessions)  # doctest: +SKIP
        ('Europe/Warsaw', 8)

    Args:
        path: the event file.

    Returns:
        The event; see :func:`parse_event`.

    Raises:
        EventFileError: the file cannot be read, is not UTF-8 or TOML, or describes an
            invalid event; every problem is listed, each with its line.
    """
    file = str(path)
    raw = read_bytes(
        path, what="event file", fail=lambda reason: EventFileError([Problem(reason, file=file)])
    )
    return parse_event(raw, file=file)
