"""4 processes x 2,000 decisions into one log, SQLite and PostgreSQL: nothing lost or doubled.

Every process starts on the same empty store (so the first-use migration races too); a
quarter of the incidents are shared by all four processes and must come out as one
decision each, seen four times. Two processes write each decision at once, two in batches.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import logstores
import pytest
import sqlalchemy as sa

from cxplay import DecisionLog
from cxplay._log import schema

store = logstores.store
PROCESSES = 4
PER_PROCESS = 2_000
SHARED = 500  # incident ids every process suggests

WORKER = """
import sys
from cxplay import DecisionLog, Engine

target, number, per, shared, batch = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
with DecisionLog.open(target, batch_size=batch, timeout=60) as log:
    engine = Engine.from_path(backend="python", log=log)
    for n in range(per):
        incident_id = f"S-{n}" if n < shared else f"P{number}-{n}"
        incident = {"id": incident_id, "type": "parcel_damaged", "channel": "email",
                    "customer": {"id": f"C-{n % 97}"},
                    "order": {"value": 50 + n % 400, "currency": "PLN"}}
        engine.suggest(incident)
print("ok")
"""


@pytest.mark.slow
def test_four_writers_lose_and_double_nothing(store: str, tmp_path: Path) -> None:
    script = tmp_path / "worker.py"
    script.write_text(WORKER, encoding="utf-8")
    workers = [
        subprocess.Popen(
            [
                sys.executable,
                str(script),
                store,
                str(n),
                str(PER_PROCESS),
                str(SHARED),
                "1" if n < 2 else "64",
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for n in range(PROCESSES)
    ]
    for worker in workers:
        out, err = worker.communicate(timeout=600)
        assert (worker.returncode, out) == (0, "ok\n"), err
    with DecisionLog.open(store) as log, log.connection() as conn:
        decisions = conn.execute(
            sa.select(sa.func.count()).select_from(schema.decision)
        ).scalar_one()
        views = conn.execute(sa.select(sa.func.sum(schema.decision.c.views))).scalar_one()
        shared = conn.execute(
            sa.select(schema.decision.c.views).where(schema.decision.c.incident_key.like("S-%"))
        ).scalars()
        keys = conn.execute(
            sa.select(sa.func.count(sa.distinct(schema.decision.c.incident_key)))
        ).scalar_one()
        without_rules = conn.execute(
            sa.select(sa.func.count()).where(schema.decision.c.rules == "")
        ).scalar_one()
        assert sorted(set(shared)) == [PROCESSES]
    assert decisions == keys == PROCESSES * (PER_PROCESS - SHARED) + SHARED
    assert views == PROCESSES * PER_PROCESS
    assert without_rules == 0
