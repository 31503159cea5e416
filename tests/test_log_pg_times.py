"""PostgreSQL look-ups send their two times binary: the same moments the server read from text.

``cxplay._log.pgparams.pg_window`` makes ``timestamptz``'s binary parameters (microseconds
since 2000-01-01 UTC) from each moment's fields and offset (``pg_micros``), or from the
window's end in a zone of one fixed offset; before, each time went as its
``isoformat()`` text, which the server read. The reference here is the text: the moment
as Python's own arithmetic gives it, and the server's reading of the text beside the
binary value, and whole look-ups answered the old way (every time as text) and the new.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone, tzinfo
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import TypeAdapter
from test_log_pg_answer import NOW, compensated_log

from cxplay import DecisionLog
from cxplay._log import fast, pgparams

EPOCH = datetime(2000, 1, 1, tzinfo=timezone.utc)
#: offsets the server refuses in a time's text ("time zone displacement out of range",
#: "invalid input syntax"): such a time goes as text and the cursor answers, as before
ODD_OFFSETS = (
    timedelta(hours=16),
    -timedelta(hours=16),
    timedelta(hours=18, minutes=12, seconds=17),
    timedelta(hours=1, microseconds=500_000),
)
_PARSED = TypeAdapter(datetime)
TZ_TEXT = "2026-11-24T10:00:00+05:30"  # (its zone: pydantic's TzInfo, as an incident has)


class _NoOffset(tzinfo):
    """A zone that knows no offset: the moment's text has none."""

    def utcoffset(self, dt: datetime | None) -> timedelta | None:
        return None

    def tzname(self, dt: datetime | None) -> str | None:
        return None

    def dst(self, dt: datetime | None) -> timedelta | None:
        return None


def _reference(moment: datetime) -> int | None:
    """The moment's microseconds since 2000-01-01 UTC by Python's own arithmetic.

    None where the server refuses the moment's text (an offset of 16 hours or more, or
    with a fraction of a second: checked against the server below) or the text has no
    offset: such a moment still goes as its text.
    """
    offset = moment.utcoffset()
    if offset is None or offset.microseconds or abs(offset) >= timedelta(hours=16):
        return None
    return (moment - EPOCH) // timedelta(microseconds=1)


zones = st.one_of(
    st.just(timezone.utc),
    st.integers(-86_399, 86_399).map(lambda s: timezone(timedelta(seconds=s))),
    st.sampled_from(
        [ZoneInfo("Europe/Warsaw"), ZoneInfo("America/New_York"), ZoneInfo("Australia/Lord_Howe")]
    ),
    # pydantic's own zone, as an incident's ``occurred_at`` has it
    st.integers(-18 * 60, 18 * 60).map(
        lambda m: (
            _PARSED.validate_python(
                f"2026-01-01T00:00:00{'+' if m >= 0 else '-'}{abs(m) // 60:02d}:{abs(m) % 60:02d}"
            ).tzinfo
        )
    ),
)
moments = st.builds(
    lambda naive, zone, fold: naive.replace(tzinfo=zone, fold=fold),
    st.datetimes(min_value=datetime(1, 1, 3), max_value=datetime(9999, 12, 29)),
    zones,
    st.integers(0, 1),
)


@given(moments)
@settings(max_examples=400)
def test_the_binary_instant_is_the_moment(moment: datetime) -> None:
    assert pgparams.pg_micros(moment) == _reference(moment)


def _packed(moment: datetime) -> bytes | None:
    micros = _reference(moment)
    return None if micros is None else struct.pack(">q", micros)


@given(
    moments,
    st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=400)),
    st.booleans(),
)
@settings(max_examples=400)
def test_the_window_is_its_two_moments(until: datetime, window: timedelta, alone: bool) -> None:
    try:
        since = until - window  # (as the log makes it: the same zone, wall-clock)
    except OverflowError:
        return
    if alone:
        low = _packed(since)
        assert pgparams.pg_window(since, None) == (None if low is None else [low])
        return
    low, high = _packed(since), _packed(until)
    expected = None if low is None or high is None else [low, high]
    assert pgparams.pg_window(since, until) == expected


def test_what_the_binary_form_does_not_carry_goes_as_text() -> None:
    # no offset (its text has none), an offset the server refuses in a text
    assert pgparams.pg_micros(datetime(2026, 1, 1, tzinfo=_NoOffset())) is None
    for odd in ODD_OFFSETS:
        assert pgparams.pg_micros(datetime(2026, 1, 1, tzinfo=timezone(odd))) is None
    for fine in (timedelta(hours=15, minutes=59, seconds=59), -timedelta(hours=15, seconds=1)):
        moment = datetime(2026, 1, 1, tzinfo=timezone(fine))
        assert pgparams.pg_micros(moment) == _reference(moment) is not None
    # a whole second in the offset is carried (the server reads "+01:00:30" too)
    with_seconds = datetime(2026, 1, 1, tzinfo=timezone(timedelta(hours=1, seconds=30)))
    assert pgparams.pg_micros(with_seconds) == _reference(with_seconds)
    # the two instants of an hour that repeats (Warsaw, 25 Oct 2026 02:30)
    warsaw = ZoneInfo("Europe/Warsaw")
    first = datetime(2026, 10, 25, 2, 30, tzinfo=warsaw)
    second = first.replace(fold=1)
    assert pgparams.pg_micros(first) == _reference(first)
    assert pgparams.pg_micros(second) == _reference(second)
    assert pgparams.pg_micros(first) != pgparams.pg_micros(second)


@pytest.fixture
def pg_log(tmp_path: Path) -> Iterator[DecisionLog]:
    """test_log_pg_answer's log: compensation for three customers at several times."""
    yield from compensated_log(tmp_path)


def _server_reads(path: fast.PostgresFastPath, moments: list[datetime]) -> None:
    """The server reads each moment's binary parameter as the moment of its text."""
    raw = path._borrow()
    try:
        pgconn = raw.driver_connection.pgconn
        name = b"cxplay_test_times"
        sql = b"SELECT $1::timestamptz = $2::timestamptz, $1::timestamptz::text"
        assert pgconn.prepare(name, sql, (1184, 1184)).status == pgparams.COMMAND_OK
        text_only = b"SELECT $1::text::timestamptz"
        for moment in moments:
            micros = pgparams.pg_micros(moment)
            text = moment.isoformat().encode()
            if micros is None:  # the server refuses its text, or the text has no offset
                result = pgconn.exec_params(text_only, [text])
                assert moment.utcoffset() is None or result.status != pgparams.TUPLES_OK, moment
                continue
            pgconn.send_query_prepared(name, [struct.pack(">q", micros), text], (1, 0))
            result = pgparams.read_answer(pgconn)
            assert result.status == pgparams.TUPLES_OK, result.error_message
            assert result.get_value(0, 0) == b"t", (moment, result.get_value(0, 1))
    finally:
        pgconn.exec_(b"DEALLOCATE cxplay_test_times")
        path._give_back(raw)


def test_the_server_reads_the_binary_time_as_it_read_the_text(pg_log: DecisionLog) -> None:
    path = pg_log._fast
    assert isinstance(path, fast.PostgresFastPath)
    warsaw = ZoneInfo("Europe/Warsaw")
    edges = [
        datetime(1, 1, 3, tzinfo=timezone.utc),
        datetime(9999, 12, 29, 23, 59, 59, 999_999, tzinfo=timezone.utc),
        datetime(1999, 12, 31, 23, 59, 59, 999_999, tzinfo=timezone.utc),
        datetime(2000, 1, 1, tzinfo=timezone(timedelta(hours=-5))),
        datetime(2026, 10, 25, 2, 30, tzinfo=warsaw),
        datetime(2026, 10, 25, 2, 30, tzinfo=warsaw, fold=1),
        datetime(2026, 3, 29, 2, 30, tzinfo=warsaw),  # (an hour that never was)
        datetime(2026, 1, 1, tzinfo=timezone(timedelta(hours=13, minutes=45, seconds=30))),
        _PARSED.validate_python("2026-11-24T10:00:00.000001+05:30"),
        datetime(2026, 1, 1, tzinfo=timezone(timedelta(hours=15, minutes=59, seconds=59))),
        *(datetime(2026, 1, 1, tzinfo=timezone(odd)) for odd in ODD_OFFSETS),
    ]
    _server_reads(path, edges)

    @given(st.lists(moments, min_size=1, max_size=20))
    @settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    def generated(batch: list[datetime]) -> None:
        _server_reads(path, batch)

    generated()


def test_look_ups_answer_as_they_did_with_text_times(
    pg_log: DecisionLog, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Windows whose edges fall on a row's time and a microsecond around it, in other zones."""
    path = pg_log._fast
    assert isinstance(path, fast.PostgresFastPath)
    ends: list[datetime] = []
    odd_ends = []  # (last: after a text the server refused, the cursor answers them all)
    for n in range(9):
        at = NOW - timedelta(days=n * 20)  # (the fixture's rows)
        for edge in (at, at + timedelta(days=90)):  # the row at the window's end, its start
            for step in (-1, 0, 1):
                moment = edge + timedelta(microseconds=step)
                for zone in (timezone.utc, timezone(timedelta(hours=-7)), ZoneInfo("Asia/Tokyo")):
                    ends.append(moment.astimezone(zone))
                ends.append(moment.astimezone(_PARSED.validate_python(TZ_TEXT).tzinfo))
                for odd in ODD_OFFSETS[2:]:  # (text either way: the cursor answers)
                    odd_ends.append(moment.astimezone(timezone(odd)))
    ends += odd_ends

    def answers() -> list[Any]:
        found = []
        for end in ends:
            for customer in ("C-0", "C-1", "C-2", "C-nobody"):
                found.append(pg_log.history(customer, end))
                found.append(pg_log.history_later(customer, end)(True))
        return found

    new = answers()
    monkeypatch.setattr(pgparams, "pg_window", lambda since, until: None)  # every time as text
    old = answers()
    assert new == old
    assert sum(1 for h in new if h is not None and h.compensations) > 100
