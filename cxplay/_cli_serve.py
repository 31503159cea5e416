"""``cxplay serve``: run the HTTP service (a thin adapter over :mod:`cxplay._serve`)."""

from __future__ import annotations

import os
from pathlib import Path

import click

from cxplay.errors import CxplayError

__all__ = ["serve"]


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
@click.option(
    "--playbooks",
    "playbook_paths",
    multiple=True,
    type=click.Path(path_type=Path),
    envvar="CXPLAY_PLAYBOOKS",
    metavar="DIR|FILE",
    help="Playbooks to serve (repeatable). Default: the shipped playbooks.",
)
@click.option(
    "--tokens",
    "tokens_file",
    type=click.Path(path_type=Path, dir_okay=False),
    metavar="FILE",
    help="Bearer tokens, one 'TOKEN ROLE' a line (roles: agent, admin). "
    "Also read: $CXPLAY_TOKENS='TOKEN:ROLE,...'.",
)
@click.option(
    "--log",
    "log",
    envvar="CXPLAY_LOG",
    metavar="PATH|URL",
    help="Record every suggestion, outcome and survey answer in this decision log "
    "(SQLite file, 'default', or postgresql+psycopg://...; env CXPLAY_LOG). Default: none.",
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
) -> None:
    """Serve suggestions over HTTP, and the agent console at http://HOST:PORT/.

    Endpoints: POST /v1/suggest, /v1/explain, /v1/outcomes, /v1/feedback,
    /v1/validate, /v1/reload; GET
    /v1/playbooks, /healthz, /readyz, /metrics, /openapi.json. Errors are RFC 9457
    problem+json. Playbooks reload when their files change (write a file elsewhere,
    then rename it into place) and on SIGHUP; a set that does not validate is refused
    and the last good one keeps serving.

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

        from cxplay._serve import CONFIG_ENV, ServeConfig, config_to_env, create_app
        from cxplay._serve.protocol import HeadTimeoutProtocol
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
    )
    HeadTimeoutProtocol.timeout = timeout
    app = create_app(config)  # fails here, with one line, on bad playbooks or tokens
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
    if workers == 1:
        uvicorn.run(app, **common)  # type: ignore[arg-type]
        return
    os.environ[CONFIG_ENV] = config_to_env(config)
    del app  # each worker builds its own
    uvicorn.run(
        "cxplay._serve:app_from_env",
        factory=True,
        workers=workers,
        **common,  # type: ignore[arg-type]
    )
