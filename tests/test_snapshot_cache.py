"""The cache of loaded playbooks and of holidays: it answers as the files do, or not at all.

A snapshot is kept under a key of the files' bytes and cxplay's code; a stale, corrupt or
foreign entry is rebuilt, never trusted; ``--no-cache`` and ``CXPLAY_CACHE_DIR=`` turn it
off; two processes filling it at once both answer right and leave one whole entry.
"""

from __future__ import annotations

import json
import os
import pickle
import shutil
import stat
import subprocess
import sys
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest

from cxplay import Engine, load_playbooks
from cxplay._common import cache
from cxplay._common.hours import _holidays
from cxplay._playbooks.loader import PlaybookSet, shipped_playbooks_dir
from cxplay.errors import PlaybookError

ROOT = Path(__file__).resolve().parent.parent
INCIDENTS = sorted((ROOT / "examples" / "incidents").glob("*.json"))
PARCEL = ROOT / "examples" / "incidents" / "parcel_damaged.json"


@pytest.fixture
def cache_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    where = tmp_path / "cache"
    monkeypatch.setenv("CXPLAY_CACHE_DIR", str(where))
    _holidays.cache_clear()
    yield where
    _holidays.cache_clear()


@pytest.fixture
def playbooks(tmp_path: Path) -> Path:
    """A copy of the shipped playbooks (with their replies) that a test may edit."""
    target = tmp_path / "playbooks"
    shutil.copytree(shipped_playbooks_dir(), target)
    return target


def _snapshots(where: Path) -> list[Path]:
    folder = where / "snapshots"
    return sorted(folder.glob("*.pickle")) if folder.is_dir() else []


def _cli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "cxplay", *args],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, **env},
        cwd=ROOT,
    )


# --------------------------------------------------------------------------- in process


@pytest.fixture
def loads(monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    """Every time the files are really loaded (not taken from a snapshot): their paths."""
    from cxplay._playbooks import loader

    real = loader._load
    seen: list[Path] = []

    def counted(path_list: list[Path], files: list[Path]) -> PlaybookSet:
        seen.extend(path_list)
        return real(path_list, files)

    monkeypatch.setattr(loader, "_load", counted)
    return seen


def test_a_cached_set_equals_a_loaded_one(
    cache_dir: Path, playbooks: Path, loads: list[Path]
) -> None:
    fresh = load_playbooks(playbooks)
    with cache.enabled():
        first = load_playbooks(playbooks)  # loads and keeps
        assert len(_snapshots(cache_dir)) == 1
        second = load_playbooks(playbooks)  # from the snapshot
    assert loads == [playbooks, playbooks]  # the third came from the snapshot
    assert first == fresh and second == fresh
    assert second.stamps == fresh.stamps
    assert second.correlations == fresh.correlations
    assert [r.condition for r in second.rules] == [r.condition for r in fresh.rules]


def test_the_cache_is_off_outside_a_command(cache_dir: Path, playbooks: Path) -> None:
    load_playbooks(playbooks)
    assert not cache_dir.exists()
    with cache.enabled(False):
        load_playbooks(playbooks)
    assert not cache_dir.exists()


@pytest.mark.parametrize("backend", ["durable", "python"])
def test_an_engine_on_a_cached_set_answers_as_on_the_files(
    cache_dir: Path, playbooks: Path, backend: str
) -> None:
    with cache.enabled():
        load_playbooks(playbooks)
        cached = load_playbooks(playbooks)
    assert len(_snapshots(cache_dir)) == 1
    fresh = Engine(load_playbooks(playbooks), backend=backend)  # type: ignore[arg-type]
    served = Engine(cached, backend=backend)  # type: ignore[arg-type]
    for path in INCIDENTS:
        incident = json.loads(path.read_text("utf-8"))
        assert served.suggest(incident, explain=True) == fresh.suggest(incident, explain=True)


@pytest.mark.parametrize(
    "damage",
    [
        lambda data: data[: len(data) // 2],  # cut short
        lambda data: data[:-1] + bytes([data[-1] ^ 0xFF]),  # one byte of the body flipped
        lambda data: b"",  # empty
        lambda data: b"not a cache entry at all",
    ],
    ids=["truncated", "flipped", "empty", "garbage"],
)
def test_a_corrupt_snapshot_is_rebuilt_not_trusted(
    cache_dir: Path, playbooks: Path, damage: object, loads: list[Path]
) -> None:
    with cache.enabled():
        fresh = load_playbooks(playbooks)
        (entry,) = _snapshots(cache_dir)
        good = entry.read_bytes()
        entry.write_bytes(damage(good))  # type: ignore[operator]
        again = load_playbooks(playbooks)
        assert len(loads) == 2  # loaded from the files again
        load_playbooks(playbooks)
        assert len(loads) == 2  # and kept again
    assert again == fresh
    assert _snapshots(cache_dir) == [entry]
    assert cache.read(entry) is not None  # rebuilt whole
    assert pickle.loads(cache.read(entry) or b"") == fresh


def test_an_entry_that_holds_something_else_is_rebuilt(
    cache_dir: Path, playbooks: Path, loads: list[Path]
) -> None:
    """A checksum that matches is not enough: the entry must hold a set of these files."""
    with cache.enabled():
        fresh = load_playbooks(playbooks)
        (entry,) = _snapshots(cache_dir)
        cache.write(entry, pickle.dumps({"not": "a playbook set"}))
        assert load_playbooks(playbooks) == fresh
        other = load_playbooks(shipped_playbooks_dir())
        # the shipped set's snapshot written over this set's key: its files are others
        cache.write(entry, pickle.dumps(other))
        assert load_playbooks(playbooks) == fresh
    assert loads == [playbooks, playbooks, shipped_playbooks_dir(), playbooks]
    assert pickle.loads(cache.read(entry) or b"") == fresh


def test_a_changed_playbook_is_a_new_snapshot(cache_dir: Path, playbooks: Path) -> None:
    incident = json.loads(PARCEL.read_text("utf-8"))
    with cache.enabled():
        before = Engine.from_path(playbooks).suggest(incident)
        parcel = playbooks / "parcel.toml"
        text = parcel.read_text("utf-8")
        assert 'id = "parcel.damaged.apologise"\nwhen = "type == \'parcel_damaged\'"' in text
        parcel.write_text(
            text.replace(
                'id = "parcel.damaged.apologise"\nwhen = "type == \'parcel_damaged\'"',
                'id = "parcel.damaged.apologise"\nwhen = "type == \'parcel_lost\'"',
            ),
            "utf-8",
        )
        after = Engine.from_path(playbooks).suggest(incident)
    assert len(_snapshots(cache_dir)) == 2
    assert "parcel.damaged.apologise" in {a.rule for a in before.actions}
    assert "parcel.damaged.apologise" not in {a.rule for a in after.actions}
    assert after == Engine(load_playbooks(playbooks)).suggest(incident)


def test_a_set_that_does_not_load_is_not_kept(cache_dir: Path, playbooks: Path) -> None:
    broken = playbooks / "parcel.toml"
    broken.write_text(broken.read_text("utf-8").replace("priority = 100", "priority = 'x'", 1))
    messages = []
    with cache.enabled():
        for _ in range(2):
            with pytest.raises(PlaybookError) as error:
                load_playbooks(playbooks)
            messages.append(str(error.value))
    assert messages[0] == messages[1]
    assert _snapshots(cache_dir) == []


def test_a_cache_that_cannot_be_written_costs_time_not_the_answer(
    cache_dir: Path, playbooks: Path, loads: list[Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    import tempfile

    def refuse(*args: object, **kwargs: object) -> tuple[int, str]:
        raise PermissionError(13, "Permission denied")  # a read-only home, a full disk

    fresh = load_playbooks(playbooks)
    monkeypatch.setattr(tempfile, "mkstemp", refuse)
    with cache.enabled():
        first = load_playbooks(playbooks)
        second = load_playbooks(playbooks)
    assert first == fresh and second == fresh
    assert loads == [playbooks, playbooks, playbooks]  # loaded each time, never kept
    assert _snapshots(cache_dir) == []


def test_a_cache_where_no_directory_can_be_made_is_passed_over(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory\n")
    env = {"CXPLAY_CACHE_DIR": str(blocker / "cache")}
    done = _cli("suggest", str(PARCEL), "--format", "json", env=env)
    uncached = _cli("suggest", "--no-cache", str(PARCEL), "--format", "json", env=env)
    assert done.returncode == 0 and done.stderr == "", done.stderr
    assert done.stdout == uncached.stdout
    assert blocker.read_text() == "not a directory\n"


def test_a_directory_open_to_others_is_not_used(cache_dir: Path, playbooks: Path) -> None:
    (cache_dir / "snapshots").mkdir(parents=True)
    (cache_dir / "snapshots").chmod(0o755)
    with cache.enabled():
        assert load_playbooks(playbooks) == load_playbooks(playbooks)
    assert _snapshots(cache_dir) == []


def test_the_cache_directory_is_private(cache_dir: Path, playbooks: Path) -> None:
    with cache.enabled():
        load_playbooks(playbooks)
    for folder in (cache_dir / "snapshots", cache_dir / "holidays"):
        if folder.exists():
            assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    (entry,) = _snapshots(cache_dir)
    assert stat.S_IMODE(entry.stat().st_mode) & 0o077 == 0


def test_old_snapshots_are_pruned(
    cache_dir: Path, playbooks: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from cxplay._playbooks import snapshot

    monkeypatch.setattr(snapshot, "KEEP", 2)
    parcel = playbooks / "parcel.toml"
    text = parcel.read_text("utf-8")
    with cache.enabled():
        for n in range(4):
            parcel.write_text(text + f"\n# edit {n}\n", "utf-8")
            load_playbooks(playbooks)
    assert len(_snapshots(cache_dir)) == 2
    assert not [p for p in (cache_dir / "snapshots").iterdir() if p.suffix == ".tmp"]


# --------------------------------------------------------------------------- holidays


def test_holidays_are_kept_and_a_corrupt_entry_is_recomputed(cache_dir: Path) -> None:
    import holidays

    truth = frozenset(holidays.country_holidays("PL", years=2026))
    with cache.enabled():
        assert _holidays("PL", 2026) == truth
        (entry,) = sorted((cache_dir / "holidays").glob("*.json"))
        assert json.loads(cache.read(entry) or b"") == sorted(d.isoformat() for d in truth)
        for body in (b"[1, 2]", b'["2026-13-45"]', b"{}"):
            cache.write(entry, body)
            _holidays.cache_clear()
            assert _holidays("PL", 2026) == truth
        entry.write_bytes(b"garbage")
        _holidays.cache_clear()
        assert _holidays("PL", 2026) == truth
        assert date(2026, 11, 11) in _holidays("PL", 2026)
    assert cache.read(entry) is not None


# --------------------------------------------------------------------------- parsed TOML


def _parsed(where: Path) -> list[Path]:
    folder = where / "toml"
    return sorted(folder.glob("*.pickle")) if folder.is_dir() else []


def test_parsed_toml_is_kept_and_equals_the_parser(cache_dir: Path) -> None:
    import tomli

    from cxplay._common.toml import read_toml

    files = sorted(shipped_playbooks_dir().rglob("*.toml"))
    assert len(files) > 20
    read_toml(files[0])
    assert _parsed(cache_dir) == []  # outside a command: not kept
    with cache.enabled():
        first = [read_toml(f)[0] for f in files]  # parsed and kept
        assert len(_parsed(cache_dir)) == len({f.read_bytes() for f in files})
        second = [read_toml(f) for f in files]  # from the cache
    for path, a, (b, index) in zip(files, first, second, strict=True):
        truth = tomli.loads(path.read_text("utf-8"))
        assert a == truth and b == truth, path
        assert b is not a  # each reader gets its own data
        fresh = read_toml(path)[1]  # lines come from the text, cached or not
        assert [index.line((key,)) for key in b] == [fresh.line((key,)) for key in b]


@pytest.mark.parametrize(
    "body",
    [None, b"garbage", pickle.dumps(["not", "a", "table"]), pickle.dumps({"forged": True})[:-3]],
    ids=["cut", "garbage", "not-a-table", "truncated-pickle"],
)
def test_a_corrupt_parsed_entry_is_parsed_again(
    cache_dir: Path, tmp_path: Path, body: bytes | None
) -> None:
    from cxplay._common.toml import read_toml

    path = tmp_path / "doc.toml"
    path.write_text('title = "x"\n[table]\nn = 1\n', "utf-8")
    with cache.enabled():
        read_toml(path)
        (entry,) = _parsed(cache_dir)
        if body is None:
            entry.write_bytes(entry.read_bytes()[:-5])
        else:
            cache.write(entry, body)  # checksummed, but not what was parsed
        assert read_toml(path)[0] == {"title": "x", "table": {"n": 1}}
    assert pickle.loads(cache.read(entry) or b"") == {"title": "x", "table": {"n": 1}}


def test_toml_that_does_not_parse_is_not_kept(cache_dir: Path, tmp_path: Path) -> None:
    from cxplay._common.toml import read_toml

    path = tmp_path / "broken.toml"
    path.write_text("title = \n", "utf-8")
    with cache.enabled():
        for _ in range(2):
            with pytest.raises(PlaybookError, match="invalid TOML"):
                read_toml(path)
    assert _parsed(cache_dir) == []


def test_old_parsed_toml_is_pruned(
    cache_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from cxplay._common import toml

    monkeypatch.setattr(toml, "KEEP_PARSED", 3)
    with cache.enabled():
        for n in range(6):
            path = tmp_path / f"doc{n}.toml"
            path.write_text(f"n = {n}\n", "utf-8")
            assert toml.read_toml(path)[0] == {"n": n}
    assert len(_parsed(cache_dir)) == 3


# --------------------------------------------------------------------------- the command


def test_the_command_answers_the_same_from_the_cache(cache_dir: Path) -> None:
    env = {"CXPLAY_CACHE_DIR": str(cache_dir)}
    first = _cli("suggest", str(PARCEL), "--format", "json", env=env)
    assert first.returncode == 0, first.stderr
    assert len(_snapshots(cache_dir)) == 1
    second = _cli("suggest", str(PARCEL), "--format", "json", env=env)
    uncached = _cli("suggest", "--no-cache", str(PARCEL), "--format", "json", env=env)
    assert first.stdout == second.stdout == uncached.stdout
    (entry,) = _snapshots(cache_dir)
    entry.write_bytes(entry.read_bytes()[:100])  # corrupt: still the right answer
    third = _cli("suggest", str(PARCEL), "--format", "json", env=env)
    assert third.returncode == 0 and third.stdout == first.stdout
    assert cache.read(entry) is not None


def test_no_cache_and_an_empty_cache_dir_write_nothing(tmp_path: Path) -> None:
    where = tmp_path / "cache"
    done = _cli("suggest", "--no-cache", str(PARCEL), env={"CXPLAY_CACHE_DIR": str(where)})
    assert done.returncode == 0, done.stderr
    assert not where.exists()
    off = _cli("suggest", str(PARCEL), env={"CXPLAY_CACHE_DIR": "", "HOME": str(tmp_path)})
    assert off.returncode == 0, off.stderr
    assert off.stdout == done.stdout
    assert not (tmp_path / ".cache").exists()


def test_two_processes_fill_the_cache_at_once(cache_dir: Path) -> None:
    env = {**os.environ, "CXPLAY_CACHE_DIR": str(cache_dir)}
    args = [sys.executable, "-m", "cxplay", "suggest", str(PARCEL), "--format", "json"]
    running = [
        subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, cwd=ROOT)
        for _ in range(3)
    ]
    answers = []
    for process in running:
        out, err = process.communicate(timeout=300)
        assert process.returncode == 0, err
        answers.append(out)
    assert answers[0] == answers[1] == answers[2]
    (entry,) = _snapshots(cache_dir)
    assert cache.read(entry) is not None
    assert [p.name for p in (cache_dir / "snapshots").iterdir()] == [entry.name]


@pytest.mark.parametrize("enabled", [True, False])
def test_importing_cxplay_leaves_the_collector_as_it_was(enabled: bool) -> None:
    """The collector is paused while cxplay imports (start-up time), then left as found."""
    code = (
        "import gc\n"
        f"{'gc.enable()' if enabled else 'gc.disable()'}\n"
        "import cxplay, cxplay._cli\n"
        f"assert gc.isenabled() is {enabled}\n"
        "cxplay.Engine  # the engine's modules, imported on first use\n"
        f"assert gc.isenabled() is {enabled}\n"
        "from click.testing import CliRunner\n"
        f"done = CliRunner().invoke(cxplay._cli.cli, ['suggest', {str(PARCEL)!r}])\n"
        "assert done.exit_code == 0, done.output\n"
        f"assert gc.isenabled() is {enabled}\n"
        "assert gc.get_freeze_count() == 0  # frozen only when the process ends with it\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert done.returncode == 0, done.stderr


def test_another_library_or_code_is_another_key(
    cache_dir: Path, playbooks: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from cxplay._playbooks import snapshot

    with cache.enabled():
        load_playbooks(playbooks)
        monkeypatch.setattr(snapshot, "_libraries", lambda: "babel 9.9.9")
        load_playbooks(playbooks)
        monkeypatch.setattr(cache, "code_stamp", lambda: "another cxplay")
        load_playbooks(playbooks)
    assert len(_snapshots(cache_dir)) == 3


def test_a_touched_file_keeps_its_snapshot_with_today_s_times(
    cache_dir: Path, playbooks: Path, loads: list[Path]
) -> None:
    parcel = playbooks / "parcel.toml"
    with cache.enabled():
        load_playbooks(playbooks)
        info = parcel.stat()
        os.utime(parcel, ns=(info.st_atime_ns, info.st_mtime_ns + 5_000_000_000))
        again = load_playbooks(playbooks)
    assert loads == [playbooks]
    assert len(_snapshots(cache_dir)) == 1
    assert (str(parcel), info.st_mtime_ns + 5_000_000_000, info.st_size) in again.stamps


def test_the_code_stamp_names_each_file_as_relpath_does() -> None:
    """The stamp's relative paths are cut from os.walk's strings: the same as relpath's."""
    import hashlib

    root = os.path.dirname(os.path.dirname(os.path.abspath(cache.__file__)))
    digest = hashlib.sha256(sys.version.encode())
    for top, dirs, files in os.walk(root):
        dirs[:] = sorted(d for d in dirs if d != "__pycache__")
        for name in sorted(files):
            info = os.stat(os.path.join(top, name))
            where = os.path.relpath(os.path.join(top, name), root)
            digest.update(f"{where}|{info.st_size}|{info.st_mtime_ns}\n".encode())
    assert cache.code_stamp() == digest.hexdigest()
