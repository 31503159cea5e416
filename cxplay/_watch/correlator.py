"""The correlator: event-time windows per correlation key, in plain Python.

It sees only what it needs of an incident -- its id, its event time (``occurred_at`` in
integer microseconds) and the (correlation, key) pairs it belongs to -- and answers with
plain data: whether the incident is late or a duplicate, and which disruption it opened or
joined. It never renders and never evaluates a rule (DESIGN: source → correlator → engine).

Semantics (stated once, tested against a brute-force reference in tests/test_watch.py):

* **Watermark** W = the latest event time seen − ``lateness``. An incident whose time is
  before W is **late**: it is never counted towards a new disruption; it is attached when a
  disruption of its key covers its time, and otherwise handled singly.
* **Duplicates**: an id seen before (and whose first sighting is not older than W −
  ``retention``) is a duplicate and changes nothing: one member, one notice.
* **Coverage**: a disruption covers [first − within, last + hold], first and last being the
  earliest and latest event time of its members. An incident of the key that it covers
  attaches to it (the newest covering disruption, if several).
* **Opening**: an incident that is neither late nor covered waits in its key's window. The
  window holds incidents not older than W − within (older ones can never share a window of
  length ``within`` with a future on-time incident, so they are dropped: idle keys empty on
  the watermark, never on the wall clock). When some span [t − within, t] of the window
  holds ``threshold`` incidents, a disruption opens: every incident of the window becomes a
  member, and its id is derived from the correlation, the key and t (the smallest such t),
  so replaying the same stream gives the same ids.
* A disruption stays until it is resolved (:meth:`Correlator.resolve`); after its hold has
  passed on the watermark only late incidents can still attach to it.
"""

from __future__ import annotations

import hashlib
import json
from bisect import bisect_left, bisect_right
from collections import deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from itertools import repeat, takewhile
from operator import attrgetter
from typing import Any, NamedTuple

from cxplay._common.instants import moment

__all__ = [
    "Attached",
    "Correlator",
    "Disruption",
    "Opened",
    "Spec",
    "Verdict",
    "disruption_id",
]

KeyValue = tuple[Any, ...]


def disruption_id(correlation: str, key: KeyValue, opened: int) -> str:
    """``D-`` and 16 hex digits of a hash of the correlation, the key and the window's end."""
    text = json.dumps([correlation, list(key), moment(opened).isoformat()], ensure_ascii=False)
    return "D-" + hashlib.blake2b(text.encode(), digest_size=8).hexdigest()


@dataclass(frozen=True)
class Spec:
    """What the correlator needs of a ``[[correlate]]`` block (times in microseconds)."""

    id: str
    threshold: int
    within: int
    hold: int


@dataclass
class Disruption:
    """One disruption of one key: its members (incident id -> event time) and coverage."""

    id: str
    spec: int
    key: KeyValue
    opened: int  # the end of the window that reached the threshold
    first: int
    last: int
    members: dict[str, int] = field(default_factory=dict)

    def covers(self, at: int, spec: Spec) -> bool:
        """Whether an incident at ``at`` belongs to this disruption."""
        return self.first - spec.within <= at <= self.last + spec.hold


@dataclass(frozen=True)
class Opened:
    """A disruption opened; ``members`` are (incident id, event time), in event-time order."""

    disruption: str
    spec: int
    key: KeyValue
    opened: int
    members: tuple[tuple[str, int, Any], ...]  # (incident id, event time, payload)


@dataclass(frozen=True)
class Attached:
    """An incident joined an open disruption."""

    disruption: str
    spec: int
    key: KeyValue
    member: str
    at: int
    late: bool


class Verdict(NamedTuple):
    """What the correlator made of one incident."""

    member: str  # the incident id, or "#<arrival number>" without one
    late: bool = False
    duplicate: bool = False
    events: Sequence[Opened | Attached] = ()


_verdict = tuple.__new__  # Verdict(...) without the Python-level __new__ of a NamedTuple


#: remembered ids are forgotten in bulk, once per this many incidents (see _expire_seen)
_EXPIRE_EVERY = 8192

#: a waiting incident is four consecutive items of its key's list: event time, arrival
#: number, id, payload
_WIDE = 4
#: a key's disruptions before its first opens: one shared empty tuple, never mutated
_NO_DISRUPTIONS: tuple[Disruption, ...] = ()


class _Key(list[Any]):
    """One (correlation, key): its waiting incidents and its open disruptions.

    The list itself holds the waiting incidents, in event-time order, each as ``_WIDE``
    consecutive items (at, seq, id, payload) rather than a tuple of them: no object per
    waiting incident beyond its time and number, and its time is read without going
    through a tuple (at 1,000,000 incidents the windows are cold: every object read is a
    cache miss). A list with slots rather than a class holding lists: a sparse stream makes
    a key state for most incidents, and this is the cheapest to make (built by
    :meth:`Correlator._make`, or inline in the hot loop).
    """

    __slots__ = ("born", "disruptions", "home", "name", "place", "touched")
    # _NO_DISRUPTIONS until the first opens (no list made per key state), then a list
    disruptions: list[Disruption] | tuple[Disruption, ...]
    place: tuple[int, KeyValue]  # its (correlation, key)
    home: dict[Any, _Key]  # its correlation's dict of key states
    name: Any  # its name in there (see _name)
    born: int  # when it was made, in the order of making (the snapshot's order)
    # the latest event time seen when an incident last waited here; None once the key has
    # left the correlator (its entries in the idle queue are then stale)
    touched: int | None


def _name(key: KeyValue) -> Any:
    """A key's name in its correlation's dict: a one-field key's value itself, else the key.

    Hashing the value alone and comparing one object instead of a (correlation, key) tuple
    of tuples saves the reads of two cold objects per incident. A one-field value is never
    a tuple (keys are read from JSON values), so the two kinds cannot meet.
    """
    return key[0] if len(key) == 1 else key


def _disruptions(state: _Key) -> list[Disruption]:
    """A key's disruptions as a list of its own, to add to (made on the first)."""
    if isinstance(state.disruptions, list):
        return state.disruptions
    made: list[Disruption] = []
    state.disruptions = made
    return made


def _entries(state: _Key) -> Iterable[tuple[int, int, str, Any]]:
    """A key's waiting incidents as (at, seq, id, payload), in event-time order."""
    return zip(state[::_WIDE], state[1::_WIDE], state[2::_WIDE], state[3::_WIDE], strict=True)


def _dumped(payload: Any) -> Any:
    """A payload as JSON-able data: a pydantic model (the watcher's incidents) is dumped."""
    dump = getattr(payload, "model_dump", None)
    return payload if dump is None else dump(mode="json", exclude_none=True)


def _before(ats: list[int], limit: int) -> int:
    """How many times at the front of ``ats`` (arrival order) are before ``limit``."""
    return len(list(takewhile(limit.__gt__, ats)))


class Correlator:
    """Windows per (correlation, key) over event time, with a watermark and lateness.

    ``retention`` is how long (event time, behind the watermark) an incident id is
    remembered for duplicate detection; by default the longest ``within + hold`` plus the
    lateness.
    """

    def __init__(
        self, specs: Sequence[Spec], *, lateness: int, retention: int | None = None
    ) -> None:
        if lateness < 0:
            raise ValueError("lateness cannot be negative")
        if any(s.within < 0 for s in specs):  # the playbook models refuse one already
            raise ValueError("a correlation's window cannot be negative")
        self.specs = tuple(specs)
        self.lateness = lateness
        longest = max((s.within + s.hold for s in self.specs), default=0)
        self.retention = longest + lateness if retention is None else retention
        self.max_seen: int | None = None
        self._now = 0  # the watermark once max_seen is set (see _move)
        self._cuts: list[int] = []
        self.seq = 0
        # per correlation, its key states by name (see _name); made in the order of `born`
        self._held: list[dict[Any, _Key]] = [{} for _ in self.specs]
        self._born = 0
        # an incident id -> its first event time; the ids and times in arrival order
        # (two lists: forgotten from the front in bulk, see _expire_seen)
        self._seen: dict[str, int] = {}
        self._seen_ats: list[int] = []
        self._seen_ids: list[str] = []
        # idle keys are dropped on the watermark: each time an incident waits in a key, the
        # key is queued with the latest event time seen then (non-decreasing along the
        # queue); once the watermark is the longest `within` past that time, everything
        # the key held then is behind every window, and the key goes if nothing waited in
        # it since and it holds no disruption. The cost is per incident, never a pass over
        # every key held.
        self._longest = max((s.within for s in self.specs), default=0)
        # one entry per latest time seen, with the states touched then (a list appended to
        # while the time stays: no tuple per incident); the states themselves, so that the
        # drop needs no dict look-up
        self._touches: deque[tuple[int, list[_Key]]] = deque()
        # the list of the idle queue's entry for the current latest time (None until an
        # incident waits after the latest time moved)
        self._touching: list[_Key] | None = None
        # read per incident: the window, the threshold, and the threshold in list items
        self._params = [(s.within, s.threshold, s.threshold * _WIDE) for s in self.specs]

    # -- state -------------------------------------------------------------------------

    @property
    def watermark(self) -> int | None:
        """The latest event time seen minus the lateness (None before the first incident)."""
        return None if self.max_seen is None else self.max_seen - self.lateness

    def _states(self) -> list[_Key]:
        """Every key state held, in the order they were made."""
        every = [state for home in self._held for state in home.values()]
        if len(self._held) > 1:
            every.sort(key=attrgetter("born"))
        return every

    def disruptions(self) -> list[Disruption]:
        """Every unresolved disruption the correlator holds."""
        return [d for state in self._states() for d in state.disruptions]

    def window_size(self) -> int:
        """Incidents waiting in windows, and keys held (for memory checks)."""
        return sum(len(s) for home in self._held for s in home.values()) // _WIDE

    def keys_held(self) -> int:
        """How many (correlation, key) states are in memory."""
        return sum(map(len, self._held))

    # -- the one operation -------------------------------------------------------------

    def offer(
        self,
        incident_id: str | None,
        at: int,
        keys: Iterable[tuple[int, KeyValue]],
        payload: Any = None,
    ) -> Verdict:
        """Take one incident at event time ``at`` with the (spec index, key) pairs it has.

        Each pair is a tuple (a new key's state keeps it as it is).

        ``payload`` is kept with the incident while it waits in a window and handed back in
        :class:`Opened` (the watcher keeps what it needs to write the member's notice).
        """
        # The hot loop of `cxplay watch`: locals instead of attributes, no list per
        # incident unless it opens or joins a disruption (events is a tuple, grown rarely).
        self.seq = seq = self.seq + 1
        max_seen = self.max_seen
        if max_seen is None:
            late = False
            moved = True
            latest = at  # the latest event time seen, this incident's included
        else:
            late = at < self._now
            moved = at > max_seen
            latest = at if moved else max_seen
        if incident_id is None:
            member = f"#{seq}"
        else:
            member = incident_id
            seen = self._seen
            first = seen.get(incident_id)
            if first is not None and (max_seen is None or first >= self._now - self.retention):
                return _verdict(Verdict, (member, late, True, ()))
            seen[incident_id] = at
            self._seen_ats.append(at)
            self._seen_ids.append(incident_id)
        if moved:
            self._move(at)
            touching = None
        else:
            touching = self._touching
        now = self._now
        events: tuple[Opened | Attached, ...] = ()
        if keys:
            held = self._held
            cuts = self._cuts
            params = self._params
            touches = self._touches
            for place in keys:
                index, key = place
                home = held[index]
                name = key[0] if len(key) == 1 else key  # _name() inline
                state = home.get(name)
                if state is None:
                    if late:
                        continue  # it never waits in a window: no state for it
                    # _make() inline: a call per new key costs more than the key itself
                    # (its `touched` is set below)
                    state = home[name] = _Key()
                    state.disruptions = _NO_DISRUPTIONS
                    state.place = place
                    state.home = home
                    state.name = name
                    state.born = self._born = self._born + 1
                elif state.disruptions:
                    spec = self.specs[index]
                    covering = None
                    for disruption in reversed(state.disruptions):
                        if disruption.first - spec.within <= at <= disruption.last + spec.hold:
                            covering = disruption
                            break
                    if covering is not None:
                        if member in covering.members:
                            continue
                        covering.members[member] = at
                        if at > covering.last:
                            covering.last = at
                        events += (Attached(covering.id, index, key, member, at, late),)
                        continue
                if late:
                    if not state and not state.disruptions:
                        del home[name]
                        state.touched = None
                    continue
                state.touched = latest
                if touching is None:  # the first to wait since the latest time moved
                    touching = self._touching = [state]
                    touches.append((latest, touching))
                else:
                    touching.append(state)
                # it waits in the key's window (inline: a call per incident costs more)
                cut = cuts[index]
                if state and state[0] < cut:  # behind every window that can open
                    if state[-_WIDE] < cut:
                        state.clear()  # all of it: the common case of a sparse key
                    else:  # a few at the front: a scan is cheaper than a bisect
                        drop = _WIDE
                        while state[drop] < cut:
                            drop += _WIDE
                        del state[:drop]
                within, threshold, items = params[index]
                if not state or at >= state[-_WIDE]:  # in order: the common case
                    state += (at, seq, member, payload)
                    if len(state) < items:
                        continue
                    times = state[::_WIDE]
                    position = len(times) - 1
                else:
                    times = state[::_WIDE]
                    position = bisect_right(times, at)
                    state[position * _WIDE : position * _WIDE] = (at, seq, member, payload)
                    if len(state) < items:
                        continue
                    times.insert(position, at)
                # windows [t - within, t] holding this incident end at t in [at, at + within]
                end = len(times)
                for j in range(position, end):
                    t = times[j]
                    if t > at + within:
                        break
                    if j + 1 < end and times[j + 1] == t:
                        continue  # count a time once, with every incident at it
                    if j - bisect_left(times, t - within, 0, j) + 1 >= threshold:
                        events += (self._open(state, index, key, t),)
                        break
        if moved:  # else the idle queue's head is not behind: see _drop_idle
            touches = self._touches
            if touches and touches[0][0] < now - self._longest:
                self._drop_idle(now - self._longest)
        if not seq % _EXPIRE_EVERY:
            self._expire_seen(now - self.retention)
        return _verdict(Verdict, (member, late, False, events))

    def _move(self, at: int | None) -> None:
        """The latest event time seen is now ``at``: the watermark and the cuts follow."""
        self.max_seen = at
        self._touching = None
        if at is None:
            self._now = 0
            self._cuts = []
        else:
            self._now = now = at - self.lateness
            # per correlation, the time before which a waiting incident is behind every
            # window that can still open (read per incident; changes only here)
            self._cuts = [now - s.within for s in self.specs]

    def _open(self, state: _Key, index: int, key: KeyValue, t: int) -> Opened:
        members = tuple(zip(state[2::_WIDE], state[::_WIDE], state[3::_WIDE], strict=True))
        disruption = Disruption(
            disruption_id(self.specs[index].id, key, t),
            index,
            key,
            t,
            state[0],
            state[-_WIDE],
            {m: a for m, a, _ in members},
        )
        _disruptions(state).append(disruption)
        state.clear()
        return Opened(disruption.id, index, key, t, members)

    def _drop_idle(self, limit: int) -> None:
        """Forget the keys in which nothing has waited since the latest time was ``limit``.

        Called only when the latest time moves: the queue's entries are latest times, the
        limit is the latest time minus the lateness and the longest window (neither
        negative), so an entry made while the latest time stands is never behind it, and
        after each call the queue's head is not behind it either.
        """
        touches = self._touches
        while touches and touches[0][0] < limit:
            touched, touched_then = touches.popleft()
            for state in touched_then:
                # a state left behind (dropped, resolved) has touched None; one touched
                # since is in a later entry; a key's newer state touched at this same time
                # is in this entry or in the next one, taken in this same pass
                if state.touched == touched and not state.disruptions:
                    del state.home[state.name]  # all it holds is behind every window
                    state.touched = None

    def _expire_seen(self, limit: int) -> None:
        """Forget remembered ids from the front of the arrival order, while before ``limit``.

        What a pass after every incident would have forgotten by now (the limit only grows;
        see :meth:`_remembered`), in bulk once per ``_EXPIRE_EVERY`` incidents and with
        C-level passes (the count, the slices, the dict pops) instead of a Python loop per
        id. An id seen again since its entry (it holds a later time) is put back.
        """
        ats, ids, seen = self._seen_ats, self._seen_ids, self._seen
        count = _before(ats, limit)
        if not count:
            return
        times, gone = ats[:count], ids[:count]
        del ats[:count], ids[:count]
        popped = list(map(seen.pop, gone, repeat(None, count)))
        if popped != times:  # an id seen again since (rare): one entry at a time
            for incident_id, at in zip(gone, popped, strict=True):
                if at is not None:
                    seen[incident_id] = at
            for at, incident_id in zip(times, gone, strict=True):
                if seen.get(incident_id) == at:
                    del seen[incident_id]

    def _remembered(self) -> list[list[Any]]:
        """The ids remembered, as a pass after every incident would have left them.

        From the first in arrival order whose time is not before the limit (every pass
        looked at the front with the limit of its time, which only grows), each id at its
        latest time: the snapshot is the same whenever the bulk expiry last ran.
        """
        ats, ids, seen = self._seen_ats, self._seen_ids, self._seen
        start = 0
        if self.max_seen is not None:
            limit = self.max_seen - self.lateness - self.retention
            start = _before(ats, limit)
        return [
            [at, i] for at, i in zip(ats[start:], ids[start:], strict=True) if seen.get(i) == at
        ]

    def _make(self, index: int, key: KeyValue) -> _Key:
        """A new, empty key state, held (one that held the same key before is replaced)."""
        home, name = self._held[index], _name(key)
        state = _Key()
        state.disruptions = _NO_DISRUPTIONS
        state.place = (index, key)
        state.home = home
        state.name = name
        replaced = home.get(name)
        if replaced is not None:  # it keeps its place in the order of making
            replaced.touched = None
            state.born = replaced.born
        else:
            state.born = self._born = self._born + 1
        home[name] = state
        return state

    def resolve(self, disruption: str) -> Disruption | None:
        """Forget a resolved disruption (its key may open a new one); None if unknown."""
        for state in self._states():
            for found in state.disruptions:
                if found.id == disruption:
                    _disruptions(state).remove(found)
                    if not state and not state.disruptions:
                        del state.home[state.name]
                        state.touched = None
                    return found
        return None

    # -- persistence -------------------------------------------------------------------

    def snapshot(self) -> dict[str, Any]:
        """The whole state as JSON-able data (restored by :meth:`restore`)."""
        return {
            "max_seen": self.max_seen,
            "seq": self.seq,
            "seen": self._remembered(),
            "keys": [
                {
                    "spec": self.specs[index].id,
                    "key": list(key),
                    "pending": [
                        [at, seq, member, _dumped(payload)]
                        for at, seq, member, payload in _entries(state)
                    ],
                    "disruptions": [
                        {
                            "id": d.id,
                            "opened": d.opened,
                            "first": d.first,
                            "last": d.last,
                            "members": d.members,
                        }
                        for d in state.disruptions
                    ],
                }
                for state in self._states()
                for index, key in (state.place,)
            ],
        }

    def restore(self, data: dict[str, Any]) -> list[str]:
        """Load a :meth:`snapshot`; returns the correlations it named that no longer exist."""
        positions = {s.id: n for n, s in enumerate(self.specs)}
        self._move(data.get("max_seen"))
        self.seq = int(data.get("seq", 0))
        self._seen.clear()
        self._seen_ats.clear()
        self._seen_ids.clear()
        for at, incident_id in data.get("seen", []):
            self._seen[incident_id] = at
            self._seen_ats.append(at)
            self._seen_ids.append(incident_id)
        for home in self._held:
            home.clear()
        self._born = 0
        self._touches.clear()
        self._touching = None
        gone: list[str] = []
        for item in data.get("keys", []):
            index = positions.get(item["spec"])
            if index is None:
                gone.append(item["spec"])
                continue
            key = tuple(item["key"])
            state = self._make(index, key)
            state.touched = touched = self.max_seen or 0  # the latest it can have been
            self._touches.append((touched, [state]))
            for at, seq, member, payload in item["pending"]:
                state += (at, seq, member, payload)
            for d in item["disruptions"]:
                _disruptions(state).append(
                    Disruption(
                        d["id"], index, key, d["opened"], d["first"], d["last"], dict(d["members"])
                    )
                )
        return sorted(set(gone))
