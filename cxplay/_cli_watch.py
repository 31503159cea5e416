"""``cxplay watch`` and ``cxplay disruptions``: thin adapters over :mod:`cxplay._watch`."""

from __future__ import annotations

import json
import os
import re
import sys
from collections.abc import Sequence
from datetime import timedelta
from pathlib import Path
from typing import Any

import click

from cxplay._cli_log import _open as _open_log
from cxplay._cli_log import log_option
from cxplay.errors import CxplayError

__all__ = ["register"]

_SIMPLE = re.compile(r"^(\d+(?:\.\d+)?)(s|m|h|d)?$")
_UNIT = {"s": 1, "m": 60, "h": 3600, "d": 86400, None: 1}


def _duration(text: str) -> timedelta:
    """``300``, ``90s``, ``5m``, ``2h``, ``1d`` or ISO 8601 (``PT5M``)."""
    found = _SIMPLE.match(text.strip())
    if found:
        return timedelta(seconds=float(found.group(1)) * _UNIT[found.group(2)])
    from pydantic import TypeAdapter, ValidationError

    try:
        value = TypeAdapter(timedelta).validate_python(text)
    except ValidationError:
        raise click.BadParameter(
            f"{text!r} is not a duration (300, 90s, 5m, 2h, 1d or ISO 8601 such as PT5M)"
        ) from None
    if value < timedelta(0):
        raise click.BadParameter("a duration cannot be negative")
    return value


def _engine(playbook_paths: Sequence[Path], log: Any) -> Any:
    from cxplay._engine.engine import Engine

    env = [Path(p) for p in os.environ.get("CXPLAY_PLAYBOOKS", "").split(os.pathsep) if p]
    return Engine.from_path(list(playbook_paths) or env or None, log=log)


def _playbooks_option(function: Any) -> Any:
    # the same option as suggest's (cxplay._cli imports this module: no import back)
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


@click.command("watch")
@click.argument("source", required=False, default="-", metavar="[FILE|-]")
@click.option("--follow", "-f", is_flag=True, help="Keep reading FILE as it grows (tail -f).")
@click.option(
    "--lateness",
    default="5m",
    show_default=True,
    metavar="DURATION",
    help="Allowed lateness L: an incident older than the latest seen minus L is late "
    "(handled singly, attached only if a disruption covers it).",
)
@click.option(
    "--name",
    default="default",
    show_default=True,
    help="The watcher's name: its state (windows, watermark, offsets) is kept under it.",
)
@click.option("--stateless", is_flag=True, help="Keep no state in the log (a dry run).")
@click.option("--no-suggestions", is_flag=True, help="Only disruption events and notices.")
@click.option("--batch", default=256, show_default=True, type=click.IntRange(1, 100_000))
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Append the events to this file instead of stdout.",
)
@_playbooks_option
@log_option
def watch_command(
    source: str,
    follow: bool,
    lateness: str,
    name: str,
    stateless: bool,
    no_suggestions: bool,
    batch: int,
    out: Path | None,
    playbook_paths: Sequence[Path],
    log: str | None,
) -> None:
    """Correlate a stream of incidents: suggestions, disruptions and notices as JSON lines.

    Reads one incident a line (FILE, or - for stdin), answers each with a
    "suggestion" event, and when a [[correlate]] block of the playbooks sees enough
    incidents with one key within its window, writes "disruption_opened", one
    "incident_attached" and one "notice" per affected customer; later incidents of
    the key attach to it. A malformed line is reported on stderr and skipped.

    State (windows, watermark, disruptions, members, how far FILE was read) lives in
    the decision log (--log), so a watcher stopped and started again sends no notice
    twice and loses no member.

    \b
    Examples:
      cxplay watch incidents.jsonl --log cx.db
      tail -f incidents.jsonl | cxplay watch - --lateness 10m
      cxplay watch --follow incidents.jsonl > events.jsonl
    """  # noqa: D301 - click's \b must stay a backspace
    from cxplay._watch.run import run_watch
    from cxplay._watch.store import WatchStore
    from cxplay._watch.watch import Watcher

    allowed = _duration(lateness)
    decision_log = None if stateless else _open_log(log)
    try:
        engine = _engine(playbook_paths, decision_log)
        watcher = Watcher(engine, lateness=allowed, suggestions=not no_suggestions)
        if not watcher.correlations:
            click.echo("Warning: the playbooks have no [[correlate]] blocks", err=True)
        store = None if decision_log is None else WatchStore(decision_log)
        sink = sys.stdout if out is None else out.open("a", encoding="utf-8")
        try:
            stats = run_watch(
                watcher,
                source,
                out=sink,
                warn=lambda m: click.echo(f"Warning: {m}", err=True),
                store=store,
                name=name,
                follow=follow,
                batch=batch,
            )
        finally:
            if out is not None:
                sink.close()
        held = len(watcher.correlator.disruptions())
        click.echo(
            f"{stats.incidents} incidents, {stats.malformed} malformed lines skipped, "
            f"{stats.duplicates} duplicates, {held} disruptions held",
            err=True,
        )
    finally:
        if decision_log is not None:
            decision_log.close()


@click.group("disruptions", invoke_without_command=True)
@log_option
@click.pass_context
def disruptions_group(ctx: click.Context, log: str | None) -> None:
    """Open and recent disruptions (`list`, the default) and `resolve ID`.

    \b
    Examples:
      cxplay disruptions --log cx.db
      cxplay disruptions list --status open --format json --log cx.db
      cxplay disruptions resolve D-3f2a9c41 --log cx.db
    """  # noqa: D301 - click's \b must stay a backspace
    ctx.obj = {"log": log}
    if ctx.invoked_subcommand is None:
        ctx.invoke(list_command, log=log)


@disruptions_group.command("list")
@click.option(
    "--status",
    type=click.Choice(["open", "resolved", "all"]),
    default="all",
    show_default=True,
)
@click.option("--limit", default=50, show_default=True, type=click.IntRange(1, 10_000))
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text")
@log_option
def list_command(
    status: str = "all", limit: int = 50, fmt: str = "text", log: str | None = None
) -> None:
    """Disruptions, newest first: id, status, key, members, when the first notice went out."""
    from cxplay._watch.store import WatchStore

    with _open_log(log) as decision_log:
        rows = WatchStore(decision_log).disruptions(
            status=None if status == "all" else status, limit=limit
        )
    if fmt == "json":
        click.echo(json.dumps([r.as_dict() for r in rows], ensure_ascii=False, indent=2))
        return
    if not rows:
        click.echo("No disruptions.")
        return
    for r in rows:
        noticed = r.first_notice_at.strftime("%Y-%m-%d %H:%M") if r.first_notice_at else "-"
        key = r.key if isinstance(r.key, str) else json.dumps(r.key, ensure_ascii=False)
        click.echo(
            f"{r.id}  {r.status:<8}  {r.correlation}  key={key}  {r.members} customers  "
            f"opened {r.opened_at.strftime('%Y-%m-%d %H:%M')} UTC  notice sent {noticed}"
        )


@disruptions_group.command("resolve")
@click.argument("ident", metavar="ID")
@_playbooks_option
@log_option
def resolve_command(ident: str, playbook_paths: Sequence[Path], log: str | None) -> None:
    """Resolve a disruption: a resolution notice to every member, as JSON lines.

    \b
    Example:
      cxplay disruptions resolve D-3f2a9c41 --log cx.db > resolution.jsonl
    """  # noqa: D301 - click's \b must stay a backspace
    from cxplay._watch.resolve import resolve_disruption
    from cxplay._watch.run import write_events
    from cxplay._watch.store import WatchStore

    with _open_log(log) as decision_log:
        engine = _engine(playbook_paths, None)
        events, problems = resolve_disruption(engine, WatchStore(decision_log), ident)
        write_events(sys.stdout, events)
    for problem in problems:
        click.echo(f"Warning: {problem}", err=True)
    if problems:
        raise CxplayError(f"{len(problems)} resolution notices could not be written")


def register(cli: click.Group) -> None:
    """Add ``watch`` and ``disruptions`` to the root group."""
    cli.add_command(watch_command)
    cli.add_command(disruptions_group)
