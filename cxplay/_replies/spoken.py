"""Numbers, amounts and durations the way people say them.

Two uses:

* **approximate durations** for delays and waits, in every channel: a customer who waited
  119 minutes has waited "almost two hours", not "about 119 minutes"
  (:func:`approx_duration`);
* **spoken channels** (phone, in person): an agent reads a script aloud, so amounts and
  counts are words -- "dwadzieścia złotych", "двісті сорок дев'ять гривень" -- not digits
  and currency signs (:func:`money_words`, :func:`count_words`).

Cardinal numbers come from num2words (en, pl, uk); the grammar around them -- which form of
"two" a feminine noun takes, which case a preposition needs -- is ours, with CLDR plural
categories from Babel (:func:`cxplay._replies.locale.plural_category`).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from datetime import timedelta
from typing import Final

from babel.numbers import get_currency_name

from cxplay._replies.locale import (
    Number,
    _as_number,
    _case_forms,
    _whole_minutes,
    count,
    format_money,
    plural_category,
)

__all__ = [
    "SPOKEN_CHANNELS",
    "approx_duration",
    "count_words",
    "duration_words",
    "money_words",
    "number_words",
    "speakable",
]

#: Channels where the reply is a script read aloud.
SPOKEN_CHANNELS: Final = ("phone", "in_person")

# Nouns whose numerals agree in the feminine (pl: "dwie godziny"; uk: "дві години").
_FEMININE: Final = {
    "pl": {"hour", "minute", "night", "parcel"},
    "uk": {"hour", "minute", "night", "parcel"},
}


def num2words(number: float, **options: str) -> str:
    """num2words' words for a number, the library imported on the first number said.

    num2words imports every language it knows (tens of milliseconds): a command that
    never speaks a number does not pay for it.
    """
    from num2words import num2words as words

    return str(words(number, **options))


# The feminine forms that differ from the masculine num2words gives, by case.
_FEM: Final[Mapping[str, Mapping[str, Mapping[int, str]]]] = {
    "pl": {
        "nom": {1: "jedna", 2: "dwie"},
        "acc": {1: "jedną", 2: "dwie"},
    },
    "uk": {
        "nom": {1: "одна", 2: "дві"},
        "acc": {1: "одну", 2: "дві"},
    },
}
# Genitive numerals (after "w ciągu", "około", "протягом", "близько"), up to 99.
_GEN_UNITS: Final[Mapping[str, tuple[str, ...]]] = {
    "pl": (
        "zera", "jednej", "dwóch", "trzech", "czterech", "pięciu", "sześciu", "siedmiu",
        "ośmiu", "dziewięciu", "dziesięciu", "jedenastu", "dwunastu", "trzynastu",
        "czternastu", "piętnastu", "szesnastu", "siedemnastu", "osiemnastu", "dziewiętnastu",
    ),
    "uk": (
        "нуля", "однієї", "двох", "трьох", "чотирьох", "п'яти", "шести", "семи", "восьми",
        "дев'яти", "десяти", "одинадцяти", "дванадцяти", "тринадцяти", "чотирнадцяти",
        "п'ятнадцяти", "шістнадцяти", "сімнадцяти", "вісімнадцяти", "дев'ятнадцяти",
    ),
}  # fmt: skip
_GEN_TENS: Final[Mapping[str, tuple[str, ...]]] = {
    "pl": (
        "", "", "dwudziestu", "trzydziestu", "czterdziestu", "pięćdziesięciu",
        "sześćdziesięciu", "siedemdziesięciu", "osiemdziesięciu", "dziewięćdziesięciu",
    ),
    "uk": (
        "", "", "двадцяти", "тридцяти", "сорока", "п'ятдесяти", "шістдесяти", "сімдесяти",
        "вісімдесяти", "дев'яноста",
    ),
}  # fmt: skip


def _gender(noun: str | None, language: str) -> str:
    return "f" if noun in _FEMININE.get(language, set()) else "m"


@functools.lru_cache(maxsize=1024)
def number_words(n: int, language: str, noun: str | None = None, case: str = "nom") -> str:
    """A whole number in words, agreeing with ``noun`` in gender and case where it must.

    ``number_words(2, "pl", "hour")`` → ``dwie``; ``number_words(5, "uk", "hour", "gen")``
    → ``п'яти``; ``number_words(21, "en")`` → ``twenty-one``.
    """
    if language == "en":
        return str(num2words(n, lang="en")).replace(" and ", " and ").replace(",", "")
    if case == "gen" and 0 <= n < 100:
        units, tens = _GEN_UNITS[language], _GEN_TENS[language]
        if n < 20:
            return units[n]
        tail = units[n % 10] if n % 10 else ""
        if n % 10 == 1 and language == "pl":
            tail = "jeden"  # "dwudziestu jeden godzin"
        return f"{tens[n // 10]} {tail}".strip()
    words = str(num2words(n, lang=language))
    unit = n % 10
    feminine = _gender(noun, language) == "f" and n % 100 not in (11, 12) and unit in (1, 2)
    # Polish "jeden" stays as it is inside a compound ("dwadzieścia jeden godzin")
    if feminine and (unit == 2 or n == 1 or language == "uk"):
        forms = _FEM[language].get(case, _FEM[language]["nom"])
        head = words.rsplit(" ", 1)
        words = f"{head[0]} {forms[unit]}" if len(head) == 2 else forms[unit]
    return words


def count_words(n: Number, noun: str, language: str, case: str = "nom") -> str:
    """Like :func:`~cxplay._replies.locale.count`, with the number in words when whole."""
    value = _as_number(n)
    if value != int(value) or value < 0:
        return count(value, noun, language, case)
    whole = int(value)
    forms = _case_forms(noun, language, case)
    word = forms[plural_category(whole, language)]
    if whole == 1 and language != "en":
        return word  # "godzinę", "годину": the numeral is not said
    return f"{number_words(whole, language, noun, case)} {word}"


def money_words(amount: Number, currency: str, language: str) -> str:
    """An amount as it is said: "dwadzieścia złotych", "two hundred and forty-nine euro".

    Cents are said only when there are any ("… złotych i dziewięćdziesiąt dziewięć
    groszy"). A currency num2words cannot name in a language is written as Babel formats
    it, which an agent can still read aloud.
    """
    value = round(float(_as_number(amount)), 2)
    if value == 0:  # 0.0 and -0.0 are equal keys, but num2words may say them differently
        return _money_said(value, currency, language)
    return _money_said_cached(value, currency, language)


def _money_said(value: float, currency: str, language: str) -> str:
    try:
        said = str(num2words(value, lang=language, to="currency", currency=currency))
    except (NotImplementedError, KeyError, ValueError, TypeError):
        nouns = _MORE_CURRENCIES.get(currency, {}).get(language)
        if nouns is None:
            return _babel_money_words(value, currency, language)
        whole_units = int(value)
        said = f"{number_words(whole_units, language, 'parcel' if nouns[0] else None)} "
        said += nouns[1][plural_category(whole_units, language)]
        hundredths = round(value * 100) % 100
        return said if not hundredths else f"{said} {hundredths:02d}"
    whole, _, cents = said.rpartition(", ")
    if not whole:
        return said
    if round(value * 100) % 100 == 0:
        return whole
    joiner = {"en": "and", "pl": "i", "uk": "і"}[language]
    return f"{whole} {joiner} {cents}"


# The same amount in the same currency and language is said the same way every time: a
# spoken reply says its refund or voucher once per suggestion, and num2words' currency path
# is most of the cost. Keyed by the rounded value itself, never by a text around it.
_money_said_cached: Final = functools.lru_cache(maxsize=1024)(_money_said)


def _babel_money_words(value: float, currency: str, language: str) -> str:
    """Any other currency: the number in words and its CLDR name ("…thousand Japanese yen")."""
    whole = int(value)
    hundredths = round(value * 100) % 100
    try:
        name = get_currency_name(currency, count=whole, locale=language)
    except (ValueError, LookupError):
        return format_money(value, currency, language)
    said = f"{number_words(whole, language)} {name}"
    if not hundredths:
        return said
    joiner = {"en": "and", "pl": "i", "uk": "і"}[language]
    return f"{said} {joiner} {number_words(hundredths, language)} {_HUNDREDTHS[language]}"


_HUNDREDTHS: Final = {"en": "hundredths", "pl": "setnych", "uk": "сотих"}


# Currencies num2words does not name in a language: (feminine?, noun by plural category).
_MORE_CURRENCIES: Final[Mapping[str, Mapping[str, tuple[bool, Mapping[str, str]]]]] = {
    "UAH": {
        "en": (False, {"one": "hryvnia", "other": "hryvnias"}),
        "pl": (True, {"one": "hrywna", "few": "hrywny", "many": "hrywien", "other": "hrywny"}),
    },
}


# Phrases around an approximate duration, by language: what each preposition needs.
_ABOUT: Final = {"en": "about {}", "pl": "około {}", "uk": "близько {}"}
_ALMOST: Final = {"en": "almost {}", "pl": "prawie {}", "uk": "майже {}"}
_OVER: Final = {"en": "more than {}", "pl": "ponad {}", "uk": "понад {}"}
_JUST_OVER: Final = {"en": "just over {}", "pl": "nieco ponad {}", "uk": "трохи більше ніж {}"}
_ONE: Final = {
    "hour": {"en": "an hour", "pl": "godzinę", "uk": "годину"},
    "day": {"en": "a day", "pl": "dobę", "uk": "добу"},
}
_HOUR_AND_HALF: Final = {
    "en": "about an hour and a half",
    "pl": "około półtorej godziny",
    "uk": "близько півтори години",
}
_LESS_THAN_MINUTE: Final = {
    "en": "less than a minute",
    "pl": "niecałą minutę",
    "uk": "менше хвилини",
}


# Ukrainian puts the preposition after the adverb: "приблизно на 40 хвилин", "майже на
# годину", never "на близько" (a calque). By the phrase's first word, what it becomes.
_UK_AFTER: Final = {
    "близько": "приблизно {after} {rest}",
    "майже": "майже {after} {rest}",
    "понад": "більш ніж {after} {rest}",
    "трохи": "трохи більше ніж {after} {rest}",
}


def approx_duration(
    value: timedelta | Number | str,
    language: str,
    *,
    words: bool = False,
    after: str | None = None,
) -> str:
    """A wait or a delay as a person would put it, in the accusative (after "by", "o", "на").

    119 minutes → "almost two hours" / "prawie dwie godziny" / "майже дві години";
    40 → "about 40 minutes"; 65 → "just over an hour"; 90 → "about an hour and a half";
    190 → "more than 3 hours"; 4400 → "more than 3 days". ``words`` writes the numbers in
    words (spoken channels). ``after`` is the preposition the phrase follows, put where
    the language wants it: "на" + 40 → "приблизно на 40 хвилин" (not "на близько 40
    хвилин"), "o" + 40 → "o około 40 minut". Never use it for a promise ("within 2
    hours"): promises are exact (:func:`~cxplay._replies.locale.format_duration`).
    """
    phrase = _approx(value, language, words=words, accusative=after is not None)
    if not after:
        return phrase
    if language == "uk":
        head, _, rest = phrase.partition(" ")
        if head in _UK_AFTER and rest:
            if head == "трохи":
                rest = rest.removeprefix("більше ніж ")
            return _UK_AFTER[head].format(after=after, rest=rest)
    return f"{after} {phrase}"


def _approx(
    value: timedelta | Number | str, language: str, *, words: bool, accusative: bool
) -> str:
    total = _whole_minutes(value)

    def say(n: int, noun: str, case: str = "acc") -> str:
        if n == 1 and noun in _ONE:
            return _ONE[noun][language]
        # hours and days up to ten read better as words in writing too ("almost two hours")
        if words or (noun != "minute" and n <= 10):
            return count_words(n, noun, language, case)
        return count(n, noun, language, case)

    if total < 1:
        return _LESS_THAN_MINUTE[language]
    if total <= 10:
        return say(total, "minute")
    if total < 55:
        # "około" and "близько" take the genitive; multiples of 5 above 5 have it equal
        # to the nominative plural ("40 minut", "40 хвилин"); "приблизно на" the accusative
        case = "acc" if accusative and language == "uk" else "gen"
        return _ABOUT[language].format(say(5 * round(total / 5), "minute", case))
    if total < 60:
        return _ALMOST[language].format(say(1, "hour"))
    if total < 24 * 60:
        hours, rest = divmod(total, 60)
        if rest == 0:
            return say(hours, "hour")
        if rest >= 45:
            if hours + 1 == 24:
                return _ALMOST[language].format(say(1, "day"))
            return _ALMOST[language].format(say(hours + 1, "hour"))
        if rest < 15:
            return _JUST_OVER[language].format(say(hours, "hour"))
        if hours == 1 and 20 <= rest <= 40:
            return _HOUR_AND_HALF[language]
        return _OVER[language].format(say(hours, "hour"))
    days, rest = divmod(total, 24 * 60)
    if rest == 0:
        return say(days, "day")
    if rest >= 21 * 60:
        return _ALMOST[language].format(say(days + 1, "day"))
    return _OVER[language].format(say(days, "day"))


def duration_words(value: timedelta | Number | str, language: str, case: str = "nom") -> str:
    """An exact duration with its numbers in words: "two hours", "w ciągu dwóch godzin"."""
    total = _whole_minutes(value)
    days, rest = divmod(total, 24 * 60)
    hours, minutes = divmod(rest, 60)
    parts = [
        count_words(amount, noun, language, case)
        for amount, noun in ((days, "day"), (hours, "hour"), (minutes, "minute"))
        if amount
    ]
    if not parts:
        return count_words(0, "minute", language, case)
    joiner = {"en": " and ", "pl": " i ", "uk": " і "}[language]
    return ", ".join(parts[:-1]) + joiner + parts[-1] if len(parts) > 1 else parts[0]


# -- what a script read aloud cannot contain ----------------------------------------------

_PERCENT: Final = re.compile(r"(\d+)\s?%")
_URL: Final = re.compile(r"(?:https?://|www\.)[^\s()\[\]]*[^\s()\[\].,;:!?]")
_EMAIL: Final = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
# A whole number standing alone: not a time (14:30), a decimal, a code (LO3921) or a date.
_BARE_NUMBER: Final = re.compile(r"(?<![\w:.,/-])\d{1,6}(?![\w:/-]|[.,]\d)")
_PHONE: Final = re.compile(r"(\+?\d[\d \u00a0-]{6,}\d)")
# Any decimal digit, as ``\d`` means it in the patterns above (not only 0-9).
_DIGIT: Final = re.compile(r"\d")
_PARENTHESIS: Final = re.compile(r"\s*\(([^()]*)\)")
# the comma an aside leaves before a full stop or another comma ("… at once,." → "… at once.")
_LOOSE_COMMA: Final = re.compile(r",(?=[,.;:!?])|,$")
_PERCENT_NOUN: Final[Mapping[str, Mapping[str, str]]] = {
    "en": {"one": "per cent", "other": "per cent"},
    "pl": {"one": "procent", "few": "procent", "many": "procent", "other": "procent"},
    "uk": {"one": "відсоток", "few": "відсотки", "many": "відсотків", "other": "відсотка"},
}
# What an agent says instead of reading out a link or an address: it is sent afterwards.
_LINK: Final = {
    "en": "a link we'll send you",
    "pl": "link, który wyślemy po rozmowie",
    "uk": "посилання, яке ми надішлемо після розмови",
}
_ADDRESS: Final = {
    "en": "the address we'll send you",
    "pl": "adres, który wyślemy po rozmowie",
    "uk": "адреса, яку ми надішлемо після розмови",
}


def percent_words(n: int, language: str) -> str:
    """20 → "twenty per cent" / "dwadzieścia procent" / "двадцять відсотків"."""
    return f"{number_words(n, language)} {_PERCENT_NOUN[language][plural_category(n, language)]}"


def _number_said(found: re.Match[str]) -> str:
    return number_words(int(found.group(0)), "en")


def speakable(text: str, language: str) -> str:
    """A turn of a spoken script as it can be said: no sign, link, address or bracket.

    Percentages are words ("dwadzieścia procent"), and in English every bare number
    ("within twenty-four hours"; Polish and Ukrainian numbers agree in case, so their
    templates say them with the filters), a link or an e-mail address becomes
    the promise to send it, and a parenthesis is said as an aside between commas
    ("an upgrade at no extra cost, we will check at once.").

    Most turns hold no sign, digit, link or bracket at all: each pass runs only when the
    text (as the passes before it left it) holds what its pattern cannot match without --
    a ``%``, a digit, ``://`` or ``www.``, an ``@``, a ``(``, a comma -- and a pass that
    cannot match leaves the text as it is, so the result is the same
    (``tests/test_spoken_speakable.py`` checks it against the reference).
    """
    if "%" in text:
        text = _PERCENT.sub(lambda m: percent_words(int(m.group(1)), language), text)
    if language == "en" and _DIGIT.search(text):  # no case to agree with: "twenty-four"
        # a phone number is read digit by digit, as written; ``split`` puts each one (the
        # pattern's one group) at an odd index, and only there: numbers between are said
        parts = _PHONE.split(text)
        if len(parts) == 1:
            text = _BARE_NUMBER.sub(_number_said, text)
        else:
            text = "".join(
                part if index % 2 else _BARE_NUMBER.sub(_number_said, part)
                for index, part in enumerate(parts)
            )
    if "://" in text or "www." in text:
        text = _URL.sub(_LINK[language], text)
    if "@" in text:
        text = _EMAIL.sub(_ADDRESS[language], text)
    if "(" in text:
        text = _PARENTHESIS.sub(_aside, text)
    if "," in text:
        text = _LOOSE_COMMA.sub("", text).replace(", ,", ",")
    return text


def _aside(found: re.Match[str]) -> str:
    return f", {found.group(1).strip()},"
