"""``POST /v1/incidents``: the service as a source of `cxplay watch`.

The same stream through the endpoint (in batches of every shape) and through `cxplay watch`
gives the same disruptions and notices; bad bodies are problems, bad items are per-item
errors; two service processes on one log share one correlation state; a request that
misses its deadline commits nothing. Both engine backends; SQLite and PostgreSQL logs.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("fastapi", reason="the serve extra is not installed")

from fastapi.testclient import TestClient
from logstores import fresh_store
from test_watch import _stream_of_waves, cxplay, events, incident, of, write_stream

from cxplay import DecisionLog
from cxplay._engine.durable import AVAILABLE as DURABLE
from cxplay._serve import ServeConfig, create_app
from cxplay._serve.incidents import MAX_BATCH
from cxplay._watch.store import StateConflict, WatchStore
from cxplay._watch.watch import Watcher
from cxplay.errors import LogError

AGENT = "agent-token-0123456789"
AS_AGENT = {"Authorization": f"Bearer {AGENT}"}
BACKENDS = [
    pytest.param("durable", marks=pytest.mark.skipif(not DURABLE, reason="no durable")),
    "python",
]
CORRELATION_EVENTS = ("disruption_opened", "incident_attached", "notice")


def service(log: str | Path | None, backend: str = "python", **kwargs: Any) -> TestClient:
    config = ServeConfig(
        tokens_env=kwargs.pop("tokens_env", f"{AGENT}:agent"),
        watch=False,
        backend=backend,
        log=None if log is None else str(log),
        **kwargs,
    )
    return TestClient(create_app(config), raise_server_exceptions=False)


def correlation_events(out: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [e for e in out if e["event"] in CORRELATION_EVENTS]


def post_in_shapes(api: TestClient, stream: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The stream in order: single objects, JSON arrays and JSON lines, in turn."""
    out: list[dict[str, Any]] = []
    position, turn = 0, 0
    while position < len(stream):
        size = (1, 7, 13)[turn % 3]
        part = stream[position : position + size]
        if size == 1:
            response = api.post("/v1/incidents", json=part[0], headers=AS_AGENT)
        elif turn % 2:
            response = api.post("/v1/incidents", json=part, headers=AS_AGENT)
        else:
            body = "".join(json.dumps(i, ensure_ascii=False) + "\n" for i in part)
            response = api.post(
                "/v1/incidents",
                content=body.encode(),
                headers={**AS_AGENT, "Content-Type": "application/x-ndjson"},
            )
        assert response.status_code == 200, response.text
        answer = response.json()
        assert len(answer["results"]) == len(part)  # nothing dropped silently
        out.extend(answer["events"])
        position += size
        turn += 1
    return out


def listed(log: str | Path) -> list[tuple[str, Any, int, str]]:
    rows = json.loads(cxplay("disruptions", "list", "--format", "json", "--log", log).stdout)
    return sorted((r["disruption_id"], r["key"], r["members"], r["status"]) for r in rows)


@pytest.mark.parametrize("backend", BACKENDS)
def test_the_same_stream_through_the_service_and_watch_gives_the_same_disruptions(
    tmp_path: Path, backend: str
) -> None:
    stream = _stream_of_waves(120)  # ten shops, some out of order, some twice
    source = write_stream(tmp_path / "in.jsonl", stream)
    watched = cxplay("watch", source, "--log", tmp_path / "watch.db")
    assert watched.returncode == 0, watched.stderr
    expected = events(watched.stdout.decode())
    with service(tmp_path / "serve.db", backend) as api:
        got = post_in_shapes(api, stream)
    assert correlation_events(got) == correlation_events(expected)
    assert len(of(got, "notice")) > 20 and len(of(got, "disruption_opened")) >= 5
    suggestions = of(got, "suggestion")
    assert [s["incident_id"] for s in suggestions] == [
        s["incident_id"] for s in of(expected, "suggestion")
    ]
    assert all(s["decision_id"] for s in suggestions)  # recorded in the service's log
    # `cxplay disruptions` reads the service's state as it reads the watcher's
    assert listed(tmp_path / "serve.db") == listed(tmp_path / "watch.db")


def test_each_incident_says_what_happened(tmp_path: Path) -> None:
    stream = [incident(n, n * 2, "queue") for n in range(4)]
    late = incident(9, -15, "queue")  # behind the watermark, within the disruption's span
    unkeyed = incident(10, 8, "queue", facts={"store": ""})
    batch = [*stream[:2], {"type": "queue_lon"}, 7, stream[2], stream[0], stream[3], late, unkeyed]
    with service(tmp_path / "cx.db") as api:
        answer = api.post("/v1/incidents", json=batch, headers=AS_AGENT).json()
        metrics = api.get("/metrics").text
    results = answer["results"]
    assert [r["status"] for r in results] == [
        "processed",
        "processed",
        "invalid",
        "invalid",
        "processed",
        "duplicate",
        "processed",
        "processed",
        "processed",
    ]
    assert "did you mean 'queue_long'" in results[2]["errors"][0]
    assert results[3]["errors"] == ["<request>[3]: an incident is a JSON object, not int"]
    (opened,) = results[4]["disruptions"]
    assert opened["event"] == "opened" and results[4]["notices"] == 3
    assert results[6]["disruptions"] == [
        {"disruption_id": opened["disruption_id"], "event": "attached"}
    ]
    assert "late" in results[7]["flags"] and results[7]["disruptions"][0]["event"] == "attached"
    assert results[8]["flags"] == ["no_key"] and results[8]["disruptions"] == []
    assert all(r["decision_id"] for r in results if r["status"] == "processed")
    assert answer["summary"] == {
        "incidents": 9,
        "processed": 6,
        "duplicates": 1,
        "invalid": 2,
        "disruptions_opened": 1,
        "attached": 5,
        "notices": 5,
    }
    notice = of(answer["events"], "notice")[0]
    assert notice["reply"]["body"] and notice["language"] == "pl"
    # the six suggestions count in /metrics as /v1/suggest's do
    counted = re.findall(
        r'^cxplay_suggestions_total\{matched="(?:true|false)"\} (\S+)$', metrics, re.M
    )
    assert sum(float(n) for n in counted) == 6


def test_a_wholly_bad_body_is_a_problem(tmp_path: Path) -> None:
    too_many = [incident(n, n, "queue") for n in range(MAX_BATCH + 1)]
    with service(tmp_path / "cx.db") as api:

        def problem(status: int, **kwargs: Any) -> str:
            kwargs["headers"] = {**AS_AGENT, **kwargs.get("headers", {})}
            response = api.post("/v1/incidents", **kwargs)
            assert response.status_code == status, response.text
            assert response.headers["content-type"] == "application/problem+json"
            assert "Traceback" not in response.text
            return str(response.json()["detail"])

        assert "not JSON" in problem(422, content=b"[{")
        assert "empty batch" in problem(422, json=[])
        assert "at most 1,000" in problem(422, json=too_many)
        assert "not str" in problem(422, json="parcel")
        assert "not UTF-8" in problem(422, content=b'{"id": "\xff"}')
        assert "did you mean" in problem(422, json={"type": "queue_lon"})  # one incident
        deep: Any = 1
        for _ in range(40):
            deep = [deep]
        assert "nested deeper" in problem(422, json={"type": "queue_long", "facts": {"a": deep}})
        assert "no incidents" in problem(
            422, content=b"\n\n", headers={"Content-Type": "application/x-ndjson"}
        )
        assert "text/plain" in problem(415, content=b"x", headers={"Content-Type": "text/plain"})
        assert api.post("/v1/incidents", json=incident(0, 0)).status_code == 401
        # none of it reached the correlator
        assert listed(tmp_path / "cx.db") == []


def test_without_a_log_the_endpoint_says_how_to_get_one() -> None:
    with service(None) as api:
        response = api.post("/v1/incidents", json=incident(0, 0, "queue"), headers=AS_AGENT)
    assert response.status_code == 409
    assert "--log" in response.json()["detail"]


@pytest.fixture(params=["sqlite", "postgresql"])
def shared_log(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    yield from fresh_store(request.param, tmp_path)


def by_key(out: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    keyed: dict[str, list[dict[str, Any]]] = {}
    for event in correlation_events(out):
        keyed.setdefault(json.dumps(event["key"]), []).append(event)
    return keyed


def test_two_processes_on_one_log_share_one_correlation_state(
    tmp_path: Path, shared_log: str
) -> None:
    """Two workers (two apps, each its own correlator) fed alternately, then at once.

    A lateness of a day: two clients posting at once interleave their shops in any order,
    and nothing may turn late for it; each key's own order is kept, so each key's
    disruptions, members and notices equal those of one `cxplay watch` over the file.
    """
    stream = _stream_of_waves(160)
    source = write_stream(tmp_path / "in.jsonl", stream)
    single = cxplay("watch", source, "--lateness", "1d", "--log", tmp_path / "whole.db")
    assert single.returncode == 0, single.stderr
    expected = events(single.stdout.decode())
    day = 86_400.0
    got: list[dict[str, Any]] = []
    with service(shared_log, lateness=day) as one, service(shared_log, lateness=day) as two:
        for n, start in enumerate(range(0, 80, 5)):  # alternately: each reads the other's state
            answer = (one, two)[n % 2].post(
                "/v1/incidents?suggestions=false", json=stream[start : start + 5], headers=AS_AGENT
            )
            assert answer.status_code == 200, answer.text
            got.extend(answer.json()["events"])
        assert of(got, "suggestion") == []
        # then both at once, from two threads, each posting its own shops in stream order
        rest = stream[80:]
        parts = [[i for i in rest if int(i["facts"]["store"][-1]) % 2 == k] for k in (0, 1)]
        errors: list[str] = []
        collected: list[list[dict[str, Any]]] = [[], []]

        def post(k: int) -> None:
            for start in range(0, len(parts[k]), 4):
                response = (one, two)[k].post(
                    "/v1/incidents?suggestions=false",
                    json=parts[k][start : start + 4],
                    headers=AS_AGENT,
                )
                if response.status_code != 200:
                    errors.append(response.text)
                else:
                    collected[k].extend(response.json()["events"])

        threads = [threading.Thread(target=post, args=(k,)) for k in (0, 1)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert errors == []
        apps: list[Any] = [one.app, two.app]
        conflicts = sum(app.state.incidents.conflicts for app in apps)
    assert by_key(got + collected[0] + collected[1]) == by_key(expected)
    assert listed(shared_log) == listed(tmp_path / "whole.db")
    # the workers take turns through the store: none ever saved over another's state
    assert conflicts == 0


def test_a_request_past_its_deadline_commits_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    stream = [incident(n, n, "queue") for n in range(4)]
    slow = {"on": True}
    real = Watcher.correlate

    def correlate(self: Watcher, raw: Any) -> Any:
        if slow["on"]:
            time.sleep(0.6)
        return real(self, raw)

    monkeypatch.setattr(Watcher, "correlate", correlate)
    with service(tmp_path / "cx.db", timeout=1.0) as api:
        response = api.post("/v1/incidents", json=stream, headers=AS_AGENT)
        assert response.status_code == 503
        time.sleep(2.0)  # the thread finishes its correlation, and commits nothing
        assert listed(tmp_path / "cx.db") == []
        slow["on"] = False
        retry = api.post("/v1/incidents", json=stream, headers=AS_AGENT).json()
    assert retry["summary"]["processed"] == 4 and retry["summary"]["duplicates"] == 0
    assert retry["summary"]["disruptions_opened"] == 1
    (row,) = listed(tmp_path / "cx.db")
    assert row[2] == 4


def test_workers_take_turns_through_the_store_and_a_stale_save_is_refused(
    shared_log: str,
) -> None:
    """The turn is held by one process at a time; waiting past the timeout is "busy"."""
    first = DecisionLog.open(shared_log)
    second = DecisionLog.open(shared_log, timeout=0.3)
    try:
        mine, theirs = WatchStore(first), WatchStore(second)
        with mine.turn("service"):
            with pytest.raises(LogError, match="is busy"), theirs.turn("service"):
                pass
            with theirs.turn("another name"):  # another state is another turn
                pass
        with theirs.turn("service"):  # released: taken at once
            pass
        # a save that expects a state someone else replaced writes nothing
        empty: dict[str, Any] = {"offsets": {}, "watermark": None, "opened": [], "members": []}
        saved = mine.save("service", state={"n": 1}, noticed=True, expect=None, **empty)
        theirs.save("service", state={"n": 2}, noticed=True, expect=saved, **empty)
        with pytest.raises(StateConflict):
            mine.save("service", state={"n": 3}, noticed=True, expect=saved, **empty)
        assert mine.load("service")[0] == {"n": 2}
    finally:
        first.close()
        second.close()


def test_disruptions_are_listed_and_resolved_over_http(tmp_path: Path) -> None:
    """The service lists disruptions and resolves one as `cxplay disruptions` does."""
    admin = "admin-token-0123456789"
    as_admin = {"Authorization": f"Bearer {admin}"}
    wave = [incident(n, n, "queue") for n in range(4)]  # retail.queue_wave: 3 in 20 min
    with service(tmp_path / "cx.db", tokens_env=f"{AGENT}:agent,{admin}:admin") as api:
        posted = api.post("/v1/incidents?suggestions=false", json=wave, headers=AS_AGENT)
        assert posted.status_code == 200, posted.text
        listed_now = api.get("/v1/disruptions?status=open", headers=AS_AGENT).json()
        (row,) = listed_now["disruptions"]
        assert (row["correlation"], row["members"], row["status"]) == (
            "retail.queue_wave",
            4,
            "open",
        )
        ident = row["disruption_id"]
        path = f"/v1/disruptions/{ident}/resolve"
        assert api.post(path, headers=AS_AGENT).status_code == 403  # an admin's act
        answer = api.post(path, headers=as_admin)
        assert answer.status_code == 200, answer.text
        body = answer.json()
        notices = [e for e in body["events"] if e["event"] == "notice"]
        assert [n["incident_id"] for n in notices] == [f"I-{n}" for n in range(4)]
        assert {n["kind"] for n in notices} == {"resolution"} and body["problems"] == []
        assert all(n["reply"]["body"] for n in notices)
        assert body["events"][-1]["event"] == "disruption_resolved"
        # again: nobody is told twice
        again = api.post(path, headers=as_admin).json()
        assert [e["event"] for e in again["events"]] == ["disruption_resolved"]
        assert api.get("/v1/disruptions?status=open", headers=AS_AGENT).json() == {
            "disruptions": []
        }
        resolved = api.get("/v1/disruptions", headers=AS_AGENT).json()["disruptions"]
        assert resolved[0]["status"] == "resolved" and resolved[0]["resolved_at"]
        missing = api.post("/v1/disruptions/D-0000000000000000/resolve", headers=as_admin)
        assert missing.status_code == 404
        assert missing.headers["content-type"] == "application/problem+json"
        assert "no disruption" in missing.json()["detail"]
    # the CLI sees the same
    assert [r[3] for r in listed(tmp_path / "cx.db")] == ["resolved"]
    with service(None, tokens_env=f"{AGENT}:agent,{admin}:admin") as api:
        assert api.get("/v1/disruptions", headers=AS_AGENT).status_code == 409
        assert api.post(path, headers=as_admin).status_code == 409
