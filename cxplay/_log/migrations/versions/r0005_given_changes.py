"""A change token for the compensation history, kept by triggers on ``cxplay_given``.

The repeat-claimant guard reads a customer's compensations (``cxplay_given``) for every
suggestion. ``cxplay_change`` holds one row, ``given``, whose ``token`` every statement that
inserts, updates or deletes rows of ``cxplay_given`` increments in its own transaction
(triggers: whoever writes, this cxplay, another process, an older cxplay, or SQL by hand).
A reader that sees the same token again knows that no change to the compensations has
been committed in between, so a history read under it is still exact (the SQLite fast path
keeps one per customer: ``cxplay/_log/fast.py``).

On PostgreSQL the table stays empty and has no trigger: every look-up there asks the
server anyway (a round trip for the token would cost what the look-up costs), and a
counter row bumped by every writer would make concurrent writers wait on each other.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "given_changes"
down_revision = "customer_history"
branch_labels = None
depends_on = None

_TABLE = "cxplay_change"
_SQLITE_EVENTS = ("INSERT", "UPDATE", "DELETE")


def upgrade() -> None:
    op.create_table(
        _TABLE,
        sa.Column("name", sa.String(40), primary_key=True),
        sa.Column("token", sa.BigInteger, nullable=False),
    )
    if op.get_bind().dialect.name != "sqlite":
        return  # no token row: nothing is kept between look-ups (module docstring)
    op.execute(f"INSERT INTO {_TABLE} (name, token) VALUES ('given', 0)")
    bump = f"UPDATE {_TABLE} SET token = token + 1 WHERE name = 'given'"
    for event in _SQLITE_EVENTS:  # SQLite has row triggers only
        op.execute(
            f"CREATE TRIGGER cxplay_given_{event.lower()} AFTER {event} ON cxplay_given "
            f"BEGIN {bump}; END"
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for event in _SQLITE_EVENTS:
            op.execute(f"DROP TRIGGER cxplay_given_{event.lower()}")
    op.drop_table(_TABLE)
