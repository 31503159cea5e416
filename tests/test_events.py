"""The event file: the example loads, and every bad input is an EventFileError with its line."""

from __future__ import annotations

import datetime as dt
import textwrap
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from cxplay._common.toml import LineIndex
from cxplay._events.checks import check_event
from cxplay._events.load import load_event, parse_event
from cxplay._events.model import Event
from cxplay.errors import EventFileError, PlaybookError, Problem

EXAMPLE = Path(__file__).parent.parent / "examples" / "events" / "cxconf-2026.toml"
WARSAW = ZoneInfo("Europe/Warsaw")

BASE = """\
[event]
id = "test-event"
title = "Test event"
timezone = "Europe/Warsaw"
date = 2026-11-20

[venue]
name = "Hall"
rooms = ["A", "B"]
backup_room = "X"

[contacts.chair]
name = "Chair Person"
contact = "chair@example.org"
language = "en"

[contacts.venue_manager]
name = "Venue Manager"
contact = "+48 600 000 000"
language = "pl"

[[speaker]]
id = "nowak"
name = "Jan Nowak"
language = "pl"
contact = "jan@example.org"

[[speaker]]
id = "kowalska"
name = "Anna Kowalska"
language = "pl-PL"
contact = { phone = "+48 600 111 222" }
travel = { mode = "train", arrival = 2026-11-20T08:10:00 }
"""


def session(
    ident: str, room: str, start: str, end: str, speaker: str | None = "nowak", extra: str = ""
) -> str:
    lines = [
        "",
        "[[session]]",
        f'id = "{ident}"',
        f'title = "Session {ident}"',
        f'room = "{room}"',
        f"start = {start}",
        f"end = {end}",
    ]
    if speaker is not None:
        lines.append(f'speaker = "{speaker}"')
    if extra:
        lines.append(extra)
    return "\n".join(lines) + "\n"


def line_of(text: str, needle: str, *, after: str | None = None) -> int:
    """1-based line of the first line holding ``needle`` (after the line holding ``after``)."""
    lines = text.splitlines()
    begin = 0
    if after is not None:
        begin = next(i for i, line in enumerate(lines) if after in line) + 1
    return next(i for i, line in enumerate(lines[begin:], start=begin) if needle in line) + 1


def load_text(tmp_path: Path, text: str | bytes) -> Event:
    path = tmp_path / "event.toml"
    if isinstance(text, str):
        path.write_text(text, encoding="utf-8")
    else:
        path.write_bytes(text)
    return load_event(path)


def problems_of(tmp_path: Path, text: str | bytes) -> list[Problem]:
    with pytest.raises(EventFileError) as info:
        load_text(tmp_path, text)
    problems = list(info.value.problems)
    assert problems, "an EventFileError always carries problems"
    for problem in problems:
        assert problem.file == str(tmp_path / "event.toml")
        assert isinstance(problem.line, int) and problem.line >= 1
    return problems


def only(problems: list[Problem], fragment: str) -> Problem:
    found = [p for p in problems if fragment in p.message]
    assert len(found) == 1, (fragment, problems)
    return found[0]


# --------------------------------------------------------------------------- the example


def test_example_loads_with_aware_times_in_the_event_zone() -> None:
    event = load_event(EXAMPLE)
    assert event.id == "cxconf-2026"
    assert event.info.timezone == "Europe/Warsaw"
    assert event.info.languages == ("pl", "en", "uk")
    assert event.info.default_language == "pl"
    assert len(event.sessions) == 8
    assert event.venue.backup_room not in event.venue.rooms
    assert event.venue.breakfast_until == dt.time(10, 30)
    assert [n.walk_minutes for n in event.venue.nearby] == [3, 6, 15]
    assert len(event.guests) == 2
    for s in event.sessions:
        assert s.start.tzinfo is not None and s.end > s.start
        assert s.start.astimezone(WARSAW).date() == dt.date(2026, 11, 20)
    keynote = event.find_session("keynote")
    assert keynote is not None
    assert keynote.start == dt.datetime(2026, 11, 20, 9, 0, tzinfo=WARSAW)
    assert keynote.speaker == "whitfield"
    # an offset date-time is converted to the event's zone
    ecommerce = event.find_session("ecommerce")
    assert ecommerce is not None and ecommerce.online
    assert ecommerce.end == dt.datetime(2026, 11, 20, 11, 15, tzinfo=WARSAW)
    assert ecommerce.end.tzinfo == WARSAW
    assert check_event(event) == []


def test_example_people_and_contacts() -> None:
    event = load_event(EXAMPLE)
    kovalenko = event.find_speaker("kovalenko")
    assert kovalenko is not None and kovalenko.travel is not None
    assert kovalenko.travel.origin == "Kyiv"  # written as a [speaker.travel] sub-table
    assert kovalenko.arrival == dt.datetime(2026, 11, 19, 21, 40, tzinfo=WARSAW)
    nowak = event.find_speaker("Jan Nowak")  # by name, too
    assert nowak is not None and nowak.id == "nowak" and nowak.arrival is None
    assert nowak.contact.phone == "+48 601 222 333" and nowak.contact.email is None
    assert event.contacts.venue_manager.contact.phone == "+48 600 300 400"
    assert event.contacts.chair.contact.email == "k.zielinska@cxconf.example.pl"
    assert {g.travel.mode for g in event.guests} == {"car", "train"}


def test_event_round_trips_through_json() -> None:
    event = load_event(EXAMPLE)
    again = Event.model_validate_json(event.model_dump_json(by_alias=True))
    assert again == event


def test_minimal_event_and_parse_event_from_text() -> None:
    event = parse_event(BASE + session("s1", "A", "09:00:00", "10:00:00"))
    assert event.info.languages == ("en",) and event.info.default_language == "en"
    assert event.sessions[0].duration == dt.timedelta(hours=1)
    assert event.speakers[1].contact.phone == "+48 600 111 222"


def test_start_and_end_instead_of_date(tmp_path: Path) -> None:
    text = BASE.replace(
        "date = 2026-11-20", "start = 2026-11-20T08:00:00\nend = 2026-11-20T18:00:00"
    ) + session("s1", "A", "2026-11-20T09:00:00", "2026-11-20T10:00:00+01:00")
    event = load_text(tmp_path, text)
    assert event.info.date is None
    assert event.info.start == dt.datetime(2026, 11, 20, 8, tzinfo=WARSAW)


def test_utf8_bom_is_accepted(tmp_path: Path) -> None:
    event = load_text(tmp_path, b"\xef\xbb\xbf" + BASE.encode())
    assert event.id == "test-event"


# --------------------------------------------------------------------------- bad input


def test_overlapping_sessions_in_one_room(tmp_path: Path) -> None:
    text = (
        BASE
        + session("s1", "A", "09:00:00", "10:00:00")
        + session("s2", "A", "09:30:00", "10:30:00", speaker="kowalska")
    )
    problem = only(problems_of(tmp_path, text), "overlaps session 's1'")
    assert problem.line == line_of(text, "start =", after='id = "s2"')
    assert problem.key == "session[1].start"
    assert "in room 'A'" in problem.message
    assert f"event.toml:{problem.line}: session[1].start: overlaps" in str(problem)


def test_touching_sessions_do_not_overlap(tmp_path: Path) -> None:
    text = (
        BASE
        + session("s1", "A", "09:00:00", "10:00:00")
        + session("s2", "A", "10:00:00", "11:00:00", speaker="kowalska")
    )
    assert len(load_text(tmp_path, text).sessions) == 2


def test_unknown_speaker_suggests_the_closest_id(tmp_path: Path) -> None:
    text = BASE + session("s1", "A", "09:00:00", "10:00:00", speaker="nowakk")
    problem = only(problems_of(tmp_path, text), "unknown speaker 'nowakk'")
    assert "did you mean 'nowak'?" in problem.message
    assert problem.line == line_of(text, 'speaker = "nowakk"')
    assert problem.key == "session[0].speaker"


def test_speaker_given_by_name_suggests_the_id(tmp_path: Path) -> None:
    text = BASE + session("s1", "A", "09:00:00", "10:00:00", speaker="Jan Nowak")
    problem = only(problems_of(tmp_path, text), "unknown speaker 'Jan Nowak'")
    assert "did you mean 'nowak'? (speaker takes the speaker's id" in problem.message
    assert problem.line == line_of(text, 'speaker = "Jan Nowak"')


def test_times_out_of_order(tmp_path: Path) -> None:
    text = BASE + session("s1", "A", "10:00:00", "09:00:00")
    problem = only(problems_of(tmp_path, text), "times out of order")
    assert problem.line == line_of(text, "end = 09:00:00")
    assert problem.key == "session[0].end"
    assert "end 09:00 is not after start 10:00" in problem.message


def test_unknown_room(tmp_path: Path) -> None:
    text = BASE + session("s1", "Room A", "09:00:00", "10:00:00")
    problem = only(problems_of(tmp_path, text), "unknown room 'Room A'")
    assert problem.line == line_of(text, 'room = "Room A"')
    assert problem.key == "session[0].room"


def test_session_in_the_backup_room_is_refused(tmp_path: Path) -> None:
    text = BASE + session("s1", "X", "09:00:00", "10:00:00")
    problem = only(problems_of(tmp_path, text), "is the backup room")
    assert problem.line == line_of(text, 'room = "X"', after='id = "s1"')


def test_unknown_key_suggests_the_right_one(tmp_path: Path) -> None:
    text = BASE + session("s1", "A", "09:00:00", "10:00:00", extra='titel = "typo"')
    problem = only(problems_of(tmp_path, text), "unknown key 'titel'")
    assert "did you mean 'title'?" in problem.message
    assert problem.line == line_of(text, "titel =")
    assert problem.key == "session[0].titel"


def test_unknown_key_in_an_inline_table(tmp_path: Path) -> None:
    text = BASE.replace(
        'travel = { mode = "train", arrival = 2026-11-20T08:10:00 }',
        'travel = { mode = "train", arival = 2026-11-20T08:10:00 }',
    )
    problems = problems_of(tmp_path, text)
    problem = only(problems, "unknown key 'arival'")
    assert "did you mean 'arrival'?" in problem.message
    assert problem.line == line_of(text, "arival =")
    assert problem.key == "speaker[1].travel.arival"
    assert only(problems, "missing required key 'arrival'").line == problem.line


def test_unknown_key_in_a_sub_table_of_an_array_entry(tmp_path: Path) -> None:
    text = BASE + (
        "\n[[speaker]]\n"
        'id = "melnyk"\nname = "Taras Melnyk"\nlanguage = "uk"\ncontact = "+380 50 765 4321"\n'
        "\n[speaker.travel]\n"
        'mode = "flight"\narrival = 2026-11-20T10:55:00\nflight = "LO 3907"\n'
    )
    problem = only(problems_of(tmp_path, text), "unknown key 'flight'")
    assert problem.key == "speaker[2].travel.flight"
    assert problem.line == line_of(text, "flight =")


def test_unknown_top_level_table(tmp_path: Path) -> None:
    text = BASE + '\n[sponsor]\nname = "ACME"\n'
    problem = only(problems_of(tmp_path, text), "unknown key 'sponsor'")
    assert problem.line == line_of(text, "[sponsor]")


def test_broken_toml_reports_the_line_tomllib_gives(tmp_path: Path) -> None:
    text = BASE + session("s1", "A", "09:00:00", "10:00:00").replace('room = "A"', "room = A")
    problems = problems_of(tmp_path, text)
    assert len(problems) == 1
    assert problems[0].message.startswith("invalid TOML: invalid value")
    assert problems[0].line == line_of(text, "room = A")


def test_broken_toml_at_the_end_of_the_file(tmp_path: Path) -> None:
    text = BASE + "[[session]]\nid = "
    problems = problems_of(tmp_path, text)
    assert problems[0].line == len(text.splitlines())
    assert "end of the file" in problems[0].message


def test_invalid_utf8(tmp_path: Path) -> None:
    raw = BASE.encode() + b'\n[[session]]\nid = "s1"\ntitle = "Caf\xe9"\n'
    problems = problems_of(tmp_path, raw)
    assert len(problems) == 1
    assert "not valid UTF-8" in problems[0].message and "0xe9" in problems[0].message
    assert problems[0].line == len(BASE.splitlines()) + 4  # blank, [[session]], id, title


def test_unreadable_file(tmp_path: Path) -> None:
    with pytest.raises(EventFileError) as info:
        load_event(tmp_path / "missing.toml")
    assert str(info.value).endswith("missing.toml: no such event file")
    assert isinstance(info.value, PlaybookError)


def test_speaker_in_two_sessions_at_once(tmp_path: Path) -> None:
    text = (
        BASE
        + session("s1", "A", "09:00:00", "10:00:00")
        + session("s2", "B", "09:45:00", "10:30:00")
    )
    problem = only(problems_of(tmp_path, text), "speaker 'nowak' is also in session 's1'")
    assert problem.line == line_of(text, 'speaker = "nowak"', after='id = "s2"')


def test_duplicate_ids(tmp_path: Path) -> None:
    text = (
        BASE
        + session("s1", "A", "09:00:00", "10:00:00")
        + session("s1", "A", "11:00:00", "12:00:00")
    )
    problem = only(problems_of(tmp_path, text), "duplicate session id 's1'")
    assert problem.line == line_of(text, 'id = "s1"', after="end = 10:00:00")


def test_backup_room_must_not_be_a_scheduled_room(tmp_path: Path) -> None:
    text = BASE.replace('backup_room = "X"', 'backup_room = "B"')
    problem = only(problems_of(tmp_path, text), "must not be one of rooms")
    assert problem.line == line_of(text, "backup_room =")


def test_unknown_time_zone_suggests_a_close_one(tmp_path: Path) -> None:
    text = BASE.replace("Europe/Warsaw", "Europe/Warshaw") + session(
        "s1", "A", "09:00:00", "10:00:00"
    )
    problems = problems_of(tmp_path, text)
    problem = only(problems, "unknown time zone 'Europe/Warshaw'")
    assert "did you mean 'Europe/Warsaw'?" in problem.message
    assert problem.line == line_of(text, "timezone =")
    assert len(problems) == 1  # local times do not cascade into more problems


def test_time_of_day_needs_the_event_date(tmp_path: Path) -> None:
    text = BASE.replace(
        "date = 2026-11-20", "start = 2026-11-20T08:00:00\nend = 2026-11-20T18:00:00"
    ) + session("s1", "A", "09:00:00", "2026-11-20T10:00:00")
    problem = only(problems_of(tmp_path, text), "a time of day needs the event's date")
    assert problem.line == line_of(text, "start = 09:00:00")


def test_event_needs_a_date_or_a_span(tmp_path: Path) -> None:
    text = BASE.replace("date = 2026-11-20\n", "")
    problem = only(problems_of(tmp_path, text), "give the event's date")
    assert problem.line == line_of(text, "[event]")


def test_missing_key_points_at_its_table(tmp_path: Path) -> None:
    text = BASE.replace('name = "Venue Manager"\n', "")
    problem = only(problems_of(tmp_path, text), "missing required key 'name'")
    assert problem.key == "contacts.venue_manager"
    assert problem.line == line_of(text, "[contacts.venue_manager]")


def test_sessions_must_be_an_array_of_tables(tmp_path: Path) -> None:
    text = BASE + '\n[session]\nid = "s1"\n'
    problem = only(problems_of(tmp_path, text), "[[session]]")
    assert problem.line == line_of(text, "[session]")


def test_wrong_values(tmp_path: Path) -> None:
    text = (
        BASE.replace('contact = "chair@example.org"', 'contact = "chair at example"')
        .replace('language = "pl-PL"', 'language = "polish!"')
        .replace('mode = "train"', 'mode = "plane"')
    )
    problems = problems_of(tmp_path, text)
    assert only(problems, "is not a phone number").line == line_of(text, 'contact = "chair at')
    assert only(problems, "not a language tag").line == line_of(text, "polish!")
    assert only(problems, "'plane'").line == line_of(text, 'mode = "plane"')


def test_session_outside_the_event_day(tmp_path: Path) -> None:
    text = BASE + session("s1", "A", "2026-11-21T09:00:00", "2026-11-21T10:00:00")
    problem = only(problems_of(tmp_path, text), "not on the event's date")
    assert problem.line == line_of(text, "start = 2026-11-21")


def test_all_problems_are_reported_at_once_sorted_by_line(tmp_path: Path) -> None:
    text = (
        BASE.replace('name = "Jan Nowak"', 'name = "Jan Nowak"\nemail = "x@y.pl"')
        + session("s1", "A", "09:00:00", "10:00:00")
        + session("s2", "A", "09:30:00", "10:30:00", speaker="kowalsak")
        + session("s3", "C", "12:00:00", "11:00:00")
    )
    problems = problems_of(tmp_path, text)
    messages = [p.message for p in problems]
    assert any("unknown key 'email'" in m for m in messages)  # a speaker typo does not hide...
    assert any("overlaps session 's1'" in m for m in messages)  # ...a session overlap
    assert any("did you mean 'kowalska'?" in m for m in messages)
    assert any("times out of order" in m for m in messages)
    lines = [p.line or 0 for p in problems]
    assert lines == sorted(lines)
    error = EventFileError(problems)
    assert len(str(error).splitlines()) == len(problems)


# --------------------------------------------------------------------------- the locator


def test_locator_follows_toml_structure() -> None:
    text = textwrap.dedent(
        '''\
        # [not a header] in a comment
        title = """a multi-line
        string with [brackets]
        and key = "value" inside"""
        rooms = [
          "A",   # first
          "B",
        ]
        "quoted key" = 1
        point = { x = 1, y = { z = 2 } }

        [[a]]
        v = 1
        [[a]]
        v = 2
        [a.sub]
        w = 'C:\\path'
        [[a.items]]
        k = 1
        [[a.items]]
        k = 2
        '''
    )
    locator = LineIndex(text)
    assert locator.line(("title",)) == 2
    assert locator.line(("rooms", 1)) == 7
    assert locator.line(("quoted key",)) == 9
    assert locator.line(("point", "y", "z")) == 10
    assert locator.line(("a", 0, "v")) == 13
    assert locator.line(("a", 1, "v")) == 15
    assert locator.line(("a", 1, "sub", "w")) == 17
    assert locator.line(("a", 1, "items", 1, "k")) == 21
    assert locator.line(("a", 1, "items", 1, "missing")) == 20  # falls back to the table
    assert locator.line(("nowhere",)) is None
