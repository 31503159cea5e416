"""The app's front door: ``POST /v1/suggest`` past the framework's own layers.

Every request to a FastAPI app goes through its stack: the error middleware, FastAPI's
telemetry check and exception observer, its body-limit and exit-stack middleware, the
user's middleware (the :class:`~cxplay._serve.guard.Guard`), the exception middleware and
the router, each an awaited layer, most with a closure around ``send``. Under load that was
a third of what the service added to a suggestion. :class:`ServiceApp` hands the hot path
straight to the three layers that do something for it, the same classes in the same order
(the 500 handler, the Guard, the exception handlers) around the route's own ASGI callable:
the same checks, errors (problem+json), headers, deadline and metrics. A request that goes
well meets none of them: the app's hot path (``create_app``'s ``suggest_hot``) does the
Guard's and the route's work in one coroutine, and hands the short stack only a request
that the Guard refuses by its announced size, or an exception, which the stack then answers,
counts and logs as if it had met it itself (:meth:`ServiceApp.replay`).

Anything else takes the usual way: another path or method, a root path, more middleware
than the Guard (CORS), or OpenTelemetry configured (FastAPI's telemetry wants every request;
whether a provider is configured is asked on the first request and every 1,024th after,
since asking costs as much as a layer and a provider, once set, stays set).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import FastAPI
from starlette.middleware.errors import ServerErrorMiddleware
from starlette.middleware.exceptions import ExceptionMiddleware
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from cxplay._serve.guard import IN_TASK, STARTED, Guard

__all__ = ["ServiceApp"]

#: How many fast requests go by between two questions to OpenTelemetry (see above).
TELEMETRY_EVERY = 1024


class ServiceApp(FastAPI):
    """The service's FastAPI app, with ``POST /v1/suggest`` served past the framework."""

    #: The route served this way, and the Guard around it as the app's middleware has it
    #: (both set by :func:`~cxplay._serve.app.create_app`).
    fast_route: Route | None = None
    fast_guard: Callable[[ASGIApp], Guard] | None = None
    #: The whole hot path in one coroutine (set by create_app); None: the short stack's.
    fast_hot: ASGIApp | None = None
    _cx_fast: ASGIApp | None = None
    _cx_built = False
    _cx_ask_in = 0
    _cx_telemetry_on = False
    #: The protocol may step a request before it has a task (:mod:`cxplay._serve.protocol`):
    #: this app asks for one (``await IN_TASK``) before whatever needs it, the hot path
    #: only when it has to wait, and every other way at once.
    steps_without_task = True

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """One request: the hot path's short stack when it may, else FastAPI's."""
        if (
            scope["type"] == "http"
            and scope["path"] == "/v1/suggest"
            and scope["method"] == "POST"
            and not scope.get("root_path")
            and self.fast_route is not None
        ):
            fast = self._cx_fast if self._cx_built else self._short_stack()
            if fast is not None and not self._cx_telemetry():
                hot = self.fast_hot
                if hot is not None:
                    await hot(scope, receive, send)
                    return
                await IN_TASK
                self._cx_scope(scope)
                await fast(scope, receive, send)
                return
        await IN_TASK
        await super().__call__(scope, receive, send)

    async def replay(
        self,
        scope: Scope,
        receive: Receive,
        send: Send,
        started: float,
        exc: Exception | None = None,
        head: Message | None = None,
    ) -> None:
        """A request the hot path began, through the short stack from its beginning.

        Without ``exc``, the stack serves it (the Guard refuses it); with ``exc``, the
        route's place raises ``exc`` instead, after the response's start ``head`` if the
        hot path had sent it (it goes through the layers, so that they know, and no
        further). The latency counts from ``started``. Whatever the stack raises is raised.
        """
        assert self._cx_fast is not None  # the hot path runs only where it is built
        await IN_TASK  # Starlette's stack
        self._cx_scope(scope)
        scope[STARTED] = started
        if exc is not None:
            scope[_RAISE] = (exc, head)
        if head is not None:
            sent = send

            async def send(message: Message) -> None:
                if message is not head:
                    await sent(message)

        await self._cx_fast(scope, receive, send)

    def _cx_scope(self, scope: Scope) -> None:
        """What a route's scope holds, for the exception handlers' requests."""
        assert self.fast_route is not None
        scope["app"] = self
        scope["endpoint"] = self.fast_route.endpoint
        scope["path_params"] = {}

    def _cx_telemetry(self) -> bool:
        """Whether FastAPI's telemetry is on (asked now and then: see the module)."""
        self._cx_ask_in -= 1
        if self._cx_ask_in <= 0:
            native = getattr(self, "_native_telemetry", None)  # FastAPI >= 0.160
            self._cx_telemetry_on = bool(native is not None and native.enabled())
            self._cx_ask_in = TELEMETRY_EVERY
        return self._cx_telemetry_on

    def _short_stack(self) -> ASGIApp | None:
        """The 500 handler, the Guard and the exception handlers around the route, or None.

        Built on the first request, as Starlette builds its stack (handlers and middleware
        are all added by then); None when the app has middleware other than the Guard.
        """
        self._cx_built = True
        if self.root_path or self.fast_route is None or self.fast_guard is None:
            return None
        if len(self.user_middleware) != 1:  # the Guard and something else (CORS)
            return None
        error_handler = None
        handlers: dict[Any, Any] = {}
        for key, value in self.exception_handlers.items():  # as FastAPI's stack splits them
            if key in (500, Exception):
                error_handler = value
            else:
                handlers[key] = value
        inner = ExceptionMiddleware(
            _Replayed(self.fast_route, self.fast_route.app), handlers=handlers, debug=self.debug
        )
        guard = self.fast_guard(inner)
        self._cx_fast = ServerErrorMiddleware(guard, handler=error_handler, debug=self.debug)
        return self._cx_fast


#: A scope key: the exception the route's place raises (and the start it had sent), for a
#: request the hot path hands to the short stack (:meth:`ServiceApp.replay`).
_RAISE = "cxplay.raise"


class _Replayed:
    """The route, or in a replayed request what the hot path met in its place."""

    def __init__(self, route: Route, app: ASGIApp) -> None:
        self.route = route
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        replayed = scope.pop(_RAISE, None)
        if replayed is None:
            await self.app(scope, receive, send)
            return
        exc, head = replayed
        scope["route"] = self.route  # as the route sets it first
        if head is not None:
            await send(head)
        raise exc
