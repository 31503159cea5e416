"""The printable runbook of a plan, in Markdown and in one self-contained HTML file."""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Sequence
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from cxplay._common.style import stylesheet
from cxplay._events.model import Event, Guest, Session, Speaker
from cxplay._events.plan import (
    _PARTY_LABEL,
    EARLY_MINUTES,
    Message,
    Plan,
    Scenario,
    _day,
    _order,
    _slot,
    _speaker_names,
    _travel_words,
    _when,
    arrival_notes,
)
from cxplay._events.replan import Replan

__all__ = [
    "render_markdown",
    "render_runbook_html",
    "render_runbook_markdown",
    "scenario_view",
]

# --------------------------------------------------------------------------- runbook: shared


def _anchor(scenario: Scenario) -> str:
    return "s-" + scenario.id.replace("/", "-")


def _situation(plan: Plan, scenario: Scenario) -> str:
    """What happened, in one English sentence, with the times."""
    event = plan.event
    if scenario.about == "session":
        session = next(s for s in event.sessions if s.id == scenario.subject_id)
        return (
            f"'{session.title}' ({_slot(session.start, session.end, event)}, {session.room}) "
            f"was online; the replay is at {session.replay_url}."
        )
    person: Speaker | Guest | None
    if scenario.about == "speaker":
        person = event.find_speaker(scenario.subject_id)
    else:
        person = next((g for g in event.guests if g.id == scenario.subject_id), None)
    assert person is not None
    travel = f" ({_travel_words(person.travel)})" if person.travel is not None else ""
    revised = scenario.replan
    if scenario.cancelled:
        return f"{person.name}'s {_travel_words(person.travel)} is cancelled."
    if scenario.type == "guest_early_arrival":
        early = person.travel.arrival - dt.timedelta(minutes=EARLY_MINUTES)  # type: ignore[union-attr]
        return (
            f"{person.name}{travel} arrives at {_when(early, event)} instead of "
            f"{_when(person.travel.arrival, event)}, before breakfast."  # type: ignore[union-attr]
        )
    delay = dt.timedelta(minutes=scenario.delay_minutes or 0)
    if person.travel is None and revised is not None:
        due = revised.ready_at - delay - dt.timedelta(minutes=plan.margin_minutes)
        return (
            f"{person.name} (on site, due by {_when(due, event)}) is "
            f"{scenario.delay_minutes} minutes late; ready at {_when(revised.ready_at, event)}."
        )
    assert person.travel is not None
    scheduled = person.travel.arrival
    text = (
        f"{person.name}{travel} arrives at {_when(scheduled + delay, event)} instead of "
        f"{_when(scheduled, event)}"
    )
    if revised is not None:
        text += f"; ready at {_when(revised.ready_at, event)}"
    return text + "."


def _party(message: Message) -> str:
    label = _PARTY_LABEL[message.to]
    who = f": {message.name}" if message.name else ""
    where = f" · {message.contact}" if message.contact else ""
    return f"To {label}{who} · {message.language} · {message.channel}{where}"


def _people(plan: Plan) -> list[tuple[str, str, str, str, str, str]]:
    """Rows of (role, name, language, arrives, travel, contact)."""
    event = plan.event
    rows: list[tuple[str, str, str, str, str, str]] = []
    for role, person in (
        ("Chair", event.contacts.chair),
        ("Venue manager", event.contacts.venue_manager),
    ):
        rows.append((role, person.name, person.language, "", "", str(person.contact)))
    for speaker in event.speakers:
        arrives = _when(speaker.arrival, event) if speaker.arrival is not None else "on site"
        travel = speaker.travel
        if travel is not None and travel.transfer_minutes:
            # the ready time counts from the venue, so the table says both
            arrives += (
                f" (lands {_when(travel.arrival, event)}, {travel.transfer_minutes} min transfer)"
            )
        rows.append(
            (
                "Speaker",
                speaker.name,
                speaker.language,
                arrives,
                _travel_words(speaker.travel),
                str(speaker.contact),
            )
        )
    for guest in event.guests:
        rows.append(
            (
                "Guest",
                guest.name,
                guest.language,
                _when(guest.arrival, event),
                _travel_words(guest.travel),
                str(guest.contact) if guest.contact else "",
            )
        )
    return rows


def _agenda_rows(plan: Plan, agenda: Sequence[Session]) -> list[tuple[str, str, str, str]]:
    event = plan.event
    names = _speaker_names(event)
    return [
        (
            _slot(s.start, s.end, event),
            s.room,
            s.title + (" (online)" if s.online else ""),
            names.get(s.speaker, s.speaker) if s.speaker else "",
        )
        for s in agenda
    ]


def _sorted_agenda(event: Event) -> list[Session]:
    order = _order(event)
    return sorted(event.sessions, key=lambda s: (s.start, order[s.id]))


def _change_rows(plan: Plan, revised: Replan) -> list[tuple[str, str, str]]:
    event = plan.event
    return [
        (
            c.title,
            f"{_slot(c.old_start, c.old_end, event)} {c.old_room}",
            f"{_slot(c.new_start, c.new_end, event)} {c.new_room}",
        )
        for c in revised.moves
    ]


def _action_lines(scenario: Scenario) -> list[str]:
    """One line per rule: its action kinds and its reason (``plan_b + escalate: ...``)."""
    rules: dict[str, tuple[list[str], str | None]] = {}
    for action in scenario.suggestion.actions:
        kind = action.kind + (" (needs approval)" if action.requires_approval else "")
        kinds, _ = rules.setdefault(action.rule, ([], action.reason))
        kinds.append(kind)
    return [
        " + ".join(kinds) + (f": {reason}" if reason else "") for kinds, reason in rules.values()
    ]


def _offline_example(plan: Plan) -> str:
    late = next((s for s in plan.scenarios if s.type == "speaker_late"), None)
    if late is None:
        return "cxplay suggest --plan plan.json --type TYPE --fact ..."
    return (
        f"cxplay suggest --plan plan.json --type speaker_late --fact speaker={late.subject_id} "
        "--fact delay_minutes=40"
    )


def _sections(plan: Plan) -> list[tuple[str, list[Scenario]]]:
    titles = {
        "speaker_late": "Late speakers",
        "guest_early_arrival": "Guests arriving early",
        "guest_travel_disrupted": "Late guests",
        "webinar_missed": "Online sessions missed",
    }
    sections: dict[str, list[Scenario]] = {}
    for scenario in plan.scenarios:
        sections.setdefault(titles.get(scenario.type, scenario.type), []).append(scenario)
    return list(sections.items())


def _header_lines(plan: Plan) -> list[str]:
    event = plan.event
    venue = event.venue
    place = venue.name + (f", {venue.address}" if venue.address else "")
    lines = [
        f"Event {event.id} on {_day(event).isoformat()} ({event.info.timezone}), at {place}.",
        f"Languages: {', '.join(event.info.languages)} (default {event.info.default_language}).",
    ]
    extras = []
    if venue.backup_room:
        extras.append(f"Backup room: {venue.backup_room}, kept free for re-planning.")
    if venue.breakfast_until is not None:
        extras.append(f"Breakfast until {venue.breakfast_until:%H:%M}.")
    extras.append(f"A late speaker needs {plan.margin_minutes} minutes from arrival to stage.")
    lines.append(" ".join(extras))
    lines.extend(arrival_notes(event))
    lines.append(f"Plan built {plan.created_at.isoformat()} ({len(plan.scenarios)} scenarios).")
    return lines


# --------------------------------------------------------------------------- rendering

# The layouts are Jinja templates shipped in cxplay/_events/templates/: the HTML one is
# autoescaped (every value is text), the Markdown one escapes each value with the `md` filter.
# Both get the same view of the plan, built here.


def _md(text: str) -> str:
    """Text for a Markdown line: characters that would start markup are escaped."""
    out = text.replace("\\", "\\\\")
    for char in "`*_[]<>|":
        out = out.replace(char, f"\\{char}")
    return " ".join(out.split())


@functools.cache
def _templates() -> Environment:
    env = Environment(
        loader=PackageLoader("cxplay._events", "templates"),
        autoescape=select_autoescape(["html.j2"]),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters["md"] = _md
    return env


def scenario_view(plan: Plan, number: int, scenario: Scenario) -> dict[str, Any]:
    """One scenario as the templates show it (``markdown.j2``'s ``scenario`` macro)."""
    revised = scenario.replan
    if revised is not None:
        decision = revised.reason
    else:
        decision = scenario.outcome[:1].upper() + scenario.outcome[1:] + "."
    return {
        "number": number,
        "anchor": _anchor(scenario),
        "title": scenario.title,
        "outcome": scenario.outcome,
        "id": scenario.id,
        "severity": scenario.suggestion.severity,
        "facts": ", ".join(f"{k}={v}" for k, v in scenario.facts.items()),
        "situation": _situation(plan, scenario),
        "decision": decision,
        "changes": _change_rows(plan, revised) if revised is not None else [],
        "actions": _action_lines(scenario),
        "notes": scenario.notes,
        "messages": [
            {
                "party": _party(message),
                "language": message.language,
                "subject": message.subject,
                "lines": message.body.split("\n"),
                "paragraphs": [p for p in message.body.split("\n\n") if p.strip()],
            }
            for message in scenario.messages
        ],
    }


def _view(plan: Plan) -> dict[str, Any]:
    """What both templates show: the plan's people, agenda and scenarios as plain values.

    The index lists the scenarios in the order of the sections (late speakers, late guests,
    ...) with the numbers the sections give them: "17" in the table is section 17.
    """
    sections = []
    index = []
    number = 0
    for title, scenarios in _sections(plan):
        views = []
        for scenario in scenarios:
            number += 1
            views.append(scenario_view(plan, number, scenario))
            index.append(
                {
                    "number": number,
                    "anchor": _anchor(scenario),
                    "title": scenario.title,
                    "outcome": scenario.outcome,
                }
            )
        sections.append({"title": title, "scenarios": views})
    return {
        "title": plan.event.title,
        "header": _header_lines(plan),
        "offline": _offline_example(plan),
        "people": _people(plan),
        "agenda": _agenda_rows(plan, _sorted_agenda(plan.event)),
        "index": index,
        "sections": sections,
    }


def render_markdown(template: str, **values: Any) -> str:
    """Render one of the Markdown templates (``runbook.md.j2``, ``answer.md.j2``)."""
    return _templates().get_template(template).render(values)


def render_runbook_markdown(plan: Plan) -> str:
    """The runbook as Markdown: contacts, agenda, an index of scenarios, then each one.

    Headings and explanations are in English; every message is in its reader's language.
    """
    return render_markdown("runbook.md.j2", **_view(plan)).rstrip("\n") + "\n"


def render_runbook_html(plan: Plan) -> str:
    """The runbook as ONE self-contained, printable HTML file.

    Inline CSS with print rules (each scenario starts a page), no scripts, no fonts, images
    or style sheets from elsewhere, and no links out: URLs from the event (replay links)
    are shown as text. Every value is HTML-escaped (the template is autoescaped).
    """
    view = {**_view(plan), "style": stylesheet()}
    return _templates().get_template("runbook.html.j2").render(view)
