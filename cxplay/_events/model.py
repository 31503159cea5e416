"""Event files for ``cxplay plan``: the model of an event.

An organiser describes one event in TOML; :func:`~cxplay._events.load.load_event` reads it
into an :class:`Event` or raises :class:`~cxplay.errors.EventFileError` listing *every*
problem, each with the line of the file where it is written::

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
(:func:`cxplay._events.replan.replan` moves a late speaker's session there).

:func:`~cxplay._events.load.load_event` runs two layers of checks. The models check each
table on its own (types, unknown keys, a session ending before it starts, ...);
:func:`~cxplay._events.checks.check_event` then checks what spans tables: duplicate ids,
unknown speakers and rooms, overlapping sessions in one room, a speaker in two sessions at
once, sessions outside the event's day. Both layers report at once.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import re
import unicodedata
import zoneinfo
from collections.abc import Mapping, Sequence
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BeforeValidator,
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)

from cxplay._common.models import Frozen
from cxplay._common.text import did_you_mean, echo

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
            f"{echo(value)} is not an id: use letters, digits, '.', '_' or '-' "
            "(at most 64, starting with a letter or digit)"
        )
    return value


def _language(value: str) -> str:
    if not _LANGUAGE.match(value) or len(value) > 35:
        raise ValueError(f"{echo(value)} is not a language tag such as 'en', 'pl', 'uk' or 'pl-PL'")
    return value


def _text(value: str) -> str:
    value = value.strip()
    if not value:
        raise ValueError("must not be empty")
    for position, char in enumerate(value, start=1):
        if unicodedata.category(char) == "Cc" and char not in "\n\t":
            raise ValueError(
                f"control character U+{ord(char):04X} at position {position}: not allowed"
            )
    return value


def _one_line(value: str) -> str:
    if "\n" in value or "\t" in value:
        raise ValueError("must be one line (no newline or tab)")
    return value


def _email(value: str) -> str:
    if not _EMAIL.match(value):
        raise ValueError(f"{echo(value)} is not an e-mail address")
    return value


def _phone(value: str) -> str:
    if not _PHONE.match(value):
        raise ValueError(f"{echo(value)} is not a phone number such as '+48 600 100 200'")
    return value


def _url(value: str) -> str:
    if not _URL.match(value):
        raise ValueError(f"{echo(value)} is not an http(s) URL")
    return value


def _timezone(value: str) -> str:
    try:
        zoneinfo.ZoneInfo(value)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):
        hint = did_you_mean(
            value, zoneinfo.available_timezones(), otherwise=" (use a name like 'Europe/Warsaw')"
        )
        raise ValueError(f"unknown time zone {echo(value)}{hint}") from None
    return value


def _contact_from_text(value: Any) -> Any:
    # `contact = "..."` is the common case: one e-mail address or one phone number
    if isinstance(value, str):
        return {"email": value} if "@" in value else {"phone": value}
    return value


Identifier = Annotated[str, AfterValidator(_identifier)]
LanguageTag = Annotated[str, AfterValidator(_language)]
Text = Annotated[str, Field(max_length=500), AfterValidator(_text)]
#: A name, title or room: one line, as long as an incident's text fields allow (a speaker's
#: name becomes the customer's name of the incidents `cxplay plan` builds).
Name = Annotated[str, Field(max_length=200), AfterValidator(_text), AfterValidator(_one_line)]
Email = Annotated[str, AfterValidator(_email)]
Phone = Annotated[str, AfterValidator(_phone)]
Url = Annotated[str, AfterValidator(_url)]
TimeZoneName = Annotated[str, AfterValidator(_timezone)]

TravelMode = Literal["flight", "train", "car", "local"]
NearbyKind = Literal["restaurant", "cafe", "bar", "bakery", "canteen", "shop", "pharmacy", "other"]


# --------------------------------------------------------------------------- models


class Contact(Frozen):
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


class Person(Frozen):
    """Someone organisers call on the day: the chair or the venue manager."""

    name: Name
    contact: ContactField
    language: LanguageTag


class Contacts(Frozen):
    """The ``[contacts]`` table: who decides (chair) and who runs the building."""

    chair: Person
    venue_manager: Person


class Travel(Frozen):
    """How and when someone arrives; ``from`` in TOML is :attr:`origin` here."""

    mode: TravelMode
    arrival: AwareDatetime
    origin: Name | None = Field(default=None, alias="from")
    reference: Name | None = Field(default=None, description="Flight or train number.")
    transfer_minutes: int | None = Field(
        default=None,
        ge=0,
        le=600,
        strict=True,
        description="From the airport or station to the venue; default: the venue's "
        "transfer_minutes for this mode.",
    )

    @property
    def at_venue(self) -> dt.datetime:
        """When the traveller reaches the venue: the arrival plus the transfer."""
        return self.arrival + dt.timedelta(minutes=self.transfer_minutes or 0)


class Speaker(Frozen):
    """A ``[[speaker]]``; without ``travel`` the speaker counts as on site all day."""

    id: Identifier
    name: Name
    language: LanguageTag
    contact: ContactField
    salutation: Name | None = None
    travel: Travel | None = None

    @property
    def arrival(self) -> dt.datetime | None:
        """When the speaker reaches the venue, or None when they are on site.

        That is their travel's arrival plus the transfer from the airport or station.
        """
        return None if self.travel is None else self.travel.at_venue


class Guest(Frozen):
    """A ``[[guest]]`` of note: someone whose late arrival the organisers must handle."""

    id: Identifier
    name: Name
    language: LanguageTag
    travel: Travel
    contact: ContactField | None = None
    day_guest: bool = Field(
        default=False,
        strict=True,
        description="No hotel room is booked for the guest: arriving early, they get "
        "breakfast and a quiet place to wait, not a room that is not ready yet.",
    )

    @property
    def arrival(self) -> dt.datetime:
        """When the guest arrives."""
        return self.travel.arrival


class Nearby(Frozen):
    """A ``[[venue.nearby]]`` place for plan B: food and coffee for a late guest."""

    name: Name
    kind: NearbyKind
    walk_minutes: int = Field(ge=0, le=180, strict=True)
    note: Text | None = None


class Venue(Frozen):
    """The ``[venue]`` table."""

    name: Name
    address: Text | None = None
    rooms: tuple[Name, ...] = Field(min_length=1)
    backup_room: Name | None = None
    breakfast_until: dt.time | None = None
    nearby: tuple[Nearby, ...] = ()
    transfer_minutes: dict[TravelMode, Annotated[int, Field(ge=0, le=600, strict=True)]] = Field(
        default_factory=dict,
        description="From the airport (flight) or station (train) to the venue, per mode: "
        "added to a speaker's arrival unless their travel says otherwise.",
    )

    @field_validator("rooms")
    @classmethod
    def _unique_rooms(cls, rooms: tuple[str, ...]) -> tuple[str, ...]:
        repeated = sorted({room for room in rooms if rooms.count(room) > 1})
        if repeated:
            raise ValueError(f"room {echo(repeated[0])} is listed twice")
        return rooms

    @field_validator("backup_room")
    @classmethod
    def _backup_not_scheduled(cls, backup: str | None, info: ValidationInfo) -> str | None:
        if backup is not None and backup in info.data.get("rooms", ()):
            raise ValueError(
                f"the backup room {echo(backup)} must not be one of rooms: it is kept free "
                "so that a session can move there"
            )
        return backup


class EventInfo(Frozen):
    """The ``[event]`` table: give ``date``, or ``start`` and ``end``, or all three."""

    id: Identifier
    title: Name
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
            raise ValueError(f"{echo(value)} is not one of languages ({', '.join(languages)})")
        return value

    @model_validator(mode="after")
    def _when(self) -> EventInfo:
        if self.date is None and self.start is None:
            raise ValueError("give the event's date, or its start and end")
        return self


class Session(Frozen):
    """A ``[[session]]`` of the agenda; ``speaker`` is a speaker id, or None for a break."""

    id: Identifier
    title: Name
    room: Name
    start: AwareDatetime
    end: AwareDatetime
    speaker: Name | None = None  # any text: a name instead of an id gets a did-you-mean
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


class Event(Frozen):
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
        return _transfers(_localize_times(data)) if isinstance(data, Mapping) else data

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


def usable_timezone(data: Mapping[str, Any]) -> bool:
    """Whether raw event data names a time zone that exists.

    Without one, local times cannot be compared with offset ones, so the checks of times
    (order, overlaps, arrivals) wait until it is fixed: the time zone is the one problem.
    """
    info = data.get("event")
    name = info.get("timezone") if isinstance(info, Mapping) else None
    if not isinstance(name, str):
        return False
    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):
        return False
    return True


def _parse_iso(value: str) -> dt.datetime | None:
    try:
        return dt.datetime.fromisoformat(value)
    except ValueError:
        return None


def _transfers(data: dict[str, Any]) -> dict[str, Any]:
    """Each speaker's travel without its own ``transfer_minutes`` takes the venue's for its mode."""
    venue = data.get("venue")
    table = venue.get("transfer_minutes") if isinstance(venue, Mapping) else None
    speakers = data.get("speaker")
    if not isinstance(table, Mapping) or not isinstance(speakers, list):
        return data
    filled = []
    for speaker in speakers:
        travel = speaker.get("travel") if isinstance(speaker, Mapping) else None
        mode = travel.get("mode") if isinstance(travel, Mapping) else None
        if isinstance(travel, Mapping) and "transfer_minutes" not in travel and mode in table:
            speaker = {**speaker, "travel": {**travel, "transfer_minutes": table[mode]}}
        filled.append(speaker)
    return {**data, "speaker": filled}


def _localize_times(data: Mapping[str, Any]) -> dict[str, Any]:
    """Make every date-time of raw event data aware, in the event's time zone.

    TOML local date-times (and ISO strings without an offset) get the event's time zone;
    times of day are combined with ``[event] date`` when there is one; offset date-times are
    converted to the event's zone. Anything else is left for validation to report. An
    invalid time zone falls back to UTC here, so that only the time zone itself is reported.

    Args:
        data: the document as tomli returns it (not modified).

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
