"""The Engine: playbooks in, suggestions out. Thread-safe, reloadable.

An :class:`Engine` holds one immutable snapshot (playbooks, compiled backend) and swaps it
whole on :meth:`Engine.reload`; an evaluation that started on the old snapshot finishes on
it, and the old durable rulesets are freed when the last such evaluation drops its
reference. A reload that fails validation raises and leaves the old snapshot serving.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from operator import attrgetter
from pathlib import Path
from typing import Any, Literal

from pydantic import ValidationError

from cxplay._common.problems import error_message, format_key, key_path
from cxplay._conditions.parse import POLICY_VALUE, leaves
from cxplay._engine import durable as _durable
from cxplay._engine.backend import Backend
from cxplay._engine.compiler import compile_program
from cxplay._engine.decide import Decision, decide
from cxplay._engine.reference import ReferenceBackend, explain_node
from cxplay._playbooks.loader import CompiledRule, PlaybookSet, load_playbooks
from cxplay._replies.renderer import Renderer, ReplyContext
from cxplay.errors import CxplayError, IncidentError
from cxplay.models import FactSpec, Incident, Policy
from cxplay.results import Match, RuleTrace, Suggestion

__all__ = ["BackendName", "Engine", "Flattener", "coerce_incident"]

BackendName = Literal["auto", "durable", "python"]
IncidentLike = Incident | Mapping[str, Any]

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


def _describe(error: Mapping[str, Any]) -> str:
    loc = format_key(key_path(error["loc"]))
    if error["type"] == "extra_forbidden":
        message = "unknown key"  # the location names it already
    elif error["type"] == "string_pattern_mismatch" and "\\x00" in str(
        (error.get("ctx") or {}).get("pattern", "")
    ):
        message = "control characters are not allowed"
    elif error["type"] == "float_type" and isinstance(error.get("input"), bool):
        message = "a boolean is not a number"
    elif error["type"] == "missing":
        message = "is required"
    else:
        message = error_message(error)
    return f"{loc}: {message}" if loc else message


def coerce_incident(
    incident: IncidentLike, facts: Mapping[str, FactSpec] | None = None
) -> Incident:
    """Validate an incident (dict or model) and its facts against the declared fact types."""
    if isinstance(incident, Incident):
        model = incident
    elif isinstance(incident, Mapping):
        try:
            model = Incident.model_validate(incident)
        except ValidationError as exc:
            errors = exc.errors()
            seen: list[str] = []
            for error in errors:
                # a bad fact value fails every member of the union: report it once
                text = _describe(error)
                if error["loc"][:1] == ("facts",) and error["loc"][-1:] == ("[key]",):
                    text = (
                        f"facts: {error['loc'][1]!r} is not a fact name "
                        "(letters, digits and _, not starting with a digit)"
                    )
                elif error["loc"][:1] == ("facts",) and len(error["loc"]) >= 2:
                    text = (
                        f"facts.{error['loc'][1]}: must be text, a number, a boolean "
                        "or a list of those"
                    )
                    if "at most" in str(error["msg"]) or "longer" in str(error["msg"]):
                        text = _describe(error)
                if text not in seen:
                    seen.append(text)
            raise IncidentError("invalid incident: " + "; ".join(seen)) from None
        except RecursionError:
            raise IncidentError("invalid incident: nested too deeply") from None
    else:
        raise IncidentError(
            f"an incident must be a mapping or an Incident, not {type(incident).__name__}"
        )
    if facts:
        problems: list[str] = []
        for name, value in model.facts.items():
            spec = facts.get(name)
            if spec is not None and not _fact_ok(spec, value):
                problems.append(f"facts.{name}: expected {spec.type}, got {value!r}")
        for name, spec in facts.items():
            if model.type in spec.required_for and name not in model.facts:
                problems.append(f"incident type '{model.type}' needs fact '{name}' ({spec.type})")
        if problems:
            raise IncidentError("invalid incident: " + "; ".join(problems))
        derived = _derived_facts(model.facts, facts)
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
    )


@dataclass(frozen=True)
class _Snapshot:
    playbooks: PlaybookSet
    backend: Backend
    flatten: Flattener
    renderer: Renderer | None
    rank: tuple[int, ...]  # rank[position]: place in (priority desc, file order)
    match_of: tuple[Match, ...]  # one frozen Match per rule, built once


def replies_dirs(playbooks: PlaybookSet) -> list[Path]:
    """The ``replies/`` directories beside the loaded playbook files."""
    seen: list[Path] = []
    for file in playbooks.files:
        candidate = file.parent / "replies"
        if candidate not in seen and candidate.is_dir():
            seen.append(candidate)
    return seen


class Engine:
    """Evaluates incidents against a set of playbooks.

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
    ) -> None:
        if backend not in ("auto", "durable", "python"):
            raise CxplayError(f"unknown backend {backend!r}; use 'auto', 'durable' or 'python'")
        if backend == "durable" and not _durable.AVAILABLE:
            raise CxplayError(_durable.UNAVAILABLE_REASON)
        self._backend_choice: BackendName = backend
        self._source = source
        self._snapshot = self._build(playbooks)

    @classmethod
    def from_path(
        cls,
        path: Path | str | Sequence[Path | str] | None = None,
        *,
        backend: BackendName = "auto",
    ) -> Engine:
        """Load playbooks from a directory or files (None: the shipped playbooks)."""
        playbooks = load_playbooks(path)
        if path is None:
            source: Sequence[Path] | Path | None = None
        elif isinstance(path, str | Path):
            source = Path(path)
        else:
            source = [Path(p) for p in path]
        return cls(playbooks, backend=backend, source=source)

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
        dirs = replies_dirs(playbooks)
        renderer = Renderer(dirs) if dirs else None
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

    # -- evaluation --------------------------------------------------------------------

    def incident(self, incident: IncidentLike) -> Incident:
        """Validate an incident against the model and the playbooks' declared facts."""
        return coerce_incident(incident, self._snapshot.playbooks.facts)

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
        snapshot = self._snapshot
        model = coerce_incident(incident, snapshot.playbooks.facts)
        match_of = snapshot.match_of
        return [match_of[p] for p in self._positions(snapshot, model)]

    def decide(self, incident: IncidentLike, *, now: datetime | None = None) -> Decision:
        """Matches after groups, stop rules and the playbooks' guardrails."""
        snapshot = self._snapshot
        model = coerce_incident(incident, snapshot.playbooks.facts)
        return decide(self._matches(snapshot, model), model, now=now)

    def suggest(
        self,
        incident: IncidentLike,
        *,
        explain: bool = False,
        now: datetime | None = None,
        language: str | None = None,
    ) -> Suggestion:
        """Ranked actions for an incident, the reply to send, and (``explain``) the trace.

        ``language`` overrides the customer's language tag for the reply.
        """
        snapshot = self._snapshot
        model = coerce_incident(incident, snapshot.playbooks.facts)
        decision = decide(self._matches(snapshot, model), model, now=now)
        trace = self._trace(snapshot, model, decision) if explain else None
        reply = None
        if snapshot.renderer is not None and decision.kept:
            reply = snapshot.renderer.render(model, reply_context(decision), language=language)
        return Suggestion(
            incident_id=model.id,
            matched=bool(decision.actions),
            severity=decision.severity,
            actions=decision.actions,
            reply=reply,
            respond_by=decision.respond_by,
            follow_ups=decision.follow_ups,
            trace=trace,
        )

    def explain(self, incident: IncidentLike) -> list[RuleTrace]:
        """Every rule, matched or not; for a miss, the first failing condition and its value."""
        snapshot = self._snapshot
        model = coerce_incident(incident, snapshot.playbooks.facts)
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

    def reload(self) -> None:
        """Load the playbooks again and swap them in; on any error keep serving the old ones."""
        source = self._source
        playbooks = load_playbooks(source if source is not None else None)
        self._snapshot = self._build(playbooks)

    def close(self) -> None:
        """Free the rule engine's memory now (it is also freed when the Engine is collected)."""
        self._snapshot.backend.close()

    def __enter__(self) -> Engine:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        snapshot = self._snapshot
        return (
            f"<Engine {len(snapshot.playbooks.playbooks)} playbooks, "
            f"{len(snapshot.playbooks.rules)} rules, backend={self.backend}>"
        )
