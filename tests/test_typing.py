"""cxplay under ``mypy --strict`` as a client sees it (issue 22): the installed package is
typed (``py.typed``), the README's and docs' library examples check as written, mistakes a
back end makes are caught, and the typed client package in examples/ checks and runs."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

import cxplay

ROOT = Path(__file__).resolve().parent.parent
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]

# Each line ending in "# E: why" must be an error, and no other line may be one.
WRONG = """
from cxplay import DecisionLog, Engine

engine = Engine.from_path()
Engine.from_path(backend="rete")  # E: a backend name that does not exist
s = engine.suggest({"type": "queue_long"}, explian=True)  # E: a misspelt keyword
s = engine.suggest({"type": "queue_long"})
with DecisionLog.open("cx.db") as log:
    log.outcome("abc", "acepted")  # E: a misspelt status literal
    log.feedback("abc", 5, 9)  # E: optional arguments are keyword-only
s.actions[0].params["x"] = 1  # E: params are read-only
print(s.reply.body)  # E: the reply is optional: narrow it first
logged = Engine.from_path(log="cx.db")
logged.log.outcome("abc", "accepted")
engine.log.outcome("abc", "accepted")  # E: an engine without a log has log None
engine.reload("my/playbooks")  # E: reload's source is keyword-only
engine.reload(source="my/playbooks")
"""

RIGHT = """
from collections.abc import Mapping, Sequence

from typing_extensions import assert_type

import cxplay
from cxplay import DecisionLog, DecisionSink, Engine, FactValue, Incident, Suggestion

facts: dict[str, int] = {"queue_minutes": 25}
incident = Incident(type="queue_long", facts=facts)
as_dict: dict[str, object] = {"type": "queue_long", "facts": facts}
engine = Engine.from_path()
s = engine.suggest(as_dict, explain=True, language="pl")
assert_type(s, Suggestion)
assert_type(engine.log, None)
assert_type(Engine.from_path(log="cx.db").log, DecisionLog)
assert_type(cxplay.suggest(incident, language="uk", explain=True), Suggestion)
value: object = s.actions[0].params.get("percent")
trace = s.trace[0].value if s.trace else None
assert_type(trace, object)
one: FactValue = 3


def takes(sink: DecisionSink) -> None: ...


with DecisionLog.open("cx.db") as log:
    takes(log)
    for d in log.decisions():
        assert_type(d.incident, Mapping[str, object])
        assert_type(d.actions, Sequence[Mapping[str, object]])
"""


def _mypy(folder: Path, *targets: str) -> subprocess.CompletedProcess[str]:
    """mypy --strict from an empty folder: cxplay is found as installed, not as source."""
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "mypy",
            "--strict",
            "--no-color-output",
            "--hide-error-context",
            "--cache-dir",
            str(folder / ".cache"),
            *targets,
        ],
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


def _errors(output: str) -> dict[tuple[str, int], str]:
    found: dict[tuple[str, int], str] = {}
    for line in output.splitlines():
        match = re.match(r"^(.+?):(\d+): error: (.*)$", line)
        if match:
            found.setdefault((match.group(1), int(match.group(2))), match.group(3))
    return found


@pytest.mark.slow
def test_a_strict_client_checks_the_docs_and_its_own_code(tmp_path: Path) -> None:
    shutil.copytree(ROOT / "examples" / "typed_client", tmp_path / "typed_client")
    snippets = []
    for doc in DOCS:
        for n, block in enumerate(re.findall(r"```python\n(.*?)```", doc.read_text("utf-8"), re.S)):
            name = f"doc_{doc.stem.lower().replace('-', '_')}_{n}.py"
            (tmp_path / name).write_text(block, "utf-8")
            snippets.append(name)
    assert len(snippets) >= 3  # README, docs/log.md, docs/backtest.md
    (tmp_path / "right.py").write_text(RIGHT, "utf-8")
    (tmp_path / "wrong.py").write_text(WRONG, "utf-8")
    done = _mypy(tmp_path, "typed_client", "right.py", "wrong.py", *snippets)
    errors = _errors(done.stdout)
    expected = {
        ("wrong.py", number) for number, line in enumerate(WRONG.splitlines(), 1) if "# E:" in line
    }
    assert set(errors) == expected, done.stdout + done.stderr
    assert 'did you mean "explain"' in " ".join(errors.values())


def test_the_package_says_it_is_typed() -> None:
    assert (Path(cxplay.__file__).parent / "py.typed").is_file()


@pytest.mark.slow
def test_the_wheel_ships_py_typed(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(tmp_path), str(ROOT)],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    (wheel,) = tmp_path.glob("cxplay-*.whl")
    assert "cxplay/py.typed" in zipfile.ZipFile(wheel).namelist()


def test_the_typed_client_runs_its_scenarios(tmp_path: Path) -> None:
    sys.path.insert(0, str(ROOT / "examples"))
    try:
        from typed_client import orders
    finally:
        sys.path.remove(str(ROOT / "examples"))
    orders.main(tmp_path)
