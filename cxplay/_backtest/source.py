"""Where past incidents come from: a JSONL or a Parquet file, cut into partitions.

A :class:`Partition` is what one task of the map gets: raw JSONL text (parsed by the worker,
so parsing is spread over the cores too) or rows already read from Parquet, with the
position of its first record (a line or row number, 1-based) so that every problem the
worker finds names its line. A partition holds no open file: it pickles, so it travels to
a process pool or a Dask worker on another machine.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import IO, Any, Literal, Protocol

from cxplay._backtest.side import side_of_logged
from cxplay.errors import BacktestError

__all__ = [
    "MAX_LINE_BYTES",
    "PARTITION_SIZE",
    "JsonlSource",
    "LogSource",
    "ParquetSource",
    "Partition",
    "RowsSource",
    "Source",
    "Unusable",
    "open_source",
    "parse_line",
]

#: The longest line a JSONL source may hold: one incident, as large as any incident
#: cxplay reads (``cxplay suggest`` takes at most 1 MiB). Reading stops there, so a file
#: without newlines (``/dev/zero``) is an error, never a line that grows without bound.
MAX_LINE_BYTES = 1 << 20

#: Incidents per task: big enough that shipping a task costs little next to evaluating it,
#: small enough that a progress bar moves and memory in flight stays bounded.
PARTITION_SIZE = 2_000


@dataclass(frozen=True)
class Partition:
    """One task's share of the source.

    ``kind == "jsonl"``: ``data`` is the raw text of consecutive lines, the first being line
    ``start``. ``kind == "rows"``: ``data`` is a list of incident mappings, the first being
    record ``start``; ``logged`` optionally holds, per row, what was actually decided then
    (the decision log as the baseline).
    """

    kind: Literal["jsonl", "rows"]
    start: int
    data: bytes | list[Any]
    count: int
    logged: list[Any] | None = field(default=None)


@dataclass(frozen=True)
class Unusable:
    """A record the source already knows is no incident, and why (counted as malformed)."""

    reason: str


class Source(Protocol):
    """A source of incidents: a name for messages, a size for progress, partitions."""

    name: str
    unit: str  # "line" or "row": how a position reads in a message

    def total(self) -> int | None:
        """How many records there are (None when it cannot be known cheaply)."""

    def partitions(self, size: int = PARTITION_SIZE) -> Iterator[Partition]:
        """The records, ``size`` at a time, in order."""


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a number an incident may carry")


def parse_line(raw: bytes) -> dict[str, Any]:
    """One JSONL record as an incident mapping; ``ValueError`` with a short reason if not."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ValueError(f"not valid UTF-8 (byte {exc.start + 1})") from None
    try:
        value = json.loads(text, parse_constant=_reject_constant)
    except json.JSONDecodeError as exc:
        raise ValueError(f"invalid JSON at column {exc.colno}: {exc.msg}") from None
    except RecursionError:
        raise ValueError("invalid JSON: nested too deeply") from None
    if not isinstance(value, dict):
        raise ValueError(f"an incident must be a JSON object, not {type(value).__name__}")
    return value


def _fail(path: Path, reason: str) -> BacktestError:
    return BacktestError(f"{path}: {reason}")


def _capped_lines(path: Path, file: IO[bytes]) -> Iterator[tuple[int, bytes]]:
    """``(number, line)`` for each line, none longer than :data:`MAX_LINE_BYTES`."""
    number = 0
    while line := file.readline(MAX_LINE_BYTES + 1):
        number += 1
        if len(line) > MAX_LINE_BYTES and not line.endswith(b"\n"):
            raise _fail(
                path,
                f"line {number} is longer than {MAX_LINE_BYTES // 1024} KiB "
                "(one incident per line, each at most 1 MiB)",
            )
        yield number, line


class JsonlSource:
    """Incidents as JSON lines: one object per line; blank lines are allowed and skipped."""

    unit = "line"

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        self.name = str(path)
        try:
            with self.path.open("rb") as file:
                head = file.read(3)
        except FileNotFoundError:
            raise _fail(self.path, "no such incident file") from None
        except IsADirectoryError:
            raise _fail(self.path, "is a directory, not an incident file") from None
        except OSError as exc:
            raise _fail(self.path, f"cannot read it: {exc.strerror or exc}") from None
        self._bom = head == b"\xef\xbb\xbf"

    def total(self) -> int | None:
        """Non-blank lines, counted in one pass over the bytes (C speed)."""
        count = 0
        with self.path.open("rb") as file:
            for _, line in _capped_lines(self.path, file):
                if line.strip():
                    count += 1
        return count

    def partitions(self, size: int = PARTITION_SIZE) -> Iterator[Partition]:
        """Consecutive lines, ``size`` non-blank ones per partition."""
        try:
            with self.path.open("rb") as file:
                lines: list[bytes] = []
                start = 1
                filled = 0
                for number, line in _capped_lines(self.path, file):
                    if number == 1 and self._bom:
                        line = line[3:]
                    if not lines:
                        start = number
                    lines.append(line)
                    if line.strip():
                        filled += 1
                    if filled >= size:
                        yield Partition("jsonl", start, b"".join(lines), filled)
                        lines, filled = [], 0
                if filled:
                    yield Partition("jsonl", start, b"".join(lines), filled)
        except OSError as exc:
            raise _fail(self.path, f"cannot read it: {exc.strerror or exc}") from None


def _strip_none(value: Any) -> Any:
    """Parquet gives every row every column: an absent field reads back as None."""
    if isinstance(value, dict):
        return {k: _strip_none(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        if value and all(isinstance(i, tuple) and len(i) == 2 for i in value):
            return {k: _strip_none(v) for k, v in value if v is not None}  # a map column
        return [_strip_none(v) for v in value]
    return value


class ParquetSource:
    """Incidents as Parquet rows: columns are the incident's keys (structs nest).

    A file with one string column ``incident`` holding JSON documents is read too.
    Needs ``pyarrow`` (``pip install 'cxplay[parquet]'``).
    """

    unit = "row"

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        self.name = str(path)
        try:
            import pyarrow.parquet as pq
        except ImportError:
            raise BacktestError(
                f"{path}: reading Parquet needs pyarrow: pip install 'cxplay[parquet]'"
            ) from None
        if not self.path.exists():
            raise _fail(self.path, "no such incident file")
        try:
            self._file = pq.ParquetFile(self.path)
        except Exception as exc:  # pyarrow raises ArrowInvalid, OSError, ...
            raise _fail(self.path, f"not a readable Parquet file: {_first_line(exc)}") from None

    def total(self) -> int | None:
        """The row count from the file's metadata."""
        return int(self._file.metadata.num_rows)

    def partitions(self, size: int = PARTITION_SIZE) -> Iterator[Partition]:
        """Record batches of ``size`` rows, as incident mappings."""
        start = 1
        try:
            for batch in self._file.iter_batches(batch_size=size):
                rows = batch.to_pylist()
                if list(batch.schema.names) == ["incident"]:
                    rows = [_json_cell(row["incident"]) for row in rows]
                else:
                    rows = [_strip_none(row) for row in rows]
                yield Partition("rows", start, rows, len(rows))
                start += len(rows)
        except BacktestError:
            raise
        except Exception as exc:
            raise _fail(self.path, f"cannot read row {start}+: {_first_line(exc)}") from None


def _json_cell(cell: Any) -> Any:
    if isinstance(cell, str | bytes):
        try:
            return json.loads(cell)
        except ValueError:
            return cell  # the worker reports it as not an incident, with its row
    return cell


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


class RowsSource:
    """Incidents already in memory (a list of mappings): for the library and tests."""

    unit = "record"

    def __init__(
        self,
        rows: Sequence[Any],
        *,
        name: str = "<incidents>",
        logged: Sequence[Any] | None = None,
    ) -> None:
        self.name = name
        self._rows = rows
        self._logged = logged

    def total(self) -> int | None:
        """The number of rows."""
        return len(self._rows)

    def partitions(self, size: int = PARTITION_SIZE) -> Iterator[Partition]:
        """Slices of ``size`` rows."""
        for offset in range(0, len(self._rows), size):
            rows = list(self._rows[offset : offset + size])
            logged = None if self._logged is None else list(self._logged[offset : offset + size])
            yield Partition("rows", offset + 1, rows, len(rows), logged)


class LoggedLike(Protocol):
    """What the backtest reads of a logged decision (:class:`cxplay.DecisionLog`'s rows)."""

    id: str
    incident: dict[str, Any]
    actions: list[dict[str, Any]]
    severity: str
    forgotten: bool


class LogLike(Protocol):
    """A decision log: :class:`cxplay.DecisionLog`, or anything with its ``decisions``."""

    where: str

    def decisions(
        self, since: datetime | None = None, until: datetime | None = None
    ) -> Iterator[Any]:
        """Logged decisions created in ``[since, until)``, oldest first."""


class LogSource:
    """The incidents of a decision log, with what was decided for each (the baseline).

    Positions count the decisions read, from 1, in the log's order (oldest first). A
    forgotten decision (erased at the customer's request) has no incident left: it is
    counted as malformed, with its decision id, never silently skipped.
    """

    unit = "decision"

    def __init__(
        self, log: LogLike, *, since: datetime | None = None, until: datetime | None = None
    ) -> None:
        self._log = log
        self.since = since
        self.until = until
        window = ""
        if since is not None or until is not None:
            window = (
                f" [{since.isoformat() if since else '…'}, {until.isoformat() if until else '…'})"
            )
        self.name = f"decision log {log.where}{window}"

    def total(self) -> int | None:
        """Unknown without a second pass over the log."""
        return None

    def partitions(self, size: int = PARTITION_SIZE) -> Iterator[Partition]:
        """Decisions ``size`` at a time: the incidents, and per incident the logged side."""
        rows: list[Any] = []
        logged: list[Any] = []
        start = 1
        for number, decision in enumerate(self._log.decisions(self.since, self.until), 1):
            if not rows:
                start = number
            if decision.forgotten or not decision.incident:
                rows.append(Unusable(f"decision {decision.id} was forgotten (erased on request)"))
            else:
                incident = dict(decision.incident)
                incident.setdefault("id", decision.id)
                rows.append(incident)
            logged.append(side_of_logged(decision.actions, decision.severity))
            if len(rows) >= size:
                yield Partition("rows", start, rows, len(rows), logged)
                rows, logged = [], []
        if rows:
            yield Partition("rows", start, rows, len(rows), logged)


def open_source(path: Path | str) -> Source:
    """A JSONL or Parquet source, by the file's suffix (``.parquet``/``.pq``) or magic bytes."""
    candidate = Path(path)
    if candidate.suffix.lower() in (".parquet", ".pq"):
        return ParquetSource(candidate)
    try:
        with candidate.open("rb") as file:
            magic = file.read(4)
    except OSError:
        magic = b""  # JsonlSource says what is wrong with the path
    if magic == b"PAR1":
        return ParquetSource(candidate)
    return JsonlSource(candidate)
