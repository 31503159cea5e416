"""The one formatter of pydantic validation errors for people.

pydantic reports ``{"loc": ("rule", 3, "actions", 0, "refund", "percnt"), "type":
"extra_forbidden", "msg": ..., "input": ...}``; users need ``rule[3].actions[0]:
unknown key 'percnt'; did you mean 'percent'?``. Every reader of a user's document --
playbooks, incidents, event files, plans -- turns errors into messages here, so the same
mistake reads the same everywhere. Callers add what only they know: the file and line
(from :class:`~cxplay._common.toml.LineIndex`) and the rule id.
"""

from __future__ import annotations

import types
import typing
from collections.abc import Mapping, Sequence
from typing import Any

from pydantic import BaseModel

from cxplay._common.text import NO_CONTROL_LINE, did_you_mean, echo, text_problem

__all__ = [
    "KeyPath",
    "allowed_keys",
    "error_message",
    "format_key",
    "key_path",
    "models_in",
]

#: A path into a document, as pydantic reports it: ``("session", 2, "end")``.
KeyPath = tuple[str | int, ...]

# Parts of a location that name a union member or a validator, not a key the user wrote.
_TYPE_TAGS = frozenset({"str", "int", "float", "bool", "list", "dict", "none"})


def key_path(loc: Sequence[str | int]) -> KeyPath:
    """The keys of a pydantic location that the user wrote (union and validator tags dropped)."""
    return tuple(
        part
        for part in loc
        if isinstance(part, int) or ("[" not in part and part not in _TYPE_TAGS)
    )


def format_key(path: Sequence[str | int]) -> str:
    """``("rule", 3, "actions", 0, "percent")`` as ``rule[3].actions[0].percent``."""
    out = ""
    for part in path:
        if not isinstance(part, int) and not str(part).isprintable():
            # a key is the client's text: a newline or a control in it stays on one line
            part = str(part).encode("unicode_escape").decode("ascii")
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def models_in(annotation: Any) -> list[type[BaseModel]]:
    """Model classes reachable from an annotation (through Optional, unions, containers)."""
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return models_in(typing.get_args(annotation)[0])
    if origin is not None or isinstance(annotation, types.UnionType):
        return [m for arg in typing.get_args(annotation) for m in models_in(arg)]
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    return []


def _keys_of(model: type[BaseModel]) -> dict[str, Any]:
    return {(info.alias or name): info.annotation for name, info in model.model_fields.items()}


def allowed_keys(root: type[BaseModel], parent: Sequence[str | int]) -> list[str]:
    """The keys a user may write at ``parent`` (a key path) in a document of ``root``."""
    models: list[type[BaseModel]] = [root]
    for part in parent:
        if isinstance(part, int):
            continue
        owner = next((m for m in models if part in _keys_of(m)), None)
        if owner is None:
            continue  # a key of a table of the user's own names: [signature.<playbook id>]
        models = models_in(_keys_of(owner)[part])
    return sorted({key for model in models for key in _keys_of(model)})


def error_message(error: Mapping[str, Any], *, known: Sequence[str] | None = None) -> str:
    """One pydantic error as a message without its location.

    Args:
        error: an entry of ``ValidationError.errors()``.
        known: the keys allowed beside an unknown key, for "did you mean".

    Returns:
        ``unknown key 'x'; did you mean 'y'?``, ``missing required key 'x'``, or pydantic's
        message with a lower-case start, without "Value error, ", and with the offending
        value (truncated, see :func:`~cxplay._common.text.echo`) when it is a plain value.
    """
    kind = error["type"]
    path = key_path(error["loc"])
    if kind == "extra_forbidden" and path:
        name = str(path[-1])
        return f"unknown key {echo(name)}{did_you_mean(name, known or ())}"
    if kind == "missing" and path:
        return f"missing required key {echo(str(path[-1]))}"
    value = error.get("input")
    if kind == "string_unicode" or (
        kind == "string_pattern_mismatch"
        and "\\x00" in str((error.get("ctx") or {}).get("pattern", ""))
    ):
        # the text patterns (cxplay._common.text): say which character, and where
        lines = (error.get("ctx") or {}).get("pattern") != NO_CONTROL_LINE
        found = text_problem(value, lines=lines) if isinstance(value, str) else None
        return found or "must be valid Unicode text without control characters"
    message = str(error["msg"])
    if kind == "value_error":
        return message.removeprefix("Value error, ")
    message = message[:1].lower() + message[1:]
    if isinstance(value, str | int | float | bool):
        message += f" (got {echo(value)})"
    return message
