"""The incident check's short cuts against the code they replaced (kept here verbatim but
for their names, as the reference):

* ``_flood`` asks each mapping's keys at once whether all are known (``_all_known``)
  before its walk, where it counted keys (``_few_keys``), and skips the facts' loop when
  every value is a scalar;
* the declared facts are checked once per shape (incident type, fact names, value types)
  and then by value only (``_checked_facts``): it must say "no problem" exactly when
  ``_fact_problems`` finds none, and derive what ``_derived_facts`` derives.
"""

from __future__ import annotations

import types
from collections.abc import Mapping
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel

import cxplay
from cxplay._backtest.generate import generate_incidents
from cxplay._common.fields import MAX_FACTS, MAX_LIST
from cxplay._common.problems import format_key
from cxplay._engine import incident as module
from cxplay._engine.incident import (
    MAX_PROBLEMS,
    _derived_facts,
    _fact_problems,
    _indexed,
    _keys_of,
    _listed,
    _nested,
    coerce_incident,
)
from cxplay.errors import IncidentError
from cxplay.models import Incident

# ----------------------------------------------------------------- the reference (189f9c6)

_SCALARS = (str, int, float)
_UNKNOWN: Any = object()
_SHAPE = "must be text, a number, a boolean or a list of those"


def _few_keys_reference(incident: Mapping[str, Any]) -> bool:
    total = 0
    stack: list[tuple[Mapping[str, Any], type[BaseModel]]] = [(incident, Incident)]
    while stack:
        mapping, model = stack.pop()
        total += len(mapping)
        if total > MAX_PROBLEMS:
            return False
        for key, nested in _nested(model):
            value = mapping.get(key)
            if value is not None and (type(value) is dict or isinstance(value, Mapping)):
                stack.append((value, nested))
    return True


def flood_reference(incident: Mapping[str, Any]) -> str | None:
    unknown: list[str] = []
    count = 0
    stack: list[tuple[Mapping[str, Any], type[BaseModel], str]] = [(incident, Incident, "")]
    if _few_keys_reference(incident):
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


# ------------------------------------------------------------------------------ _flood

_KEYS = st.one_of(
    st.sampled_from(sorted(_keys_of(Incident))),
    st.sampled_from(["typo", "Type", "customer_id", "x" * 30]),
    st.text(max_size=4),
    st.integers(0, 3),  # not a string: the walk's error names it by str()
)
_NESTED_KEYS = st.one_of(
    st.sampled_from(["id", "name", "language", "tier", "value", "currency", "session"]),
    st.sampled_from(["typo", "nme", "vale"]),
)
_LEAF = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=3))
_FACT = st.one_of(
    _LEAF,
    st.lists(_LEAF, max_size=4),
    st.lists(st.integers(), min_size=MAX_LIST - 1, max_size=MAX_LIST + 2),
    st.dictionaries(st.text(max_size=2), _LEAF, max_size=2),
)


@st.composite
def raw_incidents(draw: st.DrawFn) -> Mapping[str, Any]:
    incident: dict[Any, Any] = draw(st.dictionaries(_KEYS, _LEAF, max_size=30))
    for key in ("customer", "order", "event"):
        if draw(st.booleans()):
            nested = draw(st.dictionaries(_NESTED_KEYS, _LEAF, max_size=12))
            extra = draw(st.integers(0, 25))  # enough unknown keys to cross the limit
            nested.update({f"k{i}": i for i in range(extra)})
            incident[key] = types.MappingProxyType(nested) if draw(st.booleans()) else nested
    if draw(st.booleans()):
        facts = draw(st.dictionaries(st.text(max_size=6), _FACT, max_size=25))
        if draw(st.integers(0, 9)) == 0:
            facts.update({f"f{i}": i for i in range(MAX_FACTS)})
        incident["facts"] = facts
    if draw(st.integers(0, 4)) == 0:
        return types.MappingProxyType(incident)
    return incident


@settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(incident=raw_incidents())
def test_flood_says_what_it_said(incident: Mapping[str, Any]) -> None:
    assert module._flood(incident) == flood_reference(incident)


def test_flood_on_the_examples_and_generated_incidents() -> None:
    for incident in generate_incidents(500, seed=5):
        assert module._all_known(incident)
        assert module._flood(incident) is None is flood_reference(incident)
        wrong = {**incident, "customer": {**incident.get("customer", {}), "nmae": "x"}}
        assert not module._all_known(wrong)
        assert module._flood(wrong) == flood_reference(wrong)


# ------------------------------------------------------------------ facts, once per shape

_ENGINE = cxplay.Engine.from_path(backend="python")
_FACTS = _ENGINE._live().playbooks.facts
_TYPES = sorted(_ENGINE._live().types)

_VALUES = st.one_of(
    st.booleans(),
    st.integers(-(10**6), 10**6),
    st.integers(-5, 200).map(float),  # whole floats: what an integer fact accepts
    st.floats(-1e6, 1e6, allow_nan=False),
    st.text("abc xyz", max_size=5),
    st.lists(st.one_of(st.integers(0, 9), st.text("ab", max_size=2)), max_size=3),
)


@st.composite
def checked_incidents(draw: st.DrawFn) -> Incident:
    kind = draw(st.one_of(st.sampled_from(_TYPES), st.just("something_else")))
    names = draw(
        st.lists(
            st.one_of(st.sampled_from(sorted(_FACTS)), st.sampled_from(["photos_atached", "zz"])),
            max_size=6,
            unique=True,
        )
    )
    facts = {name: draw(_VALUES) for name in names}
    return Incident.model_validate({"type": kind, "facts": facts})


def _same_as_the_reference(model: Incident) -> None:
    index = _indexed(_FACTS)
    for _ in range(2):  # the second time from the memo
        found = module._checked_facts(model, index)
        problems = _fact_problems(model, _FACTS, index[1])
        if problems:
            assert found is None
        else:
            assert found == _derived_facts(model.facts, index[2])
            assert found is not None
            assert [type(v) for v in found.values()] == [
                type(v) for v in _derived_facts(model.facts, index[2]).values()
            ]


@settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(model=checked_incidents())
def test_facts_checked_by_shape_say_what_the_full_check_says(model: Incident) -> None:
    _same_as_the_reference(model)


def test_facts_of_generated_incidents_by_shape() -> None:
    for raw in generate_incidents(800, seed=9):
        _same_as_the_reference(Incident.model_validate(raw))


def test_a_shape_seen_with_good_values_still_checks_the_next_values() -> None:
    # same names and types, values now out of bounds or not whole: the memo must not pass them
    bounded = [n for n, s in _FACTS.items() if s.min is not None or s.max is not None]
    assert bounded
    name = bounded[0]
    spec = _FACTS[name]
    good = spec.min if spec.min is not None else spec.max
    bad = (spec.min - 1) if spec.min is not None else (spec.max + 1)  # type: ignore[operator]
    kind = next(iter(spec.required_for), "something_else")
    for value in (good, bad, good):
        model = Incident.model_validate({"type": kind, "facts": {name: float(value)}})
        _same_as_the_reference(model)


def test_a_derived_fact_is_copied_in_as_model_copy_did() -> None:
    derived = [(n, s.difference) for n, s in _FACTS.items() if s.difference is not None]
    assert derived
    name, (first, second) = derived[0]
    kind = next(iter(_FACTS[first].required_for), "something_else")
    facts = {n: 3 for n, s in _FACTS.items() if kind in s.required_for}
    raw = {"type": kind, "id": "I-1", "facts": {**facts, first: 50, second: 20}}
    model = coerce_incident(raw, _FACTS)
    plain = Incident.model_validate(raw)
    expected = plain.model_copy(update={"facts": {**plain.facts, name: 30}})
    assert model == expected and model.facts[name] == 30
    assert model.__dict__ == expected.__dict__
    assert model.model_fields_set == expected.model_fields_set
    assert model.model_dump_json() == expected.model_dump_json()


def test_an_incident_with_a_problem_gets_the_same_error() -> None:
    # the short cut only ever says "fine": the message is the full check's
    name = next(n for n, s in _FACTS.items() if s.required_for and s.type != "list")
    kind = _FACTS[name].required_for[0]
    wrong, right = (5, "x") if _FACTS[name].type == "string" else ("many", 5)
    for facts in ({name: wrong}, {name: right, "photos_atached": True}, {}):
        raw = {"type": kind, "facts": facts}
        try:
            coerce_incident(raw, _FACTS)
        except IncidentError as error:
            model = Incident.model_validate(raw)
            index = _indexed(_FACTS)
            texts = [text for text, _ in _fact_problems(model, _FACTS, index[1])]
            assert str(error).startswith("invalid incident: " + "; ".join(texts)[:50])
        else:
            raise AssertionError(f"{facts} passed")


def test_the_nested_objects_nest_no_further() -> None:
    # _all_known reads two levels: the incident's keys and its nested objects'
    nested = _nested(Incident)
    assert {key for key, _ in nested} == {"customer", "order", "event"}
    assert all(_nested(model) == () for _, model in nested)


# ------------------------------------------------------- the flattener's facts, by the few


def flatten_reference(flattener: module.Flattener, incident: Incident) -> dict[str, Any]:
    """``Flattener.__call__`` of 153dda3: the facts looked up path by path."""
    flat: dict[str, Any] = {}
    for path, get in flattener._fields:
        value = get(incident)
        if value is not None:
            flat[path] = value
    value = incident.order.value
    if value is not None:
        for path, policy in flattener._converted:
            converted = policy.convert(value, incident.order.currency)
            if converted is not None:
                flat[path] = converted
    if flattener._facts:
        facts = incident.facts
        for path, name in flattener._facts:
            value = facts.get(name)
            if value is not None:
                flat[path] = value
    return flat


_FACT_NAMES = [*sorted(_FACTS), "unread", "other"]


@settings(max_examples=400, deadline=None)
@given(
    facts=st.dictionaries(
        st.sampled_from(_FACT_NAMES),
        st.one_of(st.none(), st.booleans(), st.integers(), st.text(max_size=3)),
        max_size=25,
    ),
    paths=st.lists(st.sampled_from([f"facts.{n}" for n in _FACT_NAMES]), max_size=8),
)
def test_flattener_facts_as_before(facts: dict[str, Any], paths: list[str]) -> None:
    # (model_construct: a None value too, which the loop over given facts must skip)
    incident = Incident.model_construct(type="parcel_damaged", facts=facts)
    for flattener in (module.Flattener(paths), _ENGINE._live().flatten):
        assert flattener(incident) == flatten_reference(flattener, incident)


def test_flattener_on_generated_incidents() -> None:
    flattener = _ENGINE._live().flatten
    for incident in generate_incidents(300, seed=7):
        model = _ENGINE.incident(incident)
        assert flattener(model) == flatten_reference(flattener, model)
