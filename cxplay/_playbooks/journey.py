"""The journey map: which moments of the customer journey the playbooks cover.

Every action may be tagged with a CX *dimension* (sensory, relational, cognitive,
behavioural, functional) and a journey *stage* (pre_purchase, purchase, delivery, usage,
after_sales, event). The map counts, for each stage x dimension cell, the rules with an
action tagged so; an empty cell is a moment no playbook prepares for.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from cxplay._playbooks.loader import PlaybookSet
from cxplay.models import DIMENSIONS, STAGES

__all__ = ["JourneyMap", "journey_map"]


@dataclass(frozen=True)
class JourneyMap:
    """Rules by (stage, dimension); ``untagged`` lists actions without both tags."""

    stages: Sequence[str]
    dimensions: Sequence[str]
    cells: dict[tuple[str, str], list[str]] = field(default_factory=dict)
    untagged: list[str] = field(default_factory=list)

    def rules(self, stage: str, dimension: str) -> list[str]:
        """Rule ids covering one cell."""
        return self.cells.get((stage, dimension), [])

    @property
    def gaps(self) -> list[tuple[str, str]]:
        """Cells no rule covers."""
        return [(s, d) for s in self.stages for d in self.dimensions if not self.rules(s, d)]


def journey_map(playbooks: PlaybookSet) -> JourneyMap:
    """Build the coverage matrix from the actions' ``stage`` and ``dimension`` tags."""
    result = JourneyMap(stages=STAGES, dimensions=DIMENSIONS)
    for compiled in playbooks.rules:
        for number, action in enumerate(compiled.rule.actions):
            if action.stage is None or action.dimension is None:
                result.untagged.append(f"{compiled.id} (actions[{number}]: {action.kind})")
                continue
            cell = result.cells.setdefault((action.stage, action.dimension), [])
            if compiled.id not in cell:
                cell.append(compiled.id)
    return result
