"""Tests for cxplay._replies: negotiation, money, dates, plurals, names, SMS, Jinja filters."""

from __future__ import annotations

import math
import unicodedata
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal

import pytest
from babel import Locale
from babel.units import format_unit
from hypothesis import given
from hypothesis import strategies as st
from jinja2 import StrictUndefined
from jinja2.sandbox import SandboxedEnvironment

from cxplay._replies.address import clean_name, salutation, sign_off
from cxplay._replies.filters import register_filters
from cxplay._replies.locale import (
    _SPACE_TABLE,
    SUPPORTED,
    count,
    format_date,
    format_datetime,
    format_duration,
    format_money,
    format_time,
    negotiate,
    noun_forms,
    nouns,
    plain_spaces,
    plural_category,
)
from cxplay._replies.sms import sms_segments

NBSP = "\u00a0"
NNBSP = "\u202f"

# 2026-11-20 09:15 in Warsaw (+01:00) is 10:15 in Kyiv (+02:00) and 08:15 UTC.
INCIDENT_TIME = datetime(2026, 11, 20, 9, 15, tzinfo=timezone(timedelta(hours=1)))


# --------------------------------------------------------------------------------------
# Negotiation
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("tag", "expected"),
    [
        ("pl", ("pl", False)),
        ("pl-PL", ("pl", False)),
        ("pl_PL", ("pl", False)),
        ("PL", ("pl", False)),
        ("pl_PL.UTF-8", ("pl", False)),
        ("en-GB", ("en", False)),
        ("en-US", ("en", False)),
        ("en-UK", ("en", False)),
        ("uk", ("uk", False)),
        ("uk-UA", ("uk", False)),
        ("UK", ("uk", False)),  # tags are case-insensitive: this is Ukrainian
        ("ua", ("uk", False)),  # the common mistake, read as Ukrainian
        ("ua-UA", ("uk", False)),
        ("  pl-PL  ", ("pl", False)),
        ("de", ("en", True)),
        ("de-DE", ("en", True)),
        ("zh-Hant-TW", ("en", True)),
        ("x!!", ("en", True)),
        ("123", ("en", True)),
        ("pl-PL,en;q=0.8", ("pl", False)),  # the first entry of a list
        ("de-DE,pl;q=0.8", ("en", True)),
        ("<script>", ("en", True)),
        (None, ("en", False)),
        ("", ("en", False)),
        ("   ", ("en", False)),
    ],
)
def test_negotiate(tag: str | None, expected: tuple[str, bool]) -> None:
    assert negotiate(tag, SUPPORTED, "en") == expected


def test_negotiate_only_offers_available_languages() -> None:
    assert negotiate("uk-UA", ["en", "pl"], "pl") == ("pl", True)
    assert negotiate("pl", [], "en") == ("en", True)


def test_negotiate_returns_the_playbooks_spelling() -> None:
    assert negotiate("pl-PL", ["EN", "PL"], "EN") == ("PL", False)


@given(st.text(max_size=40))
def test_negotiate_never_raises(tag: str) -> None:
    language, fell_back = negotiate(tag, SUPPORTED, "en")
    assert language in SUPPORTED
    assert isinstance(fell_back, bool)


# --------------------------------------------------------------------------------------
# Money
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("amount", "currency", "language", "expected"),
    [
        (Decimal("249.99"), "PLN", "pl", f"249,99{NBSP}zł"),
        (249.99, "PLN", "pl", f"249,99{NBSP}zł"),
        (1800, "UAH", "uk", f"1{NBSP}800,00{NBSP}грн"),
        (120, "GBP", "en", "£120.00"),
        (Decimal("249.99"), "PLN", "en", f"PLN{NBSP}249.99"),
        (Decimal("249.99"), "pln", "pl", f"249,99{NBSP}zł"),
        (Decimal("-5"), "UAH", "uk", f"-5,00{NBSP}грн"),
        (50, "EUR", "en", "€50.00"),
        (50, "EUR", "pl", f"50,00{NBSP}€"),
        (1800, "JPY", "en", "JP¥1,800"),
    ],
)
def test_format_money(amount: Decimal | float, currency: str, language: str, expected: str) -> None:
    assert format_money(amount, currency, language) == expected


def test_money_as_written_in_the_issue() -> None:
    assert plain_spaces(format_money(Decimal("249.99"), "PLN", "pl")) == "249,99 zł"
    assert plain_spaces(format_money(1800, "UAH", "uk")) == "1 800,00 грн"


def test_format_money_rejects_unknown_currency_and_language() -> None:
    with pytest.raises(ValueError, match="currency"):
        format_money(1, "XYZ", "pl")
    with pytest.raises(ValueError, match="en, pl, uk"):
        format_money(1, "PLN", "de")


def test_plain_spaces_removes_every_unicode_space() -> None:
    text = f"1{NBSP}800{NNBSP}р.\u2009x\u3000y\nz\tw"
    assert plain_spaces(text) == "1 800 р. x y\nz\tw"
    every_space = "".join(chr(c) for c in range(0x110000) if unicodedata.category(chr(c)) == "Zs")
    assert plain_spaces(every_space) == " " * len(every_space)


_ZS = "".join(chr(c) for c in range(0x110000) if unicodedata.category(chr(c)) == "Zs")


@given(st.text(alphabet=st.one_of(st.sampled_from(_ZS + "\n\t\r\x0b\x1c\u200b"), st.characters())))
def test_plain_spaces_is_the_table_translated(text: str) -> None:
    # the pattern replaces exactly what the table maps (it was str.translate)
    assert plain_spaces(text) == text.translate(_SPACE_TABLE)
    # a reply's SMS is folded with split() alone: it takes every space plain_spaces
    # replaces as white space, so the SMS is what it was with plain_spaces first
    assert " ".join(text.split()) == " ".join(plain_spaces(text).split())


# --------------------------------------------------------------------------------------
# Dates and durations
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("language", "day", "time", "both"),
    [
        ("pl", "20 listopada 2026", "10:15", "20 listopada 2026 10:15"),
        ("uk", f"20 листопада 2026{NNBSP}р.", "10:15", f"20 листопада 2026{NNBSP}р., 10:15"),
        ("en", "20 November 2026", "10:15", "20 November 2026, 10:15"),
    ],
)
def test_dates_in_the_customers_time_zone(language: str, day: str, time: str, both: str) -> None:
    assert format_date(INCIDENT_TIME, language, "Europe/Kyiv") == day
    assert format_time(INCIDENT_TIME, language, "Europe/Kyiv") == time
    assert format_datetime(INCIDENT_TIME, language, "Europe/Kyiv") == both


def test_time_zone_handling() -> None:
    assert format_time(INCIDENT_TIME, "pl", "Europe/Warsaw") == "09:15"
    assert format_time(INCIDENT_TIME, "pl", None) == "09:15"  # its own offset
    assert format_time(INCIDENT_TIME, "pl", "Not/AZone") == "08:15"  # unknown: UTC
    assert format_time(INCIDENT_TIME, "pl", "../../etc/passwd") == "08:15"
    naive = datetime(2026, 11, 20, 9, 15)
    assert format_time(naive, "uk", "Europe/Kyiv") == "11:15"  # naive means UTC
    assert format_time(naive, "uk", None) == "09:15"


def test_the_date_is_the_one_on_the_customers_calendar() -> None:
    late = datetime(2026, 11, 20, 23, 30, tzinfo=timezone.utc)
    assert format_date(late, "pl", "Europe/Warsaw") == "21 listopada 2026"
    assert format_date(late, "pl", "UTC") == "20 listopada 2026"
    assert format_date(date(2026, 11, 20), "en", "Pacific/Kiritimati") == "20 November 2026"


def test_dates_reject_non_dates() -> None:
    with pytest.raises(TypeError):
        format_time("2026-11-20T09:15:00", "pl")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        format_date("2026-11-20", "pl")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("value", "language", "expected"),
    [
        (timedelta(hours=2), "pl", "2 godziny"),
        (40, "pl", "40 minut"),
        (timedelta(days=1), "uk", "1 день"),
        (90, "en", "1 hour and 30 minutes"),
        (90, "pl", "1 godzina i 30 minut"),
        (timedelta(days=2, hours=5), "uk", "2 дні і 5 годин"),
        (25, "uk", "25 хвилин"),
        (22 * 60, "pl", "22 godziny"),
        (0, "en", "0 minutes"),
        (timedelta(seconds=29), "pl", "0 minut"),
        (timedelta(seconds=30), "pl", "1 minuta"),
        (Decimal("2.5"), "en", "3 minutes"),
        (1.4, "en", "1 minute"),
    ],
)
def test_format_duration(value: timedelta | int, language: str, expected: str) -> None:
    assert format_duration(value, language) == expected


def test_format_duration_rejects_negative() -> None:
    with pytest.raises(ValueError, match="negative"):
        format_duration(-5, "pl")


# --------------------------------------------------------------------------------------
# Plurals
# --------------------------------------------------------------------------------------

PL_UK_TABLE = [
    # n, pl, uk
    ("day", 0, "0 dni", "0 днів"),
    ("day", 1, "1 dzień", "1 день"),
    ("day", 2, "2 dni", "2 дні"),
    ("day", 5, "5 dni", "5 днів"),
    ("day", 21, "21 dni", "21 день"),
    ("day", 22, "22 dni", "22 дні"),
    ("day", 25, "25 dni", "25 днів"),
    ("hour", 0, "0 godzin", "0 годин"),
    ("hour", 1, "1 godzina", "1 година"),
    ("hour", 2, "2 godziny", "2 години"),
    ("hour", 5, "5 godzin", "5 годин"),
    ("hour", 22, "22 godziny", "22 години"),
    ("hour", 25, "25 godzin", "25 годин"),
    ("minute", 1, "1 minuta", "1 хвилина"),
    ("minute", 2, "2 minuty", "2 хвилини"),
    ("minute", 5, "5 minut", "5 хвилин"),
    ("minute", 12, "12 minut", "12 хвилин"),
    ("working_day", 1, "1 dzień roboczy", "1 робочий день"),
    ("working_day", 2, "2 dni robocze", "2 робочі дні"),
    ("working_day", 5, "5 dni roboczych", "5 робочих днів"),
    ("working_day", 21, "21 dni roboczych", "21 робочий день"),
    ("parcel", 0, "0 paczek", "0 посилок"),
    ("parcel", 1, "1 paczka", "1 посилка"),
    ("parcel", 2, "2 paczki", "2 посилки"),
    ("parcel", 5, "5 paczek", "5 посилок"),
    ("parcel", 22, "22 paczki", "22 посилки"),
    ("parcel", 25, "25 paczek", "25 посилок"),
    ("ticket", 1, "1 bilet", "1 квиток"),
    ("ticket", 3, "3 bilety", "3 квитки"),
    ("ticket", 11, "11 biletów", "11 квитків"),
    ("order", 1, "1 zamówienie", "1 замовлення"),
    ("order", 5, "5 zamówień", "5 замовлень"),
    ("seat", 2, "2 miejsca", "2 місця"),
    ("seat", 5, "5 miejsc", "5 місць"),
    ("day", 1.5, "1,5 dnia", "1,5 дня"),
    ("hour", Decimal("0.5"), "0,5 godziny", "0,5 години"),
    ("day", 2.0, "2 dni", "2 дні"),  # printed as "2", so counted as 2
    ("day", Decimal("5.00"), "5 dni", "5 днів"),
    ("day", 1800, f"1{NBSP}800 dni", f"1{NBSP}800 днів"),
]


@pytest.mark.parametrize(("noun", "n", "pl", "uk"), PL_UK_TABLE)
def test_count_pl_uk(noun: str, n: int | float | Decimal, pl: str, uk: str) -> None:
    assert count(n, noun, "pl") == pl
    assert count(n, noun, "uk") == uk


@pytest.mark.parametrize(
    ("noun", "n", "expected"),
    [
        ("day", 1, "1 day"),
        ("day", 2, "2 days"),
        ("day", 0, "0 days"),
        ("day", 1.5, "1.5 days"),
        ("working_day", 1, "1 working day"),
        ("working_day", 2, "2 working days"),
        ("voucher", 1, "1 voucher"),
        ("segment", 2, "2 segments"),
    ],
)
def test_count_en(noun: str, n: float, expected: str) -> None:
    assert count(n, noun, "en") == expected


@pytest.mark.parametrize(
    ("n", "pl", "uk", "en"),
    [
        (0, "many", "many", "other"),
        (1, "one", "one", "one"),
        (2, "few", "few", "other"),
        (5, "many", "many", "other"),
        (11, "many", "many", "other"),
        (21, "many", "one", "other"),
        (22, "few", "few", "other"),
        (25, "many", "many", "other"),
        (1.5, "other", "other", "other"),
        (1.0, "one", "one", "one"),
    ],
)
def test_plural_category(n: float, pl: str, uk: str, en: str) -> None:
    assert plural_category(n, "pl") == pl
    assert plural_category(n, "uk") == uk
    assert plural_category(n, "en") == en


def test_count_unknown_noun_names_the_known_ones() -> None:
    with pytest.raises(ValueError, match=r"known nouns: .*day.*parcel"):
        count(2, "dragon", "pl")


def test_count_rejects_non_numbers() -> None:
    with pytest.raises(TypeError):
        count("2", "day", "pl")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        count(True, "day", "pl")
    with pytest.raises(ValueError, match="finite"):
        count(float("nan"), "day", "pl")


@pytest.mark.parametrize("language", SUPPORTED)
@pytest.mark.parametrize("noun", nouns())
def test_lexicon_has_a_form_for_every_cldr_category(noun: str, language: str) -> None:
    forms = noun_forms(noun, language)
    assert set(forms) == set(Locale.parse(language).plural_form.tags) | {"other"}
    assert all(form.strip() == form and form for form in forms.values())
    with pytest.raises(TypeError):
        forms["one"] = "x"  # type: ignore[index]


@pytest.mark.parametrize("language", SUPPORTED)
@pytest.mark.parametrize(
    ("noun", "unit"),
    [
        ("day", "duration-day"),
        ("hour", "duration-hour"),
        ("minute", "duration-minute"),
        ("week", "duration-week"),
        ("night", "duration-night"),
    ],
)
def test_lexicon_agrees_with_cldr_units(noun: str, unit: str, language: str) -> None:
    locale = {"en": "en_GB"}.get(language, language)
    for n in [*range(0, 130), 1.5, Decimal("0.25"), 1001, 1_000_000]:
        assert count(n, noun, language) == format_unit(n, unit, length="long", locale=locale)


# --------------------------------------------------------------------------------------
# Salutations
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("Anna Kowalska", "Szanowna Pani Anno,"),
        ("Katarzyna Nowak", "Szanowna Pani Katarzyno,"),
        ("Maria Nowak", "Szanowna Pani Mario,"),
        ("Kinga Wójcik", "Szanowna Pani Kingo,"),
        ("Alicja Nowak", "Szanowna Pani Alicjo,"),
        ("Maja Nowak", "Szanowna Pani Majo,"),
        ("Ewa Nowak", "Szanowna Pani Ewo,"),
        ("Urszula Nowak", "Szanowna Pani Urszulo,"),
        ("Małgorzata Żak", "Szanowna Pani Małgorzato,"),
        ("Jan Nowak", "Szanowny Panie Janie,"),
        ("Piotr Nowak", "Szanowny Panie Piotrze,"),
        ("Marek Nowak", "Szanowny Panie Marku,"),
        ("Tomasz Nowak", "Szanowny Panie Tomaszu,"),
        ("Paweł Nowak", "Szanowny Panie Pawle,"),
        ("Krzysztof Nowak", "Szanowny Panie Krzysztofie,"),
        ("Andrzej Nowak", "Szanowny Panie Andrzeju,"),
        ("Michał Nowak", "Szanowny Panie Michale,"),
        ("Adam Nowak", "Szanowny Panie Adamie,"),
        # unsure: fall back rather than guess
        ("Kasia Nowak", "Szanowna Pani,"),  # female, but Kasiu is too familiar: no vocative
        ("Ola Nowak", "Szanowna Pani,"),  # likewise Olu
        ("Mika Tanaka", "Dzień dobry,"),  # foreign male names in -a: no gender guessed
        ("Luca", "Dzień dobry,"),
        ("Nikita", "Dzień dobry,"),
        ("ANNA KOWALSKA", "Szanowna Pani Anno,"),  # typed in capitals: normalised
        ("anna nowak", "Szanowna Pani Anno,"),
        ("Kuba", "Dzień dobry,"),  # male
        ("Barnaba", "Dzień dobry,"),
        ("Bonawentura", "Dzień dobry,"),
        ("Nicola", "Dzień dobry,"),
        ("Jessica", "Dzień dobry,"),  # Jessiko? no
        ("Kowalska Anna", "Dzień dobry,"),  # surname first
        ("Kowalska", "Dzień dobry,"),
        ("Zięba", "Dzień dobry,"),  # a lone token is a surname: never "Pani Ziębo"
        ("Олена Коваленко", "Szanowna Pani,"),  # Ołena: Ukrainian rules tell the gender
        ("Pani Anna Zięba", "Szanowna Pani Anno,"),
        ("Zenobiusz", "Dzień dobry,"),  # male, not in the table
        ("Олена", "Dzień dobry,"),  # Cyrillic in a Polish reply
        ("Anna-Maria", "Dzień dobry,"),
        ("Dr Anna Kowalska", "Dzień dobry,"),
        (None, "Dzień dobry,"),
        ("", "Dzień dobry,"),
        ("{{ 7*7 }}", "Dzień dobry,"),
    ],
)
def test_polish_formal_email(name: str | None, expected: str) -> None:
    assert salutation(name, "pl") == expected


@pytest.mark.parametrize(
    ("name", "options", "expected"),
    [
        ("Anna Kowalska", {"channel": "chat"}, "Dzień dobry, Pani Anno,"),
        ("Jan Nowak", {"register": "warm"}, "Dzień dobry, Panie Janie,"),
        ("Jan Nowak", {"channel": "sms"}, "Dzień dobry, Panie Janie,"),
        ("Kasia", {"gender": "female"}, "Szanowna Pani,"),
        ("Kasia", {"gender": "female", "channel": "chat"}, "Dzień dobry,"),
        ("Zenobiusz", {"gender": "male"}, "Szanowny Panie,"),
        ("Miriam Cohen", {"gender": "female"}, "Szanowna Pani Miriam,"),  # indeclinable
        ("Anna", {"gender": "male"}, "Szanowny Panie,"),  # the hint wins over the name
        ("Jan", {"gender": "female"}, "Szanowna Pani,"),
        ("Anna Nowak", {"gender": "FEMALE"}, "Szanowna Pani Anno,"),
        ("Anna Nowak", {"gender": "unknown"}, "Szanowna Pani Anno,"),
        ("Anna", {"gender": "nonbinary"}, "Dzień dobry,"),  # no gendered form at all
        ("Jan", {"gender": "other", "channel": "chat"}, "Dzień dobry,"),
        ("Zenobiusz", {"gender": "other"}, "Dzień dobry,"),
        (None, {"gender": "female"}, "Szanowna Pani,"),
        (None, {"gender": "male", "channel": "chat"}, "Dzień dobry,"),
        ("Anna Kowalska", {"salutation": "Pani Profesor"}, "Szanowna Pani Profesor,"),
        ("Anna Kowalska", {"salutation": "Panie Doktorze"}, "Szanowny Panie Doktorze,"),
        ("Anna Kowalska", {"salutation": "Państwo Kowalscy"}, "Szanowni Państwo Kowalscy,"),
        ("Kasia", {"salutation": "Pani Kasiu", "channel": "chat"}, "Dzień dobry, Pani Kasiu,"),
        ("x", {"salutation": "Szanowna Pani Dyrektor,"}, "Szanowna Pani Dyrektor,"),
        ("x", {"salutation": "Droga Anno"}, "Droga Anno,"),
        ("x", {"salutation": "Kochana Anno"}, "Dzień dobry, Kochana Anno,"),
        ("x", {"salutation": "{{ 7*7 }}"}, "Dzień dobry, {{ 7*7 }},"),
        ("x", {"salutation": "  "}, "Dzień dobry,"),
    ],
)
def test_polish_options(name: str | None, options: dict[str, str], expected: str) -> None:
    assert salutation(name, "pl", **options) == expected


@pytest.mark.parametrize(
    ("name", "options", "expected"),
    [
        ("Олена Коваль", {}, "Шановна пані Олено,"),
        ("Оксана Коваль", {}, "Шановна пані Оксано,"),
        ("Ірина Коваль", {}, "Шановна пані Ірино,"),
        ("Марія Коваль", {}, "Шановна пані Маріє,"),
        ("Наталія Коваль", {}, "Шановна пані Наталіє,"),
        ("Надія Коваль", {}, "Шановна пані Надіє,"),
        ("Оля Коваль", {}, "Шановна пані Олю,"),
        ("Мар'яна Коваль", {}, "Шановна пані Мар'яно,"),
        ("Андрій Шевченко", {}, "Шановний пане Андрію,"),
        ("Тарас Коваль", {}, "Шановний пане Тарасе,"),
        ("Олександр Коваль", {}, "Шановний пане Олександре,"),
        ("Іван Коваль", {}, "Шановний пане Іване,"),
        ("Петро Коваль", {}, "Шановний пане Петре,"),
        ("Микола Коваль", {}, "Шановний пане Миколо,"),
        ("Олена Коваль", {"channel": "chat"}, "Добрий день, пані Олено,"),
        ("Тарас Коваль", {"register": "warm"}, "Добрий день, пане Тарасе,"),
        # unsure: fall back
        ("Olena Kovalenko", {}, "Шановна пані Олено,"),  # the official spelling of Олена
        ("Olha Kowalska", {}, "Добрий день,"),  # w: not a Ukrainian name's spelling
        ("Jan Nowak", {}, "Добрий день,"),  # Latin script: not declined
        ("Сорока", {}, "Добрий день,"),  # a lone token is a surname
        ("Сорока", {"gender": "female"}, "Шановна пані,"),
        ("Маша", {}, "Добрий день,"),  # mixed group
        ("Наталля", {}, "Добрий день,"),
        ("Лука", {}, "Добрий день,"),
        ("Женя", {}, "Добрий день,"),  # either gender
        ("Женя Коваль", {"gender": "female"}, "Шановна пані Женю,"),
        ("Коваленко Олена", {}, "Добрий день,"),
        ("Ковальська", {}, "Добрий день,"),
        ("Любов", {"gender": "female"}, "Шановна пані,"),
        ("Олена Коваль", {"gender": "male"}, "Шановний пане,"),
        ("Олена", {"gender": "nonbinary"}, "Добрий день,"),
        (None, {}, "Добрий день,"),
        (None, {"gender": "female"}, "Шановна пані,"),
        ("Олена Коваль", {"salutation": "пані Оленко"}, "Шановна пані Оленко,"),
        ("x", {"salutation": "пане Тарасе", "channel": "chat"}, "Добрий день, пане Тарасе,"),
        ("x", {"salutation": "Шановні колеги"}, "Шановні колеги,"),
    ],
)
def test_ukrainian(name: str | None, options: dict[str, str], expected: str) -> None:
    assert salutation(name, "uk", **options) == expected


@pytest.mark.parametrize(
    ("name", "options", "expected"),
    [
        ("Anna Kowalska", {}, "Dear Anna Kowalska,"),
        ("Anna Kowalska", {"gender": "female"}, "Dear Ms Kowalska,"),
        ("Jan Nowak", {"gender": "male"}, "Dear Mr Nowak,"),
        ("Okafor", {}, "Hello,"),  # a lone token is a surname, never a first name
        ("Okafor", {"channel": "chat"}, "Hello,"),
        ("Okafor", {"gender": "female"}, "Dear Ms Okafor,"),
        ("Okafor", {"gender": "male", "channel": "chat"}, "Hi Mr Okafor,"),
        ("Mr Okafor", {}, "Dear Mr Okafor,"),
        ("Aoife Ní Bhriain", {"gender": "female"}, "Dear Ms Ní Bhriain,"),
        ("maria van der berg", {"gender": "female"}, "Dear Ms van der Berg,"),
        ("Juan de la Cruz", {"gender": "male"}, "Dear Mr de la Cruz,"),
        ("Dr Aoife Walsh", {}, "Dear Dr Walsh,"),
        ("Sir John Smith", {}, "Dear Sir John,"),
        ("Pani Anna Zięba", {}, "Dear Ms Zięba,"),
        ("Олена Петренко", {}, "Dear Olena Petrenko,"),
        ("Олена Петренко", {"gender": "female"}, "Dear Ms Petrenko,"),
        ("Anna Kowalska", {"gender": "nonbinary"}, "Dear Anna Kowalska,"),
        ("Anna Kowalska", {"register": "warm"}, "Hello Anna,"),
        ("Anna Kowalska", {"channel": "chat"}, "Hi Anna,"),
        ("Anna Kowalska", {"channel": "web_form"}, "Dear Anna Kowalska,"),
        ("Seán O'Neill", {"channel": "chat"}, "Hi Seán,"),
        ("Dr Anna Kowalska", {"channel": "chat"}, "Hi Dr Kowalska,"),
        ("Олена Коваль", {"channel": "chat"}, "Hi Olena,"),
        (None, {}, "Hello,"),
        (None, {"channel": "chat"}, "Hello,"),
        ("Anna", {"salutation": "Ms Smith"}, "Dear Ms Smith,"),
        ("Anna", {"salutation": "Ms Smith", "channel": "chat"}, "Hi Ms Smith,"),
    ],
)
def test_english(name: str | None, options: dict[str, str], expected: str) -> None:
    assert salutation(name, "en", **options) == expected


@pytest.mark.parametrize(
    "name",
    ["{{ 7*7 }}", "<script>alert(1)</script>", "{% for x in y %}", "Robert'); DROP TABLE--"],
)
def test_hostile_names_come_back_verbatim(name: str) -> None:
    assert salutation(name, "en") == f"Dear {name},"
    assert salutation(name, "en", channel="chat") == f"Hi {name},"
    assert salutation(name, "pl") == "Dzień dobry,"
    assert salutation(name, "uk") == "Добрий день,"


def test_names_lose_control_characters_only() -> None:
    assert clean_name("Anna\u202e\r\n  Kowalska\x00\x1b") == "Anna Kowalska"
    assert clean_name("  Zoë  d'Arc ") == "Zoë d'Arc"
    assert clean_name(None) == ""
    assert salutation("Anna\nBcc: x@example.com", "en") == "Dear Anna Bcc: x@example.com,"


def test_salutation_rejects_unknown_options() -> None:
    with pytest.raises(ValueError, match="register"):
        salutation("Anna", "pl", register="casual")
    with pytest.raises(ValueError, match="channel"):
        salutation("Anna", "pl", channel="fax")
    with pytest.raises(ValueError, match="language"):
        salutation("Anna", "de")


def test_sign_off() -> None:
    assert sign_off("en") == "Kind regards,"
    assert sign_off("en", "warm") == "Best wishes,"
    assert sign_off("pl") == "Z wyrazami szacunku,"
    assert sign_off("pl", "warm") == "Pozdrawiamy serdecznie,"
    assert sign_off("uk") == "З повагою,"
    with pytest.raises(ValueError):
        sign_off("pl", "casual")


# --------------------------------------------------------------------------------------
# SMS
# --------------------------------------------------------------------------------------

GSM_EXTENSION = "\f^{}\\[~]|€"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", (0, "GSM-7")),
        ("a" * 160, (1, "GSM-7")),
        ("a" * 161, (2, "GSM-7")),
        ("a" * 306, (2, "GSM-7")),
        ("a" * 307, (3, "GSM-7")),
        ("ą" * 70, (1, "UCS-2")),
        ("ą" * 71, (2, "UCS-2")),
        ("ą" * 134, (2, "UCS-2")),
        ("ą" * 135, (3, "UCS-2")),
        ("Zażółć gęślą jaźń", (1, "UCS-2")),
        ("Добрий день", (1, "UCS-2")),
        ("€" * 80, (1, "GSM-7")),  # 160 septets
        ("€" * 81, (2, "GSM-7")),
        ("a" * 159 + "[", (2, "GSM-7")),
        ("a" * 152 + "€" + "a" * 10, (2, "GSM-7")),
        ("a" * 152 + "€" * 77, (3, "GSM-7")),  # the € is not split between parts
        ("😀" * 35, (1, "UCS-2")),  # 70 UTF-16 code units
        ("😀" * 36, (2, "UCS-2")),
        ("ą" + "😀" * 34, (1, "UCS-2")),  # 69 code units
        ("a" * 66 + "😀" + "a" * 66, (3, "UCS-2")),  # the emoji moves to part 2
        (f"Zwrot 249,99{NBSP}zł", (1, "UCS-2")),
        ("Refund £120.00 @ 14:30", (1, "GSM-7")),
        ("naïve café", (1, "UCS-2")),  # ï is not in GSM 03.38; é is
        ("café", (1, "GSM-7")),
    ],
)
def test_sms_segments(text: str, expected: tuple[int, str]) -> None:
    assert sms_segments(text) == expected


def test_sms_after_plain_spaces() -> None:
    text = f"Refund {format_money(120, 'GBP', 'en')}, {count(2, 'day', 'en')}"
    assert sms_segments(text) == (1, "GSM-7")
    assert sms_segments(f"a{NBSP}b") == (1, "UCS-2")
    assert sms_segments(plain_spaces(f"a{NBSP}b")) == (1, "GSM-7")


GSM_BASIC = (
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
sms_text = st.text(
    alphabet=st.one_of(
        st.sampled_from(GSM_BASIC + GSM_EXTENSION),
        st.sampled_from("ąęłżźćńóśАБВґєїі😀🇵🇱\u00a0\x1b"),
        st.characters(),
    ),
    max_size=400,
)


@given(sms_text)
def test_sms_segments_is_consistent_with_length_and_encoding(text: str) -> None:
    segments, encoding = sms_segments(text)
    gsm = set(GSM_BASIC + GSM_EXTENSION)
    assert (encoding == "UCS-2") == any(ch not in gsm for ch in text)
    if encoding == "GSM-7":
        units = sum(2 if ch in GSM_EXTENSION else 1 for ch in text)
        single, per_part = 160, 153
    else:
        units = len(text.encode("utf-16-le", "surrogatepass")) // 2
        single, per_part = 70, 67
    if not text:
        assert segments == 0
    elif units <= single:
        assert segments == 1
    else:
        # Each part holds at most per_part units and wastes at most one (a character
        # of two units is never split).
        assert math.ceil(units / per_part) <= segments <= math.ceil(units / (per_part - 1))


@given(sms_text, sms_text)
def test_sms_segments_never_decrease_when_text_grows(a: str, b: str) -> None:
    assert sms_segments(a + b)[0] >= sms_segments(a)[0]


def _segments_char_by_char(text: str) -> tuple[int, str]:
    """The count as a gateway makes it: a character's units at a time, never split."""
    gsm = set(GSM_BASIC + GSM_EXTENSION)
    encoding = "GSM-7" if all(ch in gsm for ch in text) else "UCS-2"
    if encoding == "GSM-7":
        units = [2 if ch in GSM_EXTENSION else 1 for ch in text]
        single, per_part = 160, 153
    else:
        units = [len(ch.encode("utf-16-le", "surrogatepass")) // 2 for ch in text]
        single, per_part = 70, 67
    if sum(units) <= single:
        return min(sum(units), 1), encoding
    parts, used = 1, 0
    for size in units:
        if used + size > per_part:
            parts, used = parts + 1, 0
        used += size
    return parts, encoding


@given(sms_text)
def test_sms_segments_counts_exactly_as_char_by_char_packing(text: str) -> None:
    # the count searches the text with patterns (not a test per character): it must
    # still be the exact packing, not only within the bounds above
    assert sms_segments(text) == _segments_char_by_char(text)
    long = text * (1 + 400 // max(len(text), 1))  # multipart, with and without wide chars
    assert sms_segments(long) == _segments_char_by_char(long)


@pytest.mark.parametrize("char", sorted(set(GSM_BASIC + GSM_EXTENSION + "ąЖ\x1b\u00a0😀\ud83d")))
def test_sms_segments_of_every_alphabet_character(char: str) -> None:
    # each character of the alphabets (the patterns' escapes: - ^ ] \\ \n \r \f), and a few
    # outside them (a lone surrogate is one UTF-16 unit), alone and 161 times
    for text in (char, char * 161):
        assert sms_segments(text) == _segments_char_by_char(text)


# --------------------------------------------------------------------------------------
# Jinja
# --------------------------------------------------------------------------------------


@pytest.fixture
def env() -> SandboxedEnvironment:
    environment = SandboxedEnvironment(undefined=StrictUndefined, autoescape=False)
    register_filters(environment)
    return environment


def test_one_environment_serves_every_language(env: SandboxedEnvironment) -> None:
    template = env.from_string(
        "{{ salutation(name) }} {{ amount|money(currency) }}; {{ when|date }} {{ when|time }};"
        " {{ 5|count('day') }}; {{ 90|duration }}; {{ sign_off() }}"
    )
    common = {"when": INCIDENT_TIME, "timezone": "Europe/Kyiv"}
    pl = template.render(
        language="pl", name="Anna Kowalska", amount=Decimal("249.99"), currency="PLN", **common
    )
    uk = template.render(language="uk", name="Олена Коваль", amount=1800, currency="UAH", **common)
    en = template.render(language="en", name="Anna Kowalska", amount=120, currency="GBP", **common)
    assert plain_spaces(pl) == (
        "Szanowna Pani Anno, 249,99 zł; 20 listopada 2026 10:15; 5 dni;"
        " 1 godzina i 30 minut; Z wyrazami szacunku,"
    )
    assert plain_spaces(uk) == (
        "Шановна пані Олено, 1 800,00 грн; 20 листопада 2026 р. 10:15; 5 днів;"
        " 1 година і 30 хвилин; З повагою,"
    )
    assert en == (
        "Dear Anna Kowalska, £120.00; 20 November 2026 10:15; 5 days;"
        " 1 hour and 30 minutes; Kind regards,"
    )


def test_plural_filter_and_global(env: SandboxedEnvironment) -> None:
    template = env.from_string(
        "{% for n in [1, 2, 5, 22, 25, 1.5] %}{{ n }} "
        "{{ n|plural(one='godzina', few='godziny', many='godzin', other='godziny') }}|"
        "{% endfor %}{{ plural(3, one='day', other='days') }}"
    )
    assert template.render(language="pl") == (
        "1 godzina|2 godziny|5 godzin|22 godziny|25 godzin|1.5 godziny|days"
    )
    assert env.from_string("{{ 2|plural(one='x', other='y') }}").render(language="pl") == "y"


def test_count_filter_keeps_jinjas_length_meaning(env: SandboxedEnvironment) -> None:
    template = env.from_string("{{ items|count }} {{ count(2, 'parcel') }}")
    assert template.render(items=[1, 2, 3], language="uk") == "3 2 посилки"


def test_defaults_given_at_registration() -> None:
    environment = SandboxedEnvironment(undefined=StrictUndefined)
    register_filters(environment, "uk", "Europe/Kyiv")
    template = environment.from_string("{{ when|datetime }} {{ 21|count('day') }}")
    assert plain_spaces(template.render(when=INCIDENT_TIME)) == (
        "20 листопада 2026 р., 10:15 21 день"
    )
    # The context still wins over the registration defaults.
    assert template.render(when=INCIDENT_TIME, language="en", timezone="UTC") == (
        "20 November 2026, 08:15 21 days"
    )


def test_filters_without_a_language_fail_clearly(env: SandboxedEnvironment) -> None:
    with pytest.raises(ValueError, match="no reply language"):
        env.from_string("{{ 2|count('day') }}").render()
    with pytest.raises(ValueError, match="unsupported language 'pl-PL'"):
        env.from_string("{{ 2|count('day') }}").render(language="pl-PL")
    with pytest.raises(ValueError, match="en, pl, uk"):
        register_filters(SandboxedEnvironment(), "de")


def test_customer_text_is_not_evaluated(env: SandboxedEnvironment) -> None:
    template = env.from_string("{{ salutation(name, channel='chat') }} {{ note }}")
    out = template.render(language="en", name="{{ 7*7 }}", note="{% raw %}<b>")
    assert out == "Hi {{ 7*7 }}, {% raw %}<b>"


@pytest.mark.parametrize(
    ("value", "language", "case", "expected"),
    [
        ("PT1H", "pl", "gen", "1 godziny"),
        ("PT2H", "pl", "gen", "2 godzin"),
        ("PT22H", "pl", "gen", "22 godzin"),
        ("PT1H", "pl", "acc", "1 godzinę"),
        ("PT2H", "pl", "acc", "2 godziny"),
        ("PT5H", "pl", "acc", "5 godzin"),
        ("P1D", "pl", "gen", "1 dnia"),
        ("PT90M", "pl", "gen", "1 godziny i 30 minut"),
        ("PT1H", "uk", "gen", "1 години"),
        ("PT5H", "uk", "gen", "5 годин"),
        ("P21D", "uk", "gen", "21 дня"),
        ("PT21M", "uk", "acc", "21 хвилину"),
        ("PT2M", "uk", "acc", "2 хвилини"),
        ("PT2H", "en", "gen", "2 hours"),
    ],
)
def test_durations_after_prepositions(value: str, language: str, case: str, expected: str) -> None:
    assert format_duration(value, language, case) == expected


def test_count_cases_and_errors() -> None:
    assert count(2, "working_day", "pl", "gen") == "2 dni roboczych"
    assert count(1, "week", "uk", "acc") == "1 тиждень"
    with pytest.raises(ValueError, match="case 'gen' is known for"):
        count(2, "parcel", "pl", "gen")
    with pytest.raises(ValueError, match="unknown case"):
        count(2, "day", "pl", "dat")
