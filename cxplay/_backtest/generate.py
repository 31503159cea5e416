"""Synthetic incidents for backtests, tests and benchmarks (``cxplay backtest --generate N``).

Deterministic: the same ``n`` and ``seed`` give the same incidents, on any machine and
Python version (only :class:`random.Random` drives the choices). The first
``len(TYPES) * len(CHANNELS) * len(LANGUAGES)`` incidents walk every combination of
shipped incident type, channel and language (so any N of at least that covers them all,
and any N of at least 11 covers every type); values (order value, tier, delays, ...) are
drawn around the thresholds the shipped playbooks test, so that a change to a threshold
shows in a backtest. Every incident is valid for the shipped playbooks: each type carries
the facts they require.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta, timezone
from typing import Any

from cxplay.models import CHANNELS

__all__ = ["LANGUAGES", "TYPES", "generate_incidents"]

#: Every incident type the shipped playbooks have rules for.
TYPES = (
    "parcel_damaged",
    "parcel_lost",
    "parcel_late",
    "child_seat_missing",
    "extra_missing",
    "speaker_late",
    "guest_travel_disrupted",
    "guest_early_arrival",
    "queue_long",
    "webinar_missed",
    "reply_overdue",
)
#: The languages the shipped replies are written in, as customers' tags give them.
LANGUAGES = ("pl", "en", "uk")
_TAGS = {"pl": ("pl", "pl-PL"), "en": ("en", "en-GB", "en-US"), "uk": ("uk", "uk-UA")}
_NAMES = {
    "pl": (("Anna Kowalska", "female"), ("Piotr Nowak", "male"), ("Zofia Wiśniewska", "female")),
    "en": (("Emily Clarke", "female"), ("James Whitfield", "male"), ("Sam Taylor", "unknown")),
    "uk": (("Олена Петренко", "female"), ("Андрій Шевченко", "male"), ("Ірина Коваль", "female")),
}
_TIERS = ("standard", "standard", "silver", "gold", "vip")
_CARRIERS = ("InPost", "DPD", "Poczta Polska", "DHL")
_STAGES = {
    "parcel": "delivery",
    "child": "delivery",
    "extra": "delivery",
    "speaker": "event",
    "guest": "event",
    "queue": "purchase",
    "webinar": "after_sales",
    "reply": "after_sales",
}
_START = datetime(2026, 1, 1, tzinfo=timezone(timedelta(hours=1)))

Facts = Callable[[random.Random], dict[str, Any]]


def _parcel_damaged(rng: random.Random) -> dict[str, Any]:
    return {"photos_attached": rng.random() < 0.4}


def _parcel_late(rng: random.Random) -> dict[str, Any]:
    return {"delay_days": rng.choice((1, 2, 3, 4, 5, 7, 9, 10, 11, 14, 21))}


def _rental(rng: random.Random, item: str | None) -> dict[str, Any]:
    facts: dict[str, Any] = {
        "missing_item": item or rng.choice(("gps", "snow_chains", "roof_box", "infant_seat")),
        "pickup_in_minutes": rng.choice((0, 0, 30, 90, 240)),
    }
    if rng.random() < 0.5:
        facts["temperature_c"] = round(rng.uniform(-5, 38), 1)
    return facts


def _speaker_late(rng: random.Random) -> dict[str, Any]:
    facts: dict[str, Any] = {
        "delay_minutes": rng.choice((5, 10, 15, 20, 30, 45, 60, 90, 120)),
        "session_starts_in_minutes": rng.choice((10, 25, 30, 45, 90, 180)),
        "travel_mode": rng.choice(("train", "flight", "car", "local")),
    }
    if rng.random() < 0.5:
        facts["replan"] = rng.choice(("none", "swap", "move_room", "escalate"))
    return facts


def _guest_travel(rng: random.Random) -> dict[str, Any]:
    hour = rng.randint(6, 23)
    return {
        "delay_minutes": rng.choice((10, 20, 45, 90, 120, 180, 240, 400)),
        "travel_mode": rng.choice(("flight", "train", "bus")),
        "arrival_time": f"{hour:02d}:{rng.choice((0, 15, 30, 45)):02d}",
        "cancelled": rng.random() < 0.15,
        "restaurant_tip": "Bistro Aviator, Terminal 1",
    }


def _guest_early(rng: random.Random) -> dict[str, Any]:
    return {
        "arrival_time": f"{rng.randint(5, 11):02d}:{rng.choice((0, 20, 40)):02d}",
        "early_minutes": rng.choice((30, 60, 120, 240)),
        "travel_mode": rng.choice(("train", "flight", "car")),
    }


_FACTS: dict[str, Facts] = {
    "parcel_damaged": _parcel_damaged,
    "parcel_lost": lambda rng: {},
    "parcel_late": _parcel_late,
    "child_seat_missing": lambda rng: _rental(rng, "child_seat"),
    "extra_missing": lambda rng: _rental(rng, None),
    "speaker_late": _speaker_late,
    "guest_travel_disrupted": _guest_travel,
    "guest_early_arrival": _guest_early,
    "queue_long": lambda rng: {"queue_minutes": rng.choice((5, 8, 10, 12, 15, 20, 25, 40, 55))},
    "webinar_missed": lambda rng: {"replay_url": "https://example.com/replay/nps-2026"},
    "reply_overdue": lambda rng: {"waiting_minutes": rng.choice((60, 300, 480, 1500, 2900, 4400))},
}

_ORDER_VALUES = (19.99, 49.0, 89.99, 99.99, 100.0, 120.0, 149.0, 150.0, 249.99, 480.0, 620.0)


def _order(rng: random.Random, kind: str, number: int) -> dict[str, Any] | None:
    if kind.startswith("parcel") or kind == "reply_overdue":
        value = rng.choice(_ORDER_VALUES) if rng.random() < 0.92 else rng.choice((1800.0, 3500.0))
        return {
            "id": f"PL-{number:07d}",
            "value": value,
            "currency": "PLN",
            "carrier": rng.choice(_CARRIERS),
        }
    if kind in ("child_seat_missing", "extra_missing"):
        return {
            "id": f"RES-{number:07d}",
            "value": float(rng.randint(150, 900)),
            "currency": rng.choice(("PLN", "PLN", "EUR")),
        }
    return None


def generate_incidents(n: int, *, seed: int = 0) -> Iterator[dict[str, Any]]:
    """``n`` incidents, deterministic by ``seed``; see the module's docstring."""
    rng = random.Random(seed)
    walk = len(TYPES) * len(CHANNELS) * len(LANGUAGES)
    for number in range(n):
        if number < walk:
            kind = TYPES[number % len(TYPES)]
            channel = CHANNELS[(number // len(TYPES)) % len(CHANNELS)]
            language = LANGUAGES[number // (len(TYPES) * len(CHANNELS))]
        else:
            kind = rng.choice(TYPES)
            channel = rng.choice(CHANNELS)
            language = rng.choice(LANGUAGES)
        name, gender = rng.choice(_NAMES[language])
        incident: dict[str, Any] = {
            "id": f"GEN-{seed}-{number + 1}",
            "type": kind,
            "occurred_at": (_START + timedelta(seconds=rng.randrange(365 * 86400))).isoformat(),
            "channel": channel,
            "stage": _STAGES[kind.split("_")[0]],
            "customer": {
                "id": f"C-{rng.randrange(1, 50_000)}",
                "name": name,
                "language": rng.choice(_TAGS[language]),
                "tier": rng.choice(_TIERS),
                "orders_count": rng.randrange(0, 40),
                "compensations_90d": rng.choice((0, 0, 0, 0, 1, 1, 2, 3)),
                "gender": gender,
            },
            "facts": _FACTS[kind](rng),
        }
        if rng.random() < 0.2:
            incident["severity"] = rng.choice(("low", "medium", "high"))
        order = _order(rng, kind, number + 1)
        if order is not None:
            incident["order"] = order
        if _STAGES[kind.split("_")[0]] == "event":
            incident["event"] = {"id": "cxconf-2026", "session": "Keynote", "speaker": name}
        yield incident
