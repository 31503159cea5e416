"""The head's deadline with one timer per connection (cxplay._serve.protocol).

A keep-alive connection's requests used to arm and cancel a timer each; now the timer is
armed when a head begins and none is armed, and when it fires it looks at the head then
arriving. Each head still gets ``timeout`` seconds from its own first byte.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

pytest.importorskip("uvicorn", reason="the serve extra is not installed")

import uvicorn
from uvicorn.server import ServerState

from cxplay._serve.protocol import HeadTimeoutProtocol

REQUEST = b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"


async def _ok(scope: Any, receive: Any, send: Any) -> None:
    if scope["type"] != "http":
        return
    await send(
        {"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"2")]}
    )
    await send({"type": "http.response.body", "body": b"ok"})


class _Transport(asyncio.Transport):
    def __init__(self) -> None:
        super().__init__()
        self.written = b""
        self.closed = False

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return {"sockname": ("127.0.0.1", 8080), "peername": ("127.0.0.1", 40000)}.get(
            name, default
        )

    def write(self, data: bytes | bytearray | memoryview) -> None:
        self.written += bytes(data)

    def is_closing(self) -> bool:
        return self.closed

    def close(self) -> None:
        self.closed = True

    def pause_reading(self) -> None:
        pass

    def resume_reading(self) -> None:
        pass


def _connect(
    monkeypatch: pytest.MonkeyPatch, timeout: float
) -> tuple[HeadTimeoutProtocol, _Transport]:
    monkeypatch.setattr(HeadTimeoutProtocol, "timeout", timeout)
    config = uvicorn.Config(_ok, http=HeadTimeoutProtocol, lifespan="off", log_level="warning")
    config.load()
    protocol = HeadTimeoutProtocol(
        config=config, server_state=ServerState(), app_state={}, _loop=asyncio.get_running_loop()
    )
    transport = _Transport()
    protocol.connection_made(transport)
    return protocol, transport


async def _answered(transport: _Transport, count: int) -> None:
    while transport.written.count(b"HTTP/1.1 200") < count:
        await asyncio.sleep(0.001)


def test_a_keep_alive_connection_keeps_one_timer(monkeypatch: pytest.MonkeyPatch) -> None:
    async def main() -> None:
        protocol, transport = _connect(monkeypatch, 5.0)
        timer = protocol._head_timer
        assert timer is not None
        for n in range(1, 6):
            protocol.data_received(REQUEST)
            await _answered(transport, n)
        assert protocol._head_timer is timer  # not armed again for each request
        assert not transport.closed
        protocol.connection_lost(None)
        assert protocol._head_timer is None and timer.cancelled()

    asyncio.run(main())


def test_each_head_gets_its_whole_time_after_earlier_requests(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    async def main() -> tuple[float, bytes]:
        loop = asyncio.get_running_loop()
        protocol, transport = _connect(monkeypatch, 0.3)
        started = loop.time()
        protocol.data_received(REQUEST)
        await _answered(transport, 1)
        await asyncio.sleep(0.2)  # the first head's timer is due in 0.1 s
        begun = loop.time()
        protocol.data_received(b"GET / HTTP/1.1\r\nHo")  # and then nothing
        while not transport.closed and loop.time() - started < 3:
            await asyncio.sleep(0.005)
        return loop.time() - begun, transport.written

    took, written = asyncio.run(main())
    assert b"HTTP/1.1 408 Request Timeout" in written
    assert b"application/problem+json" in written
    assert 0.28 <= took < 1.5  # the stalled head's own 0.3 s, not the first timer's 0.1


def test_a_connection_idle_between_heads_is_not_timed_out_by_the_head_timer(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    async def main() -> _Transport:
        protocol, transport = _connect(monkeypatch, 0.1)
        protocol.data_received(REQUEST)
        await _answered(transport, 1)
        await asyncio.sleep(0.3)  # past the timer: no head arriving, nothing to do
        protocol.connection_lost(None)
        return transport

    transport = asyncio.run(main())
    assert b"408" not in transport.written


# -- the keep-alive timeout, with one timer per connection ------------------------------------


def _keep_alive(timeout: float) -> tuple[HeadTimeoutProtocol, _Transport]:
    config = uvicorn.Config(
        _ok,
        http=HeadTimeoutProtocol,
        lifespan="off",
        log_level="warning",
        timeout_keep_alive=timeout,
    )
    config.load()
    protocol = HeadTimeoutProtocol(
        config=config, server_state=ServerState(), app_state={}, _loop=asyncio.get_running_loop()
    )
    transport = _Transport()
    protocol.connection_made(transport)
    return protocol, transport


def test_keep_alive_is_one_timer_and_closes_an_idle_connection(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Requests in turn re-use the timer; idle for the timeout, the connection is closed."""

    async def main() -> tuple[float, int]:
        monkeypatch.setattr(HeadTimeoutProtocol, "timeout", 5.0)
        loop = asyncio.get_running_loop()
        protocol, transport = _keep_alive(0.3)
        protocol.data_received(REQUEST)
        await _answered(transport, 1)
        timer = protocol._idle_timer
        assert timer is not None and protocol.timeout_keep_alive_task is None
        for n in range(2, 6):
            protocol.data_received(REQUEST)
            await _answered(transport, n)
        assert protocol._idle_timer is timer  # not armed again for each request
        assert not transport.closed
        idle = loop.time()
        while not transport.closed and loop.time() - idle < 3:
            await asyncio.sleep(0.005)
        return loop.time() - idle, protocol.server_state.total_requests

    took, total = asyncio.run(main())
    assert 0.28 <= took < 1.5
    assert total == 5


def test_keep_alive_counts_from_the_last_response_and_not_while_data_arrives(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Each idle spell gets the whole timeout; a head arriving stops the clock, as uvicorn's."""

    async def main() -> tuple[bool, bool, float]:
        monkeypatch.setattr(HeadTimeoutProtocol, "timeout", 5.0)
        loop = asyncio.get_running_loop()
        protocol, transport = _keep_alive(0.3)
        protocol.data_received(REQUEST)
        await _answered(transport, 1)
        await asyncio.sleep(0.2)  # the timer is due in 0.1 s
        protocol.data_received(REQUEST)
        await _answered(transport, 2)
        idle = loop.time()
        await asyncio.sleep(0.2)  # the first timer fired: 0.2 s idle, not closed
        open_after_second = not transport.closed
        protocol.data_received(b"GET / HTTP/1.1\r\nHo")  # a head begins, and stalls
        await asyncio.sleep(0.5)  # past the keep-alive timeout: the head timer's job
        open_while_head = not transport.closed
        protocol.data_received(b"st: x\r\n\r\n")
        await _answered(transport, 3)
        idle = loop.time()
        while not transport.closed and loop.time() - idle < 3:
            await asyncio.sleep(0.005)
        return open_after_second, open_while_head, loop.time() - idle

    open_after_second, open_while_head, took = asyncio.run(main())
    assert open_after_second and open_while_head
    assert 0.28 <= took < 1.5


def test_keep_alive_timer_goes_with_the_connection(monkeypatch: pytest.MonkeyPatch) -> None:
    async def main() -> None:
        monkeypatch.setattr(HeadTimeoutProtocol, "timeout", 5.0)
        protocol, transport = _keep_alive(5.0)
        protocol.data_received(REQUEST)
        await _answered(transport, 1)
        timer = protocol._idle_timer
        assert timer is not None
        protocol.connection_lost(ConnectionResetError())
        assert protocol._idle_timer is None and timer.cancelled()

    asyncio.run(main())


def test_uvicorns_on_response_complete_is_still_the_one_copied() -> None:
    """``HeadTimeoutProtocol.on_response_complete`` is uvicorn's but for the timer.

    If uvicorn's method comes to touch anything else, this fails: compare the two again.
    """
    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

    names = set(HttpToolsProtocol.on_response_complete.__code__.co_names)
    assert names == {
        "_start_asgi_task",
        "_unset_keepalive_if_required",
        "call_later",
        "flow",
        "is_closing",
        "loop",
        "pipeline",
        "pop",
        "resume_reading",
        "server_state",
        "timeout_keep_alive",
        "timeout_keep_alive_handler",
        "timeout_keep_alive_task",
        "total_requests",
        "transport",
    }
