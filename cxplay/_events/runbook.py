"""The printable runbook of a plan, in Markdown and in one self-contained HTML file."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence

from markupsafe import escape

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
)
from cxplay._events.replan import Replan

__all__ = [
    "render_runbook_html",
    "render_runbook_markdown",
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
    lines.append(f"Plan built {plan.created_at.isoformat()} ({len(plan.scenarios)} scenarios).")
    return lines


# --------------------------------------------------------------------------- runbook: Markdown


def _md(text: str) -> str:
    """Text for a Markdown line: characters that would start markup are escaped."""
    out = text.replace("\\", "\\\\")
    for char in "`*_[]<>|":
        out = out.replace(char, f"\\{char}")
    return " ".join(out.split())


def _md_table(header: Sequence[str], rows: Iterable[Sequence[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines.extend("| " + " | ".join(_md(cell) for cell in row) + " |" for row in rows)
    return lines


def _md_quote(text: str) -> list[str]:
    return [f"> {_md(line)}" if line.strip() else ">" for line in text.split("\n")]


def _md_scenario(plan: Plan, number: int, scenario: Scenario) -> list[str]:
    lines = [
        f'<a id="{_anchor(scenario)}"></a>',
        "",
        f"### {number}. {_md(scenario.title)}",
        "",
        f"Scenario `{scenario.id}` · severity {scenario.suggestion.severity} · facts: "
        + _md(", ".join(f"{k}={v}" for k, v in scenario.facts.items())),
        "",
        f"**Situation.** {_md(_situation(plan, scenario))}",
        "",
    ]
    revised = scenario.replan
    if revised is not None:
        lines += [f"**Decision.** {_md(revised.reason)}", ""]
        if revised.moves:
            lines += _md_table(("Session", "Was", "Now"), _change_rows(plan, revised))
            lines.append("")
    else:
        lines += [f"**Decision.** {_md(scenario.outcome[:1].upper() + scenario.outcome[1:])}.", ""]
    actions = _action_lines(scenario)
    if actions:
        lines += ["**Recovery actions** (from the playbooks):", ""]
        lines += [f"{i}. {_md(line)}" for i, line in enumerate(actions, 1)]
        lines.append("")
    for note in scenario.notes:
        lines += [f"**Note:** {_md(note)}.", ""]
    for message in scenario.messages:
        lines += [f"#### {_md(_party(message))}", ""]
        if message.subject:
            lines += [f"**Subject:** {_md(message.subject)}", ""]
        lines += [*_md_quote(message.body), ""]
    return lines


def render_runbook_markdown(plan: Plan) -> str:
    """The runbook as Markdown: contacts, agenda, an index of scenarios, then each one.

    Headings and explanations are in English; every message is in its reader's language.
    """
    event = plan.event
    lines = [f"# Contingency runbook: {_md(event.title)}", ""]
    lines += [_md(line) for line in _header_lines(plan)]
    lines += ["", f"On the day, offline: `{_offline_example(plan)}`", ""]
    lines += ["## People", ""]
    lines += _md_table(("Role", "Name", "Language", "Arrives", "Travel", "Contact"), _people(plan))
    lines += ["", "## Agenda", ""]
    lines += _md_table(
        ("Time", "Room", "Session", "Speaker"), _agenda_rows(plan, _sorted_agenda(event))
    )
    lines += ["", "## Scenarios", ""]
    rows = []
    numbered = list(enumerate(plan.scenarios, 1))
    for number, scenario in numbered:
        link = f"[{_md(scenario.title)}](#{_anchor(scenario)})"
        rows.append(f"| {number} | {link} | {_md(scenario.outcome)} |")
    lines += ["| # | Scenario | What happens |", "|---|---|---|", *rows, ""]
    number = 0
    for title, scenarios in _sections(plan):
        lines += [f"## {_md(title)}", ""]
        for scenario in scenarios:
            number += 1
            lines += _md_scenario(plan, number, scenario)
    return "\n".join(lines).rstrip("\n") + "\n"


# --------------------------------------------------------------------------- runbook: HTML

_CSS = """
:root { color-scheme: light; }
body { font: 11pt/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "Noto Sans", sans-serif;
  color: #111; margin: 0 auto; max-width: 52rem; padding: 1.5rem; }
h1 { font-size: 1.6rem; margin: 0 0 .5rem; }
h2 { font-size: 1.25rem; border-bottom: 2px solid #333; padding-bottom: .2rem; margin-top: 2rem; }
h3 { font-size: 1.1rem; margin: 0 0 .4rem; }
h4 { font-size: .95rem; margin: 1rem 0 .3rem; }
table { border-collapse: collapse; width: 100%; margin: .5rem 0 1rem; font-size: .92rem; }
th, td { border: 1px solid #bbb; padding: .25rem .45rem; text-align: left; vertical-align: top; }
th { background: #eee; }
code { font-family: ui-monospace, "DejaVu Sans Mono", Menlo, monospace; font-size: .9em; }
.meta { color: #444; font-size: .9rem; }
.scenario { border-top: 1px solid #999; padding-top: 1rem; margin-top: 1.5rem; }
.message { border-left: 4px solid #888; background: #f6f6f6; padding: .4rem .8rem;
  margin: .4rem 0 .9rem; break-inside: avoid; }
.message p { margin: .35rem 0; white-space: pre-wrap; }
.note { border-left: 4px solid #c60; padding-left: .6rem; }
.outcome { font-weight: 600; }
@page { size: A4; margin: 14mm 12mm; }
@media print {
  body { max-width: none; padding: 0; font-size: 10pt; }
  .scenario { break-before: page; border-top: none; margin-top: 0; }
  h2 { break-after: avoid; }
  a { color: inherit; text-decoration: none; }
  tr { break-inside: avoid; }
}
"""


def _h(value: object) -> str:
    return str(escape(str(value)))


def _html_table(header: Sequence[str], rows: Iterable[Sequence[str]]) -> list[str]:
    lines = ["<table>", "<tr>" + "".join(f"<th>{_h(h)}</th>" for h in header) + "</tr>"]
    lines.extend("<tr>" + "".join(f"<td>{_h(c)}</td>" for c in row) + "</tr>" for row in rows)
    lines.append("</table>")
    return lines


def _html_body(text: str) -> str:
    paragraphs = [p for p in text.split("\n\n") if p.strip()]
    return "".join(f"<p>{_h(p)}</p>" for p in paragraphs)


def _html_scenario(plan: Plan, number: int, scenario: Scenario) -> list[str]:
    out = [
        f'<section class="scenario" id="{_h(_anchor(scenario))}">',
        f"<h3>{number}. {_h(scenario.title)}</h3>",
        f'<p class="meta">Scenario <code>{_h(scenario.id)}</code> · severity '
        f"{_h(scenario.suggestion.severity)} · facts: "
        + _h(", ".join(f"{k}={v}" for k, v in scenario.facts.items()))
        + "</p>",
        f"<p><strong>Situation.</strong> {_h(_situation(plan, scenario))}</p>",
    ]
    revised = scenario.replan
    if revised is not None:
        out.append(f"<p><strong>Decision.</strong> {_h(revised.reason)}</p>")
        if revised.moves:
            out += _html_table(("Session", "Was", "Now"), _change_rows(plan, revised))
    else:
        outcome = scenario.outcome[:1].upper() + scenario.outcome[1:]
        out.append(f"<p><strong>Decision.</strong> {_h(outcome)}.</p>")
    actions = _action_lines(scenario)
    if actions:
        out.append("<p><strong>Recovery actions</strong> (from the playbooks):</p><ol>")
        out += [f"<li>{_h(line)}</li>" for line in actions]
        out.append("</ol>")
    out += [f'<p class="note"><strong>Note:</strong> {_h(note)}.</p>' for note in scenario.notes]
    for message in scenario.messages:
        out.append(f'<div class="message" lang="{_h(message.language)}">')
        out.append(f"<h4>{_h(_party(message))}</h4>")
        if message.subject:
            out.append(f"<p><strong>Subject:</strong> {_h(message.subject)}</p>")
        out.append(_html_body(message.body))
        out.append("</div>")
    out.append("</section>")
    return out


def render_runbook_html(plan: Plan) -> str:
    """The runbook as ONE self-contained, printable HTML file.

    Inline CSS with print rules (each scenario starts a page), no scripts, no fonts, images
    or style sheets from elsewhere, and no links out: URLs from the event (replay links)
    are shown as text. Every value is HTML-escaped.
    """
    event = plan.event
    title = f"Contingency runbook: {event.title}"
    out = [
        "<!DOCTYPE html>",
        '<html lang="en">',
        "<head>",
        '<meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{_h(title)}</title>",
        f"<style>{_CSS}</style>",
        "</head>",
        "<body>",
        "<header>",
        f"<h1>{_h(title)}</h1>",
        *(f'<p class="meta">{_h(line)}</p>' for line in _header_lines(plan)),
        f"<p>On the day, offline: <code>{_h(_offline_example(plan))}</code></p>",
        "</header>",
        "<h2>People</h2>",
        *_html_table(("Role", "Name", "Language", "Arrives", "Travel", "Contact"), _people(plan)),
        "<h2>Agenda</h2>",
        *_html_table(
            ("Time", "Room", "Session", "Speaker"), _agenda_rows(plan, _sorted_agenda(event))
        ),
        "<h2>Scenarios</h2>",
        "<table>",
        "<tr><th>#</th><th>Scenario</th><th>What happens</th></tr>",
    ]
    for number, scenario in enumerate(plan.scenarios, 1):
        out.append(
            f'<tr><td>{number}</td><td><a href="#{_h(_anchor(scenario))}">{_h(scenario.title)}'
            f'</a></td><td class="outcome">{_h(scenario.outcome)}</td></tr>'
        )
    out.append("</table>")
    number = 0
    for section, scenarios in _sections(plan):
        out.append(f"<h2>{_h(section)}</h2>")
        for scenario in scenarios:
            number += 1
            out += _html_scenario(plan, number, scenario)
    out += ["</body>", "</html>"]
    return "\n".join(out) + "\n"
