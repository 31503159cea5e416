"""Event plans (issue 18, class 8): a speaker's ready time includes the transfer from the
airport or station (declared per event or per speaker), and late guests are thanked for
telling us, not apologised to for their own delay.
"""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from cxplay import Engine
from cxplay._cli import cli
from cxplay._engine.durable import AVAILABLE as DURABLE
from cxplay._events.load import load_event
from cxplay._events.plan import build_plan
from cxplay._events.replan import DEFAULT_MARGIN
from cxplay.models import CHANNELS
from tests.rendered import LANGUAGES

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "events" / "cxconf-2026.toml"
CREATED = dt.datetime(2026, 11, 1, 12, 0, tzinfo=dt.timezone.utc)
WHITFIELD = 'travel = { mode = "flight", from = "London Heathrow", reference = "LO 282", arrival = 2026-11-20T08:05:00 }'


def _event_file(tmp_path: Path, *, venue: str = "", speaker: str = "") -> Path:
    text = EXAMPLE.read_text(encoding="utf-8")
    if venue:
        text = text.replace(
            "breakfast_until = 10:30:00\n", f"breakfast_until = 10:30:00\n{venue}\n"
        )
    if speaker:
        assert WHITFIELD in text
        text = text.replace(WHITFIELD, WHITFIELD[:-2] + f", {speaker} }}")
    path = tmp_path / "event.toml"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def engine() -> Engine:
    return Engine.from_path()


@pytest.mark.parametrize(
    ("venue", "speaker", "transfer"),
    [
        ("", "", 0),
        ("transfer_minutes = { flight = 40, train = 15 }", "", 40),  # per event
        ("transfer_minutes = { flight = 40 }", "transfer_minutes = 25", 25),  # the speaker's wins
        ("", "transfer_minutes = 55", 55),  # per speaker only
    ],
)
def test_ready_time_includes_the_transfer(
    tmp_path: Path, engine: Engine, venue: str, speaker: str, transfer: int
) -> None:
    event = load_event(_event_file(tmp_path, venue=venue, speaker=speaker))
    whitfield = next(s for s in event.speakers if s.id == "whitfield")
    assert whitfield.travel is not None
    landing = whitfield.travel.arrival
    assert whitfield.arrival == landing + dt.timedelta(minutes=transfer)
    plan = build_plan(event, engine, event_source=None, created_at=CREATED)
    for scenario in plan.scenarios:
        if not scenario.id.startswith("speaker_late/whitfield/") or scenario.cancelled:
            continue
        assert scenario.replan is not None and scenario.delay_minutes is not None
        expected = (
            landing + dt.timedelta(minutes=scenario.delay_minutes + transfer) + DEFAULT_MARGIN
        )
        assert scenario.replan.ready_at == expected, scenario.id


def test_the_runbook_shows_the_landing_and_the_transfer(tmp_path: Path) -> None:
    path = _event_file(tmp_path, venue="transfer_minutes = { flight = 40 }")
    out = tmp_path / "runbook.md"
    result = CliRunner().invoke(cli, ["plan", str(path), "--markdown", str(out)])
    assert result.exit_code == 0, result.output
    text = out.read_text(encoding="utf-8")
    assert "08:45 (lands 08:05, 40 min transfer)" in text


@pytest.mark.parametrize(
    ("venue", "message"),
    [
        ("transfer_minutes = { plane = 40 }", "transfer_minutes"),
        ("transfer_minutes = { flight = -5 }", "transfer_minutes"),
    ],
)
def test_a_bad_transfer_is_a_one_line_error(tmp_path: Path, venue: str, message: str) -> None:
    path = _event_file(tmp_path, venue=venue)
    result = CliRunner().invoke(cli, ["plan", str(path)])
    assert result.exit_code == 1
    assert "Traceback" not in result.output
    assert message in (result.output + (result.stderr or "")), result.output


_APOLOGY_FOR_THEIR_DELAY = re.compile(
    r"sorry (for|about) (the|your) (delay|journey)|apologi[sz]e for the delay|"
    r"przepraszamy za opóźnienie|перепрошуємо за (затримку|запізнення)",
    re.IGNORECASE,
)
_THANKS = re.compile(r"thank|dziękujemy|дякуємо", re.IGNORECASE)


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("channel", [c for c in CHANNELS if c != "social_public"])
@pytest.mark.parametrize("kind", ["guest_travel_disrupted", "speaker_late"])
def test_late_guests_are_thanked_not_apologised_to(
    engine: Engine, kind: str, channel: str, language: str
) -> None:
    incident = {
        "type": kind,
        "channel": channel,
        "customer": {"name": "Marta Kowalczyk"},
        "facts": {"delay_minutes": 45, "session_starts_in_minutes": 120, "travel_mode": "train"},
    }
    reply = engine.suggest(incident, language=language).reply
    assert reply is not None
    assert _THANKS.search(reply.body), reply.body
    assert not _APOLOGY_FOR_THEIR_DELAY.search(reply.body), reply.body


@pytest.mark.parametrize(
    "venue", ["", "transfer_minutes = { flight = 40, train = 15 }"], ids=["plain", "transfers"]
)
def test_the_runbook_table_and_sections_carry_the_same_numbers(tmp_path: Path, venue: str) -> None:
    """Row N of the scenario table is section N, and every time the row names is the
    section's too."""
    out = tmp_path / "runbook.md"
    path = _event_file(tmp_path, venue=venue)
    result = CliRunner().invoke(cli, ["plan", str(path), "--markdown", str(out)])
    assert result.exit_code == 0, result.output
    text = out.read_text(encoding="utf-8")
    rows = re.findall(r"^\| (\d+) \| \[[^\]]*\]\(#([^)]+)\) \| (.*) \|$", text, re.MULTILINE)
    assert rows
    for number, anchor, outcome in rows:
        found = re.search(
            rf'<a id="{re.escape(anchor)}"></a>\s*### (\d+)\. (.*?)(?=<a id=|\Z)', text, re.DOTALL
        )
        assert found is not None, anchor
        assert found.group(1) == number, (anchor, number, found.group(1))
        for clock in re.findall(r"\d{2}:\d{2}", outcome):
            assert clock in found.group(2), (anchor, clock)
    numbers = [int(n) for n, _, _ in rows]
    assert numbers == list(range(1, len(rows) + 1))


def test_a_replan_keeps_talks_out_of_the_lunch_slot() -> None:
    """For every speaker and delay of the example, a session moved to the backup room
    never overlaps a break (lunch, coffee): the afternoon always has a free slot there.
    Taras Melnyk 30 minutes late went to the backup room at 12:30, the lunch hour."""
    from cxplay._events.replan import replan

    event = load_event(EXAMPLE)
    breaks = [s for s in event.sessions if s.speaker is None]
    moved = 0
    for speaker in event.speakers:
        if speaker.arrival is None:
            continue
        for delay in range(5, 181, 5):
            plan = replan(event, speaker.id, speaker.arrival + dt.timedelta(minutes=delay))
            for change in plan.moves:
                if change.kind != "move_room":
                    continue
                moved += 1
                overlapping = [
                    b.title for b in breaks if b.start < change.new_end and change.new_start < b.end
                ]
                assert not overlapping, (speaker.id, delay, change.new_start, overlapping)
    assert moved  # the example does exercise the backup room


def test_a_break_is_used_only_when_nothing_else_is_free(tmp_path: Path) -> None:
    """With the day ending at lunch's end, the lunch slot is the only one left: taken."""
    from cxplay._events.replan import replan

    text = EXAMPLE.read_text(encoding="utf-8")
    # the afternoon workshop goes, and the day ends when lunch does
    start = text.rindex("[[session]]", 0, text.index('title = "Warsztat'))
    end = text.find("\n[[", start + 1)
    text = text[:start] + (text[end + 1 :] if end >= 0 else "")
    path = tmp_path / "short.toml"
    path.write_text(text, encoding="utf-8")
    event = load_event(path)
    melnyk = next(s for s in event.speakers if s.id == "melnyk")
    assert melnyk.arrival is not None
    plan = replan(event, "melnyk", melnyk.arrival + dt.timedelta(minutes=30))
    (change,) = [c for c in plan.moves if c.kind == "move_room"]
    assert change.new_start.astimezone(event.tz).strftime("%H:%M") == "12:30"


# --------------------------------------------------------------------------------------
# A day guest (no hotel room), declared in the event file (issue 18, class 7).

_ROOM = re.compile(r"\broom\b|pok[oó]j|номер\b|номера\b", re.IGNORECASE)
_QUIET = re.compile(r"quiet|cich|тих", re.IGNORECASE)
_DAY_GUEST_BACKENDS = [
    pytest.param(
        "durable", marks=pytest.mark.skipif(not DURABLE, reason="durable_rules does not import")
    ),
    "python",
]


def _with_day_guest(tmp_path: Path, value: str) -> Path:
    text = EXAMPLE.read_text(encoding="utf-8")
    marked = "day_guest = true                  # no hotel room: arriving early, a quiet place, not a room"
    assert marked in text
    path = tmp_path / "event.toml"
    path.write_text(text.replace(marked, value), encoding="utf-8")
    return path


@pytest.mark.parametrize("backend", _DAY_GUEST_BACKENDS)
def test_a_day_guest_from_the_event_file_gets_a_quiet_place_not_a_room(
    tmp_path: Path, backend: str
) -> None:
    """`day_guest = true` on a [[guest]] reaches the incident, the actions and every message
    of the early-arrival scenario; a guest with a room still hears about the room."""
    event = load_event(EXAMPLE)
    mayor = next(g for g in event.guests if g.id == "deputy-mayor")
    consul = next(g for g in event.guests if g.id == "consul")
    assert mayor.day_guest is True and consul.day_guest is False
    with Engine.from_path(backend=backend) as engine:  # type: ignore[arg-type]
        plan = build_plan(event, engine, event_source=None, created_at=CREATED)
    scenarios = {s.id: s for s in plan.scenarios}
    day = scenarios["guest_early_arrival/deputy-mayor"]
    assert day.facts["day_guest"] is True and day.incident["facts"]["day_guest"] is True
    assert "events.early.quiet_place" in {a.rule for a in day.suggestion.actions}
    assert "events.early.room_ready" not in {a.rule for a in day.suggestion.actions}
    to_guest = [m for m in day.messages if m.to == "guest"]
    assert to_guest, day.messages
    for message in to_guest:
        assert not _ROOM.search(message.body), message.body
        assert _QUIET.search(message.body), message.body
    venue = next(m for m in day.messages if m.to == "venue")
    assert "Nocleg nie jest zarezerwowany" in venue.body, venue.body
    # the consul has a room: the reply says it is not ready yet, and the room-ready text
    stay = scenarios["guest_early_arrival/consul"]
    assert "day_guest" not in stay.facts
    assert "events.early.room_ready" in {a.rule for a in stay.suggestion.actions}
    assert any(_ROOM.search(m.body) for m in stay.messages if m.to == "guest")


def test_day_guest_is_false_unless_the_event_file_says_so(tmp_path: Path) -> None:
    event = load_event(_with_day_guest(tmp_path, ""))
    assert not any(g.day_guest for g in event.guests)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ('day_guest = "yes"', "day_guest"),  # a boolean, not a string
        ("day_guest = 1", "day_guest"),
        ("day_gest = true", "did you mean 'day_guest'"),  # extra="forbid", with a hint
    ],
)
def test_a_bad_day_guest_is_a_one_line_error_with_its_line(
    tmp_path: Path, value: str, message: str
) -> None:
    path = _with_day_guest(tmp_path, value)
    line = next(
        n
        for n, text in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if value in text
    )
    result = CliRunner().invoke(cli, ["plan", str(path)])
    assert result.exit_code == 1, result.output
    output = result.output + (result.stderr or "")
    assert "Traceback" not in output
    assert message in output, output
    assert f":{line}:" in output, output


def test_day_guest_is_in_the_event_json_schema() -> None:
    from cxplay._events.model import Event

    schema = Event.model_json_schema(by_alias=True)
    guest = schema["$defs"]["Guest"]
    assert guest["properties"]["day_guest"]["type"] == "boolean"
    assert "hotel room" in guest["properties"]["day_guest"]["description"]
    assert guest.get("additionalProperties") is False
