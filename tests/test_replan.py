"""Re-planning for a late speaker: concrete agendas, then invariants on random agendas."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping, Sequence
from itertools import combinations
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cxplay._events.checks import check_event
from cxplay._events.load import load_event
from cxplay._events.model import Event, Session
from cxplay._events.replan import Change, Replan, replan
from cxplay.errors import IncidentError

EXAMPLE = Path(__file__).parent.parent / "examples" / "events" / "cxconf-2026.toml"
WARSAW = ZoneInfo("Europe/Warsaw")
DAY = dt.date(2026, 11, 20)

Time = str | int  # "HH:MM", or minutes after midnight
Row = tuple[str, str, Time, Time, str | None]  # id, room, start, end, speaker


def at(when: Time) -> dt.datetime:
    if isinstance(when, str):
        hours, minutes = map(int, when.split(":"))
        when = hours * 60 + minutes
    return dt.datetime.combine(DAY, dt.time(when // 60, when % 60), tzinfo=WARSAW)


def hm(moment: dt.datetime) -> str:
    return moment.astimezone(WARSAW).strftime("%H:%M")


def make_event(
    rows: Sequence[Row],
    arrivals: Mapping[str, Time | None],
    *,
    backup: str | None = "X",
    day_end: Time | None = None,
) -> Event:
    info: dict[str, Any] = {"id": "t", "title": "T", "timezone": "Europe/Warsaw", "date": DAY}
    if day_end is not None:
        info |= {"start": at("06:00"), "end": at(day_end)}
    venue: dict[str, Any] = {"name": "Hall", "rooms": ["A", "B"]}
    if backup is not None:
        venue["backup_room"] = backup
    person = {"name": "Chair Person", "contact": "+48 600 000 000", "language": "en"}
    speakers = []
    for ident, arrival in arrivals.items():
        speaker: dict[str, Any] = {
            "id": ident,
            "name": f"Speaker {ident.upper()}",
            "language": "en",
            "contact": f"{ident}@example.org",
        }
        if arrival is not None:
            speaker["travel"] = {"mode": "flight", "arrival": at(arrival)}
        speakers.append(speaker)
    sessions = []
    for ident, room, start, end, who in rows:
        row: dict[str, Any] = {
            "id": ident,
            "title": f"Talk {ident}",
            "room": room,
            "start": at(start),
            "end": at(end),
        }
        if who is not None:
            row["speaker"] = who
        sessions.append(row)
    event = Event.model_validate(
        {
            "event": info,
            "venue": venue,
            "contacts": {"chair": person, "venue_manager": {**person, "name": "Manager"}},
            "speaker": speakers,
            "session": sessions,
        }
    )
    assert check_event(event) == []
    return event


def rows_of(plan: Replan) -> list[tuple[str, str, str, str]]:
    return [(s.id, s.room, hm(s.start), hm(s.end)) for s in plan.agenda]


def moves_of(plan: Replan) -> list[tuple[str, str, str, str]]:
    return [(c.session, c.kind, c.new_room, hm(c.new_start)) for c in plan.changes]


def original_rows(event: Event) -> list[tuple[str, str, str, str]]:
    ordered = sorted(enumerate(event.sessions), key=lambda item: (item[1].start, item[0]))
    return [(s.id, s.room, hm(s.start), hm(s.end)) for _, s in ordered]


ARRIVALS: dict[str, Time | None] = {"a": None, "b": None, "c": None}


# --------------------------------------------------------------------------- concrete cases


def test_no_change_needed() -> None:
    event = make_event(
        [("s1", "A", "09:00", "10:00", "a"), ("s2", "A", "10:00", "11:00", "b")], ARRIVALS
    )
    plan = replan(event, "a", at("08:30"))
    assert plan.feasible and not plan.escalate_to_chair
    assert plan.moves == ()
    assert plan.changes == (
        Change(
            kind="none",
            session="s1",
            title="Talk s1",
            old_room="A",
            old_start=at("09:00"),
            old_end=at("10:00"),
            new_room="A",
            new_start=at("09:00"),
            new_end=at("10:00"),
        ),
    )
    assert rows_of(plan) == original_rows(event)
    assert plan.ready_at == at("08:45")
    assert "No change needed" in plan.reason


def test_margin_counts_towards_late() -> None:
    event = make_event([("s1", "A", "09:00", "10:00", "a")], ARRIVALS, day_end="18:00")
    assert replan(event, "a", at("08:45")).moves == ()  # ready exactly at 09:00
    # room A is free after the talk: it simply starts a minute late
    assert moves_of(replan(event, "a", at("08:46"))) == [("s1", "start_late", "A", "09:01")]
    assert replan(event, "a", at("08:59"), dt.timedelta(0)).moves == ()


def test_start_late_within_the_slack_before_the_next_session_of_the_room() -> None:
    rows: list[Row] = [
        ("s1", "A", "09:00", "10:00", "a"),
        ("s2", "A", "10:30", "11:30", "b"),  # 30 minutes of slack after s1
        ("s3", "A", "11:30", "12:30", "c"),
    ]
    event = make_event(rows, ARRIVALS)
    plan = replan(event, "a", at("09:05"))  # ready 09:20, ends 10:20: fits the slack
    assert moves_of(plan) == [("s1", "start_late", "A", "09:20")]
    assert [c.new_end for c in plan.moves] == [at("10:20")]
    assert "starts 20 minutes late, at 09:20, in A" in plan.reason
    # beyond the slack (ready 09:45 would end at 10:45, into s2): a swap instead
    later = replan(event, "a", at("09:30"))
    assert [c.kind for c in later.moves] == ["swap", "swap"]
    # exactly the slack: ends when s2 starts
    assert moves_of(replan(event, "a", at("09:15"))) == [("s1", "start_late", "A", "09:30")]


def test_start_late_never_double_books_the_speaker() -> None:
    rows: list[Row] = [
        ("s1", "A", "09:00", "10:00", "a"),
        ("s2", "B", "10:15", "11:00", "a"),  # the same speaker next door at 10:15
    ]
    event = make_event(rows, ARRIVALS, day_end="18:00")
    plan = replan(event, "a", at("09:10"))  # ready 09:25: s1 would run into s2
    assert all(c.kind != "start_late" or c.session != "s1" for c in plan.moves)


def test_swap_with_a_later_session_of_the_same_room() -> None:
    event = make_event(
        [
            ("s1", "A", "09:00", "10:00", "a"),
            ("s2", "A", "10:00", "11:00", "b"),
            ("t1", "B", "09:00", "10:00", "c"),
        ],
        ARRIVALS,
    )
    plan = replan(event, "a", at("09:30"))
    assert plan.feasible and not plan.escalate_to_chair
    assert rows_of(plan) == [
        ("s2", "A", "09:00", "10:00"),
        ("t1", "B", "09:00", "10:00"),
        ("s1", "A", "10:00", "11:00"),
    ]
    assert moves_of(plan) == [("s1", "swap", "A", "10:00"), ("s2", "swap", "A", "09:00")]
    assert plan.changes[0].old_start == at("09:00") and plan.changes[1].old_start == at("10:00")
    assert "'Talk s1' swaps slots with 'Talk s2' in A" in plan.reason


def test_backup_room_when_no_swap_works() -> None:
    event = make_event(
        [
            ("s1", "A", "09:00", "10:00", "a"),
            ("s2", "A", "10:00", "11:00", "b"),
            ("t1", "B", "09:00", "10:00", "c"),
        ],
        {**ARRIVALS, "b": "09:00"},  # b is not ready for s1's 09:00 slot
    )
    plan = replan(event, "a", at("09:30"))
    assert plan.feasible and not plan.escalate_to_chair
    assert rows_of(plan) == [
        ("t1", "B", "09:00", "10:00"),
        ("s1", "X", "10:00", "11:00"),
        ("s2", "A", "10:00", "11:00"),
    ]
    assert moves_of(plan) == [("s1", "move_room", "X", "10:00")]
    assert "to the backup room X at 10:00–11:00; A stays free 09:00–10:00" in plan.reason


def test_nothing_fits_escalates_to_the_chair() -> None:
    event = make_event(
        [("s1", "A", "09:00", "10:00", "a"), ("s2", "A", "10:00", "11:00", "b")],
        {**ARRIVALS, "b": "09:00"},
        backup=None,
    )
    plan = replan(event, "a", at("09:30"))
    assert not plan.feasible and plan.escalate_to_chair
    assert plan.changes == () and plan.moves == ()
    assert rows_of(plan) == original_rows(event)
    assert "Speaker B is not ready until 09:15" in plan.reason
    assert "no backup room" in plan.reason
    assert plan.reason.endswith("Escalate to the chair, Chair Person (+48 600 000 000).")


def test_backup_room_stops_at_the_end_of_the_day() -> None:
    rows: list[Row] = [("s1", "A", "09:00", "10:00", "a"), ("s2", "B", "10:00", "12:00", "b")]
    late = make_event(rows, ARRIVALS)  # the day ends with the last session, 12:00
    plan = replan(late, "a", at("11:30"))
    assert not plan.feasible and "before the day ends" in plan.reason
    longer = make_event(rows, ARRIVALS, day_end="18:00")  # [event] end = 18:00
    plan = replan(longer, "a", at("11:30"))  # room A is free: s1 starts late there
    assert moves_of(plan) == [("s1", "start_late", "A", "11:45")]
    busy = make_event([*rows, ("s3", "A", "10:00", "18:00", None)], ARRIVALS, day_end="18:00")
    plan = replan(busy, "a", at("11:30"))  # room A taken all day: the backup room
    assert moves_of(plan) == [("s1", "move_room", "X", "12:00")]


def test_started_session_is_not_moved() -> None:
    event = make_event(
        [("s1", "A", "09:00", "10:00", "a"), ("s2", "A", "10:00", "11:00", "b")], ARRIVALS
    )
    plan = replan(event, "a", at("09:30"), now=at("09:05"))
    assert not plan.feasible and plan.escalate_to_chair
    assert "has already started" in plan.reason
    assert rows_of(plan) == original_rows(event)


def test_sessions_before_now_stay_put() -> None:
    event = make_event(
        [
            ("s0", "A", "08:00", "09:00", "b"),
            ("s1", "A", "09:00", "10:00", "a"),
            ("s2", "A", "10:00", "11:00", "c"),
        ],
        ARRIVALS,
    )
    plan = replan(event, "a", at("09:30"), now=at("08:30"))
    assert rows_of(plan) == [
        ("s0", "A", "08:00", "09:00"),
        ("s2", "A", "09:00", "10:00"),
        ("s1", "A", "10:00", "11:00"),
    ]


def test_unequal_lengths_swap_as_a_block() -> None:
    event = make_event(
        [
            ("s1", "A", "09:00", "10:00", "a"),
            ("s2", "A", "10:00", "10:30", "b"),
            ("s3", "A", "10:30", "11:30", "c"),
        ],
        ARRIVALS,
    )
    plan = replan(event, "a", at("09:05"))  # ready 09:20
    assert rows_of(plan) == [
        ("s2", "A", "09:00", "09:30"),
        ("s1", "A", "09:30", "10:30"),
        ("s3", "A", "10:30", "11:30"),
    ]


def test_unequal_swap_that_would_overlap_is_refused() -> None:
    event = make_event(
        [
            ("s1", "A", "09:00", "10:00", "a"),
            ("s2", "A", "10:00", "10:30", "b"),
            ("s3", "A", "10:30", "11:30", "c"),
        ],
        {**ARRIVALS, "c": "10:00"},
        backup=None,
    )
    # ready 09:45: s1 can only take 10:00 from s2 and would run into s3; c is not on site
    plan = replan(event, "a", at("09:30"))
    assert not plan.feasible
    assert "it would overlap 'Talk s3'" in plan.reason


def test_swap_never_double_books_the_partner() -> None:
    event = make_event(
        [
            ("s1", "A", "09:00", "10:00", "a"),
            ("s2", "A", "10:00", "11:00", "b"),
            ("s3", "A", "11:00", "12:00", "c"),
            ("t1", "B", "09:00", "10:00", "b"),
        ],
        ARRIVALS,
    )
    plan = replan(event, "a", at("09:30"))
    # b cannot take 09:00 (already in t1), so the next session, s3, swaps
    assert rows_of(plan) == [
        ("s3", "A", "09:00", "10:00"),
        ("t1", "B", "09:00", "10:00"),
        ("s2", "A", "10:00", "11:00"),
        ("s1", "A", "11:00", "12:00"),
    ]


def test_breaks_swap_only_when_asked() -> None:
    rows: list[Row] = [
        ("s1", "A", "09:00", "10:00", "a"),
        ("brk", "A", "10:00", "10:30", None),
        ("s2", "A", "11:00", "12:00", "b"),
    ]
    event = make_event(rows, {**ARRIVALS, "b": "10:00"}, backup=None)
    assert not replan(event, "a", at("09:30")).feasible
    plan = replan(event, "a", at("09:30"), swap_breaks=True)
    assert rows_of(plan) == [
        ("brk", "A", "09:00", "09:30"),
        ("s1", "A", "10:00", "11:00"),
        ("s2", "A", "11:00", "12:00"),
    ]


def test_several_sessions_of_the_late_speaker() -> None:
    event = make_event(
        [
            ("s1", "A", "09:00", "10:00", "a"),
            ("s2", "A", "11:00", "12:00", "b"),
            ("t1", "B", "10:00", "11:00", "a"),
            ("t2", "B", "12:00", "13:00", "c"),
            ("u1", "A", "14:00", "15:00", "a"),
        ],
        ARRIVALS,
    )
    plan = replan(event, "a", at("09:50"))
    assert moves_of(plan) == [
        ("s1", "swap", "A", "11:00"),
        ("s2", "swap", "A", "09:00"),
        ("t1", "swap", "B", "12:00"),
        ("t2", "swap", "B", "10:00"),
        ("u1", "none", "A", "14:00"),
    ]
    assert "'Talk u1' at 14:00 needs no change." in plan.reason


def test_speaker_by_name_naive_times_and_unknown_speakers() -> None:
    event = make_event(
        [("s1", "A", "09:00", "10:00", "a"), ("s2", "A", "10:00", "11:00", "b")], ARRIVALS
    )
    naive = dt.datetime(2026, 11, 20, 9, 30)  # read in the event's time zone
    assert replan(event, "speaker a", naive) == replan(event, "a", at("09:30"))
    with pytest.raises(IncidentError, match="unknown speaker 'aa' in event 't'; did you mean 'a'"):
        replan(event, "aa", at("09:30"))
    with pytest.raises(ValueError, match="margin"):
        replan(event, "a", at("09:30"), dt.timedelta(minutes=-1))


def test_speaker_without_sessions() -> None:
    event = make_event([("s1", "A", "09:00", "10:00", "a")], ARRIVALS)
    plan = replan(event, "b", at("12:00"))
    assert plan.feasible and plan.changes == () and "has no session" in plan.reason


def test_plan_is_json_ready() -> None:
    event = load_event(EXAMPLE)
    plan = replan(event, "whitfield", at("09:50"))
    data = json.loads(json.dumps(plan.model_dump(mode="json")))
    assert data["changes"][0]["kind"] == "swap"
    assert Replan.model_validate(data) == plan


# --------------------------------------------------------------------------- the example event


def test_example_flight_slightly_late_swaps_the_keynote() -> None:
    event = load_event(EXAMPLE)
    plan = replan(event, "whitfield", at("09:50"))
    assert plan.feasible and not plan.escalate_to_chair
    assert rows_of(plan) == [
        ("queues", "Sala Audytoryjna", "09:00", "10:00"),
        ("ua-customers", "Sala Kameralna", "09:00", "10:00"),
        ("coffee", "Sala Audytoryjna", "10:00", "10:15"),
        ("keynote", "Sala Audytoryjna", "10:15", "11:15"),
        ("ecommerce", "Sala Kameralna", "10:15", "11:15"),
        ("panel", "Sala Audytoryjna", "11:30", "12:30"),
        ("lunch", "Sala Audytoryjna", "12:30", "13:30"),
        ("workshop", "Sala Kameralna", "13:30", "15:00"),
    ]


def test_example_flight_very_late_uses_the_backup_room() -> None:
    event = load_event(EXAMPLE)
    plan = replan(event, "whitfield", at("11:00"))
    # queues starts before he is ready; the panel's speaker lands at 10:55, too late for 09:00
    assert moves_of(plan) == [("keynote", "move_room", "Sala Seminaryjna 3", "11:15")]


def test_example_flight_after_lunch_escalates() -> None:
    event = load_event(EXAMPLE)
    plan = replan(event, "whitfield", at("14:30"))
    assert not plan.feasible and plan.escalate_to_chair
    assert "Katarzyna Zielińska" in plan.reason


# --------------------------------------------------------------------------- properties

SPEAKERS = ("a", "b", "c", "d")
FIVE = st.integers(0, 24 * 12 - 1).map(lambda n: n * 5)


@st.composite
def scenarios(draw: st.DrawFn) -> dict[str, Any]:
    rows: list[tuple[str, str, int, int, str | None]] = []
    for room in ("A", "B"):
        clock = 8 * 60 + draw(st.integers(0, 4)) * 15
        for _ in range(draw(st.integers(0, 5))):
            start = clock + draw(st.sampled_from([0, 0, 15, 30, 60]))
            end = start + draw(st.sampled_from([30, 45, 60, 60, 60, 90]))
            who = draw(st.sampled_from((None, *SPEAKERS, *SPEAKERS)))
            if who is not None and any(
                w == who and s < end and start < e for _, _, s, e, w in rows
            ):
                who = None  # the generated agenda itself must be valid
            rows.append((f"s{len(rows)}", room, start, end, who))
            clock = end
    on_site = st.none()
    travelling = st.integers(6 * 12, 15 * 12).map(lambda n: n * 5)
    arrivals = {who: draw(st.one_of(on_site, on_site, travelling)) for who in SPEAKERS}
    for who, planned in arrivals.items():  # a valid event plans arrivals before the talks
        starts = [s for _, _, s, _, w in rows if w == who]
        if planned is not None and starts and planned >= min(starts):
            arrivals[who] = min(starts) - 5
    busy = sorted({w for *_, w in rows if w is not None})
    late = draw(st.sampled_from(busy or list(SPEAKERS)))
    own = [s for _, _, s, _, w in rows if w == late]
    first = min(own) if own else 9 * 60
    arrival = first + draw(st.integers(-12, 48)) * 5
    # "now" is when the organisers re-plan: usually before the talk, sometimes after it began
    now = draw(st.one_of(st.none(), st.integers(-2, 12).map(lambda q: first - q * 15)))
    return {
        "rows": rows,
        "arrivals": arrivals,
        "late": late,
        "arrival": arrival,
        "margin": dt.timedelta(minutes=draw(st.sampled_from([0, 10, 15, 30]))),
        "now": now,
        "backup": draw(st.sampled_from([None, "X"])),
        "swap_breaks": draw(st.booleans()),
    }


def fits_late(
    event: Event, late_session: Session, late: str, ready: dt.datetime, now: dt.datetime | None
) -> bool:
    """Whether ``late_session`` can start at ``ready`` in its room (an independent oracle)."""
    if now is not None and late_session.start < now:
        return False
    end = ready + late_session.duration
    if end > max(s.end for s in event.sessions):
        return False
    for other in event.sessions:
        if other.id == late_session.id or not (other.start < end and ready < other.end):
            continue
        if other.room == late_session.room or other.speaker == late:
            return False
    return True


def exact_swaps(
    event: Event,
    late_session: Session,
    late: str,
    ready: dt.datetime,
    now: dt.datetime | None,
    margin: dt.timedelta,
    swap_breaks: bool,
) -> list[str]:
    """Sessions that could trade exact slots with ``late_session`` (an independent oracle)."""
    if now is not None and late_session.start < now:
        return []
    arrivals = {s.id: s.arrival for s in event.speakers}
    found = []
    for other in event.sessions:
        if other.room != late_session.room or other.start <= late_session.start:
            continue
        if other.duration != late_session.duration or other.start < ready:
            continue
        if other.speaker is None and not swap_breaks:
            continue
        if other.speaker == late:
            continue
        if other.speaker is not None:
            arrival = arrivals[other.speaker]
            if arrival is not None and arrival + margin > late_session.start:
                continue
        rest = [s for s in event.sessions if s.id not in (late_session.id, other.id)]
        if any(s.speaker == late and s.overlaps(other) for s in rest):
            continue
        if other.speaker is not None and any(
            s.speaker == other.speaker and s.overlaps(late_session) for s in rest
        ):
            continue
        found.append(other.id)
    return found


@settings(max_examples=300, deadline=None)
@given(scenarios())
def test_replan_invariants(case: dict[str, Any]) -> None:
    event = make_event(case["rows"], case["arrivals"], backup=case["backup"])
    late: str = case["late"]
    margin: dt.timedelta = case["margin"]
    now = None if case["now"] is None else at(case["now"])
    arrival = at(case["arrival"])
    ready = arrival + margin
    plan = replan(event, late, arrival, margin, now=now, swap_breaks=case["swap_breaks"])
    assert plan == replan(event, late, arrival, margin, now=now, swap_breaks=case["swap_breaks"])

    # every session kept, same durations and contents; changes match the agenda
    before = {s.id: s for s in event.sessions}
    after = {s.id: s for s in plan.agenda}
    assert len(plan.agenda) == len(after) == len(before)
    assert after.keys() == before.keys()
    for ident, session in after.items():
        assert session.duration == before[ident].duration
        assert (
            session.model_copy(
                update={
                    "room": before[ident].room,
                    "start": before[ident].start,
                    "end": before[ident].end,
                }
            )
            == before[ident]
        )
    assert [s.start for s in plan.agenda] == sorted(s.start for s in plan.agenda)
    moved = {
        i for i in after if (after[i].room, after[i].start) != (before[i].room, before[i].start)
    }
    assert moved == {c.session for c in plan.moves}
    for change in plan.changes:
        assert (change.old_room, change.old_start, change.old_end) == (
            before[change.session].room,
            before[change.session].start,
            before[change.session].end,
        )
        assert (change.new_room, change.new_start, change.new_end) == (
            after[change.session].room,
            after[change.session].start,
            after[change.session].end,
        )

    own = [s for s in event.sessions if s.speaker == late]
    needing = [s for s in own if s.start < ready]
    if not needing:  # a zero-change answer exists, so it is the answer
        assert plan.feasible and plan.moves == ()
        assert {c.session for c in plan.changes} == {s.id for s in own}
    if any(now is not None and s.start < now for s in needing):
        assert not plan.feasible

    if not plan.feasible:
        assert plan.escalate_to_chair
        assert plan.changes == () and moved == set()
        assert "Escalate to the chair" in plan.reason
        if len(needing) == 1:
            assert (
                exact_swaps(event, needing[0], late, ready, now, margin, case["swap_breaks"]) == []
            )
            assert not fits_late(event, needing[0], late, ready, now)
        return

    assert not plan.escalate_to_chair
    for first, second in combinations(plan.agenda, 2):
        if first.overlaps(second):
            assert first.room != second.room
            assert first.speaker is None or first.speaker != second.speaker
    arrivals = {s.id: s.arrival for s in event.speakers}
    for session in plan.agenda:
        if session.speaker == late:
            assert session.start >= ready
    for ident in moved:
        session = after[ident]
        assert session.room in (before[ident].room, case["backup"])
        if now is not None:
            assert before[ident].start >= now and session.start >= now
        if session.speaker is not None and session.speaker != late:
            arrival_of = arrivals[session.speaker]
            assert arrival_of is None or arrival_of + margin <= session.start
        if session.speaker is None:
            assert case["swap_breaks"]
    for change in plan.moves:
        assert (change.kind == "move_room") == (change.new_room == case["backup"])
        if change.kind == "start_late":  # same room, starts exactly when the speaker is ready
            assert change.new_room == change.old_room and change.new_start == ready

    # fewest changes first: starting late in the slack beats a swap, a swap beats the backup
    if len(needing) == 1:
        slack = fits_late(event, needing[0], late, ready, now)
        swaps = exact_swaps(event, needing[0], late, ready, now, margin, case["swap_breaks"])
        if slack:
            assert [(c.kind, c.session) for c in plan.moves] == [("start_late", needing[0].id)]
        elif swaps:
            assert [c.kind for c in plan.moves] == ["swap", "swap"]
            assert plan.moves[0].session == needing[0].id
        if any(c.kind == "move_room" for c in plan.moves):
            assert swaps == [] and not slack and len(plan.moves) == 1
