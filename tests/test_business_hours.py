"""Business hours: the playbook's [calendar], SLAs in business time, and what replies promise.

Scenarios across holidays (Polish and Ukrainian, from the holidays library), dated
exceptions and both DST changes; hypothesis properties of the deadline arithmetic; the
playbook errors a user sees; the log's on-time figure.
"""

from __future__ import annotations

import json
import re
import textwrap
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cxplay import DecisionLog, Engine, load_playbooks
from cxplay._cli import cli as main
from cxplay._common.hours import BusinessCalendar, holiday_countries, parse_hours
from cxplay._engine.durable import AVAILABLE as DURABLE
from cxplay._log.report import build_report
from cxplay._replies.locale import format_deadline
from cxplay.models import Calendar

WARSAW = ZoneInfo("Europe/Warsaw")
KYIV = ZoneInfo("Europe/Kyiv")
OFFICE = {day: "08:00-18:00" for day in ("mon", "tue", "wed", "thu", "fri")}


def calendar(**extra: Any) -> BusinessCalendar:
    spec: dict[str, Any] = {"timezone": "Europe/Warsaw", "hours": OFFICE, "holidays": ["PL"]}
    spec.update(extra)
    return Calendar.model_validate(spec).business()


@pytest.fixture(scope="module")
def engine() -> Engine:
    return Engine.from_path()


# --------------------------------------------------------------------------- scenarios


@pytest.mark.parametrize(
    ("start", "span", "expected"),
    [
        # the case: 17:55 on the Friday before Easter Monday 2026
        (datetime(2026, 4, 3, 17, 55, tzinfo=WARSAW), timedelta(hours=2), "2026-04-07T09:55+02:00"),
        # inside opening hours the SLA is the clock
        (datetime(2026, 4, 2, 10, 0, tzinfo=WARSAW), timedelta(hours=2), "2026-04-02T12:00+02:00"),
        # ending exactly at closing time stays on that day
        (datetime(2026, 4, 2, 16, 0, tzinfo=WARSAW), timedelta(hours=2), "2026-04-02T18:00+02:00"),
        # Independence Day (Wednesday 11 November 2026) is skipped
        (
            datetime(2026, 11, 10, 17, 0, tzinfo=WARSAW),
            timedelta(hours=2),
            "2026-11-12T09:00+01:00",
        ),
        # autumn DST change (25 October 2026): Friday +02:00, Monday +01:00
        (
            datetime(2026, 10, 23, 17, 0, tzinfo=WARSAW),
            timedelta(hours=2),
            "2026-10-26T09:00+01:00",
        ),
        # spring DST change (29 March 2026): Friday +01:00, Monday +02:00
        (
            datetime(2026, 3, 27, 17, 30, tzinfo=WARSAW),
            timedelta(hours=2),
            "2026-03-30T09:30+02:00",
        ),
        # a Saturday e-mail waits for Monday's opening
        (
            datetime(2026, 11, 21, 14, 40, tzinfo=WARSAW),
            timedelta(hours=1),
            "2026-11-23T09:00+01:00",
        ),
        # two working days from a Saturday: the end of Tuesday, not "08:00 on Wednesday"
        (
            datetime(2026, 11, 21, 14, 40, tzinfo=WARSAW),
            timedelta(days=2),
            "2026-11-24T18:00+01:00",
        ),
        # one working day from a Friday afternoon is Monday afternoon
        (datetime(2026, 11, 20, 15, 0, tzinfo=WARSAW), timedelta(days=1), "2026-11-23T15:00+01:00"),
        # an instant in UTC is counted in the team's zone and answered in the caller's
        # (the library's contract: dates come back in the zone they were given in)
        (
            datetime(2026, 4, 3, 15, 55, tzinfo=timezone.utc),
            timedelta(hours=2),
            "2026-04-07T07:55+00:00",
        ),
    ],
)
def test_deadlines_in_business_time(start: datetime, span: timedelta, expected: str) -> None:
    due = calendar().add(start, span)
    assert due == datetime.fromisoformat(expected)
    assert due.isoformat(timespec="minutes") == expected  # said in the team's own offset


def test_dated_exceptions_win_over_weekdays_and_holidays() -> None:
    cal = calendar(
        exceptions={
            "2026-12-31": "08:00-14:00",  # a short New Year's Eve
            "2027-01-04": "closed",  # stock-taking Monday
            "2027-01-06": "10:00-12:00",  # open on Epiphany, a public holiday
        }
    )
    start = datetime(2026, 12, 31, 13, 30, tzinfo=WARSAW)
    # 30 minutes on the 31st; 1 January a holiday, a weekend, the 4th closed, the 5th open
    assert cal.add(start, timedelta(hours=1)) == datetime(2027, 1, 5, 8, 30, tzinfo=WARSAW)
    late = datetime(2027, 1, 5, 17, 0, tzinfo=WARSAW)
    assert cal.add(late, timedelta(hours=2)) == datetime(2027, 1, 6, 11, 0, tzinfo=WARSAW)


def test_ukrainian_holidays_follow_the_law() -> None:
    """Christmas on 7 January 2021 and the day off moved to the 8th closed the office;
    under martial law (since 24 February 2022) public holidays are working days, and the
    library knows both."""
    kyiv = Calendar(timezone="Europe/Kyiv", hours=OFFICE, holidays=["UA"]).business()
    assert kyiv.holiday(date(2021, 1, 7))
    before = datetime(2021, 1, 6, 17, 0, tzinfo=KYIV)
    assert kyiv.add(before, timedelta(hours=2)) == datetime(2021, 1, 11, 9, 0, tzinfo=KYIV)
    assert not kyiv.holiday(date(2026, 1, 7))
    now = datetime(2026, 1, 6, 17, 0, tzinfo=KYIV)
    assert kyiv.add(now, timedelta(hours=2)) == datetime(2026, 1, 7, 9, 0, tzinfo=KYIV)


def test_a_day_open_around_the_clock_counts_real_hours_across_dst() -> None:
    always = Calendar(
        timezone="Europe/Warsaw", hours={d: "00:00-24:00" for d in ("sat", "sun", "mon")}
    ).business()
    start = datetime(2026, 3, 29, 1, 0, tzinfo=WARSAW)  # 02:00-03:00 does not exist today
    assert always.add(start, timedelta(hours=3)) == datetime(2026, 3, 29, 5, 0, tzinfo=WARSAW)
    start = datetime(2026, 10, 25, 1, 0, tzinfo=WARSAW)  # 02:00-03:00 happens twice
    assert always.add(start, timedelta(hours=3)) == datetime(2026, 10, 25, 3, 0, tzinfo=WARSAW)


def test_lunch_breaks_are_not_counted() -> None:
    cal = calendar(hours={"mon": ["08:00-12:00", "13:00-17:00"]}, holidays=[])
    start = datetime(2026, 11, 23, 11, 30, tzinfo=WARSAW)
    assert cal.add(start, timedelta(hours=1)) == datetime(2026, 11, 23, 13, 30, tzinfo=WARSAW)


# --------------------------------------------------------------------------- properties

_HOURS = st.lists(st.tuples(st.integers(0, 47), st.integers(1, 48)), min_size=0, max_size=3).map(
    lambda pairs: sorted(
        {(a * 30, min(1440, a * 30 + b * 30)) for a, b in pairs if a * 30 + b * 30 > a * 30}
    )
)


def _disjoint(spans: list[tuple[int, int]]) -> list[str]:
    out: list[tuple[int, int]] = []
    for start, end in spans:
        if out and start < out[-1][1]:
            continue
        out.append((start, end))
    return [f"{s // 60:02d}:{s % 60:02d}-{e // 60:02d}:{e % 60:02d}" for s, e in out]


@st.composite
def calendars(draw: st.DrawFn) -> BusinessCalendar:
    week = {day: _disjoint(draw(_HOURS)) for day in ("mon", "tue", "wed", "thu", "fri", "sat")}
    if not any(week.values()):
        week["mon"] = ["09:00-17:00"]
    zone = draw(st.sampled_from(["Europe/Warsaw", "Europe/Kyiv", "America/New_York", "UTC"]))
    countries = draw(st.lists(st.sampled_from(["PL", "UA"]), max_size=2, unique=True))
    return Calendar(timezone=zone, hours=week, holidays=countries).business()


# around both DST changes of 2026 and across Easter, Christmas and the New Year
_MOMENTS = st.datetimes(
    min_value=datetime(2026, 3, 20),
    max_value=datetime(2027, 1, 10),
    timezones=st.just(timezone.utc),
)
_SPANS = st.integers(0, 60 * 24 * 4).map(lambda m: timedelta(minutes=m)) | st.integers(1, 5).map(
    lambda d: timedelta(days=d)
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cal=calendars(), start=_MOMENTS, span=_SPANS)
def test_a_deadline_is_open_and_never_before_the_clock(
    cal: BusinessCalendar, start: datetime, span: timedelta
) -> None:
    due = cal.add(start, span)
    assert cal.is_open(due), f"{due} is outside the opening hours"
    assert due >= start + span


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cal=calendars(), first=_MOMENTS, later=st.integers(0, 60 * 24 * 5), span=_SPANS)
def test_a_later_arrival_is_never_due_earlier(
    cal: BusinessCalendar, first: datetime, later: int, span: timedelta
) -> None:
    second = first + timedelta(minutes=later)
    assert cal.add(first, span) <= cal.add(second, span)


@settings(max_examples=200, deadline=None)
@given(start=_MOMENTS, channel=st.sampled_from(["email", "web_form", "sms", "chat"]))
def test_shipped_respond_by_is_within_the_team_hours(
    engine: Engine, start: datetime, channel: str
) -> None:
    """Every shipped SLA that counts business time, on any arrival time."""
    for playbook in engine.playbooks.playbooks:
        if playbook.hours is None or channel not in playbook.business:
            continue
        kind = {"contact": "reply_overdue", "parcel": "parcel_damaged"}.get(playbook.meta.id)
        if kind is None:
            continue
        incident = {"type": kind, "channel": channel, "occurred_at": start.isoformat()}
        if kind == "reply_overdue":
            incident["facts"] = {"waiting_minutes": 30}
        suggestion = engine.suggest(incident)
        assert suggestion.respond_by is not None
        assert playbook.hours.is_open(suggestion.respond_by)
        assert suggestion.respond_by >= start + playbook.sla[channel]
        for plan in suggestion.follow_ups:
            assert plan.due is not None
            if plan.action != "survey":
                assert playbook.hours.is_open(plan.due), plan


# --------------------------------------------------------------------------- replies


def _overdue(at: str, channel: str = "email") -> dict[str, Any]:
    return {
        "type": "reply_overdue",
        "channel": channel,
        "occurred_at": at,
        "customer": {"name": "Anna Kowalska"},
        "facts": {"waiting_minutes": 30},
    }


@pytest.mark.parametrize("channel", ["email", "sms", "chat", "web_form"])
@pytest.mark.parametrize(
    ("language", "said"),
    [
        ("en", "by 09:55 on Tuesday 7 April"),
        ("pl", "we wtorek, 7 kwietnia, do 09:55"),
        ("uk", "у вівторок, 7 квітня, до 09:55"),
    ],
)
def test_the_reply_names_the_next_open_day(
    engine: Engine, channel: str, language: str, said: str
) -> None:
    suggestion = engine.suggest(_overdue("2026-04-03T17:55:00+02:00", channel), language=language)
    # the channel's own SLA: 2 hours for e-mail, 1 for SMS, 5 minutes for chat; 5 of its
    # minutes pass on Friday, the rest after Easter Monday
    sla = {"email": (9, 55), "web_form": (9, 55), "sms": (8, 55), "chat": None}[channel]
    expected = datetime(2026, 4, 3, 18, 0, tzinfo=WARSAW)  # chat: five minutes fit on Friday
    if sla is not None:
        expected = datetime(2026, 4, 7, *sla, tzinfo=WARSAW)
    assert suggestion.respond_by == expected
    assert suggestion.reply is not None
    body = suggestion.reply.body
    # the full answer is promised with its day: two working hours on (a quarter of an hour
    # on chat), the weekday alone in an SMS
    if channel == "chat":
        said = said.replace("09:55", "08:10")
    if channel == "sms":
        said = {
            "en": "by 09:55 on Tuesday",
            "pl": "we wtorek do 09:55",
            "uk": "у вівторок до 09:55",
        }[language]
    assert said.casefold() in body.casefold(), body
    assert "19:55" not in body and "17:55" not in body
    # never "within 2 hours" when the answer comes days later
    assert not re.search(r"within 2 hours|w ciągu 2 godzin|протягом 2 годин", body), body


@pytest.mark.parametrize(
    ("language", "today", "tomorrow"),
    [
        ("en", "by 11:15", "by 09:00 tomorrow"),
        ("pl", "do 11:15", "jutro do 09:00"),
        ("uk", "до 11:15", "завтра до 09:00"),
    ],
)
def test_deadlines_are_said_from_the_incident_time(
    language: str, today: str, tomorrow: str
) -> None:
    now = datetime(2026, 11, 19, 9, 15, tzinfo=WARSAW)
    assert format_deadline(now + timedelta(hours=2), language, now) == today
    assert format_deadline(datetime(2026, 11, 20, 9, 0, tzinfo=WARSAW), language, now) == tomorrow
    later = format_deadline(datetime(2026, 11, 23, 9, 0, tzinfo=WARSAW), language, now)
    assert "23" in later and "09:00" in later


def test_calendar_time_slas_are_unchanged(engine: Engine) -> None:
    """Phone is answered while the customer is on the line: calendar time, any hour."""
    incident = {**_overdue("2026-04-03T23:10:00+02:00", "phone")}
    suggestion = engine.suggest(incident)
    assert suggestion.respond_by == datetime(2026, 4, 3, 23, 12, tzinfo=WARSAW)


def test_on_time_counts_business_time(engine: Engine, tmp_path: Path) -> None:
    """Answered on Tuesday 09:30 after a Friday 17:55 e-mail before Easter: on time."""
    with DecisionLog.open(tmp_path / "log.db") as log:
        logged = Engine.from_path(log=log)
        incident = {**_overdue("2026-04-03T17:55:00+02:00"), "id": "HOL-1"}
        suggestion = logged.suggest(incident)
        assert suggestion.decision_id is not None
        log.outcome(
            suggestion.decision_id, "accepted", at=datetime(2026, 4, 7, 7, 30, tzinfo=timezone.utc)
        )
        report = build_report(log)
        assert (report.total.on_time, report.total.with_deadline) == (1, 1)
        logged.close()


# --------------------------------------------------------------------------- validation

_PLAYBOOK = """\
[playbook]
id = "desk"
version = "1.0.0"
languages = ["en"]

{calendar}
[sla]
{sla}

[[rule]]
id = "desk.sorry"
when = "type == 'x'"
actions = [{{ kind = "apology" }}]
"""


def _validate(tmp_path: Path, calendar_block: str, sla: str) -> tuple[int, str]:
    (tmp_path / "desk.toml").write_text(
        _PLAYBOOK.format(calendar=textwrap.dedent(calendar_block), sla=sla), encoding="utf-8"
    )
    result = CliRunner().invoke(main, ["validate", str(tmp_path)])
    return result.exit_code, result.output + (result.stderr or "")


GOOD_CALENDAR = """\
[calendar]
timezone = "Europe/Warsaw"
hours = { mon = "08:00-18:00", fri = ["08:00-12:00", "13:00-16:00"] }
holidays = ["PL", "UA"]
exceptions = { 2026-12-31 = "08:00-14:00", 2026-12-28 = "closed" }
"""


def test_a_valid_calendar_loads(tmp_path: Path) -> None:
    _, out = _validate(tmp_path, GOOD_CALENDAR, 'email = { within = "PT2H", time = "business" }')
    assert "desk.toml" not in out  # only the missing replies/ directory is reported
    (playbook,) = load_playbooks([tmp_path]).playbooks
    assert playbook.business == frozenset({"email"}) and playbook.hours is not None
    assert playbook.sla["email"] == timedelta(hours=2)


@pytest.mark.parametrize(
    ("block", "sla", "message", "line"),
    [
        (GOOD_CALENDAR.replace('"PL", "UA"', '"PLL"'), '"PT1H"', "did you mean 'PL'?", 9),
        (GOOD_CALENDAR.replace('"08:00-18:00"', '"8-18"'), '"PT1H"', "'08:00-18:00'", 8),
        (
            GOOD_CALENDAR.replace('"08:00-18:00"', '"18:00-08:00"'),
            '"PT1H"',
            "closes before it opens",
            8,
        ),
        (GOOD_CALENDAR.replace("mon =", "monday ="), '"PT1H"', "monday", 8),
        (
            GOOD_CALENDAR.replace("Europe/Warsaw", "Europe/Warsow"),
            '"PT1H"',
            "did you mean 'Europe/Warsaw'?",
            7,
        ),
        (GOOD_CALENDAR + 'opens = "never"\n', '"PT1H"', "opens", 11),
        ("", '{ within = "PT2H", time = "business" }', "no [calendar]", 8),
        (GOOD_CALENDAR, '{ within = "PT2H", time = "working" }', "'business' or 'calendar'", 13),
        (
            GOOD_CALENDAR.replace(
                'hours = { mon = "08:00-18:00", fri = ["08:00-12:00", "13:00-16:00"] }',
                'hours = { mon = "closed" }',
            ),
            '"PT1H"',
            "never open",
            6,
        ),
    ],
)
def test_calendar_mistakes_are_one_line_errors(
    tmp_path: Path, block: str, sla: str, message: str, line: int
) -> None:
    code, out = _validate(tmp_path, block, f"email = {sla}")
    assert code == 1, out
    assert "Traceback" not in out
    errors = [x for x in out.splitlines() if "desk.toml:" in x]
    assert len(errors) == 1 and message in errors[0], out
    assert re.search(rf"desk\.toml:{line}:", errors[0]), errors[0]


def test_the_schema_describes_the_calendar() -> None:
    result = CliRunner().invoke(main, ["schema"])
    assert result.exit_code == 0
    schema = json.loads(result.output)
    calendar_schema = schema["$defs"]["Calendar"]
    assert set(calendar_schema["properties"]) == {"timezone", "hours", "holidays", "exceptions"}
    assert calendar_schema["additionalProperties"] is False
    sla = schema["properties"]["sla"]["additionalProperties"]
    assert [k["type"] for k in sla["anyOf"]] == ["string", "object"]


def test_parse_hours_refuses_overlaps() -> None:
    assert parse_hours(["13:00-17:00", "08:00-12:00"]) == ((480, 720), (780, 1020))
    with pytest.raises(ValueError, match="overlap"):
        parse_hours(["08:00-12:00", "11:00-17:00"])
    assert parse_hours("closed") == ()


def test_playbooks_show_says_which_slas_count_working_time() -> None:
    result = CliRunner().invoke(main, ["playbooks", "show", "contact"])
    assert result.exit_code == 0
    assert "email 2 hours (business time)" in result.output
    assert "phone 2 minutes\n" in result.output
    assert "open (Europe/Warsaw): mon 08:00-18:00;" in result.output
    assert "holidays PL" in result.output


def test_holiday_countries_are_the_library_s_whole_list() -> None:
    # read from the holidays registry so that a start does not import 250 country modules:
    # the same codes, aliases included, as the library's own list
    import holidays

    assert holiday_countries() == tuple(sorted(holidays.list_supported_countries()))
    assert {"PL", "UA", "GB", "UK", "POL"} <= set(holiday_countries())


# --------------------------------------------------------------------------- retail, rental
# The store's and the rental company's written channels keep office hours (their
# [calendar]); the till, the desk and the phone are open when the customer is there.


_BACKENDS = [
    pytest.param(
        "durable", marks=pytest.mark.skipif(not DURABLE, reason="durable_rules does not import")
    ),
    "python",
]
_BY = {"en": "We'll get back to you {}.", "pl": "Odezwiemy się {}.", "uk": "Ми відповімо {}."}


@pytest.mark.parametrize("backend", _BACKENDS)
@pytest.mark.parametrize(
    ("incident", "due", "said"),
    [
        # retail, the Friday evening before the May holidays (1 May a Saturday, 3 May a
        # Monday, Sunday closed): the e-mail is answered on Tuesday morning
        (
            {
                "type": "queue_long",
                "channel": "email",
                "occurred_at": "2027-04-30T20:30:00+02:00",
                "customer": {"name": "James Whitfield"},
                "facts": {"queue_minutes": 25},
            },
            "2027-05-04T09:30:00+02:00",
            {
                "en": "by 09:30 on Tuesday 4 May",
                "pl": "we wtorek, 4 maja, do 09:30",
                "uk": "у вівторок, 4 травня, до 09:30",
            },
        ),
        # retail, Saturday evening before the clocks go back (25 October 2026): Monday
        # 09:30 in Warsaw, said in Warsaw time although the incident was written at +02:00
        (
            {
                "type": "queue_long",
                "channel": "email",
                "occurred_at": "2026-10-24T20:30:00+02:00",
                "customer": {"name": "Anna Kowalska"},
                "facts": {"queue_minutes": 25},
            },
            "2026-10-26T09:30:00+01:00",
            {
                "en": "by 09:30 on Monday 26 October",
                "pl": "w poniedziałek, 26 października, do 09:30",
                "uk": "у понеділок, 26 жовтня, до 09:30",
            },
        ),
        # retail, inside opening hours: the SLA is the clock, in working hours
        (
            {
                "type": "queue_long",
                "channel": "email",
                "occurred_at": "2026-11-24T10:00:00+01:00",
                "customer": {"name": "Anna Kowalska"},
                "facts": {"queue_minutes": 25},
            },
            "2026-11-24T12:00:00+01:00",
            {
                "en": "within 2 working hours",
                "pl": "w ciągu 2 godzin roboczych",
                "uk": "протягом 2 робочих годин",
            },
        ),
        # rental, the Friday evening before the May holidays: the stations work holidays,
        # so the e-mail at 23:30 is answered from 06:00 on Saturday 1 May
        (
            {
                "type": "extra_missing",
                "channel": "email",
                "occurred_at": "2027-04-30T23:30:00+02:00",
                "customer": {"name": "Sarah O'Connor"},
                "order": {"id": "RES-90117"},
                "facts": {"missing_item": "gps"},
            },
            "2027-05-01T06:30:00+02:00",
            {"en": "by 06:30 tomorrow", "pl": "jutro do 06:30", "uk": "завтра до 06:30"},
        ),
        # rental, the night the clocks go forward (29 March 2026): 23:45 + 15 minutes,
        # then 45 minutes from 06:00 summer time
        (
            {
                "type": "extra_missing",
                "channel": "web_form",
                "occurred_at": "2026-03-28T23:45:00+01:00",
                "customer": {"name": "Sarah O'Connor"},
                "order": {"id": "RES-90117"},
                "facts": {"missing_item": "gps"},
            },
            "2026-03-29T06:45:00+02:00",
            {"en": "by 06:45 tomorrow", "pl": "jutro do 06:45", "uk": "завтра до 06:45"},
        ),
    ],
    ids=[
        "retail-may-holidays",
        "retail-dst-autumn",
        "retail-open",
        "rental-may",
        "rental-dst-spring",
    ],
)
def test_retail_and_rental_written_channels_keep_office_hours(
    backend: str, incident: dict[str, Any], due: str, said: dict[str, str]
) -> None:
    """respond_by and the reply's "we'll get back to you by ..." follow the calendar."""
    with Engine.from_path(backend=backend) as engine:  # type: ignore[arg-type]
        for language, when in said.items():
            suggestion = engine.suggest(incident, language=language)
            assert suggestion.respond_by == datetime.fromisoformat(due)
            assert suggestion.reply is not None
            assert _BY[language].format(when) in suggestion.reply.body, suggestion.reply.body


@pytest.mark.parametrize("backend", _BACKENDS)
def test_the_rental_station_managers_call_falls_in_the_stations_hours(backend: str) -> None:
    """A follow-up due date follows the calendar too: a missing child seat reported by
    e-mail at 23:50 gets the station manager's call 15 open minutes later, 06:05 the next
    morning, and the reply says so; at the desk and by phone the SLA stays the clock."""
    incident = {
        "type": "child_seat_missing",
        "channel": "email",
        "occurred_at": "2026-11-24T23:50:00+01:00",
        "customer": {"name": "Tomasz Wiśniewski"},
        "order": {"id": "RES-88213"},
        "facts": {"missing_item": "child_seat"},
    }
    with Engine.from_path(backend=backend) as engine:  # type: ignore[arg-type]
        suggestion = engine.suggest(incident, language="en")
        call = next(f for f in suggestion.follow_ups if f.action == "escalate")
        assert call.due == datetime.fromisoformat("2026-11-25T06:05:00+01:00")
        assert suggestion.reply is not None and "by 06:05 tomorrow" in suggestion.reply.body
        for channel, sla in (("in_person", 5), ("phone", 2)):
            live = engine.suggest({**incident, "channel": channel}, language="en")
            at = datetime.fromisoformat(incident["occurred_at"])
            assert live.respond_by == at + timedelta(minutes=sla)


def test_every_shipped_sla_says_why_it_counts_what_it_counts() -> None:
    """The playbooks that keep calendar time on a channel say why in a comment (an in-person
    desk is open when the customer is there; a social team works around the clock)."""
    root = Path(__file__).resolve().parent.parent / "playbooks"
    for name in ("public", "retail", "rental", "events"):
        text = (root / f"{name}.toml").read_text(encoding="utf-8")
        block = text.split("[sla]", 1)[1].split("\n\n", 1)[0]
        assert block.lstrip("\n").startswith("#"), f"{name}.toml: [sla] without a why"
