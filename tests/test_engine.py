"""The engine on both backends: same cases, same answers."""

from __future__ import annotations

import textwrap
import threading
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from cxplay import CxplayError, Engine, IncidentError, Suggestion
from cxplay._engine.durable import AVAILABLE

BACKENDS = [
    pytest.param("durable", marks=pytest.mark.skipif(not AVAILABLE, reason="no durable_rules")),
    "python",
]

PLAYBOOK = """
[playbook]
id = "shop"
version = "2.1.0"
languages = ["en"]

[facts]
delay_days = { type = "integer", required_for = ["parcel_late"] }
vip = "boolean"

[policy]
approval_above = 200
caps = { default = 300, gold = 1000 }
repeat_claimant_after = 2

[sla]
email = "PT2H"
chat = "PT5M"

[[rule]]
id = "apologise"
when = "type in ['parcel_damaged', 'parcel_lost']"
priority = 100
actions = [{ kind = "apology" }]

[[rule]]
id = "refund.full"
when = "type == 'parcel_damaged' and order.value >= 100"
priority = 80
group = "compensation"
reason = "high value"
actions = [{ kind = "refund", percent = 100, max_amount = 5000 }]

[[rule]]
id = "refund.half"
when = "type == 'parcel_damaged'"
priority = 70
group = "compensation"
actions = [{ kind = "refund", percent = 50 }]

[[rule]]
id = "discount.loyal"
when = "type == 'parcel_damaged' and customer.tier == 'gold'"
priority = 60
actions = [{ kind = "discount", percent = 10, days_valid = 60 }]

[[rule]]
id = "late.inform"
when = "type == 'parcel_late' and facts.delay_days >= 2"
priority = 50
severity = "high"
actions = [{ kind = "inform", topic = "delivery_status" }, { kind = "survey", survey = "ces", after = "P3D" }]

[[rule]]
id = "vip.escalate"
when = "facts.vip"
priority = 90
stop = true
actions = [{ kind = "escalate", to = "vip-desk", within = "PT1H" }]

[[rule]]
id = "anything.public"
when = "channel == 'social_public'"
priority = 10
actions = [{ kind = "move_private" }]
"""


@pytest.fixture(scope="module")
def playbook_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("playbooks")
    (directory / "shop.toml").write_text(textwrap.dedent(PLAYBOOK), encoding="utf-8")
    return directory


@pytest.fixture(params=BACKENDS)
def engine(request: pytest.FixtureRequest, playbook_dir: Path) -> Engine:
    return Engine.from_path(playbook_dir, backend=request.param)


def kinds(s: Suggestion) -> list[str]:
    return [a.kind for a in s.actions]


def test_backend_is_the_one_asked_for(engine: Engine) -> None:
    assert engine.backend in ("durable", "python")
    assert "rules" in repr(engine)


def test_matches_ordered_by_priority_then_file_order(engine: Engine) -> None:
    matches = engine.evaluate({"type": "parcel_damaged", "order": {"value": 150}})
    assert [m.rule for m in matches] == ["apologise", "refund.full", "refund.half"]
    assert matches[0].playbook == "shop@2.1.0"


def test_group_keeps_the_highest_priority(engine: Engine) -> None:
    s = engine.suggest({"type": "parcel_damaged", "order": {"value": 150, "currency": "PLN"}})
    assert kinds(s) == ["apology", "refund"]
    refund = s.actions[1]
    assert refund.rule == "refund.full" and refund.reason == "high value"
    assert refund.cost is not None and (refund.cost.amount, refund.cost.currency) == (150.0, "PLN")
    assert refund.requires_approval is False


def test_single_compensation_drops_the_second_offer(engine: Engine) -> None:
    s = engine.suggest(
        {"type": "parcel_damaged", "customer": {"tier": "gold"}, "order": {"value": 50}}
    )
    # refund.half wins the group; the gold discount is a second compensation: dropped
    assert kinds(s) == ["apology", "refund"]
    trace = {
        t.rule: t
        for t in engine.explain(
            {"type": "parcel_damaged", "customer": {"tier": "gold"}, "order": {"value": 50}}
        )
    }
    assert trace["discount.loyal"].outcome is not None
    assert "one compensation per incident" in trace["discount.loyal"].outcome


def test_cap_and_approval(engine: Engine) -> None:
    s = engine.suggest({"type": "parcel_damaged", "order": {"value": 800, "currency": "EUR"}})
    refund = s.actions[1]
    assert refund.cost is not None and refund.cost.amount == 300.0  # default tier cap
    assert refund.requires_approval is True  # 300 > approval_above 200
    gold = engine.suggest(
        {"type": "parcel_damaged", "customer": {"tier": "gold"}, "order": {"value": 800}}
    )
    assert gold.actions[1].cost is not None and gold.actions[1].cost.amount == 800.0


def test_repeat_claimant_needs_approval(engine: Engine) -> None:
    s = engine.suggest(
        {"type": "parcel_damaged", "customer": {"compensations_90d": 3}, "order": {"value": 120}}
    )
    assert [(a.kind, a.requires_approval) for a in s.actions] == [
        ("apology", False),
        ("refund", True),
    ]


def test_severity_is_raised_never_lowered(engine: Engine) -> None:
    low = engine.suggest({"type": "parcel_late", "facts": {"delay_days": 3}})
    assert low.severity == "high"
    critical = engine.suggest(
        {"type": "parcel_late", "severity": "critical", "facts": {"delay_days": 3}}
    )
    assert critical.severity == "critical"


def test_stop_drops_lower_rules(engine: Engine) -> None:
    s = engine.suggest({"type": "parcel_damaged", "facts": {"vip": True}, "order": {"value": 500}})
    assert kinds(s) == ["apology", "escalate"]


def test_follow_ups_and_respond_by(engine: Engine) -> None:
    occurred = datetime(2026, 11, 20, 9, 15, tzinfo=timezone(timedelta(hours=1)))
    s = engine.suggest(
        {
            "type": "parcel_late",
            "channel": "email",
            "occurred_at": occurred.isoformat(),
            "facts": {"delay_days": 2},
        }
    )
    assert s.respond_by == occurred + timedelta(hours=2)
    assert [(f.action, f.survey, f.after) for f in s.follow_ups] == [
        ("survey", "ces", timedelta(days=3))
    ]
    data = s.model_dump(mode="json")
    assert data["respond_by"] == "2026-11-20T11:15:00+01:00"
    assert data["follow_ups"][0]["after"] == "P3D"


def test_no_match(engine: Engine) -> None:
    s = engine.suggest({"type": "something_new"})
    assert s.matched is False and s.actions == () and s.severity == "low"


def test_type_independent_rules_apply_to_every_type(engine: Engine) -> None:
    s = engine.suggest({"type": "something_new", "channel": "social_public"})
    assert kinds(s) == ["move_private"]


def test_explain_gives_first_failing_condition_and_value(engine: Engine) -> None:
    traces = {t.rule: t for t in engine.explain({"type": "parcel_damaged", "order": {"value": 50}})}
    full = traces["refund.full"]
    assert (full.matched, full.failed, full.value) == (False, "order.value >= 100", 50)
    assert traces["apologise"].matched and traces["apologise"].outcome == "kept"
    assert traces["refund.half"].outcome == "kept"
    assert traces["vip.escalate"].failed == "facts.vip" and traces["vip.escalate"].value is None


@pytest.mark.parametrize(
    ("incident", "message"),
    [
        ({}, "type: is required"),
        ({"type": "parcel_late"}, "needs fact 'delay_days' (integer)"),
        (
            {"type": "parcel_late", "facts": {"delay_days": "3"}},
            "facts.delay_days: expected integer",
        ),
        ({"type": "x", "facts": {"vip": 1}}, "facts.vip: expected boolean"),
        ({"type": "x", "order": {"value": "abc"}}, "order.value"),
        ({"type": "x", "colour": "red"}, "colour: unknown key"),
        ({"type": "x", "channel": "pigeon"}, "channel"),
    ],
)
def test_bad_incidents(engine: Engine, incident: dict[str, object], message: str) -> None:
    with pytest.raises(IncidentError) as caught:
        engine.suggest(incident)
    assert message in str(caught.value)
    assert "\n" not in str(caught.value)


def test_accepts_a_model(engine: Engine) -> None:
    incident = engine.incident({"type": "parcel_damaged"})
    assert kinds(engine.suggest(incident)) == ["apology", "refund"]


def test_threads_agree_with_sequential(engine: Engine) -> None:
    cases = [
        {"type": t, "order": {"value": v}, "customer": {"tier": tier}, "facts": {"delay_days": 3}}
        for t in ("parcel_damaged", "parcel_lost", "parcel_late", "other")
        for v in (10, 150, 900)
        for tier in ("gold", "silver")
    ]
    expected = [engine.evaluate(c) for c in cases]
    errors: list[str] = []

    def work() -> None:
        for _ in range(50):
            for case, want in zip(cases, expected, strict=True):
                if engine.evaluate(case) != want:
                    errors.append(str(case))

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    if engine.backend == "durable":  # each of the four sessions retracted every fact
        assert _facts_left(engine) == []


def test_reload_keeps_old_playbooks_on_error(tmp_path: Path) -> None:
    (tmp_path / "shop.toml").write_text(textwrap.dedent(PLAYBOOK), encoding="utf-8")
    engine = Engine.from_path(tmp_path)
    (tmp_path / "shop.toml").write_text("[playbook\n", encoding="utf-8")
    with pytest.raises(Exception, match="invalid TOML"):
        engine.reload()
    assert kinds(engine.suggest({"type": "parcel_lost"})) == ["apology"]
    (tmp_path / "shop.toml").write_text(
        textwrap.dedent(PLAYBOOK).replace('"apology" }]', '"apology", template = "sorry" }]', 1),
        encoding="utf-8",
    )
    engine.reload()
    assert engine.suggest({"type": "parcel_lost"}).actions[0].params == {"template": "sorry"}


CARE = """
[playbook]
id = "care"
version = "1"
[policy]
single_compensation = false
repeat_claimant_after = 0
[[rule]]
id = "care.water"
when = "type == 'queue_long'"
priority = 90
actions = [{ kind = "gesture", item = "water" }, { kind = "gesture", item = "voucher", amount = 20 }]
"""
SHOP = """
[playbook]
id = "shop"
version = "1"
[[rule]]
id = "shop.discount"
when = "type == 'queue_long'"
priority = 10
actions = [{ kind = "discount", percent = 5 }]
"""


@pytest.mark.parametrize("backend", BACKENDS)
def test_care_is_not_compensation_and_policies_stay_per_playbook(
    tmp_path: Path, backend: str
) -> None:
    (tmp_path / "a.toml").write_text(CARE, encoding="utf-8")
    (tmp_path / "b.toml").write_text(SHOP, encoding="utf-8")
    engine = Engine.from_path(tmp_path, backend=backend)
    s = engine.suggest({"type": "queue_long", "customer": {"compensations_90d": 1}})
    # care's voucher does not block shop's discount: care keeps no single-compensation policy
    assert [(a.kind, a.params.get("item"), a.requires_approval) for a in s.actions] == [
        ("gesture", "water", False),  # water is care: no approval for a repeat claimant
        ("gesture", "voucher", True),  # a voucher has an amount: compensation
        ("discount", None, False),
    ]


CURRENCY = """
[playbook]
id = "c"
version = "1"
[policy]
currency = "PLN"
approval_above = 500
caps = { default = 300 }
[[rule]]
id = "c.refund"
when = "type == 'parcel_damaged'"
actions = [{ kind = "refund", percent = 100 }]
[[rule]]
id = "c.voucher"
when = "type == 'queue_long'"
actions = [{ kind = "gesture", item = "voucher", amount = 20 }]
"""


def _first_refund(engine: Engine, value: float, currency: str) -> tuple[object, ...]:
    """Cost, currency, approval and parameters of a damaged parcel's first action."""
    action = engine.suggest(
        {"type": "parcel_damaged", "order": {"value": value, "currency": currency}}
    ).actions[0]
    assert action.cost is not None
    return action.cost.amount, action.cost.currency, action.requires_approval, action.params


@pytest.mark.parametrize("backend", BACKENDS)
def test_caps_are_flagged_and_currencies_never_mixed(tmp_path: Path, backend: str) -> None:
    (tmp_path / "c.toml").write_text(CURRENCY, encoding="utf-8")
    engine = Engine.from_path(tmp_path, backend=backend)

    def refund(value: float, currency: str) -> tuple[object, ...]:
        return _first_refund(engine, value, currency)

    assert refund(200, "PLN") == (200.0, "PLN", False, {"percent": 100.0})
    # capped: the agent sees what the refund was cut from
    assert refund(400, "PLN") == (300.0, "PLN", False, {"percent": 100.0, "capped_from": 400.0})
    # in euros the złoty cap and threshold cannot be applied: a person decides
    because = (
        "the order is in EUR and the playbook's rates table has no rate for it, "
        "so its limits (in PLN) cannot be checked: a person decides"
    )
    assert refund(400, "EUR") == (
        400.0,
        "EUR",
        True,
        {"percent": 100.0, "approval_because": because},
    )
    voucher = engine.suggest({"type": "queue_long", "order": {"currency": "UAH"}}).actions[0]
    assert voucher.cost is not None and (voucher.cost.amount, voucher.cost.currency) == (
        20.0,
        "PLN",
    )


RATES = (
    CURRENCY.replace(
        "caps = { default = 300 }",
        "caps = { default = 300 }\nrates = { EUR = 4.30, UAH = 0.10 }\nrates_as_of = 2026-11-01",
    )
    + """
[[rule]]
id = "c.big"
when = "type == 'parcel_lost' and order.policy_value >= 100"
actions = [{ kind = "refund", percent = 100 }]
[[rule]]
id = "c.small"
when = "type == 'parcel_lost' and order.policy_value < 100"
actions = [{ kind = "replacement" }]
[[rule]]
id = "c.unknown"
when = "type == 'parcel_lost' and exists(order.value) and not exists(order.policy_value)"
actions = [{ kind = "escalate", to = "supervisor" }]
"""
)


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_dated_rates_table_converts_for_conditions_caps_and_approval(
    tmp_path: Path, backend: str
) -> None:
    (tmp_path / "c.toml").write_text(RATES, encoding="utf-8")
    engine = Engine.from_path(tmp_path, backend=backend)

    def refund(value: float, currency: str) -> tuple[object, ...]:
        return _first_refund(engine, value, currency)

    # 50 EUR is 215 zł: under the 300 zł cap and the 500 zł approval limit
    assert refund(50, "EUR") == (50.0, "EUR", False, {"percent": 100.0})
    # 100 EUR is 430 zł: capped at 300 zł, i.e. 69.77 EUR, and the agent sees the original
    assert refund(100, "EUR") == (69.77, "EUR", False, {"percent": 100.0, "capped_from": 100.0})
    assert refund(1800, "UAH")[:3] == (1800.0, "UAH", False)
    # no rate for JPY: a person decides, and the suggestion says why
    jpy = refund(100000, "JPY")
    assert jpy[2] is True and "JPY" in str(jpy[3]) and "2026-11-01" in str(jpy[3])

    def rules(value: float, currency: str | None) -> list[str]:
        order: dict[str, object] = {"value": value}
        if currency:
            order["currency"] = currency
        return [m.rule for m in engine.evaluate({"type": "parcel_lost", "order": order})]

    assert rules(80, "EUR") == ["c.big"]  # 344 zł, not "80 < 100"
    assert rules(80, "PLN") == ["c.small"]
    assert rules(249.99, "UAH") == ["c.small"]  # 25 zł
    assert rules(1800, "UAH") == ["c.big"]  # 180 zł
    assert rules(80, None) == ["c.small"]  # no currency: the policy's own
    assert rules(100000, "JPY") == ["c.unknown"]


@pytest.mark.parametrize(
    ("policy", "message"),
    [
        ("rates = { EUR = 4.3 }", "rates_as_of"),
        ("rates = { PLN = 1.0 }\nrates_as_of = 2026-11-01", "policy currency itself"),
        ("rates = { EUR = 0 }\nrates_as_of = 2026-11-01", "greater than 0"),
    ],
)
def test_a_rates_table_must_be_dated_and_sane(tmp_path: Path, policy: str, message: str) -> None:
    text = CURRENCY.replace("caps = { default = 300 }", f"caps = {{ default = 300 }}\n{policy}")
    (tmp_path / "c.toml").write_text(text, encoding="utf-8")
    with pytest.raises(CxplayError) as caught:
        Engine.from_path(tmp_path)
    assert message in str(caught.value)
    assert "c.toml:" in str(caught.value)


@pytest.mark.skipif(not AVAILABLE, reason="durable_rules does not import here")
def test_a_ruleset_durable_refuses_is_a_compile_error_naming_the_rule(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A refusal when the rulesets are made closes what was made and names file, line and
    rule (not an AttributeError from closing a backend whose state was not set yet)."""
    from cxplay._engine import durable
    from cxplay.errors import CompileError

    real = durable._engine

    class Refusing:
        def __getattr__(self, name: str) -> object:
            return getattr(real, name)

        @staticmethod
        def create_ruleset(name: str, text: str) -> int:
            raise Exception("error 204")  # what durable raises: a plain Exception

    monkeypatch.setattr(durable, "_engine", Refusing())
    with pytest.raises(CompileError) as info:
        Engine.from_path(backend="durable")
    (problem,) = info.value.problems
    assert problem.message == "the rule engine refused this rule: error 204"
    assert problem.rule and problem.file and problem.line


@pytest.mark.skipif(not AVAILABLE, reason="durable_rules does not import here")
def test_durable_reads_rule_names_of_every_width(tmp_path: Path) -> None:
    """Rule names are read from durable's answer by a fixed-width slice: positions of one,
    two and three digits (0, 7, 42, 101, 119 of 120 rules) all come back, and only they."""
    rules = "".join(
        f'[[rule]]\nid = "r{n}"\n'
        f"when = \"type == 'queue_long' and order.value {'>=' if n in MATCH else '<'} 50\"\n"
        'actions = [{ kind = "apology" }]\n\n'
        for n in range(120)
    )
    (tmp_path / "w.toml").write_text(
        f'[playbook]\nid = "w"\nversion = "1.0.0"\nlanguages = ["en"]\n\n{rules}',
        encoding="utf-8",
    )
    incident = {"type": "queue_long", "order": {"id": "1", "value": 70.0}}
    for backend in ("durable", "python"):
        with Engine.from_path(tmp_path, backend=backend) as engine:
            assert sorted(m.rule for m in engine.evaluate(incident)) == sorted(
                f"r{n}" for n in MATCH
            )
            if backend == "durable":  # two chunks (64 rules each at most), both emptied
                assert len(engine._live().backend._plan["queue_long"]) == 2  # type: ignore[attr-defined]
                assert _facts_left(engine) == []


MATCH = (0, 7, 42, 101, 119)


def _facts_left(engine: Engine) -> list[str]:
    """What durable still holds in any session of any ruleset (a fact not retracted)."""
    from cxplay._engine import durable

    backend = engine._live().backend
    return [
        facts
        for handle in backend._handles  # type: ignore[attr-defined]
        for sid in backend._sids  # type: ignore[attr-defined]
        if (facts := durable._engine.get_facts(handle, sid)) != "[]"
    ]


@pytest.mark.skipif(not AVAILABLE, reason="durable_rules does not import here")
def test_durable_sessions_hold_no_fact_after_evaluations() -> None:
    """Each fact is retracted (by its id and session) once its rules have fired, whether
    rules matched or not (several sessions at once: test_threads_agree_with_sequential)."""
    incidents = [
        {"type": "parcel_damaged", "order": {"id": "1", "value": 120}},
        {"type": "parcel_damaged", "facts": {"vip": True}},
        {"type": "no_such_type"},
    ]
    with Engine.from_path(backend="durable") as engine:
        for incident in incidents:
            assert engine.evaluate(incident)
        assert _facts_left(engine) == []


def test_a_sessions_fact_id_never_hashes_like_its_state() -> None:
    """durable finds facts by the 32-bit hash of their id: a session's one fact id is
    chosen so that it never equals its state fact's (``sid-<sid>``), which would refuse
    every fact of the session; the hash is durable's (FNV-1a: "a" -> 0xe40c292c)."""
    from cxplay._engine.durable import _fact_id, _fnv1

    assert _fnv1("a") == 0xE40C292C and _fnv1("") == 0x811C9DC5
    for n in range(1, 1001):
        sid = f"s{n}"
        assert _fnv1(str(_fact_id(sid))) != _fnv1(f"sid-{sid}")


@pytest.mark.skipif(not AVAILABLE, reason="durable_rules does not import here")
def test_a_fact_left_in_the_session_is_an_error_then_cleared(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A session's facts share one id: if one were left behind (its retraction lost),
    durable would refuse the next (code 2). That is an error, never 'no rule matched';
    the failed evaluation's own retraction clears it, and the next one is right."""
    from cxplay._engine import durable
    from cxplay.errors import RuleEngineError

    incident = {"type": "parcel_damaged", "order": {"id": "1", "value": 120}}
    real = durable._engine

    class Forgetful:
        def __getattr__(self, name: str) -> object:
            return getattr(real, name)

        @staticmethod
        def retract_fact(handle: int, text: str) -> tuple[int, int]:
            return 0, 0

    with Engine.from_path(backend="durable") as engine:
        expected = engine.evaluate(incident)
        assert expected
        monkeypatch.setattr(durable, "_engine", Forgetful())
        assert engine.evaluate(incident) == expected  # its fact stays behind
        monkeypatch.setattr(durable, "_engine", real)
        assert _facts_left(engine) != []
        with pytest.raises(RuleEngineError, match=r"refused the fact \(2\)"):
            engine.evaluate(incident)
        assert _facts_left(engine) == []
        assert engine.evaluate(incident) == expected


@pytest.mark.skipif(not AVAILABLE, reason="durable_rules does not import here")
def test_durable_refuses_an_answer_naming_no_rule_of_the_chunk(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A name outside the table (a wider or unknown one) is an error, never a match."""
    from cxplay._engine import durable
    from cxplay.errors import RuleEngineError

    real = durable._engine

    class Answering:
        def __getattr__(self, name: str) -> object:
            return getattr(real, name)

        @staticmethod
        def start_action_for_state(handle: int, state: int) -> tuple[str, str]:
            real.start_action_for_state(handle, state)
            return "{}", '{"r99999":{"m":{"k":1}}}'

    engine = Engine.from_path(backend="durable")
    try:
        monkeypatch.setattr(durable, "_engine", Answering())
        with pytest.raises(RuleEngineError, match="the rule engine failed"):
            engine.evaluate({"type": "parcel_damaged", "order": {"id": "1", "value": 120}})
    finally:
        engine.close()


@pytest.mark.skipif(not AVAILABLE, reason="durable_rules does not import here")
@pytest.mark.parametrize("variant", ["eq", "raw", "high", "low"])
def test_durable_fact_numbers_are_written_as_number_text(variant: str) -> None:
    """The generated fact text writes each number exactly as ``number_text`` does
    (exponents, subnormals, 2**53, negative zero, integers and booleans included)."""
    from cxplay._engine.compiler import FactField, number_text
    from cxplay._engine.durable import _builder

    build = _builder((FactField("n0", "facts.x", variant, "number"),), {})
    for value in (1e-05, 5e-324, -1e-07, 1.5e-4, 1e16, 1e300, 2**53, 0.0, -0.0, 150.23, 12, True):
        assert build({"facts.x": value}.get, "{", "}") == f'{{,"n0":{number_text(value)}}}'


@pytest.mark.parametrize(
    ("value", "error"),
    [
        (3, None),
        (2.5, None),
        (-0.0, None),
        (True, "facts.weight: expected number, got True"),
        ("3", "facts.weight: expected number, got '3'"),
        ([3], "facts.weight: expected number, got [3]"),
    ],
)
def test_a_number_fact_takes_ints_and_floats_not_booleans(
    tmp_path: Path, value: object, error: str | None
) -> None:
    """The plain-number shortcut of the fact check says what the full check says."""
    (tmp_path / "n.toml").write_text(
        '[playbook]\nid = "n"\nversion = "1.0.0"\nlanguages = ["en"]\n\n'
        '[facts]\nweight = "number"\n\n[[rule]]\nid = "heavy"\n'
        'when = "facts.weight > 2"\nactions = [{ kind = "apology" }]\n',
        encoding="utf-8",
    )
    engine = Engine.from_path(tmp_path, backend="python")
    incident = {"type": "queue_long", "facts": {"weight": value}}
    if error is None:
        assert [m.rule for m in engine.evaluate(incident)] == (["heavy"] if value > 2 else [])  # type: ignore[operator]
    else:
        with pytest.raises(IncidentError) as caught:
            engine.evaluate(incident)
        assert error in str(caught.value)
