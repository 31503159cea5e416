"""A JSON request body validated by pydantic from its bytes: the usual way's incident, or None.

:func:`cxplay._serve.common.incident_json` against the usual way (``parse_incident``,
then the engine's validation of the dict): the same model for every document both
accept, and None (the usual way answers it) for every document the usual way refuses or
reads otherwise. Then the service itself, with and without it: the same answers, errors
(problem+json) included, byte for byte.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("fastapi", reason="the serve extra is not installed")

from fastapi.testclient import TestClient

from cxplay._engine.incident import coerce_incident
from cxplay._incidents import parse_incident
from cxplay._serve import ServeConfig, create_app
from cxplay._serve import app as app_module
from cxplay._serve.common import incident_json
from cxplay.errors import IncidentError
from cxplay.models import CHANNELS, Incident

ROOT = Path(__file__).resolve().parent.parent
INCIDENTS = sorted((ROOT / "examples" / "incidents").glob("*.json"))
AGENT = "agent-token-0123456789"
AS_AGENT = {"Authorization": f"Bearer {AGENT}"}


def usual(body: bytes) -> Incident | str:
    """The incident the usual way makes of a body, or its one-line error."""
    try:
        return coerce_incident(parse_incident(body, name="<request>", fmt="json"))
    except IncidentError as exc:
        return str(exc)


def fingerprint(model: Incident) -> tuple[Any, ...]:
    """What two equal incidents share: fields, their types, the fields given, the JSON."""
    facts = tuple((k, type(v), v) for k, v in model.facts.items())
    return (repr(model), model.model_dump_json(), model.model_fields_set, facts)


def documents() -> Iterator[bytes]:
    """The examples in every language and channel, written three ways."""
    for path in INCIDENTS:
        yield path.read_bytes()
        base = json.loads(path.read_text(encoding="utf-8"))
        for language in ("en", "pl", "uk"):
            for channel in sorted(CHANNELS):
                incident = {**base, "channel": channel}
                incident["customer"] = {**base.get("customer", {}), "language": language}
                yield json.dumps(incident).encode()  # non-ASCII as \\u escapes
                yield json.dumps(incident, ensure_ascii=False).encode()
                yield json.dumps(incident, indent=2, ensure_ascii=False).encode()


def test_every_example_is_the_same_incident() -> None:
    count = 0
    for body in documents():
        fast = incident_json(body, 32)
        assert fast is not None
        expected = usual(body)
        assert isinstance(expected, Incident), expected
        assert fingerprint(fast) == fingerprint(expected)
        count += 1
    assert count == len(INCIDENTS) * (1 + 3 * len(CHANNELS) * 3)


ACCEPTED = [
    b'{"type":"x","type":"y"}',  # duplicate keys: the last value, as json's
    b'{"type":"x","facts":{"a":1,"b":2,"a":3}}',
    b'{"type":"x","customer":{"name":"a"},"customer":{"tier":"b"}}',
    b'{"type":"x","customer":{"name":"a","name":"b"}}',
    b'{"type":"x","description":"\\ud83d\\ude00 \\u00e9\xc3\xa9 \\"q\\" \\\\ \\/ \\t"}',
    b'{"type":"x","facts":{"a":-0,"b":-0.0,"c":1.0,"d":1E2,"e":1e-7,"f":[1,2.5,true,"s"]}}',
    b'{"type":"x","facts":{"a":9007199254740992,"b":0.1,"c":2.5e-300,"d":false}}',
    b'{"type":"x","customer":{"lifetime_value":12,"orders_count":3.0,"compensations_90d":1e1}}',
    b'{"type":"x","customer":{"orders_count":"3"}}',
    b'{"type":"x","occurred_at":1700000000}',
    b'{"type":"x","occurred_at":"2026-11-20T09:15:00Z"}',
    b'{"type":"x","occurred_at":"2026-11-20T09:15:00.123456+05:45"}',
    b'{"type":"x","order":{"value":12.5,"currency":"EUR","id":"A-1"},"event":{"id":"e"}}',
    b'{"type":"x","customer":{"language":"pl","timezone":"Europe/Warsaw","gender":"female"}}',
    b' \n{"type" : "x" ,\r\n "id":"i1"}\t\n',
    b'{"\\u0074ype":"x","facts":{"\\u0061":1}}',
    b'{"type":"x","customer":{},"order":{},"event":{},"facts":{}}',
]

REFUSED_OR_OTHERWISE = [
    b'{"type":"x","facts":{"a":NaN}}',  # pydantic's parser reads these; json refuses them
    b'{"type":"x","facts":{"a":Infinity}}',
    b'{"type":"x","facts":{"a":-Infinity}}',
    b'{"type":"x","description":"NaN"}',  # (not refused: answered the usual way)
    b'\xef\xbb\xbf{"type":"x"}',  # a BOM: the usual way drops it
    b'{"type":"x","description":"\xff\xfe"}',
    b'{"type":"x","description":"a\xc3"}',
    b'{"type":"x","description":"\\ud800"}',
    b'{"type":"x","facts":{"a":' + b"9" * 300 + b"}}",
    b'{"type":"x","facts":{"a":1e400}}',
    b'{"type":"x","customer":{"lifetime_value":true}}',
    b'{"type":"x","occurred_at":"2026-11-20"}',
    b'{"type":"x","order":{"value":"12.5"}}',
    b'{"type":"x"} x',
    b'{"type":"x",}',
    b'{"type":"x","facts":{"a":01}}',
    b'{"type":"x","description":"a\tb"}',
    b'{"type":"x","facts":{"a":"\\u0000"}}',
    b'{"type":"x","customer":null}',
    b'{"type":"x","facts":null}',
    b'{"type":"x","facts":{"a":[1,[2]]}}',
    b'{"type":"x","facts":{"a":{"b":1}}}',
    b'{"type":"x","facts":{"a":true,"c":null}}',
    b'{"type":"x","customer":{"compensations_90d":-1}}',
    b'{"type":"x","unknown":1}',
    b'{"type":"x","customer":{"nick":"a"}}',
    b"[1]",
    b'"x"',
    b"{}",
    b"",
    b"null",
    b'{"type":"' + b"x" * 200 + b'"}',
]


@pytest.mark.parametrize("body", ACCEPTED + REFUSED_OR_OTHERWISE)
def test_only_what_the_usual_way_accepts_and_as_it_does(body: bytes) -> None:
    fast = incident_json(body, 32)
    expected = usual(body)
    if fast is not None:
        assert isinstance(expected, Incident), expected
        assert fingerprint(fast) == fingerprint(expected)
    if body in ACCEPTED:
        assert fast is not None
    elif isinstance(expected, str):
        assert fast is None


@pytest.mark.parametrize(
    "body", [b for b in REFUSED_OR_OTHERWISE if b"NaN" in b or b"Infinity" in b or b"\xef" in b]
)
def test_what_pydantic_reads_otherwise_is_left_to_the_usual_way(body: bytes) -> None:
    assert incident_json(body, 32) is None


def test_deep_long_and_crowded_documents_are_left_to_the_usual_way() -> None:
    body = b'{"type":"x","customer":{"name":"a"},"facts":{"a":[1]}}'
    assert incident_json(body, 4) is not None  # four brackets: at most four levels
    assert incident_json(body, 3) is None  # brackets that could nest deeper: json_depth_ok's
    limit = sys.get_int_max_str_digits()
    padded = b'{"type":"x","description":"' + b"a" * limit + b'"}'
    assert isinstance(usual(padded), Incident)
    assert incident_json(padded, 32) is None  # the usual way reads it with json alone
    short = b'{"type":"x","description":"' + b"a" * (limit - 40) + b'"}'
    assert incident_json(short, 32) is not None
    colons = b'{"type":"x","description":"' + b":" * 1001 + b'"}'  # _too_big looks into it
    fast, expected = incident_json(colons, 32), usual(colons)
    assert fast is not None and isinstance(expected, Incident)
    assert fingerprint(fast) == fingerprint(expected)
    crowded = b'{"type":"x","facts":{"a":[' + b",".join([b"{}"] * 101) + b"]}}"
    assert "103 objects" in str(usual(crowded))
    assert incident_json(crowded, 1000) is None  # (refused by _too_big, not by its depth)


# -- the service, with and without it -------------------------------------------------------


def bodies() -> Iterator[tuple[str, bytes]]:
    for path in INCIDENTS:
        incident = json.loads(path.read_bytes())
        incident.setdefault("occurred_at", "2026-11-20T09:15:00+01:00")  # respond_by fixed
        yield "/v1/suggest", json.dumps(incident, ensure_ascii=False).encode()
        yield "/v1/suggest?explain=true", json.dumps(incident).encode()
    dated = b',"occurred_at":"2026-11-20T09:15:00+01:00"}'
    for body in ACCEPTED:
        yield "/v1/suggest", body.rstrip()[:-1] + dated
    for body in REFUSED_OR_OTHERWISE:
        yield "/v1/suggest", body
    yield "/v1/suggest", b'{"type":"parcel_damage","occurred_at":"2026-11-20T09:15:00+01:00"}'
    yield "/v1/suggest", b'{"type":"x","facts":{"a":[' + b"[" * 40 + b"]" * 40 + b"]}}"


@pytest.mark.parametrize("backend", ["python", "durable"])
def test_the_service_answers_the_same_bytes_with_and_without_it(
    backend: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = ServeConfig(tokens_env=f"{AGENT}:agent", watch=False, backend=backend)
    app = create_app(config)
    engine = app.state.service.engine
    if engine.backend != backend:
        pytest.skip(f"no {backend} backend")
    calls: list[Any] = []

    def counted(body: bytes, max_depth: int) -> Incident | None:
        found = incident_json(body, max_depth)
        calls.append(found)
        return found

    with TestClient(app, raise_server_exceptions=False) as api:
        monkeypatch.setattr(app_module, "incident_json", counted)
        fast = [api.post(url, content=body, headers=AS_AGENT) for url, body in bodies()]
        monkeypatch.setattr(app_module, "incident_json", lambda body, depth: None)
        slow = [api.post(url, content=body, headers=AS_AGENT) for url, body in bodies()]
    assert any(found is not None for found in calls) and None in calls
    assert {r.status_code for r in fast} >= {200, 422}
    for one, other in zip(fast, slow, strict=True):
        assert (one.status_code, one.content) == (other.status_code, other.content)
        assert one.headers["content-type"] == other.headers["content-type"]
