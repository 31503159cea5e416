"""The watcher: incidents in, suggestions, disruptions and notices out, as event dicts.

One incident goes: validation (the engine's) → the correlator (event time, windows, keys)
→ the engine's suggestion → the events of the disruptions it opened or joined, with a
rendered notice per member. Every output is a JSON-able dict with an ``"event"`` field
(DESIGN: ``suggestion``, ``disruption_opened``, ``incident_attached``, ``notice``,
``disruption_resolved``). Sources, sinks and the store are the caller's (``cxplay watch``).

A missing ``occurred_at`` is refused *for correlation*: the incident still gets its
suggestion, flagged ``no_occurred_at``, but joins no window. Taking the arrival time instead
would make a disruption's id and members depend on when the watcher happened to read the
line, and a replay of the same stream would no longer give the same disruptions.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from operator import attrgetter
from typing import Any

from cxplay._common.instants import EPOCH, moment
from cxplay._conditions.parse import leaves, type_constraint
from cxplay._engine.engine import Engine, Flattener
from cxplay._engine.reference import compile_node
from cxplay._playbooks.loader import CompiledCorrelation
from cxplay._watch.correlator import Attached, Correlator, Opened, Spec, Verdict
from cxplay._watch.notices import disruption_actions, render_notice
from cxplay.errors import CxplayError
from cxplay.models import Incident

__all__ = ["Watcher", "key_text"]

_US = timedelta(microseconds=1)
_Test = tuple[int, Any, tuple[str, ...]]  # (correlation, compiled condition, key fields)
#: Per incident type: a flattener when a condition needs more than the type, and per
#: correlation (its index, its condition or None when the type decides it, key getters).
_Plan = tuple[Flattener | None, list[tuple[int, Any, tuple[Callable[[Incident], Any], ...]]]]


_Found = tuple[list[tuple[int, tuple[Any, ...]]], bool]
_Finder = Callable[[Incident], _Found]
#: How :meth:`Watcher.offer` finds an incident type's keys: (correlation, the key field's
#: getter, a function that finds them) for the common case -- one correlation, decided by
#: the type, with a one-field key, read in ``offer`` itself --, else (-1, None, the
#: function). :meth:`Watcher.keys` always calls the function.
_Way = tuple[int, Callable[[Incident], Any] | None, _Finder]


def _way(plan: _Plan) -> _Way:
    """An incident type's way to its keys (see :meth:`Watcher.keys`)."""
    flatten, tests = plan
    if not tests:
        return -1, None, lambda incident: ([], False)
    if flatten is None and len(tests) == 1 and len(tests[0][2]) == 1:
        index, _, (get,) = tests[0]

        def one(incident: Incident) -> _Found:
            value = get(incident)  # a missing one is handled singly for this correlation
            return ([], True) if value is None or value == "" else ([(index, (value,))], False)

        return index, get, one

    def every(incident: Incident) -> _Found:
        found: list[tuple[int, tuple[Any, ...]]] = []
        missing = False
        flat = None if flatten is None else flatten(incident)
        for index, test, getters in tests:
            if test is not None and not test(flat):
                continue
            key = tuple([get(incident) for get in getters])
            if None in key or "" in key:
                missing = True  # handled singly for this correlation
                continue
            found.append((index, key))
        return found, missing

    return -1, None, every


def _getter(path: str) -> Callable[[Incident], Any]:
    """A key field read from the model as the flattener reads it (None when absent)."""
    if path.startswith("facts."):
        name = path[6:]
        return lambda incident: incident.facts.get(name)
    return attrgetter(path)


def key_text(key: tuple[Any, ...]) -> Any:
    """A key as the events show it: the value itself, or a list for a composite key."""
    return key[0] if len(key) == 1 else list(key)


@dataclass
class Batch:
    """What the watcher did since the store last saw it (written in one transaction)."""

    opened: list[dict[str, Any]] = field(default_factory=list)
    members: list[dict[str, Any]] = field(default_factory=list)


class Watcher:
    """Correlates incidents for one engine's playbooks; :meth:`process` one at a time."""

    def __init__(
        self,
        engine: Engine,
        *,
        lateness: timedelta = timedelta(minutes=5),
        suggestions: bool = True,
        notices: bool = True,
    ) -> None:
        self.engine = engine
        self.suggestions = suggestions
        self.notices = notices
        self.correlations: tuple[CompiledCorrelation, ...] = engine.playbooks.correlations
        specs = [
            Spec(
                c.id,
                c.correlate.threshold,
                c.correlate.within // _US,
                c.correlate.hold // _US,
            )
            for c in self.correlations
        ]
        self.correlator = Correlator(specs, lateness=lateness // _US)
        self._policies = {p.meta.id: p.policy for p in engine.playbooks.playbooks}
        self._flatten = self._flattener(range(len(self.correlations)))
        self._tests = [
            (n, compile_node(c.condition), tuple(c.correlate.key))
            for n, c in enumerate(self.correlations)
        ]
        # the correlations an incident type can match (most pin their types), each type
        # with a flattener of only the fields those read: built on first sight of a type
        self._pinned = [type_constraint(c.condition) for c in self.correlations]
        self._by_type: dict[str, _Way] = {}
        self.batch = Batch()

    def _flattener(self, positions: Iterable[int]) -> Flattener:
        chosen = [self.correlations[n] for n in positions]
        paths = sorted(
            {leaf.path for c in chosen for leaf in leaves(c.condition)}
            | {p for c in chosen for p in c.correlate.key}
        )
        return Flattener(paths, self._policies)

    def _for_type(self, incident_type: str) -> _Way:
        found = self._by_type.get(incident_type)
        if found is None:
            found = _way(self._plan(incident_type))
            if len(self._by_type) < 10_000:  # types are open-ended: keep the cache bounded
                self._by_type[incident_type] = found
        return found

    def _plan(self, incident_type: str) -> _Plan:
        """How to find an incident type's keys, decided once per type.

        A condition that reads nothing but ``type`` (every shipped one) is decided for the
        type here, by evaluating it on ``{"type": incident_type}``: it is then never
        evaluated per incident. Key fields are read straight from the model (an
        attribute getter, or the facts dict), as the flattener would read them. Only the
        other conditions need the incident flattened (to the fields they read).
        """
        tests: list[tuple[int, Any, tuple[Callable[[Incident], Any], ...]]] = []
        flattened: list[int] = []
        for (index, test, fields), pinned in zip(self._tests, self._pinned, strict=True):
            if pinned is not None and incident_type not in pinned:
                continue
            condition = self.correlations[index].condition
            per_incident: Any = test
            if all(leaf.path == "type" for leaf in leaves(condition)):
                if not test({"type": incident_type}):
                    continue  # never for this type
                per_incident = None  # always for this type
            else:
                flattened.append(index)
            tests.append((index, per_incident, tuple(_getter(f) for f in fields)))
        flatten = self._flattener(flattened) if flattened else None
        return flatten, tests

    # -- one incident ------------------------------------------------------------------

    def keys(self, incident: Incident) -> tuple[list[tuple[int, tuple[Any, ...]]], bool]:
        """The (correlation, key) pairs of an incident, and whether a key field was missing."""
        way = self._by_type.get(incident.type)
        if way is None:
            way = self._for_type(incident.type)
        return way[2](incident)

    def offer(self, incident: Incident) -> tuple[Verdict, bool]:
        """Offer an incident with an ``occurred_at`` to the correlator, keys found here.

        What :meth:`correlate` does per timed incident, in one call: :meth:`keys`, the
        event time in microseconds and :meth:`Correlator.offer` (the model itself waits in
        a window; it is dumped only when state is saved). Returns the verdict and whether
        a key field was missing. ``bench_watch.py`` times this same call.
        """
        way = self._by_type.get(incident.type)
        if way is None:
            way = self._for_type(incident.type)
        index, get, find = way
        if get is None:
            keys, missing = find(incident)
        else:  # the common case and micros() inline: a call per incident costs more
            value = get(incident)
            if value is None or value == "":
                keys, missing = [], True
            else:
                keys, missing = [(index, (value,))], False
        since = incident.occurred_at - EPOCH  # type: ignore[operator]
        at = (since.days * 86_400 + since.seconds) * 1_000_000 + since.microseconds
        return self.correlator.offer(incident.id, at, keys, incident if keys else None), missing

    def links(self, incident: Incident) -> list[tuple[str, Any, timedelta, timedelta]]:
        """What finds the open disruption an incident would join, one per correlation.

        Each is (correlation id, key as the events show it, within, hold).
        """
        found, _ = self.keys(incident)
        out = []
        for index, key in found:
            block = self.correlations[index].correlate
            out.append((self.correlations[index].id, key_text(key), block.within, block.hold))
        return out

    def process(self, raw: Incident | Mapping[str, Any]) -> list[dict[str, Any]] | None:
        """Everything one incident causes, as event dicts; None for a duplicate.

        Raises:
            IncidentError: the incident is invalid; nothing was changed.
        """
        done = self.correlate(raw)
        if done is None:
            return None
        incident, flags, produced = done
        if self.suggestions:
            return [self.suggestion(incident, flags), *produced]
        return produced

    def correlate(
        self, raw: Incident | Mapping[str, Any]
    ) -> tuple[Incident, list[str], list[dict[str, Any]]] | None:
        """:meth:`process` without the suggestion: the incident, its flags, its events.

        The disruption events (and notices) are those :meth:`process` writes after the
        suggestion; None for a duplicate. The service (``POST /v1/incidents``) commits
        the correlation first and asks for the suggestions after.

        Raises:
            IncidentError: the incident is invalid; nothing was changed.
        """
        incident = self.engine.incident(raw)
        flags: list[str] = []
        events: list[Opened | Attached] = []
        if incident.occurred_at is None:
            flags.append("no_occurred_at")
        else:
            # every timed incident moves the watermark and is remembered for duplicates
            verdict, missing = self.offer(incident)
            if missing:
                flags.append("no_key")
            if verdict.duplicate:
                return None
            if verdict.late:
                flags.append("late")
            events = list(verdict.events)
        out: list[dict[str, Any]] = []
        for event in events:
            out.extend(self._disruption_events(event, incident))
        return incident, flags, out

    def suggestion(self, incident: Incident, flags: list[str]) -> dict[str, Any]:
        """The suggestion event: the Suggestion JSON, the incident id and the flags."""
        try:
            data = self.engine.suggest(incident).model_dump(mode="json")
        except CxplayError as exc:
            return {"event": "suggestion", "incident_id": incident.id, "error": str(exc)}
        data["incident_id"] = incident.id
        return {"event": "suggestion", **data, "flags": flags}

    def _disruption_events(
        self, event: Opened | Attached, incident: Incident
    ) -> list[dict[str, Any]]:
        compiled = self.correlations[event.spec]
        key = key_text(event.key)
        out: list[dict[str, Any]] = []
        if isinstance(event, Opened):
            block = compiled.correlate
            opened = {
                "event": "disruption_opened",
                "disruption_id": event.disruption,
                "correlation": block.id,
                "playbook": compiled.playbook.ref,
                "key": key,
                "title": block.title,
                "severity": block.severity,
                "opened_at": moment(event.opened).isoformat(),
                "members": len(event.members),
                "actions": disruption_actions(compiled),
            }
            out.append(opened)
            self.batch.opened.append(opened)
            for member, at, payload in event.members:
                if isinstance(payload, Incident):
                    model = payload
                elif payload is not None:  # restored from a saved state
                    model = Incident.model_validate(payload)
                else:
                    model = incident
                member_events = self._member(
                    compiled, event.disruption, key, member, at, model, False, incident
                )
                out.extend(member_events)
        else:
            out.extend(
                self._member(
                    compiled,
                    event.disruption,
                    key,
                    event.member,
                    event.at,
                    incident,
                    event.late,
                    incident,
                )
            )
        return out

    def _member(
        self,
        compiled: CompiledCorrelation,
        disruption: str,
        key: Any,
        member: str,
        at: int,
        incident: Incident,
        late: bool,
        trigger: Incident,
    ) -> list[dict[str, Any]]:
        """A member's ``incident_attached`` event and its notice.

        ``trigger`` is the incident being correlated: the member itself, or the one that
        opened the disruption.
        """
        attached = {
            "event": "incident_attached",
            "disruption_id": disruption,
            "key": key,
            "incident_id": member,
            "occurred_at": moment(at).isoformat(),
            "late": late,
        }
        self.batch.members.append(
            {
                "disruption_id": disruption,
                "incident_id": member,
                "occurred_at": moment(at),
                "late": late,
                "customer_id": incident.customer.id,
                "incident": incident.model_dump(mode="json", exclude_none=True),
            }
        )
        if not self.notices:
            return [attached]
        # the notice speaks from the event time it is made at: the member's own, or that of
        # the incident that opened the disruption when it came later (replays say the same)
        sent = max(moment(at), trigger.occurred_at) if trigger.occurred_at else moment(at)
        if incident.occurred_at is not None:  # said at the offset the member's incident has
            sent = sent.astimezone(incident.occurred_at.tzinfo)
        notice = self.notice(compiled, disruption, key, member, incident, "notice", now=sent)
        return [attached, notice]

    def notice(
        self,
        compiled: CompiledCorrelation,
        disruption: str,
        key: Any,
        member: str,
        incident: Incident,
        kind: str,
        *,
        now: datetime | None = None,
    ) -> dict[str, Any]:
        """One ``notice`` event (``kind`` "notice" or "resolved") for one member.

        ``now``: the moment the notice speaks from (see :func:`render_notice`).
        """
        renderer = self.engine.renderer
        base = {
            "event": "notice",
            "kind": "resolution" if kind == "resolved" else "notice",
            "disruption_id": disruption,
            "key": key,
            "incident_id": member,
            "customer_id": incident.customer.id,
        }
        if renderer is None:
            return {**base, "error": "no reply templates beside the playbooks"}
        try:
            reply = render_notice(
                renderer,
                compiled,
                incident,
                "resolved" if kind == "resolved" else "notice",
                now=now,
            )
        except CxplayError as exc:
            return {**base, "error": str(exc)}
        return {
            **base,
            "language": reply.language,
            "channel": reply.channel,
            "reply": reply.model_dump(mode="json"),
        }

    def take_batch(self) -> Batch:
        """What happened since the last call (for the store), and start a new batch."""
        batch, self.batch = self.batch, Batch()
        return batch

    def correlation(self, correlation_id: str) -> CompiledCorrelation | None:
        """The compiled ``[[correlate]]`` block with this id."""
        return next((c for c in self.correlations if c.id == correlation_id), None)


def replay(watcher: Watcher, incidents: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Every event of a stream of valid incidents (tests and backtest)."""
    out: list[dict[str, Any]] = []
    for raw in incidents:
        out.extend(watcher.process(raw) or ())
    return out
