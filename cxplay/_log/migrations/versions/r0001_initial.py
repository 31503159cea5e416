"""The first decision log: decisions, outcomes, compensation, surveys.

A migration is a frozen snapshot: it spells its tables out instead of importing
``cxplay._log.schema`` (which moves on with later revisions).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def _when(name: str, nullable: bool = True) -> sa.Column[object]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def _decision_ref() -> sa.Column[object]:
    return sa.Column(
        "decision_id",
        sa.String(40),
        sa.ForeignKey("cxplay_decision.id", ondelete="CASCADE"),
        nullable=False,
    )


def upgrade() -> None:
    op.create_table(
        "cxplay_decision",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("incident_key", sa.String(200)),
        sa.Column("digest", sa.String(64), nullable=False),
        _when("created_at", nullable=False),
        _when("seen_at", nullable=False),
        sa.Column("views", sa.Integer, nullable=False),
        sa.Column("customer_id", sa.String(200)),
        sa.Column("type", sa.String(120), nullable=False),
        sa.Column("channel", sa.String(40)),
        sa.Column("language", sa.String(40)),
        sa.Column("severity", sa.String(20), nullable=False),
        sa.Column("matched", sa.Boolean, nullable=False),
        sa.Column("backend", sa.String(20), nullable=False),
        sa.Column("playbooks", sa.JSON, nullable=False),
        sa.Column("incident", sa.JSON, nullable=False),
        sa.Column("actions", sa.JSON, nullable=False),
        sa.Column("rules", sa.Text, nullable=False),
        _when("occurred_at"),
        _when("respond_by"),
        sa.Column("status", sa.String(20)),
        _when("decided_at"),
        sa.Column("first_response_s", sa.Float),
        sa.Column("on_time", sa.Boolean),
        sa.Column("csat", sa.Integer),
        sa.Column("nps", sa.Integer),
        sa.Column("ces", sa.Integer),
        sa.Column("forgotten", sa.Boolean, nullable=False),
    )
    op.create_index("cxplay_decision_created", "cxplay_decision", ["created_at"])
    op.create_index("cxplay_decision_customer", "cxplay_decision", ["customer_id"])
    op.create_index(
        "cxplay_decision_report",
        "cxplay_decision",
        [
            "type",
            "rules",
            "created_at",
            "status",
            "csat",
            "nps",
            "ces",
            "first_response_s",
            "on_time",
        ],
    )

    op.create_table(
        "cxplay_outcome",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        _decision_ref(),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("actions", sa.JSON, nullable=False),
        sa.Column("given", sa.JSON, nullable=False),
        sa.Column("note", sa.Text),
        _when("at", nullable=False),
    )
    op.create_index("ix_cxplay_outcome_decision_id", "cxplay_outcome", ["decision_id"])

    op.create_table(
        "cxplay_given",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        _decision_ref(),
        sa.Column("customer_id", sa.String(200)),
        sa.Column("type", sa.String(120)),
        _when("decision_at"),
        sa.Column("kind", sa.String(40), nullable=False),
        sa.Column("rule", sa.String(200)),
        sa.Column("amount", sa.Float),
        sa.Column("currency", sa.String(3)),
        _when("at", nullable=False),
    )
    op.create_index("ix_cxplay_given_decision_id", "cxplay_given", ["decision_id"])
    op.create_index("ix_cxplay_given_customer_id", "cxplay_given", ["customer_id"])

    op.create_table(
        "cxplay_feedback",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        _decision_ref(),
        sa.Column("csat", sa.Integer),
        sa.Column("nps", sa.Integer),
        sa.Column("ces", sa.Integer),
        _when("at", nullable=False),
    )
    op.create_index("ix_cxplay_feedback_decision_id", "cxplay_feedback", ["decision_id"])


def downgrade() -> None:
    for table in (
        "cxplay_feedback",
        "cxplay_given",
        "cxplay_outcome",
        "cxplay_decision",
    ):
        op.drop_table(table)
