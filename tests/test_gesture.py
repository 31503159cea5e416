"""The right gesture for the situation (issue 18, class 7), in every channel and language:
a night or cancelled arrival gets a transfer or a voucher valid tomorrow, not dinner at
registration; a day guest arriving early gets breakfast and a quiet place, not "your room
isn't ready"; a complaint above the tier cap in public is escalated internally with no
money said; an infant seat is never offered a car's built-in seat; a voucher says how to
redeem it.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cxplay import Engine
from cxplay._replies.renderer import public_leak
from cxplay.models import CHANNELS
from tests.rendered import LANGUAGES, replies

SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@pytest.fixture(scope="module")
def engine() -> Engine:
    return Engine.from_path()


def _items(suggestion: Any) -> set[str]:
    return {a.params.get("item") for a in suggestion.actions if a.kind == "gesture"}


@SETTINGS
@given(
    hour=st.integers(21, 23),
    delay=st.integers(60, 400),
    cancelled=st.booleans(),
    channel=st.sampled_from([c for c in CHANNELS if c != "social_public"]),
    language=st.sampled_from(LANGUAGES),
)
def test_a_night_or_cancelled_arrival_gets_no_dinner_at_registration(
    engine: Engine, hour: int, delay: int, cancelled: bool, channel: str, language: str
) -> None:
    incident = {
        "type": "guest_travel_disrupted",
        "channel": channel,
        "customer": {"name": "Marta Kowalczyk"},
        "facts": {"delay_minutes": delay, "arrival_hour": hour, "cancelled": cancelled},
    }
    suggestion = engine.suggest(incident, language=language)
    items = _items(suggestion)
    assert "meal_voucher" not in items
    if cancelled or delay >= 180:
        assert items & {"transfer", "meal_voucher_tomorrow"}, items
    if not cancelled:
        assert "transfer" in items
    assert suggestion.reply is not None
    body = suggestion.reply.body.casefold()
    assert not re.search(r"dinner|kolacj|вечер", body), body


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("channel", CHANNELS)
def test_a_day_guest_arriving_early_is_not_told_about_a_room(
    engine: Engine, channel: str, language: str
) -> None:
    incident = {
        "type": "guest_early_arrival",
        "channel": channel,
        "customer": {"name": "Ewa Nowak"},
        "facts": {"early_minutes": 90, "arrival_time": "07:30", "day_guest": True},
    }
    suggestion = engine.suggest(incident, language=language)
    assert suggestion.reply is not None
    text = f"{suggestion.reply.subject or ''} {suggestion.reply.body}".casefold()
    assert not re.search(r"room|pokój|pokoju|номер(?!ом)", text), text  # not "за номером +48"
    if channel != "social_public":
        assert {"late_breakfast", "quiet_place"} <= _items(suggestion)


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("channel", CHANNELS)
def test_a_day_guest_landing_at_night_is_not_driven_to_a_hotel(
    engine: Engine, channel: str, language: str
) -> None:
    """A day guest has no room with us: the night transfer takes them where they are going."""
    incident = {
        "type": "guest_travel_disrupted",
        "channel": channel,
        "customer": {"name": "Ewa Nowak"},
        "facts": {"delay_minutes": 180, "arrival_hour": 23, "day_guest": True},
    }
    suggestion = engine.suggest(incident, language=language)
    assert suggestion.reply is not None
    text = f"{suggestion.reply.subject or ''} {suggestion.reply.body}".casefold()
    assert not re.search(r"hotel|готел", text), text
    if channel != "social_public":
        assert "transfer" in _items(suggestion)


@SETTINGS
@given(
    value=st.floats(1600, 50_000),
    tier=st.sampled_from([None, "standard", "silver", "gold"]),
    kind=st.sampled_from(["parcel_damaged", "parcel_lost"]),
    language=st.sampled_from(LANGUAGES),
)
def test_a_public_complaint_above_the_cap_is_escalated_without_money(
    engine: Engine, value: float, tier: str | None, kind: str, language: str
) -> None:
    incident = {
        "type": kind,
        "channel": "social_public",
        "customer": {"name": "Piotr Zieliński", "tier": tier},
        "order": {"id": "PL-1", "value": round(value, 2), "currency": "PLN"},
    }
    suggestion = engine.suggest(incident, language=language)
    above = value > 3000 or tier != "gold"
    escalated = any(
        a.kind == "escalate" and a.params.get("to") == "claims_specialist"
        for a in suggestion.actions
    )
    assert escalated == above
    assert suggestion.reply is not None
    assert public_leak(suggestion.reply.body) is None, suggestion.reply.body


@SETTINGS
@given(
    kind=st.sampled_from(["child_seat_missing", "extra_missing"]),
    pickup=st.one_of(st.none(), st.integers(0, 600)),
    channel=st.sampled_from(CHANNELS),
    language=st.sampled_from(LANGUAGES),
)
def test_an_infant_seat_is_never_offered_a_built_in_seat(
    engine: Engine, kind: str, pickup: int | None, channel: str, language: str
) -> None:
    facts: dict[str, Any] = {"missing_item": "infant_seat"}
    if pickup is not None:
        facts["pickup_in_minutes"] = pickup
    incident = {"type": kind, "channel": channel, "facts": facts}
    suggestion = engine.suggest(incident, language=language)
    options = [o for a in suggestion.actions if a.kind == "plan_b" for o in a.params["options"]]
    assert "upgrade_builtin_seat" not in options
    assert any(a.kind == "plan_b" for a in suggestion.actions) or channel == "social_public"
    assert suggestion.reply is not None
    assert not re.search(
        r"built-in|wbudowan|вбудован|wolne auto z fotelikiem|вільне авто з кріслом",
        suggestion.reply.body,
    ), suggestion.reply.body


REDEEM = re.compile(
    r"show this|hand it in|give your name|at checkout|when you register|at registration|"
    r"pokazać|oddać go|podać nazwisko|naliczy się|ten SMS|przy rejestracji|"
    r"показати|віддати|назвати прізвище|застосовано|покажіть|це SMS|на реєстрації",
    re.IGNORECASE,
)


def test_a_voucher_says_how_to_redeem_it(engine: Engine) -> None:
    """Every shipped reply that gives a voucher or a discount says how to use it (an SMS
    discount off the next order excepted: the room is two segments)."""
    problems = []
    for case, language, channel, text in replies(engine):
        if channel == "social_public":
            continue
        voucher = re.search(
            r"voucher|bon\b|\brabat|ваучер|знижк|\boff your next", text, re.IGNORECASE
        )
        if not voucher or re.search(r"confirm|potwierdzimy|підтвердимо", text):
            continue
        if channel == "sms" and not re.search(r"voucher|bon\b|ваучер", text, re.IGNORECASE):
            continue
        if not REDEEM.search(text):
            problems.append(f"{case} [{language}/{channel}]: {text[:300]}")
    assert not problems, "\n".join(problems[:10])
