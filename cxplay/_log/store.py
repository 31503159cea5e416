"""The decision log: SQLite in a file by default, any SQLAlchemy URL for a team.

One :class:`DecisionLog` per process (it is thread-safe). Writes are upserts keyed by the
decision id, and a decision id is derived from the incident's id, its content and the
playbooks' digest (a random one when the incident has no id): the same incident suggested
twice under the same playbooks is one decision seen twice, in one process or in many,
batched or not; the same id with other content is another decision.

SQLite is opened in WAL mode with a busy timeout, and every write transaction starts with
``BEGIN IMMEDIATE``: several processes may write one file; they take turns instead of
failing with "database is locked" half-way through a transaction.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import sqlalchemy as sa
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import URL, Connection, Engine

from cxplay._log import schema as t
from cxplay._log.connect import default_log_path, engine_for, insert_for, log_url, shown
from cxplay._log.customers import customer_decisions
from cxplay._log.fast import JsonText, default_refresh, fast_path
from cxplay._log.faults import (
    RowRefused,
    as_log_error,
    first_line,
    is_dbapi_error,
    reason,
    row_level,
    text_arg,
)
from cxplay._log.outcomes import (
    check_outcome,
    check_scores,
    find_decision,
    write_feedback,
    write_outcome,
)
from cxplay._log.privacy import DEFAULT_MASK
from cxplay._log.records import (
    HISTORY_DAYS,
    CustomerDecision,
    CustomerHistory,
    GivenCompensation,
    LoggedDecision,
    LogHealth,
    OutcomeRecord,
    Pending,
    Status,
    pending_decision,
    summed_history,
)
from cxplay._log.retention import delete_before, erase_customer
from cxplay.errors import LogError

if TYPE_CHECKING:
    from cxplay.models import Incident
    from cxplay.results import Suggestion

__all__ = [
    "CustomerDecision",
    "CustomerHistory",
    "DecisionLog",
    "GivenCompensation",
    "LogHealth",
    "LoggedDecision",
    "OutcomeRecord",
    "Status",
    "default_log_path",
    "log_url",
]

_PG_LOCK = 0x63787061  # pg_advisory_xact_lock key for migrations ("cxpa")
_MAX_PENDING = 100_000
_logger = logging.getLogger("cxplay.log")


class _Forks:
    """How many times this process is a fork's child: a writer thread does not cross a fork."""

    count = 0

    @classmethod
    def forked(cls) -> None:
        cls.count += 1


if hasattr(os, "register_at_fork"):  # (not on Windows, which does not fork)
    os.register_at_fork(after_in_child=_Forks.forked)


# --------------------------------------------------------------------------- the log


_HISTORY = sa.select(t.given.c.decision_id, t.given.c.currency, t.given.c.amount).where(
    (t.given.c.customer_id == sa.bindparam("customer"))
    & (t.given.c.at > sa.bindparam("since", type_=t.UTCDateTime()))
    & (t.given.c.at <= sa.bindparam("until", type_=t.UTCDateTime()))
)


#: the history's window (made once: a timedelta made per look-up costs more than its use)
_HISTORY_WINDOW = timedelta(days=HISTORY_DAYS)


class DecisionLog:
    """Where decisions, outcomes and survey answers are kept. Open with :meth:`open`.

    Example:
        >>> from cxplay import DecisionLog, Engine
        >>> with DecisionLog.open("/tmp/cxplay-doctest.db") as log:  # doctest: +SKIP
        ...     engine = Engine.from_path(log=log)
        ...     s = engine.suggest({"id": "INC-1", "type": "parcel_damaged"})
        ...     log.outcome(s.decision_id, "accepted")
    """

    def __init__(
        self,
        engine: Engine,
        url: URL,
        *,
        mask: Sequence[str] = DEFAULT_MASK,
        batch_size: int = 1,
        max_delay: float = 0.5,
        timeout: float = 30.0,
        history_refresh: float | None = None,
    ) -> None:
        if batch_size < 1:
            raise LogError(f"batch_size must be at least 1, not {batch_size}")
        if history_refresh is None:
            history_refresh = default_refresh(engine.dialect.name)
        if not history_refresh >= 0:  # (NaN too)
            raise LogError(f"history_refresh must be 0 or more seconds, not {history_refresh}")
        self._engine = engine
        self.url = url
        self.where = shown(url)
        self.mask = tuple(mask)
        self.batch_size = batch_size
        self.max_delay = max_delay
        self.timeout = timeout
        self._pending: list[Pending] = []
        self._pending_lock = threading.Lock()
        self._flush_lock = threading.Lock()
        self._failure: LogError | None = None  # the last write failed (rows kept queued)
        self._refused = 0
        self._restarts = 0
        self._closed = False
        self._wake = threading.Event()
        self._flusher: threading.Thread | None = None
        # the fork (_Forks.count) whose writer runs: set as it starts, -1 as its loop ends
        self._writer_up = -1
        self.history_refresh = history_refresh
        self._fast = fast_path(engine, history_refresh)

    # -- opening -----------------------------------------------------------------------

    @classmethod
    def open(
        cls,
        target: str | Path | None = None,
        *,
        mask: Sequence[str] = DEFAULT_MASK,
        batch_size: int = 1,
        max_delay: float = 0.5,
        timeout: float = 30.0,
        migrate: bool = True,
        check: bool = True,
        history_refresh: float | None = None,
    ) -> DecisionLog:
        """Open a log: a path (SQLite), a URL, or None (``$CXPLAY_LOG``, else the default).

        An empty store is migrated on first use (``migrate=False`` refuses instead); a store
        at an older schema needs :meth:`migrate`; one written by a newer cxplay is refused.
        ``batch_size`` > 1 buffers decisions and writes them together, in a background
        thread (when a batch is full, at most ``max_delay`` seconds later, and on
        :meth:`flush`, every read and :meth:`close`).
        ``timeout`` is how long a write waits for a lock (SQLite) or a connection.
        ``check=False`` opens without looking at the schema (for :meth:`migrate`).
        ``history_refresh`` (seconds; default 1 on SQLite, 0 on PostgreSQL) is how late a
        customer's history may see another process's (or another log's) change to the
        compensations: look-ups answer from what this log read less than that long ago.
        This log's own outcomes, ``forget`` and ``prune`` are seen at once; 0 makes every
        look-up exact.
        """
        url = log_url(target)
        log = cls(
            engine_for(url, timeout),
            url,
            mask=mask,
            batch_size=batch_size,
            max_delay=max_delay,
            timeout=timeout,
            history_refresh=history_refresh,
        )
        try:
            if check:
                log._prepare(migrate=migrate)
        except BaseException:
            log._engine.dispose()
            raise
        return log

    @contextlib.contextmanager
    def _errors(self) -> Iterator[None]:
        try:
            yield
        except Exception as error:
            converted = self._log_error(error)
            if converted is None:
                raise
            raise converted from None

    def _log_error(self, error: Exception) -> LogError | None:
        """The :class:`LogError` a store's failure is reported as (None: not the store's)."""
        if isinstance(error, (sa_exc.SQLAlchemyError, sqlite3.Error)):
            return self._db_error(error)
        if isinstance(error, OSError):
            return LogError(f"the log {self.where}: {error.strerror or error}")
        return self._db_error(error) if is_dbapi_error(error) else None

    def _db_error(self, error: BaseException) -> LogError:
        converted = as_log_error(error, self.where, self.timeout)
        return RowRefused(str(converted)) if row_level(error) else converted

    @contextlib.contextmanager
    def _write(self) -> Iterator[Connection]:
        """A write transaction (``BEGIN IMMEDIATE`` on SQLite)."""
        if self._closed:
            raise LogError(f"the log {self.where} is closed")
        with (
            self._errors(),
            self._engine.connect().execution_options(cxplay_write=True) as conn,
            conn.begin(),
        ):
            yield conn

    @contextlib.contextmanager
    def _read(self, *, flush: bool = True) -> Iterator[Connection]:
        if self._closed:
            raise LogError(f"the log {self.where} is closed")
        if flush:
            self.flush()
        with self._errors(), self._engine.connect() as conn, conn.begin():
            yield conn

    @staticmethod
    def _version(conn: Connection) -> str | None:
        if not sa.inspect(conn).has_table(t.VERSION_TABLE):
            return None
        row = conn.execute(sa.text(f"SELECT version_num FROM {t.VERSION_TABLE}")).first()
        return None if row is None else str(row[0])

    def _refuse(self, version: str) -> LogError:
        if version not in t.REVISIONS:
            return LogError(
                f"the log {self.where} was written by a newer cxplay (schema version "
                f"{version}; this cxplay knows up to {t.HEAD}): upgrade cxplay to use it"
            )
        return LogError(
            f"the log {self.where} has schema version {version}, this cxplay needs {t.HEAD}: "
            "run 'cxplay log migrate' first"
        )

    def _unversioned(self, conn: Connection) -> LogError | None:
        """The error for a store with cxplay's tables but no version table (None: empty)."""
        if not sa.inspect(conn).has_table(t.decision.name):
            return None
        return LogError(
            f"the log {self.where} is damaged: it has cxplay's tables but no schema version "
            f"(the table {t.VERSION_TABLE} was dropped or emptied by hand); restore it from "
            "a backup, or export what is left with another copy of the file"
        )

    def _prepare(self, *, migrate: bool) -> None:
        with self._errors(), self._engine.connect() as conn:
            version = self._version(conn)
            damaged = self._unversioned(conn) if version is None else None
            conn.rollback()
        if damaged is not None:
            raise damaged
        if version == t.HEAD:
            return
        if version is not None:
            raise self._refuse(version)
        if not migrate:
            raise LogError(f"the log {self.where} is empty: run 'cxplay log migrate' first")
        self.migrate()

    def migrate(self) -> tuple[str | None, str]:
        """Bring the store to this cxplay's schema; returns (version before, version after).

        Safe when several processes open an empty store at once: the migration runs under
        a write lock (SQLite) or an advisory lock (PostgreSQL), and re-checks the version.
        """
        # alembic costs ~100 ms to import: only a migration pays it
        chatty = logging.getLogger("alembic")
        if chatty.level == logging.NOTSET:  # its INFO lines only when the application asks
            chatty.setLevel(logging.WARNING)
        from alembic import command
        from alembic.config import Config

        config = Config()
        config.set_main_option("script_location", str(Path(__file__).parent / "migrations"))
        with self._write() as conn:
            if conn.dialect.name == "postgresql":
                conn.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_LOCK})
            before = self._version(conn)
            if before is not None and before not in t.REVISIONS:
                raise self._refuse(before)
            if before != t.HEAD:
                config.attributes["connection"] = conn
                command.upgrade(config, t.HEAD)
        self._changed()  # (the change token's table may be new)
        return before, t.HEAD

    def version(self) -> str | None:
        """The store's schema version (None: empty)."""
        with self._errors(), self._engine.connect() as conn:
            return self._version(conn)

    def check(self) -> None:
        """Raise :class:`LogError` unless the log can be reached, has this schema and writes.

        A writer that has been failing is tried again first (its queued decisions are
        written if the store is back); a batch writer thread that died is started again.
        """
        if self._closed:
            raise LogError(f"the log {self.where} is closed")
        self._revive_writer()
        if self._failure is not None:
            self.flush()
        with self._errors(), self._engine.connect() as conn:
            version = self._version(conn)
            damaged = self._unversioned(conn) if version is None else None
        if damaged is not None:
            raise damaged
        if version != t.HEAD:
            raise self._refuse(version) if version else LogError(f"the log {self.where} is empty")

    # -- writing decisions -------------------------------------------------------------

    def record(
        self,
        incident: Incident,
        suggestion: Suggestion,
        *,
        digest: str,
        playbooks: Sequence[str],
        backend: str,
        now: datetime | None = None,
    ) -> str:
        """Log a suggestion; returns its decision id. Used by :meth:`Engine.suggest`.

        The incident is stored masked (see :mod:`cxplay._log.privacy`); the reply only by
        its language and channel (its text is regenerated from the playbooks if needed).
        """
        if self._closed:
            raise LogError(f"the log {self.where} is closed")
        at = now or datetime.now(timezone.utc)
        pending = pending_decision(
            incident,
            suggestion,
            digest=digest,
            playbooks=playbooks,
            backend=backend,
            at=at,
            mask=self.mask,
        )
        decision_id = pending.id
        with self._pending_lock:
            if len(self._pending) >= _MAX_PENDING:
                raise LogError(
                    f"the log {self.where} is not taking writes ({len(self._pending)} "
                    "decisions waiting)"
                )
            self._pending.append(pending)
            waiting = len(self._pending)
        if self.batch_size == 1 or self._failure is not None:
            # unbatched, or the writer has been failing: write now, so that a returned id
            # is written (a store-level failure raises, and the decision stays queued)
            refused = self._flush()
            if decision_id in refused:
                raise RowRefused(f"decision {decision_id} not logged: {refused[decision_id]}")
            return decision_id
        self._revive_writer()
        if waiting >= self.batch_size:
            # the flusher writes the batch while this thread goes on (sqlite3 and psycopg
            # release the GIL while the database works); past a few batches, write here
            self._wake.set()
            if waiting >= 4 * self.batch_size:
                self.flush()
        return decision_id

    def _revive_writer(self) -> None:
        """Start the batch writer thread, or start it again if it died.

        Per record: while the writer's loop runs in this process (:attr:`_writer_up`, which
        the loop clears however it ends, and a fork's child does not share) nothing is locked
        nor asked of the thread.
        """
        if self._writer_up == _Forks.count or self.batch_size == 1:
            return
        with self._pending_lock:
            thread = self._flusher
            if self._closed or (thread is not None and thread.is_alive()):
                return
            if thread is not None:
                self._restarts += 1
                _logger.error("the decision log's writer thread died: started again")
            self._flusher = threading.Thread(
                target=self._flush_loop, name="cxplay-log-flush", daemon=True
            )
            self._writer_up = _Forks.count
            try:
                self._flusher.start()
            except BaseException:
                self._writer_up = -1
                raise

    def _flush_loop(self) -> None:
        try:
            while not self._closed:
                self._wake.wait(self.max_delay)
                self._wake.clear()
                if self._closed:
                    return
                # a failure is kept (self._failure) for health() and the next caller; the
                # rows stay queued and this loop tries again
                with contextlib.suppress(Exception):
                    self.flush()
        finally:
            self._writer_up = -1  # (the next record looks at the thread, and revives it)

    def health(self) -> LogHealth:
        """The writer's state, without touching the store (cheap: for /readyz and /metrics)."""
        thread = self._flusher
        writer: Literal["running", "stopped", "none"] = (
            "none" if thread is None else "running" if thread.is_alive() else "stopped"
        )
        failure = self._failure
        error = str(failure) if failure is not None else None
        if writer == "stopped" and not self._closed:
            error = error or f"the log {self.where}: its writer thread stopped"
        if self._closed:
            error = error or f"the log {self.where} is closed"
        with self._pending_lock:
            pending = len(self._pending)
        return LogHealth(
            ok=error is None,
            error=error,
            pending=pending,
            refused=self._refused,
            restarts=self._restarts,
            writer=writer,
        )

    def flush(self) -> int:
        """Write the decisions waiting in the batch; returns how many were written.

        A decision the database refuses (not the store failing) is dropped alone, with a
        warning, and counted in :meth:`health`; the others are written. When the store
        fails (locked, unreachable, read-only), every decision stays queued for the next
        write and :class:`LogError` is raised. Nothing but :class:`LogError` is raised.
        """
        with self._pending_lock:
            before = len(self._pending)
        refused = self._flush()
        return max(0, before - len(refused))

    def _flush(self) -> dict[str, str]:
        """Write what is queued; returns the refused decisions (id -> why)."""
        with self._flush_lock:
            with self._pending_lock:
                rows, self._pending = self._pending, []
            if not rows:
                return {}
            refused: dict[str, str] = {}
            # the JSON columns are serialised here, by whoever writes (the batch writer
            # thread when batched), not by the suggesting thread
            ready = []
            for pending in rows:
                why = pending.prepare()
                if why is None:
                    ready.append(pending)
                else:
                    refused[pending.id] = why
            rows = ready
            done = 0  # rows written or refused alone (never queued again)
            try:
                try:
                    if rows:
                        self._upsert(rows)
                except Exception as error:
                    if not row_level(error):
                        raise
                    # a row the database refuses must not hold the others back: each alone
                    for row in rows:
                        try:
                            self._upsert([row])
                        except Exception as single:
                            if not row_level(single):
                                raise
                            refused[row.id] = reason(single)
                        done += 1
            except BaseException as error:
                with self._pending_lock:  # nothing lost: retried by the next flush
                    self._pending[:0] = rows[done:]
                self._note_refused(refused)
                failure = error if isinstance(error, LogError) else self._unexpected(error)
                if isinstance(error, Exception):
                    self._failure = failure
                    if failure is not error:
                        raise failure from None
                raise
            self._failure = None
            self._note_refused(refused)
            return refused

    def _note_refused(self, refused: Mapping[str, str]) -> None:
        self._refused += len(refused)
        for decision_id, why in refused.items():
            _logger.warning("decision %s not logged: %s", decision_id, why)

    def _unexpected(self, error: BaseException) -> LogError:
        return LogError(f"the log {self.where} failed: {type(error).__name__}: {first_line(error)}")

    def _upsert(self, rows: list[Pending]) -> None:
        merged: dict[str, Pending] = {}
        for row in rows:  # the same decision twice in one batch: one row, two views
            seen = merged.get(row.id)
            # a queued decision is never changed (a failed write retries it): a copy counts
            merged[row.id] = row if seen is None else seen.seen_again(row)
        values = list(merged.values())
        if self._fast is not None:
            if self._closed:
                raise LogError(f"the log {self.where} is closed")
            with self._errors():
                self._fast.upsert(values)
            return
        core = [
            {k: json.loads(v.text) if isinstance(v, JsonText) else v for k, v in p.row().items()}
            for p in values
        ]
        with self._write() as conn:
            insert = insert_for(conn)
            stmt = insert(t.decision)
            conn.execute(
                stmt.on_conflict_do_update(
                    index_elements=[t.decision.c.id],
                    set_={
                        "views": t.decision.c.views + stmt.excluded.views,
                        "seen_at": stmt.excluded.seen_at,
                    },
                ),
                core,
            )

    # -- outcomes and surveys ----------------------------------------------------------

    def outcome(
        self,
        decision_id: str,
        status: Status,
        *,
        actions: Sequence[str] | None = None,
        note: str | None = None,
        given: Mapping[str, float | tuple[float, str | None]] | None = None,
        at: datetime | None = None,
    ) -> OutcomeRecord:
        """Record what an agent did: ``accepted``, ``edited`` or ``rejected``.

        ``actions`` are the kinds actually taken (default: every suggested action, or none
        when rejected); ``given`` the compensation that happened, ``{kind: amount}`` or
        ``{kind: (amount, currency)}`` (default: the suggested costs of the compensating
        actions taken). Recording again replaces the outcome; the earlier ones are kept.
        A decision id may be shortened to a unique prefix of at least 6 characters.
        """
        check_outcome(status, actions, given, note)
        when = at or datetime.now(timezone.utc)
        self.flush()  # an outcome may follow its suggestion at once
        try:
            with self._write() as conn:
                row = find_decision(conn, decision_id, self.where)
                return write_outcome(conn, row, status, actions, given, note, when)
        finally:
            self._changed()

    def feedback(
        self,
        decision_id: str,
        *,
        csat: int | None = None,
        nps: int | None = None,
        ces: int | None = None,
        at: datetime | None = None,
    ) -> None:
        """Record survey answers: CSAT 1-5, NPS 0-10, CES 1-7 (the latest of each counts)."""
        scores = {"csat": csat, "nps": nps, "ces": ces}
        check_scores(scores)
        when = at or datetime.now(timezone.utc)
        self.flush()
        with self._write() as conn:
            row = find_decision(conn, decision_id, self.where)
            write_feedback(conn, row, scores, when)

    # -- reading -----------------------------------------------------------------------

    def history(
        self, customer_id: str, now: datetime | None = None, *, days: int = HISTORY_DAYS
    ) -> CustomerHistory:
        """A customer's compensations (from recorded outcomes) in the ``days`` before ``now``."""
        since, until = self._window(customer_id, now, days)
        # pending decisions have no outcomes yet (an outcome flushes them first): the
        # batch can wait. (try/except, not self._errors(): this runs per suggestion)
        try:
            if self._fast is not None:
                rows = self._fast.history(customer_id, since, until)
            else:
                with self._engine.connect() as conn:
                    rows = list(
                        conn.execute(
                            _HISTORY, {"customer": customer_id, "since": since, "until": until}
                        ).all()
                    )
        except Exception as error:
            converted = self._log_error(error)
            if converted is None:
                raise
            raise converted from None
        return summed_history(customer_id, rows, since, until, days)

    def history_later(
        self, customer_id: str, now: datetime | None = None
    ) -> Callable[[bool], CustomerHistory | None]:
        """Start :meth:`history`; the function returned gives it (``False``: not needed).

        On PostgreSQL the look-up is sent at once and read when the function is called
        (the server answers while the caller goes on); elsewhere it runs then. Call the
        function exactly once. A look-up that cannot be sent is tried again, and raises,
        only if it is needed.
        """
        days = HISTORY_DAYS

        def later(keep: bool) -> CustomerHistory | None:
            return self.history(customer_id, now, days=days) if keep else None

        start = getattr(self._fast, "history_later", None)
        if start is None or type(self).history is not DecisionLog.history:
            return later  # (a subclass that answers history itself is asked at the end)
        # (try/except, not self._errors(): this runs per suggestion)
        try:
            since, until = self._window(customer_id, now, days)
            collect = start(customer_id, since, until)
        except LogError:
            return later
        except Exception as error:
            if self._log_error(error) is None:
                raise
            return later

        def collected(keep: bool) -> CustomerHistory | None:
            try:
                rows = collect(keep)
            except LogError:
                if not keep:  # not needed: a failure to read it does not matter either
                    return None
                raise
            except Exception as error:
                converted = self._log_error(error)
                if converted is None:
                    raise
                if not keep:
                    return None
                raise converted from None
            return summed_history(customer_id, rows, since, until, days) if keep else None

        return collected

    def _window(
        self, customer_id: str, now: datetime | None, days: int
    ) -> tuple[datetime, datetime]:
        text_arg("customer id", customer_id)
        until = now or datetime.now(timezone.utc)
        if until.tzinfo is None:
            until = until.replace(tzinfo=timezone.utc)
        if self._closed:
            raise LogError(f"the log {self.where} is closed")
        window = _HISTORY_WINDOW if days == HISTORY_DAYS else timedelta(days=days)
        return until - window, until

    def customer_decisions(
        self, customer_id: str, *, limit: int = 5, exclude: str | None = None
    ) -> list[CustomerDecision]:
        """A customer's latest decisions, newest first: type, actions, compensation, outcome.

        What the console's history panel shows, so that a repeat claim is seen before the
        agent answers. ``exclude`` leaves one decision out (the one on the agent's screen).
        A forgotten customer has none (``forget`` erased the id from every decision).
        Reads the partial index on (customer_id, created_at) of revision
        ``customer_history``: one index range, however large the log.
        """
        text_arg("customer id", customer_id)
        if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= 100:
            raise LogError(f"limit must be a whole number from 1 to 100, not {limit!r}")
        with self._read() as conn:
            return customer_decisions(conn, customer_id, limit, exclude)

    def decisions(
        self, since: datetime | None = None, until: datetime | None = None, *, chunk: int = 1000
    ) -> Iterator[LoggedDecision]:
        """Every logged decision created in ``[since, until)``, oldest first, with outcomes."""
        self.flush()
        condition: sa.ColumnElement[bool] = sa.true()
        if since is not None:
            condition = condition & (t.decision.c.created_at >= since)
        if until is not None:
            condition = condition & (t.decision.c.created_at < until)
        after: tuple[datetime, str] | None = None
        key = (t.decision.c.created_at, t.decision.c.id)
        while True:
            query = sa.select(t.decision).where(condition).order_by(*key).limit(chunk)
            if after is not None:
                query = query.where(sa.tuple_(*key) > sa.tuple_(*after))
            with self._errors(), self._engine.connect() as conn:
                rows = conn.execute(query).mappings().all()
                ids = [r["id"] for r in rows]
                outcomes: dict[str, list[dict[str, Any]]] = {}
                if ids:
                    for o in conn.execute(
                        sa.select(t.outcome)
                        .where(t.outcome.c.decision_id.in_(ids))
                        .order_by(t.outcome.c.id)
                    ).mappings():
                        outcomes.setdefault(o["decision_id"], []).append(
                            {
                                "status": o["status"],
                                "actions": o["actions"],
                                "given": o["given"],
                                "note": o["note"],
                                "at": o["at"].isoformat(),
                            }
                        )
            for r in rows:
                yield LoggedDecision(
                    **{k: r[k] for k in LoggedDecision.__dataclass_fields__ if k in r},
                    outcomes=outcomes.get(r["id"], []),
                )
            if len(rows) < chunk:
                return
            after = (rows[-1]["created_at"], rows[-1]["id"])

    def count(self) -> int:
        """How many decisions the log holds."""
        with self._read() as conn:
            return int(
                conn.execute(sa.select(sa.func.count()).select_from(t.decision)).scalar_one()
            )

    # -- privacy and retention -----------------------------------------------------------

    def forget(self, customer_id: str) -> int:
        """Erase what names or describes a customer; keep the anonymous counts.

        Returns how many decisions were affected. The customer's compensation history is
        gone too: the guard no longer sees it.
        """
        text_arg("customer id", customer_id)
        self.flush()
        try:
            with self._write() as conn:
                forgotten = erase_customer(conn, customer_id)
        finally:
            self._changed()
        self._checkpoint()
        return forgotten

    def _checkpoint(self) -> None:
        """SQLite: move the write-ahead log into the file and empty it (after forget).

        The -wal file keeps the old version of every page written since the last
        checkpoint: without this, a forgotten name stays in it while another process (a
        running ``cxplay serve``) keeps the file open. Waits for readers up to the timeout.
        """
        if self._engine.dialect.name != "sqlite":
            return
        deadline = time.monotonic() + self.timeout
        with self._errors():
            raw = self._engine.raw_connection()
            try:
                cursor = raw.cursor()
                while True:
                    busy = cursor.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()[0]
                    if not busy:
                        return
                    if time.monotonic() >= deadline:
                        raise LogError(
                            f"forgotten, but another process kept the log {self.where} "
                            f"open for reading for {self.timeout:g} s: the old pages are "
                            "still in its -wal file; run 'cxplay log forget' again"
                        )
                    time.sleep(0.05)
            finally:
                raw.close()

    def prune(self, keep_days: int, now: datetime | None = None) -> int:
        """Delete decisions older than ``keep_days`` (and their outcomes); returns how many."""
        if isinstance(keep_days, bool) or not isinstance(keep_days, int) or keep_days < 0:
            raise LogError(f"keep_days must be a whole number, 0 or more, not {keep_days!r}")
        try:
            cutoff = (now or datetime.now(timezone.utc)) - timedelta(days=keep_days)
        except OverflowError:
            return 0  # before the year 1: nothing is that old
        self.flush()
        try:
            with self._write() as conn:
                return delete_before(conn, cutoff)
        finally:
            self._changed()

    # -- lifecycle -------------------------------------------------------------------------

    @contextlib.contextmanager
    def connection(self) -> Iterator[Connection]:
        """A read transaction (pending decisions written first), for the report and export.

        What is changed through it (it commits) is this log's own change: seen at once.
        """
        try:
            with self._read() as conn:
                yield conn
        finally:
            self._changed()

    def _changed(self) -> None:
        """This log changed (or may have changed) the compensations: forget the cache.

        Called after the commit, so the next look-up reads the store anew.
        """
        if self._fast is not None:
            self._fast.changed()

    def close(self, *, discard_pending: bool = False) -> None:
        """Write what is pending and release the connections.

        Raises only :class:`LogError` (what could not be written is then lost: it says how
        many decisions). ``discard_pending``: drop what is queued instead of trying again
        (the caller has already said it was not logged, and must not wait for a lock twice).
        """
        if self._closed:
            return
        failure: LogError | None = None
        if discard_pending:
            with self._pending_lock:
                self._pending.clear()
        try:
            self.flush()
        except LogError as error:
            with self._pending_lock:
                lost = len(self._pending)
            failure = LogError(f"{error} ({lost} decision(s) not written)")
        finally:
            self._closed = True
            self._wake.set()
            if self._flusher is not None:
                self._flusher.join(timeout=5)
            try:
                if self._fast is not None:
                    self._fast.close()
                self._engine.dispose()
            except Exception as error:
                failure = failure or self._unexpected(error)
        if failure is not None:
            raise failure from None

    def __enter__(self) -> DecisionLog:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<DecisionLog {self.where}>"
