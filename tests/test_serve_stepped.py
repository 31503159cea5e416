"""``POST /v1/suggest`` stepped without a task answers as uvicorn's task answers it.

:class:`cxplay._serve.protocol.HeadTimeoutProtocol` runs a ``POST /v1/suggest`` whose body
came in the same read as its head at once, in a copy of the context, and makes a task only
of what then has to wait. Here a real uvicorn server (uvloop, the protocol ``cxplay serve``
configures) serves the service's app over real sockets twice, once stepping and once with
``stepping = False`` (uvicorn's task for every request, the reference), and every exchange
must write the same bytes (but the date): keep-alive, pipelined requests (with another
route between), a body in a later read, ``Expect: 100-continue``, HTTP/1.0, every error,
bodies served in a thread, bodies past uvicorn's read pause (64 KiB), a request followed
by garbage, a client gone before its answer. The fake-transport tests below check what a
socket cannot show: the context, the task asked for, a coroutine that waits or fails,
and the keep-alive timer after a stepped request.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import re
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("uvicorn", reason="the serve extra is not installed")

import uvicorn
from test_serve_fast import _crashing, _incident_id
from test_serve_head_timer import _Transport
from uvicorn.server import ServerState

from cxplay._serve import ServeConfig, create_app
from cxplay._serve.guard import DEADLINE, IN_TASK
from cxplay._serve.protocol import HeadTimeoutProtocol
from tests.serving import free_port

ROOT = Path(__file__).resolve().parent.parent
TOKEN = "agent-token-0123456789"
PARCEL = (ROOT / "examples" / "incidents" / "parcel_damaged.json").read_bytes()
# past the inline limit (16 KiB: a thread) and past uvicorn's read pause (64 KiB)
LARGE = json.dumps({**json.loads(PARCEL), "description": "word " * 4_000}).encode()  # a 200
HUGE = json.dumps({**json.loads(PARCEL), "description": "y" * 150_000}).encode()  # a 422


def _post(
    body: bytes = PARCEL,
    *,
    query: str = "",
    close: bool = False,
    headers: str = "Content-Type: application/json\r\n",
    token: bool = True,
    version: str = "1.1",
) -> bytes:
    head = f"POST /v1/suggest{query} HTTP/{version}\r\nHost: x\r\n{headers}"
    if token:
        head += f"Authorization: Bearer {TOKEN}\r\n"
    if close:
        head += "Connection: close\r\n"
    return (head + f"Content-Length: {len(body)}\r\n\r\n").encode() + body


CRASH = b'{"id": "CRASH", "type": "parcel_damaged"}'
SLOW = json.dumps({**json.loads(LARGE), "id": "SLOW"}).encode()
HEALTH = b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"

#: Each case: the chunks a client sends (a pause between two), the last one closing.
CASES: dict[str, list[bytes]] = {
    "one": [_post(close=True)],
    "keep-alive": [_post(), _post(query="?explain=true"), _post(close=True)],
    "pipelined": [_post() + _post(CRASH) + _post(close=True)],
    "pipelined with another route": [_post() + HEALTH + _post(close=True)],
    "the body in a later read": [_post(close=True)[:-40], _post(close=True)[-40:]],
    "only the head first": [
        _post(close=True)[: -len(PARCEL)],
        PARCEL,
    ],
    "expect 100-continue": [_post(headers="Expect: 100-continue\r\n", close=True)],
    "HTTP/1.0": [_post(version="1.0")],
    "no token": [_post(token=False, close=True)],
    "a wrong type": [_post(headers="Content-Type: text/plain\r\n", close=True)],
    "not JSON": [_post(b"{not json", close=True)],
    "explain=maybe": [_post(query="?explain=maybe", close=True)],
    "too large by its length": [_post(b" " * ((1 << 20) + 1), close=True)[:300]],
    "a failing engine": [_post(CRASH), _post(close=True)],
    "a body in a thread": [_post(LARGE), _post(close=True)],
    "a body past the read pause": [_post(HUGE), _post(close=True)],
    "garbage after a request": [_post() + b"NOT HTTP\r\n\r\n"],
    "toml": [
        _post(
            b'id = "T-1"\ntype = "queue_long"\n',
            headers="Content-Type: application/toml\r\n",
            close=True,
        )
    ],
}


def _engine_hooks(app: Any) -> None:
    """The incident "CRASH" fails the engine (test_serve_fast's); "SLOW" takes 0.3 s."""
    _crashing(app)
    service = app.state.service
    suggest = service.engine.suggest

    def slow(incident: Any, **options: Any) -> Any:
        if _incident_id(incident) == "SLOW":
            time.sleep(0.3)
        return suggest(incident, **options)

    service.engine.suggest = slow


class _Server:
    """The service's app on a real uvicorn server, in a thread of its own."""

    def __init__(self, stepping: bool) -> None:
        app = create_app(ServeConfig(watch=False, tokens_env=f"{TOKEN}:agent", timeout=5.0))
        _engine_hooks(app)

        self.stepped = 0
        server = self

        class Protocol(HeadTimeoutProtocol):
            timeout = 5.0

            def _cx_step(self, cycle: Any) -> None:
                server.stepped += 1
                super()._cx_step(cycle)

        Protocol.stepping = stepping
        self.port = free_port()
        config = uvicorn.Config(
            app,
            host="127.0.0.1",
            port=self.port,
            http=Protocol,
            loop="uvloop",
            lifespan="off",
            log_level="critical",
            access_log=False,
            server_header=False,
            timeout_keep_alive=5,
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started:
            assert time.monotonic() < deadline, "the server did not start"
            time.sleep(0.01)

    def exchange(self, chunks: list[bytes]) -> bytes:
        """What the server answers to ``chunks`` (0.15 s apart), until it closes."""
        with socket.create_connection(("127.0.0.1", self.port)) as sock:
            for n, chunk in enumerate(chunks):
                if n:
                    time.sleep(0.15)
                sock.sendall(chunk)
            sock.settimeout(10)
            data = b""
            with contextlib.suppress(TimeoutError, ConnectionResetError):
                while piece := sock.recv(65536):
                    data += piece
        return re.sub(rb"date: [^\r]*\r\n", b"", data)

    def tasks(self) -> int:
        return len(self.server.server_state.tasks)

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(10)


@pytest.fixture(scope="module")
def servers() -> Iterator[tuple[_Server, _Server]]:
    stepping, reference = _Server(True), _Server(False)
    try:
        yield stepping, reference
    finally:
        stepping.stop()
        reference.stop()


@pytest.mark.parametrize("case", list(CASES))
def test_a_stepped_request_is_answered_as_uvicorns_task_answers_it(
    servers: tuple[_Server, _Server], case: str
) -> None:
    stepping, reference = servers
    before = stepping.stepped
    ours = stepping.exchange(CASES[case])
    theirs = reference.exchange(CASES[case])
    assert ours == theirs
    assert reference.stepped == 0
    if case in ("one", "keep-alive", "a failing engine", "a body in a thread"):
        assert stepping.stepped > before  # (not all of them: see the protocol)
    assert ours.startswith(b"HTTP/1.")
    if case in ("one", "keep-alive", "pipelined", "a body in a thread"):
        assert b"HTTP/1.1 200 OK" in ours
    if case == "a body in a thread":
        assert ours.count(b"HTTP/1.1 200 OK") == 2  # the 20 KB one answered from its thread


def test_a_client_gone_before_its_answer_leaves_nothing_behind(
    servers: tuple[_Server, _Server], caplog: pytest.LogCaptureFixture
) -> None:
    """A request waiting for the engine in a thread, its client gone: no error, no task."""
    caplog.set_level(logging.ERROR)
    for server in servers:
        with socket.create_connection(("127.0.0.1", server.port)) as sock:
            sock.sendall(_post(SLOW))
            time.sleep(0.05)
        deadline = time.monotonic() + 5
        while server.tasks() and time.monotonic() < deadline:
            time.sleep(0.02)
        assert server.tasks() == 0
        assert b"HTTP/1.1 200 OK" in server.exchange([_post(close=True)])
    assert [r for r in caplog.records if r.levelno >= logging.ERROR] == []


# -- over a fake transport: what a socket cannot show ------------------------------------


POST = b"POST /v1/suggest HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{}"


class _Marked:
    """An ASGI app the protocol steps (it has the service app's marker), doing ``work``."""

    steps_without_task = True

    def __init__(self, work: Any) -> None:
        self.work = work
        self.seen: list[Any] = []

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        await receive()
        await self.work(self.seen)
        await send(
            {"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"2")]}
        )
        await send({"type": "http.response.body", "body": b"ok"})


def _protocol(app: Any, stepping: bool, keep_alive: float = 5.0, reset: bool = False) -> Any:
    class Protocol(HeadTimeoutProtocol):
        timeout = 5.0

    Protocol.stepping = stepping
    config = uvicorn.Config(
        app,
        http=Protocol,
        lifespan="off",
        log_level="critical",
        timeout_keep_alive=keep_alive,
        reset_contextvars=reset,
    )
    config.load()
    return Protocol(
        config=config, server_state=ServerState(), app_state={}, _loop=asyncio.get_running_loop()
    )


async def _nothing(seen: list[Any]) -> None:
    seen.append((asyncio.current_task() is None, DEADLINE.get()))
    DEADLINE.set(1.0)  # set in the request's context only


async def _asks_a_task(seen: list[Any]) -> None:
    before = asyncio.current_task() is None
    await IN_TASK
    seen.append((before, asyncio.current_task() is not None))


async def _waits(seen: list[Any]) -> None:
    DEADLINE.set(2.0)
    await asyncio.sleep(0)
    await asyncio.sleep(0.01)
    seen.append(DEADLINE.get())


async def _fails(seen: list[Any]) -> None:
    raise RuntimeError("boom")


async def _run(work: Any, stepping: bool, data: bytes) -> tuple[Any, ...]:
    app = _Marked(work)
    protocol = _protocol(app, stepping)
    transport = _Transport()
    protocol.connection_made(transport)
    at_once: list[int] = []

    def read() -> None:  # as a socket's read calls it: from the loop, outside any task
        protocol.data_received(data)
        at_once.append(transport.written.count(b"HTTP/1.1 "))

    asyncio.get_running_loop().call_soon(read)
    for _ in range(30):
        await asyncio.sleep(0.002)
    tasks = len(protocol.tasks)
    protocol.connection_lost(None)
    return transport.written, transport.closed, app.seen, at_once[0], tasks


@pytest.mark.parametrize("data", [POST, POST + POST, POST.replace(b"1.1", b"1.0")])
@pytest.mark.parametrize("work", [_nothing, _asks_a_task, _waits, _fails])
def test_stepped_and_tasked_apps_write_the_same(work: Any, data: bytes) -> None:
    ours = asyncio.run(_run(work, True, data))
    theirs = asyncio.run(_run(work, False, data))
    assert ours[:2] == theirs[:2] and ours[4] == theirs[4] == 0
    assert DEADLINE.get() is None  # nothing leaked into the caller's context
    if work is _nothing:
        assert ours[2][0] == (True, None) and theirs[2][0] == (False, None)  # no task: stepped
        assert ours[3] >= 1 and theirs[3] == 0  # answered within data_received
        assert all(seen == (ours[2][0] if n == 0 else seen) for n, seen in enumerate(ours[2]))
    if work is _asks_a_task:
        assert ours[2][0] == (True, True) and theirs[2][0] == (False, True)
    if work is _waits:
        assert ours[2] == theirs[2] and set(ours[2]) == {2.0}  # the context went on with it


def test_a_failing_run_asgi_is_reported_as_a_tasks_failure() -> None:
    """What escapes uvicorn's own wrapper goes to the loop's handler, not into httptools."""

    async def main() -> list[dict[str, Any]]:
        reported: list[dict[str, Any]] = []
        asyncio.get_running_loop().set_exception_handler(lambda loop, ctx: reported.append(ctx))
        protocol = _protocol(_Marked(_nothing), True)
        transport = _Transport()
        protocol.connection_made(transport)
        logger, protocol.logger = protocol.logger, None  # run_asgi's own logging fails

        async def failing(scope: Any, receive: Any, send: Any) -> None:
            raise RuntimeError("boom")

        protocol.app.app = failing  # (behind the proxy-headers layer)
        asyncio.get_running_loop().call_soon(protocol.data_received, POST)
        await asyncio.sleep(0.01)
        protocol.logger = logger
        protocol.connection_lost(None)
        return reported

    reported = asyncio.run(main())
    assert len(reported) == 1 and isinstance(reported[0]["exception"], AttributeError)


def test_keep_alive_after_stepped_requests_is_one_timer_and_closes() -> None:
    async def main() -> tuple[bool, bool, int]:
        protocol = _protocol(_Marked(_nothing), True, keep_alive=0.2)
        transport = _Transport()
        protocol.connection_made(transport)
        loop = asyncio.get_running_loop()
        loop.call_soon(protocol.data_received, POST)
        await asyncio.sleep(0)
        timer = protocol._idle_timer
        for _ in range(4):
            loop.call_soon(protocol.data_received, POST)
            await asyncio.sleep(0)
        same = protocol._idle_timer is timer and timer is not None
        open_before = not transport.closed
        await asyncio.sleep(0.5)
        return same, open_before and transport.closed, transport.written.count(b"200 OK")

    assert asyncio.run(main()) == (True, True, 5)


@pytest.mark.parametrize("reset", [False, True])
def test_a_stepped_request_gets_the_context_uvicorns_task_gets(reset: bool) -> None:
    """A copy of the loop's context, or with uvicorn's ``reset_contextvars`` a fresh one."""
    import contextvars

    marker: contextvars.ContextVar[str] = contextvars.ContextVar("marker", default="fresh")

    async def sees(seen: list[Any]) -> None:
        seen.append(marker.get())

    async def main(stepping: bool) -> list[Any]:
        marker.set("copied")
        app = _Marked(sees)
        protocol = _protocol(app, stepping, reset=reset)
        loop = asyncio.get_running_loop()
        protocol.connection_made(_Transport())
        loop.call_soon(protocol.data_received, POST)  # the loop's callback: this context
        for _ in range(10):
            await asyncio.sleep(0)
        return app.seen

    expected = ["fresh" if reset else "copied"]
    assert asyncio.run(main(True)) == asyncio.run(main(False)) == expected
