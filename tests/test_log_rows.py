"""The decision rows the log writes stay byte for byte what they were (branch s-log5).

The row builder was made cheaper (the actions' JSON in one pydantic-core pass, the UTC
time text without a conversion, free text without an "@" not scanned for addresses, a
batch's rows not copied); the reference below is the code as it was, and each row --
its SQLite parameters and its PostgreSQL JSON -- must be the same for the shipped
example incidents and for generated ones.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import logstores
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cxplay import DecisionLog, Engine, LogError
from cxplay._common.models import json_bytes
from cxplay._log import fast, privacy, records
from cxplay._log.privacy import DEFAULT_MASK
from cxplay.models import Incident
from cxplay.results import Suggestion

store = logstores.store
ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = sorted((ROOT / "examples" / "incidents").glob("*.json"))
AT = datetime(2026, 12, 7, 9, 30, 0, 123456, tzinfo=timezone.utc)


# -- the code as it was ----------------------------------------------------------------


def _old_utc_text(moment: datetime) -> str:
    if moment.tzinfo is not None:
        moment = moment.astimezone(timezone.utc).replace(tzinfo=None)
    return moment.isoformat(sep=" ", timespec="microseconds")


def _old_actions_json(actions: tuple[Any, ...]) -> str:
    return "[" + ",".join(json_bytes(action).decode() for action in actions) + "]"


_OLD_EMAIL = re.compile(r"(?<![\w.+-])[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
_OLD_PHONE = re.compile(r"(?<![\w+])\+?\d[\d ().-]{7,}\d(?!\w)")


def _old_redact_text(text: str) -> str:
    text = _OLD_EMAIL.sub("[email]", text)

    def phone(match: re.Match[str]) -> str:
        found = match.group(0)
        return "[phone]" if sum(c.isdigit() for c in found) >= 9 else found

    return _OLD_PHONE.sub(phone, text)


# -- both builders -----------------------------------------------------------------------


@pytest.fixture(scope="module")
def engine() -> Iterator[Engine]:
    with Engine.from_path(backend="python") as built:
        yield built


def _written(
    incident: Incident, suggestion: Suggestion, mask: tuple[str, ...]
) -> tuple[list[Any], str]:
    """The row as SQLite gets it (parameters) and as PostgreSQL gets it (JSON)."""
    row = records.decision_row(
        incident,
        suggestion,
        digest="0123456789abcdef",
        playbooks=["a.toml", "b.toml"],
        backend="python",
        at=AT,
        mask=mask,
    )
    assert records.prepare_row(row) is None
    sqlite = fast.SqliteFastPath.__new__(fast.SqliteFastPath)  # (no engine: _row only)
    return sqlite._row(row), fast._pg_row_json(row)


def _both(
    incident: Incident, engine: Engine, monkeypatch: pytest.MonkeyPatch, mask: tuple[str, ...]
) -> tuple[tuple[list[Any], str], tuple[list[Any], str]]:
    suggestion = engine.suggest(incident)  # (its respond_by is measured from now)
    new = _written(incident, suggestion, mask)
    with monkeypatch.context() as old:
        old.setattr(fast, "_utc_text", _old_utc_text)
        old.setattr(records, "actions_json", _old_actions_json)
        old.setattr(privacy, "redact_text", _old_redact_text)
        reference = _written(incident, suggestion, mask)
    return new, reference


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.stem)
@pytest.mark.parametrize("mask", [DEFAULT_MASK, (), ("customer.*", "facts.*")])
def test_the_examples_rows_are_what_they_were(
    path: Path, mask: tuple[str, ...], engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    incident = Incident.model_validate(json.loads(path.read_text(encoding="utf-8")))
    new, reference = _both(incident, engine, monkeypatch, mask)
    assert new == reference
    assert [type(v) for v in new[0]] == [type(v) for v in reference[0]]


_WORDS = st.sampled_from(
    [
        "paczka",
        "anna.k+cx@example.co.uk",
        "a@b",
        "x@y.pl",
        "+48 601 234 567",
        "22 555-01-99",
        "2026-11-20",
        "tel. 601234567",
        "Київ",
        "@",
        "ref 12345678",
        "",
    ]
)
_TEXT = st.lists(_WORDS, max_size=6).map(" ".join)
_ZONES = st.sampled_from(
    [
        timezone.utc,
        timezone(timedelta(hours=2)),
        timezone(timedelta(hours=-5, minutes=-30)),
        ZoneInfo("Europe/Warsaw"),
        ZoneInfo("UTC"),
    ]
)


@st.composite
def incidents(draw: st.DrawFn) -> Incident:
    data: dict[str, Any] = {
        "type": draw(st.sampled_from(["zz_custom", "zz_other"])),
        "id": draw(st.text("ab1-", min_size=1, max_size=8)),  # (without: a random id)
    }
    if draw(st.booleans()):
        moment = draw(st.datetimes(min_value=datetime(2020, 1, 1), max_value=datetime(2030, 1, 1)))
        data["occurred_at"] = moment.replace(tzinfo=draw(_ZONES)).isoformat()
    if draw(st.booleans()):
        data["description"] = draw(_TEXT)
    if draw(st.booleans()):
        data["channel"] = draw(st.sampled_from(["email", "chat", "phone"]))
    customer: dict[str, Any] = {}
    for key in ("id", "name", "tier", "salutation"):
        if draw(st.booleans()):
            customer[key] = draw(_TEXT) or "x"
    if customer:
        data["customer"] = customer
    if draw(st.booleans()):
        data["order"] = {"value": draw(st.floats(0, 10_000)), "currency": "PLN"}
    facts: dict[str, Any] = {}
    for name in draw(st.lists(st.sampled_from(["zeta", "note", "contact_email", "a", "m"]))):
        facts[name] = draw(
            st.one_of(_TEXT, st.integers(-5, 5), st.booleans(), st.lists(_TEXT, max_size=2))
        )
    if facts:
        data["facts"] = facts
    return Incident.model_validate(data)


@given(incident=incidents(), mask=st.sampled_from([DEFAULT_MASK, (), ("facts.*", "customer.n*")]))
@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
def test_generated_rows_are_what_they_were(
    incident: Incident, mask: tuple[str, ...], engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    new, reference = _both(incident, engine, monkeypatch, mask)
    assert new == reference


@given(
    moment=st.datetimes(
        min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30), timezones=_ZONES
    )
    | st.datetimes()
)
def test_the_sqlite_time_text_is_what_it_was(moment: datetime) -> None:
    assert fast.sqlite_time(moment) == _old_utc_text(moment)


def test_free_text_is_redacted_as_before() -> None:
    for text in ["write to anna@example.com or +48 601 234 567", "no at sign 601 234 567", "@"]:
        assert privacy.redact_text(text) == _old_redact_text(text)


def test_a_failed_batch_with_a_decision_twice_is_retried_as_it_was(
    engine: Engine, store: str
) -> None:
    """The rows merged for a write are copies: a failed write leaves the queue as it was."""
    incident = json.loads(EXAMPLES[0].read_text(encoding="utf-8")) | {"id": "TWICE"}
    with DecisionLog.open(store, batch_size=50, max_delay=60) as log:
        assert log._fast is not None
        real = log._fast.upsert
        calls: list[int] = []

        def failing_once(rows: list[dict[str, Any]]) -> None:
            calls.append(len(rows))
            if len(calls) == 1:
                raise LogError("the store is away")
            real(rows)

        log._fast.upsert = failing_once  # type: ignore[method-assign]
        with Engine(engine.playbooks, backend="python", log=log) as recording:
            first = recording.suggest(incident).decision_id
            assert recording.suggest(incident).decision_id == first
        with pytest.raises(LogError, match="away"):
            log.flush()
        assert log.flush() == 2
        assert calls == [1, 1]
        assert {d.id: d.views for d in log.decisions()} == {first: 2}
