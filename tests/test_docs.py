"""The docs stay honest: every command and option is in the README; the API is exported."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import click
import pytest

import cxplay
from cxplay._cli import cli
from tests.commands import subcommands

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")


def walk(group: click.Group, prefix: str = "") -> list[tuple[str, click.Command]]:
    found = []
    for name, command in subcommands(group):
        path = f"{prefix}{name}"
        found.append((path, command))
        if isinstance(command, click.Group):
            found.extend(walk(command, f"{path} "))
    return found


COMMANDS = walk(cli)


@pytest.mark.parametrize(("path", "command"), COMMANDS, ids=[p for p, _ in COMMANDS])
def test_every_command_is_documented(path: str, command: click.Command) -> None:
    assert f"cxplay {path}" in README
    assert command.help and "Example" in command.help, f"{path} --help has no example"
    for param in command.params:
        if isinstance(param, click.Option):
            for opt in param.opts:
                if opt.startswith("--") and opt != "--help":
                    assert opt in README, f"{path} {opt} is not in the README"


def test_global_options_are_documented() -> None:
    for opt in ("--version", "--debug"):
        assert opt in README


def test_the_committed_playbook_schema_is_what_cxplay_schema_prints() -> None:
    committed = ROOT / "docs" / "playbook.schema.json"
    printed = subprocess.run(
        [sys.executable, "-m", "cxplay", "schema"], capture_output=True, text=True, check=True
    ).stdout
    assert committed.read_text("utf-8") == printed, (
        "docs/playbook.schema.json is stale: cxplay schema > docs/playbook.schema.json"
    )


def test_every_schema_comment_points_at_a_file() -> None:
    playbooks = sorted((ROOT / "playbooks").glob("*.toml"))
    assert playbooks
    for playbook in playbooks:
        first = playbook.read_text("utf-8").splitlines()[0]
        assert first.startswith("#:schema "), f"{playbook.name}: no #:schema line"
        target = (playbook.parent / first.removeprefix("#:schema ").strip()).resolve()
        assert target == ROOT / "docs" / "playbook.schema.json", playbook.name
    assert "`#:schema ../docs/playbook.schema.json`" in README
    assert "cxplay schema > docs/playbook.schema.json" in README


@pytest.mark.parametrize(
    "doc", ["README.md", *sorted(p.name for p in (ROOT / "docs").glob("*.md"))]
)
def test_every_link_and_named_document_exists(doc: str) -> None:
    """A relative link, or a document named in the prose (DESIGN.md), is in the repository."""
    path = ROOT / doc if doc == "README.md" else ROOT / "docs" / doc
    text = path.read_text("utf-8")
    for target in re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", text):
        if "://" not in target:
            assert (path.parent / target).exists(), f"{doc}: link to {target}"
    for named in set(re.findall(r"\b([A-Z]+\.md)\b", text)):
        assert (ROOT / named).exists(), f"{doc} names {named}"


def test_readme_opens_with_the_quickstart() -> None:
    quickstart = README.index("## Quickstart")
    assert quickstart < README.index("## Command reference")
    assert "make demo" in README[quickstart:] and "make test" in README[quickstart:]


def test_public_api_is_sorted_and_exported() -> None:
    assert cxplay.__all__ == sorted(cxplay.__all__)
    for name in cxplay.__all__:
        assert hasattr(cxplay, name), name
    public = {n for n in vars(cxplay) if not n.startswith("_") and n not in ("annotations",)}
    modules = {n for n in public if type(getattr(cxplay, n)).__name__ == "module"}
    assert public - modules - {"Iterable", "Path", "IncidentLike"} <= set(cxplay.__all__)


def test_every_dependency_is_explained() -> None:
    pyproject = (Path(__file__).resolve().parent.parent / "pyproject.toml").read_text("utf-8")
    block = pyproject.split("dependencies = [", 1)[1].split("]", 1)[0]
    names = re.findall(r'"([a-zA-Z0-9_-]+)', block)
    for name in names:
        assert name.lower() in README.lower(), f"{name} is not explained in the README"


def test_readme_library_example_runs(capsys: pytest.CaptureFixture[str]) -> None:
    (block,) = re.findall(r"```python\n(.*?)```", README, re.S)
    namespace: dict[str, object] = {}
    exec(compile(block, "README.md", "exec"), namespace)
    suggestion = namespace["s"]
    kinds = [a.kind for a in suggestion.actions]  # type: ignore[attr-defined]
    documented = re.search(r"\[a\.kind for a in s\.actions\]\s+# (\[.*?\])", block)
    assert documented is not None
    assert str(kinds) == documented.group(1)
    shown = re.search(r"print\(s\.reply\.body\)\s+# (.*?) …\n", block)
    assert shown is not None
    assert capsys.readouterr().out.startswith(shown.group(1))


def test_event_file_example_in_the_docs_is_valid() -> None:
    from cxplay._events.load import parse_event

    docs = (Path(__file__).resolve().parent.parent / "docs" / "events.md").read_text("utf-8")
    (block,) = re.findall(r"```toml\n(.*?)```", docs, re.S)
    event = parse_event(block, file="docs/events.md")
    assert event.id == "cxconf-2026"
    assert [s.id for s in event.sessions] == ["keynote"]


def test_playbook_example_in_the_docs_loads(tmp_path: Path) -> None:
    docs = (Path(__file__).resolve().parent.parent / "docs" / "playbooks.md").read_text("utf-8")
    block = re.findall(r"```toml\n(.*?)```", docs, re.S)[1]  # the whole playbook
    (tmp_path / "parcel.toml").write_text(block, encoding="utf-8")
    loaded = cxplay.load_playbooks(tmp_path)
    assert [r.id for r in loaded.rules] == ["parcel.damaged.refund"]
    engine = cxplay.Engine(loaded, backend="python")
    (scenario,) = loaded.playbooks[0].tests
    kinds = [a.kind for a in engine.suggest(scenario.incident).actions]
    assert kinds == scenario.expect == ["refund"]
