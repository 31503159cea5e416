"""The render's shortcuts (s-render7) held equal to the paths they replace.

Each shortcut is compared with the function or code it skips: the greeting and the address
gender remembered by their arguments, a model's fields copied whole when they are its
fields in order, and one render budget per thread started afresh by every render.
"""

from __future__ import annotations

import contextvars
import itertools
import threading
from datetime import timedelta
from typing import Any

import pytest

from cxplay._common.models import trusted
from cxplay._replies import sandbox
from cxplay._replies.address import address_gender, salutation
from cxplay._replies.later import _fields
from cxplay._replies.renderer import _env, _salutation
from cxplay._replies.sandbox import (
    MAX_STEPS,
    ReplyEnvironment,
    WorkError,
    _charge,
    render_capped,
    scope_of,
)
from cxplay._replies.shaping import _address_gender
from cxplay.models import CHANNELS
from cxplay.results import FollowUpPlan

_NAMES = [
    "Anna Kowalska",
    "Jan Nowak",
    "Олена Петренко",
    "Тарас Мельник",
    "Kasia Lis",
    "Okafor",
    "Dr Mary Walsh",
    "Pani Zofia Nowak",
    "",
    None,
]


def test_the_remembered_greeting_is_salutations_own() -> None:
    assert _salutation.__wrapped__ is salutation
    options = itertools.product(
        _NAMES,
        ("en", "pl", "uk"),
        (None, "Pani Anno", "Dear friend"),
        (None, "female", "male", "unknown", "other"),
        ("formal", "warm"),
        CHANNELS,
    )
    for name, language, override, gender, register, channel in options:
        kwargs: dict[str, Any] = {
            "salutation": override,
            "gender": gender,
            "register": register,
            "channel": channel,
        }
        expected = salutation(name, language, **kwargs)
        assert _salutation(name, language, **kwargs) == expected
        assert _salutation(name, language, **kwargs) == expected  # from the memo


def test_a_greeting_that_fails_fails_every_time() -> None:
    for _ in range(2):  # an error is not remembered: raised again, with its message
        with pytest.raises(ValueError, match="unknown register"):
            _salutation("Anna Kowalska", "pl", register="casual", channel="email")


def test_the_remembered_address_gender_is_the_functions_own() -> None:
    for name, language, gender in itertools.product(
        _NAMES, ("en", "pl", "uk"), (None, "female", "male", "unknown", "other")
    ):
        expected = address_gender(name, language, gender)
        assert _address_gender(name, language, gender) == expected
        assert _address_gender(name, language, gender) == expected


def test_fields_in_another_order_are_dumped_in_the_models() -> None:
    # a model built from a dict in another order (trusted keeps its order): not copied
    # whole, but field by field as declared, as _fields always gave them
    values = {
        "due": None,
        "purpose": "room_ready",
        "survey": None,
        "action": "callback",
        "channel": "phone",
        "after": timedelta(hours=2),
    }
    plan = trusted(FollowUpPlan, values)
    assert list(plan.__dict__) != list(FollowUpPlan.model_fields)
    declared = {name: values[name] for name in FollowUpPlan.model_fields}
    assert list(_fields(plan).items()) == list(declared.items())
    ordered = FollowUpPlan(**values)
    assert list(_fields(ordered).items()) == list(ordered.model_dump().items())
    assert _fields(ordered) is not ordered.__dict__  # a copy: a fragment may change it


_LOOP = "{% for i in range(9000) %}{% for j in range(20) %}{% endfor %}{% endfor %}ok"


def test_a_budget_is_its_threads_even_in_a_copied_context() -> None:
    env = ReplyEnvironment()
    looping = env.from_string(_LOOP)  # 189,000 steps: within one budget, not within two
    assert render_capped(looping, {}) == "ok"  # this thread's budget exists now
    mine = sandbox._BUDGET.get()
    assert mine is not None and not mine.busy
    copied = contextvars.copy_context()
    seen: list[Any] = []

    def other() -> None:
        seen.append(copied.run(render_capped, looping, {}))
        seen.append(copied.run(sandbox._BUDGET.get))

    thread = threading.Thread(target=other)
    thread.start()
    thread.join()
    assert seen[0] == "ok"
    assert seen[1] is not mine and seen[1].thread != mine.thread  # its own, made there


def test_renders_in_two_threads_at_once_each_have_a_whole_budget() -> None:
    env = ReplyEnvironment()
    start = threading.Barrier(2)
    # each waits for the other inside its render: both budgets are busy at once
    env.globals["meet"] = lambda: start.wait(timeout=10) * 0
    template = env.from_string("{{ meet() }}" + _LOOP)
    copied = contextvars.copy_context()  # the same budget object reached from both threads
    results: list[str] = []

    def run() -> None:
        results.append(copied.copy().run(render_capped, template, {}))

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results == ["0ok", "0ok"]


def test_a_step_charged_outside_a_render_limits_nothing() -> None:
    env = ReplyEnvironment()
    render_capped(env.from_string("{{ 1 }}"), {})  # an idle budget is set for this thread
    for _ in range(MAX_STEPS + 10):
        _charge()  # as with no budget at all: never an error
    scope = scope_of(env, {}, reply=True)
    assert render_capped(env.from_string(_LOOP), scope) == "ok"  # a whole budget again
    with pytest.raises(WorkError, match="steps"):
        render_capped(env.from_string(_LOOP + _LOOP), scope)
    assert render_capped(env.from_string(_LOOP), scope) == "ok"
    scope.release()


def test_an_attribute_lookup_charges_one_step_as_charge_did() -> None:
    env = ReplyEnvironment()
    seen: list[int] = []

    def left() -> str:
        budget = sandbox._BUDGET.get()
        assert budget is not None
        seen.append(budget.steps)
        return ""

    env.globals["left"] = left
    template = env.from_string("{{ left() }}{{ d.a }}{{ d.b }}{{ d.c }}{{ left() }}")
    assert render_capped(template, {"d": {"a": 1, "b": 2, "c": 3}}) == "123"
    # three lookups and the second call's own step between the two readings
    assert seen[0] - seen[1] == 4
    # 99,000 loop steps: within the budget but for the 180,000 lookups in them
    many = env.from_string(
        "{% for i in range(9000) %}{% for j in range(10) %}{{ d.a }}{{ d.a }}{% endfor %}"
        "{% endfor %}"
    )
    with pytest.raises(WorkError, match=f"more than {MAX_STEPS:,} steps"):
        render_capped(many, {"d": {"a": ""}})


def test_a_large_scope_holds_what_the_merge_held() -> None:
    env = _env()  # the renderer's: cxplay's globals too
    big = {f"k{i}": i for i in range(40)}
    for variables in (
        big,
        {**big, "range": "shadowed", "count": 3},  # variables win over globals
        {"x": 1},  # the merge itself
        {},
    ):
        scope = scope_of(env, variables, reply=True)
        assert dict(scope) == {**env.globals, **variables}
        assert scope.environment is env and scope._reply is not None
        template = env.from_string("{{ range }}|{{ count }}|{{ k3 | default('-') }}")
        merged = {**env.globals, **variables}
        assert render_capped(template, scope) == render_capped(template, merged)
        scope.release()
