"""The log's hot paths in plain DB-API: recording decisions and a customer's history.

A suggestion with a log pays for one history look-up and (batched) one upsert. Through
SQLAlchemy's Core each statement costs ~100-300 µs of Python (and on PostgreSQL a BEGIN
and a ROLLBACK round trip) before the database sees it; the same SQL on a kept DB-API
connection costs ~10 µs (SQLite) or one round trip (PostgreSQL, in autocommit, so a
look-up is one statement). So these two statements are written out here, once per
dialect, and store values exactly as SQLAlchemy's types do (SQLite: UTC times as
``YYYY-MM-DD HH:MM:SS.ffffff``, JSON as text, booleans as 0/1); everything else reads and
writes through the Core. The tests run both paths on both databases.

A connection that failed is dropped (invalidated in the pool), so the next call connects
again: a PostgreSQL server that went away and came back is used again.
"""

from __future__ import annotations

import contextlib
import json
import threading
from collections.abc import Sequence
from datetime import datetime, timezone
from typing import Any

from sqlalchemy.engine import Engine

from cxplay._log import schema as t

__all__ = ["FastPath", "fast_path", "sqlite_time"]

_DECISION_COLUMNS = tuple(c.name for c in t.decision.columns)
_JSON = {c.name for c in t.decision.columns if c.type.__class__.__name__ == "JSON"}
_TIMES = {"created_at", "seen_at", "occurred_at", "respond_by", "decided_at"}


def _upsert_sql(mark: str) -> str:
    return (
        f"INSERT INTO {t.decision.name} ({', '.join(_DECISION_COLUMNS)}) "
        f"VALUES ({', '.join(mark for _ in _DECISION_COLUMNS)}) "
        "ON CONFLICT (id) DO UPDATE SET "
        f"views = {t.decision.name}.views + excluded.views, seen_at = excluded.seen_at"
    )


def _history_sql(mark: str) -> str:
    return (
        f"SELECT decision_id, currency, amount FROM {t.given.name} "
        f"WHERE customer_id = {mark} AND at > {mark} AND at <= {mark}"
    )


def sqlite_time(moment: datetime | None) -> str | None:
    """A datetime as SQLAlchemy's SQLite ``DATETIME`` stores it (naive UTC)."""
    if moment is None:
        return None
    if moment.tzinfo is not None:
        moment = moment.astimezone(timezone.utc).replace(tzinfo=None)
    return moment.strftime("%Y-%m-%d %H:%M:%S.%f")


class FastPath:
    """One kept DB-API connection per thread, from the engine's pool (its set-up applies)."""

    upsert_sql = ""
    history_sql = ""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._local = threading.local()
        self._all: list[Any] = []
        self._lock = threading.Lock()

    def _connection(self) -> Any:
        raw = getattr(self._local, "raw", None)
        if raw is None:
            raw = self._engine.raw_connection()
            self._prepare(raw)
            self._local.raw = raw
            with self._lock:
                self._all.append(raw)
        return raw

    def _prepare(self, raw: Any) -> None:
        """Set a new connection up (nothing by default)."""

    def _drop(self, raw: Any) -> None:
        """Forget a connection that failed: the pool discards it, the next call reconnects."""
        self._local.raw = None
        with self._lock:
            if raw in self._all:
                self._all.remove(raw)
        with contextlib.suppress(Exception):  # already broken; nothing more to free
            raw.invalidate()

    def _value(self, name: str, value: Any) -> Any:
        raise NotImplementedError

    def _time(self, moment: datetime) -> Any:
        return moment

    def _row(self, row: dict[str, Any]) -> tuple[Any, ...]:
        return tuple(self._value(c, row[c]) for c in _DECISION_COLUMNS)

    def _write(self, raw: Any, rows: Sequence[dict[str, Any]]) -> None:
        raise NotImplementedError

    def upsert(self, rows: Sequence[dict[str, Any]]) -> None:
        """Insert decisions (or add their views), in one write transaction."""
        raw = self._connection()
        try:
            self._write(raw, rows)
        except BaseException:
            self._drop(raw)
            raise

    def history(self, customer_id: str, since: datetime, until: datetime) -> list[tuple[Any, ...]]:
        """(decision_id, currency, amount) of a customer's compensation in (since, until]."""
        raw = self._connection()
        try:
            cursor = raw.cursor()
            try:
                cursor.execute(
                    self.history_sql, (customer_id, self._time(since), self._time(until))
                )
                return list(cursor.fetchall())
            finally:
                cursor.close()
        except BaseException:
            self._drop(raw)
            raise

    def close(self) -> None:
        """Give the connections back to the pool."""
        with self._lock:
            for raw in self._all:
                self._release(raw)
            self._all.clear()
        self._local = threading.local()

    def _release(self, raw: Any) -> None:
        raw.close()


class SqliteFastPath(FastPath):
    """SQLite: ``BEGIN IMMEDIATE`` ... ``COMMIT`` on the kept connection (autocommit)."""

    upsert_sql = _upsert_sql("?")
    history_sql = _history_sql("?")

    def _value(self, name: str, value: Any) -> Any:
        if name in _JSON:
            return json.dumps(value, separators=(",", ":"), ensure_ascii=False)
        if name in _TIMES:
            return sqlite_time(value)
        if isinstance(value, bool):
            return int(value)
        return value

    def _time(self, moment: datetime) -> Any:
        return sqlite_time(moment)

    def _write(self, raw: Any, rows: Sequence[dict[str, Any]]) -> None:
        cursor = raw.cursor()
        try:
            cursor.execute("BEGIN IMMEDIATE")
            try:
                cursor.executemany(self.upsert_sql, [self._row(row) for row in rows])
                cursor.execute("COMMIT")
            except BaseException:
                if raw.driver_connection.in_transaction:
                    cursor.execute("ROLLBACK")
                raise
        finally:
            cursor.close()


class PostgresFastPath(FastPath):
    """PostgreSQL (psycopg 3): the kept connection in autocommit; a write is a transaction."""

    upsert_sql = _upsert_sql("%s")
    history_sql = _history_sql("%s")

    def __init__(self, engine: Engine) -> None:
        super().__init__(engine)
        from psycopg.types.json import Json

        self._json = Json

    def _prepare(self, raw: Any) -> None:
        raw.driver_connection.autocommit = True

    def _release(self, raw: Any) -> None:
        try:
            raw.driver_connection.autocommit = False  # as the pool hands connections out
        finally:
            raw.close()

    def _value(self, name: str, value: Any) -> Any:
        if name in _JSON:
            return self._json(value)
        return value

    def _write(self, raw: Any, rows: Sequence[dict[str, Any]]) -> None:
        connection = raw.driver_connection
        with connection.transaction(), connection.cursor() as cursor:
            cursor.executemany(self.upsert_sql, [self._row(row) for row in rows])


def fast_path(engine: Engine) -> FastPath | None:
    """The hot paths for this engine's database (None: use the Core for everything)."""
    name = engine.dialect.name
    if name == "sqlite":
        return SqliteFastPath(engine)
    if name == "postgresql" and engine.dialect.driver == "psycopg":
        return PostgresFastPath(engine)
    return None
