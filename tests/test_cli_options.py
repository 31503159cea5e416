"""``--playbooks`` and ``--log``, declared once (cxplay/_cli_options.py), read alike everywhere.

Every command that takes playbooks falls back on ``$CXPLAY_PLAYBOOKS``; an empty element
of it (``a::b``, a leading or trailing separator) would mean the current directory, so it is
a usage error (exit 2, one clear message) on each of them -- never a stray ``*.toml`` of the
working directory loaded instead. The table below must name every such command: a new one
fails ``test_every_command_that_takes_playbooks_is_covered`` until it is added.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

import cxplay
from cxplay._cli import cli
from cxplay._cli_options import LOG_ENV, PLAYBOOKS_ENV
from tests.commands import subcommands

SHIPPED = cxplay.shipped_playbooks_dir()
ROOT = Path(__file__).resolve().parent.parent
EVENT = ROOT / "examples" / "events" / "cxconf-2026.toml"
INCIDENT = ROOT / "examples" / "incidents" / "parcel_damaged.json"
SEP = os.pathsep

#: Every command that reads CXPLAY_PLAYBOOKS, with arguments it needs to get that far.
COMMANDS: dict[tuple[str, ...], list[str]] = {
    ("suggest",): ["--type", "parcel_damaged"],
    ("explain",): ["--type", "parcel_damaged"],
    ("validate",): [],
    ("test",): [],
    ("playbooks",): [],
    ("playbooks", "show"): ["parcel"],
    ("map",): [],
    ("plan",): [str(EVENT)],
    ("report",): [],
    ("watch",): [str(INCIDENT)],
    ("disruptions", "resolve"): ["D-1"],
    ("backtest",): ["--baseline", str(SHIPPED), "incidents.jsonl"],
    ("serve",): ["--no-auth", "--host", "192.0.2.1"],
}
#: The commands that take playbooks as arguments rather than --playbooks.
POSITIONAL = {("validate",), ("test",)}


def _commands(
    group: click.Group, path: tuple[str, ...] = ()
) -> dict[tuple[str, ...], click.Command]:
    found: dict[tuple[str, ...], click.Command] = {}
    for name, command in subcommands(group):
        found[(*path, name)] = command
        if isinstance(command, click.Group):
            found.update(_commands(command, (*path, name)))
    return found


def _takes(command: click.Command, flag: str) -> click.Parameter | None:
    return next((p for p in command.params if flag in getattr(p, "opts", ())), None)


def test_every_command_that_takes_playbooks_is_covered() -> None:
    taking = {path for path, command in _commands(cli).items() if _takes(command, "--playbooks")}
    assert taking | POSITIONAL == set(COMMANDS)


def test_every_playbooks_option_is_the_shared_one() -> None:
    for path, command in _commands(cli).items():
        option = _takes(command, "--playbooks")
        if option is not None:
            assert option.envvar == PLAYBOOKS_ENV, path
            assert option.metavar == "DIR|FILE", path
            assert option.multiple, path
            assert f"env {PLAYBOOKS_ENV}" in (getattr(option, "help", "") or ""), path


def test_every_log_option_reads_the_environment_but_the_backtests() -> None:
    seen = 0
    for path, command in _commands(cli).items():
        option = _takes(command, "--log")
        if option is None:
            continue
        seen += 1
        assert option.metavar == "PATH|URL", path
        # backtest: SOURCE and --log are alternatives; CXPLAY_LOG would refuse every file
        assert option.envvar == (None if path == ("backtest",) else LOG_ENV), path
        if option.envvar:
            assert f"Env {LOG_ENV}" in (getattr(option, "help", "") or ""), path
    assert seen >= 12


@pytest.fixture
def stray(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A working directory whose only *.toml is not a playbook, and an incidents file."""
    (tmp_path / "stray.toml").write_text("not a playbook = [", encoding="utf-8")
    (tmp_path / "incidents.jsonl").write_text(
        json.dumps({"type": "parcel_damaged"}) + "\n", encoding="utf-8"
    )
    monkeypatch.chdir(tmp_path)
    return tmp_path


def _run(args: list[str], value: str, tmp: Path) -> tuple[int, str]:
    env = {
        "NO_COLOR": "1",
        PLAYBOOKS_ENV: value,
        LOG_ENV: str(tmp / "log.db"),
        "CXPLAY_LANG": "en",
    }
    result = CliRunner().invoke(cli, args, env=env, prog_name="cxplay")
    return result.exit_code, result.stderr


@pytest.mark.parametrize(
    "value",
    [f"{SEP}{SHIPPED}", f"{SHIPPED}{SEP}", f"{SHIPPED}{SEP}{SEP}{SHIPPED}", f"{SHIPPED}{SEP} "],
    ids=["leading", "trailing", "double", "blank"],
)
@pytest.mark.parametrize("command", sorted(COMMANDS), ids=" ".join)
def test_an_empty_element_of_cxplay_playbooks_is_a_usage_error_everywhere(
    stray: Path, command: tuple[str, ...], value: str
) -> None:
    code, stderr = _run([*command, *COMMANDS[command]], value, stray)
    assert code == 2, stderr
    assert f"{PLAYBOOKS_ENV}={value!r} has an empty element" in stderr
    assert "would load every *.toml of the current directory" in stderr
    assert "stray.toml" not in stderr and "Traceback" not in stderr


@pytest.mark.parametrize(
    "command", [("validate",), ("playbooks",), ("map",), ("backtest",)], ids=" ".join
)
def test_a_well_formed_cxplay_playbooks_is_used(stray: Path, command: tuple[str, ...]) -> None:
    parcel, events = SHIPPED / "parcel.toml", SHIPPED / "events.toml"
    code, stderr = _run([*command, *COMMANDS[command]], f"{parcel}{SEP}{events}", stray)
    assert code == 0, stderr
    assert "stray.toml" not in stderr


def test_playbooks_given_on_the_command_line_win_over_the_environment(stray: Path) -> None:
    result = CliRunner().invoke(
        cli,
        ["playbooks", "--format", "json", "--playbooks", str(SHIPPED / "parcel.toml")],
        env={"NO_COLOR": "1", PLAYBOOKS_ENV: f"{SEP}broken"},
        prog_name="cxplay",
    )
    assert result.exit_code == 0, result.stderr
    assert [p["id"] for p in json.loads(result.stdout)] == ["parcel"]


def test_the_environment_names_the_playbooks(stray: Path) -> None:
    parcel, events = SHIPPED / "parcel.toml", SHIPPED / "events.toml"
    result = CliRunner().invoke(
        cli,
        ["playbooks", "--format", "json"],
        env={"NO_COLOR": "1", PLAYBOOKS_ENV: f"{parcel}{SEP}{events}"},
        prog_name="cxplay",
    )
    assert result.exit_code == 0, result.stderr
    assert [p["id"] for p in json.loads(result.stdout)] == ["parcel", "events"]


def test_backtest_generate_ignores_the_playbooks_of_the_environment(stray: Path) -> None:
    code, stderr = _run(["backtest", "--generate", "3"], str(SHIPPED), stray)
    assert code == 0, stderr


def test_the_cli_as_a_user_runs_it(stray: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "cxplay", "validate"],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=stray,
        env={**os.environ, PLAYBOOKS_ENV: f"{SHIPPED}{SEP}", "NO_COLOR": "1"},
    )
    assert result.returncode == 2, result.stderr
    assert "has an empty element" in result.stderr and "Traceback" not in result.stderr
