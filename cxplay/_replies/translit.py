"""Ukrainian names in Latin letters and back: a name is written in the reply's own script.

* :func:`to_latin` -- the official Ukrainian national transliteration (Cabinet of
  Ministers of Ukraine resolution No. 55 of 27 January 2010, "KMU 2010"), used in
  passports: Олена Петренко → Olena Petrenko, Юрій → Yurii, Згорани → Zghorany.
* :func:`to_polish` -- the Polish transliteration of Ukrainian (the rules Polish
  dictionaries and the press use): Олена Коваленко → Ołena Kowałenko, Харків → Charkiw,
  Шевченко → Szewczenko, Ольга → Olha.
* :func:`from_latin` -- back to Cyrillic, only for a word whose KMU spelling belongs to
  exactly one name of a given table (so "Olena" → "Олена", never a guess).

Only the letters of the Ukrainian alphabet are mapped; anything else (Latin letters,
digits, punctuation) is kept as it is.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from types import MappingProxyType
from typing import Final

__all__ = ["from_latin", "has_cyrillic", "latin_index", "to_latin", "to_polish"]

_APOSTROPHES: Final = frozenset("'\u2019\u02bc")

# KMU 2010: one spelling everywhere, and another at the start of a word for є ї й ю я.
_KMU: Final[Mapping[str, str]] = MappingProxyType(
    {
        "а": "a", "б": "b", "в": "v", "г": "h", "ґ": "g", "д": "d", "е": "e", "є": "ie",
        "ж": "zh", "з": "z", "и": "y", "і": "i", "ї": "i", "й": "i", "к": "k", "л": "l",
        "м": "m", "н": "n", "о": "o", "п": "p", "р": "r", "с": "s", "т": "t", "у": "u",
        "ф": "f", "х": "kh", "ц": "ts", "ч": "ch", "ш": "sh", "щ": "shch", "ь": "",
        "ю": "iu", "я": "ia",
    }
)  # fmt: skip
_KMU_INITIAL: Final[Mapping[str, str]] = MappingProxyType(
    {"є": "ye", "ї": "yi", "й": "y", "ю": "yu", "я": "ya"}
)

# Polish: the letters whose spelling does not depend on their neighbours.
_PL: Final[Mapping[str, str]] = MappingProxyType(
    {
        "а": "a", "б": "b", "в": "w", "г": "h", "ґ": "g", "д": "d", "е": "e", "ж": "ż",
        "з": "z", "и": "y", "і": "i", "ї": "ji", "й": "j", "к": "k", "м": "m", "н": "n",
        "о": "o", "п": "p", "р": "r", "с": "s", "т": "t", "у": "u", "ф": "f", "х": "ch",
        "ц": "c", "ч": "cz", "ш": "sz", "щ": "szcz",
    }
)  # fmt: skip
# є ю я: "je ju ja" at the start, after a vowel or an apostrophe; "ie iu ia" after a
# consonant; after л (which is then "l") just "e u a".
_PL_IOTATED: Final[Mapping[str, str]] = MappingProxyType({"є": "e", "ю": "u", "я": "a"})
# A soft sign after these is a Polish soft consonant: нь → ń, сь → ś, зь → ź, ць → ć.
_PL_SOFT: Final[Mapping[str, str]] = MappingProxyType({"н": "ń", "с": "ś", "з": "ź", "ц": "ć"})
_PL_SOFT_BEFORE_VOWEL: Final[Mapping[str, str]] = MappingProxyType(
    {"н": "ni", "с": "si", "з": "zi", "ц": "ci"}
)
_VOWELS: Final = frozenset("аеєиіїоуюя")


def has_cyrillic(text: str) -> bool:
    """Whether any letter of ``text`` is Cyrillic."""
    return any("\u0400" <= ch <= "\u04ff" for ch in text)


def _cased(latin: str, source: str, word: str) -> str:
    """The Latin for ``source`` in the case it was written: Ж → Zh, or ZH in a capitals word."""
    if not source.isupper() or not latin:
        return latin
    letters = [c for c in word if c.isalpha()]
    if len(letters) > 1 and all(c.isupper() for c in letters):
        return latin.upper()
    return latin[0].upper() + latin[1:]


def _words(text: str) -> list[str]:
    out: list[str] = []
    current = ""
    for ch in text:
        if ch.isalpha() or ch in _APOSTROPHES:
            current += ch
        else:
            if current:
                out.append(current)
                current = ""
            out.append(ch)
    if current:
        out.append(current)
    return out


def _kmu_word(word: str) -> str:
    out: list[str] = []
    low = word.lower()
    letters_seen = False
    for i, ch in enumerate(low):
        if ch in _APOSTROPHES:
            continue  # the apostrophe is not written (Знам'янка → Znamianka)
        if ch not in _KMU:
            out.append(word[i])
            letters_seen = letters_seen or ch.isalpha()
            continue
        if not letters_seen and ch in _KMU_INITIAL:
            latin = _KMU_INITIAL[ch]
        elif ch == "г" and i > 0 and low[i - 1] == "з":
            latin = "gh"  # зг → zgh, to tell it from ж (zh)
        else:
            latin = _KMU[ch]
        letters_seen = True
        out.append(_cased(latin, word[i], word))
    return "".join(out)


def to_latin(text: str) -> str:
    """Ukrainian Cyrillic in the official Latin spelling (KMU 2010): Юлія → Yuliia."""
    if not has_cyrillic(text):
        return text
    return "".join(_kmu_word(w) if has_cyrillic(w) else w for w in _words(text))


def _polish_word(word: str) -> str:
    out: list[str] = []
    low = word.lower()
    n = len(low)
    for i, ch in enumerate(low):
        prev = low[i - 1] if i > 0 else ""
        nxt = low[i + 1] if i + 1 < n else ""
        after_nxt = low[i + 2] if i + 2 < n else ""
        if ch in _APOSTROPHES or ch == "ь":
            continue  # spelt by the letter before it (ль → l, нь → ń) or not at all
        if ch not in _PL and ch not in ("л", "є", "ю", "я"):
            out.append(word[i])
            continue
        if ch == "л":
            soft = nxt in ("і", "є", "ю", "я", "ь")
            latin = "l" if soft else "ł"
        elif ch in _PL_SOFT and nxt == "ь":
            # нь → ń, сь → ś; before a vowel ni, si: Марусьо → Marusio
            latin = _PL_SOFT_BEFORE_VOWEL[ch] if after_nxt in _VOWELS else _PL_SOFT[ch]
        elif ch in _PL_IOTATED:
            vowel = _PL_IOTATED[ch]
            if prev == "л":
                latin = vowel
            elif prev == "ь" and i > 1 and low[i - 2] in _PL_SOFT:
                latin = vowel  # already "ni", "si": Марусьо → Marusio
            elif not prev or prev in _VOWELS or prev in _APOSTROPHES or prev == "ь":
                latin = "j" + vowel
            else:
                latin = "i" + vowel
        else:
            latin = _PL[ch]
        out.append(_cased(latin, word[i], word))
    return "".join(out)


def to_polish(text: str) -> str:
    """Ukrainian Cyrillic in Polish spelling: Олена Коваленко → Ołena Kowałenko."""
    if not has_cyrillic(text):
        return text
    return "".join(_polish_word(w) if has_cyrillic(w) else w for w in _words(text))


def from_latin(word: str, names: Iterable[str]) -> str | None:
    """The Cyrillic name among ``names`` whose KMU spelling is ``word``, if exactly one."""
    key = word.lower()
    found = {name for name in names if to_latin(name).lower() == key}
    if len(found) != 1:
        return None
    return found.pop()


def latin_index(names: Iterable[str]) -> dict[str, str]:
    """Every lower-case KMU spelling of ``names`` -> the one name spelt so (as :func:`from_latin`).

    A spelling two names share is left out. One pass over the names (each transliterated
    once), where asking :func:`from_latin` for each name would transliterate them all again.
    """
    spelt: dict[str, set[str]] = {}
    for name in names:
        spelt.setdefault(to_latin(name).lower(), set()).add(name)
    return {key: next(iter(found)) for key, found in spelt.items() if len(found) == 1}
