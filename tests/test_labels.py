"""Human labels: playbooks title their types, facts, channels and action kinds per language.

The shipped set is labelled completely in every language it ships replies in; ``cxplay
validate`` reports a missing label (and a label for an id nobody uses, with did-you-mean);
the JSON Schema knows the table; ``cxplay suggest``'s text shows titles where JSON keeps ids.
"""

from __future__ import annotations

import json
import re
import shutil
import textwrap
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cxplay._cli import cli
from cxplay._common.toml import read_toml
from cxplay._playbooks import lint
from cxplay._playbooks.labels import (
    _named_channels,
    _named_types,
    agent_language,
    label_problems,
    named_values,
)
from cxplay._playbooks.loader import load_playbooks, shipped_playbooks_dir
from cxplay.models import ACTION_KINDS, CHANNELS

SHIPPED = load_playbooks()
PARTS = ("types", "facts", "channels", "actions", "values", "reasons", "disruptions")


def run(*args: str | Path, env: dict[str, str] | None = None) -> Result:
    environment: dict[str, str | None] = {"NO_COLOR": "1", "CXPLAY_PLAYBOOKS": None}
    environment.update(env or {})
    return CliRunner().invoke(cli, [str(a) for a in args], env=environment, prog_name="cxplay")


def test_the_shipped_playbooks_label_everything_they_name_in_every_language() -> None:
    types_of = {c.id: c.types for c in SHIPPED.rules}
    conditions = {c.id: c.condition for c in SHIPPED.rules}
    book = SHIPPED.labels
    missing = []
    for playbook in SHIPPED.playbooks:
        wanted = {
            "types": _named_types(playbook, types_of) | set(SHIPPED.incident_types()),
            "facts": set(SHIPPED.facts),
            "actions": set(ACTION_KINDS),
            "channels": set(CHANNELS) | _named_channels(playbook, conditions),
            "values": named_values(playbook),
        }
        for language in playbook.meta.languages:
            for part, ids in wanted.items():
                missing += [(language, part, i) for i in ids if not book.has(part, i, language)]
    assert missing == []
    assert label_problems(SHIPPED) == []


def test_labels_fall_back_to_english_then_to_the_id() -> None:
    book = SHIPPED.labels
    assert book.type("parcel_damaged", "pl") == "Uszkodzona przesyłka"
    assert book.type("parcel_damaged", "uk") == "Пошкоджена посилка"
    assert book.channel("in_person", "pl") == "Osobiście"
    assert book.action("refund", "uk") == "Повернення коштів"
    assert book.value("shift_manager", "pl") == "kierownik zmiany"
    assert book.value("social_media_lead", "uk") == "керівник соцмереж"  # from fallback.toml
    label = book.fact("delay_days", "pl")
    assert label is not None and (label.title, label.unit) == ("Opóźnienie", "dni robocze")
    assert book.type("parcel_damaged", "de") == "Damaged parcel"
    assert book.type("no_such_type", "pl") == "no_such_type"
    assert book.fact("no_such_fact", "pl") is None


def _copy_shipped(tmp_path: Path) -> Path:
    target = tmp_path / "playbooks"
    shutil.copytree(shipped_playbooks_dir(), target)
    return target


def _label_entries() -> list[tuple[str, str, str, str]]:
    """(file name, language, part, id) of every label line in the shipped playbooks."""
    found = []
    for path in sorted(shipped_playbooks_dir().glob("*.toml")):
        data, _ = read_toml(path)
        for language, parts in data.get("labels", {}).items():
            for part, entries in parts.items():
                found += [(path.name, language, part, key) for key in entries]
    return found


ENTRIES = _label_entries()


@settings(
    max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(entry=st.sampled_from(ENTRIES))
def test_any_label_taken_out_of_the_shipped_set_is_reported(
    tmp_path_factory: pytest.TempPathFactory, entry: tuple[str, str, str, str]
) -> None:
    name, language, part, key = entry
    directory = _copy_shipped(tmp_path_factory.mktemp("labels"))
    path = directory / name
    text = path.read_text(encoding="utf-8")
    header = re.compile(rf"^\[labels\.{language}\.{part}\].*\n", re.M).search(text)
    assert header is not None
    start = header.end()
    line = re.compile(rf'^"?{re.escape(key)}"? = .*\n', re.M).search(text, start)
    assert line is not None
    path.write_text(text[: line.start()] + text[line.end() :], encoding="utf-8")
    problems = [str(p) for p in label_problems(load_playbooks(directory))]
    if part in ("types", "facts") or not _labelled_elsewhere(name, language, part, key):
        assert problems, entry
        assert all(f"no {language} label" in p and key in p for p in problems), problems
        assert all(p.startswith(str(directory)) for p in problems)
    else:
        assert problems == []


def _labelled_elsewhere(name: str, language: str, part: str, key: str) -> bool:
    return any(e[0] != name and e[1:] == (language, part, key) for e in ENTRIES)


SHOP = """\
[playbook]
id = "shop"
version = "1.0.0"
languages = ["en", "pl"]

[facts]
delay_days = { type = "integer", required_for = ["parcel_late"] }

[[rule]]
id = "late.apologise"
when = "type == 'parcel_late' and channel == 'email'"
reason = "Late parcels get an apology"
actions = [{ kind = "apology" }]

[labels.en]
types = { parcel_late = "Late parcel" }
facts = { delay_days = { title = "Delay", unit = "days", help = "Days past the promise." } }
channels = { email = "E-mail" }
actions = { apology = "Apology" }
"""


@pytest.fixture
def no_renderer_checks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(lint, "check_replies", lambda playbooks, keep=None: [])


def _shop(tmp_path: Path, text: str) -> Path:
    directory = tmp_path / "shop"
    directory.mkdir()
    (directory / "shop.toml").write_text(textwrap.dedent(text), encoding="utf-8")
    return directory


def test_validate_reports_a_language_without_labels(
    tmp_path: Path, no_renderer_checks: None
) -> None:
    directory = _shop(tmp_path, SHOP)
    result = run("validate", directory)
    assert result.exit_code == 1
    where = f"{directory / 'shop.toml'}:15: labels (pl): "
    assert result.stdout.splitlines() == [
        where + "no pl label for 1 of its types (add them to [labels.pl.types]): parcel_late",
        where + "no pl label for 1 of its facts (add them to [labels.pl.facts]): delay_days",
        where + "no pl label for 1 of its reasons (add them to [labels.pl.reasons]): "
        "late.apologise",
    ]  # channels and action kinds have cxplay's own titles in every language it speaks


def test_validate_passes_with_every_language_labelled(
    tmp_path: Path, no_renderer_checks: None
) -> None:
    polish = (
        '\n[labels.pl]\ntypes = { parcel_late = "Opóźniona przesyłka" }\n'
        'facts = { delay_days = { title = "Opóźnienie" } }\n'
        'channels = { email = "E-mail" }\nactions = { apology = "Przeprosiny" }\n'
        'reasons = { "late.apologise" = "Za spóźnioną przesyłkę zawsze przepraszamy" }\n'
    )
    result = run("validate", _shop(tmp_path, SHOP + polish))
    assert (result.exit_code, result.stdout) == (0, "ok: 1 playbook, 1 rule, 2 languages\n")


def test_validate_reports_a_reason_without_its_translation_like_a_missing_label(
    tmp_path: Path, no_renderer_checks: None
) -> None:
    polish = (
        '\n[labels.pl]\ntypes = { parcel_late = "Opóźniona przesyłka" }\n'
        'facts = { delay_days = { title = "Opóźnienie" } }\n'
    )
    directory = _shop(tmp_path, SHOP + polish)
    result = run("validate", directory)
    assert result.exit_code == 1
    assert result.stdout.splitlines() == [
        f"{directory / 'shop.toml'}:21: labels (pl): no pl label for 1 of its reasons "
        "(add them to [labels.pl.reasons]): late.apologise"
    ]  # the reason itself is in the default language (en): en needs no translation
    translated = polish + '\n[labels.pl.reasons]\n"late.apologise" = "Za spóźnienie przepraszamy"\n'
    (tmp_path / "2").mkdir()
    result = run("validate", _shop(tmp_path / "2", SHOP + translated))
    assert (result.exit_code, result.stdout) == (0, "ok: 1 playbook, 1 rule, 2 languages\n")
    # a translation for a rule that is not there, or has no reason: with a did-you-mean
    wrong = translated.replace('"late.apologise" = ', '"late.apologies" = ')
    (tmp_path / "3").mkdir()
    directory = _shop(tmp_path / "3", SHOP + wrong)
    lines = run("validate", directory).stdout.splitlines()
    assert (
        f"{directory / 'shop.toml'}:26: labels.pl.reasons: a translated reason for "
        "'late.apologies', which is no rule or correlation of this playbook with a reason; "
        "did you mean 'late.apologise'?"
    ) in lines


def test_the_pl_and_uk_console_and_cli_read_reasons_in_their_language() -> None:
    book = SHIPPED.labels
    written = {r.id: r.reason for p in SHIPPED.playbooks for r in p.rules if r.reason}
    written |= {c.id: c.reason for p in SHIPPED.playbooks for c in p.correlations if c.reason}
    assert len(written) >= 70
    for language in ("pl", "uk"):
        for rule, english in written.items():
            translated = book.reason(rule, language, english)
            assert translated and translated != english, (language, rule)
    assert book.reason("parcel.late.apologise", "en", "as written") == "as written"
    assert book.disruption("parcel.carrier_wave", "pl", "x") == (
        "Opóźnione przesyłki jednego przewoźnika"
    )
    incident = str(Path(__file__).resolve().parents[1] / "examples/incidents/parcel_damaged.json")
    for language in ("pl", "uk"):
        for command in ("suggest", "explain"):
            text = run(command, incident, env={"CXPLAY_LANG": language}).stdout
            assert book.reason("parcel.damaged.apologise", language, None) in text
            assert written["parcel.damaged.apologise"] not in text
    text = run("suggest", incident, "--format", "markdown", env={"CXPLAY_LANG": "uk"}).stdout
    assert book.reason("parcel.damaged.apologise", "uk", None) in text
    english = run("suggest", incident, env={"CXPLAY_LANG": "en"}).stdout
    assert written["parcel.damaged.apologise"] in english
    data = json.loads(
        run("suggest", incident, "--format", "json", env={"CXPLAY_LANG": "pl"}).stdout
    )
    assert data["actions"][0]["reason"] == written[data["actions"][0]["rule"]]  # JSON: as written


def test_a_playbook_without_labels_is_not_asked_for_them(
    tmp_path: Path, no_renderer_checks: None
) -> None:
    result = run("validate", _shop(tmp_path, SHOP.split("[labels.en]")[0]))
    assert result.exit_code == 0, result.stdout


def test_a_label_for_a_misspelt_type_or_fact_gets_a_did_you_mean(
    tmp_path: Path, no_renderer_checks: None
) -> None:
    text = SHOP.replace("types = { parcel_late", "types = { parcel_lat = 'x', parcel_late")
    text = text.replace("facts = { delay_days", "facts = { delay_day = { title = 'x' }, delay_days")
    directory = _shop(tmp_path, text)
    lines = run("validate", directory).stdout.splitlines()
    assert (
        f"{directory / 'shop.toml'}:16: labels.en.types: a label for the incident type "
        "'parcel_lat', which no rule names; did you mean 'parcel_late'?"
    ) in lines
    assert (
        f"{directory / 'shop.toml'}:17: labels.en.facts: a label for the fact 'delay_day', "
        "which no playbook declares; did you mean 'delay_days'?"
    ) in lines


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ("apology = ", "apologie = ", "unknown action kind 'apologie'; did you mean 'apology'?"),
        ("email = ", "emial = ", "emial"),
        ('unit = "days"', 'units = "days"', "units"),
        ("[labels.en]", "[labels.de]", "de"),
    ],
)
def test_a_malformed_label_table_is_a_one_line_error(
    tmp_path: Path, old: str, new: str, message: str
) -> None:
    directory = _shop(tmp_path, SHOP.replace(old, new))
    result = run("validate", directory)
    assert result.exit_code == 1
    assert "Traceback" not in result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], lines
    assert lines[0].startswith(str(directory / "shop.toml") + ":")


def test_the_json_schema_knows_the_labels() -> None:
    result = run("schema")
    schema = json.loads(result.stdout)
    text = json.dumps(schema)
    assert '"labels"' in text
    fact_label = next(v for k, v in schema["$defs"].items() if k == "FactLabel")
    assert set(fact_label["properties"]) == {"title", "unit", "help"}
    assert fact_label.get("additionalProperties") is False


@pytest.mark.parametrize(
    ("language", "apology", "channel"),
    [
        ("en", "Apology", "E-mail"),
        ("pl", "Przeprosiny", "E-mail"),
        ("uk", "Вибачення", "Електронна пошта"),
    ],
)
def test_suggest_text_shows_titles_in_the_agents_language_and_json_keeps_ids(
    language: str, apology: str, channel: str
) -> None:
    incident = str(Path(__file__).resolve().parents[1] / "examples/incidents/parcel_damaged.json")
    text = run("suggest", incident, env={"CXPLAY_LANG": language}).stdout
    assert f"  1. {apology}\n" in text
    assert f"Reply (pl, {channel}), ready to copy:" in text
    assert "  1. apology" not in text
    data = json.loads(
        run("suggest", incident, "--format", "json", env={"CXPLAY_LANG": language}).stdout
    )
    assert data["actions"][0]["kind"] == "apology"
    assert data["reply"]["channel"] == "email"


def test_a_reason_shared_by_consecutive_actions_is_printed_once() -> None:
    incident = str(Path(__file__).resolve().parents[1] / "examples/incidents/parcel_damaged.json")
    text = run("suggest", incident).stdout
    reason = "the customer chooses a full refund or a new item"
    assert text.count(reason) == 1


@pytest.mark.parametrize(
    ("environ", "expected"),
    [
        ({"CXPLAY_LANG": "uk", "LANG": "pl_PL.UTF-8"}, "uk"),
        ({"LANG": "pl_PL.UTF-8"}, "pl"),
        ({"LC_ALL": "uk_UA.UTF-8", "LANG": "en_GB.UTF-8"}, "uk"),
        ({"LANG": "C.UTF-8"}, "en"),
        ({"LANG": "de_DE.UTF-8"}, "en"),
        ({}, "en"),
    ],
)
def test_the_agents_language_comes_from_the_environment(
    environ: dict[str, str], expected: str
) -> None:
    assert agent_language(environ) == expected


def test_the_markdown_for_a_ticket_shows_titles_too() -> None:
    incident = str(Path(__file__).resolve().parents[1] / "examples/incidents/parcel_damaged.json")
    text = run("suggest", incident, "--format", "markdown", env={"CXPLAY_LANG": "pl"}).stdout
    assert "| 1 | Przeprosiny |" in text
    assert "**Reply** (pl, E-mail)" in text
    assert "| apology |" not in text


@pytest.mark.parametrize(
    "path", sorted(shipped_playbooks_dir().glob("*.toml")), ids=lambda p: p.name
)
def test_each_shipped_playbook_is_labelled_on_its_own(path: Path) -> None:
    assert [str(p) for p in label_problems(load_playbooks(path))] == []


def test_a_playbook_may_retitle_a_channel_or_an_action_kind(tmp_path: Path) -> None:
    text = SHOP.replace('channels = { email = "E-mail" }', 'channels = { email = "Mail" }')
    book = load_playbooks(_shop(tmp_path, text)).labels
    assert book.channel("email", "en") == "Mail"
    assert book.channel("email", "pl") == "E-mail"  # cxplay's own title where none is given
    assert book.action("gesture", "uk") == "Жест доброї волі"
