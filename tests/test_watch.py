"""`cxplay watch`: correlation rules, the correlator, notices, the CLI and its state.

The correlator is held to a brute-force reference (tests/watch_reference.py) on random
disordered streams; the CLI is run as a user runs it, over the shipped playbooks.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from watch_reference import reference

from cxplay._cli import cli
from cxplay._playbooks.loader import load_playbooks
from cxplay._watch.correlator import Attached, Correlator, Opened, Spec
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
    assert opened[:2] == [(), ()]
    (event,) = opened[2]
    assert isinstance(event, Opened) and [m for m, _, _ in event.members] == ["i0", "i4", "i8"]
    (attach,) = correlator.offer("i12", 12, [(0, ("k",))]).events
    assert isinstance(attach, Attached) and attach.disruption == event.disruption
    # 13 + 5 = 18 < 30: beyond the hold, a new window
    assert correlator.offer("i30", 30, [(0, ("k",))]).events == ()


def test_a_duplicate_is_one_member_and_a_late_incident_attaches_if_covered() -> None:
    correlator = Correlator([Spec("w", 2, 10, 5)], lateness=2)
    correlator.offer("a", 100, [(0, ("k",))])
    (opened,) = correlator.offer("b", 101, [(0, ("k",))]).events
    assert correlator.offer("a", 100, [(0, ("k",))]).duplicate
    correlator.offer("x", 200, [(0, ("other",))])  # the watermark moves to 198
    late = correlator.offer("c", 95, [(0, ("k",))])
    assert late.late and isinstance(late.events[0], Attached) and late.events[0].late
    uncovered = correlator.offer("d", 50, [(0, ("k",))])
    assert uncovered.late and uncovered.events == ()
    assert correlator.disruptions()[0].members == {"a": 100, "b": 101, "c": 95}
    assert opened.disruption == correlator.disruptions()[0].id


def test_idle_keys_are_dropped_on_the_watermark() -> None:
    correlator = Correlator([Spec("w", 3, 10, 0)], lateness=0)
    for n in range(1000):
        correlator.offer(f"i{n}", n * 100, [(0, (f"key{n}",))])  # every key alone
    assert correlator.keys_held() == 1 and correlator.window_size() == 1


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
