"""The hard inputs of a red-team pass (issue 9): each one a clear CxplayError, never a hang,
a traceback or a silent wrong answer."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from hypothesis import given, settings
from hypothesis import strategies as st

from cxplay import (
    ConditionError,
    Engine,
    EventFileError,
    IncidentError,
    LoadError,
    PlanError,
    Problem,
    SchemaError,
    load_event,
    suggest,
)
from cxplay._cli import cli as cxplay_cli
from cxplay._common.text import echo
from cxplay._conditions.regex import compile_regex
from cxplay._engine.durable import AVAILABLE as DURABLE
from cxplay._events.store import parse_plan
from cxplay._replies.sandbox import ReplyEnvironment, SizeError, render_capped

BACKENDS = [
    pytest.param(
        "durable", marks=pytest.mark.skipif(not DURABLE, reason="durable_rules does not import")
    ),
    "python",
]

HEAD = '[playbook]\nid = "p"\nversion = "1.0.0"\n'


def playbook(directory: Path, body: str, name: str = "p.toml") -> Path:
    path = directory / name
    path.write_text(HEAD + textwrap.dedent(body), encoding="utf-8")
    return path


def line_of(path: Path, needle: str) -> int:
    for number, line in enumerate(path.read_text("utf-8").splitlines(), start=1):
        if needle in line:
            return number
    raise AssertionError(f"{needle!r} not in {path}")


# ------------------------------------------------------------ 1. catastrophic regular expressions

EVIL = """
[[rule]]
id = "evil"
when = "matches(description, '(a+)+$')"
actions = [{ kind = "apology" }]
"""


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_catastrophic_pattern_runs_in_linear_time(tmp_path: Path, backend: str) -> None:
    playbook(tmp_path, EVIL)
    engine = Engine.from_path(tmp_path, backend=backend)
    # Python's re needs ~19 s for 28 a's and a "!", doubling with every further "a":
    # 19,999 of them (descriptions hold at most 20,000 characters) would never finish.
    attack = {"type": "x", "description": "a" * 19_999 + "!"}
    assert not engine.suggest(attack).matched
    assert engine.suggest({"type": "x", "description": "a" * 20_000}).matched
    (trace,) = engine.explain(attack)
    assert trace.rule == "evil" and not trace.matched


def test_the_evil_pattern_finishes_in_a_fresh_process(tmp_path: Path) -> None:
    # a subprocess with a timeout: a backtracking engine fails this test instead of hanging it
    playbook(tmp_path, EVIL)
    code = (
        "import sys, cxplay;"
        "e = cxplay.Engine.from_path(sys.argv[1], backend='python');"
        "print(e.suggest({'type': 'x', 'description': 'a' * 28 + '!'}).matched)"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert done.stdout == "False\n"


@pytest.mark.parametrize(
    ("pattern", "reason"),
    [
        (r"(a)\\\\1", "invalid escape sequence"),  # a backreference
        ("(?=a)b", "invalid perl operator: (?="),  # lookahead
        ("(?<=a)b", "invalid perl operator: (?<="),  # lookbehind
        ("a{2000}", "invalid repetition size"),
    ],
)
def test_a_pattern_re2_refuses_is_a_load_error_with_file_line_and_rule(
    tmp_path: Path, pattern: str, reason: str
) -> None:
    path = playbook(
        tmp_path,
        f"""
        [[rule]]
        id = "fine"
        when = "type == 'x'"
        actions = [{{ kind = "apology" }}]

        [[rule]]
        id = "refused"
        when = "matches(description, '{pattern}')"
        actions = [{{ kind = "apology" }}]
        """,
    )
    with pytest.raises(ConditionError) as info:
        Engine.from_path(tmp_path, backend="python")
    (problem,) = info.value.problems
    assert problem.file == str(path)
    assert problem.line == line_of(path, "matches(")
    assert problem.rule == "refused"
    assert "invalid regular expression for RE2" in problem.message
    assert reason in problem.message
    assert str(problem).startswith(f"{path}:{problem.line}: refused: ")


def test_a_refused_pattern_prints_nothing_but_the_error(tmp_path: Path) -> None:
    playbook(
        tmp_path,
        """
        [[rule]]
        id = "r"
        when = "matches(description, '(?=x)')"
        actions = [{ kind = "apology" }]
        """,
    )
    done = subprocess.run(
        [sys.executable, "-m", "cxplay", "validate", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 1
    assert "r: when: column 22: invalid regular expression for RE2" in done.stdout
    # RE2 logs refused patterns to stderr unless told not to
    assert "re2.cc" not in done.stderr + done.stdout and "absl" not in done.stderr


def test_matches_keeps_unicode_letters_and_case(tmp_path: Path) -> None:
    # RE2's \b and \w are ASCII only; \pL is any letter (documented in docs/playbooks.md)
    playbook(
        tmp_path,
        r"""
        [[rule]]
        id = "refund"
        when = '''matches(description, '(?i)(^|\\PL)(refund|zwrot|повернення)(\\PL|$)')'''
        actions = [{ kind = "apology" }]
        """,
    )
    engine = Engine.from_path(tmp_path, backend="python")
    for text, expected in [
        ("I want a REFUND now", True),
        ("proszę o zwrot pieniędzy", True),
        ("прошу повернення коштів", True),
        ("ПОВЕРНЕННЯ", True),
        ("refunded", False),
        ("zwroty", False),
        ("", False),
    ]:
        assert engine.suggest({"type": "x", "description": text}).matched is expected, text


# ------------------------------------------------------------ CLI and library helpers


def cli(*args: str | Path, input: str | None = None) -> Result:
    """Run the CLI as a user does (no CXPLAY_PLAYBOOKS from the environment)."""
    return CliRunner().invoke(
        cxplay_cli,
        [str(a) for a in args],
        input=input,
        env={"NO_COLOR": "1", "CXPLAY_PLAYBOOKS": None},
        prog_name="cxplay",
    )


def assert_one_error(result: Result, *fragments: str, code: int = 1) -> str:
    """Exit ``code`` with one ``Error: ...`` line holding every fragment, and no traceback."""
    assert result.exit_code == code, (result.exit_code, result.output, result.stderr)
    lines = [line for line in result.stderr.splitlines() if line.startswith("Error: ")]
    assert len(lines) == 1, result.stderr
    assert "internal error" not in result.stderr and "Traceback" not in result.stderr
    for fragment in fragments:
        assert fragment in lines[0], lines[0]
    return lines[0]


@pytest.fixture(scope="module")
def shipped() -> Engine:
    return Engine.from_path()


# ------------------------------------------------------------ 2. escapes as non-cxplay errors


@pytest.mark.parametrize(
    ("currency", "fragment"),
    [
        ("BTC", "unknown currency 'BTC'"),
        ("XXX", "XXX is an ISO 4217 code but not a currency one pays in"),
        ("XAU", "not a currency one pays in"),
    ],
)
def test_a_currency_that_is_not_money_is_an_incident_error(
    shipped: Engine, currency: str, fragment: str
) -> None:
    incident = {"type": "parcel_damaged", "order": {"value": 300, "currency": currency}}
    with pytest.raises(IncidentError, match=re.escape(fragment)):
        shipped.suggest(incident)
    result = cli(
        "suggest", "--type", "parcel_damaged", "--order-value", "300", "--currency", currency
    )
    assert_one_error(result, "invalid incident: order.currency: ", fragment)


def test_real_currencies_still_render(shipped: Engine) -> None:
    for currency, shown in [("PLN", "PLN 300.00"), ("EUR", "€300.00"), ("XOF", "F CFA")]:
        reply = shipped.suggest(
            {"type": "parcel_damaged", "order": {"value": 300, "currency": currency}}
        ).reply
        assert reply is not None and shown in reply.body, (currency, reply.body)


def test_a_policy_in_no_currency_is_a_schema_error_with_its_line(tmp_path: Path) -> None:
    path = playbook(tmp_path, '[policy]\ncurrency = "XXX"\n')
    with pytest.raises(SchemaError) as info:
        Engine.from_path(tmp_path)
    (problem,) = info.value.problems
    assert (problem.file, problem.line) == (str(path), line_of(path, "currency ="))
    assert "not a currency one pays in" in problem.message


@pytest.mark.parametrize(
    "moment", ["9999-12-31T23:59:00+00:00", "9999-12-31T23:59:00", "0001-01-01T00:00:00+14:00"]
)
def test_a_date_at_the_end_of_time_is_an_incident_error(shipped: Engine, moment: str) -> None:
    incident = {"type": "parcel_damaged", "channel": "email", "occurred_at": moment}
    with pytest.raises(IncidentError, match="occurred_at: must be between the years 1970 and 2999"):
        shipped.suggest(incident)
    result = cli("suggest", "-", input=json.dumps(incident))
    assert_one_error(result, "occurred_at: must be between the years 1970 and 2999")


def test_the_latest_accepted_date_still_gets_its_deadlines(shipped: Engine) -> None:
    incident = {"type": "parcel_damaged", "channel": "email", "occurred_at": "2999-12-31T23:59:00Z"}
    suggestion = shipped.suggest(incident)
    assert suggestion.respond_by is not None and suggestion.respond_by.year == 3000


@pytest.mark.parametrize(
    ("action", "fragment"),
    [
        ('{ kind = "follow_up", after = "P99999D" }', "at most 10 years"),
        ('{ kind = "callback", within = "-PT1H" }', "a duration cannot be negative"),
    ],
)
def test_durations_that_overflow_or_run_backwards_are_schema_errors(
    tmp_path: Path, action: str, fragment: str
) -> None:
    path = playbook(
        tmp_path,
        f"""
        [[rule]]
        id = "r"
        when = "type == 'x'"
        actions = [{action}]
        """,
    )
    with pytest.raises(SchemaError) as info:
        Engine.from_path(tmp_path)
    (problem,) = info.value.problems
    assert (problem.file, problem.line, problem.rule) == (str(path), line_of(path, "actions"), "r")
    assert fragment in problem.message


ATTACKS = [
    ("{% for x in range(100000000) %}x{% endfor %}", "a range of 100,000,000"),
    ("{{ 'a' * 100000000 }}", "a repeated value of 100,000,000"),
    ("{% for x in range(9000) %}{{ 'yes' * 20 }}{% endfor %}", "more than 100,000 characters"),
    ("{{ 'a'|center(100000000) }}", "a width of 100,000,000"),
    ("{{ 'a'.ljust(100000000) }}", "a width of 100,000,000"),
    ("{{ '%100000000s'|format('a') }}", "a format width of 100,000,000"),
    ("{{ '%100000000d' % 3 }}", "a format width of 100,000,000"),
    ("{{ '{:>100000000}'.format('a') }}", "a format width of 100,000,000"),
    ("{{ 10 ** 100000000 }}", "a power's bits"),
    ("{{ 1 / 0 }}", "division by zero"),
]


@pytest.mark.parametrize(("source", "fragment"), ATTACKS)
def test_the_sandbox_caps_what_a_fragment_may_build(source: str, fragment: str) -> None:
    environment = ReplyEnvironment()
    with pytest.raises((SizeError, ZeroDivisionError), match=re.escape(fragment)):
        render_capped(environment.from_string(source), {})


def test_ordinary_fragments_render_in_the_sandbox() -> None:
    environment = ReplyEnvironment()
    source = (
        "{% for x in range(3) %}{{ x }}{% endfor %} {{ 'ab' * 2 }} {{ 2 ** 10 }} "
        "{{ '%05.1f'|format(3.14159) }} {{ '{:>4}'.format('a') }} {{ 'x'|center(5) }}|"
        "{{ n * 2 }} {{ 2 * n }} {{ 1.5 * n }} {{ 3 * 'ab' }}"
    )
    assert (
        render_capped(environment.from_string(source), {"n": 3})
        == "012 abab 1024 003.1    a   x  |6 6 4.5 ababab"
    )


def replies_book(directory: Path, apology: str) -> Path:
    """A playbook with one rule and an English catalog whose apology is ``apology``."""
    playbook(
        directory,
        """
        [[rule]]
        id = "r"
        when = "type == 'x'"
        actions = [{ kind = "apology" }]
        """,
    )
    replies = directory / "replies"
    replies.mkdir()
    catalog = replies / "common.en.toml"
    catalog.write_text(f"apology = {json.dumps(apology)}\n", encoding="utf-8")
    return catalog


@pytest.mark.parametrize(("source", "fragment"), ATTACKS[:3])
def test_a_runaway_fragment_is_a_problem_of_validate_and_an_error_of_suggest(
    tmp_path: Path, source: str, fragment: str
) -> None:
    catalog = replies_book(tmp_path, source)
    result = cli("validate", tmp_path)
    assert result.exit_code == 1, result.output
    assert f"{catalog}:1" in result.output and fragment in result.output
    assert "Traceback" not in result.output + result.stderr
    assert len(result.output) < 2_000
    result = cli("suggest", "--playbooks", tmp_path, "--type", "x")
    assert_one_error(result, f"{catalog}:1: apology (en): ", fragment)
    assert len(result.stdout) < 2_000


# ------------------------------------------------------------ 4. incidents and facts


def test_a_negative_duration_fact_is_refused_not_rendered(shipped: Engine) -> None:
    incident = {"type": "queue_long", "facts": {"queue_minutes": -5}}
    with pytest.raises(IncidentError, match=r"facts\.queue_minutes: must be at least 0, got -5"):
        shipped.suggest(incident)
    result = cli("suggest", "--type", "queue_long", "--fact", "queue_minutes=-5")
    assert_one_error(result, "facts.queue_minutes: must be at least 0, got -5")
    assert "-5 minutes" not in result.stdout
    assert shipped.suggest({"type": "queue_long", "facts": {"queue_minutes": 0}}).matched


def test_fact_bounds_are_declared_and_checked(tmp_path: Path) -> None:
    playbook(
        tmp_path,
        """
        [facts]
        temperature_c = { type = "number", min = -90, max = 60 }

        [[rule]]
        id = "hot"
        when = "type == 'x' and facts.temperature_c >= 30"
        actions = [{ kind = "apology" }]
        """,
    )
    engine = Engine.from_path(tmp_path, backend="python")
    assert engine.suggest({"type": "x", "facts": {"temperature_c": 35}}).matched
    with pytest.raises(IncidentError, match="must be at least -90 and at most 60, got 400"):
        engine.suggest({"type": "x", "facts": {"temperature_c": 400}})


@pytest.mark.parametrize(
    ("spec", "fragment"),
    [
        ('{ type = "string", min = 0 }', "min and max bound number facts; this one is a string"),
        ('{ type = "integer", min = 5, max = 1 }', "min (5) is greater than max (1)"),
    ],
)
def test_bounds_that_cannot_hold_are_schema_errors(
    tmp_path: Path, spec: str, fragment: str
) -> None:
    path = playbook(tmp_path, f"[facts]\nthing = {spec}\n")
    with pytest.raises(SchemaError) as info:
        Engine.from_path(tmp_path)
    (problem,) = info.value.problems
    assert (problem.file, problem.line) == (str(path), line_of(path, "thing ="))
    assert fragment in problem.message


def test_a_fact_no_playbook_declares_is_named_in_a_warning_not_dropped_silently() -> None:
    # parcel_damaged declares no required fact, so its facts are open-ended: a misspelled
    # one cannot be an error, but no rule can read it, and the user hears so
    plain = cli("suggest", "--type", "parcel_damaged", "--fact", "photos_attached=true")
    typo = cli("suggest", "--type", "parcel_damaged", "--fact", "photos_atached=true")
    assert plain.exit_code == typo.exit_code == 0
    assert plain.stderr == ""
    assert typo.stderr == (
        "Warning: facts.photos_atached: not a fact the playbooks declare for "
        "'parcel_damaged'; did you mean 'photos_attached'? (ignored: no rule can read it)\n"
    )
    # the typo changes the answer (photos are asked for): which is why it is said
    assert "photo" not in plain.stdout and "photo" in typo.stdout


def test_the_shipped_examples_carry_only_declared_facts() -> None:
    for example in sorted((ROOT / "examples" / "incidents").glob("*.json")):
        result = cli("suggest", example)
        assert result.exit_code == 0, example.name
        assert "Warning" not in result.stderr, f"{example.name}: {result.stderr}"


def test_a_fact_given_twice_on_the_command_line_is_a_usage_error() -> None:
    result = cli(
        "suggest", "--type", "queue_long", "--fact", "queue_minutes=5", "--fact", "queue_minutes=7"
    )
    assert result.exit_code == 2
    assert "'queue_minutes' is given twice; give each fact once" in result.stderr


def test_an_undeclared_fact_of_a_type_that_declares_its_facts_is_an_error(shipped: Engine) -> None:
    incident = {"type": "queue_long", "facts": {"queue_minutes": 5, "queue_minuts": 7}}
    with pytest.raises(IncidentError) as info:
        shipped.suggest(incident)
    assert str(info.value) == (
        "invalid incident: facts.queue_minuts: not a fact the playbooks declare for "
        "'queue_long'; did you mean 'queue_minutes'?"
    )
    many = {"type": "queue_long", "facts": {"queue_minutes": 5, **{f"x{i}": i for i in range(150)}}}
    with pytest.raises(IncidentError) as info:
        shipped.suggest(many)
    assert "facts x0, x1, x2, x3, x4 and 145 more: not facts the playbooks declare" in str(
        info.value
    )
    assert len(str(info.value)) < 400
    # a type that declares no facts carries whatever it likes
    assert shipped.suggest({"type": "parcel_damaged", "facts": {"anything": 1}}).matched


@pytest.mark.parametrize(
    ("zone", "fragment"),
    [
        ("Mars/Olympus", "unknown time zone 'Mars/Olympus' (an IANA name such as Europe/Warsaw)"),
        ("europe/warsaw", "did you mean 'Europe/Warsaw'?"),
        ("../../etc/passwd", "unknown time zone '../../etc/passwd'"),
    ],
)
def test_an_unknown_time_zone_is_an_error_not_utc(
    shipped: Engine, zone: str, fragment: str
) -> None:
    incident = {"type": "parcel_damaged", "customer": {"timezone": zone}}
    with pytest.raises(IncidentError, match=re.escape(fragment)):
        shipped.suggest(incident)
    assert_one_error(
        cli("suggest", "-", input=json.dumps(incident)), "customer.timezone: ", fragment
    )


def test_a_known_time_zone_sets_the_reply_times(shipped: Engine) -> None:
    incident = {
        "type": "parcel_damaged",
        "channel": "email",
        "occurred_at": "2026-11-20T09:15:00+00:00",
        "customer": {"timezone": "Asia/Tokyo"},
    }
    assert shipped.suggest(incident).matched


@pytest.mark.parametrize("typo", ["parcel_damage", "parcle_damaged", "queue_lon"])
def test_a_mistyped_incident_type_gets_a_did_you_mean(shipped: Engine, typo: str) -> None:
    with pytest.raises(IncidentError, match=r"unknown incident type '\w+'; did you mean"):
        shipped.suggest({"type": typo})
    result = cli("suggest", "--type", typo)
    assert_one_error(
        result, f"unknown incident type '{typo}'; did you mean", "--allow-unknown-type"
    )


def test_allow_unknown_type_takes_it_as_it_is(tmp_path: Path) -> None:
    allowed = Engine.from_path(allow_unknown_type=True)
    suggestion = allowed.suggest({"type": "parcel_damage"})
    assert suggestion.matched and "parcel.damaged.apologise" not in [
        a.rule for a in suggestion.actions
    ]
    result = cli("suggest", "--type", "parcel_damage", "--allow-unknown-type", "--format", "json")
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["matched"] is True
    assert suggest({"type": "parcel_damage"}, allow_unknown_type=True).matched


@pytest.mark.parametrize("kind", ["parcel_lost", "parcel_late", "brand_new_type", "x"])
def test_known_and_far_away_types_are_welcome(shipped: Engine, kind: str) -> None:
    facts = {"delay_days": 3} if kind == "parcel_late" else {}
    assert shipped.suggest({"type": kind, "facts": facts}).matched


def test_fact_names_beyond_ascii_are_refused_everywhere(shipped: Engine, tmp_path: Path) -> None:
    with pytest.raises(IncidentError, match=r"'żółw' is not a fact name \(ASCII letters"):
        shipped.suggest({"type": "parcel_damaged", "facts": {"żółw": 1}})
    result = cli("suggest", "--type", "parcel_damaged", "--fact", "żółw=1")
    assert result.exit_code == 2 and "a fact name has ASCII letters" in result.stderr
    path = playbook(tmp_path, '[facts]\n"żółw" = "integer"\n')
    with pytest.raises(SchemaError) as info:
        Engine.from_path(tmp_path)
    (problem,) = info.value.problems
    assert problem.file == str(path) and problem.line == line_of(path, "żółw")


# ------------------------------------------------------------ 8. plan --out, completion

ROOT = Path(__file__).resolve().parent.parent
EVENT = ROOT / "examples" / "events" / "cxconf-2026.toml"


def test_plan_with_out_alone_writes_the_plan_and_prints_no_runbook(tmp_path: Path) -> None:
    out = tmp_path / "plan.json"
    result = cli("plan", EVENT, "--out", out)
    assert result.exit_code == 0, result.stderr
    assert result.stdout == ""
    assert result.stderr == f"Wrote {out}\n"
    assert json.loads(out.read_text("utf-8"))
    printed = cli("plan", EVENT)
    assert printed.exit_code == 0 and printed.stdout.startswith("# ")


def complete(line: str) -> list[str]:
    """What bash completion offers for the last word of ``line`` (click's protocol)."""
    words = line.split(" ")
    result = CliRunner().invoke(
        cxplay_cli,
        [],
        env={
            "_CXPLAY_COMPLETE": "bash_complete",
            "COMP_WORDS": line,
            "COMP_CWORD": str(len(words) - 1),
            "CXPLAY_PLAYBOOKS": None,
        },
        prog_name="cxplay",
    )
    assert result.exit_code == 0, result.output
    return [item.partition(",")[2] for item in result.stdout.splitlines() if item]


def test_completion_offers_the_incident_types_of_the_playbooks() -> None:
    assert complete("cxplay suggest --type parcel_") == [
        "parcel_damaged",
        "parcel_late",
        "parcel_lost",
    ]
    assert "queue_long" in complete("cxplay explain --type ")


def test_completion_offers_languages_and_tiers(tmp_path: Path) -> None:
    assert complete("cxplay suggest --lang ") == ["en", "pl", "uk"]
    assert complete("cxplay suggest --tier g") == ["gold"]
    playbook(
        tmp_path,
        """
        [[rule]]
        id = "r"
        when = "type == 'x' and customer.tier in ['platinum', 'silver']"
        actions = [{ kind = "apology" }]
        """,
    )
    assert complete(f"cxplay suggest --playbooks {tmp_path} --tier ") == ["platinum", "silver"]
    assert complete(f"cxplay suggest --playbooks {tmp_path} --type ") == ["x"]


def test_completion_never_breaks_the_shell_on_broken_playbooks(tmp_path: Path) -> None:
    (tmp_path / "p.toml").write_text("[playbook\n", encoding="utf-8")
    assert complete(f"cxplay suggest --playbooks {tmp_path} --type ") == []


def test_the_readme_fish_completion_line_is_what_click_expects() -> None:
    readme = (ROOT / "README.md").read_text("utf-8")
    assert "_CXPLAY_COMPLETE=fish_source cxplay | source" in readme
    for shell in ("bash", "zsh"):
        assert f'eval "$(_CXPLAY_COMPLETE={shell}_source cxplay)"' in readme
    fish = CliRunner().invoke(
        cxplay_cli, [], env={"_CXPLAY_COMPLETE": "fish_source"}, prog_name="cxplay"
    )
    assert fish.exit_code == 0 and "complete --no-files --command cxplay" in fish.stdout


# ------------------------------------------------------------ 3. validation gaps


def two_language_book(directory: Path, en: str, pl: str) -> tuple[Path, Path]:
    """A playbook in en and pl with one rule, and its two common catalogs."""
    (directory / "p.toml").write_text(
        HEAD
        + 'languages = ["en", "pl"]\n'
        + textwrap.dedent(
            """
            [[rule]]
            id = "r"
            when = "type == 'x'"
            actions = [{ kind = "apology" }]
            """
        ),
        encoding="utf-8",
    )
    replies = directory / "replies"
    replies.mkdir()
    en_path, pl_path = replies / "common.en.toml", replies / "common.pl.toml"
    en_path.write_text(textwrap.dedent(en), encoding="utf-8")
    pl_path.write_text(textwrap.dedent(pl), encoding="utf-8")
    return en_path, pl_path


def validate_lines(*paths: Path) -> list[str]:
    result = cli("validate", *paths)
    assert "Traceback" not in result.output + result.stderr
    return result.output.splitlines()


def test_a_catalog_missing_a_section_another_language_has(tmp_path: Path) -> None:
    en, pl = two_language_book(
        tmp_path,
        """
        apology = "Sorry."
        [situation]
        x = "Your x broke."
        y = "Your y broke."
        [subject]
        x = "About your x"
        """,
        """
        apology = "Przepraszamy."
        [subject]
        """,
    )
    assert validate_lines(tmp_path) == [
        f"{pl}: situation (pl): section [situation] lacks 2 fragments that {en} has: "
        "situation.x, situation.y",
        f"{pl}: subject (pl): no fragment 'subject.x', which {en}:7 has",
    ]


def test_a_language_without_the_catalog_of_a_playbook(tmp_path: Path) -> None:
    en, _ = two_language_book(tmp_path, 'apology = "Sorry."\n', 'apology = "Przepraszamy."\n')
    extra = en.with_name("parcel.en.toml")
    extra.write_text('[situation]\nx = "Your parcel broke."\n', encoding="utf-8")
    assert validate_lines(tmp_path) == [
        f"{extra}: situation (pl): no pl catalog parcel.pl.toml: no fragment 'situation.x', "
        f"which {extra}:2 has"
    ]


@pytest.mark.parametrize("where", ["playbooks", "replies"])
def test_dangling_and_looping_symlinks_are_reported_not_skipped(tmp_path: Path, where: str) -> None:
    two_language_book(tmp_path, 'apology = "Sorry."\n', 'apology = "Przepraszamy."\n')
    directory = tmp_path if where == "playbooks" else tmp_path / "replies"
    (directory / "gone.en.toml").symlink_to("nowhere.toml")
    (directory / "a.en.toml").symlink_to("b.en.toml")
    (directory / "b.en.toml").symlink_to("a.en.toml")
    lines = validate_lines(tmp_path)
    assert lines == [
        f"{directory / 'a.en.toml'}: a loop of symbolic links: fix or remove it",
        f"{directory / 'b.en.toml'}: a loop of symbolic links: fix or remove it",
        f"{directory / 'gone.en.toml'}: a dangling symbolic link (to nowhere.toml, which does "
        "not exist): fix or remove it",
    ]
    if where == "playbooks":
        with pytest.raises(LoadError):
            Engine.from_path(tmp_path)


def test_a_symlink_to_a_real_playbook_is_followed(tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    playbook(elsewhere, EVIL)
    book = tmp_path / "book"
    book.mkdir()
    (book / "p.toml").symlink_to(elsewhere / "p.toml")
    assert [r.id for r in Engine.from_path(book).playbooks.rules] == ["evil"]


def test_undefined_names_in_branches_the_samples_never_take(tmp_path: Path) -> None:
    en, pl = two_language_book(
        tmp_path,
        """
        apology = \"\"\"
        Sorry.
        {% if customer.tier == 'platinum' %}
        {{ customer.nmae }}, {{ voucher_code }}
        {% endif %}\"\"\"
        closing = "{% for line in zzz %}{{ line }}{% endfor %}{% set n = 1 %}{{ n }}"
        """,
        """
        apology = "Przepraszamy{% if false %}{{ order['vlaue'] }}{% endif %}."
        closing = "Pozdrawiamy {{ addr.dat }}."
        """,
    )
    assert validate_lines(tmp_path) == [
        f"{en}:5: apology (en): customer has no 'nmae'; did you mean 'name'?",
        f"{en}:5: apology (en): undefined name 'voucher_code'",
        f"{en}:7: closing (en): undefined name 'zzz'",
        f"{pl}:2: apology (pl): order has no 'vlaue'; did you mean 'value'?",
    ]


def test_validate_recognises_a_reply_catalog() -> None:
    catalog = ROOT / "playbooks" / "replies" / "parcel.pl.toml"
    result = cli("validate", catalog)
    assert (result.exit_code, result.output) == (0, "ok: 1 reply catalog\n")
    result = cli("validate", catalog, ROOT / "playbooks" / "retail.toml")
    assert result.output == "ok: 1 playbook, 7 rules, 3 languages, 1 reply catalog\n"


def test_validate_finds_what_is_wrong_in_a_catalog_alone(tmp_path: Path) -> None:
    replies = tmp_path / "replies"
    replies.mkdir()
    catalog = replies / "extra.pl.toml"
    catalog.write_text(
        'apology = "Przepraszamy {{ customer.nmae }}"\nrefund = "{% if %}"\n', encoding="utf-8"
    )
    misnamed = replies / "extra.toml"
    misnamed.write_text('apology = "x"\n', encoding="utf-8")
    result = cli("validate", catalog, misnamed)
    assert result.exit_code == 1
    assert result.output.splitlines() == [
        f"{catalog}:1: apology (pl): customer has no 'nmae'; did you mean 'name'?",
        f"{catalog}:2: refund (pl): template does not parse: Expected an expression, got "
        "'end of statement block'",
        f"{misnamed}:1: reply catalogs are named <name>.<en|pl|uk>.toml",
    ]


# ------------------------------------------------------------ 5. events

EXAMPLE = EVENT.read_text("utf-8")
WHITFIELD_ARRIVAL = "arrival = 2026-11-20T08:05:00 }"


def event_problems(tmp_path: Path, text: str) -> tuple[Path, list[Problem]]:
    path = tmp_path / "event.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(EventFileError) as info:
        load_event(path)
    return path, list(info.value.problems)


def line_in(text: str, needle: str) -> int:
    return next(n for n, line in enumerate(text.splitlines(), start=1) if needle in line)


@pytest.mark.parametrize(
    ("arrival", "fragment"),
    [
        (
            "2026-11-20T09:45:00",
            "arrives at 2026-11-20 09:45, after their session 'keynote' (09:00–10:00, 2026-11-20) starts",
        ),
        ("2026-11-20T11:00:00", "session 'keynote' (09:00–10:00, 2026-11-20) ends"),
        ("2026-11-21T08:05:00", "after their session 'keynote'"),
        ("2026-10-20T08:05:00", "arrives on 2026-10-20, not on the day of their session"),
    ],
)
def test_a_speaker_arriving_too_late_or_on_another_day_is_flagged(
    tmp_path: Path, arrival: str, fragment: str
) -> None:
    text = EXAMPLE.replace(WHITFIELD_ARRIVAL, f"arrival = {arrival} }}")
    path, problems = event_problems(tmp_path, text)
    (problem,) = problems
    assert (problem.file, problem.line) == (str(path), line_in(text, f"arrival = {arrival}"))
    assert problem.key == "speaker[0].travel.arrival"
    assert fragment in problem.message
    result = cli("plan", path)
    assert_one_error(result, f"{path}:{problem.line}: speaker[0].travel.arrival: ", fragment)


def test_a_speaker_arriving_the_evening_before_is_fine(tmp_path: Path) -> None:
    path = tmp_path / "event.toml"
    path.write_text(
        EXAMPLE.replace(WHITFIELD_ARRIVAL, "arrival = 2026-11-19T21:40:00 }"), encoding="utf-8"
    )
    assert load_event(path).speakers[0].arrival is not None


@pytest.mark.parametrize(
    ("old", "new", "fragment"),
    [
        ('name = "James Whitfield"', f'name = "{"J" * 300}"', "at most 200 characters"),
        ('name = "James Whitfield"', 'name = "James\\u0007Whitfield"', "control character U+0007"),
        ('name = "James Whitfield"', 'name = "James\\nWhitfield"', "must be one line"),
        (
            'title = "Keynote: Recovering trust after a bad day"',
            'title = "Keynote\\u001b[31m red"',
            "control character U+001B at position 8",
        ),
    ],
)
def test_long_or_control_text_is_an_error_of_the_event_file(
    tmp_path: Path, old: str, new: str, fragment: str
) -> None:
    text = EXAMPLE.replace(old, new, 1)
    path, problems = event_problems(tmp_path, text)
    (problem,) = problems
    assert (problem.file, problem.line) == (str(path), line_in(text, new[:12]))
    assert fragment in problem.message
    assert len(str(problem)) < 300  # the 300 characters are not echoed whole
    result = cli("plan", path)
    line = assert_one_error(result, f"{path}:{problem.line}: ", fragment)
    assert "invalid incident" not in line and "\x07" not in line and "\x1b" not in line


@pytest.mark.parametrize(
    ("old", "new", "fragment"),
    [
        ('timezone = "Europe/Warsaw"\n', "", "missing required key 'timezone'"),
        ('timezone = "Europe/Warsaw"', 'timezone = "Europe/Warshaw"', "unknown time zone"),
    ],
)
def test_a_missing_or_wrong_time_zone_is_one_error(
    tmp_path: Path, old: str, new: str, fragment: str
) -> None:
    _, problems = event_problems(tmp_path, EXAMPLE.replace(old, new, 1))
    assert [p.message for p in problems if fragment not in p.message] == []
    assert len(problems) == 1


# ------------------------------------------------------------ 6. plan.json read back


@pytest.fixture(scope="module")
def plan_text(tmp_path_factory: pytest.TempPathFactory) -> str:
    out = tmp_path_factory.mktemp("plan") / "plan.json"
    result = cli("plan", EVENT, "--out", out)
    assert result.exit_code == 0, result.stderr
    return out.read_text("utf-8")


def ask_offline(tmp_path: Path, data: object) -> Result:
    path = tmp_path / "plan.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    return cli(
        "suggest", "--plan", path, "--type", "speaker_late", "--fact", "speaker=whitfield",
        "--fact", "delay_minutes=30",
    )  # fmt: skip


def test_an_untouched_plan_answers(tmp_path: Path, plan_text: str) -> None:
    result = ask_offline(tmp_path, json.loads(plan_text))
    assert result.exit_code == 0, result.stderr
    assert "Whitfield" in result.stdout


@pytest.mark.parametrize(
    ("where", "text"),
    [
        ("body", "\x1b]0;pwned\x07Dear attendees"),  # sets the terminal's title
        ("body", "\x1b[2J\x1b[H"),  # clears the screen
        ("name", "James\rWhitfield"),
        ("name", "\x9b31m"),  # a C1 control: CSI on some terminals
    ],
)
def test_control_characters_in_a_plan_never_reach_the_terminal(
    tmp_path: Path, plan_text: str, where: str, text: str
) -> None:
    data = json.loads(plan_text)
    data["scenarios"][0]["messages"][0][where] = text
    result = ask_offline(tmp_path, data)
    line = assert_one_error(
        result, f"invalid plan: scenarios[0].messages[0].{where}: control character U+"
    )
    assert not any(ch in result.output for ch in "\x1b\x07\r\x9b")
    assert line.isprintable()


def test_a_control_character_in_a_key_is_refused(plan_text: str) -> None:
    data = json.loads(plan_text)
    data["scenarios"][1]["facts"]["\x1b[31m"] = 1
    with pytest.raises(PlanError, match=r"scenarios\[1\]\.facts: control character U\+001B"):
        parse_plan(json.dumps(data), name="plan.json")


@pytest.mark.parametrize(
    "tamper",
    [
        lambda d: d["scenarios"][0]["messages"][0].update(body="Pay the fee at evil.example"),
        lambda d: d["scenarios"].pop(),
        lambda d: d["event"]["venue"].update(name="Somewhere else"),
        lambda d: d["digests"].update(content="sha256:" + "0" * 64),
    ],
)
def test_a_plan_changed_after_it_was_written_is_refused(
    tmp_path: Path, plan_text: str, tamper: object
) -> None:
    data = json.loads(plan_text)
    tamper(data)  # type: ignore[operator]
    with pytest.raises(PlanError, match="the plan's digest does not match its content"):
        parse_plan(json.dumps(data), name="plan.json")
    assert_one_error(ask_offline(tmp_path, data), "digest does not match", "cxplay plan EVENT")


def test_a_plan_of_the_previous_format_is_told_to_rebuild(plan_text: str) -> None:
    data = json.loads(plan_text)
    data["format"] = "cxplay-plan/1"
    del data["digests"]["content"]
    with pytest.raises(PlanError, match="plan format 'cxplay-plan/1' is not the one"):
        parse_plan(json.dumps(data), name="plan.json")


# ------------------------------------------------------------ 7. echoed values are truncated

HUGE = "x" * 10_000_000


def huge_playbook(directory: Path) -> list[str]:
    playbook(
        directory,
        f"""
        [[rule]]
        id = "r"
        when = "type == 'x'"
        reason = "{HUGE}"
        actions = [{{ kind = "apology" }}]
        """,
    )
    return ["validate", str(directory)]


def huge_event(directory: Path) -> list[str]:
    path = directory / "event.toml"
    path.write_text(EXAMPLE.replace('id = "cxconf-2026"', f'id = "{HUGE}"', 1), encoding="utf-8")
    return ["plan", str(path)]


def huge_plan(directory: Path) -> list[str]:
    path = directory / "plan.json"
    path.write_text(json.dumps({"format": f"cxplay-plan/{HUGE}"}), encoding="utf-8")
    return ["suggest", "--plan", str(path), "--type", "speaker_late"]


def huge_offline_fact(directory: Path) -> list[str]:
    out = directory / "plan.json"
    assert cli("plan", EVENT, "--out", out).exit_code == 0
    return [
        "suggest",
        "--plan",
        str(out),
        "--type",
        "speaker_late",
        "--fact",
        "speaker=whitfield",
        "--fact",
        f"delay_minutes={HUGE}",
    ]


@pytest.mark.parametrize(
    "arguments",
    [
        pytest.param(huge_playbook, id="a playbook's reason"),
        pytest.param(huge_event, id="an event id"),
        pytest.param(huge_plan, id="a plan's format"),
        pytest.param(huge_offline_fact, id="an offline question's delay"),
        pytest.param(lambda _: ["suggest", "--type", HUGE], id="an incident type"),
        pytest.param(lambda _: ["suggest", "--type", "x", "--currency", HUGE], id="a currency"),
        pytest.param(lambda _: ["suggest", "--type", "x", "--lang", HUGE], id="a language"),
        pytest.param(lambda _: ["suggest", "--type", "x", "--fact", f"{HUGE}=1"], id="a fact name"),
        pytest.param(
            lambda _: ["suggest", "--type", "queue_long", "--fact", f"queue_minutes={HUGE}"],
            id="a fact value",
        ),
    ],
)
def test_a_10_mb_value_comes_back_as_a_short_error(tmp_path: Path, arguments: object) -> None:
    result = cli(*arguments(tmp_path))  # type: ignore[operator]
    assert result.exit_code in (1, 2), result.output[:300]
    assert len(result.output) < 2_000, result.output[:300]
    assert "x" * 100 not in result.output


def test_echo_keeps_short_values_and_cuts_long_ones() -> None:
    assert echo("parcel_damage") == "'parcel_damage'"
    assert echo("x" * 61) == f"'{'x' * 60}'… (61 characters)"
    assert echo("\x1b[31m") == "'\\x1b[31m'"  # repr escapes: one printable line
    assert len(echo(list(range(10**6)))) < 100


PATTERNS = [
    r"(?i)(glass|szk[łl]o|скло)",
    r"^zwrot",
    r"pieniędzy$",
    r"\d{2,4}-\d+",
    r"(?i)(^|\PL)refund(\PL|$)",
    r"a|b|",
    r"[^\x00-\x7f]{2}",
]


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(PATTERNS), st.text(max_size=60))
def test_the_fast_yes_or_no_agrees_with_re2s_own_search(pattern: str, text: str) -> None:
    import re2

    options = re2.Options()
    options.log_errors = False
    expected = re2.compile(pattern, options).search(text) is not None
    assert (compile_regex(pattern).search(text) is not None) is expected


def test_the_regex_benchmark_runs_and_its_engines_agree() -> None:
    # timings are the benchmark's to report (docs/performance.md), never asserted here
    done = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "bench_regex.py"), "--quick", "--json"],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stderr.strip().endswith("agree")
    measured = json.loads(done.stdout)
    assert {row["engine"] for row in measured} == {"re", "re2 search", "cxplay"}
    assert all(row["median_us"] > 0 for row in measured)


def test_replies_config_errors_read_like_every_other_schema_error(tmp_path: Path) -> None:
    two_language_book(tmp_path, 'apology = "Sorry."\n', 'apology = "Przepraszamy."\n')
    config = tmp_path / "replies" / "config.toml"
    config.write_text(
        'company = "X"\ncompnay = "Y"\nagent = 5\n[signature.p]\nagnet = "Z"\n', encoding="utf-8"
    )
    assert validate_lines(tmp_path) == [
        f"{config}:2: unknown key 'compnay'; did you mean 'company'?",
        f"{config}:3: agent: input should be a valid string (got 5)",
        f"{config}:5: signature.p: unknown key 'agnet'; did you mean 'agent'?",
    ]


@pytest.mark.parametrize(
    ("name", "content", "where"),
    [
        ("i.json", '{"type": "x", "order": {"value": 5, "currency": "BTC"}}', "{path}: "),
        ("i.toml", 'type = "x"\n\n[order]\nvalue = 5\ncurrency = "BTC"\n', "{path}:5: "),
    ],
)
def test_an_incident_file_is_named_in_its_errors(
    tmp_path: Path, name: str, content: str, where: str
) -> None:
    path = tmp_path / name
    path.write_text(content, encoding="utf-8")
    expected = where.format(path=path) + "invalid incident: order.currency: unknown currency"
    assert_one_error(cli("suggest", path), expected)
    assert_one_error(cli("explain", path), expected)
    # a flag changed the incident: the file alone is not to blame
    line = assert_one_error(cli("suggest", path, "--tier", "gold"), "invalid incident: ")
    assert str(path) not in line
