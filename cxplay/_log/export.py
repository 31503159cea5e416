"""The analysts' export: every decision as one JSON line, or one Parquet table.

A row is :meth:`LoggedDecision.as_dict`: the masked incident, the actions, the latest
outcome and survey scores, and ``outcomes`` (every outcome recorded, oldest first). In
Parquet, the nested values (incident, actions, playbooks, outcomes) are JSON text
columns: incidents differ in shape, and every engine reads JSON text.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import IO, Any

from cxplay._log.store import DecisionLog, LoggedDecision
from cxplay.errors import LogError

__all__ = ["export_jsonl", "export_parquet"]

_NESTED = ("incident", "actions", "playbooks", "outcomes")


def export_jsonl(
    log: DecisionLog,
    out: IO[str],
    since: datetime | None = None,
    until: datetime | None = None,
) -> int:
    """Write one JSON object per decision; returns how many."""
    count = 0
    for decision in log.decisions(since, until):
        out.write(json.dumps(decision.as_dict(), ensure_ascii=False, sort_keys=True) + "\n")
        count += 1
    return count


def _flat(decision: LoggedDecision) -> dict[str, Any]:
    row = decision.as_dict()
    for name in _NESTED:
        row[name] = json.dumps(row[name], ensure_ascii=False, sort_keys=True)
    return row


def _batches(rows: Iterator[LoggedDecision], size: int) -> Iterator[list[dict[str, Any]]]:
    batch: list[dict[str, Any]] = []
    for decision in rows:
        batch.append(_flat(decision))
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def export_parquet(
    log: DecisionLog,
    path: Path,
    since: datetime | None = None,
    until: datetime | None = None,
) -> int:
    """Write the decisions to a Parquet file (needs ``pip install 'cxplay[parquet]'``)."""
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError:
        raise LogError("the Parquet export needs pyarrow: pip install 'cxplay[parquet]'") from None
    types = {
        "views": pa.int64(),
        "matched": pa.bool_(),
        "first_response_s": pa.float64(),
        "on_time": pa.bool_(),
        "csat": pa.int64(),
        "nps": pa.int64(),
        "ces": pa.int64(),
        "forgotten": pa.bool_(),
    }
    # every other column is text: ids, ISO 8601 times, and the nested values as JSON
    schema = pa.schema(
        [(name, types.get(name, pa.string())) for name in LoggedDecision.__dataclass_fields__]
    )
    count = 0
    try:
        with pq.ParquetWriter(str(path), schema) as writer:
            for batch in _batches(log.decisions(since, until), 10_000):
                writer.write_table(pa.Table.from_pylist(batch, schema=schema))
                count += len(batch)
    except OSError as error:
        raise LogError(f"cannot write {path}: {error}") from None
    return count
