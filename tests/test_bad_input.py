"""Every bad input gets a clear error: the right exception, one line per problem, located.

Playbook problems must name the file, the line and (where there is one) the rule id, with a
helpful message; incident problems must say what is wrong without echoing huge inputs. None
of them may escape as a traceback (a RecursionError, a pydantic ValidationError, ...).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from cxplay import (
    CompileError,
    ConditionError,
    CxplayError,
    Engine,
    IncidentError,
    LoadError,
    PlaybookError,
    SchemaError,
    load_playbooks,
)
from cxplay._engine.durable import AVAILABLE as DURABLE

BACKENDS = [
    pytest.param(
        "durable", marks=pytest.mark.skipif(not DURABLE, reason="durable_rules does not import")
    ),
    "python",
]

HEAD = '[playbook]\nid = "{pid}"\nversion = "1.0.0"\n'


def head(pid: str = "p") -> str:
    return HEAD.format(pid=pid)


def rule(rule_id: str, when: str, *, extra: str = "", actions: str = '{ kind = "apology" }') -> str:
    """A [[rule]] table; ``when`` is written as a TOML basic string (use single quotes in it)."""
    return f'\n[[rule]]\nid = "{rule_id}"\nwhen = "{when}"\n{extra}actions = [{actions}]\n'


def write(directory: Path, name: str, text: str) -> Path:
    path = directory / name
    path.write_text(text, encoding="utf-8")
    return path


def line_of(text: str, needle: str, start: int = 1) -> int:
    """1-based number of the first line at or after ``start`` that contains ``needle``."""
    for number, line in enumerate(text.splitlines(), start=1):
        if number >= start and needle in line:
            return number
    raise AssertionError(f"{needle!r} not in the text")


def assert_clean(exc: BaseException) -> None:
    """A cxplay error, printable as is: no chained traceback, no traceback text."""
    assert isinstance(exc, CxplayError)
    assert exc.__cause__ is None
    assert exc.__context__ is None or exc.__suppress_context__
    assert "Traceback" not in str(exc)


def assert_problems(
    exc: PlaybookError, expected: list[tuple[Path | None, int | None, str | None, str]]
) -> None:
    """Each expected (file, line, rule id, message fragment) is one problem, one line each."""
    assert_clean(exc)
    text = str(exc)
    assert len(text.splitlines()) == len(exc.problems), text
    assert len(exc.problems) == len(expected), text
    for problem in exc.problems:
        assert "\n" not in str(problem), repr(str(problem))
    remaining = list(exc.problems)
    for file, line, rule_id, fragment in expected:
        found = [
            p
            for p in remaining
            if (file is None or p.file == str(file))
            and (line is None or p.line == line)
            and p.rule == rule_id
            and fragment in p.message
        ]
        assert found, f"no problem {file}:{line}: {rule_id}: ...{fragment}... in\n{text}"
        problem = found[0]
        remaining.remove(problem)
        rendered = str(problem)
        assert rendered in text.splitlines()
        if file is not None:
            location = f"{file}:{line}: " if line is not None else f"{file}:"
            assert rendered.startswith(location), rendered
            assert file.name in rendered
        if rule_id is not None:
            assert f": {rule_id}: " in rendered, rendered


Loader = Callable[[Path], Any]


@pytest.fixture(
    params=[
        "load_playbooks",
        pytest.param(
            "durable", marks=pytest.mark.skipif(not DURABLE, reason="durable_rules does not import")
        ),
        "python",
    ]
)
def load(request: pytest.FixtureRequest) -> Loader:
    """Load a directory as the loader does, and as each backend's Engine does."""
    if request.param == "load_playbooks":
        return load_playbooks
    backend = request.param
    return lambda path: Engine.from_path(path, backend=backend)


def load_error(load: Loader, directory: Path, kind: type[PlaybookError]) -> PlaybookError:
    with pytest.raises(kind) as info:
        load(directory)
    return info.value


# --------------------------------------------------------------------------- broken TOML


def test_broken_toml(tmp_path: Path, load: Loader) -> None:
    text = head() + '\n[[rule]]\nid = "r1\nwhen = "type == \'x\'"\n'
    path = write(tmp_path, "broken.toml", text)
    exc = load_error(load, tmp_path, LoadError)
    assert_problems(exc, [(path, line_of(text, 'id = "r1'), None, "invalid TOML")])


def test_broken_toml_unclosed_table(tmp_path: Path, load: Loader) -> None:
    text = head() + "\n[policy\ncaps = {}\n"
    path = write(tmp_path, "p.toml", text)
    exc = load_error(load, tmp_path, LoadError)
    assert_problems(exc, [(path, line_of(text, "[policy"), None, "invalid TOML")])


def test_invalid_utf8(tmp_path: Path, load: Loader) -> None:
    path = tmp_path / "p.toml"
    path.write_bytes(head().encode() + b'title = "caf\xe9"\n')
    exc = load_error(load, tmp_path, LoadError)
    assert_problems(exc, [(path, 4, None, "not valid UTF-8")])


# --------------------------------------------------------------------------- unknown keys


def test_unknown_key_in_rule(tmp_path: Path, load: Loader) -> None:
    text = head() + rule("r1", "type == 'x'", extra="priorty = 10\n")
    path = write(tmp_path, "p.toml", text)
    exc = load_error(load, tmp_path, SchemaError)
    assert_problems(
        exc,
        [(path, line_of(text, "priorty"), "r1", "unknown key 'priorty'; did you mean 'priority'")],
    )


def test_unknown_key_in_playbook_table(tmp_path: Path, load: Loader) -> None:
    text = head() + 'titel = "Parcels"\n' + rule("r1", "type == 'x'")
    path = write(tmp_path, "p.toml", text)
    exc = load_error(load, tmp_path, SchemaError)
    assert_problems(exc, [(path, line_of(text, "titel"), None, "did you mean 'title'")])


def test_unknown_top_level_table(tmp_path: Path, load: Loader) -> None:
    text = head() + "\n[polcy]\napproval_above = 100\n"
    path = write(tmp_path, "p.toml", text)
    exc = load_error(load, tmp_path, SchemaError)
    assert_problems(exc, [(path, line_of(text, "[polcy]"), None, "did you mean 'policy'")])


def test_unknown_key_in_action(tmp_path: Path, load: Loader) -> None:
    actions = '\n  { kind = "apology" },\n  { kind = "refund", percnt = 10 },\n'
    text = head() + rule("r1", "type == 'x'", actions=actions)
    path = write(tmp_path, "p.toml", text)
    exc = load_error(load, tmp_path, SchemaError)
    assert_problems(exc, [(path, line_of(text, "percnt"), "r1", "did you mean 'percent'")])
    assert exc.problems[0].key == "actions[1]"


# --------------------------------------------------------------------------- wrong value types


@pytest.mark.parametrize(
    ("extra", "actions", "needle", "fragment"),
    [
        ('priority = "high"\n', '{ kind = "apology" }', "priority", "valid integer"),
        ("priority = 5000\n", '{ kind = "apology" }', "priority", "less than or equal to 1000"),
        ("stop = 3\n", '{ kind = "apology" }', "stop", "valid boolean"),
        ("", '{ kind = "refund", percent = "all" }', "percent", "valid number"),
        ("", '{ kind = "refund" }', "refund", "exactly one of 'percent' or 'amount'"),
    ],
)
def test_wrong_value_type_in_rule(
    tmp_path: Path, load: Loader, extra: str, actions: str, needle: str, fragment: str
) -> None:
    text = head() + rule("r1", "type == 'x'", extra=extra, actions=actions)
    path = write(tmp_path, "p.toml", text)
    exc = load_error(load, tmp_path, SchemaError)
    assert_problems(exc, [(path, line_of(text, needle, start=5), "r1", "")])
    assert fragment in str(exc)


def test_wrong_value_type_in_playbook_table(tmp_path: Path, load: Loader) -> None:
    text = '[playbook]\nid = "p"\nversion = "1.0.0"\nlanguages = "en"\n'
    path = write(tmp_path, "p.toml", text)
    exc = load_error(load, tmp_path, SchemaError)
    assert_problems(exc, [(path, 4, None, "valid list")])
    assert exc.problems[0].key == "playbook.languages"


def test_missing_required_key(tmp_path: Path, load: Loader) -> None:
    text = head() + '\n[[rule]]\nid = "r1"\nactions = [{ kind = "apology" }]\n'
    path = write(tmp_path, "p.toml", text)
    exc = load_error(load, tmp_path, SchemaError)
    assert_problems(exc, [(path, line_of(text, "[[rule]]"), "r1", "missing required key 'when'")])


def test_unknown_fact_type_is_one_clear_problem(tmp_path: Path) -> None:
    text = head() + '[facts]\nvip = "bool"\n'
    path = write(tmp_path, "p.toml", text)
    exc = load_error(load_playbooks, tmp_path, SchemaError)
    assert_problems(exc, [(path, line_of(text, "vip"), None, "'bool'")])
    assert "FactSpec" not in str(exc)
    assert "literal[" not in str(exc)


# --------------------------------------------------------------------------- action kinds


def test_unknown_action_kind(tmp_path: Path, load: Loader) -> None:
    text = head() + rule("r1", "type == 'x'", actions='{ kind = "refnd", percent = 10 }')
    path = write(tmp_path, "p.toml", text)
    exc = load_error(load, tmp_path, SchemaError)
    assert_problems(
        exc,
        [
            (
                path,
                line_of(text, "refnd"),
                "r1",
                "unknown action kind 'refnd'; did you mean 'refund'",
            )
        ],
    )


def test_unknown_action_kind_far_from_any(tmp_path: Path, load: Loader) -> None:
    text = head() + rule("r1", "type == 'x'", actions='{ kind = "teleport" }')
    path = write(tmp_path, "p.toml", text)
    exc = load_error(load, tmp_path, SchemaError)
    assert_problems(exc, [(path, line_of(text, "teleport"), "r1", "unknown action kind")])
    assert "refund" in str(exc)  # the valid kinds are listed


def test_action_without_kind_lists_the_kinds(tmp_path: Path) -> None:
    text = head() + rule("r1", "type == 'x'", actions="{ percent = 10 }")
    path = write(tmp_path, "p.toml", text)
    exc = load_error(load_playbooks, tmp_path, SchemaError)
    assert_problems(exc, [(path, line_of(text, "percent"), "r1", "missing 'kind'")])
    assert "refund" in str(exc)


# --------------------------------------------------------------------------- duplicate ids


def test_duplicate_rule_id_in_one_file(tmp_path: Path, load: Loader) -> None:
    text = head() + rule("r1", "type == 'x'") + rule("r1", "type == 'y'")
    path = write(tmp_path, "p.toml", text)
    first = line_of(text, 'id = "r1"')
    second = line_of(text, 'id = "r1"', start=first + 1)
    exc = load_error(load, tmp_path, SchemaError)
    assert_problems(exc, [(path, second, "r1", "duplicate rule id")])
    assert f"{path}:{first}" in str(exc)  # points at the first definition too


def test_duplicate_ids_across_files(tmp_path: Path, load: Loader) -> None:
    a = write(tmp_path, "a.toml", head("same") + rule("shared", "type == 'x'"))
    text_b = head("same") + rule("shared", "type == 'y'")
    b = write(tmp_path, "b.toml", text_b)
    exc = load_error(load, tmp_path, SchemaError)
    assert_problems(
        exc,
        [
            (b, line_of(text_b, 'id = "same"'), None, "duplicate playbook id 'same'"),
            (b, line_of(text_b, 'id = "shared"'), "shared", "duplicate rule id"),
        ],
    )
    assert str(a) in str(exc)


# --------------------------------------------------------------------------- conditions


@pytest.mark.parametrize(
    ("when", "fragment"),
    [
        ("type == 'x' and and", "does not parse"),
        ("type == 'x' and (order.value > 3", "does not parse"),
        ("type === 'x'", "does not parse"),
        ("type == 'x';", "does not parse"),
    ],
)
def test_condition_does_not_parse(tmp_path: Path, load: Loader, when: str, fragment: str) -> None:
    text = head() + rule("r1", when)
    path = write(tmp_path, "p.toml", text)
    exc = load_error(load, tmp_path, ConditionError)
    assert_problems(exc, [(path, line_of(text, "when ="), "r1", fragment)])
    assert "column " in exc.problems[0].message
    assert exc.problems[0].key == "when"


def test_condition_nested_too_deeply(tmp_path: Path, load: Loader) -> None:
    when = "(" * 1000 + "type == 'x'" + ")" * 1000
    text = head() + rule("r1", when)
    path = write(tmp_path, "p.toml", text)
    exc = load_error(load, tmp_path, ConditionError)
    assert_problems(exc, [(path, line_of(text, "when ="), "r1", "does not parse")])


@pytest.mark.parametrize(
    ("bad", "fragment"),
    [
        ("__import__('os')", "function calls are not allowed"),
        ("__import__('os').system('id')", "function calls are not allowed"),
        ("type.__class__", "names starting with '_' are not allowed"),
        ("x[0]", "subscripts ([...]) are not allowed"),
        ("(lambda: 1)", "lambdas are not allowed"),
        ("f'{x}'", "f-strings are not allowed"),
        ("[a for a in b]", "comprehensions are not allowed"),
        ("(x := 1)", "assignment expressions are not allowed"),
        ("order.value + 1 > 3", "arithmetic is not allowed"),
    ],
)
@pytest.mark.parametrize("prefix", ["", "type == 'x' and "])
def test_condition_calls_and_attributes_refused_with_position(
    tmp_path: Path, load: Loader, bad: str, fragment: str, prefix: str
) -> None:
    when = prefix + bad
    text = head() + rule("r1", when)
    path = write(tmp_path, "p.toml", text)
    exc = load_error(load, tmp_path, ConditionError)
    assert_problems(exc, [(path, line_of(text, "when ="), "r1", fragment)])
    # the column points into the offending part (1-based, within the expression)
    column = int(exc.problems[0].message.split("column ", 1)[1].split(":", 1)[0])
    assert len(prefix) < column <= len(when)


def test_unknown_field_did_you_mean(tmp_path: Path, load: Loader) -> None:
    text = head() + rule("r1", "type == 'x' and order.vlaue > 3")
    path = write(tmp_path, "p.toml", text)
    exc = load_error(load, tmp_path, ConditionError)
    assert_problems(
        exc,
        [
            (
                path,
                line_of(text, "when ="),
                "r1",
                "unknown field 'order.vlaue'; did you mean 'order.value'",
            )
        ],
    )
    assert "column 17" in str(exc)


def test_undeclared_fact(tmp_path: Path, load: Loader) -> None:
    text = head() + rule("r1", "type == 'x' and facts.delay > 3")
    path = write(tmp_path, "p.toml", text)
    exc = load_error(load, tmp_path, ConditionError)
    assert_problems(exc, [(path, line_of(text, "when ="), "r1", "[facts]")])


@pytest.mark.parametrize(
    ("when", "fragment"),
    [
        ("type == 'x' and order.value > 'abc'", "type mismatch"),
        ("channel == 3", "type mismatch"),
        ("facts.vip == 'yes'", "type mismatch"),
        ("customer.tier > 'gold'", "needs a number field"),
        ("channel == 'emial'", "did you mean 'email'"),
        ("order.value", "not a boolean"),
        ("order.value > customer.lifetime_value", "comparing two fields"),
        ("exists(facts.tags) and facts.tags == 'a'", "exists(facts.tags)"),
    ],
)
def test_condition_type_mismatch(tmp_path: Path, load: Loader, when: str, fragment: str) -> None:
    text = head() + '[facts]\nvip = "boolean"\ntags = "list"\n' + rule("r1", when)
    path = write(tmp_path, "p.toml", text)
    exc = load_error(load, tmp_path, ConditionError)
    assert_problems(exc, [(path, line_of(text, "when ="), "r1", fragment)])


# --------------------------------------------------------------------------- many at once


def test_several_condition_problems_reported_together(tmp_path: Path, load: Loader) -> None:
    text = (
        head()
        + rule("r1", "type == 'x' and order.vlaue > 3")
        + rule("ok", "type == 'x'")
        + rule("r2", "order.value > 'abc'")
        + rule("r3", "__import__('os')")
    )
    path = write(tmp_path, "p.toml", text)
    exc = load_error(load, tmp_path, ConditionError)
    assert_problems(
        exc,
        [
            (path, line_of(text, "order.vlaue"), "r1", "did you mean 'order.value'"),
            (path, line_of(text, "'abc'"), "r2", "type mismatch"),
            (path, line_of(text, "__import__"), "r3", "function calls are not allowed"),
        ],
    )


def test_several_schema_problems_reported_together(tmp_path: Path, load: Loader) -> None:
    text = (
        head()
        + rule("r1", "type == 'x'", extra="priorty = 10\n")
        + rule("r2", "type == 'x'", extra='priority = "high"\n')
        + rule("r3", "type == 'x'", actions='{ kind = "refnd", percent = 5 }')
    )
    path = write(tmp_path, "p.toml", text)
    exc = load_error(load, tmp_path, SchemaError)
    assert_problems(
        exc,
        [
            (path, line_of(text, "priorty"), "r1", "did you mean 'priority'"),
            (path, line_of(text, '"high"'), "r2", "valid integer"),
            (path, line_of(text, "refnd"), "r3", "did you mean 'refund'"),
        ],
    )


def test_problems_in_several_files_reported_together(tmp_path: Path, load: Loader) -> None:
    text_a = head("a") + rule("a1", "type == 'x'", extra="priorty = 10\n")
    text_b = head("b") + rule("b1", "order.vlaue > 3")
    text_c = "[playbook\n"
    a = write(tmp_path, "a.toml", text_a)
    b = write(tmp_path, "b.toml", text_b)
    c = write(tmp_path, "c.toml", text_c)
    exc = load_error(load, tmp_path, PlaybookError)
    assert type(exc) is PlaybookError  # mixed kinds
    assert_problems(
        exc,
        [
            (a, line_of(text_a, "priorty"), "a1", "did you mean 'priority'"),
            (b, line_of(text_b, "vlaue"), "b1", "did you mean 'order.value'"),
            (c, 1, None, "invalid TOML"),
        ],
    )


def test_schema_and_condition_problems_in_one_file_reported_together(tmp_path: Path) -> None:
    text = (
        head() + rule("r1", "type == 'x'", extra="priorty = 10\n") + rule("r2", "order.vlaue > 3")
    )
    path = write(tmp_path, "p.toml", text)
    exc = load_error(load_playbooks, tmp_path, PlaybookError)
    assert_problems(
        exc,
        [
            (path, line_of(text, "priorty"), "r1", "did you mean 'priority'"),
            (path, line_of(text, "vlaue"), "r2", "did you mean 'order.value'"),
        ],
    )


# --------------------------------------------------------------------------- one line each


@pytest.mark.parametrize(
    "text",
    [
        # a multi-line condition whose refused part is quoted from the source
        head() + rule("r1", "(type == 'x' and\\n (yield\\n 1))"),
        # a quoted key with a newline
        head() + '"a\\nb" = 1\n',
        # an action kind with a newline
        head() + rule("r1", "type == 'x'", actions='{ kind = "ref\\nnd" }'),
    ],
    ids=["condition-source", "key", "action-kind"],
)
def test_user_text_with_newlines_stays_on_one_line(tmp_path: Path, text: str) -> None:
    write(tmp_path, "p.toml", text)
    with pytest.raises(PlaybookError) as info:
        load_playbooks(tmp_path)
    assert len(str(info.value).splitlines()) == len(info.value.problems) == 1


@pytest.mark.parametrize(
    "value",
    ["[" * 1000 + "]" * 1000, "{a=" * 1000 + "1" + "}" * 1000],
    ids=["arrays", "inline-tables"],
)
def test_deeply_nested_toml(tmp_path: Path, value: str) -> None:
    text = head() + "\n[[test]]\nincident = { type = 'x', facts = { a = " + value + " } }\n"
    path = write(tmp_path, "p.toml", text)
    with pytest.raises(PlaybookError) as info:
        load_playbooks(tmp_path)
    assert_problems(info.value, [(path, None, None, "")])


def test_moderately_nested_toml_is_a_schema_error(tmp_path: Path, load: Loader) -> None:
    text = head() + "x = " + "[" * 100 + "]" * 100 + "\n"
    path = write(tmp_path, "p.toml", text)
    exc = load_error(load, tmp_path, SchemaError)
    assert_problems(exc, [(path, line_of(text, "x = "), None, "unknown key 'x'")])


# --------------------------------------------------------------------------- compile limits


@pytest.mark.skipif(not DURABLE, reason="durable_rules does not import")
def test_rule_beyond_the_rule_engine_limits_is_refused_at_load(tmp_path: Path) -> None:
    when = " or ".join(f"order.value > {i}" for i in range(65))
    text = head() + rule("wide", f"type == 'x' and ({when})")
    path = write(tmp_path, "p.toml", text)
    with pytest.raises(CompileError) as info:
        Engine.from_path(tmp_path, backend="durable")
    header, when_line = line_of(text, "[[rule]]"), line_of(text, "when =")
    assert_problems(info.value, [(path, None, "wide", "65 alternatives that can hold at once")])
    assert info.value.problems[0].line in (header, when_line)


# --------------------------------------------------------------------------- incidents


@pytest.fixture(scope="module")
def playbook_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("incidents")
    text = (
        head("inc")
        + '[facts]\ndelay_days = { type = "integer", required_for = ["parcel_late"] }\n'
        + rule("damaged", "type == 'parcel_damaged'")
        + rule("valuable", "type == 'parcel_damaged' and order.value >= 100")
        + rule("late", "type == 'parcel_late' and facts.delay_days >= 2")
    )
    write(directory, "inc.toml", text)
    return directory


@pytest.fixture(params=BACKENDS)
def engine(request: pytest.FixtureRequest, playbook_dir: Path) -> Iterator[Engine]:
    with Engine.from_path(playbook_dir, backend=request.param) as built:
        yield built


METHODS = ["evaluate", "suggest", "explain"]


def deep_dict(levels: int) -> dict[str, Any]:
    value: dict[str, Any] = {"z": 1}
    for _ in range(levels):
        value = {"b": value}
    return {"a": value}


def deep_list(levels: int) -> list[Any]:
    value: list[Any] = [1]
    for _ in range(levels):
        value = [value]
    return value


MB = 1_000_000

BAD_INCIDENTS: dict[str, tuple[Any, list[str]]] = {
    "missing-type": ({"channel": "email"}, ["type", "required"]),
    "empty-type": ({"type": ""}, ["type"]),
    "not-a-mapping": (["type", "x"], ["mapping"]),
    "none": (None, ["mapping"]),
    "order-value-text": ({"type": "x", "order": {"value": "abc"}}, ["order.value", "number"]),
    "order-value-negative": ({"type": "x", "order": {"value": -1}}, ["order.value"]),
    "order-value-inf": ({"type": "x", "order": {"value": float("inf")}}, ["order.value"]),
    "channel-unknown": ({"type": "x", "channel": "pigeon"}, ["channel"]),
    "occurred-at-text": ({"type": "x", "occurred_at": "yesterday"}, ["occurred_at"]),
    "customer-not-a-table": ({"type": "x", "customer": "Anna"}, ["customer"]),
    "declared-fact-wrong-type": (
        {"type": "parcel_late", "facts": {"delay_days": "two"}},
        ["facts.delay_days", "expected integer"],
    ),
    "declared-fact-fraction": (
        {"type": "parcel_late", "facts": {"delay_days": 2.5}},
        ["facts.delay_days", "expected integer"],
    ),
    "declared-fact-missing": ({"type": "parcel_late"}, ["needs fact 'delay_days'"]),
    "description-1mb": ({"type": "x", "description": "x" * MB}, ["description", "at most"]),
    "name-1mb": ({"type": "x", "customer": {"name": "x" * MB}}, ["customer.name", "at most"]),
    "fact-1mb": ({"type": "x", "facts": {"note": "x" * MB}}, ["note", "longer than"]),
    "type-1mb": ({"type": "x" * MB}, ["type", "at most"]),
    "control-characters": (
        {"type": "x", "description": "a\x00b"},
        ["description: control character U+0000 at character 2"],
    ),
    "deep-facts-1000": ({"type": "x", "facts": deep_dict(1000)}, ["facts.a"]),
    "deep-facts-20000": ({"type": "x", "facts": deep_dict(20_000)}, ["facts.a"]),
    "deep-list-1000": ({"type": "x", "facts": {"a": deep_list(1000)}}, ["facts.a"]),
    "deep-order": ({"type": "x", "order": deep_dict(1000)}, ["order.a", "unknown key"]),
    "long-list": ({"type": "x", "facts": {"a": list(range(1000))}}, ["at most 100"]),
    "300-facts": ({"type": "x", "facts": {f"f{i}": i for i in range(300)}}, ["at most 200 facts"]),
    "unknown-key": ({"type": "x", "colour": "red"}, ["colour", "unknown key"]),
    "unknown-nested-key": ({"type": "x", "order": {"vaule": 3}}, ["order.vaule", "unknown key"]),
    "non-string-key": ({"type": "x", 1: 2}, ["keys should be strings"]),
    "huge-number": ({"type": "x", "facts": {"n": 10**30}}, ["finite"]),
}


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize(
    ("incident", "fragments"), list(BAD_INCIDENTS.values()), ids=list(BAD_INCIDENTS)
)
def test_bad_incident(engine: Engine, method: str, incident: Any, fragments: list[str]) -> None:
    with pytest.raises(IncidentError) as info:
        getattr(engine, method)(incident)
    exc = info.value
    assert_clean(exc)
    message = str(exc)
    assert "\n" not in message
    assert len(message) < 500  # huge inputs are not echoed back
    for fragment in fragments:
        assert fragment in message


def test_engine_keeps_answering_after_bad_incidents(engine: Engine) -> None:
    good = {"type": "parcel_damaged", "order": {"value": 250}}
    expected = [m.rule for m in engine.evaluate(good)]
    assert expected == ["damaged", "valuable"]
    for incident, _ in BAD_INCIDENTS.values():
        with pytest.raises(IncidentError):
            engine.evaluate(incident)
        assert [m.rule for m in engine.evaluate(good)] == expected


def test_150_facts_are_accepted(engine: Engine) -> None:
    # parcel_damaged declares no facts, so it may carry any (parcel_late's are checked)
    incident = {"type": "parcel_damaged", "facts": {f"f{i}": i for i in range(149)}}
    incident["facts"]["delay_days"] = 3
    assert [m.rule for m in engine.evaluate(incident)] == ["damaged"]


@pytest.mark.parametrize("backend", BACKENDS)
def test_boolean_order_value_is_refused(playbook_dir: Path, backend: str) -> None:
    engine = Engine.from_path(playbook_dir, backend=backend)
    with pytest.raises(IncidentError):
        engine.evaluate({"type": "parcel_damaged", "order": {"value": True}})


def test_bad_fact_name_blames_the_name(playbook_dir: Path) -> None:
    engine = Engine.from_path(playbook_dir, backend="python")
    with pytest.raises(IncidentError) as info:
        engine.evaluate({"type": "x", "facts": {"bad key": 1}})
    assert "bad key" in str(info.value)
    assert "must be text, a number" not in str(info.value)


def test_action_parameter_in_a_multi_line_array_points_at_its_own_line(tmp_path: Path) -> None:
    text = (
        head()
        + '[[rule]]\nid = "r1"\nwhen = "type == \'x\'"\nactions = [\n'
        + '  { kind = "apology" },\n  { kind = "refund", percent = 120 },\n]\n'
    )
    path = write(tmp_path, "p.toml", text)
    exc = load_error(load_playbooks, tmp_path, SchemaError)
    assert_problems(
        exc, [(path, line_of(text, "percent = 120"), "r1", "less than or equal to 100")]
    )


def test_a_byte_order_mark_is_not_an_error(tmp_path: Path) -> None:
    (tmp_path / "p.toml").write_bytes(
        b"\xef\xbb\xbf" + (head() + rule("r1", "type == 'x'")).encode("utf-8")
    )
    assert [r.id for r in load_playbooks(tmp_path).rules] == ["r1"]
