"""The Engine: playbooks in, suggestions out. Thread-safe, reloadable.

An :class:`Engine` holds one immutable snapshot (playbooks, compiled backend) and swaps it
whole on :meth:`Engine.reload`; an evaluation that started on the old snapshot finishes on
it, and the old durable rulesets are freed when the last such evaluation drops its
reference. A reload that fails validation raises and leaves the old snapshot serving.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from operator import attrgetter
from pathlib import Path
from typing import TYPE_CHECKING, Any, Generic, Literal, Protocol, cast, overload

from pydantic import BaseModel, ValidationError
from typing_extensions import Self, TypeVar

from cxplay._common.problems import error_message, format_key, key_path, models_in
from cxplay._common.text import closest, did_you_mean, echo
from cxplay._conditions.parse import POLICY_VALUE, leaves
from cxplay._engine import durable as _durable
from cxplay._engine.backend import Backend
from cxplay._engine.compiler import compile_program
from cxplay._engine.decide import Decision, decide
from cxplay._engine.reference import ReferenceBackend, explain_node
from cxplay._playbooks.digest import playbook_digest
from cxplay._playbooks.loader import (
    CompiledRule,
    PlaybookSet,
    load_playbooks,
    shipped_playbooks_dir,
)
from cxplay._replies.renderer import Renderer, ReplyContext
from cxplay.errors import (
    ArgumentError,
    BackendError,
    EngineClosedError,
    IncidentError,
    Problem,
    ReloadError,
)
from cxplay.models import MAX_FACTS, MAX_LIST, FactSpec, Incident, Policy
from cxplay.results import Cost, History, Match, RuleTrace, Suggestion

if TYPE_CHECKING:
    from cxplay._log.store import DecisionLog

__all__ = ["BackendName", "DecisionSink", "Engine", "Flattener", "coerce_incident"]

#: The rule engines an :class:`Engine` can use (``auto``: durable where it imports).
BackendName = Literal["auto", "durable", "python"]
#: An incident as the engine takes it: a dict (JSON-shaped) or an :class:`Incident`.
IncidentLike = Incident | Mapping[str, object]
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


def _fact_ok(spec: FactSpec, value: Any) -> bool:
    kind = spec.type
    if kind == "string":
        return isinstance(value, str)
    if kind == "boolean":
        return isinstance(value, bool)
    if kind == "list":
        return isinstance(value, list)
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False
    return kind == "number" or isinstance(value, int) or float(value).is_integer()


def _within(spec: FactSpec, value: float) -> bool:
    return (spec.min is None or value >= spec.min) and (spec.max is None or value <= spec.max)


def _describe(error: Mapping[str, Any]) -> str:
    loc = _location(error)
    if error["type"] == "extra_forbidden":
        message = "unknown key"  # the location names it already
    elif error["type"] == "float_type" and isinstance(error.get("input"), bool):
        message = "a boolean is not a number"
    elif error["type"] == "missing":
        message = "is required"
    else:
        message = error_message(error)
    return f"{loc}: {message}" if loc else message


def _location(error: Mapping[str, Any]) -> str:
    return format_key(key_path(error["loc"]))


def _problem(text: str, key: str | None, value: object = None) -> tuple[str, Problem]:
    """A phrase of an IncidentError's text, and the same as data (``key: message``)."""
    prefix = f"{key}: "
    message = text[len(prefix) :] if key and text.startswith(prefix) else text
    return text, Problem(message, key=key or None, input=value)


def _fact_problems(model: Incident, facts: Mapping[str, FactSpec]) -> list[tuple[str, Problem]]:
    """What is wrong with an incident's facts, one phrase each.

    Declared facts of the wrong type or out of bounds, required ones missing, and facts
    nobody declared on an incident type whose facts are declared (a typo, most likely).
    """
    problems: list[tuple[str, Problem]] = []
    required = _required_facts(facts)
    typed = model.type in required
    undeclared = [name for name in model.facts if name not in facts] if typed else []
    if undeclared:
        text = _undeclared(model.type, undeclared, facts)
        if len(undeclared) == 1:
            problems.append(_problem(text, f"facts.{undeclared[0]}", model.facts[undeclared[0]]))
        else:
            problems.append(_problem(text, "facts", {n: model.facts[n] for n in undeclared}))
    for name, value in model.facts.items():
        spec = facts.get(name)
        if spec is None:
            continue
        if not _fact_ok(spec, value):
            text = f"facts.{name}: expected {spec.type}, got {echo(value)}"
            problems.append(_problem(text, f"facts.{name}", value))
        elif isinstance(value, int | float) and not _within(spec, value):
            bounds = f"at least {spec.min:g}" if spec.min is not None else ""
            if spec.max is not None:
                bounds += (" and " if bounds else "") + f"at most {spec.max:g}"
            text = f"facts.{name}: must be {bounds}, got {echo(value)}"
            problems.append(_problem(text, f"facts.{name}", value))
    for name, spec in required.get(model.type, ()):
        if name not in model.facts:
            text = f"incident type '{model.type}' needs fact '{name}' ({spec.type})"
            problems.append(_problem(text, f"facts.{name}"))
    return problems


_REQUIRED: dict[
    int, tuple[Mapping[str, FactSpec], dict[str, tuple[tuple[str, FactSpec], ...]]]
] = {}


def _required_facts(
    facts: Mapping[str, FactSpec],
) -> dict[str, tuple[tuple[str, FactSpec], ...]]:
    """Incident type -> the facts it requires, in declaration order; built once per set.

    (Every evaluation asks; a backtest asks twice per incident, millions of times.)
    """
    entry = _REQUIRED.get(id(facts))
    if entry is None or entry[0] is not facts:
        index: dict[str, list[tuple[str, FactSpec]]] = {}
        for name, spec in facts.items():
            for kind in dict.fromkeys(spec.required_for):
                index.setdefault(kind, []).append((name, spec))
        if len(_REQUIRED) >= 64:  # reloads make new sets: keep the cache small
            _REQUIRED.clear()
        entry = _REQUIRED[id(facts)] = (facts, {k: tuple(v) for k, v in index.items()})
    return entry[1]


def _undeclared(incident_type: str, names: Sequence[str], facts: Mapping[str, FactSpec]) -> str:
    """One phrase for the facts an incident carries that its type does not declare."""
    if len(names) == 1:
        hint = did_you_mean(names[0], facts)
        return f"facts.{names[0]}: not a fact the playbooks declare for '{incident_type}'{hint}"
    shown = ", ".join(names[:5]) + (f" and {len(names) - 5} more" if len(names) > 5 else "")
    known = ", ".join(sorted(facts)[:10])
    return f"facts {shown}: not facts the playbooks declare for '{incident_type}' ({known})"


#: At most this many problems are listed in one error; the rest are counted ("and 90 more").
MAX_PROBLEMS = 20
_LONGEST = 300


def _listed(problems: Sequence[str], total: int | None = None) -> str:
    """``invalid incident: a; b; ... and N more`` with at most :data:`MAX_PROBLEMS` shown."""
    total = len(problems) if total is None else total
    # a problem names a key the client wrote, which may be a megabyte long: cut each one
    shown = [p if len(p) <= _LONGEST else f"{p[:_LONGEST]}…" for p in problems[:MAX_PROBLEMS]]
    text = "invalid incident: " + "; ".join(shown)
    if total > MAX_PROBLEMS:
        text += f"; and {total - MAX_PROBLEMS:,} more"
    return text


def _model_keys(model: type[BaseModel]) -> dict[str, type[BaseModel] | None]:
    """A model's keys, each with the model its value is (for a nested object), else None."""
    keys: dict[str, type[BaseModel] | None] = {}
    for name, info in model.model_fields.items():
        nested = models_in(info.annotation)
        keys[info.alias or name] = nested[0] if len(nested) == 1 else None
    return keys


def _flood(incident: Mapping[str, Any]) -> str | None:
    """A short error for an incident too big to report key by key, else None.

    One linear pass over the keys of the incident and its objects, before pydantic, whose
    error list would hold one entry per unknown key, fact or list item (85,000 of them
    for a 1 MiB body, and seconds to build): more unknown keys than are listed, more
    facts than an incident may carry, or a fact's list longer than allowed.
    """
    unknown: list[str] = []
    count = 0
    stack: list[tuple[Mapping[str, Any], type[BaseModel], str]] = [(incident, Incident, "")]
    while stack:
        mapping, model, prefix = stack.pop()
        keys = _MODEL_KEYS.get(model) or _MODEL_KEYS.setdefault(model, _model_keys(model))
        for key, value in mapping.items():
            nested = keys.get(key, _UNKNOWN)
            if nested is _UNKNOWN:
                count += 1
                if len(unknown) < MAX_PROBLEMS:
                    unknown.append(f"{prefix}{format_key((str(key),))}: unknown key")
            # the model test first, a plain dict before the ABC: this pass runs on every
            # incident, and isinstance(_, Mapping) on each of its values was a tenth of
            # an evaluation
            elif nested is not None and (type(value) is dict or isinstance(value, Mapping)):
                stack.append((value, nested, f"{prefix}{key}."))
    if count > MAX_PROBLEMS:
        return _listed(unknown, count)
    facts = incident.get("facts")
    if type(facts) is dict or isinstance(facts, Mapping):
        if len(facts) > MAX_FACTS:
            return _listed([f"facts: at most {MAX_FACTS} facts, not {len(facts):,}"])
        shapeless: list[str] = []
        for name, value in facts.items():
            if isinstance(value, list):
                if len(value) > MAX_LIST:
                    return _listed([f"facts.{name}: a list may hold at most {MAX_LIST} items"])
                scalar = all(isinstance(item, _SCALARS) for item in value)
            else:
                scalar = isinstance(value, _SCALARS)
            if not scalar:
                shapeless.append(f"facts.{name}: {_SHAPE}")
        if len(shapeless) > MAX_PROBLEMS:
            return _listed(shapeless)
    return None


_SCALARS = (str, int, float)  # bool is an int
_UNKNOWN: Any = object()  # a key no model field has
_SHAPE = "must be text, a number, a boolean or a list of those"


_MODEL_KEYS: dict[type[BaseModel], dict[str, type[BaseModel] | None]] = {}


def coerce_incident(
    incident: IncidentLike,
    facts: Mapping[str, FactSpec] | None = None,
    *,
    types: frozenset[str] = frozenset(),
    allow_unknown_type: bool = True,
) -> Incident:
    """Validate an incident (dict or model) and its facts against the declared fact types.

    With ``types`` (the incident types the playbooks know) and ``allow_unknown_type``
    false, a type that is not known but close to one ("parcel_damage") is an error with a
    did-you-mean, because it would silently reach only the catch-all rules. A type far from
    every known one is welcome: it matches no type-specific rule.
    """
    if isinstance(incident, Incident):
        model = incident
    elif isinstance(incident, Mapping):
        flood = _flood(incident)
        if flood is not None:
            raise IncidentError(flood)
        try:
            model = Incident.model_validate(incident)
        except ValidationError as exc:
            errors = exc.errors()
            seen: dict[str, Problem] = {}  # insertion-ordered, and linear to de-duplicate
            for error in errors:
                # a bad fact value fails every member of the union: report it once
                text, key, value = _describe(error), _location(error), error.get("input")
                if error["loc"][:1] == ("facts",) and error["loc"][-1:] == ("[key]",):
                    text = (
                        f"facts: {echo(error['loc'][1])} is not a fact name "
                        "(ASCII letters, digits and _, not starting with a digit)"
                    )
                    key, value = "facts", error["loc"][1]
                elif error["loc"][:1] == ("facts",) and len(error["loc"]) >= 2:
                    key = f"facts.{error['loc'][1]}"
                    text = f"{key}: {_SHAPE}"
                    if "at most" in str(error["msg"]) or "longer" in str(error["msg"]):
                        text = _describe(error)
                    given = incident.get("facts")
                    if isinstance(given, Mapping):
                        value = given.get(error["loc"][1], value)
                if text not in seen:
                    seen[text] = _problem(text, key, value)[1]
            raise IncidentError(
                _listed(list(seen)), problems=list(seen.values())[:MAX_PROBLEMS]
            ) from None
        except RecursionError:
            raise IncidentError("invalid incident: nested too deeply") from None
    else:
        raise IncidentError(
            f"an incident must be a mapping or an Incident, not {type(incident).__name__}",
            problems=[Problem("must be a mapping or an Incident", input=incident)],
        )
    problems: list[tuple[str, Problem]] = []
    if facts:
        problems += _fact_problems(model, facts)
    if types and not allow_unknown_type and model.type not in types:
        # 0.88: a typo (parcel_damage, parcle_damaged) but not a sibling (parcel_lost/_late)
        close = closest(model.type, types, cutoff=0.88)
        if close is not None:
            text = (
                f"unknown incident type {echo(model.type)}; did you mean {echo(close)}? "
                "(allow_unknown_type / --allow-unknown-type accepts it as it is)"
            )
            problems.append((text, Problem(text, key="type", input=model.type)))
    if problems:
        raise IncidentError(
            _listed([text for text, _ in problems]),
            problems=[problem for _, problem in problems][:MAX_PROBLEMS],
        )
    derived = _derived_facts(model.facts, facts) if facts else {}
    if derived:
        model = model.model_copy(update={"facts": {**model.facts, **derived}})
    return model


def _derived_facts(given: Mapping[str, Any], facts: Mapping[str, FactSpec]) -> dict[str, Any]:
    """Facts declared as a ``difference`` of two others, where both others are numbers."""
    out: dict[str, Any] = {}
    for name, spec in facts.items():
        if spec.difference is None or name in given:
            continue
        first, second = (given.get(n) for n in spec.difference)
        numbers = all(
            isinstance(v, int | float) and not isinstance(v, bool) for v in (first, second)
        )
        if numbers:
            out[name] = first - second  # type: ignore[operator]
    return out


class Flattener:
    """The incident as ``path -> value`` for the paths conditions use (missing left out).

    Model fields are read with :func:`operator.attrgetter` (C-level, dotted paths), facts
    from the facts dict; the getters are built once per playbook set.
    """

    def __init__(self, paths: Sequence[str], policies: Mapping[str, Policy] | None = None) -> None:
        self.paths = tuple(paths)
        prefix = POLICY_VALUE + "."
        self._fields = tuple(
            (p, attrgetter(p))
            for p in paths
            if not p.startswith(("facts.", prefix)) and p != POLICY_VALUE
        )
        self._facts = tuple((p, p[6:]) for p in paths if p.startswith("facts."))
        # order.policy_value.<playbook>: the order value at that playbook's dated rates
        self._converted = tuple(
            (p, (policies or {})[p[len(prefix) :]]) for p in paths if p.startswith(prefix)
        )

    def __call__(self, incident: Incident) -> dict[str, Any]:
        flat: dict[str, Any] = {}
        for path, get in self._fields:
            value = get(incident)
            if value is not None:
                flat[path] = value
        value = incident.order.value
        if value is not None:
            for path, policy in self._converted:
                converted = policy.convert(value, incident.order.currency)
                if converted is not None:
                    flat[path] = converted
        if self._facts:
            facts = incident.facts
            for path, name in self._facts:
                value = facts.get(name)
                if value is not None:
                    flat[path] = value
        return flat


def reply_context(decision: Decision) -> ReplyContext:
    """What the renderer needs from a decision: actions, promises, and the leading playbook.

    The leading playbook (its top kept rule's) sets the reply's languages, tone and signature.
    """
    meta = decision.kept[0].playbook.meta
    return ReplyContext(
        actions=decision.actions,
        languages=meta.languages,
        default_language=meta.default_language,
        tone=meta.tone,
        respond_by=decision.respond_by,
        follow_ups=decision.follow_ups,
        severity=decision.severity,
        playbook=meta.id,
        promise=decision.kept[0].playbook.sla,
        said=decision.said,
        now=decision.base,
    )


class _Counted(Protocol):
    @property
    def compensations(self) -> int: ...

    @property
    def amounts(self) -> Mapping[str | None, float]: ...


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
        positions.sort(key=snapshot.rank.__getitem__)
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
        a UTC offset too); without either, the current time in UTC is used.
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
            # matched rule's playbook has one
            matched = self._matches(snapshot, model)
            guarded = any(r.playbook.policy.repeat_claimant_after is not None for r in matched)
            judged, history = self._history(model, log if guarded else None, now)
        decision = decide(matched, judged, now=now)
        trace = self._trace(snapshot, judged, decision) if explain else None
        reply = None
        if snapshot.renderer is not None and decision.kept:
            reply = snapshot.renderer.render(model, reply_context(decision), language=language)
        suggestion = Suggestion(
            incident_id=model.id,
            matched=bool(decision.actions),
            severity=decision.severity,
            actions=decision.actions,
            reply=reply,
            respond_by=decision.respond_by,
            follow_ups=decision.follow_ups,
            trace=trace,
            history=history,
        )
        if log is None:
            return suggestion
        decision_id = log.record(
            model,
            suggestion,
            digest=snapshot.digest,
            playbooks=snapshot.refs,
            backend=snapshot.backend.name,
        )
        return suggestion.model_copy(update={"decision_id": decision_id})

    @staticmethod
    def _history(
        model: Incident, log: DecisionSink | None, now: datetime | None
    ) -> tuple[Incident, History | None]:
        """The incident as the guard sees it, and the history it used."""
        customer = model.customer
        if customer.compensations_90d is not None:
            return model, History(source="incident", compensations_90d=customer.compensations_90d)
        if log is None or customer.id is None:
            return model, None
        found = log.history(customer.id, now or model.occurred_at or datetime.now(timezone.utc))
        history = History(
            source="log",
            compensations_90d=found.compensations,
            amounts_90d=[
                Cost(amount=amount, currency=currency)
                for currency, amount in sorted(found.amounts.items(), key=lambda i: str(i[0]))
            ],
        )
        judged = model.model_copy(
            update={
                "customer": customer.model_copy(update={"compensations_90d": found.compensations})
            }
        )
        return judged, history

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
