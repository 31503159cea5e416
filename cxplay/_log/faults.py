"""What the log refuses, and how a database's failure reads: one line, a LogError.

A failure is the store's (locked, gone, read-only, damaged: the decisions stay queued) or
a row's (a value the database cannot hold: that decision is refused alone).
"""

from __future__ import annotations

import math

from pydantic import TypeAdapter, ValidationError
from sqlalchemy import exc as sa_exc

from cxplay._common.fields import MAX_NUMBER, CurrencyCode
from cxplay._common.problems import error_message
from cxplay._common.text import echo, text_problem
from cxplay.errors import LogError

__all__ = [
    "TEXT_COLUMNS",
    "RowRefused",
    "as_log_error",
    "check_given",
    "first_line",
    "is_dbapi_error",
    "reason",
    "row_level",
    "text_arg",
]


def first_line(error: BaseException) -> str:
    orig = getattr(error, "orig", None) or error
    text = str(orig).strip().splitlines()
    return text[0] if text else type(orig).__name__


def text_arg(name: str, value: object, *, lines: bool = False) -> str:
    """A text argument the log stores or looks up: valid Unicode text, else LogError."""
    if not isinstance(value, str):
        raise LogError(f"{name} must be text, not {echo(value)}")
    problem = text_problem(value, lines=lines)
    if problem is not None:
        raise LogError(f"{name}: {problem}")
    return value


CURRENCY: TypeAdapter[str] = TypeAdapter(CurrencyCode)


def check_given(kind: str, value: object) -> None:
    """Check a given compensation like an incident's money.

    A finite number from 0 to the incidents' maximum, and a currency one pays in (ISO 4217).
    """
    amount, currency = value if isinstance(value, tuple) and len(value) == 2 else (value, None)
    if isinstance(amount, bool) or not isinstance(amount, int | float):
        raise LogError(f"given {kind}: the amount must be a number, not {echo(amount)}")
    if not math.isfinite(amount) or not 0 <= amount <= MAX_NUMBER:
        raise LogError(
            f"given {kind}: the amount must be a finite number from 0 to {MAX_NUMBER:.0f}, "
            f"not {amount!r}"
        )
    if currency is not None:
        try:
            CURRENCY.validate_python(currency)
        except ValidationError as error:
            raise LogError(f"given {kind}: {error_message(error.errors()[0])}") from None


def reason(error: BaseException) -> str:
    """Why a row was refused, in one line."""
    if isinstance(error, LogError):
        return str(error)
    return f"{type(error).__name__}: {first_line(error)}"


#: The decision row's text columns (validated before a row joins the queue).
TEXT_COLUMNS = ("incident_key", "customer_id", "type", "channel", "language", "severity")


def is_dbapi_error(error: BaseException) -> bool:
    """A DB-API error raised by a driver directly (the fast paths do not go through the Core)."""
    return any(
        cls.__name__ == "Error" and cls.__module__.split(".")[0] in ("sqlite3", "psycopg")
        for cls in type(error).__mro__
    )


class RowRefused(LogError):
    """This decision (not the store) cannot be written: it is refused alone."""


def row_level(error: BaseException) -> bool:
    """Whether a failed write is the rows' fault (data the database refuses), not the store's.

    Rows refused by the database (text it cannot hold, a value it cannot encode) are refused
    alone; any other failure (locked, gone, read-only, a table missing) keeps them queued.
    """
    if isinstance(error, RowRefused):
        return True
    if isinstance(error, LogError | OSError):
        return False
    if isinstance(error, UnicodeError | ValueError | TypeError | OverflowError):
        return True  # pydantic-core's serialisation errors are ValueErrors
    orig = getattr(error, "orig", None)
    names = {cls.__name__ for cls in type(error).__mro__}
    if orig is not None:
        names |= {cls.__name__ for cls in type(orig).__mro__}
    return bool(names & {"DataError", "IntegrityError"})


def as_log_error(error: BaseException, where: str, timeout: float) -> LogError:
    """One clear line for a database failure."""
    message = first_line(error)
    low = message.lower()
    if (
        "no such table" in low
        or ("relation" in low and "does not exist" in low)
        or "already exists" in low
    ):
        text = (
            f"the log {where} is damaged: {message} (a cxplay table or its version table "
            "cxplay_alembic_version was dropped or changed by hand)"
        )
    elif "database is locked" in low or "database table is locked" in low:
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
