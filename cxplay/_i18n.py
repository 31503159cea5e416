"""Language, numbers, money, dates, plurals, names and SMS segments for replies.

Everything here is a pure function over plain values; the only state is the
:mod:`functools` caches of Babel ``Locale`` objects and time zones. Number,
currency, date and plural rules all come from Babel (CLDR); this module never
formats a number or picks a plural form by hand. What it does hold by hand is
what CLDR does not have: a small lexicon of nouns (:func:`count`), the formal
greetings of each language (:func:`salutation`) and the GSM 03.38 alphabet.

Languages are the bare codes of :data:`SUPPORTED`. Callers negotiate first
(:func:`negotiate`) and pass the result on; every other function raises
:class:`ValueError` for a language outside :data:`SUPPORTED`.

Formatting locale per language: ``pl`` → ``pl``, ``uk`` → ``uk``, ``en`` → ``en_GB``
(``£120.00``, ``20 November 2026``, ``14:30``; "Ms" without a full stop in
:func:`salutation` follows the same British convention).

Spaces: Babel emits non-breaking spaces where CLDR asks for them -- U+00A0 as
the group separator and before the currency in ``pl``/``uk`` (``1 800,00 грн``),
U+202F (narrow no-break space) before ``р.`` in Ukrainian dates. They are kept on
purpose (an HTML e-mail must not break ``249,99`` from ``zł``); :func:`plain_spaces`
turns them into ordinary spaces for layouts that need them, e.g. SMS, because no
non-breaking space is in the GSM alphabet.

Templates: :func:`register_filters` adds filters and globals to a Jinja
environment. They read the language and time zone from the *template context*
(the variables named by :data:`LANGUAGE_VAR` and :data:`TIMEZONE_VAR`), falling
back to the values given to :func:`register_filters`. So one environment, with
one template cache, serves every language and every customer's time zone:
render with ``template.render(..., language="pl", timezone="Europe/Warsaw")``.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Callable, Mapping, Sequence, Sized
from datetime import date, datetime, timedelta, timezone, tzinfo
from decimal import ROUND_HALF_UP, Decimal
from types import MappingProxyType
from typing import Any, Final
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from babel import Locale
from babel.core import negotiate_locale, parse_locale
from babel.dates import format_date as _babel_date
from babel.dates import format_time as _babel_time
from babel.dates import get_datetime_format
from babel.lists import format_list
from babel.numbers import format_currency, format_decimal, get_currency_symbol, is_currency
from babel.units import format_unit
from jinja2 import Environment, pass_context
from jinja2.runtime import Context
from pydantic import TypeAdapter, ValidationError

from cxplay.models import CHANNELS

__all__ = [
    "CASES",
    "CHANNELS",
    "LANGUAGE_VAR",
    "REGISTERS",
    "SUPPORTED",
    "TIMEZONE_VAR",
    "clean_name",
    "count",
    "format_date",
    "format_datetime",
    "format_duration",
    "format_money",
    "format_time",
    "negotiate",
    "noun_forms",
    "nouns",
    "plain_spaces",
    "plural_category",
    "polish_gender",
    "register_filters",
    "salutation",
    "sign_off",
    "sms_segments",
]

Number = Decimal | float | int

SUPPORTED: Final = ("en", "pl", "uk")
"""The reply languages, as bare ISO 639-1 codes."""

REGISTERS: Final = ("formal", "warm")
"""Registers of address: ``formal`` ("Dear Ms Smith,") and ``warm`` ("Hello Anna,")."""


LANGUAGE_VAR: Final = "language"
"""Template-context variable the filters read the language from."""

TIMEZONE_VAR: Final = "timezone"
"""Template-context variable the filters read the IANA time zone from."""

# --------------------------------------------------------------------------------------
# Languages
# --------------------------------------------------------------------------------------

_BABEL_LOCALE: Final[Mapping[str, str]] = MappingProxyType({"en": "en_GB", "pl": "pl", "uk": "uk"})

# "ua" is not a language code (ISO 639 has none such; UA is Ukraine's country code),
# but CRMs and forms send it for Ukrainian often enough, and it cannot collide with a
# real language, so it is read as "uk". "UK" is *Ukrainian* (tags are case-insensitive),
# never the United Kingdom.
_LANGUAGE_ALIASES: Final[Mapping[str, str]] = MappingProxyType({"ua": "uk"})


def _check_language(language: str) -> str:
    if language not in SUPPORTED:
        raise ValueError(
            f"unsupported language {language!r}; expected one of {', '.join(SUPPORTED)}"
        )
    return language


@functools.cache
def _locale(language: str) -> Locale:
    return Locale.parse(_BABEL_LOCALE[_check_language(language)])


def negotiate(tag: str | None, available: Sequence[str], default: str) -> tuple[str, bool]:
    """Pick the reply language for a customer's language tag.

    Only the language subtag counts: ``pl-PL``, ``pl_PL``, ``PL`` and ``pl-PL.UTF-8``
    all give ``pl``; ``en-GB`` and ``en-US`` give ``en``. ``uk`` (any case) is
    Ukrainian; ``ua``, a common mistake for it, is read as ``uk`` too. A single tag
    is expected; of an ``Accept-Language``-style list only the first entry counts
    (no q-values). This never raises.

    Args:
        tag: The customer's BCP 47 / POSIX language tag, or ``None`` if unknown.
        available: The languages the playbook has templates for, e.g. ``("en", "pl")``.
        default: The playbook's default language, returned when the tag does not match.

    Returns:
        ``(language, fell_back)``. ``fell_back`` is ``True`` when a tag was given but
        its language is not available or the tag cannot be parsed, and ``False``
        when it matched or when no tag was given (nothing was asked for, so nothing
        was refused).
    """
    if tag is None or not tag.strip():
        return default, False
    first = re.split(r"[,;]", tag, maxsplit=1)[0].strip()
    try:
        language, *_ = parse_locale(first.replace("-", "_"), sep="_")
    except (ValueError, TypeError):
        return default, True
    language = language.lower()
    language = _LANGUAGE_ALIASES.get(language, language)
    match = negotiate_locale([language], [a for a in available if a], sep="_")
    if match is None:
        return default, True
    # negotiate_locale answers in the spelling it was asked in; give back the playbook's.
    for candidate in available:
        if candidate and candidate.lower() == match.lower():
            return candidate, False
    return match, False


# --------------------------------------------------------------------------------------
# Spaces
# --------------------------------------------------------------------------------------

# Every character of Unicode category Zs (space separator) except U+0020 itself.
_SPACE_TABLE: Final[Mapping[int, str]] = MappingProxyType(
    {cp: " " for cp in (0x00A0, 0x1680, *range(0x2000, 0x200B), 0x202F, 0x205F, 0x3000)}
)


def plain_spaces(text: str) -> str:
    """Replace every no-break, narrow, thin or other Unicode space by an ordinary space.

    Args:
        text: Text as produced by the formatting functions here.

    Returns:
        The text with every space separator (Unicode category Zs) as U+0020.
        Line breaks and tabs are kept.
    """
    return text.translate(_SPACE_TABLE)


# --------------------------------------------------------------------------------------
# Numbers and money
# --------------------------------------------------------------------------------------

# The contract of the issue is "1 800,00 грн" in Ukrainian; CLDR's symbol for the hryvnia
# in "uk" is "₴". Only the symbol is replaced: the number is still formatted by Babel.
_SYMBOL_OVERRIDES: Final[Mapping[tuple[str, str], str]] = MappingProxyType({("uk", "UAH"): "грн"})


def _as_number(n: Number) -> int | Decimal:
    """Normalise a count so that its plural form and its printed form agree.

    Babel formats ``Decimal("2.0")`` as ``2`` but gives it the plural category of a
    fraction; integral values therefore become ``int``, others ``Decimal``.
    """
    if isinstance(n, bool) or not isinstance(n, (int, float, Decimal)):
        raise TypeError(f"expected a number, got {type(n).__name__}")
    if isinstance(n, int):
        return n
    d = Decimal(repr(n)) if isinstance(n, float) else n
    if not d.is_finite():
        raise ValueError(f"expected a finite number, got {n!r}")
    return int(d) if d == d.to_integral_value() else d


def _needs_currency_space(ch: str) -> bool:
    # CLDR's default currencySpacing: insert U+00A0 between a digit and the currency when
    # the symbol's character next to the number is neither a symbol nor a space
    # ([[:^S:]&[:^Z:]]). Babel does not apply it, so "PLN249.99" would come out.
    return not unicodedata.category(ch).startswith(("S", "Z"))


def _currency_pattern(locale: Locale, symbol: str) -> str:
    pattern: str = locale.currency_formats["standard"].pattern
    literal = "'" + symbol.replace("'", "''") + "'"
    out: list[str] = []
    for i, ch in enumerate(pattern):
        if ch != "¤":
            out.append(ch)
            continue
        before = pattern[i - 1] if i > 0 else ""
        after = pattern[i + 1] if i + 1 < len(pattern) else ""
        if before and before in "#0" and _needs_currency_space(symbol[0]):
            out.append("\u00a0")
        out.append(literal)
        if after and after in "#0" and _needs_currency_space(symbol[-1]):
            out.append("\u00a0")
    return "".join(out)


@functools.lru_cache(maxsize=4096, typed=True)  # pure; replies repeat amounts and counts
def format_money(amount: Number, currency: str, language: str) -> str:
    """Format an amount of money the way the reply's language writes it.

    Babel's standard currency pattern and the currency's own number of decimals,
    with two additions: CLDR's currency spacing (a no-break space between a
    letter-like symbol and the digits, which Babel omits) and the documented
    symbol override ``грн`` for the hryvnia in Ukrainian (CLDR has ``₴``).

    Examples: ``pl``/``PLN``/249.99 → ``249,99 zł``; ``uk``/``UAH``/1800 →
    ``1 800,00 грн``; ``en``/``GBP``/120 → ``£120.00``; ``en``/``PLN``/249.99 →
    ``PLN 249.99``. The spaces are U+00A0 (see :func:`plain_spaces`).

    Args:
        amount: The amount; floats are read by their shortest repr (249.99 stays 249.99).
        currency: An ISO 4217 code, case-insensitive.
        language: One of :data:`SUPPORTED`.

    Returns:
        The formatted amount with its currency symbol.

    Raises:
        ValueError: For an unknown currency code or an unsupported language.
    """
    locale = _locale(language)
    code = currency.strip().upper()
    if not is_currency(code):
        raise ValueError(f"unknown currency code {currency!r} (expected ISO 4217, e.g. PLN)")
    symbol = _SYMBOL_OVERRIDES.get((language, code)) or get_currency_symbol(code, locale)
    pattern = _currency_pattern(locale, symbol)
    value = Decimal(repr(amount)) if isinstance(amount, float) else amount
    return format_currency(value, code, format=pattern, locale=locale)


# --------------------------------------------------------------------------------------
# Plurals and the noun lexicon
# --------------------------------------------------------------------------------------


@functools.lru_cache(maxsize=4096, typed=True)  # pure; replies repeat amounts and counts
def plural_category(n: Number, language: str) -> str:
    """Return the CLDR plural category of a number in a language.

    Integral floats and decimals (``2.0``) count as integers, because that is how
    they are printed; other fractions are ``"other"`` in all three languages.

    Args:
        n: The number.
        language: One of :data:`SUPPORTED`.

    Returns:
        ``"one"``, ``"few"``, ``"many"`` or ``"other"`` (``en`` has only ``one``/``other``).
    """
    category: str = _locale(language).plural_form(_as_number(n))
    return category


def _forms(**by_language: tuple[str, ...]) -> Mapping[str, Mapping[str, str]]:
    categories = {"en": ("one", "other"), "pl": ("one", "few", "many", "other")}
    categories["uk"] = categories["pl"]
    return MappingProxyType(
        {
            lang: MappingProxyType(dict(zip(categories[lang], words, strict=True)))
            for lang, words in by_language.items()
        }
    )


# The form a noun takes right after a numeral, for every CLDR category of the language:
# en (one, other); pl and uk (one: 1, 21 uk; few: 2-4, 22-24; many: 0, 5-20, 25;
# other: fractions -- "1,5 dnia", "1,5 дня"). Only nouns CX replies count.
_NOUNS: Final[Mapping[str, Mapping[str, Mapping[str, str]]]] = MappingProxyType(
    {
        "day": _forms(
            en=("day", "days"),
            pl=("dzień", "dni", "dni", "dnia"),
            uk=("день", "дні", "днів", "дня"),
        ),
        "working_day": _forms(
            en=("working day", "working days"),
            pl=("dzień roboczy", "dni robocze", "dni roboczych", "dnia roboczego"),
            uk=("робочий день", "робочі дні", "робочих днів", "робочого дня"),
        ),
        "hour": _forms(
            en=("hour", "hours"),
            pl=("godzina", "godziny", "godzin", "godziny"),
            uk=("година", "години", "годин", "години"),
        ),
        "minute": _forms(
            en=("minute", "minutes"),
            pl=("minuta", "minuty", "minut", "minuty"),
            uk=("хвилина", "хвилини", "хвилин", "хвилини"),
        ),
        "week": _forms(
            en=("week", "weeks"),
            pl=("tydzień", "tygodnie", "tygodni", "tygodnia"),
            uk=("тиждень", "тижні", "тижнів", "тижня"),
        ),
        "night": _forms(
            en=("night", "nights"),
            pl=("noc", "noce", "nocy", "nocy"),
            uk=("ніч", "ночі", "ночей", "ночі"),
        ),
        "order": _forms(
            en=("order", "orders"),
            pl=("zamówienie", "zamówienia", "zamówień", "zamówienia"),
            uk=("замовлення", "замовлення", "замовлень", "замовлення"),
        ),
        "parcel": _forms(
            en=("parcel", "parcels"),
            pl=("paczka", "paczki", "paczek", "paczki"),
            uk=("посилка", "посилки", "посилок", "посилки"),
        ),
        "item": _forms(
            en=("item", "items"),
            pl=("produkt", "produkty", "produktów", "produktu"),
            uk=("товар", "товари", "товарів", "товару"),
        ),
        "seat": _forms(
            en=("seat", "seats"),
            pl=("miejsce", "miejsca", "miejsc", "miejsca"),
            uk=("місце", "місця", "місць", "місця"),
        ),
        "ticket": _forms(
            en=("ticket", "tickets"),
            pl=("bilet", "bilety", "biletów", "biletu"),
            uk=("квиток", "квитки", "квитків", "квитка"),
        ),
        "voucher": _forms(
            en=("voucher", "vouchers"),
            pl=("voucher", "vouchery", "voucherów", "vouchera"),
            uk=("ваучер", "ваучери", "ваучерів", "ваучера"),
        ),
        "segment": _forms(
            en=("segment", "segments"),
            pl=("segment", "segmenty", "segmentów", "segmentu"),
            uk=("сегмент", "сегменти", "сегментів", "сегмента"),
        ),
    }
)


# Time nouns after a preposition: the genitive ("w ciągu 2 godzin", "протягом 2 годин")
# and the accusative ("za 1 godzinę", "через 1 годину"), by CLDR category as above.
# The nominative is _NOUNS. English has no case here.
CASES: Final = ("nom", "gen", "acc")
_CASE_FORMS: Final[Mapping[str, Mapping[str, Mapping[str, Mapping[str, str]]]]] = MappingProxyType(
    {
        "gen": MappingProxyType(
            {
                "day": _forms(pl=("dnia", "dni", "dni", "dnia"), uk=("дня", "днів", "днів", "дня")),
                "working_day": _forms(
                    pl=("dnia roboczego", "dni roboczych", "dni roboczych", "dnia roboczego"),
                    uk=("робочого дня", "робочих днів", "робочих днів", "робочого дня"),
                ),
                "hour": _forms(
                    pl=("godziny", "godzin", "godzin", "godziny"),
                    uk=("години", "годин", "годин", "години"),
                ),
                "minute": _forms(
                    pl=("minuty", "minut", "minut", "minuty"),
                    uk=("хвилини", "хвилин", "хвилин", "хвилини"),
                ),
                "week": _forms(
                    pl=("tygodnia", "tygodni", "tygodni", "tygodnia"),
                    uk=("тижня", "тижнів", "тижнів", "тижня"),
                ),
            }
        ),
        "acc": MappingProxyType(
            {
                "day": _forms(
                    pl=("dzień", "dni", "dni", "dnia"), uk=("день", "дні", "днів", "дня")
                ),
                "working_day": _forms(
                    pl=("dzień roboczy", "dni robocze", "dni roboczych", "dnia roboczego"),
                    uk=("робочий день", "робочі дні", "робочих днів", "робочого дня"),
                ),
                "hour": _forms(
                    pl=("godzinę", "godziny", "godzin", "godziny"),
                    uk=("годину", "години", "годин", "години"),
                ),
                "minute": _forms(
                    pl=("minutę", "minuty", "minut", "minuty"),
                    uk=("хвилину", "хвилини", "хвилин", "хвилини"),
                ),
                "week": _forms(
                    pl=("tydzień", "tygodnie", "tygodni", "tygodnia"),
                    uk=("тиждень", "тижні", "тижнів", "тижня"),
                ),
            }
        ),
    }
)


def nouns() -> tuple[str, ...]:
    """Return the nouns :func:`count` knows, sorted."""
    return tuple(sorted(_NOUNS))


def noun_forms(noun: str, language: str) -> Mapping[str, str]:
    """Return a noun's form for each plural category of a language.

    Args:
        noun: One of :func:`nouns`.
        language: One of :data:`SUPPORTED`.

    Returns:
        A read-only mapping from CLDR category to the noun's form.

    Raises:
        ValueError: For an unknown noun (the message lists the known ones) or language.
    """
    _check_language(language)
    try:
        return _NOUNS[noun][language]
    except KeyError:
        raise ValueError(f"unknown noun {noun!r}; known nouns: {', '.join(nouns())}") from None


@functools.lru_cache(maxsize=4096, typed=True)  # pure; replies repeat amounts and counts
def count(n: Number, noun: str, language: str, case: str = "nom") -> str:
    """Write a number followed by a noun in the matching plural form.

    ``count(2, "day", "pl")`` → ``2 dni``; ``count(21, "day", "uk")`` → ``21 день``;
    ``count(1.5, "hour", "pl")`` → ``1,5 godziny``. The number is formatted by Babel
    (group separators are U+00A0); number and noun are joined by an ordinary space.
    The noun is in the form used right after a numeral (nominative/accusative).

    Args:
        n: The number.
        noun: One of :func:`nouns`, e.g. ``"day"``, ``"working_day"``, ``"parcel"``.
        language: One of :data:`SUPPORTED`.
        case: ``nom`` (right after the numeral), or for the time nouns (day,
            working_day, hour, minute, week) ``gen`` (after "w ciągu", "протягом":
            ``w ciągu 2 godzin``) or ``acc`` (after "za", "через": ``za 1 godzinę``).
            English ignores it.

    Returns:
        The counted phrase.

    Raises:
        ValueError: For an unknown noun (the message lists the known ones) or language.
    """
    forms = _case_forms(noun, language, case)
    value = _as_number(n)
    number = format_decimal(value, locale=_locale(language))
    return f"{number} {forms[plural_category(value, language)]}"


def _case_forms(noun: str, language: str, case: str) -> Mapping[str, str]:
    if case == "nom" or language == "en":
        if case not in CASES:
            raise ValueError(f"unknown case {case!r}; one of {', '.join(CASES)}")
        return noun_forms(noun, language)
    table = _CASE_FORMS.get(case)
    if table is None:
        raise ValueError(f"unknown case {case!r}; one of {', '.join(CASES)}")
    by_language = table.get(noun)
    if by_language is None:
        raise ValueError(f"case {case!r} is known for {', '.join(table)}, not {noun!r}")
    return by_language[_check_language(language)]


# --------------------------------------------------------------------------------------
# Dates, times and durations
# --------------------------------------------------------------------------------------


@functools.lru_cache(maxsize=256)
def _zone(name: str) -> tzinfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, TypeError, OSError):
        return timezone.utc


def _localize(dt: datetime, tz: str | None) -> datetime:
    if not isinstance(dt, datetime):
        raise TypeError(f"expected a datetime, got {type(dt).__name__}")
    if dt.tzinfo is None or dt.utcoffset() is None:
        dt = dt.replace(tzinfo=timezone.utc)
    return dt if tz is None else dt.astimezone(_zone(tz))


def format_date(dt: date | datetime, language: str, tz: str | None = None) -> str:
    """Format a calendar date in the language's long form.

    ``20 listopada 2026``, ``20 листопада 2026 р.`` (U+202F before ``р.``),
    ``20 November 2026``.

    Args:
        dt: A datetime (naive means UTC), or a plain date (then ``tz`` is ignored).
        language: One of :data:`SUPPORTED`.
        tz: The customer's IANA time zone, e.g. ``"Europe/Kyiv"``; the date is the
            one on the customer's calendar. ``None`` keeps the datetime's own offset;
            an unknown name means UTC.

    Returns:
        The formatted date.
    """
    day = _localize(dt, tz).date() if isinstance(dt, datetime) else dt
    if not isinstance(day, date):
        raise TypeError(f"expected a date or datetime, got {type(dt).__name__}")
    return _babel_date(day, "long", locale=_locale(language))


def format_time(dt: datetime, language: str, tz: str | None = None) -> str:
    """Format a time of day in the language's short form (``14:30`` in all three).

    Args:
        dt: A datetime; naive means UTC.
        language: One of :data:`SUPPORTED`.
        tz: The customer's IANA time zone; ``None`` keeps the datetime's own offset,
            an unknown name means UTC.

    Returns:
        The formatted time, without seconds or zone name.
    """
    return _babel_time(_localize(dt, tz), "short", locale=_locale(language))


def format_datetime(dt: datetime, language: str, tz: str | None = None) -> str:
    """Format a date and time: the long date and the short time, joined by CLDR.

    ``20 listopada 2026 10:15``, ``20 листопада 2026 р., 10:15``,
    ``20 November 2026, 10:15`` -- the joining pattern is the locale's long
    date-time pattern, as Babel's own ``format_datetime`` uses it.

    Args:
        dt: A datetime; naive means UTC.
        language: One of :data:`SUPPORTED`.
        tz: The customer's IANA time zone; ``None`` keeps the datetime's own offset,
            an unknown name means UTC.

    Returns:
        The formatted date and time.
    """
    local = _localize(dt, tz)
    locale = _locale(language)
    pattern = str(get_datetime_format("long", locale=locale))
    return (
        pattern.replace("'", "")
        .replace("{0}", format_time(local, language))
        .replace("{1}", format_date(local, language))
    )


_DURATION: Final = TypeAdapter(timedelta)


def _whole_minutes(value: timedelta | Number | str) -> int:
    if isinstance(value, str):  # an ISO 8601 duration, as action parameters carry them
        try:
            value = _DURATION.validate_python(value)
        except ValidationError:
            raise ValueError(f"not an ISO 8601 duration: {value!r}") from None
    if isinstance(value, timedelta):
        minutes, rest = divmod(value, timedelta(minutes=1))
        return int(minutes) + (1 if rest >= timedelta(seconds=30) else 0)
    return int(Decimal(_as_number(value)).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def format_duration(value: timedelta | Number | str, language: str, case: str = "nom") -> str:
    """Write a duration in days, hours and minutes, exactly (not rounded to one unit).

    ``2 godziny``, ``40 minut``, ``1 день``, ``1 hour and 30 minutes``. Unit names
    and plural forms are CLDR's (:func:`babel.units.format_unit`) and the parts are
    joined by the locale's list pattern. Seconds are rounded to the nearest minute;
    zero is ``0 minut`` / ``0 хвилин`` / ``0 minutes``. Unlike Babel's
    ``format_timedelta``, 90 minutes does not become "2 hours": a reply must not
    round a promise.

    Args:
        value: A timedelta, an ISO 8601 duration ("PT2H"), or a number of minutes.
        language: One of :data:`SUPPORTED`.
        case: ``nom``, or ``gen`` / ``acc`` after a preposition (see :func:`count`):
            ``w ciągu 2 godzin``, ``za 1 godzinę``, ``протягом 1 дня``.

    Returns:
        The written duration.

    Raises:
        ValueError: For a negative duration.
    """
    total = _whole_minutes(value)
    if total < 0:
        raise ValueError(f"a duration cannot be negative, got {value!r}")
    locale = _locale(language)
    days, rest = divmod(total, 24 * 60)
    hours, minutes = divmod(rest, 60)
    if case != "nom" and language != "en":
        cased = [
            count(amount, noun, language, case)
            for amount, noun in ((days, "day"), (hours, "hour"), (minutes, "minute"))
            if amount
        ]
        return format_list(cased or [count(0, "minute", language, case)], locale=locale)
    parts = [
        format_unit(amount, unit, length="long", locale=locale)
        for amount, unit in (
            (days, "duration-day"),
            (hours, "duration-hour"),
            (minutes, "duration-minute"),
        )
        if amount
    ]
    if not parts:
        return format_unit(0, "duration-minute", length="long", locale=locale)
    return format_list(parts, style="standard", locale=locale)


# --------------------------------------------------------------------------------------
# Names and address
# --------------------------------------------------------------------------------------

# Characters removed from names: C0/C1 controls (category Cc) and the bidirectional
# embedding/override/isolate controls, which can make a name display as other text.
_BIDI_CONTROLS: Final = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
_WHITESPACE_RUN: Final = re.compile(r"\s+")
_APOSTROPHES: Final = "'\u2019\u02bc"


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


# A first token that is a title rather than a given name: then nothing is declined.
_TITLES: Final = frozenset(
    {
        "mr",
        "mrs",
        "ms",
        "miss",
        "mx",
        "dr",
        "prof",
        "sir",
        "dame",
        "pan",
        "pani",
        "państwo",
        "mgr",
        "inż",
        "пан",
        "пані",
        "панове",
        "д-р",
        "проф",
    }
)

# -- Polish ---------------------------------------------------------------------------

_PL_LETTERS: Final = frozenset("abcdefghijklmnopqrstuvwxyząćęłńóśźż")

# Vocatives of common male first names. Male vocatives are irregular (Piotr → Piotrze,
# Marek → Marku, Paweł → Pawle), so only names listed here are declined.
_PL_MALE: Final[Mapping[str, str]] = MappingProxyType(
    {
        "Adam": "Adamie",
        "Adrian": "Adrianie",
        "Albert": "Albercie",
        "Aleksander": "Aleksandrze",
        "Andrzej": "Andrzeju",
        "Antoni": "Antoni",
        "Arkadiusz": "Arkadiuszu",
        "Artur": "Arturze",
        "Bartłomiej": "Bartłomieju",
        "Bartosz": "Bartoszu",
        "Bogdan": "Bogdanie",
        "Bogusław": "Bogusławie",
        "Bolesław": "Bolesławie",
        "Cezary": "Cezary",
        "Czesław": "Czesławie",
        "Damian": "Damianie",
        "Daniel": "Danielu",
        "Dariusz": "Dariuszu",
        "Dawid": "Dawidzie",
        "Dominik": "Dominiku",
        "Edward": "Edwardzie",
        "Emil": "Emilu",
        "Eugeniusz": "Eugeniuszu",
        "Filip": "Filipie",
        "Franciszek": "Franciszku",
        "Gabriel": "Gabrielu",
        "Grzegorz": "Grzegorzu",
        "Henryk": "Henryku",
        "Hubert": "Hubercie",
        "Ignacy": "Ignacy",
        "Igor": "Igorze",
        "Ireneusz": "Ireneuszu",
        "Jacek": "Jacku",
        "Jakub": "Jakubie",
        "Jan": "Janie",
        "Janusz": "Januszu",
        "Jarosław": "Jarosławie",
        "Jerzy": "Jerzy",
        "Józef": "Józefie",
        "Julian": "Julianie",
        "Kacper": "Kacprze",
        "Kamil": "Kamilu",
        "Karol": "Karolu",
        "Kazimierz": "Kazimierzu",
        "Konrad": "Konradzie",
        "Krystian": "Krystianie",
        "Krzysztof": "Krzysztofie",
        "Leon": "Leonie",
        "Leszek": "Leszku",
        "Łukasz": "Łukaszu",
        "Maciej": "Macieju",
        "Marcin": "Marcinie",
        "Marek": "Marku",
        "Marian": "Marianie",
        "Mariusz": "Mariuszu",
        "Mateusz": "Mateuszu",
        "Michał": "Michale",
        "Mieczysław": "Mieczysławie",
        "Mikołaj": "Mikołaju",
        "Mirosław": "Mirosławie",
        "Norbert": "Norbercie",
        "Oskar": "Oskarze",
        "Patryk": "Patryku",
        "Paweł": "Pawle",
        "Piotr": "Piotrze",
        "Przemysław": "Przemysławie",
        "Radosław": "Radosławie",
        "Rafał": "Rafale",
        "Robert": "Robercie",
        "Roman": "Romanie",
        "Ryszard": "Ryszardzie",
        "Sebastian": "Sebastianie",
        "Sławomir": "Sławomirze",
        "Stanisław": "Stanisławie",
        "Stefan": "Stefanie",
        "Szymon": "Szymonie",
        "Tadeusz": "Tadeuszu",
        "Tomasz": "Tomaszu",
        "Waldemar": "Waldemarze",
        "Wiesław": "Wiesławie",
        "Wiktor": "Wiktorze",
        "Witold": "Witoldzie",
        "Władysław": "Władysławie",
        "Włodzimierz": "Włodzimierzu",
        "Wojciech": "Wojciechu",
        "Zbigniew": "Zbigniewie",
        "Zdzisław": "Zdzisławie",
        "Zenon": "Zenonie",
        "Zygmunt": "Zygmuncie",
    }
)

# Names in -a that are (usually) male, Polish or foreign: never read as female.
_PL_MALE_IN_A: Final = frozenset(
    {
        "kuba",
        "barnaba",
        "bonawentura",
        "kosma",
        "jarema",
        "zawisza",
        "dyzma",
        "sasza",
        "misza",
        "nikita",
        "mykyta",
        "mykola",
        "nikola",
        "nicola",
        "luka",
        "luca",
        "andrea",
        "mattia",
        "ilia",
        "ilja",
        "elia",
        "kostia",
        "kuzma",
        "foma",
        "sava",
        "vova",
        "dima",
        "attila",
        "ezra",
        "issa",
        "isa",
        "musa",
        "mustafa",
        "hamza",
        "juda",
        "jona",
        "saba",
    }
)

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

_UK_MALE: Final[Mapping[str, str]] = MappingProxyType(
    {
        "Анатолій": "Анатолію",
        "Андрій": "Андрію",
        "Антон": "Антоне",
        "Артем": "Артеме",
        "Богдан": "Богдане",
        "Борис": "Борисе",
        "Вадим": "Вадиме",
        "Валентин": "Валентине",
        "Валерій": "Валерію",
        "Василь": "Василю",
        "Віктор": "Вікторе",
        "Віталій": "Віталію",
        "Владислав": "Владиславе",
        "Володимир": "Володимире",
        "Геннадій": "Геннадію",
        "Григорій": "Григорію",
        "Данило": "Даниле",
        "Денис": "Денисе",
        "Дмитро": "Дмитре",
        "Євген": "Євгене",
        "Ігор": "Ігорю",
        "Ілля": "Ілле",
        "Іван": "Іване",
        "Кирило": "Кириле",
        "Костянтин": "Костянтине",
        "Леонід": "Леоніде",
        "Максим": "Максиме",
        "Марко": "Марку",
        "Микита": "Микито",
        "Микола": "Миколо",
        "Мирослав": "Мирославе",
        "Михайло": "Михайле",
        "Назар": "Назаре",
        "Олег": "Олегу",
        "Олександр": "Олександре",
        "Олексій": "Олексію",
        "Остап": "Остапе",
        "Павло": "Павле",
        "Петро": "Петре",
        "Роман": "Романе",
        "Ростислав": "Ростиславе",
        "Руслан": "Руслане",
        "Святослав": "Святославе",
        "Сергій": "Сергію",
        "Станіслав": "Станіславе",
        "Степан": "Степане",
        "Тарас": "Тарасе",
        "Федір": "Федоре",
        "Юрій": "Юрію",
        "Яків": "Якове",
        "Ярослав": "Ярославе",
    }
)

# Names in -а/-я that are male or either: not declined as female without a hint.
_UK_MALE_IN_A: Final = frozenset(
    {"лука", "сава", "кузьма", "хома", "олекса", "ярема", "фома", "никита"}
)
_UK_EITHER: Final = frozenset({"саша", "женя", "валя", "слава", "шура"})
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
        raise ValueError(f"unknown {what} {value!r}; expected one of {', '.join(choices)}")
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
    verbatim, never evaluated. The first word is taken as the given name and the
    last as the surname; a name starting with a title ("Dr", "Pani") is not declined.

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

    name = clean_name(customer_name)
    words = name.split(" ") if name else []
    structured = bool(words) and all(_is_namelike(w) for w in words)
    titled = structured and words[0].rstrip(".").lower() in _TITLES

    if language == "en":
        if not name:
            return "Hello,"
        if not structured or titled:
            return _wrap(name, language, letter=letter, formal=formal)
        if letter and formal:
            if hint in ("female", "male") and len(words) > 1:
                title = "Ms" if hint == "female" else "Mr"
                return f"Dear {title} {words[-1]},"
            return f"Dear {name},"
        return _wrap(words[0], language, letter=letter, formal=formal)

    given = words[0] if structured and not titled else None
    address = _pl_address if language == "pl" else _uk_address
    addressed_gender, phrase = address(given, hint)
    if phrase is None and letter and formal and addressed_gender is not None:
        phrase = _BARE_ADDRESS[language][addressed_gender]
    if phrase is None:
        return f"{_HELLO[language]},"
    return _wrap(phrase, language, letter=letter, formal=formal)


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


# --------------------------------------------------------------------------------------
# SMS
# --------------------------------------------------------------------------------------

# 3GPP TS 23.038 default alphabet, and its extension table (ESC + char: 2 septets).
# ESC itself is left out: in text it is a control character, not a letter. There is no
# national shift table for Polish or Ukrainian, so their letters force UCS-2.
_GSM_BASIC: Final = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
_GSM_EXTENSION: Final = frozenset("\f^{}\\[~]|€")
_SMS_LIMITS: Final[Mapping[str, tuple[int, int]]] = MappingProxyType(
    {"GSM-7": (160, 153), "UCS-2": (70, 67)}
)


def _pack(units: Sequence[int], single: int, per_part: int) -> int:
    """Count segments; a character's units are never split across two parts."""
    total = sum(units)
    if total == 0:
        return 0
    if total <= single:
        return 1
    parts, used = 1, 0
    for size in units:
        if used + size > per_part:
            parts, used = parts + 1, 0
        used += size
    return parts


def sms_segments(text: str) -> tuple[int, str]:
    r"""Count the SMS segments a text needs and the encoding it forces.

    GSM-7 when every character is in the GSM 03.38 alphabet (extension characters
    such as ``€ [ ] { } ^ ~ \ |`` take two septets): 160 septets in one segment,
    153 per part of a multipart message. Otherwise UCS-2: 70 UTF-16 code units in
    one segment, 67 per part (an emoji outside the BMP takes two). A character is
    never split between parts, as phones and gateways do. Run :func:`plain_spaces`
    first: a no-break space alone forces UCS-2.

    Args:
        text: The message as it will be sent.

    Returns:
        ``(segments, encoding)`` with encoding ``"GSM-7"`` or ``"UCS-2"``; an empty
        text is ``(0, "GSM-7")``.
    """
    if all(ch in _GSM_BASIC or ch in _GSM_EXTENSION for ch in text):
        encoding = "GSM-7"
        units = [2 if ch in _GSM_EXTENSION else 1 for ch in text]
    else:
        encoding = "UCS-2"
        units = [2 if ord(ch) > 0xFFFF else 1 for ch in text]
    single, per_part = _SMS_LIMITS[encoding]
    return _pack(units, single, per_part), encoding


# --------------------------------------------------------------------------------------
# Jinja
# --------------------------------------------------------------------------------------


def register_filters(
    env: Environment, language: str | None = None, timezone: str | None = None
) -> None:
    """Add cxplay's language-aware filters and globals to a Jinja environment.

    Each filter reads the language from the template context variable
    :data:`LANGUAGE_VAR` (``language``) and the time zone from :data:`TIMEZONE_VAR`
    (``timezone``); where the context has no value (or ``None``) the arguments given
    here apply. One environment therefore serves all languages and time zones, and a
    per-language environment works too (pass ``language`` here).

    Filters: ``amount|money(currency)``, ``dt|date``, ``dt|time``, ``dt|datetime``,
    ``minutes_or_timedelta|duration``, ``n|count(noun)`` (without a noun it is Jinja's
    own ``count``, the length), ``n|plural(one=..., few=..., many=..., other=...)``
    (the form for n's category, else ``other``; returns the word only),
    ``text|plain_spaces``. Globals: ``count(n, noun)``, ``plural(n, ...)``,
    ``salutation(name, salutation=..., gender=..., register=..., channel=...)`` and
    ``sign_off(register)``.

    Args:
        env: The environment (a ``SandboxedEnvironment`` is fine).
        language: Default language when the context has none; one of :data:`SUPPORTED`.
        timezone: Default IANA time zone when the context has none.

    Raises:
        ValueError: For a default language outside :data:`SUPPORTED`.
    """
    if language is not None:
        _check_language(language)
    default_language, default_timezone = language, timezone

    def lang(ctx: Context) -> str:
        value = ctx.get(LANGUAGE_VAR) or default_language
        if not isinstance(value, str):
            raise ValueError(
                f"no reply language: render with {LANGUAGE_VAR}=... or pass language= "
                "to register_filters"
            )
        return _check_language(value)

    def zone(ctx: Context) -> str | None:
        value = ctx.get(TIMEZONE_VAR) or default_timezone
        return value if isinstance(value, str) else None

    @pass_context
    def money(ctx: Context, amount: Number, currency: str) -> str:
        return format_money(amount, currency, lang(ctx))

    @pass_context
    def date_(ctx: Context, dt: date | datetime) -> str:
        return format_date(dt, lang(ctx), zone(ctx))

    @pass_context
    def time_(ctx: Context, dt: datetime) -> str:
        return format_time(dt, lang(ctx), zone(ctx))

    @pass_context
    def datetime_(ctx: Context, dt: datetime) -> str:
        return format_datetime(dt, lang(ctx), zone(ctx))

    @pass_context
    def duration(ctx: Context, value: timedelta | Number | str, case: str = "nom") -> str:
        return format_duration(value, lang(ctx), case)

    @pass_context
    def count_(ctx: Context, value: Any, noun: str | None = None, case: str = "nom") -> str | int:
        if noun is None and isinstance(value, Sized):
            return len(value)  # Jinja's built-in |count, which this name shadows
        if noun is None:
            raise ValueError(f"count needs a noun; known nouns: {', '.join(nouns())}")
        return count(value, noun, lang(ctx), case)

    @pass_context
    def plural(
        ctx: Context,
        n: Number,
        one: str | None = None,
        few: str | None = None,
        many: str | None = None,
        other: str | None = None,
    ) -> str:
        forms = {"one": one, "few": few, "many": many, "other": other}
        chosen = forms.get(plural_category(n, lang(ctx))) or other
        if chosen is None:
            raise ValueError("plural needs at least other=...")
        return chosen

    @pass_context
    def salutation_(ctx: Context, name: str | None, **options: Any) -> str:
        return salutation(name, lang(ctx), **options)

    @pass_context
    def sign_off_(ctx: Context, register: str = "formal") -> str:
        return sign_off(lang(ctx), register)

    filters: dict[str, Callable[..., Any]] = {
        "money": money,
        "date": date_,
        "time": time_,
        "datetime": datetime_,
        "duration": duration,
        "count": count_,
        "plural": plural,
        "plain_spaces": plain_spaces,
    }
    env.filters.update(filters)
    env.globals.update(
        {"count": count_, "plural": plural, "salutation": salutation_, "sign_off": sign_off_}
    )
