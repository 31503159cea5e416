"""cxplay as a library a strict-typed back end adopts (issue 22): the engine's source and
reload, the error tree with data, the lifecycle under threads, time zones, the public surface."""

from __future__ import annotations

import doctest
import logging
import pickle
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

import cxplay
import cxplay.models
import cxplay.results
from cxplay import (
    BackendError,
    CxplayError,
    Engine,
    EngineClosedError,
    IncidentError,
    PlaybookError,
    Problem,
    ReloadError,
    load_playbooks,
)
from cxplay._engine.durable import AVAILABLE

#: one engine for the property tests (hypothesis does not mix with function fixtures)
ENGINE = Engine.from_path(backend="python")

BACKENDS = [
    pytest.param("durable", marks=pytest.mark.skipif(not AVAILABLE, reason="no durable_rules")),
    "python",
]


def _playbook(version: str, kind: str = "apology") -> str:
    return f"""
[playbook]
id = "tiny"
version = "{version}"
languages = ["en"]

[facts]
queue_minutes = {{ type = "integer", min = 0, required_for = ["queue_long"] }}

[[rule]]
id = "tiny.first"
when = "type == 'queue_long'"
priority = 100
actions = [{{ kind = "{kind}" }}]
"""


@pytest.fixture
def tiny(tmp_path: Path) -> Path:
    folder = tmp_path / "tiny"
    folder.mkdir()
    (folder / "tiny.toml").write_text(_playbook("1.0.0"), "utf-8")
    return folder


AT = {"occurred_at": "2026-11-20T09:15:00+01:00"}
QUEUE = {"type": "queue_long", "channel": "chat", "facts": {"queue_minutes": 25}, **AT}

# ------------------------------------------------------------------ 1. reload and its source


@pytest.mark.parametrize("backend", BACKENDS)
def test_an_engine_given_a_set_refuses_to_reload_the_shipped_playbooks(
    tiny: Path, backend: str
) -> None:
    with Engine(load_playbooks(tiny), backend=backend) as engine:  # type: ignore[arg-type]
        assert isinstance(engine.source, cxplay.PlaybookSet)
        with pytest.raises(ReloadError, match=r"reload\(source=\.\.\.\)"):
            engine.reload()
        # still the one playbook it was given, never the seven shipped ones
        assert [p.meta.id for p in engine.playbooks.playbooks] == ["tiny"]
        assert len(engine.playbooks.rules) == 1


def test_reload_takes_new_paths_or_a_set_built_in_code(tiny: Path, tmp_path: Path) -> None:
    other = tmp_path / "other"
    other.mkdir()
    (other / "tiny.toml").write_text(_playbook("2.0.0", "survey"), "utf-8")
    with Engine(load_playbooks(tiny), backend="python") as engine:
        engine.reload(source=other)
        assert engine.source == (other,)
        assert [a.kind for a in engine.suggest(QUEUE).actions] == ["survey"]
        # from now on reload() reads `other` again: an edit there is picked up
        (other / "tiny.toml").write_text(_playbook("3.0.0"), "utf-8")
        engine.reload()
        assert engine.suggest(QUEUE).actions[0].playbook == "tiny@3.0.0"
        built = load_playbooks(tiny)
        engine.reload(source=built)
        assert engine.source is built
        assert engine.suggest(QUEUE).actions[0].playbook == "tiny@1.0.0"
        with pytest.raises(ReloadError):
            engine.reload()
        engine.reload(source=[tiny / "tiny.toml"])
        assert engine.source == (tiny / "tiny.toml",)


def test_from_path_reloads_its_own_directory(tiny: Path) -> None:
    with Engine.from_path(tiny, backend="python") as engine:
        (tiny / "tiny.toml").write_text(_playbook("1.1.0", "survey"), "utf-8")
        engine.reload()
        assert engine.playbooks.playbooks[0].meta.version == "1.1.0"
    with Engine.from_path(backend="python") as shipped:
        assert shipped.source == (cxplay.shipped_playbooks_dir(),)


def test_a_failed_reload_keeps_the_rules_and_the_source(tiny: Path, tmp_path: Path) -> None:
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "x.toml").write_text("[playbook\n", "utf-8")
    with Engine.from_path(tiny, backend="python") as engine:
        with pytest.raises(PlaybookError):
            engine.reload(source=broken)
        assert engine.source == (tiny,)
        assert engine.suggest(QUEUE).actions[0].kind == "apology"


@pytest.mark.parametrize("backend", BACKENDS)
def test_reload_after_close_raises(tiny: Path, backend: str) -> None:
    engine = Engine.from_path(tiny, backend=backend)  # type: ignore[arg-type]
    engine.close()
    assert engine.closed
    with pytest.raises(EngineClosedError, match="closed"):
        engine.reload()
    with pytest.raises(EngineClosedError):
        engine.reload(source=load_playbooks(tiny))
    engine.close()  # twice is harmless


# ------------------------------------------------------------------ 3. one error tree, with data


def test_incident_errors_carry_each_problem_as_data() -> None:
    with Engine.from_path(backend="python") as engine, pytest.raises(IncidentError) as caught:
        engine.suggest(
            {
                "type": "queue_long",
                "channel": "chatt",
                "order": {"value": -3, "currency": "PLN"},
                "facts": {"queue_minutes": -5, "queue_minuts": 3},
            }
        )
    error = caught.value
    # the one-line text is unchanged: it is what the CLI prints
    assert "\n" not in str(error) and str(error).startswith("invalid incident: ")
    where = {p.location: p for p in error.problems}
    assert where["channel"].input == "chatt"
    assert "email" in where["channel"].message
    assert where["order.value"].input == -3
    assert all(str(p) in str(error) for p in error.problems)


@pytest.mark.parametrize(
    ("facts", "location", "value", "words"),
    [
        ({"queue_minutes": -5}, "facts.queue_minutes", -5, "at least 0"),
        ({"queue_minutes": "long"}, "facts.queue_minutes", "long", "expected integer"),
        ({"queue_minutes": 3, "queue_minuts": 3}, "facts.queue_minuts", 3, "did you mean"),
        ({}, "facts.queue_minutes", None, "needs fact"),
        ({"queue_minutes": {"a": 1}}, "facts.queue_minutes", {"a": 1}, "must be text"),
    ],
)
def test_each_kind_of_fact_problem_is_located(
    facts: dict[str, object], location: str, value: object, words: str
) -> None:
    with Engine.from_path(backend="python") as engine, pytest.raises(IncidentError) as caught:
        engine.suggest({"type": "queue_long", "facts": facts})
    (problem,) = [p for p in caught.value.problems if p.location == location]
    assert problem.input == value
    assert words in problem.message


def test_a_typo_in_the_type_is_located_at_type() -> None:
    with Engine.from_path(backend="python") as engine, pytest.raises(IncidentError) as caught:
        engine.evaluate({"type": "parcel_damage"})
    (problem,) = caught.value.problems
    assert (problem.location, problem.input) == ("type", "parcel_damage")
    assert "did you mean 'parcel_damaged'" in problem.message


def test_not_a_mapping_is_an_incident_error_with_its_input() -> None:
    with Engine.from_path(backend="python") as engine, pytest.raises(IncidentError) as caught:
        engine.suggest(["type", "queue_long"])  # type: ignore[arg-type]
    assert caught.value.problems[0].input == ["type", "queue_long"]


def test_distinct_types_for_closed_engine_bad_backend_and_rule_engine() -> None:
    assert len({EngineClosedError, BackendError, cxplay.RuleEngineError, ReloadError}) == 4
    for cls in (EngineClosedError, BackendError, cxplay.RuleEngineError, ReloadError):
        assert issubclass(cls, cxplay.EngineError) and issubclass(cls, CxplayError)
        assert not issubclass(cls, IncidentError)
    with pytest.raises(BackendError, match="unknown backend 'rete'"):
        Engine.from_path(backend="rete")  # type: ignore[arg-type]
    with pytest.raises(BackendError, match="did you mean 'python'"):
        Engine.from_path(backend="pyhton")  # type: ignore[arg-type]


def test_errors_keep_their_problems_across_processes() -> None:
    error = IncidentError(
        "invalid incident: x", problems=[Problem("bad", key="facts.x", input=[1, 2])]
    )
    copy = pickle.loads(pickle.dumps(error))
    assert type(copy) is IncidentError and str(copy) == str(error)
    assert copy.problems == error.problems and copy.problems[0].input == [1, 2]
    # a message alone is one problem; the old constructors still work
    assert cxplay.LogError("no log").problems == (Problem("no log"),)
    assert PlaybookError("broken").problems == (Problem("broken"),)


# ------------------------------------------------------------------ 4. lifecycle


def _close_under_load(engine: Engine, threads: int = 4) -> list[str]:
    """Close ``engine`` while ``threads`` threads suggest; what each call ended with."""
    started = threading.Barrier(threads + 1)
    running = threading.Semaphore(0)  # released once per thread, after its first answer
    outcomes: list[str] = []

    def work() -> None:
        started.wait()
        for n in range(100_000):
            try:
                engine.suggest(QUEUE)
                outcomes.append("ok")
                if n == 0:
                    running.release()
            except EngineClosedError:
                outcomes.append("closed")
                return
            except Exception as exc:
                outcomes.append(f"{type(exc).__name__}: {exc}")
                return

    workers = [threading.Thread(target=work) for _ in range(threads)]
    for worker in workers:
        worker.start()
    started.wait()
    for _ in range(threads):  # close while every thread is in the middle of its work
        assert running.acquire(timeout=60)
    engine.close()
    for worker in workers:
        worker.join()
    return outcomes


@pytest.mark.parametrize("backend", BACKENDS)
def test_close_while_suggestions_run_finishes_them_or_says_closed(backend: str) -> None:
    """Never durable's 'Could not retract fact, error code: 111' (1 run in 3 on main)."""
    for _ in range(3):
        engine = Engine.from_path(backend=backend)  # type: ignore[arg-type]
        outcomes = _close_under_load(engine)
        assert set(outcomes) <= {"ok", "closed"}, outcomes
        assert outcomes.count("closed") == 4  # every thread learnt it, none ran on after
        with pytest.raises(EngineClosedError):
            engine.suggest(QUEUE)


@pytest.mark.parametrize("backend", BACKENDS)
def test_every_entry_point_honours_close(backend: str) -> None:
    with Engine.from_path(backend=backend) as engine:  # type: ignore[arg-type]
        engine.suggest(QUEUE)
    for call in (engine.suggest, engine.evaluate, engine.decide, engine.explain, engine.incident):
        with pytest.raises(EngineClosedError, match="closed"):
            call(QUEUE)


def test_a_thread_pool_answers_as_the_sequential_run() -> None:
    queues = [
        {"type": "queue_long", "channel": "chat", "facts": {"queue_minutes": n}, **AT}
        for n in range(0, 60, 3)
    ]
    parcels = [
        {"type": "parcel_damaged", "order": {"value": v, "currency": "PLN"}, **AT}
        for v in range(50, 400, 50)
    ]
    incidents = queues + parcels
    with Engine.from_path() as engine:
        alone = [engine.suggest(i) for i in incidents]
        with ThreadPoolExecutor(8) as pool:
            together = list(pool.map(engine.suggest, incidents * 4))
    assert together == alone * 4


# ------------------------------------------------------------------ 5. time


@pytest.mark.parametrize(
    "moment", ["2026-11-20T09:15:00", "2026-11-20 09:15", datetime(2026, 11, 20, 9, 15)]
)
def test_a_naive_occurred_at_is_refused_with_its_location(moment: object) -> None:
    with Engine.from_path(backend="python") as engine, pytest.raises(IncidentError) as caught:
        engine.suggest({"type": "parcel_damaged", "channel": "email", "occurred_at": moment})
    (problem,) = caught.value.problems
    assert problem.location == "occurred_at"
    assert "needs a UTC offset" in str(caught.value)
    with pytest.raises(ValidationError, match="needs a UTC offset"):
        cxplay.Incident(type="parcel_damaged", occurred_at=datetime(2026, 11, 20, 9, 15))


def test_a_naive_now_is_an_argument_error() -> None:
    with Engine.from_path(backend="python") as engine:
        for call in (engine.suggest, engine.decide):
            with pytest.raises(cxplay.ArgumentError, match="now=2026-01-01T00:00:00 has no UTC"):
                call({"type": "parcel_damaged", "channel": "email"}, now=datetime(2026, 1, 1))


@given(
    offset=st.integers(min_value=-14 * 60, max_value=14 * 60),
    minute=st.integers(min_value=0, max_value=365 * 24 * 60),
    given_as=st.sampled_from(["text", "datetime", "now"]),
)
@settings(max_examples=60, deadline=None)
def test_every_date_an_engine_returns_is_aware_and_utc_is_timezone_utc(
    offset: int, minute: int, given_as: str
) -> None:
    zone = timezone(timedelta(minutes=offset))
    moment = datetime(2026, 1, 1, tzinfo=zone) + timedelta(minutes=minute)
    incident: dict[str, object] = {"type": "parcel_damaged", "channel": "email"}
    now = None
    if given_as == "text":
        incident["occurred_at"] = moment.isoformat().replace("+00:00", "Z")
    elif given_as == "datetime":
        incident["occurred_at"] = moment
    else:
        now = moment
    s = ENGINE.suggest(incident, now=now)
    dates = [s.respond_by, *(f.due for f in s.follow_ups)]
    assert dates and all(d is not None and d.utcoffset() == moment.utcoffset() for d in dates)
    if offset == 0:
        assert all(d is not None and d.tzinfo is timezone.utc for d in dates)
    # and they compare with the caller's own aware datetimes
    assert s.respond_by is not None and s.respond_by > moment


def test_z_and_no_occurred_at_give_timezone_utc() -> None:
    s = ENGINE.suggest(
        {"type": "parcel_damaged", "channel": "email", "occurred_at": "2026-11-20T09:15:00Z"}
    )
    assert s.respond_by is not None and s.respond_by.tzinfo is timezone.utc
    assert all(f.due is not None and f.due.tzinfo is timezone.utc for f in s.follow_ups)
    fresh = ENGINE.suggest({"type": "parcel_damaged", "channel": "email"})
    assert fresh.respond_by is not None and fresh.respond_by.tzinfo is timezone.utc


# ------------------------------------------------------------------ 6. the public surface


def _everything(s: cxplay.Suggestion) -> list[object]:
    """Every model and container a suggestion returns, in depth."""
    found: list[object] = [s, s.actions, s.follow_ups, s.trace, s.reply, s.history]
    for action in s.actions:
        found += [action, action.params, action.cost, *action.params.values()]
    found += list(s.follow_ups) + list(s.trace or ())
    found += [t.value for t in s.trace or ()]
    return [f for f in found if f is not None]


def test_returned_models_are_immutable_in_depth() -> None:
    s = ENGINE.suggest(
        {
            "type": "extra_missing",
            "channel": "email",
            "customer": {"compensations_90d": 1},
            "facts": {"missing_item": "gps", "pickup_in_minutes": 30},
            **AT,
        },
        explain=True,
    )
    assert any(isinstance(v, tuple) and v for a in s.actions for v in a.params.values())
    for part in _everything(s):
        assert not isinstance(part, list | set), part
        if isinstance(part, dict):
            with pytest.raises(TypeError):
                part["x"] = 1
            with pytest.raises(TypeError):
                part.update(x=1)
        hash(part)  # hashable, all the way down
    with pytest.raises(AttributeError, match="immutable"):
        s.matched = False  # type: ignore[misc]
    with pytest.raises(AttributeError):
        s.actions[0].kind = "refund"  # type: ignore[misc]
    with pytest.raises(AttributeError):
        del s.reply
    # still the same data for every consumer: dicts and lists out, the JSON unchanged
    dumped = s.model_dump()
    assert isinstance(dumped["actions"], list) and type(dumped["actions"][0]["params"]) is dict
    assert cxplay.Suggestion.model_validate_json(s.model_dump_json()) == s
    assert pickle.loads(pickle.dumps(s)) == s


def test_callers_can_type_against_what_is_exported() -> None:
    for name in (
        "Customer",
        "Order",
        "EventRef",
        "Cost",
        "FollowUpPlan",
        "Severity",
        "DecisionSink",
        "FactValue",
        "PlaybookSource",
        "BackendName",
    ):
        assert name in cxplay.__all__ and hasattr(cxplay, name), name
    incident = cxplay.Incident(
        type="parcel_damaged",
        customer=cxplay.Customer(name="Anna", language="pl"),
        order=cxplay.Order(value=250, currency="PLN"),
        facts={"photos": 2},
    )
    s = ENGINE.suggest(incident)
    assert isinstance(s.actions[1].cost, cxplay.Cost)


def test_the_one_shot_keeps_its_engine_until_a_file_changes(
    tiny: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    built: list[object] = []
    original = Engine.from_path.__func__  # type: ignore[attr-defined]

    def counting(cls: type[Engine], *args: object, **kwargs: object) -> Engine:
        built.append(args)
        return original(cls, *args, **kwargs)  # type: ignore[no-any-return]

    monkeypatch.setattr(Engine, "from_path", classmethod(counting))
    first = cxplay.suggest(QUEUE, playbooks=tiny, backend="python")
    again = cxplay.suggest(QUEUE, playbooks=str(tiny), backend="python", explain=True)
    assert len(built) == 1 and first.trace is None and again.trace is not None
    (tiny / "tiny.toml").write_text(_playbook("1.2.0"), "utf-8")
    changed = cxplay.suggest(QUEUE, playbooks=tiny, backend="python")
    assert len(built) == 2 and changed.actions[0].playbook == "tiny@1.2.0"
    cxplay.suggest(QUEUE, playbooks=tiny, backend="python")
    assert len(built) == 2


def test_the_one_shot_takes_language_now_and_explain() -> None:
    now = datetime(2026, 11, 20, 12, 0, tzinfo=timezone.utc)
    incident = {"type": "parcel_damaged", "channel": "email"}
    s = cxplay.suggest(incident, language="uk", now=now, explain=True)
    assert s.reply is not None and s.reply.language == "uk"
    assert s.respond_by is not None and s.respond_by - now == timedelta(hours=2)
    assert s.trace is not None
    with pytest.raises(cxplay.ArgumentError):
        cxplay.suggest(incident, now=datetime(2026, 11, 20))


def test_alembic_is_quiet_unless_asked(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    with cxplay.DecisionLog.open(tmp_path / "one.db"):
        pass
    assert not [r for r in caplog.records if r.name.startswith("alembic")]
    logging.getLogger("alembic").setLevel(logging.INFO)  # the application asks
    try:
        with cxplay.DecisionLog.open(tmp_path / "two.db"):
            pass
        assert [r for r in caplog.records if r.name.startswith("alembic")]
    finally:
        logging.getLogger("alembic").setLevel(logging.NOTSET)


# ------------------------------------------------------------------ 7. versioning

ROOT = Path(__file__).resolve().parent.parent


def test_all_is_the_documented_api() -> None:
    text = (ROOT / "docs" / "library.md").read_text("utf-8")
    section = text.split("\n## The public API\n", 1)[1]
    listed = section.split("```text\n", 1)[1].split("```", 1)[0].split()
    assert sorted(listed) == sorted(cxplay.__all__)
    assert cxplay.__all__ == sorted(cxplay.__all__)
    for name in cxplay.__all__:
        assert hasattr(cxplay, name), name


def test_the_changelog_has_an_unreleased_section_and_the_policy_is_stated() -> None:
    changelog = (ROOT / "CHANGELOG.md").read_text("utf-8")
    assert changelog.index("## Unreleased") < changelog.index(f"## {cxplay.__version__}")
    policy = (ROOT / "docs" / "library.md").read_text("utf-8")
    assert "DeprecationWarning" in policy and "two minor releases" in policy
    # every name this release adds to the API is in the changelog
    for name in ("EngineClosedError", "ReloadError", "FactValue", "DecisionSink", "py.typed"):
        assert name in changelog, name


def test_the_docstring_examples_hold() -> None:
    for module in (cxplay, cxplay.models, cxplay.results):
        failed, tried = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
        assert tried and not failed, module.__name__


_SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(-(10**20), 10**20)
    | st.floats()
    | st.text(max_size=20)
    | st.datetimes()
)
_JSON = st.recursive(
    _SCALARS,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=10,
)
_PARTS = st.fixed_dictionaries(
    {},
    optional={
        k: _JSON
        for k in (
            *("name", "language", "tier", "id", "timezone", "value", "currency"),
            *("compensations_90d", "queue_minutes", "delay_days", "missing_item"),
        )
    },
)
_FIELDS = st.sampled_from(
    ["id", "occurred_at", "channel", "stage", "severity", "description", "order", "event", "facts"]
)
_INCIDENTS = st.builds(
    lambda kind, fields, customer: {"type": kind, **fields, "customer": customer},
    st.sampled_from(["parcel_damaged", "queue_long", "speaker_late", "child_seat_missing", "x"])
    | _JSON,
    st.dictionaries(_FIELDS, _JSON | _PARTS, max_size=4),
    _PARTS | _JSON,
)


@given(incident=_INCIDENTS, language=st.none() | st.text(max_size=12), explain=st.booleans())
@settings(max_examples=150, deadline=None)
def test_every_entry_point_raises_only_cxplay_errors(
    incident: dict[str, object], language: str | None, explain: bool
) -> None:
    calls = (
        lambda: ENGINE.suggest(incident, language=language, explain=explain),
        lambda: ENGINE.evaluate(incident),
        lambda: ENGINE.decide(incident),
        lambda: ENGINE.explain(incident),
        lambda: ENGINE.incident(incident),
    )
    for call in calls:
        try:
            call()
        except CxplayError as error:
            assert str(error) and "\n" not in str(error)
            assert error.problems


def test_a_named_zone_keeps_its_name_and_its_rules() -> None:
    london = datetime(2026, 3, 28, 12, 0, tzinfo=ZoneInfo("Europe/London"))  # GMT, +00:00
    s = ENGINE.suggest({"type": "parcel_damaged", "channel": "email", "occurred_at": london})
    assert s.respond_by is not None and s.respond_by.tzinfo is london.tzinfo
    # a week later is after the clocks go forward: the named zone says +01:00
    due = [f.due for f in s.follow_ups if f.after == timedelta(days=7)]
    assert due and due[0] is not None and due[0].utcoffset() == timedelta(hours=1)


@pytest.mark.skipif(not AVAILABLE, reason="no durable_rules")
def test_a_failing_rule_engine_is_a_rule_engine_error(monkeypatch: pytest.MonkeyPatch) -> None:
    from cxplay._engine import durable

    with Engine.from_path(backend="durable") as engine:
        engine.suggest(QUEUE)  # sessions primed before the fault

        def broken(handle: int, text: str) -> tuple[int, int]:
            raise RuntimeError("Could not assert fact, error code: 999")

        monkeypatch.setattr(durable._engine, "assert_fact", broken)
        with pytest.raises(cxplay.RuleEngineError, match="the rule engine failed") as caught:
            engine.suggest(QUEUE)
        assert not isinstance(caught.value, IncidentError | EngineClosedError)
        monkeypatch.undo()
        assert engine.suggest(QUEUE).matched  # the engine goes on serving
