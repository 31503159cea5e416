"""``cxplay serve``: run the HTTP service (a thin adapter over :mod:`cxplay._serve`)."""

from __future__ import annotations

import errno
import os
from pathlib import Path

import click

from cxplay._cli_options import log_option, playbooks_option
from cxplay._cli_watch import _duration
from cxplay.errors import CxplayError

__all__ = ["EXIT_CANNOT_LISTEN", "serve"]

#: ``cxplay serve`` cannot listen: the address is in use, or not this machine's.
EXIT_CANNOT_LISTEN = 4


def _cannot_listen(host: str, port: int) -> str | None:
    """Why ``host:port`` cannot be listened on, or None (uvicorn binds it the same way)."""
    import socket  # only ``serve`` needs it: kept off every other command's start-up

    try:
        family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
    except (socket.gaierror, UnicodeError) as exc:
        return f"cannot listen on {host}:{port}: {getattr(exc, 'strerror', None) or exc}"
    with socket.socket(family, kind, proto) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(address)
        except OSError as exc:
            reason = exc.strerror or str(exc)
            hint = " (another process listens there: stop it or choose --port)"
            in_use = exc.errno == errno.EADDRINUSE
            return f"cannot listen on {host}:{port}: {reason}{hint if in_use else ''}"
    return None


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to bind.")
@click.option("--port", default=8080, show_default=True, type=click.IntRange(0, 65535))
@click.option(
    "--workers",
    default=1,
    show_default=True,
    type=click.IntRange(1, 64),
    help="Worker processes (each one holds its own engine; the GIL allows one core each).",
)
@playbooks_option(help="Playbooks to serve")
@click.option(
    "--tokens",
    "tokens_file",
    type=click.Path(path_type=Path, dir_okay=False),
    metavar="FILE",
    help="Bearer tokens, one 'TOKEN ROLE' a line (roles: agent, admin). "
    "Also read: $CXPLAY_TOKENS='TOKEN:ROLE,...'.",
)
@log_option(
    help="Record every suggestion, outcome and survey answer in this decision log "
    "(a SQLite file, 'default', or postgresql+psycopg://...). Default: none."
)
@click.option("--no-auth", is_flag=True, help="Accept requests without a token (trials only).")
@click.option("--no-watch", is_flag=True, help="Do not reload when playbook files change.")
@click.option("--access-log", is_flag=True, help="Log every request (off: /metrics counts them).")
@click.option(
    "--timeout",
    default=10.0,
    show_default=True,
    type=click.FloatRange(0.1, 600),
    help="Seconds a whole request may take: its headers, then its body and its answer "
    "(each from the request's start; a decision being recorded at the deadline is waited for).",
)
@click.option(
    "--cors-origin",
    "cors_origins",
    multiple=True,
    metavar="URL",
    help="Allow browser calls from this origin (repeatable). Default: none (CORS off).",
)
@click.option(
    "--lateness",
    default="5m",
    show_default=True,
    metavar="DURATION",
    help="POST /v1/incidents: the allowed lateness of its correlation (as cxplay watch).",
)
@click.option(
    "--watch-name",
    default="serve",
    show_default=True,
    help="POST /v1/incidents: the name its correlation state is kept under in the log.",
)
def serve(
    host: str,
    port: int,
    workers: int,
    playbook_paths: tuple[Path, ...],
    tokens_file: Path | None,
    log: str | None,
    no_auth: bool,
    no_watch: bool,
    access_log: bool,
    timeout: float,
    cors_origins: tuple[str, ...],
    lateness: str,
    watch_name: str,
) -> None:
    """Serve suggestions over HTTP, and the agent console at http://HOST:PORT/.

    Endpoints: POST /v1/suggest, /v1/explain, /v1/incidents, /v1/outcomes,
    /v1/feedback, /v1/validate, /v1/reload; GET
    /v1/playbooks, /healthz, /readyz, /metrics, /openapi.json. Errors are RFC 9457
    problem+json. Playbooks reload when their files change (write a file elsewhere,
    then rename it into place) and on SIGHUP; a set that does not validate is refused
    and the last good one keeps serving.

    Exit status: 0 stopped; 1 a cxplay error (bad playbooks or tokens); 2 usage;
    4 the address cannot be listened on (the port is in use, or the host is not this
    machine's).

    \b
    Examples:
      CXPLAY_TOKENS="$(cat agent.token):agent" cxplay serve
      cxplay serve --tokens tokens.txt --playbooks my-playbooks/ --workers 2
      cxplay serve --log postgresql+psycopg://cx@db/cx --host 0.0.0.0
      curl -s -H "Authorization: Bearer $TOKEN" -H "Content-Type: application/json" \\
           --data-binary @examples/incidents/parcel_damaged.json \\
           http://127.0.0.1:8080/v1/suggest
    """  # noqa: D301 - click's \b must stay a backspace
    try:
        import uvicorn

        from cxplay._serve import CONFIG_ENV, ServeConfig, config_to_env, create_app, settle
        from cxplay._serve.protocol import HeadTimeoutProtocol
        from cxplay._serve.workers import balanced, run_workers
    except ImportError as exc:
        raise CxplayError(
            f"cxplay serve needs the serve extra ({exc.name} is missing): "
            "pip install 'cxplay[serve]'"
        ) from None
    config = ServeConfig(
        playbooks=playbook_paths,
        tokens_file=tokens_file,
        tokens_env=os.environ.get("CXPLAY_TOKENS"),
        auth=not no_auth,
        log=log,
        watch=not no_watch,
        timeout=timeout,
        cors_origins=cors_origins,
        lateness=_duration(lateness).total_seconds(),
        correlate_name=watch_name,
        remember_validation=True,  # a restart on files that validated before is fast
    )
    HeadTimeoutProtocol.timeout = timeout
    app = create_app(config)  # fails here, with one line, on bad playbooks or tokens
    ctx = click.get_current_context()
    why = _cannot_listen(host, port)
    if why is not None:
        click.echo(f"Error: {why}", err=True)
        ctx.exit(EXIT_CANNOT_LISTEN)
    common = {
        "host": host,
        "port": port,
        "log_level": "info",
        "access_log": access_log,
        "server_header": False,
        "timeout_graceful_shutdown": 5,
        "timeout_keep_alive": 5,
        # the head's deadline, and problem+json for a request that cannot be parsed
        "http": "cxplay._serve.protocol:HeadTimeoutProtocol",
    }
    try:
        if workers == 1:
            settle()
            uvicorn.run(app, **common)  # type: ignore[arg-type]
            return
        os.environ[CONFIG_ENV] = config_to_env(config)
        del app  # each worker builds its own
        factory = {"factory": True, "workers": workers, **common}
        if balanced():  # a socket per worker: connections spread over the workers
            run_workers(uvicorn.Config("cxplay._serve:app_from_env", **factory))  # type: ignore[arg-type]
        else:
            uvicorn.run("cxplay._serve:app_from_env", **factory)  # type: ignore[arg-type]
    except SystemExit as stop:
        if stop.code == 3:  # uvicorn's "startup failed": taken between the check and now
            ctx.exit(EXIT_CANNOT_LISTEN)
        raise
