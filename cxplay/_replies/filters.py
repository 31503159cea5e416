"""Jinja filters and globals that format for the reply's language and time zone."""

from __future__ import annotations

from collections.abc import Callable, Sized
from datetime import date, datetime, timedelta, timezone
from typing import Any

from jinja2 import Environment, pass_context
from jinja2.runtime import Context
from pydantic_core import TzInfo

from cxplay._replies.address import salutation, sign_off
from cxplay._replies.locale import (
    LANGUAGE_VAR,
    TIMEZONE_VAR,
    Number,
    _check_language,
    count,
    format_date,
    format_datetime,
    format_deadline,
    format_duration,
    format_money,
    format_time,
    nouns,
    plain_spaces,
    plural_category,
)
from cxplay._replies.spoken import (
    SPOKEN_CHANNELS,
    approx_duration,
    count_words,
    duration_words,
    money_words,
)

__all__ = [
    "register_filters",
]

_WITHIN = {"en": "within {}", "pl": "w ciągu {}", "uk": "протягом {}"}
#: One hour, in calendar and in business time (False, True).
_WITHIN_AN_HOUR = {
    "en": ("within an hour", "within one working hour"),
    "pl": ("w ciągu godziny", "w ciągu godziny roboczej"),
    "uk": ("протягом години", "протягом робочої години"),
}


def _elapsed(start: datetime, end: datetime) -> timedelta:
    """``end - start``, a naive datetime taken as UTC."""
    if start.tzinfo is None:
        start = start.replace(tzinfo=timezone.utc)
    if end.tzinfo is None:
        end = end.replace(tzinfo=timezone.utc)
    return end - start


#: The most ``within`` texts an environment remembers (then it starts again).
_WITHIN_MEMO = 1024


def _within_key(ctx: Context, promise: Any, start: Any) -> tuple[Any, ...] | None:
    """Everything ``within``'s text is made of, or None where a value is not the plain kind.

    The promise's ``after`` (a timedelta), ``due`` (a datetime or None) and ``business``
    (True, False or None: as a truth value), ``start`` (True or False), and the context's
    ``now`` (a datetime), ``language`` (text), ``timezone`` and ``channel`` (text or
    None); the environment's defaults, for what the context lacks, are the same for
    every call. A datetime's zone and fold are in the key too: ``==`` between two
    datetimes leaves them out, and they change the time said.
    """
    if type(promise) is not dict or type(ctx) is not Context:
        return None
    after, due, business = promise.get("after"), promise.get("due"), promise.get("business")
    if (
        type(after) is not timedelta
        or (due is not None and type(due) is not datetime)
        or (business is not None and type(business) is not bool)
        or (start is not True and start is not False)
    ):
        return None
    # Context.resolve_or_missing, without its calls: its variables, then its parent
    found, parent = ctx.vars, ctx.parent
    now = found["now"] if "now" in found else parent.get("now")
    language = found[LANGUAGE_VAR] if LANGUAGE_VAR in found else parent.get(LANGUAGE_VAR)
    zone = found[TIMEZONE_VAR] if TIMEZONE_VAR in found else parent.get(TIMEZONE_VAR)
    channel = found["channel"] if "channel" in found else parent.get("channel")
    if (
        type(now) is not datetime
        or type(language) is not str
        or (zone is not None and type(zone) is not str)
        or (channel is not None and type(channel) is not str)
    ):
        return None
    return (
        after,
        None if due is None else _moment(due),
        business is True,
        start,
        _moment(now),
        language,
        zone,
        channel,
    )


def _moment(value: datetime) -> tuple[Any, ...]:
    """A datetime as a key part: its fields, its fold and its zone.

    Two datetimes ``==`` may read differently (zone and fold), and hashing or comparing
    one of pydantic's (a ``TzInfo``: a fixed offset, all it holds) calls its zone again
    and again: its fields and its offset are the same key, built once.
    """
    zone: Any = value.tzinfo
    if type(zone) is TzInfo:
        zone = (TzInfo, zone.utcoffset(None))
    return (
        value.year,
        value.month,
        value.day,
        value.hour,
        value.minute,
        value.second,
        value.microsecond,
        value.fold,
        zone,
    )


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
    ``dt|deadline`` (``by 11:15``, ``jutro do 9:55``, ``у вівторок, 7 квітня, до 09:55``:
    said from the context's ``now``), ``follow_up|within(start=False)`` ("within 2 hours" when
    it falls due that long from now, else its deadline: a business-time promise past closing
    time; a promise with ``business`` true and no ``due`` is "within 2 working hours"),
    ``minutes_or_timedelta|duration`` (exact, for promises), ``minutes|approx`` (a wait or
    a delay as people put it: "almost two hours"; ``minutes|approx('на')`` puts the
    preposition where the language wants it: "приблизно на 40 хвилин"), ``n|count(noun)``
    (without a noun it is Jinja's own ``count``, the length),
    ``n|plural(one=..., few=..., many=..., other=...)`` (the form for n's category, else
    ``other``; returns the word only),
    ``text|plain_spaces``. Globals: ``count(n, noun)``, ``plural(n, ...)``,
    ``salutation(name, salutation=..., gender=..., register=..., channel=...)`` and
    ``sign_off(register)``. When the context's ``channel`` is spoken (phone, in person),
    money, counts and durations come out in words ("dwadzieścia złotych").

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

    def spoken(ctx: Context) -> bool:
        return ctx.get("channel") in SPOKEN_CHANNELS

    @pass_context
    def money(ctx: Context, amount: Number, currency: str) -> str:
        if spoken(ctx):
            return money_words(amount, currency, lang(ctx))
        return format_money(amount, currency, lang(ctx))

    @pass_context
    def approx(ctx: Context, value: timedelta | Number | str, after: str | None = None) -> str:
        return approx_duration(value, lang(ctx), words=spoken(ctx), after=after)

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
    def deadline(ctx: Context, dt: datetime) -> str:
        now = ctx.get("now")
        if not isinstance(now, datetime):
            raise ValueError(
                "deadline needs the context's 'now' (the moment the reply speaks from)"
            )
        # an SMS and a spoken turn name a day of this week by its weekday alone: a date is
        # digits on a small screen, and a number nobody says aloud ("we czwartek do 10:00")
        short = ctx.get("channel") == "sms" or spoken(ctx)
        return format_deadline(dt, lang(ctx), now, zone(ctx), short=short)

    def promised(ctx: Context, promise: Any, start: bool = False) -> str:
        # a promise from follow_ups: "within 2 hours" when it falls due exactly that long
        # from now, else the deadline itself ("jutro do 9:55"): closed hours were skipped
        after, due, now = promise["after"], promise["due"], ctx.get("now")
        text: str
        exact = isinstance(now, datetime) and due is not None and _elapsed(now, due) == after
        # a promise of a day or more reads better as its day: "by 10:00 tomorrow"
        if due is None or not isinstance(now, datetime) or (exact and after < timedelta(days=1)):
            language, said = lang(ctx), spoken(ctx)  # asked once: the context is the same
            span = duration_words if said else format_duration
            case = "nom" if language == "en" else "gen"
            words = span(after, language, case)
            business = bool(promise.get("business"))
            if after == timedelta(hours=1):
                # "within an hour", "w ciągu godziny", "протягом години": nobody says "1"
                text = _WITHIN_AN_HOUR[language][business]
                return text[:1].upper() + text[1:] if start else text
            if business and after:
                # a team's answer time in its open hours: "within 2 working hours"
                hours, rest = divmod(int(after.total_seconds()), 3600)
                days, hours = divmod(hours, 24)
                counted = count_words if said else count
                if not rest and not hours:
                    words = counted(days, "working_day", language, case)
                elif not rest and not days:
                    words = counted(hours, "working_hour", language, case)
            text = _WITHIN[language].format(words)
        else:
            text = deadline(ctx, due)
        return text[:1].upper() + text[1:] if start else text

    #: ``within``'s texts by everything they are made of (see :func:`_within_key`)
    said_before: dict[tuple[Any, ...], str] = {}

    @pass_context
    def within(ctx: Context, promise: Any, start: bool = False) -> str:
        # a reply promises the same few spans again and again, and writing one (its span,
        # or its deadline said from `now`) is a third of a fragment's render: each is
        # written once for what it is made of. Where that is not plain (a caller's
        # object, an undefined, a value missing), it is written as before
        key = _within_key(ctx, promise, start)
        if key is None:
            return promised(ctx, promise, start)
        text = said_before.get(key)
        if text is None:
            text = promised(ctx, promise, start)
            if len(said_before) >= _WITHIN_MEMO:
                said_before.clear()
            said_before[key] = text
        return text

    @pass_context
    def duration(ctx: Context, value: timedelta | Number | str, case: str = "nom") -> str:
        if spoken(ctx):
            return duration_words(value, lang(ctx), case)
        return format_duration(value, lang(ctx), case)

    @pass_context
    def count_(ctx: Context, value: Any, noun: str | None = None, case: str = "nom") -> str | int:
        if noun is None and isinstance(value, Sized):
            return len(value)  # Jinja's built-in |count, which this name shadows
        if noun is None:
            raise ValueError(f"count needs a noun; known nouns: {', '.join(nouns())}")
        if spoken(ctx):
            return count_words(value, noun, lang(ctx), case)
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
        "deadline": deadline,
        "within": within,
        "duration": duration,
        "approx": approx,
        "count": count_,
        "plural": plural,
        "plain_spaces": plain_spaces,
    }
    env.filters.update(filters)
    env.globals.update(
        {"count": count_, "plural": plural, "salutation": salutation_, "sign_off": sign_off_}
    )
