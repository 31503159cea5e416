"""The decision rows the log writes stay byte for byte what they were (s-log5, s-logw).

The row builder was made cheaper twice: s-log5 (the actions' JSON in one pydantic-core
pass, the UTC time text without a conversion, free text without an "@" not scanned for
addresses, a batch's rows not copied), then s-logw (the incident's JSON in one pass of its
model's serializer, reused as the stored incident when masking changes nothing; a queued
decision instead of a 27-column dict; SQL's constants for a new decision's empty columns).
The reference below is the code as it was before both, copied whole; each row -- the
values SQLite gets, the JSON PostgreSQL gets, and the row each database then holds --
must be the same for the shipped example incidents and for generated ones.
"""

from __future__ import annotations

import fnmatch
import functools
import hashlib
import json
import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import logstores
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic_core import to_json

from cxplay import DecisionLog, Engine, LogError
from cxplay._common.models import json_bytes
from cxplay._log import fast, privacy, records, schema
from cxplay._log.privacy import DEFAULT_MASK
from cxplay.models import Customer, Incident
from cxplay.results import Suggestion

store = logstores.store
ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = sorted((ROOT / "examples" / "incidents").glob("*.json"))
AT = datetime(2026, 12, 7, 9, 30, 0, 123456, tzinfo=timezone.utc)
DIGEST = "0123456789abcdef"
PLAYBOOKS = ("a@1.0.0", "b@2.0.0")


# -- the code as it was (main at 7d38e07, with s-log5's own references) ------------------


def _old_utc_text(moment: datetime) -> str:
    if moment.tzinfo is not None:
        moment = moment.astimezone(timezone.utc).replace(tzinfo=None)
    return moment.isoformat(sep=" ", timespec="microseconds")


def _old_sqlite_time(moment: datetime | None) -> str | None:
    return None if moment is None else _old_utc_text(moment)


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


@functools.lru_cache(maxsize=64)
def _old_matcher(patterns: tuple[str, ...]) -> Callable[[str], bool]:
    if not patterns:
        return lambda path: False
    regex = re.compile("|".join(f"(?:{fnmatch.translate(p)})" for p in patterns))
    return lambda path: regex.match(path) is not None


def _old_mask_incident(incident: Mapping[str, Any], patterns: Iterable[str]) -> dict[str, Any]:
    masked = _old_matcher(tuple(patterns))

    def walk(value: Any, path: str, free: bool) -> Any:
        if path and masked(path):
            return "[masked]"
        kind = type(value)
        if kind is dict or (kind is not str and isinstance(value, Mapping)):
            return {k: walk(v, f"{path}.{k}" if path else str(k), free) for k, v in value.items()}
        if kind is list:
            return [walk(v, path, free) for v in value]
        if free and kind is str:
            return _old_redact_text(value)
        return value

    return {
        key: walk(value, key, key in ("description", "facts")) for key, value in incident.items()
    }


def _old_incident_content(dumped: Mapping[str, Any]) -> str:
    facts = dumped.get("facts")
    if facts:
        dumped = {**dumped, "facts": dict(sorted(facts.items()))}
    return hashlib.sha256(to_json(dumped)).hexdigest()[:32]


def _old_decision_row(
    incident: Incident, suggestion: Suggestion, *, mask: Sequence[str]
) -> dict[str, Any]:
    """``decision_row`` and then ``prepare_row`` as they were: the JSON columns as text."""
    dumped = incident.model_dump(mode="json", exclude_none=True, exclude_defaults=True)
    content = _old_incident_content(dumped)
    decision_id = hashlib.sha256(f"{incident.id}\x00{content}\x00{DIGEST}".encode()).hexdigest()[
        :32
    ]
    reply = suggestion.reply
    return {
        "id": decision_id,
        "incident_key": incident.id,
        "digest": DIGEST,
        "created_at": AT,
        "seen_at": AT,
        "views": 1,
        "customer_id": incident.customer.id,
        "type": incident.type,
        "channel": reply.channel if reply is not None else incident.channel,
        "language": reply.language if reply is not None else incident.customer.language,
        "severity": suggestion.severity,
        "matched": suggestion.matched,
        "backend": "python",
        "playbooks": list(PLAYBOOKS),
        "incident": to_json(_old_mask_incident(dumped, mask)).decode(),
        "actions": _old_actions_json(suggestion.actions),
        "rules": ";".join(
            f"{rule} {playbook}"
            for rule, playbook in dict.fromkeys((a.rule, a.playbook) for a in suggestion.actions)
        ),
        "occurred_at": incident.occurred_at,
        "respond_by": suggestion.respond_by,
        "status": None,
        "decided_at": None,
        "first_response_s": None,
        "on_time": None,
        "csat": None,
        "nps": None,
        "ces": None,
        "forgotten": False,
    }


_COLUMNS = [str(c.name) for c in schema.decision.columns]  # (the table stays as it was)
_OLD_JSON = ("playbooks", "incident", "actions")
_OLD_TIMES = ("created_at", "seen_at", "occurred_at", "respond_by", "decided_at")


def _old_sqlite_row(row: dict[str, Any]) -> list[Any]:
    """What SQLite was given per column (``SqliteFastPath._row``)."""
    return [
        (row[c] if isinstance(row[c], str) else to_json(row[c]).decode())
        if c in _OLD_JSON
        else _old_sqlite_time(row[c])
        if c in _OLD_TIMES
        else row[c]
        for c in _COLUMNS
    ]


def _old_pg_row_json(row: dict[str, Any]) -> str:
    """What PostgreSQL was given per decision (``_pg_row_json``)."""
    plain = to_json({c: row[c] for c in _COLUMNS if c not in _OLD_JSON}).decode()
    spliced = {
        c: row[c] if isinstance(row[c], str) else to_json(row[c]).decode() for c in _OLD_JSON
    }
    return plain[:-1] + "".join(f',"{c}":{spliced[c]}' for c in _OLD_JSON) + "}"


_OLD_SQLITE_SQL = (
    f"INSERT INTO cxplay_decision ({', '.join(_COLUMNS)}) VALUES ({', '.join(['?'] * len(_COLUMNS))}) "
    "ON CONFLICT (id) DO UPDATE SET views = cxplay_decision.views + excluded.views, "
    "seen_at = excluded.seen_at"
)
_OLD_PG_SQL = (
    f"INSERT INTO cxplay_decision ({', '.join(_COLUMNS)}) SELECT {', '.join(_COLUMNS)} "
    "FROM json_populate_recordset(NULL::cxplay_decision, %s::json) "
    "ON CONFLICT (id) DO UPDATE SET views = cxplay_decision.views + excluded.views, "
    "seen_at = excluded.seen_at"
)


# -- both builders -----------------------------------------------------------------------


@pytest.fixture(scope="module")
def engine() -> Iterator[Engine]:
    with Engine.from_path(backend="python") as built:
        yield built


def _new(incident: Incident, suggestion: Suggestion, mask: tuple[str, ...]) -> records.Pending:
    pending = records.pending_decision(
        incident,
        suggestion,
        digest=DIGEST,
        playbooks=PLAYBOOKS,
        backend="python",
        at=AT,
        mask=mask,
    )
    assert pending.prepare() is None
    return pending


def _sqlite_values() -> dict[str, str]:
    """What the SQLite upsert's VALUES holds per column ("?", a cast of one, a constant)."""
    sql = fast.SqliteFastPath.upsert_sql
    names = sql[sql.index("(") + 1 : sql.index(")")].split(", ")
    values = sql[sql.index("VALUES (") + 8 : sql.index(") ON CONFLICT")].split(", ")
    assert names == _COLUMNS
    return dict(zip(names, values, strict=True))


def _pg_selected() -> dict[str, str]:
    """What PostgreSQL's INSERT ... SELECT takes per column (a document's column, a constant)."""
    return dict(zip(_COLUMNS, fast._PG_SELECTED.split(", "), strict=True))


def _check_same(
    incident: Incident, suggestion: Suggestion, mask: tuple[str, ...]
) -> records.Pending:
    """The new decision's SQLite values and PostgreSQL JSON are the old row's."""
    old = _old_decision_row(incident, suggestion, mask=mask)
    new = _new(incident, suggestion, mask)
    assert new.id == old["id"]
    # SQLite: per column, the parameter (value and type; UTF-8 bytes the statement casts to
    # text for the JSON columns) or the statement's constant
    old_sqlite = dict(zip(_COLUMNS, _old_sqlite_row(old), strict=True))
    parameters = iter(fast.sqlite_parameters(new))
    for column, value in _sqlite_values().items():
        if value == "?":
            given = next(parameters)
            assert (given, type(given)) == (old_sqlite[column], type(old_sqlite[column])), column
        elif value == "CAST(? AS TEXT)":
            given = next(parameters)
            assert type(given) is bytes and given.decode() == old_sqlite[column], column
        else:
            assert (value, old_sqlite[column]) in (("NULL", None), ("0", False)), column
    assert next(parameters, None) is None
    # PostgreSQL: the document's values, the JSON columns' text as it was, the constants
    old_pg, new_pg = _old_pg_row_json(old), fast._pg_row_json(new).decode()
    parsed = json.loads(new_pg)
    assert list(parsed) == [c for c in fast._WRITTEN if c not in _OLD_JSON] + list(_OLD_JSON)
    assert parsed == {c: v for c, v in json.loads(old_pg).items() if c in fast._WRITTEN}
    assert new_pg.endswith("".join(f',"{c}":{old_sqlite[c]}' for c in _OLD_JSON) + "}"), (
        "the JSON columns' text"
    )
    for column, selected in _pg_selected().items():
        if column in parsed:
            assert selected == column
        else:
            assert selected == ("false" if old_sqlite[column] is False else "NULL"), column
    return new


def _suggested(engine: Engine, incident: Incident) -> Suggestion:
    return engine.suggest(incident, now=AT)


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.stem)
@pytest.mark.parametrize("mask", [DEFAULT_MASK, (), ("customer.*", "facts.*"), ("description",)])
def test_the_examples_rows_are_what_they_were(
    path: Path, mask: tuple[str, ...], engine: Engine
) -> None:
    incident = Incident.model_validate(json.loads(path.read_text(encoding="utf-8")))
    _check_same(incident, _suggested(engine, incident), mask)


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
    if customer or draw(st.booleans()):  # (an empty customer, or every field None: default)
        data["customer"] = customer or draw(st.sampled_from([{}, {"id": None}]))
    if draw(st.booleans()):
        data["order"] = draw(
            st.sampled_from([{}, {"currency": "PLN"}])
            | st.floats(0, 10_000).map(lambda v: {"value": v, "currency": "PLN"})
        )
    if draw(st.booleans()):
        data["event"] = draw(st.sampled_from([{}, {"speaker": "Jan Nowak"}, {"id": None}]))
    facts: dict[str, Any] = {}
    names = ["zeta", "note", "contact_email", "a", "m", "phone_home", "b_2"]
    for name in draw(st.lists(st.sampled_from(names))):  # (in any order)
        facts[name] = draw(
            st.one_of(
                _TEXT,
                st.integers(-5, 5),
                st.booleans(),
                st.sampled_from([2.0**53, -0.0, 0.1, 2.5e-7, 123456789.125, 1e15, 5e-324]),
                st.lists(_TEXT | st.integers(0, 3) | st.booleans(), max_size=3),
            )
        )
    if facts or draw(st.booleans()):
        data["facts"] = facts
    return Incident.model_validate(data)


_MASKS = [
    DEFAULT_MASK,
    (),
    ("facts.*", "customer.n*"),
    ("description",),
    ("*name*",),
    ("order",),
    ("facts",),
    ("event.speaker", "facts.note"),
]


@given(incident=incidents(), mask=st.sampled_from(_MASKS))
@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
def test_generated_rows_are_what_they_were(
    incident: Incident, mask: tuple[str, ...], engine: Engine
) -> None:
    _check_same(incident, _suggested(engine, incident), mask)


class _OwnIncident(Incident):
    """A subclass: the log takes the general way (the dump), with the same result."""


def test_the_incident_json_the_general_way_is_the_same() -> None:
    """Subclasses and facts that are not a dict go the general way: the same bytes."""
    data = {
        "id": "X-1",
        "type": "zz_custom",
        "description": "call +48 601 234 567",
        "customer": {"id": "C-1", "name": "Anna"},
        "facts": {"zeta": 1, "alpha": "x"},
    }
    incident = Incident.model_validate(data)
    own = _OwnIncident.model_validate(data)
    for mask in _MASKS:
        fast_way = records.incident_jsons(incident, mask)
        general = records.incident_jsons(own, mask)
        assert fast_way[0] == general[0]
        assert general[1] is None and general[2] is not None


def test_an_incident_without_a_content_field_is_refused_alone() -> None:
    """A value JSON cannot hold (a model made without validation) is refused by record."""
    bad = Incident.model_construct(type="zz_custom", id="B-1", facts={"x": object()})
    with pytest.raises(LogError, match=r"^decision not logged: the incident cannot be stored"):
        records.pending_decision(
            bad,
            Suggestion.model_construct(reply=None, actions=(), severity="low", matched=False),
            digest=DIGEST,
            playbooks=PLAYBOOKS,
            backend="python",
            at=AT,
            mask=DEFAULT_MASK,
        )


def test_a_default_sub_model_is_left_out_as_pydantic_leaves_it_out() -> None:
    """``exclude_defaults``: a customer equal to ``Customer()`` is not in the content."""
    plain = Incident(type="zz_custom", customer=Customer(id=None))
    content, masked, _ = records.incident_jsons(plain, DEFAULT_MASK)
    assert content == masked == b'{"type":"zz_custom"}'
    assert json.loads(content) == plain.model_dump(
        mode="json", exclude_none=True, exclude_defaults=True
    )


def _stored(log: DecisionLog) -> list[str]:
    """Every decision row as the database holds it, column by column, as text."""
    with log._engine.connect() as conn:
        if conn.dialect.name == "sqlite":
            columns = ", ".join(f"typeof({c}) || ':' || quote({c})" for c in _COLUMNS)
            query = f"SELECT {columns} FROM cxplay_decision ORDER BY id"
        else:
            columns = ", ".join(f"{c}::text" for c in _COLUMNS)
            query = f"SELECT {columns} FROM cxplay_decision ORDER BY id"
        return [repr(tuple(row)) for row in conn.exec_driver_sql(query)]


def test_the_stored_rows_are_what_they_were(engine: Engine, store: str) -> None:
    """Written the old way and the new way, each database holds the same rows."""
    cases = []
    for path in EXAMPLES:
        incident = Incident.model_validate(json.loads(path.read_text(encoding="utf-8")))
        cases.append((incident, _suggested(engine, incident)))
    with DecisionLog.open(store, batch_size=64, max_delay=60) as log:
        old = [_old_decision_row(i, s, mask=DEFAULT_MASK) for i, s in cases]
        with log._engine.begin() as conn:
            if conn.dialect.name == "sqlite":
                conn.exec_driver_sql(_OLD_SQLITE_SQL, [tuple(_old_sqlite_row(r)) for r in old])
            else:
                document = "[" + ",".join(map(_old_pg_row_json, old)) + "]"
                conn.exec_driver_sql(_OLD_PG_SQL, (document,))
        before = _stored(log)
        with log._engine.begin() as conn:
            conn.exec_driver_sql("DELETE FROM cxplay_decision")
        for incident, suggestion in cases:
            log.record(
                incident, suggestion, digest=DIGEST, playbooks=PLAYBOOKS, backend="python", now=AT
            )
        assert log.flush() == len(cases)
        assert _stored(log) == before
        assert len(before) == len(EXAMPLES)


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

        def failing_once(rows: list[records.Pending]) -> None:
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


@given(text=_TEXT | st.text("0123456789 ().-+@ax.Ł", max_size=40) | st.text(max_size=20))
def test_redacts_says_whether_redacting_changes_a_text(text: str) -> None:
    assert privacy.redacts(text) == (privacy.redact_text(text) != text)
