"""The backtest's fast path against the slow one it replaced, incident by incident.

The fast path (``run_task``) checks each incident once for both playbook sets when they
declare the same facts, flattens it once when their conditions read the same paths, and
compares decisions as tuples (``outline``) without building a result model. The slow path
(``run_task(..., models=True)``) decides each incident through ``Engine.decide``, building
every ``SuggestedAction``, and reduces it with ``side_of``. Over generated incidents --
perturbed so that every guardrail fires (caps, approval thresholds, other currencies,
repeat claimants, missing facts, a raised severity) -- both must give the same tally,
example for example, for pairs of playbook sets that share checks and paths and for pairs
that do not, and against a decision log.
"""

from __future__ import annotations

import random
import re
import shutil
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import cxplay
from cxplay._backtest.compare import Options, Task, run_task, side_of, side_of_logged
from cxplay._backtest.generate import generate_incidents
from cxplay._backtest.source import RowsSource
from cxplay._engine.durable import AVAILABLE as DURABLE
from cxplay._engine.engine import Outliner
from cxplay.errors import CxplayError
from tests.test_backtest import NEW_RULE, _patch, make_new_playbooks

SHIPPED = cxplay.shipped_playbooks_dir()
BACKENDS = ["python", *(["durable"] if DURABLE else [])]


def _same_facts_playbooks(root: Path) -> Path:
    """A change that keeps the declared facts: thresholds moved, a rule added (the bench's)."""
    new = root / "same_facts"
    shutil.copytree(SHIPPED, new, ignore=shutil.ignore_patterns("replies"))
    parcel = new / "parcel.toml"
    text = parcel.read_text("utf-8")
    text = _patch(
        text, "order.policy_value >= 100 and channel", "order.policy_value >= 150 and channel"
    )
    text = text[: text.index("\n[[test]]")] + "\n" + NEW_RULE
    parcel.write_text(text, "utf-8")
    return new


def _policy_playbooks(root: Path) -> Path:
    """Only policies changed: approval from a lower amount, caps halved, no rate for EUR."""
    new = root / "policy"
    shutil.copytree(SHIPPED, new, ignore=shutil.ignore_patterns("replies"))
    changed = 0
    for path in sorted(new.glob("*.toml")):
        text = path.read_text("utf-8")
        text, approvals = re.subn(r"(?m)^approval_above = \d+", "approval_above = 40", text)

        def halve(match: re.Match[str]) -> str:
            return re.sub(r"= (\d+)", lambda m: f"= {int(m.group(1)) // 2}", match.group(0))

        text, caps = re.subn(r"(?m)^caps = \{[^}]*\}", halve, text)
        text, rates = re.subn(r"(?m)^(rates = \{.*)EUR = [0-9.]+, ", r"\1", text)
        changed += approvals + caps + rates
        path.write_text(text, "utf-8")
    assert changed >= 3, "the shipped playbooks no longer have these policies to change"
    return new


@pytest.fixture(scope="module")
def sets(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("fast")
    return {
        "shipped": SHIPPED,
        "same_facts": _same_facts_playbooks(root),
        "other_facts": make_new_playbooks(root),
        "policy": _policy_playbooks(root),
    }


def _perturbed(seed: int, count: int) -> list[dict[str, Any]]:
    """Generated incidents, each changed at random where the guardrails look."""
    rng = random.Random(seed)
    rows = []
    for incident in generate_incidents(count, seed=seed):
        row: dict[str, Any] = dict(incident)
        customer = dict(row.get("customer", {}))
        order = dict(row.get("order", {}))
        facts = dict(row.get("facts", {}))
        roll = rng.random()
        if roll < 0.15:
            order["currency"] = rng.choice(["EUR", "USD", "GBP", "UAH", "PLN"])
        if rng.random() < 0.2:
            order["value"] = rng.choice([0.0, 49.99, 99.99, 100.0, 150.0, 400.0, 1999.0, 12000.0])
        if rng.random() < 0.15:
            customer["compensations_90d"] = rng.choice([0, 1, 2, 3, 5, 9])
        if rng.random() < 0.1:
            customer["tier"] = rng.choice(["standard", "silver", "gold", "vip", "new"])
        if rng.random() < 0.1:
            row["severity"] = rng.choice(["low", "medium", "high", "critical"])
        if rng.random() < 0.08 and facts:
            facts.pop(rng.choice(sorted(facts)))  # a required fact missing: an error
        if rng.random() < 0.03:
            facts["not_declared_anywhere"] = 1  # an undeclared fact: an error
        if rng.random() < 0.03:
            row["type"] = "parcel_damage"  # a typo of a known type: an error
        row["customer"], row["order"], row["facts"] = customer, order, facts
        rows.append(row)
    return rows


def _both(task: Task) -> None:
    fast, slow = run_task(task), run_task(task, models=True)
    assert fast == slow
    assert fast.incidents + fast.malformed == task.partition.count


PAIRS = [
    ("shipped", "shipped"),
    ("same_facts", "shipped"),
    ("shipped", "same_facts"),
    ("other_facts", "shipped"),
    ("policy", "shipped"),
    ("shipped", "policy"),
]


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize(("new", "old"), PAIRS)
@settings(
    max_examples=6, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(seed=st.integers(min_value=0, max_value=2**31))
def test_the_fast_comparison_reports_what_the_slow_one_does(
    sets: dict[str, Path], backend: str, new: str, old: str, seed: int
) -> None:
    recipe_new = cxplay.Recipe.from_paths(sets[new], backend=backend)  # type: ignore[arg-type]
    recipe_old = cxplay.Recipe.from_paths(sets[old], backend=backend)  # type: ignore[arg-type]
    rows = _perturbed(seed, 150)
    rows.append({"type": 7})  # malformed: counted the same on both paths
    for partition in RowsSource(rows).partitions(64):
        _both(Task(recipe_new, recipe_old, partition, Options(top=1_000)))


def test_identical_playbooks_give_no_difference_on_the_fast_path() -> None:
    recipe = cxplay.Recipe.from_paths(SHIPPED, backend="python")
    rows = _perturbed(2026, 600)
    tally = run_task(Task(recipe, recipe, next(RowsSource(rows).partitions(600)), Options()))
    classes = tally.classes
    assert tally.incidents == 600
    assert classes["changed"] == classes["error_now"] == classes["error_fixed"] == 0
    assert classes["same"] + classes["error_both"] == 600 and classes["error_both"] > 0
    assert tally.examples == []


@pytest.mark.parametrize("new", ["same_facts", "other_facts", "policy"])
def test_against_the_log_the_fast_path_reports_what_the_slow_one_does(
    sets: dict[str, Path], new: str
) -> None:
    rows = _perturbed(41, 300)
    logged = []
    with cxplay.Engine.from_path(SHIPPED, backend="python") as engine:
        for row in rows:
            try:
                decision = engine.decide(row)
            except CxplayError:
                logged.append(side_of_logged([], "low"))
                continue
            actions = [a.model_dump(mode="json") for a in decision.actions]
            logged.append(side_of_logged(actions, decision.severity))
    recipe = cxplay.Recipe.from_paths(sets[new], backend="python")
    for partition in RowsSource(rows, logged=logged).partitions(100):
        _both(Task(recipe, None, partition, Options(top=1_000)))


@pytest.mark.parametrize("backend", BACKENDS)
def test_an_outline_is_the_decision_reduced(sets: dict[str, Path], backend: str) -> None:
    """Action by action: outline() gives what side_of(Engine.decide(...)) compares."""
    for name in ("shipped", "policy"):
        with cxplay.Engine.from_path(sets[name], backend=backend) as engine:  # type: ignore[arg-type]
            outliner = Outliner(engine)
            compared = 0
            for row in _perturbed(7, 400):
                try:
                    decision = engine.decide(row)
                except CxplayError as exc:
                    with pytest.raises(CxplayError) as raised:
                        outliner.outline(outliner.check(cxplay.Incident.model_validate(row)))
                    assert str(raised.value) == str(exc)
                    continue
                found = outliner.outline(outliner.check(cxplay.Incident.model_validate(row)))
                side = side_of(decision)
                assert found.actions == side.actions
                assert found.kept == side.rules
                assert found.severity == decision.severity
                assert found.rules == side_of(decision, rules_of_actions=True).rules
                compared += 1
            assert compared > 300


def test_the_outline_memo_tells_apart_what_the_guardrails_read() -> None:
    """Incidents with the same matching rules, each differing in one field that
    outline() reads (cost, cap, approval, repeat claims, severity), outlined one after
    the other from the same memo: each as Engine.decide decides it."""
    base: dict[str, Any] = {
        "type": "parcel_damaged",
        "channel": "email",
        "severity": "medium",
        "customer": {"language": "pl", "tier": "gold", "compensations_90d": 0},
        "order": {"value": 249.99, "currency": "PLN"},
        "facts": {"item": "ekspres", "photos_attached": True},
    }
    variants: list[dict[str, Any]] = [
        {"order": {"value": 249.99, "currency": "EUR"}},
        {"order": {"value": 249.99, "currency": "UAH"}},
        {"order": {"value": 40.0, "currency": "PLN"}},
        {"order": {"value": 1999.0, "currency": "PLN"}},
        {"customer": {"language": "pl", "tier": "standard", "compensations_90d": 0}},
        {"customer": {"language": "pl", "compensations_90d": 0}},
        # ten days late and probably lost: a refund of 3,500 zł, over every tier's cap
        *(
            {
                "type": "parcel_late",
                "facts": {"delay_days": 10},
                "order": {"value": 3500.0, "currency": "PLN"},
                "customer": {"language": "pl", "tier": tier, "compensations_90d": 1},
            }
            for tier in ("gold", "standard", "gold", "vip")
        ),
        {"customer": {"language": "pl", "tier": "gold", "compensations_90d": 3}},
        {"severity": "critical"},
        {"severity": None},
    ]
    with cxplay.Engine.from_path(SHIPPED, backend="python") as engine:
        outliner = Outliner(engine)
        seen = set()
        for variant in [{}, *variants, {}, *reversed(variants)]:
            row = {**base, **variant}
            found = outliner.outline(outliner.check(cxplay.Incident.model_validate(row)))
            decision = engine.decide(row)
            side = side_of(decision)
            assert (found.actions, found.kept, found.severity) == (
                side.actions,
                side.rules,
                decision.severity,
            ), variant
            seen.add((found.actions, found.severity))
        assert len(seen) >= 8  # the variants do decide differently
