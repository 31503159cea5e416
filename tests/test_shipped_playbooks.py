"""The shipped playbooks: every scenario, in every language and channel, on both backends.

For each ``[[test]]`` of every shipped playbook, the incident is suggested in English,
Polish and Ukrainian (as the customer's language and as the forced reply language) on each
of the eight channels. Every reply must render; in the scenario's own channel the expected
action kinds come in order and the ``reply_contains`` fragments appear in the body. Every
SMS fits in 3 segments, every public reply shows no amount or offer, and no reply leaks
template syntax or a Python ``None``. Together the scenarios must keep every shipped rule
(100% rule coverage), and every example incident must produce a reply in all three
languages.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from cxplay import Engine
from cxplay._engine.durable import AVAILABLE
from cxplay._replies.renderer import public_leak
from cxplay.models import CHANNELS

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = sorted((ROOT / "examples" / "incidents").glob("*.json"))
LANGUAGES = ("en", "pl", "uk")
BACKENDS = [
    pytest.param("durable", marks=pytest.mark.skipif(not AVAILABLE, reason="no durable_rules")),
    "python",
]
FORBIDDEN = ("{{", "}}", "{%", "%}", "None", "[" + "object")


@pytest.fixture(scope="module", params=BACKENDS)
def engine(request: pytest.FixtureRequest) -> Iterator[Engine]:
    shipped = Engine.from_path(backend=request.param)
    try:
        yield shipped
    finally:
        shipped.close()


def _scenarios() -> list[Any]:
    with Engine.from_path(backend="python") as shipped:
        return [
            pytest.param(
                playbook.meta.id, number, id=f"{playbook.meta.id}:{scenario.name or number}"
            )
            for playbook in shipped.playbooks.playbooks
            for number, scenario in enumerate(playbook.tests)
        ]


SCENARIOS = _scenarios()


def _scenario(engine: Engine, playbook_id: str, number: int) -> Any:
    (playbook,) = [p for p in engine.playbooks.playbooks if p.meta.id == playbook_id]
    return playbook.tests[number]


def _with(incident: dict[str, Any], *, language: str, channel: str) -> dict[str, Any]:
    customer = dict(incident.get("customer", {}))
    customer["language"] = language
    return {**incident, "customer": customer, "channel": channel}


def _in_order(expected: list[str], got: list[str]) -> bool:
    remaining = iter(got)
    return all(any(kind == seen for seen in remaining) for kind in expected)


def _reply_problems(body: str, subject: str | None, where: str) -> list[str]:
    problems = [f"{where}: the reply contains {bad!r}" for bad in FORBIDDEN if bad in body]
    if subject is not None:
        problems += [
            f"{where}: the subject contains {bad!r}" for bad in FORBIDDEN if bad in subject
        ]
    if not body.strip():
        problems.append(f"{where}: the reply is empty")
    return problems


@pytest.mark.parametrize(("playbook_id", "number"), SCENARIOS)
def test_scenario_in_every_language_and_channel(
    engine: Engine, playbook_id: str, number: int
) -> None:
    scenario = _scenario(engine, playbook_id, number)
    own = scenario.incident.get("channel", "email")
    problems: list[str] = []
    for language in LANGUAGES:
        for channel in CHANNELS:
            where = f"{language}/{channel}"
            suggestion = engine.suggest(
                _with(scenario.incident, language=language, channel=channel), language=language
            )
            reply = suggestion.reply
            assert reply is not None, f"{where}: no reply"
            assert reply.language == language and not reply.fell_back, where
            assert reply.channel == channel, where
            problems += _reply_problems(reply.body, reply.subject, where)
            if channel == "sms":
                assert reply.segments is not None
                if reply.segments > 3:
                    problems.append(f"{where}: {reply.segments} SMS segments: {reply.body!r}")
            if channel == "social_public":
                leak = public_leak(reply.body)
                if leak is not None:
                    problems.append(f"{where}: the public reply shows {leak!r}: {reply.body!r}")
            if channel != own:
                continue
            kinds = [a.kind for a in suggestion.actions]
            if not _in_order(scenario.expect, kinds):
                problems.append(f"{where}: expected {scenario.expect} in order, got {kinds}")
            for fragment in scenario.reply_contains.get(language, []):
                if fragment not in reply.body:
                    problems.append(f"{where}: {fragment!r} is not in the reply:\n{reply.body}")
            wanted = scenario.expect_severity
            if wanted is not None and suggestion.severity != wanted:
                problems.append(f"{where}: severity {suggestion.severity}, expected {wanted}")
    kept = {rule.id for rule in engine.decide(scenario.incident).kept}
    problems += [f"rule {r} was not kept" for r in scenario.expect_rules if r not in kept]
    assert not problems, "\n".join(problems)


def test_every_rule_is_reached_by_a_scenario(engine: Engine) -> None:
    reached: set[str] = set()
    for playbook in engine.playbooks.playbooks:
        for scenario in playbook.tests:
            reached |= {rule.id for rule in engine.decide(scenario.incident).kept}
    every = {rule.id for rule in engine.playbooks.rules}
    assert every - reached == set(), "rules no scenario keeps"


def test_every_playbook_speaks_three_languages_and_has_scenarios(engine: Engine) -> None:
    for playbook in engine.playbooks.playbooks:
        assert sorted(playbook.meta.languages) == sorted(LANGUAGES), playbook.meta.id
        assert playbook.tests, f"{playbook.meta.id} has no scenarios"
        for scenario in playbook.tests:
            assert set(scenario.reply_contains) == set(LANGUAGES), (
                f"{playbook.meta.id}: {scenario.name}: reply_contains must cover en, pl and uk"
            )


def test_every_action_is_on_the_journey_map(engine: Engine) -> None:
    untagged = [
        f"{rule.id} actions[{n}] ({action.kind})"
        for rule in engine.playbooks.rules
        for n, action in enumerate(rule.rule.actions)
        if action.dimension is None or action.stage is None
    ]
    assert untagged == []


def test_unknown_incident_types_reach_a_person(engine: Engine) -> None:
    suggestion = engine.suggest({"type": "something_new", "channel": "email"})
    assert [a.kind for a in suggestion.actions] == ["apology", "escalate"]


def test_public_replies_never_carry_compensation(engine: Engine) -> None:
    for playbook in engine.playbooks.playbooks:
        for scenario in playbook.tests:
            public = engine.suggest({**scenario.incident, "channel": "social_public"})
            kinds = {a.kind for a in public.actions}
            # a webinar replay is no compensation: its link is posted in the thread itself
            replay = any(a.rule == "events.webinar.replay_in_public" for a in public.actions)
            assert "move_private" in kinds or replay, scenario.name
            assert not kinds & {"refund", "discount", "free_shipping", "replacement", "gesture"}, (
                scenario.name
            )


def test_examples_cover_every_incident_type(engine: Engine) -> None:
    types = {json.loads(path.read_text(encoding="utf-8"))["type"] for path in EXAMPLES}
    known = {
        value for rule in engine.playbooks.rules if rule.types is not None for value in rule.types
    }
    assert known <= types, f"no example incident for {sorted(known - types)}"


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.stem for p in EXAMPLES])
def test_example_incident(engine: Engine, path: Path) -> None:
    incident = json.loads(path.read_text(encoding="utf-8"))
    assert incident.get("occurred_at"), f"{path.name}: set occurred_at"
    model = engine.incident(incident)  # validates, including the declared facts
    assert model.type == incident["type"]
    native = engine.suggest(incident)
    assert native.matched and native.reply is not None
    assert not native.reply.fell_back, f"{path.name}: no templates for the customer's language"
    for language in LANGUAGES:
        suggestion = engine.suggest(incident, language=language)
        reply = suggestion.reply
        assert reply is not None and reply.language == language
        assert _reply_problems(reply.body, reply.subject, f"{path.name}/{language}") == []
        if reply.channel == "sms":
            assert reply.segments is not None and reply.segments <= 3
