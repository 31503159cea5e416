"""A head given encoded (``RAW_HEAD``) is written as uvicorn writes the same head.

:class:`cxplay._serve.protocol.HeadTimeoutProtocol` makes its requests' cycles
``_Cycle``, whose ``send`` writes a start message's ``RAW_HEAD`` (the hot path's headers,
encoded once) without uvicorn's per-header checks, together with its body. Each exchange
here runs twice over a fake transport, once with the key and once without it (uvicorn's
own ``send``), and the bytes written, the connection's closing and what the app saw must
be the same: keep-alive, ``Connection: close``, HTTP/1.0, pipelined requests, and the
messages that take uvicorn's way (a body in two parts, a wrong length).
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

pytest.importorskip("uvicorn", reason="the serve extra is not installed")

import uvicorn
from test_serve_head_timer import _Transport
from uvicorn.server import ServerState

from cxplay._serve.guard import RAW_HEAD, SECURITY_HEADERS, SECURITY_RAW
from cxplay._serve.protocol import HeadTimeoutProtocol

BODY = b'{"answer": "\xc5\xbc\xc3\xb3\xc5\x82w"}'


def _app(raw: bool, parts: int, length: int) -> Any:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        await receive()
        size = b"%d" % length
        head: dict[str, Any] = {
            "type": "http.response.start",
            "status": 200,
            "headers": [
                (b"content-length", size),
                (b"content-type", b"application/json"),
                *SECURITY_HEADERS,
            ],
        }
        if raw:
            head[RAW_HEAD] = (
                b"content-length: "
                + size
                + b"\r\ncontent-type: application/json\r\n"
                + SECURITY_RAW,
                length,
            )
        await send(head)
        if parts == 1:
            await send({"type": "http.response.body", "body": BODY})
        else:
            await send({"type": "http.response.body", "body": BODY[:5], "more_body": True})
            await send({"type": "http.response.body", "body": BODY[5:]})

    return app


async def _exchange(raw: bool, data: list[bytes], parts: int, length: int) -> tuple[Any, ...]:
    HeadTimeoutProtocol.timeout = 10.0
    config = uvicorn.Config(
        _app(raw, parts, length),
        http=HeadTimeoutProtocol,
        lifespan="off",
        log_level="critical",
        access_log=False,  # as cxplay serve runs (an access log takes uvicorn's way)
    )
    config.load()
    state = ServerState()
    state.default_headers = [(b"date", b"Mon, 07 Dec 2026 15:00:00 GMT")]
    protocol = HeadTimeoutProtocol(
        config=config, server_state=state, app_state={}, _loop=asyncio.get_running_loop()
    )
    transport = _Counted()
    protocol.connection_made(transport)
    for chunk in data:
        protocol.data_received(chunk)
        for _ in range(20):
            await asyncio.sleep(0)
    failed = [task for task in state.tasks if task.done() and task.exception()]
    protocol.connection_lost(None)
    return transport.written, transport.closed, len(failed), state.total_requests, transport.writes


class _Counted(_Transport):
    writes = 0

    def write(self, data: bytes | bytearray | memoryview) -> None:
        self.writes += 1
        super().write(data)


POST = b"POST /v1/suggest HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{}"
CASES = [
    [POST],
    [POST, POST],
    [POST + POST],  # pipelined
    [POST.replace(b"Host: x", b"Host: x\r\nConnection: close")],
    [POST.replace(b"HTTP/1.1", b"HTTP/1.0")],
    [POST.replace(b"HTTP/1.1", b"HTTP/1.0").replace(b"Host: x", b"Connection: keep-alive")],
]


@pytest.mark.parametrize("data", CASES)
@pytest.mark.parametrize(("parts", "length"), [(1, len(BODY)), (2, len(BODY)), (1, 3)])
def test_a_raw_head_is_written_as_uvicorn_writes_it(
    data: list[bytes], parts: int, length: int
) -> None:
    given = asyncio.run(_exchange(True, data, parts, length))
    uvicorns = asyncio.run(_exchange(False, data, parts, length))
    assert given[:4] == uvicorns[:4]
    if (parts, length) == (1, len(BODY)):  # head and body in one write: the raw way
        assert given[0].count(b"HTTP/1.1 200 OK\r\n") >= 1 and given[2] == 0
        assert b"x-frame-options: DENY\r\n" in given[0]
        assert given[4] * 2 == uvicorns[4]


def test_the_cycle_is_ours_with_this_uvicorn_and_uvicorns_own_otherwise() -> None:
    """The head-and-body write needs uvicorn's method to make our cycle; a uvicorn that no
    longer names its cycle's class that way keeps its own method (slower, same answers)."""
    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

    from cxplay._serve import protocol

    assert protocol._headers_complete is not HttpToolsProtocol.on_headers_complete
    assert protocol._headers_complete.__code__ is HttpToolsProtocol.on_headers_complete.__code__

    def elsewhere(self: Any) -> None:  # names no RequestResponseCycle
        return None

    assert protocol._with_cycle(elsewhere) is elsewhere
    cycle = 1

    def closed(self: Any) -> Any:  # a closure: its code cannot take new globals alone
        return RequestResponseCycle, cycle  # type: ignore[name-defined]  # noqa: F821

    assert protocol._with_cycle(closed) is closed


def test_the_cycle_is_made_by_a_function_only_while_it_makes_what_uvicorn_makes() -> None:
    """uvicorn's ``on_headers_complete`` makes its cycle by :func:`protocol._new_cycle`
    while that sets the attributes uvicorn's ``__init__`` sets; any other ``__init__``
    keeps its class (checked once, at import)."""
    from uvicorn.protocols.http.httptools_impl import RequestResponseCycle

    from cxplay._serve import protocol

    assert protocol._cycle_maker() is protocol._new_cycle
    assert protocol._headers_complete.__globals__["RequestResponseCycle"] is protocol._new_cycle
    arguments = {
        "scope": {"type": "http"},
        "transport": object(),
        "flow": object(),
        "logger": object(),
        "access_logger": object(),
        "access_log": False,
        "default_headers": [],
        "message_event": asyncio.Event(),
        "expect_100_continue": True,
        "keep_alive": False,
        "on_response": print,
    }
    made = protocol._new_cycle(**arguments)  # type: ignore[arg-type]
    theirs = protocol._Cycle(**arguments)
    assert type(made) is protocol._Cycle and list(vars(made)) == list(vars(theirs))
    assert vars(made) == vars(theirs) and made.body is not theirs.body

    class More(RequestResponseCycle):
        def __init__(self, **arguments: Any) -> None:
            super().__init__(**arguments)
            self.trailers: list[bytes] = []

    class Other(RequestResponseCycle):
        def __init__(self, **arguments: Any) -> None:
            super().__init__(**arguments)
            self.logger = print  # the same names, another value

    class Calls(RequestResponseCycle):
        def __init__(self, **arguments: Any) -> None:
            super().__init__(**arguments)
            self.body = bytearray(len(self.scope))  # a name beyond the attributes: len

    class Positional(RequestResponseCycle):
        def __init__(self, scope: Any) -> None:  # another signature
            raise AssertionError

    for changed in (More, Other, Calls, Positional):
        assert protocol._cycle_maker(changed) is changed


class _Flow:
    def __init__(self, paused: bool) -> None:
        self.read_paused = paused
        self.write_paused = False
        self.resumed = 0

    def resume_reading(self) -> None:
        if self.read_paused:
            self.read_paused = False
            self.resumed += 1


@pytest.mark.parametrize("state", range(64))
def test_receive_returns_what_uvicorns_receive_returns(state: int) -> None:
    """``_Cycle.receive`` skips the wait for a body already all here; in every state of
    the six it looks at, it returns, writes, resumes and leaves what uvicorn's does."""
    from uvicorn.protocols.http.httptools_impl import RequestResponseCycle

    from cxplay._serve import protocol

    continue_, disconnected, complete, paused, event_set, more = (
        bool(state >> bit & 1) for bit in range(6)
    )

    async def run(receive: Any) -> tuple[Any, ...]:
        transport = _Counted()
        flow = _Flow(paused)
        cycle = protocol._new_cycle(
            scope={"type": "http"},
            transport=transport,
            flow=flow,
            logger=None,
            access_logger=None,
            access_log=False,
            default_headers=[],
            message_event=asyncio.Event(),
            expect_100_continue=continue_,
            keep_alive=True,
            on_response=print,
        )
        cycle.disconnected, cycle.response_complete, cycle.more_body = disconnected, complete, more
        cycle.body += b"{}"
        if event_set:
            cycle.message_event.set()
        task = asyncio.ensure_future(receive(cycle))
        await asyncio.sleep(0)
        waited = not task.done()
        cycle.message_event.set()
        message = await task
        state = {
            k: v for k, v in vars(cycle).items() if k not in ("transport", "flow", "message_event")
        }
        return message, waited, state, cycle.message_event.is_set(), transport.written, flow.resumed

    ours = asyncio.run(run(protocol._Cycle.receive))
    theirs = asyncio.run(run(RequestResponseCycle.receive))
    assert ours == theirs
