"""Event files for ``cxplay plan``: the model, the loader and the checks.

An organiser describes one event in TOML; :func:`load_event` reads it into an :class:`Event`
or raises :class:`~cxplay.errors.EventFileError` listing *every* problem, each with the line
of the file where it is written::

    [event]
    id = "cxconf-2026"
    title = "CX Conference 2026"
    timezone = "Europe/Warsaw"        # IANA name; local times below are read in it
    date = 2026-11-20                 # or start = ... and end = ... (or all three)
    languages = ["pl", "en", "uk"]    # default ["en"]
    default_language = "pl"           # default: the first of languages

    [venue]
    name = "ICE Kraków"
    rooms = ["Sala Audytoryjna", "Sala Kameralna"]
    backup_room = "Sala Seminaryjna 3"   # kept free: never one of rooms
    breakfast_until = 10:30:00

    [[venue.nearby]]
    name = "Cafe Camelot"
    kind = "cafe"
    walk_minutes = 12

    [contacts.chair]
    name = "Katarzyna Zielińska"
    contact = "+48 600 100 200"          # a phone, an e-mail, or { email = ..., phone = ... }
    language = "pl"

    [contacts.venue_manager]
    name = "Piotr Mazur"
    contact = { email = "piotr.mazur@example.pl", phone = "+48 600 300 400" }
    language = "pl"

    [[speaker]]
    id = "whitfield"
    name = "James Whitfield"
    language = "en-GB"
    contact = "james@example.co.uk"
    travel = { mode = "flight", arrival = 2026-11-20T08:40:00, from = "London" }

    [[session]]
    id = "keynote"
    title = "Opening keynote"
    room = "Sala Audytoryjna"
    start = 09:30:00                  # a time of day needs [event] date
    end = 2026-11-20T10:30:00         # local date-times and offset date-times work too
    speaker = "whitfield"             # omit for breaks

    [[guest]]
    id = "mayor"
    name = "Aleksander Miasto"
    language = "pl"
    travel = { mode = "car", arrival = 2026-11-20T09:15:00 }

Times: TOML local date-times (and times of day, combined with ``[event] date``) are read in
the event's time zone; offset date-times are converted to it. Every stored date-time is aware.

The backup room is a standby room that the schedule leaves empty, so it is *not* one of
``venue.rooms`` and no session may be scheduled in it: it exists for re-planning
(:func:`cxplay._replan.replan` moves a late speaker's session there).

:func:`load_event` runs two layers of checks. The models check each table on its own (types,
unknown keys, a session ending before it starts, ...); :func:`check_event` then checks what
spans tables: duplicate ids, unknown speakers and rooms, overlapping sessions in one room, a
speaker in two sessions at once, sessions outside the event's day. Both layers report at once.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import difflib
import re
import sys
import typing
import zoneinfo
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from os import PathLike
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from cxplay._toml import LineIndex
from cxplay.errors import EventFileError, Problem

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on 3.10 only
    import tomli as tomllib

__all__ = [
    "Contact",
    "Contacts",
    "Event",
    "EventInfo",
    "Guest",
    "Nearby",
    "Person",
    "Session",
    "Speaker",
    "Travel",
    "Venue",
    "check_event",
    "load_event",
    "parse_event",
]

#: A path into the TOML document, as pydantic reports it: ``("session", 2, "end")``.
KeyPath = tuple[str | int, ...]

_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
_LANGUAGE = re.compile(r"^[A-Za-z]{2,3}(-[A-Za-z0-9]{1,8})*$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_PHONE = re.compile(r"^\+?[0-9][0-9 ()./-]{4,30}$")
_URL = re.compile(r"^https?://\S+$")


# --------------------------------------------------------------------------- field types


def _identifier(value: str) -> str:
    if not _ID.match(value):
        raise ValueError(
            f"{value!r} is not an id: use letters, digits, '.', '_' or '-' "
            "(at most 64, starting with a letter or digit)"
        )
    return value


def _language(value: str) -> str:
    if not _LANGUAGE.match(value) or len(value) > 35:
        raise ValueError(f"{value!r} is not a language tag such as 'en', 'pl', 'uk' or 'pl-PL'")
    return value


def _text(value: str) -> str:
    value = value.strip()
    if not value:
        raise ValueError("must not be empty")
    return value


def _email(value: str) -> str:
    if not _EMAIL.match(value):
        raise ValueError(f"{value!r} is not an e-mail address")
    return value


def _phone(value: str) -> str:
    if not _PHONE.match(value):
        raise ValueError(f"{value!r} is not a phone number such as '+48 600 100 200'")
    return value


def _url(value: str) -> str:
    if not _URL.match(value):
        raise ValueError(f"{value!r} is not an http(s) URL")
    return value


def _timezone(value: str) -> str:
    try:
        zoneinfo.ZoneInfo(value)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):
        close = difflib.get_close_matches(value, sorted(zoneinfo.available_timezones()), n=1)
        hint = f"; did you mean {close[0]!r}?" if close else " (use a name like 'Europe/Warsaw')"
        raise ValueError(f"unknown time zone {value!r}{hint}") from None
    return value


def _contact_from_text(value: Any) -> Any:
    # `contact = "..."` is the common case: one e-mail address or one phone number
    if isinstance(value, str):
        return {"email": value} if "@" in value else {"phone": value}
    return value


Identifier = Annotated[str, AfterValidator(_identifier)]
LanguageTag = Annotated[str, AfterValidator(_language)]
Text = Annotated[str, Field(max_length=500), AfterValidator(_text)]
Email = Annotated[str, AfterValidator(_email)]
Phone = Annotated[str, AfterValidator(_phone)]
Url = Annotated[str, AfterValidator(_url)]
TimeZoneName = Annotated[str, AfterValidator(_timezone)]

TravelMode = Literal["flight", "train", "car", "local"]
NearbyKind = Literal["restaurant", "cafe", "bar", "bakery", "canteen", "shop", "pharmacy", "other"]


class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


# --------------------------------------------------------------------------- models


class Contact(_Frozen):
    """How to reach someone: an e-mail address, a phone number, or both.

    In TOML either ``contact = "a@b.pl"`` / ``contact = "+48 600 100 200"`` or
    ``contact = { email = "a@b.pl", phone = "+48 600 100 200" }``.
    """

    email: Email | None = None
    phone: Phone | None = None

    @model_validator(mode="after")
    def _at_least_one(self) -> Contact:
        if self.email is None and self.phone is None:
            raise ValueError("give an email or a phone number")
        return self

    def __str__(self) -> str:
        return " / ".join(part for part in (self.phone, self.email) if part)


ContactField = Annotated[Contact, BeforeValidator(_contact_from_text)]


class Person(_Frozen):
    """Someone organisers call on the day: the chair or the venue manager."""

    name: Text
    contact: ContactField
    language: LanguageTag


class Contacts(_Frozen):
    """The ``[contacts]`` table: who decides (chair) and who runs the building."""

    chair: Person
    venue_manager: Person


class Travel(_Frozen):
    """How and when someone arrives; ``from`` in TOML is :attr:`origin` here."""

    mode: TravelMode
    arrival: AwareDatetime
    origin: Text | None = Field(default=None, alias="from")
    reference: Text | None = Field(default=None, description="Flight or train number.")


class Speaker(_Frozen):
    """A ``[[speaker]]``; without ``travel`` the speaker counts as on site all day."""

    id: Identifier
    name: Text
    language: LanguageTag
    contact: ContactField
    salutation: Text | None = None
    travel: Travel | None = None

    @property
    def arrival(self) -> dt.datetime | None:
        """When the speaker arrives, or None when they are on site (no travel given)."""
        return None if self.travel is None else self.travel.arrival


class Guest(_Frozen):
    """A ``[[guest]]`` of note: someone whose late arrival the organisers must handle."""

    id: Identifier
    name: Text
    language: LanguageTag
    travel: Travel
    contact: ContactField | None = None

    @property
    def arrival(self) -> dt.datetime:
        """When the guest arrives."""
        return self.travel.arrival


class Nearby(_Frozen):
    """A ``[[venue.nearby]]`` place for plan B: food and coffee for a late guest."""

    name: Text
    kind: NearbyKind
    walk_minutes: int = Field(ge=0, le=180, strict=True)
    note: Text | None = None


class Venue(_Frozen):
    """The ``[venue]`` table."""

    name: Text
    address: Text | None = None
    rooms: tuple[Text, ...] = Field(min_length=1)
    backup_room: Text | None = None
    breakfast_until: dt.time | None = None
    nearby: tuple[Nearby, ...] = ()

    @field_validator("rooms")
    @classmethod
    def _unique_rooms(cls, rooms: tuple[str, ...]) -> tuple[str, ...]:
        repeated = sorted({room for room in rooms if rooms.count(room) > 1})
        if repeated:
            raise ValueError(f"room {repeated[0]!r} is listed twice")
        return rooms

    @field_validator("backup_room")
    @classmethod
    def _backup_not_scheduled(cls, backup: str | None, info: ValidationInfo) -> str | None:
        if backup is not None and backup in info.data.get("rooms", ()):
            raise ValueError(
                f"the backup room {backup!r} must not be one of rooms: it is kept free "
                "so that a session can move there"
            )
        return backup


class EventInfo(_Frozen):
    """The ``[event]`` table: give ``date``, or ``start`` and ``end``, or all three."""

    id: Identifier
    title: Text
    timezone: TimeZoneName
    date: dt.date | None = None
    start: AwareDatetime | None = None
    end: AwareDatetime | None = Field(default=None, validate_default=True)
    languages: tuple[LanguageTag, ...] = Field(default=("en",), min_length=1)
    default_language: LanguageTag

    @model_validator(mode="before")
    @classmethod
    def _default_language(cls, data: Any) -> Any:
        if isinstance(data, Mapping) and "default_language" not in data:
            languages = data.get("languages", ["en"])
            if isinstance(languages, list | tuple) and languages:
                return {**data, "default_language": languages[0]}
        return data

    @field_validator("end")
    @classmethod
    def _span(cls, end: dt.datetime | None, info: ValidationInfo) -> dt.datetime | None:
        if "start" not in info.data:  # start itself is invalid: reported there
            return end
        start = info.data["start"]
        if (start is None) != (end is None):
            raise ValueError("give both start and end, or neither")
        if start is not None and end is not None and end <= start:
            raise ValueError(f"times out of order: end {end:%Y-%m-%d %H:%M} is not after start")
        return end

    @field_validator("default_language")
    @classmethod
    def _known_language(cls, value: str, info: ValidationInfo) -> str:
        languages: Sequence[str] = info.data.get("languages", ())
        primary = {tag.split("-")[0].lower() for tag in languages}
        if languages and value not in languages and value.split("-")[0].lower() not in primary:
            raise ValueError(f"{value!r} is not one of languages ({', '.join(languages)})")
        return value

    @model_validator(mode="after")
    def _when(self) -> EventInfo:
        if self.date is None and self.start is None:
            raise ValueError("give the event's date, or its start and end")
        return self


class Session(_Frozen):
    """A ``[[session]]`` of the agenda; ``speaker`` is a speaker id, or None for a break."""

    id: Identifier
    title: Text
    room: Text
    start: AwareDatetime
    end: AwareDatetime
    speaker: Text | None = None  # any text: a name instead of an id gets a did-you-mean
    online: bool = Field(default=False, strict=True)
    replay_url: Url | None = None

    @field_validator("end")
    @classmethod
    def _after_start(cls, end: dt.datetime, info: ValidationInfo) -> dt.datetime:
        start = info.data.get("start")
        if start is not None and end <= start:
            raise ValueError(
                f"times out of order: end {end:%H:%M} is not after start {start:%H:%M}"
            )
        return end

    @property
    def duration(self) -> dt.timedelta:
        """How long the session lasts."""
        return self.end - self.start

    def overlaps(self, other: Session) -> bool:
        """Whether the two sessions share any moment (touching ends do not overlap)."""
        return self.start < other.end and other.start < self.end


class Event(_Frozen):
    """A whole event file.

    TOML tables map to fields: ``[event]`` is :attr:`info`, ``[[session]]`` :attr:`sessions`,
    ``[[speaker]]`` :attr:`speakers`, ``[[guest]]`` :attr:`guests`.

    Validating a plain mapping (``Event.model_validate(data)``) checks each table; use
    :func:`load_event` (or :func:`check_event`) for the checks that span tables.
    """

    info: EventInfo = Field(alias="event")
    venue: Venue
    contacts: Contacts
    sessions: tuple[Session, ...] = Field(default=(), alias="session")
    speakers: tuple[Speaker, ...] = Field(default=(), alias="speaker")
    guests: tuple[Guest, ...] = Field(default=(), alias="guest")

    @model_validator(mode="before")
    @classmethod
    def _localize(cls, data: Any) -> Any:
        return _localize_times(data) if isinstance(data, Mapping) else data

    @property
    def id(self) -> str:
        """The event's id."""
        return self.info.id

    @property
    def title(self) -> str:
        """The event's title."""
        return self.info.title

    @property
    def tz(self) -> zoneinfo.ZoneInfo:
        """The event's time zone."""
        return zoneinfo.ZoneInfo(self.info.timezone)

    def find_speaker(self, key: str) -> Speaker | None:
        """The speaker with this id or, failing that, this name (case-insensitive)."""
        for speaker in self.speakers:
            if speaker.id == key:
                return speaker
        folded = key.casefold().strip()
        return next((s for s in self.speakers if s.name.casefold() == folded), None)

    def find_session(self, session_id: str) -> Session | None:
        """The session with this id."""
        return next((s for s in self.sessions if s.id == session_id), None)


# --------------------------------------------------------------------------- local times


def _parse_iso(value: str) -> dt.datetime | None:
    try:
        return dt.datetime.fromisoformat(value)
    except ValueError:
        return None


def _localize_times(data: Mapping[str, Any]) -> dict[str, Any]:
    """Make every date-time of raw event data aware, in the event's time zone.

    TOML local date-times (and ISO strings without an offset) get the event's time zone;
    times of day are combined with ``[event] date`` when there is one; offset date-times are
    converted to the event's zone. Anything else is left for validation to report. An
    invalid time zone falls back to UTC here, so that only the time zone itself is reported.

    Args:
        data: the document as tomllib returns it (not modified).

    Returns:
        A shallow copy with the date-time values replaced.
    """
    info = data.get("event")
    zone: dt.tzinfo = dt.timezone.utc
    day: dt.date | None = None
    if isinstance(info, Mapping):
        name = info.get("timezone")
        if isinstance(name, str):
            with contextlib.suppress(zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):
                zone = zoneinfo.ZoneInfo(name)
        raw_day = info.get("date")
        if isinstance(raw_day, str):  # from JSON, or quoted by mistake
            with contextlib.suppress(ValueError):
                raw_day = dt.date.fromisoformat(raw_day)
        if isinstance(raw_day, dt.date) and not isinstance(raw_day, dt.datetime):
            day = raw_day

    def fix(value: Any) -> Any:
        if isinstance(value, str):
            value = _parse_iso(value) or value
        if isinstance(value, dt.datetime):
            return value.replace(tzinfo=zone) if value.tzinfo is None else value.astimezone(zone)
        if isinstance(value, dt.time) and day is not None and value.tzinfo is None:
            return dt.datetime.combine(day, value, tzinfo=zone)
        return value

    def fix_keys(table: Any, keys: Sequence[str]) -> Any:
        if not isinstance(table, Mapping):
            return table
        return {k: fix(v) if k in keys else v for k, v in table.items()}

    out = dict(data)
    if isinstance(info, Mapping):
        out["event"] = fix_keys(info, ("start", "end"))
    sessions = data.get("session")
    if isinstance(sessions, list):
        out["session"] = [fix_keys(item, ("start", "end")) for item in sessions]
    for name in ("speaker", "guest"):
        people = data.get(name)
        if isinstance(people, list):
            out[name] = [
                {**p, "travel": fix_keys(p["travel"], ("arrival",))}
                if isinstance(p, Mapping) and "travel" in p
                else p
                for p in people
            ]
    return out


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


def _hm(value: dt.datetime, zone: dt.tzinfo | None) -> str:
    return (value.astimezone(zone) if zone else value).strftime("%H:%M")


def _did_you_mean(word: str, choices: Sequence[str]) -> str:
    close = difflib.get_close_matches(word, choices, n=1, cutoff=0.6)
    return f"; did you mean {close[0]!r}?" if close else ""


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
                        f"duplicate {kind} id {ident!r} (first used by {kind}[{first[ident]}])",
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
                hint = f"; did you mean {named!r}? (speaker takes the speaker's id, not the name)"
            issues.append(
                (("session", index, "speaker"), f"unknown speaker {session.speaker!r}{hint}")
            )
        if view.rooms is not None and session.room not in view.rooms:
            if session.room == view.backup_room:
                message = (
                    f"{session.room!r} is the backup room, which stays free for re-planning; "
                    f"use one of rooms ({', '.join(view.rooms)})"
                )
            else:
                hint = _did_you_mean(session.room, view.rooms)
                hint = hint or f" (rooms: {', '.join(view.rooms)})"
                message = f"unknown room {session.room!r}{hint}"
            issues.append((("session", index, "room"), message))
        if view.info is not None:
            issues.extend(_outside_event(view.info, index, session, zone))

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
                        f"overlaps session {earlier.id!r} ({span}) in room {session.room!r}",
                    )
                )
            elif session.speaker is not None and session.speaker == earlier.speaker:
                issues.append(
                    (
                        ("session", index, "speaker"),
                        f"speaker {session.speaker!r} is also in session {earlier.id!r} at {span}",
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
        rooms=event.venue.rooms,
        backup_room=event.venue.backup_room,
    )


def _salvage(data: Mapping[str, Any]) -> _View:
    """Build the cross-table view from a document that failed validation somewhere.

    Every table that validates on its own still takes part, so a typo in one speaker does
    not hide an overlap between two sessions.
    """
    local = _localize_times(data)
    view = _View()
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


def _format_key(path: Sequence[str | int]) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else part)
    return out


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
        Problem(message, key=_format_key(path))
        for path, message in _cross_issues(_view_of_event(event))
    ]


# --------------------------------------------------------------------------- schema errors


def _models_in(annotation: Any) -> list[type[BaseModel]]:
    origin = typing.get_origin(annotation)
    if origin is Annotated:
        return _models_in(typing.get_args(annotation)[0])
    if origin is not None:
        return [m for arg in typing.get_args(annotation) for m in _models_in(arg)]
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    return []


def _keys_of(model: type[BaseModel]) -> dict[str, Any]:
    return {(info.alias or name): info.annotation for name, info in model.model_fields.items()}


def _allowed_keys(parent: Sequence[str | int]) -> list[str]:
    """The keys a user may write at ``parent`` (a path into the document)."""
    models: list[type[BaseModel]] = [Event]
    for part in parent:
        if isinstance(part, int):
            continue
        owner = next((m for m in models if part in _keys_of(m)), None)
        if owner is None:
            return []
        models = _models_in(_keys_of(owner)[part])
    return sorted({key for model in models for key in _keys_of(model)})


_ARRAYS = ("session", "speaker", "guest")


def _schema_issue(error: Mapping[str, Any]) -> _Issue:
    # union and validator tags such as "function-after[...]" are not keys the user wrote
    path: KeyPath = tuple(p for p in error["loc"] if isinstance(p, int) or "[" not in p)
    kind = error["type"]
    value = error.get("input")
    if kind == "extra_forbidden" and path:
        name = str(path[-1])
        return path, f"unknown key {name!r}{_did_you_mean(name, _allowed_keys(path[:-1]))}"
    if kind == "missing" and path:
        # point at the table the key belongs in: that is where the user adds it
        return path[:-1], f"missing required key {str(path[-1])!r}"
    if kind == "datetime_type" and isinstance(value, dt.time):
        return path, (
            "a time of day needs the event's date ([event] date = ...); "
            "or write a full date and time such as 2026-11-20T09:30:00"
        )
    if kind in ("tuple_type", "list_type") and len(path) == 1 and path[0] in _ARRAYS:
        return path, f"write each {path[0]} as an array of tables: [[{path[0]}]]"
    message = str(error["msg"])
    if kind == "value_error":
        message = message.removeprefix("Value error, ")
    else:
        message = message[:1].lower() + message[1:]
        if isinstance(value, str | int | float):
            message += f" (got {value!r})"
    return path, message


# --------------------------------------------------------------------------- line numbers


# --------------------------------------------------------------------------- loading

_AT = re.compile(r"\s*\(at line (\d+), column (\d+)\)")


def _decode(raw: bytes, file: str) -> str:
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        column = exc.start - (raw.rfind(b"\n", 0, exc.start) + 1) + 1
        raise EventFileError(
            [
                Problem(
                    f"not valid UTF-8 (byte 0x{raw[exc.start]:02x} at column {column}); "
                    "save the file as UTF-8",
                    file=file,
                    line=line,
                )
            ]
        ) from None
    return text.removeprefix("\ufeff")


def _parse_toml(text: str, file: str) -> dict[str, Any]:
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        message = str(exc)
        line: int | None = getattr(exc, "lineno", None)
        match = _AT.search(message)
        if match:
            line = line or int(match.group(1))
            message = f"{message[: match.start()]} (column {match.group(2)})"
        elif "(at end of document)" in message:
            line = line or max(1, len(text.splitlines()))
            message = message.replace(" (at end of document)", " (at the end of the file)")
        message = message[:1].lower() + message[1:]
        raise EventFileError(
            [Problem(f"invalid TOML: {message}", file=file, line=line or 1)]
        ) from None


def parse_event(source: str | bytes, *, file: str = "<event>") -> Event:
    """Parse and check an event from TOML text.

    Args:
        source: the TOML document; bytes must be UTF-8 (a leading BOM is accepted).
        file: the name used in problems (a path, or ``<event>``).

    Returns:
        The event, with every date-time aware and in the event's time zone.

    Raises:
        EventFileError: with one :class:`~cxplay.errors.Problem` per thing that is wrong
            (file, line and key path each), sorted by line: invalid UTF-8 or broken TOML
            (reported alone, as nothing else can be read), or any number of schema and
            cross-table problems.
    """
    text = _decode(source, file) if isinstance(source, bytes) else source.removeprefix("\ufeff")
    data = _parse_toml(text, file)
    issues: list[_Issue] = []
    event: Event | None = None
    try:
        event = Event.model_validate(data)
    except ValidationError as exc:
        issues.extend(_schema_issue(error) for error in exc.errors(include_url=False))
    view = _view_of_event(event) if event is not None else _salvage(data)
    issues.extend(_cross_issues(view))
    if issues:
        locator = LineIndex(text)
        problems = {
            Problem(message, file=file, line=locator.line(path), key=_format_key(path) or None)
            for path, message in issues
        }
        ordered = sorted(problems, key=lambda p: (p.line or 0, p.key or "", p.message))
        raise EventFileError(ordered)
    assert event is not None  # no issues means validation succeeded
    return event


def load_event(path: str | PathLike[str]) -> Event:
    """Read an event file (TOML) and check it.

    Example:
        >>> event = load_event("examples/events/cxconf-2026.toml")  # doctest: +SKIP
        >>> event.info.timezone, len(event.sessions)  # doctest: +SKIP
        ('Europe/Warsaw', 8)

    Args:
        path: the event file.

    Returns:
        The event; see :func:`parse_event`.

    Raises:
        EventFileError: the file cannot be read, is not UTF-8 or TOML, or describes an
            invalid event; every problem is listed, each with its line.
    """
    file = str(path)
    try:
        raw = Path(path).read_bytes()
    except OSError as exc:
        raise EventFileError(
            [Problem(f"cannot read the event file: {exc.strerror or exc}", file=file)]
        ) from None
    return parse_event(raw, file=file)
