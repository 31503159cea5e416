"""Forgetting a customer and pruning old decisions, inside the log's write transaction.

:meth:`cxplay.DecisionLog.forget` and :meth:`~cxplay.DecisionLog.prune` check their
arguments, flush what is queued and open the transaction; these functions do the writing.
What forgetting erases and keeps is :mod:`cxplay._log.privacy`'s rule.
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from cxplay._log import schema as t
from cxplay._log.privacy import forget_incident

__all__ = ["delete_before", "erase_customer"]


def erase_customer(conn: Connection, customer_id: str) -> int:
    """Erase what names or describes a customer; returns how many decisions were affected.

    The anonymous counts stay; the customer's compensation history loses its customer id
    (the repeat-claimant guard no longer sees it), and disruption members and waiting
    windows (``cxplay watch``) are erased the same way.
    """
    rows = conn.execute(
        sa.select(t.decision.c.id, t.decision.c.incident).where(
            t.decision.c.customer_id == customer_id
        )
    ).all()
    for decision_id, incident in rows:
        conn.execute(
            t.decision.update()
            .where(t.decision.c.id == decision_id)
            .values(
                incident=forget_incident(incident),
                customer_id=None,
                incident_key=None,
                forgotten=True,
            )
        )
    ids = [r[0] for r in rows]
    for start in range(0, len(ids), 500):
        part = ids[start : start + 500]
        conn.execute(t.outcome.update().where(t.outcome.c.decision_id.in_(part)).values(note=None))
    conn.execute(
        t.given.update().where(t.given.c.customer_id == customer_id).values(customer_id=None)
    )
    # disruptions (cxplay watch) keep the member's incident for its notices
    from cxplay._watch.store import forget_customer

    forget_customer(conn, customer_id)
    return len(rows)


def delete_before(conn: Connection, cutoff: datetime) -> int:
    """Delete decisions made before ``cutoff`` with their outcomes; returns how many."""
    old = sa.select(t.decision.c.id).where(t.decision.c.created_at < cutoff)
    for table in (t.feedback, t.given, t.outcome):
        conn.execute(table.delete().where(table.c.decision_id.in_(old)))
    deleted = conn.execute(t.decision.delete().where(t.decision.c.created_at < cutoff))
    return int(deleted.rowcount or 0)
