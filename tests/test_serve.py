"""The HTTP service: the CLI's contract over HTTP, errors, tokens, limits, reloads, metrics.

The app runs in-process (FastAPI's TestClient); ``test_serve_cli.py`` runs ``cxplay serve``
as a user does.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("fastapi", reason="the serve extra is not installed")

from click.testing import CliRunner
from fastapi.testclient import TestClient

from cxplay._cli import cli
from cxplay._common.models import json_bytes
from cxplay._engine.durable import AVAILABLE as DURABLE
from cxplay._playbooks.loader import shipped_playbooks_dir
from cxplay._serve import ServeConfig, create_app
from tests.serving import copy_replies

ROOT = Path(__file__).resolve().parent.parent
INCIDENTS = sorted((ROOT / "examples" / "incidents").glob("*.json"))
AGENT = "agent-token-0123456789"
ADMIN = "admin-token-0123456789"
TOKENS = f"{AGENT}:agent,{ADMIN}:admin"
AS_AGENT = {"Authorization": f"Bearer {AGENT}"}
AS_ADMIN = {"Authorization": f"Bearer {ADMIN}"}
BACKENDS = [
    pytest.param("durable", marks=pytest.mark.skipif(not DURABLE, reason="no durable")),
    "python",
]

MINI = """\
[playbook]
id = "mini"
version = "1.0.0"

[facts]
delay_days = {{ type = "integer" }}

[[rule]]
id = "mini.late"
when = "type == 'parcel_late' and facts.delay_days >= {days}"
priority = 10
actions = [{{ kind = "apology" }}]
"""


def client(config: ServeConfig, **kwargs: Any) -> TestClient:
    return TestClient(create_app(config), **kwargs)


@pytest.fixture(scope="module", params=BACKENDS)
def api(request: pytest.FixtureRequest) -> Iterator[TestClient]:
    config = ServeConfig(tokens_env=TOKENS, watch=False, backend=request.param)
    with client(config, raise_server_exceptions=False) as c:
        yield c


def cli_json(*args: str) -> Any:
    result = CliRunner().invoke(cli, list(args))
    assert result.exit_code in (0, 3), result.stderr
    return json.loads(result.stdout)


def cli_error(*args: str, input: str | None = None) -> str:
    result = CliRunner().invoke(cli, list(args), input=input)
    assert result.exit_code == 1
    return result.stderr.strip().removeprefix("Error: ")


# --------------------------------------------------------------------------- contract


@pytest.mark.parametrize("path", INCIDENTS, ids=lambda p: p.stem)
def test_suggest_equals_the_cli_json(api: TestClient, path: Path) -> None:
    response = api.post("/v1/suggest", content=path.read_bytes(), headers=AS_AGENT)
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    served = response.json()
    served.pop("decision_id", None)
    printed = cli_json("suggest", str(path), "--format", "json")
    printed.pop("decision_id", None)
    assert served == printed


@pytest.mark.parametrize("path", INCIDENTS[:3], ids=lambda p: p.stem)
def test_explain_equals_the_cli_json(api: TestClient, path: Path) -> None:
    printed = cli_json("explain", str(path), "--format", "json")
    for response in (
        api.post("/v1/explain", content=path.read_bytes(), headers=AS_AGENT),
        api.post("/v1/suggest?explain=true", content=path.read_bytes(), headers=AS_AGENT),
    ):
        assert response.status_code == 200
        served = response.json()
        served.pop("decision_id", None)
        printed.pop("decision_id", None)
        assert served == printed
        assert served["trace"]


@pytest.mark.parametrize("explain", [False, True])
def test_the_answer_is_the_models_json_byte_for_byte(api: TestClient, explain: bool) -> None:
    """The hot path serialises once, without the model's Python-only callbacks: same bytes."""
    engine = api.app.state.service.engine  # type: ignore[attr-defined]
    for path in INCIDENTS:
        incident = json.loads(path.read_bytes())
        incident.setdefault("occurred_at", "2026-11-20T09:15:00+01:00")  # respond_by fixed
        for language in ("en", "pl", "uk"):
            incident.setdefault("customer", {})["language"] = language
            body = json.dumps(incident).encode()
            url = "/v1/suggest?explain=true" if explain else "/v1/suggest"
            response = api.post(url, content=body, headers=AS_AGENT)
            assert response.status_code == 200
            expected = engine.suggest(incident, explain=explain)
            assert response.content == expected.model_dump_json().encode()
            assert response.headers["content-length"] == str(len(response.content))
            assert json_bytes(expected) == expected.model_dump_json().encode()


@pytest.mark.parametrize(
    ("query", "traced"),
    [
        ("", False),
        ("?explain=1", True),
        ("?explain=YES", True),
        ("?explain=off", False),
        ("?other=1", False),
        ("?explain=false&explain=true", True),  # the last one, as Starlette reads it
    ],
)
def test_the_explain_flag_reads_as_fastapi_reads_a_bool(
    api: TestClient, query: str, traced: bool
) -> None:
    body = INCIDENTS[0].read_bytes()
    response = api.post(f"/v1/suggest{query}", content=body, headers=AS_AGENT)
    assert response.status_code == 200
    assert (response.json()["trace"] is not None) is traced


def test_a_missing_content_type_is_json_and_the_first_header_counts(api: TestClient) -> None:
    body = INCIDENTS[0].read_bytes()
    raw = [
        ("authorization", f"Bearer {AGENT}"),
        ("content-type", "application/json; charset=utf-8"),
        ("content-type", "text/plain"),
    ]
    assert api.post("/v1/suggest", content=body, headers=raw).status_code == 200
    assert api.post("/v1/suggest", content=body, headers=AS_AGENT).status_code == 200
    wrong = [("authorization", "Bearer nope"), ("authorization", f"Bearer {AGENT}")]
    problem_of(api.post("/v1/suggest", content=body, headers=wrong), 401)


def test_a_toml_incident_is_read_like_the_cli_reads_one(api: TestClient) -> None:
    body = 'type = "parcel_damaged"\n[order]\nvalue = 250\ncurrency = "PLN"\n'
    response = api.post(
        "/v1/suggest", content=body, headers={**AS_AGENT, "Content-Type": "application/toml"}
    )
    assert response.status_code == 200
    assert [a["kind"] for a in response.json()["actions"]][:2] == ["apology", "refund"]


# --------------------------------------------------------------------------- errors


def problem_of(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body: dict[str, Any] = response.json()
    assert body["status"] == status
    assert body["detail"] == "; ".join(body["errors"])
    assert "Traceback" not in response.text
    return body


def test_an_invalid_incident_gets_the_cli_message(api: TestClient) -> None:
    incident = '{"type": "parcel_late", "channel": "emial"}'
    body = problem_of(api.post("/v1/suggest", content=incident, headers=AS_AGENT), 422)
    assert body["detail"] == cli_error("suggest", "-", input=incident)
    assert body["detail"].startswith("invalid incident: channel: ")


def test_broken_json_names_line_and_column(api: TestClient) -> None:
    body = problem_of(api.post("/v1/suggest", content='{"type": }', headers=AS_AGENT), 422)
    assert body["detail"].startswith("<request>:1:10: invalid JSON")
    assert (
        body["detail"].split(": ", 1)[1]
        == cli_error("suggest", "-", input='{"type": }').split(": ", 1)[1]
    )


def test_a_missing_required_fact_is_an_error_not_a_silent_miss(api: TestClient) -> None:
    body = problem_of(api.post("/v1/suggest", json={"type": "parcel_late"}, headers=AS_AGENT), 422)
    assert body["errors"] == [
        "invalid incident: incident type 'parcel_late' needs fact 'delay_days' (integer)"
    ]


def test_other_media_types_are_refused(api: TestClient) -> None:
    response = api.post(
        "/v1/suggest", content="type=x", headers={**AS_AGENT, "Content-Type": "text/plain"}
    )
    problem_of(response, 415)


def test_the_body_limit_holds_with_and_without_content_length(api: TestClient) -> None:
    big = b'{"type": "x", "description": "' + b"a" * (1 << 20) + b'"}'
    body = problem_of(api.post("/v1/suggest", content=big, headers=AS_AGENT), 413)
    assert body["detail"] == "the request body is larger than 1024 KiB"

    def chunks() -> Iterator[bytes]:  # no Content-Length: counted while read
        for start in range(0, len(big), 65536):
            yield big[start : start + 65536]

    problem_of(api.post("/v1/suggest", content=chunks(), headers=AS_AGENT), 413)


def test_deep_json_is_refused(api: TestClient) -> None:
    deep = '{"type": "x", "facts": {"a": ' + "[" * 40 + "]" * 40 + "}}"
    body = problem_of(api.post("/v1/suggest", content=deep, headers=AS_AGENT), 422)
    assert body["detail"] == "<request>: nested deeper than 32 levels"
    very_deep = '{"type": "x", "facts": {"a": ' + "[" * 100_000 + "]" * 100_000 + "}}"
    problem_of(api.post("/v1/suggest", content=very_deep, headers=AS_AGENT), 422)


def test_an_internal_error_shows_no_trace(
    api: TestClient, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def explode(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("secret internals /etc/passwd")

    engine = api.app.state.service.engine  # type: ignore[attr-defined]
    monkeypatch.setattr(engine, "suggest", explode)
    response = api.post("/v1/suggest", json={"type": "parcel_damaged"}, headers=AS_AGENT)
    body = problem_of(response, 500)
    assert body["errors"] == ["internal error (logged on the server)"]
    assert "secret" not in response.text
    assert "secret internals" in caplog.text  # the server keeps it


def test_unknown_paths_and_methods_are_problems_too(api: TestClient) -> None:
    problem_of(api.get("/v1/nothing"), 404)
    problem_of(api.get("/v1/suggest", headers=AS_AGENT), 405)


# --------------------------------------------------------------------------- tokens


@pytest.mark.parametrize(
    ("headers", "status"),
    [
        ({}, 401),
        ({"Authorization": "Basic dXNlcjpwYXNz"}, 401),
        ({"Authorization": "Bearer not-a-known-token-at-all"}, 401),
        (AS_AGENT, 200),
        (AS_ADMIN, 200),
    ],
)
def test_suggest_needs_an_agent_token(
    api: TestClient, headers: dict[str, str], status: int
) -> None:
    response = api.post("/v1/suggest", json={"type": "parcel_damaged"}, headers=headers)
    assert response.status_code == status
    if status == 401:
        assert response.headers["www-authenticate"] == "Bearer"
        problem_of(response, 401)


def test_validate_and_reload_need_the_admin_role(api: TestClient) -> None:
    upload = {"files": {"a.toml": MINI.format(days=1)}}
    body = problem_of(api.post("/v1/validate", json=upload, headers=AS_AGENT), 403)
    assert body["detail"] == "this needs the admin role; the token has agent"
    problem_of(api.post("/v1/reload", headers=AS_AGENT), 403)
    problem_of(api.post("/v1/validate", json=upload), 401)


def test_no_tokens_refuses_to_start_unless_told() -> None:
    from cxplay import CxplayError

    with pytest.raises(CxplayError, match="no tokens"):
        create_app(ServeConfig(watch=False))
    with client(ServeConfig(watch=False, auth=False)) as open_api:
        assert open_api.post("/v1/suggest", json={"type": "parcel_damaged"}).status_code == 200


def test_a_token_file_with_roles(tmp_path: Path) -> None:
    from cxplay import CxplayError
    from cxplay._serve.auth import load_tokens

    good = tmp_path / "tokens.txt"
    good.write_text(f"# team tokens\n{AGENT} agent\n{ADMIN}   admin  # ops\n", encoding="utf-8")
    assert dict(load_tokens(good).roles) == {AGENT: "agent", ADMIN: "admin"}
    bad = tmp_path / "bad.txt"
    bad.write_text(f"{AGENT} agnet\n", encoding="utf-8")
    with pytest.raises(
        CxplayError, match=r"bad.txt:1: unknown role 'agnet'; did you mean 'agent'\?"
    ):
        load_tokens(bad)
    with pytest.raises(CxplayError, match="CXPLAY_TOKENS: item 1: a token must be 16"):
        load_tokens(None, "short:agent")


# --------------------------------------------------------------------------- other routes


def test_playbooks_lists_types_and_their_facts(api: TestClient) -> None:
    body = api.get("/v1/playbooks", headers=AS_AGENT).json()
    assert {p["id"] for p in body["playbooks"]} >= {"parcel", "rental", "events"}
    types = {t["type"]: t["facts"] for t in body["types"]}
    late = {f["name"]: f for f in types["parcel_late"]}
    assert late["delay_days"] == {
        "name": "delay_days",
        "type": "integer",
        "required": True,
        "description": "Business days past the promised delivery date.",
    }
    assert "source" not in body["playbooks"][0]  # no server paths


@pytest.fixture(scope="module")
def unhurried_api() -> Iterator[TestClient]:
    """A service whose requests may take a minute: validating every shipped reply of a
    playbook in a child process takes seconds, more on a loaded machine, and this test is
    about what validation answers, not about its deadline (test_serve_deadline.py is)."""
    config = ServeConfig(tokens_env=TOKENS, watch=False, timeout=60.0)
    with client(config, raise_server_exceptions=False) as c:
        yield c


def test_validate_an_upload_without_installing_it(unhurried_api: TestClient) -> None:
    api = unhurried_api
    shipped = shipped_playbooks_dir()
    files = {"parcel.toml": (shipped / "parcel.toml").read_text("utf-8")}
    for reply in (shipped / "replies").glob("*.toml"):
        files[f"replies/{reply.name}"] = reply.read_text("utf-8")
    response = api.post("/v1/validate", json={"files": files}, headers=AS_ADMIN)
    assert response.status_code == 200
    report = response.json()
    assert report["playbooks"] == 1 and report["rules"] > 0

    broken = {"files": {"mini.toml": MINI.format(days=1).replace("delay_days >=", "delay_dayz >=")}}
    report = api.post("/v1/validate", json=broken, headers=AS_ADMIN).json()
    assert report["ok"] is False
    assert report["problems"] == [
        "mini.toml:10: mini.late: when: column 27: unknown field 'facts.delay_dayz'; "
        "did you mean 'facts.delay_days'?"
    ]

    for name in ("../x.toml", "/etc/x.toml", "a.txt", "deep/er/x.toml"):
        problem_of(api.post("/v1/validate", json={"files": {name: "x"}}, headers=AS_ADMIN), 422)
    # the served playbooks did not change
    assert api.get("/readyz").json()["playbooks"] == 7


def test_health_and_readiness(api: TestClient) -> None:
    assert api.get("/healthz").json() == {"status": "ok"}
    ready = api.get("/readyz").json()
    assert ready["ready"] is True and ready["rules"] > 0 and ready["last_reload"]["ok"] is True


def test_openapi_uses_the_library_models(api: TestClient) -> None:
    document = api.get("/openapi.json").json()
    schemas = document["components"]["schemas"]
    assert {"Incident", "Suggestion", "ProblemDetails", "Readiness"} <= set(schemas)
    suggest = document["paths"]["/v1/suggest"]["post"]
    assert suggest["requestBody"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/Incident"
    }
    assert "application/problem+json" in suggest["responses"]["422"]["content"]


def test_security_headers_and_no_cors(api: TestClient) -> None:
    response = api.get("/", headers={"Origin": "https://evil.example"})
    assert "access-control-allow-origin" not in response.headers
    assert response.headers["x-content-type-options"] == "nosniff"
    assert "default-src 'self'" in response.headers["content-security-policy"]


def test_metrics_count_requests_matches_and_reloads(api: TestClient) -> None:
    api.post("/v1/suggest", content=INCIDENTS[0].read_bytes(), headers=AS_AGENT)
    text = api.get("/metrics").text
    assert 'cxplay_http_requests_total{method="POST",route="/v1/suggest",status="200"}' in text
    assert "cxplay_http_request_duration_seconds_bucket" in text
    assert 'cxplay_rule_matches_total{rule="' in text
    assert 'cxplay_reloads_total{result="failed"} 0.0' in text
    assert "cxplay_last_reload_success 1.0" in text


# --------------------------------------------------------------------------- reloads


def mini_dir(tmp_path: Path, days: int = 1) -> Path:
    """One small playbook, with the shipped reply catalogs beside it (so that it validates)."""
    copy_replies(tmp_path / "replies")
    (tmp_path / "mini.toml").write_text(MINI.format(days=days), encoding="utf-8")
    return tmp_path


def write_then_rename(path: Path, text: str) -> None:
    temporary = path.with_name(path.name + ".part")  # not *.toml: never loaded, never watched
    temporary.write_text(text, encoding="utf-8")
    temporary.replace(path)


def late(api: TestClient, days: int) -> list[str]:
    incident = {"type": "parcel_late", "facts": {"delay_days": days}}
    response = api.post("/v1/suggest", json=incident, headers=AS_AGENT)
    assert response.status_code == 200, response.text
    return [a["rule"] for a in response.json()["actions"]]


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_broken_reload_keeps_the_last_good_playbooks(tmp_path: Path, backend: str) -> None:
    root = mini_dir(tmp_path)
    config = ServeConfig(playbooks=(root,), tokens_env=TOKENS, watch=False, backend=backend)
    with client(config) as api:
        assert late(api, 2) == ["mini.late"]
        (root / "mini.toml").write_text(MINI.format(days=1)[:-20], encoding="utf-8")  # half
        body = problem_of(api.post("/v1/reload", headers=AS_ADMIN), 422)
        assert body["errors"][0] == "reload refused, still serving the last good playbooks"
        assert body["errors"][1].startswith("mini.toml:")
        assert late(api, 2) == ["mini.late"]
        ready = api.get("/readyz").json()
        assert ready["ready"] is True
        assert ready["last_reload"]["ok"] is False
        assert ready["last_reload"]["errors"] == body["errors"][1:]
        metrics = api.get("/metrics").text
        assert "cxplay_last_reload_success 0.0" in metrics
        assert 'cxplay_reloads_total{result="failed"} 1.0' in metrics
        assert 'cxplay_last_reload_info{reason="' in metrics

        write_then_rename(root / "mini.toml", MINI.format(days=5))
        response = api.post("/v1/reload", headers=AS_ADMIN)
        assert response.status_code == 200 and response.json()["ok"] is True
        assert late(api, 2) == []
        assert late(api, 5) == ["mini.late"]
        assert 'cxplay_reloads_total{result="ok"} 1.0' in api.get("/metrics").text


def wait_for(predicate: Any, seconds: float = 20.0) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    raise AssertionError("timed out")


def write_until_seen(write: Any, predicate: Any, seconds: float = 60.0) -> None:
    """Write, and write again every 2 s until ``predicate`` holds.

    The watcher starts with the app, in the background: on a loaded machine it may begin
    watching after the first write, which it then never sees.
    """
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        write()
        try:
            wait_for(predicate, 2.0)
            return
        except AssertionError:
            continue
    raise AssertionError("the watcher never saw the change")


def test_a_changed_file_is_reloaded_by_the_watcher(tmp_path: Path) -> None:
    root = mini_dir(tmp_path)
    config = ServeConfig(playbooks=(root,), tokens_env=TOKENS, watch=True)
    with client(config) as api:
        assert late(api, 3) == ["mini.late"]
        write_until_seen(
            lambda: write_then_rename(root / "mini.toml", MINI.format(days=4)),
            lambda: api.get("/readyz").json()["last_reload"]["reloads"] >= 1,
        )
        assert late(api, 3) == []
        # a broken file in place: refused, the last good set serves on
        write_until_seen(
            lambda: (root / "mini.toml").write_text("[playbook]\nid = ", encoding="utf-8"),
            lambda: api.get("/readyz").json()["last_reload"]["ok"] is False,
        )
        assert late(api, 4) == ["mini.late"]
        # a temporary that is not *.toml is not even looked at
        before = api.get("/readyz").json()["last_reload"]["reloads"]
        (root / "mini.toml.part").write_text("garbage", encoding="utf-8")
        time.sleep(0.5)
        assert api.get("/readyz").json()["last_reload"]["reloads"] == before


def test_a_set_that_does_not_validate_is_not_served(tmp_path: Path) -> None:
    from cxplay import PlaybookError

    (tmp_path / "mini.toml").write_text(MINI.format(days=1), encoding="utf-8")  # no replies/
    with pytest.raises(PlaybookError, match="no replies/ directory"):
        create_app(ServeConfig(playbooks=(tmp_path,), tokens_env=TOKENS, watch=False))


# --------------------------------------------------------------------------- console


@pytest.mark.parametrize(
    ("query", "accept", "title"),
    [
        ("", "", "cxplay — agent console"),
        ("?lang=uk", "pl", "cxplay — консоль оператора"),
        ("", "pl-PL,pl;q=0.9,en;q=0.5", "cxplay — konsola konsultanta"),
        ("?lang=xx", "de, uk;q=0.5", "cxplay — консоль оператора"),
    ],
)
def test_the_console_page_speaks_en_pl_uk(
    api: TestClient, query: str, accept: str, title: str
) -> None:
    response = api.get("/" + query, headers={"Accept-Language": accept})
    assert response.status_code == 200
    assert f"<title>{title}</title>" in response.text
    assert "http://" not in response.text and "https://" not in response.text  # no network assets


def test_the_console_texts_are_complete() -> None:
    from cxplay._serve.console import TEXTS

    assert set(TEXTS["pl"]) == set(TEXTS["en"]) == set(TEXTS["uk"])


def test_did_you_mean_for_the_type(api: TestClient) -> None:
    assert api.get("/console/hint?type=parcel_damagd").json() == {
        "known": False,
        "did_you_mean": "parcel_damaged",
    }
    assert api.get("/console/hint?type=parcel_damaged").json()["known"] is True


def test_a_bad_explain_flag_is_a_problem(api: TestClient) -> None:
    response = api.post("/v1/suggest?explain=maybe", json={"type": "x"}, headers=AS_AGENT)
    body = problem_of(response, 422)
    assert body["errors"] == ["query.explain: input should be a valid boolean (got 'maybe')"]


# --------------------------------------------------------------------------- decision log

from logstores import store  # noqa: E402, F401  (the fixture: SQLite and PostgreSQL)


@pytest.fixture
def logged(store: str) -> Iterator[TestClient]:  # noqa: F811
    config = ServeConfig(tokens_env=TOKENS, watch=False, log=store)
    with client(config) as c:
        yield c


def test_suggestions_outcomes_and_feedback_are_logged(logged: TestClient) -> None:
    incident = json.loads(INCIDENTS[0].read_text("utf-8"))
    served = logged.post("/v1/suggest", json=incident, headers=AS_AGENT).json()
    decision = served["decision_id"]
    assert isinstance(decision, str) and len(decision) >= 6
    assert logged.get("/readyz").json()["log"] == "ok"

    response = logged.post(
        "/v1/outcomes",
        json={"decision_id": decision[:8], "status": "edited", "note": "half refund"},
        headers=AS_AGENT,
    )
    assert response.status_code == 200, response.text
    record = response.json()
    assert record["decision_id"] == decision and record["status"] == "edited"
    assert record["replaced"] is False

    response = logged.post(
        "/v1/feedback", json={"decision_id": decision, "csat": 5, "nps": 9}, headers=AS_AGENT
    )
    assert response.status_code == 200
    assert response.json() == {"decision_id": decision, "csat": 5, "nps": 9, "ces": None}

    body = problem_of(
        logged.post(
            "/v1/outcomes",
            json={"decision_id": "ffffffffff", "status": "accepted"},
            headers=AS_AGENT,
        ),
        404,
    )
    assert body["detail"].startswith("unknown decision id 'ffffffffff' in the log ")
    body = problem_of(
        logged.post(
            "/v1/outcomes",
            json={"decision_id": decision, "status": "rejected", "actions": ["refund"]},
            headers=AS_AGENT,
        ),
        422,
    )
    assert body["detail"] == "a rejected suggestion has no actions taken and nothing given"
    problem_of(
        logged.post("/v1/feedback", json={"decision_id": decision, "csat": 9}, headers=AS_AGENT),
        422,
    )
    # what was given is bounded like every other list: 51 kinds is a 422, not a slow write
    many = {f"kind{n}": 1.0 for n in range(51)}
    body = problem_of(
        logged.post(
            "/v1/outcomes",
            json={"decision_id": decision, "status": "accepted", "given": many},
            headers=AS_AGENT,
        ),
        422,
    )
    assert "given" in json.dumps(body)
    problem_of(
        logged.post("/v1/outcomes", json={"decision_id": decision, "status": "accepted"}), 401
    )


def _parcel(n: int, minutes: float, carrier: str = "InPost", **extra: Any) -> dict[str, Any]:
    """A late parcel of a carrier wave (parcel.carrier_wave: 20 within 2 h)."""
    start = datetime(2026, 11, 20, 9, 0, tzinfo=timezone.utc)
    return {
        "id": f"W-{n}",
        "type": "parcel_late",
        "occurred_at": (start + timedelta(minutes=minutes)).isoformat(),
        "channel": "email",
        "customer": {"id": f"WC-{n}", "name": "Anna Kowalska", "language": "pl"},
        "order": {"id": f"PL-{n}", "value": 120, "currency": "PLN", "carrier": carrier},
        "facts": {"delay_days": 3},
        **extra,
    }


def _watched(log: str, tmp_path: Path) -> None:
    """`cxplay watch` over a wave of 22 late InPost parcels into the log (one disruption)."""
    source = tmp_path / "wave.jsonl"
    source.write_text(
        "".join(json.dumps(_parcel(n, n * 5)) + "\n" for n in range(22)), encoding="utf-8"
    )
    done = CliRunner().invoke(
        cli,
        ["watch", str(source), "--log", log, "--no-suggestions"],
        env={"CXPLAY_PLAYBOOKS": None, "CXPLAY_LOG": None},
    )
    assert done.exit_code == 0, done.output


def test_the_customers_earlier_decisions_for_the_console(logged: TestClient) -> None:
    first = {
        "id": "H-1",
        "type": "parcel_damaged",
        "customer": {"id": "C/77", "language": "pl"},
        "order": {"value": 250, "currency": "PLN"},
    }
    second = {
        "id": "H-2",
        "type": "parcel_late",
        "customer": {"id": "C/77"},
        "facts": {"delay_days": 3},
    }
    one = logged.post("/v1/suggest", json=first, headers=AS_AGENT).json()["decision_id"]
    recorded = logged.post(
        "/v1/outcomes",
        json={"decision_id": one, "status": "accepted", "actions": ["apology", "refund"]},
        headers=AS_AGENT,
    )
    assert recorded.status_code == 200, recorded.text
    two = logged.post("/v1/suggest", json=second, headers=AS_AGENT).json()["decision_id"]
    logged.post(
        "/v1/suggest", json={**first, "id": "H-3", "customer": {"id": "C-other"}}, headers=AS_AGENT
    )

    answer = logged.get("/v1/decisions", params={"customer_id": "C/77"}, headers=AS_AGENT)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["customer_id"] == "C/77"
    assert [d["decision_id"] for d in body["decisions"]] == [two, one]
    newest, oldest = body["decisions"]
    assert (newest["incident_id"], newest["type"], newest["status"], newest["given"]) == (
        "H-2",
        "parcel_late",
        None,
        [],
    )
    assert oldest["status"] == "accepted" and oldest["actions"][:2] == ["apology", "refund"]
    assert [(g["kind"], g["amount"], g["currency"]) for g in oldest["given"]] == [
        ("refund", 250.0, "PLN")
    ]
    left_out = logged.get(
        "/v1/decisions", params={"customer_id": "C/77", "exclude": two}, headers=AS_AGENT
    ).json()
    assert [d["decision_id"] for d in left_out["decisions"]] == [one]
    assert logged.get(
        "/v1/decisions", params={"customer_id": "nobody"}, headers=AS_AGENT
    ).json() == {"customer_id": "nobody", "decisions": []}
    problem_of(logged.get("/v1/decisions", params={"customer_id": "C/77"}), 401)
    problem_of(
        logged.get("/v1/decisions", params={"customer_id": "C/77", "limit": 0}, headers=AS_AGENT),
        422,
    )
    problem_of(logged.get("/v1/decisions", headers=AS_AGENT), 422)


def test_an_incident_of_an_open_disruption_is_matched(store: str, tmp_path: Path) -> None:  # noqa: F811
    _watched(store, tmp_path)
    config = ServeConfig(tokens_env=TOKENS, watch=False, log=store)
    with client(config) as c:

        def match(incident: dict[str, Any]) -> Any:
            response = c.post("/v1/disruptions/match", json=incident, headers=AS_AGENT)
            assert response.status_code == 200, response.text
            return response.json()

        member = match(_parcel(3, 15))
        assert member["advice"] == "link"
        found = member["disruption"]
        assert (found["via"], found["correlation"], found["key"], found["members"]) == (
            "member",
            "parcel.carrier_wave",
            "InPost",
            22,
        )
        assert found["status"] == "open" and found["notice_at"] and found["first_notice_at"]
        assert found["title"] == "Parcels late with one carrier"
        # a ticket the watcher has not seen, of the same carrier, within the hold (24 h)
        newcomer = match(_parcel(900, 60 * 5))["disruption"]
        assert (newcomer["via"], newcomer["disruption_id"], newcomer["notice_at"]) == (
            "key",
            found["disruption_id"],
            None,
        )
        assert match(_parcel(901, 60, carrier="DPD")) == {"disruption": None, "advice": "none"}
        assert match(_parcel(902, 60 * 24 * 3))["disruption"] is None  # past the hold
        assert match({"type": "parcel_damaged"})["disruption"] is None  # no correlation
        problem_of(
            c.post("/v1/disruptions/match", json={"type": "parcel_late"}, headers=AS_AGENT), 422
        )
        problem_of(c.post("/v1/disruptions/match", json=_parcel(3, 15)), 401)
    resolved = CliRunner().invoke(
        cli,
        ["disruptions", "resolve", found["disruption_id"], "--log", store],
        env={"CXPLAY_PLAYBOOKS": None, "CXPLAY_LOG": None},
    )
    assert resolved.exit_code == 0, resolved.output
    with client(config) as c:
        answer = c.post("/v1/disruptions/match", json=_parcel(3, 15), headers=AS_AGENT).json()
        assert answer == {"disruption": None, "advice": "none"}  # resolved: nothing to link


def test_without_a_log_the_console_panels_say_how_to_get_one(api: TestClient) -> None:
    for response in (
        api.get("/v1/decisions", params={"customer_id": "C-1"}, headers=AS_AGENT),
        api.post("/v1/disruptions/match", json={"type": "parcel_late"}, headers=AS_AGENT),
    ):
        assert problem_of(response, 409)["detail"].startswith("no decision log is configured")


def test_without_a_log_outcomes_say_how_to_get_one(api: TestClient) -> None:
    body = problem_of(
        api.post(
            "/v1/outcomes", json={"decision_id": "abcdef12", "status": "accepted"}, headers=AS_AGENT
        ),
        409,
    )
    assert body["detail"] == "no decision log is configured: start cxplay serve with --log PATH|URL"
    assert (
        api.post("/v1/suggest", json={"type": "parcel_damaged"}, headers=AS_AGENT).json()[
            "decision_id"
        ]
        is None
    )


def test_an_unreachable_log_makes_the_service_not_ready(tmp_path: Path) -> None:
    path = tmp_path / "log.db"
    config = ServeConfig(tokens_env=TOKENS, watch=False, log=str(path))
    with client(config) as api:
        assert api.get("/readyz").status_code == 200
        service = api.app.state.service  # type: ignore[attr-defined]
        import sqlalchemy as sa

        # the store goes away under an open log (a closed log says "closed", not this)
        service.log._engine.dispose()
        service.log._engine = sa.create_engine("postgresql+psycopg://nobody@127.0.0.1:9/x")
        response = api.get("/readyz")
        assert response.status_code == 503
        ready = response.json()
        assert ready["ready"] is False and ready["log"] == "unreachable"
        assert "unreachable" in ready["errors"][0]


def test_worker_processes_rebuild_the_configuration(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """--workers N: each worker process builds its app from the environment."""
    from cxplay._serve import CONFIG_ENV, app_from_env, config_to_env

    tokens = tmp_path / "tokens.txt"
    tokens.write_text(f"{ADMIN} admin\n", encoding="utf-8")
    (tmp_path / "playbooks").mkdir()
    root = mini_dir(tmp_path / "playbooks")
    config = ServeConfig(
        playbooks=(root,), tokens_file=tokens, watch=False, cors_origins=("https://a.example",)
    )
    monkeypatch.setenv(CONFIG_ENV, config_to_env(config))
    with TestClient(app_from_env()) as api:
        response = api.post(
            "/v1/suggest",
            json={"type": "parcel_late", "facts": {"delay_days": 2}},
            headers={**AS_ADMIN, "Origin": "https://a.example"},
        )
        assert [a["rule"] for a in response.json()["actions"]] == ["mini.late"]
        assert response.headers["access-control-allow-origin"] == "https://a.example"
