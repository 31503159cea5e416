"""The history's ``history_refresh``: another process's change to a customer's compensations
is seen at most that long after it, this log's own changes at once, and 0 is exact.

Time is a fake monotonic clock (``cxplay._log.fast.time``), so nothing here waits or
depends on the machine's speed. Every test runs on SQLite (the change token read at most
once per refresh) and PostgreSQL (each customer's rows kept for a refresh).
"""

from __future__ import annotations

import types
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import logstores
import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cxplay import DecisionLog, Engine, LogError
from cxplay._log import fast

store = logstores.store
NOW = datetime(2026, 11, 20, 9, 0, tzinfo=timezone.utc)
LATER = NOW + timedelta(days=1)


class Clock:
    """A monotonic clock moved by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def monotonic(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    kept = Clock()
    monkeypatch.setattr(fast, "time", types.SimpleNamespace(monotonic=kept.monotonic))
    return kept


@pytest.fixture(scope="module")
def engine() -> Engine:
    return Engine.from_path(backend="python")


def damaged(incident_id: str, customer: str = "C-1") -> dict[str, Any]:
    return {
        "id": incident_id,
        "type": "parcel_damaged",
        "channel": "email",
        "occurred_at": NOW.isoformat(),
        "customer": {"id": customer, "name": "Anna Kowalska", "language": "pl"},
        "order": {"id": "PL-1", "value": 250.0, "currency": "PLN"},
        "facts": {"photos_attached": True},
    }


def suggested(engine: Engine, log: DecisionLog, incident: dict[str, Any]) -> str:
    with Engine(engine.playbooks, backend="python", log=log) as recording:  # type: ignore[arg-type]
        decision_id = recording.suggest(incident).decision_id
    assert decision_id is not None
    return decision_id


def count(log: DecisionLog, customer: str = "C-1") -> int:
    return log.history(customer, LATER).compensations


def test_another_logs_change_is_seen_after_the_refresh_own_changes_at_once(
    engine: Engine, store: str, clock: Clock
) -> None:
    with (
        DecisionLog.open(store, history_refresh=1.0) as mine,
        DecisionLog.open(store, history_refresh=0) as theirs,
    ):
        assert count(mine) == 0
        first = suggested(engine, theirs, damaged("R-1"))
        theirs.outcome(first, "accepted", at=NOW)
        assert count(theirs) == 1
        clock.now += 0.999
        assert count(mine) == 0  # another process's outcome: not yet
        clock.now += 0.001
        assert count(mine) == 1  # a refresh after: seen
        # this log's own changes, at once, without the clock moving
        second = suggested(engine, mine, damaged("R-2"))
        mine.outcome(second, "accepted", at=NOW)
        assert count(mine) == 2
        mine.outcome(second, "rejected", at=NOW)  # its compensation deleted
        assert count(mine) == 1
        before = mine.history("C-1", LATER).amounts
        with mine.connection() as conn:  # by hand, through this log
            conn.execute(sa.text("UPDATE cxplay_given SET amount = amount + 1"))
        after = mine.history("C-1", LATER).amounts
        assert after != before and after == theirs.history("C-1", LATER).amounts
        mine.forget("C-1")
        assert count(mine) == 0
        # the other way round: another log's change, unseen until the refresh
        third = suggested(engine, theirs, damaged("R-3"))
        theirs.outcome(third, "accepted", at=NOW)
        assert count(mine) == 0
        clock.now += 1.0
        assert count(mine) == 1
        assert mine.prune(0, now=NOW + timedelta(days=400)) == 3
        assert count(mine) == 0


def test_the_default_refresh_is_the_stores(engine: Engine, store: str, clock: Clock) -> None:
    """1 s on SQLite (it skips the change token's read for every customer); exact on
    PostgreSQL, where only a customer back within the refresh would be answered from memory."""
    expected = 1.0 if "postgresql" not in store else 0.0
    with DecisionLog.open(store) as mine, DecisionLog.open(store, history_refresh=0) as theirs:
        assert mine.history_refresh == expected
        assert count(mine) == 0
        theirs.outcome(suggested(engine, theirs, damaged("R-9")), "accepted", at=NOW)
        assert count(mine) == (0 if expected else 1)  # exact: seen at once
        clock.now += expected
        assert count(mine) == 1


def test_a_refresh_of_zero_reads_the_store_every_time(
    engine: Engine, store: str, clock: Clock
) -> None:
    with (
        DecisionLog.open(store, history_refresh=0) as mine,
        DecisionLog.open(store, history_refresh=0) as theirs,
    ):
        assert count(mine) == 0
        decision = suggested(engine, theirs, damaged("Z-1"))
        theirs.outcome(decision, "accepted", at=NOW)
        assert count(mine) == 1  # the clock never moved
        theirs.forget("C-1")
        assert count(mine) == 0


def test_the_refresh_is_checked(store: str) -> None:
    for bad in (-1.0, float("nan")):
        with pytest.raises(LogError, match="history_refresh must be 0 or more"):
            DecisionLog.open(store, history_refresh=bad)


def test_a_look_up_begun_before_an_own_change_keeps_nothing() -> None:
    """A look-up that read before this process's change (an older generation) neither
    answers from the cache nor keeps its rows; the next one reads the token again."""
    histories = fast.Histories(refresh=10.0)
    generation = histories.generation
    assert histories.recent() is histories  # nothing read yet
    assert histories.get(1, "A", NOW, generation, read_at=fast.time.monotonic()) is None
    histories.put(1, "A", NOW, [], generation)
    assert histories.recent() == 1
    assert histories.get(1, "A", NOW, generation) == []
    histories.invalidate()
    assert histories.recent() is histories  # read the token again
    assert histories.get(1, "A", NOW, generation) is None  # begun before: not answered
    assert histories.get(1, "A", NOW, histories.generation, read_at=0.0) is None  # begun after
    histories.put(1, "A", NOW, [("old", None, None, "x")], generation)  # (the same token)
    assert histories.get(1, "A", NOW, histories.generation) is None  # not kept
    histories.put(1, "A", NOW, [], histories.generation)
    assert histories.get(1, "A", NOW, histories.generation) == []
    assert fast.Histories(refresh=0.0).recent() is not None
    zero = fast.Histories(refresh=0.0)
    zero.get(1, "A", NOW, zero.generation, read_at=fast.time.monotonic())
    assert zero.recent() is zero  # 0: the token is read every time

    recent = fast.RecentHistories(refresh=10.0)
    begun, at = recent.generation, fast.time.monotonic()
    recent.invalidate()
    recent.put("A", NOW, [], at, begun)  # read before the change: not kept
    assert recent.get("A", NOW) is None
    recent.put("A", NOW, [], at, recent.generation)
    assert recent.get("A", NOW) == []
    assert recent.get("A", NOW - timedelta(microseconds=1)) is None  # further back: read
    assert fast.RecentHistories(refresh=10.0).get("A", NOW) is None


# ----------------------------------------------------------------- a differential test

_MOMENTS = st.builds(
    lambda day, micro: NOW + timedelta(days=day, microseconds=micro),
    st.sampled_from([-120, -90, -1, 0]),
    st.sampled_from([0, 1]),
)
_ZONES = st.sampled_from(
    [timezone.utc, timezone(timedelta(hours=1)), timezone(timedelta(hours=-7, minutes=-30))]
)
_CUSTOMERS = st.sampled_from(["C-1", "C-2", "Ł-3"])
_NOWS = st.builds(
    lambda moment, later, micro, zone: (
        moment + timedelta(days=later, microseconds=micro)
    ).astimezone(zone),
    _MOMENTS,
    st.sampled_from([0, 90]),
    st.sampled_from([-1, 0, 1]),
    _ZONES,
)
_WHO = st.sampled_from(["own", "other"])
_STEPS = st.lists(
    st.one_of(
        st.tuples(
            st.just("give"),
            _WHO,
            _CUSTOMERS,
            _MOMENTS,
            st.sampled_from([None, 0.5, 10.0, 249.75]),
            st.sampled_from(["PLN", "EUR", None]),
        ),
        st.tuples(st.just("take"), _WHO, _CUSTOMERS),
        st.tuples(st.just("ask"), _CUSTOMERS, st.lists(_NOWS, min_size=1, max_size=4)),
        st.tuples(st.just("tick"), st.sampled_from([0.1, 0.5, 0.9])),
    ),
    max_size=30,
)


Pair = tuple[DecisionLog, DecisionLog, list[str], Clock]


@pytest.fixture(params=["sqlite", "postgresql"])
def refresh_pair(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    engine: Engine,
    clock: Clock,
) -> Iterator[Pair]:
    """A log with a refresh of 1 s, the same store through the Core only (the reference,
    and another process's writer), four decision ids to hang compensations on, and the
    clock (one for every example: the cache outlives an example)."""
    for target in logstores.fresh_store(request.param, tmp_path_factory.mktemp("refresh")):
        with (
            DecisionLog.open(target, history_refresh=1.0) as cached,
            DecisionLog.open(target) as core,
        ):
            assert cached._fast is not None
            core._fast = None  # every look-up through the Core's SQL
            ids = [suggested(engine, core, damaged(f"D-{n}", "nobody")) for n in range(4)]
            yield cached, core, ids, clock


@settings(
    max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(steps=_STEPS)
def test_answers_equal_sql_once_anothers_change_is_a_refresh_old(
    refresh_pair: Pair, steps: list[Any]
) -> None:
    """Differential: own changes (through the cached log) between look-ups, and another
    log's followed by a refresh's wait; look-ups in between from the cache (windows
    starting or ending on a row, a microsecond off, in other UTC offsets) equal SQL."""
    cached, core, ids, clock = refresh_pair
    with core.connection() as conn:
        conn.execute(sa.text("DELETE FROM cxplay_given"))
    clock.now += 1.0
    serial = 0
    for step in steps:
        if step[0] in ("give", "take"):
            writer = cached if step[1] == "own" else core
            with writer.connection() as conn:
                if step[0] == "give":
                    serial += 1
                    _, _, customer, at, amount, currency = step
                    conn.execute(
                        sa.text(
                            "INSERT INTO cxplay_given (decision_id, customer_id, kind, "
                            "amount, currency, at) VALUES (:d, :c, 'refund', :a, :cur, :at)"
                        ).bindparams(sa.bindparam("at", type_=fast_time_type())),
                        {
                            "d": ids[serial % 4],
                            "c": customer,
                            "a": amount,
                            "cur": currency,
                            "at": at,
                        },
                    )
                else:
                    conn.execute(
                        sa.text(
                            "DELETE FROM cxplay_given WHERE id = "
                            "(SELECT max(id) FROM cxplay_given WHERE customer_id = :c)"
                        ),
                        {"c": step[2]},
                    )
            if writer is core:
                clock.now += 1.0  # another process's change: seen a refresh later
        elif step[0] == "tick":
            clock.now += step[1]
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


def fast_time_type() -> Any:
    from cxplay._log.schema import UTCDateTime

    return UTCDateTime()


def test_postgres_times_the_text_cannot_order_are_never_kept(
    engine: Engine, tmp_path: Path, clock: Clock
) -> None:
    """PostgreSQL: a compensation dated past the year 9999 (or infinity) has no UTC text
    to filter by; the look-up is then answered exactly by SQL and nothing is kept."""
    for target in logstores.fresh_store("postgresql", tmp_path):
        with DecisionLog.open(target, history_refresh=1.0) as mine:
            decision = suggested(engine, mine, damaged("P-1"))
            mine.outcome(decision, "accepted", at=NOW)
            with mine.connection() as conn:
                conn.execute(
                    sa.text(
                        "INSERT INTO cxplay_given (decision_id, customer_id, kind, amount, at)"
                        " VALUES (:d, 'C-1', 'refund', 1.0, 'infinity'),"
                        " (:d, 'C-2', 'refund', 2.0, '10000-01-01 00:00:00+00')"
                    ),
                    {"d": decision},
                )
            for _ in range(2):
                seen = mine.history("C-1", LATER)
                assert (seen.compensations, seen.amounts) == (1, {"PLN": 250.0})
                assert mine.history("C-2", LATER).compensations == 0
            recent = getattr(mine._fast, "recent", None)
            assert recent is not None
            for customer in ("C-1", "C-2"):
                assert recent.get(customer, LATER - timedelta(days=90)) is None


def test_an_earlier_window_is_answered_from_the_rows_kept(tmp_path: Path) -> None:
    """SQLite keeps a customer's rows from 90 days before the window's start: a later
    look-up whose window starts earlier by up to that (an incident that occurred before
    the last one) is answered from them, as SQL answers it; one further back reads again."""
    import sqlite3

    path = tmp_path / "log.db"
    with DecisionLog.open(path, history_refresh=0) as mine, DecisionLog.open(path) as core:
        core._fast = None  # the reference: every look-up in SQL
        other = sqlite3.connect(str(path), isolation_level=None)
        for n, days in enumerate((-200, -100, -10)):
            other.execute(
                "INSERT INTO cxplay_given (decision_id, customer_id, kind, amount, currency, at)"
                " VALUES (?, 'C-1', 'refund', 10.0, 'PLN', ?)",
                (f"d-{n}", fast.sqlite_time(NOW + timedelta(days=days))),
            )
        (token,) = other.execute("SELECT token FROM cxplay_change").fetchone()
        other.close()
        histories = mine._fast.histories  # type: ignore[union-attr]
        ends = [NOW, NOW - timedelta(days=60), NOW - timedelta(days=89, hours=23), NOW]
        for end in ends:
            seen, expected = mine.history("C-1", end), core.history("C-1", end)
            assert (seen.compensations, seen.amounts) == (expected.compensations, expected.amounts)
            # the rows kept reach 90 days before the first window's start, no further
            kept = histories.get(token, "C-1", NOW - timedelta(days=180))
            assert kept is not None and [row[0] for row in kept] == ["d-1", "d-2"]
        assert histories.get(token, "C-1", NOW - timedelta(days=180, microseconds=1)) is None
        end = NOW - timedelta(days=91)  # a window from 181 days back: read again
        assert mine.history("C-1", end).compensations == core.history("C-1", end).compensations
        kept = histories.get(token, "C-1", NOW - timedelta(days=271))
        assert kept is not None and [row[0] for row in kept] == ["d-0", "d-1", "d-2"]
