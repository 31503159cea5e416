"""The decision's hot path builds its result models without validating them (``trusted``):
each must equal the model pydantic validates from the same data, on both backends."""

from __future__ import annotations

import pytest

import cxplay
from cxplay._backtest.generate import generate_incidents
from cxplay._engine.durable import AVAILABLE as DURABLE
from cxplay.results import FollowUpPlan, SuggestedAction

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
