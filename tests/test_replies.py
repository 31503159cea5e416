"""Replies: golden texts per incident type and language, injection, public-channel safety."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cxplay import Engine
from cxplay._replies.renderer import public_leak

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = sorted((ROOT / "examples" / "incidents").glob("*.json"))
CASES = Path(__file__).parent / "cases" / "replies"
UPDATE = os.environ.get("CXPLAY_UPDATE_GOLDEN") == "1"
LANGUAGES = ("en", "pl", "uk")


@pytest.fixture(scope="module")
def engine() -> Engine:
    return Engine.from_path()


def render_case(engine: Engine, incident: dict[str, object], language: str) -> str:
    suggestion = engine.suggest(incident, language=language)
    reply = suggestion.reply
    assert reply is not None
    lines = [
        f"kinds: {', '.join(a.kind for a in suggestion.actions)}",
        f"language: {reply.language} (fell back: {reply.fell_back}), channel: {reply.channel}",
    ]
    if reply.subject is not None:
        lines.append(f"subject: {reply.subject}")
    if reply.segments is not None:
        lines.append(f"segments: {reply.segments}")
    return "\n".join([*lines, "", reply.body, ""])


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("example", EXAMPLES, ids=lambda p: p.stem)
def test_golden_reply(engine: Engine, example: Path, language: str) -> None:
    incident = json.loads(example.read_text(encoding="utf-8"))
    got = render_case(engine, incident, language)
    expected_file = CASES / f"{example.stem}.{language}.txt"
    if UPDATE or not expected_file.exists():
        CASES.mkdir(parents=True, exist_ok=True)
        expected_file.write_text(got, encoding="utf-8")
        if not UPDATE:
            pytest.fail(f"wrote missing golden file {expected_file.name}; review and commit it")
    assert got == expected_file.read_text(encoding="utf-8")


INJECTIONS = ["{{ 7*7 }}", "{% for x in range(3) %}x{% endfor %}", "<script>alert(1)</script>"]


@pytest.mark.parametrize("text", INJECTIONS)
def test_customer_text_is_data(engine: Engine, text: str) -> None:
    incident = {
        "type": "parcel_damaged",
        "channel": "email",
        "description": text,
        "customer": {"name": f"Anna {text}", "language": "en"},
        "order": {"id": "PL-1", "value": 50, "currency": "PLN"},
    }
    reply = engine.suggest(incident).reply
    assert reply is not None and reply.html is not None
    assert f"Anna {text}" in reply.body  # verbatim in text
    assert "49" not in reply.body.replace("PL-1", "")  # {{ 7*7 }} was not evaluated
    assert "<script>" not in reply.html
    if "<" in text:
        assert "&lt;script&gt;" in reply.html


def test_signature_follows_the_leading_playbook(engine: Engine) -> None:
    speaker = json.loads((ROOT / "examples/incidents/speaker_late.json").read_text("utf-8"))
    speaker["channel"] = "email"
    parcel = json.loads((ROOT / "examples/incidents/parcel_damaged.json").read_text("utf-8"))
    event_reply = engine.suggest(speaker, language="en").reply
    shop_reply = engine.suggest(parcel, language="en").reply
    assert event_reply is not None and shop_reply is not None
    assert event_reply.body.endswith("The organising team\nCX Conference 2026 Kraków")
    assert shop_reply.body.endswith("The Customer Care team\nSklep Przykład")


TYPES = [p.stem for p in EXAMPLES]


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    example=st.sampled_from(EXAMPLES),
    language=st.sampled_from(LANGUAGES),
    value=st.one_of(st.none(), st.floats(min_value=0, max_value=100_000, allow_nan=False)),
    currency=st.sampled_from(["PLN", "EUR", "UAH", "GBP", "USD"]),
    tier=st.sampled_from([None, "gold", "silver", "vip"]),
    repeat=st.integers(0, 5),
)
def test_public_replies_never_talk_money(
    engine: Engine,
    example: Path,
    language: str,
    value: float | None,
    currency: str,
    tier: str | None,
    repeat: int,
) -> None:
    incident = json.loads(example.read_text(encoding="utf-8"))
    incident["channel"] = "social_public"
    order = dict(incident.get("order", {}))
    order.update({"value": value, "currency": currency})
    incident["order"] = order
    customer = dict(incident.get("customer", {}))
    customer.update({"tier": tier, "compensations_90d": repeat, "language": language})
    incident["customer"] = customer
    suggestion = engine.suggest(incident)
    if suggestion.reply is None:
        return
    body = suggestion.reply.body
    assert public_leak(body) is None, body
    if value is not None and value >= 1:
        assert f"{value:.2f}".replace(".", ",") not in body
        assert f"{value:.2f}" not in body


def test_validate_finds_template_problems_before_a_customer_does(tmp_path: Path) -> None:
    from cxplay import load_playbooks
    from cxplay._playbooks.lint import check_replies as check

    (tmp_path / "p.toml").write_text(
        '[playbook]\nid = "p"\nversion = "1"\nlanguages = ["en", "pl"]\n'
        '[[rule]]\nid = "r"\nwhen = "type == \'x\'"\n'
        'actions = [{ kind = "apology" }, { kind = "refund", percent = 10 }]\n',
        encoding="utf-8",
    )
    replies = tmp_path / "replies"
    replies.mkdir()
    (replies / "common.en.toml").write_text(
        'apology = "Sorry {{ customer.nmae }}."\nrefund = "{% if %}"\n', encoding="utf-8"
    )
    (replies / "common.pl.toml").write_text('apology = "Przepraszamy."\n', encoding="utf-8")
    problems = [str(p) for p in check(load_playbooks(tmp_path))]
    assert any("common.en.toml:2" in p and "does not parse" in p for p in problems), problems
    (replies / "common.en.toml").write_text(
        'apology = "Sorry {{ customer.nmae }}."\nrefund = "Refunded."\n', encoding="utf-8"
    )
    problems = [str(p) for p in check(load_playbooks(tmp_path))]
    assert any("no reply fragment 'refund' in pl" in p for p in problems), problems
    (replies / "common.pl.toml").write_text(
        'apology = "Przepraszamy."\nrefund = "Zwrot."\n', encoding="utf-8"
    )
    problems = [str(p) for p in check(load_playbooks(tmp_path))]
    assert problems and all("nmae" in p for p in problems), problems


def test_fragment_errors_name_the_line_found_when_first_needed(tmp_path: Path) -> None:
    # lines are looked up only when an error needs one (a reply that renders never does):
    # each must still be the fragment's own line, in plain keys, tables and multi-line text
    from cxplay._replies.renderer import Renderer
    from cxplay.errors import RenderError

    replies = tmp_path / "replies"
    replies.mkdir()
    (replies / "common.en.toml").write_text(
        "# fragments\n"
        'apology = "Sorry."\n'
        "\n"
        "[situation]\n"
        'parcel_late = "Late {{ 1 / 0 }}."\n'
        'closing = """\n'
        "Bye {{ customer.nmae }}.\n"
        '"""\n',
        encoding="utf-8",
    )
    (replies / "extra.en.toml").write_text('\n\napology = "Again."\n', encoding="utf-8")
    renderer = Renderer([replies], problems=[])
    problems = [str(p) for p in renderer.load_all()]
    catalog, extra = replies / "common.en.toml", replies / "extra.en.toml"
    assert problems == [f"{extra}:3: apology: fragment defined twice (also in {catalog}:2)"], (
        problems
    )
    with pytest.raises(RenderError, match=rf"^{catalog}:5: situation\.parcel_late \(en\)"):
        renderer.fragment("en", "situation.parcel_late", "email", {})
    with pytest.raises(RenderError, match=rf"^{catalog}:7: situation\.closing \(en\)"):
        renderer.fragment("en", "situation.closing", "email", {"customer": {}})
    assert renderer.origin[("en", "apology")] == f"{catalog}:2"
    with pytest.raises(KeyError):
        renderer.origin[("en", "nothing")]
