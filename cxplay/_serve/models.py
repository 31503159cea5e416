"""The service's own request and response models (OpenAPI is generated from these).

The incident and the suggestion are the library's models (:class:`cxplay.Incident`,
:class:`cxplay.Suggestion`): ``/v1/suggest`` speaks exactly the CLI's JSON contract.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "FactInfo",
    "FeedbackRequest",
    "FeedbackResponse",
    "GivenInfo",
    "Health",
    "IncidentTypeInfo",
    "OutcomeRequest",
    "OutcomeResponse",
    "PlaybookInfo",
    "PlaybookList",
    "ProblemDetails",
    "Readiness",
    "ReloadStatus",
    "ValidateReport",
    "ValidateRequest",
]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ProblemDetails(_Model):
    """An error, as RFC 9457 ``application/problem+json``; never a stack trace."""

    type: str = Field(default="about:blank", description="A URI naming the kind of problem.")
    title: str = Field(description="The HTTP reason phrase, e.g. 'Unprocessable Content'.")
    status: int
    detail: str = Field(description="The CLI's message: one line, problems joined by '; '.")
    errors: list[str] = Field(
        default_factory=list, description="One line per problem, as `cxplay` prints them."
    )


class Health(_Model):
    """``/healthz``: the process answers."""

    status: Literal["ok"] = "ok"


class ReloadStatus(_Model):
    """The last time the playbooks were (re)loaded, and how it went."""

    ok: bool
    at: datetime
    reloads: int = Field(description="Reloads attempted since start (the first load excluded).")
    errors: list[str] = Field(
        default_factory=list, description="Why the last reload was refused, one line each."
    )


class Readiness(_Model):
    """``/readyz``: playbooks loaded (and the decision log reachable, when configured)."""

    ready: bool
    playbooks: int
    rules: int
    backend: str
    last_reload: ReloadStatus
    log: Literal["ok", "unreachable", "broken", "off"] = Field(
        default="off",
        description="off: no log; unreachable: cannot connect; broken: reachable but not "
        "writing (a damaged schema, a locked or read-only store, a stopped writer).",
    )
    watcher: Literal["running", "stopped", "off"] = Field(
        default="off",
        description="The playbook watcher: 'stopped' means changes on disk are not noticed "
        "now (it restarts by itself; SIGHUP or POST /v1/reload reload meanwhile).",
    )
    errors: list[str] = Field(default_factory=list, description="Why not ready.")


class PlaybookInfo(_Model):
    """One loaded playbook (``cxplay playbooks --format json`` without the file path)."""

    id: str
    version: str
    rules: int
    tests: int
    languages: list[str]
    default_language: str
    title: str | None


class FactInfo(_Model):
    """A fact the playbooks read for an incident type."""

    name: str
    type: str
    required: bool
    description: str | None = None


class IncidentTypeInfo(_Model):
    """An incident type some rule names, with the facts its rules and correlations read."""

    type: str
    facts: list[FactInfo]


class PlaybookList(_Model):
    """``/v1/playbooks``: what the service serves."""

    playbooks: list[PlaybookInfo]
    types: list[IncidentTypeInfo]
    channels: list[str]
    languages: list[str]


class ValidateRequest(_Model):
    """A playbook set to check (not installed): file name -> TOML text.

    Names are relative paths ending in ``.toml``: playbooks at the top, reply catalogs
    under ``replies/`` (``replies/parcel.en.toml``, ``replies/config.toml``).
    """

    files: dict[str, str] = Field(min_length=1, max_length=200)


class ValidateReport(_Model):
    """What ``cxplay validate`` says about an uploaded set."""

    ok: bool
    problems: list[str]
    playbooks: int
    rules: int


class OutcomeRequest(_Model):
    """What the agent did with a suggestion (``cxplay outcome``)."""

    decision_id: str = Field(min_length=6, max_length=64, description="Or a unique prefix of it.")
    status: Literal["accepted", "edited", "rejected"]
    actions: list[str] | None = Field(
        default=None, max_length=50, description="Action kinds taken (default: all suggested)."
    )
    note: str | None = Field(default=None, max_length=10_000)
    given: (
        dict[Annotated[str, Field(max_length=64)], Annotated[float, Field(strict=True)]] | None
    ) = Field(
        default=None,
        max_length=50,
        description="Compensation that happened: kind -> amount (order currency).",
    )


class GivenInfo(_Model):
    """Compensation that happened."""

    kind: str
    amount: float | None
    currency: str | None
    rule: str | None = None


class OutcomeResponse(_Model):
    """The outcome as recorded."""

    decision_id: str
    status: Literal["accepted", "edited", "rejected"]
    actions: list[str]
    given: list[GivenInfo]
    note: str | None
    at: datetime
    replaced: bool


class FeedbackRequest(_Model):
    """Survey answers for a decision (``cxplay feedback``); at least one score."""

    decision_id: str = Field(min_length=6, max_length=64)
    # strict: true is not a score of 1
    csat: int | None = Field(default=None, ge=1, le=5, strict=True)
    nps: int | None = Field(default=None, ge=0, le=10, strict=True)
    ces: int | None = Field(default=None, ge=1, le=7, strict=True)


class FeedbackResponse(_Model):
    """The scores recorded."""

    decision_id: str
    csat: int | None
    nps: int | None
    ces: int | None
