"""``POST /v1/suggest`` past FastAPI's own layers answers exactly as FastAPI's stack does.

:class:`cxplay._serve.fast.ServiceApp` serves the hot path in one coroutine (``fast_hot``),
and what it refuses or fails with by the 500 handler, the Guard and the exception handlers
only (the short stack). Every request here is sent three times, to the hot path, to the
short stack alone (without ``fast_hot``) and to the same app through FastAPI's whole stack
(without its ``fast_route``, the app takes its usual way), and the status, headers, body
and metrics must be the same.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("fastapi", reason="the serve extra is not installed")

from fastapi.testclient import TestClient

from cxplay._serve import ServeConfig, create_app
from cxplay._serve.fast import ServiceApp

ROOT = Path(__file__).resolve().parent.parent
AGENT = "agent-token-0123456789"
ADMIN = "admin-token-0123456789"
TOKENS = f"{AGENT}:agent,{ADMIN}:admin"
PARCEL = (ROOT / "examples" / "incidents" / "parcel_damaged.json").read_bytes()
JSON = {"Content-Type": "application/json", "Authorization": f"Bearer {AGENT}"}

CASES: list[tuple[str, dict[str, str], bytes]] = [
    ("", JSON, PARCEL),
    ("?explain=true", JSON, PARCEL),
    ("?explain=maybe", JSON, PARCEL),
    ("", {"Content-Type": "application/json"}, PARCEL),  # no token: 401
    ("", {**JSON, "Authorization": "Bearer nope-nope-nope-nope"}, PARCEL),
    ("", {**JSON, "Content-Type": "text/plain"}, PARCEL),  # 415
    ("", JSON, b"{not json"),  # 422
    ("", JSON, b'{"id": "X", "type": "parcel_damage"}'),  # did you mean: 422
    ("", JSON, b"[1, 2]"),
    ("", JSON, b"\xff\xfe"),  # not UTF-8
    ("", {**JSON, "Content-Type": "application/toml"}, b'id = "T-1"\ntype = "queue_long"\n'),
    ("", JSON, b" " * (1024 * 1024 + 1)),  # 413, by its Content-Length
    ("", JSON, b'{"id": "CRASH", "type": "parcel_damaged"}'),  # 500 (see _crashing)
]


def _incident_id(incident: Any) -> Any:
    """The id of the incident the engine is given: a dict, or the Incident the service
    validated from a JSON body (cxplay._serve.common.incident_json)."""
    return incident.get("id") if isinstance(incident, dict) else getattr(incident, "id", None)


def _crashing(app: Any) -> None:
    """An engine that fails on the incident "CRASH": the 500 handler's answer."""
    service = app.state.service
    suggest = service.engine.suggest

    def failing(incident: Any, **options: Any) -> Any:
        if _incident_id(incident) == "CRASH":
            raise RuntimeError("boom")
        return suggest(incident, **options)

    service.engine.suggest = failing


def answers(app: Any) -> list[tuple[int, list[tuple[str, str]], bytes]]:
    """Each case's status, headers (without the date) and body through one stack."""
    found = []
    with TestClient(app, raise_server_exceptions=False) as client:
        for query, headers, body in CASES:
            response = client.post(f"/v1/suggest{query}", content=body, headers=headers)
            kept = sorted((k, v) for k, v in response.headers.items() if k != "date")
            content = response.content
            if response.status_code == 200:  # the same answer but for its decision id
                document = json.loads(content)
                document.pop("decision_id", None)
                content = json.dumps(document, sort_keys=True).encode()
            found.append((response.status_code, kept, content))
    return found


def test_the_hot_path_and_the_short_stack_answer_as_fastapi_does() -> None:
    app = create_app(ServeConfig(tokens_env=TOKENS, watch=False))
    _crashing(app)
    assert isinstance(app, ServiceApp)
    hot = answers(app)
    assert app._cx_fast is not None and app.fast_hot is not None  # the hot path served them
    original, original_hot = app.fast_route, app.fast_hot
    app.fast_hot = None  # the short stack alone (the code before the hot path)
    try:
        short = answers(app)
    finally:
        app.fast_hot = original_hot

    # the same app through FastAPI's stack: no fast route to take
    app.fast_route = None
    app._cx_built = False
    try:
        whole = answers(app)
    finally:
        app.fast_route = original
    assert [a[0] for a in short[:11]] == [200, 200, 422, 401, 401, 415, 422, 422, 422, 422, 422]
    assert [a[0] for a in short[11:]] == [413, 500]
    assert hot == short == whole


def test_the_metrics_count_both_ways_alike() -> None:
    counted = []
    for way in ("hot", "short", "fastapi"):
        app = create_app(ServeConfig(tokens_env=TOKENS, watch=False))
        _crashing(app)
        if way == "short":
            app.fast_hot = None
        elif way == "fastapi":
            app.fast_route = None
        answers(app)
        with TestClient(app) as client:
            text = client.get("/metrics").text
        lines = [
            line
            for line in text.splitlines()
            if re.match(r"cxplay_(http_requests_total|suggestions_total|rule_matches_total)", line)
            and "/metrics" not in line
        ]
        counted.append(sorted(lines))
    assert counted[0] == counted[1] == counted[2]
    assert any('route="/v1/suggest",status="422"' in line for line in counted[0])
    assert any('route="/v1/suggest",status="500"' in line for line in counted[0])
    assert any('route="unmatched",status="413"' in line for line in counted[0])


def test_cors_and_root_paths_take_the_usual_way() -> None:
    app = create_app(
        ServeConfig(tokens_env=TOKENS, watch=False, cors_origins=("https://desk.example",))
    )
    with TestClient(app) as client:
        response = client.post(
            "/v1/suggest", content=PARCEL, headers={**JSON, "Origin": "https://desk.example"}
        )
    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] == "https://desk.example"
    assert app._cx_built and app._cx_fast is None  # CORS middleware: no short stack
