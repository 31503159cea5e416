"""``decide`` works out what depends only on the matches once per list of matches, and
shares an action without a cost between decisions: each decision must equal the one made
step by step (the code before the plans, kept here as the reference), on both backends,
for the matches the engine finds and for random lists of ranked rules (groups, stops and
the one-compensation policy in every combination the shipped playbooks allow)."""

from __future__ import annotations

import json
import random
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

import cxplay
from cxplay._backtest.generate import generate_incidents
from cxplay._common.fields import DEFAULT_CHANNEL
from cxplay._common.models import FrozenMap, trusted
from cxplay._engine import decide as decide_module
from cxplay._engine.decide import (
    Decision,
    _keep,
    _no_rate,
    _plan,
    _raw_cost,
    decide,
    due_from,
)
from cxplay._engine.durable import AVAILABLE as DURABLE
from cxplay._playbooks.loader import CompiledRule
from cxplay.models import SEVERITIES, Incident
from cxplay.results import Cost, FollowUpPlan, SuggestedAction

EXAMPLES = Path(__file__).resolve().parent.parent / "examples" / "incidents"
BACKENDS = ["python", *(["durable"] if DURABLE else [])]

# ----------------------------------------------------------------- the reference (189f9c6)


def _settle_reference(
    kept: Sequence[CompiledRule], incident: Incident, outcomes: dict[str, str]
) -> list[tuple[Any, ...]]:
    customer = incident.customer
    settled: list[tuple[Any, ...]] = []
    compensating_rule: str | None = None
    for rule in kept:
        plan = _plan(rule)
        policy = rule.playbook.policy
        offers = policy.single_compensation and plan.offers
        skip_compensation = offers and compensating_rule not in (None, plan.rule)
        if offers and compensating_rule is None:
            compensating_rule = plan.rule
        repeat = (
            policy.repeat_claimant_after is not None
            and (customer.compensations_90d or 0) > policy.repeat_claimant_after
        )
        cap = policy.caps.get(customer.tier or "", policy.caps.get("default"))
        for step in plan.steps:
            compensation = step.compensation
            if compensation and skip_compensation:
                outcomes[plan.rule] = (
                    f"kept, but its {step.kind} is dropped: one compensation per incident "
                    f"('{compensating_rule}' offers it)"
                )
                continue
            params: Mapping[str, Any] = step.params
            raw = _raw_cost(step.action, incident, policy) if step.costly else None
            cost = None
            approval = step.forced is True
            because: str | None = None
            if raw is not None:
                amount, currency = raw
                in_policy = policy.convert(amount, currency)
                if compensation and in_policy is not None and cap is not None and in_policy > cap:
                    params = {**params, "capped_from": round(amount, 2)}
                    amount = amount * cap / in_policy
                    in_policy = cap
                cost = (float(round(amount, 2)), currency)
                if step.forced is None:
                    threshold = policy.approval_above
                    if in_policy is None and compensation:
                        approval, because = True, _no_rate(currency, policy)
                    else:
                        approval = (
                            threshold is not None
                            and in_policy is not None
                            and (in_policy > threshold)
                        )
            if compensation and repeat:
                approval = True
            if approval and because:
                params = {**params, "approval_because": because}
            settled.append((rule, step, params, cost, bool(approval)))
    return settled


def _severity_reference(kept: Sequence[CompiledRule], incident: Incident) -> str:
    level = SEVERITIES.index(incident.severity) if incident.severity else 0
    for rule in kept:
        if rule.rule.severity is not None:
            level = max(level, SEVERITIES.index(rule.rule.severity))
    return SEVERITIES[level]


def _respond_by_reference(
    kept: Sequence[CompiledRule], incident: Incident, base: datetime
) -> datetime | None:
    channel = incident.channel or DEFAULT_CHANNEL
    for rule in kept:
        playbook = rule.playbook
        sla = playbook.sla.get(channel)
        if sla is not None:
            if playbook.hours is not None and channel in playbook.business:
                return playbook.hours.add(base, sla)
            return base + sla
    return None


def decide_reference(
    matched: Sequence[CompiledRule], incident: Incident, *, now: datetime | None = None
) -> Decision:
    kept, outcomes = _keep(matched)
    actions: list[SuggestedAction] = []
    said: list[tuple[int, str]] = []
    follow_ups: list[FollowUpPlan] = []
    base = incident.occurred_at or now or datetime.now(timezone.utc)
    for rule, step, params, cost, approval in _settle_reference(kept, incident, outcomes):
        values = step.values.copy()
        values["params"] = params if type(params) is FrozenMap else FrozenMap(params)
        values["requires_approval"] = approval
        values["cost"] = (
            None if cost is None else trusted(Cost, {"amount": cost[0], "currency": cost[1]})
        )
        actions.append(trusted(SuggestedAction, values))
        said.append((rule.order, step.step))
        if step.follow is not None:
            promise = step.follow.copy()
            promise["due"] = due_from(base, promise, rule.playbook.hours)
            follow_ups.append(trusted(FollowUpPlan, promise))
    follow_ups.sort(key=lambda f: f.after)
    return Decision(
        actions=actions,
        kept=kept,
        outcomes=outcomes,
        severity=_severity_reference(kept, incident),
        follow_ups=follow_ups,
        respond_by=_respond_by_reference(kept, incident, base),
        said=said,
        base=base,
    )


# ------------------------------------------------------------------------------ the tests


def _same_decision(fast: Decision, slow: Decision) -> None:
    assert len(fast.actions) == len(slow.actions)
    for a, b in zip(fast.actions, slow.actions, strict=True):
        assert type(a) is type(b) and a == b and a.__dict__ == b.__dict__
        assert list(a.__dict__) == list(b.__dict__)
        assert a.__pydantic_fields_set__ == b.__pydantic_fields_set__
        assert a.model_dump_json() == b.model_dump_json()
        assert type(a.params) is FrozenMap and type(a.requires_approval) is bool
    assert len(fast.kept) == len(slow.kept)
    assert all(a is b for a, b in zip(fast.kept, slow.kept, strict=True))
    assert list(fast.outcomes.items()) == list(slow.outcomes.items())
    assert fast.severity == slow.severity
    assert fast.follow_ups == slow.follow_ups
    assert [f.model_dump_json() for f in fast.follow_ups] == [
        f.model_dump_json() for f in slow.follow_ups
    ]
    assert [f.__pydantic_fields_set__ for f in fast.follow_ups] == [
        f.__pydantic_fields_set__ for f in slow.follow_ups
    ]
    assert fast.respond_by == slow.respond_by
    if fast.respond_by is not None and slow.respond_by is not None:
        assert fast.respond_by.isoformat() == slow.respond_by.isoformat()
        assert type(fast.respond_by.tzinfo) is type(slow.respond_by.tzinfo)
    assert fast.said == slow.said and fast.base == slow.base
    assert type(fast) is Decision and list(vars(fast)) == list(vars(slow))
    assert fast == Decision(**vars(fast))
    assert type(fast.actions) is list and type(fast.kept) is list
    assert type(fast.follow_ups) is list and type(fast.said) is list


def _check(matched: Sequence[CompiledRule], model: Incident) -> None:
    fast = decide(matched, model)
    _same_decision(fast, decide_reference(matched, model, now=fast.base))


def _incidents() -> list[Any]:
    shipped = [json.loads(p.read_text(encoding="utf-8")) for p in sorted(EXAMPLES.glob("*.json"))]
    return [*shipped, *generate_incidents(1_200, seed=7)]


@pytest.mark.parametrize("backend", BACKENDS)
def test_decisions_equal_the_step_by_step_ones(backend: str) -> None:
    now = datetime(2026, 3, 27, 16, 55, tzinfo=timezone(timedelta(hours=1)))
    compared = 0
    with cxplay.Engine.from_path(backend=backend) as engine:  # type: ignore[arg-type]
        snapshot = engine._live()
        for raw in _incidents():
            model = engine.incident(raw)
            matched = engine._matches(snapshot, model)
            for moment in (now, None) if model.occurred_at is None else (None,):
                fast = decide(matched, model, now=moment)
                slow = decide_reference(matched, model, now=fast.base)
                _same_decision(fast, slow)
                compared += 1
    assert compared > 1_200


def test_random_lists_of_ranked_rules_decide_alike() -> None:
    # groups, stops, single compensation, repeat claimants, caps: lists the engine may not
    # meet on the shipped playbooks, in the order it ranks them; every incident type's
    # facts, channels, tiers, order values and claim counts from the generator
    rng = random.Random(20)
    with cxplay.Engine.from_path(backend="python") as engine:
        snapshot = engine._live()
        ranked = sorted(range(len(snapshot.playbooks.rules)), key=snapshot.rank_key)
        rules = [snapshot.playbooks.rules[p] for p in ranked]
        models = [engine.incident(raw) for raw in generate_incidents(400, seed=3)]
        for model in models:
            for _ in range(6):
                size = rng.choice((1, 2, 3, 5, 8, 13))
                picked = sorted(rng.sample(range(len(rules)), size))
                matched = [rules[i] for i in picked]
                _check(matched, model)
        # no rule matched: no memo, the incident's own severity
        for model in models[:50]:
            _check([], model)


def test_a_first_rule_keeps_one_plan_per_list_of_matches() -> None:
    # the same first rule with different rules after it must not share a plan; the same
    # list (as another list object) must
    with cxplay.Engine.from_path(backend="python") as engine:
        snapshot = engine._live()
        ranked = sorted(range(len(snapshot.playbooks.rules)), key=snapshot.rank_key)
        rules = [snapshot.playbooks.rules[p] for p in ranked]
        model = engine.incident({"type": "parcel_damaged", "order": {"value": 80.0}})
        first = rules[0]
        for rest in ([], rules[1:3], rules[5:9], rules[1:3]):
            matched = [first, *rest]
            _check(matched, model)
        memo = first.__dict__["_decide_matches"]
        assert len(memo) == 3
        assert all(
            plan.others == tuple(rules[i] for i in range(1, 1 + len(plan.others)))
            or plan.others == tuple(rules[5:9])
            for plan in memo.values()
        )


def test_the_memo_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(decide_module, "_MATCHES_KEPT", 4)
    with cxplay.Engine.from_path(backend="python") as engine:
        snapshot = engine._live()
        ranked = sorted(range(len(snapshot.playbooks.rules)), key=snapshot.rank_key)
        rules = [snapshot.playbooks.rules[p] for p in ranked]
        model = engine.incident({"type": "queue_long", "facts": {"queue_minutes": 30}})
        first = rules[0]
        for i in range(1, 12):
            matched = [first, rules[i]]
            _check(matched, model)
            assert len(first.__dict__["_decide_matches"]) <= 4


def test_an_action_without_a_cost_is_shared_and_immutable() -> None:
    with cxplay.Engine.from_path(backend="python") as engine:
        incident = {"type": "parcel_damaged", "channel": "email", "order": {"value": 50.0}}
        first, second = engine.decide(incident), engine.decide(incident)
        apology = next(a for a in first.actions if a.kind == "apology")
        again = next(a for a in second.actions if a.kind == "apology")
        assert apology is again  # one model, built with its rule
        with pytest.raises(AttributeError):
            apology.kind = "refund"  # type: ignore[misc]
        with pytest.raises(TypeError):
            apology.params["x"] = 1  # type: ignore[index]
        # each decision has its own lists and outcomes
        assert first.actions is not second.actions and first.kept is not second.kept
        assert first.outcomes is not second.outcomes and first.said is not second.said
        first.outcomes.clear()
        assert engine.decide(incident).outcomes == second.outcomes
