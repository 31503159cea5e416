"""The hard inputs of a red-team pass (issue 9): each one a clear CxplayError, never a hang,
a traceback or a silent wrong answer."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from cxplay import ConditionError, Engine
from cxplay._engine.durable import AVAILABLE as DURABLE

BACKENDS = [
    pytest.param(
        "durable", marks=pytest.mark.skipif(not DURABLE, reason="durable_rules does not import")
    ),
    "python",
]

HEAD = '[playbook]\nid = "p"\nversion = "1.0.0"\n'


def playbook(directory: Path, body: str, name: str = "p.toml") -> Path:
    path = directory / name
    path.write_text(HEAD + textwrap.dedent(body), encoding="utf-8")
    return path


def line_of(path: Path, needle: str) -> int:
    for number, line in enumerate(path.read_text("utf-8").splitlines(), start=1):
        if needle in line:
            return number
    raise AssertionError(f"{needle!r} not in {path}")


# ------------------------------------------------------------ 1. catastrophic regular expressions

EVIL = """
[[rule]]
id = "evil"
when = "matches(description, '(a+)+$')"
actions = [{ kind = "apology" }]
"""


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_catastrophic_pattern_runs_in_linear_time(tmp_path: Path, backend: str) -> None:
    playbook(tmp_path, EVIL)
    engine = Engine.from_path(tmp_path, backend=backend)
    # Python's re needs ~19 s for 28 a's and a "!", doubling with every further "a":
    # 19,999 of them (descriptions hold at most 20,000 characters) would never finish.
    attack = {"type": "x", "description": "a" * 19_999 + "!"}
    assert not engine.suggest(attack).matched
    assert engine.suggest({"type": "x", "description": "a" * 20_000}).matched
    (trace,) = engine.explain(attack)
    assert trace.rule == "evil" and not trace.matched


def test_the_evil_pattern_finishes_in_a_fresh_process(tmp_path: Path) -> None:
    # a subprocess with a timeout: a backtracking engine fails this test instead of hanging it
    playbook(tmp_path, EVIL)
    code = (
        "import sys, cxplay;"
        "e = cxplay.Engine.from_path(sys.argv[1], backend='python');"
        "print(e.suggest({'type': 'x', 'description': 'a' * 28 + '!'}).matched)"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert done.stdout == "False\n"


@pytest.mark.parametrize(
    ("pattern", "reason"),
    [
        (r"(a)\\\\1", "invalid escape sequence"),  # a backreference
        ("(?=a)b", "invalid perl operator: (?="),  # lookahead
        ("(?<=a)b", "invalid perl operator: (?<="),  # lookbehind
        ("a{2000}", "invalid repetition size"),
    ],
)
def test_a_pattern_re2_refuses_is_a_load_error_with_file_line_and_rule(
    tmp_path: Path, pattern: str, reason: str
) -> None:
    path = playbook(
        tmp_path,
        f"""
        [[rule]]
        id = "fine"
        when = "type == 'x'"
        actions = [{{ kind = "apology" }}]

        [[rule]]
        id = "refused"
        when = "matches(description, '{pattern}')"
        actions = [{{ kind = "apology" }}]
        """,
    )
    with pytest.raises(ConditionError) as info:
        Engine.from_path(tmp_path, backend="python")
    (problem,) = info.value.problems
    assert problem.file == str(path)
    assert problem.line == line_of(path, "matches(")
    assert problem.rule == "refused"
    assert "invalid regular expression for RE2" in problem.message
    assert reason in problem.message
    assert str(problem).startswith(f"{path}:{problem.line}: refused: ")


def test_a_refused_pattern_prints_nothing_but_the_error(tmp_path: Path) -> None:
    playbook(
        tmp_path,
        """
        [[rule]]
        id = "r"
        when = "matches(description, '(?=x)')"
        actions = [{ kind = "apology" }]
        """,
    )
    done = subprocess.run(
        [sys.executable, "-m", "cxplay", "validate", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 1
    assert "r: when: column 22: invalid regular expression for RE2" in done.stdout
    # RE2 logs refused patterns to stderr unless told not to
    assert "re2.cc" not in done.stderr + done.stdout and "absl" not in done.stderr


def test_matches_keeps_unicode_letters_and_case(tmp_path: Path) -> None:
    # RE2's \b and \w are ASCII only; \pL is any letter (documented in docs/playbooks.md)
    playbook(
        tmp_path,
        r"""
        [[rule]]
        id = "refund"
        when = '''matches(description, '(?i)(^|\\PL)(refund|zwrot|повернення)(\\PL|$)')'''
        actions = [{ kind = "apology" }]
        """,
    )
    engine = Engine.from_path(tmp_path, backend="python")
    for text, expected in [
        ("I want a REFUND now", True),
        ("proszę o zwrot pieniędzy", True),
        ("прошу повернення коштів", True),
        ("ПОВЕРНЕННЯ", True),
        ("refunded", False),
        ("zwroty", False),
        ("", False),
    ]:
        assert engine.suggest({"type": "x", "description": text}).matched is expected, text
