"""Property test: the durable backend and the reference backend always agree.

Random rules (conditions drawn from the whole condition language) x random incidents:
both backends must return the same matches in the same order. Each example checks
INCIDENTS_PER_EXAMPLE incidents, so the default run compares well over 10,000 cases.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cxplay import Engine
from cxplay._engine.durable import AVAILABLE

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not AVAILABLE, reason="durable_rules does not import here"),
]

EXAMPLES = int(__import__("os").environ.get("CXPLAY_DIFF_EXAMPLES", "450"))
INCIDENTS_PER_EXAMPLE = 25

TYPES = ["parcel_damaged", "parcel_late", "queue_long", "speaker_late"]
CHANNELS = ["email", "chat", "sms", "social_public", "phone"]
TIERS = ["gold", "silver", "bronze", "zażółć", 'quote"s', "back\\slash", ""]
TAGS = ["vip", "new", "łódź", "日本", "a'b"]
NUMBERS = [-5, 0, 1, 2, 2.5, 10, 99.99, 100, 250, 1e6, 1e-05, 5e-324, -1e-07, 2**53]
WORDS = ["broken", "late", "smashed", "fine", "Broken glass", "{{ 7*7 }}", ""]
PATTERNS = ["broken|smashed", "^late$", "(?i)glass", "\\d+", "^$"]

FIELDS = {
    "type": ("string", TYPES),
    "channel": ("string", CHANNELS),
    "customer.tier": ("string", TIERS),
    "order.value": ("number", NUMBERS),
    "facts.delay": ("number", NUMBERS),
    "facts.flag": ("boolean", [True, False]),
    "facts.tag": ("string", TAGS),
    "description": ("string", WORDS),
}


def lit(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return repr(value)
    return repr(value)


@st.composite
def leaf(draw: st.DrawFn) -> str:
    path = draw(st.sampled_from(sorted(FIELDS)))
    kind, pool = FIELDS[path]
    choice = draw(st.integers(0, 9))
    if choice == 0:
        return f"exists({path})"
    if choice == 1 and path == "description":
        return f"matches({path}, {draw(st.sampled_from(PATTERNS))!r})"
    if choice in (2, 3) and kind != "boolean":
        values = draw(st.lists(st.sampled_from(pool), min_size=1, max_size=4, unique=True))
        op = "in" if choice == 2 else "not in"
        return f"{path} {op} [{', '.join(lit(v) for v in values)}]"
    if kind == "number":
        op = draw(st.sampled_from(["==", "!=", "<", "<=", ">", ">="]))
    else:
        op = draw(st.sampled_from(["==", "!="]))
    value = draw(st.sampled_from(pool))
    if kind == "boolean" and choice == 4:
        return path
    return f"{path} {op} {lit(value)}"


def condition(depth: int = 2) -> st.SearchStrategy[str]:
    def extend(children: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
        return st.one_of(
            st.lists(children, min_size=2, max_size=3).map(
                lambda xs: " and ".join(f"({x})" for x in xs)
            ),
            st.lists(children, min_size=2, max_size=3).map(
                lambda xs: " or ".join(f"({x})" for x in xs)
            ),
            children.map(lambda x: f"not ({x})"),
        )

    return st.recursive(leaf(), extend, max_leaves=6)


@st.composite
def rule_set(draw: st.DrawFn) -> list[tuple[str, int, str | None]]:
    count = draw(st.integers(1, 25))
    rules = []
    for _ in range(count):
        when = draw(condition())
        if draw(st.booleans()):
            when = f"type == {draw(st.sampled_from(TYPES))!r} and ({when})"
        priority = draw(st.integers(0, 5))
        group = draw(st.sampled_from([None, None, "g1", "g2"]))
        rules.append((when, priority, group))
    return rules


@st.composite
def incident(draw: st.DrawFn) -> dict[str, object]:
    data: dict[str, object] = {"type": draw(st.sampled_from([*TYPES, "other"]))}
    if draw(st.booleans()):
        data["channel"] = draw(st.sampled_from(CHANNELS))
    if draw(st.booleans()):
        data["description"] = draw(st.sampled_from(WORDS))
    if draw(st.booleans()):
        data["customer"] = {"tier": draw(st.sampled_from(TIERS))}
    if draw(st.booleans()):
        data["order"] = {"value": draw(st.sampled_from([n for n in NUMBERS if n >= 0]))}
    facts: dict[str, object] = {}
    if draw(st.booleans()):
        facts["delay"] = draw(st.sampled_from(NUMBERS))
    if draw(st.booleans()):
        facts["flag"] = draw(st.booleans())
    if draw(st.booleans()):
        facts["tag"] = draw(st.sampled_from(TAGS))
    if facts:
        data["facts"] = facts
    return data


def write_playbook(directory: Path, rules: list[tuple[str, int, str | None]]) -> None:
    lines = [
        "[playbook]",
        'id = "random"',
        'version = "1.0.0"',
        "[facts]",
        'delay = "number"',
        'flag = "boolean"',
        'tag = "string"',
    ]
    for number, (when, priority, group) in enumerate(rules):
        lines += ["[[rule]]", f'id = "r{number}"', f"when = {json.dumps(when, ensure_ascii=False)}"]
        lines += [f"priority = {priority}", 'actions = [{ kind = "apology" }]']
        if group:
            lines.append(f'group = "{group}"')
    (directory / "random.toml").write_text("\n".join(lines), encoding="utf-8")


@settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    rules=rule_set(),
    incidents=st.lists(incident(), min_size=INCIDENTS_PER_EXAMPLE, max_size=INCIDENTS_PER_EXAMPLE),
)
def test_durable_agrees_with_reference(
    tmp_path_factory: pytest.TempPathFactory,
    rules: list[tuple[str, int, str | None]],
    incidents: list[dict[str, object]],
) -> None:
    directory = tmp_path_factory.mktemp("pb")
    write_playbook(directory, rules)
    with Engine.from_path(directory, backend="durable") as durable:
        reference = Engine.from_path(directory, backend="python")
        for case in incidents:
            expected = reference.evaluate(case)
            got = durable.evaluate(case)
            assert got == expected, (case, [r[0] for r in rules])
            # explain uses per-node closures; the backend a generated function: same meaning
            traced = {t.rule for t in reference.explain(case) if t.matched}
            assert traced == {m.rule for m in expected}, (case, [r[0] for r in rules])
            assert durable.suggest(case).actions == reference.suggest(case).actions
