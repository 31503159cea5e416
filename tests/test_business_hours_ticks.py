"""BusinessCalendar.add on integer instants against the datetime arithmetic it replaced.

The deadline arithmetic counts instants in microseconds since the epoch (s-render3); the
datetime version it replaced is kept here, verbatim but for its name, as the reference:
the two must agree on every instant, span and calendar, holidays, exceptions, both DST
changes and caller's time zones included.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic_core import TzInfo
from test_business_hours import _HOURS, _disjoint

from cxplay._common.hours import _HORIZON_DAYS, BusinessCalendar, _aware
from cxplay.models import Calendar


def reference_add(cal: BusinessCalendar, start: datetime, span: timedelta) -> datetime:
    """The datetime arithmetic of BusinessCalendar.add before s-render3."""
    given = _aware(start).tzinfo
    start = _aware(start).astimezone(timezone.utc)
    moment = _open_from(cal, start, timedelta(0))
    if span.days:
        local = moment.astimezone(cal.tz)
        day, left = local.date(), span.days
        for _ in range(_HORIZON_DAYS):
            day += timedelta(days=1)
            if cal.spans(day):
                left -= 1
                if left == 0:
                    break
        else:
            raise ValueError(f"the calendar is not open within {_HORIZON_DAYS} days")
        moment = cal._at(day, local.hour * 60 + local.minute) + timedelta(
            seconds=local.second, microseconds=local.microsecond
        )
    moment = _open_from(cal, moment, span - timedelta(days=span.days))
    moment = max(moment, _open_from(cal, start + span, timedelta(0)))
    if span:
        closed_at = _closing_before(cal, moment)
        if closed_at is not None and closed_at > start and closed_at >= start + span:
            moment = closed_at
    return moment.astimezone(given)


def _closing_before(cal: BusinessCalendar, moment: datetime) -> datetime | None:
    day = moment.astimezone(cal.tz).date()
    previous: datetime | None = None
    for _ in range(31):
        for begin, end in reversed(cal.intervals(day)):
            if previous is not None:
                return end if end < previous else None
            if begin == moment:
                previous = begin
            elif end < moment:
                return None  # moment is not an opening time
            elif begin < moment:
                return None  # inside an interval
        day -= timedelta(days=1)
    return None


def _open_from(cal: BusinessCalendar, moment: datetime, span: timedelta) -> datetime:
    left = span
    day = moment.astimezone(cal.tz).date() - timedelta(days=1)
    for _ in range(_HORIZON_DAYS):
        for begin, end in cal.intervals(day):
            if end < moment or (end == moment and left):
                continue
            begin = max(begin, moment)
            if begin + left <= end:
                return begin + left
            left -= end - begin
        day += timedelta(days=1)
    raise ValueError(f"the calendar is not open within {_HORIZON_DAYS} days")


# Santiago and Havana change their clocks at midnight, Lord Howe by half an hour
_ZONES = [
    "Europe/Warsaw",
    "Europe/Kyiv",
    "America/New_York",
    "America/Santiago",
    "America/Havana",
    "Australia/Lord_Howe",
    "UTC",
]


@st.composite
def calendars(draw: st.DrawFn) -> BusinessCalendar:
    """Any week (Sundays too, days open to 24:00), holidays, a few dated exceptions."""
    week = {
        day: _disjoint(draw(_HOURS)) for day in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
    }
    if not any(week.values()):
        week["wed"] = ["09:00-17:00"]
    zone = draw(st.sampled_from(_ZONES))
    countries = draw(st.lists(st.sampled_from(["PL", "UA"]), max_size=2, unique=True))
    exceptions = draw(
        st.dictionaries(
            st.dates(date(2026, 3, 20), date(2027, 1, 20)).map(date.isoformat),
            _HOURS.map(lambda spans: _disjoint(spans) or "closed"),
            max_size=4,
        )
    )
    spec = {"timezone": zone, "hours": week, "holidays": countries, "exceptions": exceptions}
    return Calendar.model_validate(spec).business()


# instants to the microsecond, and on the half hours the opening hours are drawn on (an
# instant at an opening or a closing time is where the arithmetic has its edge cases), in
# the caller's zone of any kind (naive is UTC)
_INSTANTS = st.datetimes(min_value=datetime(2026, 3, 20), max_value=datetime(2027, 1, 10))
_MOMENTS = st.one_of(
    _INSTANTS,
    _INSTANTS.map(lambda m: m.replace(minute=m.minute // 30 * 30, second=0, microsecond=0)),
).flatmap(
    lambda moment: st.sampled_from(
        [
            moment,
            moment.replace(tzinfo=timezone.utc),
            moment.replace(tzinfo=timezone(timedelta(hours=5, minutes=30))),
            moment.replace(tzinfo=TzInfo(3600)),  # pydantic's, for "+01:00" in an incident
            moment.replace(tzinfo=TzInfo(-9000), fold=1),
            moment.replace(tzinfo=ZoneInfo("Europe/Warsaw")),
            moment.replace(tzinfo=ZoneInfo("Europe/Warsaw"), fold=1),
            moment.replace(tzinfo=ZoneInfo("America/New_York")),
        ]
    )
)
_HALF_HOURS = _INSTANTS.map(
    lambda m: m.replace(minute=m.minute // 30 * 30, second=0, microsecond=0)
)
_SPANS = st.one_of(
    st.just(timedelta(0)),
    st.integers(0, 2 * 24 * 4).map(lambda m: timedelta(minutes=30 * m)),
    st.integers(0, 60 * 24 * 4).map(lambda m: timedelta(minutes=m)),
    st.integers(0, 7 * 86_400 * 1_000_000).map(lambda us: timedelta(microseconds=us)),
    st.tuples(st.integers(1, 6), st.integers(0, 86_399)).map(
        lambda ds: timedelta(days=ds[0], seconds=ds[1])
    ),
)


def _outcome(call: object) -> tuple[str, object]:
    try:
        answer = call()  # type: ignore[operator]
    except ValueError as error:
        return "error", str(error)
    return "due", (answer, answer.tzinfo, answer.utcoffset(), answer.isoformat(), answer.fold)


@settings(max_examples=800, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cal=calendars(), start=_MOMENTS, local=_HALF_HOURS, own=st.booleans(), span=_SPANS)
def test_integer_deadlines_equal_the_datetime_ones(
    cal: BusinessCalendar, start: datetime, local: datetime, own: bool, span: timedelta
) -> None:
    if own:  # a half hour on the team's own clock: an opening or a closing time, often
        start = local.replace(tzinfo=cal.tz)
    expected = _outcome(lambda: reference_add(cal, start, span))
    assert _outcome(lambda: cal.add(start, span)) == expected


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(start=_MOMENTS, span=_SPANS)
def test_a_calendar_never_open_says_so_in_both(start: datetime, span: timedelta) -> None:
    shut = BusinessCalendar(zone="Europe/Warsaw", week=((),) * 7)
    expected = _outcome(lambda: reference_add(shut, start, span))
    assert expected[0] == "error"
    assert _outcome(lambda: shut.add(start, span)) == expected


@settings(max_examples=300, deadline=None)
@given(
    zone=st.sampled_from(_ZONES),
    day=st.dates(date(1971, 1, 1), date(2999, 12, 30)),
    shift=st.sampled_from([-1, 0, 1, -999_999, 999_999]),
)
def test_the_local_date_of_an_instant_by_its_whole_second(zone: str, day: date, shift: int) -> None:
    """An instant a microsecond either side of a local midnight is on the right day."""
    cal = BusinessCalendar(zone=zone, week=((),) * 7)
    midnight = datetime(day.year, day.month, day.day, tzinfo=cal.tz).astimezone(timezone.utc)
    moment = midnight + timedelta(microseconds=shift)
    ticks = (moment - datetime(1970, 1, 1, tzinfo=timezone.utc)) // timedelta(microseconds=1)
    assert cal._day(ticks) == moment.astimezone(cal.tz).date().toordinal()


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    cal=calendars(),
    day=st.dates(date(2026, 3, 20), date(2027, 1, 10)),
    at=st.floats(0, 1),
    share=st.floats(0, 1),
    zone=st.sampled_from([timezone.utc, TzInfo(3600), ZoneInfo("America/New_York"), None]),
)
def test_a_deadline_inside_one_open_interval_is_the_start_plus_the_span(
    cal: BusinessCalendar, day: date, at: float, share: float, zone: object
) -> None:
    """The short cut of add(): the span fits in the first open interval from the start.

    A start drawn inside one of the day's open intervals and a span shorter than what is
    left of it: add() answers without walking the days, and as the reference does.
    """
    ticks = cal.ticks(day)
    if not ticks:
        return
    opens, closes = ticks[int(at * len(ticks)) % len(ticks)]
    begin = opens + int((closes - opens - 2) * at) if closes - opens > 2 else opens
    room = closes - begin - 1
    if room < 1:
        return
    span = timedelta(microseconds=max(1, int(room * share)))
    start = datetime(1970, 1, 1, tzinfo=timezone.utc) + timedelta(microseconds=begin)
    start = start.replace(tzinfo=None) if zone is None else start.astimezone(zone)  # type: ignore[arg-type]
    walked: list[int] = []
    original = BusinessCalendar._open_from

    def spy(self: BusinessCalendar, moment: int, span: int) -> int:
        walked.append(moment)
        return original(self, moment, span)

    BusinessCalendar._open_from = spy  # type: ignore[method-assign]
    try:
        answer = _outcome(lambda: cal.add(start, span))
    finally:
        BusinessCalendar._open_from = original  # type: ignore[method-assign]
    assert answer == _outcome(lambda: reference_add(cal, start, span))
    # the short cut answered (unless an interval closes as this one opens, at the start:
    # the walk meets that one first, at no cost but the walk)
    closing_then = any(
        end == begin for d in (day - timedelta(days=1), day) for _, end in cal.ticks(d)
    )
    assert not walked or closing_then
