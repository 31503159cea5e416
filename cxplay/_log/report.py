"""The CX report: what was suggested, what agents did with it, what customers said.

Per incident type and per rule: decisions, outcomes (accepted, edited, rejected) and the
acceptance rate, compensation given per currency, CSAT (mean of 1-5), NPS (% promoters
9-10 minus % detractors 0-6), CES (mean of 1-7), time to first response (from when the
decision was made to its first outcome) and how many first responses came within the time
``respond_by`` gave; and the rules agents reject most. Everything is
counted by the database in two GROUP BY queries, so a report over a million decisions
reads only a few hundred groups into Python.

And the disruptions `cxplay watch` (or ``POST /v1/incidents``) found in the period (by when
they were detected): opened, still open, resolved, members, notices and resolution notices
written, and the **time to notice** -- per disruption, from the ``occurred_at`` of the
incident that completed its threshold (the N-th) to its first notice, as ``cxplay
disruptions`` shows it -- as median and maximum, in total and per correlation block.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from typing import Any

import sqlalchemy as sa

from cxplay._log import schema as t
from cxplay._log.store import DecisionLog

__all__ = ["DisruptionStats", "Report", "Stats", "build_report", "disruption_stats"]


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
class DisruptionStats:
    """The disruptions of one correlation block (or all): counts and time to notice."""

    key: str  # the correlation id, or "all"
    title: str | None = None
    opened: int = 0  # detected in the period
    open: int = 0  # of those, still open
    resolved: int = 0
    members: int = 0
    notices: int = 0  # members whose notice was written out
    resolutions: int = 0  # members whose resolution notice was written out
    noticed: int = 0  # disruptions with a first notice (those the times are over)
    notice_median_s: float | None = None
    notice_max_s: float | None = None

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready."""
        return asdict(self)


def _median(values: Sequence[float]) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    middle = len(ordered) // 2
    if len(ordered) % 2:
        return ordered[middle]
    return (ordered[middle - 1] + ordered[middle]) / 2


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
    disruptions: DisruptionStats = field(default_factory=lambda: DisruptionStats("all"))
    by_correlation: list[DisruptionStats] = field(default_factory=list)

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
            "disruptions": {
                **self.disruptions.as_dict(),
                "by_correlation": [s.as_dict() for s in self.by_correlation],
            },
        }


#: What one GROUP BY row sums, in order; every figure of a Stats is derived from sums, so
#: groups add up: a rule's numbers are the sums over the (type, rules) groups it is in.
_SUMS = (
    "decisions",
    "decided",
    "accepted",
    "edited",
    "rejected",
    "csat_sum",
    "csat_answers",
    "promoters",
    "detractors",
    "nps_answers",
    "ces_sum",
    "ces_answers",
    "response_sum",
    "responded",
    "on_time",
    "with_deadline",
)


Seconds = Callable[[sa.ColumnElement[Any], sa.ColumnElement[Any]], sa.ColumnElement[Any]]


def _seconds_on(dialect: str) -> Seconds:
    """``later - earlier`` in seconds, in the database's own date arithmetic."""
    if dialect == "sqlite":  # datetimes are ISO text there; julianday reads it
        return lambda later, earlier: (
            (sa.func.julianday(later) - sa.func.julianday(earlier)) * (86400.0)
        )
    return lambda later, earlier: sa.extract("epoch", later - earlier)


def _metrics(
    d: sa.Table, first_at: sa.ColumnElement[Any], seconds: Seconds
) -> list[sa.ColumnElement[Any]]:
    """The aggregate columns, in :data:`_SUMS` order.

    Time to first response is measured from when the decision was made (its
    ``created_at``) to its first outcome, never from the incident's ``occurred_at``: an
    incident dated months ago or in the future would otherwise read "145 d" or "0 min".
    On time means the first outcome came within the time ``respond_by`` gave (its
    distance from the incident's time, or from the decision's when the incident had none),
    counted from the decision too.
    """

    def count_if(condition: sa.ColumnElement[bool]) -> sa.ColumnElement[Any]:
        return sa.func.sum(sa.case((condition, 1), else_=0))

    taken = seconds(first_at, d.c.created_at)
    # an outcome recorded with an earlier ``at`` than its decision: answered at once
    response = sa.case((first_at.is_(None), None), (taken < 0, 0.0), else_=taken)
    allowed = seconds(d.c.respond_by, sa.func.coalesce(d.c.occurred_at, d.c.created_at))
    judged = first_at.is_not(None) & d.c.respond_by.is_not(None)

    return [
        sa.func.count(),
        sa.func.count(d.c.status),
        count_if(d.c.status == "accepted"),
        count_if(d.c.status == "edited"),
        count_if(d.c.status == "rejected"),
        sa.func.sum(d.c.csat),
        sa.func.count(d.c.csat),
        count_if(d.c.nps >= 9),
        count_if(d.c.nps <= 6),
        sa.func.count(d.c.nps),
        sa.func.sum(d.c.ces),
        sa.func.count(d.c.ces),
        sa.func.sum(response),
        sa.func.count(response),
        count_if(judged & (taken <= allowed)),
        count_if(judged),
    ]


def _add(into: dict[str, list[float]], key: str, sums: Sequence[float]) -> None:
    acc = into.setdefault(key, [0.0] * len(_SUMS))
    for i, value in enumerate(sums):
        acc[i] += value


def _stats(key: str, sums: Sequence[float], compensation: Mapping[str, float]) -> Stats:
    v = dict(zip(_SUMS, sums, strict=True))

    def mean(total: str, count: str, digits: int) -> float | None:
        return round(v[total] / v[count], digits) if v[count] else None

    nps_answers = int(v["nps_answers"])
    return Stats(
        key=key,
        decisions=int(v["decisions"]),
        decided=int(v["decided"]),
        accepted=int(v["accepted"]),
        edited=int(v["edited"]),
        rejected=int(v["rejected"]),
        compensation={c: round(a, 2) for c, a in sorted(compensation.items())},
        csat=mean("csat_sum", "csat_answers", 2),
        csat_answers=int(v["csat_answers"]),
        nps=round(100 * (v["promoters"] - v["detractors"]) / nps_answers, 1)
        if nps_answers
        else None,
        nps_answers=nps_answers,
        ces=mean("ces_sum", "ces_answers", 2),
        ces_answers=int(v["ces_answers"]),
        first_response_s=mean("response_sum", "responded", 1),
        responded=int(v["responded"]),
        on_time=int(v["on_time"]),
        with_deadline=int(v["with_deadline"]),
    )


def build_report(
    log: DecisionLog, since: datetime | None = None, until: datetime | None = None
) -> Report:
    """Count the report for the decisions created in ``[since, until)``.

    Two queries: the decisions grouped by (type, rules) and the compensation grouped by
    (type, rule, currency); per type, per rule and in total is then a sum of groups.
    """
    d, g, o = t.decision, t.given, t.outcome
    first = (
        sa.select(o.c.decision_id, sa.func.min(o.c.at).label("first_at"))
        .group_by(o.c.decision_id)
        .subquery()
    )
    window: sa.ColumnElement[bool] = sa.true()
    given_window: sa.ColumnElement[bool] = g.c.amount.is_not(None)
    if since is not None:
        window = window & (d.c.created_at >= since)
        given_window = given_window & (g.c.decision_at >= since)
    if until is not None:
        window = window & (d.c.created_at < until)
        given_window = given_window & (g.c.decision_at < until)
    with log.connection() as conn:
        metrics = _metrics(d, first.c.first_at, _seconds_on(conn.dialect.name))
        groups = conn.execute(
            sa.select(d.c.type, d.c.rules, *metrics)
            .select_from(d.outerjoin(first, first.c.decision_id == d.c.id))
            .where(window)
            .group_by(d.c.type, d.c.rules)
        ).all()
        money = conn.execute(
            sa.select(g.c.type, g.c.rule, g.c.currency, sa.func.sum(g.c.amount))
            .where(given_window)
            .group_by(g.c.type, g.c.rule, g.c.currency)
        ).all()
    total: dict[str, list[float]] = {}
    by_type: dict[str, list[float]] = {}
    by_rule: dict[str, list[float]] = {}
    playbook_of: dict[str, str] = {}
    for kind, rules, *sums in groups:
        values = [float(x or 0) for x in sums]
        _add(total, "all", values)
        _add(by_type, kind, values)
        for entry in (rules or "").split(";"):
            if entry:
                rule, _, playbook = entry.partition(" ")
                _add(by_rule, rule, values)
                playbook_of[rule] = max(playbook_of.get(rule, ""), playbook)
    money_all: dict[str, float] = {}
    money_type: dict[str, dict[str, float]] = {}
    money_rule: dict[str, dict[str, float]] = {}
    for kind, rule, currency, amount in money:
        label, value = currency or "?", float(amount)
        money_all[label] = money_all.get(label, 0.0) + value
        per_type = money_type.setdefault(kind or "?", {})
        per_type[label] = per_type.get(label, 0.0) + value
        if rule is not None:
            per_rule = money_rule.setdefault(rule, {})
            per_rule[label] = per_rule.get(label, 0.0) + value
    with log.connection() as conn:
        disruptions, by_correlation = disruption_stats(conn, since, until)
    return Report(
        since=since,
        until=until,
        generated_at=datetime.now(timezone.utc),
        total=_stats("all", total.get("all", [0.0] * len(_SUMS)), money_all),
        by_type=[_stats(k, by_type[k], money_type.get(k, {})) for k in sorted(by_type)],
        by_rule=[_stats(k, by_rule[k], money_rule.get(k, {})) for k in sorted(by_rule)],
        rule_playbooks=playbook_of,
        disruptions=disruptions,
        by_correlation=by_correlation,
    )


def _aware(value: Any) -> datetime | None:
    """A datetime from an aggregate (SQLite's MIN() of a datetime column is plain text)."""
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    if isinstance(value, datetime) and value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    return value if isinstance(value, datetime) else None


def disruption_stats(
    conn: sa.Connection, since: datetime | None = None, until: datetime | None = None
) -> tuple[DisruptionStats, list[DisruptionStats]]:
    """The disruptions detected in ``[since, until)``: in total and per correlation.

    One query over the disruptions (few) joined to their members' counts (grouped by the
    database). Time to notice: from ``opened_at`` (the occurred_at of the incident that
    completed the threshold) to the disruption's first notice.
    """
    dis, mem = t.disruption, t.disruption_member
    counts = (
        sa.select(
            mem.c.disruption_id,
            sa.func.count().label("members"),
            sa.func.count(mem.c.notice_at).label("notices"),
            sa.func.count(mem.c.resolution_at).label("resolutions"),
            sa.func.min(mem.c.notice_at).label("first_notice"),
        )
        .group_by(mem.c.disruption_id)
        .subquery()
    )
    window: sa.ColumnElement[bool] = sa.true()
    if since is not None:
        window = window & (dis.c.detected_at >= since)
    if until is not None:
        window = window & (dis.c.detected_at < until)
    rows = conn.execute(
        sa.select(
            dis.c.correlation,
            dis.c.title,
            dis.c.status,
            dis.c.opened_at,
            counts.c.members,
            counts.c.notices,
            counts.c.resolutions,
            counts.c.first_notice,
        )
        .select_from(dis.outerjoin(counts, counts.c.disruption_id == dis.c.id))
        .where(window)
    ).all()
    groups: dict[str, list[Any]] = {}
    titles: dict[str, str | None] = {}
    for row in rows:
        groups.setdefault(row.correlation, []).append(row)
        titles[row.correlation] = titles.get(row.correlation) or row.title

    def stats(key: str, title: str | None, members: Sequence[Any]) -> DisruptionStats:
        times = []
        for row in members:
            first, opened = _aware(row.first_notice), _aware(row.opened_at)
            if first is not None and opened is not None:
                times.append((first - opened).total_seconds())
        median = _median(times)
        return DisruptionStats(
            key=key,
            title=title,
            opened=len(members),
            open=sum(r.status == "open" for r in members),
            resolved=sum(r.status == "resolved" for r in members),
            members=sum(int(r.members or 0) for r in members),
            notices=sum(int(r.notices or 0) for r in members),
            resolutions=sum(int(r.resolutions or 0) for r in members),
            noticed=len(times),
            notice_median_s=None if median is None else round(median, 3),
            notice_max_s=round(max(times), 3) if times else None,
        )

    per = [stats(k, titles[k], groups[k]) for k in sorted(groups)]
    return stats("all", None, rows), per
