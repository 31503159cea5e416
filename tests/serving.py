"""Helpers shared by the service tests."""

from __future__ import annotations

import shutil
from pathlib import Path

from cxplay._playbooks.loader import shipped_playbooks_dir


def copy_replies(target: Path) -> None:
    """The shipped signature and common reply fragments (apology, ...): enough for a small set."""
    target.mkdir()
    for source in (shipped_playbooks_dir() / "replies").glob("*.toml"):
        if source.name == "config.toml" or source.name.startswith("common."):
            shutil.copy(source, target)
