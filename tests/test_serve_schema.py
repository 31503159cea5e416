"""schemathesis against the service's own OpenAPI: no 5xx, every response as documented.

Bounded: a few dozen generated requests per operation, so the whole file runs in well under
a minute. Requests carry an admin token (auth itself is tested in test_serve.py).
"""

from __future__ import annotations

from typing import Any

import pytest

pytest.importorskip("schemathesis", reason="schemathesis is not installed")
pytest.importorskip("fastapi", reason="the serve extra is not installed")

import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from cxplay._serve import ServeConfig, create_app

ADMIN = "admin-token-0123456789"
APP = create_app(ServeConfig(tokens_env=f"{ADMIN}:admin", watch=False))
schema = schemathesis.openapi.from_asgi("/openapi.json", APP)


@schemathesis.serializer("application/x-ndjson")
def _json_lines(ctx: Any, value: Any) -> bytes:
    """/v1/incidents' JSON lines: the generated text as it is (whatever it holds)."""
    return value.encode("utf-8", "surrogatepass") if isinstance(value, str) else b""


CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]


@schema.exclude(path="/v1/reload").parametrize()  # reloads validate the whole set: seconds each
@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    derandomize=True,
)
def test_every_operation_answers_as_documented(case: Any) -> None:
    case.call_and_validate(headers={"Authorization": f"Bearer {ADMIN}"}, checks=CHECKS)


def test_reload_answers_as_documented() -> None:
    operation = schema["/v1/reload"]["POST"]
    case = operation.Case()
    # a reload validates the whole playbook set (seconds); on a loaded 2-core CI machine
    # that outlasts the client's default 10 s read timeout
    case.call_and_validate(headers={"Authorization": f"Bearer {ADMIN}"}, checks=CHECKS, timeout=120)
