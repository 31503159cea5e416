"""A request has one deadline, from its first byte to its answer, and a 503 records nothing.

``--timeout`` used to apply to each chunk of the body (a body sent one byte every 2 s stayed
open for 46 s) and not at all to the headers; and a suggestion that timed out was still
recorded, so the client's retry duplicated it.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("uvicorn", reason="the serve extra is not installed")

from fastapi.testclient import TestClient

import cxplay._serve.app as app_module
from cxplay._log.store import DecisionLog
from cxplay._serve import ServeConfig, create_app
from tests.serving import start_serve

TIMEOUT = 2.0


@pytest.fixture(scope="module")
def port() -> Iterator[int]:
    env = {k: v for k, v in os.environ.items() if k != "CXPLAY_PLAYBOOKS"}
    process, port = start_serve("--no-auth", "--timeout", str(TIMEOUT), env=env)
    try:
        yield port
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()


def _answer(sock: socket.socket, limit: float) -> tuple[bytes, float]:
    """Everything the server sends until it closes (or ``limit`` s), and when it was done."""
    sock.settimeout(limit)
    started = time.monotonic()
    data = b""
    try:
        while chunk := sock.recv(65536):
            data += chunk
    except (TimeoutError, ConnectionResetError):
        pass
    return data, time.monotonic() - started


def _trickle(
    port: int, head: bytes, body: bytes, every: float, limit: float
) -> tuple[bytes, float]:
    """Send ``head`` then ``body`` one byte every ``every`` s; the answer and its time."""
    started = time.monotonic()
    with socket.create_connection(("127.0.0.1", port)) as sock:
        sock.sendall(head)
        sock.setblocking(False)
        for byte in body:
            if time.monotonic() - started > limit:
                break
            try:
                sock.send(bytes([byte]))
                data = sock.recv(65536)
                if data:  # answered before the body was all sent: then it closes
                    answered = time.monotonic() - started
                    sock.setblocking(True)
                    rest, closing = _answer(sock, limit)
                    assert closing < 2, "the connection stays open after the answer"
                    return data + rest, answered
            except (BlockingIOError, InterruptedError):
                pass
            except (BrokenPipeError, ConnectionResetError):
                break
            time.sleep(every)
        sock.setblocking(True)
        data, _ = _answer(sock, limit)
        return data, time.monotonic() - started


def _problem(raw: bytes) -> tuple[int, dict[str, Any]]:
    head, _, body = raw.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = dict(line.lower().split(": ", 1) for line in lines[1:])
    assert headers["content-type"] == "application/problem+json", headers
    return status, json.loads(body)


def test_a_body_trickled_in_gets_an_answer_by_the_deadline(port: int) -> None:
    body = json.dumps({"type": "parcel_damaged", "description": "x" * 40}).encode()
    head = (
        b"POST /v1/suggest HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        b"Content-Length: %d\r\n\r\n" % len(body)
    )
    raw, seconds = _trickle(port, head, body, every=0.5, limit=30)
    assert seconds < TIMEOUT + 3, f"open for {seconds:.1f} s"
    status, problem = _problem(raw)
    assert status == 400 and "did not arrive in time" in problem["detail"]


def test_headers_trickled_in_get_a_408_by_the_deadline(port: int) -> None:
    head = b"POST /v1/suggest HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nX-Slow: "
    raw, seconds = _trickle(port, b"", head + b"a" * 200, every=0.3, limit=30)
    assert seconds < TIMEOUT + 3, f"open for {seconds:.1f} s"
    status, problem = _problem(raw)
    assert status == 408 and "did not arrive" in problem["detail"]


def test_a_silent_connection_is_closed_by_the_deadline(port: int) -> None:
    with socket.create_connection(("127.0.0.1", port)) as sock:
        raw, seconds = _answer(sock, 30)
    assert seconds < TIMEOUT + 3
    assert _problem(raw)[0] == 408


@pytest.mark.parametrize(
    "request_head",
    [
        b"POST /v1/suggest HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n",
        b"POST /v1/suggest HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
        b"GET /" + b"a" * 100_000 + b" HTTP/1.1\r\nHost: x\r\n\r\n",
        b"\x16\x03\x01 not http\r\n\r\n",
    ],
    ids=["bad Content-Length", "two Content-Lengths", "100 KB request line", "not HTTP"],
)
def test_a_request_that_cannot_be_parsed_gets_problem_json(port: int, request_head: bytes) -> None:
    with socket.create_connection(("127.0.0.1", port)) as sock:
        sock.sendall(request_head)
        raw, _ = _answer(sock, 10)
    status, problem = _problem(raw)
    assert 400 <= status < 500 and problem["status"] == status and problem["errors"]


# --------------------------------------------------------------------------- a 503 records nothing


def _count(path: Path) -> int:
    with DecisionLog.open(str(path)) as log:
        return log.count()


def test_a_suggestion_that_times_out_is_not_recorded(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = tmp_path / "log.sqlite"
    real = app_module.incident_json  # (a JSON body is read by it, else by parse_incident)

    def slow(*args: Any, **kwargs: Any) -> Any:
        time.sleep(1.5)  # past the deadline, before anything is recorded
        return real(*args, **kwargs)

    monkeypatch.setattr(app_module, "incident_json", slow)
    config = ServeConfig(auth=False, watch=False, log=str(store), timeout=0.5)
    with TestClient(create_app(config), raise_server_exceptions=False) as client:
        answer = client.post("/v1/suggest", json={"type": "parcel_damaged"})
        assert answer.status_code == 503, answer.text
        time.sleep(2.0)  # the abandoned thread has finished by now
        monkeypatch.setattr(app_module, "incident_json", real)
        retry = client.post("/v1/suggest", json={"type": "parcel_damaged"})
        assert retry.status_code == 200
    assert _count(store) == 1  # the retry's, not a duplicate


def test_a_suggestion_being_recorded_at_the_deadline_is_answered_with_its_id(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = tmp_path / "log.sqlite"
    real = DecisionLog.record

    def slow(self: DecisionLog, *args: Any, **kwargs: Any) -> str:
        time.sleep(1.5)  # the deadline passes while the decision is being written
        return real(self, *args, **kwargs)

    monkeypatch.setattr(DecisionLog, "record", slow)
    config = ServeConfig(auth=False, watch=False, log=str(store), timeout=0.5)
    with TestClient(create_app(config), raise_server_exceptions=False) as client:
        answer = client.post("/v1/suggest", json={"type": "parcel_damaged"})
    assert answer.status_code == 200, answer.text
    assert answer.json()["decision_id"]
    assert _count(store) == 1
