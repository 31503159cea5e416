"""``cxplay serve`` starts fast on files that validated before, and never on ones that did not.

The reply checks of a full validation took most of a 5-16 s start; their verdict depends
only on the files and the checking code, so a pass is remembered (``CXPLAY_CACHE_DIR``).
"""

from __future__ import annotations

import shutil
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("fastapi", reason="the serve extra is not installed")

import cxplay._playbooks.lint as lint
from cxplay._playbooks.loader import shipped_playbooks_dir
from cxplay._serve.service import ServeConfig, Service
from cxplay.errors import PlaybookError

INCIDENT = {"type": "parcel_damaged", "order": {"value": 250, "currency": "PLN"}}
NOW = datetime(2026, 11, 20, 9, 15, tzinfo=timezone.utc)


@pytest.fixture
def playbooks(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("CXPLAY_CACHE_DIR", str(tmp_path / "cache"))
    root = tmp_path / "playbooks"
    shutil.copytree(shipped_playbooks_dir(), root)
    return root


def _count_reply_checks(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    calls: list[int] = []
    real = lint.check_replies

    def counted(*args: Any, **kwargs: Any) -> Any:
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(lint, "check_replies", counted)
    return calls


def _start(root: Path) -> Service:
    return Service(ServeConfig(playbooks=(root,), watch=False, remember_validation=True))


def test_a_second_start_on_the_same_files_skips_the_reply_checks(
    playbooks: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = _count_reply_checks(monkeypatch)
    first = _start(playbooks)
    expected = first.engine.suggest(INCIDENT, now=NOW).model_dump(mode="json")
    assert len(calls) == 1
    second = _start(playbooks)
    assert len(calls) == 1  # remembered
    assert second.engine.suggest(INCIDENT, now=NOW).model_dump(mode="json") == expected
    catalog = playbooks / "replies" / "parcel.pl.toml"  # one byte changed: checked again
    catalog.write_text(catalog.read_text("utf-8") + "\n", encoding="utf-8")
    _start(playbooks)
    assert len(calls) == 2


def test_a_set_that_failed_is_not_remembered(playbooks: Path) -> None:
    catalog = playbooks / "replies" / "parcel.uk.toml"
    catalog.write_text(catalog.read_text("utf-8") + '\nextra = "{{ nope }}"\n', "utf-8")
    for _ in range(2):
        with pytest.raises(PlaybookError):
            _start(playbooks)
    assert not list((playbooks.parent / "cache").rglob("*.ok"))


def test_an_empty_cache_dir_turns_the_cache_off(
    playbooks: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CXPLAY_CACHE_DIR", "")
    calls = _count_reply_checks(monkeypatch)
    _start(playbooks)
    _start(playbooks)
    assert len(calls) == 2
