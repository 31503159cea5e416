"""A decision's actions JSON and rules text, from each action's parts kept by identity (s-log8).

``records.action_columns`` must give what ``Pending.prepare`` gave before it
(``records._old_action_columns``: one pydantic-core pass over the tuple, the rules by
``dict.fromkeys``) for every tuple of actions: the engine's shared ones met again, fresh
ones with and without a cost, the same object twice, a subclass, after the memo is emptied.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cxplay import Engine
from cxplay._common.models import json_tuple_bytes
from cxplay._log import records
from cxplay.results import Cost, SuggestedAction

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = sorted((ROOT / "examples" / "incidents").glob("*.json"))


@pytest.fixture(scope="module")
def engine() -> Engine:
    return Engine.from_path()


def _action(rule: str, playbook: str, *, cost: float | None, note: str = "") -> SuggestedAction:
    return SuggestedAction(
        kind="refund" if cost is not None else "apology",
        rule=rule,
        playbook=playbook,
        priority=10,
        params={"note": note, "options": ["a", "b"]} if note else {},
        reason=f"because {note}" if note else None,
        requires_approval=bool(note),
        cost=Cost(amount=cost, currency="PLN") if cost is not None else None,
        dimension="functional",
        stage=None,
    )


class _OwnAction(SuggestedAction):
    """A subclass: the old way, whole."""


_RULES = st.sampled_from(["r.one", "r.two", "r two", "r"])
_BOOKS = st.sampled_from(["a@1.0.0", "b@2.0.0", "two a@1"])
_FRESH = st.builds(
    _action,
    _RULES,
    _BOOKS,
    cost=st.none() | st.floats(0, 1000),
    note=st.sampled_from(["", "Київ", 'q"uote\\', "\u2028"]),
)
_SHARED = [_action(r, b, cost=None) for r in ("r.one", "r two") for b in ("a@1.0.0", "two a@1")]


@st.composite
def action_tuples(draw: st.DrawFn) -> tuple[SuggestedAction, ...]:
    out: list[SuggestedAction] = []
    for _ in range(draw(st.integers(0, 7))):
        choice = draw(st.integers(0, 3))
        if choice == 0 and out:
            out.append(draw(st.sampled_from(out)))  # the same object twice
        elif choice == 1:
            out.append(draw(_FRESH))
        else:
            out.append(draw(st.sampled_from(_SHARED)))
    return tuple(out)


@given(actions=action_tuples(), empty=st.booleans())
@settings(max_examples=300, deadline=None)
def test_the_columns_are_what_prepare_made(
    actions: tuple[SuggestedAction, ...], empty: bool
) -> None:
    if empty:
        records._ACTION_PARTS.clear()
    expected = records._old_action_columns(actions)
    assert records.action_columns(actions) == expected
    assert records.action_columns(actions) == expected  # (kept now)
    assert expected[0] == json_tuple_bytes(SuggestedAction, actions)


@given(actions=action_tuples(), at=st.integers(0, 7))
@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_a_subclass_goes_the_old_way(actions: tuple[SuggestedAction, ...], at: int) -> None:
    own = _OwnAction.model_validate(_action("r.own", "c@3", cost=None).model_dump())
    mixed = (*actions[:at], own, *actions[at:])
    assert records.action_columns(mixed) == records._old_action_columns(mixed)
    assert id(own) not in records._ACTION_PARTS


def test_only_actions_without_a_cost_are_kept() -> None:
    records._ACTION_PARTS.clear()
    plain, costly = _action("r.one", "a@1", cost=None), _action("r.one", "a@1", cost=5.0)
    records.action_columns((plain, costly))
    assert list(records._ACTION_PARTS) == [id(plain)]
    assert records._ACTION_PARTS[id(plain)][0] is plain  # (held: its id names it alone)


def test_the_memo_is_emptied_when_full(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(records, "_ACTION_PARTS_LIMIT", 3)
    records._ACTION_PARTS.clear()
    actions = tuple(_action(f"r.{n}", "a@1", cost=None) for n in range(5))
    assert records.action_columns(actions) == records._old_action_columns(actions)
    assert len(records._ACTION_PARTS) <= 3
    assert records.action_columns(actions) == records._old_action_columns(actions)


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.stem)
def test_the_engines_actions_are_kept_and_written_alike(path: Path, engine: Engine) -> None:
    """Two suggestions of one example share their plain actions: the second hits the memo."""
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    first, second = engine.suggest(data), engine.suggest(data)
    for suggestion in (first, second):
        expected = records._old_action_columns(suggestion.actions)
        assert records.action_columns(suggestion.actions) == expected
    shared = [a for a, b in zip(first.actions, second.actions, strict=True) if a is b]
    assert all(id(a) in records._ACTION_PARTS for a in shared if a.cost is None)


# -- the record's text check: every column at once, then one by one -----------------------

from datetime import datetime, timezone  # noqa: E402

from cxplay import LogError  # noqa: E402
from cxplay._common.text import text_problem  # noqa: E402
from cxplay._log.faults import TEXT_COLUMNS  # noqa: E402
from cxplay._log.privacy import DEFAULT_MASK  # noqa: E402
from cxplay.models import Customer, Incident  # noqa: E402
from cxplay.results import Reply, Suggestion  # noqa: E402

_TEXTS = st.none() | st.text(
    st.sampled_from(["a", "Ж", "\t", "\n", "\r", "\x00", "\x1f", "\x7f", "\x85", "\ud800", " "]),
    max_size=4,
)


def _old_problem(pending: records.Pending) -> str | None:
    """The check as it was: each column in turn, the first problem named."""
    for column in TEXT_COLUMNS:
        value = getattr(pending, column)
        problem = text_problem(value) if isinstance(value, str) else None
        if problem is not None:
            return f"decision {pending.id} not logged: {column}: {problem}"
    return None


@given(
    incident_id=_TEXTS,
    customer_id=_TEXTS,
    kind=_TEXTS.map(lambda t: t or "zz"),
    channel=_TEXTS,
    language=_TEXTS,
    severity=_TEXTS.map(lambda t: t or "low"),
    replied=st.booleans(),
)
@settings(max_examples=300, deadline=None)
def test_the_text_check_refuses_what_it_refused(
    incident_id: str | None,
    customer_id: str | None,
    kind: str,
    channel: str | None,
    language: str | None,
    severity: str,
    replied: bool,
) -> None:
    """Valid models never hold such text; a model made without validation may."""
    values: dict[str, Any] = {"id": incident_id, "type": kind, "channel": channel}
    customer_values: dict[str, Any] = {"id": customer_id, "language": language}
    customer = Customer.model_construct(**customer_values)
    incident = Incident.model_construct(**values, customer=customer)
    reply_values: dict[str, Any] = {"language": language, "channel": channel, "body": ""}
    reply = Reply.model_construct(**reply_values, fell_back=False) if replied else None
    suggestion_values: dict[str, Any] = {"severity": severity, "respond_by": None}
    suggestion = Suggestion.model_construct(
        **suggestion_values, reply=reply, actions=(), matched=False
    )
    at = datetime(2026, 12, 7, tzinfo=timezone.utc)
    kwargs: dict[str, Any] = {
        "digest": "d",
        "playbooks": ("a@1",),
        "backend": "python",
        "at": at,
        "mask": DEFAULT_MASK,
    }
    try:
        made = records.pending_decision(incident, suggestion, **kwargs)
    except LogError as error:
        refused = str(error)
    else:
        assert _old_problem(made) is None
        return
    if refused.startswith("decision not logged: the incident cannot be stored"):
        return  # (a lone surrogate JSON cannot hold: refused before the text check)
    # the same pending, unchecked: the old loop names the same column and character
    module: Any = records
    original = module.text_problem
    try:
        module.text_problem = lambda value, **_: None
        unchecked = records.pending_decision(incident, suggestion, **kwargs)
    finally:
        module.text_problem = original
    expected = _old_problem(unchecked)
    assert expected is not None
    if incident_id is None:  # (a random decision id each time)
        refused, expected = (text.split(" not logged: ", 1)[1] for text in (refused, expected))
    assert refused == expected


# -- the SQLite time text, its date kept per day -------------------------------------------

from datetime import timedelta  # noqa: E402

from cxplay._log import fast  # noqa: E402


@given(
    moments=st.lists(
        st.datetimes(
            min_value=datetime(1, 1, 2),
            max_value=datetime(9999, 12, 30),
            timezones=st.sampled_from([timezone.utc, timezone(timedelta(hours=-3, minutes=-30))]),
        )
        | st.datetimes(),
        max_size=20,
    ),
)
@settings(max_examples=200, deadline=None)
def test_the_time_text_with_its_date_kept_is_isoformat(moments: list[datetime]) -> None:
    for moment in moments * 2:  # (the second time from the kept date)
        utc = moment.astimezone(timezone.utc) if moment.tzinfo is not None else moment
        expected = utc.replace(tzinfo=None).isoformat(sep=" ", timespec="microseconds")
        assert fast.sqlite_time(moment) == expected


def test_the_kept_dates_are_bounded() -> None:
    start = datetime(2026, 1, 1, 12, 0, 0, 5)
    for n in range(5000):
        moment = start + timedelta(days=n)
        assert fast.sqlite_time(moment) == moment.isoformat(sep=" ", timespec="microseconds")
    assert 0 < len(fast._DATE_TEXTS) <= 4096


def test_every_clock_of_a_day_is_isoformat() -> None:
    """The clock from the tables (``_MINUTES``, ``_SECONDS``), every second of a day, with
    no microseconds (".000000") and with some, in UTC and less an offset."""
    day = datetime(2026, 3, 29)
    minus_two = timezone(timedelta(hours=-2))
    for second in range(24 * 3600):
        for micro in (0, 1, 999_999):
            moment = day + timedelta(seconds=second, microseconds=micro)
            expected = moment.isoformat(sep=" ", timespec="microseconds")
            assert fast.sqlite_time(moment) == expected
            assert fast.sqlite_time(moment.replace(tzinfo=timezone.utc)) == expected
            assert fast.sqlite_time((moment - timedelta(hours=2)).replace(tzinfo=minus_two)) == (
                expected
            )
