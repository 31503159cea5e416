"""Answering on-the-day questions from a preloaded plan, without the playbooks.

__all__ = [
    "answer_offline",
    "render_answer_markdown",
    "render_answer_text",
]

See :mod:`cxplay._events.plan` for how the nearest scenario is chosen.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any

from cxplay._common.text import did_you_mean, echo
from cxplay._events.plan import OfflineAnswer, Plan, Scenario, _own_sessions, _when
from cxplay._events.replan import Replan, replan
from cxplay._events.runbook import (
    _action_lines,
    _change_rows,
    _party,
    _situation,
    render_markdown,
    scenario_view,
)
from cxplay.errors import PlanError

# --------------------------------------------------------------------------- offline answers

_SUBJECT_FACT: Mapping[str, str] = {"speaker": "speaker", "guest": "guest", "session": "session"}


def _as_minutes(value: Any, key: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise PlanError(f"{key} must be a number of minutes, not {echo(value)}")
    try:
        number = float(value)
    except ValueError:
        raise PlanError(f"{key} must be a number of minutes, not {echo(value)}") from None
    if not 0 <= number <= 7 * 24 * 60:
        raise PlanError(f"{key} must be between 0 and {7 * 24 * 60} minutes, not {echo(value)}")
    return round(number)


def _truthy(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in ("true", "yes", "1")
    return bool(value)


def _moves_key(revised: Replan) -> tuple[bool, tuple[tuple[str, str, dt.datetime], ...]]:
    return revised.feasible, tuple(
        sorted((c.session, c.new_room, c.new_start) for c in revised.moves)
    )


def _nearest(candidates: Sequence[Scenario], delay: int) -> Scenario:
    return min(
        candidates, key=lambda s: (abs((s.delay_minutes or 0) - delay), -(s.delay_minutes or 0))
    )


def answer_offline(
    plan: Plan, incident_type: str, facts: Mapping[str, Any], *, name: str | None = None
) -> OfflineAnswer:
    """Answer an on-the-day question from a preloaded plan, without the playbooks.

    Example:
        >>> facts = {"speaker": "James Whitfield", "delay_minutes": 40}
        >>> answer = answer_offline(plan, "speaker_late", facts)  # doctest: +SKIP
        >>> answer.scenario.id, answer.exact  # doctest: +SKIP
        ('speaker_late/whitfield/30', False)

    Args:
        plan: the plan (:func:`load_plan`).
        incident_type: ``speaker_late``, ``guest_travel_disrupted``, ``guest_early_arrival``
            or ``webinar_missed``.
        facts: who (``speaker``, ``guest`` or ``session``: an id or a name, any case) and
            what (``delay_minutes``; ``cancelled=true`` for a cancelled connection).
        name: who, when ``facts`` does not say (the customer's name of an incident).

    Returns:
        The scenario used, and how it differs from the question.

    Raises:
        PlanError: the plan has no scenario of that type or for that person (with a
            did-you-mean), the person is ambiguous, or a fact is not usable.
    """
    asked: dict[str, Any] = {"type": incident_type, **facts}
    if name is not None and not any(k in facts for k in _SUBJECT_FACT):
        asked["name"] = name
    of_type = [s for s in plan.scenarios if s.type == incident_type]
    if not of_type:
        types = sorted({s.type for s in plan.scenarios})
        hint = did_you_mean(incident_type, types, cutoff=0.5, casefold=True)
        raise PlanError(
            f"the plan has no {echo(incident_type)} scenarios{hint}"
            f" (it has: {', '.join(types) or 'none'})"
        )
    about = of_type[0].about
    fact = _SUBJECT_FACT[about]
    subjects: dict[str, str] = {}
    for scenario in of_type:
        subjects.setdefault(scenario.subject_id, scenario.subject_name)
    wanted = facts.get(fact, name)
    if wanted is None:
        if len(subjects) != 1:
            listed = ", ".join(f"{i} ({n})" for i, n in subjects.items())
            raise PlanError(f"which {about}? add --fact {fact}=ID_OR_NAME (one of: {listed})")
        subject = next(iter(subjects))
    else:
        key = str(wanted).strip().casefold()
        matches = [i for i, n in subjects.items() if key in (i.casefold(), n.casefold())]
        if not matches:
            hint = did_you_mean(
                str(wanted), [*subjects.values(), *subjects], cutoff=0.5, casefold=True
            )
            raise PlanError(
                f"no {about} {echo(str(wanted))} in the plan for {plan.event.id}{hint}"
                f" ({about}s: {', '.join(subjects.values())})"
            )
        subject = matches[0]
    mine = [s for s in of_type if s.subject_id == subject]
    differences: list[str] = []

    if _truthy(facts.get("cancelled", False)):
        chosen = next((s for s in mine if s.cancelled), None)
        if chosen is None:
            raise PlanError(
                f"the plan has no cancelled-travel scenario for {subjects[subject]} "
                "(only flights and trains are planned for); ask with --fact delay_minutes=N"
            )
        note = f"Answered from scenario {chosen.id}: {chosen.title}."
        return OfflineAnswer(scenario=chosen, asked=asked, exact=True, note=note)

    timed = [s for s in mine if s.delay_minutes is not None and not s.cancelled]
    if not timed and incident_type == "speaker_late":
        # travelling the day before: a delay of minutes moves nothing, nothing was planned
        raise PlanError(
            f"{subjects[subject]} arrives the day before their session: a delay moves nothing "
            "in the agenda, so the plan has no late-arrival scenarios for them"
            + ("; ask with --fact cancelled=true for a cancelled connection" if mine else "")
        )
    if not timed:  # early arrivals and missed sessions: one scenario each
        chosen = mine[0]
        if "delay_minutes" in facts:
            differences.append("delay_minutes is not used for this type")
        note = f"Answered from scenario {chosen.id}: {chosen.title}."
        return OfflineAnswer(
            scenario=chosen,
            asked=asked,
            exact=not differences,
            note=note,
            differences=tuple(differences),
        )
    if "delay_minutes" not in facts:
        known = ", ".join(str(s.delay_minutes) for s in timed)
        raise PlanError(
            f"how late? add --fact delay_minutes=N (the plan has {known} minutes"
            + (", and cancelled=true" if any(s.cancelled for s in mine) else "")
            + ")"
        )
    delay = _as_minutes(facts["delay_minutes"], "delay_minutes")
    same = [s for s in timed if s.delay_minutes == delay]
    if same:
        chosen = same[0]
        note = f"Answered from scenario {chosen.id}: {chosen.title}."
        return OfflineAnswer(scenario=chosen, asked=asked, exact=True, note=note)

    if incident_type == "speaker_late":
        cancelled = [s for s in mine if s.cancelled]
        return _late_speaker_answer(plan, asked, subject, timed, cancelled, delay)
    chosen = _nearest(timed, delay)
    return OfflineAnswer(
        scenario=chosen,
        asked=asked,
        exact=False,
        note=(
            f"No scenario for exactly {delay} minutes: answered from the nearest, {chosen.id} "
            f"({chosen.title})."
        ),
        differences=(f"delay_minutes: asked {delay}, scenario {chosen.delay_minutes}",),
        warning=(
            f"Its messages say {chosen.delay_minutes} minutes late; adjust the times to "
            f"{delay} minutes before sending."
        ),
    )


def _late_speaker_answer(
    plan: Plan,
    asked: dict[str, Any],
    subject: str,
    timed: Sequence[Scenario],
    cancelled: Sequence[Scenario],
    delay: int,
) -> OfflineAnswer:
    """Prefer the scenario whose re-plan equals the re-plan for the exact delay.

    When nothing fits the exact delay (the chair must decide) and no timed scenario says
    so, the cancelled-travel scenario is the nearest in substance: it escalates too.
    """
    event = plan.event
    speaker = event.find_speaker(subject)
    assert speaker is not None
    margin = dt.timedelta(minutes=plan.margin_minutes)
    own = _own_sessions(event, speaker)
    scheduled = speaker.arrival if speaker.arrival is not None else own[0].start - margin
    exact = replan(event, speaker.id, scheduled + dt.timedelta(minutes=delay), margin)
    wanted = _moves_key(exact)
    alike = [s for s in timed if s.replan is not None and _moves_key(s.replan) == wanted]
    if not exact.feasible and not alike and cancelled:
        chosen = cancelled[0]
        return OfflineAnswer(
            scenario=chosen,
            asked=asked,
            exact=False,
            note=(
                f"Nothing fits {delay} minutes late: answered from {chosen.id}, which also "
                "escalates to the chair."
            ),
            differences=(f"cancelled: asked {delay} minutes late, scenario cancelled travel",),
            warning=(
                f"Its messages to the chair speak of cancelled travel; for {delay} minutes "
                f"late the re-planner gives: {exact.reason}"
            ),
            replan=exact,
        )
    chosen = _nearest(alike or timed, delay)
    assert chosen.delay_minutes is not None
    differences = [f"delay_minutes: asked {delay}, scenario {chosen.delay_minutes}"]
    if alike:
        said = _when(scheduled + dt.timedelta(minutes=chosen.delay_minutes), event)
        real = _when(scheduled + dt.timedelta(minutes=delay), event)
        differences.append(f"arrival: the messages say about {said}; for {delay} minutes, {real}")
        return OfflineAnswer(
            scenario=chosen,
            asked=asked,
            exact=False,
            note=(
                f"No scenario for exactly {delay} minutes: answered from {chosen.id} "
                f"({chosen.title}), whose re-plan is the same as for {delay} minutes "
                f"({chosen.outcome})."
            ),
            differences=tuple(differences),
        )
    return OfflineAnswer(
        scenario=chosen,
        asked=asked,
        exact=False,
        note=(
            f"No scenario for exactly {delay} minutes: answered from the nearest, {chosen.id} "
            f"({chosen.title})."
        ),
        differences=tuple(differences),
        warning=(
            f"Its agenda and messages assume {chosen.delay_minutes} minutes; for {delay} "
            f"minutes the re-planner gives: {exact.reason} Check the times before sending "
            "anything."
        ),
        replan=exact,
    )


# --------------------------------------------------------------------------- answers


def render_answer_markdown(plan: Plan, answer: OfflineAnswer) -> str:
    """An offline answer as Markdown (also readable as plain text in a terminal)."""
    number = plan.scenarios.index(answer.scenario) + 1
    revised = answer.replan
    text = render_markdown(
        "answer.md.j2",
        note=answer.note,
        differences=answer.differences,
        warning=answer.warning,
        changes=_change_rows(plan, revised) if revised is not None and revised.moves else [],
        s=scenario_view(plan, number, answer.scenario),
    )
    return text.rstrip("\n") + "\n"


def render_answer_text(plan: Plan, answer: OfflineAnswer) -> str:
    """An offline answer as plain text for a terminal: the note, then the scenario."""
    scenario = answer.scenario
    lines = [answer.note]
    lines += [f"  - {d}" for d in answer.differences]
    if answer.warning:
        lines.append(f"Warning: {answer.warning}")
    if answer.replan is not None and answer.replan.moves:
        lines.append("Re-plan for the exact delay:")
        lines += [f"  - {t}: {was} → {now}" for t, was, now in _change_rows(plan, answer.replan)]
    lines += [
        "",
        f"{scenario.title}  [{scenario.id}, severity {scenario.suggestion.severity}]",
        f"Situation: {_situation(plan, scenario)}",
    ]
    revised = scenario.replan
    if revised is not None:
        lines.append(f"Decision: {revised.reason}")
        lines += [f"  - {t}: {was} → {now}" for t, was, now in _change_rows(plan, revised)]
    else:
        lines.append(f"Decision: {scenario.outcome[:1].upper() + scenario.outcome[1:]}.")
    actions = _action_lines(scenario)
    if actions:
        lines.append("Recovery actions (from the playbooks):")
        lines += [f"  {i}. {line}" for i, line in enumerate(actions, 1)]
    lines += [f"Note: {note}." for note in scenario.notes]
    for message in scenario.messages:
        lines += ["", f"── {_party(message)}"]
        if message.subject:
            lines.append(f"Subject: {message.subject}")
        lines.append(message.body)
    return "\n".join(lines) + "\n"
