"""Reply settings: who signs (``replies/config.toml``) and what a reply depends on.

:class:`ReplyContext` is everything a reply depends on besides the incident.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from pydantic import Field

from cxplay._common.models import Frozen
from cxplay._replies.locale import SUPPORTED
from cxplay.results import SuggestedAction


@dataclass(frozen=True)
class ReplyConfig:
    """``replies/config.toml``: who signs the replies."""

    company: str = "Customer Care"
    agent: Mapping[str, str] = field(default_factory=dict)  # language -> signature line
    contact: Mapping[str, str] = field(default_factory=dict)


class _Signature(Frozen):
    company: str | None = None
    agent: str | dict[str, str] | None = None
    contact: dict[str, str] | None = None

    def apply(self, base: ReplyConfig) -> ReplyConfig:
        agent = base.agent
        if isinstance(self.agent, str):
            agent = {lang: self.agent for lang in SUPPORTED}
        elif self.agent is not None:
            agent = dict(self.agent)
        return ReplyConfig(
            company=self.company or base.company,
            agent=agent,
            contact=self.contact if self.contact is not None else base.contact,
        )


class _ConfigFile(_Signature):
    """``replies/config.toml``; ``[signature.<playbook id>]`` overrides it per playbook."""

    signature: dict[str, _Signature] = Field(default_factory=dict)


@dataclass(frozen=True)
class ReplyContext:
    """Everything a reply depends on besides the incident."""

    actions: Sequence[SuggestedAction]
    languages: Sequence[str]
    default_language: str
    tone: str = "formal"
    respond_by: datetime | None = None
    follow_ups: Sequence[Any] = ()
    severity: str = "low"
    playbook: str | None = None  # id of the playbook whose rule leads: who signs
    promise: Mapping[str, Any] = field(default_factory=dict)  # its SLA: channel -> timedelta
    business: frozenset[str] = frozenset()  # channels whose SLA counts the calendar's open time
    # the team's time zone (its [calendar]): times are said in it when the customer has none
    zone: str | None = None
    # per action: (its rule's declared position, its recovery step); empty: ranked order,
    # steps by kind
    said: Sequence[tuple[int, str]] = ()
    now: datetime | None = None  # the moment deadlines count from (the decision's)


def whole_context(values: dict[str, Any]) -> ReplyContext:
    """``ReplyContext(**values)`` for values that give every field, built in one step.

    The frozen dataclass's ``__init__`` sets its thirteen fields one ``object.__setattr__``
    at a time; the engine builds one per suggestion with every field, so they are put in
    at once (``tests/test_render_fast.py`` holds the result equal to the constructor's,
    field for field and in order).
    """
    context = object.__new__(ReplyContext)
    context.__dict__.update(values)
    return context
