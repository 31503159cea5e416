"""Names and address: cleaning a name, vocatives, greetings and sign-offs per language."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from types import MappingProxyType
from typing import Final

from cxplay._common.lazy import lazy_pattern
from cxplay._common.text import echo
from cxplay._common.toml import read_package_toml
from cxplay._replies.locale import REGISTERS, _check_language
from cxplay._replies.translit import has_cyrillic, latin_index, to_latin, to_polish
from cxplay.models import CHANNELS

__all__ = [
    "Name",
    "address_gender",
    "clean_name",
    "name_in_script",
    "parse_name",
    "polish_gender",
    "salutation",
    "sign_off",
    "spoken_greeting",
]

# --------------------------------------------------------------------------------------
# Names and address
# --------------------------------------------------------------------------------------

# Characters removed from names: C0/C1 controls (category Cc) and the bidirectional
# embedding/override/isolate controls, which can make a name display as other text.
_BIDI_CONTROLS: Final = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
_WHITESPACE_RUN: Final = re.compile(r"\s+")
_APOSTROPHES: Final = "'\u2019\u02bc"


def normal_case(name: str) -> str:
    """A name typed all in capitals or all in lower case, in its usual case.

    ``ANNA KOWALSKA`` and ``anna kowalska`` → ``Anna Kowalska``; ``o'connor`` →
    ``O'Connor``; ``maria van der berg`` → ``Maria van der Berg`` (a surname particle
    between the given name and the surname is lower case). ``Anna-Maria``, ``McDonald``
    and anything not made of letters stay as given.
    """
    words = name.split(" ")
    if not all(_is_namelike(w) for w in words):
        return name

    def one(i: int, word: str) -> str:
        if 0 < i < len(words) - 1 and word.lower() in _PARTICLES:
            return word.lower() if word.isupper() or word.islower() else word
        return word.title() if len(word) > 1 and (word.isupper() or word.islower()) else word

    return " ".join(one(i, w) for i, w in enumerate(words))


def clean_name(name: str | None) -> str:
    """Make untrusted name text safe to put into a reply, and otherwise keep it as is.

    Control characters become spaces, bidirectional controls are removed, runs of
    whitespace collapse to one space and the ends are trimmed. Nothing is escaped or
    evaluated: ``{{ 7*7 }}`` and ``<script>`` come back verbatim (HTML escaping is
    the renderer's autoescape's job).

    Args:
        name: The text, or ``None``.

    Returns:
        The cleaned text; ``""`` for ``None``.
    """
    if not name:
        return ""
    kept = "".join(
        " " if unicodedata.category(ch) == "Cc" else ch for ch in name if ch not in _BIDI_CONTROLS
    )
    return _WHITESPACE_RUN.sub(" ", kept).strip()


def _is_script(word: str, script: str) -> bool:
    """Whether a word is letters of one script, with apostrophes allowed inside."""
    if not word or not word[0].isalpha() or not word[-1].isalpha():
        return False
    for ch in word:
        if ch in _APOSTROPHES:
            continue
        if not ch.isalpha() or not unicodedata.name(ch, "").startswith(script):
            return False
    return True


def _is_namelike(word: str) -> bool:
    """Letters of any script, with inner apostrophes, hyphens or dots (O'Neill, Jean-Luc)."""
    stripped = word.rstrip(".")
    if not stripped or not stripped[0].isalpha():
        return False
    return all(ch.isalpha() or ch in _APOSTROPHES or ch in "-." for ch in stripped)


def _swap_last(word: str, new: str) -> str:
    """Replace the last ``len(new)`` letters, keeping upper case if the name is in it."""
    return word[: -len(new)] + (new.upper() if word[-1].isupper() else new)


def _lookup(table: Mapping[str, str], word: str) -> str | None:
    """Look a name up in a vocative table, keeping the case it was written in."""
    vocative = table.get(word.capitalize())
    if vocative is None:
        return None
    if word == word.capitalize():
        return vocative
    if word.isupper() and len(word) > 1:
        return vocative.upper()
    return vocative.lower() if word.islower() else None


_NAMES: Final = read_package_toml("cxplay._replies", "data/names.toml")

# A first token that is a title rather than a given name: then nothing is declined.
_TITLES: Final = frozenset(_NAMES["titles"])
_TITLE_GENDER: Final[Mapping[str, str]] = MappingProxyType(
    {
        **{t: "female" for t in _NAMES["female_titles"]},
        **{t: "male" for t in _NAMES["male_titles"]},
    }
)
_PARTICLES: Final = frozenset(_NAMES["particles"])


@dataclass(frozen=True)
class Name:
    """A customer's name split as far as it can be known.

    ``given`` is set only when there is a given name *and* a surname after it: a lone
    token ("Zięba", "Сорока", "Okafor") may be a surname, so it is the ``surname``, and
    nothing is declined, gendered or used as a first name from it. The surname keeps its
    particles ("Ní Bhriain", "van der Berg", "de la Cruz").
    """

    text: str
    title: str | None = None
    given: str | None = None
    surname: str | None = None
    structured: bool = False

    @property
    def title_gender(self) -> str | None:
        """The gender the title tells (Ms, Mrs, Mr, Pani, Pan, пані, пан), else None."""
        return _TITLE_GENDER.get(self.title.rstrip(".").lower()) if self.title else None


# A reply asks for the same name's parts and spelling several times (context, greeting,
# address forms): both are pure functions of the text, so each is worked out once.
_NAME_CACHE: Final = 1024


@lru_cache(maxsize=_NAME_CACHE)
def parse_name(name: str | None) -> Name:
    """Split a cleaned name into title, given name and surname (see :class:`Name`)."""
    text = normal_case(clean_name(name))
    words = text.split(" ") if text else []
    if not words or not all(_is_namelike(w) for w in words):
        return Name(text)
    title = None
    if words[0].rstrip(".").lower() in _TITLES:
        title, words = words[0], words[1:]
    if not words:
        return Name(text, title=title, structured=True)
    if len(words) == 1 or words[0].lower() in _PARTICLES:
        return Name(text, title=title, surname=" ".join(words), structured=True)
    start = len(words) - 1
    for i in range(1, len(words) - 1):
        if words[i].lower() in _PARTICLES:
            start = i
            break
    return Name(text, title=title, given=words[0], surname=" ".join(words[start:]), structured=True)


# Ukrainian first names, by which a name in Latin letters is known to be Ukrainian.
_UK_GIVEN: Final = (
    *_NAMES["uk"]["male_vocatives"],
    *(n.capitalize() for n in _NAMES["uk"]["male_in_a"]),
    *(n.capitalize() for n in _NAMES["uk"]["either"]),
    *(n.capitalize() for n in _NAMES["uk"]["female"]),
)


@lru_cache(maxsize=1)
def _uk_by_latin() -> Mapping[str, str]:
    """Each official Latin spelling of a name above -> the name.

    Built on first use, not at import: its 112 transliterations are work that only a
    Latin-spelt name in a Ukrainian reply needs.
    """
    return MappingProxyType(latin_index(_UK_GIVEN))


# A word that could be the official Latin spelling of a Ukrainian word: its letters, and
# "c" only in "ch" (there is no w, q, x, j and no diacritic in it).
_KMU_SHAPED: Final = lazy_pattern(
    globals(), "_KMU_SHAPED", r"^(?:[abdefghiklmnoprstuvyz']|ch)+$", re.IGNORECASE
)


@lru_cache(maxsize=_NAME_CACHE)
def name_in_script(name: str, language: str) -> str:
    """A name as it is written in a reply in ``language``.

    A Cyrillic name in an English reply takes the official Ukrainian Latin spelling
    (Олена Петренко → Olena Petrenko), in a Polish one the Polish spelling (Олена
    Коваленко → Ołena Kowałenko). A Latin name stays Latin in a Ukrainian reply: the
    Cyrillic spelling of a surname cannot be known from its Latin one (Melnyk is
    Мельник, the soft sign is not transliterated), and half a name in each script reads
    worse than either; only the given name is found for the vocative
    (:func:`_uk_given`: "Taras Melnyk" → "Пане Тарасе,").
    """
    if language == "en":
        return to_latin(name)
    if language == "pl":
        return to_polish(name)
    return name


def _uk_given(given: str | None) -> str | None:
    """A given name in Cyrillic for a Ukrainian vocative.

    As it is, or from its official Latin spelling when that is the spelling of one name
    of the tables (Olena → Олена).
    """
    if given is None or has_cyrillic(given) or not _KMU_SHAPED.match(given):
        return given
    return _uk_by_latin().get(given.lower(), given)


# -- Polish ---------------------------------------------------------------------------

_PL_LETTERS: Final = frozenset("abcdefghijklmnopqrstuvwxyząćęłńóśźż")

# Vocatives of common male first names (irregular, so only names listed are declined).
_PL_MALE: Final[Mapping[str, str]] = MappingProxyType(_NAMES["pl"]["male_vocatives"])

# Names in -a that are (usually) male, Polish or foreign: never read as female.
_PL_MALE_IN_A: Final = frozenset(_NAMES["pl"]["male_in_a"])

# Polish hypocoristics of women's names: surely female, but the vocative ("Kasiu") is
# too familiar for a formal reply, so they get "Pani" forms and no vocative.
_PL_FEMALE_HYPOCORISTIC: Final = ("sia", "cia", "zia", "nia", "dzia")

# Endings where "-a → -o" is not sure: hypocoristics that take -u (Kasia → Kasiu,
# Ania → Aniu), letters pronounced otherwise in foreign names (Monica → Moniko),
# vowel clusters (Andrea, Joshua, Freya), and surnames (Kowalska, Nowakowa).
_PL_UNSURE_ENDINGS: Final = (
    "sia",
    "cia",
    "zia",
    "nia",
    "ca",
    "ha",
    "aa",
    "ea",
    "oa",
    "ua",
    "ya",
    "ska",
    "cka",
    "dzka",
    "owa",
    "ówna",
)


def _pl_female_vocative(given: str) -> str | None:
    low = given.lower()
    if not low.endswith("a") or len(low) < 3 or not set(low) <= _PL_LETTERS:
        return None
    if low in _PL_MALE_IN_A or low.endswith(_PL_UNSURE_ENDINGS):
        return None
    # Short names in -la/-ła are hypocoristics taking -u (Ola → Olu, Ela → Elu);
    # longer ones take -o (Urszula → Urszulo, Izabela → Izabelo).
    if low.endswith(("la", "ła")) and len(low) <= 4:
        return None
    # After a vowel only "-ia" (Maria → Mario) and "-ja" (Maja → Majo) are sure.
    if low[-2] in "aeiouyąęó" and not low.endswith("ia"):
        return None
    if low.endswith("ia") and low[-3] in "aeiouyąęó":
        return None
    return _swap_last(given, "o")


def _pl_address(given: str | None, gender: str | None) -> tuple[str | None, str | None]:
    """Return ``(gender, vocative phrase or None)`` for a Polish reply."""
    if gender == "neutral":
        return None, None
    if given is None:
        return gender, None
    male = _lookup(_PL_MALE, given)
    if male is not None:
        if gender in (None, "male"):
            return "male", f"Panie {male}"
        return gender, None
    if gender == "male":
        return gender, None
    female = _pl_female_vocative(given)
    if female is not None:
        return "female", f"Pani {female}"
    low = given.lower()
    hypocoristic = low.endswith(_PL_FEMALE_HYPOCORISTIC) or (
        low.endswith(("la", "ła")) and len(low) <= 4
    )
    if gender is None and hypocoristic and set(low) <= _PL_LETTERS and low not in _PL_MALE_IN_A:
        return "female", None  # Kasia, Zosia, Ola: "Pani", never the plural "Państwo"
    # Female first names not in -a are indeclinable: the vocative is the name itself.
    if (
        gender == "female"
        and not given.lower().endswith("a")
        and _is_script(given, "LATIN")
        and given.lower() not in _PL_MALE_IN_A
    ):
        return gender, f"Pani {given}"
    return gender, None


def polish_gender(first_name: str) -> str | None:
    """The gender a Polish first name tells for sure ("female"/"male"), else None.

    The same rules as the vocative: a name table for men, the -a rule with its
    exceptions for women. Used to pick "Pani"/"Pan" or the plural "Państwo".
    """
    return _pl_address(clean_name(first_name) or None, None)[0]


# -- Ukrainian ------------------------------------------------------------------------

_UK_MALE: Final[Mapping[str, str]] = MappingProxyType(_NAMES["uk"]["male_vocatives"])

# Names in -а/-я that are male or either: not declined as female without a hint.
_UK_MALE_IN_A: Final = frozenset(_NAMES["uk"]["male_in_a"])
_UK_EITHER: Final = frozenset(_NAMES["uk"]["either"])
_UK_CONSONANTS: Final = frozenset("бвгґджзклмнпрстфхцчшщ")


def _uk_female_vocative(given: str) -> str | None:
    low = given.lower()
    if len(low) < 3 or low in _UK_MALE_IN_A or low.capitalize() in _UK_MALE:
        return None
    # Adjectival and -ова surnames (Ковальська, Петрова) are not first names.
    if low.endswith(("ська", "цька", "зька", "ова")):
        return None
    if low.endswith("ія"):  # Марія → Маріє, Наталія → Наталіє, Надія → Надіє
        return _swap_last(given, "є")
    if low.endswith("я"):  # Оля → Олю, Таня → Таню; not Наталля → Наталле (-лля)
        if low[-2] in _UK_CONSONANTS and low[-2] != low[-3]:
            return _swap_last(given, "ю")
        return None
    if low.endswith("а"):  # Олена → Олено; not the mixed group (Маша, Даша: -ша/-жа/-ча/-ща)
        if low[-2] in _UK_CONSONANTS and low[-2] not in "жчшщ":
            return _swap_last(given, "о")
        return None
    return None


def _uk_address(given: str | None, gender: str | None) -> tuple[str | None, str | None]:
    """Return ``(gender, vocative phrase or None)`` for a Ukrainian reply."""
    if gender == "neutral":
        return None, None
    if given is None or not _is_script(given, "CYRILLIC"):
        return gender, None
    male = _lookup(_UK_MALE, given)
    if male is not None:
        if gender in (None, "male"):
            return "male", f"пане {male}"
        return gender, None
    if gender == "male":
        return gender, None
    if given.lower() in _UK_EITHER and gender != "female":
        return gender, None
    female = _uk_female_vocative(given)
    if female is not None:
        return "female", f"пані {female}"
    return gender, None


# -- Shared ---------------------------------------------------------------------------

_LETTER_CHANNELS: Final = frozenset({"email", "web_form"})

_HELLO: Final[Mapping[str, str]] = MappingProxyType(
    {"en": "Hello", "pl": "Dzień dobry", "uk": "Добрий день"}
)

# A greeting said aloud follows the customer's local time: morning before 10:00, evening
# from 18:00 ("Dzień dobry" serves the morning in Polish).
_MORNING_ENDS: Final = 10
_EVENING_STARTS: Final = 18
_GOOD: Final[Mapping[str, Mapping[str, str]]] = MappingProxyType(
    {
        "morning": MappingProxyType(
            {"en": "Good morning", "pl": "Dzień dobry", "uk": "Доброго ранку"}
        ),
        "evening": MappingProxyType(
            {"en": "Good evening", "pl": "Dobry wieczór", "uk": "Добрий вечір"}
        ),
    }
)


def _part_of_day(hour: int | None) -> str | None:
    if hour is None:
        return None
    if hour < _MORNING_ENDS and hour >= 4:
        return "morning"
    if hour >= _EVENING_STARTS or hour < 4:
        return "evening"
    return None


def spoken_greeting(line: str, language: str, hour: int | None) -> str:
    """A conversational opening line said at ``hour`` (local): "Доброго ранку, пані Олено,".

    Only the greeting word changes ("Hi Anna," → "Good morning, Anna,"; "Добрий день," →
    "Доброго ранку,"); a line without one (an override) is kept.
    """
    part = _part_of_day(hour)
    if part is None:
        return line
    good = _GOOD[part][language]
    for word in ("Hi ", "Hello "):
        if language == "en" and line.startswith(word):
            return f"{good}, {line[len(word) :]}"
    hello = _HELLO[language]
    if line.startswith(hello):
        return good + line[len(hello) :]
    return line


# Formal letter openings by the gender the vocative phrase addresses.
_DEAR: Final[Mapping[str, Mapping[str, str]]] = MappingProxyType(
    {
        "pl": MappingProxyType({"female": "Szanowna", "male": "Szanowny", "plural": "Szanowni"}),
        "uk": MappingProxyType({"female": "Шановна", "male": "Шановний", "plural": "Шановні"}),
    }
)

# The first word of a vocative phrase tells its gender: "Pani Anno", "Panie Janie".
_ADDRESS_GENDER: Final[Mapping[str, str]] = MappingProxyType(
    {
        "pani": "female",
        "panie": "male",
        "państwo": "plural",
        "пані": "female",
        "пане": "male",
        "панове": "plural",
    }
)

# Gender-only formal address when the name cannot be declined: "Szanowna Pani,".
_BARE_ADDRESS: Final[Mapping[str, Mapping[str, str]]] = MappingProxyType(
    {
        "pl": MappingProxyType({"female": "Pani", "male": "Panie"}),
        "uk": MappingProxyType({"female": "пані", "male": "пане"}),
    }
)

_SIGN_OFF: Final[Mapping[str, Mapping[str, str]]] = MappingProxyType(
    {
        "en": MappingProxyType({"formal": "Kind regards,", "warm": "Best wishes,"}),
        "pl": MappingProxyType(
            {"formal": "Z wyrazami szacunku,", "warm": "Pozdrawiamy serdecznie,"}
        ),
        "uk": MappingProxyType({"formal": "З повагою,", "warm": "З найкращими побажаннями,"}),
    }
)


def _check_choice(value: str, choices: Sequence[str], what: str) -> str:
    if value not in choices:
        raise ValueError(f"unknown {what} {echo(value)}; expected one of {', '.join(choices)}")
    return value


def _normalize_gender(gender: str | None) -> str | None:
    # "female"/"male" are hints; no value (or "unknown") lets the name decide; any other
    # value ("nonbinary", "other", ...) asks for no gendered form at all.
    g = (gender or "").strip().lower()
    if g in ("female", "male"):
        return g
    return None if g in ("", "unknown") else "neutral"


# An override starting with one of these is a whole opening line and is used as given.
_OPENING_WORDS: Final = frozenset(
    {
        "dear",
        "hello",
        "hi",
        "good",
        "szanowna",
        "szanowny",
        "szanowni",
        "dzień",
        "droga",
        "drogi",
        "drodzy",
        "witam",
        "шановна",
        "шановний",
        "шановні",
        "вельмишановна",
        "вельмишановний",
        "добрий",
        "дорога",
        "дорогий",
        "вітаю",
    }
)


def _wrap(phrase: str, language: str, *, letter: bool, formal: bool) -> str:
    """Put a vocative phrase ("Pani Anno") into the language's opening line."""
    first = phrase.split(" ", 1)[0].lower()
    gender = _ADDRESS_GENDER.get(first)
    if language in _DEAR and letter and formal and gender is not None:
        return f"{_DEAR[language][gender]} {phrase},"
    if language == "en":
        word = "Dear" if letter and formal else ("Hello" if letter else "Hi")
        return f"{word} {phrase},"
    return f"{_HELLO[language]}, {phrase},"


def salutation(
    customer_name: str | None,
    language: str,
    *,
    salutation: str | None = None,
    gender: str | None = None,
    register: str = "formal",
    channel: str = "email",
) -> str:
    """Return a reply's opening line, including its trailing comma.

    Declines a name only where the rule is sure; otherwise falls back to a safe
    greeting, because a wrong vocative is worse than none.

    Polish: ``Szanowna Pani Anno,`` / ``Szanowny Panie Janie,`` in a formal e-mail,
    ``Dzień dobry, Pani Anno,`` in a warm one and in conversational channels,
    ``Szanowna Pani,`` when only the gender is known, else ``Dzień dobry,``.
    Female first names in -a take -o (Anna → Anno, Maria → Mario) except
    hypocoristics (Kasia, Ola), male names in -a (Kuba, Barnaba) and forms that read
    as surnames (Kowalska); with ``gender="female"`` a name not in -a is indeclinable
    (Pani Miriam). Male names are declined only from a table of common ones.

    Ukrainian: ``Шановна пані Олено,`` / ``Шановний пане Андрію,`` /
    ``Добрий день, пані Олено,`` / ``Добрий день,``. Female -а → -о (Олена → Олено,
    except -ша/-жа/-ча/-ща), -ія → -іє (Марія → Маріє), consonant + я → -ю
    (Оля → Олю); male names from a table (Тарас → Тарасе, Микола → Миколо). Names in
    Latin script are not declined.

    English: ``Dear Ms Kowalska,`` (formal e-mail, gender known),
    ``Dear Anna Kowalska,`` (formal, gender unknown), ``Hello Anna,`` (warm e-mail),
    ``Hi Anna,`` (chat and other conversational channels), ``Hello,`` without a name.

    The name is untrusted: it passes :func:`clean_name` and is otherwise used
    verbatim, never evaluated. It is split by :func:`parse_name`: a lone token
    ("Zięba", "Сорока", "Okafor") is a surname, never declined, gendered or used as a
    first name ("Hello,", or "Dear Ms Okafor," with a gender); the surname keeps its
    particles ("Dear Ms Ní Bhriain,"); a title keeps the surname only ("Dear Dr Walsh,"),
    and Ms/Mr/Pani/Pan/пані/пан tell the gender. The name is written in the reply's script
    first (:func:`name_in_script`): "Олена Петренко" is "Olena Petrenko" in English.

    Args:
        customer_name: The customer's name as the company has it, or ``None``.
        language: One of :data:`SUPPORTED`.
        salutation: An override: the vocative phrase to use verbatim, e.g.
            ``"Pani Anno"``, ``"пане Тарасе"``, ``"Ms Smith"``. It is wrapped in the
            language's opening ("Szanowna Pani Anno,"; the opening word follows its
            first word: Pani/Panie/Państwo, пані/пане/панове) and wins over the name.
        gender: ``"female"`` or ``"male"`` when known; ``None`` or ``"unknown"`` lets
            the name decide; any other value (``"nonbinary"``, ``"other"``) means no
            gendered form: ``Dzień dobry,`` / ``Добрий день,`` / no Ms or Mr. A hint
            that contradicts a name table drops the name, not the hint.
        register: ``"formal"`` or ``"warm"`` (see :data:`REGISTERS`).
        channel: One of :data:`CHANNELS`. E-mail and web forms get letter openings;
            every other channel a conversational one.

    Returns:
        The opening line, ending with a comma.

    Raises:
        ValueError: For an unknown language, register or channel.
    """
    _check_language(language)
    _check_choice(register, REGISTERS, "register")
    _check_choice(channel, CHANNELS, "channel")
    letter = channel in _LETTER_CHANNELS
    formal = register == "formal"
    hint = _normalize_gender(gender)

    override = clean_name(salutation).rstrip(", ")
    if override and override.split(" ", 1)[0].lower() in _OPENING_WORDS:
        return f"{override},"
    if override:
        return _wrap(override, language, letter=letter, formal=formal)

    original = parse_name(customer_name)
    name = parse_name(name_in_script(original.text, language))
    if hint is None:
        hint = name.title_gender

    if language == "en":
        if not name.text:
            return "Hello,"
        if not name.structured:
            return _wrap(name.text, language, letter=letter, formal=formal)
        honorific = {"female": "Ms", "male": "Mr"}.get(hint or "")
        if name.title is not None and name.title.lower() in ("pan", "pani", "пан", "пані"):
            name = Name(name.text, given=name.given, surname=name.surname, structured=True)
        if name.title is not None:
            title = name.title
            if title.rstrip(".").lower() in ("sir", "dame"):  # Sir John, never Sir Smith
                return (
                    _wrap(f"{title} {name.given}", language, letter=letter, formal=formal)
                    if name.given
                    else "Hello,"
                )
            if name.surname is None:
                return "Hello,"
            return _wrap(f"{title} {name.surname}", language, letter=letter, formal=formal)
        if name.given is None:  # a lone token: a surname, never a first name
            if honorific is None:
                return "Hello,"
            return _wrap(f"{honorific} {name.surname}", language, letter=letter, formal=formal)
        if letter and formal:
            if honorific is not None:
                return f"Dear {honorific} {name.surname},"
            return f"Dear {name.text},"
        return _wrap(name.given, language, letter=letter, formal=formal)

    addressed_gender, phrase = _declined(original, name, language, hint)
    if phrase is None and letter and formal and addressed_gender is not None:
        phrase = _BARE_ADDRESS[language][addressed_gender]
    if phrase is None:
        return f"{_HELLO[language]},"
    return _wrap(phrase, language, letter=letter, formal=formal)


@lru_cache(maxsize=_NAME_CACHE)
def _declined(
    original: Name, name: Name, language: str, hint: str | None
) -> tuple[str | None, str | None]:
    """``(gender, vocative phrase or None)`` in Polish or Ukrainian.

    Pure, and asked twice per reply with the same name (the context's address forms and
    the greeting): worked out once, as :func:`parse_name` is.

    Only a given name followed by a surname is declined, and only when no title other
    than Pan/Pani stands before it. A Ukrainian name in a Polish reply is not declined
    (Ołena is not Polish), but the Ukrainian rules tell its gender: "Szanowna Pani,".
    """
    plain_title = name.title is None or name.title_gender is not None
    given = name.given if plain_title else None
    if language == "pl":
        if has_cyrillic(original.text):
            if hint is None and original.given is not None and plain_title:
                hint = _uk_address(original.given, None)[0]
            return _pl_address(None, hint)
        return _pl_address(given, hint)
    latin_words = name.text.split(" ")
    if not all(_KMU_SHAPED.match(w.rstrip(".")) for w in latin_words):
        given = None if given is not None and not has_cyrillic(given) else given
    return _uk_address(_uk_given(given), hint)


def address_gender(customer_name: str | None, language: str, gender: str | None) -> str | None:
    """The gender a reply may address ("female"/"male"), else None (the plural "Państwo").

    The same decision as :func:`salutation`: the hint, the title, or a given name the
    rules are sure of; never a lone token.
    """
    hint = _normalize_gender(gender)
    if hint == "neutral":
        return None
    original = parse_name(customer_name)
    name = parse_name(name_in_script(original.text, language))
    if hint is None:
        hint = name.title_gender
    if language == "en":
        return hint
    return _declined(original, name, language, hint)[0]


def sign_off(language: str, register: str = "formal") -> str:
    """Return the closing line before the signature, including its comma.

    ``Kind regards,`` / ``Best wishes,``; ``Z wyrazami szacunku,`` /
    ``Pozdrawiamy serdecznie,``; ``З повагою,`` / ``З найкращими побажаннями,``.

    Args:
        language: One of :data:`SUPPORTED`.
        register: ``"formal"`` or ``"warm"``.

    Returns:
        The closing line.
    """
    _check_language(language)
    return _SIGN_OFF[language][_check_choice(register, REGISTERS, "register")]
