"""What no reply may say, over every shipped reply and over random incidents.

- A survey is a follow-up, sent once the problem is solved: no reply that answers an
  incident asks a survey question (how did we do, would you recommend us), in any channel
  or stage; the survey is in ``follow_ups``, later, by its own channel.
- We own the problem: no reply names the carrier as the cause, nor says it was not our
  decision.
- Spoken scripts are turns a person can say in one go (at most ~40 seconds, about 100
  words), with a pause to listen and no order number read out.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cxplay import Engine
from cxplay._replies.renderer import spoken_turns
from cxplay._replies.sms import sms_segments
from cxplay.models import CHANNELS, STAGES
from tests.rendered import replies

SURVEY_QUESTION = re.compile(
    r"survey|questionnaire|recommend us|how (we did|did we do)|how easy|rate (us|your)"
    r"|ankiet|polecił|poleciliby|poleci(ć|łaby)|jak (nam poszło|oceni)|oceń"
    r"|опитуван|анкет|порадил|порекоменду|оцін",
    re.IGNORECASE,
)
CARRIER_BLAME = re.compile(
    r"carrier'?s (doing|fault|decision)|not our (decision|fault)|(broken|damaged|lost) in transit by"
    r"|courier (broke|lost|damaged)|caused by the (carrier|courier)"
    r"|nie nasza (decyzja|wina)|z winy (przewoźnika|kuriera)|przewoźnik (uszkodził|zgubił)"
    r"|ucierpiała w transporcie"
    r"|рішення перевізника|з вини (перевізника|кур'єра)|не наше рішення|перевізник (пошкодив|загубив)",
    re.IGNORECASE,
)
BLAME_WORDS = re.compile(
    r"damag|broke|lost|fault|uszkodz|zgubi|wina|winy|пошкод|загуб|вин[аи]", re.IGNORECASE
)


def _shipped_types() -> tuple[str, ...]:
    with Engine.from_path(backend="python") as shipped:
        return tuple(
            sorted({t.incident["type"] for p in shipped.playbooks.playbooks for t in p.tests})
        )


TYPES = _shipped_types()
CARRIERS = ("InPost", "DPD", "DHL", "Poczta Polska", "Nova Poshta", "GLS")
MAX_TURN_WORDS = 100  # about 40 seconds of speech


@pytest.fixture(scope="module")
def engine() -> Engine:
    return Engine.from_path()


@pytest.fixture(scope="module")
def shipped(engine: Engine) -> list[tuple[str, str, str, str]]:
    return list(replies(engine))


def _hits(shipped: list[tuple[str, str, str, str]], pattern: re.Pattern[str]) -> list[str]:
    found = []
    for case, lang, channel, text in shipped:
        match = pattern.search(text)
        if match:
            found.append(f"{case} [{lang}/{channel}]: {match.group(0)!r}")
    return found


def test_no_shipped_reply_asks_a_survey_question(shipped: list[tuple[str, str, str, str]]) -> None:
    found = _hits(shipped, SURVEY_QUESTION)
    assert not found, "\n".join(found[:20])


def test_no_shipped_reply_blames_the_carrier(shipped: list[tuple[str, str, str, str]]) -> None:
    found = _hits(shipped, CARRIER_BLAME)
    assert not found, "\n".join(found[:20])


def test_spoken_scripts_are_short_turns_with_a_pause(
    shipped: list[tuple[str, str, str, str]],
) -> None:
    problems = []
    for case, lang, channel, text in shipped:
        if channel not in ("phone", "in_person"):
            continue
        turns = spoken_turns(text)
        if not turns or "\n\n".join(f"{i}. {t}" for i, t in enumerate(turns, 1)) != text:
            problems.append(f"{case} [{lang}/{channel}]: not numbered turns")
            continue
        if not any(t.startswith("[") for t in turns):
            problems.append(f"{case} [{lang}/{channel}]: no pause to listen")
        for turn in turns:
            if len(turn.split()) > MAX_TURN_WORDS:
                problems.append(f"{case} [{lang}/{channel}]: a turn of {len(turn.split())} words")
        if re.search(r"\b[A-Z]{2,3}-\d{3,}", text):
            problems.append(f"{case} [{lang}/{channel}]: reads out a reference number")
    assert not problems, "\n".join(problems[:20])


@st.composite
def incidents(draw: st.DrawFn) -> dict[str, Any]:
    kind = draw(st.sampled_from(TYPES))
    facts: dict[str, Any] = {}
    if kind in ("parcel_late",):
        facts["delay_days"] = draw(st.integers(1, 25))
        facts["noticed_first"] = draw(st.booleans())
    if kind in ("parcel_damaged",):
        facts["photos_attached"] = draw(st.booleans())
    if kind in ("speaker_late", "guest_travel_disrupted"):
        facts["delay_minutes"] = draw(st.integers(1, 600))
        facts["session_starts_in_minutes"] = draw(st.integers(0, 300))
        facts["cancelled"] = draw(st.booleans())
    if kind == "extra_missing":
        facts["missing_item"] = draw(st.sampled_from(["child_seat", "gps", "roof_box"]))
    if kind in ("child_seat_missing", "extra_missing"):
        facts["pickup_in_minutes"] = draw(st.sampled_from([0, 30, 120]))
        facts["temperature_c"] = float(draw(st.integers(15, 40)))
    if kind == "queue_long":
        facts["queue_minutes"] = draw(st.integers(1, 90))
    if kind == "webinar_missed":
        facts["replay_url"] = "https://example.com/replay"
        facts["technical_issue"] = draw(st.booleans())
    if kind == "reply_overdue":
        facts["waiting_minutes"] = draw(st.integers(1, 10000))
    return {
        "type": kind,
        "channel": draw(st.sampled_from(CHANNELS)),
        "stage": draw(st.sampled_from(STAGES)),
        "customer": {
            "name": draw(st.sampled_from(["Anna Kowalska", "Kasia", "Mika", "Олена Петренко"])),
            "language": draw(st.sampled_from(["en", "pl", "uk"])),
            "tier": draw(st.sampled_from(["standard", "gold"])),
        },
        "order": {
            "id": "PL-1234",
            "value": float(draw(st.integers(1, 1800))),
            "currency": draw(st.sampled_from(["PLN", "EUR", "UAH", "USD"])),
            "carrier": draw(st.sampled_from(CARRIERS)),
        },
        "facts": facts,
    }


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(incidents())
def test_surveys_only_as_later_follow_ups_and_the_carrier_is_never_blamed(
    engine: Engine, incident: dict[str, Any]
) -> None:
    suggestion = engine.suggest(incident)
    reply = suggestion.reply
    assert reply is not None
    text = f"{reply.subject or ''}\n{reply.body}"
    assert not SURVEY_QUESTION.search(text), text
    for survey in (a for a in suggestion.actions if a.kind == "survey"):
        assert survey.stage == "after_sales"
        later = [f for f in suggestion.follow_ups if f.action == "survey"]
        assert later and all(f.after.total_seconds() > 0 for f in later)
    assert not CARRIER_BLAME.search(text), text
    carrier = incident["order"]["carrier"]
    for sentence in re.split(r"(?<=[.!?])\s+", reply.body):
        if carrier in sentence:  # naming the carrier is fine; as the cause, never
            assert not BLAME_WORDS.search(sentence.replace(carrier, "")), sentence


# Shipped SMS allowed a third UCS-2 segment (two hold 134 characters): each carries the fact
# and the order, often a long vocative, the apology and several remedies or a choice, and the
# shorter wordings tried lost a fact or read as rude. Every other SMS, and anything new, fits
# two; an entry that comes to fit two must leave the list (the test below fails until it does).
SMS_THREE_SEGMENTS = frozenset(
    {
        # child seat missing at the desk: order, seat free of charge, three options
        ("child_seat_missing", "pl"),
        ("child_seat_missing", "uk"),
        ("rental#1", "pl"),
        ("rental#1", "uk"),
        ("rental#2", "uk"),
        ("rental#4", "pl"),
        ("rental#4", "uk"),
        ("rental#5", "uk"),
        # ... and, for the flagship safety case, the manager's call and when, and "reply with
        # your choice" (issue 18: an SMS must say what happens next and when)
        ("rental#2", "pl"),
        ("rental#5", "pl"),
        ("public#3", "pl"),
        ("public#3", "uk"),
        # a delayed guest: restaurant tip, recordings and the dinner voucher
        ("guest_travel_disrupted", "uk"),
        ("events#10", "uk"),
        # a late speaker: audience told, taxi, three plans and the call within 5 minutes
        ("speaker_late", "pl"),
        ("events#1", "pl"),
        # a parcel probably lost after 12 working days: refund or express resend, reply asked
        ("parcel#11", "pl"),
        ("parcel#11", "uk"),
        # lost or damaged parcel with a long vocative, an amount and a choice or a second gesture
        ("parcel#2", "pl"),
        ("parcel#6", "pl"),
        ("parcel#10", "uk"),
        ("parcel#12", "uk"),
        # a reply three days overdue, to a named customer: free shipping and the answer's time
        ("reply_overdue", "uk"),
        # the next step and its time (issue 18): the search's result, the new delivery date,
        # a replacement sent at once rather than "already sent"
        ("parcel_lost", "pl"),
        ("parcel_lost", "uk"),
        ("parcel#6", "uk"),
        ("parcel#7", "pl"),
        ("parcel#7", "uk"),
        ("parcel#9", "pl"),
        ("parcel#10", "pl"),
        ("parcel#14", "uk"),
        # the right gesture, and how to redeem it (issue 18): a voucher shown at the till, a
        # meal voucher valid tomorrow, a driver for a night arrival
        ("queue_long", "pl"),
        ("public#2", "uk"),
        ("retail#1", "pl"),
        ("events#11", "pl"),
        ("events#11", "uk"),
        ("events#16", "pl"),
        ("events#16", "uk"),
        ("events#17", "pl"),
        ("events#17", "uk"),
        ("rental#6", "pl"),
        ("rental#6", "uk"),
        ("rental#7", "pl"),
        ("rental#7", "uk"),
        # an SMS no action dates: the closing's answer time ("Odpowiemy w ciągu 15 minut.")
        # is its only "when" (issue 18, class 5), and takes the third segment in UCS-2
        ("extra_missing", "pl"),
        ("extra_missing", "uk"),
        ("guest_travel_disrupted", "pl"),
        ("parcel_damaged", "pl"),
        ("parcel_damaged", "uk"),
        ("queue_long", "uk"),
        ("events#10", "pl"),
        ("events#14", "pl"),
        ("events#14", "uk"),
        ("events#18", "pl"),
        ("parcel#1", "pl"),
        ("parcel#1", "uk"),
        ("parcel#13", "pl"),
        ("parcel#13", "uk"),
        ("parcel#15", "pl"),
        ("parcel#15", "uk"),
        ("public#1", "pl"),
        ("public#1", "uk"),
        ("public#2", "pl"),
        ("rental#3", "pl"),
        ("rental#3", "uk"),
        ("retail#1", "uk"),
        ("retail#2", "pl"),
        ("retail#2", "uk"),
        ("retail#3", "pl"),
        ("retail#3", "uk"),
    }
)


def test_sms_replies_are_short(shipped: list[tuple[str, str, str, str]]) -> None:
    """Two segments in every language, UCS-2 (pl, uk) included, but for the cases above."""
    problems = []
    for case, language, channel, text in shipped:
        if channel != "sms":
            continue
        segments, encoding = sms_segments(text)
        limit = 3 if (case, language) in SMS_THREE_SEGMENTS else 2
        if segments > limit:
            problems.append(f"{case} [{language}]: {segments} segments ({encoding}): {text}")
    assert not problems, "\n".join(problems[:10])


def test_sms_exceptions_are_still_needed(shipped: list[tuple[str, str, str, str]]) -> None:
    """An SMS shortened to two segments leaves the exception list."""
    fits = sorted(
        (case, language)
        for case, language, channel, text in shipped
        if channel == "sms"
        and (case, language) in SMS_THREE_SEGMENTS
        and sms_segments(text)[0] <= 2
    )
    assert not fits, fits
