"""An order service's use of cxplay: no wrapper, no cast, no ``Any``."""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

import cxplay
from cxplay import (
    ArgumentError,
    BackendError,
    Customer,
    DecisionLog,
    Engine,
    EngineClosedError,
    FactValue,
    Incident,
    IncidentError,
    Order,
    ReloadError,
    Suggestion,
)

AT = datetime(2026, 11, 20, 9, 15, tzinfo=timezone(timedelta(hours=1)))


@dataclass(frozen=True)
class FieldError:
    """What the service's API answers for one bad field."""

    field: str
    message: str
    value: object


def field_errors(error: cxplay.CxplayError) -> list[FieldError]:
    """Map cxplay's problems to the service's own field errors."""
    return [FieldError(p.location or "", p.message, p.input) for p in error.problems]


def late_parcel(order_id: str, value: float, days: int) -> Incident:
    """An incident built in code: the facts are a plain ``dict[str, int]``."""
    facts: dict[str, int] = {"delay_days": days}
    return Incident(
        id=f"INC-{order_id}",
        type="parcel_late",
        occurred_at=AT,
        channel="email",
        customer=Customer(id="C-77", name="Anna Kowalska", language="pl"),
        order=Order(id=order_id, value=value, currency="PLN"),
        facts=facts,
    )


def damaged(value: float) -> Mapping[str, object]:
    """An incident as the service's JSON gives it."""
    facts: Mapping[str, FactValue] = {"photos": 2}
    return {
        "type": "parcel_damaged",
        "channel": "email",
        "occurred_at": AT.isoformat(),
        "order": {"value": value, "currency": "PLN"},
        "facts": dict(facts),
    }


def answer(engine: Engine, incident: Incident | Mapping[str, object]) -> tuple[str, ...]:
    """The action kinds, and the reply's first line when there is one."""
    s: Suggestion = engine.suggest(incident, language="pl")
    kinds = tuple(a.kind for a in s.actions)
    if s.reply is not None:  # narrowed: None when nothing matched
        kinds += (s.reply.body.splitlines()[0],)
    if s.respond_by is not None:
        assert s.respond_by > AT  # aware: it compares with the service's own datetimes
    return kinds


def thread_pool(engine: Engine, incidents: Sequence[Incident]) -> None:
    """Eight threads answer exactly as one does."""
    alone = [answer(engine, i) for i in incidents]
    with ThreadPoolExecutor(8) as pool:
        together = list(pool.map(lambda i: answer(engine, i), incidents))
    assert together == alone, "threads changed an answer"


def reload_while_serving(folder: Path, incidents: Sequence[Incident]) -> None:
    """Reloads (paths, then a set built in code) swap atomically under load."""
    with Engine.from_path(folder, backend="python") as engine:
        stop = threading.Event()
        failures: list[BaseException] = []

        def serve() -> None:
            while not stop.is_set():
                for incident in incidents:
                    try:
                        engine.suggest(incident)
                    except BaseException as exc:  # collected, asserted below
                        failures.append(exc)

        workers = [threading.Thread(target=serve) for _ in range(4)]
        for worker in workers:
            worker.start()
        try:
            for _ in range(3):
                engine.reload()  # the directory it was built from
                engine.reload(source=cxplay.load_playbooks(folder))  # a set built in code
                try:
                    engine.reload()
                except ReloadError:
                    pass  # a given set cannot be refreshed: it says so
                else:
                    raise AssertionError("reload() refreshed a given PlaybookSet")
                engine.reload(source=folder)  # back to the directory
        finally:
            stop.set()
            for worker in workers:
                worker.join()
        assert not failures, failures


def close_while_serving(incidents: Sequence[Incident]) -> dict[str, int]:
    """Close under load: each call finishes or says 'closed', nothing else."""
    engine = Engine.from_path()
    counts = {"ok": 0, "closed": 0}
    lock = threading.Lock()
    busy = threading.Semaphore(0)  # one release per thread, once it has answered

    def serve() -> None:
        first = True
        while True:
            for incident in incidents:
                try:
                    engine.suggest(incident)
                    outcome = "ok"
                except EngineClosedError:
                    outcome = "closed"
                with lock:
                    counts[outcome] += 1
                if outcome == "closed":
                    return
                if first:
                    busy.release()
                    first = False

    workers = [threading.Thread(target=serve) for _ in range(4)]
    for worker in workers:
        worker.start()
    for _ in workers:  # close while all four are serving
        assert busy.acquire(timeout=60)
    engine.close()
    for worker in workers:
        worker.join()
    assert counts["closed"] == 4, counts
    return counts


def errors_as_data(engine: Engine) -> None:
    """Each kind of failure is its own type, with data a service can map to fields."""
    try:
        engine.suggest({"type": "queue_long", "facts": {"queue_minutes": -5}})
    except IncidentError as error:
        (problem,) = field_errors(error)
        assert problem == FieldError("facts.queue_minutes", "must be at least 0, got -5", -5)
    else:
        raise AssertionError("a negative queue was taken")
    try:
        engine.suggest(late_parcel("PL-1", 100, 3), now=datetime(2026, 1, 1))  # naive
    except ArgumentError as error:
        assert "no UTC offset" in str(error)
    else:
        raise AssertionError("a naive now was taken")
    try:
        Engine.from_path(backend="rete")  # type: ignore[call-overload]  # mypy catches it too
    except BackendError as error:
        assert "unknown backend 'rete'" in str(error)
    else:
        raise AssertionError("an unknown backend was taken")


def with_a_log(folder: Path) -> str:
    """The documented log calls, typed: ``engine.log`` is a DecisionLog."""
    with Engine.from_path(log=folder / "cx.db", backend="python") as engine:
        s = engine.suggest(late_parcel("PL-2", 300, 4))
        assert s.decision_id is not None  # always set when the engine has a log
        engine.log.outcome(s.decision_id, "accepted", note="agreed on the phone")
        engine.log.feedback(s.decision_id, csat=5, nps=9)
        history = engine.log.history("C-77", AT + timedelta(days=1))
        assert history.compensations >= 0
    with DecisionLog.open(folder / "cx.db") as log:
        assert [d.id for d in log.decisions()] == [s.decision_id]
    return s.decision_id


def main(workdir: Path) -> None:
    """Run every scenario; ``workdir`` is an empty directory it may write to."""
    shipped = cxplay.shipped_playbooks_dir()
    incidents = [late_parcel(f"PL-{d}", 50.0 * d, d) for d in range(1, 16)]
    with Engine.from_path() as engine:
        thread_pool(engine, incidents)
        errors_as_data(engine)
    reload_while_serving(shipped, incidents)
    close_while_serving(incidents)
    with_a_log(workdir)
    one = cxplay.suggest(damaged(250), language="uk", explain=True)
    assert one.trace is not None and one.reply is not None and one.reply.language == "uk"
