"""The decision log's tables (SQLAlchemy Core) and the schema versions this cxplay knows.

Every table is prefixed ``cxplay_`` and Alembic's version table is ``cxplay_alembic_version``,
so the log can share a team's PostgreSQL database (or schema) with other applications.
The tables are created by the migrations in ``cxplay/_log/migrations/versions``; a test
checks that migrating an empty store gives exactly these tables.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    text,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator

__all__ = [
    "HEAD",
    "REVISIONS",
    "VERSION_TABLE",
    "change",
    "decision",
    "disruption",
    "disruption_member",
    "feedback",
    "given",
    "metadata",
    "outcome",
    "watch_state",
]

#: Every schema revision this cxplay can read, oldest first; the last is the newest.
REVISIONS = ("0001", "0002", "watch_disruptions", "customer_history", "given_changes")
HEAD = REVISIONS[-1]
VERSION_TABLE = "cxplay_alembic_version"


class UTCDateTime(TypeDecorator[datetime]):
    """An aware UTC datetime on every backend (SQLite keeps no time zone: stored as UTC)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if not isinstance(value, datetime):
            raise TypeError(f"expected a datetime, got {type(value).__name__}")
        moment: datetime = value
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=timezone.utc)
        moment = moment.astimezone(timezone.utc)
        return moment.replace(tzinfo=None) if dialect.name == "sqlite" else moment

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if not isinstance(value, datetime):
            raise TypeError(f"expected a datetime from the database, got {value!r}")
        if value.tzinfo is None:
            return value.replace(tzinfo=timezone.utc)
        return value.astimezone(timezone.utc)


metadata = MetaData()


def _decision_ref() -> Column[str]:
    """``decision_id``: the decision a row belongs to (deleted with it)."""
    return Column(
        "decision_id",
        String(40),
        ForeignKey("cxplay_decision.id", ondelete="CASCADE"),
        nullable=False,
        index=True,
    )


#: One row per decision: an incident suggested under one set of playbooks. The latest
#: outcome and survey answers are kept here too (history in ``outcome`` and ``feedback``)
#: so that the report reads one row per decision.
decision = Table(
    "cxplay_decision",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("incident_key", String(200)),  # the incident's own id (None: never deduplicated)
    Column("digest", String(64), nullable=False),  # of the playbook files and templates
    Column("created_at", UTCDateTime(), nullable=False),
    Column("seen_at", UTCDateTime(), nullable=False),
    Column("views", Integer, nullable=False),
    Column("customer_id", String(200)),
    Column("type", String(120), nullable=False),
    Column("channel", String(40)),
    Column("language", String(40)),
    Column("severity", String(20), nullable=False),
    Column("matched", Boolean, nullable=False),
    Column("backend", String(20), nullable=False),
    Column("playbooks", JSON, nullable=False),  # ["parcel@1.0.0", ...]
    Column("incident", JSON, nullable=False),  # masked (see cxplay._log.privacy)
    Column("actions", JSON, nullable=False),  # SuggestedAction dicts
    # "rule playbook;rule playbook": the rules of the actions, so that the report counts
    # per rule in one pass over the decisions (GROUP BY type, rules) instead of a join
    Column("rules", Text, nullable=False),
    Column("occurred_at", UTCDateTime()),
    Column("respond_by", UTCDateTime()),
    Column("status", String(20)),  # the latest outcome: accepted | edited | rejected
    Column("decided_at", UTCDateTime()),  # when the latest outcome was recorded
    Column("first_response_s", Float),  # first outcome - (occurred_at or created_at)
    Column("on_time", Boolean),  # first outcome by respond_by (None: no respond_by)
    Column("csat", Integer),
    Column("nps", Integer),
    Column("ces", Integer),
    Column("forgotten", Boolean, nullable=False, default=False),
)
Index("cxplay_decision_created", decision.c.created_at)
# The plain index on customer_id was dropped in 0002 (every write paid a random B-tree
# insert; only `forget` used it). The compensation history reads `cxplay_given`, which
# keeps its index. The console's history panel reads a customer's latest decisions
# (revision customer_history): a partial index on (customer_id, created_at), holding only
# decisions that name a customer (forgotten ones do not); `forget` uses it too.
Index(
    "cxplay_decision_customer_recent",
    decision.c.customer_id,
    decision.c.created_at,
    sqlite_where=text("customer_id IS NOT NULL"),
    postgresql_where=text("customer_id IS NOT NULL"),
)
# Covers the report's GROUP BY: the report reads this narrow index in order instead of
# sorting every (wide) decision row: 1M decisions in ~2 s instead of ~5 s on SQLite.
Index(
    "cxplay_decision_report",
    *(
        decision.c[name]
        for name in (
            "type",
            "rules",
            "created_at",
            "status",
            "csat",
            "nps",
            "ces",
            "first_response_s",
            "on_time",
        )
    ),
)

#: Every outcome recorded for a decision, oldest first; the last one counts.
outcome = Table(
    "cxplay_outcome",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    _decision_ref(),
    Column("status", String(20), nullable=False),
    Column("actions", JSON, nullable=False),  # the kinds actually taken
    Column("given", JSON, nullable=False),  # [{"kind", "amount", "currency", "rule"}]
    Column("note", Text),
    Column("at", UTCDateTime(), nullable=False),
)

#: The compensation that happened, per the latest outcome of each decision.
given = Table(
    "cxplay_given",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    _decision_ref(),
    Column("customer_id", String(200), index=True),
    Column("type", String(120)),  # the decision's, for the report (no join)
    Column("decision_at", UTCDateTime()),  # the decision's created_at, for the report
    Column("kind", String(40), nullable=False),
    Column("rule", String(200)),
    Column("amount", Float),  # None: given, amount unknown (a replacement)
    Column("currency", String(3)),
    Column("at", UTCDateTime(), nullable=False),
)

#: Change tokens: ``given`` is incremented by triggers on every statement that changes
#: ``cxplay_given`` (revision ``given_changes``), in that statement's transaction: the same
#: token read twice means no compensation was recorded, replaced or erased in between.
#: SQLite only: on PostgreSQL the table is empty (no row, no trigger; the migration says why).
change = Table(
    "cxplay_change",
    metadata,
    Column("name", String(40), primary_key=True),
    Column("token", BigInteger, nullable=False),
)

#: Every survey answer, as given (the decision row keeps the latest of each).
feedback = Table(
    "cxplay_feedback",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    _decision_ref(),
    Column("csat", Integer),
    Column("nps", Integer),
    Column("ces", Integer),
    Column("at", UTCDateTime(), nullable=False),
)


# --------------------------------------------------------------------------- disruptions
# `cxplay watch` (issue 21): the disruptions it opened, their members and its own state, so
# that a watcher killed mid-stream and started again sends no notice twice and loses no
# member.

#: One row per disruption: a correlation key that reached its threshold in a window.
disruption = Table(
    "cxplay_disruption",
    metadata,
    Column("id", String(40), primary_key=True),  # deterministic: correlation, key, window
    Column("correlation", String(200), nullable=False),
    Column("playbook", String(200), nullable=False),
    Column("key", JSON, nullable=False),
    Column("title", Text),
    Column("severity", String(20), nullable=False),
    Column("opened_at", UTCDateTime(), nullable=False),  # event time: the window's end
    Column("detected_at", UTCDateTime(), nullable=False),  # wall clock: when it was seen
    Column("members", Integer, nullable=False),
    Column("status", String(20), nullable=False),  # open | resolved
    Column("resolved_at", UTCDateTime()),
    Column("actions", JSON, nullable=False),
)
Index("cxplay_disruption_status", disruption.c.status, disruption.c.detected_at)

#: Every incident attached to a disruption, with what its notices need (masked incident).
disruption_member = Table(
    "cxplay_disruption_member",
    metadata,
    Column(
        "disruption_id",
        String(40),
        ForeignKey("cxplay_disruption.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("incident_id", String(200), primary_key=True),
    Column("customer_id", String(200)),
    Column("occurred_at", UTCDateTime(), nullable=False),
    Column("late", Boolean, nullable=False),
    Column("incident", JSON, nullable=False),
    Column("notice_at", UTCDateTime()),  # wall clock: when its notice was written out
    Column("resolution_at", UTCDateTime()),  # when its resolution notice was written out
)

#: A watcher's state: the correlator's windows and watermark, and how far it read each source.
watch_state = Table(
    "cxplay_watch_state",
    metadata,
    Column("name", String(200), primary_key=True),
    Column("watermark", UTCDateTime()),
    Column("state", JSON, nullable=False),
    Column("offsets", JSON, nullable=False),
    Column("updated_at", UTCDateTime(), nullable=False),
)
