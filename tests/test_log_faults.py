"""One character must not poison the log: text is valid Unicode at every boundary, and the
log's writer refuses a bad record alone, survives its own faults and says when it is broken.

Issue 17, High-1. The properties put a lone surrogate or a C0/C1 control character into
every text field of an incident (library and CLI) and of an outcome; the fault tests inject
failures into the writer with ``batch_size > 1`` on SQLite and PostgreSQL.
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import logstores
import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cxplay import DecisionLog, Engine, IncidentError, LogError
from cxplay._cli import cli

store = logstores.store  # every fault test runs on SQLite and PostgreSQL

# --------------------------------------------------------------------------- bad text

#: Every text field of an incident and its nested models; True: a multi-line text.
TEXT_FIELDS: dict[str, bool] = {
    "id": False,
    "description": True,
    "customer.id": False,
    "customer.name": False,
    "customer.tier": False,
    "customer.salutation": False,
    "order.id": False,
    "order.carrier": False,
    "event.id": False,
    "event.session": False,
    "event.speaker": False,
    "facts.remark": True,
    "facts.remarks[]": True,
}

SURROGATES = st.integers(0xD800, 0xDFFF).map(chr)
C0 = st.sampled_from([chr(c) for c in range(0x20) if chr(c) not in "\t\n\r"] + ["\x7f"])
C1 = st.integers(0x80, 0x9F).map(chr)
BAD = st.one_of(SURROGATES, C0, C1)
LINE_BREAKS = st.sampled_from(["\t", "\n", "\r"])
PLAIN = st.text(st.characters(codec="utf-8", categories=("L", "N", "Zs")), max_size=12)


def incident_with(field: str, text: str) -> dict[str, Any]:
    """A valid incident (of a type no playbook declares facts for) with ``text`` at ``field``."""
    incident: dict[str, Any] = {"type": "zz_custom_type", "channel": "email"}
    if field == "facts.remarks[]":
        incident["facts"] = {"remarks": ["fine", text]}
        return incident
    head, _, tail = field.partition(".")
    if tail:
        incident.setdefault(head, {})[tail] = text
    else:
        incident[head] = text
    return incident


def named(field: str) -> str:
    """How the error names a field: facts are named by their key."""
    if field.startswith("facts."):
        return "'remarks'" if field.endswith("[]") else "'remark'"
    return field


@pytest.fixture(scope="module")
def engine() -> Iterator[Engine]:
    with Engine.from_path(backend="python") as opened:
        yield opened


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(field=st.sampled_from(sorted(TEXT_FIELDS)), before=PLAIN, bad=BAD, after=PLAIN)
def test_no_text_field_takes_a_surrogate_or_a_control_character(
    engine: Engine, field: str, before: str, bad: str, after: str
) -> None:
    with pytest.raises(IncidentError) as raised:
        engine.suggest(incident_with(field, before + bad + after))
    message = str(raised.value)
    assert "\n" not in message
    assert named(field) in message
    assert f"U+{ord(bad):04X} at character {len(before) + 1}" in message


@settings(max_examples=60, deadline=None)
@given(field=st.sampled_from(sorted(TEXT_FIELDS)), before=PLAIN, brk=LINE_BREAKS, after=PLAIN)
def test_line_breaks_only_in_multi_line_texts(
    engine: Engine, field: str, before: str, brk: str, after: str
) -> None:
    incident = incident_with(field, before + brk + after)
    if TEXT_FIELDS[field]:
        engine.suggest(incident)
    else:
        with pytest.raises(IncidentError, match=rf"U\+{ord(brk):04X} at character"):
            engine.suggest(incident)


@settings(max_examples=25, deadline=None)
@given(field=st.sampled_from(sorted(TEXT_FIELDS)), bad=BAD)
def test_the_cli_says_which_field_in_one_line(field: str, bad: str) -> None:
    # ensure_ascii: a lone surrogate travels as "\ud800", valid JSON
    body = json.dumps(incident_with(field, f"a{bad}b"))
    result = CliRunner().invoke(cli, ["suggest", "-", "--format", "json"], input=body)
    assert result.exit_code == 1, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), result.stderr
    assert named(field) in lines[0] and f"U+{ord(bad):04X}" in lines[0]
    assert "Traceback" not in result.stderr and "internal error" not in result.stderr


# --------------------------------------------------------------------------- outcomes


def parcel(incident_id: str = "INC-1") -> dict[str, Any]:
    return {
        "id": incident_id,
        "type": "parcel_damaged",
        "channel": "email",
        "customer": {"id": "C-1", "language": "pl"},
        "order": {"value": 250.0, "currency": "PLN"},
    }


@pytest.fixture(scope="module")
def sqlite_log(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DecisionLog]:
    with DecisionLog.open(tmp_path_factory.mktemp("log") / "log.db") as log:
        yield log


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(before=PLAIN, bad=BAD, after=PLAIN)
def test_an_outcome_note_is_valid_text(
    engine: Engine, sqlite_log: DecisionLog, before: str, bad: str, after: str
) -> None:
    with Engine(engine.playbooks, backend="python", log=sqlite_log) as recording:
        decision = recording.suggest(parcel()).decision_id
    assert decision is not None
    with pytest.raises(LogError, match=rf"^note: .*U\+{ord(bad):04X} at character"):
        sqlite_log.outcome(decision, "accepted", note=before + bad + after)
    for call in (
        lambda: sqlite_log.outcome(decision[:8] + bad, "accepted"),
        lambda: sqlite_log.feedback(decision[:8] + bad, csat=5),
        lambda: sqlite_log.forget("C-1" + bad),
        lambda: sqlite_log.history("C-1" + bad),
    ):
        with pytest.raises(LogError, match=r"^(decision|customer) id: "):
            call()
    # a multi-line note is fine
    assert sqlite_log.outcome(decision, "accepted", note="first\n\tsecond").note


# --------------------------------------------------------------------------- the writer


def inject(log: DecisionLog, fault: Callable[[list[dict[str, Any]]], None]) -> Callable[[], None]:
    """Run ``fault(rows)`` before every write of ``log``; returns the undo."""
    real = log._upsert

    def faulty(rows: list[dict[str, Any]]) -> None:
        with log._errors():  # as a driver's error would reach the log
            fault(rows)
        real(rows)

    log._upsert = faulty  # type: ignore[method-assign]

    def undo() -> None:
        log._upsert = real  # type: ignore[method-assign]

    return undo


def suggest_many(
    engine: Engine, log: DecisionLog, ids: list[str]
) -> tuple[list[str], list[LogError]]:
    """Suggest each incident; the decision ids returned and the errors raised."""
    returned: list[str] = []
    errors: list[LogError] = []
    with Engine(engine.playbooks, backend="python", log=log) as recording:
        for incident_id in ids:
            try:
                decision = recording.suggest(parcel(incident_id)).decision_id
            except LogError as error:
                errors.append(error)
            else:
                assert decision is not None
                returned.append(decision)
    return returned, errors


def logged_ids(log: DecisionLog) -> set[str]:
    return {d.id for d in log.decisions()}


def test_a_record_the_store_refuses_is_refused_alone(engine: Engine, store: str) -> None:
    poisoned: list[str] = []

    def refuse_poison(rows: list[dict[str, Any]]) -> None:
        poisoned.extend(r["id"] for r in rows if r["incident_key"] == "INC-POISON")
        if any(row["incident_key"] == "INC-POISON" for row in rows):
            # what a driver raises for text the database cannot hold
            raise ValueError("PostgreSQL text fields cannot contain NUL (0x00) bytes")

    with DecisionLog.open(store, batch_size=10, max_delay=0.05) as log:
        undo = inject(log, refuse_poison)
        ids = [f"INC-{n}" for n in range(12)] + ["INC-POISON"] + [f"INC-{n}" for n in range(12, 30)]
        returned, errors = suggest_many(engine, log, ids)
        assert not errors and len(returned) == 31
        log.flush()
        written = logged_ids(log)
        assert (
            written == set(returned) - set(poisoned) and len(set(poisoned)) == 1
        )  # every other decision, the queue moved on
        health = log.health()
        assert health.ok and health.refused == 1 and health.pending == 0
        # and the next suggestions are written as usual
        more, errors = suggest_many(engine, log, ["INC-AFTER"])
        assert not errors
        log.flush()
        assert set(more) <= logged_ids(log)
        undo()


def test_a_failing_store_keeps_the_queue_and_says_so(engine: Engine, store: str) -> None:
    failing = threading.Event()
    failing.set()

    def down(rows: list[dict[str, Any]]) -> None:
        if failing.is_set():
            raise sqlite3.OperationalError("disk I/O error")

    with DecisionLog.open(store, batch_size=5, max_delay=0.02) as log:
        inject(log, down)
        returned, _failed = suggest_many(engine, log, [f"INC-{n}" for n in range(8)])
        deadline = time.monotonic() + 10
        while log.health().ok and time.monotonic() < deadline:
            time.sleep(0.02)
        health = log.health()
        assert not health.ok and "disk I/O error" in (health.error or "")
        assert health.writer == "running"
        # while the writer fails, the next call says so instead of returning an id
        later, later_errors = suggest_many(engine, log, ["INC-LATER"])
        assert later == [] and len(later_errors) == 1
        with pytest.raises(LogError, match="disk I/O error"):
            log.check()
        failing.clear()
        log.check()  # tries the writer again: the store is back
        assert log.health().ok and log.health().pending == 0
        # every decision id handed out is in the log
        assert set(returned) <= logged_ids(log)


# the thread's death is the point: pytest would report it as a warning turned error
@pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")
def test_a_writer_thread_that_dies_is_started_again(engine: Engine, store: str) -> None:
    with DecisionLog.open(store, batch_size=3, max_delay=0.02) as log:
        first, _ = suggest_many(engine, log, ["INC-1"])
        real_flush = log.flush
        killed = threading.Event()

        def die() -> int:
            if threading.current_thread().name == "cxplay-log-flush" and not killed.is_set():
                killed.set()
                raise SystemExit  # ends the thread as an uncaught BaseException would
            return real_flush()

        log.flush = die  # type: ignore[method-assign]
        assert killed.wait(10)
        deadline = time.monotonic() + 10
        while log.health().writer != "stopped" and time.monotonic() < deadline:
            time.sleep(0.01)
        health = log.health()
        assert health.writer == "stopped" and not health.ok
        log.flush = real_flush  # type: ignore[method-assign]
        more, errors = suggest_many(engine, log, [f"INC-{n}" for n in range(2, 9)])
        assert not errors
        assert log.health().restarts == 1 and log.health().writer == "running"
        log.flush()
        assert set(first + more) <= logged_ids(log)


@pytest.mark.skipif(not hasattr(os, "fork"), reason="no os.fork on this platform")
def test_a_forked_child_starts_its_own_writer(engine: Engine, tmp_path: Path) -> None:
    """A writer thread does not cross a fork: the child's first record starts its own."""
    with DecisionLog.open(tmp_path / "log.db", batch_size=3, max_delay=0.02) as log:
        suggest_many(engine, log, ["INC-parent"])  # the parent's writer runs
        assert log.health().writer == "running"
        pid = os.fork()
        if pid == 0:  # the child: exit status 0 only if its record was written by a writer
            status = 1
            try:
                ids, errors = suggest_many(engine, log, ["INC-child"])
                deadline = time.monotonic() + 10
                while log.health().pending and time.monotonic() < deadline:
                    time.sleep(0.01)
                if not errors and log.health().pending == 0 and set(ids) <= logged_ids(log):
                    status = 0
            finally:
                os._exit(status)
        _, status = os.waitpid(pid, 0)
        assert os.waitstatus_to_exitcode(status) == 0


def test_close_raises_only_log_errors(engine: Engine, store: str) -> None:
    log = DecisionLog.open(store, batch_size=50, max_delay=60)

    def bug(rows: list[dict[str, Any]]) -> None:
        raise KeyError("a bug in a driver")

    suggest_many(engine, log, ["INC-1", "INC-2"])
    inject(log, bug)
    with pytest.raises(LogError, match=r"failed: KeyError: .*\(2 decision\(s\) not written\)$"):
        log.close()


def test_suggest_log_optional_warns_and_answers(tmp_path: Path, monkeypatch: Any) -> None:
    real = DecisionLog._upsert

    def down(self: DecisionLog, rows: list[dict[str, Any]]) -> None:
        with self._errors():
            raise sqlite3.OperationalError("disk I/O error")

    monkeypatch.setattr(DecisionLog, "_upsert", down)
    result = CliRunner().invoke(
        cli,
        [
            "suggest",
            "--type",
            "parcel_damaged",
            "--order-value",
            "80",
            "--currency",
            "EUR",
            "--log-optional",
            "--log",
            str(tmp_path / "log.db"),
            "--format",
            "json",
        ],
    )
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["decision_id"] is None
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("Warning: not logged: ") and "disk I/O error" in lines[0]
    monkeypatch.setattr(DecisionLog, "_upsert", real)
    assert real is DecisionLog._upsert


# --------------------------------------------------------------------------- the service


def test_readyz_and_metrics_show_a_broken_writer(tmp_path: Path) -> None:
    pytest.importorskip("fastapi", reason="the serve extra is not installed")
    from fastapi.testclient import TestClient

    from cxplay._serve import ServeConfig, create_app

    config = ServeConfig(auth=False, watch=False, log=str(tmp_path / "log.db"))
    with TestClient(create_app(config)) as client:
        assert client.get("/readyz").json()["log"] == "ok"
        assert "cxplay_log_ok 1.0" in client.get("/metrics").text
        log = client.app.state.service.log  # type: ignore[attr-defined]

        def read_only(rows: list[dict[str, Any]]) -> None:
            raise sqlite3.OperationalError("attempt to write a readonly database")

        undo = inject(log, read_only)
        response = client.post("/v1/suggest", json=parcel("INC-9"))
        assert response.status_code == 503
        assert "cxplay_log_ok 0.0" in client.get("/metrics").text
        assert "cxplay_log_pending_decisions 1.0" in client.get("/metrics").text
        ready = client.get("/readyz")
        assert ready.status_code == 503 and ready.json()["log"] == "broken"
        assert any("is read-only" in e for e in ready.json()["errors"])
        undo()
        ready = client.get("/readyz")
        assert ready.status_code == 200 and ready.json()["log"] == "ok"
        assert "cxplay_log_pending_decisions 0.0" in client.get("/metrics").text


# --------------------------------------------------------------------------- the lows


def test_forget_leaves_no_name_in_the_files_while_a_server_holds_them(
    engine: Engine, tmp_path: Path
) -> None:
    path = tmp_path / "log.db"
    secret = "Sekretna"
    with DecisionLog.open(path) as server:  # a running `cxplay serve`, the file held open
        incident = parcel("INC-SECRET")
        incident["customer"] = {"id": "C-SECRET", "name": f"Zofia {secret}", "language": "pl"}
        incident["description"] = f"Pani {secret} pisze, że paczka jest zgnieciona"
        with Engine(engine.playbooks, backend="python", log=server) as serving:
            decision = serving.suggest(incident).decision_id
        assert decision is not None
        server.outcome(decision, "accepted", note=f"called {secret}")
        server.history("C-SECRET")  # its kept connection stays open
        reader = sqlite3.connect(path)  # another process reading now and then
        reader.execute("SELECT count(*) FROM cxplay_decision").fetchall()
        result = CliRunner().invoke(cli, ["log", "forget", "C-SECRET", "--log", str(path)])
        assert result.exit_code == 0, result.stderr
        for name in (path, Path(f"{path}-wal")):
            if name.exists():
                assert secret.encode() not in name.read_bytes(), name
        reader.close()


def test_prune_with_a_huge_number_of_days_keeps_everything(engine: Engine, store: str) -> None:
    with DecisionLog.open(store) as log:
        suggest_many(engine, log, ["INC-1"])
        assert log.prune(3_000_000) == 0 and log.count() == 1
        with pytest.raises(LogError, match="keep_days must be a whole number"):
            log.prune(True)  # type: ignore[arg-type]
    result = CliRunner().invoke(cli, ["log", "prune", "--keep-days", "3000000", "--log", store])
    assert (result.exit_code, result.stdout) == (0, "pruned 0 decisions older than 3000000 days\n")


def test_a_locked_log_is_waited_for_once(tmp_path: Path, monkeypatch: Any) -> None:
    from cxplay import _cli_log

    path = tmp_path / "log.db"
    DecisionLog.open(path).close()
    monkeypatch.setattr(_cli_log, "_open", lambda value: DecisionLog.open(value, timeout=0.2))
    attempts: list[int] = []
    real = DecisionLog._upsert

    def counted(self: DecisionLog, rows: list[dict[str, Any]]) -> None:
        attempts.append(len(rows))
        real(self, rows)

    monkeypatch.setattr(DecisionLog, "_upsert", counted)
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    try:
        result = CliRunner().invoke(
            cli,
            ["suggest", "--type", "queue_long", "--fact", "queue_minutes=25", "--log", str(path)],
        )
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert result.exit_code == 1
    assert result.stderr.splitlines() == [
        f"Error: the log {path} is locked by another process (waited 0.2 s)"
    ]
    assert attempts == [1]  # the message says how long it waited: it waited that long once


def test_a_dropped_version_table_is_damage_not_unreachable(store: str) -> None:
    import sqlalchemy as sa

    from cxplay._log.store import log_url

    DecisionLog.open(store).close()
    database = sa.create_engine(log_url(store))
    with database.begin() as conn:
        conn.execute(sa.text("DROP TABLE cxplay_alembic_version"))
    database.dispose()
    for args in (["log", "export"], ["report"], ["log", "migrate"]):
        result = CliRunner().invoke(cli, [*args, "--log", store])
        assert result.exit_code == 1, (args, result.stderr)
        (line,) = result.stderr.splitlines()
        assert "is damaged" in line and "unreachable" not in line, line
        assert "cxplay_alembic_version" in line


def test_a_nul_in_a_note_is_refused_on_every_store(engine: Engine, store: str) -> None:
    with DecisionLog.open(store) as log:
        (decision,), _ = suggest_many(engine, log, ["INC-1"])
        with pytest.raises(LogError, match=r"^note: control character U\+0000 at character 2"):
            log.outcome(decision, "accepted", note="a\x00b")
        assert [d.status for d in log.decisions()] == [None]


def test_the_service_refuses_a_boolean_score_and_a_nul_note(tmp_path: Path) -> None:
    pytest.importorskip("fastapi", reason="the serve extra is not installed")
    from fastapi.testclient import TestClient

    from cxplay._serve import ServeConfig, create_app

    config = ServeConfig(auth=False, watch=False, log=str(tmp_path / "log.db"))
    with TestClient(create_app(config)) as client:
        decision = client.post("/v1/suggest", json=parcel()).json()["decision_id"]
        for score in ("csat", "nps", "ces"):
            response = client.post("/v1/feedback", json={"decision_id": decision, score: True})
            assert response.status_code == 422, response.text
        response = client.post(
            "/v1/outcomes", json={"decision_id": decision, "status": "edited", "note": "a\x00b"}
        )
        assert response.status_code == 422 and "U+0000" in response.json()["detail"]
        response = client.post(
            "/v1/outcomes",
            json={"decision_id": decision, "status": "edited", "given": {"refund": True}},
        )
        assert response.status_code == 422
        log = client.app.state.service.log  # type: ignore[attr-defined]
        (row,) = list(log.decisions())
        assert (row.csat, row.nps, row.ces, row.status) == (None, None, None, None)


@pytest.mark.parametrize("bad", ["\ud800", "\x9b", "\x00", "\x1b"])
def test_the_cli_refuses_bad_text_in_flags_and_notes(tmp_path: Path, bad: str) -> None:
    store = str(tmp_path / "log.db")
    runner = CliRunner()
    result = runner.invoke(
        cli, ["suggest", "--type", "queue_long", "--fact", "queue_minutes=25", "--name", f"O{bad}"]
    )
    assert result.exit_code == 1 and "customer.name" in result.stderr
    assert len(result.stderr.splitlines()) == 1 and "Traceback" not in result.stderr
    made = runner.invoke(
        cli,
        ["suggest", "--type", "queue_long", "--fact", "queue_minutes=25", "--log", store],
    )
    decision = next(
        line.split()[-1] for line in made.stdout.splitlines() if line.startswith("Decision")
    )
    result = runner.invoke(
        cli, ["outcome", decision, "edited", "--note", f"x{bad}y", "--log", store]
    )
    assert result.exit_code == 1, result.output
    assert result.stderr.startswith("Error: note: ") and f"U+{ord(bad):04X}" in result.stderr
    assert len(result.stderr.splitlines()) == 1


def test_a_value_the_database_refuses_is_refused_alone_in_a_batch(
    engine: Engine, store: str
) -> None:
    """No fault injected: PostgreSQL itself refuses an incident id over 200 characters.

    (The incident model refuses it too: a caller that skips validation gets it this far.)
    A batch is one statement on PostgreSQL (one JSON document): the refusal fails it whole,
    and each decision is then written alone, so only the long one is refused. SQLite keeps
    any length: nothing is refused there.
    """
    from cxplay.models import Incident

    long_id = "INC-" + "x" * 300  # the column is VARCHAR(200)
    refused = 1 if store.startswith("postgresql") else 0
    with DecisionLog.open(store, batch_size=64, max_delay=60) as log:
        with Engine(engine.playbooks, backend="python", log=log) as recording:
            first, errors = suggest_many(engine, log, [f"INC-{n}" for n in range(5)])
            recording.suggest(Incident.model_construct(id=long_id, type="zz_custom"))
            last, more = suggest_many(engine, log, [f"INC-{n}" for n in range(5, 10)])
        assert not errors and not more and len(first) == len(last) == 5
        assert log.flush() == 11 - refused
        written = {d.incident["id"] for d in log.decisions()}
        wanted = {f"INC-{n}" for n in range(10)} | ({long_id} if not refused else set())
        assert written == wanted
        assert (log.health().refused, log.health().pending) == (refused, 0)
    with DecisionLog.open(store) as log, Engine(engine.playbooks, backend="python", log=log) as e:
        again = Incident.model_construct(id=long_id + "y", type="zz_custom")
        if refused:  # unbatched: the caller is told, and nothing is queued
            with pytest.raises(LogError, match="not logged"):
                e.suggest(again)
            assert log.health().pending == 0
        else:
            assert e.suggest(again).decision_id is not None


def test_a_refused_row_and_a_failing_store_in_one_batch(engine: Engine, store: str) -> None:
    """Written rows are not queued again, the refused one is counted, the rest waits."""
    seen: dict[str, list[int]] = {}
    down = threading.Event()

    def fault(rows: list[dict[str, Any]]) -> None:
        keys = [row["incident_key"] for row in rows]
        if "INC-POISON" in keys:
            raise ValueError("a value the database cannot hold")
        if down.is_set() and keys == ["INC-3"]:
            raise sqlite3.OperationalError("attempt to write a readonly database")
        for key in keys:
            seen.setdefault(key, []).append(len(rows))

    with DecisionLog.open(store, batch_size=100, max_delay=60) as log:
        undo = inject(log, fault)
        down.set()
        returned, errors = suggest_many(engine, log, ["INC-1", "INC-POISON", "INC-3", "INC-4"])
        assert not errors and len(returned) == 4
        with pytest.raises(LogError, match="is read-only"):
            log.flush()
        health = log.health()
        assert (health.ok, health.refused, health.pending) == (False, 1, 2)  # INC-3, INC-4
        down.clear()
        assert log.flush() == 2 and log.health().ok
        undo()
        written = {d.incident["id"]: d.views for d in log.decisions()}
        assert written == {"INC-1": 1, "INC-3": 1, "INC-4": 1}  # none written twice


def test_an_unvalidated_incident_with_a_surrogate_is_refused_alone(
    engine: Engine, store: str
) -> None:
    """A caller that skips validation (model_construct) cannot poison the batch either."""
    from cxplay.models import Incident

    bad = Incident.model_construct(id="INC-S", type="zz_custom", facts={"remark": "a\ud800b"})
    with DecisionLog.open(store, batch_size=5, max_delay=60) as log:
        with (
            Engine(engine.playbooks, backend="python", log=log) as recording,
            pytest.raises(LogError, match="not logged: the incident cannot be stored"),
        ):
            recording.suggest(bad)
        returned, errors = suggest_many(engine, log, ["INC-1", "INC-2"])
        assert not errors
        log.flush()
        assert logged_ids(log) == set(returned) and log.health().ok


# --------------------------------------------------------------------------- a killed process

#: A process that suggests with a batched log and says each decision id once it has it.
#: ``idle`` suggests a burst, waits ``wait`` seconds and says "idle" (then the parent kills
#: it); ``busy`` suggests until it is killed.
CHILD = """
import json, sys, time
from pathlib import Path
from cxplay import DecisionLog, Engine
store, mode, batch, delay, wait = sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4]), float(sys.argv[5])
base = json.loads(Path("examples/incidents/parcel_damaged.json").read_text("utf-8"))
log = DecisionLog.open(store, batch_size=batch, max_delay=delay)
engine = Engine.from_path(backend="python", log=log)
print("ready", flush=True)
n = 0
while True:
    n += 1
    suggestion = engine.suggest({**base, "id": f"KILL-{n}"})
    print(suggestion.decision_id, flush=True)
    if mode == "idle" and n == 3 * batch + 5:
        time.sleep(wait)
        print("idle", flush=True)
        time.sleep(600)
"""

ROOT = Path(__file__).resolve().parents[1]


def _killed_child(store: str, mode: str, *, batch: int, delay: float, after: int) -> list[str]:
    """Run CHILD until it said ``after`` ids (``idle``: until it said "idle"), kill -9 it."""
    import signal
    import subprocess
    import sys

    wait = 20 * delay
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, store, mode, str(batch), str(delay), str(wait)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    returned: list[str] = []
    try:
        assert child.stdout is not None
        assert child.stdout.readline().strip() == "ready"
        for line in child.stdout:
            line = line.strip()
            if line == "idle" or (mode == "busy" and len(returned) >= after):
                break
            returned.append(line)
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait(30)
        if child.stdout is not None:
            child.stdout.close()
    assert returned
    return returned


def test_a_killed_process_loses_nothing_older_than_the_batch_window(store: str) -> None:
    """docs/log.md, "On a crash": a decision returned more than ``max_delay`` before a kill -9
    is in the log; what a busy process loses is its queue (under 4 batches) and the rows of
    the transaction under way (under 4 batches too), and only the newest decisions."""
    batch, delay = 8, 0.05
    idle = _killed_child(store, "idle", batch=batch, delay=delay, after=0)
    with DecisionLog.open(store) as log:
        written = logged_ids(log)
    assert set(idle) <= written  # returned, then 20 x max_delay of quiet: all written

    busy = _killed_child(store, "busy", batch=batch, delay=delay, after=12 * batch)
    with DecisionLog.open(store) as log:
        written = logged_ids(log)
    lost = [d for d in busy if d not in written]
    # the queue (under 4 batches: past that the caller writes) and the rows the writer had
    # taken for its transaction (what was queued then: under 4 batches too)
    assert len(lost) < 8 * batch, (len(lost), len(busy))
    assert set(lost) <= set(busy[-(8 * batch) :])  # only the newest are lost
