"""Saving and reading ``plan.json``, and whether a saved plan is still fresh.

A plan file is untrusted when read back: :func:`parse_plan` validates it whole.
"""

from __future__ import annotations

import json
import unicodedata
from os import PathLike
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from cxplay._common.text import echo
from cxplay._events.model import Event, KeyPath
from cxplay.errors import PlanError

if TYPE_CHECKING:
    from cxplay._playbooks.loader import PlaybookSet

from cxplay._common.files import read_bytes
from cxplay._common.problems import error_message, format_key, key_path
from cxplay._events.plan import (
    PLAN_FORMAT,
    Freshness,
    Plan,
    _event_data,
    content_digest,
    event_digest,
    playbooks_digest,
)

__all__ = [
    "check_plan",
    "dump_plan",
    "load_plan",
    "parse_plan",
]

# --------------------------------------------------------------------------- saving, loading


def dump_plan(plan: Plan) -> str:
    """The plan as ``plan.json`` text (indented, UTF-8, ending with a newline)."""
    return plan.model_dump_json(by_alias=True, indent=2) + "\n"


def parse_plan(source: str | bytes, *, name: str = "<plan>") -> Plan:
    """Read a plan from ``plan.json`` text and validate it.

    Args:
        source: the JSON text (bytes must be UTF-8).
        name: how to call the plan in errors (its path).

    Returns:
        The plan.

    Raises:
        PlanError: not JSON, not a cxplay plan, a format this version does not read, or an
            invalid plan; the message is one line.
    """
    try:
        text = source.decode("utf-8") if isinstance(source, bytes) else source
        data = json.loads(text)
    except UnicodeDecodeError:
        raise PlanError(f"{name}: not a cxplay plan: not UTF-8 text") from None
    except json.JSONDecodeError as exc:
        raise PlanError(
            f"{name}:{exc.lineno}: not a cxplay plan: invalid JSON ({exc.msg})"
        ) from None
    except RecursionError:
        raise PlanError(f"{name}: not a cxplay plan: nested too deeply") from None
    found = data.get("format") if isinstance(data, dict) else None
    if found != PLAN_FORMAT:
        if isinstance(found, str) and found.startswith("cxplay-plan/"):
            raise PlanError(
                f"{name}: plan format {echo(found)} is not the one this cxplay reads "
                f"({echo(PLAN_FORMAT)}); build the plan again with 'cxplay plan'"
            )
        raise PlanError(f'{name}: not a cxplay plan (no "format": "{PLAN_FORMAT}")')
    control = _control_character(data, ())
    if control is not None:
        at, char = control
        raise PlanError(
            f"{name}: invalid plan: {format_key(at)}: control character U+{ord(char):04X} "
            "(cxplay never writes one; the file was changed)"
        )
    try:
        plan = Plan.model_validate(data)
    except ValidationError as exc:
        errors = exc.errors(include_url=False)
        first = errors[0]
        where = format_key(key_path(first["loc"]))
        message = error_message(first)
        more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
        raise PlanError(f"{name}: invalid plan: {where}: {message}{more}") from None
    if plan.digests.content != content_digest(plan) or plan.digests.event != event_digest(
        plan.event
    ):
        raise PlanError(
            f"{name}: the plan's digest does not match its content: it was changed or damaged "
            "after cxplay wrote it; build it again with 'cxplay plan EVENT --out PLAN.json'"
        )
    return plan


# Text a plan shows on a terminal must not carry control characters: an escape sequence in
# a message could rewrite the screen or the window title. Newlines and tabs are text.
_ALLOWED_CONTROLS = frozenset("\n\t")


def _control_character(value: Any, path: tuple[str | int, ...]) -> tuple[KeyPath, str] | None:
    """The first string (key or value) holding a control character, and that character."""
    stack: list[tuple[Any, tuple[str | int, ...]]] = [(value, path)]
    while stack:
        item, where = stack.pop()
        if isinstance(item, str):
            for char in item:
                if unicodedata.category(char) == "Cc" and char not in _ALLOWED_CONTROLS:
                    return where, char
        elif isinstance(item, dict):
            for key, inner in item.items():
                stack.append((key, where))
                stack.append((inner, (*where, key)))
        elif isinstance(item, list):
            stack.extend((inner, (*where, index)) for index, inner in enumerate(item))
    return None


def load_plan(path: str | PathLike[str]) -> Plan:
    """Read and validate ``plan.json``; see :func:`parse_plan`.

    Raises:
        PlanError: the file cannot be read, or is not a valid plan (one line).
    """
    name = str(path)
    raw = read_bytes(path, what="plan file", fail=lambda reason: PlanError(f"{name}: {reason}"))
    return parse_plan(raw, name=name)


# --------------------------------------------------------------------------- staleness

_PARTS = (
    ("event", "the event's details"),
    ("venue", "the venue"),
    ("contacts", "the contacts"),
    ("session", "sessions"),
    ("speaker", "speakers"),
    ("guest", "guests"),
)


def check_plan(plan: Plan, event: Event, playbooks: PlaybookSet) -> Freshness:
    """Whether a plan still matches an event and the playbooks.

    Args:
        plan: the preloaded plan.
        event: the event as it is now (:func:`~cxplay._events.load.load_event`).
        playbooks: the playbooks as they are now (:func:`~cxplay._playbooks.loader.load_playbooks`).

    Returns:
        Fresh, or stale with a reason per thing that changed: "the event changed
        (sessions, speakers)", "the playbooks changed".
    """
    reasons: list[str] = []
    if event_digest(event) != plan.digests.event:
        before, after = _event_data(plan.event), _event_data(event)
        parts = [label for key, label in _PARTS if before.get(key) != after.get(key)]
        detail = f" ({', '.join(parts)})" if parts else ""
        reasons.append(f"the event changed{detail}")
    digest, files = playbooks_digest(playbooks)
    if digest != plan.digests.playbooks:
        added = sorted(set(files) - set(plan.digests.files))
        removed = sorted(set(plan.digests.files) - set(files))
        detail = "".join(
            [
                f"; added {', '.join(added)}" if added else "",
                f"; removed {', '.join(removed)}" if removed else "",
            ]
        )
        reasons.append(f"the playbooks changed{detail}")
    return Freshness(fresh=not reasons, reasons=tuple(reasons))
