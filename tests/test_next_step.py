"""Every reply names the next step and when (issue 18, class 5), over every shipped type ×
channel × language: no promise without a time ("shortly", "as soon as we know"), every
dated promise said with its time, nothing promised as done before it has happened, and a
chat's promise fitting a chat.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cxplay import Engine
from cxplay.models import CHANNELS
from tests.rendered import LANGUAGES, incidents, replies

# A promise with no time: what the customer cannot hold us to.
VAGUE = re.compile(
    r"\b(shortly|(?<!as )soon(?! as)|as soon as (we|it|they) (know|have|hear))\b|\bwkrótce\b|jak najszybciej|"
    r"gdy tylko (go|je|ją|to) (poznamy|będziemy wiedzieć)|\bневдовзі\b|якнайшвидше|"
    r"щойно (її|його|їх|це) (дізнаємося|знатимемо)",
    re.IGNORECASE,
)
# When: a clock time, a duration, or a day.
WHEN = re.compile(
    r"\d{1,2}:\d{2}|\b(within|today|tonight|tomorrow|right now|right away|straight away|now)\b|"
    r"w ciągu|\bza \d|dziś|dzisiaj|jutr|\bteraz\b|od razu|\bzaraz\b|"
    r"протягом|\bза \d|\bза добу|сьогодні|завтра|\bзараз\b|одразу|"
    r"\b(in|w|we|у|в) \w+ (minutes|minut|хвилин)|"
    r"(one|two|three|four|five|six|seven|eight|nine|ten|fifteen|twenty|thirty|forty|forty-five)"
    r" (minutes|hours|days)|"
    r"\b(piętnastu|dziesięciu|pięciu|dwóch|trzech|czterech|trzydziestu|czterdziestu)\b|"
    r"\b(п'ятнадцяти|десяти|п'яти|двох|трьох|чотирьох|тридцяти|сорока)\b",
    re.IGNORECASE,
)
# Done before it happened: a parcel "on its way" before it ships, a seat "in the car"
# before the customer chose.
AS_IF_DONE = re.compile(
    r"is on its way|are on their way|jest już w drodze|już wysłaliśmy|вже надіслано|"
    r"вже в дорозі|seat is in the car|jest już w samochodzie|вже в автомобілі",
    re.IGNORECASE,
)


@pytest.fixture(scope="module")
def engine() -> Engine:
    return Engine.from_path()


@pytest.fixture(scope="module")
def shipped(engine: Engine) -> list[tuple[str, str, str, str]]:
    return list(replies(engine))


def test_no_promise_without_a_time(shipped: list[tuple[str, str, str, str]]) -> None:
    problems = [
        f"{case} [{lang}/{channel}]: {found.group(0)!r}"
        for case, lang, channel, text in shipped
        if (found := VAGUE.search(text))
    ]
    assert not problems, "\n".join(problems[:20])


def test_nothing_is_promised_as_done(shipped: list[tuple[str, str, str, str]]) -> None:
    problems = [
        f"{case} [{lang}/{channel}]: {found.group(0)!r}"
        for case, lang, channel, text in shipped
        if (found := AS_IF_DONE.search(text))
    ]
    assert not problems, "\n".join(problems[:20])


def _dated(suggestion: Any) -> bool:
    """Whether the suggestion promises a person's next step at a time."""
    return any(plan.action != "survey" and plan.due is not None for plan in suggestion.follow_ups)


def test_a_dated_next_step_is_said_with_its_time(engine: Engine) -> None:
    """Wherever the playbook promises a follow-up, a call or an escalation with a time, the
    reply says when -- in SMS and chat too (a public reply says nothing but the invitation
    to a private channel, and is left out)."""
    problems = []
    for case, incident in incidents(engine):
        for channel in CHANNELS:
            if channel == "social_public":
                continue
            for language in LANGUAGES:
                suggestion = engine.suggest({**incident, "channel": channel}, language=language)
                if suggestion.reply is None or not _dated(suggestion):
                    continue
                if not WHEN.search(suggestion.reply.body):
                    problems.append(f"{case} [{language}/{channel}]: {suggestion.reply.body}")
    assert not problems, "\n".join(problems[:10])


@pytest.mark.parametrize("language", LANGUAGES)
def test_a_late_parcel_gets_the_new_date_by_a_time(engine: Engine, language: str) -> None:
    """ "We'll give you the new date by tomorrow 12:00", never "as soon as we know"."""
    for channel in ("email", "sms", "chat", "phone"):
        suggestion = engine.suggest(
            {
                "type": "parcel_late",
                "channel": channel,
                "occurred_at": "2026-11-24T12:00:00+01:00",
                "order": {"id": "PL-4520", "carrier": "InPost"},
                "facts": {"delay_days": 4},
            },
            language=language,
        )
        assert suggestion.reply is not None
        body = suggestion.reply.body
        tomorrow = {"en": "by 12:00 tomorrow", "pl": "jutro do 12:00", "uk": "завтра до 12:00"}
        assert tomorrow[language] in body, (channel, body)


@pytest.mark.parametrize("language", LANGUAGES)
def test_a_chat_promise_fits_a_chat(engine: Engine, language: str) -> None:
    """On chat the customer waits in the window: no two-hour promise."""
    at = datetime.fromisoformat("2026-11-24T11:00:00+01:00")
    suggestion = engine.suggest(
        {
            "type": "reply_overdue",
            "channel": "chat",
            "occurred_at": at.isoformat(),
            "facts": {"waiting_minutes": 20},
        },
        language=language,
    )
    promised = [p for p in suggestion.follow_ups if p.action == "follow_up"]
    assert promised and all(
        p.due is not None and p.due - at <= timedelta(minutes=30) for p in promised
    )
    assert suggestion.reply is not None and "11:15" in suggestion.reply.body


# --------------------------------------------------------------------------------------
# Every reply, not only the dated ones: a next step and when (issue 18, class 5).


def test_every_reply_names_its_next_step_and_when(shipped: list[tuple[str, str, str, str]]) -> None:
    """Every shipped case × channel × language says when the customer hears from us or when
    something happens: a time, a duration, "now", "today" -- also an SMS, a chat, a script
    and a public reply, and also a reply that promises nothing dated (a recording sent, a
    voucher given: then the next step is when we answer the customer's next message)."""
    problems = [
        f"{case} [{lang}/{channel}]: {text}"
        for case, lang, channel, text in shipped
        if not WHEN.search(text)
    ]
    assert not problems, f"{len(problems)} replies without a when:\n" + "\n---\n".join(problems[:8])


# The private channel a public reply invites to, in each language.
PRIVATE = re.compile(r"private message|wiadomoś\w+ prywatn\w+|особист\w+ повідомлен\w+", re.I)


def test_a_public_reply_names_the_private_step_and_when(
    shipped: list[tuple[str, str, str, str]],
) -> None:
    """In public: the next step is the private channel, with when we answer there -- and
    never an amount, a currency or an offer."""
    from cxplay._replies.renderer import public_leak

    problems = []
    for case, lang, channel, text in shipped:
        if channel != "social_public" or "recording" in case or "webinar" in case:
            continue
        if not PRIVATE.search(text) or not WHEN.search(text):
            problems.append(f"{case} [{lang}]: {text}")
        elif leak := public_leak(text):
            problems.append(f"{case} [{lang}]: money in public: {leak!r}")
    assert not problems, "\n".join(problems[:10])


# --------------------------------------------------------------------------------------
# A promise fits its channel's SLA (beyond reply_overdue).

_NUMBERS = {
    "a": 1, "an": 1, "the": 1, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "ten": 10,
    "fifteen": 15, "twenty": 20, "thirty": 30, "forty-five": 45, "twenty-four": 24,
    "jednej": 1, "dwóch": 2, "trzech": 3, "czterech": 4, "pięciu": 5, "dziesięciu": 10,
    "piętnastu": 15, "dwudziestu": 20, "trzydziestu": 30, "czterdziestu pięciu": 45,
    "однієї": 1, "двох": 2, "трьох": 3, "чотирьох": 4, "п'яти": 5, "десяти": 10,
    "п'ятнадцяти": 15, "двадцяти": 20, "тридцяти": 30, "сорока п'яти": 45,
}  # fmt: skip
_NUMBER = r"\d+|" + "|".join(sorted((re.escape(n) for n in _NUMBERS), key=len, reverse=True))
_UNIT = {
    "minute": 1, "min": 1, "minut": 1, "хвилин": 1, "хв": 1,
    "hour": 60, "h": 60, "godzin": 60, "godz": 60, "годин": 60, "год": 60,
    "day": 1440, "dni": 1440, "dnia": 1440, "днів": 1440, "дня": 1440,
}  # fmt: skip
#: "within 2 hours", "within 2 working hours", "w ciągu 15 minut", "w ciągu godziny",
#: "протягом 2 робочих годин", "within 24h", "w ciągu doby".
PROMISED = re.compile(
    r"(?:within|w ciągu|протягом)\s+(?:(?P<n>" + _NUMBER + r")\s*)?"
    r"(?:(?P<work>working|робоч\w*)\s+)?"
    r"(?P<unit>minutes?|min\b|hours?|h\b|days?|working days?|minut\w*|godzin\w*|godz\b|dni\b|dnia\b"
    r"|хвилин\w*|хв\b|годин\w*|год\b|днів|дня|doby|доби)"
    r"(?:\s+(?P<work2>robocz\w*))?",
    re.IGNORECASE,
)
# How a promise reaches the customer: a call is a phone promise, an answer or an update a
# promise on the reply's own channel; a refund's transfer or a seat's arrival is neither.
CALL = re.compile(r"\bcall|zadzwoni|oddzwoni|зателефону|передзвон", re.I)
ANSWER = re.compile(
    r"get back to you|come back to you|write to you|contact you|be in touch|we answer|we'll reply|we reply|answer you|update"
    r"|odezw|odpowiad|odpowiemy|odpiszemy|napisze|skontaktuje|wrócę|wrócimy|aktualn"
    r"|відповіда|відповімо|відповість|напише|напишемо|зв'яжеться|зв'яжемося|повернуся|повернемося|оновлен",
    re.I,
)
EMAIL = re.compile(r"e-mail|mailem|mailowo|електронн", re.I)
#: On chat the customer waits in the window: an answer promised there comes within this.
CHAT_LIMIT = timedelta(minutes=30)


def promised_durations(text: str) -> list[tuple[str, timedelta, str]]:
    """(sentence, duration, how) for every duration a reply promises to call or answer in."""
    found = []
    for sentence in re.split(r"(?<=[.!?])\s+|\n+", text):
        for match in PROMISED.finditer(sentence):
            unit = match.group("unit").lower()
            if unit in ("doby", "доби"):
                minutes = 1440
            else:
                base = next(
                    m
                    for u, m in sorted(_UNIT.items(), key=lambda kv: -len(kv[0]))
                    if unit.startswith(u)
                )
                if "working day" in unit:
                    base = 1440
                number = (match.group("n") or "1").lower()
                minutes = base * (int(number) if number.isdigit() else _NUMBERS[number])
            how = "call" if CALL.search(sentence) else "answer" if ANSWER.search(sentence) else ""
            if how:
                found.append((sentence, timedelta(minutes=minutes), how))
    return found


def test_the_duration_parser_reads_what_replies_say() -> None:
    assert promised_durations("We will get back to you within 2 hours with an update.") == [
        ("We will get back to you within 2 hours with an update.", timedelta(hours=2), "answer")
    ]
    assert [
        d for _, d, _ in promised_durations("W ciągu piętnastu minut zadzwoni do Pani kierownik.")
    ] == [timedelta(minutes=15)]
    assert [h for _, _, h in promised_durations("Протягом 5 хвилин Вам зателефонує керівник.")] == [
        "call"
    ]
    assert promised_durations("We are refunding it; it arrives within 5 working days.") == []
    assert [d for _, d, _ in promised_durations("odpowiadamy w ciągu 2 godzin roboczych.")] == [
        timedelta(hours=2)
    ]


def _sla_problems(
    engine: Engine, incident: dict[str, Any], channel: str, language: str
) -> list[str]:
    suggestion = engine.suggest({**incident, "channel": channel}, language=language)
    if suggestion.reply is None:
        return []
    kept = suggestion.actions[0].playbook.split("@")[0] if suggestion.actions else None
    playbook = next(p for p in engine.playbooks.playbooks if p.meta.id == kept)
    sla = dict(playbook.sla)
    problems = []
    for sentence, promised, how in promised_durations(suggestion.reply.body):
        on = "phone" if how == "call" else "email" if EMAIL.search(sentence) else channel
        if channel == "social_public" and on == channel:
            on = "social_private"  # a public reply answers in the private channel it invites to
        if on in sla and promised < sla[on]:
            problems.append(
                f"[{language}/{channel}] sooner than the {on} SLA {sla[on]}: {sentence}"
            )
        if on == "chat" and promised > CHAT_LIMIT:
            problems.append(f"[{language}/{channel}] longer than a chat can wait: {sentence}")
    return problems


def test_every_promise_fits_its_channels_sla(engine: Engine) -> None:
    """Every duration a reply promises to call or answer in, compared with the SLA of the
    playbook that leads the reply: never sooner than the team promises to answer on that
    channel (no "within 10 minutes" where the e-mail SLA is two hours), and on chat never
    longer than a customer waits in the window (no "within two hours" on chat)."""
    problems = [
        f"{case} {problem}"
        for case, incident in incidents(engine)
        for channel in CHANNELS
        for language in LANGUAGES
        for problem in _sla_problems(engine, incident, channel, language)
    ]
    assert not problems, "\n".join(problems[:15])


_CASES: list[tuple[str, dict[str, Any]]] = []


def _cases() -> list[tuple[str, dict[str, Any]]]:
    if not _CASES:
        _CASES.extend(incidents(Engine.from_path()))
    return _CASES


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    case=st.integers(min_value=0, max_value=10_000),
    channel=st.sampled_from(CHANNELS),
    language=st.sampled_from(LANGUAGES),
    at=st.datetimes(min_value=datetime(2026, 1, 1), max_value=datetime(2027, 12, 31)),
    zone=st.sampled_from(["Europe/Warsaw", "Europe/Kyiv", "Europe/London"]),
)
def test_a_next_step_and_when_at_any_hour(
    engine: Engine, case: int, channel: str, language: str, at: datetime, zone: str
) -> None:
    """At any moment (a Friday evening, a holiday, a DST night), any shipped case on any
    channel in any language still names when, and its promises still fit the SLA: business
    time turns "within 2 hours" into "by 10:00 tomorrow", never into nothing."""
    name, incident = _cases()[case % len(_cases())]
    moment = at.replace(tzinfo=ZoneInfo(zone))
    incident = {**incident, "occurred_at": moment.isoformat(), "channel": channel}
    suggestion = engine.suggest(incident, language=language)
    if suggestion.reply is None:
        return
    assert WHEN.search(suggestion.reply.body), (name, channel, language, suggestion.reply.body)
    assert not _sla_problems(engine, incident, channel, language)
