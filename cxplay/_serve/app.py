"""The HTTP API: an adapter from requests to the library, like the CLI is from the shell.

Every route parses its input, makes one library call and returns the library's model as
JSON. ``/v1/suggest`` answers exactly what ``cxplay suggest --format json`` prints. Errors
are RFC 9457 ``application/problem+json`` carrying the CLI's one-line messages; an
unexpected exception is logged here and answered with a bare "internal error".
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import logging
import math
import signal
import sys
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from datetime import timedelta
from time import monotonic, perf_counter
from typing import Annotated, Any, Literal, TypeVar
from urllib.parse import parse_qsl

from fastapi import Depends, FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.utils import get_openapi
from fastapi.responses import Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import ClientDisconnect
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from cxplay._common.problems import error_message, format_key, key_path
from cxplay._common.text import echo
from cxplay._incidents import parse_incident
from cxplay._present import error_lines
from cxplay._serve.answer import answer_json
from cxplay._serve.auth import AuthError, Role, Tokens, load_tokens
from cxplay._serve.common import (
    NoLog,
    incident_json,
    json_depth_ok,
    playbook_list,
    problem_doc,
    public_text,
)
from cxplay._serve.fast import ServiceApp
from cxplay._serve.guard import (
    DEADLINE,
    IN_TASK,
    RAW_HEAD,
    SECURITY_HEADERS,
    SECURITY_RAW,
    BodyTooLarge,
    BodyTooSlow,
    Guard,
    deadline_of,
    in_thread,
    read_body,
)
from cxplay._serve.isolate import upload_name
from cxplay._serve.models import (
    FeedbackRequest,
    FeedbackResponse,
    GivenInfo,
    Health,
    OutcomeRequest,
    OutcomeResponse,
    PlaybookList,
    ProblemDetails,
    Readiness,
    ReloadStatus,
    ValidateReport,
    ValidateRequest,
)
from cxplay._serve.service import GATE, Metrics, RecordCancelled, RecordGate, ServeConfig, Service
from cxplay._version import __version__
from cxplay.errors import CxplayError, IncidentError, LogError, RenderError
from cxplay.models import Incident
from cxplay.results import Suggestion

__all__ = ["create_app"]

log = logging.getLogger("cxplay.serve")
T = TypeVar("T")

_TITLES = {
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    413: "Content Too Large",
    415: "Unsupported Media Type",
    422: "Unprocessable Content",
    500: "Internal Server Error",
    503: "Service Unavailable",
}


def problem(status: int, errors: list[str], headers: Mapping[str, str] | None = None) -> Response:
    """An RFC 9457 response: the CLI's lines (without ``Error: ``) as ``errors``."""
    errors = [public_text(line) for line in errors]
    document = ProblemDetails(
        title=_TITLES.get(status, "Error"), status=status, detail="; ".join(errors), errors=errors
    )
    return Response(
        document.model_dump_json(),
        status_code=status,
        media_type="application/problem+json",
        headers=dict(headers or {}),
    )


_Responses = dict[int | str, dict[str, Any]]
_AUTH: _Responses = {
    401: problem_doc("No token, or an unknown one."),
    403: problem_doc("Wrong role."),
}
_LOG: _Responses = {
    404: problem_doc("No such decision in the log."),
    409: problem_doc("No decision log is configured (--log)."),
}
_BODY: _Responses = {
    400: problem_doc("The request cannot be served (e.g. the body arrived too slowly)."),
    413: problem_doc("The body is larger than the limit (1 MiB)."),
    415: problem_doc("Not JSON (or TOML)."),
    422: problem_doc("Invalid input: the CLI's one-line messages."),
    503: problem_doc("The request took longer than the time limit."),
}


def _json(model: Any) -> Response:
    return Response(model.model_dump_json(), media_type="application/json")


async def validate_isolated(files: Mapping[str, str], timeout: float) -> ValidateReport:
    """:func:`validate_upload` in a child process with CPU and memory limits.

    The child is killed when ``timeout`` passes (:class:`asyncio.TimeoutError`, a 503);
    one that runs out of its CPU time or memory is a :class:`ValidationAborted`.
    """
    for name, text in files.items():  # the client's errors, answered before any work
        upload_name(name)
        try:
            text.encode("utf-8")
        except UnicodeEncodeError as exc:
            raise IncidentError(
                f"files: {echo(name, 80)}: not valid Unicode text (character {exc.start})"
            ) from None
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "cxplay._serve.isolate",
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL,
    )
    request = json.dumps({"files": dict(files), "cpu": max(1, math.ceil(timeout))})
    try:
        out, _ = await asyncio.wait_for(process.communicate(request.encode()), timeout)
    except BaseException:  # the deadline, or the request went away: the work goes too
        with contextlib.suppress(ProcessLookupError):
            process.kill()
        await process.wait()
        raise
    try:
        answer = json.loads(out)
        if "error" in answer:
            raise ValidationAborted(answer["error"])
        return ValidateReport.model_validate(answer)
    except ValueError:
        raise ValidationAborted(
            "the upload needs more CPU time or memory than validation may use"
        ) from None


class ValidationAborted(Exception):
    """The validation of an upload ran out of its CPU time or memory."""


def _incident_schema(openapi: dict[str, Any]) -> None:
    """Put the Incident model (the request body of suggest and explain) into components."""
    schema = Incident.model_json_schema(ref_template="#/components/schemas/{model}")
    components = openapi.setdefault("components", {}).setdefault("schemas", {})
    components.update(schema.pop("$defs", {}))
    components["Incident"] = schema


_INCIDENT_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Incident"}}},
    }
}


_bearer = HTTPBearer(auto_error=False, description="A token with the agent or admin role.")


def create_app(config: ServeConfig | None = None, *, service: Service | None = None) -> FastAPI:
    """The service: API, console, metrics; with limits, tokens and hot reload as configured."""
    config = config or ServeConfig()
    service = service or Service(config)
    metrics: Metrics = service.metrics
    tokens: Tokens = load_tokens(config.tokens_file, config.tokens_env)
    if config.auth and not tokens:
        raise CxplayError(
            "no tokens: set CXPLAY_TOKENS='TOKEN:agent,...' or give --tokens FILE "
            "(or --no-auth to try it out on this machine)"
        )
    stop = asyncio.Event()

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        tasks = []
        if config.watch:
            tasks.append(asyncio.create_task(service.watch(stop)))
        loop = asyncio.get_running_loop()
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
            loop.add_signal_handler(
                signal.SIGHUP, lambda: loop.create_task(asyncio.to_thread(service.reload))
            )
        try:
            yield
        finally:
            stop.set()
            with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
                loop.remove_signal_handler(signal.SIGHUP)
            for task in tasks:
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await asyncio.wait_for(task, 2)
            # the engine stays open: an app may be started again (tests do); its memory
            # goes with the Service

    app = ServiceApp(
        title="cxplay",
        version=__version__,
        summary="Incident in, recovery actions and a ready-to-send reply out.",
        docs_url=None,  # Swagger UI and ReDoc load scripts from a CDN: no network assets
        redoc_url=None,
        lifespan=lifespan,
    )
    app.state.service = service

    def role(needed: Role) -> Callable[..., Any]:
        async def check(  # async: a plain def would run in a thread (and wait for the GIL)
            credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
        ) -> None:
            if not config.auth:
                return
            header = f"Bearer {credentials.credentials}" if credentials else None
            tokens.check(header, needed)

        return check

    agent = [Depends(role("agent"))]
    admin = [Depends(role("admin"))]

    async def run(function: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """In a thread, by the request's deadline (what is left of ``--timeout``)."""
        return await in_thread(config.timeout, function, *args, **kwargs)

    async def run_recorded(function: Callable[..., T], *args: Any) -> T:
        """Like :func:`run`, for work that records a decision: never recorded after a 503.

        At the deadline (or when the client goes away), a decision whose recording has not
        begun is never recorded, and the request is a 503; one that is being recorded is
        waited for and answered with its id.
        """
        gate = RecordGate()

        def gated() -> T:
            GATE.set(gate)
            return function(*args)

        task = asyncio.ensure_future(asyncio.to_thread(gated))
        try:
            return await asyncio.wait_for(asyncio.shield(task), deadline_of(config.timeout))
        except (asyncio.TimeoutError, asyncio.CancelledError):
            if gate.close():
                task.add_done_callback(_consume)
                raise
            return await task

    def parse_body(body: bytes, fmt: Literal["json", "toml"]) -> dict[str, Any]:
        incident = parse_incident(body, name="<request>", fmt=fmt)
        # a JSON document cannot nest deeper than it has brackets: count them (in C) first
        # (TOML nests without brackets: a.b.c = 1)
        shallow = fmt == "json" and body.count(b"{") + body.count(b"[") <= config.max_depth
        if not shallow and not json_depth_ok(incident, config.max_depth):
            raise IncidentError(f"<request>: nested deeper than {config.max_depth} levels")
        return incident

    def parse_and_suggest(body: bytes, fmt: Literal["json", "toml"], explain: bool) -> Suggestion:
        # a JSON body pydantic accepts is validated from its bytes (incident_json); any
        # other goes the usual way, which answers it (or its errors) as it always has
        model = incident_json(body, config.max_depth) if fmt == "json" else None
        if model is None:
            return service.engine.suggest(parse_body(body, fmt), explain=explain)
        return service.engine.suggest(model, explain=explain)

    def media(kind: str) -> Literal["json", "toml"]:
        """The body's format from its ``Content-Type`` (a 415 for any other)."""
        kind = kind.split(";")[0].strip()
        if kind not in ("application/json", "application/toml"):
            raise _Unsupported(kind)
        return "toml" if "toml" in kind else "json"

    async def suggestion_json(body: bytes, fmt: Literal["json", "toml"], explain: bool) -> bytes:
        """The suggestion for a request's body, as the JSON bytes answered (made once)."""
        # A small body is served on the event loop, not in a thread: a suggestion is half a
        # millisecond of CPU under the GIL, and handing it to a thread made every request
        # wait for the GIL switch interval (5 ms) -- p50 went from 1 ms to 11 ms. A large
        # body (parsing, validating and masking grow with it), and any request when the
        # decision log waits for a database, go to a thread under the request's deadline:
        # the loop keeps answering /healthz meanwhile.
        if service.log is not None:
            await IN_TASK  # (a request stepped without one: see cxplay._serve.protocol)
            result: Suggestion = await run_recorded(parse_and_suggest, body, fmt, explain)
        elif len(body) > INLINE_BODY:
            await IN_TASK
            result = await run(parse_and_suggest, body, fmt, explain)
        else:
            result = parse_and_suggest(body, fmt, explain)
        metrics.suggested(result)
        return answer_json(result)  # pydantic-core's bytes, shared actions written once

    async def suggest_response(request: Request, explain: bool) -> Response:
        fmt = media(request.headers.get("content-type", "application/json"))
        body = await request.body()
        payload = await suggestion_json(body, fmt, explain)
        return Response(payload, media_type="application/json")

    # -- errors --------------------------------------------------------------------------

    @app.exception_handler(AuthError)
    async def on_auth(request: Request, exc: AuthError) -> Response:
        headers = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else None
        return problem(exc.status, [str(exc)], headers)

    @app.exception_handler(CxplayError)
    async def on_cxplay(request: Request, exc: CxplayError) -> Response:
        status = 422 if isinstance(exc, IncidentError | RenderError) else 400
        if str(exc).startswith("no disruption "):
            status = 404
        if isinstance(exc, LogError):
            text = str(exc)
            if text.startswith("unknown decision id"):
                status = 404
            elif text.startswith(("the log ", "cannot open the log")):
                status = 503  # the store, not the request
            else:
                status = 422
        return problem(status, [line.removeprefix("Error: ") for line in error_lines(exc)])

    @app.exception_handler(RequestValidationError)
    async def on_invalid(request: Request, exc: RequestValidationError) -> Response:
        lines = []
        for error in exc.errors():
            where = format_key(key_path(error.get("loc", ())))
            lines.append(f"{where}: {error_message(error)}" if where else error_message(error))
        return problem(422, lines or ["invalid request"])

    @app.exception_handler(StarletteHTTPException)
    async def on_http(request: Request, exc: StarletteHTTPException) -> Response:
        return problem(exc.status_code, [str(exc.detail)], exc.headers)

    @app.exception_handler(BodyTooLarge)
    async def on_large(request: Request, exc: BodyTooLarge) -> Response:
        return problem(
            413,
            [f"the request body is larger than {config.max_body // 1024} KiB"],
            {"Connection": "close"},  # the rest of the body is not read
        )

    @app.exception_handler(BodyTooSlow)
    async def on_slow(request: Request, exc: BodyTooSlow) -> Response:
        return problem(
            400,
            [f"the request body did not arrive in time ({config.timeout:g} s)"],
            {"Connection": "close"},
        )

    @app.exception_handler(_Unsupported)
    async def on_unsupported(request: Request, exc: _Unsupported) -> Response:
        return problem(415, [f"send the incident as application/json, not {exc}"])

    @app.exception_handler(asyncio.TimeoutError)
    async def on_timeout(request: Request, exc: asyncio.TimeoutError) -> Response:
        return problem(503, [f"the request took longer than {config.timeout:g} s"])

    @app.exception_handler(Exception)
    async def on_crash(request: Request, exc: Exception) -> Response:
        log.error("internal error on %s %s", request.method, request.url.path, exc_info=exc)
        return problem(500, ["internal error (logged on the server)"])

    # -- API ------------------------------------------------------------------------------

    @app.post(
        "/v1/suggest",
        tags=["suggestions"],
        summary="Suggest actions and a reply for an incident (the CLI's JSON contract)",
        response_model=None,
        responses={200: {"model": Suggestion, "description": "The suggestion."}, **_AUTH, **_BODY},
        openapi_extra=_INCIDENT_BODY,
        dependencies=agent,
    )
    async def suggest(
        request: Request,
        explain: Annotated[bool, Query(description="Fill `trace` with every rule.")] = False,
    ) -> Response:
        return await suggest_response(request, explain)

    @app.post(
        "/v1/explain",
        tags=["suggestions"],
        summary="Suggest, with the trace of every rule (as `cxplay explain --format json`)",
        response_model=None,
        responses={
            200: {"model": Suggestion, "description": "The suggestion with its trace."},
            **_AUTH,
            **_BODY,
        },
        openapi_extra=_INCIDENT_BODY,
        dependencies=agent,
    )
    async def explain(request: Request) -> Response:
        return await suggest_response(request, True)

    @app.get(
        "/v1/playbooks",
        tags=["playbooks"],
        summary="The playbooks served, the incident types they know and the facts they read",
        response_model=PlaybookList,
        responses={**_AUTH},
        dependencies=agent,
    )
    async def playbooks() -> Response:
        return _json(playbook_list(service.engine.playbooks))

    @app.post(
        "/v1/validate",
        tags=["playbooks"],
        summary="Check an uploaded playbook set (not installed), as `cxplay validate`",
        response_model=ValidateReport,
        responses={**_AUTH, **_BODY},
        dependencies=admin,
    )
    async def validate(upload: ValidateRequest) -> Response:
        return _json(await validate_isolated(upload.files, config.timeout))

    @app.exception_handler(ValidationAborted)
    async def on_aborted(request: Request, exc: ValidationAborted) -> Response:
        return problem(422, [str(exc)])

    @app.post(
        "/v1/reload",
        tags=["playbooks"],
        summary="Reload the playbooks from disk now (kept only if the whole set validates)",
        response_model=ReloadStatus,
        responses={**_AUTH, 422: problem_doc("Refused: the last good playbooks stay.")},
        dependencies=admin,
    )
    async def reload() -> Response:
        result = await asyncio.to_thread(service.reload)
        if not result.ok:
            return problem(
                422, ["reload refused, still serving the last good playbooks", *result.errors]
            )
        return _json(reload_status())

    def reload_status() -> ReloadStatus:
        last = service.last
        return ReloadStatus(
            ok=last.ok, at=last.at, reloads=service.reloads, errors=list(last.errors)
        )

    def decision_log() -> Any:
        if service.log is None:
            raise NoLog
        return service.log

    @app.post(
        "/v1/outcomes",
        tags=["decision log"],
        summary="Record what the agent did with a suggestion (as `cxplay outcome`)",
        response_model=OutcomeResponse,
        responses={**_AUTH, **_BODY, **_LOG},
        dependencies=agent,
    )
    async def outcomes(body: OutcomeRequest) -> Response:
        log = decision_log()
        record = await run(
            log.outcome,
            body.decision_id,
            body.status,
            actions=body.actions,
            note=body.note,
            given=body.given,
        )
        return _json(
            OutcomeResponse(
                decision_id=record.decision_id,
                status=record.status,
                actions=list(record.actions),
                given=[GivenInfo(**vars(g)) for g in record.given],
                note=record.note,
                at=record.at,
                replaced=record.replaced,
            )
        )

    @app.post(
        "/v1/feedback",
        tags=["decision log"],
        summary="Record survey answers for a decision (as `cxplay feedback`)",
        response_model=FeedbackResponse,
        responses={**_AUTH, **_BODY, **_LOG},
        dependencies=agent,
    )
    async def feedback(body: FeedbackRequest) -> Response:
        log = decision_log()
        await run(log.feedback, body.decision_id, csat=body.csat, nps=body.nps, ces=body.ces)
        return _json(FeedbackResponse(**body.model_dump()))

    @app.exception_handler(NoLog)
    async def on_no_log(request: Request, exc: NoLog) -> Response:
        return problem(
            409, ["no decision log is configured: start cxplay serve with --log PATH|URL"]
        )

    @app.get("/healthz", tags=["operations"], summary="The process answers", response_model=Health)
    async def healthz() -> Response:
        return _json(Health())

    @app.get(
        "/readyz",
        tags=["operations"],
        summary="Ready: playbooks loaded (and the decision log reachable, when configured)",
        response_model=Readiness,
        responses={503: {"model": Readiness, "description": "Not ready, and why."}},
    )
    async def readyz() -> Response:
        playbooks = service.engine.playbooks
        log_state: Literal["ok", "unreachable", "broken", "off"] = "off"
        errors: list[str] = []
        if service.log is not None:
            try:
                await run(service.log.check)  # tries a failing writer again
                health = service.log.health()
                log_state = "ok" if health.ok else "broken"
                if health.error is not None:
                    errors.append(health.error)
            except (CxplayError, asyncio.TimeoutError) as exc:
                text = str(exc) or "the decision log did not answer in time"
                log_state = "unreachable" if "unreachable" in text or not str(exc) else "broken"
                errors.append(public_text(text))
        readiness = Readiness(
            ready=not errors,
            playbooks=len(playbooks.playbooks),
            rules=len(playbooks.rules),
            backend=service.engine.backend,
            last_reload=reload_status(),
            log=log_state,
            watcher=service.watcher,
            errors=errors,
        )
        return Response(
            readiness.model_dump_json(),
            status_code=200 if readiness.ready else 503,
            media_type="application/json",
        )

    @app.get(
        "/metrics",
        tags=["operations"],
        summary="Prometheus metrics of this process",
        response_class=Response,
        responses={
            200: {
                "content": {"text/plain": {"schema": {"type": "string"}}},
                "description": "The Prometheus text format.",
            }
        },
    )
    async def prometheus() -> Response:
        return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            document = get_openapi(
                title=app.title, version=app.version, summary=app.summary, routes=app.routes
            )
            _incident_schema(document)
            document["components"]["schemas"]["ProblemDetails"] = ProblemDetails.model_json_schema(
                ref_template="#/components/schemas/{model}"
            )
            app.openapi_schema = document
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]

    # The hot path, POST /v1/suggest, as a raw ASGI route in front of the FastAPI one (which
    # stays, for OpenAPI): the same checks, errors and answer, without FastAPI's per-request
    # dependency and parameter machinery, nor Starlette's Request and Response objects.
    # Its errors go to the same exception handlers (problem+json), by Starlette's middleware.
    def suggest_head(scope: Scope) -> tuple[Literal["json", "toml"], bool]:
        """The token's check, ``?explain`` and the body's format, as the route has them."""
        authorization = kind = None
        for name, value in scope["headers"]:  # as Starlette's Headers.get: the first one
            if name == b"authorization" and authorization is None:
                authorization = value.decode("latin-1")
            elif name == b"content-type" and kind is None:
                kind = value.decode("latin-1")
        if config.auth:
            tokens.check(authorization, "agent")
        explain = _explain(scope["query_string"])
        return media(kind or "application/json"), explain

    async def suggest_fast(scope: Scope, receive: Receive, send: Send) -> None:
        scope["route"] = fast  # for the metrics' route label, as FastAPI's routes do
        fmt, explain = suggest_head(scope)
        chunks = []
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                raise ClientDisconnect
            chunks.append(message.get("body", b""))
            if not message.get("more_body", False):
                break
        payload = await suggestion_json(b"".join(chunks), fmt, explain)
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [
                    (b"content-length", str(len(payload)).encode()),
                    (b"content-type", b"application/json"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": payload})

    fast = Route("/v1/suggest", _Asgi(suggest_fast), methods=["POST"])
    app.router.routes.insert(0, fast)
    app.fast_route = fast  # served past FastAPI's own layers (cxplay._serve.fast)
    max_body, read_timeout = config.max_body, config.timeout

    async def suggest_hot(scope: Scope, receive: Receive, send: Send) -> None:
        """The whole of a ``POST /v1/suggest`` that goes well, in one coroutine.

        What the Guard and the route do (in that order: the size announced, the deadline,
        the token, ``?explain``, the format, the body by its deadline and limit, the
        suggestion, the answer with the security headers, the metrics), without a layer
        per job and a closure around ``send`` per layer. A request refused by its size, and
        any exception, are handed to the short stack (:meth:`ServiceApp.replay`), which
        answers, counts and logs them exactly as it would have: the exception is raised
        where the route would have raised it.
        """
        started = perf_counter()
        for name, value in scope["headers"]:
            if name == b"content-length" and (not value.isdigit() or int(value) > max_body):
                await app.replay(scope, receive, send, started)  # the Guard's 413
                return
        head = None
        try:
            deadline = monotonic() + read_timeout
            DEADLINE.set(deadline)
            fmt, explain = suggest_head(scope)
            body = await read_body(receive, deadline, max_body)
            payload = await suggestion_json(body, fmt, explain)
            size = b"%d" % len(payload)
            head = {
                "type": "http.response.start",
                "status": 200,
                "headers": [
                    (b"content-length", size),
                    (b"content-type", b"application/json"),
                    *SECURITY_HEADERS,
                ],
                RAW_HEAD: (b"content-length: " + size + _JSON_HEAD, len(payload)),
            }
            await send(head)
            await send({"type": "http.response.body", "body": payload})
        except Exception as exc:
            await app.replay(scope, receive, send, started, exc, head)
            return
        except BaseException:  # cancelled: counted as the Guard counts it, and on its way
            status = 500 if head is None else 200
            metrics.request("POST", fast.path, status, perf_counter() - started)
            raise
        metrics.request("POST", fast.path, 200, perf_counter() - started)

    app.fast_hot = suggest_hot

    from cxplay._serve.console import mount_console
    from cxplay._serve.incidents import mount_incidents

    mount_console(app, service, agent)
    app.state.incidents = mount_incidents(
        app,
        service,
        agent,
        responses={**_AUTH, **_BODY, **_LOG},
        timeout=config.timeout,
        max_depth=config.max_depth,
        name=config.correlate_name,
        lateness=timedelta(seconds=config.lateness),
        no_log=NoLog,
        unsupported=_Unsupported,
    )
    from cxplay._serve.context import mount_context  # the console's history and disruption

    mount_context(app, service, agent, parse_body, admin=admin)
    if config.cors_origins:  # off unless asked for
        from fastapi.middleware.cors import CORSMiddleware

        app.add_middleware(
            CORSMiddleware,
            allow_origins=list(config.cors_origins),
            allow_methods=["GET", "POST"],
            allow_headers=["Authorization", "Content-Type"],
        )
    app.add_middleware(
        Guard, metrics=metrics, max_body=config.max_body, read_timeout=config.timeout
    )
    app.fast_guard = functools.partial(  # the same Guard, for the hot path's short stack
        Guard, metrics=metrics, max_body=config.max_body, read_timeout=config.timeout
    )
    return app


#: Bodies up to this size are served on the event loop; larger ones in a thread.
INLINE_BODY = 16 * 1024
#: The rest of the hot path's head, after its Content-Length value.
_JSON_HEAD = b"\r\ncontent-type: application/json\r\n" + SECURITY_RAW

_BOOLEANS = {
    "true": True,
    "1": True,
    "yes": True,
    "on": True,
    "false": False,
    "0": False,
    "no": False,
    "off": False,
}


def _explain(query: bytes) -> bool:
    """``?explain=``, read as Starlette's ``query_params.get`` reads it (the last one wins)."""
    if not query:
        return False
    found = [
        v for k, v in parse_qsl(query.decode("latin-1"), keep_blank_values=True) if k == "explain"
    ]
    if not found:
        return False
    value = found[-1].lower()
    if value not in _BOOLEANS:
        raise RequestValidationError(
            [
                {
                    "type": "bool_parsing",
                    "loc": ("query", "explain"),
                    "msg": "Input should be a valid boolean",
                    "input": value,
                }
            ]
        )
    return _BOOLEANS[value]


class _Asgi:
    """An ASGI callable that Starlette's ``Route`` serves as it is (not as an endpoint)."""

    def __init__(self, app: Callable[[Scope, Receive, Send], Awaitable[None]]) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.app(scope, receive, send)


def _consume(task: asyncio.Future[Any]) -> None:
    """Retrieve a given-up task's outcome (RecordCancelled, most likely): nothing to log."""
    if not task.cancelled() and not isinstance(task.exception(), RecordCancelled | None):
        log.warning("a request that timed out failed later", exc_info=task.exception())


class _Unsupported(Exception):
    """A body in a media type the route does not read."""
