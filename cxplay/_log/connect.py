"""Where a decision log lives: its URL, and the SQLAlchemy engine that reaches it.

SQLite is opened in WAL mode with a busy timeout, and every write transaction starts with
``BEGIN IMMEDIATE``: several processes may write one file; they take turns instead of
failing with "database is locked" half-way through a transaction.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import URL, Connection, Engine, make_url

from cxplay._common.text import echo
from cxplay.errors import LogError

__all__ = ["default_log_path", "engine_for", "insert_for", "log_url", "shown"]

#: Connections beyond the pool's 5 while many threads use the log at once (a server's 40
#: worker threads must not wait for one another's connection).
_OVERFLOW = 40


def default_log_path() -> Path:
    """``$XDG_DATA_HOME/cxplay/log.db`` (``~/.local/share/cxplay/log.db`` by default)."""
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "cxplay" / "log.db"


def log_url(target: str | Path | None) -> URL:
    """The SQLAlchemy URL of a log: a URL as given, a path as SQLite, None as the default.

    None means ``$CXPLAY_LOG``, else :func:`default_log_path`.
    """
    if target is None:
        target = os.environ.get("CXPLAY_LOG") or default_log_path()
    text = str(target)
    if "://" in text:
        try:
            return make_url(text)
        except (sa_exc.ArgumentError, ValueError) as error:
            raise LogError(f"not a database URL: {echo(text)} ({error})") from None
    path = Path(text).expanduser()
    return URL.create("sqlite", database=str(path))


def shown(url: URL) -> str:
    """A URL as error messages show it: without its password."""
    if url.get_backend_name() == "sqlite":
        return str(url.database)
    return url.render_as_string(hide_password=True)


def _sqlite_engine(url: URL, timeout: float) -> Engine:
    database = url.database or ""
    if database and database != ":memory:" and not database.startswith("file:"):
        with contextlib.suppress(OSError):  # a clear error comes from the connect below
            Path(database).parent.mkdir(parents=True, exist_ok=True)
    engine = sa.create_engine(
        url,
        connect_args={"timeout": timeout, "check_same_thread": False},
        max_overflow=_OVERFLOW,
    )

    @sa.event.listens_for(engine, "connect")
    def _connect(dbapi: Any, record: Any) -> None:
        # pysqlite's own transaction handling would BEGIN late and DEFERRED; cxplay
        # begins its transactions itself (below)
        dbapi.isolation_level = None
        cursor = dbapi.cursor()
        try:
            cursor.execute(f"PRAGMA busy_timeout = {int(timeout * 1000)}")
            cursor.execute("PRAGMA foreign_keys = ON")
            # a read-only file keeps its journal mode: only ask for WAL when writable
            if cursor.execute("PRAGMA query_only").fetchone()[0] == 0:
                with contextlib.suppress(Exception):
                    cursor.execute("PRAGMA journal_mode = WAL")
            cursor.execute("PRAGMA synchronous = NORMAL")
            # what is deleted or rewritten (forget, prune) is overwritten in the file,
            # not left in free space
            cursor.execute("PRAGMA secure_delete = ON")
        finally:
            cursor.close()

    @sa.event.listens_for(engine, "begin")
    def _begin(conn: Connection) -> None:
        write = conn.get_execution_options().get("cxplay_write", False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")

    return engine


def engine_for(url: URL, timeout: float) -> Engine:
    backend = url.get_backend_name()
    if backend == "sqlite":
        return _sqlite_engine(url, timeout)
    connect_args: dict[str, Any] = {}
    if backend == "postgresql":
        connect_args["connect_timeout"] = max(1, int(timeout))
    try:
        return sa.create_engine(url, connect_args=connect_args, max_overflow=_OVERFLOW)
    except (ImportError, sa_exc.NoSuchModuleError) as error:
        hint = " (pip install 'cxplay[postgres]')" if backend == "postgresql" else ""
        raise LogError(f"cannot use the log {shown(url)}: {error}{hint}") from None


def insert_for(conn: Connection) -> Any:
    """The dialect's INSERT with ON CONFLICT (SQLite and PostgreSQL both have it)."""
    name = conn.dialect.name
    if name == "sqlite":
        from sqlalchemy.dialects.sqlite import insert as sqlite_insert

        return sqlite_insert
    if name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        return pg_insert
    raise LogError(f"the decision log supports SQLite and PostgreSQL, not {name}")
