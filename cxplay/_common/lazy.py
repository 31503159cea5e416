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
from collections.abc import Iterator
from types import ModuleType

__all__ = ["collector_paused", "import_paused"]


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
