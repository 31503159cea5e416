"""A brute-force correlator, written from the semantics in cxplay/_watch/correlator.py.

It keeps every arrival forever and recomputes windows from scratch on each one: slow,
obvious, and independent of the real correlator's deques, bisects, heaps and evictions.
tests/test_watch.py holds the two together on random disordered streams, and
benchmarks/bench_watch.py checks the detections of a million incidents against it (on
the keys of the waves, where its quadratic cost stays affordable).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

Event = tuple[Any, ...]


@dataclass
class _Disruption:
    spec: int
    key: Any
    opened: int
    first: int
    last: int
    members: list[str] = field(default_factory=list)


@dataclass
class _Arrival:
    member: str
    at: int
    waited: set[tuple[int, Any]] = field(default_factory=set)  # (spec, key) it waited in


def reference(
    specs: Sequence[tuple[int, int, int]],  # (threshold, within, hold)
    lateness: int,
    retention: int,
    arrivals: Iterable[tuple[str | None, int, Sequence[tuple[int, Any]]]],
) -> list[Event]:
    """Every outcome of a stream, as comparable tuples.

    ``("dup", member)``, ``("late", member)``, ``("open", spec, key, t, members)`` with
    members ((member, at), ...) in (time, arrival) order, ``("attach", spec, key, t,
    member, at, late)`` where t identifies the disruption.
    """
    out: list[Event] = []
    accepted: dict[str, int] = {}  # id -> event time of its latest accepted sighting
    history: list[_Arrival] = []
    disruptions: list[_Disruption] = []
    consumed: set[tuple[int, int, Any]] = set()  # (position, spec, key) that became members
    waited: dict[tuple[int, Any], list[int]] = {}  # (spec, key) -> positions that waited in it
    max_seen: int | None = None
    for seq, (incident_id, at, keys) in enumerate(arrivals, start=1):
        watermark = None if max_seen is None else max_seen - lateness
        late = watermark is not None and at < watermark
        member = incident_id if incident_id is not None else f"#{seq}"
        if incident_id is not None:
            before = accepted.get(incident_id)
            if before is not None and (watermark is None or before >= watermark - retention):
                out.append(("dup", member))
                continue
            accepted[incident_id] = at
        max_seen = at if max_seen is None else max(max_seen, at)
        now = max_seen - lateness
        arrival = _Arrival(member, at)
        if keys:  # only an arrival with keys can ever wait in a window
            history.append(arrival)
        if late:
            out.append(("late", member))
        for spec_index, key in keys:
            threshold, within, hold = specs[spec_index]
            covering = [
                d
                for d in disruptions
                if d.spec == spec_index and d.key == key and d.first - within <= at <= d.last + hold
            ]
            if covering:
                d = covering[-1]
                if member not in d.members:
                    d.members.append(member)
                    d.last = max(d.last, at)
                    out.append(("attach", spec_index, key, d.opened, member, at, late))
                continue
            if late:
                continue
            arrival.waited.add((spec_index, key))
            waited.setdefault((spec_index, key), []).append(len(history) - 1)
            pending = [
                (history[position].at, position, history[position].member)
                for position in waited[(spec_index, key)]
                if (position, spec_index, key) not in consumed
                and history[position].at >= now - within
            ]
            pending.sort()
            ends = sorted(
                {
                    t
                    for t, _, _ in pending
                    if sum(1 for u, _, _ in pending if t - within <= u <= t) >= threshold
                }
            )
            if not ends:
                continue
            t = ends[0]
            disruptions.append(
                _Disruption(
                    spec_index,
                    key,
                    t,
                    pending[0][0],
                    pending[-1][0],
                    [m for _, _, m in pending],
                )
            )
            consumed.update((position, spec_index, key) for _, position, _ in pending)
            out.append(("open", spec_index, key, t, tuple((m, u) for u, _, m in pending)))
    return out
