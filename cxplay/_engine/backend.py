"""The interface every evaluator implements, like httpx's ``BaseTransport``.

The :class:`~cxplay._engine.engine.Engine` knows nothing about how conditions are
evaluated: it flattens a validated incident into a mapping of dotted field names to
values (:class:`~cxplay._engine.engine.Flattener`) and asks its backend which rules hold.
Two backends ship: ``durable`` (:class:`cxplay._engine.durable.DurableBackend`, the
durable_rules C core) and ``python`` (:class:`cxplay._engine.reference.ReferenceBackend`,
conditions compiled to closures). Both are built from one loaded
:class:`~cxplay._playbooks.loader.PlaybookSet`, so rule *positions* mean the same thing to
both: the index of the rule in ``PlaybookSet.rules``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol, runtime_checkable

__all__ = ["Backend", "Flat"]

#: An incident flattened for evaluation: ``{"type": ..., "order.value": 250, ...}``.
Flat = Mapping[str, Any]


@runtime_checkable
class Backend(Protocol):
    """Evaluates the conditions of one set of playbooks; safe to call from many threads."""

    #: Short name shown by :attr:`cxplay.Engine.backend` (``durable``, ``python``).
    name: str

    def evaluate(self, incident_type: str, flat: Flat) -> list[int]:
        """Positions of the rules whose condition holds (unordered, no duplicates).

        Args:
            incident_type: the incident's ``type`` (backends index rules by it).
            flat: the incident flattened by the engine.

        Raises:
            CxplayError: the backend cannot evaluate (closed, or a limit of its engine).
        """
        ...

    def close(self) -> None:
        """Free what the backend holds (rulesets, sessions); idempotent."""
        ...
