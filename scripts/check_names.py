"""Check the vocative tables in cxplay/_replies/data/names.toml against morphological dictionaries.

A maintenance script, not part of cxplay: the dictionaries cost ~300 ms and tens of MB to
load, so they are not runtime dependencies. Install them where you run this:

    .venv/bin/pip install morfeusz2 pymorphy3 pymorphy3-dicts-uk
    .venv/bin/python scripts/check_names.py

Polish vocatives are checked with Morfeusz 2 (its generator gives every form of a name with
tags such as ``subst:sg:voc:m1``), Ukrainian ones with pymorphy3 and its Ukrainian dictionary
(``inflect({"voct"})``). A table vocative that the dictionary does not give is reported; a name
the dictionary does not know is reported as unknown. A checker whose package is missing is
skipped with a note. Exit status: 0 all known names agree, 1 a disagreement, 2 no checker ran.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Mapping

from cxplay._common.toml import read_package_toml

Vocatives = Callable[[str], set[str] | None]


def polish_vocatives() -> Vocatives | None:
    """Vocative forms of a Polish name by Morfeusz 2, or ``None`` without morfeusz2."""
    try:
        import morfeusz2  # type: ignore[import-not-found]
    except ImportError:
        return None
    morfeusz = morfeusz2.Morfeusz()

    def forms(name: str) -> set[str] | None:
        try:
            generated = morfeusz.generate(name)
        except RuntimeError:  # a lemma Morfeusz does not know
            return None
        found = set()
        for form, _lemma, tag, *_ in generated:
            parts = tag.split(":")
            if len(parts) > 2 and parts[1] == "sg" and "voc" in parts[2].split("."):
                found.add(form)
        return found or None

    return forms


def ukrainian_vocatives() -> Vocatives | None:
    """Vocative forms of a Ukrainian name by pymorphy3, or ``None`` without it."""
    try:
        import pymorphy3  # type: ignore[import-not-found]

        morph = pymorphy3.MorphAnalyzer(lang="uk")
    except (ImportError, ValueError):  # pymorphy3 or its Ukrainian dictionary missing
        return None

    def forms(name: str) -> set[str] | None:
        found = set()
        for parse in morph.parse(name):
            if "Name" not in parse.tag or "nomn" not in parse.tag:
                continue
            inflected = parse.inflect({"voct"})
            if inflected is not None:
                found.add(inflected.word.capitalize())
        return found or None

    return forms


def check(table: Mapping[str, str], vocatives: Vocatives, language: str) -> int:
    """Print each disagreement between a table and a dictionary; return how many there are."""
    wrong = unknown = 0
    for name, vocative in table.items():
        expected = vocatives(name)
        if expected is None:
            unknown += 1
            print(f"{language}: {name}: not in the dictionary (table says {vocative})")
        elif vocative not in expected:
            wrong += 1
            given = "/".join(sorted(expected))
            print(f"{language}: {name}: table says {vocative}, dictionary {given}")
    print(f"{language}: {len(table)} names, {wrong} disagree, {unknown} unknown to the dictionary")
    return wrong


def main() -> int:
    """Check every table a checker is installed for."""
    names = read_package_toml("cxplay._replies", "data/names.toml")
    ran = wrong = 0
    for language, make, package in (
        ("pl", polish_vocatives, "morfeusz2"),
        ("uk", ukrainian_vocatives, "pymorphy3 pymorphy3-dicts-uk"),
    ):
        vocatives = make()
        if vocatives is None:
            print(f"{language}: skipped: pip install {package}")
            continue
        ran += 1
        wrong += check(names[language]["male_vocatives"], vocatives, language)
    if not ran:
        return 2
    return 1 if wrong else 0


if __name__ == "__main__":
    sys.exit(main())
