"""The decision log's commands: ``outcome``, ``feedback``, ``report`` and ``log ...``.

Thin adapters like the rest of the CLI: each opens the log (``--log``, else
``$CXPLAY_LOG``, else ``~/.local/share/cxplay/log.db``), makes one library call and
prints the result. ``suggest --log`` records suggestions (see :func:`suggest_logged`).
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, TypeVar

import click

from cxplay._cli_options import log_option, playbooks_option
from cxplay._cli_options import playbook_paths as _paths
from cxplay._common.lazy import import_paused, lazy_pattern
from cxplay.errors import LogError

if TYPE_CHECKING:
    from cxplay._engine.engine import IncidentLike
    from cxplay._log.store import DecisionLog
    from cxplay._playbooks.loader import PlaybookSet
    from cxplay.results import Suggestion

__all__ = ["csat_journey", "log_option", "register", "suggest_log_options", "suggest_logged"]

F = TypeVar("F", bound=Callable[..., Any])

#: ``--log default``: the default SQLite file, wherever CXPLAY_LOG points.
DEFAULT = "default"


def _target(value: str | None) -> str | None:
    return None if value in (None, "", DEFAULT) else value


def _open(value: str | None) -> DecisionLog:
    from cxplay._log.store import DecisionLog

    return DecisionLog.open(_target(value))


def suggest_log_options(function: F) -> F:
    """``--log`` and ``--log-optional`` for ``suggest``."""
    function = click.option(
        "--log-optional",
        is_flag=True,
        help="Log if the log can be written; otherwise warn and answer anyway.",
    )(function)
    return log_option(
        help="Record the suggestion in a decision log (a SQLite file, a database URL, or "
        "'default' for ~/.local/share/cxplay/log.db); the JSON then carries its decision_id."
    )(function)


def _warn(error: LogError) -> None:
    click.echo(f"Warning: not logged: {error}", err=True)


def suggest_logged(
    playbooks: Sequence[Path] | None,
    incident: IncidentLike,
    *,
    explain: bool,
    log: str | None,
    optional: bool,
    allow_unknown_type: bool = False,
    seen: list[PlaybookSet] | None = None,
) -> Suggestion:
    """Suggest, recording in the log when one is asked for (``optional``: never fail on it).

    ``seen`` receives the playbook set that answered (the presenter shows its labels).
    """
    import_paused("cxplay._engine.engine")
    from cxplay._engine.engine import Engine

    opened: DecisionLog | None = None
    warned = failed = False
    if log is not None or optional:
        try:
            opened = _open(log)
        except LogError as error:
            if not optional:
                raise
            _warn(error)
            warned = True
    try:
        with Engine.from_path(
            playbooks, log=opened, allow_unknown_type=allow_unknown_type
        ) as engine:
            if seen is not None:
                seen.append(engine.playbooks)
            try:
                return engine.suggest(incident, explain=explain)
            except LogError as error:
                failed = True
                if not optional:
                    raise
                _warn(error)
                warned = True
                return engine.suggest(incident, explain=explain, record=False)
    finally:
        if opened is not None:
            try:
                # a write that failed was reported: do not wait for the lock a second time
                opened.close(discard_pending=failed)
            except LogError as error:
                if not optional:
                    raise
                if not warned:  # one warning: the decision that was not logged
                    _warn(error)


# --------------------------------------------------------------------------- parsing

_GIVEN = lazy_pattern(globals(), "_GIVEN", r"^([a-z_]+)=([0-9]+(?:\.[0-9]+)?)(?:[: ]?([A-Z]{3}))?$")


def _parse_given(
    ctx: click.Context, param: click.Parameter, values: Sequence[str]
) -> dict[str, float | tuple[float, str | None]]:
    given: dict[str, float | tuple[float, str | None]] = {}
    for item in values:
        match = _GIVEN.match(item.strip())
        if match is None:
            raise click.BadParameter(
                f"{item!r}: expected KIND=AMOUNT or KIND=AMOUNT:CURRENCY, e.g. refund=120:PLN"
            )
        kind, amount, currency = match.groups()
        given[kind] = (float(amount), currency) if currency else float(amount)
    return given


def _parse_when(ctx: click.Context, param: click.Parameter, value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(
            f"{value!r}: expected a date or time, e.g. 2026-11-01 or 2026-11-01T09:00+01:00"
        ) from None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=timezone.utc)


def _period_options(function: F) -> F:
    function = click.option(
        "--until",
        callback=_parse_when,
        metavar="DATE",
        help="Only decisions before this date or time (ISO 8601; UTC unless given).",
    )(function)
    return click.option(
        "--since",
        callback=_parse_when,
        metavar="DATE",
        help="Only decisions from this date or time on (ISO 8601; UTC unless given).",
    )(function)


def _money(amount: float | None, currency: str | None) -> str:
    if amount is None:
        return "amount unknown"
    return f"{amount:.2f} {currency}" if currency else f"{amount:.2f}"


# --------------------------------------------------------------------------- commands


@click.command("outcome")
@click.argument("decision_id", metavar="DECISION_ID")
@click.argument("status", type=click.Choice(["accepted", "edited", "rejected"]))
@click.option(
    "--action",
    "actions",
    multiple=True,
    metavar="KIND",
    help="An action actually taken (repeatable). Default: every suggested one.",
)
@click.option(
    "--given",
    multiple=True,
    metavar="KIND=AMOUNT[:CUR]",
    callback=_parse_given,
    help="Compensation actually given (repeatable), e.g. refund=120:PLN. Default: the "
    "suggested cost of each compensating action taken.",
)
@click.option("--note", metavar="TEXT", help="What the agent wants remembered.")
@log_option
def outcome_command(
    decision_id: str,
    status: str,
    actions: tuple[str, ...],
    given: Mapping[str, float | tuple[float, str | None]],
    note: str | None,
    log: str | None,
) -> None:
    """Record what was done with a suggestion: accepted, edited or rejected.

    DECISION_ID is the one 'cxplay suggest --log' printed (a unique prefix of 6 or
    more characters will do). Recording again replaces the outcome; the earlier
    ones are kept. Accepted compensation counts in the customer's history.

    \b
    Examples:
      cxplay outcome DECISION_ID accepted
      cxplay outcome DECISION_ID edited --action apology --given refund=120:PLN
      cxplay outcome DECISION_ID rejected --note "customer withdrew the claim"
    """  # noqa: D301 - click's \b must stay a backspace
    with _open(log) as opened:
        done = opened.outcome(
            decision_id,
            status,  # type: ignore[arg-type]  # click.Choice checked it
            actions=list(actions) or None,
            note=note,
            given=given or None,
        )
    taken = ", ".join(done.actions) or "none"
    click.echo(f"{done.decision_id}: {done.status} (actions: {taken})")
    for item in done.given:
        click.echo(f"  given {item.kind}: {_money(item.amount, item.currency)}")
    if done.replaced:
        click.echo("  (replaces the earlier outcome, which is kept in the history)")


@click.command("feedback")
@click.argument("decision_id", metavar="DECISION_ID")
@click.option("--csat", type=click.IntRange(1, 5), help="Customer satisfaction, 1-5.")
@click.option("--nps", type=click.IntRange(0, 10), help="Net promoter score answer, 0-10.")
@click.option("--ces", type=click.IntRange(1, 7), help="Customer effort score, 1-7.")
@log_option
def feedback_command(
    decision_id: str, csat: int | None, nps: int | None, ces: int | None, log: str | None
) -> None:
    """Record a customer's survey answers for a decision.

    DECISION_ID is the one 'cxplay suggest --log' printed (a unique prefix of 6 or
    more characters will do).

    \b
    Examples:
      cxplay feedback DECISION_ID --csat 4
      cxplay feedback DECISION_ID --nps 9 --ces 2
    """  # noqa: D301 - click's \b must stay a backspace
    if csat is None and nps is None and ces is None:
        raise click.UsageError("give at least one of --csat, --nps, --ces")
    with _open(log) as opened:
        opened.feedback(decision_id, csat=csat, nps=nps, ces=ces)
    scores = {"csat": csat, "nps": nps, "ces": ces}
    shown = ", ".join(f"{k} {v}" for k, v in scores.items() if v is not None)
    click.echo(f"{decision_id}: {shown}")


@click.group("log")
def log_group() -> None:
    """Look after the decision log: migrate, forget a customer, prune, export.

    \b
    Examples:
      cxplay log migrate --log postgresql+psycopg://cx@db/cx
      cxplay log forget C-77
      cxplay log prune --keep-days 365
      cxplay log export --format jsonl > decisions.jsonl
    """  # noqa: D301 - click's \b must stay a backspace


@log_group.command("migrate")
@log_option
def migrate_command(log: str | None) -> None:
    """Create the log's tables, or bring them to this cxplay's schema version.

    Every other command migrates an empty log on first use; a log at an older schema
    needs this command (run it once, from one place, after upgrading cxplay).

    \b
    Examples:
      cxplay log migrate
      cxplay log migrate --log postgresql+psycopg://cx@db.internal/cx
    """  # noqa: D301 - click's \b must stay a backspace
    from cxplay._log.store import DecisionLog

    # opened unchecked: an older schema is what migrate is for
    with DecisionLog.open(_target(log), check=False) as opened:
        before, after = opened.migrate()
    click.echo(
        f"{opened.where}: schema {after}"
        + (" (already)" if before == after else f" (was {before or 'empty'})")
    )


@log_group.command("forget")
@click.argument("customer_id", metavar="CUSTOMER_ID")
@log_option
def forget_command(customer_id: str, log: str | None) -> None:
    """Erase a customer's names, contacts and free text; keep the anonymous counts.

    The decisions stay (type, actions, outcomes, amounts, survey scores) without the
    customer's id, name, description, order id, text facts and agents' notes; the
    customer's compensation history is gone with them.

    \b
    Example:
      cxplay log forget C-77
    """  # noqa: D301 - click's \b must stay a backspace
    with _open(log) as opened:
        count = opened.forget(customer_id)
    click.echo(f"forgot customer {customer_id}: {count} decisions anonymised")


@log_group.command("prune")
@click.option(
    "--keep-days",
    type=click.IntRange(min=0),
    required=True,
    metavar="DAYS",
    help="Delete decisions older than this many days (with their outcomes and surveys).",
)
@log_option
def prune_command(keep_days: int, log: str | None) -> None:
    """Delete old decisions: the retention setting, run it from cron.

    \b
    Example:
      cxplay log prune --keep-days 365
    """  # noqa: D301 - click's \b must stay a backspace
    with _open(log) as opened:
        count = opened.prune(keep_days)
    click.echo(f"pruned {count} decisions older than {keep_days} days")


@log_group.command("export")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["jsonl", "parquet"]),
    default="jsonl",
    show_default=True,
    help="JSON lines (to stdout or --out), or Parquet (needs --out and cxplay[parquet]).",
)
@click.option("--out", type=click.Path(path_type=Path, dir_okay=False), help="Write here.")
@_period_options
@log_option
def export_command(
    fmt: str, out: Path | None, since: datetime | None, until: datetime | None, log: str | None
) -> None:
    """Export every decision, with its outcomes and surveys, for analysts.

    One JSON object per line (nested as logged), or a Parquet table whose nested
    values (incident, actions, playbooks, outcomes) are JSON text columns.

    \b
    Examples:
      cxplay log export > decisions.jsonl
      cxplay log export --since 2026-11-01 --format parquet --out november.parquet
    """  # noqa: D301 - click's \b must stay a backspace
    from cxplay._log.export import export_jsonl, export_parquet

    if fmt == "parquet" and out is None:
        raise click.UsageError("--format parquet needs --out FILE")
    with _open(log) as opened:
        if fmt == "parquet":
            assert out is not None
            count = export_parquet(opened, out, since, until)
        elif out is None:
            count = export_jsonl(opened, sys.stdout, since, until)
        else:
            with out.open("w", encoding="utf-8") as stream:
                count = export_jsonl(opened, stream, since, until)
    if out is not None:
        click.echo(f"Wrote {count} decisions to {out}", err=True)


def csat_journey(
    playbooks: PlaybookSet, log: str | None, fmt: Literal["text", "markdown"], *, color: bool
) -> str:
    """``cxplay map --csat``: the journey map with the mean CSAT of each moment."""
    from cxplay._log.present import csat_map, journey_csat
    from cxplay._log.report import build_report
    from cxplay._playbooks.journey import journey_map

    journey = journey_map(playbooks)
    with _open(log) as opened:
        report = build_report(opened)
    return csat_map(journey, journey_csat(journey, report), fmt, color=color)


@click.command("report")
@_period_options
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "markdown", "html", "json"]),
    default="text",
    show_default=True,
    help="text for a terminal, markdown for a wiki, html (one file, charts inline), json.",
)
@click.option("--out", type=click.Path(path_type=Path, dir_okay=False), help="Write here.")
@playbooks_option(help="Playbooks for the HTML report's journey map and the incident types' titles")
@log_option
def report_command(
    since: datetime | None,
    until: datetime | None,
    fmt: str,
    out: Path | None,
    playbook_paths: tuple[Path, ...],
    log: str | None,
) -> None:
    """Report on logged decisions: outcomes, compensation, CSAT/NPS/CES, response times.

    Per incident type and per rule: decisions, acceptance, compensation given per
    currency, CSAT (mean), NPS (% promoters - % detractors), CES (mean), time to
    first response and the share by respond_by; then the rules agents reject most.
    The HTML report is one file with inline SVG charts and the journey map coloured
    by CSAT (needs cxplay[report]).

    \b
    Examples:
      cxplay report
      cxplay report --since 2026-11-01 --until 2026-12-01 --format markdown
      cxplay report --format html --out report.html
    """  # noqa: D301 - click's \b must stay a backspace
    from cxplay._log.present import report_html, report_text
    from cxplay._log.report import build_report
    from cxplay._playbooks.loader import load_playbooks

    with _open(log) as opened:
        report = build_report(opened, since, until)
    if fmt == "html":
        playbooks = load_playbooks(_paths(playbook_paths))
        from cxplay._playbooks.journey import journey_map

        text = report_html(report, journey_map(playbooks), playbooks.labels)
    elif fmt == "json":
        text = report_text(report, "json")
    else:  # types by their titles
        labels = load_playbooks(_paths(playbook_paths)).labels
        text = report_text(report, fmt, labels)  # type: ignore[arg-type]  # click.Choice
    if out is None:
        click.echo(text)
    else:
        out.write_text(text + "\n", encoding="utf-8")
        click.echo(f"Wrote {out}", err=True)


def register(cli: click.Group) -> None:
    """Add the log's commands to the root ``cxplay`` group."""
    for command in (outcome_command, feedback_command, report_command, log_group):
        cli.add_command(command)
