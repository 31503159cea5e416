"""The outermost layer of every request: size and time limits, headers, metrics.

A pure ASGI middleware (no per-request objects beyond two closures): it refuses a body
larger than the limit before reading it when ``Content-Length`` says so, and while reading
it otherwise; it sets the request's deadline (``--timeout`` from the end of its headers:
the body must have arrived, and the answer be computed, by then); it adds the security
headers; and it counts the request and its latency by route template (never by raw path,
so a scan of random URLs cannot blow up the metrics).

Before a request reaches the app, :mod:`cxplay._serve.protocol` (uvicorn's httptools
protocol) gives its request line and headers the same time to arrive, and answers a request
it cannot parse (a bad ``Content-Length``, a 100 KB request line) with problem+json.
"""

from __future__ import annotations

import asyncio
import contextvars
import json
import sys
import time
from collections.abc import Awaitable, Callable, Generator, MutableMapping
from typing import Any, TypeVar, cast

from starlette.requests import ClientDisconnect

from cxplay._serve.service import Metrics

__all__ = [
    "DEADLINE",
    "IN_TASK",
    "RAW_HEAD",
    "SECURITY_HEADERS",
    "SECURITY_RAW",
    "STARTED",
    "BodyTooLarge",
    "Guard",
    "deadline_of",
    "in_thread",
    "problem_bytes",
    "read_body",
]

#: The deadline of the request being answered (``time.monotonic()`` seconds), set by the
#: Guard for the task that answers it (and the threads it hands work to).
DEADLINE: contextvars.ContextVar[float | None] = contextvars.ContextVar(
    "cxplay_deadline", default=None
)


def deadline_of(default: float) -> float:
    """Seconds left before this request's deadline (``default`` outside a request)."""
    deadline = DEADLINE.get()
    if deadline is None:
        return default
    return max(0.0, deadline - time.monotonic())


_T = TypeVar("_T")


async def in_thread(timeout: float, function: Callable[..., _T], *args: Any, **kwargs: Any) -> _T:
    """``function`` in a thread, by the request's deadline (what is left of ``timeout``)."""
    return await asyncio.wait_for(
        asyncio.to_thread(function, *args, **kwargs), deadline_of(timeout)
    )


Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

SECURITY_HEADERS: tuple[tuple[bytes, bytes], ...] = (
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-frame-options", b"DENY"),
    (
        b"content-security-policy",
        b"default-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'; "
        b"frame-ancestors 'none'; form-action 'self'",
    ),
)
#: The same headers as they are written in a response's head.
SECURITY_RAW = b"".join(name + b": " + value + b"\r\n" for name, value in SECURITY_HEADERS)

#: A key of an ``http.response.start`` message: its head's header lines already encoded
#: (``name: value\r\n`` each, after the status line and the server's own headers) and the
#: body's length. They are the message's ``headers``, written once more; a server that
#: knows the key (:class:`cxplay._serve.protocol.HeadTimeoutProtocol`) writes them as they
#: are, any other reads ``headers``.
RAW_HEAD = "cxplay.raw_head"

#: A scope key: when the request began (``time.perf_counter()``), for a request that the
#: hot path (:mod:`cxplay._serve.fast`) began and hands to the Guard: its latency counts
#: from then.
STARTED = "cxplay.started"


class _InTask:
    """``await IN_TASK`` where what follows needs ``asyncio.current_task()``.

    In a task it does nothing. A ``POST /v1/suggest`` may be stepped by the protocol
    before it has a task (:mod:`cxplay._serve.protocol`): there, a bare ``yield`` asks the
    protocol to go on in a task, which it then does at the next turn of the loop. Awaited
    before timeouts, threads and anything of FastAPI's or Starlette's stack (anyio asks
    for the task too).
    """

    __slots__ = ()

    def __await__(self) -> Generator[None, None, None]:
        if asyncio.current_task() is None:
            yield


IN_TASK = _InTask()


if sys.version_info >= (3, 11):

    async def _by(deadline: float, awaitable: Awaitable[Message]) -> Message:
        """``awaitable`` by ``deadline`` (``time.monotonic()``), else asyncio.TimeoutError.

        A timer on the running task (``asyncio.timeout_at``), not a task per message as
        ``asyncio.wait_for`` makes on Python 3.11; the loop's clock is ``time.monotonic``.
        """
        async with asyncio.timeout_at(deadline):
            return await awaitable

else:  # pragma: no cover - Python 3.10

    async def _by(deadline: float, awaitable: Awaitable[Message]) -> Message:
        """``awaitable`` by ``deadline`` (``time.monotonic()``), else asyncio.TimeoutError."""
        return await asyncio.wait_for(awaitable, max(0.0, deadline - time.monotonic()))


async def _received_by(deadline: float, receive: Receive) -> Message:
    """The next message of ``receive``, by ``deadline``; no timer when it is there already.

    ``receive()`` is stepped once here, without a timer: a body that arrived with its head
    (most requests: one small JSON document) is returned at that step, and a timer for it
    (``asyncio.timeout_at``: a Timeout object, a timer armed and cancelled, a quarter of
    the Guard's cost) would never fire. A ``receive`` that has to wait goes on waiting from
    where that step stopped, under the deadline (:class:`_Resumed`), as before.
    """
    step = receive().__await__()
    try:
        waiting = step.send(None)
    except StopIteration as done:
        return cast(Message, done.value)
    await IN_TASK  # the deadline's timer needs one
    return await _by(deadline, _Resumed(step, waiting))


class _Resumed:
    """An awaitable stepped once already, awaited on from where that step stopped.

    What the step yielded (the future it waits for, or None: "run me again") goes to the
    task first, as if the task had taken that step itself; the rest is delegated as
    ``await`` does: the task's resumptions are sent on, and what the task throws in (the
    deadline's cancellation) is thrown into the step.
    """

    __slots__ = ("_step", "_waiting")

    def __init__(self, step: Generator[Any, None, Message], waiting: Any) -> None:
        self._step = step
        self._waiting = waiting

    def __await__(self) -> Generator[Any, None, Message]:
        step, waiting = self._step, self._waiting
        while True:
            try:
                yield waiting
            except BaseException as exc:  # handed on, as `await` does
                try:
                    waiting = step.throw(exc)
                except StopIteration as done:
                    return cast(Message, done.value)
            else:
                try:
                    waiting = step.send(None)
                except StopIteration as done:
                    return cast(Message, done.value)


class BodyTooLarge(Exception):
    """The request body went over the limit while it was being read."""


async def read_body(receive: Receive, deadline: float, limit: int) -> bytes:
    """The whole body, as the Guard's ``receive`` and the suggest route read it together.

    By ``deadline`` (else :class:`BodyTooSlow`), at most ``limit`` bytes (else
    :class:`BodyTooLarge`); a client gone before its body is a ``ClientDisconnect``.
    """
    chunks = []
    received = 0
    while True:
        try:  # the whole body by the deadline, however it is chunked
            message = await _received_by(deadline, receive)
        except asyncio.TimeoutError:
            raise BodyTooSlow from None
        kind = message["type"]
        body = message.get("body", b"")
        if kind == "http.request":
            received += len(body)
            if received > limit:
                raise BodyTooLarge
        elif kind == "http.disconnect":
            raise ClientDisconnect
        chunks.append(body)
        if not message.get("more_body", False):
            return b"".join(chunks)


def problem_bytes(status: int, title: str, detail: str) -> bytes:
    """An RFC 9457 problem document, for answers given before the app runs."""
    document = {
        "type": "about:blank",
        "title": title,
        "status": status,
        "detail": detail,
        "errors": [detail],
    }
    return json.dumps(document).encode()


class Guard:
    """Limits, headers and metrics around the whole app."""

    def __init__(
        self, app: ASGIApp, *, metrics: Metrics, max_body: int, read_timeout: float
    ) -> None:
        self.app = app
        self.metrics = metrics
        self.max_body = max_body
        self.read_timeout = read_timeout

    async def _refuse(self, send: Send, status: int, title: str, detail: str) -> None:
        body = problem_bytes(status, title, detail)
        headers = [
            (b"content-type", b"application/problem+json"),
            (b"content-length", str(len(body)).encode()),
            (b"connection", b"close"),
            *SECURITY_HEADERS,
        ]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = scope.get(STARTED) or time.perf_counter()
        status = 500
        limit = self.max_body
        for name, value in scope["headers"]:
            if name == b"content-length" and (not value.isdigit() or int(value) > limit):
                self._count(scope, 413, started)
                await self._refuse(
                    send,
                    413,
                    "Content Too Large",
                    f"the request body is larger than {limit // 1024} KiB",
                )
                return
        received = 0
        deadline = time.monotonic() + self.read_timeout
        DEADLINE.set(deadline)

        async def receive_limited() -> Message:
            nonlocal received
            try:  # the whole body by the deadline, however it is chunked
                message = await _received_by(deadline, receive)
            except asyncio.TimeoutError:
                raise BodyTooSlow from None
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise BodyTooLarge
            return message

        async def send_with_headers(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", ()), *SECURITY_HEADERS]
            await send(message)

        try:
            await self.app(scope, receive_limited, send_with_headers)
        finally:
            self._count(scope, status, started)

    def _count(self, scope: Scope, status: int, started: float) -> None:
        route = scope.get("route")
        template = getattr(route, "path", None) or "unmatched"
        self.metrics.request(scope["method"], template, status, time.perf_counter() - started)


class BodyTooSlow(Exception):
    """The client stopped sending its body."""
