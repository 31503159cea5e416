"""Importing cxplay's heavier modules when a command first needs them.

``import cxplay`` and ``import cxplay._cli`` import no engine, model or template module:
each name of the public API is imported on first use (PEP 562) and each command imports
what it uses, so ``cxplay --help`` and ``cxplay log ...`` do not pay for the engine, nor
``cxplay suggest`` for the decision log, the service or the event planner.
"""

from __future__ import annotations

import contextlib
import gc
import importlib
import re
from collections.abc import Iterator, MutableMapping
from types import ModuleType
from typing import Any, cast

__all__ = ["collector_paused", "import_paused", "lazy_pattern"]


@contextlib.contextmanager
def collector_paused() -> Iterator[None]:
    """Within the block the garbage collector does not run; after it, it is as it was found.

    For work that makes many objects and frees none in cycles: importing the engine defines
    ~45 pydantic models and ~80 dataclasses, a one-shot command builds the validators and
    the reply. The collector would run about a hundred times meanwhile and find nothing to
    free (classes, modules and the answer stay). It is enabled again after, also when the
    block fails, if it was enabled before.
    """
    collecting = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if collecting:
            gc.enable()


def import_paused(*names: str) -> list[ModuleType]:
    """Import the modules ``names`` with the garbage collector paused (see above)."""
    with collector_paused():
        return [importlib.import_module(name) for name in names]


def lazy_pattern(
    namespace: MutableMapping[str, Any], name: str, pattern: str, flags: int = 0
) -> re.Pattern[str]:
    """``re.compile(pattern, flags)``, compiled when first used, for a module's global ``name``.

    Python compiles a pattern in Python: a class of characters beyond Latin-1 (the lone
    surrogates most of cxplay's checks refuse) costs ~0.5 ms, and a command compiled a
    dozen patterns it never used (~1 % of a cold ``cxplay suggest``). The stand-in
    compiles on its first attribute (``.search``, ``.sub``, ...) and puts the compiled
    pattern in ``namespace[name]`` (the module's ``globals()``): from then on the module's
    functions find the pattern itself, at no extra cost. ``tests/test_lazy_patterns.py``
    checks each stand-in is bound to its own name and compiles to the same pattern.
    """
    return cast("re.Pattern[str]", _LazyPattern(namespace, name, pattern, flags))


class _LazyPattern:
    """The stand-in :func:`lazy_pattern` returns (see there)."""

    def __init__(
        self, namespace: MutableMapping[str, Any], name: str, pattern: str, flags: int
    ) -> None:
        self._namespace = namespace
        self._name = name
        self._source = pattern
        self._flags = flags
        self._compiled: re.Pattern[str] | None = None

    # Its own attributes are named as no pattern's are: any other is the pattern's.
    def __getattr__(self, attribute: str) -> Any:
        compiled = self._compiled
        if compiled is None:
            compiled = self._compiled = re.compile(self._source, self._flags)
            if self._namespace.get(self._name) is self:
                self._namespace[self._name] = compiled
        return getattr(compiled, attribute)

    def __repr__(self) -> str:
        return f"lazy_pattern({self._source!r}, {self._flags})"
