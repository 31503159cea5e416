"""A spoken turn's shortcuts give what the full passes give, text for text and error for error.

:func:`~cxplay._replies.spoken.speakable` runs each of its passes only when the text holds
what the pass's pattern cannot match without (``%``, a digit, ``://``/``www.``, ``@``,
``(``, ``,``) and tells a phone number from the text between them by its index in
``re.split``'s result instead of a ``fullmatch`` per part; :func:`money_words` caches what
num2words says per (rounded amount, currency, language). Each is compared here with the
implementation it replaced, kept below as the reference: over every paragraph of every
shipped reply (all channels, en/pl/uk) and over generated strings full of digits
(Unicode ones too), percentages, links, e-mail addresses, brackets and phone numbers.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from cxplay import Engine
from cxplay._replies import spoken
from cxplay._replies.locale import _as_number, format_money, plural_category
from cxplay._replies.spoken import (
    _ADDRESS,
    _BARE_NUMBER,
    _EMAIL,
    _LINK,
    _LOOSE_COMMA,
    _MORE_CURRENCIES,
    _PARENTHESIS,
    _PERCENT,
    _PHONE,
    _URL,
    money_words,
    num2words,
    number_words,
    percent_words,
    speakable,
)
from tests.rendered import replies as shipped_replies

LANGUAGES = ("en", "pl", "uk")


# -- the reference: speakable and money_words as they were before the shortcuts ------------


def reference_speakable(text: str, language: str) -> str:
    def number_said(found: re.Match[str]) -> str:
        return number_words(int(found.group(0)), "en")

    text = _PERCENT.sub(lambda m: percent_words(int(m.group(1)), language), text)
    if language == "en":
        parts = _PHONE.split(text)
        text = "".join(
            part if _PHONE.fullmatch(part) else _BARE_NUMBER.sub(number_said, part)
            for part in parts
        )
    text = _URL.sub(_LINK[language], text)
    text = _EMAIL.sub(_ADDRESS[language], text)
    text = _PARENTHESIS.sub(lambda m: f", {m.group(1).strip()},", text)
    return _LOOSE_COMMA.sub("", text).replace(", ,", ",")


def reference_money_words(amount: Any, currency: str, language: str) -> str:
    value = round(float(_as_number(amount)), 2)
    try:
        said = str(num2words(value, lang=language, to="currency", currency=currency))
    except (NotImplementedError, KeyError, ValueError, TypeError):
        nouns = _MORE_CURRENCIES.get(currency, {}).get(language)
        if nouns is None:
            return reference_babel_money_words(value, currency, language)
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


def reference_babel_money_words(value: float, currency: str, language: str) -> str:
    from babel.numbers import get_currency_name

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
    hundredths_word = {"en": "hundredths", "pl": "setnych", "uk": "сотих"}[language]
    return f"{said} {joiner} {number_words(hundredths, language)} {hundredths_word}"


def outcome(function: Callable[..., str], *args: Any) -> tuple[str, str]:
    """What a call gives: its text, or its error's type and message."""
    try:
        return "text", function(*args)
    except Exception as error:  # the error itself is what is compared
        return type(error).__name__, str(error)


# -- every shipped reply ------------------------------------------------------------------


@pytest.fixture(scope="module")
def shipped_paragraphs() -> list[str]:
    with Engine.from_path() as engine:
        found: list[str] = []
        for _, _, _, text in shipped_replies(engine):
            for paragraph in text.split("\n\n"):
                found.append(paragraph)
                found.extend(line for line in paragraph.splitlines() if line)
        return sorted(set(found))


def test_speakable_equals_the_reference_on_every_shipped_paragraph(
    shipped_paragraphs: list[str],
) -> None:
    assert len(shipped_paragraphs) > 1000
    differ = [
        (language, text)
        for text in shipped_paragraphs
        for language in LANGUAGES
        if outcome(speakable, text, language) != outcome(reference_speakable, text, language)
    ]
    assert not differ, differ[:5]


def test_the_shipped_paragraphs_reach_every_pass(shipped_paragraphs: list[str]) -> None:
    """The corpus is not all plain prose: each shortcut is taken and skipped on it."""
    for needle in ("%", "(", ","):  # no link or address: the generated texts have them
        assert any(needle in text for text in shipped_paragraphs), needle
    assert any(re.search(r"\d", text) for text in shipped_paragraphs)
    assert any(_PHONE.search(text) for text in shipped_paragraphs)
    changed = [t for t in shipped_paragraphs if reference_speakable(t, "en") != t]
    assert len(changed) > 50


# -- generated strings --------------------------------------------------------------------

PIECES = (
    "0", "1", "7", "12", "21", "249", "1000", "999999", "1234567", "٣", "७", "²",
    "%", " %", "\u00a0%", "50%", "12 %", "1.5", "3,5", "14:30", "2026-11-24", "1/2",
    "LO3921", "+48 600 700 800", "+48", "600-700-800", "0 800 123 456", "123 456 789x",
    "5-", "-", "+", " ", "  ", "\u00a0", "\n", "\t", ".", ",", ";", ":", "!", "?", "/",
    "(", ")", "[", "]", "(see", "here)", "(0)", "( ", " )", "http://", "https://", "www.",
    "example.com", "shop.pl/a?b=1", "anna@example.com", "a.b+c@x-y.co.uk", "@", "@x",
    "x@", "word", "Tomasz", "złotych", "гривень", "п'ять", "at once", ", ,", ",.", ",,",
)  # fmt: skip

texts = st.one_of(
    st.lists(st.sampled_from(PIECES), max_size=24).map("".join),
    st.text(alphabet=st.sampled_from("0123456789٣%(),.@:/+- \u00a0wxyz\n"), max_size=60),
    st.text(max_size=40),
)


@settings(max_examples=1500, deadline=None)
@given(texts, st.sampled_from(LANGUAGES))
@example("Call +48 600 700 800 within 24 hours (or 2 days), 10% off.", "en")
@example("See www.example.com/a, or write to anna@example.com (24h).", "en")
@example("12+48 123 456 789 and 5-1234567 8", "en")
@example("(a (b) c)", "pl")
@example("x ,", "uk")
@example("٣%", "uk")
@example("", "en")
def test_speakable_equals_the_reference_on_generated_text(text: str, language: str) -> None:
    assert outcome(speakable, text, language) == outcome(reference_speakable, text, language)


def test_a_phone_split_holds_the_phones_at_odd_indexes_only() -> None:
    """Why index parity may replace ``fullmatch``: ``split`` of a pattern with one group."""
    text = "12+48 123 456 789 x 600-700-800, 5- 1234567 8 and 1 2 3"
    parts = _PHONE.split(text)
    assert len(parts) > 3
    for index, part in enumerate(parts):
        assert bool(_PHONE.fullmatch(part)) == bool(index % 2), (index, part)


# -- money said in words ------------------------------------------------------------------

CURRENCIES = ("EUR", "PLN", "UAH", "USD", "GBP", "JPY", "CHF", "CZK", "XYZ", "")
amounts = st.one_of(
    st.integers(min_value=-(10**7), max_value=10**7),
    st.decimals(min_value=-100000, max_value=100000, places=3, allow_nan=False),
    st.floats(min_value=-1e6, max_value=1e6, allow_nan=False),
    st.sampled_from([0, 0.0, -0.0, Decimal("0.00"), Decimal("-0.00"), 0.004, -0.004, 1]),
)


@settings(max_examples=600, deadline=None)
@given(amounts, st.sampled_from(CURRENCIES), st.sampled_from(LANGUAGES))
@example(-0.0, "EUR", "en")
@example(0.0, "EUR", "en")
@example(249.99, "UAH", "pl")
@example(1000, "JPY", "uk")
def test_money_words_equals_the_reference_cached_or_not(
    amount: Any, currency: str, language: str
) -> None:
    expected = outcome(reference_money_words, amount, currency, language)
    assert outcome(money_words, amount, currency, language) == expected
    assert outcome(money_words, amount, currency, language) == expected  # from the cache


def test_money_words_caches_by_the_rounded_value_not_zero() -> None:
    spoken._money_said_cached.cache_clear()
    assert money_words(20, "PLN", "pl") == money_words(20.0, "PLN", "pl")
    assert money_words(-0.0, "EUR", "en") == reference_money_words(-0.0, "EUR", "en")
    assert money_words(0, "EUR", "en") == reference_money_words(0, "EUR", "en")
    info = spoken._money_said_cached.cache_info()
    assert (info.hits, info.misses) == (1, 1)
