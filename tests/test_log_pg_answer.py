"""PostgreSQL look-up answers read without the extra socket read: the same results as before.

``cxplay._log.pgparams.read_answer`` reads the socket only while libpq is busy; the old loop
read it before every ``get_result`` (one ``recvfrom`` per look-up more, answered ``EAGAIN``).
The old loop is kept here as the reference: both read the same queries, sent the same
way, on the same connection, and must give the same results.
"""

from __future__ import annotations

import select
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import logstores
import pytest

from cxplay import DecisionLog, Engine
from cxplay._log import fast, pgparams

NOW = datetime(2026, 11, 20, 9, 0, tzinfo=timezone.utc)


def _old_answer(pgconn: Any) -> Any:
    """The loop before s-log6: ``consume_input`` first, then ``is_busy``, every time."""
    results: list[Any] = []
    while True:
        while True:
            pgconn.consume_input()
            if not pgconn.is_busy():
                break
            select.select([pgconn.socket], [], [])
        result = pgconn.get_result()
        if result is None:
            return results[0] if results else None
        results.append(result)


def _values(result: Any) -> Any:
    """What a result holds, comparable: status, and every value of every row."""
    if result is None:
        return None
    rows = [
        tuple(result.get_value(n, c) for c in range(result.nfields)) for n in range(result.ntuples)
    ]
    return result.status, rows


@pytest.fixture
def pg_log(tmp_path: Path) -> Iterator[DecisionLog]:
    yield from compensated_log(tmp_path)


def _incident(key: str, customer: str, n: int) -> dict[str, Any]:
    """A damaged parcel of ``customer``'s, worth 100 + ``n`` PLN."""
    return {
        "id": key,
        "type": "parcel_damaged",
        "channel": "email",
        "occurred_at": NOW.isoformat(),
        "customer": {"id": customer, "language": "en"},
        "order": {"id": f"O-{n}", "value": 100.0 + n, "currency": "PLN"},
    }


def compensated_log(tmp_path: Path) -> Iterator[DecisionLog]:
    """A PostgreSQL log with compensation for three customers at several times."""
    for url in logstores.fresh_store("postgresql", tmp_path):
        engine = Engine.from_path()
        with DecisionLog.open(url) as log:
            logged = Engine(engine.playbooks, log=log)
            for n in range(9):
                s = logged.suggest(_incident(f"INC-{n}", f"C-{n % 3}", n), now=NOW)
                log.outcome(s.decision_id, "accepted", at=NOW - timedelta(days=n * 20))
            yield log
            logged.close()
        engine.close()


def test_look_ups_read_the_same_answers_as_before(pg_log: DecisionLog) -> None:
    path = pg_log._fast
    assert isinstance(path, fast.PostgresFastPath)
    raw = path._borrow()
    try:
        pgconn, info = path._pq(raw)
        assert pgconn is raw.driver_connection.pgconn and info is raw.info
        answers = []
        for customer in ("C-0", "C-1", "C-2", "C-nobody"):
            for days in (0, 30, 90, 400):
                since, until = NOW - timedelta(days=days), NOW + timedelta(seconds=1)
                both = []
                for read in (_old_answer, pgparams.read_answer):
                    encoding = path._send_history(raw, pgconn, info, customer, since, until)
                    assert encoding is not None
                    both.append(_values(read(pgconn)))
                assert both[0] == both[1]
                answers.append(both[1])
        assert any(rows for _, rows in answers)  # some look-ups found compensation
        # several results, an error, and no result at all, read alike
        for sql in (b"SELECT 1; SELECT 2", b"SELECT * FROM no_such_table_here", b""):
            both = []
            for read in (_old_answer, pgparams.read_answer):
                pgconn.send_query(sql)
                both.append(_values(read(pgconn)))
            assert both[0] == both[1]
    finally:
        path._give_back(raw)


def test_the_engine_sees_the_same_history_through_the_new_read(pg_log: DecisionLog) -> None:
    """The suggesting path (``history_later``) and the plain look-up still agree."""
    for customer in ("C-0", "C-1", "C-2"):
        later = pg_log.history_later(customer, NOW + timedelta(seconds=1))
        early = later(True)
        assert early is not None
        assert early == pg_log.history(customer, NOW + timedelta(seconds=1))


def test_a_batch_the_server_refuses_writes_none_of_its_rows(tmp_path: Path) -> None:
    """The batch's upsert is one statement on an autocommit connection, without BEGIN and
    COMMIT around it: a row the server refuses leaves none of the batch written (the
    writer then writes each alone), and the connection takes the next batch."""
    for url in logstores.fresh_store("postgresql", tmp_path):
        engine = Engine.from_path()
        with DecisionLog.open(url, batch_size=1000, max_delay=1000) as log:
            logged = Engine(engine.playbooks, log=log)
            for n in range(5):
                logged.suggest(_incident(f"INC-B{n}", f"C-{n}", n), now=NOW)
            path = log._fast
            assert isinstance(path, fast.PostgresFastPath)
            with log._pending_lock:
                rows, log._pending = log._pending, []
            assert len(rows) == 5 and all(row.prepare() is None for row in rows)
            views = rows[3].views
            rows[3].views = 2**40  # out of an integer column's range: the server refuses it
            with pytest.raises(Exception, match="out of range"):
                path.upsert(rows)
            assert log.count() == 0  # (none of the batch: the statement is atomic)
            rows[3].views = views
            path.upsert(rows)
            assert log.count() == 5
            logged.close()
        engine.close()
