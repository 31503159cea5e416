"""The render's shortcuts give what Jinja's general paths give, value for value and error for error.

``ReplyEnvironment`` looks a plain dict's keys up without Jinja's AttributeError round trip
and runs ``selectattr``/``rejectattr('key', 'equalto', x)`` without its generic machinery;
a reply merges the environment's globals into its context once (:class:`Scope`); the short
time format is babel's pattern parsed once; the Suggestion and its Reply are built from
the engine's own values without validating them; the HTML e-mail escapes its body once,
not line by line; a context's event and follow-ups are their fields, not pydantic's dump;
a fragment of one paragraph is folded without splitting it into paragraphs; the short
time is the hour and minute where CLDR's pattern is HH:mm; a whole number of minutes is
not quantized; the Polish and Ukrainian vocative is memoised. Each is compared here with
the path it skips.
"""

from __future__ import annotations

import dataclasses
import json
import re
import sys
from datetime import datetime, timedelta, timezone
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import pytest
from babel.dates import format_time as babel_time
from hypothesis import example, given, settings
from hypothesis import strategies as st
from jinja2 import StrictUndefined
from jinja2.sandbox import SandboxedEnvironment
from markupsafe import escape

from cxplay import Engine
from cxplay._engine.durable import AVAILABLE as DURABLE
from cxplay._engine.engine import reply_context
from cxplay._replies import locale as locale_module
from cxplay._replies.address import _declined, name_in_script, parse_name
from cxplay._replies.later import _fields
from cxplay._replies.locale import _locale, _localize, _whole_minutes, format_time
from cxplay._replies.renderer import Renderer, ReplyContext, _fold, _paragraphs
from cxplay._replies.sandbox import ReplyEnvironment, Scope, WorkError, render_capped, scope_of
from cxplay._replies.shaping import _html_document, template_name
from cxplay.errors import RenderError
from cxplay.models import EventRef, Incident
from cxplay.results import FollowUpPlan, Reply, SuggestedAction, Suggestion

ROOT = Path(__file__).resolve().parent.parent
BACKENDS = ["python", *(["durable"] if DURABLE else [])]
FAST = ReplyEnvironment()
#: Jinja's own sandbox, with the same undefined: the paths the shortcuts skip
PLAIN = SandboxedEnvironment(undefined=StrictUndefined, autoescape=False)


def outcome(env: SandboxedEnvironment, source: str, **context: Any) -> tuple[str, str]:
    """What a render gives: ("ok", text) or ("error", the exception's type and message)."""
    try:
        return "ok", env.from_string(source).render(**context)
    except Exception as exc:  # compared, not hidden: both sides must fail alike
        return "error", f"{type(exc).__name__}: {exc}"


ATTRIBUTE_LOOKUPS = [
    "{{ d.a }}",
    "{{ d.missing }}",
    "{{ d.get('a') }}",
    "{{ d.items() | list }}",
    "{{ d.keys | string | length > 0 }}",
    "{{ d.__class__ }}",
    "{{ d.__dict__ }}",
    "{{ d.update is callable }}",
    "{{ d.copy().a }}",
    "{{ d.values() | list }}",
    "{{ d['get'] is callable }}",
    "{{ d.get('a', 'none') }}|{{ d.get('zz') }}",
    "{% for k in ['a', 'get', 'zz'] %}{{ d.get(k) }},{% endfor %}",
    "{% for k in ['a'] %}{% set x = d.get(k, 0) %}{{ x }}{% endfor %}",
    "{{ d.get() }}",
    "{{ d.get('a', 1, 2) }}",
    "{{ d.get('a', default=1) }}",
    "{{ d.setdefault('n', 5) }}{{ d.n }}",
    "{{ d.pop('a', 'gone') }}{{ d.a is defined }}",
    "{{ d.copy() | length }}",
]


@pytest.mark.parametrize("source", ATTRIBUTE_LOOKUPS)
@pytest.mark.parametrize(
    "d",
    [
        {"a": 1},
        {"a": "x", "get": "shadowed", "items": 3, "__dict__": "item"},
        {},
    ],
)
def test_a_dicts_attributes_and_items_resolve_as_in_jinja(source: str, d: dict[str, Any]) -> None:
    # each side gets its own copy: a method may change the dict
    assert outcome(FAST, source, d=dict(d)) == outcome(PLAIN, source, d=dict(d))


values = st.one_of(st.none(), st.integers(-3, 3), st.sampled_from(["survey", "escalate", "a"]))
items = st.one_of(
    st.dictionaries(st.sampled_from(["action", "purpose", "other"]), values, max_size=3),
    values,
)


@settings(max_examples=300, deadline=None)
@given(
    value=st.one_of(st.lists(items, max_size=5), st.none(), st.just("ab"), st.integers(0, 2)),
    key=st.sampled_from(["action", "purpose", "0", "action.x", "missing"]),
    other=values,
    which=st.sampled_from(["selectattr", "rejectattr"]),
    test=st.sampled_from(["'equalto'", "'ne'", None]),
    then=st.sampled_from(["| list", "| first", "| length", ""]),
)
def test_select_and_reject_by_a_key_are_jinjas(
    value: Any, key: str, other: Any, which: str, test: str | None, then: str
) -> None:
    arguments = f"'{key}'" if test is None else f"'{key}', {test}, other"
    source = f"{{{{ value | {which}({arguments}) {then} }}}}"
    if not then:
        source = f"{{% set found = value | {which}({arguments}) %}}ok"
    fast = outcome(FAST, source, value=value, other=other)
    plain = outcome(PLAIN, source, value=value, other=other)
    assert fast == plain


def test_an_undefined_list_fails_only_when_it_is_used() -> None:
    unused = "{% set found = nothing | selectattr('action', 'equalto', 'x') %}ok"
    assert outcome(FAST, unused) == outcome(PLAIN, unused) == ("ok", "ok")
    used = "{{ nothing | rejectattr('action', 'equalto', 'x') | list }}"
    assert outcome(FAST, used)[0] == "error"
    assert outcome(FAST, used) == outcome(PLAIN, used)


def test_select_by_a_key_costs_the_steps_jinjas_would() -> None:
    # each item's key is one step (the sandbox's getitem), as Jinja's attribute getter
    many = [{"action": "x"}] * 250_000  # more items than the budget has steps
    with pytest.raises(WorkError, match="steps"):
        render_capped(
            FAST.from_string("{{ items | selectattr('action', 'equalto', 'x') | list | length }}"),
            {"items": many},
        )


def test_a_scope_renders_as_its_variables_do() -> None:
    template = FAST.from_string("{{ range }}-{{ count(2, 'day') if false else x }}-{{ y }}")
    variables = {"range": "mine", "x": 1, "y": [1, 2]}
    scope = scope_of(FAST, variables)
    assert type(scope) is Scope
    expected = render_capped(template, variables)
    assert render_capped(template, scope) == expected == "mine-1-[1, 2]"
    extended = scope.extended({"x": 2})
    assert type(extended) is Scope and scope["x"] == 1  # the reply's scope is not changed
    assert render_capped(template, extended) == render_capped(template, {**variables, "x": 2})
    # a scope of another environment is merged again, with the template's globals
    other = ReplyEnvironment()
    other.globals["y"] = "theirs"
    foreign = scope_of(other, {"x": 3})
    assert render_capped(template, foreign) == render_capped(template, {"x": 3, "y": "theirs"})


@settings(max_examples=300, deadline=None)
@given(
    minutes=st.integers(0, 3_000_000),
    offset=st.integers(-14 * 60, 14 * 60),
    naive=st.booleans(),
    language=st.sampled_from(["en", "pl", "uk"]),
    zone=st.sampled_from([None, "Europe/Warsaw", "Europe/Kyiv", "America/New_York", "No/Where"]),
)
def test_short_time_is_babels(
    minutes: int, offset: int, naive: bool, language: str, zone: str | None
) -> None:
    moment = datetime(2020, 1, 1, tzinfo=timezone(timedelta(minutes=offset))) + timedelta(
        minutes=minutes
    )
    if naive:
        moment = moment.replace(tzinfo=None)
    expected = babel_time(_localize(moment, zone), "short", locale=_locale(language))
    assert format_time(moment, language, zone) == expected


@given(st.timedeltas(min_value=timedelta(days=-10_000), max_value=timedelta(days=10_000)))
def test_whole_minutes_round_as_timedeltas_divmod(value: timedelta) -> None:
    minutes, rest = divmod(value, timedelta(minutes=1))
    assert _whole_minutes(value) == int(minutes) + (1 if rest >= timedelta(seconds=30) else 0)


def _example_cases() -> list[dict[str, Any]]:
    found = []
    for path in sorted((ROOT / "examples" / "incidents").glob("*.json")):
        base = json.loads(path.read_text(encoding="utf-8"))
        for language in ("en", "pl", "uk", "de"):
            for channel in ("email", "sms", "chat", "social_public", "phone", "web_form"):
                customer = {**base.get("customer", {}), "language": language}
                found.append({**base, "channel": channel, "customer": customer})
    return found


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_suggestion_and_its_reply_equal_the_validated_models(backend: str) -> None:
    given = set(Suggestion.model_fields) - {"decision_id"}
    checked = 0
    with Engine.from_path(backend=backend) as engine:  # type: ignore[arg-type]
        for number, incident in enumerate(_example_cases()):
            suggestion = engine.suggest(incident, explain=number % 5 == 0)
            validated = Suggestion(**{name: getattr(suggestion, name) for name in given})
            assert validated == suggestion
            assert validated.model_dump_json() == suggestion.model_dump_json()
            assert validated.model_fields_set == suggestion.model_fields_set
            assert list(validated.__dict__) == list(suggestion.__dict__)  # the fields' order
            reply = suggestion.reply
            if reply is not None:
                again = Reply(**reply.__dict__)
                assert again == reply and again.model_fields_set == reply.model_fields_set
                assert again.model_dump_json() == reply.model_dump_json()
                checked += 1
    assert checked > 200


def _html_line_by_line(body: str, subject: str | None, language: str) -> str:
    """The HTML e-mail as it was built before (s-render3): each line escaped on its own."""
    paragraphs = [p for p in body.split("\n\n") if p.strip()]
    html_paragraphs = "\n".join(
        f"<p>{'<br>'.join(str(escape(line)) for line in p.splitlines())}</p>" for p in paragraphs
    )
    title = escape(subject or "")
    return (
        f'<!DOCTYPE html>\n<html lang="{language}">\n<head><meta charset="utf-8">'
        f"<title>{title}</title></head>\n<body>\n{html_paragraphs}\n</body>\n</html>"
    )


# markup, white space and every line break str.splitlines knows, among letters
_BODY = st.text(
    st.sampled_from(list("ab <>&'\" \t\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029ż"))
    | st.characters(),
    max_size=80,
)


@settings(max_examples=500, deadline=None)
@given(body=_BODY, subject=st.none() | st.text(max_size=10))
def test_the_html_body_escaped_once_is_the_line_by_line_one(body: str, subject: str | None) -> None:
    assert _html_document(body, subject, "pl") == _html_line_by_line(body, subject, "pl")


def _fold_as_before(text: str) -> str:
    """The folding before the one-paragraph shortcut: every paragraph split and joined."""
    if "\n" not in text:
        return " ".join(text.split())
    paragraphs = (" ".join(p.split()) for p in re.split(r"\n[ \t]*\n", text))
    return "\n\n".join(p for p in paragraphs if p)


_FOLDED = st.text(
    st.sampled_from(list("ab. \t\n\r\x0b\x0c\x1c\x85\u2028\u00a0\u3000\u202fż\u200b")),
    max_size=60,
)


@settings(max_examples=1000, deadline=None)
@given(_FOLDED)
@example("a\n\nb")
@example("a\n \nb")
@example("a\n\t\nb")
@example("a\n \t b\n")
@example("a\n\t b")
@example("\n\na b\n\n")  # blank lines around the text only: one paragraph
@example("\n\n\u00a0a\n\n\nb \n \n")
@example(" \n\n \t")
@example(" a b. ")  # printable, one space apart: returned stripped
@example("a  b")
@example("a\u00a0b")
@example("a\u3000b")
@example("a\x1cb")
@example("a\u200bb")  # not white space, not printable: split finds no break there
def test_folding_one_paragraph_at_once_folds_as_every_paragraph_did(text: str) -> None:
    assert _fold(text) == _fold_as_before(text)


def test_white_space_other_than_the_space_is_never_printable() -> None:
    """Why printable text with no two spaces together is folded already (``_fold``)."""
    found = [c for c in map(chr, range(sys.maxunicode + 1)) if c.isspace() and c.isprintable()]
    assert found == [" "]


def _paragraphs_as_before(runs: list[tuple[str, list[str]]], spoken: bool) -> list[str]:
    """The recovery's paragraphs before the words were counted once per text."""
    paragraphs: list[str] = []
    for _, texts in runs:
        plain: list[str] = []
        for text in texts:
            alone = "\n" in text.strip()
            full = spoken and len(" ".join([*plain, text]).split()) > 80
            if plain and (alone or full):
                paragraphs.append(" ".join(plain))
                plain = []
            if alone:
                paragraphs.append(text)
            else:
                plain.append(text)
        if plain:
            paragraphs.append(" ".join(plain))
    return paragraphs


# a fragment as the renderer says it: folded, never empty; words of 1-3 letters, many of them
_SAID = _FOLDED.map(_fold).filter(bool) | st.lists(
    st.sampled_from(["a", "bc", "dżę", "\n\n", "x."]), min_size=1, max_size=60
).map(" ".join).map(_fold).filter(bool)


@settings(max_examples=500, deadline=None)
@given(
    st.lists(
        st.tuples(st.sampled_from(["care", "fix", "money"]), st.lists(_SAID, min_size=1)),
        max_size=5,
    ),
    st.booleans(),
)
@example([("fix", [" ".join(["w"] * 50), " ".join(["x"] * 30), "y z", "a\n\nb", "c"])], True)
@example([("fix", [" ".join(["w"] * 50), " ".join(["x"] * 31)])], True)
def test_a_recoverys_paragraphs_count_words_as_the_joined_texts_did(
    runs: list[tuple[str, list[str]]], spoken: bool
) -> None:
    assert _paragraphs(runs, spoken=spoken) == _paragraphs_as_before(runs, spoken)


def test_the_event_and_follow_ups_in_a_context_are_their_dumps() -> None:
    """``_fields`` is ``model_dump()``: the same values in the same order, for every field set.

    A field that is a model or a mapping would be dumped into a dict: it fails here.
    """
    due = datetime(2026, 4, 7, 9, 55, tzinfo=timezone.utc)
    models: list[EventRef | FollowUpPlan] = [
        EventRef(),
        EventRef(id="cx-26", session="Keynote", speaker="Ada"),
        FollowUpPlan(after=timedelta(hours=2), channel=None, action="survey"),
        FollowUpPlan(
            after=timedelta(days=1),
            channel="phone",
            action="callback",
            survey="csat",
            purpose="room_ready",
            due=due,
        ),
    ]

    class Session(EventRef):  # a caller's own model: pydantic dumps it
        room: str = "A1"

    models.append(Session(id="cx-26"))
    for model in models:
        dumped = _fields(model)
        assert dumped == model.model_dump()
        assert list(dumped) == list(model.model_dump())
        assert type(dumped) is dict
    with Engine.from_path() as engine:
        seen = 0
        for incident in _example_cases():
            decision = engine.decide(incident)
            for plan in decision.follow_ups:
                assert list(_fields(plan).items()) == list(plan.model_dump().items())
                seen += 1
            event = engine.incident(incident).event
            assert list(_fields(event).items()) == list(event.model_dump().items())
    assert seen > 0


def test_a_declined_address_is_worked_out_as_without_the_memo() -> None:
    names = ["Anna Kowalska", "Jan Nowak", "Олена Петренко", "Тарас Мельник", "Kasia Lis", None]
    for text in names:
        for language in ("pl", "uk"):
            original = parse_name(text)
            name = parse_name(name_in_script(original.text, language))
            for hint in (None, "female", "male", "neutral"):
                expected = _declined.__wrapped__(original, name, language, hint)
                assert _declined(original, name, language, hint) == expected
                assert _declined(original, name, language, hint) == expected  # from the memo


@pytest.mark.parametrize("language", ["en", "pl", "uk"])
def test_short_time_without_the_clock_pattern_is_still_babels(
    language: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert locale_module._clock_pattern(language)  # the shortcut is what the test above checks
    moment = datetime(2026, 3, 29, 0, 59, 30, tzinfo=timezone.utc)
    fast = format_time(moment, language, "Europe/Warsaw")
    monkeypatch.setattr(locale_module, "_clock_pattern", lambda language: False)
    expected = babel_time(_localize(moment, "Europe/Warsaw"), "short", locale=_locale(language))
    assert format_time(moment, language, "Europe/Warsaw") == fast == expected


@given(st.integers(-(10**16), 10**16) | st.integers())
def test_whole_minutes_of_an_int_are_its_quantized_value(value: int) -> None:
    try:
        expected: int | str = int(Decimal(value).quantize(Decimal(1), rounding=ROUND_HALF_UP))
    except InvalidOperation:
        expected = "refused"  # more digits than the decimal context holds
    try:
        got: int | str = _whole_minutes(value)
    except InvalidOperation:
        got = "refused"
    assert got == expected


def _plan_b_action() -> SuggestedAction:
    with Engine.from_path() as engine:
        for incident in _example_cases():
            for action in engine.decide(incident).actions:
                if action.kind == "plan_b" and action.params.get("options"):
                    return action
    raise AssertionError("no shipped plan_b with options")


@pytest.mark.parametrize("options_written", [True, False])
def test_a_plain_action_fragment_is_said_without_its_context_but_plan_bs_options_are_not(
    tmp_path: Path, options_written: bool
) -> None:
    plan_b = _plan_b_action()
    name = template_name(plan_b)
    options = "".join(f'"option.{o}" = "Option {o}."\n' for o in plan_b.params["options"])
    (tmp_path / "common.en.toml").write_text(
        f'"{name}" = "A plain choice."\n"inform.plain" = "Plain news."\n'
        + (options if options_written else ""),
        encoding="utf-8",
    )
    renderer = Renderer([tmp_path]).whole()
    plain = plan_b.model_copy(update={"kind": "inform", "params": {"topic": "plain"}})
    ctx = ReplyContext(actions=[plain, plan_b], languages=["en"], default_language="en")
    incident = Incident(type="parcel_late", channel="chat")
    if options_written:
        body = renderer.render(incident, ctx).body
        assert "Plain news." in body and "A plain choice." in body
    else:  # the options are rendered, and missing, though the fragment is plain
        with pytest.raises(RenderError, match="missing reply fragment 'option"):
            renderer.render(incident, ctx)


def test_a_reply_context_built_whole_is_the_constructors() -> None:
    """``reply_context`` gives every field (a new one it forgot fails here), equal and in order."""
    names = [f.name for f in dataclasses.fields(ReplyContext)]
    checked = 0
    with Engine.from_path() as engine:
        for incident in _example_cases():
            decision = engine.decide(incident)
            if not decision.kept:
                continue
            fast = reply_context(decision)
            assert list(fast.__dict__) == names
            built = ReplyContext(**fast.__dict__)
            assert fast == built and list(fast.__dict__.items()) == list(built.__dict__.items())
            with pytest.raises(dataclasses.FrozenInstanceError):
                fast.tone = "warm"  # type: ignore[misc]
            checked += 1
    assert checked > 100


#: fragments that write to their context: variables, a macro, an autoescape block, a loop
_WRITERS = [
    "{% set x = 'set' %}{{ x }}",
    "{% macro m(a) %}<{{ a }}>{% endmacro %}{{ m(x) }}",
    "{% autoescape true %}{{ '<b>' }}{% endautoescape %}{{ '<i>' }}",
    "{% for i in range(3) %}{{ i }}{% endfor %}{{ x }}",
    "{{ x }}|{{ y }}",
    "{{ missing }}",  # an error: the reply's next fragment still starts afresh
    "{% set y = x ~ '!' %}{{ y }}",
]


def _rendered(template: Any, scope: Any) -> tuple[str, str]:
    try:
        return "ok", render_capped(template, scope)
    except Exception as exc:  # compared, not hidden: both sides must fail alike
        return "error", f"{type(exc).__name__}: {exc}"


@settings(max_examples=200, deadline=None)
@given(order=st.lists(st.sampled_from(range(len(_WRITERS))), min_size=1, max_size=12))
def test_a_replys_fragments_in_one_context_render_as_in_new_ones(order: list[int]) -> None:
    # the fragments of a reply (scope_of(..., reply=True)) render one after the other in
    # one Jinja context: what one writes there (a variable, a macro, the autoescape) is
    # never seen by the next, as with a context made for every render
    templates = [FAST.from_string(source) for source in _WRITERS]
    variables = {"x": "given", "y": 2}
    shared = scope_of(FAST, variables, reply=True)
    fresh = scope_of(FAST, variables)
    extended = shared.extended({"x": "action's"})
    for number, index in enumerate(order):
        on, off = (
            (extended, fresh.extended({"x": "action's"})) if number % 3 == 2 else (shared, fresh)
        )
        assert _rendered(templates[index], on) == _rendered(templates[index], off)
    shared.release()
    assert shared._reply is not None and shared._reply.context is None  # no cycle kept


def test_a_render_inside_a_render_of_a_reply_gets_a_context_and_shares_the_budget() -> None:
    env = ReplyEnvironment()
    inner = env.from_string("{% set x = 'inner' %}{{ x }}")
    env.globals["nested"] = lambda: render_capped(inner, scope)  # the scope below
    scope = scope_of(env, {"x": "outer"}, reply=True)
    outer = env.from_string("{{ x }}-{{ nested() }}-{{ x }}")
    assert render_capped(outer, scope) == "outer-inner-outer"
    assert render_capped(outer, scope) == "outer-inner-outer"  # and again, contexts reused
    # each top-level render of the reply starts with a whole budget, as a new one did
    looping = env.from_string("{% for i in range(9000) %}{% endfor %}{{ x }}")
    for _ in range(40):  # 40 x 9,000 steps: more than one budget, never more than one render's
        assert render_capped(looping, scope) == "outer"
    with pytest.raises(WorkError, match="steps"):
        render_capped(
            env.from_string(
                "{% for i in range(9000) %}{% for j in range(30) %}{% endfor %}{% endfor %}"
            ),
            scope,
        )
    assert render_capped(looping, scope) == "outer"  # a failed render leaves none spent


def test_a_history_given_in_the_incident_is_the_validated_model() -> None:
    from cxplay._engine.engine import _given_history
    from cxplay.results import History

    for count in (0, 3, 10**6, 0, 3, 10**6):  # the second time from the memo
        built, validated = (
            _given_history(count),
            History(source="incident", compensations_90d=count),
        )
        assert built == validated and repr(built) == repr(validated)
        assert type(built.compensations_90d) is int
        assert built.model_fields_set == validated.model_fields_set
        assert built.model_dump_json() == validated.model_dump_json()
        assert built.model_dump(exclude_unset=True) == validated.model_dump(exclude_unset=True)


def test_remembered_folds_and_spoken_turns_are_the_functions_own() -> None:
    """A remembered result is the one the function gives, per text and per language."""
    from cxplay._replies import shaping as module
    from cxplay._replies.spoken import speakable

    texts = ["Call us within 24 hours (or 2 days), 10% off.", " a\n\n b ", "x  y\u00a0z"]
    for _ in range(2):  # the second time from the memo
        for text in texts:
            assert module._folded(text) == _fold(text)
            for language in ("en", "pl", "uk"):
                assert module._said(text, language) == speakable(text, language)
    assert module._said(texts[0], "en") != module._said(texts[0], "pl")  # keyed by language
    long = "a  b " * (module._MEMO_CHARS // 5 + 1)
    before = module._fold_memo.cache_info().currsize, module._speakable_memo.cache_info().currsize
    assert module._folded(long) == _fold(long)
    assert module._said(long, "en") == speakable(long, "en")
    after = module._fold_memo.cache_info().currsize, module._speakable_memo.cache_info().currsize
    assert after == before  # a long text is not kept
