"""The order of a recovery (issue 18, class 4): a reply says the actions in the order the
playbook declares them -- safety and comfort, then the fix and when, then the money, then
the paperwork -- in every shipped type, channel and language.

Each action's own fragment is rendered on its own and looked up in the reply: every one
that the reply says must come after the ones declared before it.
"""

from __future__ import annotations

import itertools
from datetime import datetime, timezone
from typing import Any

import pytest

from cxplay import Engine
from cxplay._replies.renderer import ReplyContext, template_name
from cxplay.models import CHANNELS, COMPENSATION_KINDS
from tests.rendered import LANGUAGES, incidents

NOW = datetime(2026, 11, 24, 9, 0, tzinfo=timezone.utc)


@pytest.fixture(scope="module")
def engine() -> Engine:
    return Engine.from_path()


def _declared(engine: Engine) -> dict[tuple[str, str], tuple[int, int]]:
    """(rule id, fragment name) -> (the rule's position in its file set, the action's)."""
    order: dict[tuple[str, str], tuple[int, int]] = {}
    for position, compiled in enumerate(engine.playbooks.rules):
        for index, action in enumerate(compiled.rule.actions):
            params = action.model_dump(mode="json", exclude_none=True)
            name = params.get("template") or (
                f"inform.{params['topic']}"
                if action.kind == "inform"
                else f"gesture.{params['item']}"
                if action.kind == "gesture"
                else action.kind
            )
            order.setdefault((compiled.id, name), (position, index))
    return order


def _out_of_order(engine: Engine, incident: dict[str, Any], language: str) -> str | None:
    renderer = engine.renderer
    assert renderer is not None
    suggestion = engine.suggest(incident, language=language)
    reply = suggestion.reply
    if reply is None:
        return None
    channel = reply.channel
    model = engine.incident(incident)
    ctx = ReplyContext(
        actions=suggestion.actions,
        languages=[language],
        default_language=language,
        respond_by=suggestion.respond_by,
        follow_ups=suggestion.follow_ups,
        now=model.occurred_at or NOW,
    )
    base = renderer.context(model, ctx, language, channel)
    declared = _declared(engine)
    body = " ".join(reply.body.split())
    said: list[tuple[tuple[int, int], int, str]] = []
    for action in suggestion.actions:
        if action.kind == "apology":
            continue
        if channel == "social_public" and action.kind in COMPENSATION_KINDS:
            continue
        name = template_name(action)
        local = renderer.action_context(action, language, channel, base)
        text = " ".join((renderer.fragment(language, name, channel, local) or "").split())
        if len(text) < 12:
            continue  # nothing said, or too short to place
        place = body.find(text)
        if place < 0:
            # an SMS lowers the first letter after the name; a lead sentence may be merged
            place = body.find(text[1:])
        if place < 0:
            continue
        said.append((declared[(action.rule, name)], place, name))
    said.sort()
    for (_, first, name_a), (_, second, name_b) in itertools.pairwise(said):
        if second < first:
            return f"'{name_b}' is said before '{name_a}', which the playbook declares first"
    return None


def test_every_shipped_reply_follows_the_declared_order(engine: Engine) -> None:
    problems = []
    for case, incident in incidents(engine):
        for channel in CHANNELS:
            for language in LANGUAGES:
                found = _out_of_order(engine, {**incident, "channel": channel}, language)
                if found:
                    problems.append(f"{case} [{language}/{channel}]: {found}")
    assert not problems, "\n".join(problems[:20])


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("channel", CHANNELS)
def test_the_child_seat_puts_care_first_and_cancellation_last(
    engine: Engine, channel: str, language: str
) -> None:
    """The flagship safety case: water before the options, the options before the
    receipts, free cancellation after them -- never before the options."""
    incident = {
        "type": "child_seat_missing",
        "channel": channel,
        "occurred_at": "2026-07-14T15:20:00+02:00",
        "customer": {"name": "Tomasz Wiśniewski"},
        "order": {"id": "RES-88213", "value": 1450.0, "currency": "EUR"},
        "facts": {"missing_item": "child_seat", "pickup_in_minutes": 0, "temperature_c": 34.0},
    }
    reply = engine.suggest(incident, language=language).reply
    assert reply is not None
    body = reply.body
    marks = {
        "en": ("cold water", "nearest branch", "receipts", "cancel the booking"),
        "pl": ("wodę", "oddział", "rachunki", "anulować"),
        "uk": ("воду", "відділення", "чеки", "скасувати"),
    }[language]
    places = [body.find(mark) for mark in marks]
    present = [p for p in places if p >= 0]
    assert present == sorted(present), body
    if channel not in ("social_public", "sms"):
        assert places[1] >= 0 and places[3] >= 0, body  # the options and the cancellation


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_child_seat_sms_asks_for_the_choice_and_names_the_call(
    engine: Engine, language: str
) -> None:
    incident = {
        "type": "child_seat_missing",
        "channel": "sms",
        "occurred_at": "2026-07-14T15:20:00+02:00",
        "customer": {"name": "Tomasz Wiśniewski"},
        "order": {"id": "RES-88213"},
        "facts": {"missing_item": "child_seat"},
    }
    reply = engine.suggest(incident, language=language).reply
    assert reply is not None and reply.segments is not None and reply.segments <= 3
    expected = {
        "en": ("Reply with your choice", "station manager will call you within 15 minutes"),
        "pl": ("Prosimy o wybór", "Kierownik zadzwoni w ciągu 15 minut"),
        "uk": ("Оберіть", "Керівник зателефонує протягом 15 хвилин"),
    }[language]
    for text in expected:
        assert text in reply.body, reply.body


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_queue_opens_the_till_first(engine: Engine, language: str) -> None:
    incident = {
        "type": "queue_long",
        "channel": "in_person",
        "customer": {"name": "Anna Kowalska"},
        "facts": {"queue_minutes": 25},
    }
    reply = engine.suggest(incident, language=language).reply
    assert reply is not None
    till = {"en": "another till", "pl": "kolejną kasę", "uk": "ще одну касу"}[language]
    chair = {"en": "chair", "pl": "krzesło", "uk": "стілець"}[language]
    assert 0 <= reply.body.find(till) < reply.body.find(chair), reply.body


@pytest.mark.parametrize("language", LANGUAGES)
def test_a_lost_parcel_searches_first_then_falls_back(engine: Engine, language: str) -> None:
    incident = {
        "type": "parcel_lost",
        "channel": "email",
        "occurred_at": "2026-11-24T10:00:00+01:00",
        "order": {"id": "PL-9012", "value": 189.0, "currency": "PLN", "carrier": "InPost"},
    }
    reply = engine.suggest(incident, language=language).reply
    assert reply is not None
    search = {"en": "search for it", "pl": "poszukiwanie", "uk": "пошук"}[language]
    refund = {"en": "refund", "pl": "zwrot", "uk": "повернення"}[language]
    assert 0 <= reply.body.find(search) < reply.body.find(refund), reply.body
