"""Spelling: every shipped reply, notice and the runbook, through Debian's hunspell dictionaries.

Every example incident and every playbook scenario is rendered in English, Polish and
Ukrainian on every channel (:mod:`tests.rendered`), and every message of the example event's
contingency plan in its own language, plus the runbook's English frame. Each word goes
through hunspell (en_GB, pl_PL, uk_UA). What is data rather than our writing is left out:
links and addresses, order numbers and other tokens with digits, quoted titles (sessions
and webinars are named by the customer's event), and words in another script than the
reply's (a Cyrillic name in an English reply), and every word of the data the replies were
rendered from: the customer's name, the carrier, the session, string facts, the company in
``replies/config.toml`` and the event file (people, rooms, venue). In the runbook, table rows
and code spans are data too. Names and brands that remain are listed, with a reason, in
``tests/spelling_allowlist.txt`` -- one reviewed file for all languages.
"""

from __future__ import annotations

import functools
import re
import shutil
import subprocess
from collections import defaultdict
from collections.abc import Iterable, Iterator
from pathlib import Path

import pytest

from cxplay import Engine
from cxplay._events.load import load_event
from cxplay._events.plan import build_plan
from cxplay._events.runbook import render_runbook_markdown
from cxplay._replies.translit import to_latin, to_polish
from tests.components import need
from tests.rendered import incidents, notices, replies

ROOT = Path(__file__).resolve().parent.parent
ALLOWLIST = Path(__file__).parent / "spelling_allowlist.txt"
DICTIONARIES = {"en": "en_GB", "pl": "pl_PL", "uk": "uk_UA"}
SCRIPT = {"en": "LATIN", "pl": "LATIN", "uk": "CYRILLIC"}

_DATA = re.compile(
    r"https?://\S+|\S+@\S+|[\w-]*\d[\w:.,/-]*"  # links, e-mail, ids, times, amounts
    r"|“[^”]*”|„[^”]*”|«[^»]*»|(?<!\w)'[^'\n]+'(?!\w)"  # quoted titles
    r"|[\w\\]+=\S*"  # key=value (a scenario's facts in the runbook)
)
_WORD = re.compile(r"[^\W\d_]+(?:['’-][^\W\d_]+)*")
_CYRILLIC = re.compile(r"[\u0400-\u04ff]")


def _available() -> bool:
    if shutil.which("hunspell") is None:
        return False
    found = subprocess.run(
        ["hunspell", "-D"], capture_output=True, text=True, stdin=subprocess.DEVNULL
    )
    listing = found.stdout + found.stderr
    return all(name in listing for name in DICTIONARIES.values())


def allowlist() -> set[str]:
    """The reviewed words: one per line, a reason after '#'."""
    words = set()
    for line in ALLOWLIST.read_text(encoding="utf-8").splitlines():
        word = line.split("#", 1)[0].strip()
        if word:
            words.add(word)
    return words


def words_of(text: str, language: str) -> Iterator[str]:
    """The words of a text that are our writing in ``language`` (see the module doc)."""
    for word in _WORD.findall(_DATA.sub(" ", text)):
        word = word.removesuffix("'s").removesuffix("’s")  # English possessive of a name
        cyrillic = bool(_CYRILLIC.search(word))
        if cyrillic == (SCRIPT[language] == "CYRILLIC"):
            yield word


def misspelled(language: str, words: Iterable[str]) -> set[str]:
    found = subprocess.run(
        ["hunspell", "-d", DICTIONARIES[language], "-l"],
        input="\n".join(sorted(set(words))),
        capture_output=True,
        text=True,
        check=True,
    )
    return set(found.stdout.split())


EVENT = ROOT / "examples" / "events" / "cxconf-2026.toml"


def _strings(value: object) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)


def data_words(engine: Engine) -> set[str]:
    """Words that come from the data the replies are rendered from, not from our templates."""
    texts = [EVENT.read_text(encoding="utf-8")]
    texts += [(d / "config.toml").read_text(encoding="utf-8") for d in _reply_dirs()]
    for _, incident in incidents(engine):
        texts += list(_strings({k: v for k, v in incident.items() if k != "description"}))
    for _, incident, _ in notices(engine):
        texts += list(_strings(incident))
    # a name is data in the script the reply writes it in, too: Олена is Olena in English
    texts += [to_latin(t) for t in texts] + [to_polish(t) for t in texts]
    return {w for text in texts for w in _WORD.findall(text)}


def _reply_dirs() -> list[Path]:
    return [ROOT / "playbooks" / "replies"]


def _texts() -> Iterator[tuple[str, str, str]]:
    """(where, language, text) for every reply, plan message and the runbook frame."""
    engine = Engine.from_path()
    for case, language, channel, text in replies(engine):
        yield f"{case} [{language}/{channel}]", language, text
    for case, _, reply in notices(engine):
        text = "\n".join(t for t in (reply.subject, reply.body) if t)
        yield case, reply.language, text
    plan = build_plan(
        load_event(ROOT / "examples/events/cxconf-2026.toml"), engine, event_source=None
    )
    for scenario in plan.scenarios:
        for message in scenario.messages:
            text = "\n".join(t for t in (message.subject, message.body) if t)
            yield f"plan {scenario.id} to {message.to}", message.language, text
    frame = [
        re.sub(r"`[^`]*`|\]\([^)]*\)", " ", line)
        for line in render_runbook_markdown(plan).splitlines()
        if not line.startswith((">", "**Subject:**", "|"))
    ]
    yield "runbook", "en", "\n".join(frame)


@functools.cache
def _flagged() -> dict[str, dict[str, str]]:
    """Per language, every word hunspell does not know (data left out), with where it was."""
    data = data_words(Engine.from_path())
    seen: dict[str, dict[str, str]] = defaultdict(dict)  # language -> word -> where
    for where, language, text in _texts():
        for word in words_of(text, language):
            if word not in data:
                seen[language].setdefault(word, where)
    return {
        language: {w: words[w] for w in misspelled(language, words)}
        for language, words in sorted(seen.items())
    }


def test_every_reply_and_the_runbook_are_spelt_right() -> None:
    need(_available(), "hunspell with en_GB, pl_PL and uk_UA dictionaries is not installed")
    known = allowlist()
    problems = [
        f"{language}: {word!r} (first in {where})"
        for language, words in _flagged().items()
        for word, where in sorted(words.items())
        if word not in known
    ]
    assert not problems, "not in the dictionary nor the allowlist:\n" + "\n".join(problems)


def test_the_allowlist_has_no_stale_or_duplicate_entries() -> None:
    need(_available(), "hunspell with en_GB, pl_PL and uk_UA dictionaries is not installed")
    lines = [
        line.split("#", 1)[0].strip() for line in ALLOWLIST.read_text(encoding="utf-8").splitlines()
    ]
    entries = [w for w in lines if w]
    assert len(entries) == len(set(entries)), "an allowlisted word is listed twice"
    used = {word for words in _flagged().values() for word in words}
    assert set(entries) <= used, f"allowlisted but never flagged: {sorted(set(entries) - used)}"


@pytest.mark.parametrize(
    ("text", "language", "words"),
    [
        (
            "Order PL-5531 at 14:30, see https://x.example/a or a@b.pl.",
            "en",
            ["Order", "at", "see", "or"],
        ),
        ("Sesja „Mapa podróży” zaczyna się", "pl", ["Sesja", "zaczyna", "się"]),
        ("Dear Олена, your flight", "en", ["Dear", "your", "flight"]),
        ("Шановна Anna, ваш рейс", "uk", ["Шановна", "ваш", "рейс"]),
    ],
)
def test_data_is_left_out(text: str, language: str, words: list[str]) -> None:
    assert list(words_of(text, language)) == words
