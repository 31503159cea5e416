"""cxplay plan: the preloaded plan, its runbooks, staleness and the offline answers.

The golden runbook is regenerated with ``CXPLAY_UPDATE_GOLDEN=1 pytest tests/test_plan.py``;
read the diff before committing it: it is what organisers print.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import shutil
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from cxplay._cli import cli
from cxplay._engine.engine import Engine
from cxplay._events.load import load_event
from cxplay._events.model import Event
from cxplay._events.offline import answer_offline, render_answer_markdown, render_answer_text
from cxplay._events.plan import PLAN_FORMAT, Plan, build_plan
from cxplay._events.runbook import render_runbook_html, render_runbook_markdown
from cxplay._events.store import check_plan, dump_plan, load_plan, parse_plan
from cxplay._playbooks.loader import load_playbooks, shipped_playbooks_dir
from cxplay.errors import PlanError, RenderError

ROOT = Path(__file__).parent.parent
EXAMPLE = ROOT / "examples" / "events" / "cxconf-2026.toml"
GOLDEN = Path(__file__).parent / "golden" / "cxconf-2026.runbook.md"
GOLDEN_HTML = GOLDEN.with_name("cxconf-2026.runbook.html")
CREATED = dt.datetime(2026, 11, 13, 9, 0, tzinfo=dt.timezone.utc)


@pytest.fixture(scope="module")
def event() -> Event:
    return load_event(EXAMPLE)


@pytest.fixture(scope="module")
def engine() -> Any:
    with Engine.from_path() as shipped:
        yield shipped


@pytest.fixture(scope="module")
def plan(event: Event, engine: Engine) -> Plan:
    return build_plan(
        event, engine, event_source="examples/events/cxconf-2026.toml", created_at=CREATED
    )


@pytest.fixture()
def plan_file(plan: Plan, tmp_path: Path) -> Path:
    path = tmp_path / "plan.json"
    path.write_text(dump_plan(plan), encoding="utf-8")
    return path


# --------------------------------------------------------------------------- building


def test_scenarios_of_the_example_event(plan: Plan) -> None:
    assert [s.id for s in plan.scenarios] == [
        "speaker_late/whitfield/15",
        "speaker_late/whitfield/30",
        "speaker_late/whitfield/60",
        "speaker_late/whitfield/cancelled",
        "speaker_late/wisniewska/15",
        "speaker_late/wisniewska/30",
        "speaker_late/wisniewska/60",
        "speaker_late/wisniewska/cancelled",
        "speaker_late/kovalenko/cancelled",
        "speaker_late/melnyk/15",
        "speaker_late/melnyk/30",
        "speaker_late/melnyk/60",
        "speaker_late/melnyk/cancelled",
        # Jan Nowak lives in Kraków: late, but no connection to cancel
        "speaker_late/nowak/15",
        "speaker_late/nowak/30",
        "speaker_late/nowak/60",
        "guest_early_arrival/deputy-mayor",
        "guest_travel_disrupted/deputy-mayor/30",
        "guest_travel_disrupted/deputy-mayor/60",
        "guest_travel_disrupted/deputy-mayor/120",
        "guest_early_arrival/consul",
        "guest_travel_disrupted/consul/30",
        "guest_travel_disrupted/consul/60",
        "guest_travel_disrupted/consul/120",
        "webinar_missed/ecommerce",
    ]


def _scenario(plan: Plan, scenario_id: str) -> Any:
    return next(s for s in plan.scenarios if s.id == scenario_id)


def test_late_keynote_swaps_and_everyone_hears_in_their_language(plan: Plan) -> None:
    scenario = _scenario(plan, "speaker_late/whitfield/60")
    assert scenario.replan is not None and scenario.replan.feasible
    assert [(c.session, c.kind) for c in scenario.replan.moves] == [
        ("keynote", "swap"),
        ("queues", "swap"),
    ]
    to = [(m.to, m.language, m.channel) for m in scenario.messages]
    assert to[0] == ("speaker", "en", "sms")  # he has a phone and is on the move
    assert ("attendees", "pl", "email") in to  # every event language, default first
    assert [lang for who, lang, _ in to if who == "attendees"] == ["pl", "en", "uk"]
    assert ("chair", "pl", "chat") in to and ("venue", "pl", "chat") in to
    chair = next(m for m in scenario.messages if m.to == "chair")
    assert chair.body.startswith("Dzień dobry, Pani Katarzyno,")
    assert "10:15–11:15" in chair.body and "09:05" in chair.body
    attendees_uk = next(m for m in scenario.messages if m.to == "attendees" and m.language == "uk")
    assert attendees_uk.subject == "Зміна в програмі: «Keynote: Recovering trust after a bad day»"


def test_the_swap_partner_hears_of_the_new_slot_in_their_language(plan: Plan) -> None:
    scenario = _scenario(plan, "speaker_late/whitfield/60")
    partner = [m for m in scenario.messages if m.to == "speaker" and m.name != "James Whitfield"]
    assert [(m.name, m.language) for m in partner] == [("Marta Wiśniewska", "pl")]
    body = partner[0].body
    assert "09:00–10:00" in body and "Sala Audytoryjna" in body and "10:15" in body
    assert "James Whitfield" in body and "Katarzyna Zielińska" in body  # who is late, whom to call
    assert partner[0].subject == "Nowa godzina sesji „Kolejki w sklepach: jak je skracać”"
    # the late speaker's own message carries his new time and room
    own = scenario.messages[0]
    assert own.to == "speaker" and "10:15" in own.body and "Sala Audytoryjna" in own.body


def test_every_swap_partner_in_every_scenario_gets_a_message(plan: Plan, event: Event) -> None:
    speaker_of = {s.id: s.speaker for s in event.sessions}
    names = {s.id: s.name for s in event.speakers}
    checked = 0
    for scenario in plan.scenarios:
        if scenario.replan is None:
            continue
        late = scenario.replan.speaker
        for change in scenario.replan.moves:
            other = speaker_of[change.session]
            if change.kind != "swap" or other in (None, late):
                continue
            to = [m for m in scenario.messages if m.to == "speaker" and m.name == names[other]]
            assert len(to) == 1, (scenario.id, other)
            start = change.new_start.astimezone(event.tz).strftime("%H:%M")
            assert start in to[0].body and change.new_room in to[0].body
            checked += 1
    assert checked > 0


def test_a_free_room_after_the_talk_means_it_simply_starts_later(plan: Plan) -> None:
    scenario = _scenario(plan, "speaker_late/nowak/15")
    assert scenario.replan is not None
    assert [(c.kind, c.new_room) for c in scenario.replan.moves] == [
        ("start_late", "Sala Kameralna")
    ]
    assert scenario.facts["replan"] == "start_late"
    own = scenario.messages[0]
    assert own.to == "speaker" and "10:30" in own.body and "Sala Kameralna" in own.body
    assert not [m for m in scenario.messages if m.to == "speaker" and m is not own]


def test_no_change_is_a_note_to_the_chair_only(plan: Plan) -> None:
    scenario = _scenario(plan, "speaker_late/whitfield/30")
    assert scenario.outcome == "no change"
    assert {m.to for m in scenario.messages} <= {"speaker", "chair"}


def test_cancelled_travel_escalates_to_the_chair(plan: Plan) -> None:
    scenario = _scenario(plan, "speaker_late/wisniewska/cancelled")
    assert scenario.replan is not None
    assert not scenario.replan.feasible and scenario.replan.escalate_to_chair
    assert scenario.facts["cancelled"] is True
    chair = next(m for m in scenario.messages if m.to == "chair")
    # both of her sessions, and the Polish plural agrees
    assert "Sesje „Kolejki w sklepach" in chair.body and "nie mogą odbyć się" in chair.body
    assert "Odwołano pociąg EIC 1300 ze stacji Warszawa Centralna" in chair.body


def test_late_guest_gets_breakfast_kept_and_places_nearby(plan: Plan) -> None:
    scenario = _scenario(plan, "guest_travel_disrupted/consul/120")
    assert scenario.facts["restaurant_tip"] == "Forum Przestrzenie"  # a restaurant first
    venue = next(m for m in scenario.messages if m.to == "venue")
    assert "odłożenie śniadania" in venue.body and "10:30" in venue.body
    assert "- Kawiarnia Manggha (kawiarnia, 3 minuty pieszo)" in venue.body
    assert "- Restauracja Pod Wawelem (restauracja, 15 minut pieszo)" in venue.body


def test_missed_webinar_sends_the_replay_in_every_language(plan: Plan) -> None:
    scenario = _scenario(plan, "webinar_missed/ecommerce")
    notices = [m for m in scenario.messages if m.to == "attendees"]
    assert [m.language for m in notices] == ["pl", "en", "uk"]
    assert all("https://cxconf.example.pl/replay/ecommerce" in m.body for m in notices)


def test_plan_is_deterministic(event: Event, engine: Engine, plan: Plan) -> None:
    again = build_plan(
        event, engine, event_source="examples/events/cxconf-2026.toml", created_at=CREATED
    )
    assert dump_plan(again) == dump_plan(plan)


def _variant(event: Event, language: str) -> Event:
    contacts = event.contacts.model_copy(
        update={
            "chair": event.contacts.chair.model_copy(update={"language": language}),
            "venue_manager": event.contacts.venue_manager.model_copy(update={"language": language}),
        }
    )
    return event.model_copy(update={"contacts": contacts})


@pytest.mark.parametrize("language", ["en", "uk"])
def test_every_notice_renders_in_every_language(
    event: Event, engine: Engine, language: str
) -> None:
    built = build_plan(_variant(event, language), engine, event_source=None, created_at=CREATED)
    staff = [m for s in built.scenarios for m in s.messages if m.to in ("chair", "venue")]
    assert staff and all(m.language == language for m in staff)
    fragments = {m.body.split("\n\n")[1][:25] for m in staff}
    assert len(fragments) >= 6  # no change, moves, escalation, guests early and late
    for message in staff:
        assert "{{" not in message.body and "{%" not in message.body
        assert "None" not in message.body


def test_a_playbooks_directory_without_notices_is_a_clear_error(
    event: Event, tmp_path: Path
) -> None:
    shutil.copytree(shipped_playbooks_dir(), tmp_path / "pb")
    for file in (tmp_path / "pb" / "replies").glob("plan.*.toml"):
        file.unlink()
    with Engine.from_path(tmp_path / "pb") as bare, pytest.raises(RenderError) as error:
        build_plan(event, bare, event_source=None, created_at=CREATED)
    assert "plan.<lang>.toml" in str(error.value)


# --------------------------------------------------------------------------- runbooks


@pytest.mark.parametrize(
    ("render", "golden"),
    [(render_runbook_markdown, GOLDEN), (render_runbook_html, GOLDEN_HTML)],
    ids=["markdown", "html"],
)
def test_golden_runbook(plan: Plan, render: Any, golden: Path) -> None:
    text = render(plan)
    if os.environ.get("CXPLAY_UPDATE_GOLDEN"):
        golden.parent.mkdir(exist_ok=True)
        golden.write_text(text, encoding="utf-8")
    assert golden.is_file(), "run with CXPLAY_UPDATE_GOLDEN=1 to create the golden runbook"
    assert text == golden.read_text(encoding="utf-8")


class _Collector(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))


def test_html_runbook_is_self_contained_and_printable(plan: Plan) -> None:
    html = render_runbook_html(plan)
    assert html.startswith("<!DOCTYPE html>")
    lowered = html.lower()
    assert "<script" not in lowered and "@import" not in lowered and "url(" not in lowered
    collector = _Collector()
    collector.feed(html)
    for tag, attrs in collector.tags:
        assert tag not in ("script", "img", "link", "iframe", "object", "embed"), tag
        assert "src" not in attrs, tag
        href = attrs.get("href")
        assert href is None or href.startswith("#"), href
    ids = {attrs.get("id") for _, attrs in collector.tags}
    links = {attrs["href"] for tag, attrs in collector.tags if tag == "a" and attrs.get("href")}
    assert links and {link[1:] for link in links} <= ids  # every index link has its section
    assert "@media print" in html and "break-before: page" in html
    # the replay link is shown as text
    assert "https://cxconf.example.pl/replay/ecommerce" in html


def test_html_escapes_everything(event: Event, engine: Engine) -> None:
    hostile = "<script>alert(1)</script> & <img src=x>"
    info = event.info.model_copy(update={"title": hostile})
    built = build_plan(
        event.model_copy(update={"info": info}), engine, event_source=None, created_at=CREATED
    )
    html = render_runbook_html(built)
    assert "<script" not in html.lower() and "<img" not in html.lower()
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; &lt;img src=x&gt;" in html
    markdown = render_runbook_markdown(built)
    assert "<script>" not in markdown and "\\<script\\>" in markdown


# --------------------------------------------------------------------------- plan.json


def test_plan_json_round_trip(plan: Plan, plan_file: Path) -> None:
    assert load_plan(plan_file) == plan
    data = json.loads(plan_file.read_text(encoding="utf-8"))
    assert data["format"] == PLAN_FORMAT
    assert data["created_at"] == "2026-11-13T09:00:00Z"
    assert data["digests"]["event"].startswith("sha256:")
    assert "replies/plan.pl.toml" in data["digests"]["files"]
    assert data["event"]["event"]["id"] == "cxconf-2026"  # the event file's own keys
    first = data["scenarios"][0]
    assert set(first) >= {"id", "type", "facts", "incident", "suggestion", "replan", "messages"}
    assert set(first["messages"][0]) >= {"to", "name", "language", "channel", "subject", "body"}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('{"format": ', r"^plan\.json:1: not a cxplay plan: invalid JSON \(.+\)$"),
        ("[1, 2]", rf'^plan\.json: not a cxplay plan \(no "format": "{PLAN_FORMAT}"\)$'),
        ('{"name": "something else"}', r"^plan\.json: not a cxplay plan"),
        ('{"format": "cxplay-plan/9"}', r"^plan\.json: plan format 'cxplay-plan/9' is not the one"),
        (f'{{"format": "{PLAN_FORMAT}"}}', r"^plan\.json: invalid plan: \w+: .+ \(and \d+ more\)$"),
    ],
)
def test_broken_or_foreign_plans(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, text: str, expected: str
) -> None:
    path = tmp_path / "plan.json"
    path.write_text(text, encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    with pytest.raises(PlanError) as error:
        load_plan("plan.json")
    assert "\n" not in str(error.value)
    assert re.match(expected, str(error.value)), str(error.value)


def test_a_tampered_plan_is_refused(plan: Plan) -> None:
    data = json.loads(dump_plan(plan))
    data["scenarios"][2]["messages"][0]["to"] = "everyone"
    with pytest.raises(PlanError, match=r"invalid plan: scenarios\[2\]\.messages\[0\]\.to: "):
        parse_plan(json.dumps(data), name="plan.json")


def test_missing_plan_file(tmp_path: Path) -> None:
    with pytest.raises(PlanError, match="no such plan file"):
        load_plan(tmp_path / "nope.json")
    with pytest.raises(PlanError, match="is a directory"):
        load_plan(tmp_path)


# --------------------------------------------------------------------------- staleness


def test_fresh_then_stale_when_the_event_changes(plan: Plan, tmp_path: Path) -> None:
    playbooks = load_playbooks(None)
    copy = tmp_path / "event.toml"
    text = EXAMPLE.read_text(encoding="utf-8")
    copy.write_text("# a comment does not make a plan stale\n" + text, encoding="utf-8")
    assert check_plan(plan, load_event(copy), playbooks).message == "fresh"
    copy.write_text(text.replace("start = 10:15:00", "start = 10:20:00", 1), encoding="utf-8")
    result = check_plan(plan, load_event(copy), playbooks)
    assert not result.fresh
    assert result.message == "stale: the event changed (sessions)"


def test_stale_when_a_playbook_or_reply_changes(plan: Plan, event: Event, tmp_path: Path) -> None:
    copy = tmp_path / "playbooks"
    shutil.copytree(shipped_playbooks_dir(), copy)
    # the digest names files relative to their directory: a copy is the same playbooks
    assert check_plan(plan, event, load_playbooks(copy)).fresh
    notices = copy / "replies" / "plan.en.toml"
    notices.write_text(notices.read_text(encoding="utf-8") + "\n# edited\n", encoding="utf-8")
    assert check_plan(plan, event, load_playbooks(copy)).message == ("stale: the playbooks changed")
    (copy / "events.toml").unlink()
    message = check_plan(plan, event, load_playbooks(copy)).message
    assert message.startswith("stale: the playbooks changed; removed events.toml")


# --------------------------------------------------------------------------- offline answers


def test_exact_scenario(plan: Plan) -> None:
    answer = answer_offline(plan, "speaker_late", {"speaker": "whitfield", "delay_minutes": 60})
    assert answer.scenario.id == "speaker_late/whitfield/60"
    assert answer.exact and not answer.differences and answer.warning is None


def test_40_minutes_late_answers_from_the_scenario_with_the_same_replan(plan: Plan) -> None:
    # 30 and 60 are the neighbours; for 40 minutes he is still ready at 09:00, as for 30,
    # while the 60-minute plan would swap the keynote for nothing
    answer = answer_offline(
        plan, "speaker_late", {"speaker": "JAMES WHITFIELD", "delay_minutes": 40}
    )
    assert answer.scenario.id == "speaker_late/whitfield/30"
    assert not answer.exact and answer.warning is None
    assert answer.differences == (
        "delay_minutes: asked 40, scenario 30",
        "arrival: the messages say about 08:35; for 40 minutes, 08:45",
    )
    assert "speaker_late/whitfield/30" in answer.note


def test_45_minutes_late_needs_the_swap(plan: Plan) -> None:
    answer = answer_offline(plan, "speaker_late", {"speaker": "whitfield", "delay_minutes": 45})
    assert answer.scenario.id == "speaker_late/whitfield/60"


def test_a_speaker_travelling_the_day_before_gets_no_late_scenarios(plan: Plan) -> None:
    # Olena arrives the evening before: a delay of minutes moves nothing; the runbook says so
    assert [s.id for s in plan.scenarios if s.subject_id == "kovalenko"] == [
        "speaker_late/kovalenko/cancelled"
    ]
    with pytest.raises(PlanError, match=r"arrives the day before their session.*cancelled=true"):
        answer_offline(plan, "speaker_late", {"speaker": "Олена Коваленко", "delay_minutes": 45})
    cancelled = answer_offline(plan, "speaker_late", {"speaker": "kovalenko", "cancelled": True})
    assert cancelled.scenario.id == "speaker_late/kovalenko/cancelled"
    assert (
        "Олена Коваленко arrives the day before (2026-11-19 21:40): no late-arrival scenarios, "
        "only a cancelled connection is planned." in render_runbook_markdown(plan)
    )


def test_ties_go_to_the_larger_delay(plan: Plan) -> None:
    guest = answer_offline(plan, "guest_travel_disrupted", {"guest": "consul", "delay_minutes": 90})
    assert guest.scenario.id == "guest_travel_disrupted/consul/120"
    assert guest.warning is not None and "90 minutes" in guest.warning


def test_beyond_the_plan_the_exact_replan_is_shown(plan: Plan) -> None:
    answer = answer_offline(plan, "speaker_late", {"speaker": "melnyk", "delay_minutes": 200})
    # nothing fits 200 minutes: the scenario that escalates, with the exact re-plan
    assert answer.scenario.id == "speaker_late/melnyk/cancelled"
    assert answer.replan is not None and not answer.replan.feasible
    assert answer.warning is not None and "Escalate to the chair" in answer.warning


def test_cancelled_travel(plan: Plan) -> None:
    answer = answer_offline(
        plan, "speaker_late", {"speaker": "Marta Wiśniewska", "cancelled": True}
    )
    assert answer.scenario.id == "speaker_late/wisniewska/cancelled" and answer.exact
    with pytest.raises(PlanError, match="no cancelled-travel scenario for Jan Nowak"):
        answer_offline(plan, "speaker_late", {"speaker": "nowak", "cancelled": "true"})


def test_types_without_delays(plan: Plan) -> None:
    answer = answer_offline(plan, "webinar_missed", {})
    assert answer.scenario.id == "webinar_missed/ecommerce" and answer.exact
    early = answer_offline(plan, "guest_early_arrival", {"guest": "Aleksandra Nowicka"})
    assert early.scenario.id == "guest_early_arrival/deputy-mayor"


def test_the_name_of_the_incident_names_the_person(plan: Plan) -> None:
    answer = answer_offline(plan, "speaker_late", {"delay_minutes": 15}, name="Taras Melnyk")
    assert answer.scenario.id == "speaker_late/melnyk/15"


@pytest.mark.parametrize(
    ("incident_type", "facts", "message"),
    [
        (
            "speaker_late",
            {"speaker": "James Whitfeld", "delay_minutes": 40},
            "no speaker 'James Whitfeld' in the plan for cxconf-2026; "
            "did you mean 'James Whitfield'?",
        ),
        (
            "speaker_lat",
            {},
            "the plan has no 'speaker_lat' scenarios; did you mean 'speaker_late'?",
        ),
        ("speaker_late", {"delay_minutes": 3}, "which speaker? add --fact speaker=ID_OR_NAME"),
        ("speaker_late", {"speaker": "nowak"}, "how late? add --fact delay_minutes=N"),
        (
            "speaker_late",
            {"speaker": "nowak", "delay_minutes": "soon"},
            "delay_minutes must be a number of minutes, not 'soon'",
        ),
        (
            "guest_travel_disrupted",
            {"guest": "the mayor", "delay_minutes": 30},
            "no guest 'the mayor' in the plan",
        ),
    ],
)
def test_questions_the_plan_cannot_answer(
    plan: Plan, incident_type: str, facts: dict[str, Any], message: str
) -> None:
    with pytest.raises(PlanError) as error:
        answer_offline(plan, incident_type, facts)
    assert str(error.value).startswith(message)
    assert "\n" not in str(error.value)


def test_answer_renders_as_text_and_markdown(plan: Plan) -> None:
    answer = answer_offline(plan, "speaker_late", {"speaker": "nowak", "delay_minutes": 20})
    text = render_answer_text(plan, answer)
    assert text.startswith("No scenario for exactly 20 minutes: answered from ")
    assert "speaker_late/nowak/" in text.splitlines()[0]
    assert "── To the venue manager: Piotr Mazur · pl · chat · +48 600 300 400" in text
    markdown = render_answer_markdown(plan, answer)
    assert markdown.startswith("**No scenario for exactly 20 minutes")


def test_golden_offline_answer(plan: Plan) -> None:
    """A re-planned answer: the note, the differences, the re-plan table, the scenario."""
    answer = answer_offline(plan, "speaker_late", {"speaker": "melnyk", "delay_minutes": 50})
    golden = GOLDEN.with_name("cxconf-2026.answer.md")
    text = render_answer_markdown(plan, answer)
    if os.environ.get("CXPLAY_UPDATE_GOLDEN"):
        golden.write_text(text, encoding="utf-8")
    assert text == golden.read_text(encoding="utf-8")


def test_runbook_layouts_are_autoescaped_templates_shipped_with_the_package() -> None:
    from cxplay._events.runbook import _templates

    env = _templates()
    assert set(env.list_templates()) >= {
        "runbook.html.j2",
        "runbook.md.j2",
        "answer.md.j2",
        "markdown.j2",
    }
    choose = env.autoescape
    assert callable(choose)
    assert choose("runbook.html.j2") is True
    assert choose("runbook.md.j2") is False  # Markdown values go through the md filter


# --------------------------------------------------------------------------- the CLI


@pytest.fixture()
def no_playbooks(monkeypatch: pytest.MonkeyPatch) -> None:
    """Any attempt to read playbooks fails: the offline path must not need them."""

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("the offline path read the playbooks")

    monkeypatch.setattr("cxplay._engine.engine.Engine.from_path", refuse)
    monkeypatch.setattr("cxplay._playbooks.loader.load_playbooks", refuse)
    monkeypatch.setenv("CXPLAY_PLAYBOOKS", "/nonexistent/playbooks")


def test_cli_suggest_from_the_plan(plan_file: Path, no_playbooks: None) -> None:
    result = CliRunner().invoke(
        cli,
        [
            "suggest",
            "--plan",
            str(plan_file),
            "--type",
            "speaker_late",
            "--fact",
            "speaker=James Whitfield",
            "--fact",
            "delay_minutes=40",
        ],
    )
    assert result.exit_code == 0, result.output
    assert result.output.startswith(
        "No scenario for exactly 40 minutes: answered from speaker_late/whitfield/30"
    )


def test_cli_suggest_from_the_plan_as_json(plan_file: Path, no_playbooks: None) -> None:
    result = CliRunner().invoke(
        cli,
        ["suggest", "--plan", str(plan_file), "--type", "webinar_missed", "--format", "json"],
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["scenario"]["id"] == "webinar_missed/ecommerce" and data["exact"] is True


def test_cli_offline_errors_are_one_line(plan_file: Path, no_playbooks: None) -> None:
    runner = CliRunner()
    result = runner.invoke(
        cli,
        ["suggest", "--plan", str(plan_file), "--type", "speaker_late", "--fact", "speaker=Nowk"],
    )
    assert result.exit_code == 1
    assert result.stderr == (
        "Error: no speaker 'Nowk' in the plan for cxconf-2026; did you mean 'nowak'? "
        "(speakers: James Whitfield, Marta Wiśniewska, Олена Коваленко, Taras Melnyk, "
        "Jan Nowak)\n"
    )
    broken = plan_file.with_name("broken.json")
    broken.write_text("{}", encoding="utf-8")
    result = runner.invoke(cli, ["suggest", "--plan", str(broken), "--type", "speaker_late"])
    assert result.exit_code == 1
    assert result.stderr.count("\n") == 1 and "not a cxplay plan" in result.stderr
    result = runner.invoke(
        cli, ["suggest", "--plan", str(plan_file), "--type", "speaker_late", "--explain"]
    )
    assert result.exit_code == 2


def test_cli_offline_in_a_subprocess_without_playbooks(plan_file: Path, tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = {**os.environ, "CXPLAY_PLAYBOOKS": str(tmp_path / "no-such-playbooks")}
    command = [sys.executable, "-c", "from cxplay._cli import main; main()"]
    question = ["--type", "speaker_late", "--fact", "speaker=melnyk", "--fact", "delay_minutes=30"]
    done = subprocess.run(
        [*command, "suggest", "--plan", str(plan_file), *question],
        cwd=elsewhere,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("Answered from scenario speaker_late/melnyk/30")
    assert "Sala Seminaryjna 3" in done.stdout
    # and the playbooks really are absent: the online path fails there
    online = subprocess.run(
        [*command, "suggest", *question],
        cwd=elsewhere,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert online.returncode == 1
    assert online.stderr.startswith("Error: ") and "Traceback" not in online.stderr


def test_cli_plan_writes_the_runbooks_and_the_plan(tmp_path: Path) -> None:
    runner = CliRunner()
    out, md, html = tmp_path / "plan.json", tmp_path / "runbook.md", tmp_path / "runbook.html"
    result = runner.invoke(
        cli,
        ["plan", str(EXAMPLE), "--out", str(out), "--markdown", str(md), "--html", str(html)],
    )
    assert result.exit_code == 0, result.output
    assert result.stdout == ""
    assert result.stderr == f"Wrote {out}\nWrote {md}\nWrote {html}\n"
    built = load_plan(out)
    assert len(built.scenarios) == 25
    assert md.read_text(encoding="utf-8") == render_runbook_markdown(built)
    assert html.read_text(encoding="utf-8") == render_runbook_html(built)
    # without --markdown or --html, the runbook goes to stdout
    result = runner.invoke(cli, ["plan", str(EXAMPLE)])
    assert result.exit_code == 0
    assert result.stdout.startswith("# Contingency runbook: CX Conference 2026 Kraków\n")


def test_cli_plan_check(plan_file: Path, tmp_path: Path) -> None:
    runner = CliRunner()
    event = tmp_path / "event.toml"
    shutil.copy(EXAMPLE, event)
    result = runner.invoke(cli, ["plan", "--check", str(plan_file), str(event)])
    assert result.exit_code == 0, result.output
    assert result.stdout == f"{plan_file}: fresh (built 2026-11-13T09:00+00:00, 25 scenarios)\n"
    event.write_text(
        event.read_text(encoding="utf-8").replace('name = "Piotr Mazur"', 'name = "Piotr Nowy"'),
        encoding="utf-8",
    )
    result = runner.invoke(cli, ["plan", "--check", str(plan_file), str(event)])
    assert result.exit_code == 1
    assert result.stderr == (
        f"Error: {plan_file} is stale: the event changed (the contacts); rebuild it with "
        f"'cxplay plan {event} --out {plan_file}'\n"
    )
    result = runner.invoke(cli, ["plan", "--check", str(plan_file), str(event), "--out", "x"])
    assert result.exit_code == 2


def test_cli_plan_bad_event_is_one_line_per_problem(tmp_path: Path) -> None:
    event = tmp_path / "event.toml"
    event.write_text(
        EXAMPLE.read_text(encoding="utf-8").replace('speaker = "melnyk"', 'speaker = "melnik"'),
        encoding="utf-8",
    )
    result = CliRunner().invoke(cli, ["plan", str(event)])
    assert result.exit_code == 1
    assert re.fullmatch(
        r"Error: .*event\.toml:\d+: session\[3\]\.speaker: unknown speaker 'melnik'; "
        r"did you mean 'melnyk'\?\n",
        result.stderr,
    ), result.stderr
