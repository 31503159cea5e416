"""`cxplay watch`: correlation rules, the correlator, notices, the CLI and its state.

The correlator is held to a brute-force reference (tests/watch_reference.py) on random
disordered streams; the CLI is run as a user runs it, over the shipped playbooks.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from watch_reference import reference

from cxplay import Engine
from cxplay._cli import cli
from cxplay._playbooks.loader import load_playbooks
from cxplay._watch.correlator import Attached, Correlator, Opened, Spec
from cxplay._watch.watch import Watcher
from cxplay.errors import PlaybookError

ROOT = Path(__file__).resolve().parent.parent
T0 = datetime(2026, 11, 20, 9, 0, tzinfo=timezone.utc)


def run(*args: str | Path, input: str | None = None) -> Result:
    env: dict[str, str | None] = {"NO_COLOR": "1", "CXPLAY_PLAYBOOKS": None, "CXPLAY_LOG": None}
    return CliRunner().invoke(cli, [str(a) for a in args], input=input, env=env)


def events(text: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]


# --------------------------------------------------------------------------- [[correlate]]

HEAD = '[playbook]\nid = "p"\nversion = "1.0.0"\n\n[[rule]]\nid = "r"\nwhen = "type == \'x\'"\nactions = [{ kind = "apology" }]\n'
BLOCK = """
[[correlate]]
id = "p.wave"
when = "type == 'parcel_late'"
key = "order.carrier"
threshold = 3
within = "PT1H"
hold = "PT2H"
notice = [{ kind = "apology" }]
resolution = [{ kind = "apology" }]
"""


def _load_errors(tmp_path: Path, block: str) -> list[str]:
    path = tmp_path / "p.toml"
    path.write_text(HEAD + block, encoding="utf-8")
    with pytest.raises(PlaybookError) as caught:
        load_playbooks(path)
    return [str(p) for p in caught.value.problems]


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (
            ("threshold = 3", "threshold = 3\nthreshhold = 4"),
            r"unknown key 'threshhold'; did you mean 'threshold'",
        ),
        (
            ('key = "order.carrier"', 'key = "order.carier"'),
            r"key: unknown key field 'order.carier'; did you mean 'order.carrier'",
        ),
        (
            ('key = "order.carrier"', 'key = ["event.id", "facts.rout"]'),
            r"unknown key field 'facts.rout'",
        ),
        (
            ("type == 'parcel_late'", "tpye == 'parcel_late'"),
            r"when: .*unknown field 'tpye'; did you mean 'type'",
        ),
        (
            ('notice = [{ kind = "apology" }]', 'notice = [{ kind = "refund", percent = 10 }]'),
            r"cannot offer refund",
        ),
        (('within = "PT1H"', 'within = "PT0S"'), r"within must be longer than zero"),
        (("threshold = 3", "threshold = 1"), r"threshold: .*greater than or equal to 2"),
        (('notice = [{ kind = "apology" }]\n', ""), r"missing"),
    ],
)
def test_a_bad_correlate_block_is_one_line_with_file_line_and_id(
    tmp_path: Path, change: tuple[str, str], expected: str
) -> None:
    import re

    errors = _load_errors(tmp_path, BLOCK.replace(*change))
    assert len(errors) == 1, errors
    assert re.search(rf"p\.toml:\d+: p\.wave: .*{expected}", errors[0]), errors[0]
    line = int(errors[0].split(":")[1])
    assert line > HEAD.count("\n")  # the block's own line, not the file's top


def test_a_duplicate_correlation_id_is_refused(tmp_path: Path) -> None:
    errors = _load_errors(tmp_path, BLOCK + BLOCK)
    assert any("duplicate correlation id" in e for e in errors), errors


def test_validate_renders_every_notice_like_a_reply(tmp_path: Path) -> None:
    """A notice whose fragment is missing in one language fails `cxplay validate`."""
    book = tmp_path / "book"
    (book / "replies").mkdir(parents=True)
    for path in (ROOT / "playbooks").glob("*.toml"):
        (book / path.name).write_text(path.read_text(encoding="utf-8"), encoding="utf-8")
    for path in (ROOT / "playbooks" / "replies").glob("*.toml"):
        text = path.read_text(encoding="utf-8")
        if path.name == "disruption.uk.toml":
            text = text.replace('"queue_wave@sms" = "Ми відкрили більше кас."\n', "").replace(
                'queue_wave = """\nМи відкрили', 'queue_wav = """\nМи відкрили'
            )
        (book / "replies" / path.name).write_text(text, encoding="utf-8")
    assert run("validate", ROOT / "playbooks").exit_code == 0
    result = run("validate", book)
    assert result.exit_code == 1
    assert "retail.queue_wave" in result.output and "inform.queue_wave" in result.output


# --------------------------------------------------------------------------- the correlator

SPECS = [(3, 10, 5), (2, 4, 0)]  # (threshold, within, hold)


def _ours(
    specs: list[tuple[int, int, int]],
    lateness: int,
    arrivals: list[tuple[str | None, int, list[tuple[int, str]]]],
    *,
    split: int | None = None,
) -> list[tuple[Any, ...]]:
    made = [Spec(f"s{n}", *s) for n, s in enumerate(specs)]
    correlator = Correlator(made, lateness=lateness)
    out: list[tuple[Any, ...]] = []
    opened_at: dict[str, int] = {}
    for position, (incident_id, at, keys) in enumerate(arrivals):
        if split is not None and position == split:  # a restart: state through JSON
            state = json.loads(json.dumps(correlator.snapshot()))
            correlator = Correlator(made, lateness=lateness)
            correlator.restore(state)
        verdict = correlator.offer(incident_id, at, [(s, (k,)) for s, k in keys])
        if verdict.duplicate:
            out.append(("dup", verdict.member))
            continue
        if verdict.late:
            out.append(("late", verdict.member))
        for event in verdict.events:
            if isinstance(event, Opened):
                opened_at[event.disruption] = event.opened
                members = tuple((m, a) for m, a, _ in event.members)
                out.append(("open", event.spec, event.key[0], event.opened, members))
            else:
                assert isinstance(event, Attached)
                out.append(
                    (
                        "attach",
                        event.spec,
                        event.key[0],
                        opened_at[event.disruption],
                        event.member,
                        event.at,
                        event.late,
                    )
                )
    return out


arrival = st.tuples(
    st.one_of(st.none(), st.sampled_from([f"i{n}" for n in range(25)])),
    st.integers(0, 80),
    st.lists(st.sampled_from([(0, "a"), (0, "b"), (1, "a"), (1, "c")]), max_size=3, unique=True),
)
spec = st.tuples(st.integers(2, 4), st.integers(1, 12), st.integers(0, 10))


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(spec, min_size=2, max_size=2), st.integers(0, 15), st.lists(arrival, max_size=70))
def test_the_correlator_agrees_with_the_brute_force_reference(
    specs: list[tuple[int, int, int]], lateness: int, arrivals: list[Any]
) -> None:
    retention = max(w + h for _, w, h in specs) + lateness
    expected = reference(specs, lateness, retention, arrivals)
    assert _ours(specs, lateness, arrivals) == expected


@settings(max_examples=200, deadline=None)
@given(st.integers(0, 15), st.lists(arrival, max_size=60), st.data())
def test_a_restart_from_the_snapshot_changes_nothing(
    lateness: int, arrivals: list[Any], data: st.DataObject
) -> None:
    split = data.draw(st.integers(0, len(arrivals)))
    assert _ours(SPECS, lateness, arrivals, split=split) == _ours(SPECS, lateness, arrivals)


def test_in_order_a_wave_opens_once_and_later_incidents_attach() -> None:
    correlator = Correlator([Spec("w", 3, 10, 5)], lateness=0)
    opened = [correlator.offer(f"i{t}", t, [(0, ("k",))]).events for t in (0, 4, 8)]
    assert [list(e) for e in opened[:2]] == [[], []]
    (event,) = opened[2]
    assert isinstance(event, Opened) and [m for m, _, _ in event.members] == ["i0", "i4", "i8"]
    (attach,) = correlator.offer("i12", 12, [(0, ("k",))]).events
    assert isinstance(attach, Attached) and attach.disruption == event.disruption
    # 13 + 5 = 18 < 30: beyond the hold, a new window
    assert not correlator.offer("i30", 30, [(0, ("k",))]).events


def test_a_duplicate_is_one_member_and_a_late_incident_attaches_if_covered() -> None:
    correlator = Correlator([Spec("w", 2, 10, 5)], lateness=2)
    correlator.offer("a", 100, [(0, ("k",))])
    (opened,) = correlator.offer("b", 101, [(0, ("k",))]).events
    assert correlator.offer("a", 100, [(0, ("k",))]).duplicate
    correlator.offer("x", 200, [(0, ("other",))])  # the watermark moves to 198
    late = correlator.offer("c", 95, [(0, ("k",))])
    assert late.late and isinstance(late.events[0], Attached) and late.events[0].late
    uncovered = correlator.offer("d", 50, [(0, ("k",))])
    assert uncovered.late and not uncovered.events
    assert correlator.disruptions()[0].members == {"a": 100, "b": 101, "c": 95}
    assert opened.disruption == correlator.disruptions()[0].id


def test_idle_keys_are_dropped_on_the_watermark() -> None:
    correlator = Correlator([Spec("w", 3, 10, 0)], lateness=0)
    for n in range(1000):
        correlator.offer(f"i{n}", n * 100, [(0, (f"key{n}",))])  # every key alone
    assert correlator.keys_held() == 1 and correlator.window_size() == 1


def test_idle_keys_touched_together_leave_together_and_a_touched_one_stays() -> None:
    """The idle queue groups the keys touched at one latest time; a key touched again since,
    or holding a disruption, stays; a late incident of an unknown key leaves no state."""
    correlator = Correlator([Spec("w", 2, 10, 0)], lateness=0)
    for name in ("a", "b", "c"):  # all three waiting at the latest time 5
        correlator.offer(f"{name}5", 5, [(0, (name,))])
    correlator.offer("d12", 12, [(0, ("d",))])
    correlator.offer("d13", 13, [(0, ("d",))])  # d opens a disruption
    assert correlator.keys_held() == 4
    correlator.offer("c16", 16, [(0, ("c",))])  # c waits again; 5 + 10 passed: a and b go
    assert [item["key"] for item in correlator.snapshot()["keys"]] == [["c"], ["d"]]
    assert correlator.offer("late", 1, [(0, ("new",))]).late
    assert correlator.keys_held() == 2
    restored = Correlator([Spec("w", 2, 10, 0)], lateness=0)
    restored.restore(json.loads(json.dumps(correlator.snapshot())))
    restored.offer("y40", 40, [(0, ("y",))])  # restored keys leave on the watermark too
    assert [item["key"] for item in restored.snapshot()["keys"]] == [["d"], ["y"]]


def test_key_states_of_several_correlations_keep_the_order_they_were_made_in() -> None:
    """Each correlation holds its own key states (a one-field key named by its value); the
    snapshot still lists every key in the order the states were made, as one dict did: a
    key dropped and made again goes to the end, a restore keeps the order, and a key listed
    twice in a saved state keeps its first place with the last one's contents."""
    specs = [Spec("a", 3, 10, 0), Spec("b", 3, 10, 0)]
    correlator = Correlator(specs, lateness=0)
    correlator.offer("1", 0, [(1, ("x",)), (0, ("x",))])
    correlator.offer("2", 1, [(0, ("y",))])
    correlator.offer("3", 2, [(1, ("z", "w"))])  # a composite key beside one-field keys
    listed = [(item["spec"], item["key"]) for item in correlator.snapshot()["keys"]]
    assert listed == [("b", ["x"]), ("a", ["x"]), ("a", ["y"]), ("b", ["z", "w"])]
    correlator.offer("4", 12, [(0, ("y",))])  # 0 + 10 passed: both x go, then z w at 13
    correlator.offer("5", 13, [(1, ("x",))])
    assert correlator.keys_held() == 2 and correlator.window_size() == 2
    correlator.offer("6", 13, [(1, ("z", "w"))])
    correlator.offer("7", 13, [(0, ("q",))])
    listed = [(item["spec"], item["key"]) for item in correlator.snapshot()["keys"]]
    assert listed == [("a", ["y"]), ("b", ["x"]), ("b", ["z", "w"]), ("a", ["q"])]
    state = json.loads(json.dumps(correlator.snapshot()))
    restored = Correlator(specs, lateness=0)
    restored.restore(state)
    assert restored.snapshot() == correlator.snapshot()
    twice = dict(state, keys=[*state["keys"], dict(state["keys"][0], pending=[])])
    restored.restore(twice)
    listed = [(item["spec"], item["key"], item["pending"]) for item in restored.snapshot()["keys"]]
    assert listed[0] == ("a", ["y"], []) and [k for _, k, _ in listed[1:]] == [
        ["x"],
        ["z", "w"],
        ["q"],
    ]


def test_disruption_ids_are_deterministic_across_replays() -> None:
    arrivals = [(f"i{n}", (n * 7) % 23, [(0, "a"), (1, "a")]) for n in range(40)]
    assert _ours(SPECS, 5, arrivals) == _ours(SPECS, 5, arrivals)
    first = Correlator([Spec("w", 3, 10, 5)], lateness=5)
    second = Correlator([Spec("w", 3, 10, 5)], lateness=5)
    ids = [
        [e.disruption for a in arrivals for e in c.offer(a[0], a[1], [(0, ("a",))]).events]
        for c in (first, second)
    ]
    assert ids[0] == ids[1] and ids[0]


# --------------------------------------------------------------------------- the shipped rules

PEOPLE = [("Anna Kowalska", "pl"), ("John Smith", "en"), ("Олена Петренко", "uk")]
CHANNELS = ["email", "sms", "phone", "chat"]


def incident(n: int, minutes: float, kind: str = "parcel", **extra: Any) -> dict[str, Any]:
    """One generated incident of a stream: customers in three languages on four channels."""
    name, language = PEOPLE[n % 3]
    base: dict[str, Any] = {
        "id": f"I-{n}",
        "occurred_at": (T0 + timedelta(minutes=minutes)).isoformat(),
        "channel": CHANNELS[n % 4],
        "customer": {"id": f"C-{n}", "name": name, "language": language},
    }
    if kind == "parcel":
        base.update(
            type="parcel_late",
            order={"id": f"PL-{n}", "value": 120, "currency": "PLN", "carrier": "InPost"},
            facts={"delay_days": 3},
        )
    elif kind == "travel":
        base.update(
            type="guest_travel_disrupted",
            event={"id": "cxconf-2026"},
            facts={"delay_minutes": 40, "route": "IC 5301"},
        )
    elif kind == "webinar":
        base.update(
            type="webinar_missed",
            event={"id": "cxconf-2026", "session": "Keynote"},
            facts={"replay_url": "https://cxconf.example/replay"},
        )
    elif kind == "queue":
        base.update(
            type="queue_long",
            channel="in_person",
            facts={"queue_minutes": 25, "store": "Kraków Rynek"},
        )
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(base.get(key), dict):
            base[key] = {**base[key], **value}
        else:
            base[key] = value
    return base


@pytest.fixture(scope="module")
def engine() -> Engine:
    return Engine.from_path(backend="python")


def watch(
    engine: Engine, stream: list[dict[str, Any]], lateness: float = 5
) -> list[dict[str, Any]]:
    watcher = Watcher(engine, lateness=timedelta(minutes=lateness))
    out: list[dict[str, Any]] = []
    for raw in stream:
        out.extend(watcher.process(raw) or ())
    return out


def of(out: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [e for e in out if e["event"] == kind]


@pytest.mark.parametrize(
    ("kind", "correlation", "threshold", "spacing", "key"),
    [
        ("parcel", "parcel.carrier_wave", 20, 5, "InPost"),  # 20 in 2 h: one every 5 min
        ("travel", "events.travel_disruption", 3, 10, ["cxconf-2026", "IC 5301"]),
        ("queue", "retail.queue_wave", 3, 6, "Kraków Rynek"),
        ("webinar", "events.webinar_failed", 5, 3, ["cxconf-2026", "Keynote"]),
    ],
)
def test_each_shipped_correlation_opens_at_its_threshold_and_tells_everyone(
    engine: Engine, kind: str, correlation: str, threshold: int, spacing: float, key: Any
) -> None:
    below = [incident(n, n * spacing, kind) for n in range(threshold - 1)]
    assert of(watch(engine, below), "disruption_opened") == []
    stream = [incident(n, n * spacing, kind) for n in range(threshold + 4)]
    out = watch(engine, stream)
    (opened,) = of(out, "disruption_opened")
    assert opened["correlation"] == correlation and opened["key"] == key
    assert opened["members"] == threshold and opened["actions"][0]["kind"] == "escalate"
    attached = of(out, "incident_attached")
    assert [a["incident_id"] for a in attached] == [f"I-{n}" for n in range(threshold + 4)]
    notices = of(out, "notice")
    assert len(notices) == threshold + 4 and all("error" not in n for n in notices)
    for n, notice in enumerate(notices):
        language = PEOPLE[n % 3][1]
        assert notice["language"] == language, notice
        assert notice["channel"] == stream[n]["channel"]
        assert notice["customer_id"] == f"C-{n}"
        if notice["channel"] == "sms":
            assert notice["reply"]["segments"] <= 3
    assert len(of(out, "suggestion")) == threshold + 4


def test_a_slow_trickle_and_two_keys_never_make_a_disruption(engine: Engine) -> None:
    trickle = [incident(n, n * 7, "parcel") for n in range(40)]  # 17 per two hours at most
    assert of(watch(engine, trickle), "disruption_opened") == []
    two = [
        incident(n, n * 2, "parcel", order={"carrier": "InPost" if n % 2 else "DPD"})
        for n in range(38)
    ]  # 19 each within 76 minutes
    assert of(watch(engine, two), "disruption_opened") == []


def test_keys_are_the_same_whether_a_condition_is_decided_by_type_or_per_incident(
    tmp_path: Path,
) -> None:
    """Watcher.keys decides a type-only condition once per type and reads key fields from
    the model; a condition on a fact is evaluated per incident. Both against the plain
    reading: flatten, evaluate, take the key fields."""
    from cxplay._engine.engine import Flattener
    from cxplay._engine.reference import compile_node

    blocks = BLOCK + BLOCK.replace('id = "p.wave"', 'id = "p.slow"').replace(
        "when = \"type == 'parcel_late'\"",
        "when = \"type in ['parcel_late', 'x'] and facts.delay_days >= 3\"",
    ).replace('key = "order.carrier"', 'key = ["order.carrier", "facts.route"]')
    facts = '\n[facts]\ndelay_days = "integer"\nroute = "string"\n'
    (tmp_path / "p.toml").write_text(HEAD + facts + blocks, encoding="utf-8")
    engine = Engine.from_path([tmp_path / "p.toml"], backend="python")
    watcher = Watcher(engine, suggestions=False, notices=False)
    correlations = watcher.correlations
    assert [c.id for c in correlations] == ["p.wave", "p.slow"]
    paths = sorted({"type", "facts.delay_days", "order.carrier", "facts.route"})
    flatten = Flattener(paths)
    tests = [compile_node(c.condition) for c in correlations]
    for n, (kind, delay, carrier, route) in enumerate(
        [
            ("parcel_late", 3, "InPost", "A1"),
            ("parcel_late", 1, "InPost", "A1"),
            ("parcel_late", 5, "", "A1"),
            ("parcel_late", 5, "DPD", None),
            ("x", 4, "DPD", "B2"),
            ("x", 2, None, "B2"),
        ]
    ):
        raw: dict[str, Any] = {
            "id": f"k{n}",
            "type": kind,
            "facts": {"delay_days": delay, **({"route": route} if route else {})},
        }
        if carrier is not None:
            raw["order"] = {"carrier": carrier}
        model = engine.incident(raw)
        flat = flatten(model)
        expected: list[tuple[int, tuple[Any, ...]]] = []
        missing = False
        for index, (block, test) in enumerate(zip(correlations, tests, strict=True)):
            if not test(flat):
                continue
            key = tuple(flat.get(f) for f in block.correlate.key)
            if None in key or "" in key:
                missing = True
            else:
                expected.append((index, key))
        assert watcher.keys(model) == (expected, missing), raw


def test_watcher_offer_is_keys_then_the_event_time_then_the_correlators_offer(
    engine: Engine,
) -> None:
    """The fused call correlate() and bench_watch.py use gives what the three parts give."""
    kinds = ["parcel", "travel", "queue", "webinar", "parcel"]
    stream = [incident(n, (n * 7) % 50, kinds[n % 5]) for n in range(60)]
    stream += [incident(n, n, "parcel") for n in range(5)]  # duplicates of earlier ids
    stream.append(incident(70, 3, "queue", facts={"store": ""}))  # a key field missing
    stream.append(incident(71, 4, "parcel", order={"carrier": None}))
    stream.append(incident(72, -90, "parcel"))  # late
    stream.append(incident(73, 5, "x", type="account_locked"))  # no correlation at all
    fused, parts = (Watcher(engine, lateness=timedelta(minutes=5)) for _ in range(2))
    for raw in stream:
        model = engine.incident(raw)
        keys, missing = parts.keys(model)
        assert model.occurred_at is not None
        at = (model.occurred_at - datetime(1970, 1, 1, tzinfo=timezone.utc)) // timedelta(
            microseconds=1
        )
        expected = parts.correlator.offer(model.id, at, keys, model if keys else None)
        assert fused.offer(model) == (expected, missing), raw
    assert fused.correlator.snapshot() == parts.correlator.snapshot()
    opened = [e for e in (fused.correlator.snapshot()["keys"]) if e["disruptions"]]
    assert opened  # the stream opens disruptions, so events were compared too


def test_missing_time_and_missing_key_are_handled_singly_and_flagged(engine: Engine) -> None:
    stream = [incident(n, n, "queue") for n in range(2)]
    untimed = incident(2, 2, "queue")
    del untimed["occurred_at"]
    keyless = incident(3, 3, "queue", facts={"queue_minutes": 30, "store": ""})
    out = watch(engine, [*stream, untimed, keyless])
    flags = {s["incident_id"]: s["flags"] for s in of(out, "suggestion")}
    assert flags == {"I-0": [], "I-1": [], "I-2": ["no_occurred_at"], "I-3": ["no_key"]}
    assert of(out, "disruption_opened") == []


def test_out_of_order_within_the_lateness_gives_the_same_disruption(engine: Engine) -> None:
    ordered = [incident(n, n * 4, "webinar") for n in range(8)]
    shuffled = [ordered[i] for i in (1, 0, 3, 2, 5, 4, 7, 6)]  # each at most 4 min late
    first = watch(engine, ordered)
    second = watch(engine, shuffled)
    assert [o["disruption_id"] for o in of(first, "disruption_opened")] == [
        o["disruption_id"] for o in of(second, "disruption_opened")
    ]
    assert {n["incident_id"] for n in of(first, "notice")} == {
        n["incident_id"] for n in of(second, "notice")
    }


def test_a_late_incident_is_flagged_and_attached_when_covered(engine: Engine) -> None:
    stream = [incident(n, n * 2, "queue") for n in range(3)]
    stream.append(incident(3, 90, "queue", facts={"store": "Gdańsk"}))  # the watermark: 85
    stream.append(incident(4, 10, "queue"))  # 80 minutes late, within [0 - 20, 4 + 60]
    stream.append(incident(5, -60, "queue"))  # late and before the disruption's cover
    out = watch(engine, stream)
    flags = {s["incident_id"]: s["flags"] for s in of(out, "suggestion")}
    assert flags["I-4"] == ["late"] and flags["I-5"] == ["late"]
    attached = {a["incident_id"]: a["late"] for a in of(out, "incident_attached")}
    assert attached == {"I-0": False, "I-1": False, "I-2": False, "I-4": True}


# --------------------------------------------------------------------------- the CLI


def cxplay(*args: str | Path, input: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
    """`cxplay ...` as a user runs it: a process of its own."""
    env = {k: v for k, v in os.environ.items() if k not in ("CXPLAY_PLAYBOOKS", "CXPLAY_LOG")}
    return subprocess.run(
        [sys.executable, "-m", "cxplay", *map(str, args)],
        input=input,
        capture_output=True,
        env={**env, "NO_COLOR": "1"},
        timeout=300,
        check=False,
    )


def write_stream(path: Path, stream: list[dict[str, Any]]) -> Path:
    path.write_text(
        "".join(json.dumps(i, ensure_ascii=False) + "\n" for i in stream), encoding="utf-8"
    )
    return path


def test_watch_writes_events_and_goes_on_past_malformed_lines(tmp_path: Path) -> None:
    stream = [incident(n, n * 2, "queue") for n in range(5)]
    lines = [json.dumps(i, ensure_ascii=False) for i in stream]
    lines.insert(1, "{not json")
    lines.insert(3, "[1, 2]")
    lines.insert(4, json.dumps({"type": "queue_lon", "occurred_at": T0.isoformat()}))
    lines.insert(5, lines[0])  # the same incident twice
    source = tmp_path / "in.jsonl"
    source.write_bytes(("\n".join(lines) + "\n").encode() + b"\xff\xfe\n")
    done = cxplay("watch", source, "--log", tmp_path / "cx.db")
    assert done.returncode == 0, done.stderr
    err = done.stderr.decode()
    assert f"{source}:2: skipped: not JSON" in err
    assert f"{source}:4: skipped: an incident is a JSON object, not list" in err
    assert f"{source}:5: skipped:" in err and "did you mean 'queue_long'" in err
    assert f"{source}:6: duplicate of incident 'I-0'; skipped" in err
    assert f"{source}:10: skipped: not UTF-8" in err
    assert "Traceback" not in err
    out = events(done.stdout.decode())
    assert [e["event"] for e in out].count("suggestion") == 5
    (opened,) = of(out, "disruption_opened")
    assert len(of(out, "notice")) == 5 and opened["key"] == "Kraków Rynek"
    again = cxplay("watch", "-", "--stateless", input=source.read_bytes())
    assert [e.get("disruption_id") for e in events(again.stdout.decode())] == [
        e.get("disruption_id") for e in out
    ]


def test_disruptions_list_and_resolve_tell_every_member_once(tmp_path: Path) -> None:
    log = tmp_path / "cx.db"
    source = write_stream(tmp_path / "in.jsonl", [incident(n, n, "webinar") for n in range(7)])
    assert cxplay("watch", source, "--log", log, "--no-suggestions").returncode == 0
    listed = cxplay("disruptions", "list", "--format", "json", "--log", log)
    (row,) = json.loads(listed.stdout)
    assert row["status"] == "open" and row["members"] == 7 and row["first_notice_at"]
    text = cxplay("disruptions", "--log", log).stdout.decode()
    assert row["disruption_id"] in text and "7 customers" in text
    resolved = cxplay("disruptions", "resolve", row["disruption_id"][:10], "--log", log)
    assert resolved.returncode == 0, resolved.stderr
    out = events(resolved.stdout.decode())
    notices = of(out, "notice")
    assert {n["incident_id"] for n in notices} == {f"I-{n}" for n in range(7)}
    assert {n["kind"] for n in notices} == {"resolution"}
    assert "https://cxconf.example/replay" in notices[0]["reply"]["body"]
    assert of(out, "disruption_resolved")[0]["notified"] == 7
    twice = cxplay("disruptions", "resolve", row["disruption_id"], "--log", log)
    assert of(events(twice.stdout.decode()), "notice") == []
    assert (
        json.loads(cxplay("disruptions", "list", "--format", "json", "--log", log).stdout)[0][
            "status"
        ]
        == "resolved"
    )
    unknown = cxplay("disruptions", "resolve", "D-nope", "--log", log)
    assert unknown.returncode == 1 and unknown.stderr.decode().startswith("Error: no disruption")


def test_a_second_run_over_the_same_file_resumes_instead_of_repeating(tmp_path: Path) -> None:
    log = tmp_path / "cx.db"
    source = write_stream(tmp_path / "in.jsonl", [incident(n, n, "queue") for n in range(4)])
    first = events(cxplay("watch", source, "--log", log).stdout.decode())
    assert len(of(first, "notice")) == 4
    with source.open("a", encoding="utf-8") as more:
        more.write(json.dumps(incident(4, 5, "queue"), ensure_ascii=False) + "\n")
    second = events(cxplay("watch", source, "--log", log).stdout.decode())
    assert [e["event"] for e in second] == ["suggestion", "incident_attached", "notice"]


def _stream_of_waves(count: int) -> list[dict[str, Any]]:
    """Queue waves in 10 shops, a few late, a few duplicates: the kill test's input."""
    stream = []
    for n in range(count):
        shop = f"Shop {n % 10}"
        minute = (n // 10) * 1.5 + (3 if n % 17 == 0 else 0)  # some out of order
        stream.append(incident(n, minute, "queue", facts={"store": shop}))
        if n % 29 == 0:
            stream.append(stream[-1])
    return stream


def test_a_watcher_killed_mid_stream_sends_no_notice_twice_and_loses_no_member(
    tmp_path: Path,
) -> None:
    source = write_stream(tmp_path / "in.jsonl", _stream_of_waves(400))
    whole = cxplay("watch", source, "--log", tmp_path / "whole.db", "--no-suggestions")
    expected = events(whole.stdout.decode())
    log, out = tmp_path / "killed.db", tmp_path / "out.jsonl"
    args = [sys.executable, "-m", "cxplay", "watch", str(source), "--log", str(log)]
    args += ["--no-suggestions", "--batch", "7", "--out", str(out)]
    kills = 0
    for _ in range(3):  # kill it three times, each after some output
        size = out.stat().st_size if out.exists() else 0
        process = subprocess.Popen(args, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 60
        while process.poll() is None and time.monotonic() < deadline:
            if out.exists() and out.stat().st_size > size + 3000:
                process.send_signal(signal.SIGKILL)
                kills += 1
                break
            time.sleep(0.005)
        process.wait()
    assert kills >= 1
    final = subprocess.run(args, capture_output=True, check=False, timeout=300)
    assert final.returncode == 0, final.stderr
    got = events(out.read_text(encoding="utf-8"))
    notices = Counter((n["disruption_id"], n["incident_id"]) for n in of(got, "notice"))
    assert max(notices.values()) == 1  # no notice twice
    assert set(notices) == {(n["disruption_id"], n["incident_id"]) for n in of(expected, "notice")}
    members = {
        row["disruption_id"]: row["members"]
        for row in json.loads(
            cxplay("disruptions", "list", "--format", "json", "--log", log).stdout
        )
    }
    assert members == {
        row["disruption_id"]: row["members"]
        for row in json.loads(
            cxplay("disruptions", "list", "--format", "json", "--log", tmp_path / "whole.db").stdout
        )
    }


def test_an_output_file_is_cut_back_to_its_last_commit(tmp_path: Path) -> None:
    """What a killed run wrote after its last commit (a torn line) is cut, then redone once."""
    source = write_stream(tmp_path / "in.jsonl", _stream_of_waves(60))
    log, out = tmp_path / "cx.db", tmp_path / "out.jsonl"
    args = ("watch", source, "--log", log, "--no-suggestions", "--out", out)
    first = cxplay(*args)
    assert first.returncode == 0, first.stderr
    written = out.read_text(encoding="utf-8")
    assert of(events(written), "notice")
    with out.open("a", encoding="utf-8") as torn:
        torn.write('{"event": "notice", "kind": "notice", "disruption_id": "D-')
    again = cxplay(*args)
    assert again.returncode == 0, again.stderr
    assert "cut 58 bytes written after the last commit" in again.stderr.decode()
    assert out.read_text(encoding="utf-8") == written  # nothing new: every line committed


def test_follow_reads_lines_as_they_are_appended(tmp_path: Path) -> None:
    source = write_stream(tmp_path / "in.jsonl", [incident(0, 0, "queue")])
    args = [sys.executable, "-m", "cxplay", "watch", str(source), "--follow", "--stateless"]
    process = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    try:
        assert process.stdout is not None
        first = json.loads(process.stdout.readline())
        assert first["event"] == "suggestion" and first["incident_id"] == "I-0"
        with source.open("a", encoding="utf-8") as more:
            for n in (1, 2):
                more.write(json.dumps(incident(n, n, "queue"), ensure_ascii=False) + "\n")
        seen = [json.loads(process.stdout.readline())["event"] for _ in range(5)]
        assert seen.count("suggestion") == 2 and "disruption_opened" in seen
    finally:
        process.terminate()
        process.wait(timeout=30)
        if process.stdout is not None:
            process.stdout.close()


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
def test_the_state_lives_in_sqlite_or_postgresql(tmp_path: Path, kind: str, engine: Engine) -> None:
    import io

    from logstores import fresh_store

    from cxplay import DecisionLog
    from cxplay._watch.run import run_watch
    from cxplay._watch.store import WatchStore

    source = write_stream(tmp_path / "in.jsonl", [incident(n, n, "webinar") for n in range(6)])
    for target in fresh_store(kind, tmp_path):
        for round_ in range(2):  # the second run resumes: nothing new
            with DecisionLog.open(target) as log:
                out = io.StringIO()
                stats = run_watch(
                    Watcher(engine),
                    str(source),
                    out=out,
                    warn=lambda _: None,
                    store=WatchStore(log),
                    batch=4,
                )
                notices = of(events(out.getvalue()), "notice")
                assert len(notices) == (6 if round_ == 0 else 0)
                assert stats.skipped == (0 if round_ == 0 else 6)
                (row,) = WatchStore(log).disruptions()
                assert row.members == 6 and row.status == "open"


def test_backtest_correlate_compares_the_disruptions_watch_would_open(tmp_path: Path) -> None:
    baseline = tmp_path / "baseline"
    (baseline / "replies").mkdir(parents=True)
    for path in (ROOT / "playbooks").glob("*.toml"):
        text = path.read_text(encoding="utf-8")
        if path.name == "retail.toml":  # the baseline asked for 10 long queues, not 3
            text = text.replace(
                'key = "facts.store"\nthreshold = 3', 'key = "facts.store"\nthreshold = 10'
            )
        (baseline / path.name).write_text(text, encoding="utf-8")
    for path in (ROOT / "playbooks" / "replies").glob("*.toml"):
        (baseline / "replies" / path.name).write_bytes(path.read_bytes())
    source = write_stream(tmp_path / "in.jsonl", [incident(n, n * 2, "queue") for n in range(5)])
    watched = events(cxplay("watch", source, "--stateless", "--no-suggestions").stdout.decode())
    (opened,) = of(watched, "disruption_opened")
    done = cxplay(
        "backtest", "--playbooks", ROOT / "playbooks", "--baseline", baseline, source, "--correlate"
    )
    assert done.returncode == 0, done.stderr
    text = done.stdout.decode()
    assert "Disruptions (correlation on, as cxplay watch)" in text
    assert f"+ {opened['disruption_id']} retail.queue_wave key=Kraków Rynek (5 members)" in text
    as_json = cxplay(
        "backtest",
        "--playbooks",
        ROOT / "playbooks",
        "--baseline",
        baseline,
        source,
        "--correlate",
        "--format",
        "json",
    )
    comparison = json.loads(as_json.stdout)["disruptions"]
    assert comparison["baseline"] == {"disruptions": 0, "members": 0}
    assert [a["disruption_id"] for a in comparison["added"]] == [opened["disruption_id"]]


def test_disruptions_show_the_time_to_notice_of_a_live_stream(tmp_path: Path) -> None:
    now = datetime.now(timezone.utc)
    stream = [
        incident(n, 0, "queue", occurred_at=(now - timedelta(seconds=30 - n)).isoformat())
        for n in range(3)
    ]
    log = tmp_path / "cx.db"
    assert (
        cxplay("watch", write_stream(tmp_path / "in.jsonl", stream), "--log", log).returncode == 0
    )
    (row,) = json.loads(cxplay("disruptions", "list", "--format", "json", "--log", log).stdout)
    assert 0 < row["time_to_notice_s"] < 120  # from the 3rd incident's occurred_at
    text = cxplay("disruptions", "--log", log).stdout.decode()
    assert "after the incident that opened it" in text
    assert text.strip().endswith("1 disruptions (1 open), 3 members")


def test_log_forget_erases_the_customer_from_disruptions_and_waiting_windows(
    tmp_path: Path,
) -> None:
    import sqlalchemy as sa

    log = tmp_path / "cx.db"
    stream = [incident(n, n, "webinar") for n in range(5)]  # a disruption: C-0 ... C-4
    stream += [incident(9, 100, "queue")]  # C-9 waits alone in a window
    assert (
        cxplay("watch", write_stream(tmp_path / "in.jsonl", stream), "--log", log).returncode == 0
    )
    for customer in ("C-0", "C-9"):
        assert cxplay("log", "forget", customer, "--log", log).returncode == 0
    engine = sa.create_engine(f"sqlite:///{log}")
    with engine.connect() as conn:
        members = {
            r.incident_id: (
                r.customer_id,
                json.loads(r.incident) if isinstance(r.incident, str) else r.incident,
            )
            for r in conn.execute(sa.text("SELECT * FROM cxplay_disruption_member"))
        }
        (state,) = conn.execute(sa.text("SELECT state FROM cxplay_watch_state")).scalars()
    engine.dispose()
    assert members["I-0"][0] is None and "name" not in members["I-0"][1]["customer"]
    assert members["I-1"][0] == "C-1" and members["I-1"][1]["customer"]["name"] == "John Smith"
    assert "Олена Петренко" in json.dumps(members["I-2"][1], ensure_ascii=False)
    text = state if isinstance(state, str) else json.dumps(state, ensure_ascii=False)
    assert "C-9" not in text and "Anna Kowalska" not in text  # I-9's customer was Anna
    assert len(members) == 5


def test_a_notice_names_when_the_customer_hears_from_us_next(engine: Engine) -> None:
    """The block's follow-up falls due from the event time the notice is made at.

    The carrier wave opens on Friday 20 November at 11:35 in Warsaw (the 20th parcel):
    eight working hours of the parcel team (08:00-18:00, Monday to Friday) end on Monday at
    09:35, in every member's notice; a parcel attached five minutes later gets 09:40. The
    same stream gives the same words again (a replay sends nothing new).
    """
    stream = [incident(n, n * 5, "parcel") for n in range(21)]
    notices = of(watch(engine, stream), "notice")
    expected = {
        ("en", "email"): "Either way, you will hear from us by 09:35 on Monday 23 November.",
        ("en", "sms"): "By 09:35 on Monday at the latest.",
        ("pl", "email"): "W każdym razie odezwiemy się w poniedziałek, 23 listopada, do 09:35.",
        ("pl", "sms"): "Najpóźniej w poniedziałek do 09:35.",
        ("uk", "chat"): "У будь-якому разі дамо Вам знати у понеділок, 23 листопада, до 09:35.",
        ("uk", "sms"): "Найпізніше — у понеділок до 09:35.",
    }
    seen = set()
    for notice in notices[:20]:
        said = expected.get((notice["language"], notice["channel"]))
        if said is not None:
            assert said in notice["reply"]["body"], notice["reply"]["body"]
            seen.add((notice["language"], notice["channel"]))
    assert seen == set(expected)
    assert "23 листопада, до 09:40" in notices[20]["reply"]["body"]  # I-20: Olena, e-mail
    again = of(watch(engine, stream), "notice")
    assert [n["reply"] for n in again] == [n["reply"] for n in notices]
    # a webinar's recording is promised a day after the wave (calendar time: the events
    # team works the event's days)
    webinar = of(watch(engine, [incident(n, n * 3, "webinar") for n in range(5)]), "notice")
    english = next(n for n in webinar if n["language"] == "en" and n["channel"] == "sms")
    assert "You'll have the full recording by 09:12 tomorrow." in english["reply"]["body"]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(spec, min_size=2, max_size=2),
    st.integers(0, 15),
    st.one_of(st.none(), st.integers(0, 30)),
    st.lists(arrival, max_size=70),
    st.integers(1, 4),
)
def test_forgetting_ids_in_bulk_is_forgetting_them_after_every_incident(
    specs: list[tuple[int, int, int]],
    lateness: int,
    retention: int | None,
    arrivals: list[Any],
    every: int,
) -> None:
    """Remembered ids are forgotten in bulk every so many incidents: the verdicts and, after
    every incident, the snapshot are those of a pass after every incident (every=1)."""
    from unittest import mock

    from cxplay._watch import correlator as module

    def run(period: int) -> list[Any]:
        made = [Spec(f"s{n}", *s) for n, s in enumerate(specs)]
        correlator = Correlator(made, lateness=lateness, retention=retention)
        out: list[Any] = []
        with mock.patch.object(module, "_EXPIRE_EVERY", period):
            for incident_id, at, keys in arrivals:
                verdict = correlator.offer(incident_id, at, [(s, (k,)) for s, k in keys])
                out.append((verdict.late, verdict.duplicate, correlator.snapshot()))
        return out

    assert run(every) == run(1) == run(10_000)
