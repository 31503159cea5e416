"""Preloaded contingency plans for events: ``cxplay plan`` and ``cxplay suggest --plan``.

Organisers prepare for what can go wrong before an event; on the day they need answers in
seconds, often on a venue's flaky network. :func:`build_plan` enumerates the foreseeable
incidents of an :class:`~cxplay._events.Event`, runs the engine on each and renders every
message in advance; the :class:`Plan` is saved as ``plan.json`` and answers questions later
without the playbooks (:func:`answer_offline`).

Scenarios, in this order (each speaker and guest in the order of the event file):

- ``speaker_late/<speaker>/<minutes>`` -- each speaker with a session, late by each of
  :data:`SPEAKER_DELAYS`. They were due at their travel's arrival or, without travel, at
  their first session's start minus the margin; :func:`~cxplay._replan.replan` revises the
  agenda for that arrival plus the delay.
- ``speaker_late/<speaker>/cancelled`` -- each speaker who comes by flight or train: the
  connection is cancelled. Nothing is re-planned: the chair decides (``escalate_to_chair``).
- ``guest_early_arrival/<guest>`` -- each guest arrives :data:`EARLY_MINUTES` early, before
  breakfast: the venue prepares a place to wait and breakfast.
- ``guest_travel_disrupted/<guest>/<minutes>`` -- each guest late by each of
  :data:`GUEST_DELAYS`: the venue welcomes them and keeps breakfast aside if they miss it,
  and has nearby places to suggest.
- ``webinar_missed/<session>`` -- each online session with a replay: online attendees who
  missed it get the replay link.

Messages: the person concerned (the speaker, the guest, an online attendee) gets the
engine's reply, rendered from the playbooks in their language (``sms`` when they have a
phone, since they are on the move, else ``email``). Everyone else gets a *notice* rendered
from the ``notice*`` fragments of ``replies/plan.<lang>.toml``: the chair and the venue
manager in their own language (``chat`` when they have a phone, else ``email``); the
attendees by e-mail in *every* language of the event, default language first -- the audience
of a multilingual event reads all of them, and the organisers pick what to post. Only the
parties who need to act are written to: a late speaker whose sessions need not move is a
note to the chair, not an announcement.

Staleness: a plan records a digest of the event (its validated content, so editing a comment
keeps the plan fresh) and of the playbook and reply files it was built from;
:func:`check_plan` compares them with the current files.

On the day, :func:`answer_offline` picks the precomputed scenario nearest to the question:
the same type; the same person (id or name, any case; a did-you-mean on a miss);
``cancelled=true`` picks the cancelled-travel scenario. For a delay without a scenario of its
own, a late speaker is re-planned for the exact delay (the re-planner is pure Python and runs
offline) and the scenarios with the *same* re-plan win: 40 minutes late answers from the
30-minute scenario when both leave the agenda as it is, instead of swapping a keynote for
nothing. Among those -- or among all, when none matches -- the nearest delay wins, ties to
the larger (a plan that gives the speaker more time is one they can keep). When the exact
re-plan escalates and no timed scenario does, the cancelled-travel scenario answers, since it
escalates too. The answer says which scenario it used and how the question differed, and
warns when the precomputed messages may not fit.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import difflib
import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from os import PathLike
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, Literal

from markupsafe import escape
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationError

from cxplay import _i18n
from cxplay._events import Event, Guest, Person, Session, Speaker, Travel
from cxplay._replan import DEFAULT_MARGIN, Change, Replan, replan
from cxplay._version import __version__
from cxplay.errors import PlanError, RenderError
from cxplay.results import Suggestion

if TYPE_CHECKING:
    from cxplay._engine import Engine
    from cxplay._loader import PlaybookSet
    from cxplay._render import Renderer

__all__ = [
    "EARLY_MINUTES",
    "GUEST_DELAYS",
    "PLAN_FORMAT",
    "SPEAKER_DELAYS",
    "Digests",
    "Freshness",
    "Message",
    "OfflineAnswer",
    "Plan",
    "Scenario",
    "answer_offline",
    "build_plan",
    "check_plan",
    "dump_plan",
    "event_digest",
    "load_plan",
    "parse_plan",
    "playbooks_digest",
    "render_answer_markdown",
    "render_answer_text",
    "render_runbook_html",
    "render_runbook_markdown",
]

#: The value of ``format`` in every plan this version writes and reads.
PLAN_FORMAT: Final = "cxplay-plan/1"
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
_CANCELLABLE = ("flight", "train")


class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


# --------------------------------------------------------------------------- models


class Message(_Frozen):
    """One message of a scenario, ready to send: to whom, in which language and channel."""

    to: Party
    name: str | None = Field(description="The person's name; None for a group.")
    language: str
    channel: str
    contact: str | None = Field(default=None, description="Where to send it, if known.")
    subject: str | None = None
    body: str


class Scenario(_Frozen):
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


class Digests(_Frozen):
    """What a plan was built from, to tell when it is stale."""

    event: str = Field(description="sha256 of the event's validated content.")
    playbooks: str = Field(description="sha256 over the playbook and reply files, sorted.")
    files: tuple[str, ...] = Field(description="Those files, relative to their directory.")


class Plan(_Frozen):
    """A preloaded contingency plan: everything ``cxplay suggest --plan`` needs offline.

    Serialise with :func:`dump_plan` (field aliases of the event, such as ``session``, are
    the event file's own keys) and read with :func:`load_plan`.
    """

    format: Literal["cxplay-plan/1"] = PLAN_FORMAT
    cxplay_version: str
    created_at: AwareDatetime
    event_source: str | None = None
    margin_minutes: int = Field(ge=0)
    digests: Digests
    event: Event
    scenarios: tuple[Scenario, ...]


class Freshness(_Frozen):
    """The answer of :func:`check_plan`."""

    fresh: bool
    reasons: tuple[str, ...] = ()

    @property
    def message(self) -> str:
        """``fresh``, or ``stale: ...`` with every reason."""
        return "fresh" if self.fresh else "stale: " + "; ".join(self.reasons)


class OfflineAnswer(_Frozen):
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


def playbooks_digest(playbooks: PlaybookSet) -> tuple[str, tuple[str, ...]]:
    """The sha256 over the playbook files and the reply files beside them, and their names.

    Files are named relative to their directory (``events.toml``, ``replies/plan.pl.toml``)
    so that a copy of the same playbooks elsewhere has the same digest; each contributes its
    name and the sha256 of its bytes, in sorted order.
    """
    from cxplay._engine import replies_dirs

    files = [(path.name, path) for path in playbooks.files]
    for directory in replies_dirs(playbooks):
        files.extend((f"replies/{path.name}", path) for path in sorted(directory.glob("*.toml")))
    entries = sorted((name, hashlib.sha256(path.read_bytes()).hexdigest()) for name, path in files)
    digest = _sha256(f"{name}\0{sha}\n".encode() for name, sha in entries)
    return digest, tuple(name for name, _ in entries)


def _day(event: Event) -> dt.date:
    if event.info.date is not None:
        return event.info.date
    if event.sessions:
        return min(s.start for s in event.sessions).astimezone(event.tz).date()
    assert event.info.start is not None  # an event has a date, or a start and an end
    return event.info.start.astimezone(event.tz).date()


def _day_end(event: Event) -> dt.datetime:
    if event.info.end is not None:
        return event.info.end
    if event.sessions:
        return max(s.end for s in event.sessions)
    return dt.datetime.combine(_day(event), dt.time(23, 59), tzinfo=event.tz)


def _when(moment: dt.datetime, event: Event) -> str:
    local = moment.astimezone(event.tz)
    return f"{local:%H:%M}" if local.date() == _day(event) else f"{local:%Y-%m-%d %H:%M}"


def _slot(start: dt.datetime, end: dt.datetime, event: Event) -> str:
    return f"{_when(start, event)}–{_when(end, event)}"


def _order(event: Event) -> dict[str, int]:
    return {s.id: i for i, s in enumerate(event.sessions)}


def _own_sessions(event: Event, speaker: Speaker) -> list[Session]:
    order = _order(event)
    own = [s for s in event.sessions if s.speaker == speaker.id]
    return sorted(own, key=lambda s: (s.start, order[s.id]))


def _speaker_names(event: Event) -> dict[str, str]:
    return {s.id: s.name for s in event.speakers}


def _travel_words(travel: Travel | None) -> str:
    """The journey in English, for the runbook: ``flight LO 282 from London Heathrow``."""
    if travel is None:
        return ""
    noun = {"flight": "flight", "train": "train", "car": "drive"}.get(travel.mode, "journey")
    reference = f" {travel.reference}" if travel.reference else ""
    origin = f" from {travel.origin}" if travel.origin else ""
    return f"{noun}{reference}{origin}"


def _travel_fact(travel: Travel | None) -> dict[str, Any]:
    return {} if travel is None else {"travel_mode": travel.mode}


def _restaurant_tip(event: Event) -> dict[str, Any]:
    """The nearest place for a meal: a restaurant or canteen, else a café, bakery or bar."""
    rank = {"restaurant": 0, "canteen": 0, "cafe": 1, "bakery": 1, "bar": 2}
    places = [p for p in event.venue.nearby if p.kind in rank]
    if not places:
        return {}
    best = min(places, key=lambda p: (rank[p.kind], p.walk_minutes, p.name))
    return {"restaurant_tip": best.name}


def _replan_kind(revised: Replan) -> str:
    """``none``, ``swap``, ``move_room`` or ``escalate``: what the re-planner decided."""
    if not revised.feasible:
        return "escalate"
    kinds = {c.kind for c in revised.moves}
    return "move_room" if "move_room" in kinds else ("swap" if kinds else "none")


def _phone_first(contact: Any) -> bool:
    return contact is not None and getattr(contact, "phone", None) is not None


# --------------------------------------------------------------------------- building


@dataclasses.dataclass
class _Case:
    """A scenario being built: what happened, to whom, and what the re-planner says."""

    id: str
    type: str
    about: About
    subject_id: str
    subject_name: str
    title: str
    occurred_at: dt.datetime
    facts: dict[str, Any]
    delay: int | None = None
    cancelled: bool = False
    early: int | None = None
    person: Speaker | Guest | None = None
    session: Session | None = None
    scheduled: dt.datetime | None = None
    arrival: dt.datetime | None = None
    sessions: list[Session] = dataclasses.field(default_factory=list)
    affected: list[Session] = dataclasses.field(default_factory=list)
    replan: Replan | None = None


def _speaker_cases(event: Event, margin: dt.timedelta) -> list[_Case]:
    cases: list[_Case] = []
    for speaker in event.speakers:
        own = _own_sessions(event, speaker)
        if not own:
            continue
        scheduled = speaker.arrival if speaker.arrival is not None else own[0].start - margin
        for delay in SPEAKER_DELAYS:
            arrival = scheduled + dt.timedelta(minutes=delay)
            revised = replan(event, speaker.id, arrival, margin)
            late = [s for s in own if s.start < revised.ready_at]
            first = (late or own)[0]
            cases.append(
                _Case(
                    id=f"speaker_late/{speaker.id}/{delay}",
                    type="speaker_late",
                    about="speaker",
                    subject_id=speaker.id,
                    subject_name=speaker.name,
                    title=f"{speaker.name} is {delay} minutes late",
                    occurred_at=scheduled,
                    facts={
                        "delay_minutes": delay,
                        "session_starts_in_minutes": _minutes(first.start - scheduled),
                        **_travel_fact(speaker.travel),
                        "replan": _replan_kind(revised),
                    },
                    delay=delay,
                    person=speaker,
                    session=first,
                    scheduled=scheduled,
                    arrival=arrival,
                    sessions=own,
                    affected=late,
                    replan=revised,
                )
            )
        travel = speaker.travel
        if travel is not None and travel.mode in _CANCELLABLE:
            cases.append(
                _Case(
                    id=f"speaker_late/{speaker.id}/cancelled",
                    type="speaker_late",
                    about="speaker",
                    subject_id=speaker.id,
                    subject_name=speaker.name,
                    title=f"{speaker.name}'s {_travel_words(travel)} is cancelled",
                    occurred_at=scheduled,
                    facts={
                        "delay_minutes": max(0, _minutes(_day_end(event) - scheduled)),
                        "session_starts_in_minutes": _minutes(own[0].start - scheduled),
                        "cancelled": True,
                        **_travel_fact(travel),
                        "replan": "escalate",
                    },
                    cancelled=True,
                    person=speaker,
                    session=own[0],
                    scheduled=scheduled,
                    sessions=own,
                    affected=own,
                    replan=_cancelled_replan(event, speaker, own),
                )
            )
    return cases


def _cancelled_replan(event: Event, speaker: Speaker, own: Sequence[Session]) -> Replan:
    order = _order(event)
    chair = event.contacts.chair
    titles = " and ".join(f"'{s.title}' ({_slot(s.start, s.end, event)}, {s.room})" for s in own)
    return Replan(
        feasible=False,
        speaker=speaker.id,
        ready_at=_day_end(event),  # not expected today
        changes=(),
        agenda=tuple(sorted(event.sessions, key=lambda s: (s.start, order[s.id]))),
        reason=(
            f"{speaker.name}'s {_travel_words(speaker.travel)} is cancelled: {titles} cannot "
            f"go ahead as planned. Escalate to the chair, {chair.name} ({chair.contact})."
        ),
        escalate_to_chair=True,
    )


def _guest_cases(event: Event) -> list[_Case]:
    cases: list[_Case] = []
    for guest in event.guests:
        scheduled = guest.arrival
        early = scheduled - dt.timedelta(minutes=EARLY_MINUTES)
        cases.append(
            _Case(
                id=f"guest_early_arrival/{guest.id}",
                type="guest_early_arrival",
                about="guest",
                subject_id=guest.id,
                subject_name=guest.name,
                title=f"{guest.name} arrives {EARLY_MINUTES} minutes early",
                occurred_at=early,
                facts={
                    "arrival_time": _when(early, event),
                    "early_minutes": EARLY_MINUTES,
                    **_travel_fact(guest.travel),
                },
                early=EARLY_MINUTES,
                person=guest,
                scheduled=scheduled,
                arrival=early,
            )
        )
        for delay in GUEST_DELAYS:
            arrival = scheduled + dt.timedelta(minutes=delay)
            under_way = [s for s in event.sessions if s.speaker and scheduled <= s.start < arrival]
            cases.append(
                _Case(
                    id=f"guest_travel_disrupted/{guest.id}/{delay}",
                    type="guest_travel_disrupted",
                    about="guest",
                    subject_id=guest.id,
                    subject_name=guest.name,
                    title=f"{guest.name} is {delay} minutes late",
                    occurred_at=scheduled,
                    facts={
                        "delay_minutes": delay,
                        "arrival_time": _when(arrival, event),
                        **_travel_fact(guest.travel),
                        **_restaurant_tip(event),
                    },
                    delay=delay,
                    person=guest,
                    scheduled=scheduled,
                    arrival=arrival,
                    affected=sorted(under_way, key=lambda s: (s.start, _order(event)[s.id])),
                )
            )
    return cases


def _webinar_cases(event: Event) -> list[_Case]:
    return [
        _Case(
            id=f"webinar_missed/{session.id}",
            type="webinar_missed",
            about="session",
            subject_id=session.id,
            subject_name=session.title,
            title=f"Online attendees missed '{session.title}'",
            occurred_at=session.end,
            facts={"replay_url": session.replay_url},
            session=session,
        )
        for session in event.sessions
        if session.online and session.replay_url
    ]


def _incident(
    event: Event, case: _Case, customer: Mapping[str, Any], channel: str
) -> dict[str, Any]:
    names = _speaker_names(event)
    session = case.session
    ref: dict[str, Any] = {"id": event.id}
    if session is not None:
        ref["session"] = session.title
        if session.speaker is not None:
            ref["speaker"] = names.get(session.speaker, session.speaker)
    return {
        "id": f"plan:{event.id}:{case.id}",
        "type": case.type,
        "occurred_at": case.occurred_at.isoformat(),
        "channel": channel,
        "stage": "event",
        "customer": {k: v for k, v in customer.items() if v is not None},
        "event": ref,
        "facts": dict(case.facts),
    }


class _Notices:
    """Renders the ``notice*`` fragments of ``replies/plan.<lang>.toml`` into messages."""

    def __init__(self, renderer: Renderer, event: Event) -> None:
        self.renderer = renderer
        self.event = event
        self.available = [
            lang for lang in renderer.languages if renderer.has(lang, "notice.signature")
        ]
        if not self.available:
            raise RenderError(
                "no notice fragments (notice.signature) in any language: "
                "the playbooks' replies/ need plan.<lang>.toml"
            )

    def language(self, tag: str) -> str:
        default = _i18n.negotiate(self.event.info.default_language, self.available, "")[0]
        return _i18n.negotiate(tag, self.available, default or self.available[0])[0]

    def attendee_languages(self) -> list[str]:
        info = self.event.info
        tags = [info.default_language, *info.languages]
        chosen: list[str] = []
        for tag in tags:
            language = self.language(tag)
            if language not in chosen:
                chosen.append(language)
        return chosen

    def text(self, language: str, name: str, channel: str, context: Mapping[str, Any]) -> str:
        text = self.renderer.fragment(language, name, channel, context)
        if text is None:
            raise RenderError(f"missing reply fragment '{name}' ({language}) for cxplay plan")
        return text

    def context(self, language: str, case: _Case) -> dict[str, Any]:
        event = self.event
        names = _speaker_names(event)

        def session(s: Session) -> dict[str, Any]:
            speaker = names.get(s.speaker, s.speaker) if s.speaker else None
            return {
                "id": s.id,
                "title": s.title,
                "room": s.room,
                "start": s.start,
                "end": s.end,
                "speaker": speaker,
            }

        moves: list[Change] = list(case.replan.moves) if case.replan is not None else []
        backup = event.venue.backup_room
        backup_starts = [c.new_start for c in moves if backup and c.new_room == backup]
        person = case.person
        own = next(
            (c for c in moves if person is not None and c.session in {s.id for s in case.sessions}),
            None,
        )
        breakfast: dt.datetime | None = None
        if event.venue.breakfast_until is not None:
            breakfast = dt.datetime.combine(_day(event), event.venue.breakfast_until, event.tz)
        day, zone = _day(event), event.info.timezone

        def when(moment: dt.datetime) -> str:
            on_the_day = moment.astimezone(event.tz).date() == day
            write = _i18n.format_time if on_the_day else _i18n.format_datetime
            return write(moment, language, zone)

        base: dict[str, Any] = {
            _i18n.LANGUAGE_VAR: language,
            _i18n.TIMEZONE_VAR: zone,
            "when": when,
            "event": {
                "id": event.id,
                "title": event.title,
                "venue": event.venue.name,
                "address": event.venue.address,
                "backup_room": backup,
            },
        }
        travel = person.travel if person is not None else None
        travel_text = (
            self.text(language, "notice.travel", "email", {**base, "travel": travel.model_dump()})
            if travel is not None
            else None
        )
        places = sorted(event.venue.nearby, key=lambda p: (p.walk_minutes, p.name))
        place_lines = [
            self.text(language, "notice.place", "email", {**base, "place": p.model_dump()})
            for p in places
        ]
        return {
            **base,
            "person": None
            if person is None
            else {
                "id": person.id,
                "name": person.name,
                "role": case.about,
                "contact": str(person.contact) if person.contact is not None else None,
                "on_site": person.travel is None,
            },
            "travel_text": travel_text,
            "cancelled": case.cancelled,
            "delay_minutes": case.delay,
            "early_minutes": case.early,
            "scheduled_arrival": case.scheduled,
            "arrival": case.arrival,
            "ready_at": case.replan.ready_at if case.replan is not None else None,
            "sessions": [session(s) for s in case.sessions],
            "affected": [session(s) for s in case.affected],
            "session": session(case.session) if case.session is not None else None,
            "changes": [
                {**c.model_dump(), "room_changed": c.new_room != c.old_room} for c in moves
            ],
            "speaker_room": own.new_room if own is not None else None,
            "speaker_start": own.new_start if own is not None else None,
            "backup_room": backup,
            "backup_start": min(backup_starts) if backup_starts else None,
            "breakfast_until": breakfast,
            "breakfast_missed": breakfast is not None
            and case.arrival is not None
            and case.arrival > breakfast,
            "place_lines": place_lines,
            "replay_url": case.session.replay_url if case.session is not None else None,
            "chair": {
                "name": event.contacts.chair.name,
                "contact": str(event.contacts.chair.contact),
            },
            "venue_manager": {
                "name": event.contacts.venue_manager.name,
                "contact": str(event.contacts.venue_manager.contact),
            },
        }

    def message(
        self,
        to: Party,
        case: _Case,
        fragment: str,
        *,
        person: Person | None = None,
        language: str | None = None,
    ) -> Message:
        """A notice: greeting, the fragment's text, and a sign-off for e-mails."""
        if person is not None:
            language = self.language(person.language)
            channel = "chat" if _phone_first(person.contact) else "email"
            greeting = _i18n.salutation(person.name, language, channel=channel)
        else:
            assert language is not None
            channel = "email"
        context = self.context(language, case)
        if person is None:
            greeting = self.text(language, "notice.greeting_attendees", channel, context)
        body = self.text(language, fragment, channel, context)
        parts = [greeting, body]
        subject: str | None = None
        if channel == "email":
            signature = self.text(language, "notice.signature", channel, context)
            parts.append(f"{_i18n.sign_off(language)}\n{signature}")
            name = f"{fragment}_subject"
            if not self.renderer.has(language, name):
                name = "notice.subject"
            subject = self.text(language, name, channel, context)
        return Message(
            to=to,
            name=person.name if person is not None else None,
            language=language,
            channel=channel,
            contact=str(person.contact) if person is not None else None,
            subject=subject,
            body="\n\n".join(p for p in parts if p),
        )


def _engine_message(
    engine: Engine,
    event: Event,
    case: _Case,
    to: Party,
    customer: Mapping[str, Any],
    channel: str,
    contact: str | None,
    now: dt.datetime,
) -> tuple[dict[str, Any], Suggestion, Message | None]:
    incident = _incident(event, case, customer, channel)
    suggestion = engine.suggest(incident, now=now)
    reply = suggestion.reply
    if reply is None:
        return incident, suggestion, None
    message = Message(
        to=to,
        name=customer.get("name"),
        language=reply.language,
        channel=reply.channel,
        contact=contact,
        subject=reply.subject,
        body=reply.body,
    )
    return incident, suggestion, message


def _person_customer(event: Event, person: Speaker | Guest) -> dict[str, Any]:
    return {
        "id": person.id,
        "name": person.name,
        "language": person.language,
        "salutation": getattr(person, "salutation", None),
        "timezone": event.info.timezone,
    }


def _outcome(event: Event, case: _Case) -> str:
    if case.type == "speaker_late":
        revised = case.replan
        assert revised is not None
        if not revised.feasible:
            return "escalate to the chair"
        moves = revised.moves
        if not moves:
            return "no change"
        parts: list[str] = []
        for change in moves:
            if change.kind == "move_room":
                parts.append(
                    f"'{change.title}' to {change.new_room} at {_when(change.new_start, event)}"
                )
        swapped = [c for c in moves if c.kind == "swap"]
        if swapped:
            parts.insert(0, "swap " + " ↔ ".join(f"'{c.title}'" for c in swapped))
        return "; ".join(parts)
    if case.type == "guest_early_arrival":
        assert case.arrival is not None
        return f"arrives {_when(case.arrival, event)}: early breakfast, a place to wait"
    if case.type == "guest_travel_disrupted":
        assert case.arrival is not None
        breakfast = event.venue.breakfast_until
        late = breakfast is not None and case.arrival.astimezone(event.tz).time() > breakfast
        return f"arrives {_when(case.arrival, event)}" + ("; breakfast kept aside" if late else "")
    return "replay link to online attendees"


def _scenario(
    engine: Engine, notices: _Notices, event: Event, case: _Case, now: dt.datetime
) -> Scenario:
    messages: list[Message] = []
    notes: list[str] = []
    chair, venue = event.contacts.chair, event.contacts.venue_manager
    if case.type == "webinar_missed":
        incident: dict[str, Any] = {}
        suggestion: Suggestion | None = None
        for language in notices.attendee_languages():
            messages.append(
                notices.message(
                    "attendees", case, "notice_webinar_missed.attendees", language=language
                )
            )
        for language in notices.attendee_languages():
            customer = {"language": language, "timezone": event.info.timezone}
            found, answer, message = _engine_message(
                engine, event, case, "attendee", customer, "email", None, now
            )
            if suggestion is None:
                incident, suggestion = found, answer
            if message is not None:
                messages.append(message)
        assert suggestion is not None
    else:
        person = case.person
        assert person is not None
        contact = person.contact
        channel = "sms" if _phone_first(contact) else "email"
        incident, suggestion, message = _engine_message(
            engine,
            event,
            case,
            "speaker" if case.about == "speaker" else "guest",
            _person_customer(event, person),
            channel,
            str(contact) if contact is not None else None,
            now,
        )
        if message is not None:
            messages.append(message)
        prefix = f"notice_{case.type}"
        if case.type == "speaker_late":
            revised = case.replan
            assert revised is not None
            if not revised.feasible:
                for language in notices.attendee_languages():
                    messages.append(
                        notices.message(
                            "attendees", case, f"{prefix}.attendees_pending", language=language
                        )
                    )
                messages.append(
                    notices.message("chair", case, f"{prefix}.chair_escalate", person=chair)
                )
            elif revised.moves:
                for language in notices.attendee_languages():
                    messages.append(
                        notices.message("attendees", case, f"{prefix}.attendees", language=language)
                    )
                messages.append(notices.message("chair", case, f"{prefix}.chair", person=chair))
                messages.append(notices.message("venue", case, f"{prefix}.venue", person=venue))
            else:
                messages.append(
                    notices.message("chair", case, f"{prefix}.chair_no_change", person=chair)
                )
        elif case.type == "guest_travel_disrupted":
            messages.append(notices.message("chair", case, f"{prefix}.chair", person=chair))
            messages.append(notices.message("venue", case, f"{prefix}.venue", person=venue))
        else:
            messages.append(notices.message("venue", case, f"{prefix}.venue", person=venue))
    if suggestion.reply is None:
        who = "online attendees" if case.about == "session" else case.subject_name
        why = (
            "no playbook rule matched" if not suggestion.matched else "the playbooks gave no reply"
        )
        notes.append(f"{why} for this incident: write to {who} yourself")
    return Scenario(
        id=case.id,
        type=case.type,
        about=case.about,
        subject_id=case.subject_id,
        subject_name=case.subject_name,
        title=case.title,
        outcome=_outcome(event, case),
        delay_minutes=case.delay,
        cancelled=case.cancelled,
        facts=case.facts,
        incident=incident,
        suggestion=suggestion,
        replan=case.replan,
        messages=tuple(messages),
        notes=tuple(notes),
    )


def build_plan(
    event: Event,
    engine: Engine,
    *,
    event_source: Path | str | None,
    created_at: dt.datetime | None = None,
    margin: dt.timedelta = DEFAULT_MARGIN,
) -> Plan:
    """Precompute every foreseeable incident of an event, with its messages.

    Deterministic for a given event, playbooks and ``created_at``.

    Example:
        >>> event = load_event("examples/events/cxconf-2026.toml")  # doctest: +SKIP
        >>> plan = build_plan(event, Engine.from_path(), event_source=None)  # doctest: +SKIP
        >>> plan.scenarios[0].id  # doctest: +SKIP
        'speaker_late/whitfield/15'

    Args:
        event: the event, as :func:`~cxplay._events.load_event` returns it.
        engine: the engine whose playbooks answer each incident; its ``replies/`` must hold
            the ``notice*`` fragments (the shipped ``plan.<lang>.toml``).
        event_source: the event file, recorded in the plan (None for an event built in code).
        created_at: when the plan is made (default: now); also the engine's ``now``.
        margin: time a late speaker needs between arriving and starting a talk.

    Returns:
        The plan; save it with :func:`dump_plan`.

    Raises:
        RenderError: the playbooks have no notice fragments, or one does not render.
        IncidentError: the playbooks refuse an incident (e.g. a fact of another type).
    """
    now = created_at or dt.datetime.now(dt.timezone.utc)
    if now.tzinfo is None:
        now = now.replace(tzinfo=dt.timezone.utc)
    renderer = engine.renderer
    if renderer is None:
        raise RenderError("the playbooks have no replies/ directory: cxplay plan needs one")
    notices = _Notices(renderer, event)
    cases = [*_speaker_cases(event, margin), *_guest_cases(event), *_webinar_cases(event)]
    scenarios = tuple(_scenario(engine, notices, event, case, now) for case in cases)
    digest, files = playbooks_digest(engine.playbooks)
    return Plan(
        cxplay_version=__version__,
        created_at=now,
        event_source=str(event_source) if event_source is not None else None,
        margin_minutes=_minutes(margin),
        digests=Digests(event=event_digest(event), playbooks=digest, files=files),
        event=event,
        scenarios=scenarios,
    )


# --------------------------------------------------------------------------- saving, loading


def dump_plan(plan: Plan) -> str:
    """The plan as ``plan.json`` text (indented, UTF-8, ending with a newline)."""
    return plan.model_dump_json(by_alias=True, indent=2) + "\n"


def _location(loc: Sequence[Any]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


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
                f"{name}: plan format {found!r} is not the one this cxplay reads "
                f"({PLAN_FORMAT!r}); build the plan again with 'cxplay plan'"
            )
        raise PlanError(f'{name}: not a cxplay plan (no "format": "{PLAN_FORMAT}")')
    try:
        return Plan.model_validate(data)
    except ValidationError as exc:
        errors = exc.errors(include_url=False)
        first = errors[0]
        where = _location(first["loc"])
        message = str(first["msg"])
        more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
        raise PlanError(f"{name}: invalid plan: {where}: {message}{more}") from None


def load_plan(path: str | PathLike[str]) -> Plan:
    """Read and validate ``plan.json``; see :func:`parse_plan`.

    Raises:
        PlanError: the file cannot be read, or is not a valid plan (one line).
    """
    name = str(path)
    try:
        raw = Path(path).read_bytes()
    except FileNotFoundError:
        raise PlanError(f"{name}: no such plan file") from None
    except IsADirectoryError:
        raise PlanError(f"{name}: is a directory, not a plan file") from None
    except OSError as exc:
        raise PlanError(f"{name}: cannot read the plan: {exc.strerror or exc}") from None
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
        event: the event as it is now (:func:`~cxplay._events.load_event`).
        playbooks: the playbooks as they are now (:func:`~cxplay._loader.load_playbooks`).

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


# --------------------------------------------------------------------------- offline answers

_SUBJECT_FACT: Mapping[str, str] = {"speaker": "speaker", "guest": "guest", "session": "session"}


def _did_you_mean(word: str, choices: Sequence[str]) -> str:
    lowered = {c.casefold(): c for c in choices}
    close = difflib.get_close_matches(word.casefold(), list(lowered), n=1, cutoff=0.5)
    return f"; did you mean {lowered[close[0]]!r}?" if close else ""


def _as_minutes(value: Any, key: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise PlanError(f"{key} must be a number of minutes, not {value!r}")
    try:
        number = float(value)
    except ValueError:
        raise PlanError(f"{key} must be a number of minutes, not {value!r}") from None
    if not 0 <= number <= 7 * 24 * 60:
        raise PlanError(f"{key} must be between 0 and {7 * 24 * 60} minutes, not {value!r}")
    return round(number)


def _truthy(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in ("true", "yes", "1")
    return bool(value)


def _moves_key(revised: Replan) -> tuple[bool, tuple[tuple[str, str, dt.datetime], ...]]:
    return revised.feasible, tuple(
        sorted((c.session, c.new_room, c.new_start) for c in revised.moves)
    )


def _nearest(candidates: Sequence[Scenario], delay: int) -> Scenario:
    return min(
        candidates, key=lambda s: (abs((s.delay_minutes or 0) - delay), -(s.delay_minutes or 0))
    )


def answer_offline(
    plan: Plan, incident_type: str, facts: Mapping[str, Any], *, name: str | None = None
) -> OfflineAnswer:
    """Answer an on-the-day question from a preloaded plan, without the playbooks.

    Example:
        >>> facts = {"speaker": "James Whitfield", "delay_minutes": 40}
        >>> answer = answer_offline(plan, "speaker_late", facts)  # doctest: +SKIP
        >>> answer.scenario.id, answer.exact  # doctest: +SKIP
        ('speaker_late/whitfield/30', False)

    Args:
        plan: the plan (:func:`load_plan`).
        incident_type: ``speaker_late``, ``guest_travel_disrupted``, ``guest_early_arrival``
            or ``webinar_missed``.
        facts: who (``speaker``, ``guest`` or ``session``: an id or a name, any case) and
            what (``delay_minutes``; ``cancelled=true`` for a cancelled connection).
        name: who, when ``facts`` does not say (the customer's name of an incident).

    Returns:
        The scenario used, and how it differs from the question.

    Raises:
        PlanError: the plan has no scenario of that type or for that person (with a
            did-you-mean), the person is ambiguous, or a fact is not usable.
    """
    asked: dict[str, Any] = {"type": incident_type, **facts}
    if name is not None and not any(k in facts for k in _SUBJECT_FACT):
        asked["name"] = name
    of_type = [s for s in plan.scenarios if s.type == incident_type]
    if not of_type:
        types = sorted({s.type for s in plan.scenarios})
        raise PlanError(
            f"the plan has no {incident_type!r} scenarios{_did_you_mean(incident_type, types)}"
            f" (it has: {', '.join(types) or 'none'})"
        )
    about = of_type[0].about
    fact = _SUBJECT_FACT[about]
    subjects: dict[str, str] = {}
    for scenario in of_type:
        subjects.setdefault(scenario.subject_id, scenario.subject_name)
    wanted = facts.get(fact, name)
    if wanted is None:
        if len(subjects) != 1:
            listed = ", ".join(f"{i} ({n})" for i, n in subjects.items())
            raise PlanError(f"which {about}? add --fact {fact}=ID_OR_NAME (one of: {listed})")
        subject = next(iter(subjects))
    else:
        key = str(wanted).strip().casefold()
        matches = [i for i, n in subjects.items() if key in (i.casefold(), n.casefold())]
        if not matches:
            hint = _did_you_mean(str(wanted), [*subjects.values(), *subjects])
            raise PlanError(
                f"no {about} {str(wanted)!r} in the plan for {plan.event.id}{hint}"
                f" ({about}s: {', '.join(subjects.values())})"
            )
        subject = matches[0]
    mine = [s for s in of_type if s.subject_id == subject]
    differences: list[str] = []

    if _truthy(facts.get("cancelled", False)):
        chosen = next((s for s in mine if s.cancelled), None)
        if chosen is None:
            raise PlanError(
                f"the plan has no cancelled-travel scenario for {subjects[subject]} "
                "(only flights and trains are planned for); ask with --fact delay_minutes=N"
            )
        note = f"Answered from scenario {chosen.id}: {chosen.title}."
        return OfflineAnswer(scenario=chosen, asked=asked, exact=True, note=note)

    timed = [s for s in mine if s.delay_minutes is not None and not s.cancelled]
    if not timed:  # early arrivals and missed sessions: one scenario each
        chosen = mine[0]
        if "delay_minutes" in facts:
            differences.append("delay_minutes is not used for this type")
        note = f"Answered from scenario {chosen.id}: {chosen.title}."
        return OfflineAnswer(
            scenario=chosen,
            asked=asked,
            exact=not differences,
            note=note,
            differences=tuple(differences),
        )
    if "delay_minutes" not in facts:
        known = ", ".join(str(s.delay_minutes) for s in timed)
        raise PlanError(
            f"how late? add --fact delay_minutes=N (the plan has {known} minutes"
            + (", and cancelled=true" if any(s.cancelled for s in mine) else "")
            + ")"
        )
    delay = _as_minutes(facts["delay_minutes"], "delay_minutes")
    same = [s for s in timed if s.delay_minutes == delay]
    if same:
        chosen = same[0]
        note = f"Answered from scenario {chosen.id}: {chosen.title}."
        return OfflineAnswer(scenario=chosen, asked=asked, exact=True, note=note)

    if incident_type == "speaker_late":
        cancelled = [s for s in mine if s.cancelled]
        return _late_speaker_answer(plan, asked, subject, timed, cancelled, delay)
    chosen = _nearest(timed, delay)
    return OfflineAnswer(
        scenario=chosen,
        asked=asked,
        exact=False,
        note=(
            f"No scenario for exactly {delay} minutes: answered from the nearest, {chosen.id} "
            f"({chosen.title})."
        ),
        differences=(f"delay_minutes: asked {delay}, scenario {chosen.delay_minutes}",),
        warning=(
            f"Its messages say {chosen.delay_minutes} minutes late; adjust the times to "
            f"{delay} minutes before sending."
        ),
    )


def _late_speaker_answer(
    plan: Plan,
    asked: dict[str, Any],
    subject: str,
    timed: Sequence[Scenario],
    cancelled: Sequence[Scenario],
    delay: int,
) -> OfflineAnswer:
    """Prefer the scenario whose re-plan equals the re-plan for the exact delay.

    When nothing fits the exact delay (the chair must decide) and no timed scenario says
    so, the cancelled-travel scenario is the nearest in substance: it escalates too.
    """
    event = plan.event
    speaker = event.find_speaker(subject)
    assert speaker is not None
    margin = dt.timedelta(minutes=plan.margin_minutes)
    own = _own_sessions(event, speaker)
    scheduled = speaker.arrival if speaker.arrival is not None else own[0].start - margin
    exact = replan(event, speaker.id, scheduled + dt.timedelta(minutes=delay), margin)
    wanted = _moves_key(exact)
    alike = [s for s in timed if s.replan is not None and _moves_key(s.replan) == wanted]
    if not exact.feasible and not alike and cancelled:
        chosen = cancelled[0]
        return OfflineAnswer(
            scenario=chosen,
            asked=asked,
            exact=False,
            note=(
                f"Nothing fits {delay} minutes late: answered from {chosen.id}, which also "
                "escalates to the chair."
            ),
            differences=(f"cancelled: asked {delay} minutes late, scenario cancelled travel",),
            warning=(
                f"Its messages to the chair speak of cancelled travel; for {delay} minutes "
                f"late the re-planner gives: {exact.reason}"
            ),
            replan=exact,
        )
    chosen = _nearest(alike or timed, delay)
    assert chosen.delay_minutes is not None
    differences = [f"delay_minutes: asked {delay}, scenario {chosen.delay_minutes}"]
    if alike:
        said = _when(scheduled + dt.timedelta(minutes=chosen.delay_minutes), event)
        real = _when(scheduled + dt.timedelta(minutes=delay), event)
        differences.append(f"arrival: the messages say about {said}; for {delay} minutes, {real}")
        return OfflineAnswer(
            scenario=chosen,
            asked=asked,
            exact=False,
            note=(
                f"No scenario for exactly {delay} minutes: answered from {chosen.id} "
                f"({chosen.title}), whose re-plan is the same as for {delay} minutes "
                f"({chosen.outcome})."
            ),
            differences=tuple(differences),
        )
    return OfflineAnswer(
        scenario=chosen,
        asked=asked,
        exact=False,
        note=(
            f"No scenario for exactly {delay} minutes: answered from the nearest, {chosen.id} "
            f"({chosen.title})."
        ),
        differences=tuple(differences),
        warning=(
            f"Its agenda and messages assume {chosen.delay_minutes} minutes; for {delay} "
            f"minutes the re-planner gives: {exact.reason} Check the times before sending "
            "anything."
        ),
        replan=exact,
    )


# --------------------------------------------------------------------------- runbook: shared


def _anchor(scenario: Scenario) -> str:
    return "s-" + scenario.id.replace("/", "-")


def _situation(plan: Plan, scenario: Scenario) -> str:
    """What happened, in one English sentence, with the times."""
    event = plan.event
    if scenario.about == "session":
        session = next(s for s in event.sessions if s.id == scenario.subject_id)
        return (
            f"'{session.title}' ({_slot(session.start, session.end, event)}, {session.room}) "
            f"was online; the replay is at {session.replay_url}."
        )
    person: Speaker | Guest | None
    if scenario.about == "speaker":
        person = event.find_speaker(scenario.subject_id)
    else:
        person = next((g for g in event.guests if g.id == scenario.subject_id), None)
    assert person is not None
    travel = f" ({_travel_words(person.travel)})" if person.travel is not None else ""
    revised = scenario.replan
    if scenario.cancelled:
        return f"{person.name}'s {_travel_words(person.travel)} is cancelled."
    if scenario.type == "guest_early_arrival":
        early = person.travel.arrival - dt.timedelta(minutes=EARLY_MINUTES)  # type: ignore[union-attr]
        return (
            f"{person.name}{travel} arrives at {_when(early, event)} instead of "
            f"{_when(person.travel.arrival, event)}, before breakfast."  # type: ignore[union-attr]
        )
    delay = dt.timedelta(minutes=scenario.delay_minutes or 0)
    if person.travel is None and revised is not None:
        due = revised.ready_at - delay - dt.timedelta(minutes=plan.margin_minutes)
        return (
            f"{person.name} (on site, due by {_when(due, event)}) is "
            f"{scenario.delay_minutes} minutes late; ready at {_when(revised.ready_at, event)}."
        )
    assert person.travel is not None
    scheduled = person.travel.arrival
    text = (
        f"{person.name}{travel} arrives at {_when(scheduled + delay, event)} instead of "
        f"{_when(scheduled, event)}"
    )
    if revised is not None:
        text += f"; ready at {_when(revised.ready_at, event)}"
    return text + "."


def _party(message: Message) -> str:
    label = _PARTY_LABEL[message.to]
    who = f": {message.name}" if message.name else ""
    where = f" · {message.contact}" if message.contact else ""
    return f"To {label}{who} · {message.language} · {message.channel}{where}"


def _people(plan: Plan) -> list[tuple[str, str, str, str, str, str]]:
    """Rows of (role, name, language, arrives, travel, contact)."""
    event = plan.event
    rows: list[tuple[str, str, str, str, str, str]] = []
    for role, person in (
        ("Chair", event.contacts.chair),
        ("Venue manager", event.contacts.venue_manager),
    ):
        rows.append((role, person.name, person.language, "", "", str(person.contact)))
    for speaker in event.speakers:
        arrives = _when(speaker.arrival, event) if speaker.arrival is not None else "on site"
        rows.append(
            (
                "Speaker",
                speaker.name,
                speaker.language,
                arrives,
                _travel_words(speaker.travel),
                str(speaker.contact),
            )
        )
    for guest in event.guests:
        rows.append(
            (
                "Guest",
                guest.name,
                guest.language,
                _when(guest.arrival, event),
                _travel_words(guest.travel),
                str(guest.contact) if guest.contact else "",
            )
        )
    return rows


def _agenda_rows(plan: Plan, agenda: Sequence[Session]) -> list[tuple[str, str, str, str]]:
    event = plan.event
    names = _speaker_names(event)
    return [
        (
            _slot(s.start, s.end, event),
            s.room,
            s.title + (" (online)" if s.online else ""),
            names.get(s.speaker, s.speaker) if s.speaker else "",
        )
        for s in agenda
    ]


def _sorted_agenda(event: Event) -> list[Session]:
    order = _order(event)
    return sorted(event.sessions, key=lambda s: (s.start, order[s.id]))


def _change_rows(plan: Plan, revised: Replan) -> list[tuple[str, str, str]]:
    event = plan.event
    return [
        (
            c.title,
            f"{_slot(c.old_start, c.old_end, event)} {c.old_room}",
            f"{_slot(c.new_start, c.new_end, event)} {c.new_room}",
        )
        for c in revised.moves
    ]


def _action_lines(scenario: Scenario) -> list[str]:
    """One line per rule: its action kinds and its reason (``plan_b + escalate: ...``)."""
    rules: dict[str, tuple[list[str], str | None]] = {}
    for action in scenario.suggestion.actions:
        kind = action.kind + (" (needs approval)" if action.requires_approval else "")
        kinds, _ = rules.setdefault(action.rule, ([], action.reason))
        kinds.append(kind)
    return [
        " + ".join(kinds) + (f": {reason}" if reason else "") for kinds, reason in rules.values()
    ]


def _offline_example(plan: Plan) -> str:
    late = next((s for s in plan.scenarios if s.type == "speaker_late"), None)
    if late is None:
        return "cxplay suggest --plan plan.json --type TYPE --fact ..."
    return (
        f"cxplay suggest --plan plan.json --type speaker_late --fact speaker={late.subject_id} "
        "--fact delay_minutes=40"
    )


def _sections(plan: Plan) -> list[tuple[str, list[Scenario]]]:
    titles = {
        "speaker_late": "Late speakers",
        "guest_early_arrival": "Guests arriving early",
        "guest_travel_disrupted": "Late guests",
        "webinar_missed": "Online sessions missed",
    }
    sections: dict[str, list[Scenario]] = {}
    for scenario in plan.scenarios:
        sections.setdefault(titles.get(scenario.type, scenario.type), []).append(scenario)
    return list(sections.items())


def _header_lines(plan: Plan) -> list[str]:
    event = plan.event
    venue = event.venue
    place = venue.name + (f", {venue.address}" if venue.address else "")
    lines = [
        f"Event {event.id} on {_day(event).isoformat()} ({event.info.timezone}), at {place}.",
        f"Languages: {', '.join(event.info.languages)} (default {event.info.default_language}).",
    ]
    extras = []
    if venue.backup_room:
        extras.append(f"Backup room: {venue.backup_room}, kept free for re-planning.")
    if venue.breakfast_until is not None:
        extras.append(f"Breakfast until {venue.breakfast_until:%H:%M}.")
    extras.append(f"A late speaker needs {plan.margin_minutes} minutes from arrival to stage.")
    lines.append(" ".join(extras))
    lines.append(f"Plan built {plan.created_at.isoformat()} ({len(plan.scenarios)} scenarios).")
    return lines


# --------------------------------------------------------------------------- runbook: Markdown


def _md(text: str) -> str:
    """Text for a Markdown line: characters that would start markup are escaped."""
    out = text.replace("\\", "\\\\")
    for char in "`*_[]<>|":
        out = out.replace(char, f"\\{char}")
    return " ".join(out.split())


def _md_table(header: Sequence[str], rows: Iterable[Sequence[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines.extend("| " + " | ".join(_md(cell) for cell in row) + " |" for row in rows)
    return lines


def _md_quote(text: str) -> list[str]:
    return [f"> {_md(line)}" if line.strip() else ">" for line in text.split("\n")]


def _md_scenario(plan: Plan, number: int, scenario: Scenario) -> list[str]:
    lines = [
        f'<a id="{_anchor(scenario)}"></a>',
        "",
        f"### {number}. {_md(scenario.title)}",
        "",
        f"Scenario `{scenario.id}` · severity {scenario.suggestion.severity} · facts: "
        + _md(", ".join(f"{k}={v}" for k, v in scenario.facts.items())),
        "",
        f"**Situation.** {_md(_situation(plan, scenario))}",
        "",
    ]
    revised = scenario.replan
    if revised is not None:
        lines += [f"**Decision.** {_md(revised.reason)}", ""]
        if revised.moves:
            lines += _md_table(("Session", "Was", "Now"), _change_rows(plan, revised))
            lines.append("")
    else:
        lines += [f"**Decision.** {_md(scenario.outcome[:1].upper() + scenario.outcome[1:])}.", ""]
    actions = _action_lines(scenario)
    if actions:
        lines += ["**Recovery actions** (from the playbooks):", ""]
        lines += [f"{i}. {_md(line)}" for i, line in enumerate(actions, 1)]
        lines.append("")
    for note in scenario.notes:
        lines += [f"**Note:** {_md(note)}.", ""]
    for message in scenario.messages:
        lines += [f"#### {_md(_party(message))}", ""]
        if message.subject:
            lines += [f"**Subject:** {_md(message.subject)}", ""]
        lines += [*_md_quote(message.body), ""]
    return lines


def render_runbook_markdown(plan: Plan) -> str:
    """The runbook as Markdown: contacts, agenda, an index of scenarios, then each one.

    Headings and explanations are in English; every message is in its reader's language.
    """
    event = plan.event
    lines = [f"# Contingency runbook: {_md(event.title)}", ""]
    lines += [_md(line) for line in _header_lines(plan)]
    lines += ["", f"On the day, offline: `{_offline_example(plan)}`", ""]
    lines += ["## People", ""]
    lines += _md_table(("Role", "Name", "Language", "Arrives", "Travel", "Contact"), _people(plan))
    lines += ["", "## Agenda", ""]
    lines += _md_table(
        ("Time", "Room", "Session", "Speaker"), _agenda_rows(plan, _sorted_agenda(event))
    )
    lines += ["", "## Scenarios", ""]
    rows = []
    numbered = list(enumerate(plan.scenarios, 1))
    for number, scenario in numbered:
        link = f"[{_md(scenario.title)}](#{_anchor(scenario)})"
        rows.append(f"| {number} | {link} | {_md(scenario.outcome)} |")
    lines += ["| # | Scenario | What happens |", "|---|---|---|", *rows, ""]
    number = 0
    for title, scenarios in _sections(plan):
        lines += [f"## {_md(title)}", ""]
        for scenario in scenarios:
            number += 1
            lines += _md_scenario(plan, number, scenario)
    return "\n".join(lines).rstrip("\n") + "\n"


# --------------------------------------------------------------------------- runbook: HTML

_CSS = """
:root { color-scheme: light; }
body { font: 11pt/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "Noto Sans", sans-serif;
  color: #111; margin: 0 auto; max-width: 52rem; padding: 1.5rem; }
h1 { font-size: 1.6rem; margin: 0 0 .5rem; }
h2 { font-size: 1.25rem; border-bottom: 2px solid #333; padding-bottom: .2rem; margin-top: 2rem; }
h3 { font-size: 1.1rem; margin: 0 0 .4rem; }
h4 { font-size: .95rem; margin: 1rem 0 .3rem; }
table { border-collapse: collapse; width: 100%; margin: .5rem 0 1rem; font-size: .92rem; }
th, td { border: 1px solid #bbb; padding: .25rem .45rem; text-align: left; vertical-align: top; }
th { background: #eee; }
code { font-family: ui-monospace, "DejaVu Sans Mono", Menlo, monospace; font-size: .9em; }
.meta { color: #444; font-size: .9rem; }
.scenario { border-top: 1px solid #999; padding-top: 1rem; margin-top: 1.5rem; }
.message { border-left: 4px solid #888; background: #f6f6f6; padding: .4rem .8rem;
  margin: .4rem 0 .9rem; break-inside: avoid; }
.message p { margin: .35rem 0; white-space: pre-wrap; }
.note { border-left: 4px solid #c60; padding-left: .6rem; }
.outcome { font-weight: 600; }
@page { size: A4; margin: 14mm 12mm; }
@media print {
  body { max-width: none; padding: 0; font-size: 10pt; }
  .scenario { break-before: page; border-top: none; margin-top: 0; }
  h2 { break-after: avoid; }
  a { color: inherit; text-decoration: none; }
  tr { break-inside: avoid; }
}
"""


def _h(value: object) -> str:
    return str(escape(str(value)))


def _html_table(header: Sequence[str], rows: Iterable[Sequence[str]]) -> list[str]:
    lines = ["<table>", "<tr>" + "".join(f"<th>{_h(h)}</th>" for h in header) + "</tr>"]
    lines.extend("<tr>" + "".join(f"<td>{_h(c)}</td>" for c in row) + "</tr>" for row in rows)
    lines.append("</table>")
    return lines


def _html_body(text: str) -> str:
    paragraphs = [p for p in text.split("\n\n") if p.strip()]
    return "".join(f"<p>{_h(p)}</p>" for p in paragraphs)


def _html_scenario(plan: Plan, number: int, scenario: Scenario) -> list[str]:
    out = [
        f'<section class="scenario" id="{_h(_anchor(scenario))}">',
        f"<h3>{number}. {_h(scenario.title)}</h3>",
        f'<p class="meta">Scenario <code>{_h(scenario.id)}</code> · severity '
        f"{_h(scenario.suggestion.severity)} · facts: "
        + _h(", ".join(f"{k}={v}" for k, v in scenario.facts.items()))
        + "</p>",
        f"<p><strong>Situation.</strong> {_h(_situation(plan, scenario))}</p>",
    ]
    revised = scenario.replan
    if revised is not None:
        out.append(f"<p><strong>Decision.</strong> {_h(revised.reason)}</p>")
        if revised.moves:
            out += _html_table(("Session", "Was", "Now"), _change_rows(plan, revised))
    else:
        outcome = scenario.outcome[:1].upper() + scenario.outcome[1:]
        out.append(f"<p><strong>Decision.</strong> {_h(outcome)}.</p>")
    actions = _action_lines(scenario)
    if actions:
        out.append("<p><strong>Recovery actions</strong> (from the playbooks):</p><ol>")
        out += [f"<li>{_h(line)}</li>" for line in actions]
        out.append("</ol>")
    out += [f'<p class="note"><strong>Note:</strong> {_h(note)}.</p>' for note in scenario.notes]
    for message in scenario.messages:
        out.append(f'<div class="message" lang="{_h(message.language)}">')
        out.append(f"<h4>{_h(_party(message))}</h4>")
        if message.subject:
            out.append(f"<p><strong>Subject:</strong> {_h(message.subject)}</p>")
        out.append(_html_body(message.body))
        out.append("</div>")
    out.append("</section>")
    return out


def render_runbook_html(plan: Plan) -> str:
    """The runbook as ONE self-contained, printable HTML file.

    Inline CSS with print rules (each scenario starts a page), no scripts, no fonts, images
    or style sheets from elsewhere, and no links out: URLs from the event (replay links)
    are shown as text. Every value is HTML-escaped.
    """
    event = plan.event
    title = f"Contingency runbook: {event.title}"
    out = [
        "<!DOCTYPE html>",
        '<html lang="en">',
        "<head>",
        '<meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{_h(title)}</title>",
        f"<style>{_CSS}</style>",
        "</head>",
        "<body>",
        "<header>",
        f"<h1>{_h(title)}</h1>",
        *(f'<p class="meta">{_h(line)}</p>' for line in _header_lines(plan)),
        f"<p>On the day, offline: <code>{_h(_offline_example(plan))}</code></p>",
        "</header>",
        "<h2>People</h2>",
        *_html_table(("Role", "Name", "Language", "Arrives", "Travel", "Contact"), _people(plan)),
        "<h2>Agenda</h2>",
        *_html_table(
            ("Time", "Room", "Session", "Speaker"), _agenda_rows(plan, _sorted_agenda(event))
        ),
        "<h2>Scenarios</h2>",
        "<table>",
        "<tr><th>#</th><th>Scenario</th><th>What happens</th></tr>",
    ]
    for number, scenario in enumerate(plan.scenarios, 1):
        out.append(
            f'<tr><td>{number}</td><td><a href="#{_h(_anchor(scenario))}">{_h(scenario.title)}'
            f'</a></td><td class="outcome">{_h(scenario.outcome)}</td></tr>'
        )
    out.append("</table>")
    number = 0
    for section, scenarios in _sections(plan):
        out.append(f"<h2>{_h(section)}</h2>")
        for scenario in scenarios:
            number += 1
            out += _html_scenario(plan, number, scenario)
    out += ["</body>", "</html>"]
    return "\n".join(out) + "\n"


# --------------------------------------------------------------------------- answers


def render_answer_markdown(plan: Plan, answer: OfflineAnswer) -> str:
    """An offline answer as Markdown (also readable as plain text in a terminal)."""
    lines = [f"**{_md(answer.note)}**", ""]
    if answer.differences:
        lines += ["How the question differs:", ""]
        lines += [f"- {_md(d)}" for d in answer.differences]
        lines.append("")
    if answer.warning:
        lines += [f"**Warning:** {_md(answer.warning)}", ""]
    if answer.replan is not None and answer.replan.moves:
        lines += ["Re-plan for the exact delay:", ""]
        lines += _md_table(("Session", "Was", "Now"), _change_rows(plan, answer.replan))
        lines.append("")
    number = plan.scenarios.index(answer.scenario) + 1
    lines += _md_scenario(plan, number, answer.scenario)[2:]  # without the anchor
    return "\n".join(lines).rstrip("\n") + "\n"


def render_answer_text(plan: Plan, answer: OfflineAnswer) -> str:
    """An offline answer as plain text for a terminal: the note, then the scenario."""
    scenario = answer.scenario
    lines = [answer.note]
    lines += [f"  - {d}" for d in answer.differences]
    if answer.warning:
        lines.append(f"Warning: {answer.warning}")
    if answer.replan is not None and answer.replan.moves:
        lines.append("Re-plan for the exact delay:")
        lines += [f"  - {t}: {was} → {now}" for t, was, now in _change_rows(plan, answer.replan)]
    lines += [
        "",
        f"{scenario.title}  [{scenario.id}, severity {scenario.suggestion.severity}]",
        f"Situation: {_situation(plan, scenario)}",
    ]
    revised = scenario.replan
    if revised is not None:
        lines.append(f"Decision: {revised.reason}")
        lines += [f"  - {t}: {was} → {now}" for t, was, now in _change_rows(plan, revised)]
    else:
        lines.append(f"Decision: {scenario.outcome[:1].upper() + scenario.outcome[1:]}.")
    actions = _action_lines(scenario)
    if actions:
        lines.append("Recovery actions (from the playbooks):")
        lines += [f"  {i}. {line}" for i, line in enumerate(actions, 1)]
    lines += [f"Note: {note}." for note in scenario.notes]
    for message in scenario.messages:
        lines += ["", f"── {_party(message)}"]
        if message.subject:
            lines.append(f"Subject: {message.subject}")
        lines.append(message.body)
    return "\n".join(lines) + "\n"
