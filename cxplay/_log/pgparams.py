"""The PostgreSQL history look-up on the wire: its times as binary parameters, its answer.

The look-up (:class:`cxplay._log.fast.PostgresFastPath`) sent each of its two times as its
``isoformat()`` text, which the server read; formatting a time with its offset cost
~11,400 instructions (``sprintf``), twice per logged suggestion. Here each is the value
the server made of that text, microseconds since 2000-01-01 UTC, sent binary; a time whose
text the server read another way (no offset: the session's zone) or refused (the cursor
then answered) still goes as its text. :func:`read_answer` and :func:`result_rows` read
the answer from libpq (``psycopg.pq``) without psycopg's cursor.
"""

from __future__ import annotations

import select
import struct
from collections.abc import Sequence
from datetime import datetime, timedelta, timezone
from typing import Any

from pydantic_core import TzInfo

__all__ = [
    "COMMAND_OK",
    "TIME_TYPES",
    "TUPLES_OK",
    "pg_micros",
    "pg_window",
    "read_answer",
    "result_rows",
    "time_parameters",
]

#: the look-ups' parameter types, declared when a statement is prepared: the customer's
#: id as the server infers it (text), then ``timestamptz`` (as it infers them from ``at``)
TIME_TYPES = (0, 1184, 1184)
#: timestamptz's binary form: microseconds since 2000-01-01 00:00 UTC, a big-endian int64
_EPOCH_DAY = datetime(2000, 1, 1).toordinal()
#: the offsets the server reads in a time's text lie strictly between these
_OFFSET_LOW, _OFFSET_HIGH = timedelta(hours=-16), timedelta(hours=16)
_INT64 = struct.Struct(">q")
#: the parameters' formats when the times go binary: the customer's id as text (0)
_BINARY = (0, 1, 1)
#: zones of one fixed offset (wall-clock arithmetic in them is the instants')
_FIXED_ZONES = frozenset({timezone, TzInfo})


def pg_window(since: datetime, until: datetime | None) -> list[bytes] | None:
    """The look-up's times as binary parameters (``until`` None: ``since`` alone); None: text.

    ``since`` is ``until`` less the window, in the same zone: in a zone of one fixed
    offset (``timezone``, pydantic's ``TzInfo``) its instant is ``until``'s less the
    window exactly, without asking it for its offset again.
    """
    if until is None:
        low = pg_micros(since)
        return None if low is None else [_INT64.pack(low)]
    high = pg_micros(until)
    if high is None:
        return None
    zone = until.tzinfo
    if since.tzinfo is zone and type(zone) in _FIXED_ZONES:
        # (the window in µs by its fields: ``// timedelta(microseconds=1)`` cost ~2,500
        # instructions more, its division done on Python ints made for it)
        window = until - since
        low = high - ((window.days * 86_400 + window.seconds) * 1_000_000 + window.microseconds)
    else:
        low = pg_micros(since)
        if low is None:
            return None
    return [_INT64.pack(low), _INT64.pack(high)]


def pg_micros(moment: datetime) -> int | None:
    """A moment as ``timestamptz`` holds it (µs since 2000-01-01 UTC); None: send its text.

    The moment the server read from its ISO 8601 text (``isoformat()``, its fields and
    offset formatted by ``sprintf``), without the text: ~7,600 instructions a time
    against ~11,400 (an incident's own offset), two times per look-up. A moment without
    an offset (its text has none: the server reads it in the session's time zone), or
    with an offset the server refuses in a text (a fraction of a second, 16 hours or
    more: the look-up then goes through the cursor), goes as text, as before.
    """
    offset = moment.utcoffset()
    if offset is None or offset.microseconds or not _OFFSET_LOW < offset < _OFFSET_HIGH:
        return None
    # (the fields less the offset: ``moment - epoch`` asks each side for its offset)
    seconds = (
        (moment.toordinal() - _EPOCH_DAY - offset.days) * 86_400
        + moment.hour * 3_600
        + moment.minute * 60
        + moment.second
        - offset.seconds
    )
    return seconds * 1_000_000 + moment.microsecond


def time_parameters(
    since: datetime, until: datetime | None
) -> tuple[list[bytes], Sequence[int] | None]:
    """The look-up's time parameters after the customer's id, and every parameter's format.

    Binary where :func:`pg_window` carries both times; else both as text (None: every
    parameter text), as every look-up sent them before.
    """
    times = pg_window(since, until)
    if times is not None:
        return times, _BINARY[: len(times) + 1]
    texts = [since.isoformat().encode()]
    if until is not None:
        texts.append(until.isoformat().encode())
    return texts, None


def read_answer(pgconn: Any) -> Any:
    """The result of the query sent on ``pgconn``, read to its end (the GIL let go meanwhile).

    The socket is read only while libpq is busy (what it holds does not make the next
    result): a look-up's whole answer comes in one read, and reading again before each
    ``get_result`` cost one more ``recvfrom`` per look-up, answered ``EAGAIN``.
    """
    results: list[Any] = []
    while True:
        while pgconn.is_busy():
            pgconn.consume_input()
            if pgconn.is_busy():
                select.select([pgconn.socket], [], [])
        result = pgconn.get_result()
        if result is None:
            return results[0] if results else None
        results.append(result)


#: libpq's result statuses (``psycopg.pq.ExecStatus``, without importing it per look-up)
COMMAND_OK = 1
TUPLES_OK = 2


def result_rows(result: Any, encoding: str, columns: int = 3) -> list[tuple[Any, ...]] | None:
    """(decision_id, currency, amount[, at text]) from a text-format result; None: not rows."""
    if result is None or result.status != TUPLES_OK:
        return None
    rows: list[tuple[Any, ...]] = []
    for n in range(result.ntuples):
        decision_id, currency, amount = (result.get_value(n, c) for c in range(3))
        row: tuple[Any, ...] = (
            decision_id.decode(encoding) if decision_id is not None else None,
            currency.decode(encoding) if currency is not None else None,
            float(amount) if amount is not None else None,
        )
        if columns == 4:
            at = result.get_value(n, 3)
            row += (at.decode() if at is not None else None,)
        rows.append(row)
    return rows
