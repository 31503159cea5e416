"""What happened after a suggestion: the agent's outcome and the customer's survey answers.

Checked before the log is touched, then written in the caller's write transaction
(:meth:`cxplay.DecisionLog.outcome` and :meth:`~cxplay.DecisionLog.feedback`): the
outcome row (earlier ones kept), the compensation given (one row per kind, replaced), and
the decision's latest status, first response time and survey scores.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from cxplay._common.text import did_you_mean, echo
from cxplay._log import schema as t
from cxplay._log.faults import check_given, text_arg
from cxplay._log.privacy import redact_text
from cxplay._log.records import SCALES, STATUSES, OutcomeRecord, Status, given_compensation
from cxplay.errors import LogError
from cxplay.models import ACTION_KINDS

__all__ = ["check_outcome", "check_scores", "find_decision", "write_feedback", "write_outcome"]

_COLUMNS = (
    t.decision.c.id,
    t.decision.c.actions,
    t.decision.c.customer_id,
    t.decision.c.type,
    t.decision.c.created_at,
    t.decision.c.occurred_at,
    t.decision.c.respond_by,
    t.decision.c.first_response_s,
)


def find_decision(conn: Connection, decision_id: str, where: str) -> Any:
    """The decision's row, by its id or a unique prefix of at least 6 hex digits."""
    text_arg("decision id", decision_id)
    row = conn.execute(sa.select(*_COLUMNS).where(t.decision.c.id == decision_id)).first()
    if row is not None:
        return row
    if len(decision_id) >= 6 and all(c in "0123456789abcdef" for c in decision_id):
        found = conn.execute(
            sa.select(*_COLUMNS).where(t.decision.c.id.startswith(decision_id)).limit(2)
        ).all()
        if len(found) == 1:
            return found[0]
        if len(found) > 1:
            raise LogError(f"decision id {echo(decision_id)} is ambiguous: give more of it")
    raise LogError(f"unknown decision id {echo(decision_id)} in the log {where}")


def check_outcome(
    status: Status,
    actions: Sequence[str] | None,
    given: Mapping[str, float | tuple[float, str | None]] | None,
    note: str | None,
) -> None:
    """Refuse an outcome that cannot be recorded, before the log is touched."""
    if status not in STATUSES:
        raise LogError(
            f"unknown outcome {echo(status)}; use accepted, edited or rejected"
            + did_you_mean(str(status), STATUSES)
        )
    for kind in list(actions or []) + list(given or {}):
        if kind not in ACTION_KINDS:
            raise LogError(
                f"unknown action kind {echo(kind)}" + did_you_mean(kind, sorted(ACTION_KINDS))
            )
    if status == "rejected" and (actions or given):
        raise LogError("a rejected suggestion has no actions taken and nothing given")
    for kind, value in (given or {}).items():
        check_given(kind, value)
    if note is not None:
        text_arg("note", note, lines=True)
        if len(note) > 10_000:
            raise LogError(f"a note may have at most 10000 characters, not {len(note)}")


def write_outcome(
    conn: Connection,
    row: Any,
    status: Status,
    actions: Sequence[str] | None,
    given: Mapping[str, float | tuple[float, str | None]] | None,
    note: str | None,
    when: datetime,
) -> OutcomeRecord:
    """Write a checked outcome for the decision ``row`` (from :func:`find_decision`)."""
    suggested: list[dict[str, Any]] = list(row.actions)
    if status == "rejected":
        taken: list[str] = []
    elif actions is None:
        taken = list(dict.fromkeys(a["kind"] for a in suggested))
    else:
        taken = list(dict.fromkeys(actions))
    for kind in given or {}:
        if kind not in taken:
            taken.append(kind)
    compensation = given_compensation(suggested, taken, given or {})
    previous = conn.execute(
        sa.select(sa.func.count()).where(t.outcome.c.decision_id == row.id)
    ).scalar_one()
    clean_note = redact_text(note) if note is not None else None
    conn.execute(
        t.outcome.insert().values(
            decision_id=row.id,
            status=status,
            actions=taken,
            given=[vars(g) for g in compensation],
            note=clean_note,
            at=when,
        )
    )
    conn.execute(t.given.delete().where(t.given.c.decision_id == row.id))
    if compensation:
        conn.execute(
            t.given.insert(),
            [
                {
                    "decision_id": row.id,
                    "customer_id": row.customer_id,
                    "type": row.type,
                    "decision_at": row.created_at,
                    "kind": g.kind,
                    "rule": g.rule,
                    "amount": g.amount,
                    "currency": g.currency,
                    "at": when,
                }
                for g in compensation
            ],
        )
    update: dict[str, Any] = {"status": status, "decided_at": when}
    if row.first_response_s is None:
        start = row.occurred_at or row.created_at
        update["first_response_s"] = max(0.0, (when - start).total_seconds())
        update["on_time"] = None if row.respond_by is None else when <= row.respond_by
    conn.execute(t.decision.update().where(t.decision.c.id == row.id).values(**update))
    return OutcomeRecord(
        decision_id=row.id,
        status=status,
        actions=tuple(taken),
        given=tuple(compensation),
        note=clean_note,
        at=when,
        replaced=previous > 0,
    )


def check_scores(scores: Mapping[str, int | None]) -> None:
    """Refuse survey answers out of their scales (CSAT 1-5, NPS 0-10, CES 1-7) or none."""
    given = {k: v for k, v in scores.items() if v is not None}
    if not given:
        raise LogError("give at least one survey score: csat, nps or ces")
    for name, value in given.items():
        low, high = SCALES[name]
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise LogError(f"{name} must be a whole number from {low} to {high}, not {value!r}")


def write_feedback(
    conn: Connection, row: Any, scores: Mapping[str, int | None], when: datetime
) -> None:
    """Write checked survey answers for the decision ``row``; the latest of each counts."""
    given = {k: v for k, v in scores.items() if v is not None}
    conn.execute(t.feedback.insert().values(decision_id=row.id, at=when, **scores))
    conn.execute(t.decision.update().where(t.decision.c.id == row.id).values(**given))
