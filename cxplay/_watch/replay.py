"""Replaying a file with correlation on, for `cxplay backtest --correlate`.

The replay is exactly `cxplay watch FILE --stateless`: the same watcher over the same lines
(sequentially: event time and windows are an order, not a partitioned map), so the
disruptions it reports are the ones `watch` would open. Two replays -- the new playbooks
and the baseline -- are compared disruption by disruption.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from cxplay._engine.engine import Engine
from cxplay._watch.run import run_watch
from cxplay._watch.watch import Watcher

__all__ = ["DisruptionSeen", "compare_disruptions", "render_comparison", "replay_disruptions"]


@dataclass(frozen=True)
class DisruptionSeen:
    """A disruption a replay opened, with its members."""

    id: str
    correlation: str
    key: Any
    members: tuple[str, ...]


def replay_disruptions(
    engine: Engine, source: Path, *, lateness: timedelta = timedelta(minutes=5)
) -> list[DisruptionSeen]:
    """The disruptions `cxplay watch SOURCE --stateless` opens, in the order it opens them."""
    import json

    watcher = Watcher(engine, lateness=lateness, suggestions=False, notices=False)
    out = io.StringIO()
    run_watch(watcher, str(source), out=out, warn=lambda _: None)
    opened: dict[str, dict[str, Any]] = {}
    members: dict[str, list[str]] = {}
    for line in out.getvalue().splitlines():
        event = json.loads(line)
        if event["event"] == "disruption_opened":
            opened[event["disruption_id"]] = event
        elif event["event"] == "incident_attached":
            members.setdefault(event["disruption_id"], []).append(event["incident_id"])
    return [
        DisruptionSeen(ident, e["correlation"], e["key"], tuple(members.get(ident, ())))
        for ident, e in opened.items()
    ]


def compare_disruptions(
    new: Sequence[DisruptionSeen], baseline: Sequence[DisruptionSeen]
) -> dict[str, Any]:
    """What changed: disruptions only under one set, and members changed in common ones."""
    old = {d.id: d for d in baseline}
    now = {d.id: d for d in new}
    return {
        "baseline": {
            "disruptions": len(baseline),
            "members": sum(len(d.members) for d in baseline),
        },
        "new": {"disruptions": len(new), "members": sum(len(d.members) for d in new)},
        "added": [_row(d) for d in new if d.id not in old],
        "removed": [_row(d) for d in baseline if d.id not in now],
        "members_changed": [
            {**_row(d), "baseline_members": len(old[d.id].members)}
            for d in new
            if d.id in old and set(d.members) != set(old[d.id].members)
        ],
    }


def _row(d: DisruptionSeen) -> dict[str, Any]:
    return {
        "disruption_id": d.id,
        "correlation": d.correlation,
        "key": d.key,
        "members": len(d.members),
    }


def render_comparison(comparison: dict[str, Any], fmt: str) -> str:
    """The comparison as a text or markdown section (JSON callers use the dict)."""
    base, new = comparison["baseline"], comparison["new"]
    heading = (
        "## Disruptions" if fmt == "markdown" else "Disruptions (correlation on, as cxplay watch)"
    )
    lines = [
        heading,
        f"  baseline  {base['disruptions']} disruptions, {base['members']} members",
        f"  new       {new['disruptions']} disruptions, {new['members']} members",
    ]
    for sign, name in (("+", "added"), ("-", "removed")):
        for row in comparison[name]:
            lines.append(
                f"  {sign} {row['disruption_id']} {row['correlation']} key={row['key']} "
                f"({row['members']} members)"
            )
    for row in comparison["members_changed"]:
        lines.append(
            f"  ~ {row['disruption_id']} {row['correlation']} key={row['key']} "
            f"({row['baseline_members']} → {row['members']} members)"
        )
    if fmt == "markdown":
        lines = [lines[0], "", *(f"- {line.strip()}" for line in lines[1:])]
    return "\n".join(lines)
