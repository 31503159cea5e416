"""The cxplay command: exact output and exit status of every command and format.

Exact-output tests use a small playbook written into tmp_path, so changes to the shipped
playbooks do not break them; only the demo test reads the shipped ones.
"""

from __future__ import annotations

import itertools
import json
import os
import random
import subprocess
import sys
import textwrap
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from cxplay import Engine, PlaybookSet, Problem, Suggestion
from cxplay import _present as present
from cxplay._cli import _fact_value, cli
from cxplay._conditions.implication import implies, never_holds
from cxplay._conditions.parse import FieldType, builtin_fields, parse_condition
from cxplay._engine.reference import compile_node
from cxplay._playbooks import lint
from cxplay.errors import RenderError
from cxplay.results import Cost, FollowUpPlan, Reply, SuggestedAction

ROOT = Path(__file__).resolve().parent.parent

SHOP = """\
[playbook]
id = "shop"
version = "2.0.0"
title = "Shop incidents"
languages = ["en", "pl"]

[facts]
delay_days = "integer"
tags = "list"
fragile = "boolean"

[policy]
approval_above = 100

[sla]
email = "PT2H"

[[rule]]
id = "late.apologise"
when = "type == 'parcel_late'"
priority = 100
reason = "Late parcels get an apology"
actions = [{ kind = "apology" }]

[[rule]]
id = "late.refund"
when = "type == 'parcel_late' and facts.delay_days >= 3"
priority = 80
group = "compensation"
reason = "Very late parcels are refunded"
actions = [{ kind = "refund", percent = 50 }]

[[rule]]
id = "late.discount"
when = "type == 'parcel_late' and exists(facts.delay_days)"
priority = 60
group = "compensation"
reason = "Late parcels earn a discount"
actions = [{ kind = "discount", percent = 10, days_valid = 30 }]

[[rule]]
id = "late.fragile"
when = "type == 'parcel_late' and facts.fragile"
priority = 50
severity = "high"
actions = [
  { kind = "inform", topic = "handling" },
  { kind = "survey", survey = "csat", after = "P3D", channel = "email" },
]

[[test]]
name = "very-late"
incident = { type = "parcel_late", channel = "email", facts = { delay_days = 5 } }
expect = ["apology", "refund"]
expect_rules = ["late.refund"]
"""

LATE = {
    "id": "T-1",
    "type": "parcel_late",
    "occurred_at": "2026-11-20T09:15:00+01:00",
    "channel": "email",
    "order": {"value": 300, "currency": "EUR"},
    "facts": {"delay_days": 5, "fragile": True},
}

LATE_TEXT = """\
Incident    T-1
Severity    high
Respond by  2026-11-20 11:15 +01:00

Actions
  1. Apology
     Late parcels get an apology
     via late.apologise (shop@2.0.0, priority 100)
  2. Refund  percent=50  cost 150.00 EUR  needs approval
     Very late parcels are refunded
     via late.refund (shop@2.0.0, priority 80)
  3. Inform the customer  topic=handling
     via late.fragile (shop@2.0.0, priority 50)
  4. Survey  survey=csat, after=P3D, channel=email
     via late.fragile (shop@2.0.0, priority 50)

Follow-ups
  - Survey (csat) by E-mail in 3 days, due 2026-11-23 09:15 +01:00
"""


@pytest.fixture
def book(tmp_path: Path) -> Path:
    directory = tmp_path / "book"
    directory.mkdir()
    (directory / "shop.toml").write_text(SHOP, encoding="utf-8")
    return directory


@pytest.fixture
def late(tmp_path: Path) -> Path:
    path = tmp_path / "late.json"
    path.write_text(json.dumps(LATE), encoding="utf-8")
    return path


def run(
    *args: str | Path, input: str | bytes | None = None, env: dict[str, str] | None = None
) -> Result:
    environment: dict[str, str | None] = {
        "NO_COLOR": "1",
        "CXPLAY_PLAYBOOKS": None,
        "CXPLAY_LOG": None,
        "CXPLAY_LANG": "en",  # the labels' language, whatever the machine's locale
    }
    environment.update(env or {})
    runner = CliRunner()
    return runner.invoke(
        cli, [str(a) for a in args], input=input, env=environment, prog_name="cxplay"
    )


def playbook(directory: Path, text: str, name: str = "p.toml") -> Path:
    directory.mkdir(exist_ok=True)
    path = directory / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


# --------------------------------------------------------------------------- basics


def test_version() -> None:
    result = run("--version")
    assert (result.exit_code, result.stdout) == (0, "cxplay 0.1.0\n")


@pytest.mark.parametrize(
    "command",
    [
        [],
        ["suggest"],
        ["explain"],
        ["validate"],
        ["test"],
        ["playbooks"],
        ["playbooks", "show"],
        ["schema"],
    ],
    ids=lambda c: " ".join(c) or "cxplay",
)
def test_every_help_has_an_example(command: list[str]) -> None:
    result = run(*command, "--help")
    assert result.exit_code == 0
    assert "  Examples:\n    cxplay " in result.stdout


def test_help_documents_completion_and_exit_codes() -> None:
    result = run("--help")
    assert 'eval "$(_CXPLAY_COMPLETE=bash_source cxplay)"' in result.stdout
    assert "3 no rule matched the incident" in result.stdout


def test_shell_completion_of_playbook_ids(book: Path) -> None:
    result = run(
        env={
            "_CXPLAY_COMPLETE": "bash_complete",
            "COMP_WORDS": "cxplay playbooks show s",
            "COMP_CWORD": "3",
            "CXPLAY_PLAYBOOKS": str(book),
        }
    )
    assert (result.exit_code, result.stdout) == (0, "plain,shop\n")


def test_unknown_command_is_a_usage_error() -> None:
    result = run("sugest")
    assert result.exit_code == 2
    assert "No such command 'sugest'" in result.stderr


# --------------------------------------------------------------------------- suggest


@pytest.mark.parametrize(
    "args",
    [
        ["report", "--log", "{tmp}/log.db", "--out", "{tmp}/missing/report.txt"],
        ["report", "--log", "{tmp}/log.db", "--format", "html", "--out", "{tmp}/missing/r.html"],
        ["log", "export", "--log", "{tmp}/log.db", "--out", "{tmp}/missing/export.jsonl"],
        ["plan", "{event}", "--out", "{tmp}/missing/plan.json"],
        ["plan", "{event}", "--markdown", "{tmp}/missing/runbook.md"],
        ["plan", "{event}", "--out", "{tmp}/plan.json", "--html", "{tmp}/plan.json/r.html"],
    ],
    ids=["report", "report-html", "export", "plan", "plan-markdown", "plan-html"],
)
def test_an_unwritable_out_file_is_named(tmp_path: Path, args: list[str]) -> None:
    """Every file a command writes: a failure says which file, in one line."""
    event = ROOT / "examples" / "events" / "cxconf-2026.toml"
    filled = [a.format(tmp=tmp_path, event=event) for a in args]
    target = next(a for a in reversed(filled) if "/missing/" in a or a.endswith("r.html"))
    done = subprocess.run(
        [sys.executable, "-m", "cxplay", *filled], capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 1
    errors = [line for line in done.stderr.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1 and "Traceback" not in done.stderr
    assert errors[0].startswith(f"Error: {target}: "), errors


EXAMPLE_INCIDENTS = sorted((ROOT / "examples" / "incidents").glob("*.json"))


@pytest.mark.parametrize("path", EXAMPLE_INCIDENTS, ids=[p.stem for p in EXAMPLE_INCIDENTS])
def test_respond_by_is_for_the_channel_the_reply_goes_to(path: Path) -> None:
    """Without a channel the reply is an e-mail: respond_by is the e-mail's, never absent."""
    engine = Engine.from_path(backend="python")
    incident = json.loads(path.read_text("utf-8"))
    incident.pop("channel", None)
    unnamed = engine.suggest(incident)
    named = engine.suggest(dict(incident, channel=unnamed.reply.channel))
    assert unnamed.reply.channel == "email"
    assert unnamed.respond_by == named.respond_by
    assert unnamed.respond_by is not None or not engine.evaluate(incident)


def test_suggest_without_a_channel_says_when_to_respond() -> None:
    result = run("suggest", "--type", "parcel_damaged", "--format", "json")
    assert result.exit_code == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["reply"]["channel"] == "email" and data["respond_by"] is not None
    assert "Respond by" in run("suggest", "--type", "parcel_damaged").stdout


def test_suggest_text(book: Path, late: Path) -> None:
    result = run("suggest", late, "--playbooks", book)
    assert (result.exit_code, result.stderr) == (0, "")
    assert result.stdout == LATE_TEXT
    assert "\x1b[" not in result.stdout


def test_suggest_json_is_the_suggestion_contract(book: Path, late: Path) -> None:
    result = run("suggest", late, "--playbooks", book, "--format", "json")
    assert result.exit_code == 0
    with Engine.from_path(book) as engine:
        expected = engine.suggest(LATE).model_dump(mode="json")
    assert result.stdout == json.dumps(expected, indent=2, ensure_ascii=False) + "\n"
    data = json.loads(result.stdout)
    assert list(data) == [
        "incident_id",
        "matched",
        "severity",
        "actions",
        "reply",
        "respond_by",
        "follow_ups",
        "trace",
        "decision_id",
        "history",
    ]
    assert data["respond_by"] == "2026-11-20T11:15:00+01:00"
    assert data["actions"][1]["cost"] == {"amount": 150.0, "currency": "EUR"}
    assert data["trace"] is None


def test_suggest_markdown(book: Path, late: Path) -> None:
    result = run("suggest", late, "--playbooks", book, "--format", "markdown")
    assert result.exit_code == 0
    assert result.stdout == textwrap.dedent(
        """\
        ### Recovery plan for T-1

        **Severity:** high · **Respond by:** 2026-11-20 11:15 +01:00

        | # | Action | Details | Cost | Approval | Why |
        |---|--------|---------|------|----------|-----|
        | 1 | Apology |  |  | no | Late parcels get an apology (`late.apologise`) |
        | 2 | Refund | `percent=50` | 150.00 EUR | **needs approval** | Very late parcels are refunded (`late.refund`) |
        | 3 | Inform the customer | `topic=handling` |  | no | (`late.fragile`) |
        | 4 | Survey | `survey=csat, after=P3D, channel=email` |  | no | (`late.fragile`) |

        **Follow-ups**

        - Survey (csat) by E-mail in 3 days, due 2026-11-23 09:15 +01:00
        """
    )


def test_suggest_explain_json_has_the_trace(book: Path, late: Path) -> None:
    result = run("suggest", late, "--playbooks", book, "--format", "json", "--explain")
    assert result.exit_code == 0
    trace = json.loads(result.stdout)["trace"]
    assert [(t["rule"], t["matched"], t["outcome"]) for t in trace] == [
        ("late.apologise", True, "kept"),
        ("late.refund", True, "kept"),
        ("late.discount", True, "dropped: group 'compensation' won by 'late.refund'"),
        ("late.fragile", True, "kept"),
    ]


def test_suggest_from_toml_file(book: Path, tmp_path: Path) -> None:
    path = tmp_path / "late.toml"
    path.write_text(
        'id = "T-1"\ntype = "parcel_late"\noccurred_at = 2026-11-20T09:15:00+01:00\n'
        'channel = "email"\n[order]\nvalue = 300\ncurrency = "EUR"\n'
        "[facts]\ndelay_days = 5\nfragile = true\n",
        encoding="utf-8",
    )
    result = run("suggest", path, "--playbooks", book)
    assert (result.exit_code, result.stdout) == (0, LATE_TEXT)


def test_suggest_from_stdin_json(book: Path) -> None:
    result = run("suggest", "-", "--playbooks", book, input=json.dumps(LATE))
    assert (result.exit_code, result.stdout) == (0, LATE_TEXT)


def test_suggest_from_stdin_toml(book: Path) -> None:
    text = 'type = "parcel_late"\n[facts]\ndelay_days = 1\n'
    result = run("suggest", "-", "--playbooks", book, "--format", "json", input=text)
    assert result.exit_code == 0
    kinds = [a["kind"] for a in json.loads(result.stdout)["actions"]]
    assert kinds == ["apology", "discount"]


def test_suggest_from_flags_only(book: Path) -> None:
    result = run(
        "suggest",
        "--playbooks",
        book,
        "--type",
        "parcel_late",
        "--fact",
        "delay_days=1",
        "--order-value",
        "40",
        "--currency",
        "EUR",
        "--lang",
        "pl",
        "--name",
        "Anna Kowalska",
        "--tier",
        "gold",
    )
    assert result.exit_code == 0
    # no channel: the reply is an e-mail, due within the e-mail SLA of now
    severity, respond_by, *rest = result.stdout.splitlines(keepends=True)
    assert respond_by.startswith("Respond by  ")
    assert severity + "".join(rest) == textwrap.dedent(
        """\
        Severity    low

        Actions
          1. Apology
             Late parcels get an apology
             via late.apologise (shop@2.0.0, priority 100)
          2. Discount  percent=10, days_valid=30
             Late parcels earn a discount
             via late.discount (shop@2.0.0, priority 60)
        """
    )


def test_flags_override_and_extend_a_file_incident(book: Path, late: Path) -> None:
    result = run(
        "suggest",
        late,
        "--playbooks",
        book,
        "--fact",
        "delay_days=1",
        "--fact",
        "fragile=false",
        "--order-value",
        "20",
        "--format",
        "json",
    )
    assert result.exit_code == 0
    data = json.loads(result.stdout)
    assert data["incident_id"] == "T-1"
    assert [a["kind"] for a in data["actions"]] == ["apology", "discount"]


def test_playbooks_from_the_environment(book: Path, late: Path) -> None:
    result = run("suggest", late, env={"CXPLAY_PLAYBOOKS": str(book)})
    assert (result.exit_code, result.stdout) == (0, LATE_TEXT)


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("3", 3),
        ("-2.5", -2.5),
        ("1e3", 1000.0),
        ("true", True),
        ("false", False),
        ("a,b", ["a", "b"]),
        ("1, 2,x", [1, 2, "x"]),
        ('["a, b", 2]', ["a, b", 2]),
        ('"42"', "42"),
        ('"a, b"', "a, b"),
        ("hello world", "hello world"),
        ("", ""),
        ("007", "007"),
        ("nan", "nan"),
        ("True", "True"),
    ],
)
def test_fact_values_are_typed(text: str, value: Any) -> None:
    found = _fact_value("key", text)
    assert found == value
    assert type(found) is type(value)


def test_typed_facts_reach_the_rules(book: Path) -> None:
    args = ["suggest", "--playbooks", book, "--type", "parcel_late", "--format", "json"]
    result = run(*args, "--fact", "delay_days=3", "--fact", "fragile=true", "--fact", "tags=a,b")
    assert result.exit_code == 0
    kinds = [a["kind"] for a in json.loads(result.stdout)["actions"]]
    assert kinds == ["apology", "refund", "inform", "survey"]


@pytest.mark.parametrize(
    ("fact", "message"),
    [
        ("fragile=yes", "Error: invalid incident: facts.fragile: expected boolean, got 'yes'\n"),
        (
            "delay_days=a,b",
            "Error: invalid incident: facts.delay_days: expected integer, got ['a', 'b']\n",
        ),
        ("tags=[[1]]", "Error: invalid incident: facts.tags: must be text, a number, "),
    ],
)
def test_mistyped_facts_are_errors(book: Path, fact: str, message: str) -> None:
    result = run("suggest", "--playbooks", book, "--type", "parcel_late", "--fact", fact)
    assert result.exit_code == 1
    assert result.stderr.startswith(message)
    assert result.stderr.count("\n") == 1


def test_no_match_exits_3(book: Path) -> None:
    result = run("suggest", "--playbooks", book, "--type", "queue_long")
    assert result.exit_code == 3
    assert result.stdout == "Severity    low\n\nNo rule matched this incident.\n"
    assert result.stderr == ""


def test_no_match_json_exits_3(book: Path) -> None:
    result = run("suggest", "--playbooks", book, "--type", "queue_long", "--format", "json")
    assert result.exit_code == 3
    assert json.loads(result.stdout)["matched"] is False


# --------------------------------------------------------------------------- explain


def test_explain_text(book: Path, late: Path) -> None:
    result = run(
        "explain", late, "--playbooks", book, "--fact", "delay_days=1", "--fact", "fragile=false"
    )
    assert result.exit_code == 0
    assert result.stdout == textwrap.dedent(
        """\
        Incident    T-1
        Severity    low
        Respond by  2026-11-20 11:15 +01:00

        Actions
          1. Apology
             Late parcels get an apology
             via late.apologise (shop@2.0.0, priority 100)
          2. Discount  percent=10, days_valid=30
             Late parcels earn a discount
             via late.discount (shop@2.0.0, priority 60)

        Rules (2 of 4 matched)
          ✓ late.apologise  kept
          ✗ late.refund     failed: facts.delay_days >= 3 (incident: 1)
          ✓ late.discount   kept
          ✗ late.fragile    failed: facts.fragile (incident: false)
        """
    )


def test_explain_no_match_shows_why(book: Path) -> None:
    result = run("explain", "--playbooks", book, "--type", "parcel_lost")
    assert result.exit_code == 3
    assert result.stdout.endswith(
        "Rules (0 of 4 matched)\n"
        "  ✗ late.apologise  failed: type == 'parcel_late' (incident: 'parcel_lost')\n"
        "  ✗ late.refund     failed: type == 'parcel_late' (incident: 'parcel_lost')\n"
        "  ✗ late.discount   failed: type == 'parcel_late' (incident: 'parcel_lost')\n"
        "  ✗ late.fragile    failed: type == 'parcel_late' (incident: 'parcel_lost')\n"
    )


def test_explain_markdown_trace(book: Path) -> None:
    result = run("explain", "--playbooks", book, "--type", "parcel_late", "--format", "markdown")
    assert result.exit_code == 0
    assert result.stdout.endswith(
        "**Rules** (1 of 4 matched)\n\n"
        "| | Rule | Result |\n"
        "|---|------|--------|\n"
        "| ✓ | `late.apologise` | kept |\n"
        "| ✗ | `late.refund` | failed: `facts.delay_days >= 3` (incident: `missing`) |\n"
        "| ✗ | `late.discount` | failed: `exists(facts.delay_days)` (incident: `missing`) |\n"
        "| ✗ | `late.fragile` | failed: `facts.fragile` (incident: `missing`) |\n"
    )


# --------------------------------------------------------------------------- errors


def test_missing_incident_file(book: Path, tmp_path: Path) -> None:
    result = run("suggest", tmp_path / "nope.json", "--playbooks", book)
    assert (result.exit_code, result.stdout) == (1, "")
    assert result.stderr == f"Error: {tmp_path / 'nope.json'}: no such incident file\n"


def test_directory_as_incident(book: Path, tmp_path: Path) -> None:
    result = run("suggest", tmp_path, "--playbooks", book)
    assert result.exit_code == 1
    assert result.stderr == f"Error: {tmp_path}: is a directory, not an incident file\n"


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        (
            "bad.json",
            b'{"type": "x",\n  oops}',
            "{path}:2:3: invalid JSON: Expecting property name enclosed in double quotes",
        ),
        ("bad.json", b'{"type": "\xff"}', "{path}:1: not valid UTF-8 (byte 10)"),
        ("bad.json", b"[1, 2]", "{path}: an incident must be an object, not list"),
        (
            "bad.json",
            b'{"type": "x", "order": {"value": NaN}}',
            "{path}: invalid JSON: NaN is not a number an incident may carry",
        ),
        (
            "deep.json",
            b"[" * 100_000 + b"]" * 100_000,
            "{path}: invalid incident: nested too deeply",
        ),
        (
            "deep.toml",
            b"type = 'x'\na = " + b"[" * 5_000 + b"]" * 5_000,
            "{path}: invalid TOML: nested too deeply",
        ),
        (
            "bad.toml",
            b'type = "x"\nfoo = = 1\n',
            "{path}:2: invalid TOML: invalid value (column 7)",
        ),
        ("big.json", b" " * (1 << 20) + b"{}", "{path}: larger than 1024 KiB"),
        (
            "bad.json",
            b'{"type": "x", "customer": "Anna"}',
            "{path}: invalid incident: customer: input should be a valid dictionary",
        ),
    ],
    ids=["json", "utf-8", "not-object", "nan", "deep-json", "deep-toml", "toml", "huge", "shape"],
)
def test_bad_incident_files_are_one_line_errors(
    book: Path, tmp_path: Path, name: str, content: bytes, message: str
) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    result = run("suggest", path, "--playbooks", book)
    assert result.exit_code == 1, result.output
    assert result.stdout == ""
    assert result.stderr.startswith("Error: " + message.format(path=path))
    assert result.stderr.count("\n") == 1
    assert "Traceback" not in result.output


def test_flag_on_a_non_object_section_is_an_error(book: Path, tmp_path: Path) -> None:
    path = tmp_path / "i.json"
    path.write_text('{"type": "parcel_late", "customer": "Anna"}', encoding="utf-8")
    result = run("suggest", path, "--playbooks", book, "--lang", "pl")
    assert (result.exit_code, result.stderr) == (
        1,
        "Error: invalid incident: customer: must be an object\n",
    )


def test_invalid_incident_from_stdin(book: Path) -> None:
    result = run("suggest", "-", "--playbooks", book, input='{"type": "x", "colour": 1}')
    assert (result.exit_code, result.stderr) == (
        1,
        "Error: invalid incident: colour: unknown key\n",
    )


def test_broken_playbooks_give_one_error_line_per_problem(tmp_path: Path) -> None:
    schema = playbook(
        tmp_path / "broken",
        """\
        [playbook]
        id = "a"
        version = "1.0.0"

        [[rule]]
        id = "r1"
        when = "type == 'x'"
        priorty = 3
        actions = [{ kind = "apology" }]
        """,
        "a.toml",
    )
    condition = playbook(
        tmp_path / "broken",
        """\
        [playbook]
        id = "b"
        version = "1.0.0"

        [[rule]]
        id = "r2"
        when = "type == 'x' and order.valeu > 3"
        actions = [{ kind = "apology" }]
        """,
        "b.toml",
    )
    result = run("suggest", "--playbooks", tmp_path / "broken", "--type", "x")
    assert result.exit_code == 1
    assert result.stdout == ""
    assert result.stderr == (
        f"Error: {schema}:8: r1: unknown key 'priorty'; did you mean 'priority'?\n"
        f"Error: {condition}:7: r2: when: column 17: unknown field 'order.valeu'; "
        "did you mean 'order.value'?\n"
    )


def test_missing_playbooks_directory(tmp_path: Path) -> None:
    result = run("suggest", "--playbooks", tmp_path / "none", "--type", "x")
    assert (result.exit_code, result.stderr) == (
        1,
        f"Error: {tmp_path / 'none'}: no such file or directory\n",
    )


def test_debug_shows_the_traceback(tmp_path: Path) -> None:
    result = run("--debug", "suggest", "--playbooks", tmp_path / "none", "--type", "x")
    assert result.exit_code == 1
    assert result.stderr.startswith("Traceback (most recent call last):\n")
    assert result.stderr.endswith(f"Error: {tmp_path / 'none'}: no such file or directory\n")


def test_internal_errors_are_one_line_without_debug(
    book: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def boom(*args: object, **kwargs: object) -> Suggestion:
        raise RuntimeError("boom")

    monkeypatch.setattr(Engine, "suggest", boom)
    result = run("suggest", "--playbooks", book, "--type", "x")
    assert (result.exit_code, result.stdout) == (1, "")
    assert result.stderr == (
        "Error: internal error: RuntimeError: boom "
        "(run 'cxplay --debug ...' to see the traceback)\n"
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ([], "Error: no incident: give a FILE, '-' to read stdin, or --type\n"),
        (["--type", "x", "--fact", "delay"], "expected key=value, e.g. delay_days=3\n"),
        (["--type", "x", "--fact", "1x=2"], "a fact name has ASCII letters, digits and '_'"),
        (["--type", "x", "--fact", "tags=[1,"], "tags: invalid JSON: Expecting value\n"),
        (["--type", "x", "--channel", "fax"], "Invalid value for '--channel': 'fax'"),
        (["--type", "x", "--order-value", "lots"], "Invalid value for '--order-value'"),
        (["--type", "x", "--format", "yaml"], "Invalid value for '--format'"),
    ],
)
def test_usage_errors_exit_2(book: Path, args: list[str], message: str) -> None:
    result = run("suggest", "--playbooks", book, *args)
    assert result.exit_code == 2
    assert message in result.stderr


# --------------------------------------------------------------------------- validate


@pytest.fixture
def no_renderer_checks(monkeypatch: pytest.MonkeyPatch) -> None:
    """Validate without the renderer's template checks (tested in the renderer's tests)."""
    monkeypatch.setattr(lint, "check_replies", lambda playbooks: [])


def test_validate_shows_the_renderers_problems(book: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def check(playbooks: PlaybookSet) -> list[Problem]:
        rule = playbooks.rule("late.refund")
        return [
            Problem("no reply fragment 'refund' in pl", rule.playbook.source, rule.line, rule.id)
        ]

    monkeypatch.setattr(lint, "check_replies", check)
    result = run("validate", book)
    assert (result.exit_code, result.stdout) == (
        1,
        f"{book / 'shop.toml'}:25: late.refund: no reply fragment 'refund' in pl\n",
    )


def test_validate_the_shipped_playbooks() -> None:
    result = run("validate")
    assert result.exit_code == 0, result.stdout
    assert result.stdout.startswith("ok: ")


def test_validate_clean(book: Path, no_renderer_checks: None) -> None:
    result = run("validate", book)
    assert (result.exit_code, result.stdout) == (0, "ok: 1 playbook, 4 rules, 2 languages\n")


def test_validate_defaults_to_the_environment(book: Path, no_renderer_checks: None) -> None:
    result = run("validate", env={"CXPLAY_PLAYBOOKS": str(book)})
    assert (result.exit_code, result.stdout) == (0, "ok: 1 playbook, 4 rules, 2 languages\n")


def test_validate_reports_rules_that_can_never_win(
    tmp_path: Path, no_renderer_checks: None
) -> None:
    path = playbook(
        tmp_path / "lint",
        """\
        [playbook]
        id = "lint"
        version = "1.0.0"

        [[rule]]
        id = "broad"
        when = "type in ['parcel_late', 'parcel_lost'] and order.value >= 50"
        priority = 80
        group = "comp"
        actions = [{ kind = "apology" }]

        [[rule]]
        id = "narrow"
        when = "type == 'parcel_late' and order.value >= 100 and channel == 'email'"
        priority = 60
        group = "comp"
        actions = [{ kind = "apology" }]

        [[rule]]
        id = "other-group"
        when = "type == 'parcel_late' and order.value >= 100"
        priority = 10
        group = "elsewhere"
        actions = [{ kind = "apology" }]

        [[rule]]
        id = "impossible"
        when = "order.value > 10 and order.value < 5"
        actions = [{ kind = "apology" }]

        [[rule]]
        id = "stopper"
        when = "type == 'fraud'"
        priority = 900
        stop = true
        actions = [{ kind = "escalate", to = "fraud team" }]

        [[rule]]
        id = "after-stop"
        when = "type == 'fraud' and channel == 'email'"
        actions = [{ kind = "apology" }]

        [[rule]]
        id = "tie-first"
        when = "type == 'queue_long'"
        priority = 5
        group = "q"
        actions = [{ kind = "apology" }]

        [[rule]]
        id = "tie-second"
        when = "type == 'queue_long' and channel != 'sms'"
        priority = 5
        group = "q"
        actions = [{ kind = "apology" }]

        [[test]]
        incident = { type = "parcel_late" }
        expect = ["apology", "refnd"]
        expect_rules = ["narow"]
        """,
    )
    result = run("validate", path)
    assert result.exit_code == 1
    kinds = (
        "apology, callback, discount, escalate, follow_up, free_shipping, gesture, inform, "
        "move_private, plan_b, refund, replacement, survey"
    )
    assert result.stdout == (
        f"{path}:12: narrow: can never win group 'comp': 'broad' (priority 80 > 60, "
        f"{path}:5) matches whenever this rule does\n"
        f"{path}:26: impossible: condition can never hold\n"
        f"{path}:38: after-stop: can never apply: 'stopper' (priority 900 > 50, stop = true, "
        f"{path}:31) matches whenever this rule does and drops the rules below it\n"
        f"{path}:50: tie-second: can never win group 'q': 'tie-first' (same priority 5, "
        f"earlier in file order, {path}:43) matches whenever this rule does\n"
        f"{path}:57: test[0]: expect_rules: no rule 'narow'\n"
        f"{path}:57: test[0]: expect: no action kind 'refnd' (one of: {kinds})\n"
    )


def test_validate_reports_load_problems(tmp_path: Path) -> None:
    path = playbook(tmp_path / "bad", '[playbook]\nid = "x"\nversion = "1"\n[[rule]]\nid = 3\n')
    result = run("validate", path.parent)
    assert result.exit_code == 1
    assert result.stdout == (
        f"{path}:4: rule[0]: missing required key 'when'\n"
        f"{path}:4: rule[0]: missing required key 'actions'\n"
        f"{path}:5: rule[0]: id: input should be a valid string (got 3)\n"
    )


def test_validate_missing_path(tmp_path: Path) -> None:
    result = run("validate", tmp_path / "none")
    assert (result.exit_code, result.stdout) == (
        1,
        f"{tmp_path / 'none'}: no such file or directory\n",
    )


FIELDS = {
    **builtin_fields(),
    "facts.n": FieldType("number"),
    "facts.vip": FieldType("boolean"),
}


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [
        ("order.value >= 100", "order.value >= 50", True),
        ("order.value >= 50", "order.value >= 100", False),
        ("order.value > 100", "order.value >= 100", True),
        ("order.value >= 100", "order.value > 100", False),
        ("facts.n >= 5 and facts.n != 5", "facts.n > 5", True),
        ("type == 'x'", "type in ['x', 'y']", True),
        ("type in ['x', 'y']", "type == 'x'", False),
        ("type in ['x', 'y']", "type == 'x' or type == 'y'", True),
        ("type == 'a' and order.value > 10 and channel == 'sms'", "type == 'a'", True),
        ("type == 'a'", "type == 'a' and order.value > 10", False),
        ("channel in ['email', 'chat']", "channel != 'sms'", True),
        ("channel != 'sms'", "channel in ['email', 'chat']", False),
        ("channel != 'sms'", "exists(channel)", False),
        ("order.value < 3", "exists(order.value)", True),
        ("not (order.value < 10)", "order.value >= 10", False),
        ("order.value >= 10", "not (order.value < 10)", True),
        ("facts.vip == false", "not facts.vip", True),
        ("not facts.vip", "facts.vip == false", False),
        ("exists(facts.vip)", "facts.vip or not facts.vip", True),
        ("type == 'a' or type == 'b'", "type != 'c'", True),
        ("channel == 'email' and (order.value > 9 or order.value < 1)", "order.value != 5", True),
        ("matches(description, 'late')", "matches(description, 'late')", True),
        ("matches(description, 'late')", "matches(description, 'lat')", False),
        ("type == 'a'", "channel == 'email' or type == 'a'", True),
        ("order.value > 0", "order.value > 5 or order.value < 10", False),  # not decided
    ],
)
def test_implication(a: str, b: str, expected: bool) -> None:
    assert implies(parse_condition(a, FIELDS), parse_condition(b, FIELDS), FIELDS) is expected


def test_contradictions() -> None:
    for text in (
        "order.value > 10 and order.value < 5",
        "type == 'a' and type == 'b'",
        "channel == 'email' and channel in ['sms', 'chat']",
        "exists(type) and not exists(type)",
        "(type == 'a' or type == 'b') and type == 'c'",
    ):
        assert never_holds(parse_condition(text, FIELDS), FIELDS), text
    assert not never_holds(parse_condition("order.value > 1 and order.value < 2", FIELDS), FIELDS)


def _random_condition(rng: random.Random, depth: int = 0) -> str:
    if depth < 2 and rng.random() < 0.4:
        op = rng.choice([" and ", " or "])
        return "(" + op.join(_random_condition(rng, depth + 1) for _ in range(2)) + ")"
    field = rng.choice(["type", "channel", "facts.n", "facts.vip"])
    prefix = "not " if rng.random() < 0.2 else ""
    if field == "facts.vip":
        return prefix + rng.choice(["facts.vip", "exists(facts.vip)", "facts.vip == false"])
    if field == "facts.n":
        op = rng.choice(["==", "!=", "<", "<=", ">", ">="])
        return f"{prefix}facts.n {op} {rng.choice([0, 3, 5])}"
    values = ["a", "b", "c"] if field == "type" else ["email", "sms", "chat"]
    choice = rng.random()
    if choice < 0.3:
        picked = rng.sample(values, 2)
        return f"{prefix}{field} {rng.choice(['in', 'not in'])} {picked!r}"
    if choice < 0.4:
        return f"{prefix}exists({field})"
    return f"{prefix}{field} {rng.choice(['==', '!='])} {rng.choice(values)!r}"


def test_implication_is_sound_on_random_conditions() -> None:
    """Whenever implies(a, b), every incident (of an exhaustive grid) satisfying a satisfies b."""
    rng = random.Random(20261120)
    conditions = [parse_condition(_random_condition(rng), FIELDS) for _ in range(120)]
    grid = itertools.product(
        [None, "a", "b", "c"],
        [None, "email", "sms", "chat", "phone"],
        [None, -1.0, 0.0, 1.5, 3.0, 4.0, 5.0, 7.0],
        [None, True, False],
    )
    states = [
        {
            k: v
            for k, v in zip(("type", "channel", "facts.n", "facts.vip"), s, strict=True)
            if v is not None
        }
        for s in grid
    ]
    truth = [frozenset(i for i, s in enumerate(states) if compile_node(c)(s)) for c in conditions]
    proven = 0
    for (a, ta), (b, tb) in itertools.product(zip(conditions, truth, strict=True), repeat=2):
        if implies(a, b, FIELDS):
            proven += 1
            assert ta <= tb, (a.source, b.source)
    assert proven > len(conditions)  # more than the trivial a => a


# --------------------------------------------------------------------------- test


def test_test_command_passes(book: Path) -> None:
    result = run("test", book)
    assert result.exit_code == 0
    assert result.stdout == (
        "1 passed, 0 failed\n"
        "coverage: 2 of 4 rules reached by a scenario; not reached:\n"
        f"  late.discount ({book / 'shop.toml'}:33)\n"
        f"  late.fragile ({book / 'shop.toml'}:41)\n"
    )


def test_test_command_reports_failures(tmp_path: Path) -> None:
    path = playbook(
        tmp_path / "t",
        SHOP
        + """
[[test]]
name = "wrong-order"
incident = { type = "parcel_late", facts = { delay_days = 1, fragile = true } }
expect = ["inform", "apology"]
expect_rules = ["late.refund", "late.discount", "late.nothing"]
expect_severity = "medium"

[[test]]
name = "nothing"
incident = { type = "queue_long" }
expect = []

[[test]]
name = "not-nothing"
incident = { type = "parcel_late" }
expect = []
reply_contains = { pl = ["Przepraszamy"] }

[[test]]
name = "needs-fact"
incident = { type = "parcel_late", facts = { delay_days = "soon" } }
expect = ["apology"]
""",
    )
    result = run("test", path)
    assert result.exit_code == 1
    assert result.stdout == (
        f"FAIL {path}:57: wrong-order: expected actions inform, apology (in order), "
        "got apology, discount, inform, survey\n"
        f"FAIL {path}:57: wrong-order: expected rule 'late.refund', but it did not match: "
        "facts.delay_days >= 3 (incident: 1)\n"
        f"FAIL {path}:57: wrong-order: expected rule 'late.nothing', but there is no such rule\n"
        f"FAIL {path}:57: wrong-order: expected severity medium, got high\n"
        f"FAIL {path}:69: not-nothing: expected no actions, got apology\n"
        f"note {path}:69: not-nothing: reply checks (pl) skipped: no reply was rendered\n"
        f"FAIL {path}:75: needs-fact: invalid incident: facts.delay_days: expected integer, "
        "got 'soon'\n"
        "2 passed, 3 failed\n"
        "coverage: 4 of 4 rules reached by a scenario\n"
    )


def test_test_command_with_a_dropped_rule(tmp_path: Path) -> None:
    path = playbook(
        tmp_path / "t",
        SHOP
        + """
[[test]]
name = "dropped"
incident = { type = "parcel_late", facts = { delay_days = 9 } }
expect_rules = ["late.discount"]
""",
    )
    result = run("test", path)
    assert result.exit_code == 1
    assert result.stdout.splitlines()[0] == (
        f"FAIL {path}:57: dropped: expected rule 'late.discount', but it matched and was "
        "dropped: group 'compensation' won by 'late.refund'"
    )


def test_test_command_checks_replies_per_language(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    original = Engine.suggest

    def with_reply(self: Engine, incident: Any, **kwargs: Any) -> Suggestion:
        result = original(self, incident, **kwargs)
        language = incident.get("customer", {}).get("language", "en")
        reply = Reply(
            language="en" if language == "uk" else language,
            fell_back=language == "uk",
            channel="email",
            subject="Your parcel",
            body=f"Hello in {language}",
        )
        return result.model_copy(update={"reply": reply})

    monkeypatch.setattr(Engine, "suggest", with_reply)
    path = playbook(
        tmp_path / "t",
        SHOP
        + """
[[test]]
name = "replies"
incident = { type = "parcel_late", customer = { name = "Anna" } }
reply_contains = { en = ["Your parcel", "Hello in en"], pl = ["Dzień dobry"], uk = ["x"] }
""",
    )
    result = run("test", path)
    assert result.exit_code == 1
    assert result.stdout.splitlines()[:3] == [
        f"FAIL {path}:57: replies: reply in pl does not contain 'Dzień dobry'",
        f"FAIL {path}:57: replies: reply in uk: no template, fell back to en",
        "1 passed, 1 failed",
    ]


def test_a_reply_that_cannot_be_rendered_fails_the_scenario(
    book: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_reply(self: Engine, incident: Any, **kwargs: Any) -> Suggestion:
        raise RenderError("missing reply fragment 'refund' (en)")

    monkeypatch.setattr(Engine, "suggest", no_reply)
    result = run("test", book)
    assert result.exit_code == 1
    assert result.stdout == (
        f"FAIL {book / 'shop.toml'}:51: very-late: missing reply fragment 'refund' (en)\n"
        "0 passed, 1 failed\n"
        "coverage: 2 of 4 rules reached by a scenario; not reached:\n"
        f"  late.discount ({book / 'shop.toml'}:33)\n"
        f"  late.fragile ({book / 'shop.toml'}:41)\n"
    )


def test_test_command_with_broken_playbooks(tmp_path: Path) -> None:
    result = run("test", tmp_path / "none")
    assert (result.exit_code, result.stderr) == (
        1,
        f"Error: {tmp_path / 'none'}: no such file or directory\n",
    )


# --------------------------------------------------------------------------- playbooks


def test_playbooks_list(book: Path) -> None:
    result = run("playbooks", "--playbooks", book)
    assert (result.exit_code, result.stdout) == (
        0,
        "ID    VERSION  RULES  LANGUAGES  TITLE\nshop  2.0.0        4  en, pl     Shop incidents\n",
    )


def test_playbooks_list_json(book: Path) -> None:
    result = run("playbooks", "--playbooks", book, "--format", "json")
    assert result.exit_code == 0
    assert json.loads(result.stdout) == [
        {
            "id": "shop",
            "version": "2.0.0",
            "rules": 4,
            "tests": 1,
            "languages": ["en", "pl"],
            "default_language": "en",
            "title": "Shop incidents",
            "source": str(book / "shop.toml"),
        }
    ]


def test_playbooks_show(book: Path) -> None:
    result = run("playbooks", "show", "shop", "--playbooks", book)
    assert result.exit_code == 0
    assert result.stdout == textwrap.dedent(
        f"""\
        shop 2.0.0: Shop incidents
        source: {book / "shop.toml"}
        languages: en, pl (default en)
        facts: delay_days (integer); tags (list); fragile (boolean)
        policy: approval above 100; one compensation per incident
        respond within: email 2 hours
        tests: 1

        rules (4, in file order):
          late.apologise  (priority 100, line 18)
            when: type == 'parcel_late'
            - apology
            reason: Late parcels get an apology
          late.refund  (priority 80, group compensation, line 25)
            when: type == 'parcel_late' and facts.delay_days >= 3
            - refund  percent=50
            reason: Very late parcels are refunded
          late.discount  (priority 60, group compensation, line 33)
            when: type == 'parcel_late' and exists(facts.delay_days)
            - discount  percent=10, days_valid=30
            reason: Late parcels earn a discount
          late.fragile  (priority 50, severity high, line 41)
            when: type == 'parcel_late' and facts.fragile
            - inform  topic=handling
            - survey  survey=csat, after=P3D, channel=email
        """
    )


def test_playbooks_show_takes_the_groups_option(book: Path) -> None:
    result = run("playbooks", "--playbooks", book, "show", "shop")
    assert result.exit_code == 0
    assert result.stdout.startswith("shop 2.0.0: Shop incidents\n")


def test_playbooks_show_unknown(book: Path) -> None:
    result = run("playbooks", "show", "shp", "--playbooks", book)
    assert (result.exit_code, result.stderr) == (1, "Error: no playbook 'shp' (known: shop)\n")


# --------------------------------------------------------------------------- schema


def test_schema_of_playbooks() -> None:
    result = run("schema")
    assert result.exit_code == 0
    schema = json.loads(result.stdout)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["title"] == "cxplay playbook"
    assert {"playbook", "rule", "test", "facts", "policy", "sla"} <= set(schema["properties"])
    assert schema["required"] == ["playbook"]


def test_schema_of_incidents() -> None:
    result = run("schema", "--incident")
    assert result.exit_code == 0
    schema = json.loads(result.stdout)
    assert schema["title"] == "cxplay incident"
    assert schema["required"] == ["type"]


# --------------------------------------------------------------------------- presenters


def _suggestion_with_reply() -> Suggestion:
    when = datetime(2026, 11, 20, 9, 15, tzinfo=timezone(timedelta(hours=1)))
    action = SuggestedAction(
        kind="refund",
        rule="r.refund",
        playbook="p@1",
        priority=80,
        params={"percent": 100.0},
        reason="Refund | in full",
        requires_approval=True,
        cost=Cost(amount=249.99, currency="PLN"),
        dimension="functional",
        stage="after_sales",
    )
    return Suggestion(
        incident_id="INC-*1*",
        matched=True,
        severity="critical",
        actions=[action],
        reply=Reply(
            language="uk",
            fell_back=True,
            channel="sms",
            subject=None,
            body="Перепрошуємо.\n```\n",
            segments=2,
        ),
        respond_by=when + timedelta(hours=2),
        follow_ups=[
            FollowUpPlan(
                after=timedelta(days=1, hours=2),
                channel="phone",
                action="callback",
                due=when + timedelta(days=1, hours=2),
            )
        ],
    )


def test_text_with_a_reply() -> None:
    assert present.suggestion_text(_suggestion_with_reply()) + "\n" == textwrap.dedent(
        """\
        Incident    INC-*1*
        Severity    critical
        Respond by  2026-11-20 11:15 +01:00

        Actions
          1. refund  percent=100  cost 249.99 PLN  needs approval
             Refund | in full
             via r.refund (p@1, priority 80, functional, after_sales)

        Follow-ups
          - callback by phone in 1 day 2 hours, due 2026-11-21 11:15 +01:00

        Reply (uk, sms, fell back: no template in the customer's language, 2 SMS segments), ready to copy:
        ────────────────────────────────────────────────────────────
        Перепрошуємо.
        ```
        ────────────────────────────────────────────────────────────
        """
    )


def test_markdown_with_a_reply() -> None:
    assert present.suggestion_markdown(_suggestion_with_reply()) + "\n" == textwrap.dedent(
        """\
        ### Recovery plan for INC-\\*1\\*

        **Severity:** critical · **Respond by:** 2026-11-20 11:15 +01:00

        | # | Action | Details | Cost | Approval | Why |
        |---|--------|---------|------|----------|-----|
        | 1 | refund | `percent=100` | 249.99 PLN | **needs approval** | Refund \\| in full (`r.refund`) |

        **Follow-ups**

        - callback by phone in 1 day 2 hours, due 2026-11-21 11:15 +01:00

        **Reply** (uk, sms, fell back: no template in the customer's language, 2 SMS segments)

        ````text
        Перепрошуємо.
        ```
        ````
        """
    )


class _Terminal:
    def isatty(self) -> bool:
        return True


def test_colour_only_on_a_terminal_without_no_color() -> None:
    assert present.color_enabled(_Terminal(), {}) is True  # type: ignore[arg-type]
    assert present.color_enabled(_Terminal(), {"NO_COLOR": "1"}) is False  # type: ignore[arg-type]
    assert present.color_enabled(_Terminal(), {"NO_COLOR": ""}) is True  # type: ignore[arg-type]
    with open(os.devnull) as stream:
        assert present.color_enabled(stream, {}) is False
    coloured = present.suggestion_text(_suggestion_with_reply(), color=True)
    assert "\x1b[" in coloured
    assert "\x1b[" not in present.suggestion_text(_suggestion_with_reply(), color=False)


# --------------------------------------------------------------------------- the real thing


def test_demo_incident_with_the_shipped_playbooks() -> None:
    path = ROOT / "examples" / "incidents" / "parcel_damaged.json"
    result = run("suggest", path, env={"CXPLAY_LANG": "en"})
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith(
        "Incident    INC-1042\nSeverity    medium\nRespond by  2026-11-20 11:15 +01:00\n"
    )
    assert "  1. Apology\n" in result.stdout  # the playbooks' label, in the agent's language


def _installed_cxplay() -> Path:
    return Path(sys.executable).parent / "cxplay"


def test_installed_console_script(book: Path, tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CXPLAY_")}
    env.update(NO_COLOR="1", CXPLAY_PLAYBOOKS=str(book))
    done = subprocess.run(
        [str(_installed_cxplay()), "suggest", "-", "--format", "json"],
        input=json.dumps(LATE),
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    assert (done.returncode, done.stderr) == (0, "")
    assert [a["kind"] for a in json.loads(done.stdout)["actions"]] == [
        "apology",
        "refund",
        "inform",
        "survey",
    ]
    bad = tmp_path / "bad.json"
    bad.write_text("{", encoding="utf-8")
    done = subprocess.run(
        [str(_installed_cxplay()), "suggest", str(bad)],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    assert (done.returncode, done.stdout) == (1, "")
    assert done.stderr == (
        f"Error: {bad}:1:2: invalid JSON: Expecting property name enclosed in double quotes\n"
    )
    done = subprocess.run(
        [str(_installed_cxplay()), "suggest", "--type", "queue_long"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    assert done.returncode == 3
