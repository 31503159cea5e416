"""SQLite's hot paths in plain DB-API: recording decisions and a customer's history.

A suggestion with a log pays for one history look-up and (batched) one upsert. Through
SQLAlchemy's Core each statement costs ~100-300 µs of Python before SQLite sees it; the
same SQL on a kept ``sqlite3`` connection costs ~10 µs. So these two statements are
written out here, for SQLite only, and store values exactly as SQLAlchemy's types do
(UTC times as ``YYYY-MM-DD HH:MM:SS.ffffff``, JSON as text, booleans as 0/1): everything
else reads them back through the Core. ``tests/test_log.py`` runs both paths.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Sequence
from datetime import datetime, timezone
from typing import Any

from sqlalchemy.engine import Engine

from cxplay._log import schema as t

__all__ = ["SqliteFastPath"]

_DECISION_COLUMNS = tuple(c.name for c in t.decision.columns)
_JSON = {c.name for c in t.decision.columns if c.type.__class__.__name__ == "JSON"}
_TIMES = {"created_at", "seen_at", "occurred_at", "respond_by", "decided_at"}

UPSERT = (
    f"INSERT INTO {t.decision.name} ({', '.join(_DECISION_COLUMNS)}) "
    f"VALUES ({', '.join('?' for _ in _DECISION_COLUMNS)}) "
    "ON CONFLICT (id) DO UPDATE SET "
    f"views = {t.decision.name}.views + excluded.views, seen_at = excluded.seen_at"
)
HISTORY = (
    f"SELECT decision_id, currency, amount FROM {t.given.name} "
    "WHERE customer_id = ? AND at > ? AND at <= ?"
)


def sqlite_time(moment: datetime | None) -> str | None:
    """A datetime as SQLAlchemy's SQLite ``DATETIME`` stores it (naive UTC)."""
    if moment is None:
        return None
    if moment.tzinfo is not None:
        moment = moment.astimezone(timezone.utc).replace(tzinfo=None)
    return moment.strftime("%Y-%m-%d %H:%M:%S.%f")


def _value(name: str, value: Any) -> Any:
    if name in _JSON:
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False)
    if name in _TIMES:
        return sqlite_time(value)
    if isinstance(value, bool):
        return int(value)
    return value


class SqliteFastPath:
    """One kept DB-API connection per thread, from the engine's pool (so its PRAGMAs apply)."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._local = threading.local()
        self._all: list[Any] = []
        self._lock = threading.Lock()

    def _connection(self) -> Any:
        raw = getattr(self._local, "raw", None)
        if raw is None:
            raw = self._engine.raw_connection()
            self._local.raw = raw
            with self._lock:
                self._all.append(raw)
        return raw

    def upsert(self, rows: Sequence[dict[str, Any]]) -> None:
        """Insert decisions (or add their views), in one write transaction."""
        raw = self._connection()
        cursor = raw.cursor()
        try:
            cursor.execute("BEGIN IMMEDIATE")
            try:
                cursor.executemany(
                    UPSERT, [tuple(_value(c, row[c]) for c in _DECISION_COLUMNS) for row in rows]
                )
                cursor.execute("COMMIT")
            except BaseException:
                if raw.driver_connection.in_transaction:
                    cursor.execute("ROLLBACK")
                raise
        finally:
            cursor.close()

    def history(self, customer_id: str, since: datetime, until: datetime) -> list[tuple[Any, ...]]:
        """(decision_id, currency, amount) of a customer's compensation in (since, until]."""
        cursor = self._connection().cursor()
        try:
            cursor.execute(HISTORY, (customer_id, sqlite_time(since), sqlite_time(until)))
            return list(cursor.fetchall())
        finally:
            cursor.close()

    def close(self) -> None:
        """Give the connections back to the pool."""
        with self._lock:
            for raw in self._all:
                raw.close()
            self._all.clear()
        self._local = threading.local()
