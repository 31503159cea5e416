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

from collections.abc import Iterable
from pathlib import Path

from cxplay._engine import Engine, IncidentLike
from cxplay._loader import PlaybookSet, load_playbooks, shipped_playbooks_dir
from cxplay._version import __version__
from cxplay.errors import (
    CompileError,
    ConditionError,
    CxplayError,
    EventFileError,
    IncidentError,
    LoadError,
    PlanError,
    PlaybookError,
    Problem,
    RenderError,
    SchemaError,
    TemplateError,
)
from cxplay.models import Incident, Playbook, Rule
from cxplay.results import Match, Reply, RuleTrace, SuggestedAction, Suggestion

__all__ = [
    "CompileError",
    "ConditionError",
    "CxplayError",
    "Engine",
    "EventFileError",
    "Incident",
    "IncidentError",
    "LoadError",
    "Match",
    "PlanError",
    "Playbook",
    "PlaybookError",
    "PlaybookSet",
    "Problem",
    "RenderError",
    "Reply",
    "Rule",
    "RuleTrace",
    "SchemaError",
    "SuggestedAction",
    "Suggestion",
    "TemplateError",
    "__version__",
    "load_playbooks",
    "shipped_playbooks_dir",
    "suggest",
]


def suggest(
    incident: IncidentLike, playbooks: Path | str | Iterable[Path | str] | None = None
) -> Suggestion:
    """One-shot convenience: load ``playbooks`` (default: shipped) and suggest for an incident.

    Services that answer many incidents should build one :class:`Engine` and reuse it.
    """
    with Engine.from_path(
        list(playbooks)
        if isinstance(playbooks, Iterable) and not isinstance(playbooks, str | Path)
        else playbooks
    ) as engine:
        return engine.suggest(incident)
