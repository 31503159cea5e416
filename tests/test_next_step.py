"""Every reply names the next step and when (issue 18, class 5), over every shipped type ×
channel × language: no promise without a time ("shortly", "as soon as we know"), every
dated promise said with its time, nothing promised as done before it has happened, and a
chat's promise fitting a chat.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Any

import pytest

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
    r"w ciągu|\bza \d|dziś|dzisiaj|jutro|\bteraz\b|od razu|\bzaraz\b|"
    r"протягом|\bза \d|сьогодні|завтра|\bзараз\b|одразу|"
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
