"""Every error cxplay raises on purpose.

::

    CxplayError                  anything cxplay reports to a user (CLI exit code 1)
    ├── PlaybookError            a file cxplay reads as a whole cannot be used; one Problem each
    │   ├── LoadError            unreadable file, broken TOML, invalid UTF-8
    │   ├── SchemaError          unknown key, wrong type, duplicate id, ...
    │   ├── ConditionError       a ``when`` expression is refused
    │   ├── CompileError         a limit of the rule engine would be exceeded
    │   ├── TemplateError        a reply template is missing or does not render
    │   └── EventFileError       an event file (``cxplay plan``) is invalid
    ├── PlanError                a preloaded plan cannot be used
    ├── IncidentError            an incident is invalid (missing type, wrong fact type, ...)
    ├── LogError                 the decision log is unusable or refuses an outcome/score
    ├── RenderError              a reply could not be rendered at run time
    └── BacktestError            a backtest cannot run: unreadable source, bad threshold, ...

A :class:`PlaybookError` carries one :class:`Problem` per thing that is wrong, so a
user sees every problem at once, one line each: ``file:line: rule-id: key.path: message``.
An event file is read like a playbook (TOML, every problem with its line), so its error
is one too. ``tests/test_layout.py`` checks that this drawing matches the classes.
Nothing here prints; presenting errors is the caller's job.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

__all__ = [
    "BacktestError",
    "CompileError",
    "ConditionError",
    "CxplayError",
    "EventFileError",
    "IncidentError",
    "LoadError",
    "LogError",
    "PlanError",
    "PlaybookError",
    "Problem",
    "RenderError",
    "SchemaError",
    "TemplateError",
]


def _one_line(text: str) -> str:
    return text.replace("\r\n", "\\n").replace("\n", "\\n").replace("\r", "\\r")


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a user's file, located as precisely as we can."""

    message: str
    file: str | None = None
    line: int | None = None
    rule: str | None = None
    key: str | None = None

    def __str__(self) -> str:
        where = ""
        if self.file:
            where = self.file if self.line is None else f"{self.file}:{self.line}"
            where += ": "
        rule = f"{self.rule}: " if self.rule else ""
        key = f"{self.key}: " if self.key else ""
        # One problem, one line: a newline in user text must not forge a second error line.
        return _one_line(f"{where}{rule}{key}{self.message}")


class CxplayError(Exception):
    """Base of every error cxplay reports to a user."""

    hint: str | None = None


class PlaybookError(CxplayError):
    """One or more problems with playbooks; ``problems`` holds each, ``str()`` one per line."""

    def __init__(self, problems: Iterable[Problem] | str, *, hint: str | None = None) -> None:
        if isinstance(problems, str):
            problems = [Problem(problems)]
        self.problems: Sequence[Problem] = tuple(problems)
        self.hint = hint
        super().__init__("\n".join(str(p) for p in self.problems))


class LoadError(PlaybookError):
    """A playbook file cannot be read or is not valid TOML."""


class SchemaError(PlaybookError):
    """A playbook does not match the playbook format."""


class ConditionError(PlaybookError):
    """A rule's condition is not in the condition language or does not type-check."""


class CompileError(PlaybookError):
    """The playbooks would exceed a limit of the rule engine."""


class TemplateError(PlaybookError):
    """A reply template is missing, does not parse, or fails a test render."""


class EventFileError(PlaybookError):
    """An event file for ``cxplay plan`` is invalid."""


class PlanError(CxplayError):
    """A preloaded plan is unreadable, stale or does not answer the question."""


class IncidentError(CxplayError):
    """An incident is not valid input."""


class LogError(CxplayError):
    """The decision log cannot be read or written, or refuses what it was given."""


class RenderError(CxplayError):
    """A reply could not be rendered for an incident."""


class BacktestError(CxplayError):
    """A backtest cannot run: its source is unreadable, a threshold or a cluster is wrong."""
