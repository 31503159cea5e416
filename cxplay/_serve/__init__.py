"""``cxplay serve``: the HTTP API, the agent console, metrics and hot reload.

Needs the ``serve`` extra (``pip install 'cxplay[serve]'``): FastAPI, uvicorn, watchfiles,
prometheus-client. :func:`create_app` builds the ASGI app for a :class:`ServeConfig`;
:func:`app_from_env` is the factory each uvicorn worker process calls.
"""

from __future__ import annotations

import gc
import json
import os
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cxplay._serve.service import ServeConfig

if TYPE_CHECKING:
    from cxplay._serve.app import create_app


def __getattr__(name: str) -> Any:
    # the web framework is imported when the app is built, not by every module of this
    # package (/v1/validate's worker process needs none of it)
    if name == "create_app":
        from cxplay._serve.app import create_app

        return create_app
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "CONFIG_ENV",
    "ServeConfig",
    "app_from_env",
    "config_to_env",
    "create_app",
    "settle",
]

#: How the CLI hands its configuration to worker processes.
CONFIG_ENV = "CXPLAY_SERVE_CONFIG"


def config_to_env(config: ServeConfig) -> str:
    """The configuration as the JSON text :func:`app_from_env` reads."""
    data = asdict(config)
    data["playbooks"] = [str(p) for p in config.playbooks]
    data["tokens_file"] = str(config.tokens_file) if config.tokens_file else None
    return json.dumps(data)


def settle() -> None:
    """Call once the app is built, in a process that only serves it.

    What was built to serve (engine, templates, schemas: most of the process's objects)
    lives as long as the process: :func:`gc.freeze` keeps the collector from traversing it
    at every full collection, which paused the event loop for tens of milliseconds.
    """
    gc.freeze()


def app_from_env() -> Any:
    """The app for the configuration in ``$CXPLAY_SERVE_CONFIG`` (uvicorn's factory)."""
    data = json.loads(os.environ.get(CONFIG_ENV, "{}"))
    data["playbooks"] = tuple(Path(p) for p in data.get("playbooks", ()))
    if data.get("tokens_file"):
        data["tokens_file"] = Path(data["tokens_file"])
    data["cors_origins"] = tuple(data.get("cors_origins", ()))
    from cxplay._serve.app import create_app

    app = create_app(ServeConfig(**data))
    settle()
    return app
