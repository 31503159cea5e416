"""A partial index on (customer_id, created_at) of decisions that name a customer.

The console's history panel (``DecisionLog.customer_decisions``) asks for a customer's
latest decisions on every suggestion with a customer id: without an index that is a scan
of the whole table (revision 0002 dropped the plain ``customer_id`` index for write
speed). This one is partial (``WHERE customer_id IS NOT NULL``): decisions without a
customer, and forgotten ones (``forget`` sets the id to NULL), never enter it, and it
serves the look-up in key order with its ``ORDER BY created_at DESC LIMIT n``. Its cost
on writes is measured in ``benchmarks/bench_log.py`` (docs/performance.md).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "customer_history"
down_revision = "watch_disruptions"
branch_labels = None
depends_on = None

_WHERE = sa.text("customer_id IS NOT NULL")


def upgrade() -> None:
    op.create_index(
        "cxplay_decision_customer_recent",
        "cxplay_decision",
        ["customer_id", "created_at"],
        sqlite_where=_WHERE,
        postgresql_where=_WHERE,
    )


def downgrade() -> None:
    op.drop_index("cxplay_decision_customer_recent", table_name="cxplay_decision")
