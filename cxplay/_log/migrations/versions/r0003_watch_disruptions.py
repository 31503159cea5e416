"""Disruptions for `cxplay watch`: disruptions, their members, and each watcher's state.

A frozen snapshot like every migration: the tables are spelt out here.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "watch_disruptions"
down_revision = "0002"
branch_labels = None
depends_on = None


def _when(name: str, nullable: bool = True) -> sa.Column[object]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "cxplay_disruption",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("correlation", sa.String(200), nullable=False),
        sa.Column("playbook", sa.String(200), nullable=False),
        sa.Column("key", sa.JSON, nullable=False),
        sa.Column("title", sa.Text),
        sa.Column("severity", sa.String(20), nullable=False),
        _when("opened_at", nullable=False),
        _when("detected_at", nullable=False),
        sa.Column("members", sa.Integer, nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        _when("resolved_at"),
        sa.Column("actions", sa.JSON, nullable=False),
    )
    op.create_index("cxplay_disruption_status", "cxplay_disruption", ["status", "detected_at"])
    op.create_table(
        "cxplay_disruption_member",
        sa.Column(
            "disruption_id",
            sa.String(40),
            sa.ForeignKey("cxplay_disruption.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("incident_id", sa.String(200), primary_key=True),
        sa.Column("customer_id", sa.String(200)),
        _when("occurred_at", nullable=False),
        sa.Column("late", sa.Boolean, nullable=False),
        sa.Column("incident", sa.JSON, nullable=False),
        _when("notice_at"),
        _when("resolution_at"),
    )
    op.create_table(
        "cxplay_watch_state",
        sa.Column("name", sa.String(200), primary_key=True),
        _when("watermark"),
        sa.Column("state", sa.JSON, nullable=False),
        sa.Column("offsets", sa.JSON, nullable=False),
        _when("updated_at", nullable=False),
    )


def downgrade() -> None:
    op.drop_table("cxplay_watch_state")
    op.drop_table("cxplay_disruption_member")
    op.drop_index("cxplay_disruption_status", table_name="cxplay_disruption")
    op.drop_table("cxplay_disruption")
