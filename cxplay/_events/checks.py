"""Checks that span the tables of an event: ids, speakers, rooms, overlaps, the day."""

from __future__ import annotations

import contextlib
import datetime as dt
import zoneinfo
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from pydantic import (
    ValidationError,
)

from cxplay._common.problems import format_key
from cxplay._common.text import did_you_mean as _did_you_mean
from cxplay._common.text import echo
from cxplay._events.model import (
    Event,
    EventInfo,
    KeyPath,
    Session,
    Travel,
    _localize_times,
    usable_timezone,
)
from cxplay.errors import Problem

__all__ = [
    "check_event",
]

# --------------------------------------------------------------------------- checks across tables

_Issue = tuple[KeyPath, str]


@dataclass
class _View:
    """What the cross-table checks need; built from a valid Event or salvaged from raw data."""

    info: EventInfo | None = None
    sessions: list[tuple[int, Session]] = field(default_factory=list)
    ids: dict[str, list[tuple[int, str]]] = field(default_factory=dict)
    speaker_names: dict[str, str] = field(default_factory=dict)
    rooms: tuple[str, ...] | None = None
    backup_room: str | None = None
    arrivals: dict[str, tuple[int, dt.datetime]] = field(default_factory=dict)  # by speaker id
    times: bool = True  # False when the time zone is unusable: times cannot be compared


def _hm(value: dt.datetime, zone: dt.tzinfo | None) -> str:
    return (value.astimezone(zone) if zone else value).strftime("%H:%M")


def _cross_issues(view: _View) -> list[_Issue]:
    issues: list[_Issue] = []
    zone = zoneinfo.ZoneInfo(view.info.timezone) if view.info else None

    for kind, entries in view.ids.items():
        first: dict[str, int] = {}
        for index, ident in entries:
            if ident in first:
                issues.append(
                    (
                        (kind, index, "id"),
                        f"duplicate {kind} id {echo(ident)} (first used by {kind}[{first[ident]}])",
                    )
                )
            else:
                first[ident] = index

    speaker_ids = [ident for _, ident in view.ids.get("speaker", [])]
    by_name = {name.casefold(): ident for ident, name in view.speaker_names.items()}
    for index, session in view.sessions:
        if session.speaker is not None and session.speaker not in speaker_ids:
            hint = _did_you_mean(session.speaker, speaker_ids)
            named = by_name.get(session.speaker.casefold())
            if named is not None:
                hint = (
                    f"; did you mean {echo(named)}? (speaker takes the speaker's id, not the name)"
                )
            issues.append(
                (("session", index, "speaker"), f"unknown speaker {echo(session.speaker)}{hint}")
            )
        if view.rooms is not None and session.room not in view.rooms:
            if session.room == view.backup_room:
                message = (
                    f"{echo(session.room)} is the backup room, which stays free for re-planning; "
                    f"use one of rooms ({', '.join(view.rooms)})"
                )
            else:
                hint = _did_you_mean(session.room, view.rooms)
                hint = hint or f" (rooms: {', '.join(view.rooms)})"
                message = f"unknown room {echo(session.room)}{hint}"
            issues.append((("session", index, "room"), message))
        if view.info is not None and view.times:
            issues.extend(_outside_event(view.info, index, session, zone))
        if session.speaker in view.arrivals and view.times:
            issues.extend(_arrives_in_time(session, *view.arrivals[session.speaker], zone))

    if not view.times:
        return issues
    ordered = sorted(view.sessions, key=lambda item: (item[1].start, item[0]))
    for position, (index, session) in enumerate(ordered):
        for _, earlier in ordered[:position]:
            if not earlier.overlaps(session):
                continue
            span = f"{_hm(earlier.start, zone)}–{_hm(earlier.end, zone)}"
            if earlier.room == session.room:
                issues.append(
                    (
                        ("session", index, "start"),
                        f"overlaps session {echo(earlier.id)} ({span}) "
                        f"in room {echo(session.room)}",
                    )
                )
            elif session.speaker is not None and session.speaker == earlier.speaker:
                issues.append(
                    (
                        ("session", index, "speaker"),
                        f"speaker {echo(session.speaker)} is also in session "
                        f"{echo(earlier.id)} at {span}",
                    )
                )
    return issues


def _outside_event(
    info: EventInfo, index: int, session: Session, zone: dt.tzinfo | None
) -> list[_Issue]:
    if info.start is not None and info.end is not None:
        span = f"{info.start:%Y-%m-%d %H:%M}–{info.end:%Y-%m-%d %H:%M}"
        if session.start < info.start:
            return [(("session", index, "start"), f"starts before the event ({span})")]
        if session.end > info.end:
            return [(("session", index, "end"), f"ends after the event ({span})")]
    elif info.date is not None and session.start.astimezone(zone).date() != info.date:
        return [(("session", index, "start"), f"is not on the event's date ({info.date})")]
    return []


def _arrives_in_time(
    session: Session, index: int, arrival: dt.datetime, zone: dt.tzinfo | None
) -> list[_Issue]:
    """A speaker must arrive before their session starts, on its day or the day before."""
    where = ("speaker", index, "travel", "arrival")
    local = arrival.astimezone(zone)
    day = session.start.astimezone(zone).date()
    slot = f"{echo(session.id)} ({_hm(session.start, zone)}–{_hm(session.end, zone)}, {day})"
    if arrival >= session.start:
        after = "ends" if arrival >= session.end else "starts"
        return [(where, f"arrives at {local:%Y-%m-%d %H:%M}, after their session {slot} {after}")]
    if local.date() < day - dt.timedelta(days=1):
        return [
            (
                where,
                f"arrives on {local.date()}, not on the day of their session {slot} or the day "
                "before: is the date right?",
            )
        ]
    return []


def _view_of_event(event: Event) -> _View:
    return _View(
        info=event.info,
        sessions=list(enumerate(event.sessions)),
        ids={
            "session": [(i, s.id) for i, s in enumerate(event.sessions)],
            "speaker": [(i, s.id) for i, s in enumerate(event.speakers)],
            "guest": [(i, g.id) for i, g in enumerate(event.guests)],
        },
        speaker_names={s.id: s.name for s in event.speakers},
        arrivals={s.id: (i, s.travel.arrival) for i, s in enumerate(event.speakers) if s.travel},
        rooms=event.venue.rooms,
        backup_room=event.venue.backup_room,
    )


def _salvage(data: Mapping[str, Any]) -> _View:
    """Build the cross-table view from a document that failed validation somewhere.

    Every table that validates on its own still takes part, so a typo in one speaker does
    not hide an overlap between two sessions.
    """
    local = _localize_times(data)
    view = _View(times=usable_timezone(data))
    with contextlib.suppress(ValidationError):
        view.info = EventInfo.model_validate(local.get("event"))
    for kind in ("session", "speaker", "guest"):
        items = local.get(kind)
        entries = view.ids.setdefault(kind, [])
        if not isinstance(items, list):
            continue
        for index, item in enumerate(items):
            if not isinstance(item, Mapping) or not isinstance(item.get("id"), str):
                continue
            entries.append((index, item["id"]))
            if kind == "speaker" and isinstance(item.get("name"), str):
                view.speaker_names[item["id"]] = item["name"]
            if kind == "speaker" and isinstance(item.get("travel"), Mapping):
                with contextlib.suppress(ValidationError):
                    travel = Travel.model_validate(item["travel"])
                    view.arrivals[item["id"]] = (index, travel.arrival)
            if kind == "session":
                with contextlib.suppress(ValidationError):
                    view.sessions.append((index, Session.model_validate(item)))
    venue = local.get("venue")
    if isinstance(venue, Mapping):
        rooms = venue.get("rooms")
        if isinstance(rooms, list) and rooms and all(isinstance(r, str) for r in rooms):
            view.rooms = tuple(r.strip() for r in rooms)
        backup = venue.get("backup_room")
        view.backup_room = backup.strip() if isinstance(backup, str) else None
    return view


def check_event(event: Event) -> list[Problem]:
    """Check what spans the tables of a validated event.

    Reports duplicate ids, sessions naming an unknown speaker or room, overlapping sessions
    in one room, a speaker in two sessions at once and sessions outside the event's day.
    :func:`load_event` runs these checks already; call this for events built in code.

    Args:
        event: an event whose tables are valid.

    Returns:
        One :class:`~cxplay.errors.Problem` per finding (with ``key``, without file or
        line), empty when the event is consistent.
    """
    return [
        Problem(message, key=format_key(path))
        for path, message in _cross_issues(_view_of_event(event))
    ]
