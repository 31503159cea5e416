"""The Engine: playbooks in, suggestions out. Thread-safe, reloadable.

An :class:`Engine` holds one immutable snapshot (playbooks, compiled backend) and swaps it
whole on :meth:`Engine.reload`; an evaluation that started on the old snapshot finishes on
it, and the old durable rulesets are freed when the last such evaluation drops its
reference. A reload that fails validation raises and leaves the old snapshot serving.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any, Generic, Literal, Protocol, cast, overload

from typing_extensions import Self, TypeVar

from cxplay._common.models import trusted, updated
from cxplay._common.text import did_you_mean, echo
from cxplay._conditions.parse import leaves
from cxplay._engine import durable as _durable
from cxplay._engine.backend import Backend
from cxplay._engine.compiler import compile_program
from cxplay._engine.decide import Decision, Outline, decide, outline, outline_reads
from cxplay._engine.incident import MAX_PROBLEMS as MAX_PROBLEMS
from cxplay._engine.incident import Flattener, coerce_incident
from cxplay._engine.incident import IncidentLike as IncidentLike
from cxplay._engine.reference import ReferenceBackend, explain_node
from cxplay._playbooks.digest import playbook_digest
from cxplay._playbooks.loader import (
    CompiledRule,
    PlaybookSet,
    load_playbooks,
    shipped_playbooks_dir,
)
from cxplay._replies.config import whole_context
from cxplay._replies.renderer import Renderer, ReplyContext
from cxplay.errors import (
    ArgumentError,
    BackendError,
    EngineClosedError,
    ReloadError,
)
from cxplay.models import Incident
from cxplay.results import Cost, History, Match, Reply, RuleTrace, Suggestion

if TYPE_CHECKING:
    from cxplay._log.store import DecisionLog

__all__ = ["BackendName", "DecisionSink", "Engine", "Flattener", "Outliner", "coerce_incident"]

#: The rule engines an :class:`Engine` can use (``auto``: durable where it imports).
BackendName = Literal["auto", "durable", "python"]
#: Where playbooks are loaded from: a directory or file, or several.
PlaybookSource = Path | str | Sequence[Path | str]


def _paths(source: PlaybookSource) -> tuple[Path, ...]:
    if isinstance(source, str | Path):
        return (Path(source),)
    return tuple(Path(p) for p in source)


def _aware(now: datetime | None) -> datetime | None:
    """``now`` as given; a naive one is refused (it would make a naive respond_by)."""
    if now is not None and now.utcoffset() is None:
        raise ArgumentError(
            f"now={now.isoformat()} has no UTC offset: pass an aware datetime, "
            "e.g. datetime.now(timezone.utc) or datetime(2026, 1, 1, tzinfo=timezone.utc)"
        )
    return now


def _source_of(
    playbooks: PlaybookSet, source: Sequence[Path] | Path | None
) -> tuple[Path, ...] | PlaybookSet:
    """What reload() loads again: the given paths, else the given set itself."""
    return playbooks if source is None else _paths(source)


_serial = itertools.count(1)


def reply_context(decision: Decision) -> ReplyContext:
    """What the renderer needs from a decision: actions, promises, and the leading playbook.

    The leading playbook (its top kept rule's) sets the reply's languages, tone and signature.
    """
    playbook = decision.kept[0].playbook
    meta = playbook.meta
    return whole_context(  # every field, in the order of ReplyContext's
        {
            "actions": decision.actions,
            "languages": meta.languages,
            "default_language": meta.default_language,
            "tone": meta.tone,
            "respond_by": decision.respond_by,
            "follow_ups": decision.follow_ups,
            "severity": decision.severity,
            "playbook": meta.id,
            "promise": playbook.sla,
            "business": playbook.business,
            "zone": hours.zone if (hours := playbook.hours) is not None else None,
            "said": decision.said,
            "now": decision.base,
        }
    )


#: The fields a suggestion is built with (decision_id is set by a log, with updated).
_GIVEN = frozenset(Suggestion.model_fields) - {"decision_id"}


def _suggestion(
    model: Incident,
    decision: Decision,
    reply: Reply | None,
    trace: list[RuleTrace] | None,
    history: History | None,
) -> Suggestion:
    """``Suggestion(incident_id=..., ..., history=...)`` without validating what it holds.

    Every value is the engine's own and already of its field's type (the actions and
    follow-ups were built by ``decide``, the reply by the renderer, the history here);
    the lists become the tuples validation would make, and the fields given are those
    the keyword call gives. ``tests/test_render_fast.py`` checks it equals the validated
    model, JSON and fields set included.
    """
    suggestion = trusted(
        Suggestion,
        {
            "incident_id": model.id,
            "matched": bool(decision.actions),
            "severity": decision.severity,
            "actions": tuple(decision.actions),
            "reply": reply,
            "respond_by": decision.respond_by,
            "follow_ups": tuple(decision.follow_ups),
            "trace": None if trace is None else tuple(trace),
            "decision_id": None,
            "history": history,
        },
        _GIVEN,
    )
    return suggestion


#: The fields ``History(source=..., compensations_90d=...)`` sets.
_HISTORY_GIVEN = frozenset({"source", "compensations_90d"})


def _given_history(count: int) -> History:
    """``History(source="incident", compensations_90d=count)`` without validating it.

    ``count`` is the validated incident's ``customer.compensations_90d`` (an int, at least
    0), so the model is what validation builds (``tests/test_render_fast.py`` checks it,
    the fields set included): the keyword call cost a suggestion ~1 % of its time. The
    model is immutable, so one per count serves every suggestion (:func:`_kept_history`).
    """
    # (an int's own type only: True would find 1's model, and its JSON says 1)
    if type(count) is not int:
        return trusted(
            History,
            {"source": "incident", "compensations_90d": count, "amounts_90d": ()},
            _HISTORY_GIVEN,
        )
    return _kept_history("incident", count, _HISTORY_GIVEN)


def _kept_history(source: str, count: int, given: frozenset[str] | None = None) -> History:
    """The History of ``source`` for an int ``count`` without amounts: one model per pair.

    A History is immutable, so one per (source, count) serves every suggestion; ``given``
    is the fields set (:func:`trusted`'s), the same for every count of a source.
    """
    key = (source, count)
    history = _KEPT_HISTORIES.get(key)
    if history is None:
        if len(_KEPT_HISTORIES) >= 1024:
            _KEPT_HISTORIES.clear()  # bounded: a cleared memo only costs time
        history = _KEPT_HISTORIES[key] = trusted(
            History, {"source": source, "compensations_90d": count, "amounts_90d": ()}, given
        )
    return history


#: (source, count) -> the History a suggestion reports for that count without amounts:
#: given in the incident (``"incident"``) or answered by the log (``"log"``).
_KEPT_HISTORIES: dict[tuple[str, int], History] = {}


def _logged_history(count: int, amounts: Mapping[str | None, float]) -> History:
    """``History(source="log", compensations_90d=count, amounts_90d=[Cost(...), ...])``.

    The amounts by currency, ``None`` (no currency) by its text as before. What a log
    answers is built without validating when every value already has its field's type
    (an ``int`` count, ``float`` amounts, currencies ``str`` or None: what
    :class:`cxplay.DecisionLog` gives); anything else is validated as before. A count
    without amounts (most customers) is one immutable model per count, kept
    (:func:`_kept_history`, as :func:`_given_history`'s).
    ``tests/test_decide_fast.py`` checks both ways give the same model.
    """
    if not amounts and type(count) is int:  # (most customers: one model per count, kept)
        return _kept_history("log", count)
    items = sorted(amounts.items(), key=_currency_key) if amounts else ()
    if type(count) is int and all(
        type(amount) is float and (currency is None or type(currency) is str)
        for currency, amount in items
    ):
        costs = tuple(
            [trusted(Cost, {"amount": amount, "currency": currency}) for currency, amount in items]
        )
        return trusted(History, {"source": "log", "compensations_90d": count, "amounts_90d": costs})
    return History(
        source="log",
        compensations_90d=count,
        amounts_90d=[Cost(amount=amount, currency=currency) for currency, amount in items],
    )


def _currency_key(item: tuple[str | None, float]) -> str:
    return str(item[0])


class _Counted(Protocol):
    @property
    def compensations(self) -> int: ...

    @property
    def amounts(self) -> Mapping[str | None, float]: ...


class _Asks(Protocol):
    def history(self, customer_id: str, now: datetime | None = None) -> _Counted: ...


class DecisionSink(Protocol):
    """What the engine needs from a decision log (:class:`cxplay.DecisionLog` is one).

    The engine depends on this shape only: the log is the library's, handed in.
    """

    def record(
        self,
        incident: Incident,
        suggestion: Suggestion,
        *,
        digest: str,
        playbooks: Sequence[str],
        backend: str,
        now: datetime | None = None,
    ) -> str:
        """Log a suggestion and return its decision id."""

    def history(self, customer_id: str, now: datetime | None = None) -> _Counted:
        """The customer's compensations in the last 90 days before ``now``."""

    def close(self) -> None:
        """Write what is pending and let go."""


@dataclass(frozen=True)
class _Snapshot:
    playbooks: PlaybookSet
    backend: Backend
    flatten: Flattener
    renderer: Renderer | None
    rank: tuple[int, ...]  # rank[position]: place in (priority desc, file order)
    match_of: tuple[Match, ...]  # one frozen Match per rule, built once
    types: frozenset[str]  # the incident types the playbooks name
    digest: str  # of the playbook files and reply templates (the log keys decisions by it)
    refs: tuple[str, ...]  # "id@version" of each playbook
    # a condition reads customer.compensations_90d: the history is needed before matching
    history_in_conditions: bool
    # some playbook has a repeat-claimant guard: a history may be needed after matching
    guards: bool
    # rank as a sort key: a dict's __getitem__ (a tuple's is a slot wrapper, twice as slow;
    # the sort of ~6 matches was 3 % of an evaluation)
    rank_key: Callable[[int], int]


def replies_dirs(playbooks: PlaybookSet) -> list[Path]:
    """The ``replies/`` directories beside the loaded playbook files."""
    seen: list[Path] = []
    for file in playbooks.files:
        candidate = file.parent / "replies"
        if candidate not in seen and candidate.is_dir():
            seen.append(candidate)
    return seen


#: What an engine's :attr:`Engine.log` is: None, the :class:`cxplay.DecisionLog` it
#: opened from a path or URL, or the sink it was given.
LogT = TypeVar("LogT", bound="DecisionSink | None", default="DecisionSink | None", covariant=True)
SinkT = TypeVar("SinkT", bound="DecisionSink")


class Engine(Generic[LogT]):
    """Evaluates incidents against a set of playbooks.

    ``Engine[DecisionLog]`` (what ``Engine.from_path(log="cx.db")`` returns) has a typed
    :attr:`log`: ``engine.log.outcome(...)`` type-checks as written.

    Example:
        >>> engine = Engine.from_path()                       # the shipped playbooks
        >>> s = engine.suggest({"type": "parcel_damaged"})
        >>> s.actions[0].kind
        'apology'
    """

    def __init__(
        self,
        playbooks: PlaybookSet,
        *,
        backend: BackendName = "auto",
        source: Sequence[Path] | Path | None = None,
        allow_unknown_type: bool = False,
        log: DecisionSink | str | Path | None = None,
    ) -> None:
        """Serve ``playbooks``.

        ``source`` is what :meth:`reload` loads again (None: the set itself, which
        reload() cannot refresh). :meth:`from_path` types :attr:`log` precisely.
        """
        if backend not in ("auto", "durable", "python"):
            hint = did_you_mean(str(backend), ("auto", "durable", "python"))
            raise BackendError(
                f"unknown backend {echo(backend)}; use 'auto', 'durable' or 'python'{hint}"
            )
        if backend == "durable" and not _durable.AVAILABLE:
            raise BackendError(_durable.UNAVAILABLE_REASON)
        self._backend_choice: BackendName = backend
        self._source: tuple[Path, ...] | PlaybookSet = _source_of(playbooks, source)
        self._closed = False
        # reload() and close() one at a time; evaluations never wait for either
        self._lifecycle = threading.Lock()
        #: Accept an incident type the playbooks do not know even when it is close to one
        #: they do (``parcel_damage``); by default that is an error with a did-you-mean.
        self.allow_unknown_type = allow_unknown_type
        self._snapshot = self._build(playbooks)
        self._owns_log = isinstance(log, str | Path)
        self._log: DecisionSink | None
        if isinstance(log, str | Path):
            # the one place the engine touches the log's module: opening one by name
            from cxplay._log.store import DecisionLog

            self._log = DecisionLog.open(log)
        else:
            self._log = log

    @overload
    @classmethod
    def from_path(
        cls,
        path: PlaybookSource | None = ...,
        *,
        backend: BackendName = ...,
        allow_unknown_type: bool = ...,
        log: None = ...,
    ) -> Engine[None]: ...

    @overload
    @classmethod
    def from_path(
        cls,
        path: PlaybookSource | None = ...,
        *,
        backend: BackendName = ...,
        allow_unknown_type: bool = ...,
        log: str | Path,
    ) -> Engine[DecisionLog]: ...

    @overload
    @classmethod
    def from_path(
        cls,
        path: PlaybookSource | None = ...,
        *,
        backend: BackendName = ...,
        allow_unknown_type: bool = ...,
        log: SinkT,
    ) -> Engine[SinkT]: ...

    @overload
    @classmethod
    def from_path(
        cls,
        path: PlaybookSource | None = ...,
        *,
        backend: BackendName = ...,
        allow_unknown_type: bool = ...,
        log: DecisionSink | str | Path | None = ...,
    ) -> Engine[DecisionSink | None]: ...

    @classmethod
    def from_path(
        cls,
        path: PlaybookSource | None = None,
        *,
        backend: BackendName = "auto",
        allow_unknown_type: bool = False,
        log: DecisionSink | str | Path | None = None,
    ) -> Engine[Any]:
        """Load playbooks from a directory or files (None: the shipped playbooks).

        ``allow_unknown_type`` accepts incident types close to a known one as they are.
        ``log`` is a :class:`cxplay.DecisionLog`, or a path or URL to open one: every
        suggestion is then recorded, and a customer's history comes from it.
        """
        playbooks = load_playbooks(path)
        source: Sequence[Path] | Path
        if path is None:
            source = shipped_playbooks_dir()
        elif isinstance(path, str | Path):
            source = Path(path)
        else:
            source = [Path(p) for p in path]
        return cls(
            playbooks,
            backend=backend,
            source=source,
            allow_unknown_type=allow_unknown_type,
            log=log,
        )

    def _build(self, playbooks: PlaybookSet) -> _Snapshot:
        # Compiled for both backends: a playbook that durable could not take is refused
        # everywhere, so the same playbooks are valid on every machine.
        program = compile_program(playbooks, prefix=f"cx{next(_serial)}")
        backend: Backend
        if self._backend_choice == "durable" or (
            self._backend_choice == "auto" and _durable.AVAILABLE
        ):
            backend = _durable.DurableBackend(playbooks, program)
        else:
            backend = ReferenceBackend(playbooks)
        paths = sorted({leaf.path for rule in playbooks.rules for leaf in leaves(rule.condition)})
        # Every catalog of every language is read now (or was, by validate_playbooks): a
        # catalog changed or deleted later is not served until a reload validates it.
        renderer: Renderer | None = playbooks.replies
        if not isinstance(renderer, Renderer):
            dirs = replies_dirs(playbooks)
            renderer = Renderer(dirs).whole() if dirs else None
        rules = playbooks.rules
        ordered = sorted(range(len(rules)), key=lambda p: (-rules[p].rule.priority, rules[p].order))
        rank = [0] * len(rules)
        for place, position in enumerate(ordered):
            rank[position] = place
        match_of = tuple(
            Match(rule=r.id, playbook=r.playbook.ref, priority=r.rule.priority, order=r.order)
            for r in rules
        )
        return _Snapshot(
            playbooks,
            backend,
            Flattener(paths, {p.meta.id: p.policy for p in playbooks.playbooks}),
            renderer,
            tuple(rank),
            match_of,
            playbooks.incident_types(),
            playbook_digest(playbooks),
            tuple(p.ref for p in playbooks.playbooks),
            "customer.compensations_90d" in paths,
            any(p.policy.repeat_claimant_after is not None for p in playbooks.playbooks),
            dict(enumerate(rank)).__getitem__,
        )

    # -- properties --------------------------------------------------------------------

    @property
    def playbooks(self) -> PlaybookSet:
        """The playbooks currently served."""
        return self._snapshot.playbooks

    @property
    def renderer(self) -> Renderer | None:
        """The reply renderer (None when the playbooks have no ``replies/`` directory)."""
        return self._snapshot.renderer

    @property
    def backend(self) -> str:
        """``durable`` or ``python``: the backend that evaluates conditions."""
        return str(self._snapshot.backend.name)

    @property
    def digest(self) -> str:
        """SHA-256 of the playbook files and reply templates served (changes on edit)."""
        return self._snapshot.digest

    @property
    def log(self) -> LogT:
        """The decision log suggestions are recorded in (None: not logged).

        A :class:`cxplay.DecisionLog` when the engine opened it from a path or URL, else
        the sink it was given: ``Engine.from_path(log="cx.db").log.outcome(...)`` checks.
        """
        return cast("LogT", self._log)

    # -- evaluation --------------------------------------------------------------------

    def incident(self, incident: IncidentLike) -> Incident:
        """Validate an incident against the model and the playbooks' declared facts."""
        return self._coerce(self._live(), incident)

    def _coerce(self, snapshot: _Snapshot, incident: IncidentLike) -> Incident:
        return coerce_incident(
            incident,
            snapshot.playbooks.facts,
            types=snapshot.types,
            allow_unknown_type=self.allow_unknown_type,
        )

    @staticmethod
    def _positions(snapshot: _Snapshot, incident: Incident) -> list[int]:
        """Positions of the matching rules, ranked by priority then file order."""
        flat = snapshot.flatten(incident)
        positions: list[int] = snapshot.backend.evaluate(incident.type, flat)
        positions.sort(key=snapshot.rank_key)
        return positions

    def _matches(self, snapshot: _Snapshot, incident: Incident) -> list[CompiledRule]:
        rules = snapshot.playbooks.rules
        return [rules[p] for p in self._positions(snapshot, incident)]

    def evaluate(self, incident: IncidentLike) -> list[Match]:
        """Every rule whose condition holds, by priority (higher first) then file order."""
        snapshot = self._live()
        model = self._coerce(snapshot, incident)
        match_of = snapshot.match_of
        return [match_of[p] for p in self._positions(snapshot, model)]

    def decide(self, incident: IncidentLike, *, now: datetime | None = None) -> Decision:
        """Matches after groups, stop rules and the playbooks' guardrails."""
        now = _aware(now)
        snapshot = self._live()
        model = self._coerce(snapshot, incident)
        return decide(self._matches(snapshot, model), model, now=now)

    def suggest(
        self,
        incident: IncidentLike,
        *,
        explain: bool = False,
        now: datetime | None = None,
        language: str | None = None,
        record: bool = True,
    ) -> Suggestion:
        """Ranked actions for an incident, the reply to send, and (``explain``) the trace.

        ``now`` (an aware datetime; a naive one is an :class:`cxplay.ArgumentError`) dates
        ``respond_by`` and follow-ups for an incident without ``occurred_at`` (which needs
        a UTC offset too); without either, the current time in UTC is used. With a log,
        ``now`` is also the decision's time there (a replay or a backfill is dated then).
        ``language`` overrides the customer's language tag for the reply. With a log,
        the suggestion is recorded (``record=False``: neither recorded nor looked up) and
        gets a ``decision_id``; a customer with an id and no ``compensations_90d`` gets
        the count from the log (``history.source == "log"``) when a matched playbook has
        a repeat-claimant guard (or a condition reads the count). A log that fails raises
        :class:`cxplay.LogError`.
        """
        now = _aware(now)
        snapshot = self._live()
        model = self._coerce(snapshot, incident)
        log = self._log if record else None
        if log is None or snapshot.history_in_conditions or model.customer.id is None:
            judged, history = self._history(model, log, now)
            matched = self._matches(snapshot, judged)
        else:
            # the history only feeds the repeat-claimant guard: ask the log only when a
            # matched rule's playbook has one; a log that can start the look-up early
            # (PostgreSQL) has it answered while the rules are evaluated
            later = getattr(log, "history_later", None) if snapshot.guards else None
            pending = None
            if later is not None and model.customer.compensations_90d is None:
                pending = later(model.customer.id, self._history_time(model, now))
            try:
                matched = self._matches(snapshot, model)
            except BaseException:
                if pending is not None:
                    pending(False)
                raise
            guarded = any(r.playbook.policy.repeat_claimant_after is not None for r in matched)
            if pending is None:
                judged, history = self._history(model, log if guarded else None, now)
            elif guarded:
                found = pending(True)
                assert found is not None  # (collected with keep=True)
                judged, history = self._judged(model, found)
            else:
                pending(False)
                judged, history = model, None
        decision = decide(matched, judged, now=now)
        trace = self._trace(snapshot, judged, decision) if explain else None
        reply = None
        if snapshot.renderer is not None and decision.kept:
            reply = snapshot.renderer.render(model, reply_context(decision), language=language)
        suggestion = _suggestion(model, decision, reply, trace, history)
        if log is None:
            return suggestion
        decision_id = log.record(
            model,
            suggestion,
            digest=snapshot.digest,
            playbooks=snapshot.refs,
            backend=snapshot.backend.name,
            now=now,
        )
        return updated(suggestion, {"decision_id": decision_id})

    @staticmethod
    def _history(
        model: Incident, log: _Asks | None, now: datetime | None
    ) -> tuple[Incident, History | None]:
        """The incident as the guard sees it, and the history it used."""
        customer = model.customer
        if customer.compensations_90d is not None:
            return model, _given_history(customer.compensations_90d)
        if log is None or customer.id is None:
            return model, None
        return Engine._judged(model, log.history(customer.id, Engine._history_time(model, now)))

    @staticmethod
    def _judged(model: Incident, found: _Counted) -> tuple[Incident, History]:
        """The incident the guard judges (a copy with the logged count), and the history."""
        count = found.compensations
        customer = updated(model.customer, {"compensations_90d": count})
        return updated(model, {"customer": customer}), _logged_history(count, found.amounts)

    @staticmethod
    def _history_time(model: Incident, now: datetime | None) -> datetime:
        """Where the history's window ends: ``now``, else when it occurred, else now."""
        return now or model.occurred_at or datetime.now(timezone.utc)

    def explain(self, incident: IncidentLike) -> list[RuleTrace]:
        """Every rule, matched or not; for a miss, the first failing condition and its value."""
        snapshot = self._live()
        model = self._coerce(snapshot, incident)
        decision = decide(self._matches(snapshot, model), model)
        return self._trace(snapshot, model, decision)

    def _trace(
        self, snapshot: _Snapshot, incident: Incident, decision: Decision
    ) -> list[RuleTrace]:
        flat = snapshot.flatten(incident)
        traces: list[RuleTrace] = []
        for rule in snapshot.playbooks.rules:
            held, failed = explain_node(rule.condition, flat)
            value: Any = None
            if failed is not None:
                paths = sorted({leaf.path for leaf in leaves(failed)})
                values = {p: flat.get(p) for p in paths}
                value = values[paths[0]] if len(paths) == 1 else values
            traces.append(
                RuleTrace(
                    rule=rule.id,
                    playbook=rule.playbook.ref,
                    matched=held,
                    condition=rule.rule.when,
                    failed=failed.source if failed is not None else None,
                    value=value,
                    outcome=decision.outcomes.get(rule.id) if held else None,
                )
            )
        return traces

    # -- lifecycle ---------------------------------------------------------------------

    @property
    def source(self) -> tuple[Path, ...] | PlaybookSet:
        """What :meth:`reload` loads again: the paths, or the PlaybookSet the engine was given.

        A given :class:`PlaybookSet` cannot be refreshed: ``reload()`` then raises
        :class:`cxplay.ReloadError` (``reload(source=...)`` still works).
        """
        return self._source

    @property
    def closed(self) -> bool:
        """Whether :meth:`close` was called."""
        return self._closed

    def reload(self, *, source: PlaybookSource | PlaybookSet | None = None) -> None:
        """Load the playbooks again and swap them in; on any error keep serving the old ones.

        ``source`` (paths, or a :class:`PlaybookSet` built in code) replaces what the
        engine serves from now on; without it the engine's own :attr:`source` is loaded
        again. Raises :class:`cxplay.ReloadError` when that source is a given PlaybookSet
        (it cannot be refreshed), :class:`cxplay.EngineClosedError` after :meth:`close`,
        and the loader's :class:`cxplay.PlaybookError` when the new playbooks are invalid.
        """
        self._check_open()
        target = self._source if source is None else source
        if isinstance(target, PlaybookSet):
            if source is None:
                raise ReloadError(
                    "this Engine serves a PlaybookSet it was given, which reload() cannot "
                    "refresh: pass reload(source=...) with paths or a new set, or build the "
                    "engine with Engine.from_path(...)"
                )
            playbooks = target
            new_source: tuple[Path, ...] | PlaybookSet = target
        else:
            new_source = _paths(target)
            playbooks = load_playbooks(list(new_source))
        snapshot = self._build(playbooks)
        with self._lifecycle:
            if self._closed:
                snapshot.backend.close()
                raise EngineClosedError("this engine has been closed; reload() needs an open one")
            self._snapshot, self._source = snapshot, new_source

    def close(self) -> None:
        """Free the rule engine's memory now (it is also freed when the Engine is collected).

        Suggestions already running finish; any call afterwards (``suggest``, ``reload``,
        ...) raises :class:`cxplay.EngineClosedError`. Closing twice is harmless. A log the
        engine opened itself (given as a path or URL) is closed too.
        """
        with self._lifecycle:
            if self._closed:
                return
            self._closed = True
            self._snapshot.backend.close()
        if self._owns_log and self._log is not None:
            self._log.close()

    def _check_open(self) -> None:
        if self._closed:
            raise EngineClosedError("this engine has been closed")

    def _live(self) -> _Snapshot:
        """The snapshot to evaluate on; an :class:`EngineClosedError` once closed."""
        if self._closed:
            raise EngineClosedError("this engine has been closed")
        return self._snapshot

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        snapshot = self._snapshot
        return (
            f"<Engine {len(snapshot.playbooks.playbooks)} playbooks, "
            f"{len(snapshot.playbooks.rules)} rules, backend={self.backend}>"
        )


#: How many outlines an engine's :class:`Outliner` remembers (then it starts again): about
#: 1.3 KB each, so at most ~13 MB per playbook set. A backtest of generated incidents
#: meets ~1,400 distinct ones in 60,000.
OUTLINES_KEPT = 10_000
#: Ranked matching rules and what :func:`outline` reads of an incident with them.
_Matches = tuple[list[CompiledRule], Callable[[Incident], Hashable]]


class Outliner:
    """An engine's decisions reduced to what a backtest compares (see :func:`outline`).

    Bound to the engine's snapshot when made. :meth:`check` validates an incident against
    the playbooks' declared facts and types; :meth:`outline` decides a checked one. Two
    outliners with equal :attr:`checks` give the same checked incident (so one check serves
    both), and with equal :attr:`reads` the same flattened one.
    """

    def __init__(self, engine: Engine[Any]) -> None:
        snapshot = engine._live()
        self._engine = engine
        self._snapshot = snapshot
        self._rules = snapshot.playbooks.rules
        self._rank = snapshot.rank_key
        self._evaluate = snapshot.backend.evaluate
        self.flatten = snapshot.flatten
        #: what :meth:`check` depends on: the declared facts, the known types, the leniency
        self.checks = (snapshot.playbooks.facts, snapshot.types, engine.allow_unknown_type)
        #: what :attr:`flatten` depends on: the paths conditions read, the policies' rates
        self.reads = snapshot.flatten.key
        # kept on the snapshot (as a rule keeps its plan), so every task of a worker
        # shares them: per set of matches, the ranked rules and what outline() reads of
        # an incident; per (matches, what it read), the outline
        memo = snapshot.__dict__.get("_outlines")
        if memo is None:
            memo = ({}, {})
            object.__setattr__(snapshot, "_outlines", memo)  # a cache, not a field
        self._matches: dict[tuple[int, ...], _Matches] = memo[0]
        self._outlines: dict[tuple[tuple[int, ...], Hashable], Outline] = memo[1]

    def check(self, incident: IncidentLike) -> Incident:
        """The incident validated against these playbooks (:class:`IncidentError` if not)."""
        return self._engine._coerce(self._snapshot, incident)

    def outline(self, model: Incident, flat: dict[str, Any] | None = None) -> Outline:
        """:meth:`Engine.decide` of a checked incident, as tuples; ``flat``: flattened already."""
        positions: list[int] = self._evaluate(
            model.type, self.flatten(model) if flat is None else flat
        )
        found = tuple(positions)
        matches = self._matches.get(found)
        if matches is None:
            if len(self._matches) >= OUTLINES_KEPT:
                self._matches.clear()
            positions.sort(key=self._rank)
            rules = self._rules
            ranked = [rules[p] for p in positions]
            matches = self._matches[found] = (ranked, outline_reads(ranked))
        ranked, reads = matches
        key = (found, reads(model))
        outlined = self._outlines.get(key)
        if outlined is None:
            if len(self._outlines) >= OUTLINES_KEPT:
                self._outlines.clear()  # bounded: a cleared memo only costs time
            outlined = self._outlines[key] = outline(ranked, model)
        return outlined
