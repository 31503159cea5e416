"""A digest of a playbook set: the playbook files and the reply templates beside them.

The decision log keys a decision by incident id + this digest, and the backtest compares
logged decisions with the playbooks that made them: any change to a rule or a reply
changes the digest; loading the same files again does not.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from pathlib import Path

from cxplay._playbooks.loader import PlaybookSet

__all__ = ["playbook_digest"]


def _files(playbooks: PlaybookSet) -> Iterable[Path]:
    yield from playbooks.files
    seen: set[Path] = set()
    for file in playbooks.files:
        replies = file.parent / "replies"
        if replies in seen or not replies.is_dir():
            continue
        seen.add(replies)
        yield from sorted(p for p in replies.rglob("*") if p.is_file())


def playbook_digest(playbooks: PlaybookSet) -> str:
    """SHA-256 (hex) over each file's name and bytes, in load order."""
    digest = hashlib.sha256()
    for path in _files(playbooks):
        data = path.read_bytes()
        digest.update(f"{path.name}\x00{len(data)}\x00".encode())
        digest.update(data)
    return digest.hexdigest()
