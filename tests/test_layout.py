"""The architecture holds: one-way data flow, one durable importer, the Backend protocol,
the public API and the error tree as drawn."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from pathlib import Path

import pytest

import cxplay
from cxplay import errors
from cxplay._engine.backend import Backend
from cxplay._engine.durable import AVAILABLE as DURABLE
from cxplay._engine.reference import ReferenceBackend

PACKAGE = Path(cxplay.__file__).resolve().parent
EXAMPLES = PACKAGE.parent / "examples"


def _imports(path: Path) -> set[str]:
    """Every module a file imports (at any depth, lazily or not)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text("utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return found


MODULES = {
    ".".join(path.relative_to(PACKAGE.parent).with_suffix("").parts): path
    for path in PACKAGE.rglob("*.py")
}


def test_durable_is_imported_by_one_module_only() -> None:
    importers = {
        name
        for name, path in MODULES.items()
        if any(
            m == "durable" or m.startswith(("durable.", "durable_rules")) for m in _imports(path)
        )
    }
    assert importers == {"cxplay._engine.durable"}


# Which packages each layer may NOT import: data flows load -> ... -> render -> present.
FORBIDDEN = {
    "cxplay._common": ("cxplay._",),
    "cxplay._conditions.parse": ("cxplay._engine", "cxplay._playbooks", "cxplay._replies"),
    "cxplay._replies": ("cxplay._engine", "cxplay._playbooks", "cxplay._events", "cxplay._cli"),
    "cxplay._engine": ("cxplay._playbooks.lint", "cxplay._playbooks.scenarios", "cxplay._events"),
    "cxplay._playbooks.loader": ("cxplay._engine", "cxplay._replies", "cxplay._events"),
    "cxplay._events.model": ("cxplay._engine", "cxplay._playbooks", "cxplay._replies"),
    "cxplay._incidents": ("cxplay._engine", "cxplay._cli", "click"),
}


@pytest.mark.parametrize("layer", sorted(FORBIDDEN))
def test_imports_flow_one_way(layer: str) -> None:
    wrong = []
    for name, path in MODULES.items():
        if name != layer and not name.startswith(layer + "."):
            continue
        for imported in _imports(path):
            allowed_self = imported.startswith(layer)
            if not allowed_self and imported.startswith(FORBIDDEN[layer]):
                wrong.append(f"{name} imports {imported}")
    assert not wrong


def test_only_the_cli_and_the_presenter_use_click() -> None:
    users = {name for name, path in MODULES.items() if "click" in _imports(path)}
    assert users <= {"cxplay._cli", "cxplay._cli_log", "cxplay._cli_serve", "cxplay._present"}


def test_the_web_stack_stays_in_the_serve_package() -> None:
    """FastAPI and friends are an optional extra: nothing else may import them."""
    web = ("fastapi", "starlette", "uvicorn", "watchfiles", "prometheus_client")
    users = {
        name
        for name, path in MODULES.items()
        if any(m.split(".")[0] in web for m in _imports(path))
    }
    assert users
    assert all(u.startswith("cxplay._serve") or u == "cxplay._cli_serve" for u in users), users


@pytest.mark.parametrize("backend", ["python", "durable"])
def test_every_backend_is_a_backend(backend: str) -> None:
    if backend == "durable" and not DURABLE:
        pytest.skip("durable_rules does not import here")
    with cxplay.Engine.from_path(backend=backend) as engine:  # type: ignore[arg-type]
        snapshot = engine._snapshot
        assert isinstance(snapshot.backend, Backend)
        assert snapshot.backend.name == backend == engine.backend


def test_the_reference_backend_needs_nothing_else() -> None:
    playbooks = cxplay.load_playbooks()
    backend: Backend = ReferenceBackend(playbooks)
    flat = {"type": "parcel_damaged", "_k": "incident"}
    positions = backend.evaluate("parcel_damaged", flat)
    assert {playbooks.rules[p].id for p in positions} >= {"parcel.damaged.apologise"}
    backend.close()


def test_python_dash_m_cxplay_is_the_cli() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "cxplay", "--version"],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout == f"cxplay {cxplay.__version__}\n"


def test_the_error_tree_is_the_one_drawn() -> None:
    doc = errors.__doc__ or ""
    drawing = doc.split("::\n\n", 1)[1].split("\n\n", 1)[0].splitlines()
    parents: dict[int, str] = {}
    drawn = set()
    for line in drawing:
        match = re.search(r"(\w+Error)\b", line)
        assert match, line
        depth = match.start(1) // 4
        name = match.group(1)
        parents[depth] = name
        drawn.add(name)
        cls = getattr(errors, name)
        expected = (getattr(errors, parents[depth - 1]),) if depth > 1 else (Exception,)
        assert cls.__bases__ == expected, name
    assert drawn == {n for n in errors.__all__ if n.endswith("Error")}


def test_what_public_methods_return_is_public() -> None:
    engine = cxplay.Engine.from_path(backend="python")
    decision = engine.decide({"type": "parcel_damaged"})
    assert isinstance(decision, cxplay.Decision)
    assert isinstance(engine.renderer, cxplay.Renderer)
    assert cxplay.IncidentLike is not None


def test_the_library_offers_each_command(tmp_path: Path) -> None:
    report = cxplay.validate()
    assert isinstance(report, cxplay.ValidationReport) and report.ok
    scenarios = cxplay.run_scenarios()
    assert isinstance(scenarios, cxplay.ScenarioReport) and scenarios.passed
    event = cxplay.load_event(EXAMPLES / "events" / "cxconf-2026.toml")
    assert isinstance(event, cxplay.Event)
    with cxplay.Engine.from_path(backend="python") as engine:
        plan = cxplay.build_plan(event, engine, event_source=None)
    assert isinstance(plan, cxplay.Plan) and plan.scenarios
    incident = cxplay.read_incident(EXAMPLES / "incidents" / "parcel_damaged.json")
    assert cxplay.suggest(incident).matched
    assert cxplay.parse_incident(b'{"type": "queue_long"}') == {"type": "queue_long"}
    assert cxplay.parse_incident('type = "queue_long"') == {"type": "queue_long"}


def test_an_unknown_attribute_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        cxplay.nope  # type: ignore[attr-defined]  # noqa: B018
