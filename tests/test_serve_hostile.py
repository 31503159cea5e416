"""``cxplay serve`` under hostile input: the worst bodies within the limits.

Each body is as large as the service accepts and shaped to make some pass over it as slow as
possible (one error per key, a regular expression rescanning long text, ...). The service
must answer it in well under a second, with a short error, while ``/healthz`` keeps
answering at once: the bounds are generous (1 s, 50 ms) because a quadratic pass takes tens
of seconds, not because the service is slow. The service runs as a user runs it: a real
``cxplay serve`` process with a decision log (masking runs on every recorded incident).
"""

from __future__ import annotations

import http.client
import json
import os
import re
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cxplay._engine.engine import MAX_PROBLEMS, coerce_incident
from cxplay._log.privacy import redact_text
from cxplay.errors import IncidentError

LIMIT = 1 << 20  # the service's body limit


def _fill(make: Callable[[int], dict[str, Any]], limit: int = LIMIT - 4096) -> bytes:
    """The largest ``make(n)`` (as JSON) that stays under the body limit."""
    low, high = 1, 1 << 20
    while low < high:
        mid = (low + high + 1) // 2
        if len(json.dumps(make(mid))) <= limit:
            low = mid
        else:
            high = mid - 1
    return json.dumps(make(low)).encode()


def _unknown_keys(n: int) -> dict[str, Any]:
    return {"type": "parcel_damaged", **{f"k{i}": 0 for i in range(n)}}


def _unknown_nested(n: int) -> dict[str, Any]:
    return {"type": "parcel_damaged", "customer": {f"k{i}": 0 for i in range(n)}}


def _facts_of_wrong_shape(n: int) -> dict[str, Any]:
    return {"type": "queue_long", "facts": {f"f{i}": [{"a": 0}] * 100 for i in range(min(n, 200))}}


def _text(piece: str) -> Callable[[int], dict[str, Any]]:
    """Free text (masked before it is recorded) made of ``piece`` repeated, in 100 facts."""

    def make(n: int) -> dict[str, Any]:
        text = (piece * (n // len(piece) + 1))[: min(n, 9_999)]
        return {
            "type": "some_new_type",
            "description": (piece * 20_000)[:19_999],
            "facts": {f"note_{i}": text for i in range(100)},
        }

    return make


WORST = {
    "85,000 unknown keys": _fill(_unknown_keys),
    "unknown keys in the customer": _fill(_unknown_nested),
    "200 facts of 100 objects": _fill(_facts_of_wrong_shape),
    "1,000 unknown keys": json.dumps(_unknown_keys(999)).encode(),
    "20,000 strings in lists": json.dumps(
        {"type": "queue_long", "facts": {f"f{i}": ["ab,c:{"] * 100 for i in range(200)}}
    ).encode(),
    "85,000 unknown keys in TOML": b"type = 'x'\n"
    + b"".join(b"k%d = 0\n" % i for i in range(85_000)),
    "a megabyte key": json.dumps({"type": "x", "k" * (LIMIT - 100): 0}).encode(),
    "a megabyte fact name": json.dumps({"type": "x", "facts": {"f" * (LIMIT - 100): 0}}).encode(),
    "words without an @": _fill(_text("a")),
    "digits and dashes": _fill(_text("1-")),
    "dotted words": _fill(_text("a.")),
    "plus signs and digits": _fill(_text("+1")),
    "digits then a letter": _fill(_text("1" * 50 + "a")),
}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    pytest.importorskip("uvicorn", reason="the serve extra is not installed")
    from tests.serving import start_serve

    log = tmp_path_factory.mktemp("log") / "decisions.sqlite"
    env = {k: v for k, v in os.environ.items() if k != "CXPLAY_PLAYBOOKS"}
    process, port = start_serve("--no-auth", "--log", str(log), env=env)
    try:
        # warm: the first suggestion, the first thread and the first refusal are done once,
        # not inside the first measurement
        for body in (
            b'{"type": "parcel_damaged"}',
            b'{"type": "x", "a": 1}',
            WORST["20,000 strings in lists"],
        ):
            _post(port, body)
        yield port
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()


def _post(port: int, body: bytes) -> tuple[int, bytes]:
    kind = "application/json" if body.startswith(b"{") else "application/toml"
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/v1/suggest",
        data=body,
        method="POST",
        headers={"Content-Type": kind},
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def _healthz(connection: http.client.HTTPConnection) -> float:
    """How long /healthz takes on an open keep-alive connection (as a load balancer's probe)."""
    started = time.perf_counter()
    connection.request("GET", "/healthz")
    response = connection.getresponse()
    assert json.loads(response.read()) == {"status": "ok"}
    return time.perf_counter() - started


def _measure(port: int, body: bytes) -> tuple[dict[str, Any], list[float]]:
    """Send ``body``; meanwhile probe /healthz every 10 ms on a keep-alive connection."""
    probe = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    _healthz(probe)  # connected
    answer: dict[str, Any] = {}

    def send() -> None:
        started = time.perf_counter()
        answer["status"], answer["body"] = _post(port, body)
        answer["seconds"] = time.perf_counter() - started

    sender = threading.Thread(target=send)
    sender.start()
    health: list[float] = []
    while sender.is_alive():
        health.append(_healthz(probe))
        time.sleep(0.01)
    sender.join()
    probe.close()
    return answer, health


@pytest.mark.parametrize("name", list(WORST))
def test_the_worst_bodies_answer_fast_and_healthz_keeps_answering(server: int, name: str) -> None:
    """Within 1 s, with /healthz under 50 ms throughout.

    On a machine shared with other work the operating system may stop the server for tens
    of milliseconds whatever it does, so a body is tried up to three times and one clean
    run passes; a pass that grows with the input fails all three by seconds.
    """
    body = WORST[name]
    assert len(body) <= LIMIT
    runs = []
    for _ in range(3):
        answer, health = _measure(server, body)
        runs.append((answer["seconds"], max(health, default=0.0)))
        if answer["seconds"] < 1.0 and max(health, default=0.0) < 0.050:
            break
    else:
        raise AssertionError(f"{name}: (answer s, worst /healthz s) per run: {runs}")
    assert len(answer["body"]) < 16 * 1024, f"{name}: a {len(answer['body'])}-byte answer"
    if answer["status"] != 200:
        assert answer["status"] == 422, answer
        problem = json.loads(answer["body"])
        assert len(problem["errors"]) == 1 and "\n" not in problem["detail"]


# --------------------------------------------------------------------------- the classes


@given(st.integers(0, 3 * MAX_PROBLEMS), st.sampled_from(["", "customer", "order", "event"]))
@settings(max_examples=40, deadline=None)
def test_unknown_keys_are_listed_up_to_the_cap_then_counted(n: int, where: str) -> None:
    keys = {f"bogus{i}": 1 for i in range(n)}
    incident: dict[str, Any] = {"type": "x", **({where: keys} if where else keys)}
    if not n:
        coerce_incident(incident)
        return
    with pytest.raises(IncidentError) as caught:
        coerce_incident(incident)
    text = str(caught.value)
    prefix = f"{where}." if where else ""
    listed = re.findall(rf"{re.escape(prefix)}bogus\d+: unknown key", text)
    assert len(listed) == min(n, MAX_PROBLEMS)
    more = re.search(r"and ([\d,]+) more$", text)
    if n > MAX_PROBLEMS:
        assert more and int(more.group(1).replace(",", "")) == n - MAX_PROBLEMS
    else:
        assert more is None


def test_facts_of_the_wrong_shape_are_capped_like_unknown_keys() -> None:
    incident = {"type": "x", "facts": {f"f{i}": {"a": 1} for i in range(150)}}
    with pytest.raises(IncidentError) as caught:
        coerce_incident(incident)
    text = str(caught.value)
    assert text.count("must be text, a number, a boolean or a list of those") == MAX_PROBLEMS
    assert text.endswith(f"and {150 - MAX_PROBLEMS} more")


# The patterns as they were (quadratic on a long run without a match): the reference the
# linear ones must agree with.
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
_PHONE = re.compile(r"(?<![\w+])\+?\d[\d ().-]{7,}\d(?!\w)")


def _reference(text: str) -> str:
    text = _EMAIL.sub("[email]", text)
    return _PHONE.sub(
        lambda m: "[phone]" if sum(c.isdigit() for c in m.group(0)) >= 9 else m.group(0), text
    )


@given(st.text(alphabet="ab1.@+- ()_x9é\n", max_size=60))
@settings(max_examples=500, deadline=None)
def test_masking_finds_what_the_simple_patterns_find(text: str) -> None:
    assert redact_text(text) == _reference(text)


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        ("write to anna.k+cx@example.co.uk today", "write to [email] today"),
        ("call +48 601 234 567 or 22 555-01-99", "call [phone] or [phone]"),
        ("order 2026-11-20, ref a.b@c", "order 2026-11-20, ref a.b@c"),
    ],
)
def test_masking_examples(text: str, masked: str) -> None:
    assert redact_text(text) == masked


def _counts(value: Any) -> tuple[int, int, int]:
    """Keys, objects and values (commas + 1) of a parsed JSON document, by walking it."""
    keys = objects = commas = 0
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            keys, objects = keys + len(item), objects + 1
            commas += max(len(item) - 1, 0)
            stack.extend(item.values())
        elif isinstance(item, list):
            commas += max(len(item) - 1, 0)
            stack.extend(item)
    return keys, objects, commas + 1


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(alphabet=',:{}[]"\\ab', max_size=8),
    lambda inner: (
        st.lists(inner, max_size=5)
        | st.dictionaries(st.text(alphabet=',:{"\\a', max_size=4), inner, max_size=5)
    ),
    max_leaves=30,
)


@given(_JSON, st.integers(0, 12), st.integers(0, 6), st.integers(1, 20))
@settings(max_examples=300, deadline=None)
def test_a_document_is_refused_exactly_when_it_holds_too_much(
    document: Any, max_keys: int, max_objects: int, max_values: int
) -> None:
    """The counts outside strings (found without parsing) are the parsed document's."""
    import cxplay._incidents as incidents

    keys, objects, values = _counts(document)
    too_much = keys > max_keys or objects > max_objects or values > max_values
    saved = incidents.MAX_KEYS, incidents.MAX_OBJECTS, incidents.MAX_VALUES
    incidents.MAX_KEYS, incidents.MAX_OBJECTS, incidents.MAX_VALUES = (
        max_keys,
        max_objects,
        max_values,
    )
    try:
        why = incidents._too_big(json.dumps(document).encode())
    finally:
        incidents.MAX_KEYS, incidents.MAX_OBJECTS, incidents.MAX_VALUES = saved
    assert (why is not None) == too_much, (why, keys, objects, values)


# --------------------------------------------------------------------------- starting


def _serve(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if k != "CXPLAY_PLAYBOOKS"}
    return subprocess.run(
        [sys.executable, "-m", "cxplay", "serve", "--no-auth", "--no-watch", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env={**base, **(env or {})},
    )


def test_a_port_in_use_is_its_own_exit_status_with_one_line() -> None:
    pytest.importorskip("uvicorn", reason="the serve extra is not installed")
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = _serve("--port", str(port))
    assert result.returncode == 4, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: cannot listen on 127.0.0.1:")
    assert "--port" in lines[0] and "Traceback" not in result.stderr


def test_an_address_not_of_this_machine_is_the_same_exit_status() -> None:
    pytest.importorskip("uvicorn", reason="the serve extra is not installed")
    result = _serve("--host", "192.0.2.1", "--port", "8080")  # TEST-NET-1: nobody's
    assert result.returncode == 4, result.stderr
    assert result.stderr.startswith("Error: cannot listen on 192.0.2.1:8080")


@pytest.mark.parametrize("value", [f"{os.pathsep}playbooks", f"playbooks{os.pathsep}{os.pathsep}x"])
def test_an_empty_element_of_cxplay_playbooks_is_refused(tmp_path: Path, value: str) -> None:
    pytest.importorskip("uvicorn", reason="the serve extra is not installed")
    (tmp_path / "stray.toml").write_text("not a playbook = [", encoding="utf-8")
    result = subprocess.run(
        [sys.executable, "-m", "cxplay", "serve", "--no-auth", "--host", "192.0.2.1"],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
        env={**os.environ, "CXPLAY_PLAYBOOKS": value},
    )
    assert result.returncode == 2, result.stderr
    assert "empty element" in result.stderr and "Traceback" not in result.stderr
