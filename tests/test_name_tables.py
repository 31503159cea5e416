"""The name and noun tables are data files shipped with the package, and the code uses them."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

from cxplay._common.toml import read_package_toml
from cxplay._replies.address import salutation
from cxplay._replies.locale import count, noun_forms, nouns

ROOT = Path(__file__).resolve().parent.parent
NAMES = read_package_toml("cxplay._replies", "data/names.toml")
NOUNS = read_package_toml("cxplay._replies", "data/nouns.toml")


@pytest.mark.parametrize(("name", "vocative"), sorted(NAMES["pl"]["male_vocatives"].items()))
def test_every_polish_table_vocative_reaches_the_reply(name: str, vocative: str) -> None:
    assert salutation(f"{name} Nowak", "pl") == f"Szanowny Panie {vocative},"
    # a name typed in capitals is normalised first (ADAM -> Adam -> Adamie)
    assert salutation(f"{name} Nowak".upper(), "pl", register="warm") == (
        f"Dzień dobry, Panie {vocative},"
    )
    assert salutation(name, "pl") == "Dzień dobry,"  # a lone token may be a surname


@pytest.mark.parametrize(("name", "vocative"), sorted(NAMES["uk"]["male_vocatives"].items()))
def test_every_ukrainian_table_vocative_reaches_the_reply(name: str, vocative: str) -> None:
    assert salutation(f"{name} Коваль", "uk") == f"Шановний пане {vocative},"
    assert salutation(name, "uk") == "Добрий день,"  # a lone token may be a surname


@pytest.mark.parametrize("name", NAMES["pl"]["male_in_a"])
def test_polish_male_names_in_a_are_not_read_as_female(name: str) -> None:
    assert salutation(name.capitalize(), "pl") == "Dzień dobry,"


@pytest.mark.parametrize("title", NAMES["titles"])
def test_a_title_first_stops_declension(title: str) -> None:
    assert salutation(f"{title.capitalize()} Anna", "pl", channel="chat") == "Dzień dobry,"


def test_the_noun_lexicon_is_the_data_file() -> None:
    assert nouns() == tuple(sorted(NOUNS["nom"]))
    for noun, by_language in NOUNS["nom"].items():
        for language, forms in by_language.items():
            assert list(noun_forms(noun, language).values()) == forms
    assert count(5, "hour", "pl", case="gen") == f"5 {NOUNS['gen']['hour']['pl'][2]}"
    assert count(1, "minute", "uk", case="acc") == f"1 {NOUNS['acc']['minute']['uk'][0]}"


def _script() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "check_names", ROOT / "scripts" / "check_names.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_check_names_reports_a_disagreement(capsys: pytest.CaptureFixture[str]) -> None:
    script = _script()
    dictionary = {"Piotr": {"Piotrze"}, "Marek": {"Marku"}}
    table = {"Piotr": "Piotrze", "Marek": "Mareku", "Xyz": "Xyzie"}
    assert script.check(table, dictionary.get, "pl") == 1
    out = capsys.readouterr().out
    assert "pl: Marek: table says Mareku, dictionary Marku" in out
    assert "pl: Xyz: not in the dictionary" in out
    assert "pl: 3 names, 1 disagree, 1 unknown" in out


def test_check_names_runs_as_a_script() -> None:
    import subprocess

    done = subprocess.run(
        [sys.executable, ROOT / "scripts" / "check_names.py"],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    # 0: the dictionaries installed here agree; 2: none installed (they are not dependencies)
    assert done.returncode in (0, 2), done.stdout + done.stderr
    assert "pl:" in done.stdout and "uk:" in done.stdout


def _by_importlib_resources(package: str, resource: str) -> dict[str, object]:
    import importlib.resources

    import tomli

    text = importlib.resources.files(package).joinpath(resource).read_text(encoding="utf-8")
    return tomli.loads(text)  # type: ignore[no-any-return]


@pytest.mark.parametrize("resource", ["data/names.toml", "data/nouns.toml"])
def test_package_tables_read_as_importlib_resources_reads_them(resource: str) -> None:
    assert read_package_toml("cxplay._replies", resource) == _by_importlib_resources(
        "cxplay._replies", resource
    )


def test_a_package_table_s_line_ends_read_as_text_mode_reads_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    package = tmp_path / "crlf_tables"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "t.toml").write_bytes(b'a = """one\r\ntwo\rthree\n"""\r\nb = "\xc5\x82"\r\n')
    monkeypatch.syspath_prepend(str(tmp_path))
    expected = _by_importlib_resources("crlf_tables", "t.toml")
    assert expected == {"a": "one\ntwo\nthree\n", "b": "\u0142"}
    assert read_package_toml("crlf_tables", "t.toml") == expected
