"""The docs stay honest: every command and option is in the README; the API is exported."""

from __future__ import annotations

import re
from pathlib import Path

import click
import pytest

import cxplay
from cxplay._cli import cli

README = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")


def walk(group: click.Group, prefix: str = "") -> list[tuple[str, click.Command]]:
    found = []
    for name, command in sorted(group.commands.items()):
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
    assert "Добрий день, пані Олено," in capsys.readouterr().out


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
