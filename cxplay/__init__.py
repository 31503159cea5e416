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

import os
import threading
import typing
from datetime import datetime as _datetime
from pathlib import Path

from cxplay._common.lazy import import_paused as _import_paused
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

if typing.TYPE_CHECKING:
    from cxplay._backtest.recipe import Recipe
    from cxplay._backtest.report import BacktestReport, Threshold
    from cxplay._backtest.run import Backtest, backtest
    from cxplay._backtest.source import LogSource
    from cxplay._common.fields import FactValue
    from cxplay._engine.decide import Decision
    from cxplay._engine.engine import (
        BackendName,
        DecisionSink,
        Engine,
        IncidentLike,
        PlaybookSource,
    )
    from cxplay._events.load import load_event
    from cxplay._events.model import Event
    from cxplay._events.plan import Plan, build_plan
    from cxplay._incidents import parse_incident, read_incident
    from cxplay._log.store import (
        CustomerDecision,
        CustomerHistory,
        DecisionLog,
        GivenCompensation,
        LoggedDecision,
        OutcomeRecord,
    )
    from cxplay._playbooks.lint import ValidationReport
    from cxplay._playbooks.lint import validate_playbooks as validate
    from cxplay._playbooks.loader import PlaybookSet, load_playbooks, shipped_playbooks_dir
    from cxplay._playbooks.scenarios import ScenarioReport, ScenarioResult, run_scenarios
    from cxplay._replies.renderer import Renderer
    from cxplay.models import Customer, EventRef, Incident, Order, Playbook, Rule, Severity
    from cxplay.results import (
        Cost,
        FollowUpPlan,
        History,
        Match,
        Reply,
        RuleTrace,
        SuggestedAction,
        Suggestion,
    )

__all__ = [
    "ArgumentError",
    "BackendError",
    "BackendName",
    "Backtest",
    "BacktestError",
    "BacktestReport",
    "CompileError",
    "ConditionError",
    "Cost",
    "Customer",
    "CustomerDecision",
    "CustomerHistory",
    "CxplayError",
    "Decision",
    "DecisionLog",
    "DecisionSink",
    "Engine",
    "EngineClosedError",
    "EngineError",
    "Event",
    "EventFileError",
    "EventRef",
    "FactValue",
    "FollowUpPlan",
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
    "Order",
    "OutcomeRecord",
    "Plan",
    "PlanError",
    "Playbook",
    "PlaybookError",
    "PlaybookSet",
    "PlaybookSource",
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
    "Severity",
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

# Every name but the errors and the version is imported on first use (PEP 562): a command
# pays for the modules it uses (`cxplay --help` imports no engine, `cxplay suggest` no
# decision log, SQLAlchemy, event or backtest modules), and `import cxplay._cli` stays
# light. "module:name" for another name.
_LAZY = {
    "FactValue": "cxplay._common.fields",
    "Decision": "cxplay._engine.decide",
    "BackendName": "cxplay._engine.engine",
    "DecisionSink": "cxplay._engine.engine",
    "Engine": "cxplay._engine.engine",
    "IncidentLike": "cxplay._engine.engine",
    "PlaybookSource": "cxplay._engine.engine",
    "parse_incident": "cxplay._incidents",
    "read_incident": "cxplay._incidents",
    "PlaybookSet": "cxplay._playbooks.loader",
    "load_playbooks": "cxplay._playbooks.loader",
    "shipped_playbooks_dir": "cxplay._playbooks.loader",
    "Renderer": "cxplay._replies.renderer",
    "Customer": "cxplay.models",
    "EventRef": "cxplay.models",
    "Incident": "cxplay.models",
    "Order": "cxplay.models",
    "Playbook": "cxplay.models",
    "Rule": "cxplay.models",
    "Severity": "cxplay.models",
    "Cost": "cxplay.results",
    "FollowUpPlan": "cxplay.results",
    "History": "cxplay.results",
    "Match": "cxplay.results",
    "Reply": "cxplay.results",
    "RuleTrace": "cxplay.results",
    "SuggestedAction": "cxplay.results",
    "Suggestion": "cxplay.results",
    "ValidationReport": "cxplay._playbooks.lint",
    "validate": "cxplay._playbooks.lint:validate_playbooks",
    "ScenarioReport": "cxplay._playbooks.scenarios",
    "ScenarioResult": "cxplay._playbooks.scenarios",
    "run_scenarios": "cxplay._playbooks.scenarios",
    "CustomerDecision": "cxplay._log.store",
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
    if name in ("models", "results"):  # public modules, attributes once imported, as before
        return _import_paused(f"cxplay.{name}")[0]
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'cxplay' has no attribute {name!r}")
    module, _, attribute = module.partition(":")
    value = getattr(_import_paused(module)[0], attribute or name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


_CACHE_SIZE = 8
_cache: dict[tuple[object, ...], tuple[tuple[object, ...], Engine[None]]] = {}
_cache_lock = threading.Lock()


def _fingerprint(paths: tuple[Path, ...]) -> tuple[object, ...]:
    """What the one-shot cache compares: each playbook and reply file's time and size."""
    seen: list[tuple[str, int, int]] = []
    for path in paths:
        if path.is_dir():
            folders = [str(path), os.path.join(path, "replies")]
        else:
            folders = [os.path.join(path.parent, "replies")]
            try:
                stat = path.stat()
                seen.append((str(path), stat.st_mtime_ns, stat.st_size))
            except OSError:
                pass
        for folder in folders:
            try:
                with os.scandir(folder) as entries:
                    for entry in entries:
                        if entry.is_file():
                            stat = entry.stat()
                            seen.append((entry.path, stat.st_mtime_ns, stat.st_size))
            except OSError:
                continue
    seen.sort()
    return tuple(seen)


def suggest(
    incident: IncidentLike,
    *,
    playbooks: PlaybookSource | None = None,
    language: str | None = None,
    now: _datetime | None = None,
    explain: bool = False,
    allow_unknown_type: bool = False,
    backend: BackendName = "auto",
) -> Suggestion:
    """One-shot convenience: suggest for an incident under ``playbooks`` (default: shipped).

    The engine is built once per playbook source (and backend and ``allow_unknown_type``)
    and kept: a later call costs what :meth:`Engine.suggest` costs, and a change to a
    playbook or reply file (its time or size) builds it again. ``language``, ``now`` and
    ``explain`` are :meth:`Engine.suggest`'s; ``allow_unknown_type`` accepts a type one
    typo away from a known one (see :class:`Engine`). A service that wants to choose when
    playbooks change should build its own :class:`Engine`.

    Example:
        >>> s = suggest({"type": "parcel_damaged", "channel": "email"}, language="pl")
        >>> s.actions[0].kind, s.reply.language if s.reply else None
        ('apology', 'pl')
    """
    _import_paused("cxplay._engine.engine")
    from cxplay._engine.engine import Engine
    from cxplay._playbooks.loader import shipped_playbooks_dir

    if playbooks is None:
        paths: tuple[Path, ...] = (shipped_playbooks_dir(),)
    elif isinstance(playbooks, str | Path):
        paths = (Path(playbooks),)
    else:
        paths = tuple(Path(p) for p in playbooks)
    key = (paths, backend, allow_unknown_type)
    stamp = _fingerprint(paths)
    with _cache_lock:
        cached = _cache.get(key)
    if cached is not None and cached[0] == stamp:
        engine = cached[1]
    else:
        # a new engine: an old one is freed when the calls still using it are done
        engine = Engine.from_path(
            list(paths), backend=backend, allow_unknown_type=allow_unknown_type
        )
        with _cache_lock:
            if key not in _cache and len(_cache) >= _CACHE_SIZE:
                del _cache[next(iter(_cache))]
            _cache[key] = (stamp, engine)
    return engine.suggest(incident, explain=explain, now=now, language=language)
