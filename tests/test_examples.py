"""Every example a user can copy runs: the README's and docs' shell, console and Python blocks,
and the examples of every command's ``--help``, each run by bash (or python) as a user runs
it, in a directory holding the files the examples name.

A block that starts ``cxplay serve`` gets a real server (on a free port instead of 8080); a
command that talks to ``127.0.0.1:8080`` without one in its block gets one started for it.
What cannot run here is in ``NOT_RUNNABLE``, each with its reason, and every entry there
must still be in the docs (the list cannot rot). ``DECISION_ID`` in ``cxplay outcome``/``feedback`` is replaced with the id ``cxplay suggest
--log default`` printed for the parcel example (the docs say so too). A console block's output is what its
commands print today: ``...`` (or ``…``) on a line of its own stands for lines left out, and
a documented line ending in ``…`` only has to start the printed one.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shlex
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import click
import pytest

import cxplay
from cxplay._cli import cli
from tests.commands import subcommands
from tests.serving import free_port
from tests.test_backtest import CASES as BACKTEST_CASES
from tests.test_backtest import make_new_playbooks

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
SHIPPED = cxplay.shipped_playbooks_dir()
SHELLS = {"sh", "console"}

# Commands (as written, continuation lines joined) that cannot run in a test, and why.
NOT_RUNNABLE: dict[str, str] = {
    "make demo": "creates .venv and installs cxplay: the test runs inside that venv already",
    "make test": "the whole suite: it would run this test again",
    "make ci": "the services and the whole suite: it would run this test again",
    "pip install 'cxplay[serve]'": "installs packages; the test environment has the extra",
    'eval "$(_CXPLAY_COMPLETE=zsh_source cxplay)"': "zsh syntax (the bash line runs)",
    "_CXPLAY_COMPLETE=fish_source cxplay | source": "fish syntax (the bash line runs)",
    "cxplay serve --log postgresql+psycopg://cx@db/cx --host 0.0.0.0": (
        "needs a PostgreSQL host named db; the log on PostgreSQL is tested in test_log.py"
    ),
    "cxplay log migrate --log postgresql+psycopg://cx@db/cx": (
        "needs a PostgreSQL host named db; migrations on PostgreSQL are tested in test_log.py"
    ),
    "cxplay log migrate --log postgresql+psycopg://cx@db.internal/cx": (
        "needs a PostgreSQL host named db.internal; tested in test_log.py"
    ),
    "cxplay backtest --playbooks new/ --baseline playbooks/ incidents.jsonl --dask "
    "tcp://scheduler:8786": "needs a Dask scheduler; test_backtest_dask.py runs a LocalCluster",
    "cp parcel.toml /srv/playbooks/parcel.toml.new && mv /srv/playbooks/parcel.toml.new "
    "/srv/playbooks/parcel.toml": "writes to /srv; the reload protocol is tested in test_serve_cli.py",
    "cxplay disruptions --log cx.db": (
        "lists the disruptions of a stream with a wave in it; test_watch.py lists a generated wave"
    ),
    "cxplay disruptions resolve D-5c1f0e7a --log cx.db": (
        "an id from that list; test_watch.py resolves a generated wave's disruption"
    ),
    "cxplay watch --follow incidents.jsonl > events.jsonl": (
        "follows a file for ever; test_watch.py runs --follow and stops it"
    ),
    "cxplay watch incidents.jsonl --to-nats --nats nats://127.0.0.1:4222": (
        "publishes to a shared NATS server; test_watch_nats.py publishes to a subject of its own"
    ),
    "cxplay watch --nats nats://127.0.0.1:4222 --member 0/2 --log cx.db": (
        "a watcher that waits for messages; test_watch_nats.py runs members against the server"
    ),
    "cxplay disruptions resolve D-3f2a9c41 --log cx.db": (
        "an id from `cxplay disruptions`; test_watch.py resolves a generated wave's disruption"
    ),
    "cxplay disruptions resolve D-3f2a9c41 --log cx.db > resolution.jsonl": (
        "an id from `cxplay disruptions`; test_watch.py resolves a generated wave's disruption"
    ),
    "tail -f incidents.jsonl | cxplay watch - --lateness 10m": (
        "follows a file for ever; test_watch.py runs watch on stdin and with --follow"
    ),
    "cxplay watch --follow incidents.jsonl --no-suggestions": (
        "follows a file for ever; test_watch.py runs --follow and stops it"
    ),
    "cxplay watch --nats nats://127.0.0.1:4222 --subject cx.incidents --member 0/2 --log cx.db &": (
        "a watcher left running; test_watch_nats.py runs two members against the real server"
    ),
    "cxplay watch --nats nats://127.0.0.1:4222 --subject cx.incidents --member 1/2 --log cx.db &": (
        "a watcher left running; test_watch_nats.py runs two members against the real server"
    ),
    "cxplay watch incidents.jsonl --to-nats --nats nats://127.0.0.1:4222 --subject cx.incidents": (
        "publishes to a shared NATS server; test_watch_nats.py publishes to a subject of its own"
    ),
    'curl -s -H "Authorization: Bearer $TOKEN" -H "Content-Type: application/x-ndjson" '
    "--data-binary @incidents.jsonl http://127.0.0.1:8080/v1/incidents": (
        "needs a service with a decision log and a stream with a wave; "
        "test_serve_incidents.py posts generated streams in every shape"
    ),
    ".venv/bin/python benchmarks/bench_engine.py": "a benchmark (~20 s), not a test",
    ".venv/bin/python benchmarks/bench_engine.py --json": "a benchmark (~20 s), not a test",
    ".venv/bin/python benchmarks/bench_engine.py --soak --extra extras.json": (
        "a benchmark (~1 min), not a test"
    ),
    ".venv/bin/python benchmarks/bench_engine.py --quick --sizes 20 --json": (
        "run by test_bench_smoke.py"
    ),
    ".venv/bin/python benchmarks/bench_service.py": "a benchmark (~5 min), not a test",
    ".venv/bin/python benchmarks/bench_service.py --quick --json": (
        "run by test_bench_service_smoke.py"
    ),
    ".venv/bin/python benchmarks/bench_service.py --in-process": (
        "a benchmark (~30 s), not a test; test_bench_service_smoke.py runs it --quick"
    ),
    ".venv/bin/python benchmarks/bench_log.py": "a benchmark (~2 min), not a test",
    ".venv/bin/python benchmarks/bench_log.py --quick --json": "run by test_bench_log_smoke.py",
    ".venv/bin/python benchmarks/bench_backtest.py": "a benchmark (~2 min), not a test",
    ".venv/bin/python benchmarks/bench_backtest.py --json": "a benchmark (~2 min), not a test",
    ".venv/bin/python benchmarks/bench_backtest.py --quick --no-dask --json": (
        "run by test_bench_backtest_smoke.py"
    ),
    "git worktree add --detach /tmp/old ba2e023": (
        "checks an old commit out beside the repository: how the backtest's before/after "
        "figures were measured, not an example of cxplay"
    ),
    "for tree in /tmp/old . /tmp/old .; do PYTHONPATH=$tree .venv/bin/python $tree/benchmarks/bench_backtest.py --incidents 50000 --json; done": (
        "four benchmark runs (~10 min) against the old commit's worktree, not a test"
    ),
}

# Commands whose documented exit status is not 0.
EXIT_STATUS: dict[str, int] = {
    # the sample incidents hold one that is an error under the new playbooks: the gate fires
    "cxplay backtest --playbooks new/ --baseline playbooks/ incidents.parquet --format markdown "
    '--fail-on "compensation_delta_pln>5000" --fail-on "error_now>0"': 1,
    "cxplay backtest --playbooks new --baseline old incidents.jsonl --format json "
    '--fail-on "compensation_delta_pln<0" --fail-on "error_now>0" > report.json': 1,
}


@dataclass
class Command:
    """One command of an example, with the output the docs show for it (console blocks)."""

    text: str
    line: int
    shown: list[str] | None = None


@dataclass
class Example:
    """A block of commands run in one shell, or a Python block."""

    where: str
    language: str  # "sh" or "python"
    commands: list[Command] = field(default_factory=list)
    source: str = ""


def _logical_lines(lines: list[tuple[int, str]]) -> Iterator[tuple[int, str]]:
    """Lines with their ``\\`` continuations joined (one space for the break)."""
    pending: list[str] = []
    first = 0
    for number, line in lines:
        if not pending:
            first = number
        if line.rstrip().endswith("\\"):
            pending.append(line.rstrip()[:-1].rstrip())
            continue
        pending.append(line.strip() if pending else line.rstrip())
        yield first, " ".join(part.strip() if i else part for i, part in enumerate(pending))
        pending = []


def _console(block: list[tuple[int, str]]) -> list[Command]:
    commands: list[Command] = []
    lines = iter(block)
    for number, line in lines:
        if line.startswith("$ "):
            text = line[2:]
            while text.rstrip().endswith("\\"):
                _, more = next(lines)
                text = text.rstrip()[:-1].rstrip() + " " + more.strip()
            commands.append(Command(text.strip(), number, []))
        elif commands:
            assert commands[-1].shown is not None
            commands[-1].shown.append(line)
        else:
            raise AssertionError(f"line {number}: a console block starts with output")
    return commands


def markdown_examples(path: Path) -> list[Example]:
    """The sh, console and python blocks of a Markdown file."""
    found: list[Example] = []
    name = path.relative_to(ROOT).as_posix()
    language: str | None = None
    block: list[tuple[int, str]] = []
    start = 0
    for number, line in enumerate(path.read_text("utf-8").splitlines(), 1):
        if language is None:
            if line.startswith("```"):
                language, block, start = line[3:].strip(), [], number
            continue
        if line.rstrip() != "```":
            block.append((number, line))
            continue
        where = f"{name}:{start}"
        if language == "python":
            source = "\n".join(text for _, text in block) + "\n"
            found.append(Example(where, "python", source=source))
        elif language == "console":
            found.append(Example(where, "sh", _console(block)))
        elif language == "sh":
            commands = [
                Command(text, n)
                for n, text in _logical_lines(block)
                if text.strip() and not text.lstrip().startswith("#")
            ]
            found.append(Example(where, "sh", commands))
        language = None
    return found


def _walk(group: click.Group, prefix: str = "cxplay") -> Iterator[tuple[str, click.Command]]:
    yield prefix, group
    for name, command in subcommands(group):
        if isinstance(command, click.Group):
            yield from _walk(command, f"{prefix} {name}")
        else:
            yield f"{prefix} {name}", command


def help_examples() -> list[Example]:
    """One example per line under ``Example:``/``Examples:`` in every command's help."""
    found = []
    for path, command in _walk(cli):
        text = command.help or ""
        lines = text.splitlines()
        for index, line in enumerate(lines):
            if line.strip() not in ("Example:", "Examples:"):
                continue
            block = []
            for number, body in enumerate(lines[index + 1 :], index + 2):
                if not body.strip():
                    break
                block.append((number, body))
            for number, command_text in _logical_lines(block):
                stripped = command_text.strip()
                if stripped.startswith("#"):
                    continue
                where = f"{path} --help:{number}"
                found.append(Example(where, "sh", [Command(stripped, number)]))
    return found


EXAMPLES = [e for path in DOCS for e in markdown_examples(path)] + help_examples()


def key(text: str) -> str:
    """A command without its trailing ``# comment``: how ``NOT_RUNNABLE`` names it."""
    return re.sub(r"\s+#\s.*$", "", text)


def _runnable(example: Example) -> list[Command]:
    return [c for c in example.commands if key(c.text) not in NOT_RUNNABLE]


RUNNABLE = [e for e in EXAMPLES if e.language == "python" or _runnable(e)]


def test_every_unrunnable_example_is_still_documented() -> None:
    written = {key(c.text) for e in EXAMPLES for c in e.commands}
    assert set(NOT_RUNNABLE) - written == set(), "remove these from NOT_RUNNABLE"
    assert set(EXIT_STATUS) <= written


def test_the_examples_are_found() -> None:
    where = {e.where.split(":")[0] for e in RUNNABLE}
    assert {"README.md", "docs/backtest.md", "docs/log.md", "docs/serve.md"} <= where
    assert {"cxplay suggest --help", "cxplay serve --help", "cxplay backtest --help"} <= where
    assert sum(len(e.commands) for e in RUNNABLE) >= 60


# -------------------------------------------------------------------------------- sandbox


@pytest.fixture(scope="module")
def prepared(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The files the examples name, built once: copied into each example's directory."""
    root = tmp_path_factory.mktemp("examples")
    shutil.copytree(ROOT / "examples", root / "examples")
    shutil.copytree(SHIPPED, root / "playbooks")
    shutil.copytree(SHIPPED, root / "my-playbooks")
    make_new_playbooks(root)
    shutil.copytree(SHIPPED, root / "old", ignore=shutil.ignore_patterns("replies"))
    shutil.copy(BACKTEST_CASES / "incidents.jsonl", root / "incidents.jsonl")
    import pyarrow as pa
    import pyarrow.parquet as pq

    rows = []
    for line in (root / "incidents.jsonl").read_text("utf-8").splitlines():
        try:
            row = json.loads(line)
        except ValueError:
            continue  # the malformed lines the backtest skips
        if isinstance(row, dict):
            rows.append(row)
    for name in ("incidents.parquet", "q3.parquet"):
        pq.write_table(pa.Table.from_pylist(rows), root / name)
    parcel = root / "examples" / "incidents" / "parcel_damaged.json"
    shutil.copy(parcel, root / "incident.json")
    shutil.copy(SHIPPED / "parcel.toml", root / "parcel.toml")
    incident = cxplay.Incident.model_validate_json(parcel.read_text("utf-8"))
    (root / "incident.toml").write_text(_toml(incident.model_dump(mode="json", exclude_none=True)))
    shutil.copy(root / "examples" / "events" / "cxconf-2026.toml", root / "event.toml")
    subprocess.run(
        [BIN / "cxplay", "plan", "event.toml", "--out", "plan.json"],
        cwd=root,
        check=True,
        capture_output=True,
    )
    (root / "home").mkdir()
    # the decision DECISION_ID stands for: the one `cxplay suggest --log default` records
    # for examples/incidents/parcel_damaged.json (its id is the incident's and the playbooks')
    done = subprocess.run(
        [BIN / "cxplay", "suggest", parcel, "--log", "default", "--format", "json"],
        cwd=root,
        env=_env(root / "home", "-"),
        check=True,
        capture_output=True,
    )
    (root / "decision_id").write_text(json.loads(done.stdout)["decision_id"])
    return root


def _toml(value: dict[str, object], prefix: str = "") -> str:
    scalars = [
        f"{k} = {json.dumps(v, ensure_ascii=False)}"
        for k, v in value.items()
        if not isinstance(v, dict)
    ]
    tables = [_toml(v, f"{prefix}{k}.") for k, v in value.items() if isinstance(v, dict) and v]
    head = f"[{prefix[:-1]}]\n" if prefix else ""
    return head + "\n".join(scalars) + "\n\n" + "".join(tables)


def _env(home: Path, token: str) -> dict[str, str]:
    keep = ("LANG", "LC_ALL", "TMPDIR", "CI", "CXPLAY_TEST_DATABASE_URL")
    env = {k: v for k, v in os.environ.items() if k in keep}
    env.update(
        HOME=str(home),
        PATH=f"{BIN}{os.pathsep}/usr/local/bin{os.pathsep}/usr/bin{os.pathsep}/bin",
        TOKEN=token,
        NO_COLOR="1",
        PYTHONDONTWRITEBYTECODE="1",
    )
    return env


SERVE = re.compile(r"^(.*?)\bcxplay serve\b")


DECISION_ID = re.compile(r"(?<=cxplay outcome )DECISION_ID\b|(?<=cxplay feedback )DECISION_ID\b")


def script(example: Example, port: int, outputs: Path, decision: str) -> tuple[str, bool]:
    """The bash script that runs an example's commands, and whether it starts a server."""
    lines = [
        "serve_ready() {",
        "  for _ in $(seq 600); do",
        f"    curl -sf http://127.0.0.1:{port}/healthz >/dev/null && return 0",
        "    kill -0 $SERVE_PID 2>/dev/null || return 1",
        "    sleep 0.1",
        "  done; return 1",
        "}",
        "trap '[ -n \"${SERVE_PID:-}\" ] && kill -TERM -- -$SERVE_PID 2>/dev/null; wait' EXIT",
    ]
    serves = False
    for index, command in enumerate(_runnable(example)):
        text = command.text.replace("127.0.0.1:8080", f"127.0.0.1:{port}")
        text = DECISION_ID.sub(decision, text)
        out, err, rc = (outputs / f"{index}.{kind}" for kind in ("out", "err", "rc"))
        if SERVE.match(text):
            serves = True
            text = SERVE.sub(rf"\1cxplay serve --port {port}", text, count=1)
            lines += [
                f"set -m; {{ {text}\n}} >{out} 2>{err} & SERVE_PID=$!; set +m",
                f"serve_ready; echo $? >{rc}",
            ]
        else:
            lines.append(f"{{ {text}\n}} >{out} 2>{err} </dev/null; echo $? >{rc}")
    return "\n".join(lines) + "\n", serves


def _wanted(example: Example) -> bool:
    return any("127.0.0.1:8080" in c.text for c in _runnable(example))


def run_example(example: Example, prepared: Path, tmp_path: Path) -> list[tuple[Command, str]]:
    """Run an example in a fresh copy of the prepared directory; each command's output."""
    work = tmp_path / "work"
    shutil.copytree(prepared, work, symlinks=True)
    outputs = tmp_path / "outputs"
    outputs.mkdir()
    token = secrets.token_urlsafe(16)
    (work / "agent.token").write_text(token + "\n")
    (work / "tokens.txt").write_text(f"{token} agent\n{token}-admin admin\n")
    env = _env(work / "home", token)
    port = free_port()
    if example.language == "python":
        (work / "example.py").write_text(example.source, "utf-8")
        done = subprocess.run(
            [sys.executable, "example.py"],
            cwd=work,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert done.returncode == 0, f"{example.where}: {done.stderr[-3000:]}"
        return []
    decision = (work / "decision_id").read_text().strip()
    text, serves = script(example, port, outputs, decision)
    server = None
    if _wanted(example) and not serves:
        env["CXPLAY_TOKENS"] = f"{token}:agent"
        from tests.serving import start_serve

        server, port = start_serve(env=env)
        text, _ = script(example, port, outputs, decision)
    try:
        subprocess.run(["bash", "-c", text], cwd=work, env=env, timeout=300, check=False)
    finally:
        if server is not None:
            server.terminate()
            server.wait(timeout=30)
    results = []
    for index, command in enumerate(_runnable(example)):
        out, err = (_read(outputs / f"{index}.{kind}") for kind in ("out", "err"))
        rc_file = outputs / f"{index}.rc"
        rc = int(rc_file.read_text()) if rc_file.exists() else None
        expected = EXIT_STATUS.get(key(command.text), 0)
        assert rc == expected, (
            f"{example.where} line {command.line}: `{command.text}` exited {rc}, "
            f"expected {expected}\n{err[-3000:]}{out[-2000:]}"
        )
        results.append((command, out + err))
    return results


def _read(path: Path) -> str:
    return path.read_text("utf-8", errors="replace") if path.exists() else ""


def _marks(example: Example) -> list[pytest.MarkDecorator]:
    """Examples that start a server take 10-50 s on a shared machine: slow."""
    serves = any(SERVE.match(c.text) or "127.0.0.1:8080" in c.text for c in _runnable(example))
    return [pytest.mark.slow] if serves else []


ELLIPSIS = {"...", "…"}


def _line_matches(shown: str, printed: str) -> bool:
    shown, printed = shown.rstrip(), printed.rstrip()
    if shown.endswith("…") and len(shown) > 1:
        return printed.startswith(shown[:-1].rstrip())
    return shown == printed


def _find(segment: list[str], printed: list[str], start: int, anchored: bool) -> int | None:
    """Where ``segment`` begins in ``printed`` at or after ``start`` (only there if anchored)."""
    last = start if anchored else len(printed) - len(segment)
    for at in range(start, last + 1):
        if all(_line_matches(s, p) for s, p in zip(segment, printed[at:], strict=False)) and (
            len(printed) - at >= len(segment)
        ):
            return at
    return None


def output_matches(shown: list[str], printed: str) -> bool:
    """Whether a console block's output (with ``...`` for lines left out) is what was printed."""
    lines = printed.rstrip("\n").splitlines()
    while shown and not shown[-1].strip():
        shown = shown[:-1]
    segments: list[list[str]] = [[]]
    for line in shown:
        if line.strip() in ELLIPSIS:
            segments.append([])
        else:
            segments[-1].append(line)
    position = 0
    for index, segment in enumerate(segments):
        if not segment:
            continue
        if index == len(segments) - 1 and index > 0:  # the tail: anchored at the end
            position = max(position, len(lines) - len(segment))
        at = _find(segment, lines, position, anchored=index == 0 or index == len(segments) - 1)
        if at is None:
            return False
        position = at + len(segment)
    return not segments[-1] or position == len(lines)


def _not_a_problem(command: Command, printed: str) -> None:
    """An HTTP example answers what it shows, never an RFC 9457 problem."""
    if not command.text.startswith("curl"):
        return
    answer = json.loads(printed)
    assert not {"type", "title", "status"} <= set(answer), f"`{command.text}`: {answer}"


@pytest.mark.parametrize(
    "example", [pytest.param(e, id=e.where, marks=_marks(e)) for e in RUNNABLE]
)
def test_example_runs(example: Example, prepared: Path, tmp_path: Path) -> None:
    for command, printed in run_example(example, prepared, tmp_path):
        _not_a_problem(command, printed)
        if command.shown:
            assert output_matches(command.shown, printed), (
                f"{example.where} line {command.line}: `{command.text}` printed\n{printed}"
            )


@pytest.mark.parametrize(
    ("shown", "printed", "matches"),
    [
        (["a", "b"], "a\nb\n", True),
        (["a"], "a\nb\n", False),
        (["a", "..."], "a\nb\nc\n", True),
        (["...", "c"], "a\nb\nc\n", True),
        (["a", "...", "c"], "a\nb\nc\n", True),
        (["a", "…", "b"], "a\nc\n", False),
        (["a x …"], "a x y z\n", True),
        (["a y …"], "a x y z\n", False),
        (["b"], "a\nb\n", False),
    ],
)
def test_output_matching(shown: list[str], printed: str, matches: bool) -> None:
    assert output_matches(shown, printed) is matches


def test_shell_quoting_of_the_examples_is_valid() -> None:
    for example in RUNNABLE:
        for command in _runnable(example):
            shlex.split(command.text, comments=True)
