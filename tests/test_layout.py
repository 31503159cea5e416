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
    # the command modules (cxplay._cli, cxplay._cli_backtest, ...) and the presenter
    assert all(name.startswith("cxplay._cli") or name == "cxplay._present" for name in users)


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


# --------------------------------------------------------------------------- README's layout

ROOT = PACKAGE.parent


def _layout_entries() -> dict[str, str]:
    """README's layout block: each entry ('_replies/', 'errors.py', 'docs/') -> its text."""
    section = (ROOT / "README.md").read_text("utf-8").split("\n## Layout\n", 1)[1]
    block = section.split("```\n", 2)[1]
    entries: dict[str, str] = {}
    current = ""
    for line in block.splitlines()[1:]:  # after "cxplay/"
        indent = len(line) - len(line.lstrip())
        if indent in (0, 2):
            current = line.split()[0]
            entries[current] = line
        else:
            entries[current] += " " + line.strip()
    return entries


def _mentions(text: str, word: str) -> bool:
    return re.search(rf"(?<![\w.]){re.escape(word)}(?![\w])", text) is not None


def test_the_readme_layout_names_every_module_and_folder() -> None:
    entries = _layout_entries()
    block = " ".join(entries.values())
    missing = []
    for child in sorted(PACKAGE.iterdir()):
        if child.name.startswith("__pycache__") or child.name == "_shipped_playbooks":
            continue
        if child.is_file() and child.suffix == ".py":
            if not _mentions(block, child.name):
                missing.append(f"cxplay/{child.name}")
        elif child.is_dir() and (child / "__init__.py").is_file():
            text = entries.get(f"{child.name}/")
            if text is None:
                missing.append(f"cxplay/{child.name}/")
                continue
            for inner in sorted(child.iterdir()):
                if inner.name in ("__init__.py", "__pycache__"):
                    continue
                word = inner.stem if inner.suffix == ".py" else f"{inner.name}/"
                listed = inner.is_dir() or inner.suffix == ".py"
                if listed and not _mentions(text, word):
                    missing.append(f"cxplay/{child.name}/{inner.name}")
    for folder, pattern in (("docs", "*.md"), ("benchmarks", "bench_*.py"), ("scripts", "*.py")):
        for path in sorted((ROOT / folder).glob(pattern)):
            if not _mentions(entries.get(f"{folder}/", ""), path.name):
                missing.append(f"{folder}/{path.name}")
    assert not missing, f"README's layout does not mention: {', '.join(missing)}"


def test_the_readme_layout_names_nothing_that_is_gone() -> None:
    stale = [
        name
        for name in _layout_entries()
        if name.startswith("_") and not (PACKAGE / name.rstrip("/")).exists()
    ]
    templates = PACKAGE / "_events" / "templates"
    named = re.findall(r"[\w.]+\.(?:j2|css)", _layout_entries()["_events/"])
    stale += [f"_events/templates/{n}" for n in named if not (templates / n).is_file()]
    assert (PACKAGE / "_replies" / "data" / "names.toml").is_file()
    assert not stale, stale


# --------------------------------------------------------------------------- import cycles


def _import_edges(package: Path) -> tuple[dict[str, set[str]], dict[str, set[str]]]:
    """(module-level imports, imports inside functions) of every module, as module names.

    Relative imports are resolved; ``from pkg import name`` is an edge to ``pkg.name`` when
    that is a module, else to ``pkg``; imports under ``if TYPE_CHECKING:`` are not run, so
    they are no edge. Only modules of ``package`` count.
    """
    root = package.parent
    modules: dict[str, tuple[Path, bool]] = {}
    for path in package.rglob("*.py"):
        parts = path.relative_to(root).with_suffix("").parts
        is_package = parts[-1] == "__init__"
        modules[".".join(parts[:-1] if is_package else parts)] = (path, is_package)
    eager: dict[str, set[str]] = {}
    lazy: dict[str, set[str]] = {}
    for name, (path, is_package) in modules.items():
        eager[name], lazy[name] = set(), set()

        def resolve(node: ast.ImportFrom, name: str = name, is_package: bool = is_package) -> str:
            if not node.level:
                return node.module or ""
            base = name.split(".") if is_package else name.split(".")[:-1]
            base = base[: len(base) - (node.level - 1)]
            return ".".join([*base, *([node.module] if node.module else [])])

        def visit(node: ast.AST, inside: bool, name: str = name) -> None:
            for child in ast.iter_child_nodes(node):
                if isinstance(child, ast.If) and "TYPE_CHECKING" in ast.unparse(child.test):
                    for orelse in child.orelse:
                        visit(orelse, inside)
                    continue
                found: set[str] = set()
                if isinstance(child, ast.Import):
                    found = {alias.name for alias in child.names}
                elif isinstance(child, ast.ImportFrom):
                    base = resolve(child)
                    for alias in child.names:
                        full = f"{base}.{alias.name}"
                        found.add(full if full in modules else base)
                (lazy if inside else eager)[name].update(
                    m for m in found if m in modules and m != name
                )
                deeper = inside or isinstance(
                    child, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda
                )
                visit(child, deeper)

        visit(ast.parse(path.read_text("utf-8")), False)
    return eager, lazy


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Every cycle as one path per strongly connected component (Tarjan, iteratively)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[list[str]] = []
    for start in sorted(graph):
        if start in index:
            continue
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph.get(child, ())))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    components.append(sorted(component))
    return components


#: Cycles that exist only through an import inside a function, each with why it is kept.
#: An import at module level never closes a cycle (the first test); one inside a function
#: runs only when called, after both modules are loaded, so it may -- when listed here.
LAZY_CYCLES = {
    ("cxplay._log.retention", "cxplay._log.store", "cxplay._watch.store"): (
        "forgetting a customer also erases their disruption memberships; the watch's "
        "store builds on the log's, and the log imports it only when forgetting"
    ),
    ("cxplay._playbooks.loader", "cxplay._playbooks.snapshot"): (
        "a snapshot is a loaded PlaybookSet, checked as one when read back; the loader asks "
        "for it only when the cache is on (the CLI), so the library never imports it"
    ),
}


def test_no_module_imports_itself_back_at_module_level() -> None:
    eager, _ = _import_edges(PACKAGE)
    assert eager["cxplay._backtest.compare"] >= {"cxplay._backtest.source"}  # it does look
    assert _cycles(eager) == []


def test_imports_inside_functions_close_no_cycle_but_the_listed_ones() -> None:
    eager, lazy = _import_edges(PACKAGE)
    graph = {name: eager[name] | lazy[name] for name in eager}
    cycles = [tuple(c) for c in _cycles(graph)]
    assert sorted(cycles) == sorted(LAZY_CYCLES), (
        "an import cycle (break it: move what both modules need into a module of its own, "
        f"as _backtest/side.py and _serve/common.py do): {cycles}"
    )


def test_the_cycle_finder_finds_cycles(tmp_path: Path) -> None:
    package = tmp_path / "pkg"
    (package / "sub").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "sub" / "__init__.py").write_text("")
    (package / "a.py").write_text("from pkg.sub import b\n")
    (package / "sub" / "b.py").write_text(
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from pkg import a\n"
        "def f():\n    from .. import a\n    return a\n"
    )
    (package / "c.py").write_text("from . import d\n")
    (package / "d.py").write_text("import pkg.c\n")
    eager, lazy = _import_edges(package)
    assert eager["pkg.a"] == {"pkg.sub.b"} and eager["pkg.sub.b"] == set()
    assert lazy["pkg.sub.b"] == {"pkg.a"}
    assert _cycles(eager) == [["pkg.c", "pkg.d"]]
    merged = {name: eager[name] | lazy[name] for name in eager}
    assert sorted(_cycles(merged)) == [["pkg.a", "pkg.sub.b"], ["pkg.c", "pkg.d"]]


#: The most lines one module may have: past it, a module holds more than one job (issue 20).
MAX_MODULE_LINES = 900


def test_no_module_holds_more_than_one_job() -> None:
    """No module of cxplay is longer than :data:`MAX_MODULE_LINES` lines."""
    long = {
        str(path.relative_to(PACKAGE.parent)): n
        for path in PACKAGE.rglob("*.py")
        if (n := len(path.read_text(encoding="utf-8").splitlines())) > MAX_MODULE_LINES
    }
    assert not long, f"split these along their jobs: {long}"


# --------------------------------------------------------------------------- start-up

#: What the command line must not import before a command asks for it (issue 20, item 5).
HEAVY = (
    "pydantic",
    "jinja2",
    "babel",
    "durable",
    "sqlalchemy",
    "alembic",
    "fastapi",
    "starlette",
    "uvicorn",
    "pyarrow",
    "num2words",
    "holidays",
    "re2",
    "pygal",
    "nats",
)
#: ... and what ``cxplay suggest`` (no log, no plan) never needs.
NOT_FOR_SUGGEST = (
    "sqlalchemy",
    "alembic",
    "fastapi",
    "starlette",
    "uvicorn",
    "pyarrow",
    "pygal",
    "nats",
    "cxplay._log",
    "cxplay._serve",
    "cxplay._watch",
    "cxplay._events",
    "cxplay._backtest",
    "cxplay._playbooks.lint",
    "cxplay._replies.sms",  # an e-mail reply counts no SMS segments
    "cxplay._cli_backtest",  # the commands of other jobs: imported when asked for
    "cxplay._cli_serve",
    "cxplay._cli_watch",
)


def _imported_after(code: str) -> set[str]:
    script = f"import sys\n{code}\nprint('\\n'.join(sorted(sys.modules)))"
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=120
    )
    return set(done.stdout.split())


def _under(modules: set[str], prefixes: tuple[str, ...]) -> list[str]:
    return sorted(m for m in modules if m.split(".")[0] in prefixes or m.startswith(prefixes))


def test_the_command_line_imports_no_engine_before_a_command_runs() -> None:
    for code in ("import cxplay._cli", "import cxplay"):
        modules = _imported_after(code)
        assert "click" in modules or code == "import cxplay"
        assert _under(modules, HEAVY) == [], code


def test_the_public_modules_are_attributes_of_the_package_as_before() -> None:
    code = "import cxplay\nassert cxplay.models.Incident is cxplay.Incident\n"
    code += "assert cxplay.results.Suggestion is cxplay.Suggestion\n"
    assert _imported_after(code) >= {"cxplay.models", "cxplay.results"}


def test_cxplay_suggest_imports_only_what_it_uses() -> None:
    incident = EXAMPLES / "incidents" / "parcel_damaged.json"
    code = (
        "from cxplay._cli import cli\n"
        "import contextlib, io\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n"
        f"    cli.main(['suggest', {str(incident)!r}], standalone_mode=False)\n"
    )
    modules = _imported_after(code)
    assert "cxplay._engine.engine" in modules and "jinja2" in modules  # it did run
    assert _under(modules, NOT_FOR_SUGGEST) == []


def test_an_sms_reply_imports_the_sms_module_and_counts_its_segments() -> None:
    incident = EXAMPLES / "incidents" / "parcel_late.json"  # channel "sms"
    code = (
        "import cxplay\n"
        "from cxplay._replies import renderer\n"
        f"reply = cxplay.Engine.from_path().suggest(cxplay.read_incident({str(incident)!r})).reply\n"
        "assert reply.channel == 'sms' and reply.segments, reply\n"
        "from cxplay._replies.sms import sms_segments\n"
        "assert renderer.sms_segments is sms_segments  # put in place by the first call\n"
    )
    assert "cxplay._replies.sms" in _imported_after(code)


def test_the_commands_of_other_jobs_are_listed_and_imported_when_asked_for() -> None:
    later = {"cxplay._cli_backtest", "cxplay._cli_serve", "cxplay._cli_watch"}
    assert not _imported_after("import cxplay._cli") & later
    code = (
        "import click\n"
        "from cxplay._cli import cli\n"
        "ctx = click.Context(cli)\n"
        "assert {'backtest', 'disruptions', 'serve', 'watch'} <= set(cli.list_commands(ctx))\n"
        "assert cli.list_commands(ctx) == sorted(cli.list_commands(ctx))\n"
        "from cxplay import _cli_backtest, _cli_serve, _cli_watch\n"
        "assert cli.get_command(ctx, 'serve') is _cli_serve.serve\n"
        "assert cli.get_command(ctx, 'watch') is _cli_watch.watch_command\n"
        "assert cli.get_command(ctx, 'disruptions') is _cli_watch.disruptions_group\n"
        "assert cli.get_command(ctx, 'backtest') is _cli_backtest.backtest_command\n"
        "assert cli.get_command(ctx, 'nosuch') is None\n"
    )
    assert _imported_after(code) >= later
    # a mistyped name is still told the command it meant
    typo = subprocess.run(
        [sys.executable, "-m", "cxplay", "serv"], capture_output=True, text=True, timeout=120
    )
    assert typo.returncode == 2 and "Did you mean 'serve'?" in typo.stderr
