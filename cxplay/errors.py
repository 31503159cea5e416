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
    ├── BacktestError            a backtest cannot run: unreadable source, bad threshold, ...
    ├── ArgumentError            a library call got an argument it cannot use (a naive datetime)
    └── EngineError              an Engine cannot do what it was asked
        ├── EngineClosedError    the engine was closed (close(), or the end of a with block)
        ├── BackendError         an unknown backend name, or one that does not run here
        ├── RuleEngineError      the rule engine failed while evaluating an incident
        └── ReloadError          reload() has no source it can load again

Every :class:`CxplayError` carries ``problems``: one :class:`Problem` per thing that is
wrong, so a user sees every problem at once, one line each (``file:line: rule-id: key.path:
message``), and a service can map each to a field: ``problem.location`` is the dotted path
in the input (``facts.queue_minutes``), ``problem.input`` the value found there. ``str()``
of an error is its one-line text (a :class:`PlaybookError`: one line per problem).
An event file is read like a playbook (TOML, every problem with its line), so its error
is one too. ``tests/test_layout.py`` checks that this drawing matches the classes.
Nothing here prints; presenting errors is the caller's job.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "ArgumentError",
    "BackendError",
    "BacktestError",
    "CompileError",
    "ConditionError",
    "CxplayError",
    "EngineClosedError",
    "EngineError",
    "EventFileError",
    "IncidentError",
    "LoadError",
    "LogError",
    "PlanError",
    "PlaybookError",
    "Problem",
    "ReloadError",
    "RenderError",
    "RuleEngineError",
    "SchemaError",
    "TemplateError",
]


def _one_line(text: str) -> str:
    return text.replace("\r\n", "\\n").replace("\n", "\\n").replace("\r", "\\r")


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a user's input, located as precisely as we can.

    ``key`` (also :attr:`location`) is the dotted path of the value in the input
    (``facts.queue_minutes``, ``rule[2].when``), ``input`` the value found there when
    there was one (None otherwise).
    """

    message: str
    file: str | None = None
    line: int | None = None
    rule: str | None = None
    key: str | None = None
    input: object = field(default=None, compare=False)  # may be unhashable (a list)

    @property
    def location(self) -> str | None:
        """Where in the input the problem is: a dotted path, or None for the whole input."""
        return self.key

    def __str__(self) -> str:
        where = ""
        if self.file:
            where = self.file if self.line is None else f"{self.file}:{self.line}"
            where += ": "
        rule = f"{self.rule}: " if self.rule else ""
        key = f"{self.key}: " if self.key else ""
        # One problem, one line: a newline in user text must not forge a second error line.
        return _one_line(f"{where}{rule}{key}{self.message}")


def _rebuild(
    cls: type[CxplayError], args: tuple[object, ...], state: dict[str, Any]
) -> CxplayError:
    error = cls.__new__(cls)
    Exception.__init__(error, *args)
    error.__dict__.update(state)
    return error


class CxplayError(Exception):
    """Base of every error cxplay reports to a user.

    ``problems`` holds one :class:`Problem` per thing that is wrong (an error raised with
    only a message has one, that message); ``hint`` an optional next step for the user.
    """

    hint: str | None = None

    def __init__(
        self,
        *args: object,
        problems: Iterable[Problem] | None = None,
        hint: str | None = None,
    ) -> None:
        super().__init__(*args)
        if problems is None:
            problems = [Problem(str(args[0]))] if args else []
        self.problems: Sequence[Problem] = tuple(problems)
        if hint is not None:
            self.hint = hint

    def __reduce__(self) -> tuple[Any, ...]:
        # pickled across processes (a backtest's workers) with its problems and hint
        return (_rebuild, (type(self), self.args, dict(self.__dict__)))


class PlaybookError(CxplayError):
    """One or more problems with playbooks; ``problems`` holds each, ``str()`` one per line."""

    def __init__(self, problems: Iterable[Problem] | str, *, hint: str | None = None) -> None:
        if isinstance(problems, str):
            problems = [Problem(problems)]
        found = tuple(problems)
        super().__init__("\n".join(str(p) for p in found), problems=found, hint=hint)


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


class ArgumentError(CxplayError):
    """A library call got an argument it cannot use: a naive datetime, an unknown option."""


class EngineError(CxplayError):
    """An :class:`cxplay.Engine` cannot do what it was asked."""


class EngineClosedError(EngineError):
    """The engine was closed: nothing more can be evaluated or reloaded on it."""


class BackendError(EngineError):
    """An unknown backend name, or a backend that does not run on this interpreter."""


class RuleEngineError(EngineError):
    """The rule engine failed while evaluating an incident (a fault, not bad input)."""


class ReloadError(EngineError):
    """``reload()`` has no source it can load again (the engine was given a PlaybookSet)."""
