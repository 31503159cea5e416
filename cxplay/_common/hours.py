"""Business hours: when a team is open, and deadlines counted in its open time.

A playbook's ``[calendar]`` says when its team works: opening hours per weekday in the
team's time zone, the public holidays of a country (from the ``holidays`` library) and
dated exceptions (a short Christmas Eve, a closed stock-taking day, a Sunday opened on
purpose). An SLA in business time counts only open minutes: an e-mail at 17:55 on the
Friday before Easter Monday, with two business hours to answer it, is due on Tuesday
morning, not at 19:55 on Friday.

Deadlines are instants (aware datetimes). Opening hours are local wall-clock times turned
into instants day by day, so a DST change shortens or lengthens only the hours that span it
(the open time is measured in real elapsed time).
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import itertools
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone, tzinfo
from pathlib import Path
from zoneinfo import ZoneInfo

from pydantic_core import TzInfo

from cxplay._common import cache, instants
from cxplay._common.lazy import lazy_pattern

__all__ = [
    "WEEKDAYS",
    "BusinessCalendar",
    "holiday_countries",
    "parse_hours",
]

#: Weekday keys of ``[calendar.hours]``, Monday first (``date.weekday()`` order).
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")

_RANGE = lazy_pattern(
    globals(), "_RANGE", r"^(?P<h1>\d{2}):(?P<m1>\d{2})-(?P<h2>\d{2}):(?P<m2>\d{2})$"
)
#: How far ahead a deadline is looked for: past this, the calendar is (nearly) never open.
_HORIZON_DAYS = 3 * 366

Span = tuple[int, int]  # minutes after local midnight: [start, end), end up to 1440


def parse_hours(value: str | Sequence[str]) -> tuple[Span, ...]:
    """``"08:00-18:00"``, ``["08:00-12:00", "13:00-17:00"]`` or ``"closed"`` → spans.

    Raises:
        ValueError: a malformed range, an empty or reversed one, or two that overlap;
            the message says what is expected.
    """
    if isinstance(value, str):
        if value.strip().lower() == "closed":
            return ()
        value = [value]
    spans: list[Span] = []
    for text in value:
        match = _RANGE.match(text.strip())
        if match is None:
            raise ValueError(
                f"opening hours must look like '08:00-18:00' (or 'closed'), got {text!r}"
            )
        h1, m1, h2, m2 = (int(match.group(k)) for k in ("h1", "m1", "h2", "m2"))
        if h1 > 23 or m1 > 59 or m2 > 59 or h2 > 24 or (h2 == 24 and m2):
            raise ValueError(f"{text!r} is not a time of day (00:00 to 24:00)")
        start, end = h1 * 60 + m1, h2 * 60 + m2
        if end <= start:
            raise ValueError(f"{text!r} closes before it opens")
        spans.append((start, end))
    spans.sort()
    for (_, end), (start, _) in itertools.pairwise(spans):
        if start < end:
            raise ValueError(f"opening hours overlap: {', '.join(value)}")
    return tuple(spans)


@functools.lru_cache(maxsize=1)
def holiday_countries() -> tuple[str, ...]:
    """Country codes the ``holidays`` library knows (``PL``, ``UA``, ...).

    The codes of its registry, aliases included: what ``list_supported_countries()``
    lists, without importing all of its 250 country modules (about 85 ms at every
    start) to learn their subdivisions, which a calendar does not use.
    """
    from holidays.registry import EntityLoader

    return tuple(sorted(EntityLoader.get_country_codes(include_aliases=True)))


@functools.lru_cache(maxsize=256)
def _holidays(country: str, year: int) -> frozenset[date]:
    """A country's public holidays in a year; kept in the user's cache when it is on.

    Asking the ``holidays`` library imports its 250 country modules (60-150 ms of a start);
    the answer depends only on the library's version, the country and the year, so a
    command with the cache on (:mod:`cxplay._common.cache`) keeps it as a JSON list of
    dates, checked on reading and recomputed when it is missing or does not parse.
    """
    entry = _holiday_entry(country, year) if cache.is_on() else None
    if entry is not None:
        body = cache.read(entry)
        if body is not None:
            with contextlib.suppress(ValueError, TypeError):
                days = json.loads(body)
                if isinstance(days, list):
                    return frozenset(date.fromisoformat(day) for day in days)
    import holidays

    found = frozenset(holidays.country_holidays(country, years=year))
    if entry is not None:
        cache.write(entry, json.dumps(sorted(day.isoformat() for day in found)).encode())
    return found


def _holiday_entry(country: str, year: int) -> Path | None:
    where = cache.private_dir("holidays", create=True)
    if where is None:
        return None
    key = hashlib.sha256(f"{cache.holidays_version()}|{country}|{year}".encode()).hexdigest()
    return where / f"{key}.json"


#: How many days' opening hours a calendar remembers (a few years of deadlines).
_DAYS_KEPT = 2048


@dataclass(frozen=True)
class BusinessCalendar:
    """When a team is open; deadlines counted in open time."""

    zone: str
    week: tuple[tuple[Span, ...], ...]  # seven days, Monday first
    countries: tuple[str, ...] = ()
    exceptions: Mapping[date, tuple[Span, ...]] = field(default_factory=dict)
    # day -> its opening hours as UTC instants: a deadline walks the same few days for
    # every incident, and each instant costs a time-zone conversion
    _days: dict[date, tuple[tuple[datetime, datetime], ...]] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )
    # the same in microseconds since the epoch, what the deadline arithmetic works on, by
    # the day's ordinal (an int hashes for nothing; a new date object hashes its bytes)
    _ticks: dict[int, tuple[tuple[int, int], ...]] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )

    def __post_init__(self) -> None:
        if len(self.week) != 7:
            raise ValueError("a week has seven days")

    @functools.cached_property
    def tz(self) -> tzinfo:
        return ZoneInfo(self.zone)

    def holiday(self, day: date) -> bool:
        """Whether ``day`` is a public holiday in one of the calendar's countries."""
        return any(day in _holidays(c, day.year) for c in self.countries)

    def spans(self, day: date) -> tuple[Span, ...]:
        """The day's opening hours: its exception, else nothing on a holiday, else its weekday's."""
        if day in self.exceptions:
            return self.exceptions[day]
        if self.holiday(day):
            return ()
        return self.week[day.weekday()]

    def intervals(self, day: date) -> tuple[tuple[datetime, datetime], ...]:
        """The day's opening hours as instants, in UTC.

        UTC, because Python adds to and compares datetimes of one zone by their wall
        clock: 01:00 + 3 hours would be 04:00 on the night the clocks go forward.
        Remembered per day (up to :data:`_DAYS_KEPT` days; the calendar never changes).
        """
        days = self._days
        found = days.get(day)
        if found is None:
            found = tuple(
                (self._at(day, start), self._at(day, end)) for start, end in self.spans(day)
            )
            if len(days) >= _DAYS_KEPT:
                days.clear()
            days[day] = found
        return found

    def _at(self, day: date, minutes: int) -> datetime:
        """The instant (UTC) of local ``day`` + ``minutes``; a time in a DST gap moves on."""
        if minutes >= 1440:
            day, minutes = day + timedelta(days=1), minutes - 1440
        local = datetime.combine(day, time(minutes // 60, minutes % 60), tzinfo=self.tz)
        return local.astimezone(timezone.utc)

    def is_open(self, moment: datetime) -> bool:
        """Whether ``moment`` is inside the opening hours (both ends included)."""
        moment = _aware(moment).astimezone(timezone.utc)
        day = moment.astimezone(self.tz).date()
        return any(
            start <= moment <= end
            for d in (day - timedelta(days=1), day)
            for start, end in self.intervals(d)
        )

    def ticks(self, day: date) -> tuple[tuple[int, int], ...]:
        """:meth:`intervals` as microseconds since the epoch (remembered as they are).

        The deadline arithmetic works on these integers: the same instants, compared and
        added exactly as the UTC datetimes are, without a datetime built per step.
        """
        ordinal = day.toordinal()
        found = self._ticks.get(ordinal)
        if found is None:
            found = tuple(
                (instants.micros(begin), instants.micros(end)) for begin, end in self.intervals(day)
            )
            if len(self._ticks) >= _DAYS_KEPT:
                self._ticks.clear()
            self._ticks[ordinal] = found
        return found

    def _ticks_on(self, ordinal: int) -> tuple[tuple[int, int], ...]:
        """:meth:`ticks` of the day with this ordinal (``date.toordinal()``)."""
        return self.ticks(date.fromordinal(ordinal))

    def _day(self, moment: int) -> int:
        """The local date of the instant ``moment`` (microseconds since the epoch), as its ordinal.

        That of its whole second: a zone's offsets are whole seconds, so a local midnight
        is one too and never falls inside a second (and the whole second converts exactly,
        in a third of the time the microseconds take). An ordinal, not a date: the walks
        step and look days up by it (an int, where each new date hashed its bytes).
        """
        return datetime.fromtimestamp(moment // 1_000_000, self.tz).toordinal()

    def add(self, start: datetime, span: timedelta) -> datetime:
        """``start`` plus ``span`` of open time: the deadline in business time.

        Whole days count open days (``P1D`` from Friday 15:00 is Monday 15:00 when the
        weekend is closed), the rest counts open hours. The answer is always inside the
        opening hours, never earlier than ``start + span`` in calendar time, and never
        earlier for a later ``start``.

        Instants are counted in microseconds since the epoch (:meth:`ticks`): exactly the
        UTC datetimes' arithmetic, a few times cheaper.

        Raises:
            ValueError: the calendar is not open at all within three years.
        """
        aware = _aware(start)
        given = aware.tzinfo  # the answer keeps the caller's zone (library contract)
        begin = instants.micros(aware)
        length = instants.span_micros(span)
        day = aware.astimezone(self.tz).toordinal()
        moment, closes = self._opening(begin, day)
        if length and not span.days and moment + length < closes:
            # the usual deadline: the span fits in the first open interval from the start
            # (open at the start, or from its next opening). Then every step below gives
            # that opening + span: the walk from it meets this interval first (the earlier
            # ones end by its opening), the span fits in it, and a moment inside an
            # interval is no opening time to move back to a closing one
            # (tests/test_business_hours_ticks.py holds it to the rest)
            due = moment + length
            if type(given) in _FIXED:
                return aware + (span if moment == begin else timedelta(microseconds=due - begin))
            return instants.moment(due).astimezone(given)
        if span.days:
            local = instants.moment(moment).astimezone(self.tz)
            day, left = local.toordinal(), span.days
            known = self._ticks
            for _ in _DAYS_AHEAD:
                day += 1
                # open that day: its spans, so its instants, are not empty
                ticks = known.get(day)
                if ticks is None:
                    ticks = self._ticks_on(day)
                if ticks:
                    left -= 1
                    if left == 0:
                        break
            else:
                raise ValueError(f"the calendar is not open within {_HORIZON_DAYS} days")
            moment = (
                instants.micros(self._at(date.fromordinal(day), local.hour * 60 + local.minute))
                + local.second * 1_000_000
                + local.microsecond
            )
        moment = self._open_from(moment, length - span.days * _DAY)
        if span.days:
            # a day stepped over a spring DST change is 23 hours: never earlier than the
            # clock (without whole days, ``length`` of open time after ``begin`` is at
            # least ``length`` of clock time, and open: never earlier already)
            moment = max(moment, self._open_from(begin + length, 0))
        if length:
            # "by 08:00 on Wednesday" is the same open time as "by 18:00 on Tuesday": say
            # the closing time, which is what a person means by "within two working days"
            closed_at = self._closing_before(moment)
            if closed_at is not None and closed_at > begin and closed_at >= begin + length:
                moment = closed_at
        if type(given) in _FIXED:
            # a fixed offset (pydantic's for "+01:00", or UTC): the start's own wall clock
            # moved on by the difference is the same instant in the same zone, without the
            # epoch's datetime and a conversion (a fifth of a deadline's cost)
            return aware + timedelta(microseconds=moment - begin)
        return instants.moment(moment).astimezone(given)

    def _closing_before(self, moment: int) -> int | None:
        """The last closing time before ``moment`` when ``moment`` opens after a closed gap."""
        day = self._day(moment)
        previous: int | None = None
        known = self._ticks
        for _ in _MONTH:  # the last open day within a month
            ticks = known.get(day)
            if ticks is None:
                ticks = self._ticks_on(day)
            for begin, end in reversed(ticks):
                if previous is not None:
                    return end if end < previous else None
                if begin == moment:
                    previous = begin
                elif end < moment:
                    return None  # moment is not an opening time
                elif begin < moment:
                    return None  # inside an interval
            day -= 1
        return None

    def _opening(self, moment: int, day: int) -> tuple[int, int]:
        """``_open_from(moment, 0)``, and the closing time of the interval it is in.

        ``day``: ``moment``'s local date's ordinal. The first interval (in day order) that
        has not closed before ``moment``: ``moment`` itself when inside, else its opening.
        """
        day -= 1  # a span past midnight
        known = self._ticks
        for _ in _DAYS_AHEAD:
            ticks = known.get(day)
            if ticks is None:
                ticks = self._ticks_on(day)
            for begin, end in ticks:
                if end >= moment:
                    return (begin if begin > moment else moment), end
            day += 1
        raise ValueError(f"the calendar is not open within {_HORIZON_DAYS} days")

    def _open_from(self, moment: int, span: int) -> int:
        """The instant by which ``span`` of open time has passed after ``moment`` (both in µs)."""
        left = span
        day = self._day(moment) - 1  # a span past midnight
        known = self._ticks  # ticks() without its call on the days it remembers
        for _ in _DAYS_AHEAD:
            ticks = known.get(day)
            if ticks is None:
                ticks = self._ticks_on(day)
            for begin, end in ticks:
                if end < moment or (end == moment and left):
                    continue
                begin = max(begin, moment)
                if begin + left <= end:
                    return begin + left
                left -= end - begin
            day += 1
        raise ValueError(f"the calendar is not open within {_HORIZON_DAYS} days")


_DAY = 86_400_000_000  # microseconds
#: Time zones of one offset for every instant: the standard library's and pydantic's.
_FIXED = frozenset({timezone, TzInfo})
#: The walks' steps, made once (a range of the horizon made per walk was ~1k instructions).
_DAYS_AHEAD = range(_HORIZON_DAYS)
_MONTH = range(31)


def _aware(moment: datetime) -> datetime:
    """A naive datetime is UTC (as everywhere in cxplay)."""
    zone = moment.tzinfo
    # a fixed offset always has one: not asked (the call is a tenth of a deadline's cost)
    if zone is None or (type(zone) not in _FIXED and moment.utcoffset() is None):
        return moment.replace(tzinfo=timezone.utc)
    return moment
