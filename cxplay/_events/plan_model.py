"""The saved form of a contingency plan: its models, its constants and its digests.

:func:`~cxplay._events.plan.build_plan` fills these models; :mod:`cxplay._events.store`
writes and reads them, and compares the digests recorded here with the current files to tell
when a plan is stale.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any, Final, Literal

from pydantic import AwareDatetime, Field

from cxplay._common.models import Frozen
from cxplay._events.model import Event
from cxplay._events.replan import Replan
from cxplay.results import Suggestion

if TYPE_CHECKING:
    from cxplay._playbooks.loader import PlaybookSet

#: The value of ``format`` in every plan this version writes and reads.
PLAN_FORMAT: Final = "cxplay-plan/2"  # 2: digests.content
#: How late each speaker may be, in minutes.
SPEAKER_DELAYS = (15, 30, 60)
#: How late each guest may be, in minutes.
GUEST_DELAYS = (30, 60, 120)
#: How early a guest arrives in the "before breakfast" scenario, in minutes.
EARLY_MINUTES = 90

Party = Literal["speaker", "guest", "attendee", "attendees", "chair", "venue"]
About = Literal["speaker", "guest", "session"]

_PARTY_LABEL: Mapping[str, str] = {
    "speaker": "the speaker",
    "guest": "the guest",
    "attendee": "an online attendee who writes in",
    "attendees": "the attendees",
    "chair": "the chair",
    "venue": "the venue manager",
}

# --------------------------------------------------------------------------- models


class Message(Frozen):
    """One message of a scenario, ready to send: to whom, in which language and channel."""

    to: Party
    name: str | None = Field(description="The person's name; None for a group.")
    language: str
    channel: str
    contact: str | None = Field(default=None, description="Where to send it, if known.")
    subject: str | None = None
    body: str


class Scenario(Frozen):
    """A foreseeable incident, the engine's answer, the re-plan and every message."""

    id: str = Field(description="e.g. 'speaker_late/whitfield/30'.")
    type: str = Field(description="The incident type.")
    about: About
    subject_id: str = Field(description="The speaker's, guest's or session's id.")
    subject_name: str
    title: str = Field(description="One line for the organisers, in English.")
    outcome: str = Field(description="What happens, in a few words (English).")
    delay_minutes: int | None = None
    cancelled: bool = False
    facts: dict[str, Any]
    incident: dict[str, Any]
    suggestion: Suggestion
    replan: Replan | None = None
    messages: tuple[Message, ...]
    notes: tuple[str, ...] = ()


class Digests(Frozen):
    """What a plan was built from, to tell when it is stale."""

    event: str = Field(description="sha256 of the event's validated content.")
    playbooks: str = Field(description="sha256 over the playbook and reply files, sorted.")
    files: tuple[str, ...] = Field(description="Those files, relative to their directory.")
    content: str = Field(
        default="",
        description="sha256 of the plan itself (all but this field): a plan changed or cut "
        "short after cxplay wrote it is refused when read back.",
    )


class Plan(Frozen):
    """A preloaded contingency plan: everything ``cxplay suggest --plan`` needs offline.

    Serialise with :func:`dump_plan` (field aliases of the event, such as ``session``, are
    the event file's own keys) and read with :func:`load_plan`.
    """

    format: Literal["cxplay-plan/2"] = PLAN_FORMAT
    cxplay_version: str
    created_at: AwareDatetime
    event_source: str | None = None
    margin_minutes: int = Field(ge=0)
    digests: Digests
    event: Event
    scenarios: tuple[Scenario, ...]


class Freshness(Frozen):
    """The answer of :func:`check_plan`."""

    fresh: bool
    reasons: tuple[str, ...] = ()

    @property
    def message(self) -> str:
        """``fresh``, or ``stale: ...`` with every reason."""
        return "fresh" if self.fresh else "stale: " + "; ".join(self.reasons)


class OfflineAnswer(Frozen):
    """The scenario that answers an on-the-day question, and how the question differed."""

    scenario: Scenario
    asked: dict[str, Any] = Field(description="The question: type and facts.")
    exact: bool = Field(description="True when the scenario is exactly what was asked.")
    note: str = Field(description="Which scenario answers, and why (English).")
    differences: tuple[str, ...] = ()
    warning: str | None = Field(
        default=None, description="Set when the precomputed messages may not fit the question."
    )
    replan: Replan | None = Field(
        default=None, description="The re-plan for the exact delay asked, when it differs."
    )


# --------------------------------------------------------------------------- helpers


def _minutes(span: dt.timedelta) -> int:
    return int(span.total_seconds() // 60)


def _sha256(chunks: Iterable[bytes]) -> str:
    digest = hashlib.sha256()
    for chunk in chunks:
        digest.update(chunk)
    return f"sha256:{digest.hexdigest()}"


def _event_data(event: Event) -> dict[str, Any]:
    return event.model_dump(mode="json", by_alias=True)


def event_digest(event: Event) -> str:
    """The sha256 of an event's validated content (comments and layout do not count)."""
    text = json.dumps(_event_data(event), sort_keys=True, ensure_ascii=False)
    return _sha256([text.encode("utf-8")])


def content_digest(plan: Plan) -> str:
    """The sha256 of a plan's content: every field but ``digests.content`` itself."""
    data = plan.model_dump(mode="json", by_alias=True)
    data["digests"].pop("content", None)
    text = json.dumps(data, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return _sha256([text.encode("utf-8")])


def playbooks_digest(playbooks: PlaybookSet) -> tuple[str, tuple[str, ...]]:
    """The sha256 over the playbook files and the reply files beside them, and their names.

    Files are named relative to their directory (``events.toml``, ``replies/plan.pl.toml``)
    so that a copy of the same playbooks elsewhere has the same digest; each contributes its
    name and the sha256 of its bytes, in sorted order.
    """
    from cxplay._engine.engine import replies_dirs

    files = [(path.name, path) for path in playbooks.files]
    for directory in replies_dirs(playbooks):
        files.extend((f"replies/{path.name}", path) for path in sorted(directory.glob("*.toml")))
    entries = sorted((name, hashlib.sha256(path.read_bytes()).hexdigest()) for name, path in files)
    digest = _sha256(f"{name}\0{sha}\n".encode() for name, sha in entries)
    return digest, tuple(name for name, _ in entries)
