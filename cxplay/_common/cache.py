"""The user's cache directory: where a command remembers work that only its inputs decide.

Five things are kept there, each under a key that names every input it depends on:

* ``snapshots/``: the loaded playbook set (:mod:`cxplay._playbooks.snapshot`), so that
  ``cxplay suggest`` does not parse and validate the same TOML files at every start;
* ``holidays/``: a country's public holidays for a year (JSON), so that a deadline counted
  in open time does not import the ``holidays`` library's 250 country modules;
* ``validated/``: the serve command's remembered validation verdicts
  (:mod:`cxplay._serve.startup`);
* ``toml/``: parsed TOML documents by their text (:mod:`cxplay._common.toml`), so that
  the reply catalogs read at every start are not parsed again;
* ``jinja/``: reply fragments' compiled code by their text (:mod:`cxplay._replies.compiled`),
  so that a reply's fragments are not compiled by Jinja at every start.

Where: ``$CXPLAY_CACHE_DIR`` if set (an empty value turns every cache off), else
``$XDG_CACHE_HOME/cxplay``, else ``~/.cache/cxplay``. Each sub-directory is created
private (0700) and is used only while it is owned by the user and closed to others: a file
in it is trusted as far as the user's own files are (a snapshot is a pickle, see
:mod:`cxplay._playbooks.snapshot`). Files are written to a temporary name and renamed,
so two processes writing the same entry at once each leave a whole file, and a reader never
sees half of one. Every entry carries a SHA-256 of its body: a corrupt entry is not used
(the caller rebuilds it).

The library caches only when asked: the CLI turns the cache on for the duration of a
command (:func:`enabled`), ``--no-cache`` keeps it off.
"""

from __future__ import annotations

import contextlib
import contextvars
import functools
import hashlib
import os
import stat
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TypeVar

__all__ = [
    "cache_root",
    "code_stamp",
    "enabled",
    "holidays_version",
    "is_on",
    "load",
    "module_stamp",
    "private_dir",
    "prune",
    "read",
    "write",
]

_MAGIC = b"cxplay-cache 1\n"
T = TypeVar("T")
_ON: contextvars.ContextVar[bool] = contextvars.ContextVar("cxplay_cache_on", default=False)


def cache_root() -> Path | None:
    """The cache directory (None: ``CXPLAY_CACHE_DIR`` is set empty, no cache at all)."""
    value = os.environ.get("CXPLAY_CACHE_DIR")
    if value is not None:
        return Path(value) if value.strip() else None
    base = os.environ.get("XDG_CACHE_HOME")
    if not base:
        try:
            base = str(Path.home() / ".cache")
        except (RuntimeError, KeyError):  # no home directory to be found: no cache
            return None
    return Path(base) / "cxplay"


@contextlib.contextmanager
def enabled(on: bool = True) -> Iterator[None]:
    """Within the block, :func:`is_on` says ``on`` (the CLI: on unless ``--no-cache``)."""
    token = _ON.set(on)
    try:
        yield
    finally:
        _ON.reset(token)


def is_on() -> bool:
    """Whether the snapshot and holiday caches are to be used now."""
    return _ON.get() and cache_root() is not None


@functools.cache
def code_stamp() -> str:
    """The installed code: each file's name, size and mtime, and Python's version.

    A cache entry made by other code (an upgrade, or an edit in a checkout that kept the
    version number) is under another key: it is never read by code it was not made by.
    """
    # the package's own files (its version file among them) are what the stamp is made of
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    digest = hashlib.sha256(sys.version.encode())
    for top, dirs, files in os.walk(root):
        dirs[:] = sorted(d for d in dirs if d != "__pycache__")
        # os.walk joins below `root`: the path relative to it is the rest of the string
        # (what os.path.relpath answers, without its pure-Python normalising per file)
        below = top[len(root) + 1 :]
        for name in sorted(files):
            info = os.stat(os.path.join(top, name))
            where = os.path.join(below, name) if below else name
            digest.update(f"{where}|{info.st_size}|{info.st_mtime_ns}\n".encode())
    return digest.hexdigest()


def module_stamp(module: object) -> str:
    """A library as a cache key: its name, its version and its installed file's size and time.

    An upgrade (or a reinstall in place) of a library whose answers an entry depends on
    changes the stamp, so the entry is not read back.
    """
    where = getattr(module, "__file__", None) or ""
    try:
        info = os.stat(where)
        stamp = f"{info.st_size}:{info.st_mtime_ns}"
    except OSError:
        stamp = "-"
    return f"{getattr(module, '__name__', '?')} {getattr(module, '__version__', '')} {stamp}"


@functools.cache
def holidays_version() -> str:
    """The installed ``holidays`` library, without importing it (its version file's bytes)."""
    import importlib.util

    spec = importlib.util.find_spec("holidays")
    for where in (spec.submodule_search_locations or []) if spec else []:
        try:
            return (Path(where) / "version.py").read_text(encoding="utf-8")
        except OSError:
            continue
    return "-"


def private_dir(name: str, *, create: bool) -> Path | None:
    """``<cache root>/<name>``, if it is (``create``: is made) a directory only the user can use.

    None when there is no cache, when the directory cannot be made, or when it belongs to
    someone else or is open to others (it is then left as it is, and not used).
    """
    root = cache_root()
    if root is None:
        return None
    where = root / name
    try:
        if create:
            where.mkdir(mode=0o700, parents=True, exist_ok=True)
        info = where.stat()
    except OSError:
        return None
    if not stat.S_ISDIR(info.st_mode):
        return None
    if hasattr(os, "getuid") and info.st_uid != os.getuid():
        return None
    if info.st_mode & 0o077:
        return None
    return where


def read(path: Path) -> bytes | None:
    """The body of a cache entry, or None if it is missing, unreadable or corrupt."""
    try:
        data = path.read_bytes()
    except OSError:
        return None
    head = len(_MAGIC) + 32
    if len(data) < head or not data.startswith(_MAGIC):
        return None
    body = data[head:]
    if hashlib.sha256(body).digest() != data[len(_MAGIC) : head]:
        return None
    return body


def load(path: Path, decode: Callable[[bytes], object], kind: type[T]) -> T | None:
    """The value a cache entry holds, or None: missing, corrupt, or not a ``kind``.

    ``decode`` (``pickle.loads``, ``marshal.loads``) turns the checked body into the value;
    whatever it raises, or a value of another type, is a corrupt or foreign entry: None,
    never trusted (the caller rebuilds it). An entry used is touched: kept by :func:`prune`.
    """
    body = read(path)
    if body is None:
        return None
    try:
        found = decode(body)  # a checksummed file in the user's private dir
    except Exception:
        return None
    if not isinstance(found, kind):
        return None
    with contextlib.suppress(OSError):
        os.utime(path)
    return found


def write(path: Path, body: bytes) -> None:
    """Write a cache entry atomically (a temporary file renamed over it); errors are ignored.

    A cache that cannot be written (a full disk, a read-only home) costs the next start
    time, never its answer.
    """
    import tempfile

    with contextlib.suppress(OSError):
        handle, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        try:
            with os.fdopen(handle, "wb") as out:
                out.write(_MAGIC + hashlib.sha256(body).digest() + body)
            os.replace(name, path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(name)
            raise


def prune(where: Path, keep: int) -> None:
    """Delete all but the ``keep`` most recently used entries of ``where`` (and temporaries).

    An entry is used when it is written or read (readers touch it); errors are ignored.
    """
    with contextlib.suppress(OSError):
        entries = []
        for path in where.iterdir():
            with contextlib.suppress(OSError):
                entries.append((path.stat().st_mtime_ns, path))
        entries.sort(reverse=True)
        for _, path in entries[keep:]:
            with contextlib.suppress(OSError):
                path.unlink()
