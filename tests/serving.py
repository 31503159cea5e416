"""Helpers shared by the service tests."""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Mapping
from pathlib import Path

from cxplay._playbooks.loader import shipped_playbooks_dir


def copy_replies(target: Path) -> None:
    """The shipped signature and common reply fragments (apology, ...): enough for a small set."""
    target.mkdir()
    for source in (shipped_playbooks_dir() / "replies").glob("*.toml"):
        if source.name == "config.toml" or source.name.startswith("common."):
            shutil.copy(source, target)


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_serve(
    *args: str, env: Mapping[str, str], stdout: int = subprocess.DEVNULL
) -> tuple[subprocess.Popen[bytes], int]:
    """``cxplay serve --port PORT --no-watch *args`` as a process, once /healthz says ok.

    Fails (with the server's output when it is piped) if the process exits or is not up
    within 60 s.
    """
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "cxplay", "serve", "--port", str(port), "--no-watch", *args],
        stdout=stdout,
        stderr=subprocess.STDOUT if stdout == subprocess.PIPE else subprocess.DEVNULL,
        env=dict(env),
    )
    deadline = time.monotonic() + 60
    while True:
        try:
            url = f"http://127.0.0.1:{port}/healthz"
            with urllib.request.urlopen(url, timeout=2) as response:
                if json.loads(response.read()) == {"status": "ok"}:
                    return process, port
        except (urllib.error.URLError, ConnectionError):
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            output = process.stdout.read().decode() if process.stdout else ""
            raise AssertionError(f"cxplay serve did not come up: {output}")
        time.sleep(0.1)
