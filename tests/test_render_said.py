"""The render's shortcuts of s-render9 held equal to what they skip.

``within`` writes a promise once for everything its text is made of (the promise's span,
deadline and business flag, ``start``, and the context's ``now``, language, time zone and
channel), and an SMS's segments are counted once per text: each remembered answer is
compared with the answer written afresh, errors included.
"""

from __future__ import annotations

import itertools
from datetime import datetime, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from jinja2 import StrictUndefined
from pydantic import TypeAdapter

from cxplay._replies import sms
from cxplay._replies.filters import _within_key
from cxplay._replies.renderer import _env

_WARSAW = ZoneInfo("Europe/Warsaw")
_NOW = datetime(2026, 4, 6, 16, 55, tzinfo=timezone.utc)
_AFTERS: list[Any] = [
    timedelta(hours=1),
    timedelta(hours=2),
    timedelta(minutes=90),
    timedelta(days=1),
    timedelta(days=3),
    timedelta(0),
    120,
    "PT2H",
]
_FOLD0 = datetime(2026, 10, 25, 2, 30, tzinfo=_WARSAW)  # the hour the clocks go back: fold 0
_FOLD1 = datetime(2026, 10, 25, 2, 30, fold=1, tzinfo=_WARSAW)  # ... and fold 1, "equal" to it
_PARSED = TypeAdapter(datetime).validate_python  # a pydantic TzInfo: a fixed offset
_DUES: list[Any] = [
    None,
    _NOW + timedelta(hours=2),
    _NOW + timedelta(hours=20),
    (_NOW + timedelta(days=1, hours=1)).astimezone(_WARSAW),
    _NOW + timedelta(days=1, hours=1),  # the same instant in UTC: another time said
    _PARSED("2026-04-06T20:55:00+02:00"),  # parsed, as an incident's are
    _PARSED("2026-04-06T20:55:00+03:00"),  # the same wall time, another offset
    _NOW + timedelta(days=4),
    _FOLD0,
    _FOLD1,
    datetime(2026, 4, 6, 18, 55),  # naive: UTC
]
_NOWS: list[Any] = [
    _NOW,
    _PARSED("2026-04-06T18:55:00+02:00"),
    _PARSED("2026-04-06T18:55:00+01:00"),
    _NOW.astimezone(_WARSAW),
    datetime(2026, 4, 6, 16, 55),
    datetime(2026, 10, 25, 0, 30, tzinfo=_WARSAW),  # two hours before the fold ...
    datetime(2026, 10, 25, 0, 30, fold=1, tzinfo=_WARSAW),  # ... the same: no fold there
    datetime(2026, 10, 25, 2, 28, tzinfo=_WARSAW),  # in the hour the clocks go back
    datetime(2026, 10, 25, 2, 28, fold=1, tzinfo=_WARSAW),  # ... an hour later
    None,
    "now",
]
_CONTEXTS = [
    {"language": language, "channel": channel, "timezone": zone}
    for language, channel, zone in itertools.product(
        ("en", "uk", None), ("email", "sms", "phone"), ("Europe/Kyiv", None)
    )
]
_SOURCE = "{{ promise | within }}|{{ promise | within(start) }}"


def _said(env: Any, promise: Any, start: Any, variables: dict[str, Any]) -> str:
    try:
        return str(env.from_string(_SOURCE).render(promise=promise, start=start, **variables))
    except Exception as exc:  # the error is the answer to compare
        return f"{type(exc).__name__}: {exc}"


def _forget(env: Any) -> None:
    """Empty the memo of ``env``'s ``within`` (the dict its closure holds)."""
    memos = [
        cell.cell_contents
        for cell in env.filters["within"].__closure__
        if isinstance(cell.cell_contents, dict)
    ]
    assert len(memos) == 1
    memos[0].clear()


def test_a_remembered_promise_is_the_promise_written_afresh() -> None:
    remembering, afresh = _env(), _env()
    template = remembering.from_string(_SOURCE)
    reference = afresh.from_string(_SOURCE)
    cases = [
        ({"after": after, "due": due, "business": business}, start, {**context, "now": now})
        for after, due, now, business, start, context in itertools.product(
            _AFTERS, _DUES, _NOWS, (True, False, 1), (False, True), _CONTEXTS
        )
        if start or business is not True  # the start's letter case alone: fewer of those
    ]
    assert len(cases) > 20_000

    def said(template: Any, promise: Any, start: Any, variables: dict[str, Any]) -> str:
        try:
            return str(template.render(promise=promise, start=start, **variables))
        except Exception as exc:  # the error is the answer to compare
            return f"{type(exc).__name__}: {exc}"

    written = []
    for promise, start, variables in cases:
        _forget(afresh)  # every promise written afresh
        written.append(said(reference, promise, start, variables))
    for _ in range(2):  # the first round fills the memo, the second reads it
        for (promise, start, variables), expected in zip(cases, written, strict=True):
            assert said(template, promise, start, variables) == expected, (promise, variables)
    assert any(text.startswith("ValueError") for text in written)
    assert len(set(written)) > 100


def test_equal_datetimes_that_read_differently_are_different_keys() -> None:
    env = _env()
    fold0, fold1 = _FOLD0, _FOLD1
    assert fold0 == fold1  # the same wall time in the same zone: == leaves out the fold
    context = env.from_string("").new_context({"now": _NOW, "language": "en", "channel": "sms"})
    keys = {
        _within_key(context, {"after": timedelta(hours=2), "due": due}, False)
        for due in (
            fold0,
            fold1,
            fold0.astimezone(timezone.utc),
            _NOW + timedelta(hours=2),
            _PARSED("2026-04-06T18:55:00+00:00"),  # == the one before, another zone's type
            _PARSED("2026-04-06T18:55:00+02:00"),
            _PARSED("2026-04-06T18:55:00+02:00"),  # a new object, the same key
        )
    }
    assert len(keys) == 6 and None not in keys
    at_fold = {  # `now` at the fold: its date in a zone an hour away may differ
        _within_key(
            env.from_string("").new_context({"now": now, "language": "en"}),
            {"after": timedelta(hours=2), "due": None},
            False,
        )
        for now in (fold0, fold1)
    }
    assert len(at_fold) == 2
    promise = {"after": timedelta(hours=2), "due": None}
    assert _within_key(context, promise, 1) is None  # start: True or False only
    for variables in ({"now": _NOW}, {"now": "now", "language": "en"}, {"language": "en"}):
        unplain = env.from_string("").new_context(variables)  # no language, no datetime
        assert _within_key(unplain, promise, False) is None
    for due in (fold0, fold1):
        written = _said(_env(), {"after": timedelta(hours=2), "due": due}, False, {"now": _NOW})
        remembered = _said(env, {"after": timedelta(hours=2), "due": due}, False, {"now": _NOW})
        assert remembered == written


@pytest.mark.parametrize(
    "promise",
    [
        {"after": [1], "due": None},  # not hashable
        {"after": timedelta(hours=2), "due": {"at": 1}},
        ["after", "due"],  # not a mapping
        {"due": None},  # no span
        {"after": 120, "due": None},  # minutes: written afresh every time
        {"after": timedelta(hours=2), "due": "2026-04-06T18:55:00Z"},
        {"after": timedelta(hours=2), "due": None, "business": 1},
    ],
)
def test_a_promise_that_cannot_be_a_key_is_written_as_before(promise: Any) -> None:
    env = _env()
    context = env.from_string("").new_context({"now": _NOW, "language": "en"})
    assert _within_key(context, promise, False) is None
    first, second = (_said(env, promise, False, {"now": _NOW, "language": "en"}) for _ in "ab")
    assert first == second == _said(_env(), promise, False, {"now": _NOW, "language": "en"})


def test_an_undefined_start_fails_as_it_did() -> None:
    env = _env()
    variables = {"now": _NOW, "language": "en", "channel": "email"}
    source = "{{ {'after': after, 'due': none} | within(nothing) }}"
    for _ in range(2):
        with pytest.raises(Exception, match="'nothing' is undefined"):
            env.from_string(source).render(after=timedelta(hours=2), **variables)
    assert env.undefined is StrictUndefined


def test_a_language_missing_fails_every_time() -> None:
    env = _env()
    promise = {"after": timedelta(hours=2), "due": None}
    for _ in range(2):
        assert _said(env, promise, False, {"now": _NOW}).startswith("ValueError: no reply language")


_TEXTS = st.text(alphabet=st.sampled_from("aZ09 .,€[]{}~|\\^\n\u00a0ąęśłżźÓłїєґ😀@£"), max_size=400)


@settings(max_examples=300, deadline=None)
@given(_TEXTS)
def test_a_remembered_count_is_the_count(text: str) -> None:
    counted = sms._counted(text)
    assert sms.sms_segments(text) == counted
    assert sms.sms_segments(text) == counted  # remembered now


def test_a_long_text_is_counted_and_not_kept() -> None:
    text = "ab " * (sms._MEMO_CHARS // 3 + 1)
    assert len(text) > sms._MEMO_CHARS
    kept = sms._counted_memo.cache_info().currsize
    assert sms.sms_segments(text) == sms._counted(text) == (-(-len(text) // 153), "GSM-7")
    assert sms._counted_memo.cache_info().currsize == kept
