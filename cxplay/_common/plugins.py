"""pydantic's plugins found without importing :mod:`importlib.metadata` when there are none.

The first time pydantic builds a validator it imports ``pydantic.plugin._loader``, whose
first line is ``from importlib.metadata import entry_points``, and asks it for the entry
points of the group ``pydantic``: importing :mod:`importlib.metadata` (with ``email``,
``socket``, ``zipfile``, ``csv``) and parsing the entry points of every installed
distribution took ~67 M instructions, 6.6 % of a warm ``cxplay suggest``, to find nothing
in almost every environment.

:func:`import_loader` imports ``pydantic.plugin._loader`` itself, before pydantic does,
with a stand-in for :mod:`importlib.metadata` in :data:`sys.modules` for the length of that
one import. The loader's ``entry_points`` is then :func:`entry_points`: for the group
``pydantic`` it returns ``()`` when :func:`none_installed` has read every distribution the
standard library would read and found no ``pydantic`` in any of their entry points;
otherwise, and for any other question, it asks :mod:`importlib.metadata` (imported then),
so a user's plugin is loaded, by pydantic, as before. Nothing is cached: the directories
are read at every start (~2.8 M instructions), so installing a plugin is seen at once.

:func:`none_installed` is conservative: it answers ``True`` only for what it fully
understands (directories on :data:`sys.path`, the standard ``PathFinder`` the only finder
of distributions, ``*.dist-info`` / ``*.egg-info`` directories with a name, UTF-8 entry
points whose every line :mod:`importlib.metadata` can parse); anything else -- a zip or
an egg on the path, another finder, a file it cannot read, the word ``pydantic`` anywhere --
is left to :mod:`importlib.metadata`, which then behaves (and fails) exactly as without
this module.
"""

from __future__ import annotations

import os
import sys
import types
from collections.abc import Iterable
from importlib.machinery import PathFinder
from typing import Any

__all__ = ["entry_points", "import_loader", "none_installed"]

_LOADER = "pydantic.plugin._loader"
_METADATA = "importlib.metadata"
_GROUP = "pydantic"


def import_loader() -> None:
    """Import pydantic's plugin loader with :func:`entry_points` as its ``entry_points``.

    Does nothing when the loader or :mod:`importlib.metadata` is imported already (then
    there is nothing to save), and must run before anything else imports them: while the
    stand-in is in :data:`sys.modules`, nothing but the loader is imported (the CLI, which
    calls it, runs one thread).
    """
    if _LOADER in sys.modules or _METADATA in sys.modules:
        return

    stand_in = types.ModuleType(_METADATA, "importlib.metadata while pydantic's loader imports")
    stand_in.entry_points = entry_points  # type: ignore[attr-defined]
    stand_in.__getattr__ = _real_attribute  # type: ignore[method-assign]  # any other: the real
    sys.modules[_METADATA] = stand_in
    try:
        __import__(_LOADER)
    finally:
        if sys.modules.get(_METADATA) is stand_in:
            del sys.modules[_METADATA]


def _real_attribute(name: str) -> Any:
    if name.startswith("__"):  # what the import system asks of a module (__path__, ...)
        raise AttributeError(name)
    stand_in = sys.modules.get(_METADATA)
    if stand_in is not None and getattr(stand_in, "entry_points", None) is entry_points:
        del sys.modules[_METADATA]  # the loader wants more than entry_points: the real module
    from importlib import metadata

    return getattr(metadata, name)


def entry_points(**params: Any) -> Any:
    """:func:`importlib.metadata.entry_points`; ``()`` for ``group="pydantic"`` if none exist."""
    if params == {"group": _GROUP} and none_installed(sys.path):
        return ()
    from importlib import metadata

    return metadata.entry_points(**params)


def none_installed(paths: Iterable[str]) -> bool:
    """True if the distributions found on ``paths`` surely have no ``pydantic`` entry point.

    ``False`` means "ask :mod:`importlib.metadata`", not "there is one".
    """
    finders = [f for f in sys.meta_path if getattr(f, "find_distributions", None) is not None]
    if finders != [PathFinder]:
        return False
    for path in paths:
        if type(path) is not str:
            return False
        root = path or "."
        if root.lower().endswith(".egg"):
            return False  # an egg's EGG-INFO: not read here
        try:
            children = os.listdir(root)
        except FileNotFoundError:
            continue  # nothing there: importlib.metadata finds nothing either
        except NotADirectoryError:
            return False  # a zip file on the path
        except OSError:
            return False
        for child in children:
            low = child.lower()
            if not low.endswith((".dist-info", ".egg-info")):
                continue
            if not child.endswith((".dist-info", ".egg-info")) or child[0] in "-.":
                return False  # its name would be read from its metadata: left to the library
            path = f"{root}{os.sep}{child}{os.sep}entry_points.txt"
            # most distributions have none: asked without raising (an exception each cost
            # more than reading the file); one that goes away meanwhile is None below too
            if os.access(path, os.F_OK) and not _no_plugin(path):
                return False
    return True


def _no_plugin(path: str) -> bool:
    """True if the entry points file at ``path`` is absent or parses without naming pydantic."""
    try:
        with open(path, "rb") as file:
            data = file.read()
    except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
        return True  # what importlib.metadata reads as no entry points
    except OSError:
        return False
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    if _GROUP in text.lower():
        return False
    # importlib.metadata parses every distribution's entry points before it selects a group,
    # and fails on a line without "=" in a section: such a file is left to it
    section = False
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("[") and line.endswith("]"):
            section = True
        elif section and "=" not in line:
            return False
    return True
