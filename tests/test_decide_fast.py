"""The decision's hot path builds its result models without validating them (``trusted``):
each must equal the model pydantic validates from the same data, on both backends."""

from __future__ import annotations

import json
from dataclasses import FrozenInstanceError
from pathlib import Path

import pytest
from pydantic import BaseModel

import cxplay
from cxplay._backtest.generate import generate_incidents
from cxplay._common.models import trusted, updated
from cxplay._engine.durable import AVAILABLE as DURABLE
from cxplay.results import Cost, FollowUpPlan, Reply, SuggestedAction, Suggestion

EXAMPLES = Path(__file__).resolve().parent.parent / "examples" / "incidents"
BACKENDS = ["python", *(["durable"] if DURABLE else [])]


@pytest.mark.parametrize("backend", BACKENDS)
def test_trusted_models_equal_validated_ones(backend: str) -> None:
    checked = 0
    with cxplay.Engine.from_path(backend=backend) as engine:  # type: ignore[arg-type]
        for incident in generate_incidents(1_500, seed=21):
            decision = engine.decide(incident)
            for action in decision.actions:
                again = SuggestedAction.model_validate(action.model_dump())
                assert again == action and again.model_dump_json() == action.model_dump_json()
                assert type(action.requires_approval) is bool
                assert action.cost is None or type(action.cost.amount) is float
                checked += 1
            for plan in decision.follow_ups:
                assert FollowUpPlan.model_validate(plan.model_dump()) == plan
    assert checked > 5_000


def test_params_are_never_shared_between_decisions() -> None:
    with cxplay.Engine.from_path(backend="python") as engine:
        incident = {"type": "extra_missing", "channel": "chat", "facts": {"missing_item": "gps"}}
        first = engine.decide(incident)
        plan_b = next(a for a in first.actions if a.kind == "plan_b")
        # read-only in depth: a caller cannot tamper with what the next decision reuses
        with pytest.raises(AttributeError):
            plan_b.params["options"].append("tampered")
        with pytest.raises(TypeError):
            plan_b.params["extra"] = 1  # type: ignore[index]
        again = next(a for a in engine.decide(incident).actions if a.kind == "plan_b")
        assert "tampered" not in again.params["options"] and "extra" not in again.params


@pytest.mark.parametrize("model", [Cost, FollowUpPlan, SuggestedAction, Reply, Suggestion])
def test_trusted_sets_what_the_constructor_sets(model: type[BaseModel]) -> None:
    # trusted writes BaseModel's slots through its descriptors and makes the instance with
    # object.__new__: right only while no model (nor pydantic) defines its own __new__
    assert model.__new__ is object.__new__
    with cxplay.Engine.from_path(backend="python") as engine:
        suggestions = [
            engine.suggest(json.loads(path.read_text(encoding="utf-8")))
            for path in sorted(EXAMPLES.glob("*.json"))
        ]
    suggestion = next(s for s in suggestions if s.follow_ups and s.reply and s.actions)
    made = {
        Cost: Cost(amount=12.5, currency="PLN"),
        FollowUpPlan: suggestion.follow_ups[0] if suggestion.follow_ups else None,
        SuggestedAction: suggestion.actions[0],
        Reply: suggestion.reply,
        Suggestion: suggestion,
    }[model]
    assert made is not None
    values = {name: getattr(made, name) for name in type(made).model_fields}
    built = trusted(model, dict(values))
    assert type(built) is model and built == made
    assert built.__dict__ == values and built.__pydantic_fields_set__ == set(values)
    assert built.__pydantic_extra__ is None and built.__pydantic_private__ is None
    assert built.model_dump_json() == made.model_dump_json()
    with pytest.raises(FrozenInstanceError):  # still frozen
        built.__setattr__(next(iter(values)), None)


def test_updated_copies_as_model_copy_does() -> None:
    """A logged suggestion gets its decision id by ``updated``: what model_copy would give."""
    with cxplay.Engine.from_path(backend="python") as engine:
        suggestions = [
            engine.suggest(json.loads(path.read_text(encoding="utf-8")))
            for path in sorted(EXAMPLES.glob("*.json"))
        ]
    for suggestion in suggestions:
        copied = updated(suggestion, {"decision_id": "0123abcd"})
        reference = suggestion.model_copy(update={"decision_id": "0123abcd"})
        assert type(copied) is Suggestion and copied == reference
        assert copied.__dict__ == reference.__dict__
        assert copied.__pydantic_fields_set__ == reference.__pydantic_fields_set__
        assert copied.__pydantic_extra__ is None and copied.__pydantic_private__ is None
        assert copied.model_dump_json() == reference.model_dump_json()
        assert suggestion.decision_id is None and copied.decision_id == "0123abcd"
        with pytest.raises(FrozenInstanceError):
            copied.__setattr__("decision_id", None)
    # a model with private values is left to model_copy
    cost = Cost(amount=1.0, currency="PLN")
    object.__setattr__(cost, "__pydantic_private__", {"x": 1})
    assert updated(cost, {"amount": 2.0}).__pydantic_private__ == {"x": 1}
