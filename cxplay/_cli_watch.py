"""``cxplay watch`` and ``cxplay disruptions``: thin adapters over :mod:`cxplay._watch`."""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Sequence
from datetime import timedelta
from pathlib import Path
from typing import Any

import click

from cxplay._cli_log import _open as _open_log
from cxplay._cli_log import log_option
from cxplay._cli_options import playbook_paths as playbook_paths_of
from cxplay._cli_options import playbooks_option
from cxplay.errors import CxplayError

__all__ = ["disruptions_group", "watch_command"]

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

    return Engine.from_path(playbook_paths_of(playbook_paths), log=log)


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
@click.option("--nats", "nats_url", metavar="URL", help="NATS JetStream server (nats://host:4222).")
@click.option(
    "--subject", default="cx.incidents", show_default=True, help="Incidents: <subject>.<n>."
)
@click.option(
    "--to-nats",
    is_flag=True,
    help="Publish SOURCE's incidents to their partitions of --subject instead of watching.",
)
@click.option("--partitions", default=4, show_default=True, type=click.IntRange(1, 1024))
@click.option(
    "--member",
    default="0/1",
    show_default=True,
    metavar="I/N",
    help="Serve the partitions n with n %% N == I (N watchers share the partitions).",
)
@click.option("--publish-events", metavar="SUBJECT", help="Publish events to SUBJECT.<event>.")
@click.option("--dead-letter", metavar="SUBJECT", help="Malformed messages (<subject>.dead).")
@click.option(
    "--ack-wait",
    default=30.0,
    show_default=True,
    metavar="SECONDS",
    help="With --nats: how long a message may stay unacknowledged before JetStream "
    "redelivers it (when a partition's consumer is first made).",
)
@click.option(
    "--idle-exit",
    type=float,
    metavar="SECONDS",
    help="With --nats: stop after this long without a message (a replay).",
)
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Append the events to this file instead of stdout (with a log: cut back to the "
    "last commit on a restart, so a killed run's tail is written once).",
)
@playbooks_option
@log_option
def watch_command(
    source: str,
    follow: bool,
    lateness: str,
    name: str,
    stateless: bool,
    no_suggestions: bool,
    batch: int,
    nats_url: str | None,
    subject: str,
    to_nats: bool,
    partitions: int,
    member: str,
    publish_events: str | None,
    dead_letter: str | None,
    ack_wait: float,
    idle_exit: float | None,
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
      cxplay watch incidents.jsonl --to-nats --nats nats://127.0.0.1:4222
      cxplay watch --nats nats://127.0.0.1:4222 --member 0/2 --log cx.db
    """  # noqa: D301 - click's \b must stay a backspace
    from cxplay._watch.run import run_watch
    from cxplay._watch.store import WatchStore
    from cxplay._watch.watch import Watcher

    allowed = _duration(lateness)
    decision_log = None
    if not (stateless or to_nats):
        from cxplay._cli_log import _target
        from cxplay._log.store import DecisionLog

        # suggestions are written in batches, flushed before each commit of the watcher
        decision_log = DecisionLog.open(_target(log), batch_size=256)
    try:
        engine = _engine(playbook_paths, decision_log)
        watcher = Watcher(engine, lateness=allowed, suggestions=not no_suggestions)
        if not watcher.correlations:
            click.echo("Warning: the playbooks have no [[correlate]] blocks", err=True)
        store = None if decision_log is None else WatchStore(decision_log)
        sink = sys.stdout if out is None else out.open("a", encoding="utf-8")
        try:
            if nats_url is not None:
                _nats(
                    watcher,
                    lambda: Watcher(engine, lateness=allowed, suggestions=not no_suggestions),
                    source,
                    sink,
                    store,
                    name=name,
                    batch=batch,
                    to_nats=to_nats,
                    options=_nats_options(
                        nats_url,
                        subject,
                        partitions,
                        dead_letter,
                        publish_events,
                        idle_exit,
                        ack_wait,
                    ),
                    member=member,
                )
                return
            if to_nats:
                raise click.UsageError("--to-nats needs --nats URL")
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


def _nats_options(
    url: str,
    subject: str,
    partitions: int,
    dead_letter: str | None,
    events: str | None,
    idle_exit: float | None,
    ack_wait: float,
) -> Any:
    from cxplay._watch.nats import NatsOptions

    return NatsOptions(
        url,
        subject=subject,
        partitions=partitions,
        dead_letter=dead_letter,
        events=events,
        idle_exit=idle_exit,
        ack_wait=ack_wait,
    )


def _nats(
    watcher: Any,
    make: Any,
    source: str,
    sink: Any,
    store: Any,
    *,
    name: str,
    batch: int,
    to_nats: bool,
    options: Any,
    member: str,
) -> None:
    from cxplay._watch.nats import publish_incidents, run_nats

    def warn(message: str) -> None:
        click.echo(f"Warning: {message}", err=True)

    if to_nats:
        data = sys.stdin.buffer.read() if source == "-" else Path(source).read_bytes()
        sent = publish_incidents(watcher, data.splitlines(), options, warn)
        click.echo(
            f"{sent} incidents published to {options.subject}.<0..{options.partitions - 1}>",
            err=True,
        )
        return
    found = re.match(r"^(\d+)/(\d+)$", member)
    if not found or not 0 <= int(found.group(1)) < int(found.group(2)):
        raise click.BadParameter(f"{member!r}: give I/N with 0 <= I < N", param_hint="--member")
    processed = run_nats(
        make,
        options,
        out=sink,
        warn=warn,
        store=store,
        name=name,
        member=int(found.group(1)),
        members=int(found.group(2)),
        batch=batch,
    )
    click.echo(f"{processed} incidents from NATS", err=True)


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
    """Disruptions, newest first: id, status, key, members, when the first notice went out.

    \b
    Examples:
      cxplay disruptions list --status open --log cx.db
      cxplay disruptions list --format json --log cx.db
    """  # noqa: D301 - click's \b must stay a backspace
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
        if r.time_to_notice_s is not None and 0 <= r.time_to_notice_s < 86400:
            noticed += f" ({_took(r.time_to_notice_s)} after the incident that opened it)"
        key = r.key if isinstance(r.key, str) else json.dumps(r.key, ensure_ascii=False)
        click.echo(
            f"{r.id}  {r.status:<8}  {r.correlation}  key={key}  {r.members} customers  "
            f"opened {r.opened_at.strftime('%Y-%m-%d %H:%M')} UTC  notice sent {noticed}"
        )
    opened = sum(1 for r in rows if r.status == "open")
    click.echo(f"{len(rows)} disruptions ({opened} open), {sum(r.members for r in rows)} members")


def _took(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


@disruptions_group.command("resolve")
@click.argument("ident", metavar="ID")
@playbooks_option
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
