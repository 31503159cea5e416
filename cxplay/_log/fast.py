"""The log's hot paths in plain DB-API: recording decisions and a customer's history.

A suggestion with a log pays for one history look-up and (batched) one upsert. Through
SQLAlchemy's Core each statement costs ~100-300 µs of Python (and on PostgreSQL a BEGIN
and a ROLLBACK round trip) before the database sees it; the same SQL on a kept DB-API
connection costs ~10 µs (SQLite) or one round trip (PostgreSQL, in autocommit, so a
look-up is one statement). So these two statements are written out here, once per
dialect, and store values exactly as SQLAlchemy's types do (SQLite: UTC times as
``YYYY-MM-DD HH:MM:SS.ffffff``, JSON as text, booleans as 0/1); everything else reads and
writes through the Core. The tests run both paths on both databases.

A connection is borrowed per statement and given back; one that failed is dropped
(invalidated in the pool), so the next call connects again: a PostgreSQL server that went
away and came back is used again.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any

from pydantic_core import to_json
from sqlalchemy.engine import Engine

from cxplay._log import schema as t
from cxplay._log.pgparams import (
    COMMAND_OK,
    TIME_TYPES,
    read_answer,
    result_rows,
    time_parameters,
)

if TYPE_CHECKING:
    from cxplay._log.records import Pending

__all__ = ["FastPath", "Histories", "JsonText", "fast_path", "sqlite_time"]

_DECISION_COLUMNS = tuple(str(c.name) for c in t.decision.columns)  # plain str (not quoted_name)
#: What a new decision's row holds before any outcome, survey or ``forget``: SQL's
#: constants in the INSERT, not parameters (the same values: NULL, and 0 / false).
_NEW_DECISION = {
    "status": "NULL",
    "decided_at": "NULL",
    "first_response_s": "NULL",
    "on_time": "NULL",
    "csat": "NULL",
    "nps": "NULL",
    "ces": "NULL",
    "forgotten": "0",
}
#: The columns a decision's write sets from the decision, in the table's order (the
#: parameters of :func:`sqlite_parameters`, the keys of :func:`_pg_row_json`).
_WRITTEN = tuple(c for c in _DECISION_COLUMNS if c not in _NEW_DECISION)
#: SQLite's VALUES: the constants, and the JSON columns given as pydantic-core's UTF-8
#: bytes and stored as the text they are (CAST of a BLOB to TEXT takes its bytes as the
#: database's encoding, UTF-8): no str made in Python only for sqlite3 to encode it again
_SQLITE_VALUES = {**_NEW_DECISION, "incident": "CAST(? AS TEXT)", "actions": "CAST(? AS TEXT)"}


class JsonText:
    """A value already serialised to JSON (by pydantic-core), written as it is."""

    __slots__ = ("text",)

    def __init__(self, text: str) -> None:
        self.text = text


_PLAYBOOKS_JSON: dict[tuple[str, ...], tuple[bytes, str]] = {}


def _playbooks_json(playbooks: Sequence[str]) -> tuple[bytes, str]:
    """The ``playbooks`` column's JSON, bytes and text: once per set (a snapshot's refs)."""
    if type(playbooks) is not tuple:
        data = to_json(list(playbooks))
        return data, data.decode()
    texts = _PLAYBOOKS_JSON.get(playbooks)
    if texts is None:
        if len(_PLAYBOOKS_JSON) >= 64:  # (reloads: a few sets in a process's life)
            _PLAYBOOKS_JSON.clear()
        data = to_json(playbooks)
        texts = _PLAYBOOKS_JSON[playbooks] = (data, data.decode())
    return texts


#: A decision written again (a retried batch) counts its views and keeps its latest sight.
_ON_CONFLICT = (
    "ON CONFLICT (id) DO UPDATE SET "
    f"views = {t.decision.name}.views + excluded.views, seen_at = excluded.seen_at"
)


def _history_sql(mark: str) -> str:
    return (
        f"SELECT decision_id, currency, amount FROM {t.given.name} "
        f"WHERE customer_id = {mark} AND at > {mark} AND at <= {mark}"
    )


# the history look-up as a statement prepared by name on each PostgreSQL connection
_PG_HISTORY = b"cxplay_history_1"
_PG_HISTORY_SQL = (
    f"SELECT decision_id, currency, amount FROM {t.given.name} "
    "WHERE customer_id = $1 AND at > $2 AND at <= $3"
).encode()
# a customer's rows after a moment, for the cache under a history_refresh: each time as
# the UTC text SQLite stores (so filtered to a window as SQLite's are), NULL for a time
# that text cannot order (outside the years 1-9999: the look-up then runs in SQL)
_PG_GIVEN_AFTER = b"cxplay_given_after_1"
_PG_GIVEN_AFTER_SQL = (
    "SELECT decision_id, currency, amount, CASE WHEN at >= '0001-01-01 00:00:00+00' "
    "AND at < '10000-01-01 00:00:00+00' THEN "
    "to_char(at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US') END "
    f"FROM {t.given.name} WHERE customer_id = $1 AND at > $2"
).encode()


def sqlite_time(moment: datetime | None) -> str | None:
    """A datetime as SQLAlchemy's SQLite ``DATETIME`` stores it (naive UTC)."""
    return None if moment is None else _utc_text(moment)


def _utc_text(moment: datetime) -> str:
    """The UTC text of a moment (a naive one is UTC), as SQLite stores and compares it.

    ``astimezone(timezone.utc)`` then ``isoformat(" ", "microseconds")``, from the fields
    (an aware time less its offset has the fields ``astimezone`` gives), three times per
    decision written: the date's text kept per day, "HH:MM:" and "SS" from tables, which
    cost 2,000-4,000 instructions less than ``%`` formatting the four fields.
    """
    zone = moment.tzinfo
    if zone is not None and zone is not timezone.utc:
        offset = moment.utcoffset()
        if offset is None:  # (a zone without an offset: astimezone takes it as local time)
            moment = moment.astimezone(timezone.utc)
        else:
            moment = moment - offset
    day = moment.toordinal()
    date = _DATE_TEXTS.get(day)
    if date is None:
        if len(_DATE_TEXTS) >= 4096:
            _DATE_TEXTS.clear()
        date = _DATE_TEXTS[day] = _SQLITE_DATE % (moment.year, moment.month, moment.day)
    clock = _MINUTES[moment.hour * 60 + moment.minute] + _SECONDS[moment.second]
    return date + clock + (_MICRO % moment.microsecond if moment.microsecond else ".000000")


_SQLITE_DATE = "%04d-%02d-%02d "  # (and the clock: isoformat(" ", "microseconds"), naive)
_MINUTES = tuple(f"{m // 60:02d}:{m % 60:02d}:" for m in range(24 * 60))
_SECONDS, _MICRO = tuple(f"{s:02d}" for s in range(60)), ".%06d"
#: "YYYY-MM-DD " by the day's ordinal: a log's times fall on few days (the decisions',
#: their incidents', their deadlines); formatting its fields cost ~3,500 instructions
_DATE_TEXTS: dict[int, str] = {}


class FastPath:
    """A few kept DB-API connections from the engine's pool (so its set-up applies).

    A connection is borrowed for one statement or one write and given back, so threads
    that come and go (a server's worker threads) never strand one.
    """

    history_sql = ""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._free: list[Any] = []
        self._lock = threading.Lock()
        self._closed = False

    @contextlib.contextmanager
    def _connection(self) -> Iterator[Any]:
        raw = self._borrow()
        try:
            yield raw
        except BaseException:
            self._discard(raw)
            raise
        self._give_back(raw)

    def _borrow(self) -> Any:
        with self._lock:
            raw = self._free.pop() if self._free else None
        if raw is None:
            raw = self._engine.raw_connection()
            self._prepare(raw)
        return raw

    def _discard(self, raw: Any) -> None:
        """A connection that failed is discarded: the next call connects again."""
        with contextlib.suppress(Exception):
            raw.invalidate()

    def _give_back(self, raw: Any) -> None:
        with self._lock:
            if not self._closed:
                self._free.append(raw)
                return
        self._release(raw)

    def _prepare(self, raw: Any) -> None:
        """Set a new connection up (nothing by default)."""

    #: keyword arguments of the driver's ``execute`` for the history look-up
    execute_options: dict[str, Any] = {}  # noqa: RUF012 - read only

    def _time(self, moment: datetime) -> Any:
        return moment

    def _write(self, raw: Any, rows: Sequence[Pending]) -> None:
        raise NotImplementedError

    def upsert(self, rows: Sequence[Pending]) -> None:
        """Insert decisions (or add their views), in one write transaction."""
        with self._connection() as raw:
            self._write(raw, rows)

    def history(self, customer_id: str, since: datetime, until: datetime) -> list[tuple[Any, ...]]:
        """(decision_id, currency, amount) of a customer's compensation in (since, until]."""
        raw = self._borrow()  # (as _connection, without a generator: this runs per suggestion)
        try:
            rows = self._history(raw, customer_id, since, until)
        except BaseException:
            self._discard(raw)
            raise
        self._give_back(raw)
        return rows

    def _history(
        self, raw: Any, customer_id: str, since: datetime, until: datetime
    ) -> list[tuple[Any, ...]]:
        cursor = raw.cursor()
        try:
            cursor.execute(
                self.history_sql,
                (customer_id, self._time(since), self._time(until)),
                **self.execute_options,
            )
            return list(cursor.fetchall())
        finally:
            cursor.close()

    def changed(self) -> None:
        """This process changed the compensations: no cache may answer from before it.

        (An outcome, ``forget``, ``prune``; nothing by default: no cache.)
        """

    def close(self) -> None:
        """Give the connections back to the pool."""
        with self._lock:
            self._closed = True
            free, self._free = self._free, []
        for raw in free:
            self._release(raw)

    def _release(self, raw: Any) -> None:
        raw.close()


#: The change token of ``cxplay_given`` (revision ``given_changes``), and a customer's
#: compensation rows after a moment, with their times, for the history cache
_SQLITE_TOKEN = f"SELECT token FROM {t.change.name} WHERE name = 'given'"
_SQLITE_GIVEN_AFTER = (
    f"SELECT decision_id, currency, amount, at FROM {t.given.name} WHERE customer_id = ? AND at > ?"
)
#: customers whose compensation rows are kept at most (the oldest kept is dropped first)
CACHED_CUSTOMERS = 10_000
#: how long another process's change to a customer's compensations may go unseen (s) when
#: ``DecisionLog.open(history_refresh=...)`` does not say, by store (:func:`default_refresh`)
HISTORY_REFRESH = {"sqlite": 1.0}


def default_refresh(dialect: str) -> float:
    """The history refresh of a store when none is given: 1 s on SQLite, else 0 (exact).

    On SQLite a refresh skips the change token's read for every look-up, whichever
    customer it is for (the kept rows are checked by that token anyway). On PostgreSQL it
    can only keep each customer's own rows, which answer only when that customer comes
    back within the refresh -- seldom in a helpdesk, where customers come back after
    minutes or days -- and a look-up that misses costs 7 % more of the client's
    instructions; so there it is asked for, not the default.
    """
    return HISTORY_REFRESH.get(dialect, 0.0)


_NEVER = float("-inf")


class Histories:
    """Customers' compensation rows as read under one change token of ``cxplay_given``.

    An entry is (floor, rows): every row of the customer's with ``at`` after ``floor`` (an
    aware UTC datetime: its SQLite text orders as it does), as the store held them when
    the token was read before them. A look-up reads the token first: another one (a
    compensation recorded, replaced, erased or pruned since, by any process: the triggers
    of revision ``given_changes`` count every change) empties the cache, and a rows read
    under an older token than the cache's are not kept. The rows may be newer than their
    token (a change committed between the two reads), never older: the next look-up then
    sees a newer token and reads again.

    ``refresh`` (seconds, 0: read the token on every look-up) lets a look-up answer under
    the token read less than ``refresh`` ago without reading it again (:meth:`recent`):
    another process's change is then seen up to ``refresh`` after it was committed (its
    batched decisions are unseen until written anyway). This process's own changes through
    its log call :meth:`invalidate` once committed: the next look-up reads the token
    again, and a look-up that began before (an older :attr:`generation`) neither answers
    from the cache nor keeps what it read.
    """

    def __init__(self, limit: int = CACHED_CUSTOMERS, refresh: float = 0.0) -> None:
        self._lock = threading.Lock()
        self._token: object = self  # no token read yet
        self._rows: dict[str, tuple[datetime, list[tuple[Any, ...]]]] = {}
        self._limit = limit
        self.refresh = refresh
        self._read_at = _NEVER  # monotonic time before the kept token was read
        self.generation = 0  # own changes so far (invalidate)

    def recent(self) -> object:
        """The kept token if read less than :attr:`refresh` ago (``self``: read it now)."""
        if self._read_at + self.refresh > time.monotonic():  # (refresh 0: never)
            return self._token
        return self

    def get(
        self,
        token: object,
        customer_id: str,
        floor: datetime,
        generation: int | None = None,
        read_at: float = _NEVER,
    ) -> list[tuple[Any, ...]] | None:
        """The customer's rows after ``floor`` if kept under ``token`` (None: read them).

        ``generation`` is :attr:`generation` when the look-up began (None: not checked);
        ``read_at`` the monotonic time before ``token`` was read (by this look-up).
        """
        with self._lock:
            if generation is not None and generation != self.generation:
                return None  # this process changed the store since: read, keep nothing
            if token != self._token:
                self._rows.clear()
                self._token = token
                self._read_at = read_at
                return None
            if read_at > self._read_at:
                self._read_at = read_at
            entry = self._rows.get(customer_id)
        if entry is None or entry[0] > floor:
            return None
        return entry[1]

    def put(
        self,
        token: object,
        customer_id: str,
        floor: datetime,
        rows: list[tuple[Any, ...]],
        generation: int | None = None,
    ) -> None:
        """Keep the rows read after ``token``, unless the cache has moved on to another."""
        with self._lock:
            if token != self._token or (generation is not None and generation != self.generation):
                return
            if customer_id not in self._rows and len(self._rows) >= self._limit:
                del self._rows[next(iter(self._rows))]
            self._rows[customer_id] = (floor, rows)

    def invalidate(self) -> None:
        """This process changed the compensations: forget what is kept, read the token next."""
        with self._lock:
            self.generation += 1
            self._token = self
            self._read_at = _NEVER
            self._rows.clear()


class RecentHistories:
    """PostgreSQL: customers' compensation rows, each answered for ``refresh`` seconds.

    PostgreSQL keeps no change token (a counter row bumped by every writer would make
    concurrent writers queue on it), so an entry is (floor, rows, read_at): every row of
    the customer's with ``at`` after ``floor``, as read by a statement sent at ``read_at``
    (monotonic); it answers look-ups until ``read_at + refresh``. Another process's change
    is then seen at most ``refresh`` after it was committed; this process's own changes
    call :meth:`invalidate` (as :class:`Histories`).
    """

    def __init__(self, refresh: float, limit: int = CACHED_CUSTOMERS) -> None:
        self._lock = threading.Lock()
        self._rows: dict[str, tuple[datetime, list[tuple[Any, ...]], float]] = {}
        self._limit = limit
        self.refresh = refresh
        self.generation = 0

    def get(self, customer_id: str, floor: datetime) -> list[tuple[Any, ...]] | None:
        """The customer's rows after ``floor`` if read less than ``refresh`` ago."""
        entry = self._rows.get(customer_id)  # (one dict read: atomic under the GIL)
        if entry is None or entry[0] > floor or entry[2] + self.refresh <= time.monotonic():
            return None
        return entry[1]

    def put(
        self,
        customer_id: str,
        floor: datetime,
        rows: list[tuple[Any, ...]],
        read_at: float,
        generation: int,
    ) -> None:
        """Keep the rows of a statement sent at ``read_at`` (not if an own change came since)."""
        with self._lock:
            if generation != self.generation:
                return
            if customer_id not in self._rows and len(self._rows) >= self._limit:
                del self._rows[next(iter(self._rows))]
            self._rows[customer_id] = (floor, rows, read_at)

    def invalidate(self) -> None:
        """This process changed the compensations: forget what is kept."""
        with self._lock:
            self.generation += 1
            self._rows.clear()


def _utc(moment: datetime) -> datetime:
    """An aware UTC datetime of the same moment (a naive one is taken as UTC, as stored)."""
    if moment.tzinfo is None:
        return moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(timezone.utc)  # (itself when already in timezone.utc)


class SqliteFastPath(FastPath):
    """SQLite: ``BEGIN IMMEDIATE`` ... ``COMMIT`` on the kept connection (autocommit).

    A customer's history is kept between look-ups (:class:`Histories`) for as long as the
    change token of ``cxplay_given`` stays the same: one indexed read of one row instead of
    the look-up, exact across processes. Look-ups have connections of their own, each
    kept with its cursor (:attr:`_readers`): a look-up runs per logged suggestion, and
    making, wrapping and closing a cursor cost more than the token's read.
    """

    def __init__(self, engine: Engine, refresh: float = 0.0) -> None:
        super().__init__(engine)
        self.histories = Histories(refresh=refresh)
        # (pooled connection, its DB-API cursor) free for a look-up; a cursor holds no
        # transaction between look-ups (each statement is read to its end, so reset)
        self._readers: list[tuple[Any, Any]] = []

    def history(self, customer_id: str, since: datetime, until: datetime) -> list[tuple[Any, ...]]:
        """(decision_id, currency, amount) of a customer's compensation in (since, until]."""
        with self._lock:
            reader = self._readers.pop() if self._readers else None
        if reader is None:
            raw = self._engine.raw_connection()
            try:
                connection: Any = raw.driver_connection
                reader = (raw, connection.cursor())
            except BaseException:
                self._discard(raw)
                raise
        try:
            rows = self._look_up(reader[1], customer_id, since, until)
        except BaseException:
            self._discard(reader[0])
            raise
        with self._lock:
            if not self._closed:
                self._readers.append(reader)
                return rows
        self._release(reader[0])
        return rows

    def changed(self) -> None:
        """This process changed the compensations: the next look-up reads the token."""
        self.histories.invalidate()

    def close(self) -> None:
        """Give the connections back to the pool, the look-ups' too."""
        super().close()
        with self._lock:
            readers, self._readers = self._readers, []
        for raw, _ in readers:
            self._release(raw)

    def _look_up(
        self, cursor: Any, customer_id: str, since: datetime, until: datetime
    ) -> list[tuple[Any, ...]]:
        """The look-up, answered from :attr:`histories` while the change token is the same.

        SQLite compares the ``at`` text (UTC, one format) byte by byte, as ``str``
        comparison does here; rows whose ``at`` is not text (written by hand) are never
        kept: then the look-up runs in SQL. A customer kept without rows (most) is
        answered without formatting a time. Under a ``history_refresh`` the token read less
        than that long ago is used unread (:meth:`Histories.recent`): a look-up answered
        from the cache then makes no SQLite call at all. Rows are read (and kept) from 90
        days before the window: a later incident that occurred earlier is answered too.
        """
        histories = self.histories
        generation = histories.generation
        token = histories.recent()
        read_at = _NEVER
        if token is histories:
            read_at = time.monotonic()
            found = cursor.execute(_SQLITE_TOKEN).fetchone()
            if found is None:  # no token row: nothing can be kept, the look-up in SQL
                return self._history_in_sql(cursor, customer_id, _utc_text(since), _utc_text(until))
            token = found[0]
        floor = _utc(since)
        rows = histories.get(token, customer_id, floor, generation, read_at)
        if rows is None:  # (year 1: no earlier moment to read from)
            wide = floor - timedelta(days=90) if floor.year > 1 else floor
            rows = cursor.execute(_SQLITE_GIVEN_AFTER, (customer_id, _utc_text(wide))).fetchall()
            if not all(type(row[3]) is str for row in rows):
                low, high = _utc_text(floor), _utc_text(until)
                return self._history_in_sql(cursor, customer_id, low, high)
            histories.put(token, customer_id, wide, rows, generation)
        return _in_window(rows, floor, until)

    def _history_in_sql(self, cursor: Any, customer_id: str, low: str, high: str) -> list[Any]:
        """The look-up as SQL answers it, window and all (nothing kept)."""
        cursor.execute(self.history_sql, (customer_id, low, high))
        return list(cursor.fetchall())

    upsert_sql = (
        f"INSERT INTO {t.decision.name} ({', '.join(_DECISION_COLUMNS)}) "
        f"VALUES ({', '.join(_SQLITE_VALUES.get(c, '?') for c in _DECISION_COLUMNS)}) "
        f"{_ON_CONFLICT}"
    )
    history_sql = _history_sql("?")

    def _time(self, moment: datetime) -> Any:
        return sqlite_time(moment)

    def _write(self, raw: Any, rows: Sequence[Pending]) -> None:
        cursor = raw.cursor()
        try:
            cursor.execute("BEGIN IMMEDIATE")
            try:
                cursor.executemany(self.upsert_sql, list(map(sqlite_parameters, rows)))
                cursor.execute("COMMIT")
            except BaseException:
                if raw.driver_connection.in_transaction:
                    cursor.execute("ROLLBACK")
                raise
        finally:
            cursor.close()


class PostgresFastPath(FastPath):
    """PostgreSQL (psycopg 3): the kept connection in autocommit; a write is a transaction.

    Under a ``history_refresh`` (``refresh`` > 0) a customer's rows are kept for that long
    (:class:`RecentHistories`): a look-up answered from them makes no round trip.
    """

    def __init__(self, engine: Engine, refresh: float = 0.0) -> None:
        super().__init__(engine)
        self.recent = RecentHistories(refresh) if refresh > 0 else None
        #: id(raw) -> (raw, its libpq connection, its info dict), for each kept connection:
        #: reaching them through the pool's proxy (``driver_connection``: three Python
        #: calls, ``info``: one) cost ~4,000 instructions per look-up. The entry holds the
        #: connection, so its id is not reused while the entry is there; it goes when the
        #: connection is discarded or released.
        self._libpq: dict[int, tuple[Any, Any, dict[Any, Any]]] = {}

    def _pq(self, raw: Any) -> tuple[Any, dict[Any, Any]]:
        """A borrowed connection's libpq connection and info dict (kept per connection)."""
        entry = self._libpq.get(id(raw))
        if entry is None or entry[0] is not raw:
            entry = (raw, raw.driver_connection.pgconn, raw.info)
            self._libpq[id(raw)] = entry
        return entry[1], entry[2]

    def _discard(self, raw: Any) -> None:
        self._libpq.pop(id(raw), None)
        super()._discard(raw)

    def changed(self) -> None:
        """This process changed the compensations: nothing kept answers any more."""
        if self.recent is not None:
            self.recent.invalidate()

    history_sql = _history_sql("%s")
    # a server-side prepared statement from the first look-up on a connection (psycopg
    # prepares by itself only after 5); the upsert is one statement per batch (_write)
    execute_options: dict[str, Any] = {"prepare": True}  # noqa: RUF012 - read only

    def _prepare(self, raw: Any) -> None:
        raw.driver_connection.autocommit = True

    def _release(self, raw: Any) -> None:
        self._libpq.pop(id(raw), None)
        try:
            raw.driver_connection.autocommit = False  # as the pool hands connections out
        finally:
            raw.close()

    def _write(self, raw: Any, rows: Sequence[Pending]) -> None:
        """A batch as one statement over one JSON document (one round trip, one parameter).

        ``executemany`` (in psycopg's pipeline) adapted 27 parameters per decision in
        Python and sent a Bind and an Execute per decision; here the whole batch is one
        JSON array, written in one pydantic-core pass per decision (its JSON columns are
        spliced in as already serialised), and the server turns it into rows
        (``json_populate_recordset`` over the table's row type) for one upsert.

        The document goes as the UTF-8 bytes it is made of (psycopg's ``Json`` with a
        ``dumps`` that returns them): decoded to a str and encoded again by psycopg, a
        batch's ~190 kB cost ~50,000 instructions per decision (UCS-2 text, by the
        Cyrillic and Polish incidents). The connection is in autocommit: the one statement
        is its own transaction, all of the batch or none of it as inside ``BEGIN`` and
        ``COMMIT``, without their two round trips (a send, a poll and a read each).
        """
        from psycopg.types.json import Json  # (psycopg: only with a PostgreSQL log)

        document = Json(b"[" + b",".join(map(_pg_row_json, rows)) + b"]", _as_is)
        with raw.driver_connection.cursor() as cursor:
            cursor.execute(_PG_BATCH_SQL, (document,), prepare=True)

    def _history(
        self, raw: Any, customer_id: str, since: datetime, until: datetime
    ) -> list[tuple[Any, ...]]:
        """The look-up as one libpq prepared statement: about half the CPU of a cursor's.

        A look-up per logged suggestion went through psycopg's cursor machinery (adapting,
        its prepared-statement cache, result loaders): ~60-100 µs of Python for one
        indexed SELECT. Here the statement is prepared once per connection under its own
        name and run by ``psycopg.pq`` (psycopg's documented libpq wrapper; it lets the GIL
        go while the server answers), values as text. Anything else than rows (the
        statement gone after a ``DEALLOCATE ALL``, a failure, a customer id the client
        encoding cannot carry) goes through the cursor, which returns the rows or raises
        psycopg's error exactly as before.
        """
        rows = self._exec_history(raw, customer_id, since, until)
        if rows is not None:
            return rows
        raw.info.pop(_PG_HISTORY, None)  # prepared again on the next look-up
        return super()._history(raw, customer_id, since, until)

    def history(self, customer_id: str, since: datetime, until: datetime) -> list[tuple[Any, ...]]:
        """(decision_id, currency, amount) of a customer's compensation in (since, until]."""
        if self.recent is None:
            return super().history(customer_id, since, until)
        return self.history_later(customer_id, since, until)(True)

    def history_later(
        self, customer_id: str, since: datetime, until: datetime
    ) -> Callable[[bool], list[tuple[Any, ...]]]:
        """Send the look-up now; the function returned waits for its rows (False: drops them).

        The engine sends it before matching and collects it after: the server answers
        while the rules are evaluated, instead of the suggesting thread waiting for it.
        The connection stays borrowed until the function is called (exactly once).
        Under a ``history_refresh``, rows kept from less than that long ago answer at once.
        """
        recent = self.recent
        if recent is not None:
            floor = _utc(since)
            kept = recent.get(customer_id, floor)
            if kept is not None:
                answer = _in_window(kept, floor, until)
                return lambda keep: answer
            return self._later_kept(recent, customer_id, floor, until)
        raw = self._borrow()
        try:
            pgconn, info = self._pq(raw)
            encoding = self._send_history(raw, pgconn, info, customer_id, since, until)
        except BaseException:
            self._discard(raw)
            raise

        def collect(keep: bool) -> list[tuple[Any, ...]]:
            try:
                rows = None
                if encoding is not None:
                    rows = result_rows(read_answer(pgconn), encoding)
                if rows is None and keep:
                    raw.info.pop(_PG_HISTORY, None)  # prepared again on the next look-up
                    rows = super(PostgresFastPath, self)._history(raw, customer_id, since, until)
            except BaseException:
                self._discard(raw)
                raise
            self._give_back(raw)
            return rows or []

        return collect

    def _later_kept(
        self, recent: RecentHistories, customer_id: str, floor: datetime, until: datetime
    ) -> Callable[[bool], list[tuple[Any, ...]]]:
        """Send the look-up of every row after ``floor``; the function keeps and filters them.

        Rows whose time is NULL (outside what the text orders) are not kept: the look-up
        then runs exactly (:meth:`_history`) on the same connection.
        """
        generation = recent.generation
        read_at = time.monotonic()  # (before the statement: the rows are at least this new)
        raw = self._borrow()
        try:
            pgconn, info = self._pq(raw)
            encoding = self._send_history(
                raw, pgconn, info, customer_id, floor, None, _PG_GIVEN_AFTER, _PG_GIVEN_AFTER_SQL
            )
        except BaseException:
            self._discard(raw)
            raise

        def collect(keep: bool) -> list[tuple[Any, ...]]:
            try:
                rows = None
                if encoding is not None:
                    rows = result_rows(read_answer(pgconn), encoding, 4)
                if rows is None or not all(row[3] is not None for row in rows):
                    if rows is None:
                        raw.info.pop(_PG_GIVEN_AFTER, None)  # prepared again next time
                    answer = self._history(raw, customer_id, floor, until) if keep else []
                else:
                    recent.put(customer_id, floor, rows, read_at, generation)
                    answer = _in_window(rows, floor, until)
            except BaseException:
                self._discard(raw)
                raise
            self._give_back(raw)
            return answer

        return collect

    @staticmethod
    def _send_history(
        raw: Any,
        pgconn: Any,
        info: dict[Any, Any],
        customer_id: str,
        since: datetime,
        until: datetime | None,
        name: bytes = _PG_HISTORY,
        sql: bytes = _PG_HISTORY_SQL,
    ) -> str | None:
        """Send the prepared look-up (prepared first if need be); None: use the cursor.

        Returns the connection's text encoding, read when the statement was prepared on
        it and kept beside the prepared mark (nothing on this connection changes it: the
        fast path alone uses it while it is borrowed). ``name`` and ``sql``: another
        statement of the same parameters (``until`` None: without the last). ``pgconn``
        and ``info``: ``raw``'s (:meth:`_pq`).
        """
        known: str | None = info.get(name)
        encoding: str = raw.driver_connection.info.encoding if known is None else known
        try:
            customer = customer_id.encode(encoding)
        except UnicodeError:
            return None  # (the log refuses control characters such as NUL before this)
        if known is None:
            types = TIME_TYPES if until is not None else TIME_TYPES[:2]
            if pgconn.prepare(name, sql, types).status != COMMAND_OK:
                return None
            info[name] = encoding
        times, formats = time_parameters(since, until)
        pgconn.send_query_prepared(name, [customer, *times], formats)
        return encoding

    def _exec_history(
        self, raw: Any, customer_id: str, since: datetime, until: datetime
    ) -> list[tuple[Any, ...]] | None:
        """The rows by the connection's prepared statement; None: ask the cursor instead."""
        pgconn, info = self._pq(raw)
        encoding = self._send_history(raw, pgconn, info, customer_id, since, until)
        if encoding is None:
            return None
        return result_rows(read_answer(pgconn), encoding)


_PG_COLUMNS = ", ".join(_DECISION_COLUMNS)
#: the decision's own columns from the document, a new decision's constants from SQL
_PG_SELECTED = ", ".join(
    "false" if c == "forgotten" else "NULL" if c in _NEW_DECISION else c for c in _DECISION_COLUMNS
)
_PG_BATCH_SQL = (
    f"INSERT INTO {t.decision.name} ({_PG_COLUMNS}) "
    f"SELECT {_PG_SELECTED} FROM json_populate_recordset(NULL::{t.decision.name}, %t::json) "
    f"{_ON_CONFLICT}"
)


def _as_is(document: bytes) -> bytes:
    """The ``dumps`` of psycopg's ``Json`` for a document already serialised: its bytes."""
    return document


def sqlite_parameters(p: Pending) -> tuple[Any, ...]:
    """A prepared decision's parameters for SQLite's upsert: :data:`_WRITTEN`, in order.

    Values as SQLAlchemy's types store them: UTC times as text, JSON as text (its UTF-8
    bytes, cast to text by the statement), a boolean as 0/1 (by sqlite3).
    """
    at = None if p.at is None else _utc_text(p.at)  # (sqlite_time's work, inline: 3 a row)
    return (
        p.id,
        p.incident_key,
        p.digest,
        at,
        at if p.seen_at is p.at else sqlite_time(p.seen_at),
        p.views,
        p.customer_id,
        p.type,
        p.channel,
        p.language,
        p.severity,
        p.matched,
        p.backend,
        _playbooks_json(p.playbooks)[1],
        p.incident_json,
        p.actions_json,
        p.rules,
        None if p.occurred_at is None else _utc_text(p.occurred_at),
        None if p.respond_by is None else _utc_text(p.respond_by),
    )


def _pg_row_json(p: Pending) -> bytes:
    """A prepared decision as a JSON object for ``json_populate_recordset``: :data:`_WRITTEN`.

    The plain columns in one pydantic-core pass (times as ISO 8601 with their offset),
    then each JSON column's own JSON, spliced in as it is (a JSON column given as a
    string would be stored as a JSON string), all as UTF-8 bytes: the batch's document is
    decoded once. A new decision's constant columns are left to the statement
    (:data:`_PG_SELECTED`).
    """
    assert p.incident_json is not None and p.actions_json is not None  # (prepared)
    plain = to_json(
        {
            "id": p.id,
            "incident_key": p.incident_key,
            "digest": p.digest,
            "created_at": p.at,
            "seen_at": p.seen_at,
            "views": p.views,
            "customer_id": p.customer_id,
            "type": p.type,
            "channel": p.channel,
            "language": p.language,
            "severity": p.severity,
            "matched": p.matched,
            "backend": p.backend,
            "rules": p.rules,
            "occurred_at": p.occurred_at,
            "respond_by": p.respond_by,
        }
    )
    return b"".join(
        (
            plain[:-1],
            b',"playbooks":',
            _playbooks_json(p.playbooks)[0],
            b',"incident":',
            p.incident_json,
            b',"actions":',
            p.actions_json,
            b"}",
        )
    )


def _in_window(
    rows: list[tuple[Any, ...]], floor: datetime, until: datetime
) -> list[tuple[Any, ...]]:
    """(decision_id, currency, amount) of kept rows in (floor, until].

    Each kept row ends with its UTC ``at`` text, compared as SQLite compares it.
    """
    if not rows:
        return []
    low, high = _utc_text(floor), _utc_text(until)
    return [row[:3] for row in rows if low < row[3] <= high]


def fast_path(engine: Engine, history_refresh: float = 0.0) -> FastPath | None:
    """The hot paths for this engine's database (None: use the Core for everything).

    ``history_refresh``: how long (s) another process's change to the compensations may
    go unseen by the history look-ups (0: every look-up exact).
    """
    name = engine.dialect.name
    if name == "sqlite":
        return SqliteFastPath(engine, history_refresh)
    if name == "postgresql" and engine.dialect.driver == "psycopg":
        return PostgresFastPath(engine, history_refresh)
    return None
