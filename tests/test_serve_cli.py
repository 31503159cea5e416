"""``cxplay serve`` run as a user runs it: a real process on a loopback port."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("uvicorn", reason="the serve extra is not installed")

from click.testing import CliRunner

from cxplay._cli import cli
from tests.serving import copy_replies, start_serve

AGENT = "agent-token-0123456789"
ADMIN = "admin-token-0123456789"
MINI = """\
[playbook]
id = "mini"
version = "1.0.0"

[[rule]]
id = "mini.damaged"
when = "type == 'parcel_damaged' and order.value >= {value}"
actions = [{{ kind = "apology" }}]
"""


def call(port: int, method: str, path: str, body: Any = None, token: str = AGENT) -> Any:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}{path}",
        data=data,
        method=method,
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[bytes], int, Path]]:
    root = tmp_path / "playbooks"
    root.mkdir()
    copy_replies(root / "replies")
    (root / "mini.toml").write_text(MINI.format(value=100), encoding="utf-8")
    tokens = tmp_path / "tokens.txt"
    tokens.write_text(f"{AGENT} agent\n{ADMIN} admin\n", encoding="utf-8")
    process, port = start_serve(
        "--playbooks",
        str(root),
        "--tokens",
        str(tokens),
        env={**os.environ, "CXPLAY_TOKENS": ""},
        stdout=subprocess.PIPE,
    )
    try:
        yield process, port, root
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            process.communicate(timeout=20)


def matched(port: int, value: float) -> list[str]:
    incident = {"type": "parcel_damaged", "order": {"value": value, "currency": "PLN"}}
    return [a["rule"] for a in call(port, "POST", "/v1/suggest", incident)["actions"]]


def test_serve_answers_reloads_on_sighup_and_stops_cleanly(
    served: tuple[subprocess.Popen[bytes], int, Path],
) -> None:
    process, port, root = served
    assert matched(port, 150) == ["mini.damaged"]
    with pytest.raises(urllib.error.HTTPError) as refused:
        call(port, "POST", "/v1/suggest", {"type": "parcel_damaged"}, token="x" * 20)
    assert refused.value.code == 401
    assert refused.value.headers["content-type"] == "application/problem+json"
    refused.value.close()

    temporary = root / "mini.toml.new"
    temporary.write_text(MINI.format(value=200), encoding="utf-8")
    temporary.replace(root / "mini.toml")
    process.send_signal(signal.SIGHUP)
    deadline = time.monotonic() + 30
    while call(port, "GET", "/readyz")["last_reload"]["reloads"] < 1:
        assert time.monotonic() < deadline
        time.sleep(0.1)
    assert process.poll() is None
    assert matched(port, 150) == []
    assert matched(port, 250) == ["mini.damaged"]

    process.send_signal(signal.SIGTERM)
    output = process.communicate(timeout=20)[0].decode()
    # uvicorn shuts down gracefully, then re-raises the signal it caught (exit by SIGTERM)
    assert process.returncode in (0, -signal.SIGTERM)
    assert "Finished server process" in output
    assert "Traceback" not in output
    assert f"http://127.0.0.1:{port}" in output  # loopback unless told otherwise


def test_serve_without_tokens_says_how_to_give_them(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CXPLAY_TOKENS", raising=False)
    result = CliRunner().invoke(cli, ["serve", "--no-watch"])
    assert result.exit_code == 1
    assert result.stderr.startswith("Error: no tokens: set CXPLAY_TOKENS=")
    assert "Traceback" not in result.output


def test_serve_with_a_bad_token_file(tmp_path: Path) -> None:
    tokens = tmp_path / "tokens.txt"
    tokens.write_text("0123456789abcdefXYZ admn\n", encoding="utf-8")
    result = CliRunner().invoke(cli, ["serve", "--tokens", str(tokens)])
    assert result.exit_code == 1
    assert result.stderr == (
        f"Error: {tokens}:1: unknown role 'admn'; did you mean 'admin'? (roles: agent, admin)\n"
    )
