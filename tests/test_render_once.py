"""The reply render's shortcuts (s-render8) against the paths they replace.

* ``_LATER``'s values put into a reply's scope only when a fragment whose text names them
  renders (or the composition reads the scope): every reply equal to one rendered with
  the whole context built first, and ``Renderer.context`` equal to it value for value;
* an action's fragment rendered in the reply's scope with ``action`` put in and taken out:
  equal to one rendered in a copy (``Renderer.action_context``);
* ``render_capped``'s path for a reply's borrowed context: equal to a context of its own,
  errors and limits included.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cxplay import Engine
from cxplay._engine.engine import reply_context
from cxplay._replies import later as later_module
from cxplay._replies import sandbox as sandbox_module
from cxplay._replies.address import address_gender, name_in_script, parse_name
from cxplay._replies.later import _LATER, _fill, _whole
from cxplay._replies.renderer import Renderer
from cxplay._replies.sandbox import ReplyEnvironment, Scope, render_capped, scope_of
from cxplay.results import SuggestedAction

ROOT = Path(__file__).resolve().parent.parent
CHANNELS = ("email", "sms", "chat", "social_public", "social_private", "phone", "in_person")


def _cases() -> list[dict[str, Any]]:
    found = []
    for path in sorted((ROOT / "examples" / "incidents").glob("*.json")):
        base = json.loads(path.read_text(encoding="utf-8"))
        for language in ("en", "pl", "uk"):
            for channel in CHANNELS:
                found.append(
                    {
                        **base,
                        "channel": channel,
                        "customer": {**base.get("customer", {}), "language": language},
                    }
                )
    return found


class _Eager(Renderer):
    """The reference: the whole context built first, each action's fragment in a copy."""

    def _action_text(
        self, language: str, name: str, channel: str, action: SuggestedAction, base: Scope
    ) -> str | None:
        local = self.action_context(action, language, channel, base)
        return self.fragment(language, name, channel, local)


def _outcome(renderer: Renderer, incident: Any, ctx: Any) -> tuple[str, str]:
    try:
        return "ok", renderer.render(incident, ctx=ctx).model_dump_json()
    except Exception as exc:  # compared, not hidden: both sides must fail alike
        return "error", f"{type(exc).__name__}: {exc}"


def test_every_shipped_reply_is_the_eager_renders(monkeypatch: pytest.MonkeyPatch) -> None:
    with Engine.from_path() as engine:
        lazy = engine.renderer
        assert lazy is not None
        eager = _Eager(lazy.directories).whole()
        prepared = []
        for case in _cases():
            incident = engine.incident(case)
            decision = engine.decide(incident)
            if decision.kept:
                prepared.append((incident, reply_context(decision)))
        assert len(prepared) > 200
        built: list[str] = []
        fill = later_module._fill
        monkeypatch.setattr(
            later_module, "_fill", lambda s, later, w: (built.extend(w), fill(s, later, w))
        )
        lazy_out = [_outcome(lazy, incident, ctx) for incident, ctx in prepared]
        monkeypatch.undo()
        # the reference builds everything before the first fragment renders
        original = Renderer._variables

        def everything(self: Renderer, *args: Any) -> Any:
            variables, later = original(self, *args)
            _fill(variables, later, _LATER)
            return variables, later

        monkeypatch.setattr(_Eager, "_variables", everything)
        eager_out = [_outcome(eager, incident, ctx) for incident, ctx in prepared]
        assert lazy_out == eager_out
        assert all(kind == "ok" for kind, _ in lazy_out)
        # the test sees what it is for: some of each value built, none in most replies
        assert set(built) == set(_LATER)


def test_the_context_is_whole_and_answer_is_answers_own() -> None:
    with Engine.from_path() as engine:
        renderer = engine.renderer
        assert renderer is not None
        for case in _cases()[::7]:
            incident = engine.incident(case)
            decision = engine.decide(incident)
            if not decision.kept:
                continue
            ctx = reply_context(decision)
            channel = incident.channel or "chat"
            full = renderer.context(incident, ctx, "en", channel)
            assert full.keys() >= _LATER
            assert full["answer"] is full["answers"].get(channel)
            for order in (["answer", "answers"], ["answers", "answer"], ["event"]):
                variables, later = renderer._variables(incident, ctx, "en", channel)
                assert not _LATER & variables.keys()
                for name in order:
                    _fill(variables, later, [name])
                _fill(variables, later, _LATER)
                assert variables == full
                assert variables["answer"] is variables["answers"].get(channel)


def test_a_copy_of_a_reply_scope_is_whole() -> None:
    env = ReplyEnvironment()
    scope = scope_of(env, {"x": 1}, reply=True)
    assert scope.later is None
    _whole(scope)  # nothing to put in: nothing happens
    assert dict(scope) == {**env.globals, "x": 1}


#: fragments that write to their context, fail, loop or render a lot, in any order
_SOURCES = [
    "{% set x = 'set' %}{{ x }}",
    "{% autoescape true %}{{ '<b>' }}{% endautoescape %}{{ '<i>' }}",
    "{% for i in range(3) %}{{ i }}{% endfor %}{{ x }}",
    "{{ missing }}",
    "{% for i in range(9000) %}{% for j in range(30) %}{% endfor %}{% endfor %}",
    "{% for i in range(30) %}{{ 'x' * 9999 }}{% endfor %}",
    "{% block b %}{{ x }}{% endblock %}",
    "{{ x }}",
]


def _rendered(template: Any, scope: Any) -> tuple[str, str]:
    try:
        return "ok", render_capped(template, scope)
    except Exception as exc:
        return "error", f"{type(exc).__name__}: {exc}"


@settings(max_examples=150, deadline=None)
@given(order=st.lists(st.sampled_from(range(len(_SOURCES))), min_size=1, max_size=10))
def test_a_borrowed_context_renders_as_a_new_one(order: list[int]) -> None:
    env = ReplyEnvironment()
    templates = [env.from_string(source) for source in _SOURCES]
    shared = scope_of(env, {"x": "given"}, reply=True)
    for index in order:
        assert _rendered(templates[index], shared) == _rendered(templates[index], {"x": "given"})
    shared.release()


@settings(max_examples=1500, deadline=None)
@given(
    name=st.one_of(
        st.none(),
        st.text(max_size=40),
        st.text(alphabet="AaBbOlenaПетренкоЁёІіЇїЄєҐґŁłŚśŻż .'-’Dr.Mrs", max_size=40),
    ),
    language=st.sampled_from(["en", "pl", "uk"]),
    gender=st.sampled_from([None, "female", "male", "unknown"]),
)
def test_the_name_functions_customer_and_addr_call_never_raise(
    name: str | None, language: str, gender: str | None
) -> None:
    # what lets `customer` and `addr` be built later: no error can move
    written = name_in_script(parse_name(name).text, language)
    assert isinstance(parse_name(written).given or "", str)
    assert address_gender(name, language, gender) in (None, "female", "male")


@settings(max_examples=100, deadline=None)
@given(
    replies=st.lists(
        st.lists(st.sampled_from(range(len(_SOURCES))), min_size=1, max_size=5),
        min_size=1,
        max_size=4,
    )
)
def test_a_context_left_by_a_reply_serves_the_next_as_a_new_one(replies: list[list[int]]) -> None:
    env = ReplyEnvironment()
    templates = [env.from_string(source) for source in _SOURCES]
    for number, order in enumerate(replies):
        variables = {"x": f"reply {number}"}
        left = getattr(sandbox_module._SPARE, "context", None)
        scope = scope_of(env, variables, reply=True)
        if left is not None and left.environment is env:  # a reply's before, taken
            assert scope._reply is not None and scope._reply.context is left
        for index in order:
            assert _rendered(templates[index], scope) == _rendered(templates[index], variables)
        scope.release()
        assert scope._reply is not None and scope._reply.context is None
        spare = sandbox_module._SPARE.context
        if spare is not None:  # kept empty: no scope, no variable of this reply
            assert spare.parent == {} and not spare.vars and not spare.exported_vars
    other = ReplyEnvironment()  # another environment's reply makes its own
    assert scope_of(other, {}, reply=True)._reply.context is None  # type: ignore[union-attr]
