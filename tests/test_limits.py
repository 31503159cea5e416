"""Playbooks at and beyond durable_rules' capacity limits.

durable fails on data-dependent limits (error 303 when more than 64 sibling tests are true at
once, 108 for ~256 identical conditions, a hang of ``create_ruleset`` at 513 distinct sibling
tests, ~254 fields per fact). cxplay's compiler cuts rulesets into chunks that stay inside
them, and refuses at load time (CompileError naming file, line and rule) what cannot fit. Here
every such playbook either works -- with the same answers as the reference backend -- or is
refused at load time; none may hang: the risky loads run in a subprocess with a timeout.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pytest

from cxplay import CompileError, Engine, IncidentError, load_playbooks
from cxplay._engine.compiler import MAX_FIELDS, MAX_LEAVES, MAX_TRUE, compile_program
from cxplay._engine.durable import AVAILABLE as DURABLE
from cxplay.models import MAX_FACTS

needs_durable = pytest.mark.skipif(not DURABLE, reason="durable_rules does not import")
BACKENDS = [pytest.param("durable", marks=needs_durable), "python"]

#: A load that hangs would hang the suite: the risky ones run in a subprocess with this limit.
TIMEOUT = 60


def playbook(
    directory: Path,
    rules: Iterable[tuple[str, str]],
    *,
    facts: dict[str, str] | None = None,
    name: str = "p",
) -> Path:
    """Write a playbook file of (rule id, condition) pairs; return its path."""
    parts = [f'[playbook]\nid = "{name}"\nversion = "1.0.0"\n']
    if facts:
        parts.append("[facts]\n" + "".join(f'{k} = "{v}"\n' for k, v in facts.items()))
    for rule_id, when in rules:
        parts.append(
            f'\n[[rule]]\nid = "{rule_id}"\nwhen = "{when}"\nactions = [{{ kind = "apology" }}]\n'
        )
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{name}.toml"
    path.write_text("".join(parts), encoding="utf-8")
    return path


def ids(engine: Engine, incident: dict[str, Any]) -> list[str]:
    return [m.rule for m in engine.evaluate(incident)]


def run_isolated(directory: Path, backend: str, incidents: list[dict[str, Any]]) -> dict[str, Any]:
    """Load ``directory`` and evaluate ``incidents`` in a fresh interpreter, with a timeout.

    Returns ``{"answers": [[rule ids], ...]}`` or ``{"error": class name, "problems": [...]}``.
    """
    script = textwrap.dedent(
        """
        import json, sys
        from cxplay import Engine, PlaybookError
        directory, backend, incidents = sys.argv[1], sys.argv[2], json.loads(sys.stdin.read())
        try:
            engine = Engine.from_path(directory, backend=backend)
        except PlaybookError as exc:
            problems = [
                {"message": p.message, "file": p.file, "line": p.line, "rule": p.rule}
                for p in exc.problems
            ]
            print(json.dumps({"error": type(exc).__name__, "text": str(exc), "problems": problems}))
        else:
            answers = [[m.rule for m in engine.evaluate(i)] for i in incidents]
            print(json.dumps({"answers": answers}))
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script, str(directory), backend],
        input=json.dumps(incidents),
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr, done.stderr
    result: dict[str, Any] = json.loads(done.stdout)
    return result


def python_answers(directory: Path, incidents: list[dict[str, Any]]) -> list[list[str]]:
    engine = Engine.from_path(directory, backend="python")
    return [ids(engine, i) for i in incidents]


def assert_chunks_within_limits(directory: Path) -> int:
    """Every durable chunk stays inside the limits; return the number of chunks."""
    program = compile_program(load_playbooks(directory), prefix="limits")
    chunks = [*program.generic, *(c for cs in program.by_type.values() for c in cs)]
    for chunk in chunks:
        # every rule has at least one test that can be true: rules per chunk <= MAX_TRUE
        assert len(chunk.rules) <= MAX_TRUE
        assert len(chunk.fields) + len(chunk.regexes) <= MAX_FIELDS
        assert len(chunk.definition) <= 4096
    return len(chunks)


def rule_lines(path: Path, rule_id: str) -> tuple[int, int]:
    """(line of the rule's [[rule]] header, line of its when) in ``path``."""
    lines = path.read_text(encoding="utf-8").splitlines()
    at = lines.index(f'id = "{rule_id}"')
    return at, at + 2  # 1-based: the header is the line before id, when the line after


# --------------------------------------------------------------------------- > 64 true at once


TRUE_AT_ONCE = {
    # template of rule i, an incident for which all 70 rules hold
    "greater": ("type == 'order' and order.value > {i}", {"order": {"value": 1000}}),
    "not-equal": ("type == 'order' and facts.n != {i}", {"facts": {"n": 1000}}),
    "not-less": ("type == 'order' and not (facts.n < {i})", {"facts": {"n": 1000}}),
    "not-in": ("type == 'order' and facts.s not in ['v{i}', 'w{i}']", {"facts": {"s": "x"}}),
    "generic": ("order.value >= {i}", {"order": {"value": 1000}}),
    "missing": ("type == 'order' and not (facts.n > {i})", {}),
}


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("case", list(TRUE_AT_ONCE))
def test_70_rules_true_at_once(tmp_path: Path, backend: str, case: str) -> None:
    template, extra = TRUE_AT_ONCE[case]
    playbook(
        tmp_path,
        ((f"r{i}", template.format(i=i)) for i in range(70)),
        facts={"n": "number", "s": "string"},
    )
    assert assert_chunks_within_limits(tmp_path) >= 2  # the compiler had to cut
    engine = Engine.from_path(tmp_path, backend=backend)
    everything = {"type": "order", **extra}
    assert ids(engine, everything) == [f"r{i}" for i in range(70)]
    assert ids(engine, everything) == python_answers(tmp_path, [everything])[0]


@pytest.mark.parametrize("backend", BACKENDS)
def test_70_rules_true_at_once_partially(tmp_path: Path, backend: str) -> None:
    playbook(tmp_path, ((f"r{i}", f"type == 'order' and order.value > {i}") for i in range(70)))
    engine = Engine.from_path(tmp_path, backend=backend)
    incidents = [
        {"type": "order", "order": {"value": v}} for v in (0, 1, 35.5, 63, 64, 64.5, 65, 69, 70)
    ] + [{"type": "order"}, {"type": "other", "order": {"value": 1000}}]
    expected = python_answers(tmp_path, incidents)
    assert [ids(engine, i) for i in incidents] == expected
    assert expected[2] == [f"r{i}" for i in range(36)]
    assert expected[-1] == expected[-2] == []


@pytest.mark.parametrize("backend", BACKENDS)
def test_alternatives_at_the_limit_in_one_rule(tmp_path: Path, backend: str) -> None:
    alternatives = " or ".join(f"order.value > {i}" for i in range(MAX_TRUE))
    playbook(tmp_path, [("wide", f"type == 'x' and ({alternatives})")])
    engine = Engine.from_path(tmp_path, backend=backend)
    assert ids(engine, {"type": "x", "order": {"value": 1000}}) == ["wide"]
    assert ids(engine, {"type": "x", "order": {"value": 0}}) == []


@needs_durable
def test_alternatives_beyond_the_limit_refused_at_load(tmp_path: Path) -> None:
    alternatives = " or ".join(f"facts.f{i} == 1" for i in range(MAX_TRUE + 1))
    path = playbook(
        tmp_path,
        [("fine", "type == 'x'"), ("wide", f"type == 'x' and ({alternatives})")],
        facts={f"f{i}": "number" for i in range(MAX_TRUE + 1)},
    )
    with pytest.raises(CompileError) as info:
        Engine.from_path(tmp_path, backend="durable")
    (problem,) = info.value.problems
    assert problem.file == str(path)
    assert problem.rule == "wide"
    assert problem.line in rule_lines(path, "wide")
    assert f"{MAX_TRUE + 1} alternatives" in problem.message
    assert "\n" not in str(info.value)


# --------------------------------------------------------------------------- identical conditions


@pytest.mark.parametrize("backend", BACKENDS)
def test_300_identical_conditions(tmp_path: Path, backend: str) -> None:
    playbook(
        tmp_path,
        ((f"r{i}", "type == 'x' and facts.n == 1") for i in range(300)),
        facts={"n": "number"},
    )
    assert_chunks_within_limits(tmp_path)
    engine = Engine.from_path(tmp_path, backend=backend)
    assert ids(engine, {"type": "x", "facts": {"n": 1}}) == [f"r{i}" for i in range(300)]
    assert ids(engine, {"type": "x", "facts": {"n": 2}}) == []
    assert ids(engine, {"type": "x"}) == []


@pytest.mark.parametrize("backend", BACKENDS)
def test_300_identical_generic_conditions(tmp_path: Path, backend: str) -> None:
    playbook(tmp_path, ((f"r{i}", "channel == 'email'") for i in range(300)))
    engine = Engine.from_path(tmp_path, backend=backend)
    assert len(ids(engine, {"type": "any", "channel": "email"})) == 300
    assert ids(engine, {"type": "any", "channel": "chat"}) == []


# --------------------------------------------------------------------------- distinct siblings


SIBLINGS = {
    "number": ("facts.n == {i}", lambda i: {"facts": {"n": i}}),
    "string": ("customer.tier == 't{i}'", lambda i: {"customer": {"tier": f"t{i}"}}),
    "typed": ("type == 'x' and facts.n == {i}", lambda i: {"facts": {"n": i}}),
}


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("case", list(SIBLINGS))
def test_600_distinct_sibling_conditions(tmp_path: Path, backend: str, case: str) -> None:
    template, make = SIBLINGS[case]
    playbook(tmp_path, ((f"r{i}", template.format(i=i)) for i in range(600)), facts={"n": "number"})
    assert_chunks_within_limits(tmp_path)
    probes = [0, 1, 63, 64, 255, 256, 399, 400, 511, 512, 513, 599, 600, 1000]
    incidents = [{"type": "x", **make(i)} for i in probes] + [{"type": "x"}]
    result = run_isolated(tmp_path, backend, incidents)
    expected = [[f"r{i}"] if i < 600 else [] for i in probes] + [[]]
    assert result == {"answers": expected}
    assert python_answers(tmp_path, incidents) == expected


# --------------------------------------------------------------------------- long `in` lists


def in_list(values: Iterable[int]) -> str:
    return "[" + ", ".join(str(v) for v in values) + "]"


@pytest.mark.parametrize("backend", BACKENDS)
def test_in_list_at_the_limit_works(tmp_path: Path, backend: str) -> None:
    # a generic rule: MAX_LEAVES values are exactly MAX_LEAVES tests
    playbook(
        tmp_path,
        [("listed", f"facts.n in {in_list(range(MAX_LEAVES))}")],
        facts={"n": "number"},
    )
    probes = [0, 1, MAX_LEAVES // 2, MAX_LEAVES - 1, MAX_LEAVES, -1]
    incidents = [{"type": "x", "facts": {"n": n}} for n in probes] + [{"type": "x"}]
    expected = [["listed"]] * 4 + [[]] * 3
    assert run_isolated(tmp_path, backend, incidents) == {"answers": expected}


@pytest.mark.parametrize("backend", BACKENDS)
def test_not_in_list_near_the_limit_works(tmp_path: Path, backend: str) -> None:
    # `not in` is (missing or all different): MAX_LEAVES - 1 values make MAX_LEAVES tests
    playbook(
        tmp_path,
        [("unlisted", f"facts.n not in {in_list(range(MAX_LEAVES - 1))}")],
        facts={"n": "number"},
    )
    probes = [0, MAX_LEAVES - 2, MAX_LEAVES - 1, 10_000, -1]
    incidents = [{"type": "x", "facts": {"n": n}} for n in probes] + [{"type": "x"}]
    expected = [[], [], ["unlisted"], ["unlisted"], ["unlisted"], ["unlisted"]]
    assert run_isolated(tmp_path, backend, incidents) == {"answers": expected}
    assert python_answers(tmp_path, incidents) == expected


def test_in_list_of_500_values(tmp_path: Path) -> None:
    """Beyond MAX_LEAVES tests: refused at load (never a hang), on both backends alike."""
    path = playbook(
        tmp_path,
        [("ok", "type == 'x'"), ("long", f"type == 'x' and facts.n in {in_list(range(500))}")],
        facts={"n": "number"},
    )
    incidents = [{"type": "x", "facts": {"n": n}} for n in (0, 499, 500)]
    with pytest.raises(CompileError, match=f"at most {MAX_LEAVES}"):
        Engine.from_path(tmp_path, backend="python")
    if not DURABLE:
        pytest.skip("durable_rules does not import")
    result = run_isolated(tmp_path, "durable", incidents)
    assert result["error"] == "CompileError", result
    (problem,) = result["problems"]
    assert problem["file"] == str(path)
    assert problem["rule"] == "long"
    assert problem["line"] in rule_lines(path, "long")
    assert f"at most {MAX_LEAVES}" in problem["message"]
    assert "\n" not in result["text"]


# --------------------------------------------------------------------------- many `!=` in one rule


@pytest.mark.parametrize("backend", BACKENDS)
def test_13_negations_in_one_rule(tmp_path: Path, backend: str) -> None:
    when = "type == 'x' and " + " and ".join(f"facts.n != {i}" for i in range(13))
    playbook(tmp_path, [("neg", when)], facts={"n": "number"})
    engine = Engine.from_path(tmp_path, backend=backend)
    for n, expected in ((0, []), (12, []), (13, ["neg"]), (None, ["neg"])):
        facts = {} if n is None else {"n": n}
        assert ids(engine, {"type": "x", "facts": facts}) == expected


def many_negations(tmp_path: Path) -> Path:
    when = "type == 'x' and " + " and ".join(f"facts.n != {i}" for i in range(14))
    return playbook(tmp_path, [("ok", "type == 'x'"), ("neg", when)], facts={"n": "number"})


@needs_durable
def test_14_negations_in_one_rule_refused_at_load(tmp_path: Path) -> None:
    """durable allows at most 31 expressions in a sequence (its error 113): refused at load."""
    path = many_negations(tmp_path)
    result = run_isolated(tmp_path, "durable", [{"type": "x", "facts": {"n": 20}}])
    if "answers" in result:  # a future compiler may rewrite the rule so that it fits
        assert result == {"answers": [["ok", "neg"]]}
        return
    assert result["error"] == "CompileError", result
    (problem,) = result["problems"]
    assert problem["file"] == str(path)
    assert "\n" not in result["text"]


@pytest.mark.parametrize("backend", BACKENDS)
def test_many_negations_fit_in_one_rule(tmp_path: Path, backend: str) -> None:
    """'!=' compiles to a single test (absent values get a sentinel), so 40 of them fit."""
    when = "type == 'x' and " + " and ".join(f"facts.n != {i}" for i in range(40))
    playbook(tmp_path, [("ok", "type == 'x'"), ("neg", when)], facts={"n": "number"})
    engine = Engine.from_path(tmp_path, backend=backend)
    assert ids(engine, {"type": "x", "facts": {"n": 39}}) == ["ok"]
    assert ids(engine, {"type": "x", "facts": {"n": 40}}) == ["ok", "neg"]
    assert ids(engine, {"type": "x"}) == ["ok", "neg"]


def too_many_groups(tmp_path: Path) -> Path:
    """15 nested and/or groups: one more than durable's expression sequence holds."""
    groups = " and ".join(f"(facts.n == {i} or facts.n == {i + 100})" for i in range(14))
    return playbook(
        tmp_path,
        [("ok", "type == 'x'"), ("deep", f"type == 'x' and {groups}")],
        facts={"n": "number", "m": "number"},
    )


@pytest.mark.parametrize("backend", BACKENDS)
def test_too_many_groups_refused_at_load_naming_the_rule(tmp_path: Path, backend: str) -> None:
    """Refused on both backends alike: a playbook valid on one machine is valid on all."""
    path = too_many_groups(tmp_path)
    with pytest.raises(CompileError) as info:
        Engine.from_path(tmp_path, backend=backend)
    (problem,) = info.value.problems
    assert problem.rule == "deep"
    assert problem.line in rule_lines(path, "deep")
    assert "15 nested and/or groups" in problem.message
    assert "at most 14" in problem.message
    assert "error code" not in str(info.value)


# --------------------------------------------------------------------------- fields per fact


@pytest.mark.parametrize("backend", BACKENDS)
def test_rule_with_many_fields_at_the_limit(tmp_path: Path, backend: str) -> None:
    count = MAX_FIELDS - 1  # plus `type`; short names: a condition has at most 4,000 characters
    when = "type=='x' and " + " and ".join(f"facts.f{i}>=0" for i in range(count))
    playbook(tmp_path, [("wide", when)], facts={f"f{i}": "number" for i in range(count)})
    engine = Engine.from_path(tmp_path, backend=backend)
    full = {f"f{i}": i for i in range(count)}
    assert ids(engine, {"type": "x", "facts": full}) == ["wide"]
    assert ids(engine, {"type": "x", "facts": {**full, "f7": -1}}) == []
    del full["f100"]
    assert ids(engine, {"type": "x", "facts": full}) == []


@needs_durable
def test_rule_with_too_many_fields_refused_at_load(tmp_path: Path) -> None:
    count = MAX_FIELDS
    when = "type=='x' and " + " and ".join(f"facts.f{i}>=0" for i in range(count))
    path = playbook(tmp_path, [("wide", when)], facts={f"f{i}": "number" for i in range(count)})
    with pytest.raises(CompileError) as info:
        Engine.from_path(tmp_path, backend="durable")
    (problem,) = info.value.problems
    assert (problem.file, problem.rule) == (str(path), "wide")
    assert problem.line in rule_lines(path, "wide")
    assert "distinct fields" in problem.message


@pytest.mark.parametrize("backend", BACKENDS)
def test_every_field_of_a_maximal_incident(tmp_path: Path, backend: str) -> None:
    """MAX_FACTS facts plus every built-in field, each tested by some rule: chunks keep the
    facts sent to durable under its ~254 fields."""
    rules = [(f"fact{i}", f"type == 'x' and facts.f{i} == {i}") for i in range(MAX_FACTS)]
    builtin = {
        "id": "id == 'INC-1'",
        "channel": "channel == 'email'",
        "stage": "stage == 'delivery'",
        "severity": "severity == 'high'",
        "description": "description == 'broken'",
        "occurred": "exists(occurred_at)",
        "cid": "customer.id == 'C-1'",
        "cname": "customer.name == 'Anna'",
        "clang": "customer.language == 'pl'",
        "ctier": "customer.tier == 'gold'",
        "cltv": "customer.lifetime_value > 100",
        "corders": "customer.orders_count > 1",
        "ccomp": "customer.compensations_90d == 0",
        "csal": "customer.salutation == 'Pani'",
        "cgender": "customer.gender == 'female'",
        "ctz": "customer.timezone == 'Europe/Warsaw'",
        "oid": "order.id == 'O-1'",
        "ovalue": "order.value > 1",
        "ocur": "order.currency == 'PLN'",
        "ocarrier": "order.carrier == 'InPost'",
        "eid": "event.id == 'E-1'",
        "esession": "event.session == 'Keynote'",
        "espeaker": "event.speaker == 'Jan'",
    }
    rules += [(f"b.{k}", f"type == 'x' and {w}") for k, w in builtin.items()]
    playbook(tmp_path, rules, facts={f"f{i}": "number" for i in range(MAX_FACTS)})
    assert_chunks_within_limits(tmp_path)
    incident = {
        "id": "INC-1",
        "type": "x",
        "occurred_at": "2026-11-20T09:15:00+01:00",
        "channel": "email",
        "stage": "delivery",
        "severity": "high",
        "description": "broken",
        "customer": {
            "id": "C-1",
            "name": "Anna",
            "language": "pl",
            "tier": "gold",
            "lifetime_value": 2400,
            "orders_count": 14,
            "compensations_90d": 0,
            "salutation": "Pani",
            "gender": "female",
            "timezone": "Europe/Warsaw",
        },
        "order": {"id": "O-1", "value": 250, "currency": "PLN", "carrier": "InPost"},
        "event": {"id": "E-1", "session": "Keynote", "speaker": "Jan"},
        "facts": {f"f{i}": i for i in range(MAX_FACTS)},
    }
    engine = Engine.from_path(tmp_path, backend=backend)
    assert sorted(ids(engine, incident)) == sorted(r for r, _ in rules)
    assert ids(engine, {"type": "x"}) == []


@pytest.mark.parametrize("backend", BACKENDS)
def test_incident_fact_count_limit(tmp_path: Path, backend: str) -> None:
    playbook(tmp_path, [("last", "type == 'x' and facts.f149 == 149")], facts={"f149": "number"})
    engine = Engine.from_path(tmp_path, backend=backend)
    assert ids(engine, {"type": "x", "facts": {f"f{i}": i for i in range(150)}}) == ["last"]
    assert ids(engine, {"type": "x", "facts": {f"f{i}": i for i in range(MAX_FACTS)}}) == ["last"]
    for count in (MAX_FACTS + 1, 300):
        with pytest.raises(IncidentError, match=f"at most {MAX_FACTS} facts"):
            engine.evaluate({"type": "x", "facts": {f"f{i}": i for i in range(count)}})


# --------------------------------------------------------------------------- many rules


def test_4500_rules_across_types(tmp_path: Path) -> None:
    types = 45
    for part in range(3):
        playbook(
            tmp_path,
            (
                (f"r{n}", f"type == 't{n % types}' and facts.n >= {n % 100}")
                if n % 50
                else (f"r{n}", f"facts.n >= {n % 100} and channel == 'chat'")
                for n in range(part * 1500, (part + 1) * 1500)
            ),
            facts={"n": "number"},
            name=f"part{part}",
        )
    incidents = [
        {"type": f"t{k % (types + 2)}", "facts": {"n": (k * 37) % 110}, "channel": "chat"}
        for k in range(60)
    ] + [{"type": "t3"}, {"type": "t3", "facts": {"n": 99}}]
    expected = python_answers(tmp_path, incidents)
    assert len(load_playbooks(tmp_path).rules) == 4500
    for incident, answer in zip(incidents, expected, strict=True):
        n = incident.get("facts", {}).get("n")
        typed = incident["type"].startswith("t") and int(incident["type"][1:]) < types
        want = {
            f"r{r}"
            for r in range(4500)
            if n is not None
            and r % 100 <= n
            and (
                (r % 50 and typed and r % types == int(incident["type"][1:]))
                or (not r % 50 and incident.get("channel") == "chat")
            )
        }
        assert set(answer) == want
    assert max(len(a) for a in expected) > 50
    if DURABLE:
        assert assert_chunks_within_limits(tmp_path) > types
        engine = Engine.from_path(tmp_path, backend="durable")
        assert [ids(engine, i) for i in incidents] == expected


@pytest.mark.slow
@pytest.mark.parametrize("backend", BACKENDS)
def test_4200_rules_in_one_type(tmp_path: Path, backend: str) -> None:
    """More rules than durable takes in one ruleset (4,096), all for the same type."""
    playbook(
        tmp_path,
        ((f"r{n}", f"type == 'big' and facts.n >= {n % 100}") for n in range(4200)),
        facts={"n": "number"},
    )
    engine = Engine.from_path(tmp_path, backend=backend)
    matched = ids(engine, {"type": "big", "facts": {"n": 50}})
    assert len(matched) == 42 * 51
    assert matched == [f"r{n}" for n in range(4200) if n % 100 <= 50]
    assert len(ids(engine, {"type": "big", "facts": {"n": 100}})) == 4200
    assert ids(engine, {"type": "big"}) == []


# --------------------------------------------------------------------------- generic rules


@pytest.mark.parametrize("backend", BACKENDS)
def test_generic_rules_share_each_type_partition(tmp_path: Path, backend: str) -> None:
    """A type's partition holds the generic rules too: beyond one chunk they are cut after it."""
    playbook(
        tmp_path,
        [(f"t{i}", f"type == 'x' and facts.n >= {i}") for i in range(50)]
        + [(f"g{i}", f"facts.n >= {i}") for i in range(40)],
        facts={"n": "number"},
    )
    playbooks = load_playbooks(tmp_path)
    program = compile_program(playbooks, prefix="shared")
    generic = {p for chunk in program.generic for p in chunk.rules}
    typed = [p for chunk in program.chunks_for("x") for p in chunk.rules]
    assert len(program.chunks_for("x")) == 2  # 90 rules true at once: more than MAX_TRUE
    assert sorted(typed) == list(range(90)) and generic == set(range(50, 90))
    assert program.chunks_for("y") == program.generic
    assert_chunks_within_limits(tmp_path)
    incidents = [
        {"type": t, "facts": {"n": n}} for t in ("x", "y") for n in (-1, 0, 10, 45, 60)
    ] + [{"type": "x"}, {"type": "y"}]
    engine = Engine.from_path(tmp_path, backend=backend)
    answers = [ids(engine, i) for i in incidents]
    assert answers == python_answers(tmp_path, incidents)
    assert answers[3] == [f"t{i}" for i in range(46)] + [f"g{i}" for i in range(40)]
    assert answers[8] == [f"g{i}" for i in range(40)]


def count_durable_calls(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """From now on, "assert" and "fire" (a further action) for each such durable C call."""
    from cxplay._engine import durable

    calls: list[str] = []
    real = durable._engine

    class Counting:
        def __getattr__(self, name: str) -> Any:
            return getattr(real, name)

        def assert_fact(self, handle: int, text: str) -> Any:
            calls.append("assert")
            return real.assert_fact(handle, text)

        def complete_and_start_action(self, handle: int, state: str) -> Any:
            calls.append("fire")
            return real.complete_and_start_action(handle, state)

    monkeypatch.setattr(durable, "_engine", Counting())
    return calls


@needs_durable
def test_shipped_playbooks_assert_once_per_evaluation(monkeypatch: pytest.MonkeyPatch) -> None:
    """The shipped playbooks fit one chunk per type: one assertion per evaluation, not two."""
    engine = Engine.from_path(backend="durable")
    examples = sorted((Path(__file__).parent.parent / "examples" / "incidents").glob("*.json"))
    assert examples
    incidents = [json.loads(p.read_text(encoding="utf-8")) for p in examples]
    python = Engine.from_path(backend="python")
    for incident in incidents:
        engine.evaluate(incident)  # sessions primed before counting
    calls = count_durable_calls(monkeypatch)
    for incident in incidents:
        calls.clear()
        assert ids(engine, incident) == ids(python, incident)
        assert calls.count("assert") == 1, incident["type"]


@needs_durable
@pytest.mark.parametrize("mixed", [False, True])
def test_rules_true_for_their_whole_partition_skip_durable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, mixed: bool
) -> None:
    """A rule whose condition is its type alone is decided at load, not sent to durable."""
    rules = [("a", "type == 'x'"), ("b", "type in ['x', 'y']")]
    if mixed:
        rules += [("c", "type == 'x' and facts.n > 1"), ("d", "facts.n > 5")]
    playbook(tmp_path, rules, facts={"n": "number"})
    engine = Engine.from_path(tmp_path, backend="durable")
    incidents = [{"type": t, "facts": {"n": n}} for t in ("x", "y", "z") for n in (0, 3, 9)] + [
        {"type": "x"}
    ]
    for incident in incidents:
        engine.evaluate(incident)  # sessions primed before counting
    fired = count_durable_calls(monkeypatch)
    answers = [ids(engine, i) for i in incidents]
    assert answers == python_answers(tmp_path, incidents)
    assert answers[2] == (["a", "b", "c", "d"] if mixed else ["a", "b"])
    if not mixed:  # nothing left for durable to decide
        assert fired == []
    else:  # only c and d reach durable: a and b never fire there
        assert fired.count("assert") == len(incidents)
        engine.evaluate({"type": "x", "facts": {"n": 0}})
        fired.clear()
        engine.evaluate({"type": "x", "facts": {"n": 0}})
        assert fired == ["assert"]
