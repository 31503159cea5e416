"""Run a backtest: a partitioned map over a source, on one core, a process pool or Dask.

The same :func:`~cxplay._backtest.compare.run_task` runs everywhere; only the executor
differs. At most a few tasks per worker are in flight, so memory stays bounded however
large the source, and tallies are merged as they complete (the merge is exact and
order-independent, see :mod:`cxplay._backtest.compare`).
"""

from __future__ import annotations

import multiprocessing
import os
import sys
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from cxplay._backtest.compare import Options, Tally, Task, run_task
from cxplay._backtest.recipe import Recipe
from cxplay._backtest.report import BacktestReport, RuleChange, report_from_tally
from cxplay._backtest.source import (
    PARTITION_SIZE,
    LogSource,
    RowsSource,
    Source,
    open_source,
)
from cxplay._engine.engine import BackendName, Engine
from cxplay.errors import BacktestError, CxplayError
from cxplay.results import RuleTrace

__all__ = ["Backtest", "PlaybooksLike", "backtest"]

PlaybooksLike = Path | str | Sequence[Path | str] | Recipe | None
Progress = Callable[[int, int | None], None]  # (records just done, total)

#: Tasks in flight per worker: enough to keep each busy while results come back.
IN_FLIGHT = 3
#: The fixed "now" for incidents without ``occurred_at``: results must not depend on the clock.
EPOCH = datetime(2000, 1, 1, tzinfo=timezone.utc)
#: How long to wait for a Dask scheduler before saying it is not there.
DASK_TIMEOUT = 10


def default_workers() -> int:
    """The cores this process may use."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


class Backtest:
    """Replay past incidents under new playbooks, next to a baseline.

    Example:
        >>> bt = Backtest("new-playbooks/", baseline="playbooks/")      # doctest: +SKIP
        >>> report = bt.run("incidents.jsonl", workers=2)               # doctest: +SKIP
        >>> report.classes["changed"], report.breaches(["changed_percent>5"])  # doctest: +SKIP
    """

    def __init__(
        self,
        playbooks: PlaybooksLike,
        *,
        baseline: PlaybooksLike = None,
        baseline_log: bool = False,
        replies: bool = False,
        backend: BackendName = "python",
        top: int = 10,
    ) -> None:
        if baseline_log and replies:
            raise BacktestError(
                "replies cannot be compared with logged decisions: the log keeps the "
                "actions, not the replies sent"
            )
        self.new = _recipe(playbooks, replies=replies, backend=backend)
        self.baseline: Recipe | None = (
            None if baseline_log else _recipe(baseline, replies=replies, backend=backend)
        )
        self.replies = replies
        self.top = top

    def run(
        self,
        source: Source | Path | str | Sequence[Mapping[str, Any]],
        *,
        workers: int | None = None,
        dask: str | None = None,
        strict: bool = False,
        progress: Progress | None = None,
        partition_size: int = PARTITION_SIZE,
    ) -> BacktestReport:
        """Compare every incident of ``source``; see :func:`backtest` for the arguments."""
        if isinstance(source, str | Path):
            source = open_source(source)
        if self.baseline is None and not isinstance(source, LogSource):
            raise BacktestError(
                "no baseline: give the playbooks to compare with, or a decision log as the "
                "source to compare with what was decided"
            )
        elif isinstance(source, Sequence):
            source = RowsSource(list(source))  # a row that is no mapping is reported
        if workers is not None and workers < 1:
            raise BacktestError(f"workers must be at least 1, not {workers}")
        if partition_size < 1:
            raise BacktestError(f"partition size must be at least 1, not {partition_size}")
        options = Options(
            source=source.name,
            unit=source.unit,
            strict=strict,
            replies=self.replies,
            top=self.top,
            now=EPOCH,
        )
        if progress is not None:
            progress(0, source.total())
        tasks = (
            Task(self.new, self.baseline, partition, options)
            for partition in source.partitions(partition_size)
        )
        if dask is not None:
            tally = _run_dask(dask, tasks, workers, progress, self.top)
        elif (workers or default_workers()) == 1:
            tally = _run_serial(tasks, progress, self.top)
        else:
            recipes = [self.new] if self.baseline is None else [self.new, self.baseline]
            tally = _run_pool(tasks, recipes, workers or default_workers(), progress, self.top)
        return report_from_tally(
            tally,
            source=source.name,
            unit=source.unit,
            baseline=self.baseline.label if self.baseline else f"what was logged ({source.name})",
            new=self.new.label,
            explain=self._explain,
        )

    def _explain(self, incident: Mapping[str, Any], logged: Sequence[str]) -> list[RuleChange]:
        """The rules that fared differently for this incident, and how.

        A rule is listed when it applied on at least one side and its outcome or its
        condition differs; when one side could not evaluate the incident at all (its
        error is shown with the actions), the rules the other side applied are listed.
        Against the log, a rule "applied" when a logged action came from it.
        """
        after = _traces(self.new.engine(), incident)
        if self.baseline is None:
            return self._explain_logged(after, logged)
        before = _traces(self.baseline.engine(), incident)
        changes = []
        rules = [*(after or {}), *(r for r in (before or {}) if r not in (after or {}))]
        for rule in rules:
            old = before.get(rule) if before is not None else None
            new = after.get(rule) if after is not None else None
            if not ((old is not None and old.matched) or (new is not None and new.matched)):
                continue
            old_when = _condition(old)
            new_when = _condition(new)
            old_state = _state(old, before is None)
            new_state = _state(new, after is None)
            if old_state == new_state and old_when == new_when:
                continue
            differ = old_when != new_when and None not in (old_when, new_when)
            changes.append(
                RuleChange(
                    rule=rule,
                    baseline=old_state,
                    new=new_state,
                    condition_baseline=old_when if differ else None,
                    condition_new=new_when if differ else None,
                )
            )
        return changes

    @staticmethod
    def _explain_logged(
        after: dict[str, RuleTrace] | None, logged: Sequence[str]
    ) -> list[RuleChange]:
        changes = []
        for rule in [*(after or {}), *(r for r in logged if r not in (after or {}))]:
            new = after.get(rule) if after is not None else None
            applied_now = new is not None and new.matched and (new.outcome or "").startswith("kept")
            if (rule in logged) == applied_now and not (after is None and rule in logged):
                continue
            changes.append(
                RuleChange(
                    rule=rule,
                    baseline="applied (logged)" if rule in logged else "not applied (logged)",
                    new=_state(new, after is None),
                )
            )
        return changes


def _recipe(playbooks: PlaybooksLike, *, replies: bool, backend: BackendName) -> Recipe:
    if isinstance(playbooks, Recipe):
        return playbooks
    return Recipe.from_paths(playbooks, replies=replies, backend=backend)


def _traces(engine: Engine, incident: Mapping[str, Any]) -> dict[str, RuleTrace] | None:
    """Every rule's trace, or None when the incident is an error for these playbooks."""
    try:
        return {trace.rule: trace for trace in engine.explain(incident)}
    except CxplayError:
        return None


def _condition(trace: RuleTrace | None) -> str | None:
    return None if trace is None else " ".join(trace.condition.split())


def _state(trace: RuleTrace | None, error: bool) -> str:
    if error:
        return "the incident is an error here"
    if trace is None:
        return "no such rule"
    if trace.matched:
        return trace.outcome or "kept"
    value = trace.value
    shown = "missing" if value is None else repr(value)
    return f"not matched: {' '.join((trace.failed or '').split())} (value {shown})"


# --------------------------------------------------------------------------- executors


def _run_serial(tasks: Iterator[Task], progress: Progress | None, top: int) -> Tally:
    tally = Tally(top=top)
    for task in tasks:
        tally.merge(run_task(task))
        if progress is not None:
            progress(task.partition.count, None)
    return tally


def _pool_context(recipes: Sequence[Recipe]) -> Any:
    """How the workers start: forked from this process where that is safe, else clean.

    On Linux, when every engine is the python backend's (no C state) and this process
    runs no other thread (none can hold a lock at the fork), the engines are built here
    once and each worker is a fork that has them already: no import, no build. Otherwise
    the forkserver, where there is one: workers start from a clean, pre-imported process
    and build their engines from the recipes (plain fork would copy other threads and the
    rule engine's C state); spawn, which imports cxplay again in every worker, is the last
    resort.
    """
    if (
        sys.platform == "linux"
        and "fork" in multiprocessing.get_all_start_methods()
        and all(recipe.backend == "python" for recipe in recipes)
        and threading.active_count() == 1
    ):
        for recipe in recipes:
            recipe.engine()
        return multiprocessing.get_context("fork")
    if sys.platform != "win32" and "forkserver" in multiprocessing.get_all_start_methods():
        context = multiprocessing.get_context("forkserver")
        context.set_forkserver_preload(["cxplay._backtest.compare"])
        return context
    return multiprocessing.get_context("spawn")


def _run_pool(
    tasks: Iterator[Task],
    recipes: Sequence[Recipe],
    workers: int,
    progress: Progress | None,
    top: int,
) -> Tally:
    tally = Tally(top=top)
    context = _pool_context(recipes)
    with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
        pending: dict[Future[Tally], int] = {}
        try:
            for task in tasks:
                pending[pool.submit(run_task, task)] = task.partition.count
                if len(pending) >= workers * IN_FLIGHT:
                    _collect(pending, tally, progress, FIRST_COMPLETED)
            while pending:
                _collect(pending, tally, progress, FIRST_COMPLETED)
        except BrokenProcessPool as exc:
            raise BacktestError(f"a backtest worker process died: {exc}") from None
        except BaseException:
            for future in pending:
                future.cancel()
            raise
    return tally


def _collect(
    pending: dict[Future[Tally], int], tally: Tally, progress: Progress | None, when: str
) -> None:
    done, _ = wait(list(pending), return_when=when)
    for future in done:
        count = pending.pop(future)
        tally.merge(future.result())
        if progress is not None:
            progress(count, None)


def _connect(client_class: Any, address: str) -> Any:
    """``Client(address)``, given up on after a deadline.

    Dask's own timeout covers the TCP connect, not its handshake: a server that accepts and
    never answers (an HTTP server waiting for a request line) would hold the backtest
    forever. The attempt runs in a daemon thread; past the deadline it is abandoned.
    """
    outcome: dict[str, Any] = {}

    def attempt() -> None:
        try:
            outcome["client"] = client_class(address, timeout=DASK_TIMEOUT)
        except BaseException as exc:  # handed to the caller below
            outcome["error"] = exc

    deadline = DASK_TIMEOUT + 5
    thread = threading.Thread(target=attempt, name="cxplay-dask-connect", daemon=True)
    thread.start()
    thread.join(deadline)
    if thread.is_alive():
        raise BacktestError(
            f"no Dask scheduler answered at {address} within {deadline:g} s "
            "(a scheduler listens on tcp://HOST:8786 by default)"
        )
    if "error" in outcome:
        raise outcome["error"]
    return outcome["client"]


def _dask_client(address: str, workers: int | None) -> tuple[Any, Any]:
    """A dask.distributed client: ``local`` starts a LocalCluster of processes."""
    try:
        from distributed import Client, LocalCluster
    except ImportError:
        raise BacktestError("--dask needs dask.distributed: pip install 'cxplay[dask]'") from None
    if address == "local":
        cluster = LocalCluster(  # type: ignore[no-untyped-call]
            n_workers=workers or default_workers(),
            threads_per_worker=1,
            processes=True,
            dashboard_address=None,
        )
        return Client(cluster), cluster  # type: ignore[no-untyped-call]
    try:
        return _connect(Client, address), None
    except (OSError, TimeoutError, ValueError) as exc:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise BacktestError(f"cannot reach the Dask scheduler at {address}: {reason}") from None
    except MemoryError:
        # something else answered (an HTTP server, say): Dask read its bytes as a frame length
        raise BacktestError(
            f"{address} is not a Dask scheduler: what answered there does not speak Dask's "
            "protocol (a scheduler listens on tcp://HOST:8786 by default)"
        ) from None


def _run_dask(
    address: str,
    tasks: Iterator[Task],
    workers: int | None,
    progress: Progress | None,
    top: int,
) -> Tally:
    from distributed import wait as dask_wait

    client, cluster = _dask_client(address, workers)
    tally = Tally(top=top)
    try:
        slots = max(1, sum(client.nthreads().values())) * IN_FLIGHT
        pending: dict[Any, int] = {}

        def collect() -> None:
            done = dask_wait(list(pending), return_when="FIRST_COMPLETED").done  # type: ignore[no-untyped-call]
            for future in done:
                count = pending.pop(future)
                tally.merge(future.result())
                if progress is not None:
                    progress(count, None)

        for task in tasks:
            pending[client.submit(run_task, task, pure=False)] = task.partition.count
            if len(pending) >= slots:
                collect()
        while pending:
            collect()
    finally:
        client.close()
        if cluster is not None:
            cluster.close()
    return tally


def backtest(
    source: Source | Path | str | Sequence[Mapping[str, Any]],
    *,
    playbooks: PlaybooksLike,
    baseline: PlaybooksLike = None,
    baseline_log: bool = False,
    workers: int | None = None,
    dask: str | None = None,
    strict: bool = False,
    replies: bool = False,
    progress: Progress | None = None,
    backend: BackendName = "python",
    top: int = 10,
) -> BacktestReport:
    """What would ``playbooks`` have done to the incidents of ``source``, next to ``baseline``?

    Args:
        source: a JSONL or Parquet file of incidents, a list of incident mappings, or a
            :class:`LogSource` (the incidents of a decision log).
        playbooks: the new playbooks (directory, files; None: the shipped ones).
        baseline: the playbooks to compare with (None: the shipped ones).
        baseline_log: compare with what was logged instead (the source must be a log).
        workers: processes on this machine (default: one per core; 1 runs in-process).
        dask: a dask.distributed scheduler address (``tcp://host:8786``), or ``local``.
        strict: stop at the first record that is not a valid incident.
        replies: also render and compare the replies (slower).
        progress: called with ``(0, total)`` first (total: None if unknown), then with
            the number of records done after each partition.
        backend: the engine backend: ``python`` (the default here: for batch replay the
            reference backend is the faster one, and the differential tests hold it equal to
            durable), ``durable`` or ``auto``.
        top: how many of the most changed incidents to show, with why.

    Returns:
        The :class:`BacktestReport`; ``report.breaches(["compensation_delta_pln>5000"])``
        tests thresholds.

    Example:
        >>> report = backtest("in.jsonl", playbooks="new/", baseline="old/")  # doctest: +SKIP
    """
    runner = Backtest(
        playbooks,
        baseline=baseline,
        baseline_log=baseline_log,
        replies=replies,
        backend=backend,
        top=top,
    )
    return runner.run(source, workers=workers, dask=dask, strict=strict, progress=progress)
