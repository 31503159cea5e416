"""The watch loop: read JSON lines, correlate, commit to the store, write the events.

Lines are read in batches (up to ``batch`` lines, or what is there when the source is
idle); each batch is committed to the store in one transaction -- new disruptions,
members, the correlator's state and the source's byte offset. A watcher killed at any
moment starts again from its last commit: nothing committed is redone, nothing
uncommitted is lost (its lines are read again).

Into a file (``--out``) a batch's events are written first and the file's length is
committed with the batch; a restart cuts the file back to that length, so what a killed
run wrote after its last commit (a torn line included) is written again, once. To a pipe
(stdout) the events are written after the commit: a kill between the two loses that
batch's output (its members and notices are in the store: ``cxplay disruptions``).
"""

from __future__ import annotations

import json
import os
import select
import stat
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from cxplay._common.instants import moment
from cxplay._common.text import echo
from cxplay._watch.store import WatchStore, masked_state
from cxplay._watch.watch import Watcher
from cxplay.errors import CxplayError

__all__ = ["LineReader", "WatchStats", "parse_line", "run_watch", "write_events"]

#: The longest line taken: an incident is capped far below this by its model.
MAX_LINE = 1 << 20


@dataclass
class WatchStats:
    """What one run read and wrote."""

    lines: int = 0
    incidents: int = 0
    malformed: int = 0
    duplicates: int = 0
    events: int = 0
    skipped: int = 0  # lines a previous run had already committed


class LineReader:
    """Complete lines from a file descriptor, with the byte offset after each one.

    Works the same for a regular file (optionally followed as it grows) and for a pipe
    or stdin; ``poll`` says whether more is there right now, so a batch closes when the
    source goes quiet instead of waiting for ``batch`` lines.
    """

    def __init__(self, fd: int, *, offset: int = 0, follow: bool = False) -> None:
        self.fd = fd
        self.follow = follow
        self.offset = offset
        self.regular = stat.S_ISREG(os.fstat(fd).st_mode)
        if self.regular and offset:
            os.lseek(fd, offset, os.SEEK_SET)
        self._buffer = b""
        self.eof = False

    def read(self, timeout: float) -> list[tuple[bytes, int]]:
        """The complete lines available within ``timeout`` seconds: (line, offset after)."""
        if self.eof:
            return []
        if not self.regular:
            ready, _, _ = select.select([self.fd], [], [], timeout)
            if not ready:
                return []
        chunk = os.read(self.fd, 1 << 16)
        if not chunk:
            if self.regular and self.follow:
                time.sleep(timeout)
                return []
            self.eof = True
            if self._buffer:  # a last line without a newline
                line, self._buffer = self._buffer, b""
                self.offset += len(line)
                return [(line, self.offset)]
            return []
        data = self._buffer + chunk
        lines: list[tuple[bytes, int]] = []
        start = 0
        while True:
            end = data.find(b"\n", start)
            if end < 0:
                break
            self.offset += end + 1 - start
            lines.append((data[start:end], self.offset))
            start = end + 1
        self._buffer = data[start:]
        if len(self._buffer) > MAX_LINE:  # no newline in sight: give it up as one line
            self.offset += len(self._buffer)
            lines.append((self._buffer, self.offset))
            self._buffer = b""
        return lines


def parse_line(line: bytes) -> dict[str, Any]:
    """One JSON object from a line; ValueError with a short reason otherwise."""
    if len(line) > MAX_LINE:
        raise ValueError(f"line longer than {MAX_LINE} bytes")
    try:
        text = line.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ValueError(f"not UTF-8 (byte {exc.start})") from None
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(f"not JSON: {exc.msg} (column {exc.colno})") from None
    except RecursionError:
        raise ValueError("JSON nested too deeply") from None
    if not isinstance(value, dict):
        raise ValueError(f"an incident is a JSON object, not {type(value).__name__}")
    return value


def write_events(out: IO[str], events: list[dict[str, Any]]) -> None:
    """Events as JSON lines, flushed."""
    if not events:
        return
    out.write("".join(json.dumps(e, ensure_ascii=False) + "\n" for e in events))
    out.flush()


def commit(watcher: Watcher, store: WatchStore | None, name: str, offsets: dict[str, int]) -> None:
    """Write what the watcher did since the last commit, with its state, in one transaction."""
    batch = watcher.take_batch()
    if store is None:
        return
    log = watcher.engine.log
    flush = getattr(log, "flush", None)
    if flush is not None:
        flush()  # the suggestions' decisions first: a commit never runs ahead of them
    correlator = watcher.correlator
    watermark = correlator.watermark
    store.save(
        name,
        state=masked_state(correlator.snapshot(), store.log.mask),
        offsets=offsets,
        watermark=None if watermark is None else moment(watermark),
        opened=batch.opened,
        members=batch.members,
        noticed=watcher.notices,
    )
    held = [d.id for d in correlator.disruptions()]
    for ident in store.resolved_among(held):
        correlator.resolve(ident)


def restore(watcher: Watcher, store: WatchStore, name: str) -> dict[str, int]:
    """Load a watcher's saved state; returns the source offsets it had committed."""
    state, offsets = store.load(name)
    if state is not None:
        watcher.correlator.restore(state)
        for ident in store.resolved_among(d.id for d in watcher.correlator.disruptions()):
            watcher.correlator.resolve(ident)
    return offsets


def _incidents(reader: LineReader, *, poll: float) -> Iterator[list[tuple[bytes, int]]]:
    while True:
        lines = reader.read(poll)
        yield lines
        if reader.eof:
            return


def run_watch(
    watcher: Watcher,
    source: str,
    *,
    out: IO[str],
    warn: Callable[[str], None],
    store: WatchStore | None = None,
    name: str = "default",
    follow: bool = False,
    batch: int = 256,
    poll: float = 0.2,
) -> WatchStats:
    """Watch a JSONL file (or ``-``, stdin) until its end (or forever with ``follow``)."""
    stats = WatchStats()
    if source == "-":
        fd, label, source_key = 0, "<stdin>", None
    else:
        path = Path(source)
        try:
            fd = os.open(path, os.O_RDONLY)
        except OSError as exc:
            raise CxplayError(f"{source}: {exc.strerror or exc}") from None
        label, source_key = source, f"file:{path.resolve()}"
    offsets: dict[str, int] = {}
    out_key = _file_key(out) if store is not None else None
    if store is not None:
        offsets = restore(watcher, store, name)
        if out_key is not None and _cut_to_commit(out, offsets, out_key, warn):
            commit(watcher, store, name, offsets)  # the file's new length, before any event
    start = offsets.get(source_key, 0) if source_key else 0
    try:
        reader = LineReader(fd, offset=start, follow=follow)
        if start:
            warn(f"{label}: resuming after byte {start} (committed by an earlier run)")
        line_no = 0
        if start and reader.regular:
            with open(path, "rb") as counted:
                line_no = counted.read(start).count(b"\n")
            stats.skipped = line_no
        events: list[dict[str, Any]] = []
        pending = 0

        def flush() -> None:
            nonlocal events, pending
            if out_key is not None:  # a file: written, then its length committed
                write_events(out, events)
                offsets[out_key] = os.fstat(out.fileno()).st_size
                commit(watcher, store, name, offsets)
            else:  # a pipe cannot be cut back: committed, then written
                commit(watcher, store, name, offsets)
                write_events(out, events)
            stats.events += len(events)
            events, pending = [], 0

        for lines in _incidents(reader, poll=poll):
            for line, after in lines:
                line_no += 1
                stats.lines += 1
                pending += 1
                if source_key:
                    offsets[source_key] = after
                if line.strip():
                    try:
                        raw = parse_line(line)
                        produced = watcher.process(raw)
                    except (ValueError, CxplayError) as exc:
                        stats.malformed += 1
                        warn(f"{label}:{line_no}: skipped: {_one_line(exc)}")
                    else:
                        stats.incidents += 1
                        if produced is None:
                            stats.duplicates += 1
                            ident = raw.get("id")
                            warn(f"{label}:{line_no}: duplicate of incident {echo(ident)}; skipped")
                        else:
                            events.extend(produced)
                if pending >= batch:
                    flush()
            if pending:
                flush()
    finally:
        if source != "-":
            os.close(fd)
    return stats


def _file_key(out: IO[str]) -> str | None:
    """The offsets' key of an output that is a regular file by name (None: a pipe, stdout)."""
    name = getattr(out, "name", None)
    try:
        fd = out.fileno()
    except (AttributeError, OSError, ValueError):
        return None
    if not isinstance(name, str) or not stat.S_ISREG(os.fstat(fd).st_mode):
        return None
    return f"out:{Path(name).resolve()}"


def _cut_to_commit(
    out: IO[str], offsets: dict[str, int], key: str, warn: Callable[[str], None]
) -> bool:
    """Cut the output back to the length the last commit recorded (a killed run's tail).

    Returns whether the length to commit changed: a file new to this watcher, or one
    rotated or emptied by hand, is committed before any event is written to it.
    """
    out.flush()
    fd = out.fileno()
    size = os.fstat(fd).st_size
    committed = offsets.get(key)
    if committed is not None and size >= committed:
        if size > committed:
            os.ftruncate(fd, committed)
            warn(
                f"{out.name}: cut {size - committed} bytes written after the last commit "
                "(an interrupted run); they are written again"
            )
        return False
    # new to this watcher, or shorter (rotated or emptied by hand): go on from its end
    offsets[key] = size
    return True


def _one_line(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return text[0] if len(text) == 1 else "; ".join(t.strip() for t in text if t.strip())
