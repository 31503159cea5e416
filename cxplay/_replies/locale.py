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
from collections.abc import Mapping, Sequence
from datetime import date, datetime, timedelta, timezone, tzinfo
from decimal import ROUND_HALF_UP, Decimal
from types import MappingProxyType
from typing import Final
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from babel import Locale
from babel.core import negotiate_locale, parse_locale
from babel.dates import DateTimePattern, get_datetime_format, get_time_format, parse_pattern
from babel.dates import format_date as _babel_date
from babel.lists import format_list
from babel.numbers import format_currency, format_decimal, get_currency_symbol, is_currency
from babel.units import format_unit
from pydantic import TypeAdapter, ValidationError

from cxplay._common.instants import span_micros
from cxplay._common.lazy import lazy_pattern
from cxplay._common.text import echo
from cxplay._common.toml import read_package_toml
from cxplay.models import CHANNELS

__all__ = [
    "CASES",
    "CHANNELS",
    "LANGUAGE_VAR",
    "REGISTERS",
    "SUPPORTED",
    "TIMEZONE_VAR",
    "count",
    "format_date",
    "format_datetime",
    "format_deadline",
    "format_duration",
    "format_money",
    "format_time",
    "negotiate",
    "noun_forms",
    "nouns",
    "plain_spaces",
    "plural_category",
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
            f"unsupported language {echo(language)}; expected one of {', '.join(SUPPORTED)}"
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
    return _negotiate(tag, tuple(available), default)


@functools.lru_cache(maxsize=1024)
def _negotiate(tag: str, available: tuple[str, ...], default: str) -> tuple[str, bool]:
    """:func:`negotiate` for a tag given: a pure function of a few tags, asked per reply."""
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
    # a pattern, not str.translate: translate looks every character up in the table, a
    # Polish or Ukrainian SMS's 150 characters five times slower than the pattern's search
    return _SPACES.sub(" ", text)


_SPACES: Final = lazy_pattern(
    globals(), "_SPACES", "[" + "".join(chr(cp) for cp in sorted(_SPACE_TABLE)) + "]"
)


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
        raise ValueError(f"expected a finite number, got {echo(n)}")
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
        raise ValueError(f"unknown currency code {echo(currency)} (expected ISO 4217, e.g. PLN)")
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


_CATEGORIES: Final[Mapping[str, tuple[str, ...]]] = MappingProxyType(
    {
        "en": ("one", "other"),
        "pl": ("one", "few", "many", "other"),
        "uk": ("one", "few", "many", "other"),
    }
)


def _forms_table(
    by_noun: Mapping[str, Mapping[str, list[str]]],
) -> Mapping[str, Mapping[str, Mapping[str, str]]]:
    """Noun → language → CLDR category → form, from the data file's lists in category order."""
    return MappingProxyType(
        {
            noun: MappingProxyType(
                {
                    lang: MappingProxyType(dict(zip(_CATEGORIES[lang], words, strict=True)))
                    for lang, words in by_language.items()
                }
            )
            for noun, by_language in by_noun.items()
        }
    )


# The noun lexicon is data (cxplay/_replies/data/nouns.toml, where its layout is described):
# [nom.NOUN] the form after a numeral; [gen.NOUN], [acc.NOUN] time nouns after a preposition.
_NOUN_DATA: Final = read_package_toml("cxplay._replies", "data/nouns.toml")
_NOUNS: Final = _forms_table(_NOUN_DATA["nom"])
CASES: Final = ("nom", "gen", "acc")
_CASE_FORMS: Final[Mapping[str, Mapping[str, Mapping[str, Mapping[str, str]]]]] = MappingProxyType(
    {case: _forms_table(_NOUN_DATA[case]) for case in CASES[1:]}
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
        raise ValueError(f"unknown noun {echo(noun)}; known nouns: {', '.join(nouns())}") from None


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
            raise ValueError(f"unknown case {echo(case)}; one of {', '.join(CASES)}")
        return noun_forms(noun, language)
    table = _CASE_FORMS.get(case)
    if table is None:
        raise ValueError(f"unknown case {echo(case)}; one of {', '.join(CASES)}")
    by_language = table.get(noun)
    if by_language is None:
        raise ValueError(f"case {echo(case)} is known for {', '.join(table)}, not {echo(noun)}")
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
    local = _localize(dt, tz)  # aware: babel would take it as it is
    if _clock_pattern(language):  # CLDR's HH:mm, as babel writes it: hour and minute
        return f"{local.hour:02d}:{local.minute:02d}"
    # babel's format_time(local, "short", locale=...) without looking the pattern up again
    return _short_time(language).apply(
        local.timetz(), _locale(language), reference_date=local.date()
    )


@functools.cache
def _short_time(language: str) -> DateTimePattern:
    """The language's short time pattern (``HH:mm``), parsed once."""
    return parse_pattern(get_time_format("short", locale=_locale(language)))


@functools.cache
def _clock_pattern(language: str) -> bool:
    """Whether the short time pattern is ``HH:mm`` (all three languages' in CLDR).

    Babel writes it as two zero-padded numbers, the hour (0-23) and the minute, and
    nothing else: :func:`format_time` then writes them itself, without babel's
    pattern machinery (``tests/test_render_fast.py`` compares the two).
    """
    return _short_time(language).pattern == "HH:mm"


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


# "on <weekday>" before a date, by weekday (Monday first): Polish "w"/"we" and Ukrainian "у"
# take the accusative, which babel does not give for weekday names.
_ON_WEEKDAY: Final[Mapping[str, tuple[str, ...]]] = MappingProxyType(
    {
        "en": ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"),
        "pl": (
            "w poniedziałek",
            "we wtorek",
            "w środę",
            "w czwartek",
            "w piątek",
            "w sobotę",
            "w niedzielę",
        ),
        "uk": (
            "у понеділок",
            "у вівторок",
            "у середу",
            "у четвер",
            "у п'ятницю",
            "у суботу",
            "у неділю",
        ),
    }
)
_BY: Final = {"en": "by {time}", "pl": "do {time}", "uk": "до {time}"}
_ON_WEEKDAY_SHORT: Final = {
    "en": "by {time} on {weekday}",
    "pl": "{weekday} do {time}",
    "uk": "{weekday} до {time}",
}
_TOMORROW: Final = {"en": "by {time} tomorrow", "pl": "jutro do {time}", "uk": "завтра до {time}"}
_ON_DAY: Final = {
    "en": "by {time} on {weekday} {date}",
    "pl": "{weekday}, {date}, do {time}",
    "uk": "{weekday}, {date}, до {time}",
}


def format_deadline(
    due: datetime, language: str, now: datetime, tz: str | None = None, *, short: bool = False
) -> str:
    """When something is due, said from ``now``, with its preposition: ``by 11:15``.

    The same day gives the time alone (``do 11:15``); the next day "tomorrow"
    (``jutro do 9:55``, ``завтра до 09:55``); a later day its weekday and date
    (``by 09:55 on Tuesday 7 April``, ``we wtorek, 7 kwietnia, do 09:55``,
    ``у вівторок, 7 квітня, до 09:55``). A deadline moved past a closed weekend or a
    holiday so never reads as a time later today.

    Args:
        due: The deadline; naive means UTC.
        language: One of :data:`SUPPORTED`.
        now: The moment the reply speaks from (the incident's time).
        tz: The customer's IANA time zone; ``None`` keeps ``due``'s own offset.
        short: Within the week, the weekday alone (``we wtorek do 18:00``): for an SMS.
    """
    _check_language(language)
    local = _localize(due, tz)
    today = _localize(now, None).astimezone(local.tzinfo).date()
    time_text = format_time(local, language)
    days = (local.date() - today).days
    if days <= 0:
        return _BY[language].format(time=time_text)
    if days == 1:
        return _TOMORROW[language].format(time=time_text)
    if short and days < 7:
        return _ON_WEEKDAY_SHORT[language].format(
            time=time_text, weekday=_ON_WEEKDAY[language][local.weekday()]
        )
    day = _babel_date(local.date(), "d MMMM", locale=_locale(language))
    if days > 300:
        day = format_date(local.date(), language)
    return _ON_DAY[language].format(
        time=time_text, weekday=_ON_WEEKDAY[language][local.weekday()], date=day
    )


_DURATION: Final = TypeAdapter(timedelta)
#: Below this, an int quantized to a whole number is itself (in a decimal context of 16
#: digits or more; the default has 28): :func:`_whole_minutes` returns it as it is.
_EXACT_MINUTES: Final = 10**15


def _whole_minutes(value: timedelta | Number | str) -> int:
    if isinstance(value, str):  # an ISO 8601 duration, as action parameters carry them
        try:
            value = _DURATION.validate_python(value)
        except ValidationError:
            raise ValueError(f"not an ISO 8601 duration: {echo(value)}") from None
    if isinstance(value, timedelta):
        # divmod(value, 1 minute) in whole microseconds, as timedelta's own divmod does it
        minutes, rest = divmod(span_micros(value), 60_000_000)
        return minutes + (1 if rest >= 30_000_000 else 0)
    if type(value) is int and -_EXACT_MINUTES < value < _EXACT_MINUTES:
        return value  # a whole number of minutes (facts' counts): quantized, it is itself
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
        raise ValueError(f"a duration cannot be negative, got {echo(value)}")
    return _written_minutes(total, language, case)


# Replies promise the same few durations again and again, and CLDR's unit and list
# patterns take a third of a millisecond per duration: each is written once.
@functools.lru_cache(maxsize=1024)
def _written_minutes(total: int, language: str, case: str) -> str:
    """``total`` minutes written in days, hours and minutes (see :func:`format_duration`)."""
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
