"""The decision log: SQLite in a file by default, any SQLAlchemy URL for a team.

One :class:`DecisionLog` per process (it is thread-safe). Writes are upserts keyed by the
decision id, and a decision id is derived from the incident's id and the playbooks' digest
(a random one when the incident has no id): the same incident suggested twice under the
same playbooks is one decision seen twice, in one process or in many, batched or not.

SQLite is opened in WAL mode with a busy timeout, and every write transaction starts with
``BEGIN IMMEDIATE``: several processes may write one file; they take turns instead of
failing with "database is locked" half-way through a transaction.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import math
import os
import sqlite3
import threading
import uuid
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, get_args

import sqlalchemy as sa
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import URL, Connection, Engine, make_url

from cxplay._common.text import did_you_mean, echo
from cxplay._log import schema as t
from cxplay._log.fast import JsonText, fast_path
from cxplay._log.privacy import DEFAULT_MASK, forget_incident, mask_incident, redact_text
from cxplay.errors import LogError
from cxplay.models import ACTION_KINDS, COMPENSATION_KINDS

if TYPE_CHECKING:
    from cxplay.models import Incident
    from cxplay.results import Suggestion

__all__ = [
    "CustomerHistory",
    "DecisionLog",
    "GivenCompensation",
    "LoggedDecision",
    "OutcomeRecord",
    "Status",
    "default_log_path",
    "log_url",
]

Status = Literal["accepted", "edited", "rejected"]
STATUSES: tuple[str, ...] = get_args(Status)
HISTORY_DAYS = 90
#: Survey scales: CSAT 1-5, NPS 0-10, CES 1-7.
SCALES = {"csat": (1, 5), "nps": (0, 10), "ces": (1, 7)}
_PG_LOCK = 0x63787061  # pg_advisory_xact_lock key for migrations ("cxpa")
_MAX_PENDING = 100_000
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


def _shown(url: URL) -> str:
    """A URL as error messages show it: without its password."""
    if url.get_backend_name() == "sqlite":
        return str(url.database)
    return url.render_as_string(hide_password=True)


# --------------------------------------------------------------------------- results


@dataclass(frozen=True)
class GivenCompensation:
    """Compensation that happened: what kind, how much (None: unknown), which rule offered it."""

    kind: str
    amount: float | None
    currency: str | None
    rule: str | None = None


@dataclass(frozen=True)
class OutcomeRecord:
    """What an agent did with a decision (the latest one counts; earlier ones are kept)."""

    decision_id: str
    status: Status
    actions: tuple[str, ...]
    given: tuple[GivenCompensation, ...]
    note: str | None
    at: datetime
    replaced: bool = False  # an earlier outcome existed and was superseded


@dataclass(frozen=True)
class CustomerHistory:
    """A customer's compensations in the ``days`` before ``until``, from accepted outcomes."""

    customer_id: str
    compensations: int
    amounts: dict[str | None, float]  # currency -> total given (None: no currency)
    since: datetime
    until: datetime
    days: int = HISTORY_DAYS


@dataclass(frozen=True)
class LoggedDecision:
    """One decision as the log holds it (the incident masked, maybe forgotten)."""

    id: str
    created_at: datetime
    seen_at: datetime
    views: int
    incident: Mapping[str, object]
    actions: Sequence[Mapping[str, object]]
    digest: str
    playbooks: list[str]
    backend: str
    type: str
    customer_id: str | None
    channel: str | None
    language: str | None
    severity: str
    matched: bool
    occurred_at: datetime | None
    respond_by: datetime | None
    status: Status | None
    decided_at: datetime | None
    first_response_s: float | None
    on_time: bool | None
    csat: int | None
    nps: int | None
    ces: int | None
    forgotten: bool
    outcomes: Sequence[Mapping[str, object]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready: datetimes as ISO 8601 strings."""
        out: dict[str, Any] = {}
        for name in self.__dataclass_fields__:
            value = getattr(self, name)
            out[name] = value.isoformat() if isinstance(value, datetime) else value
        return out


# --------------------------------------------------------------------------- errors


def _first_line(error: BaseException) -> str:
    orig = getattr(error, "orig", None) or error
    text = str(orig).strip().splitlines()
    return text[0] if text else type(orig).__name__


def _is_dbapi_error(error: BaseException) -> bool:
    """A DB-API error raised by a driver directly (the fast paths do not go through the Core)."""
    return any(
        cls.__name__ == "Error" and cls.__module__.split(".")[0] in ("sqlite3", "psycopg")
        for cls in type(error).__mro__
    )


def _as_log_error(error: BaseException, where: str, timeout: float) -> LogError:
    """One clear line for a database failure."""
    message = _first_line(error)
    low = message.lower()
    if "database is locked" in low or "database table is locked" in low:
        text = f"the log {where} is locked by another process (waited {timeout:g} s)"
    elif "readonly" in low or "read-only" in low:
        text = f"the log {where} is read-only: {message}"
    elif "unable to open database" in low:
        text = f"cannot open the log {where}: {message}"
    elif (
        isinstance(error, sa_exc.OperationalError | sa_exc.InterfaceError)
        or type(error).__name__ in ("OperationalError", "InterfaceError")
        or getattr(error, "connection_invalidated", False)
    ):
        text = f"the log {where} is unreachable: {message}"
    else:
        text = f"the log {where} failed: {message}"
    return LogError(text)


# --------------------------------------------------------------------------- engines


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
        finally:
            cursor.close()

    @sa.event.listens_for(engine, "begin")
    def _begin(conn: Connection) -> None:
        write = conn.get_execution_options().get("cxplay_write", False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")

    return engine


def _engine(url: URL, timeout: float) -> Engine:
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
        raise LogError(f"cannot use the log {_shown(url)}: {error}{hint}") from None


# --------------------------------------------------------------------------- the log


_HISTORY = sa.select(t.given.c.decision_id, t.given.c.currency, t.given.c.amount).where(
    (t.given.c.customer_id == sa.bindparam("customer"))
    & (t.given.c.at > sa.bindparam("since", type_=t.UTCDateTime()))
    & (t.given.c.at <= sa.bindparam("until", type_=t.UTCDateTime()))
)


def decision_id_for(incident_id: str | None, digest: str) -> str:
    """The decision id: derived from the incident id and the playbooks, else random."""
    if incident_id is None:
        return uuid.uuid4().hex
    return hashlib.sha256(f"{incident_id}\x00{digest}".encode()).hexdigest()[:32]


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
    ) -> None:
        if batch_size < 1:
            raise LogError(f"batch_size must be at least 1, not {batch_size}")
        self._engine = engine
        self.url = url
        self.where = _shown(url)
        self.mask = tuple(mask)
        self.batch_size = batch_size
        self.max_delay = max_delay
        self.timeout = timeout
        self._pending: list[dict[str, Any]] = []
        self._pending_lock = threading.Lock()
        self._flush_lock = threading.Lock()
        self._failure: LogError | None = None
        self._closed = False
        self._wake = threading.Event()
        self._flusher: threading.Thread | None = None
        self._fast = fast_path(engine)

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
    ) -> DecisionLog:
        """Open a log: a path (SQLite), a URL, or None (``$CXPLAY_LOG``, else the default).

        An empty store is migrated on first use (``migrate=False`` refuses instead); a store
        at an older schema needs :meth:`migrate`; one written by a newer cxplay is refused.
        ``batch_size`` > 1 buffers decisions and writes them together, in a background
        thread (when a batch is full, at most ``max_delay`` seconds later, and on
        :meth:`flush`, every read and :meth:`close`).
        ``timeout`` is how long a write waits for a lock (SQLite) or a connection.
        ``check=False`` opens without looking at the schema (for :meth:`migrate`).
        """
        url = log_url(target)
        log = cls(
            _engine(url, timeout),
            url,
            mask=mask,
            batch_size=batch_size,
            max_delay=max_delay,
            timeout=timeout,
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
        except (sa_exc.SQLAlchemyError, sqlite3.Error) as error:
            raise _as_log_error(error, self.where, self.timeout) from None
        except Exception as error:
            if not _is_dbapi_error(error):
                raise
            raise _as_log_error(error, self.where, self.timeout) from None
        except OSError as error:
            raise LogError(f"the log {self.where}: {error.strerror or error}") from None

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

    def _prepare(self, *, migrate: bool) -> None:
        with self._errors(), self._engine.connect() as conn:
            version = self._version(conn)
            conn.rollback()
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
        return before, t.HEAD

    def version(self) -> str | None:
        """The store's schema version (None: empty)."""
        with self._errors(), self._engine.connect() as conn:
            return self._version(conn)

    def check(self) -> None:
        """Raise :class:`LogError` unless the log can be reached and has this schema."""
        if self._failure is not None:
            raise self._failure
        with self._errors(), self._engine.connect() as conn:
            version = self._version(conn)
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
        if self._failure is not None:
            failure, self._failure = self._failure, None
            raise failure
        at = now or datetime.now(timezone.utc)
        decision_id = decision_id_for(incident.id, digest)
        reply = suggestion.reply
        row = {
            "id": decision_id,
            "incident_key": incident.id,
            "digest": digest,
            "created_at": at,
            "seen_at": at,
            "views": 1,
            "customer_id": incident.customer.id,
            "type": incident.type,
            "channel": reply.channel if reply is not None else incident.channel,
            "language": reply.language if reply is not None else incident.customer.language,
            "severity": suggestion.severity,
            "matched": suggestion.matched,
            "backend": backend,
            "playbooks": list(playbooks),
            "incident": mask_incident(
                incident.model_dump(mode="json", exclude_none=True, exclude_defaults=True),
                self.mask,
            ),
            # serialised by pydantic-core at once: no Python dicts for the actions
            "actions": JsonText(suggestion.model_dump_json(include={"actions"})[11:-1]),
            "rules": ";".join(
                f"{rule} {playbook}"
                for rule, playbook in dict.fromkeys(
                    (a.rule, a.playbook) for a in suggestion.actions
                )
            ),
            "occurred_at": incident.occurred_at,
            "respond_by": suggestion.respond_by,
            "status": None,
            "decided_at": None,
            "first_response_s": None,
            "on_time": None,
            "csat": None,
            "nps": None,
            "ces": None,
            "forgotten": False,
        }
        with self._pending_lock:
            if len(self._pending) >= _MAX_PENDING:
                raise LogError(
                    f"the log {self.where} is not taking writes ({len(self._pending)} "
                    "decisions waiting)"
                )
            self._pending.append(row)
            waiting = len(self._pending)
        if self.batch_size == 1:
            self.flush()
            return decision_id
        if self._flusher is None:
            self._start_flusher()
        if waiting >= self.batch_size:
            # the flusher writes the batch while this thread goes on (sqlite3 and psycopg
            # release the GIL while the database works); past a few batches, write here
            self._wake.set()
            if waiting >= 4 * self.batch_size:
                self.flush()
        return decision_id

    def _start_flusher(self) -> None:
        with self._pending_lock:
            if self._flusher is not None:
                return
            self._flusher = threading.Thread(
                target=self._flush_loop, name="cxplay-log-flush", daemon=True
            )
            self._flusher.start()

    def _flush_loop(self) -> None:
        while not self._closed:
            self._wake.wait(self.max_delay)
            self._wake.clear()
            if self._closed:
                return
            try:
                self.flush()
            except LogError as error:  # kept for the next caller; the rows stay pending
                self._failure = error

    def flush(self) -> int:
        """Write the decisions waiting in the batch; returns how many were written."""
        with self._flush_lock:
            with self._pending_lock:
                rows, self._pending = self._pending, []
            if not rows:
                return 0
            try:
                self._upsert(rows)
            except BaseException:
                with self._pending_lock:  # nothing lost: retried by the next flush
                    self._pending[:0] = rows
                raise
            self._failure = None
            return len(rows)

    def _upsert(self, rows: list[dict[str, Any]]) -> None:
        merged: dict[str, dict[str, Any]] = {}
        for row in rows:  # the same decision twice in one batch: one row, two views
            seen = merged.get(row["id"])
            if seen is None:
                merged[row["id"]] = dict(row)
            else:
                seen["views"] += 1
                seen["seen_at"] = max(seen["seen_at"], row["seen_at"])
        values = list(merged.values())
        if self._fast is not None:
            if self._closed:
                raise LogError(f"the log {self.where} is closed")
            with self._errors():
                self._fast.upsert(values)
            return
        values = [
            {k: json.loads(v.text) if isinstance(v, JsonText) else v for k, v in row.items()}
            for row in values
        ]
        with self._write() as conn:
            insert = _insert_for(conn)
            stmt = insert(t.decision)
            conn.execute(
                stmt.on_conflict_do_update(
                    index_elements=[t.decision.c.id],
                    set_={
                        "views": t.decision.c.views + stmt.excluded.views,
                        "seen_at": stmt.excluded.seen_at,
                    },
                ),
                values,
            )

    # -- outcomes and surveys ----------------------------------------------------------

    def _resolve(self, conn: Connection, decision_id: str) -> Any:
        columns = (
            t.decision.c.id,
            t.decision.c.actions,
            t.decision.c.customer_id,
            t.decision.c.type,
            t.decision.c.created_at,
            t.decision.c.occurred_at,
            t.decision.c.respond_by,
            t.decision.c.first_response_s,
        )
        row = conn.execute(sa.select(*columns).where(t.decision.c.id == decision_id)).first()
        if row is not None:
            return row
        if len(decision_id) >= 6 and all(c in "0123456789abcdef" for c in decision_id):
            found = conn.execute(
                sa.select(*columns).where(t.decision.c.id.startswith(decision_id)).limit(2)
            ).all()
            if len(found) == 1:
                return found[0]
            if len(found) > 1:
                raise LogError(f"decision id {echo(decision_id)} is ambiguous: give more of it")
        raise LogError(f"unknown decision id {echo(decision_id)} in the log {self.where}")

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
        if status not in STATUSES:
            raise LogError(
                f"unknown outcome {echo(status)}; use accepted, edited or rejected"
                + did_you_mean(str(status), STATUSES)
            )
        for kind in list(actions or []) + list(given or {}):
            if kind not in ACTION_KINDS:
                raise LogError(
                    f"unknown action kind {echo(kind)}" + did_you_mean(kind, sorted(ACTION_KINDS))
                )
        if status == "rejected" and (actions or given):
            raise LogError("a rejected suggestion has no actions taken and nothing given")
        if note is not None and len(note) > 10_000:
            raise LogError(f"a note may have at most 10000 characters, not {len(note)}")
        when = at or datetime.now(timezone.utc)
        self.flush()  # an outcome may follow its suggestion at once
        with self._write() as conn:
            row = self._resolve(conn, decision_id)
            suggested: list[dict[str, Any]] = list(row.actions)
            if status == "rejected":
                taken: list[str] = []
            elif actions is None:
                taken = list(dict.fromkeys(a["kind"] for a in suggested))
            else:
                taken = list(dict.fromkeys(actions))
            for kind in given or {}:
                if kind not in taken:
                    taken.append(kind)
            compensation = self._given(suggested, taken, given or {})
            previous = conn.execute(
                sa.select(sa.func.count()).where(t.outcome.c.decision_id == row.id)
            ).scalar_one()
            clean_note = redact_text(note) if note is not None else None
            conn.execute(
                t.outcome.insert().values(
                    decision_id=row.id,
                    status=status,
                    actions=taken,
                    given=[vars(g) for g in compensation],
                    note=clean_note,
                    at=when,
                )
            )
            conn.execute(t.given.delete().where(t.given.c.decision_id == row.id))
            if compensation:
                conn.execute(
                    t.given.insert(),
                    [
                        {
                            "decision_id": row.id,
                            "customer_id": row.customer_id,
                            "type": row.type,
                            "decision_at": row.created_at,
                            "kind": g.kind,
                            "rule": g.rule,
                            "amount": g.amount,
                            "currency": g.currency,
                            "at": when,
                        }
                        for g in compensation
                    ],
                )
            update: dict[str, Any] = {"status": status, "decided_at": when}
            if row.first_response_s is None:
                start = row.occurred_at or row.created_at
                update["first_response_s"] = max(0.0, (when - start).total_seconds())
                update["on_time"] = None if row.respond_by is None else when <= row.respond_by
            conn.execute(t.decision.update().where(t.decision.c.id == row.id).values(**update))
        return OutcomeRecord(
            decision_id=row.id,
            status=status,
            actions=tuple(taken),
            given=tuple(compensation),
            note=clean_note,
            at=when,
            replaced=previous > 0,
        )

    @staticmethod
    def _given(
        suggested: list[dict[str, Any]],
        taken: list[str],
        given: Mapping[str, float | tuple[float, str | None]],
    ) -> list[GivenCompensation]:
        offered = {a["kind"]: a for a in reversed(suggested)}  # the first of each kind
        out: list[GivenCompensation] = []
        for kind in taken:
            action = offered.get(kind)
            cost = (action or {}).get("cost") or {}
            amount: float | None
            currency: str | None = cost.get("currency")
            if kind in given:
                value = given[kind]
                amount, currency = (
                    (float(value[0]), value[1])
                    if isinstance(value, tuple)
                    else (float(value), currency)
                )
                if not math.isfinite(amount) or amount < 0:
                    raise LogError(f"given {kind}: the amount must be 0 or more, not {amount}")
            elif kind in COMPENSATION_KINDS:
                amount = cost.get("amount")
            else:
                continue
            out.append(
                GivenCompensation(
                    kind=kind,
                    amount=None if amount is None else round(amount, 2),
                    currency=currency,
                    rule=(action or {}).get("rule"),
                )
            )
        return out

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
        given = {k: v for k, v in scores.items() if v is not None}
        if not given:
            raise LogError("give at least one survey score: csat, nps or ces")
        for name, value in given.items():
            low, high = SCALES[name]
            if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
                raise LogError(f"{name} must be a whole number from {low} to {high}, not {value!r}")
        when = at or datetime.now(timezone.utc)
        self.flush()
        with self._write() as conn:
            row = self._resolve(conn, decision_id)
            conn.execute(t.feedback.insert().values(decision_id=row.id, at=when, **scores))
            conn.execute(t.decision.update().where(t.decision.c.id == row.id).values(**given))

    # -- reading -----------------------------------------------------------------------

    def history(
        self, customer_id: str, now: datetime | None = None, *, days: int = HISTORY_DAYS
    ) -> CustomerHistory:
        """A customer's compensations (from recorded outcomes) in the ``days`` before ``now``."""
        until = now or datetime.now(timezone.utc)
        if until.tzinfo is None:
            until = until.replace(tzinfo=timezone.utc)
        since = until - timedelta(days=days)
        if self._closed:
            raise LogError(f"the log {self.where} is closed")
        # pending decisions have no outcomes yet (an outcome flushes them first): the
        # batch can wait
        with self._errors():
            if self._fast is not None:
                rows = self._fast.history(customer_id, since, until)
            else:
                with self._engine.connect() as conn:
                    rows = list(
                        conn.execute(
                            _HISTORY, {"customer": customer_id, "since": since, "until": until}
                        ).all()
                    )
        decisions: set[str] = set()
        totals: dict[str | None, float] = {}
        for decision_id, currency, amount in rows:
            decisions.add(decision_id)
            if amount is not None:
                totals[currency] = totals.get(currency, 0.0) + amount
        return CustomerHistory(
            customer_id=customer_id,
            compensations=len(decisions),
            amounts={
                currency: round(total, 2) for currency, total in sorted(totals.items(), key=str)
            },
            since=since,
            until=until,
            days=days,
        )

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
        self.flush()
        with self._write() as conn:
            rows = conn.execute(
                sa.select(t.decision.c.id, t.decision.c.incident).where(
                    t.decision.c.customer_id == customer_id
                )
            ).all()
            for decision_id, incident in rows:
                conn.execute(
                    t.decision.update()
                    .where(t.decision.c.id == decision_id)
                    .values(
                        incident=forget_incident(incident),
                        customer_id=None,
                        incident_key=None,
                        forgotten=True,
                    )
                )
            ids = [r[0] for r in rows]
            for start in range(0, len(ids), 500):
                part = ids[start : start + 500]
                conn.execute(
                    t.outcome.update().where(t.outcome.c.decision_id.in_(part)).values(note=None)
                )
            conn.execute(
                t.given.update()
                .where(t.given.c.customer_id == customer_id)
                .values(customer_id=None)
            )
        return len(rows)

    def prune(self, keep_days: int, now: datetime | None = None) -> int:
        """Delete decisions older than ``keep_days`` (and their outcomes); returns how many."""
        if keep_days < 0:
            raise LogError(f"keep_days must be 0 or more, not {keep_days}")
        cutoff = (now or datetime.now(timezone.utc)) - timedelta(days=keep_days)
        self.flush()
        with self._write() as conn:
            old = sa.select(t.decision.c.id).where(t.decision.c.created_at < cutoff)
            for table in (t.feedback, t.given, t.outcome):
                conn.execute(table.delete().where(table.c.decision_id.in_(old)))
            deleted = conn.execute(t.decision.delete().where(t.decision.c.created_at < cutoff))
        return int(deleted.rowcount or 0)

    # -- lifecycle -------------------------------------------------------------------------

    def connection(self) -> contextlib.AbstractContextManager[Connection]:
        """A read transaction (pending decisions written first), for the report and export."""
        return self._read()

    def close(self) -> None:
        """Write what is pending and release the connections."""
        if self._closed:
            return
        try:
            self.flush()
        finally:
            self._closed = True
            self._wake.set()
            if self._flusher is not None:
                self._flusher.join(timeout=5)
            if self._fast is not None:
                self._fast.close()
            self._engine.dispose()

    def __enter__(self) -> DecisionLog:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<DecisionLog {self.where}>"


def _insert_for(conn: Connection) -> Any:
    """The dialect's INSERT with ON CONFLICT (SQLite and PostgreSQL both have it)."""
    name = conn.dialect.name
    if name == "sqlite":
        from sqlalchemy.dialects.sqlite import insert as sqlite_insert

        return sqlite_insert
    if name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        return pg_insert
    raise LogError(f"the decision log supports SQLite and PostgreSQL, not {name}")
