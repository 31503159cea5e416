"""Options shared by the command modules (``_cli`` imports the others: they cannot import it)."""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

import click

from cxplay._common import cache

__all__ = ["env_playbooks", "playbook_paths", "playbooks_option"]

F = TypeVar("F", bound=Callable[..., Any])


def env_playbooks() -> list[Path]:
    """The paths in ``$CXPLAY_PLAYBOOKS`` (empty elements skipped)."""
    value = os.environ.get("CXPLAY_PLAYBOOKS", "")
    return [Path(p) for p in value.split(os.pathsep) if p]


def playbook_paths(given: Sequence[Path]) -> list[Path] | None:
    """Playbook paths: as given, else ``$CXPLAY_PLAYBOOKS``, else None (the shipped ones)."""
    return list(given) or env_playbooks() or None


def _cache_switch(ctx: click.Context, param: click.Parameter, value: bool) -> None:
    # on for this command unless --no-cache; off again when the command's context closes
    ctx.with_resource(cache.enabled(not value))


def playbooks_option(function: F) -> F:
    """``--playbooks DIR|FILE`` (repeatable; env CXPLAY_PLAYBOOKS) into ``playbook_paths``.

    With it, ``--no-cache``: the command loads the playbooks from their files even when the
    same files loaded before (:mod:`cxplay._playbooks.snapshot`); without the flag the
    snapshot and holiday caches are on for the command.
    """
    function = click.option(
        "--no-cache",
        is_flag=True,
        expose_value=False,
        callback=_cache_switch,
        help="Do not use the cache of loaded playbooks and holidays (see "
        "CXPLAY_CACHE_DIR): load everything from its files.",
    )(function)
    return click.option(
        "--playbooks",
        "playbook_paths",
        multiple=True,
        type=click.Path(path_type=Path),
        envvar="CXPLAY_PLAYBOOKS",
        metavar="DIR|FILE",
        help="Playbooks to use (repeatable; env CXPLAY_PLAYBOOKS, separated by "
        f"'{os.pathsep}'). Default: the shipped playbooks.",
    )(function)
