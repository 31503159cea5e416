"""An engine "by recipe": the playbook files' bytes, from which any process rebuilds it.

An :class:`~cxplay.Engine` holds C-level rulesets and cannot be pickled; a
:class:`Recipe` can. It travels with each task to a worker process or a Dask worker on
another machine, which writes the files into a private directory once and builds its
engine from them; later tasks with the same recipe (same digest) reuse that engine. The
worker never reads the submitter's paths, so a cluster needs no shared file system, and
what it evaluates is exactly the bytes that were validated where the backtest started.
"""

from __future__ import annotations

import atexit
import hashlib
import shutil
import tempfile
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from cxplay._engine.engine import BackendName, Engine
from cxplay._playbooks.loader import load_playbooks, shipped_playbooks_dir

__all__ = ["Recipe"]

_REPLIES = "replies"


@dataclass(frozen=True)
class Recipe:
    """The bytes of a set of playbooks, laid out as the loader expects them.

    ``roots`` are the paths as given (directories or files), each a list of
    ``(relative name, bytes)``; a directory's ``replies/`` files come along only
    with ``replies=True`` (nothing else reads them).
    """

    label: str
    roots: tuple[tuple[bool, tuple[tuple[str, bytes], ...]], ...]  # (is_dir, files)
    backend: BackendName = "auto"

    @classmethod
    def from_paths(
        cls,
        paths: Path | str | Sequence[Path | str] | None,
        *,
        replies: bool = False,
        backend: BackendName = "auto",
    ) -> Recipe:
        """Read the files the loader would read from ``paths`` (None: the shipped ones).

        The playbooks are loaded (and so validated) here first: a recipe is only ever
        made of playbooks that load.
        """
        load_playbooks(paths)
        if paths is None:
            given: list[Path] = [shipped_playbooks_dir()]
            label = "shipped playbooks"
        elif isinstance(paths, str | Path):
            given = [Path(paths)]
            label = str(paths)
        else:
            given = [Path(p) for p in paths]
            label = ", ".join(str(p) for p in given)
        roots: list[tuple[bool, tuple[tuple[str, bytes], ...]]] = []
        for path in given:
            if path.is_dir():
                files = sorted(p for p in path.glob("*.toml") if p.is_file())
                if replies and (path / _REPLIES).is_dir():
                    files += sorted(p for p in (path / _REPLIES).rglob("*") if p.is_file())
                roots.append(
                    (True, tuple((p.relative_to(path).as_posix(), p.read_bytes()) for p in files))
                )
            else:
                roots.append((False, ((path.name, path.read_bytes()),)))
        return cls(label, tuple(roots), backend)

    @cached_property
    def digest(self) -> str:
        """A SHA-256 over every name and byte (and the backend): the recipe's identity."""
        sha = hashlib.sha256(self.backend.encode())
        for is_dir, files in self.roots:
            sha.update(b"D" if is_dir else b"F")
            for name, data in files:
                sha.update(name.encode() + b"\0" + len(data).to_bytes(8, "big") + data)
        return sha.hexdigest()

    def files(self) -> Iterable[tuple[str, bytes]]:
        """Every (relative name, bytes), for display and tests."""
        for _, files in self.roots:
            yield from files

    def build(self) -> Engine:
        """A new engine from the bytes, written into a private directory first."""
        root = Path(tempfile.mkdtemp(prefix="cxplay-recipe-"))
        atexit.register(shutil.rmtree, root, True)
        paths: list[Path] = []
        for index, (is_dir, files) in enumerate(self.roots):
            base = root / str(index)
            for name, data in files:
                target = base / name
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(data)
            paths.append(base if is_dir else base / files[0][0])
        return Engine.from_path(paths, backend=self.backend)

    def engine(self) -> Engine:
        """This process's engine for the recipe: built on first use, then reused."""
        key = self.digest
        with _lock:
            engine = _engines.get(key)
            if engine is None:
                engine = _engines[key] = self.build()
            return engine


_engines: dict[str, Engine] = {}
_lock = threading.Lock()
