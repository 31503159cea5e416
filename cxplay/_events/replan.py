"""Re-plan an event's agenda when a speaker is late.

:func:`replan` answers "Jan's train is 50 minutes late: what do we do with his talk?" with a
concrete revised agenda, the list of changes and a sentence for the organisers. It is pure
Python over an :class:`~cxplay._events.Event`, so ``cxplay plan`` can precompute answers
offline.

The speaker is *ready* at ``arrival + margin``. A plan is valid when:

- every session of the late speaker starts at or after that moment;
- every session is kept, in the same room or the backup room, with its duration unchanged;
- no two sessions overlap in one room, and no speaker is in two sessions at once;
- nothing that started before ``now`` moves, and nothing moves to before ``now``;
- every other speaker whose session moves is on site by its new start minus the margin
  (a speaker without travel information counts as on site).

Strategies, least disruptive first; the first that gives a valid plan wins:

0. **none** -- each of the speaker's sessions already starts late enough.
1. **start_late** -- the late session starts when the speaker is ready, in its own room,
   with its duration unchanged, because the room is free until the next session (the slack
   before it, or the end of the day) -- the commonest real fix: nobody else moves and the
   audience only waits a few minutes.
2. **swap** -- the late session trades slots with one later session in the same room: the
   audience stays in the advertised room and no slot is left empty. Both keep their
   durations; with equal durations the slots are simply exchanged, otherwise each session
   takes the other's start (or ends where the other ended) as long as the result has no
   overlap. Breaks (sessions without a speaker) are not swapped unless ``swap_breaks``:
   catering is booked for fixed times.
3. **move_room** -- the late session moves to the backup room at the earliest later session
   boundary (a start or end time of the agenda, so people can change rooms between talks)
   at which the speaker is ready, the backup room is free and the day (``[event] end``, or
   the end of the last session) is not over -- preferring a slot that overlaps no break
   (lunch, coffee) whenever there is one: a talk in the lunch slot loses its audience.
   Its old slot stays empty. Moving to the backup room at the session's *own* slot never
   helps -- the start time, not the room, is the problem -- so that is not tried.
4. **infeasible** -- the agenda is returned unchanged, ``feasible`` is False and
   ``escalate_to_chair`` is True; ``reason`` says what was tried and why it failed.

Ties are broken by the earliest resulting start of the late session, then by the order of
sessions in the event file. When the speaker has several sessions that need to move, they
are handled one by one in time order, each seeing the changes made for the previous ones;
a session moved once is not moved again.

Changes are only checked against the sessions they touch, so an agenda that already had an
overlap (one :func:`~cxplay._events.check_event` would report) is not "fixed" or blamed.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Literal

from pydantic import AwareDatetime

from cxplay._common.models import Frozen
from cxplay._common.text import did_you_mean, echo
from cxplay._events.model import Event, Session, Speaker
from cxplay.errors import IncidentError

__all__ = ["DEFAULT_MARGIN", "Change", "ChangeKind", "Replan", "replan"]

#: Time a speaker needs between arriving and starting a talk.
DEFAULT_MARGIN = dt.timedelta(minutes=15)

ChangeKind = Literal["start_late", "swap", "move_room", "none"]


class Change(Frozen):
    """What happens to one session.

    ``kind`` is ``"start_late"`` for a session that starts later in its own slot and room,
    ``"swap"`` for both sessions of a slot swap, ``"move_room"`` for a session
    moved to the backup room, and ``"none"`` for a session of the late speaker that stays
    where it is (old and new are then equal).
    """

    kind: ChangeKind
    session: str
    title: str
    old_room: str
    old_start: AwareDatetime
    old_end: AwareDatetime
    new_room: str
    new_start: AwareDatetime
    new_end: AwareDatetime


class Replan(Frozen):
    """The answer of :func:`replan`.

    ``agenda`` is the full revised agenda, sorted by start time (then file order); when the
    plan is infeasible it is the unchanged agenda and ``changes`` is empty.
    """

    feasible: bool
    speaker: str
    ready_at: AwareDatetime
    changes: tuple[Change, ...]
    agenda: tuple[Session, ...]
    reason: str
    escalate_to_chair: bool

    @property
    def moves(self) -> tuple[Change, ...]:
        """The changes that actually move a session (every kind but ``"none"``)."""
        return tuple(change for change in self.changes if change.kind != "none")


# --------------------------------------------------------------------------- helpers


@dataclass
class _Context:
    event: Event
    speaker: Speaker
    ready: dt.datetime
    margin: dt.timedelta
    now: dt.datetime | None
    swap_breaks: bool
    arrivals: dict[str, dt.datetime | None]
    names: dict[str, str]
    order: dict[str, int]
    zone: dt.tzinfo
    day: dt.date | None
    notes: list[str] = field(default_factory=list)

    def when(self, moment: dt.datetime) -> str:
        local = moment.astimezone(self.zone)
        return f"{local:%H:%M}" if local.date() == self.day else f"{local:%Y-%m-%d %H:%M}"

    def slot(self, session: Session) -> str:
        return f"{self.when(session.start)}–{self.when(session.end)}"


def _aware(moment: dt.datetime, zone: dt.tzinfo) -> dt.datetime:
    return moment.replace(tzinfo=zone) if moment.tzinfo is None else moment


def _quote(session: Session) -> str:
    return f"'{session.title}'"


def _placed(session: Session, room: str, start: dt.datetime) -> Session:
    return session.model_copy(
        update={"room": room, "start": start, "end": start + session.duration}
    )


def _find_speaker(event: Event, key: str) -> Speaker:
    found = event.find_speaker(key)
    if found is None:
        choices = [s.id for s in event.speakers] + [s.name for s in event.speakers]
        hint = did_you_mean(key, choices)
        raise IncidentError(f"unknown speaker {echo(key)} in event {echo(event.id)}{hint}")
    return found


def _violation(ctx: _Context, agenda: Mapping[str, Session], moved: Iterable[str]) -> str | None:
    """Why a trial agenda is invalid, looking only at the moved sessions; None if valid."""
    for session_id in moved:
        session = agenda[session_id]
        if ctx.now is not None and session.start < ctx.now:
            return f"{_quote(session)} would start at {ctx.when(session.start)}, already past"
        if session.speaker is not None:
            arrival = ctx.arrivals.get(session.speaker)
            if arrival is not None and arrival + ctx.margin > session.start:
                who = ctx.names.get(session.speaker, session.speaker)
                return f"{who} is not ready until {ctx.when(arrival + ctx.margin)}"
        for other in agenda.values():
            if other.id == session.id or not other.overlaps(session):
                continue
            if other.room == session.room:
                return f"it would overlap {_quote(other)} ({ctx.slot(other)}) in {other.room}"
            if session.speaker is not None and other.speaker == session.speaker:
                who = ctx.names.get(session.speaker, session.speaker)
                return f"{who} would also be in {_quote(other)} ({ctx.slot(other)})"
    return None


def _try_start_late(
    ctx: _Context, agenda: dict[str, Session], late: Session
) -> dict[str, Session] | None:
    """``late`` started when the speaker is ready, in its own room; None if that overlaps."""
    start = ctx.ready
    day_end = ctx.event.info.end or max(s.end for s in agenda.values())
    if start + late.duration > day_end:
        ctx.notes.append(f"starting at {ctx.when(start)} it would end after the day")
        return None
    trial = dict(agenda)
    trial[late.id] = _placed(late, late.room, start)
    why = _violation(ctx, trial, (late.id,))
    if why is None:
        return trial
    ctx.notes.append(f"starting late at {ctx.when(start)} fails: {why}")
    return None


def _try_swap(
    ctx: _Context, agenda: dict[str, Session], late: Session, changed: set[str]
) -> tuple[dict[str, Session], Session] | None:
    """The best valid swap of ``late`` with one later session of its room, or None."""
    candidates: list[tuple[dt.datetime, int, dt.datetime, Session]] = []
    breaks = 0
    for other in agenda.values():
        if other.id == late.id or other.id in changed or other.room != late.room:
            continue
        if other.start <= late.start:
            continue
        if other.speaker is None and not ctx.swap_breaks:
            breaks += 1
            continue
        for late_start in {other.start, other.end - late.duration}:
            if late_start < ctx.ready:
                continue
            for other_start in {late.start, late.end - other.duration}:
                candidates.append((late_start, ctx.order[other.id], other_start, other))
    candidates.sort(key=lambda c: (c[0], c[1], c[2]))
    rejected: dict[str, str] = {}
    for late_start, _, other_start, other in candidates:
        trial = dict(agenda)
        trial[late.id] = _placed(late, late.room, late_start)
        trial[other.id] = _placed(other, other.room, other_start)
        why = _violation(ctx, trial, (late.id, other.id))
        if why is None:
            return trial, trial[other.id]
        rejected.setdefault(other.id, why)
    if rejected:
        shown = [f"{_quote(agenda[i])}: {why}" for i, why in list(rejected.items())[:3]]
        more = f"; and {len(rejected) - 3} more" if len(rejected) > 3 else ""
        ctx.notes.append(f"no swap works in {late.room} ({'; '.join(shown)}{more})")
    else:
        aside = " (breaks aside)" if breaks else ""
        ctx.notes.append(
            f"no later session{aside} in {late.room} starts late enough to swap with it"
        )
    return None


def _try_backup(
    ctx: _Context, agenda: dict[str, Session], late: Session
) -> dict[str, Session] | None:
    """``late`` moved to the backup room at the earliest valid boundary, or None.

    A slot that overlaps a break (lunch, coffee: a session without a speaker) is taken only
    when no other slot is free: people eat then, they do not come to a talk.
    """
    room = ctx.event.venue.backup_room
    if room is None:
        ctx.notes.append("the venue has no backup room")
        return None
    day_end = ctx.event.info.end or max(s.end for s in agenda.values())
    boundaries = sorted({t for s in agenda.values() for t in (s.start, s.end)})
    breaks = [x for x in agenda.values() if x.speaker is None and x.id != late.id]
    first_why: str | None = None
    in_a_break: dict[str, Session] | None = None
    for start in boundaries:
        if start < ctx.ready or (ctx.now is not None and start < ctx.now):
            continue
        if start + late.duration > day_end:
            break
        trial = dict(agenda)
        trial[late.id] = _placed(late, room, start)
        why = _violation(ctx, trial, (late.id,))
        if why is None:
            end = start + late.duration
            if not any(x.start < end and start < x.end for x in breaks):
                return trial
            in_a_break = in_a_break or trial
            continue
        first_why = first_why or why
    if in_a_break is not None:
        return in_a_break
    detail = f": {first_why}" if first_why else " before the day ends"
    ctx.notes.append(f"the backup room {room} has no free slot after {ctx.when(ctx.ready)}{detail}")
    return None


def _change(kind: ChangeKind, old: Session, new: Session) -> Change:
    return Change(
        kind=kind,
        session=old.id,
        title=old.title,
        old_room=old.room,
        old_start=old.start,
        old_end=old.end,
        new_room=new.room,
        new_start=new.start,
        new_end=new.end,
    )


def _sorted(agenda: Iterable[Session], order: Mapping[str, int]) -> tuple[Session, ...]:
    return tuple(sorted(agenda, key=lambda s: (s.start, order[s.id])))


# --------------------------------------------------------------------------- entry point


def replan(
    event: Event,
    speaker_id: str,
    arrival: dt.datetime,
    margin: dt.timedelta = DEFAULT_MARGIN,
    *,
    now: dt.datetime | None = None,
    swap_breaks: bool = False,
) -> Replan:
    """Revise the agenda so that a late speaker's sessions start after they arrive.

    Tries, in order: no change, a later start in the session's own slot (the slack before the
    next session in the room), one slot swap per late session within its room, a move to the
    backup room; see the module documentation for the exact rules. Deterministic: ties go to
    the earliest resulting start, then to the order of sessions in the event file.

    Example:
        >>> event = load_event("examples/events/cxconf-2026.toml")  # doctest: +SKIP
        >>> plan = replan(event, "whitfield", datetime(2026, 11, 20, 9, 50))  # doctest: +SKIP
        >>> [(c.session, c.kind) for c in plan.moves]  # doctest: +SKIP
        [('keynote', 'swap'), ('queues', 'swap')]

    Args:
        event: the event, as :func:`~cxplay._events.load_event` returns it (consistent).
        speaker_id: the late speaker's id, or their exact name (case-insensitive).
        arrival: when the speaker arrives; a naive time is read in the event's time zone.
        margin: time between arrival and the start of a session (walking in, microphone),
            required of the late speaker and of every speaker whose session moves earlier.
        now: sessions that started before this are not moved (and nothing moves before it);
            None means nothing has started yet.
        swap_breaks: also swap with breaks (sessions without a speaker).

    Returns:
        The plan: ``feasible``, ``changes``, the revised ``agenda``, a ``reason`` in English
        and ``escalate_to_chair`` (set when nothing fits).

    Raises:
        IncidentError: ``speaker_id`` names no speaker of the event.
        ValueError: ``margin`` is negative.
    """
    if margin < dt.timedelta(0):
        raise ValueError("margin must not be negative")
    zone = event.tz
    speaker = _find_speaker(event, speaker_id)
    arrival = _aware(arrival, zone)
    now = None if now is None else _aware(now, zone)
    ready = arrival + margin
    order = {s.id: i for i, s in enumerate(event.sessions)}
    arrivals = {s.id: s.arrival for s in event.speakers}
    arrivals[speaker.id] = arrival
    first_day = min((s.start for s in event.sessions), default=arrival).astimezone(zone).date()
    ctx = _Context(
        event=event,
        speaker=speaker,
        ready=ready,
        margin=margin,
        now=now,
        swap_breaks=swap_breaks,
        arrivals=arrivals,
        names={s.id: s.name for s in event.speakers},
        order=order,
        zone=zone,
        day=event.info.date or first_day,
    )
    original = {s.id: s for s in event.sessions}
    minutes = int(margin.total_seconds() // 60)
    intro = (
        f"{speaker.name} arrives at {ctx.when(arrival)} and is ready at {ctx.when(ready)} "
        f"({minutes}-minute margin)."
    )
    own = list(_sorted((s for s in event.sessions if s.speaker == speaker.id), order))
    unchanged = _sorted(original.values(), order)

    def result(
        feasible: bool, changes: Iterable[Change], agenda: Iterable[Session], text: str
    ) -> Replan:
        return Replan(
            feasible=feasible,
            speaker=speaker.id,
            ready_at=ready,
            changes=tuple(changes),
            agenda=_sorted(agenda, order),
            reason=f"{intro} {text}",
            escalate_to_chair=not feasible,
        )

    def escalate(text: str) -> Replan:
        chair = event.contacts.chair
        return result(
            False, (), unchanged, f"{text} Escalate to the chair, {chair.name} ({chair.contact})."
        )

    if not own:
        return result(True, (), unchanged, f"{speaker.name} has no session; nothing changes.")
    late = [s for s in own if s.start < ready]
    if not late:
        kept = ", ".join(f"{_quote(s)} at {ctx.when(s.start)}" for s in own)
        return result(
            True, (_change("none", s, s) for s in own), unchanged, f"No change needed: {kept}."
        )
    for session in late:
        if now is not None and session.start < now:
            return escalate(
                f"{_quote(session)} ({session.room}, {ctx.slot(session)}) has already started "
                "without the speaker and cannot be moved."
            )

    agenda = dict(original)
    kinds: dict[str, ChangeKind] = {}
    sentences: list[str] = []
    for session in late:
        ctx.notes.clear()
        delayed = _try_start_late(ctx, agenda, session)
        if delayed is not None:
            agenda = delayed
            moved = agenda[session.id]
            kinds[session.id] = "start_late"
            minutes = int((moved.start - session.start).total_seconds() // 60)
            sentences.append(
                f"{_quote(session)} starts {minutes} minutes late, at {ctx.when(moved.start)}, "
                f"in {session.room}, and ends at {ctx.when(moved.end)}; nothing else moves."
            )
            continue
        swapped = _try_swap(ctx, agenda, session, set(kinds))
        if swapped is not None:
            agenda, partner = swapped
            moved = agenda[session.id]
            kinds[session.id] = kinds[partner.id] = "swap"
            sentences.append(
                f"{_quote(session)} swaps slots with {_quote(original[partner.id])} in "
                f"{session.room}: {_quote(session)} now runs {ctx.slot(moved)} and "
                f"{_quote(partner)} {ctx.slot(partner)}."
            )
            continue
        relocated = _try_backup(ctx, agenda, session)
        if relocated is not None:
            agenda = relocated
            moved = agenda[session.id]
            kinds[session.id] = "move_room"
            sentences.append(
                f"{_quote(session)} moves from {session.room} ({ctx.slot(session)}) to the "
                f"backup room {moved.room} at {ctx.slot(moved)}; {session.room} stays free "
                f"{ctx.slot(session)}."
            )
            continue
        return escalate(
            f"{_quote(session)} ({session.room}, {ctx.slot(session)}) cannot be moved: "
            f"{'; '.join(ctx.notes)}."
        )

    changes = [_change(kind, original[i], agenda[i]) for i, kind in kinds.items()]
    for session in own:
        if session.id not in kinds:
            changes.append(_change("none", session, session))
            sentences.append(f"{_quote(session)} at {ctx.when(session.start)} needs no change.")
    return result(True, changes, agenda.values(), " ".join(sentences))
