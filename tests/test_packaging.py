"""A plain (non-editable) install finds the shipped playbooks and their replies."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import venv
from pathlib import Path

import pytest

from cxplay._log.schema import HEAD

ROOT = Path(__file__).resolve().parent.parent

pytestmark = pytest.mark.slow


def run(*args: str | Path, cwd: Path | None = None, env: dict[str, str] | None = None) -> str:
    done = subprocess.run(
        [str(a) for a in args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def test_wheel_install_runs_suggest(tmp_path: Path) -> None:
    wheels = tmp_path / "wheels"
    run(sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", wheels, ROOT)
    (wheel,) = wheels.glob("cxplay-*.whl")
    target = tmp_path / "venv"
    venv.EnvBuilder(with_pip=True).create(target)
    python = target / "bin" / "python"
    run(python, "-m", "pip", "install", "-q", wheel)
    env = {k: v for k, v in os.environ.items() if not k.startswith("CXPLAY_")}
    env["NO_COLOR"] = "1"
    incident = ROOT / "examples" / "incidents" / "parcel_damaged.json"
    # run from an empty directory, so nothing can be found through the source tree
    work = tmp_path / "elsewhere"
    work.mkdir()
    out = run(target / "bin" / "cxplay", "suggest", incident, "--format", "json", cwd=work, env=env)
    suggestion = json.loads(out)
    assert suggestion["matched"] is True
    assert suggestion["actions"][0]["kind"] == "apology"
    assert suggestion["reply"]["body"]
    located = run(
        python,
        "-c",
        "import cxplay; print(cxplay.shipped_playbooks_dir())",
        cwd=work,
        env=env,
    )
    assert "site-packages" in located
    # the name tables are package data, read from the installed package
    greeting = run(
        python,
        "-c",
        "from cxplay._replies.address import salutation; print(salutation('Piotr Nowak', 'pl'))",
        cwd=work,
        env=env,
    )
    assert greeting == "Szanowny Panie Piotrze,\n"
    # the runbook templates are package data too
    event = ROOT / "examples" / "events" / "cxconf-2026.toml"
    html = work / "runbook.html"
    run(target / "bin" / "cxplay", "plan", event, "--html", html, cwd=work, env=env)
    assert html.read_text("utf-8").startswith("<!DOCTYPE html>")
    # the decision log's migrations are package data: an installed cxplay creates its log
    logged = json.loads(
        run(
            target / "bin" / "cxplay",
            "suggest",
            incident,
            "--format",
            "json",
            "--log",
            work / "cx.db",
            cwd=work,
            env=env,
        )
    )
    assert logged["decision_id"]
    out = run(
        target / "bin" / "cxplay", "log", "migrate", "--log", work / "cx.db", cwd=work, env=env
    )
    assert out.endswith(f": schema {HEAD} (already)\n")
