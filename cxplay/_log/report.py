"""The CX report: what was suggested, what agents did with it, what customers said.

Per incident type and per rule: decisions, outcomes (accepted, edited, rejected) and the
acceptance rate, compensation given per currency, CSAT (mean of 1-5), NPS (% promoters
9-10 minus % detractors 0-6), CES (mean of 1-7), time to first response and how many
first responses came by ``respond_by``; and the rules agents reject most. Everything is
counted by the database (a few GROUP BY queries), so a report over a million decisions
reads no decision into Python.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from typing import Any

import sqlalchemy as sa

from cxplay._log import schema as t
from cxplay._log.store import DecisionLog

__all__ = ["Report", "Stats", "build_report"]


@dataclass(frozen=True)
class Stats:
    """The numbers of one group of decisions (an incident type, a rule, or all)."""

    key: str
    decisions: int = 0
    decided: int = 0  # with an outcome
    accepted: int = 0
    edited: int = 0
    rejected: int = 0
    compensation: dict[str, float] = field(default_factory=dict)  # currency -> given
    csat: float | None = None
    csat_answers: int = 0
    nps: float | None = None
    nps_answers: int = 0
    ces: float | None = None
    ces_answers: int = 0
    first_response_s: float | None = None  # mean
    responded: int = 0
    on_time: int = 0
    with_deadline: int = 0  # first responses to decisions with a respond_by

    @property
    def acceptance(self) -> float | None:
        """Accepted or edited, of the decisions with an outcome."""
        return (self.accepted + self.edited) / self.decided if self.decided else None

    @property
    def rejection(self) -> float | None:
        """Rejected, of the decisions with an outcome."""
        return self.rejected / self.decided if self.decided else None

    @property
    def on_time_rate(self) -> float | None:
        """First responses by ``respond_by``, of those that had one."""
        return self.on_time / self.with_deadline if self.with_deadline else None

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready, with the derived rates."""
        out = asdict(self)
        out.update(
            acceptance=self.acceptance, rejection=self.rejection, on_time_rate=self.on_time_rate
        )
        return out


@dataclass(frozen=True)
class Report:
    """The whole report for ``[since, until)``."""

    since: datetime | None
    until: datetime | None
    generated_at: datetime
    total: Stats
    by_type: list[Stats]
    by_rule: list[Stats]
    rule_playbooks: dict[str, str]  # rule -> playbook ref (the latest seen)

    @property
    def most_rejected(self) -> list[Stats]:
        """Rules with rejections, the most rejected (share, then count) first."""
        rejected = [s for s in self.by_rule if s.rejected]
        return sorted(rejected, key=lambda s: (-(s.rejection or 0), -s.rejected, s.key))[:10]

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready."""
        return {
            "since": self.since.isoformat() if self.since else None,
            "until": self.until.isoformat() if self.until else None,
            "generated_at": self.generated_at.isoformat(),
            "total": self.total.as_dict(),
            "by_type": [s.as_dict() for s in self.by_type],
            "by_rule": [
                dict(s.as_dict(), playbook=self.rule_playbooks.get(s.key)) for s in self.by_rule
            ],
            "most_rejected": [s.key for s in self.most_rejected],
        }


def _metrics(d: sa.Table) -> list[sa.ColumnElement[Any]]:
    """The aggregate columns, in :func:`_stats`' order."""

    def count_if(condition: sa.ColumnElement[bool]) -> sa.ColumnElement[Any]:
        return sa.func.sum(sa.case((condition, 1), else_=0))

    return [
        sa.func.count(),
        sa.func.count(d.c.status),
        count_if(d.c.status == "accepted"),
        count_if(d.c.status == "edited"),
        count_if(d.c.status == "rejected"),
        sa.func.avg(d.c.csat),
        sa.func.count(d.c.csat),
        count_if(d.c.nps >= 9),
        count_if(d.c.nps <= 6),
        sa.func.count(d.c.nps),
        sa.func.avg(d.c.ces),
        sa.func.count(d.c.ces),
        sa.func.avg(d.c.first_response_s),
        sa.func.count(d.c.first_response_s),
        count_if(d.c.on_time.is_(True)),
        sa.func.count(d.c.on_time),
    ]


def _stats(key: str, row: Sequence[Any], compensation: Mapping[str, float]) -> Stats:
    (
        decisions,
        decided,
        accepted,
        edited,
        rejected,
        csat,
        csat_n,
        promoters,
        detractors,
        nps_n,
        ces,
        ces_n,
        response,
        responded,
        on_time,
        deadline,
    ) = row
    return Stats(
        key=key,
        decisions=int(decisions or 0),
        decided=int(decided or 0),
        accepted=int(accepted or 0),
        edited=int(edited or 0),
        rejected=int(rejected or 0),
        compensation=dict(compensation),
        csat=None if csat is None else round(float(csat), 2),
        csat_answers=int(csat_n or 0),
        nps=round(100 * (int(promoters or 0) - int(detractors or 0)) / nps_n, 1) if nps_n else None,
        nps_answers=int(nps_n or 0),
        ces=None if ces is None else round(float(ces), 2),
        ces_answers=int(ces_n or 0),
        first_response_s=None if response is None else round(float(response), 1),
        responded=int(responded or 0),
        on_time=int(on_time or 0),
        with_deadline=int(deadline or 0),
    )


def build_report(
    log: DecisionLog, since: datetime | None = None, until: datetime | None = None
) -> Report:
    """Count the report for the decisions created in ``[since, until)``."""
    d = t.decision
    window: sa.ColumnElement[bool] = sa.true()
    if since is not None:
        window = window & (d.c.created_at >= since)
    if until is not None:
        window = window & (d.c.created_at < until)
    metrics = _metrics(d)
    r = t.decision_rule
    g = t.given
    with log.connection() as conn:
        total_row = conn.execute(sa.select(*metrics).where(window)).one()
        type_rows = conn.execute(
            sa.select(d.c.type, *metrics).where(window).group_by(d.c.type).order_by(d.c.type)
        ).all()
        rule_rows = conn.execute(
            sa.select(r.c.rule, sa.func.max(r.c.playbook), *metrics)
            .select_from(r.join(d, d.c.id == r.c.decision_id))
            .where(window)
            .group_by(r.c.rule)
            .order_by(r.c.rule)
        ).all()
        money_type = conn.execute(
            sa.select(d.c.type, g.c.currency, sa.func.sum(g.c.amount))
            .select_from(g.join(d, d.c.id == g.c.decision_id))
            .where(window & g.c.amount.is_not(None))
            .group_by(d.c.type, g.c.currency)
        ).all()
        money_rule = conn.execute(
            sa.select(g.c.rule, g.c.currency, sa.func.sum(g.c.amount))
            .select_from(g.join(d, d.c.id == g.c.decision_id))
            .where(window & g.c.amount.is_not(None) & g.c.rule.is_not(None))
            .group_by(g.c.rule, g.c.currency)
        ).all()
    by_type_money: dict[str, dict[str, float]] = {}
    total_money: dict[str, float] = {}
    for kind, currency, amount in money_type:
        label = currency or "?"
        by_type_money.setdefault(kind, {})[label] = round(float(amount), 2)
        total_money[label] = round(total_money.get(label, 0.0) + float(amount), 2)
    by_rule_money: dict[str, dict[str, float]] = {}
    for rule, currency, amount in money_rule:
        by_rule_money.setdefault(rule, {})[currency or "?"] = round(float(amount), 2)
    return Report(
        since=since,
        until=until,
        generated_at=datetime.now(timezone.utc),
        total=_stats("all", total_row, dict(sorted(total_money.items()))),
        by_type=[_stats(row[0], row[1:], by_type_money.get(row[0], {})) for row in type_rows],
        by_rule=[_stats(row[0], row[2:], by_rule_money.get(row[0], {})) for row in rule_rows],
        rule_playbooks={row[0]: row[1] for row in rule_rows},
    )
