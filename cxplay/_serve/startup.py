"""Starting fast on a set that validated before: a cache of the full validation's verdict.

``cxplay serve`` starts only on a playbook set that passes everything ``cxplay validate``
checks, and the reply checks (every template compiled and test-rendered in every language
and channel, ~1,200 sample replies for the shipped set) took 5-16 s of every start. Their
verdict depends only on the bytes of the playbooks and catalogs (their digest) and on the
code that checks them, so a set that passed once is remembered: a marker named after both
is written to ``$CXPLAY_CACHE_DIR`` (default ``~/.cache/cxplay``) and the next start with
the same files and the same cxplay skips the reply checks; the cheap checks (loading,
schema, conditions, unreachable rules, scenarios) run every time, and the engine reads
every catalog whole as always. A changed file, a new cxplay or an edit to its code is
another key: the whole validation runs, as ``POST /v1/reload`` and the watcher always do.
``CXPLAY_CACHE_DIR=`` (empty) turns the cache off.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import os
import sys
from pathlib import Path

import jinja2

import cxplay
from cxplay._playbooks.digest import playbook_digest
from cxplay._playbooks.lint import (
    PathsLike,
    ValidationReport,
    scenario_problems,
    unreachable_rules,
    validate_playbooks,
)
from cxplay._playbooks.loader import PlaybookSet, load_playbooks
from cxplay.errors import PlaybookError

__all__ = ["cache_dir", "validate_for_start"]


def cache_dir() -> Path | None:
    """Where verdicts are remembered (None: not at all)."""
    value = os.environ.get("CXPLAY_CACHE_DIR")
    if value is not None:
        return Path(value) / "validated" if value.strip() else None
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "cxplay" / "validated"


@functools.cache
def _code() -> str:
    """The checking code: cxplay's files (name, size, mtime), its version, Jinja's, Python's."""
    root = Path(cxplay.__file__).resolve().parent
    digest = hashlib.sha256(f"{cxplay.__version__}|{jinja2.__version__}|{sys.version}".encode())
    for path in sorted(root.rglob("*")):
        if path.is_file() and "__pycache__" not in path.parts:
            stat = path.stat()
            digest.update(f"{path.relative_to(root)}|{stat.st_size}|{stat.st_mtime_ns}\n".encode())
    return digest.hexdigest()


def _marker(playbooks: PlaybookSet) -> Path | None:
    where = cache_dir()
    if where is None:
        return None
    key = hashlib.sha256(f"{playbook_digest(playbooks)}|{_code()}".encode()).hexdigest()
    return where / f"{key}.ok"


def validate_for_start(paths: PathsLike = None) -> ValidationReport:
    """What :func:`validate_playbooks` says, remembered for a set that passed it.

    Returns:
        The full report, or (the same files passed before) a report of the cheap checks
        alone, whose ``playbooks`` carry no pre-read catalogs: the engine reads them whole.
    """
    with contextlib.suppress(PlaybookError, OSError):
        playbooks = load_playbooks(paths)
        marker = _marker(playbooks)
        if marker is not None and marker.is_file():
            problems = [*unreachable_rules(playbooks), *scenario_problems(playbooks)]
            if not problems:
                return ValidationReport((), playbooks)
    report = validate_playbooks(paths)
    if report.ok and report.playbooks is not None:
        with contextlib.suppress(OSError):
            marker = _marker(report.playbooks)
            if marker is not None:
                marker.parent.mkdir(parents=True, exist_ok=True)
                marker.touch()
    return report
