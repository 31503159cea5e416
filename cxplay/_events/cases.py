"""The foreseeable incidents of an event, each with its facts and the re-planner's answer.

:func:`~cxplay._events.plan.build_plan` turns each case into a scenario; the helpers that
name times, sessions and journeys are shared with the runbook and the offline answers.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Sequence
from typing import Any

from cxplay._events.model import Event, Guest, Session, Speaker, Travel
from cxplay._events.plan_model import (
    EARLY_MINUTES,
    GUEST_DELAYS,
    SPEAKER_DELAYS,
    About,
    _minutes,
)
from cxplay._events.replan import Replan, replan

_CANCELLABLE = ("flight", "train")


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
    """``none``, ``start_late``, ``swap``, ``move_room`` or ``escalate``: the re-plan."""
    if not revised.feasible:
        return "escalate"
    kinds = {c.kind for c in revised.moves}
    for kind in ("move_room", "swap", "start_late"):
        if kind in kinds:
            return kind
    return "none"


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


def _arrives_the_day_before(event: Event, speaker: Speaker, own: Sequence[Session]) -> bool:
    """Whether the speaker is due on an earlier day than their first session (``own[0]``)."""
    arrival = speaker.arrival
    return (
        bool(own)
        and arrival is not None
        and (arrival.astimezone(event.tz).date() < own[0].start.astimezone(event.tz).date())
    )


def arrival_notes(event: Event) -> list[str]:
    """Speakers whose late-arrival scenarios would be pointless, said once for the runbook.

    A speaker who travels the day before is not late for a morning talk by 15 or 60 minutes:
    only a cancelled connection (when it can be cancelled) is planned for them.
    """
    notes = []
    for speaker in event.speakers:
        if _arrives_the_day_before(event, speaker, _own_sessions(event, speaker)):
            assert speaker.arrival is not None
            arrival = speaker.arrival.astimezone(event.tz)
            travel = speaker.travel
            cancelled = (
                "only a cancelled connection is planned"
                if travel is not None and travel.mode in _CANCELLABLE
                else "nothing is planned for them"
            )
            notes.append(
                f"{speaker.name} arrives the day before ({arrival:%Y-%m-%d %H:%M}): "
                f"no late-arrival scenarios, {cancelled}."
            )
    return notes


def _speaker_cases(event: Event, margin: dt.timedelta) -> list[_Case]:
    cases: list[_Case] = []
    for speaker in event.speakers:
        own = _own_sessions(event, speaker)
        if not own:
            continue
        scheduled = speaker.arrival if speaker.arrival is not None else own[0].start - margin
        # travelling the day before, a delay of minutes moves nothing (arrival_notes says so)
        delays = () if _arrives_the_day_before(event, speaker, own) else SPEAKER_DELAYS
        for delay in delays:
            arrival = scheduled + dt.timedelta(minutes=delay)
            revised = replan(event, speaker.id, arrival, margin)
            late = [s for s in own if s.start < revised.ready_at]
            first = (late or own)[0]
            # the speaker's own message says where and when they now speak
            mine = next((c for c in revised.moves if c.session == first.id), None)
            where = (
                {"new_start": _when(mine.new_start, event), "new_room": mine.new_room}
                if mine is not None
                else {}
            )
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
                        **where,
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
                    # no room to wait for: breakfast and a quiet place (the playbook's rule)
                    **({"day_guest": True} if guest.day_guest else {}),
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
                        # from 21:00 dinner at registration is over: the playbook's gesture
                        "arrival_hour": arrival.astimezone(event.tz).hour,
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
