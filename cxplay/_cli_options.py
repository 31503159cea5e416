"""Options every command shares, declared once: ``--playbooks`` and ``--log``.

(``_cli`` imports the other command modules: they cannot import it, so the options live
here.) Every command that takes ``--playbooks`` reads ``$CXPLAY_PLAYBOOKS`` the same way:
paths separated by ``os.pathsep``, and an empty element is a usage error (exit 2) rather
than the current directory it would silently mean. ``--log`` is a SQLite file, ``default``
or a database URL, from ``$CXPLAY_LOG`` where the command allows.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar, overload

import click
from click.core import ParameterSource

from cxplay._common import cache

__all__ = [
    "LOG_ENV",
    "PLAYBOOKS_ENV",
    "env_playbooks",
    "log_option",
    "playbook_paths",
    "playbooks_option",
]

F = TypeVar("F", bound=Callable[..., Any])

PLAYBOOKS_ENV = "CXPLAY_PLAYBOOKS"
LOG_ENV = "CXPLAY_LOG"

_PLAYBOOKS_HELP = "Playbooks to use"
_LOG_HELP = (
    "The decision log: a SQLite file or a database URL (postgresql+psycopg://...). "
    "Default ~/.local/share/cxplay/log.db."
)


def _empty_element(raw: str) -> str:
    return (
        f"{PLAYBOOKS_ENV}={raw!r} has an empty element, which would load every *.toml of "
        "the current directory: remove it (or write '.' to mean that)"
    )


def env_playbooks() -> list[Path]:
    """The paths in ``$CXPLAY_PLAYBOOKS`` (none when unset or empty).

    An empty element (``a::b``, a leading or trailing separator) is a
    :class:`click.UsageError`: it would mean the current directory.
    """
    raw = os.environ.get(PLAYBOOKS_ENV, "")
    if not raw:
        return []
    parts = raw.split(os.pathsep)
    if any(not part.strip() for part in parts):
        raise click.UsageError(_empty_element(raw))
    return [Path(part) for part in parts]


def playbook_paths(given: Sequence[Path]) -> list[Path] | None:
    """Playbook paths: as given, else ``$CXPLAY_PLAYBOOKS``, else None (the shipped ones)."""
    return list(given) or env_playbooks() or None


def _cache_switch(ctx: click.Context, param: click.Parameter, value: bool) -> None:
    # on for this command unless --no-cache; off again when the command's context closes
    ctx.with_resource(cache.enabled(not value))


def _checked_env(
    ctx: click.Context, param: click.Parameter, value: tuple[Path, ...]
) -> tuple[Path, ...]:
    """The option's paths; from the environment, refused with an empty element."""
    if ctx.get_parameter_source(param.name or "") is ParameterSource.ENVIRONMENT:
        try:
            env_playbooks()
        except click.UsageError as exc:
            raise click.BadParameter(exc.message, ctx, param) from None
    return value


@overload
def playbooks_option(function: F) -> F: ...


@overload
def playbooks_option(
    function: None = None, *, help: str = ..., dest: str = ..., default: str | None = ...
) -> Callable[[F], F]: ...


def playbooks_option(
    function: F | None = None,
    *,
    help: str = _PLAYBOOKS_HELP,
    dest: str = "playbook_paths",
    default: str | None = "the shipped playbooks",
) -> F | Callable[[F], F]:
    """``--playbooks DIR|FILE`` (repeatable; env ``CXPLAY_PLAYBOOKS``) into ``dest``.

    ``help``: what the playbooks are for in this command; ``default``: what the command
    uses without them (None: it needs them). The environment variable is added to the help.
    Use as ``@playbooks_option`` or ``@playbooks_option(help=..., dest=...)``.

    With it, ``--no-cache``: the command loads the playbooks from their files even when the
    same files loaded before (:mod:`cxplay._playbooks.snapshot`); without the flag the
    snapshot and holiday caches are on for the command.
    """
    paths = click.option(
        "--playbooks",
        dest,
        multiple=True,
        type=click.Path(path_type=Path),
        envvar=PLAYBOOKS_ENV,
        callback=_checked_env,
        metavar="DIR|FILE",
        help=f"{help} (repeatable; env {PLAYBOOKS_ENV}, separated by '{os.pathsep}')."
        + (f" Default: {default}." if default else ""),
    )
    no_cache = click.option(
        "--no-cache",
        is_flag=True,
        expose_value=False,
        callback=_cache_switch,
        help="Do not use the cache of loaded playbooks and holidays (see "
        "CXPLAY_CACHE_DIR): load everything from its files.",
    )

    def option(command: F) -> F:
        return paths(no_cache(command))

    return option if function is None else option(function)


@overload
def log_option(function: F) -> F: ...


@overload
def log_option(function: None = None, *, help: str = ..., env: bool = ...) -> Callable[[F], F]: ...


def log_option(
    function: F | None = None, *, help: str = _LOG_HELP, env: bool = True
) -> F | Callable[[F], F]:
    """``--log PATH|URL|default`` into ``log`` (env ``CXPLAY_LOG`` unless ``env=False``).

    ``help``: what the log is for in this command. Use as ``@log_option`` or
    ``@log_option(help=...)``.
    """
    option = click.option(
        "--log",
        "log",
        envvar=LOG_ENV if env else None,
        metavar="PATH|URL",
        help=f"{help} Env {LOG_ENV}." if env else help,
    )
    return option if function is None else option(function)
