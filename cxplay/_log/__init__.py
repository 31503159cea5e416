"""The decision log: every suggestion, what agents did with it, and what customers said.

``store`` holds :class:`DecisionLog` (SQLAlchemy Core; SQLite by default, PostgreSQL by
URL), ``schema`` the tables, ``migrations`` the Alembic scripts shipped with the package,
``privacy`` the masks and what ``forget`` erases, ``report`` the CX report and ``export``
the analysts' export. Nothing here imports the engine's internals: the engine hands the
log an incident and a suggestion, and asks it for a customer's history.
"""
