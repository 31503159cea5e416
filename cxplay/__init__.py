"""cxplay: rules-based customer-experience playbooks.

An incident comes in; cxplay evaluates it against TOML playbooks and answers with ranked
recovery actions (apology, refund, plan B, escalation, follow-up, ...) and a reply to send.

Example:
    >>> from cxplay import Engine
    >>> engine = Engine.from_path()
    >>> engine.suggest({"type": "parcel_damaged"}).actions[0].kind
    'apology'
"""

from __future__ import annotations

import importlib
import typing
from collections.abc import Iterable
from pathlib import Path

from cxplay._engine.decide import Decision
from cxplay._engine.engine import Engine, IncidentLike
from cxplay._incidents import parse_incident, read_incident
from cxplay._playbooks.lint import ValidationReport
from cxplay._playbooks.lint import validate_playbooks as validate
from cxplay._playbooks.loader import PlaybookSet, load_playbooks, shipped_playbooks_dir
from cxplay._playbooks.scenarios import ScenarioReport, ScenarioResult, run_scenarios
from cxplay._replies.renderer import Renderer
from cxplay._version import __version__
from cxplay.errors import (
    ArgumentError,
    BackendError,
    BacktestError,
    CompileError,
    ConditionError,
    CxplayError,
    EngineClosedError,
    EngineError,
    EventFileError,
    IncidentError,
    LoadError,
    LogError,
    PlanError,
    PlaybookError,
    Problem,
    ReloadError,
    RenderError,
    RuleEngineError,
    SchemaError,
    TemplateError,
)
from cxplay.models import Incident, Playbook, Rule
from cxplay.results import History, Match, Reply, RuleTrace, SuggestedAction, Suggestion

if typing.TYPE_CHECKING:
    from cxplay._backtest.recipe import Recipe
    from cxplay._backtest.report import BacktestReport, Threshold
    from cxplay._backtest.run import Backtest, backtest
    from cxplay._backtest.source import LogSource
    from cxplay._events.load import load_event
    from cxplay._events.model import Event
    from cxplay._events.plan import Plan, build_plan
    from cxplay._log.store import (
        CustomerHistory,
        DecisionLog,
        GivenCompensation,
        LoggedDecision,
        OutcomeRecord,
    )

__all__ = [
    "ArgumentError",
    "BackendError",
    "Backtest",
    "BacktestError",
    "BacktestReport",
    "CompileError",
    "ConditionError",
    "CustomerHistory",
    "CxplayError",
    "Decision",
    "DecisionLog",
    "Engine",
    "EngineClosedError",
    "EngineError",
    "Event",
    "EventFileError",
    "GivenCompensation",
    "History",
    "Incident",
    "IncidentError",
    "IncidentLike",
    "LoadError",
    "LogError",
    "LogSource",
    "LoggedDecision",
    "Match",
    "OutcomeRecord",
    "Plan",
    "PlanError",
    "Playbook",
    "PlaybookError",
    "PlaybookSet",
    "Problem",
    "Recipe",
    "ReloadError",
    "RenderError",
    "Renderer",
    "Reply",
    "Rule",
    "RuleEngineError",
    "RuleTrace",
    "ScenarioReport",
    "ScenarioResult",
    "SchemaError",
    "SuggestedAction",
    "Suggestion",
    "TemplateError",
    "Threshold",
    "ValidationReport",
    "__version__",
    "backtest",
    "build_plan",
    "load_event",
    "load_playbooks",
    "parse_incident",
    "read_incident",
    "run_scenarios",
    "shipped_playbooks_dir",
    "suggest",
    "validate",
]

# The event, plan and backtest modules cost start-up time that `cxplay suggest` should not
# pay, the decision log (SQLAlchemy) more: they are imported on first use (PEP 562).
_LAZY = {
    "CustomerHistory": "cxplay._log.store",
    "DecisionLog": "cxplay._log.store",
    "GivenCompensation": "cxplay._log.store",
    "LoggedDecision": "cxplay._log.store",
    "OutcomeRecord": "cxplay._log.store",
    "Backtest": "cxplay._backtest.run",
    "BacktestReport": "cxplay._backtest.report",
    "LogSource": "cxplay._backtest.source",
    "Recipe": "cxplay._backtest.recipe",
    "Threshold": "cxplay._backtest.report",
    "backtest": "cxplay._backtest.run",
    "Event": "cxplay._events.model",
    "load_event": "cxplay._events.load",
    "Plan": "cxplay._events.plan",
    "build_plan": "cxplay._events.plan",
}


def __getattr__(name: str) -> typing.Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'cxplay' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def suggest(
    incident: IncidentLike,
    playbooks: Path | str | Iterable[Path | str] | None = None,
    *,
    allow_unknown_type: bool = False,
) -> Suggestion:
    """One-shot convenience: load ``playbooks`` (default: shipped) and suggest for an incident.

    Services that answer many incidents should build one :class:`Engine` and reuse it.
    ``allow_unknown_type`` accepts a type one typo away from a known one (see :class:`Engine`).
    """
    with Engine.from_path(
        list(playbooks)
        if isinstance(playbooks, Iterable) and not isinstance(playbooks, str | Path)
        else playbooks,
        allow_unknown_type=allow_unknown_type,
    ) as engine:
        return engine.suggest(incident)
