"""Preloaded contingency plans for events: ``cxplay plan`` and ``cxplay suggest --plan``.

Organisers prepare for what can go wrong before an event; on the day they need answers in
seconds, often on a venue's flaky network. :func:`build_plan` enumerates the foreseeable
incidents of an :class:`~cxplay._events.Event`, runs the engine on each and renders every
message in advance; the :class:`Plan` is saved as ``plan.json`` and answers questions later
without the playbooks (:func:`answer_offline`).

Scenarios, in this order (each speaker and guest in the order of the event file):

- ``speaker_late/<speaker>/<minutes>`` -- each speaker with a session, late by each of
  :data:`SPEAKER_DELAYS`, unless they travel the day before (:func:`arrival_notes`). They
  were due at their travel's arrival or, without travel, at their first session's start
  minus the margin; :func:`~cxplay._events.replan.replan` revises the agenda for that
  arrival plus the delay.
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

import datetime as dt
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cxplay._events.cases import (
    _Case,
    _guest_cases,
    _phone_first,
    _speaker_cases,
    _webinar_cases,
    arrival_notes,
)
from cxplay._events.cases import (
    _day as _day,
)
from cxplay._events.cases import (
    _order as _order,
)
from cxplay._events.cases import (
    _own_sessions as _own_sessions,
)
from cxplay._events.cases import (
    _slot as _slot,
)
from cxplay._events.cases import (
    _speaker_names as _speaker_names,
)
from cxplay._events.cases import (
    _travel_words as _travel_words,
)
from cxplay._events.cases import (
    _when as _when,
)
from cxplay._events.model import Event, Guest, Person, Session, Speaker
from cxplay._events.plan_model import (
    _PARTY_LABEL as _PARTY_LABEL,
)
from cxplay._events.plan_model import (
    EARLY_MINUTES,
    GUEST_DELAYS,
    PLAN_FORMAT,
    SPEAKER_DELAYS,
    Digests,
    Freshness,
    Message,
    OfflineAnswer,
    Party,
    Plan,
    Scenario,
    _minutes,
    content_digest,
    event_digest,
    playbooks_digest,
)
from cxplay._events.plan_model import (
    _event_data as _event_data,
)
from cxplay._events.replan import DEFAULT_MARGIN, Change
from cxplay._replies.address import name_in_script, salutation, sign_off
from cxplay._replies.locale import (
    LANGUAGE_VAR,
    TIMEZONE_VAR,
    format_datetime,
    format_time,
    negotiate,
)
from cxplay._version import __version__
from cxplay.errors import RenderError
from cxplay.results import Suggestion

if TYPE_CHECKING:
    from cxplay._engine.engine import Engine
    from cxplay._replies.renderer import Renderer

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
    "arrival_notes",
    "build_plan",
    "content_digest",
    "event_digest",
    "playbooks_digest",
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
        default = negotiate(self.event.info.default_language, self.available, "")[0]
        return negotiate(tag, self.available, default or self.available[0])[0]

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

        def named(name: str) -> str:  # a name in the notice's script: Олена → Olena, Ołena
            return name_in_script(name, language)

        def session(s: Session) -> dict[str, Any]:
            speaker = named(names.get(s.speaker, s.speaker)) if s.speaker else None
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
            write = format_time if on_the_day else format_datetime
            return write(moment, language, zone)

        base: dict[str, Any] = {
            LANGUAGE_VAR: language,
            TIMEZONE_VAR: zone,
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
                "name": named(person.name),
                "role": case.about,
                "contact": str(person.contact) if person.contact is not None else None,
                "on_site": person.travel is None,
                "day_guest": getattr(person, "day_guest", False),
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
                "name": named(event.contacts.chair.name),
                "contact": str(event.contacts.chair.contact),
            },
            "venue_manager": {
                "name": named(event.contacts.venue_manager.name),
                "contact": str(event.contacts.venue_manager.contact),
            },
        }

    def message(
        self,
        to: Party,
        case: _Case,
        fragment: str,
        *,
        person: Person | Speaker | None = None,
        language: str | None = None,
        extra: Mapping[str, Any] | None = None,
    ) -> Message:
        """A notice: greeting, the fragment's text, and a sign-off for e-mails."""
        if person is not None:
            language = self.language(person.language)
            channel = "chat" if _phone_first(person.contact) else "email"
            greeting = salutation(person.name, language, channel=channel)
        else:
            assert language is not None
            channel = "email"
        context = {**self.context(language, case), **(extra or {})}
        if person is None:
            greeting = self.text(language, "notice.greeting_attendees", channel, context)
        body = self.text(language, fragment, channel, context)
        parts = [greeting, body]
        subject: str | None = None
        if channel == "email":
            signature = self.text(language, "notice.signature", channel, context)
            parts.append(f"{sign_off(language)}\n{signature}")
            name = f"{fragment}_subject"
            if not self.renderer.has(language, name):
                name = "notice.subject"
            subject = self.text(language, name, channel, context)
        return Message(
            to=to,
            name=person.name if person is not None else None,
            language=language,
            channel=channel,
            contact=str(person.contact) if person is not None and person.contact else None,
            subject=subject,
            body="\n\n".join(p for p in parts if p),
        )


def _swap_partner_messages(notices: _Notices, event: Event, case: _Case) -> list[Message]:
    """The other speaker of each swap: their session moves too, so they hear it from us."""
    revised = case.replan
    assert revised is not None
    speakers = {s.id: s for s in event.speakers}
    sessions = {s.id: s for s in event.sessions}
    late_own = {s.id for s in case.sessions}
    found: list[Message] = []
    for change in revised.moves:
        session = sessions[change.session]
        if change.kind != "swap" or change.session in late_own or session.speaker is None:
            continue
        partner = speakers.get(session.speaker)
        if partner is None:
            continue
        margin = revised.ready_at - case.arrival if case.arrival is not None else DEFAULT_MARGIN
        extra = {
            "partner": {
                "name": partner.name,
                **change.model_dump(),
                "room_changed": change.new_room != change.old_room,
                "ready_by": change.new_start - margin,
            }
        }
        found.append(
            notices.message(
                "speaker", case, "notice_speaker_late.swap_partner", person=partner, extra=extra
            )
        )
    return found


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
            if change.kind == "start_late":
                parts.append(
                    f"'{change.title}' starts at {_when(change.new_start, event)} "
                    f"in {change.new_room}"
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
                messages.extend(_swap_partner_messages(notices, event, case))
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
    plan = Plan(
        cxplay_version=__version__,
        created_at=now,
        event_source=str(event_source) if event_source is not None else None,
        margin_minutes=_minutes(margin),
        digests=Digests(event=event_digest(event), playbooks=digest, files=files),
        event=event,
        scenarios=scenarios,
    )
    digests = plan.digests.model_copy(update={"content": content_digest(plan)})
    return plan.model_copy(update={"digests": digests})
