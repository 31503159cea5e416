"""A customer's earlier decisions, as the console's history panel shows them.

Read in the caller's read transaction (:meth:`cxplay.DecisionLog.customer_decisions`):
one range of the partial index on (customer_id, created_at) of revision
``customer_history``, however large the log, then the compensation those decisions booked.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from cxplay._log import schema as t
from cxplay._log.records import CustomerDecision, GivenCompensation

__all__ = ["customer_decisions"]


def customer_decisions(
    conn: Connection, customer_id: str, limit: int, exclude: str | None
) -> list[CustomerDecision]:
    """The customer's ``limit`` latest decisions but ``exclude``, newest first."""
    d = t.decision.c
    query = (
        sa.select(
            d.id,
            d.created_at,
            d.incident_key,
            d.type,
            d.channel,
            d.language,
            d.severity,
            d.actions,
            d.status,
            d.decided_at,
        )
        .where(d.customer_id == customer_id, d.customer_id.is_not(None), ~d.forgotten)
        .order_by(d.created_at.desc(), d.id.desc())
        .limit(limit)
    )
    if exclude is not None:
        query = query.where(d.id != exclude)
    rows = conn.execute(query).all()
    given: dict[str, list[GivenCompensation]] = {}
    if rows:
        g = t.given.c
        for decision_id, kind, amount, currency, rule in conn.execute(
            sa.select(g.decision_id, g.kind, g.amount, g.currency, g.rule)
            .where(g.decision_id.in_([r.id for r in rows]))
            .order_by(g.id)
        ):
            given.setdefault(decision_id, []).append(
                GivenCompensation(kind, amount, currency, rule)
            )
    return [
        CustomerDecision(
            decision_id=r.id,
            created_at=r.created_at,
            incident_id=r.incident_key,
            type=r.type,
            channel=r.channel,
            language=r.language,
            severity=r.severity,
            actions=tuple(dict.fromkeys(str(a["kind"]) for a in r.actions)),
            given=tuple(given.get(r.id, ())),
            status=r.status,
            decided_at=r.decided_at,
        )
        for r in rows
    ]
