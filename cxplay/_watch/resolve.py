"""Resolving a disruption: the resolution notice to every member (Zendesk's Problem cascade)."""

from __future__ import annotations

from typing import Any

from cxplay._engine.engine import Engine
from cxplay._watch.store import WatchStore
from cxplay._watch.watch import Watcher
from cxplay.errors import CxplayError
from cxplay.models import Incident

__all__ = ["resolve_disruption"]


def resolve_disruption(
    engine: Engine, store: WatchStore, ident: str
) -> tuple[list[dict[str, Any]], list[str]]:
    """Mark a disruption resolved and render each member's resolution notice.

    Returns the events (the notices, then ``disruption_resolved``) and the problems of
    members whose notice could not be written (they keep no resolution time, so resolving
    again retries exactly them).
    """
    watcher = Watcher(engine, suggestions=False)
    row, members = store.resolve(ident)
    compiled = watcher.correlation(row.correlation)
    if compiled is None:
        raise CxplayError(
            f"disruption {row.id} comes from the correlation {row.correlation!r}, which the "
            "playbooks no longer have: resolve it with the playbooks that opened it"
        )
    events: list[dict[str, Any]] = []
    problems: list[str] = []
    sent: list[str] = []
    for member in members:
        try:
            incident = Incident.model_validate(member.incident)
        except ValueError as exc:
            problems.append(f"{member.incident_id}: stored incident unreadable: {exc}")
            continue
        notice = watcher.notice(compiled, row.id, row.key, member.incident_id, incident, "resolved")
        if "error" in notice:
            problems.append(f"{member.incident_id}: {notice['error']}")
            continue
        events.append(notice)
        sent.append(member.incident_id)
    store.resolution_sent(row.id, sent)
    events.append(
        {
            "event": "disruption_resolved",
            "disruption_id": row.id,
            "correlation": row.correlation,
            "key": row.key,
            "resolved_at": row.resolved_at.isoformat() if row.resolved_at else None,
            "members": row.members,
            "notified": len(sent),
        }
    )
    return events, problems
