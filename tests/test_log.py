"""The decision log: recording, outcomes, surveys, history, privacy, faults -- on SQLite and
PostgreSQL alike (the ``store`` fixture runs every test on both)."""

from __future__ import annotations

import json
import sqlite3
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import logstores
import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cxplay import DecisionLog, Engine, LogError
from cxplay._engine.durable import AVAILABLE as DURABLE
from cxplay._log import schema

store = logstores.store  # the fixture: every test below runs on SQLite and PostgreSQL
NOW = datetime(2026, 11, 20, 9, 0, tzinfo=timezone.utc)


def damaged(
    incident_id: str | None = "INC-1", customer: str | None = "C-1", **extra: Any
) -> dict[str, Any]:
    incident: dict[str, Any] = {
        "type": "parcel_damaged",
        "channel": "email",
        "occurred_at": NOW.isoformat(),
        "customer": {"name": "Anna Kowalska", "language": "pl"},
        "order": {"id": "PL-1", "value": 250.0, "currency": "PLN"},
        "facts": {"photos_attached": True},
    }
    if incident_id is not None:
        incident["id"] = incident_id
    if customer is not None:
        incident["customer"]["id"] = customer
    incident.update(extra)
    return incident


@pytest.fixture(scope="module")
def engine() -> Engine:
    return Engine.from_path(backend="python")


@pytest.fixture(scope="module")
def sqlite_log(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """One SQLite log for the property tests (hypothesis runs many examples per test)."""
    with DecisionLog.open(tmp_path_factory.mktemp("log") / "log.db") as opened:
        yield opened


@pytest.fixture
def log(store: str) -> Any:
    with DecisionLog.open(store) as opened:
        yield opened


def logged(
    engine: Engine, log: DecisionLog, incident: dict[str, Any], backend: str = "python"
) -> Any:
    """Suggest through an engine that shares the module's playbooks but records in ``log``."""
    with Engine(engine.playbooks, backend=backend, log=log) as recording:  # type: ignore[arg-type]
        return recording.suggest(incident)


suggest_with = logged


@pytest.fixture(params=["python", "durable"])
def backend(request: pytest.FixtureRequest) -> str:
    if request.param == "durable" and not DURABLE:
        pytest.skip("durable_rules does not import on this Python")
    return str(request.param)


# --------------------------------------------------------------------------- recording


def test_a_suggestion_is_recorded_with_its_decision_id(engine: Engine, log: DecisionLog) -> None:
    s = logged(engine, log, damaged())
    assert s.decision_id is not None
    (row,) = list(log.decisions())
    assert row.id == s.decision_id
    assert (row.type, row.customer_id, row.channel, row.language) == (
        "parcel_damaged",
        "C-1",
        "email",
        "pl",
    )
    assert [a["kind"] for a in row.actions] == [a.kind for a in s.actions]
    assert row.digest == engine.digest and len(row.digest) == 64
    assert row.playbooks == [p.ref for p in engine.playbooks.playbooks]
    assert row.backend == "python"
    assert row.respond_by == s.respond_by
    assert row.views == 1 and row.status is None


def test_the_callers_now_is_the_decisions_time(engine: Engine, log: DecisionLog) -> None:
    """A replay or a backfill passes ``now``: the log dates the decision then, not today."""
    at = NOW + timedelta(hours=3)
    with Engine(engine.playbooks, backend="python", log=log) as recording:  # type: ignore[arg-type]
        s = recording.suggest(damaged(), now=at)
    (row,) = list(log.decisions())
    assert row.id == s.decision_id
    assert row.created_at == at
    assert list(log.decisions(since=at + timedelta(seconds=1))) == []


def test_the_same_incident_twice_is_one_decision_seen_twice(
    engine: Engine, log: DecisionLog
) -> None:
    first = logged(engine, log, damaged())
    second = logged(engine, log, damaged())
    assert first.decision_id == second.decision_id
    (row,) = list(log.decisions())
    assert row.views == 2
    assert log.count() == 1


def test_the_same_id_with_other_content_is_another_decision(
    engine: Engine, log: DecisionLog
) -> None:
    """Issue 17, Medium-6: the outcome books the customer and amount the agent saw."""
    anna = logged(engine, log, damaged("INC-7", customer="C-ANNA"))
    other = damaged("INC-7", customer="C-PIOTR")
    other["order"]["value"] = 180.0
    piotr = logged(engine, log, other)
    assert anna.decision_id != piotr.decision_id and log.count() == 2
    log.outcome(piotr.decision_id, "accepted", at=NOW)
    assert log.history("C-PIOTR", NOW).amounts == {"PLN": 180.0}
    assert log.history("C-ANNA", NOW).compensations == 0
    log.outcome(anna.decision_id, "accepted", at=NOW)
    assert log.history("C-ANNA", NOW).amounts == {"PLN": 250.0}
    by_id = {d.id: d for d in log.decisions()}
    assert by_id[piotr.decision_id].customer_id == "C-PIOTR"
    assert by_id[piotr.decision_id].incident["order"]["value"] == 180.0
    assert by_id[anna.decision_id].customer_id == "C-ANNA"
    # the same content again, its facts in another order, is the same decision seen again
    facts = damaged("INC-8", facts={"photos_attached": True, "delay_days": 2})
    again = damaged("INC-8", facts={"delay_days": 2, "photos_attached": True})
    assert logged(engine, log, facts).decision_id == logged(engine, log, again).decision_id
    assert log.count() == 3


def test_incidents_without_an_id_are_never_merged(engine: Engine, log: DecisionLog) -> None:
    ids = {logged(engine, log, damaged(incident_id=None)).decision_id for _ in range(3)}
    assert len(ids) == 3 and log.count() == 3


def test_other_playbooks_make_another_decision(
    engine: Engine, log: DecisionLog, tmp_path: Path
) -> None:
    first = logged(engine, log, damaged())
    book = tmp_path / "book"
    book.mkdir()
    (book / "one.toml").write_text(
        '[playbook]\nid = "one"\nversion = "1.0.0"\ntitle = "One"\n\n'
        '[[rule]]\nid = "one.apologise"\nwhen = "type == \'parcel_damaged\'"\n'
        'actions = [{ kind = "apology" }]\n',
        encoding="utf-8",
    )
    with Engine.from_path(book, backend="python", log=log) as other:
        second = other.suggest(damaged())
    assert second.decision_id != first.decision_id
    assert log.count() == 2


def test_without_a_log_the_contract_is_unchanged(engine: Engine) -> None:
    data = engine.suggest(damaged()).model_dump(mode="json")
    assert data["decision_id"] is None
    assert data["history"] is None


def test_an_engine_opens_and_closes_a_log_given_by_path(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "log.db"
    with Engine.from_path(backend="python", log=path) as engine:
        s = engine.suggest(damaged())
    with DecisionLog.open(path) as log:
        assert [d.id for d in log.decisions()] == [s.decision_id]


def test_batched_decisions_are_written_by_flush_and_close(engine: Engine, store: str) -> None:
    with DecisionLog.open(store, batch_size=50, max_delay=60) as log:
        ids = [logged(engine, log, damaged(incident_id=f"B-{n}")).decision_id for n in range(7)]
        logged(engine, log, damaged(incident_id="B-0"))
        with DecisionLog.open(store) as other:
            assert other.count() == 0  # still in the batch
        assert log.flush() == 8
    with DecisionLog.open(store) as log:
        rows = {d.id: d.views for d in log.decisions()}
    assert set(rows) == set(ids) and rows[ids[0]] == 2


# --------------------------------------------------------------------------- outcomes


def test_outcome_defaults_to_the_suggested_actions_and_costs(
    engine: Engine, log: DecisionLog
) -> None:
    s = logged(engine, log, damaged())
    done = log.outcome(s.decision_id, "accepted", at=NOW + timedelta(minutes=30))
    assert done.actions == tuple(dict.fromkeys(a.kind for a in s.actions))
    refund = next(a for a in s.actions if a.kind == "refund")
    assert ("refund", 250.0, "PLN", refund.rule) in [
        (g.kind, g.amount, g.currency, g.rule) for g in done.given
    ]
    assert not done.replaced
    (row,) = list(log.decisions())
    assert row.status == "accepted"
    assert row.first_response_s == 30 * 60
    assert row.on_time is True  # e-mail: within 2 hours


def test_outcome_twice_last_wins_and_history_is_kept(engine: Engine, log: DecisionLog) -> None:
    s = logged(engine, log, damaged())
    log.outcome(s.decision_id, "accepted", at=NOW + timedelta(hours=3))
    done = log.outcome(
        s.decision_id,
        "edited",
        actions=["apology"],
        given={"refund": (120, "PLN")},
        note="half",
        at=NOW + timedelta(hours=4),
    )
    assert done.replaced
    assert done.actions == ("apology", "refund")
    (row,) = list(log.decisions())
    assert row.status == "edited"
    assert [o["status"] for o in row.outcomes] == ["accepted", "edited"]
    assert row.outcomes[1]["given"][0]["amount"] == 120
    assert row.first_response_s == 3 * 3600 and row.on_time is False  # the first one counts
    history = log.history("C-1", NOW + timedelta(days=1))
    assert (history.compensations, history.amounts) == (1, {"PLN": 120.0})


def test_rejected_gives_nothing(engine: Engine, log: DecisionLog) -> None:
    s = logged(engine, log, damaged())
    log.outcome(s.decision_id, "accepted", at=NOW)
    log.outcome(s.decision_id, "rejected", at=NOW)
    assert log.history("C-1", NOW + timedelta(days=1)).compensations == 0
    with pytest.raises(LogError, match="a rejected suggestion has no actions"):
        log.outcome(s.decision_id, "rejected", actions=["refund"])


NOT_AMOUNTS = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True).filter(lambda x: not (0 <= x <= 2.0**53)),
    st.integers(min_value=2**53 + 1),
    st.integers(max_value=-1),
    st.text(max_size=5),
    st.booleans(),
    st.none(),
    st.lists(st.integers(), max_size=2),
)
NOT_CURRENCIES = st.one_of(
    st.sampled_from(["BTC", "XXX", "XAU", "pln", "EURO", "", "ZZZ", "E€R"]),
    st.text(max_size=4).filter(lambda c: c not in {"PLN", "EUR", "USD", "GBP", "UAH"}),
)


@settings(
    max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(amount=NOT_AMOUNTS, currency=NOT_CURRENCIES, kind=st.sampled_from(["refund", "gesture"]))
def test_outcome_money_is_checked_like_an_incidents(
    engine: Engine, sqlite_log: DecisionLog, amount: Any, currency: str, kind: str
) -> None:
    """Issue 17, Medium-7: never inf, a word, a bool or an unknown currency in the log."""
    decision = logged(engine, sqlite_log, damaged("M-1")).decision_id
    for value in (amount, (amount, "PLN"), (12.5, currency)):
        with pytest.raises(LogError, match=rf"^given {kind}: "):
            sqlite_log.outcome(decision, "edited", given={kind: value})
    record = sqlite_log.outcome(decision, "edited", given={kind: (12.5, "EUR")})
    assert (kind, 12.5, "EUR") in [(g.kind, g.amount, g.currency) for g in record.given]


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda log, d: log.outcome("f" * 32, "accepted"), "unknown decision id 'ffff"),
        (
            lambda log, d: log.outcome(d, "acepted"),
            "unknown outcome 'acepted'.*did you mean 'accepted'",
        ),
        (
            lambda log, d: log.outcome(d, "edited", actions=["refnud"]),
            "unknown action kind 'refnud'; did you mean 'refund'",
        ),
        (lambda log, d: log.outcome(d, "edited", given={"refund": -5}), "from 0 to"),
        (lambda log, d: log.feedback(d, csat=6), "csat must be a whole number from 1 to 5, not 6"),
        (lambda log, d: log.feedback(d, nps=-1), "nps must be a whole number from 0 to 10"),
        (lambda log, d: log.feedback(d, ces=True), "ces must be a whole number from 1 to 7"),
        (lambda log, d: log.feedback(d), "give at least one survey score"),
        (lambda log, d: log.feedback("nope", csat=3), "unknown decision id 'nope'"),
    ],
)
def test_bad_outcomes_and_scores_are_refused(
    engine: Engine, log: DecisionLog, call: Any, message: str
) -> None:
    s = logged(engine, log, damaged())
    with pytest.raises(LogError, match=message):
        call(log, s.decision_id)
    (row,) = list(log.decisions())
    assert (row.status, row.csat, row.nps, row.ces, row.outcomes) == (None, None, None, None, [])


def test_a_unique_prefix_names_a_decision(engine: Engine, log: DecisionLog) -> None:
    s = logged(engine, log, damaged())
    assert log.outcome(s.decision_id[:8], "accepted").decision_id == s.decision_id


def test_feedback_keeps_the_latest_of_each_score(engine: Engine, log: DecisionLog) -> None:
    s = logged(engine, log, damaged())
    log.feedback(s.decision_id, csat=2)
    log.feedback(s.decision_id, csat=5, nps=9)
    log.feedback(s.decision_id, ces=3)
    (row,) = list(log.decisions())
    assert (row.csat, row.nps, row.ces) == (5, 9, 3)


# --------------------------------------------------------------------------- history


def test_history_from_the_log_feeds_the_repeat_claimant_guard(
    engine: Engine, log: DecisionLog, backend: str
) -> None:
    def logged(engine: Engine, log: DecisionLog, incident: dict[str, Any]) -> Any:
        return suggest_with(engine, log, incident, backend)

    first = logged(engine, log, damaged("H-0"))
    assert first.history is not None and first.history.source == "log"
    assert first.history.compensations_90d == 0
    assert not any(a.requires_approval for a in first.actions if a.kind == "refund")
    for n in range(3):  # parcel: repeat_claimant_after = 2
        s = logged(
            engine, log, damaged(f"H-{n}", occurred_at=(NOW + timedelta(days=n)).isoformat())
        )
        log.outcome(s.decision_id, "accepted", at=NOW + timedelta(days=n))
    later = damaged("H-9", occurred_at=(NOW + timedelta(days=10)).isoformat())
    s = logged(engine, log, later)
    assert s.history is not None
    assert s.history.model_dump(mode="json") == {
        "source": "log",
        "compensations_90d": 3,
        "amounts_90d": [{"amount": 750.0, "currency": "PLN"}],
    }
    assert all(a.requires_approval for a in s.actions if a.kind == "refund")
    # the caller's number always wins
    given = damaged("H-10", customer=None)
    given["customer"].update(id="C-1", compensations_90d=0)
    s = logged(engine, log, given)
    assert s.history is not None and s.history.source == "incident"
    assert not any(a.requires_approval for a in s.actions if a.kind == "refund")
    # 90 days later, the compensations have aged out
    aged = logged(engine, log, damaged("H-11", occurred_at=(NOW + timedelta(days=95)).isoformat()))
    assert aged.history is not None and aged.history.compensations_90d == 0


def test_history_is_never_stale_across_logs(engine: Engine, store: str) -> None:
    """With ``history_refresh=0`` another process's outcome counts at once.

    Two logs on one store stand for two processes (``tests/test_log_refresh.py`` has the
    default refresh). On PostgreSQL the look-up runs as a
    statement prepared per connection; one dropped under it (``DEALLOCATE ALL``) is
    answered by the cursor, then prepared again.
    """
    later = NOW + timedelta(days=1)
    with DecisionLog.open(store, history_refresh=0) as mine, DecisionLog.open(store) as theirs:
        assert mine.history("C-1", later).compensations == 0
        s = logged(engine, theirs, damaged("X-1"))
        theirs.outcome(s.decision_id, "accepted", at=NOW)
        seen = mine.history("C-1", later)
        assert (seen.compensations, seen.amounts) == (1, {"PLN": 250.0})
        if mine._fast is not None and mine.url.get_backend_name() == "postgresql":
            (raw,) = mine._fast._free
            # prepared, and the connection's encoding kept beside the mark
            assert raw.info.get(b"cxplay_history_1") == raw.driver_connection.info.encoding
            raw.driver_connection.execute("DEALLOCATE ALL")
            for _ in range(2):  # the cursor's answer, then the statement prepared again
                seen = mine.history("C-1", later)
                assert (seen.compensations, seen.amounts) == (1, {"PLN": 250.0})
            assert raw.info.get(b"cxplay_history_1") == raw.driver_connection.info.encoding
        theirs.forget("C-1")
        assert mine.history("C-1", later).compensations == 0
        # text beyond ASCII goes to the server and comes back as it was
        s = logged(engine, theirs, damaged("X-2", customer="Клієнт-ł"))
        theirs.outcome(s.decision_id, "accepted", at=NOW)
        seen = mine.history("Клієнт-ł", later)
        assert (seen.compensations, seen.amounts) == (1, {"PLN": 250.0})


def test_a_history_made_without_init_is_the_dataclass() -> None:
    """``_history`` sets CustomerHistory's fields at once: equal to the constructor's, field
    by field (a field added to the class must be added there too), and still frozen."""
    import dataclasses

    from cxplay._log.records import CustomerHistory, _history, summed_history

    values = ("C-1", 2, {"PLN": 10.5, None: 1.0}, NOW - timedelta(days=90), NOW, 90)
    made, built = CustomerHistory(*values), _history(*values)
    assert type(built) is CustomerHistory and built == made and repr(built) == repr(made)
    assert built.__dict__ == made.__dict__
    assert list(built.__dict__) == [f.name for f in dataclasses.fields(CustomerHistory)]
    assert not hasattr(CustomerHistory, "__post_init__")
    with pytest.raises(dataclasses.FrozenInstanceError):
        built.compensations = 3  # type: ignore[misc]
    rows = [("d-1", "PLN", 10.25), ("d-1", "EUR", 1.0), ("d-2", None, None), ("d-3", "PLN", 0.25)]
    summed = summed_history("C-1", rows, NOW - timedelta(days=90), NOW, 90)
    assert summed == CustomerHistory(
        "C-1", 3, {"EUR": 1.0, "PLN": 10.5}, NOW - timedelta(days=90), NOW, 90
    )


def test_the_libpq_statuses_are_psycopgs() -> None:
    pq = pytest.importorskip("psycopg.pq")
    from cxplay._log import pgparams

    assert (pgparams.COMMAND_OK, pgparams.TUPLES_OK) == (
        pq.ExecStatus.COMMAND_OK,
        pq.ExecStatus.TUPLES_OK,
    )


#: floors for the history cache's entries: after every time stored, before every one
_LATEST = datetime(9999, 1, 1, tzinfo=timezone.utc)
_EARLIEST = datetime(1, 1, 2, tzinfo=timezone.utc)


def _token(log: DecisionLog) -> int | None:
    """The change token of ``cxplay_given``; None on PostgreSQL, which keeps none."""
    with log.connection() as conn:
        token = conn.execute(
            sa.select(schema.change.c.token).where(schema.change.c.name == "given")
        ).scalar_one_or_none()
    if log.url.get_backend_name() == "postgresql":
        assert token is None  # no row, no trigger: writers never wait on one counter
        return None
    assert token is not None
    return int(token)


def test_every_change_to_the_compensations_changes_the_token(engine: Engine, store: str) -> None:
    """The triggers of revision ``given_changes``: outcome, replaced outcome, forget, prune,
    and SQL by hand all change it, in the writing transaction; decisions do not.
    PostgreSQL keeps no token (each look-up asks the server)."""
    with DecisionLog.open(store) as log:
        start = _token(log)
        if start is None:
            s = logged(engine, log, damaged("T-1"))
            log.outcome(s.decision_id, "accepted", at=NOW)
            assert _token(log) is None
            assert log.history("C-1", NOW + timedelta(days=1)).compensations == 1
            return
        s = logged(engine, log, damaged("T-1"))
        assert _token(log) == start  # a decision is no compensation
        seen = [start]
        log.outcome(s.decision_id, "accepted", at=NOW)
        seen.append(_token(log))
        log.outcome(s.decision_id, "rejected", at=NOW)  # its compensation deleted
        seen.append(_token(log))
        log.outcome(s.decision_id, "accepted", at=NOW)
        log.forget("C-1")
        seen.append(_token(log))
        with log.connection() as conn:  # by hand, in a transaction rolled back: no change
            conn.execute(sa.text("UPDATE cxplay_given SET amount = 1"))
            conn.rollback()
        assert _token(log) == seen[-1]
        with log.connection() as conn:
            conn.execute(sa.text("UPDATE cxplay_given SET amount = 1"))
        seen.append(_token(log))
        assert log.prune(0, now=NOW + timedelta(days=400)) == 1
        seen.append(_token(log))
        assert len(set(seen)) == len(seen), seen


def test_the_history_cache_is_exact(engine: Engine, store: str, tmp_path: Path) -> None:
    """SQLite keeps a customer's compensation rows while the change token stays the same:
    another process's outcome, a hand-made change, a window reaching back further, a row
    whose time is not text and a token row deleted by hand are all answered as the store
    would, never from a stale copy (``history_refresh=0``: the token read every time)."""
    later = NOW + timedelta(days=1)
    with DecisionLog.open(store, history_refresh=0) as mine, DecisionLog.open(store) as theirs:
        s = logged(engine, theirs, damaged("K-1"))
        theirs.outcome(s.decision_id, "accepted", at=NOW)
        assert mine.history("C-1", later).compensations == 1
        histories = getattr(mine._fast, "histories", None)
        if histories is None:
            assert mine.url.get_backend_name() == "postgresql"  # read every time
        else:
            assert histories.get(_token(theirs), "C-1", _LATEST) is not None  # kept
        assert mine.history("C-1", later).compensations == 1  # the same, from the copy
        # window: aged out, then reaching back again (an earlier now: read again)
        assert mine.history("C-1", NOW + timedelta(days=91)).compensations == 0
        assert mine.history("C-1", NOW + timedelta(seconds=1)).compensations == 1
        assert mine.history("C-1", NOW).compensations == 1  # (since, until]
        assert mine.history("C-1", NOW - timedelta(microseconds=1)).compensations == 0
        # another process: a second compensation, then an amount changed by hand
        s = logged(engine, theirs, damaged("K-2"))
        theirs.outcome(s.decision_id, "accepted", at=NOW)
        seen = mine.history("C-1", later)
        assert (seen.compensations, seen.amounts) == (2, {"PLN": 500.0})
        with theirs.connection() as conn:
            conn.execute(sa.text("UPDATE cxplay_given SET amount = amount + 1"))
        assert mine.history("C-1", later).amounts == {"PLN": 502.0}
        if histories is None:
            return
        # SQLite only: a time stored by hand as a number (SQLite orders numbers before
        # text) is never kept, and is answered as SQL compares it
        raw = sqlite3.connect(str(tmp_path / "log.db"), isolation_level=None)
        raw.execute("UPDATE cxplay_given SET at = 20261120 WHERE decision_id = ?", (s.decision_id,))
        assert mine.history("C-1", later).compensations == 1
        assert histories.get(_token(theirs), "C-1", _EARLIEST) is None
        # no token row (deleted by hand): every look-up in SQL
        raw.execute("DELETE FROM cxplay_change")
        raw.execute("UPDATE cxplay_given SET at = '2026-11-20 09:00:00.000000'")
        assert mine.history("C-1", later).compensations == 2
        raw.execute("DELETE FROM cxplay_given WHERE decision_id = ?", (s.decision_id,))
        assert mine.history("C-1", later).compensations == 1
        raw.close()


def test_a_batch_not_yet_written_counts_as_before(engine: Engine, store: str) -> None:
    """Queued decisions have no outcome, so they never counted in a history; an outcome
    writes the batch first and counts at once, with the history kept or not."""
    later = NOW + timedelta(days=1)
    with (
        DecisionLog.open(store, batch_size=1000, max_delay=60) as log,
        Engine(engine.playbooks, backend="python", log=log) as recording,  # type: ignore[arg-type]
    ):
        first = recording.suggest(damaged("B-1"))
        recording.suggest(damaged("B-2"))
        assert log.health().pending == 2
        assert log.history("C-1", later).compensations == 0
        log.outcome(first.decision_id, "accepted", at=NOW)
        assert log.health().pending == 0
        assert log.history("C-1", later).compensations == 1
        third = recording.suggest(damaged("B-3"))
        assert third.history is not None and third.history.compensations_90d == 1
        assert log.health().pending == 1


#: compensation rows' times and the windows' ends: a few moments (so that windows start and
#: end exactly on rows), each also a microsecond later
_MOMENTS = st.builds(
    lambda day, micro: NOW + timedelta(days=day, microseconds=micro),
    st.sampled_from([-120, -90, -1, 0]),
    st.sampled_from([0, 1]),
)
_ZONES = st.sampled_from(
    [timezone.utc, timezone(timedelta(hours=1)), timezone(timedelta(hours=-7, minutes=-30))]
)
_CUSTOMERS = st.sampled_from(["C-1", "C-2", "Ł-3"])
#: a look-up's now: a moment, or 90 days after one (the window starts on it), give or take
#: a microsecond, in some UTC offset
_NOWS = st.builds(
    lambda moment, later, micro, zone: (
        moment + timedelta(days=later, microseconds=micro)
    ).astimezone(zone),
    _MOMENTS,
    st.sampled_from([0, 90]),
    st.sampled_from([-1, 0, 1]),
    _ZONES,
)
_STEPS = st.lists(
    st.one_of(
        st.tuples(
            st.just("give"),
            _CUSTOMERS,
            _MOMENTS,
            st.sampled_from([None, 0.5, 10.0, 249.75]),
            st.sampled_from(["PLN", "EUR", None]),
        ),
        st.tuples(st.just("take"), _CUSTOMERS),
        # several look-ups in a row, no change between them: the cache answers
        st.tuples(st.just("ask"), _CUSTOMERS, st.lists(_NOWS, min_size=1, max_size=4)),
    ),
    max_size=30,
)


@pytest.fixture(scope="module")
def sqlite_pair(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """A SQLite log with the history cache, the same file through SQLAlchemy's Core only
    (the reference), and a plain connection that writes as another process would."""
    path = tmp_path_factory.mktemp("histories") / "log.db"
    with DecisionLog.open(path, history_refresh=0) as cached, DecisionLog.open(path) as core:
        assert cached._fast is not None and hasattr(cached._fast, "histories")
        core._fast = None  # every look-up through the Core's SQL
        other = sqlite3.connect(str(path), isolation_level=None)
        try:
            yield cached, core, other
        finally:
            other.close()


@settings(max_examples=200, deadline=None)
@given(steps=_STEPS)
def test_cached_histories_equal_the_sql_answer(sqlite_pair: Any, steps: list[Any]) -> None:
    """Differential: on generated compensations, changed by another connection between
    look-ups, every look-up from the cache (windows anywhere, ending or starting exactly
    on a row or a microsecond off, in other UTC offsets, moving back and forth) equals
    what SQL answers."""
    from cxplay._log.fast import sqlite_time

    cached, core, other = sqlite_pair
    other.execute("DELETE FROM cxplay_given")
    serial = 0
    for step in steps:
        if step[0] == "give":
            _, customer, at, amount, currency = step
            serial += 1
            other.execute(
                "INSERT INTO cxplay_given (decision_id, customer_id, kind, amount, currency, at)"
                " VALUES (?, ?, 'refund', ?, ?, ?)",
                (f"d-{serial % 4}", customer, amount, currency, sqlite_time(at)),
            )
        elif step[0] == "take":
            other.execute(
                "DELETE FROM cxplay_given WHERE id = "
                "(SELECT max(id) FROM cxplay_given WHERE customer_id = ?)",
                (step[1],),
            )
        else:
            _, customer, nows = step
            for now in nows:
                seen = cached.history(customer, now)
                expected = core.history(customer, now)
                assert (seen.compensations, seen.amounts) == (
                    expected.compensations,
                    expected.amounts,
                ), (customer, now)
                assert (seen.since, seen.until) == (expected.since, expected.until)


def test_the_cache_keeps_a_bounded_number_of_customers() -> None:
    from cxplay._log.fast import Histories

    kept = Histories(limit=2)
    x, w = NOW, NOW - timedelta(microseconds=1)
    assert kept.get(1, "A", x) is None  # the first token: nothing kept
    for customer in "ABC":
        kept.put(1, customer, x, [("d", None, None, "y")])
    assert kept.get(1, "A", x) is None  # the oldest went
    assert kept.get(1, "C", x) == [("d", None, None, "y")]
    assert kept.get(1, "C", x + timedelta(days=1)) == [("d", None, None, "y")]  # a later one
    assert kept.get(1, "C", w) is None  # a floor further back: read again
    kept.put(0, "D", x, [])  # read under an older token: not kept
    assert kept.get(1, "D", x) is None
    assert kept.get(2, "C", x) is None  # another token: everything goes
    assert kept.get(2, "C", x) is None


def test_both_backends_make_the_same_decision(engine: Engine, log: DecisionLog) -> None:
    if not DURABLE:
        pytest.skip("durable_rules does not import on this Python")
    by_durable = logged(engine, log, damaged(), "durable")
    by_python = logged(engine, log, damaged(), "python")
    assert by_durable.decision_id == by_python.decision_id
    assert by_durable.model_dump(exclude={"reply"}) == by_python.model_dump(exclude={"reply"})
    (row,) = list(log.decisions())
    assert (row.views, row.backend) == (2, "durable")


ONE = (
    '[playbook]\nid = "one"\nversion = "1.0.0"\ntitle = "One"\n{policy}\n'
    '[[rule]]\nid = "one.refund"\nwhen = "type == \'parcel_damaged\'"\n'
    'actions = [{{ kind = "refund", amount = 10 }}]\n'
)


def test_no_guard_no_look_up(store: str, tmp_path: Path) -> None:
    class Refusing(DecisionLog):
        def history(self, *args: Any, **kwargs: Any) -> Any:
            raise AssertionError("no matched playbook has a repeat-claimant guard")

    (tmp_path / "one.toml").write_text(ONE.format(policy=""), encoding="utf-8")
    with (
        Refusing.open(store) as log,
        Engine.from_path(tmp_path, backend="python", log=log) as engine,
    ):
        s = engine.suggest(damaged())
        assert s.history is None and s.decision_id is not None
    (tmp_path / "one.toml").write_text(
        ONE.format(policy="\n[policy]\nrepeat_claimant_after = 1\n"), encoding="utf-8"
    )
    with (
        DecisionLog.open(store) as log,
        Engine.from_path(tmp_path, backend="python", log=log) as engine,
    ):
        s = engine.suggest(damaged())
        assert s.history is not None and s.history.source == "log"


def test_a_look_up_started_early_is_dropped_when_no_matched_playbook_has_a_guard(
    store: str, tmp_path: Path
) -> None:
    """The look-up starts before matching (some playbook has a guard) and is dropped after
    it when the matched one has none: no history, and its connection is given back."""
    (tmp_path / "one.toml").write_text(ONE.format(policy=""), encoding="utf-8")
    (tmp_path / "two.toml").write_text(
        ONE.format(policy="\n[policy]\nrepeat_claimant_after = 1\n")
        .replace('id = "one"', 'id = "two"')
        .replace("one.refund", "two.refund")
        .replace("parcel_damaged", "parcel_lost"),
        encoding="utf-8",
    )
    with (
        DecisionLog.open(store) as log,
        Engine.from_path(tmp_path, backend="python", log=log) as engine,
    ):
        for n in range(5):
            s = engine.suggest(damaged(f"D-{n}"))
            assert s.history is None and s.decision_id is not None
            lost = engine.suggest(damaged(f"L-{n}", type="parcel_lost"))
            assert lost.history is not None and lost.history.source == "log"
        if log._fast is not None:  # every borrowed connection is back
            fast = log._fast
            readers = len(getattr(fast, "_readers", ()))  # SQLite's look-ups: their own
            assert log._engine.pool.checkedout() == len(fast._free) + readers  # type: ignore[attr-defined]
            assert len(fast._free) + readers <= 2


def test_a_condition_on_the_count_reads_the_log_first(store: str, tmp_path: Path) -> None:
    book = tmp_path / "book"
    book.mkdir()
    (book / "one.toml").write_text(
        '[playbook]\nid = "one"\nversion = "1.0.0"\ntitle = "One"\n\n'
        '[[rule]]\nid = "one.refund"\nwhen = "type == \'parcel_damaged\'"\n'
        'actions = [{ kind = "refund", amount = 10 }]\n\n'
        '[[rule]]\nid = "one.again"\nwhen = "type == \'parcel_damaged\' and customer.compensations_90d >= 1"\n'
        'actions = [{ kind = "escalate", to = "team_lead" }]\n',
        encoding="utf-8",
    )
    with (
        DecisionLog.open(store) as log,
        Engine.from_path(book, backend="python", log=log) as engine,
    ):
        first = engine.suggest(damaged("A-1"))
        assert [a.kind for a in first.actions] == ["refund"]
        log.outcome(first.decision_id, "accepted", at=NOW)
        again = engine.suggest(damaged("A-2", occurred_at=(NOW + timedelta(days=1)).isoformat()))
        assert [a.kind for a in again.actions] == ["refund", "escalate"]
        assert again.history is not None and (
            again.history.source,
            again.history.compensations_90d,
        ) == ("log", 1)


def test_no_customer_id_no_history(engine: Engine, log: DecisionLog) -> None:
    s = logged(engine, log, damaged(customer=None))
    assert s.history is None and s.decision_id is not None


# --------------------------------------------------------------------------- privacy


def test_contact_details_are_never_stored(engine: Engine, log: DecisionLog) -> None:
    incident = damaged(
        description="Call me on +48 600 100 200 or write to anna@example.pl, order from 2026-11-02"
    )
    incident["facts"].update(
        contact_email="anna@example.pl", phone_number="600100200", delay_days=2
    )
    s = logged(engine, log, incident)
    log.outcome(s.decision_id, "accepted", note="rang +44 20 7946 0958, mail j.doe@example.com")
    (row,) = list(log.decisions())
    text = json.dumps(row.as_dict())
    for secret in ("600 100 200", "anna@example.pl", "600100200", "7946", "j.doe@example.com"):
        assert secret not in text
    assert (
        row.incident["description"]
        == "Call me on [phone] or write to [email], order from 2026-11-02"
    )
    assert row.incident["facts"]["contact_email"] == "[masked]"
    assert row.incident["facts"]["phone_number"] == "[masked]"
    assert row.incident["facts"]["delay_days"] == 2
    assert row.outcomes[0]["note"] == "rang [phone], mail [email]"


def test_a_custom_mask_hides_more(engine: Engine, store: str) -> None:
    with DecisionLog.open(store, mask=("customer.name", "order.*")) as log:
        logged(engine, log, damaged())
        (row,) = list(log.decisions())
    assert row.incident["customer"]["name"] == "[masked]"
    assert row.incident["order"] == {"id": "[masked]", "value": "[masked]", "currency": "[masked]"}


def test_forget_erases_the_person_and_keeps_the_counts(engine: Engine, log: DecisionLog) -> None:
    s = logged(engine, log, damaged(description="parcel crushed"))
    log.outcome(s.decision_id, "accepted", note="Anna was upset", at=NOW)
    log.feedback(s.decision_id, csat=4)
    other = logged(engine, log, damaged("INC-2", customer="C-2"))
    assert log.forget("C-1") == 1
    rows = {d.id: d for d in log.decisions()}
    row = rows[s.decision_id]
    assert row.forgotten and row.customer_id is None
    text = json.dumps(row.as_dict())
    for secret in ("Anna", '"C-1"', "PL-1", "crushed", "upset"):
        assert secret not in text
    assert (row.status, row.csat, row.type, len(row.actions)) == (
        "accepted",
        4,
        "parcel_damaged",
        len(s.actions),
    )
    assert row.incident["order"] == {"value": 250.0, "currency": "PLN"}
    assert log.history("C-1", NOW + timedelta(days=1)).compensations == 0
    assert rows[other.decision_id].customer_id == "C-2"
    assert log.forget("C-unknown") == 0


def test_prune_deletes_old_decisions_and_their_outcomes(engine: Engine, log: DecisionLog) -> None:
    old = logged(engine, log, damaged("OLD"))
    log.outcome(old.decision_id, "accepted")
    log.feedback(old.decision_id, csat=3)
    with log.connection() as conn:  # age it
        conn.execute(
            schema.decision.update().values(
                created_at=datetime.now(timezone.utc) - timedelta(days=40)
            )
        )
    new = logged(engine, log, damaged("NEW"))
    assert log.prune(30) == 1
    assert [d.id for d in log.decisions()] == [new.decision_id]
    with log.connection() as conn:
        for table in (schema.outcome, schema.feedback, schema.given):
            ids = {r[0] for r in conn.execute(sa.select(table.c.decision_id))}
            assert old.decision_id not in ids


# --------------------------------------------------------------------------- reading


def test_decisions_between_dates(engine: Engine, log: DecisionLog) -> None:
    s = logged(engine, log, damaged())
    now = datetime.now(timezone.utc)
    assert [d.id for d in log.decisions(since=now - timedelta(minutes=5))] == [s.decision_id]
    assert list(log.decisions(until=now - timedelta(minutes=5))) == []


def test_decisions_come_in_chunks_without_loss(engine: Engine, log: DecisionLog) -> None:
    ids = {logged(engine, log, damaged(f"C-{n}")).decision_id for n in range(25)}
    assert {d.id for d in log.decisions(chunk=4)} == ids


# --------------------------------------------------------------------------- schema and faults


def test_the_migrations_make_exactly_the_tables_of_the_schema(store: str) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    with DecisionLog.open(store) as log, log.connection() as conn:
        context = MigrationContext.configure(conn, opts={"version_table": schema.VERSION_TABLE})
        assert compare_metadata(context, schema.metadata) == []


def test_the_revisions_known_are_alembics(tmp_path: Path) -> None:
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    import cxplay._log.store as store_module

    config = Config()
    config.set_main_option(
        "script_location", str(Path(store_module.__file__).parent / "migrations")
    )
    scripts = ScriptDirectory.from_config(config)
    assert scripts.get_heads() == [schema.HEAD]
    assert [s.revision for s in reversed(list(scripts.walk_revisions()))] == list(schema.REVISIONS)


def test_a_store_from_a_newer_cxplay_is_refused(store: str) -> None:
    with DecisionLog.open(store) as log, log.connection() as conn:
        conn.execute(sa.text(f"UPDATE {schema.VERSION_TABLE} SET version_num = '0099'"))
    with pytest.raises(
        LogError,
        match=rf"written by a newer cxplay \(schema version 0099; this cxplay knows up to "
        rf"{schema.HEAD}\)",
    ):
        DecisionLog.open(store)


def test_an_older_store_is_refused_until_migrated(store: str, engine: Engine) -> None:
    from alembic import command
    from alembic.config import Config

    import cxplay._log.store as store_module

    with DecisionLog.open(store, check=False) as log, log._write() as conn:
        config = Config()
        config.set_main_option(
            "script_location", str(Path(store_module.__file__).parent / "migrations")
        )
        config.attributes["connection"] = conn
        command.upgrade(config, "0001")  # as an older cxplay left it
    with pytest.raises(
        LogError,
        match=rf"has schema version 0001, this cxplay needs {schema.HEAD}: run 'cxplay log "
        "migrate' first",
    ):
        DecisionLog.open(store)
    with DecisionLog.open(store, check=False) as log:
        assert log.migrate() == ("0001", schema.HEAD)
    with DecisionLog.open(store) as log:
        assert logged(engine, log, damaged()).decision_id is not None
        with log.connection() as conn:
            assert "cxplay_decision_customer" not in {
                i["name"] for i in sa.inspect(conn).get_indexes("cxplay_decision")
            }


def test_the_change_token_migrates_down_and_up(store: str, engine: Engine) -> None:
    """Revision ``given_changes`` on a store with compensations: its table and triggers go
    with a downgrade and come back with the token counting again."""
    from alembic import command
    from alembic.config import Config

    import cxplay._log.store as store_module

    with DecisionLog.open(store) as log:
        s = logged(engine, log, damaged())
        log.outcome(s.decision_id, "accepted", at=NOW)
    config = Config()
    config.set_main_option(
        "script_location", str(Path(store_module.__file__).parent / "migrations")
    )
    with DecisionLog.open(store, check=False) as log, log._write() as conn:
        config.attributes["connection"] = conn
        command.downgrade(config, "customer_history")
        assert not sa.inspect(conn).has_table("cxplay_change")
        conn.execute(sa.text("UPDATE cxplay_given SET amount = 1"))  # no trigger left
    with DecisionLog.open(store, check=False) as log:
        assert log.migrate() == ("customer_history", schema.HEAD)
    with DecisionLog.open(store) as log:
        start = _token(log)
        log.outcome(s.decision_id, "rejected", at=NOW)
        assert _token(log) != start or start is None
        assert log.history("C-1", NOW + timedelta(days=1)).compensations == 0


def test_an_empty_store_is_not_migrated_when_told_not_to(store: str) -> None:
    with pytest.raises(LogError, match="is empty: run 'cxplay log migrate' first"):
        DecisionLog.open(store, migrate=False)
    with DecisionLog.open(store, check=False) as log:
        assert log.version() is None
        assert log.migrate() == (None, schema.HEAD)
        assert log.migrate() == (schema.HEAD, schema.HEAD)
        log.check()


def test_a_locked_sqlite_file_is_a_clear_error_and_nothing_is_lost(
    engine: Engine, tmp_path: Path
) -> None:
    path = tmp_path / "log.db"
    with DecisionLog.open(path, timeout=0.2) as log:
        holder = sqlite3.connect(path, isolation_level=None)
        holder.execute("BEGIN IMMEDIATE")
        with pytest.raises(LogError, match=r"is locked by another process \(waited 0.2 s\)"):
            logged(engine, log, damaged())
        holder.execute("ROLLBACK")
        holder.close()
        assert log.count() == 1  # the decision waited and was written


def test_a_read_only_sqlite_file_is_a_clear_error(engine: Engine, tmp_path: Path) -> None:
    path = tmp_path / "log.db"
    with DecisionLog.open(path):
        pass
    with DecisionLog.open(f"sqlite:///file:{path}?mode=ro&uri=true") as log:
        log.check()
        with pytest.raises(LogError, match="is read-only"):
            logged(engine, log, damaged())
        log._pending.clear()  # what could not be written is dropped here, not at close


def test_a_missing_directory_that_cannot_be_made_is_a_clear_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(LogError, match="cannot open the log"):
        DecisionLog.open(blocker / "log.db")


def test_an_unreachable_server_is_a_clear_error() -> None:
    with pytest.raises(
        LogError, match=r"^the log postgresql\+psycopg://nobody@127.0.0.1:9/x is unreachable: "
    ):
        DecisionLog.open("postgresql+psycopg://nobody@127.0.0.1:9/x", timeout=2)


def test_a_bad_url_is_a_clear_error() -> None:
    with pytest.raises(LogError, match="not a database URL"):
        DecisionLog.open("postgresql+psycopg://host:notaport/x")


def test_check_passes_on_a_good_log(log: DecisionLog) -> None:
    log.check()
    assert repr(log).startswith("<DecisionLog ")


def test_threads_that_come_and_go_strand_no_connection(engine: Engine, store: str) -> None:
    import threading

    with DecisionLog.open(store) as log:
        # 60 short-lived threads, more than the pool's 5 + 40: each borrows and gives back
        for wave in range(3):
            threads = [
                threading.Thread(target=logged, args=(engine, log, damaged(f"T-{wave}-{n}")))
                for n in range(20)
            ]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
        assert log.count() == 60
        assert log._fast is None or len(log._fast._free) <= 20


# --------------------------------------------------------------------------- the console's panel


def test_a_customers_latest_decisions_newest_first_with_outcome_and_compensation(
    engine: Engine, log: DecisionLog
) -> None:
    first = logged(engine, log, damaged("INC-1"))
    log.outcome(first.decision_id, "accepted", actions=["apology"], given={"refund": 120}, at=NOW)
    second = logged(engine, log, damaged("INC-2", facts={"photos_attached": False}))
    log.outcome(second.decision_id, "rejected", at=NOW)
    third = logged(
        engine,
        log,
        {
            "id": "INC-3",
            "type": "parcel_late",
            "customer": {"id": "C-1"},
            "facts": {"delay_days": 3},
        },
    )
    logged(engine, log, damaged("INC-9", customer="C-2"))  # another customer's
    logged(engine, log, damaged("INC-10", customer=None))  # nobody's
    rows = log.customer_decisions("C-1")
    assert [r.decision_id for r in rows] == [
        third.decision_id,
        second.decision_id,
        first.decision_id,
    ]
    newest, middle, oldest = rows
    assert (newest.incident_id, newest.type, newest.status, newest.given) == (
        "INC-3",
        "parcel_late",
        None,
        (),
    )
    assert newest.actions == tuple(dict.fromkeys(a.kind for a in third.actions))
    assert (middle.status, middle.given) == ("rejected", ())
    assert oldest.status == "accepted" and oldest.decided_at == NOW
    assert [(g.kind, g.amount, g.currency) for g in oldest.given] == [("refund", 120.0, "PLN")]
    assert oldest.created_at < middle.created_at < newest.created_at
    assert oldest.as_dict()["given"][0]["amount"] == 120.0
    # the one on the agent's screen left out; a limit
    assert [r.decision_id for r in log.customer_decisions("C-1", exclude=third.decision_id)] == [
        second.decision_id,
        first.decision_id,
    ]
    assert [r.decision_id for r in log.customer_decisions("C-1", limit=1)] == [third.decision_id]
    assert log.customer_decisions("C-unknown") == []


def test_a_forgotten_customer_has_no_decisions_to_show(engine: Engine, log: DecisionLog) -> None:
    s = logged(engine, log, damaged("INC-1"))
    log.outcome(s.decision_id, "accepted", at=NOW)
    logged(engine, log, damaged("INC-2", customer="C-2"))
    assert len(log.customer_decisions("C-1")) == 1
    log.forget("C-1")
    assert log.customer_decisions("C-1") == []
    assert len(log.customer_decisions("C-2")) == 1
    # a decision of the same customer made after forget shows (from then on)
    later = logged(engine, log, damaged("INC-3"))
    assert [r.decision_id for r in log.customer_decisions("C-1")] == [later.decision_id]


@pytest.mark.parametrize("limit", [0, 101, True, 2.5])
def test_customer_decisions_refuses_a_bad_limit_or_id(log: DecisionLog, limit: Any) -> None:
    with pytest.raises(LogError, match="limit must be a whole number from 1 to 100"):
        log.customer_decisions("C-1", limit=limit)
    with pytest.raises(LogError, match="control character"):
        log.customer_decisions("C-\x00")


def test_the_customer_look_up_reads_its_partial_index(engine: Engine, log: DecisionLog) -> None:
    logged(engine, log, damaged("INC-1"))
    d = schema.decision.c
    query = (
        sa.select(d.id)
        .where(d.customer_id == "C-1", d.customer_id.is_not(None), ~d.forgotten)
        .order_by(d.created_at.desc())
        .limit(5)
    )
    with log.connection() as conn:
        indexes = {i["name"]: i for i in sa.inspect(conn).get_indexes("cxplay_decision")}
        assert indexes["cxplay_decision_customer_recent"]["column_names"] == [
            "customer_id",
            "created_at",
        ]
        sql = str(query.compile(conn, compile_kwargs={"literal_binds": True}))
        if conn.dialect.name == "postgresql":
            conn.exec_driver_sql("SET LOCAL enable_seqscan = off")  # an almost empty table
        explain = "EXPLAIN QUERY PLAN " if conn.dialect.name == "sqlite" else "EXPLAIN "
        plan = " ".join(str(row) for row in conn.exec_driver_sql(explain + sql))
    assert "cxplay_decision_customer_recent" in plan
