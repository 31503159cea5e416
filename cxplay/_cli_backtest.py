"""``cxplay backtest``: a thin adapter over :func:`cxplay.backtest` and its presenters.

Registered on the root group by one line in :mod:`cxplay._cli`; errors go through the
root group's single exit-status function like every other command's.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Sequence
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click
from click.core import ParameterSource

from cxplay._cli_log import _open as _open_log
from cxplay._cli_log import _period_options
from cxplay._cli_options import log_option, playbooks_option
from cxplay.errors import BacktestError

if TYPE_CHECKING:  # the backtest modules are imported when the command runs (start-up time)
    from cxplay._backtest.present import ReportFormat
    from cxplay._engine.engine import BackendName

__all__ = ["backtest_command"]

F = TypeVar("F", bound=Callable[..., Any])


def _progress_bar(enabled: bool) -> tuple[Callable[[int, int | None], None] | None, Any]:
    """A tqdm bar on stderr, or nothing (not a terminal, or JSON output)."""
    if not enabled:
        return None, None
    from tqdm import tqdm

    class Bar(tqdm):  # type: ignore[misc]  # tqdm is untyped
        # no monitor thread: the bar moves after every partition anyway, and a process
        # with no other thread may fork its workers with the engines built (see run.py)
        monitor_interval = 0

    bar = Bar(total=None, unit=" incidents", unit_scale=True, file=sys.stderr, leave=False)

    def update(count: int, total: int | None) -> None:
        if total is not None:
            bar.reset(total=total)
        bar.update(count)

    return update, bar


def _generate(count: int, seed: int) -> None:
    from cxplay._backtest.generate import generate_incidents

    write = sys.stdout.write
    for incident in generate_incidents(count, seed=seed):
        write(json.dumps(incident, ensure_ascii=False) + "\n")


def _paths_option(flag: str, name: str, help: str) -> Callable[[F], F]:
    return click.option(
        flag, name, multiple=True, type=click.Path(path_type=Path), metavar="DIR|FILE", help=help
    )


@click.command("backtest")
@click.argument("source", required=False, type=click.Path(path_type=Path), metavar="[SOURCE]")
@playbooks_option(help="The new playbooks", dest="new_paths", default=None)
@_paths_option("--baseline", "baseline_paths", "The playbooks to compare with (repeatable).")
@click.option(
    "--baseline-log",
    is_flag=True,
    help="Compare with what was actually decided, as the decision log (--log) recorded it.",
)
# no CXPLAY_LOG here: SOURCE and --log are alternatives, and a log from the environment
# would make every backtest of a file a usage error
@log_option(
    help="Read the incidents from the decision log instead of SOURCE: a SQLite file, "
    "'default', or a database URL (postgresql+psycopg://...).",
    env=False,
)
@_period_options
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "markdown", "json", "html"]),
    default="text",
    show_default=True,
    help="text for a person, markdown for a pull request, json for programs, html: one "
    "self-contained page with charts.",
)
@click.option(
    "--fail-on",
    "fail_on",
    multiple=True,
    metavar="MEASURE>N",
    help="Exit 1 when a measure crosses a limit, e.g. 'compensation_delta_pln>5000', "
    "'changed_percent>=10', 'error_now>0' (repeatable).",
)
@click.option("--strict", is_flag=True, help="Stop at the first record that is not an incident.")
@click.option(
    "--workers",
    type=click.IntRange(min=1),
    metavar="N",
    help="Processes on this machine (default: one per core; 1: in this process).",
)
@click.option(
    "--dask",
    metavar="ADDRESS",
    help="Run on a dask.distributed cluster: tcp://host:8786, or 'local' for a local one.",
)
@click.option("--replies", is_flag=True, help="Also render and compare the replies (slower).")
@click.option(
    "--correlate",
    is_flag=True,
    help="Also replay SOURCE with correlation on (as `cxplay watch`) under both sets of "
    "playbooks and compare the disruptions they open.",
)
@click.option(
    "--top",
    type=click.IntRange(min=0, max=1000),
    default=10,
    show_default=True,
    help="How many of the most changed incidents to show, with why.",
)
@click.option(
    "--generate",
    type=click.IntRange(min=0),
    metavar="N",
    help="Instead: print N synthetic incidents as JSON lines (every shipped type, channel, "
    "language).",
)
@click.option("--seed", type=int, default=0, show_default=True, help="Seed for --generate.")
@click.option(
    "--backend",
    type=click.Choice(["python", "durable", "auto"]),
    default="python",
    show_default=True,
    help="The engine backend; both give the same results, python is faster in batch.",
)
def backtest_command(
    source: Path | None,
    new_paths: tuple[Path, ...],
    baseline_paths: tuple[Path, ...],
    baseline_log: bool,
    log: str | None,
    since: datetime | None,
    until: datetime | None,
    fmt: ReportFormat,
    fail_on: Sequence[str],
    strict: bool,
    workers: int | None,
    dask: str | None,
    replies: bool,
    correlate: bool,
    top: int,
    generate: int | None,
    seed: int,
    backend: BackendName,
) -> None:
    """Replay past incidents under new playbooks and show what would change.

    Every incident of SOURCE (a JSONL file, one incident per line, or a Parquet
    file; or the decision log with --log, --since, --until) is evaluated under
    the new playbooks and under the baseline (--baseline DIR; or, with
    --baseline-log, what the log says was decided), and classified: same;
    changed (actions added or removed, compensation changed,
    approval newly or no longer required, no match now, ...); or an error now
    (e.g. a fact the new playbooks require). The report counts each class, per
    incident type and per rule, sums the compensation per currency, and explains
    the most changed incidents rule by rule.

    Malformed lines are reported with their line number, counted and skipped
    (--strict: the first one is an error). The work is spread over the cores
    (--workers) or a Dask cluster (--dask); the result is the same either way.

    \b
    Examples:
      cxplay backtest --generate 20000 --seed 7 > incidents.jsonl
      cxplay backtest --playbooks new/ --baseline playbooks/ incidents.jsonl
      cxplay backtest --playbooks new/ --baseline playbooks/ incidents.parquet \\
          --format markdown --fail-on "compensation_delta_pln>5000"
      cxplay backtest --playbooks new/ --baseline playbooks/ incidents.jsonl \\
          --format html > backtest.html
      cxplay backtest --playbooks new/ --baseline playbooks/ incidents.jsonl \\
          --dask tcp://scheduler:8786
      cxplay backtest --playbooks new/ --log default --baseline-log \\
          --since 2026-07-01 --until 2026-10-01
      cxplay backtest --playbooks new/ --baseline playbooks/ incidents.jsonl --correlate

    \b
    Measures for --fail-on (OP: > >= < <= == !=):
      incidents, malformed, same, changed, error_now, error_fixed, error_both,
      actions_added, actions_removed, compensation_changed,
      approval_newly_required, approval_no_longer_required, no_match_now,
      matched_now, severity_changed, reply_changed, details_changed;
      each also as <name>_percent of the incidents;
      compensation_delta_<ccy>, compensation_baseline_<ccy>, compensation_new_<ccy>.

    Exit status: 0 ok; 1 an error, or a --fail-on limit crossed; 2 usage error.
    """  # noqa: D301 - click's \b must stay a backspace
    if generate is not None:
        ctx = click.get_current_context()
        named = ctx.get_parameter_source("new_paths") is ParameterSource.COMMANDLINE
        if source is not None or named or baseline_paths:
            raise click.UsageError("--generate prints incidents; it takes no SOURCE or playbooks")
        _generate(generate, seed)
        return
    if source is not None and log is not None:
        raise click.UsageError("give SOURCE or --log, not both")
    if source is None and log is None:
        raise click.UsageError("no SOURCE: give a JSONL or Parquet file of incidents, or --log")
    if log is None and (baseline_log or since or until):
        raise click.UsageError("--baseline-log, --since and --until read the decision log: --log")
    if not new_paths:
        raise click.UsageError("give the new playbooks: --playbooks DIR (or CXPLAY_PLAYBOOKS)")
    if baseline_log and baseline_paths:
        raise click.UsageError("compare with --baseline DIR or with --baseline-log, not both")
    if not baseline_paths and not baseline_log:
        raise click.UsageError(
            "give the playbooks to compare with: --baseline DIR (or --baseline-log with --log)"
        )
    from cxplay._backtest.present import render_report
    from cxplay._backtest.report import Threshold
    from cxplay._backtest.run import Backtest

    thresholds = [Threshold.parse(text) for text in fail_on]
    runner = Backtest(
        list(new_paths),
        baseline=list(baseline_paths) or None,
        baseline_log=baseline_log,
        replies=replies,
        top=top,
        backend=backend,
    )
    progress, bar = _progress_bar(fmt != "json" and sys.stderr.isatty())
    try:
        if log is not None:
            from cxplay._backtest.source import LogSource

            with _open_log(log) as opened:
                report = runner.run(
                    LogSource(opened, since=since, until=until),
                    workers=workers,
                    dask=dask,
                    strict=strict,
                    progress=progress,
                )
        else:
            assert source is not None
            report = runner.run(
                source, workers=workers, dask=dask, strict=strict, progress=progress
            )
    finally:
        if bar is not None:
            bar.close()
    labels = None
    if fmt != "json":  # types by their titles, from the new playbooks
        from cxplay._playbooks.loader import load_playbooks

        labels = load_playbooks(list(new_paths)).labels
    rendered = render_report(report, fmt, labels)
    if correlate:
        rendered = _with_disruptions(rendered, fmt, source, new_paths, baseline_paths, backend)
    click.echo(rendered)
    breaches = report.breaches(thresholds)
    if breaches:
        raise BacktestError("; ".join(f"--fail-on {line}" for line in breaches))


def _with_disruptions(
    rendered: str,
    fmt: ReportFormat,
    source: Path | None,
    new_paths: Sequence[Path],
    baseline_paths: Sequence[Path],
    backend: BackendName,
) -> str:
    """The report with the disruptions of both replays compared (``--correlate``)."""
    if source is None or not baseline_paths or source.suffix == ".parquet":
        raise click.UsageError("--correlate replays a JSONL SOURCE under --baseline DIR")
    if fmt == "html":
        raise click.UsageError("--correlate is shown in text, markdown and json")
    from cxplay._engine.engine import Engine
    from cxplay._watch.replay import compare_disruptions, render_comparison, replay_disruptions

    new = replay_disruptions(Engine.from_path(list(new_paths), backend=backend), source)
    old = replay_disruptions(Engine.from_path(list(baseline_paths), backend=backend), source)
    comparison = compare_disruptions(new, old)
    if fmt == "json":
        data = json.loads(rendered)
        data["disruptions"] = comparison
        return json.dumps(data, indent=2, ensure_ascii=False)
    return rendered.rstrip("\n") + "\n\n" + render_comparison(comparison, fmt)
