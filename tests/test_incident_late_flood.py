"""``coerce_incident`` asks ``_flood`` after pydantic for a small plain incident.

The reference is the order it replaced: ``_flood`` first, on every incident (``_small``
made to say False). Both must give the same model (its JSON, ``__dict__`` and fields set)
or the same error (text, problems, and no chained context), on random incidents near
and far from valid ones; and ``_small`` must hold only where ``_flood`` has nothing to
say of an incident pydantic accepts.
"""

from __future__ import annotations

import json
import types
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

import cxplay
from cxplay._backtest.generate import generate_incidents
from cxplay._engine import incident as module
from cxplay._engine.incident import coerce_incident
from cxplay.errors import IncidentError
from cxplay.models import Incident
from tests.test_incident_fast import raw_incidents

_ENGINE = cxplay.Engine.from_path(backend="python")
_FACTS = _ENGINE._live().playbooks.facts
_TYPES = frozenset(_ENGINE._live().types)


@contextmanager
def _flood_first() -> Iterator[None]:
    """The reference: every incident takes ``_flood`` before pydantic."""
    small = module._small
    module._small = lambda incident: False
    try:
        yield
    finally:
        module._small = small


def _outcome(incident: Any, allow: bool) -> tuple[Any, ...]:
    try:
        model = coerce_incident(incident, _FACTS, types=_TYPES, allow_unknown_type=allow)
    except IncidentError as error:
        return (
            "error",
            str(error),
            [(p.message, p.key, _text(p.input)) for p in error.problems],
            error.__context__ is None,
            error.__cause__ is None,
            error.__suppress_context__,
        )
    except Exception as error:  # anything else pydantic lets through, as it was
        return ("raised", type(error).__name__, str(error))
    return (
        "model",
        model.model_dump_json(),
        repr(model.__dict__),
        sorted(model.__pydantic_fields_set__),
        model.__pydantic_extra__,
    )


def _text(value: Any) -> str:
    try:
        return repr(value)
    except RecursionError:  # (the deeply nested one: its type is what is left to compare)
        return type(value).__name__


def _same(incident: Any) -> None:
    for allow in (False, True):
        got = _outcome(incident, allow)
        with _flood_first():
            want = _outcome(incident, allow)
        assert got == want


_LEAF = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=4))


@st.composite
def near_valid(draw: st.DrawFn) -> Any:
    """A generated incident, then a few keys added, changed or removed (often unknown)."""
    base: dict[str, Any] = json.loads(json.dumps(draw(st.sampled_from(_GENERATED))))
    for _ in range(draw(st.integers(0, 3))):
        where = draw(st.sampled_from(["top", "customer", "order", "event", "facts"]))
        target = base if where == "top" else base.setdefault(where, {})
        if not isinstance(target, dict):
            continue
        key = draw(
            st.one_of(
                st.sampled_from(["typo", "nmae", "id", "value", "type", "language", "item"]),
                st.text(max_size=3),
            )
        )
        target[key] = draw(st.one_of(_LEAF, st.lists(_LEAF, max_size=3)))
    extra = draw(st.integers(0, 70))  # unknown keys: across MAX_PROBLEMS and _SMALL
    where = draw(st.sampled_from(["top", "customer", "facts"]))
    target = base if where == "top" else base.setdefault(where, {})
    if isinstance(target, dict):
        target.update({f"k{i}": i for i in range(extra)})
    if draw(st.integers(0, 5)) == 0:
        base["customer"] = types.MappingProxyType(dict(base.get("customer", {})))
    return base


_GENERATED = list(generate_incidents(300, seed=11))


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(incident=near_valid())
def test_near_valid_incidents_as_before(incident: Any) -> None:
    _same(incident)


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(incident=raw_incidents())
def test_random_incidents_as_before(incident: Mapping[str, Any]) -> None:
    _same(incident)


def test_generated_incidents_and_floods_as_before() -> None:
    for incident in _GENERATED[:100]:
        assert module._small(incident)
        _same(incident)
    big = {"type": "parcel_damaged", **{f"k{i}": i for i in range(30)}}
    assert module._small(big)  # 31 keys: pydantic refuses it, then _flood says it
    _same(big)
    with pytest.raises(IncidentError) as refused:
        coerce_incident(big)
    assert str(refused.value).endswith("; and 10 more")
    _same({"type": "parcel_damaged", "customer": {f"k{i}": i for i in range(80)}})
    _same({"type": "parcel_damaged", "facts": {f"f{i}": [{}] for i in range(30)}})
    _same({"type": "parcel_damaged", "facts": {"a": list(range(101))}})
    # what pydantic accepts and _flood refuses: more than MAX_PROBLEMS facts whose values
    # are tuples or bytes (a list and a str to pydantic, shapeless to _flood)
    for value in ((1, 2), b"x"):
        odd = {"type": "parcel_damaged", "facts": {f"f{i}": value for i in range(25)}}
        assert not module._small(odd)
        _same(odd)
        assert "must be text, a number" in _outcome(odd, True)[1]
    nested: Any = "x"
    for _ in range(5000):
        nested = [nested]
    _same({"type": "parcel_damaged", "facts": {"a": nested}})


@settings(max_examples=800, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(incident=st.one_of(near_valid(), raw_incidents()))
def test_small_only_where_flood_is_silent_on_what_pydantic_accepts(incident: Any) -> None:
    if type(incident) is not dict or not module._small(incident):
        return
    try:
        Incident.__pydantic_validator__.validate_python(incident)
    except ValidationError:
        return
    assert module._flood(incident) is None
