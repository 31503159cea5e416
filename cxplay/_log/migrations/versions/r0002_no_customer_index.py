"""Drop the index on ``cxplay_decision.customer_id``: every write paid, only forget used it."""

from __future__ import annotations

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_index("cxplay_decision_customer", table_name="cxplay_decision")


def downgrade() -> None:
    op.create_index("cxplay_decision_customer", "cxplay_decision", ["customer_id"])
