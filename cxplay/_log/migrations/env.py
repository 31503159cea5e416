"""Alembic environment: migrate the connection cxplay hands over (never a URL from a file)."""

from __future__ import annotations

from alembic import context

from cxplay._log.schema import VERSION_TABLE, metadata

connection = context.config.attributes.get("connection")
if connection is None:  # pragma: no cover - only by a developer's `alembic` command
    raise SystemExit("run migrations through cxplay: `cxplay log migrate --log URL`")

context.configure(
    connection=connection,
    target_metadata=metadata,
    version_table=VERSION_TABLE,
    render_as_batch=connection.dialect.name == "sqlite",  # ALTER TABLE on SQLite
)
with context.begin_transaction():
    context.run_migrations()
