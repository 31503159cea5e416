"""Alembic migrations of the decision log, shipped with the package and run programmatically.

A developer adds one with ``alembic -c cxplay/_log/migrations/alembic.ini revision -m ...``
(then names the file ``rNNNN_what.py``, sets ``revision = "NNNN"`` and appends it to
``cxplay._log.schema.REVISIONS``).
"""
