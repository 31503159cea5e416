"""uvicorn's HTTP protocol with a deadline on the request head, and problem+json errors.

uvicorn has no limit on how long a request's line and headers take to arrive (headers sent
at one byte every few seconds kept a connection open forever), and answers a request it
cannot parse (a bad ``Content-Length``, a 100 KB request line) with text/plain. This
protocol gives the head ``--timeout`` seconds (then 408 and the connection is closed) and
answers both with RFC 9457 problem+json, like every other error of the service. From the
end of the head, :class:`~cxplay._serve.guard.Guard` holds the rest of the request to the
same deadline.
"""

from __future__ import annotations

import asyncio
import contextvars
import json
import os
import types
from collections.abc import Coroutine
from typing import Any

from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware
from uvicorn.protocols.http import httptools_impl
from uvicorn.protocols.http.httptools_impl import (
    STATUS_LINE,
    HttpToolsProtocol,
    RequestResponseCycle,
)

from cxplay._serve.guard import RAW_HEAD, SECURITY_HEADERS, _Resumed, problem_bytes

__all__ = ["HeadTimeoutProtocol"]


class HeadTimeoutProtocol(HttpToolsProtocol):
    """httptools, with the head's deadline and problem+json for what it cannot parse."""

    #: Seconds a request's head may take; the CLI sets it (a worker reads its config).
    timeout: float | None = None
    #: The connection's head timer: armed when a head begins and none is armed, it checks
    #: when it fires and is armed again for the head then arriving, if there is one.
    _head_timer: asyncio.TimerHandle | None = None
    #: When the head arriving now began (``loop.time()``); None between heads.
    _head_since: float | None = None
    #: The connection's keep-alive timer, and since when it is idle (None: it is not): as
    #: the head's, armed when the connection goes idle and none is armed.
    _idle_timer: asyncio.TimerHandle | None = None
    _idle_since: float | None = None
    #: Whether this connection's ``POST /v1/suggest`` requests are stepped at once (see
    #: :meth:`data_received`); False: uvicorn's task for every request (the reference).
    stepping = True
    _cx_steps = False
    #: While the parser runs: a request whose head came in is noted, not started.
    _cx_feeding = False
    _cx_noted: RequestResponseCycle | None = None
    _cx_fresh = False

    @classmethod
    def _seconds(cls) -> float:
        if cls.timeout is None:  # a worker process: the CLI's configuration, by environment
            from cxplay._serve import CONFIG_ENV

            config = json.loads(os.environ.get(CONFIG_ENV, "{}"))
            cls.timeout = float(config.get("timeout", 10.0))
        return cls.timeout

    def _begin_head(self) -> None:
        """A head begins: it has ``timeout`` seconds from now.

        One timer per connection, not one per request: it is armed only when none is
        (a keep-alive connection's heads come and go within a timeout), and when it fires
        it looks at the head arriving then (:meth:`_head_check`). Arming and cancelling a
        timer for every request cost more than the rest of this protocol's additions.
        """
        self._head_since = now = self.loop.time()
        if self._head_timer is None:
            self._head_timer = self.loop.call_at(now + self._seconds(), self._head_check)

    def _stop_timer(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        """A connection: its first request's head must arrive in time."""
        super().connection_made(transport)
        self._cx_steps = self.stepping and _steppable(self.app)
        self._cx_fresh = bool(getattr(self.config, "reset_contextvars", False))  # uvicorn's
        self._begin_head()

    def on_message_begin(self) -> None:
        """A request begins: its head must arrive in time (:meth:`_begin_head`, inlined)."""
        _message_begin(self)
        self._head_since = now = self.loop.time()
        if self._head_timer is None:
            self._head_timer = self.loop.call_at(now + self._seconds(), self._head_check)

    def on_headers_complete(self) -> None:
        """The head is in: the Guard's deadline takes over."""
        self._head_since = None
        _headers_complete(self)  # uvicorn's, making a _Cycle for the request

    # A request without a task of its own. uvicorn starts a task for every request when its
    # head is parsed: a Task, a copy of the context, a turn of the loop for its step and
    # another for its done callback. For ``POST /v1/suggest`` on the service's app, whose
    # body arrives in the same read as its head (a small JSON document, nearly always), the
    # request is noted when its head is parsed and, once the parser is done with the read,
    # stepped at once in a copy of the context, as its task would have run it; only what
    # then has to wait (a body still to come, the engine in a thread, the decision log, a
    # write buffer to drain) goes on in a task, from where that step stopped, in the same
    # context. The app asks for a task (a bare ``yield``: guard.IN_TASK) before anything
    # that needs one (``asyncio.current_task()``: timeouts, anyio), and the service's app
    # alone is stepped (the marker ``steps_without_task``, behind uvicorn's proxy-headers
    # layer at most). A body still to come, a connection closing, a pipelined request and
    # every other request take uvicorn's task, as before.

    def data_received(self, data: bytes) -> None:
        """As uvicorn reads, then the request whose head and body were in ``data``, stepped."""
        self._cx_feeding = True
        try:
            super().data_received(data)
        except BaseException:
            self._cx_feeding = False
            self._cx_start_noted()
            raise
        self._cx_feeding = False
        cycle = self._cx_noted
        if cycle is not None:
            if (
                cycle.more_body
                or self.transport.is_closing()
                or asyncio.current_task(self.loop) is not None  # (called by a task: a test)
            ):
                self._cx_start_noted()  # uvicorn's way
            else:
                self._cx_noted = None
                self._cx_step(cycle)

    def _cx_start_noted(self) -> None:
        cycle = self._cx_noted
        if cycle is not None:
            self._cx_noted = None
            super()._start_asgi_task(cycle, self.app)

    def _start_asgi_task(self, cycle: RequestResponseCycle, app: Any) -> None:
        """As uvicorn starts a task; a ``POST /v1/suggest`` whose head is being parsed: noted."""
        if (
            self._cx_feeding
            and self._cx_steps
            and app is self.app  # (not the 503 of limit_concurrency)
            and self._cx_noted is None
            and cycle.scope["path"] == "/v1/suggest"
            and cycle.scope["method"] == "POST"
        ):
            self._cx_noted = cycle
            return
        super()._start_asgi_task(cycle, app)

    def _cx_step(self, cycle: RequestResponseCycle) -> None:
        """The request run as far as it goes without waiting; a task for the rest, if any."""
        if self._cx_fresh:  # uvicorn's option (reset_contextvars), as it does
            context = contextvars.Context()
        else:
            context = contextvars.copy_context()
        coroutine = cycle.run_asgi(self.app)
        try:
            waiting = context.run(coroutine.send, None)
        except StopIteration:
            return  # answered (or closed): the common case
        except (KeyboardInterrupt, SystemExit):
            raise  # as a task raises them
        except BaseException as exc:  # run_asgi's own failure: reported as a task's would be
            self.loop.call_exception_handler(
                {"message": "Exception in a request stepped without a task", "exception": exc}
            )
            return
        task = context.run(self.loop.create_task, _go_on(coroutine, waiting))
        task.add_done_callback(self.tasks.discard)
        self.tasks.add(task)

    def connection_lost(self, exc: Exception | None) -> None:
        """Gone: no timer left behind."""
        self._head_since = None
        self._stop_timer()
        super().connection_lost(exc)
        self._idle_since = None
        if self._idle_timer is not None:
            self._idle_timer.cancel()
            self._idle_timer = None

    # The keep-alive timeout, with one timer per connection. uvicorn arms a timer when a
    # response completes and cancels it when data arrives: a timer made and cancelled for
    # every request. Here the connection notes when it went idle, the timer is armed only
    # when none is, and when it fires it closes a connection idle for the whole timeout,
    # or is armed again for the idle time then running. Closed when uvicorn closes it:
    # ``timeout_keep_alive`` seconds after the last response, if no byte came since.

    def _unset_keepalive_if_required(self) -> None:
        """Data arrived (or the connection ends): not idle."""
        self._idle_since = None
        if self.timeout_keep_alive_task is not None:  # (none is armed by this class)
            super()._unset_keepalive_if_required()

    def on_response_complete(self) -> None:
        """uvicorn's, but the connection goes idle instead of arming a timer of its own."""
        self.server_state.total_requests += 1
        if self.transport.is_closing():
            return
        self._unset_keepalive_if_required()
        self.flow.resume_reading()
        if self.pipeline:
            cycle, app = self.pipeline.pop()
            self._start_asgi_task(cycle, app)
        else:
            self._idle_since = now = self.loop.time()
            if self._idle_timer is None:
                self._idle_timer = self.loop.call_at(now + self.timeout_keep_alive, self._idle)

    def _idle(self) -> None:
        """The keep-alive timer: close a connection idle for the timeout, or wait on."""
        self._idle_timer = None
        since = self._idle_since
        if since is None:  # busy since: armed again when it next goes idle
            return
        due = since + self.timeout_keep_alive
        if self.loop.time() < due:
            self._idle_timer = self.loop.call_at(due, self._idle)
            return
        self.timeout_keep_alive_handler()

    def _head_check(self) -> None:
        """The timer: a 408 for a head past its time, else armed for the head arriving."""
        self._head_timer = None
        since = self._head_since
        if since is None:  # between heads: the keep-alive timeout's job
            return
        due = since + self._seconds()
        if self.loop.time() < due:  # a later head than the one the timer was armed for
            self._head_timer = self.loop.call_at(due, self._head_check)
            return
        self._head_too_slow()

    def _head_too_slow(self) -> None:
        self._head_since = None
        if self.transport.is_closing():
            return
        if self.cycle is not None and not self.cycle.response_complete:
            return  # a request is being answered: the Guard's deadline applies to it
        detail = f"the request's line and headers did not arrive in {self._seconds():g} s"
        self._write_problem(408, "Request Timeout", detail)

    def send_400_response(self, msg: str) -> None:
        """A request httptools cannot parse, answered as problem+json."""
        self._write_problem(
            400,
            "Bad Request",
            "not a valid HTTP request (its request line, a header or Content-Length)",
        )

    def _write_problem(self, status: int, title: str, detail: str) -> None:
        body = problem_bytes(status, title, detail)
        head = [
            f"HTTP/1.1 {status} {title}\r\n".encode(),
            b"content-type: application/problem+json\r\n",
            b"content-length: " + str(len(body)).encode() + b"\r\n",
            b"connection: close\r\n",
            *(name + b": " + value + b"\r\n" for name, value in SECURITY_HEADERS),
            b"\r\n",
        ]
        self.transport.write(b"".join(head) + body)
        self.transport.close()


#: Headers that change how uvicorn sends a body (a server's own header of these names takes
#: uvicorn's way).
_SPECIAL = frozenset((b"content-length", b"transfer-encoding", b"connection"))


class _Cycle(RequestResponseCycle):
    """uvicorn's request-response cycle, for a head given encoded already (``RAW_HEAD``).

    uvicorn checks each header of every response against two patterns, lowers its name and
    looks for the few that change how the body is sent; the hot path's head is the same
    every time but for its length (4 of its 6 headers are the security headers), so it
    comes encoded, and its length as a number. The head is then written with its body, in
    one ``write`` (one system call, not two). Anything else -- a message without the key,
    a connection writing slowly or gone, an access log, a body that does not complete the
    response in one message -- goes through uvicorn's ``send`` as it is, the pending head
    written first. ``tests/test_serve_protocol.py`` compares the bytes written both ways.
    """

    _cx_head: bytes | None = None

    async def receive(self) -> Any:
        """As uvicorn receives; a body that is all here is returned without the wait.

        uvicorn resumes reading (paused: no), waits for the message event (set: at once)
        and clears it; here the same is seen first and done without the wait's coroutine.
        """
        event = self.message_event
        if (
            self.waiting_for_100_continue
            or self.disconnected
            or self.response_complete
            or self.flow.read_paused
            or not event.is_set()
        ):
            return await super().receive()
        event.clear()
        message = {"type": "http.request", "body": bytes(self.body), "more_body": self.more_body}
        self.body = bytearray()
        return message

    async def send(self, message: Any) -> None:
        """As uvicorn sends, but a head in ``RAW_HEAD`` is written with its body, at once."""
        head = self._cx_head
        if head is not None:  # a head waits for its body
            self._cx_head = None
            if not self.disconnected:  # (gone: uvicorn's send writes nothing)
                body = message.get("body", b"")
                if (
                    message["type"] == "http.response.body"
                    and not message.get("more_body", False)
                    and len(body) == self.expected_content_length
                    and not self.flow.write_paused
                ):
                    self.expected_content_length = 0
                    self.transport.write(head + body)
                    self.response_complete = True
                    self.message_event.set()
                    if not self.keep_alive:
                        self.transport.close()
                    self.on_response()
                    return
                self.transport.write(head)  # as uvicorn would have written it, first
        elif (
            not self.response_started
            and message["type"] == "http.response.start"
            and RAW_HEAD in message
            and not self.flow.write_paused
            and not self.disconnected
            and not self.access_log
            and self.scope["method"] != "HEAD"
        ):
            content = [STATUS_LINE[message["status"]]]
            for name, value in self.default_headers:  # the server's: the date
                name = name.lower()
                if name in _SPECIAL:  # (none by default): uvicorn's way
                    break
                content.extend((name, b": ", value, b"\r\n"))
            else:
                raw, length = message[RAW_HEAD]
                self.response_started = True
                self.waiting_for_100_continue = False
                content.append(raw)
                self.expected_content_length = length
                self.chunked_encoding = False
                if not self.keep_alive:
                    content.append(b"connection: close\r\n")
                content.append(b"\r\n")
                self._cx_head = b"".join(content)
                return
        await super().send(message)


_new = object.__new__


def _new_cycle(
    scope: Any,
    transport: Any,
    flow: Any,
    logger: Any,
    access_logger: Any,
    access_log: bool,
    default_headers: Any,
    message_event: Any,
    expect_100_continue: bool,
    keep_alive: bool,
    on_response: Any,
) -> _Cycle:
    """A :class:`_Cycle` as uvicorn's ``__init__`` makes it, by a plain function.

    A class called with eleven keywords goes through ``__init__``'s slot, which gathers
    them into a dictionary and matches each against the parameters' names: 3 times what
    setting the attributes costs. The same attributes, in the same order, with the same
    values; used only while they are (:func:`_cycle_maker` checks it at import).
    """
    self = _new(_Cycle)
    self.scope = scope
    self.transport = transport
    self.flow = flow
    self.logger = logger
    self.access_logger = access_logger
    self.access_log = access_log
    self.default_headers = default_headers
    self.message_event = message_event
    self.on_response = on_response
    self.disconnected = False
    self.keep_alive = keep_alive
    self.waiting_for_100_continue = expect_100_continue
    self.body = bytearray()
    self.more_body = True
    self.response_started = False
    self.response_complete = False
    self.chunked_encoding = None
    self.expected_content_length = 0
    return self


def _cycle_maker(cycle_class: type[Any] = _Cycle) -> Any:
    """:func:`_new_cycle` if it makes what ``cycle_class(...)`` makes, else the class.

    Both are called once with distinct arguments: the attributes (names, order, values)
    must be the same, and uvicorn's ``__init__`` must use no name but the attributes it
    sets and ``bytearray`` (it does nothing else). A uvicorn that changes its cycle gets
    its own constructor back, slower and right.
    """
    init = cycle_class.__init__
    arguments: dict[str, Any] = {
        name: object()
        for name in (
            "scope",
            "transport",
            "flow",
            "logger",
            "access_logger",
            "access_log",
            "default_headers",
            "message_event",
            "expect_100_continue",
            "keep_alive",
            "on_response",
        )
    }
    try:
        theirs = vars(cycle_class(**arguments))
        ours = vars(_new_cycle(**arguments))
    except Exception:  # (a signature of another shape)
        return cycle_class
    names = set(getattr(getattr(init, "__code__", None), "co_names", ("?",)))
    if list(theirs) != list(ours) or theirs != ours or not names <= {*ours, "bytearray"}:
        return cycle_class
    return _new_cycle


def _with_cycle(function: Any) -> Any:
    """Uvicorn's ``function`` itself (its code), making a :class:`_Cycle` where it made one.

    The code is uvicorn's, not a copy that could drift from it; only the name it finds the
    cycle's class by is ours (:func:`_new_cycle`, or the class). (Changing the class of
    the cycle it made instead costs more than the headers: Python then gives the object a
    dictionary of its own.)
    """
    code = function.__code__
    if code.co_freevars or "RequestResponseCycle" not in code.co_names:
        # a uvicorn whose method no longer looks the class up by that global name (or
        # needs a closure): its own method and cycle, slower and the same answers
        # (tests/test_serve_protocol.py asserts one write per answer, so CI notices)
        return function
    names = {**vars(httptools_impl), "RequestResponseCycle": _cycle_maker()}
    return types.FunctionType(function.__code__, names, function.__name__, function.__defaults__)


_headers_complete = _with_cycle(HttpToolsProtocol.on_headers_complete)
_message_begin = HttpToolsProtocol.on_message_begin


def _steppable(app: Any) -> bool:
    """Whether ``app`` (as uvicorn loaded it) may be stepped outside a task (see above)."""
    if type(app) is ProxyHeadersMiddleware:  # no await of its own before the app's
        app = app.app
    return getattr(app, "steps_without_task", False) is True


async def _go_on(coroutine: Coroutine[Any, Any, None], waiting: Any) -> None:
    """A request's coroutine stepped once already, continued in the task running this.

    The step yielded ``waiting``: a future, which the task waits for as if it had taken
    that step itself (guard's :class:`_Resumed` hands it on, then delegates as ``await``
    does), or None (a bare yield: the app asked for a task, or gave way with ``sleep(0)``;
    this task's first turn is that turn of the loop, so the coroutine is sent on at once).
    """
    if waiting is None:
        try:
            waiting = coroutine.send(None)
        except StopIteration:
            return
    await _Resumed(coroutine, waiting)  # type: ignore[arg-type]
