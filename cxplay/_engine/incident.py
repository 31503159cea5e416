"""Incidents as the engine takes them: coerced, checked against the declared facts, flattened.

:func:`coerce_incident` turns a dict (JSON-shaped) into an :class:`~cxplay.models.Incident`
with one clear error per problem, and :class:`Flattener` reads the paths conditions use;
the :class:`~cxplay._engine.engine.Engine` calls both on every incident.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from operator import attrgetter
from typing import Any

from pydantic import BaseModel, ValidationError

from cxplay._common.fields import MAX_FACTS, MAX_LIST
from cxplay._common.models import updated
from cxplay._common.problems import error_message, format_key, key_path, models_in
from cxplay._common.text import closest, did_you_mean, echo
from cxplay._conditions.parse import POLICY_VALUE
from cxplay.errors import IncidentError, Problem
from cxplay.models import FactSpec, Incident, Policy

#: An incident as the engine takes it: a dict (JSON-shaped) or an :class:`Incident`.
IncidentLike = Incident | Mapping[str, object]


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


#: the types of a plain JSON number (not bool, which is an int)
_PLAIN_NUMBERS = (int, float)


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


def _fact_problems(
    model: Incident,
    facts: Mapping[str, FactSpec],
    required: Mapping[str, tuple[tuple[str, FactSpec], ...]],
) -> list[tuple[str, Problem]]:
    """What is wrong with an incident's facts, one phrase each.

    Declared facts of the wrong type or out of bounds, required ones missing, and facts
    nobody declared on an incident type whose facts are declared (a typo, most likely).
    ``required``: what :func:`_required_facts` says of ``facts``.
    """
    problems: list[tuple[str, Problem]] = []
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
        # a plain number for a number fact first: what _fact_ok says, without the call
        if not (type(value) in _PLAIN_NUMBERS and spec.type == "number") and not _fact_ok(
            spec, value
        ):
            text = f"facts.{name}: expected {spec.type}, got {echo(value)}"
            problems.append(_problem(text, f"facts.{name}", value))
        elif (
            (spec.min is not None or spec.max is not None)  # unbounded: nothing to test
            and isinstance(value, int | float)
            and not _within(spec, value)
        ):
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


#: What :func:`_shape_plan` says of one shape of an incident's facts: None when
#: :func:`_fact_problems` finds a problem whatever the values, else (the facts whose value
#: it must still check: (name, spec, its type, its bounds), the derived facts to fill in:
#: (name, minuend, subtrahend)).
_ShapePlan = (
    tuple[
        tuple[tuple[str, FactSpec, bool, bool], ...],
        tuple[tuple[str, str, str], ...],
    ]
    | None
)
#: (the facts, incident type -> the facts it requires, (derived fact, its two operands),
#: (incident type, *fact names, *their values' types) -> its plan)
_Index = tuple[
    Mapping[str, FactSpec],
    dict[str, tuple[tuple[str, FactSpec], ...]],
    tuple[tuple[str, tuple[str, str]], ...],
    dict[tuple[object, ...], _ShapePlan],
]
_REQUIRED: dict[int, _Index] = {}


def _indexed(facts: Mapping[str, FactSpec]) -> _Index:
    """(the facts, what :func:`_required_facts` says, the derived facts); built once per set.

    (Every evaluation asks; a backtest asks twice per incident, millions of times.)
    """
    entry = _REQUIRED.get(id(facts))
    if entry is None or entry[0] is not facts:
        index: dict[str, list[tuple[str, FactSpec]]] = {}
        for name, spec in facts.items():
            for kind in dict.fromkeys(spec.required_for):
                index.setdefault(kind, []).append((name, spec))
        derived = tuple(
            (name, (spec.difference[0], spec.difference[1]))
            for name, spec in facts.items()
            if spec.difference is not None
        )
        if len(_REQUIRED) >= 64:  # reloads make new sets: keep the cache small
            _REQUIRED.clear()
        entry = _REQUIRED[id(facts)] = (
            facts,
            {k: tuple(v) for k, v in index.items()},
            derived,
            {},
        )
    return entry


#: How many shapes of facts a set of declared facts remembers (then it starts again).
_SHAPES_KEPT = 4096


def _checked_facts(model: Incident, index: _Index) -> dict[str, Any] | None:
    """The derived facts of an incident whose facts are all right, else None.

    None exactly when :func:`_fact_problems` finds a problem; the derived facts are what
    :func:`_derived_facts` gives. What depends on the facts' names and their values'
    types alone (undeclared and missing facts, each value's type, which facts are
    derived) is worked out once per shape (:func:`_shape_plan`): an incident type's
    incidents carry the same few facts, of the same types, with other values. Only the
    values are then checked (a float for an integer fact, the bounds) and subtracted.
    ``tests/test_incident_fast.py`` holds it to the two functions.
    """
    given: Mapping[str, Any] = model.facts
    # one flat tuple: the type, the n names, their n types (its length says n, so two
    # shapes never give one key); two nested tuples cost more to make and hash
    key = (model.type, *given, *map(type, given.values()))
    shapes = index[3]
    plan = shapes.get(key, _UNKNOWN)
    if plan is _UNKNOWN:
        if len(shapes) >= _SHAPES_KEPT:
            shapes.clear()  # bounded: a cleared memo only costs time
        plan = shapes[key] = _shape_plan(model, index)
    if plan is None:
        return None
    checks, derivations = plan
    for name, spec, kind, bounds in checks:
        value = given[name]
        if (kind and not _fact_ok(spec, value)) or (bounds and not _within(spec, value)):
            return None
    if not derivations:
        return _NONE_DERIVED  # (no dict made: the caller only asks whether it is empty)
    return {name: given[first] - given[second] for name, first, second in derivations}


#: What :func:`_checked_facts` gives when nothing is derived (read, never changed).
_NONE_DERIVED: dict[str, Any] = {}


def _shape_plan(model: Incident, index: _Index) -> _ShapePlan:
    """What :func:`_checked_facts` needs of one shape of facts (see :data:`_ShapePlan`)."""
    facts, required, differences = index[0], index[1], index[2]
    given = model.facts
    if model.type in required and any(name not in facts for name in given):
        return None  # an undeclared fact
    if any(name not in given for name, _ in required.get(model.type, ())):
        return None  # a required fact missing
    checks: list[tuple[str, FactSpec, bool, bool]] = []
    for name, value in given.items():
        spec = facts.get(name)
        if spec is None:
            continue
        # _fact_ok of a value depends on its type alone, but for a float given for a
        # kind other than those four (an integer: whether it is whole)
        kind = spec.type not in ("string", "boolean", "list", "number") and isinstance(value, float)
        if not kind and not _fact_ok(spec, value):
            return None  # the wrong type
        bounds = (spec.min is not None or spec.max is not None) and isinstance(value, int | float)
        if kind or bounds:
            checks.append((name, spec, kind, bounds))
    derivations = tuple(
        (name, first, second)
        for name, (first, second) in differences
        if name not in given and _number(given.get(first)) and _number(given.get(second))
    )
    return tuple(checks), derivations


def _required_facts(
    facts: Mapping[str, FactSpec],
) -> dict[str, tuple[tuple[str, FactSpec], ...]]:
    """Incident type -> the facts it requires, in declaration order; built once per set."""
    return _indexed(facts)[1]


def _undeclared(incident_type: str, names: Sequence[str], facts: Mapping[str, FactSpec]) -> str:
    """One phrase for the facts an incident carries that its type does not declare."""
    if len(names) == 1:
        hint = did_you_mean(names[0], facts)
        return f"facts.{names[0]}: not a fact the playbooks declare for '{incident_type}'{hint}"
    shown = ", ".join(names[:5]) + (f" and {len(names) - 5} more" if len(names) > 5 else "")
    known = ", ".join(sorted(facts)[:10])
    return f"facts {shown}: not facts the playbooks declare for '{incident_type}' ({known})"


def unread_facts(incident: Mapping[str, Any], facts: Mapping[str, FactSpec]) -> str | None:
    """One phrase for the facts of an incident (a dict) that no playbook declares, or None.

    An incident type that declares no facts may carry any (they are open-ended); no rule
    can read an undeclared one, so a misspelled fact ("photos_atached") changes nothing,
    silently. The command line warns with this phrase; where the type declares its facts
    such a fact is an error already (:func:`coerce_incident`).
    """
    given = incident.get("facts")
    kind = incident.get("type")
    if not isinstance(given, Mapping) or not isinstance(kind, str):
        return None
    names = [name for name in given if isinstance(name, str) and name not in facts]
    return _undeclared(kind, names, facts) if names else None


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


def _keys_of(model: type[BaseModel]) -> dict[str, type[BaseModel] | None]:
    """:func:`_model_keys`, worked out once per model."""
    return _MODEL_KEYS.get(model) or _MODEL_KEYS.setdefault(model, _model_keys(model))


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
    if _all_known(incident):  # no unknown key at all: nothing to count
        stack.clear()
    while stack:
        mapping, model, prefix = stack.pop()
        keys = _keys_of(model)
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
        if set(map(type, facts.values())) <= _SCALAR_TYPES:  # no list, nothing shapeless
            return None
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


#: The most keys (the incident's, its nested objects' and its facts') of a :func:`_small`
#: incident: pydantic refuses one that has that many wrong in well under a millisecond.
_SMALL = 64


def _small(incident: dict[str, Any]) -> bool:
    """Whether :func:`_flood` says None of the incident whenever pydantic accepts it.

    True for an incident of at most :data:`_SMALL` keys in all, whose nested objects are
    dicts and whose facts are a dict of scalars (str, int, float, bool: no list, nothing
    shapeless). Of such an incident :func:`_flood` can only report unknown keys (its
    facts are too few to be too many, and none is a list or shapeless), and pydantic
    refuses every unknown key: so, when pydantic accepts it, :func:`_flood` says None,
    and :func:`coerce_incident` asks :func:`_flood` only when pydantic refuses it.
    (A key walk on every incident was ~4 % of a suggestion's non-render part; a big
    incident still takes the walk first, as pydantic's errors for 85,000 unknown keys
    or facts cost 50 ms to 2 s.) ``tests/test_incident_late_flood.py`` checks it.
    """
    total = len(incident)
    for key in _NESTED_KEYS:
        value = incident.get(key)
        if value is not None:
            if type(value) is not dict:
                return False
            total += len(value)
    facts = incident.get("facts")
    if facts is not None:
        if type(facts) is not dict or not set(map(type, facts.values())) <= _SCALAR_TYPES:
            return False
        total += len(facts)
    return total <= _SMALL


def _all_known(incident: Mapping[str, Any]) -> bool:
    """Whether every key of the incident and of its nested objects is one its model has.

    Then :func:`_flood` has no unknown key to count and skips its walk (a look-up per
    key in Python); this one asks each mapping's keys at once (``keys() <= known``, in
    C). False whenever it cannot tell so cheaply (a mapping that is not a dict, a nested
    value that is no dict): the walk then counts, as it always did.
    """
    known = _KNOWN_KEYS or _known_keys()
    if type(incident) is not dict or not incident.keys() <= known[0]:
        return False
    for key, keys in known[1]:
        value = incident.get(key)
        if value is not None and (type(value) is not dict or not value.keys() <= keys):
            return False
    return True


def _known_keys() -> tuple[frozenset[str], tuple[tuple[str, frozenset[str]], ...]]:
    """An incident's keys, and each nested object's key with that object's keys.

    Two levels: the nested models (customer, order, event) nest no further
    (``tests/test_incident_fast.py`` checks it).
    """
    children = tuple((key, frozenset(_keys_of(model))) for key, model in _nested(Incident))
    _KNOWN_KEYS.extend((frozenset(_keys_of(Incident)), children))
    return _KNOWN_KEYS[0], _KNOWN_KEYS[1]


def _nested(model: type[BaseModel]) -> tuple[tuple[str, type[BaseModel]], ...]:
    """A model's keys whose values are models, with those models."""
    keys = _keys_of(model)
    return tuple((key, nested) for key, nested in keys.items() if nested is not None)


_SCALARS = (str, int, float)  # bool is an int
#: the exact types of a fact's scalar values (a subclass takes the loop, which says the same)
_SCALAR_TYPES = frozenset({str, int, float, bool})
_UNKNOWN: Any = object()  # a key no model field has
_SHAPE = "must be text, a number, a boolean or a list of those"


_MODEL_KEYS: dict[type[BaseModel], dict[str, type[BaseModel] | None]] = {}
#: the incident's keys whose values are objects of their own (customer, order, event)
_NESTED_KEYS = tuple(key for key, _ in _nested(Incident))
#: what _known_keys() says, once
_KNOWN_KEYS: list[Any] = []


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
    # a plain dict first: the two isinstance tests are ABC checks (pydantic's models too)
    if type(incident) is not dict and isinstance(incident, Incident):
        model = incident
    elif isinstance(incident, dict | Mapping):
        # _flood before pydantic, unless the incident is small and plain (_small): then
        # _flood has something to say only of one that pydantic refuses, and it is asked
        # there, before pydantic's errors are read; the same error either way
        small = type(incident) is dict and _small(incident)
        flood = None if small else _flood(incident)
        if flood is not None:
            raise IncidentError(flood)
        try:
            try:
                # the validator itself: model_validate's keyword plumbing was 7 % of it
                model = Incident.__pydantic_validator__.validate_python(incident)
            except Exception:
                if not small or (flood := _flood(incident)) is None:
                    raise
                # (raised below, outside this handler, as it was before pydantic)
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
        if flood is not None:
            raise IncidentError(flood)
    else:
        raise IncidentError(
            f"an incident must be a mapping or an Incident, not {type(incident).__name__}",
            problems=[Problem("must be a mapping or an Incident", input=incident)],
        )
    # the facts' index once (the required facts, the derived ones): both steps read it
    index = _indexed(facts) if facts else None
    derived: dict[str, Any] | None = {}
    if facts and index:
        derived = _checked_facts(model, index)
    problems = _fact_problems(model, facts, index[1]) if derived is None and facts and index else []
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
    if derived:  # (updated: model_copy's copy, at under half its cost)
        model = updated(model, {"facts": {**model.facts, **derived}})
    return model


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _derived_facts(
    given: Mapping[str, Any], differences: Sequence[tuple[str, tuple[str, str]]]
) -> dict[str, Any]:
    """Facts declared as a ``difference`` of two others, where both others are numbers.

    ``differences``: (derived fact, its two operands), as :func:`_indexed` lists them.
    """
    out: dict[str, Any] = {}
    for name, (minuend, subtrahend) in differences:
        if name in given:
            continue
        first, second = given.get(minuend), given.get(subtrahend)
        if _number(first) and _number(second):
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
        # fact name -> its path: an incident carries a few of the facts conditions read
        self._fact_paths = {name: p for p, name in self._facts}
        # order.policy_value.<playbook>: the order value at that playbook's dated rates
        self._converted = tuple(
            (p, (policies or {})[p[len(prefix) :]]) for p in paths if p.startswith(prefix)
        )
        #: Two flatteners with equal keys give equal results for every incident.
        self.key = (self.paths, tuple(policy for _, policy in self._converted))

    def __call__(self, incident: Incident) -> dict[str, Any]:
        flat: dict[str, Any] = {}
        for path, get in self._fields:
            value = get(incident)
            if value is not None:
                flat[path] = value
        if self._converted:  # (the order's value read only for a policy value)
            value = incident.order.value
            if value is not None:
                for path, policy in self._converted:
                    converted = policy.convert(value, incident.order.currency)
                    if converted is not None:
                        flat[path] = converted
        if self._facts:
            facts = incident.facts
            if len(facts) < len(self._facts):
                # fewer facts given than read: a look-up per given fact, not per path (the
                # same entries; in the incident's order, which no reader of ``flat`` sees:
                # each looks its paths up). tests/test_incident_fast.py checks it
                wanted = self._fact_paths
                for name, value in facts.items():
                    found = wanted.get(name)
                    if found is not None and value is not None:
                        flat[found] = value
            else:
                for path, name in self._facts:
                    value = facts.get(name)
                    if value is not None:
                        flat[path] = value
        return flat
