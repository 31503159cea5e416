"""No control character reaches the terminal through the presenter (issue 17, a low).

Incidents refuse control characters at the model boundary; text can still come from a
template, a playbook or a suggestion built by a caller. Whatever a suggestion holds, its
text and Markdown show a C0/C1 control as an escape (colour sequences of the presenter's
own styling excepted) and its JSON carries the same data with every control escaped.
"""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cxplay import Engine
from cxplay._common.models import freeze
from cxplay._present import suggestion, suggestion_json, terminal_safe, trace_text
from cxplay.results import Suggestion

# what a terminal acts on: C0 but tab/newline, DEL, C1, lone surrogates
UNSAFE = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff]")
SGR = re.compile(r"\x1b\[[0-9;]*m")
CONTROLS = st.one_of(
    st.integers(0, 0x1F).filter(lambda c: c not in (9, 10)).map(chr),
    st.integers(0x7F, 0x9F).map(chr),
)
TEXT = st.lists(
    st.one_of(CONTROLS, st.text(max_size=4), st.just("\x1b[2J"), st.just("\x9b31m")),
    max_size=6,
).map("".join)


@pytest.fixture(scope="module")
def base() -> Suggestion:
    with Engine.from_path(backend="python") as engine:
        return engine.suggest(
            {
                "id": "INC-1",
                "type": "parcel_damaged",
                "channel": "email",
                "customer": {"name": "Anna Kowalska", "language": "pl"},
                "order": {"value": 250, "currency": "PLN"},
            },
            explain=True,
        )


def poisoned(base: Suggestion, text: str) -> Suggestion:
    """The suggestion with ``text`` in every free-text field a presenter shows."""
    assert base.reply is not None and base.trace is not None
    # results hold tuples and read-only mappings: a copy gives them the same shapes
    actions = tuple(
        a.model_copy(update={"reason": f"why {text}", "params": freeze({**a.params, "note": text})})
        for a in base.actions
    )
    trace = tuple(t.model_copy(update={"outcome": text, "value": text}) for t in base.trace)
    return base.model_copy(
        update={
            "incident_id": f"INC {text}",
            "actions": actions,
            "trace": trace,
            "reply": base.reply.model_copy(update={"subject": text, "body": f"Body {text}"}),
        }
    )


@settings(max_examples=120, deadline=None)
@given(text=TEXT)
def test_text_and_markdown_show_controls_as_escapes(base: Suggestion, text: str) -> None:
    result = poisoned(base, text)
    for shown in (suggestion(result, "text"), suggestion(result, "markdown")):
        assert UNSAFE.search(shown) is None, repr(shown)
    coloured = suggestion(result, "text", color=True)
    assert UNSAFE.search(SGR.sub("", coloured)) is None
    # escapes of the user's text stay visible, not a colour: a "\x1b[2J" in the text
    # shows as a backslash sequence
    if "\x1b[2J" in text:
        assert "\\x1b[2J" in coloured


@settings(max_examples=80, deadline=None)
@given(text=TEXT)
def test_json_escapes_every_control_and_keeps_the_data(base: Suggestion, text: str) -> None:
    result = poisoned(base, text)
    shown = suggestion_json(result)
    assert UNSAFE.search(shown) is None
    assert json.loads(shown) == result.model_dump(mode="json")


def test_the_one_character_csi_is_shown_not_obeyed() -> None:
    assert terminal_safe("a\x9b2Jb") == "a\\x9b2Jb"
    assert terminal_safe("\x1b]0;title\x07") == "\\x1b]0;title\\x07"
    assert terminal_safe("over\rwrite") == "over\\x0dwrite"
    assert terminal_safe("tabs\tand\nlines") == "tabs\tand\nlines"
    assert terminal_safe("\x1b[1mbold\x1b[0m", keep_style=True) == "\x1b[1mbold\x1b[0m"
    assert terminal_safe("\x1b[1mbold\x1b[0m") == "\\x1b[1mbold\\x1b[0m"


def test_the_explain_trace_is_safe_too(base: Suggestion) -> None:
    assert base.trace is not None
    trace: list[Any] = [t.model_copy(update={"outcome": "\x9b31m"}) for t in base.trace]
    assert "\x9b" not in trace_text(trace) and "\\x9b31m" in trace_text(trace)
