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


def _same_model(built: BaseModel, made: BaseModel) -> None:
    """Two models alike in every slot pydantic keeps, and in their JSON."""
    assert type(built) is type(made) and built == made
    assert built.__dict__ == made.__dict__
    assert built.__pydantic_fields_set__ == made.__pydantic_fields_set__
    assert type(built.__pydantic_fields_set__) is set
    assert built.__pydantic_extra__ == made.__pydantic_extra__
    assert built.__pydantic_private__ == made.__pydantic_private__
    assert built.model_dump() == made.model_dump()
    assert built.model_dump_json() == made.model_dump_json()


def test_updated_equals_model_copy() -> None:
    """The engine's copies (the judged incident, the logged suggestion) by ``updated``
    are what ``model_copy(update=...)`` makes: fields, fields set, JSON; the original is
    left as it was and the copy is frozen too."""
    from cxplay.models import Incident

    checked = 0
    with cxplay.Engine.from_path(backend="python") as engine:
        incidents = [
            json.loads(p.read_text(encoding="utf-8")) for p in sorted(EXAMPLES.glob("*.json"))
        ]
        incidents += generate_incidents(200, seed=5)
        for raw in incidents:
            model = engine.incident(raw)
            for update in ({"compensations_90d": 0}, {"compensations_90d": 3, "tier": "gold"}):
                before = model.customer.model_dump()
                copied = updated(model.customer, update)
                _same_model(copied, model.customer.model_copy(update=update))
                assert model.customer.model_dump() == before and copied is not model.customer
                judged = updated(model, {"customer": copied})
                _same_model(judged, model.model_copy(update={"customer": copied}))
                assert isinstance(judged, Incident)
                with pytest.raises(ValueError):  # frozen: pydantic's ValidationError
                    judged.type = "other"  # type: ignore[misc]
            suggestion = engine.suggest(raw)
            logged = updated(suggestion, {"decision_id": "d-1"})
            _same_model(logged, suggestion.model_copy(update={"decision_id": "d-1"}))
            assert suggestion.decision_id is None
            with pytest.raises(FrozenInstanceError):
                logged.__setattr__("decision_id", None)
            checked += 1
    assert checked == len(incidents)


def test_updated_copies_extra_and_private_values_as_model_copy_does() -> None:
    from pydantic import ConfigDict, PrivateAttr

    class Open(BaseModel):
        model_config = ConfigDict(extra="allow")
        a: int = 0
        _secret: int = PrivateAttr(default=7)

    model = Open(a=1, b=2)
    _same_model(updated(model, {"a": 5}), model.model_copy(update={"a": 5}))
    assert updated(model, {"a": 5})._secret == 7


@pytest.mark.parametrize(
    ("count", "amounts"),
    [
        (0, {}),
        (2, {}),  # a count without amounts: kept per count (twice: the kept one too)
        (1, {"PLN": 250.0}),
        (3, {"PLN": 10.5, "EUR": 3.25, None: 7.0}),  # None (no currency) sorts as "None"
        (2, {"eur": 1.0, "CZK": 2.0}),
        (1, {"PLN": 5}),  # an int amount from another sink: validated, made a float
        (True, {}),  # a bool count from another sink: validated, made an int
        (2, {3: 1.0}),  # not a currency text: validated (and refused) as before
    ],
)
def test_a_logged_history_is_the_validated_one(
    count: object, amounts: dict[object, object]
) -> None:
    """``History`` of a log's answer, built without validation when every value has its
    field's type, equals the model validation makes; other values are validated."""
    from pydantic import ValidationError

    from cxplay._engine.engine import _logged_history
    from cxplay.results import History

    try:
        made = History(
            source="log",
            compensations_90d=count,  # type: ignore[arg-type]
            amounts_90d=[
                Cost(amount=a, currency=c)  # type: ignore[arg-type]
                for c, a in sorted(amounts.items(), key=lambda i: str(i[0]))
            ],
        )
    except ValidationError:
        with pytest.raises(ValidationError):
            _logged_history(count, amounts)  # type: ignore[arg-type]
        return
    built = _logged_history(count, amounts)  # type: ignore[arg-type]
    _same_model(built, made)
    _same_model(_logged_history(count, amounts), made)  # type: ignore[arg-type]
    for cost, again in zip(built.amounts_90d, made.amounts_90d, strict=True):
        _same_model(cost, again)
