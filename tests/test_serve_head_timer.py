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
