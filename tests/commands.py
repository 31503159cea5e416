"""Every command of a click group as a user reaches it, the lazily added ones included.

``cxplay``'s root group adds ``serve``, ``watch``, ``disruptions`` and ``backtest`` on first
ask (``_Cli.get_command``), so ``group.commands`` alone misses them: tests that walk the
command tree go through ``list_commands``/``get_command``, as click's help does.
"""

from __future__ import annotations

from collections.abc import Iterator

import click


def subcommands(group: click.Group) -> Iterator[tuple[str, click.Command]]:
    """``(name, command)`` of each subcommand of ``group``, sorted by name."""
    ctx = click.Context(group)
    for name in sorted(group.list_commands(ctx)):
        command = group.get_command(ctx, name)
        assert command is not None, name
        yield name, command
