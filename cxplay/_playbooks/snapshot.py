"""The loaded playbook set, cached: a command does not parse the same TOML at every start.

Loading the shipped playbooks (read the TOML, index its lines, validate the models, parse
every condition) takes about a third of ``cxplay suggest``'s own work. The result depends
only on the playbook files' bytes and on the code that loads them, so a set that loaded
once is kept in ``<cache dir>/snapshots/<key>.pickle`` (see :mod:`cxplay._common.cache`
for where, and for how an entry is written and checked), with the key a SHA-256 over:

* the paths as given, and each playbook file's path and bytes;
* cxplay's code (every file's name, size and mtime, its version) and Python's version;
* the libraries a load asks: pydantic, pydantic-core, babel (currencies), tomli, RE2
  (``matches()`` patterns) and ``holidays`` (a calendar's country): versions and files.

Only a set that loaded without a problem is kept; an error is found again on every run.
An entry that is corrupt (its checksum or its unpickling fails) or holds anything but a
``PlaybookSet`` is ignored and rebuilt; a file changed while it was being loaded is not
kept. The entry is a pickle: it is read only from the user's own private (0700) directory,
which is as far as it is trusted -- whoever can write there can already run code as the
user. ``--no-cache`` on a command, or ``CXPLAY_CACHE_DIR=`` (empty), turns it off.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import os
import pickle
from collections.abc import Callable, Sequence
from pathlib import Path

import babel
import pydantic
import pydantic_core
import re2
import tomli

from cxplay._common import cache
from cxplay._playbooks.loader import PlaybookSet

__all__ = ["cached", "snapshot_key"]

_FORMAT = "playbook-snapshot 1"
#: Snapshots kept: the most recently used; older ones are deleted when a new one is written.
KEEP = 16


def _libraries() -> str:
    """The libraries whose answers a load depends on: their versions and installed files.

    pydantic validates, babel knows the currencies, tomli reads, RE2 checks ``matches()``
    patterns: an upgrade of any of them may change what loads, so it is another key.
    """
    return "|".join(cache.module_stamp(m) for m in (pydantic, pydantic_core, babel, tomli, re2))


def snapshot_key(given: Sequence[Path], files: Sequence[Path]) -> str:
    """The key of a set loaded from ``given`` (the paths) and made of ``files`` (their bytes).

    Raises:
        OSError: a file cannot be read (the caller loads as usual, and reports it).
    """
    digest = hashlib.sha256(_FORMAT.encode())
    for part in (cache.code_stamp(), _libraries(), cache.holidays_version()):
        digest.update(f"{part}\x00".encode())
    for path in given:
        digest.update(f"given\x00{path}\x00".encode())
    for path in files:
        data = path.read_bytes()
        digest.update(f"file\x00{path}\x00{len(data)}\x00".encode())
        digest.update(data)
    return digest.hexdigest()


def _stamps(files: Sequence[Path]) -> tuple[tuple[str, int, int], ...]:
    found = []
    for file in files:
        info = file.stat()
        found.append((str(file), info.st_mtime_ns, info.st_size))
    return tuple(found)


def cached(
    given: Sequence[Path], files: Sequence[Path], load: Callable[[], PlaybookSet]
) -> PlaybookSet:
    """The set ``load()`` returns, from the cache when these files loaded before."""
    where = cache.private_dir("snapshots", create=True)
    if where is None:
        return load()
    try:
        key = snapshot_key(given, files)
    except OSError:
        return load()  # the loader says which file, and why
    entry = where / f"{key}.pickle"
    body = cache.read(entry)
    if body is not None:
        try:
            found = pickle.loads(body)  # a checksummed file in the user's private dir
        except Exception:  # a corrupt or foreign entry: rebuilt below, never trusted
            found = None
        if isinstance(found, PlaybookSet) and found.files == tuple(files):
            with contextlib.suppress(OSError):
                os.utime(entry)  # recently used: kept by _prune
            # the bytes are the same; the times are today's (a watcher compares them)
            return dataclasses.replace(found, stamps=_stamps(files))
    loaded = load()
    try:
        unchanged = snapshot_key(given, loaded.files) == key
    except OSError:
        unchanged = False
    if unchanged:
        plain = dataclasses.replace(loaded)  # without what a property cached on it
        cache.write(entry, pickle.dumps(plain, protocol=pickle.HIGHEST_PROTOCOL))
        _prune(where)
    return loaded


def _prune(where: Path) -> None:
    """Delete all but the :data:`KEEP` most recently used snapshots (and stray temporaries)."""
    cache.prune(where, KEEP)
