"""``cxplay suggest`` ends the process without the interpreter's teardown, and nobody can tell.

After a suggestion with nothing left open, :func:`cxplay._cli.main` runs the atexit hooks,
flushes stdout and stderr and ends the process (``_exit_now``). These tests run the command
as a user does, in a process of its own, and compare what it prints and returns with the
same command run in-process (CliRunner, which never takes that way out).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from cxplay._cli import cli
from tests.test_cli import SHOP

ROOT = Path(__file__).resolve().parent.parent
PARCEL = ROOT / "examples" / "incidents" / "parcel_damaged.json"


def _main(
    *args: str, before: str = "", env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """``cxplay ARGS`` through :func:`cxplay._cli.main`, after the Python in ``before``."""
    code = f"import sys\n{before}\nfrom cxplay._cli import main\nsys.argv = ['cxplay', *{list(args)!r}]\nmain()\n"
    return subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={**os.environ, **(env or {})},
        timeout=120,
        check=False,
    )


@pytest.mark.parametrize(
    ("args", "status"),
    [
        ((str(PARCEL),), 0),
        ((str(PARCEL), "--format", "json"), 0),
        ((str(PARCEL), "--explain", "--format", "markdown"), 0),
        (("--type", "queue_long", "--playbooks", "BOOK"), 3),  # no rule matches
        (("--type", "queue_long", "--playbooks", "BOOK", "--format", "json"), 3),
    ],
)
def test_the_process_prints_and_returns_what_the_command_does(
    tmp_path: Path, args: tuple[str, ...], status: int
) -> None:
    (tmp_path / "shop.toml").write_text(SHOP, encoding="utf-8")
    args = tuple(str(tmp_path) if arg == "BOOK" else arg for arg in args)
    env = {"CXPLAY_CACHE_DIR": str(tmp_path / "cache"), "CXPLAY_LANG": "en", "NO_COLOR": "1"}
    inside = CliRunner().invoke(cli, ["suggest", *args], env=env)
    for _ in range(2):  # the cache filled, then used
        done = _main("suggest", *args, env=env)
        assert (done.returncode, done.stdout, done.stderr) == (status, inside.stdout, "")
    assert inside.exit_code == status


def test_the_exit_hooks_still_run(tmp_path: Path) -> None:
    hook = "import atexit\natexit.register(lambda: print('hook ran', file=sys.stderr))"
    done = _main("suggest", str(PARCEL), before=hook, env={"CXPLAY_CACHE_DIR": str(tmp_path)})
    assert done.returncode == 0
    assert done.stderr == "hook ran\n"
    assert done.stdout.startswith("Incident    INC-1042\n")


def test_a_thread_still_running_is_waited_for(tmp_path: Path) -> None:
    mark = tmp_path / "thread-finished"
    late = (
        "import threading, time\n"
        f"def late():\n    time.sleep(0.5)\n    open({str(mark)!r}, 'w').close()\n"
        "threading.Thread(target=late).start()"
    )
    done = _main("suggest", str(PARCEL), before=late, env={"CXPLAY_CACHE_DIR": str(tmp_path)})
    assert done.returncode == 0
    assert mark.exists()  # the interpreter's own exit: it waited for the thread


def test_a_logged_suggestion_ends_the_ordinary_way(tmp_path: Path) -> None:
    log = tmp_path / "log.db"
    env = {"CXPLAY_CACHE_DIR": str(tmp_path / "cache")}
    done = _main("suggest", str(PARCEL), "--format", "json", "--log", str(log), env=env)
    assert done.returncode == 0, done.stderr
    assert '"decision_id"' in done.stdout
    exported = _main("log", "export", "--log", str(log), "--format", "jsonl", env=env)
    assert exported.returncode == 0, exported.stderr
    assert exported.stdout.count("\n") == 1 and "INC-1042" in exported.stdout


@pytest.mark.parametrize(("args", "torn_down"), [((), False), (("--log", "LOG"), True)])
def test_the_teardown_is_skipped_only_when_nothing_is_open(
    tmp_path: Path, args: tuple[str, ...], torn_down: bool
) -> None:
    probe = (  # its module's globals are gone when it is freed: the writer is its own
        "import os\n"
        "class Probe:\n"
        "    def __del__(self, write=os.write):\n"
        "        write(2, b'torn down\\n')\n"
        "probe = Probe()"
    )
    args = tuple(str(tmp_path / "log.db") if arg == "LOG" else arg for arg in args)
    done = _main(
        "suggest", str(PARCEL), *args, before=probe, env={"CXPLAY_CACHE_DIR": str(tmp_path)}
    )
    assert done.returncode == 0
    assert done.stderr == ("torn down\n" if torn_down else "")
