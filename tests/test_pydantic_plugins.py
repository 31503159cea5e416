"""pydantic's plugins found without importlib.metadata when there are none (cxplay._common.plugins).

The scan may only say "none" when importlib.metadata finds none: every layout below is
checked against importlib.metadata itself, and a real plugin must still be loaded by the
command.
"""

from __future__ import annotations

import importlib.metadata
import os
import subprocess
import sys
import zipfile
from importlib.machinery import PathFinder
from pathlib import Path

import pytest

from cxplay._common import plugins

ROOT = Path(__file__).resolve().parent.parent
PARCEL = ROOT / "examples" / "incidents" / "parcel_damaged.json"


@pytest.fixture(autouse=True)
def _stdlib_finders_only(monkeypatch: pytest.MonkeyPatch) -> None:
    """sys.meta_path as a ``cxplay suggest`` process has it when the scan runs.

    Importing the ``importlib_metadata`` backport (dask, sqlalchemy and opentelemetry
    do, in tests run earlier in the same process) adds its own distribution finder and
    takes the standard one's ``find_distributions`` away: the scan rightly leaves such a
    process to the library (see the test below that adds a finder); here the standard
    finder is put back, alone, for the length of a test.
    """
    standard = [
        finder
        for finder in sys.meta_path
        if finder is PathFinder or getattr(finder, "find_distributions", None) is None
    ]
    monkeypatch.setattr(sys, "meta_path", standard)
    if getattr(PathFinder, "find_distributions", None) is None:
        found = importlib.metadata.MetadataPathFinder.find_distributions
        monkeypatch.setattr(PathFinder, "find_distributions", found, raising=False)


def _found(path: Path) -> list[str]:
    """The pydantic entry points importlib.metadata finds on ``path`` (raises as it does)."""
    return sorted(
        ep.name
        for dist in importlib.metadata.distributions(path=[str(path)])
        for ep in dist.entry_points
        if ep.group == "pydantic"
    )


def _dist(root: Path, folder: str, entry_points: bytes | None) -> None:
    where = root / folder
    where.mkdir(parents=True)
    (where / "METADATA").write_text(f"Name: {folder.split('-')[0]}\nVersion: 1.0\n")
    if entry_points is not None:
        (where / "entry_points.txt").write_bytes(entry_points)


_SCRIPTS = b"[console_scripts]\ntool = tool.cli:main\n"
_PLUGIN = b"[pydantic]\nmine = mine:plugin\n"

LAYOUTS: dict[str, list[tuple[str, bytes | None]]] = {
    "empty": [],
    "no entry points": [("plain-1.0.dist-info", None)],
    "console scripts only": [("tool-1.0.dist-info", _SCRIPTS), ("old-2.0.egg-info", _SCRIPTS)],
    "a plugin": [("tool-1.0.dist-info", _SCRIPTS), ("mine-1.0.dist-info", _PLUGIN)],
    "a plugin in an egg-info": [("mine-1.0.egg-info", _PLUGIN)],
    "a plugin beside comments": [("mine-1.0.dist-info", b"# x\n\n[pydantic]\n mine = m:p \n")],
    "a spaced section": [("mine-1.0.dist-info", b"[ pydantic ]\nmine = m:p\n")],
    "a line without '='": [("bad-1.0.dist-info", b"[console_scripts]\njust words\n")],
    "not UTF-8": [("bad-1.0.dist-info", b"[console_scripts]\nt = \xff:main\n")],
    "upper-case suffix": [("Tool-1.0.DIST-INFO", _SCRIPTS)],
    "no name": [("-1.0.dist-info", _SCRIPTS)],
    "only a suffix": [(".dist-info", _SCRIPTS)],
}


@pytest.mark.parametrize("layout", sorted(LAYOUTS))
def test_none_only_when_importlib_metadata_finds_none(tmp_path: Path, layout: str) -> None:
    for folder, entry_points in LAYOUTS[layout]:
        _dist(tmp_path, folder, entry_points)
    try:
        found: list[str] | None = _found(tmp_path)
    except Exception:  # the scan must then leave it to importlib.metadata
        found = None
    none = plugins.none_installed([str(tmp_path)])
    if none:
        assert found == []
    if "plugin" in layout:
        assert not none and found == ["mine"]
    if layout == "a spaced section":
        assert not none  # the word is there: left to the library (which reads no group)
    if layout in ("empty", "no entry points", "console scripts only"):
        assert none  # what is understood is answered, not left to the library


def test_paths_it_does_not_read_are_left_to_importlib_metadata(tmp_path: Path) -> None:
    archive = tmp_path / "bundle.zip"
    with zipfile.ZipFile(archive, "w") as bundle:
        bundle.writestr("mine-1.0.dist-info/entry_points.txt", _PLUGIN)
        bundle.writestr("mine-1.0.dist-info/METADATA", "Name: mine\nVersion: 1.0\n")
    assert _found(archive) == ["mine"]
    assert not plugins.none_installed([str(archive)])
    egg = tmp_path / "mine-1.0.egg"
    (egg / "EGG-INFO").mkdir(parents=True)
    assert not plugins.none_installed([str(egg)])
    assert plugins.none_installed([str(tmp_path / "missing")])  # nothing there: nothing found
    assert not plugins.none_installed([Path(tmp_path)])  # type: ignore[list-item]


def test_another_distribution_finder_is_left_to_importlib_metadata(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    class Finder:  # the importlib_metadata backport's MetadataPathFinder, say
        @staticmethod
        def find_distributions(*args: object, **kwargs: object) -> list[object]:
            return []

    assert plugins.none_installed([str(tmp_path)])
    monkeypatch.setattr(sys, "meta_path", [*sys.meta_path, Finder()])
    assert not plugins.none_installed([str(tmp_path)])


def test_the_environment_s_answer_is_importlib_metadata_s() -> None:
    real = importlib.metadata.entry_points(group="pydantic")
    assert plugins.none_installed(sys.path) == (len(real) == 0)
    if plugins.none_installed(sys.path):
        assert list(plugins.entry_points(group="pydantic")) == list(real) == []
    other = plugins.entry_points(group="console_scripts")  # anything else: the library's
    assert list(other) == list(importlib.metadata.entry_points(group="console_scripts"))


_MODULES_AFTER = """
import sys
from cxplay._cli import cli
try:
    cli.main(["suggest", sys.argv[1], "--format", "json"], prog_name="cxplay")
except SystemExit:
    pass
loader = sys.modules["pydantic.plugin._loader"]
from cxplay._common import plugins
print("importlib.metadata" in sys.modules, loader.entry_points is plugins.entry_points,
      file=sys.stderr)
"""


def test_the_command_finds_no_plugin_without_importlib_metadata(tmp_path: Path) -> None:
    env = {**os.environ, "CXPLAY_CACHE_DIR": str(tmp_path / "cache")}
    # the second run: the first fills the cache (and reads holidays, which imports it)
    run = [
        subprocess.run(
            [sys.executable, "-c", _MODULES_AFTER, str(PARCEL)],
            capture_output=True,
            text=True,
            env=env,
            cwd=ROOT,
            check=True,
        )
        for _ in range(2)
    ][1]
    plain = subprocess.run(
        [sys.executable, "-m", "cxplay", "suggest", str(PARCEL), "--format", "json"],
        capture_output=True,
        text=True,
        env={**env, "PYDANTIC_DISABLE_PLUGINS": "__all__"},
        cwd=ROOT,
        check=True,
    )
    assert run.stdout == plain.stdout
    assert run.stderr.split() == ["False", "True"]


_PLUGIN_MODULE = """
import sys

class Plugin:
    def new_schema_validator(self, schema, schema_type, path, kind, config, settings):
        print("plugin saw", path.name, file=sys.stderr)
        return None, None, None

plugin = Plugin()
"""


@pytest.mark.parametrize("cache", ["warm", "--no-cache"])
def test_a_user_s_plugin_is_still_loaded(tmp_path: Path, cache: str) -> None:
    site = tmp_path / "site"
    _dist(site, "mine-1.0.dist-info", b"[pydantic]\nmine = mine_plugin:plugin\n")
    (site / "mine_plugin.py").write_text(_PLUGIN_MODULE)
    args = [sys.executable, "-m", "cxplay", "suggest", str(PARCEL), "--format", "json"]
    if cache != "warm":
        args.append(cache)
    env = {**os.environ, "CXPLAY_CACHE_DIR": str(tmp_path / "cache")}
    without = subprocess.run(args, capture_output=True, text=True, env=env, cwd=ROOT, check=True)
    path = os.pathsep.join([str(ROOT), str(site), env.get("PYTHONPATH", "")])
    runs = [
        subprocess.run(
            args,
            capture_output=True,
            text=True,
            env={**env, "PYTHONPATH": path},
            cwd=ROOT,
            check=True,
        )
        for _ in range(2)
    ]
    for run in runs:
        assert run.stdout == without.stdout
        assert "plugin saw" in run.stderr
    assert "plugin saw" not in without.stderr
    disabled = subprocess.run(
        args,
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=True,
        env={**env, "PYTHONPATH": path, "PYDANTIC_DISABLE_PLUGINS": "mine"},
    )
    assert "plugin saw" not in disabled.stderr and disabled.stdout == without.stdout
