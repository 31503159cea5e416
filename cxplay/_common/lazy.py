"""Importing cxplay's heavier modules when a command first needs them.

``import cxplay`` and ``import cxplay._cli`` import no engine, model or template module:
each name of the public API is imported on first use (PEP 562) and each command imports
what it uses, so ``cxplay --help`` and ``cxplay log ...`` do not pay for the engine, nor
``cxplay suggest`` for the decision log, the service or the event planner.
"""

from __future__ import annotations

import gc
import importlib
from types import ModuleType

__all__ = ["import_paused"]


def import_paused(*names: str) -> list[ModuleType]:
    """Import the modules ``names`` with the garbage collector paused, left as it was found.

    Importing the engine defines ~45 pydantic models and ~80 dataclasses: the collector
    would run about a hundred times meanwhile and find nothing to free (classes and modules
    stay), about a tenth of the import's CPU time. It is enabled again after, also when an
    import fails, if it was enabled before.
    """
    collecting = gc.isenabled()
    gc.disable()
    try:
        return [importlib.import_module(name) for name in names]
    finally:
        if collecting:
            gc.enable()
