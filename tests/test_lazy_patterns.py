"""Patterns compiled on first use (:func:`cxplay._common.lazy.lazy_pattern`) are the same patterns."""

from __future__ import annotations

import ast
import importlib
import re
import subprocess
import sys
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from cxplay._common.lazy import _LazyPattern, lazy_pattern
from cxplay._replies.locale import _SPACE_TABLE

PACKAGE = Path(__file__).resolve().parent.parent / "cxplay"

#: The patterns as they were compiled at import before they became lazy: the reference.
BEFORE = {
    ("cxplay._common.text", "_NOT_TEXT"): re.compile(
        r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]"
    ),
    ("cxplay._common.text", "_NOT_LINE"): re.compile(r"[\x00-\x1f\x7f-\x9f\ud800-\udfff]"),
    ("cxplay._present", "_UNSAFE"): re.compile(
        r"(\x1b\[[0-9;]*m)|[\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff]"
    ),
    ("cxplay._present", "_UNSAFE_IN_JSON"): re.compile(r"[\x7f-\x9f\ud800-\udfff]"),
    ("cxplay._replies.address", "_KMU_SHAPED"): re.compile(
        r"^(?:[abdefghiklmnoprstuvyz']|ch)+$", re.IGNORECASE
    ),
    ("cxplay._replies.shaping", "_PUBLIC_LEAK"): re.compile(
        r"\d\s*%|%\s*\d|\d[\d\s.,\u00a0\u202f]*\s*(zł|zl|pln|eur|usd|gbp|uah|грн|₴|€|\$|£)"
        r"|(zł|pln|eur|usd|gbp|uah|грн|₴|€|\$|£)\s*\d|\bprocent|\bpercent|відсот|\bvoucher|"
        r"\bbon\b|\brabat|\bzniżk|\bзнижк|\bваучер|\bzwrot\s+(pieniędzy|kosztów)|\brefund|"
        r"повернення\s+(коштів|грошей)",
        re.IGNORECASE,
    ),
    ("cxplay._cli", "_NUMBER"): re.compile(r"-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?\Z"),
    ("cxplay._cli", "_FACT_KEY"): re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z"),
    ("cxplay._cli_log", "_GIVEN"): re.compile(
        r"^([a-z_]+)=([0-9]+(?:\.[0-9]+)?)(?:[: ]?([A-Z]{3}))?$"
    ),
    ("cxplay._common.hours", "_RANGE"): re.compile(
        r"^(?P<h1>\d{2}):(?P<m1>\d{2})-(?P<h2>\d{2}):(?P<m2>\d{2})$"
    ),
    ("cxplay._replies.locale", "_SPACES"): re.compile(
        "[" + "".join(chr(cp) for cp in sorted(_SPACE_TABLE)) + "]"
    ),
}


def _lazy_assignments() -> dict[tuple[str, str], str]:
    """Every ``NAME = lazy_pattern(globals(), "NAME2", ...)`` in cxplay: (module, NAME) -> NAME2."""
    found = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        module = ".".join(path.relative_to(PACKAGE.parent).with_suffix("").parts)
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Assign | ast.AnnAssign) and isinstance(node.value, ast.Call):
                call = node.value
                if isinstance(call.func, ast.Name) and call.func.id == "lazy_pattern":
                    target = node.targets[0] if isinstance(node, ast.Assign) else node.target
                    assert isinstance(target, ast.Name), (module, ast.dump(node))
                    name = call.args[1]
                    assert isinstance(name, ast.Constant), (module, target.id)
                    found[(module, target.id)] = name.value
    return found


def test_each_lazy_pattern_is_bound_to_the_name_it_replaces() -> None:
    found = _lazy_assignments()
    assert set(found) == set(BEFORE)  # a new lazy pattern gets its reference here
    assert all(target == name for (_, target), name in found.items())


def test_each_lazy_pattern_compiles_to_the_pattern_it_was() -> None:
    for (module_name, name), before in BEFORE.items():
        module = importlib.import_module(module_name)
        held = vars(module)[name]
        held.pattern  # noqa: B018 - the first use compiles it
        compiled = vars(module)[name]
        assert isinstance(compiled, re.Pattern), (module_name, name)
        # equal patterns: the same text, flags and compiled program
        assert compiled == before, (module_name, name)
        if isinstance(held, _LazyPattern):
            assert held.search is not None and held.flags == before.flags


def test_the_first_use_puts_the_pattern_in_its_place() -> None:
    namespace: dict[str, object] = {}
    namespace["P"] = stand_in = lazy_pattern(namespace, "P", r"(a+)b", re.IGNORECASE)
    assert isinstance(stand_in, _LazyPattern)
    assert stand_in.sub(r"<\1>", "xAab") == "x<Aa>"
    assert namespace["P"] == re.compile(r"(a+)b", re.IGNORECASE)
    # a stand-in still held elsewhere answers as the pattern, compiled once
    assert stand_in.match("ab") is not None and stand_in.flags == namespace["P"].flags  # type: ignore[attr-defined]
    assert stand_in._compiled is namespace["P"]


@given(st.text(alphabet=st.characters(max_codepoint=0xFFFF), max_size=40))
def test_the_checks_answer_as_before(text: str) -> None:
    from cxplay._common.text import text_problem
    from cxplay._present import _json_safe, terminal_safe

    for lines, name in ((True, "_NOT_TEXT"), (False, "_NOT_LINE")):
        found = BEFORE[("cxplay._common.text", name)].search(text)
        problem = text_problem(text, lines=lines)
        assert (problem is None) == (found is None)
        if found is not None:
            assert f"U+{ord(found.group()):04X} at character {found.start() + 1}" in str(problem)
    unsafe = BEFORE[("cxplay._present", "_UNSAFE")]
    assert (terminal_safe(text) == text) == (unsafe.search(text) is None)
    in_json = BEFORE[("cxplay._present", "_UNSAFE_IN_JSON")]
    assert _json_safe(text) == in_json.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


def test_an_email_suggestion_compiles_only_the_patterns_it_uses() -> None:
    incident = PACKAGE.parent / "examples" / "incidents" / "parcel_damaged.json"
    script = (
        "import contextlib, io\n"
        "from cxplay._cli import cli\n"
        "from cxplay._common.lazy import _LazyPattern\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n"
        f"    cli.main(['suggest', {str(incident)!r}], standalone_mode=False)\n"
        "import sys\n"
        f"for module, name in {sorted(BEFORE)!r}:\n"
        "    held = vars(sys.modules[module])[name]\n"
        "    print(module, name, isinstance(held, _LazyPattern))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=120
    )
    lazy = {tuple(line.split()[:2]) for line in done.stdout.splitlines() if line.endswith("True")}
    # what an e-mail reply printed as text never needs: one-line checks, JSON escapes, a
    # public channel's leak check, Ukrainian Latin names (and today the SMS's plain spaces)
    assert lazy >= {
        ("cxplay._cli", "_FACT_KEY"),  # --fact
        ("cxplay._cli", "_NUMBER"),
        ("cxplay._cli_log", "_GIVEN"),  # cxplay outcome
        ("cxplay._common.text", "_NOT_LINE"),
        ("cxplay._present", "_UNSAFE_IN_JSON"),
        ("cxplay._replies.shaping", "_PUBLIC_LEAK"),
        ("cxplay._replies.address", "_KMU_SHAPED"),
    }
