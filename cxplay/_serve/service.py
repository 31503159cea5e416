"""What one service process holds: the engine, its reloads and its metrics.

A reload validates the whole playbook set the way ``cxplay validate`` does, in a worker
thread, and swaps the engine only when nothing is wrong: a request that started on the old
engine finishes on it, and a broken or half-written change keeps the last good set serving
(why is kept for ``/readyz`` and ``/metrics``). The old engine's rule engine memory is freed
when its last request drops it.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import contextvars
import logging
import threading
from bisect import bisect_left
from collections import deque
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from itertools import chain, repeat
from operator import attrgetter
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, TypeVar

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, Info
from prometheus_client.metrics_core import Metric

from cxplay._engine.engine import Engine
from cxplay._playbooks.lint import validate_playbooks
from cxplay._playbooks.loader import PlaybookSet
from cxplay._serve.common import public_text
from cxplay.errors import CxplayError, PlaybookError
from cxplay.models import Incident
from cxplay.results import Suggestion

if TYPE_CHECKING:
    from cxplay._log.store import DecisionLog

__all__ = ["GATE", "Metrics", "RecordCancelled", "RecordGate", "ServeConfig", "Service"]

log = logging.getLogger("cxplay.serve")

WatcherState = Literal["running", "stopped", "off"]
_T = TypeVar("_T")

#: Latency buckets (seconds): a suggestion takes about half a millisecond in-process.
BUCKETS = (0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)


@dataclass(frozen=True)
class ServeConfig:
    """How a service process is set up (the CLI builds one; tests build their own)."""

    playbooks: tuple[Path, ...] = ()
    tokens_file: Path | None = None
    tokens_env: str | None = None
    auth: bool = True
    log: str | None = None
    watch: bool = True
    timeout: float = 10.0
    max_body: int = 1 << 20
    max_depth: int = 32
    cors_origins: tuple[str, ...] = ()
    backend: str = "auto"
    #: Remember that a set passed validation (cxplay._serve.startup): `cxplay serve` does.
    remember_validation: bool = False
    #: POST /v1/incidents: the allowed lateness (seconds) and the name its correlation
    #: state is kept under in the log's store (``cxplay watch --lateness``, ``--name``).
    lateness: float = 300.0
    correlate_name: str = "serve"
    #: How late (seconds) a customer's history may see another process's change to the
    #: compensations (``DecisionLog.open(history_refresh=...)``; 0: every look-up exact;
    #: None: the store's default, 1 s on SQLite and 0 on PostgreSQL).
    history_refresh: float | None = None


class Metrics:
    """The Prometheus metrics of one process, in a registry of its own."""

    def __init__(self) -> None:
        self.registry = _Registry(self, auto_describe=True)
        r = self.registry
        self.requests = Counter(
            "cxplay_http_requests",
            "HTTP requests answered.",
            ["method", "route", "status"],
            registry=r,
        )
        self.latency = Histogram(
            "cxplay_http_request_duration_seconds",
            "Time to answer a request.",
            ["route"],
            buckets=BUCKETS,
            registry=r,
        )
        self.matches = Counter(
            "cxplay_rule_matches",
            "Suggestions with an action from this rule.",
            ["rule"],
            registry=r,
        )
        self.suggestions = Counter(
            "cxplay_suggestions",
            "Suggestions made, by whether a rule matched.",
            ["matched"],
            registry=r,
        )
        self.reloads = Counter(
            "cxplay_reloads", "Playbook reloads attempted, by result.", ["result"], registry=r
        )
        self.last_ok = Gauge(
            "cxplay_last_reload_success",
            "1 if the last reload was applied, 0 if refused.",
            registry=r,
        )
        self.last_at = Gauge(
            "cxplay_last_reload_timestamp_seconds", "When the last reload ended.", registry=r
        )
        self.last_info = Info(
            "cxplay_last_reload",
            "The last reload: result and, if refused, the first reason.",
            registry=r,
        )
        self.rules = Gauge("cxplay_rules", "Rules in the playbooks served.", registry=r)
        self.watcher = Gauge(
            "cxplay_watcher_running",
            "1 while the playbook watcher runs; 0 when it is stopped or off (--no-watch).",
            registry=r,
        )
        for result in ("ok", "failed"):
            self.reloads.labels(result)  # present at 0 from the start
        # the children of the hot path's labels, looked up once (see http())
        self._http: dict[tuple[str, str, int], tuple[Counter, Histogram]] = {}
        self._suggestions: dict[bool, Counter] = {}
        self._matches: dict[str, Counter] = {}
        # What the hot path answered and suggested since the last flush (see flush()):
        # appended without a lock (a deque's append and popleft are atomic), taken out and
        # applied by one flush at a time
        self._lock = threading.Lock()
        self._answered: deque[tuple[Counter, Histogram, float]] = deque()
        self._suggested: deque[tuple[bool, Sequence[str]]] = deque()
        self._made: deque[Suggestion] = deque()  # (read at the flush: see suggested())

    def watch_log(self, log: DecisionLog) -> None:
        """Gauges of the decision log's writer, read from ``log.health()`` at each scrape."""
        r = self.registry
        Gauge(
            "cxplay_log_ok", "1 if the decision log's writer is writing, 0 if not.", registry=r
        ).set_function(lambda: float(log.health().ok))
        Gauge(
            "cxplay_log_pending_decisions", "Decisions waiting to be written.", registry=r
        ).set_function(lambda: float(log.health().pending))
        Gauge(
            "cxplay_log_refused_decisions",
            "Decisions the store refused (dropped alone) since start.",
            registry=r,
        ).set_function(lambda: float(log.health().refused))
        Gauge(
            "cxplay_log_writer_restarts",
            "Times the log's batch writer thread died and was started again.",
            registry=r,
        ).set_function(lambda: float(log.health().restarts))

    def flush(self) -> None:
        """Apply what was counted since the last flush to the Prometheus metrics.

        The hot path appends what it saw to two queues; prometheus_client's ``inc()`` and
        ``observe()`` check and lock on every call (about ten per request), and here they
        are called once per counter and histogram bucket of the batch. A scrape flushes
        first (:class:`_Registry`), so ``/metrics`` shows every request answered; so does
        the 256th request kept, so the queues stay small without scrapes.
        """
        with self._lock:
            answered = _drained(self._answered)
            suggested = _drained(self._suggested)
            made = _drained(self._made)
            counts: dict[Counter, int] = {}
            latencies: dict[Histogram, list[float]] = {}
            for requests, latency, seconds in answered:
                counts[requests] = counts.get(requests, 0) + 1
                kept = latencies.get(latency)
                if kept is None:
                    kept = latencies[latency] = []
                kept.append(seconds)
            # the suggestions made: counted by whether they matched, and each rule once per
            # suggestion, in C (Counter over maps: no Python step per suggestion or action)
            by_matched = collections.Counter(map(_MATCHED, made))
            by_rule = collections.Counter(rule_sets(made))
            for matched, rules in suggested:
                by_matched[matched] += 1
                by_rule.update(set(rules))
            for matched, amount in by_matched.items():
                counter = self._suggestions.get(matched)
                if counter is None:
                    label = "true" if matched else "false"
                    counter = self._suggestions[matched] = self.suggestions.labels(label)
                counts[counter] = counts.get(counter, 0) + amount
            for rule, amount in by_rule.items():
                child = self._matches.get(rule)
                if child is None:
                    child = self._matches[rule] = self.matches.labels(rule)
                counts[child] = counts.get(child, 0) + amount
            for counter, amount in counts.items():
                counter.inc(amount)
            for histogram, values in latencies.items():
                observe_all(histogram, values)

    def request(self, method: str, route: str, status: int, seconds: float) -> None:
        """Count one answered request and its latency (applied by :meth:`flush`)."""
        found = self._http.get((method, route, status))
        requests, latency = found if found is not None else self.http(method, route, status)
        answered = self._answered
        answered.append((requests, latency, seconds))
        if len(answered) >= FLUSH_EVERY:
            self.flush()

    def http(self, method: str, route: str, status: int) -> tuple[Counter, Histogram]:
        """The request counter and the latency histogram of one method, route and status.

        Looked up once per combination (prometheus_client's ``labels()`` checks, joins and
        locks on every call); routes are templates, never raw paths, so the dict stays small.
        """
        key = (method, route, status)
        found = self._http.get(key)
        if found is None:
            found = self._http[key] = (
                self.requests.labels(method, route, str(status)),
                self.latency.labels(route),
            )
        return found

    def suggested(self, suggestion: Suggestion) -> None:
        """Count one suggestion and the rules behind its actions (read at the flush)."""
        made = self._made
        made.append(suggestion)  # immutable: what the flush reads is what it was
        if len(made) >= FLUSH_EVERY:
            self.flush()

    def counted(self, matched: bool, rules: Sequence[str]) -> None:
        """Count one suggestion given by whether it matched and its actions' rules.

        ``rules`` is kept until the next flush: the caller does not change it afterwards.
        """
        suggested = self._suggested
        suggested.append((matched, rules))
        if len(suggested) >= FLUSH_EVERY:
            self.flush()


_MATCHED = attrgetter("matched")


def _rule_set(suggestion: Suggestion) -> frozenset[str]:
    """The rules behind a suggestion's actions, each once (a rule may give several)."""
    return frozenset(map(_RULE, suggestion.actions))


def rule_sets(made: Iterable[Suggestion]) -> Iterator[str]:
    """Each suggestion's :func:`_rule_set`, chained, without a Python frame per suggestion.

    Maps of maps, in C; ``tests/test_serve_guard_fast.py`` compares both.
    """
    return chain.from_iterable(map(frozenset, map(map, repeat(_RULE), map(_ACTIONS, made))))


_RULE = attrgetter("rule")
_ACTIONS = attrgetter("actions")


def _drained(queue: deque[_T]) -> list[_T]:
    """What is in ``queue`` now, taken out (what is appended meanwhile stays for later)."""
    popleft = queue.popleft
    return [popleft() for _ in range(len(queue))]


def observe_all(histogram: Histogram, values: Sequence[float]) -> None:
    """``histogram.observe(value)`` for each value: one ``inc()`` per bucket, not per value.

    A value goes to the first bucket whose upper bound is at least the value, as
    ``observe`` puts it; the sum grows by the values' sum (``observe`` adds them one at a
    time: the same to the last bits of the float). On a prometheus_client without the
    histogram's bucket values where this expects them, each value is observed.
    ``tests/test_serve_guard_fast.py`` compares both ways.
    """
    bounds = getattr(histogram, "_upper_bounds", None)
    buckets = getattr(histogram, "_buckets", None)
    total = getattr(histogram, "_sum", None)
    if (
        not isinstance(bounds, list)
        or not isinstance(buckets, list)
        or len(bounds) != len(buckets)
        or total is None
        or not hasattr(total, "inc")
        or not all(hasattr(bucket, "inc") for bucket in buckets)
    ):
        for value in values:
            histogram.observe(value)
        return
    found: dict[int, int] = {}
    for value in values:
        place = bisect_left(bounds, value)
        found[place] = found.get(place, 0) + 1
    for place, amount in found.items():
        buckets[place].inc(amount)
    total.inc(sum(values))


#: Requests (or suggestions) kept before a flush without a scrape (see Metrics.flush).
FLUSH_EVERY = 256


class _Registry(CollectorRegistry):
    """A registry that applies the metrics' counted requests before every collection."""

    def __init__(self, metrics: Metrics, auto_describe: bool = False) -> None:
        super().__init__(auto_describe=auto_describe)
        self._metrics = metrics

    def collect(self) -> Iterator[Metric]:
        """Flush, then collect as usual (a scrape, ``generate_latest``, a sample read)."""
        self._metrics.flush()
        yield from super().collect()


@dataclass(frozen=True)
class _Reload:
    ok: bool
    at: datetime
    errors: tuple[str, ...] = ()


def _problem_lines(error: CxplayError) -> list[str]:
    from cxplay._present import error_lines

    return [line.removeprefix("Error: ") for line in error_lines(error)]


class RecordCancelled(Exception):
    """The request gave up before its decision was recorded: it is not recorded."""


class RecordGate:
    """Whether a request's decision may still be recorded.

    A request that passes its deadline closes its gate: a decision whose recording has not
    begun is then never recorded (the client got a 503 and may retry without a duplicate),
    and one whose recording has begun is waited for and answered with its id.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._state = "open"

    def begin(self) -> bool:
        """Start recording, unless the request gave up already."""
        with self._lock:
            if self._state == "closed":
                return False
            self._state = "recording"
            return True

    def close(self) -> bool:
        """Give up: True if nothing is or will be recorded."""
        with self._lock:
            if self._state == "open":
                self._state = "closed"
            return self._state == "closed"


#: The gate of the request the current thread works for (None: record unconditionally).
GATE: contextvars.ContextVar[RecordGate | None] = contextvars.ContextVar(
    "cxplay_record_gate", default=None
)


class _GatedLog:
    """The decision log as the engine sees it: a record waits for the request's gate."""

    def __init__(self, log: DecisionLog) -> None:
        self._log = log

    def record(
        self,
        incident: Incident,
        suggestion: Suggestion,
        *,
        digest: str,
        playbooks: Sequence[str],
        backend: str,
        now: datetime | None = None,
    ) -> str:
        gate = GATE.get()
        if gate is not None and not gate.begin():
            raise RecordCancelled
        return self._log.record(
            incident, suggestion, digest=digest, playbooks=playbooks, backend=backend, now=now
        )

    def history(self, customer_id: str, now: datetime | None = None) -> Any:
        return self._log.history(customer_id, now)

    def close(self) -> None:
        """Nothing: the service closes its log itself (engines come and go with reloads)."""


class Service:
    """The engine a process serves, reloaded atomically; thread-safe."""

    def __init__(self, config: ServeConfig, metrics: Metrics | None = None) -> None:
        self.config = config
        self.metrics = metrics or Metrics()
        paths = list(config.playbooks) or None
        self._paths: list[Path] | None = paths
        # the same test as every reload: the whole set validates, as `cxplay validate` says
        # (a set that passed it before, byte for byte and with the same cxplay, is known to)
        from cxplay._serve.startup import validate_for_start

        if config.remember_validation:
            report = validate_for_start(paths)
        else:
            report = validate_playbooks(paths)
        if not report.ok or report.playbooks is None:
            raise PlaybookError(report.problems, hint="cxplay serve starts on a set that validates")
        self.log: DecisionLog | None = None
        if config.log is not None:
            from cxplay._log.store import DecisionLog

            default = config.log in ("", "default")  # as the CLI's --log default
            self.log = DecisionLog.open(
                None if default else config.log, history_refresh=config.history_refresh
            )
            self.metrics.watch_log(self.log)
        self._sink = _GatedLog(self.log) if self.log is not None else None
        self.engine = Engine(
            report.playbooks,
            backend=config.backend,  # type: ignore[arg-type]
            source=paths,
            log=self._sink,
        )
        self._lock = threading.Lock()
        #: The playbook watcher: "running", "stopped" (not watching now) or "off" (--no-watch).
        self.watcher: WatcherState = "stopped" if config.watch else "off"
        self.reloads = 0
        self.last = _Reload(True, datetime.now(timezone.utc))
        self._publish()

    @property
    def playbooks(self) -> PlaybookSet:
        """The playbooks served now."""
        return self.engine.playbooks

    def watched(self) -> list[Path]:
        """The directories to watch for changes."""
        if self._paths is None:
            root = self.engine.playbooks.root
            return [root] if root is not None else []
        dirs: list[Path] = []
        for path in self._paths:
            directory = path if path.is_dir() else path.parent
            if directory not in dirs:
                dirs.append(directory)
        return dirs

    def reload(self) -> _Reload:
        """Validate the playbooks on disk; swap them in only if nothing is wrong."""
        with self._lock:  # one reload at a time; requests are never blocked
            try:
                report = validate_playbooks(self._paths)
                if not report.ok or report.playbooks is None:
                    errors = [str(p) for p in report.problems] or ["the playbooks did not load"]
                    self.last = _Reload(False, datetime.now(timezone.utc), tuple(errors))
                else:
                    self.engine = Engine(
                        report.playbooks,
                        backend=self.config.backend,  # type: ignore[arg-type]
                        source=self._paths,
                        log=self._sink,
                    )
                    self.last = _Reload(True, datetime.now(timezone.utc))
            except CxplayError as exc:
                self.last = _Reload(False, datetime.now(timezone.utc), tuple(_problem_lines(exc)))
            except Exception as exc:  # a reload must never take the service down
                log.exception("reload failed")
                self.last = _Reload(
                    False, datetime.now(timezone.utc), (f"internal error: {type(exc).__name__}",)
                )
            if self.last.errors:  # /readyz is public: name files relative to their directory
                roots = [*self.watched(), *(d.resolve() for d in self.watched())]
                errors = [public_text(line, roots) for line in self.last.errors]
                self.last = _Reload(False, self.last.at, tuple(errors))
            self.reloads += 1  # counted once the outcome is in place
            self._publish()
            if self.last.ok:
                log.info("playbooks reloaded: %d rules", len(self.engine.playbooks.rules))
            else:
                log.warning(
                    "reload refused, still serving the last good playbooks: %s",
                    "; ".join(self.last.errors),
                )
            return self.last

    def _publish(self) -> None:
        m = self.metrics
        if self.reloads:
            m.reloads.labels("ok" if self.last.ok else "failed").inc()
        m.last_ok.set(1 if self.last.ok else 0)
        m.last_at.set(self.last.at.timestamp())
        m.last_info.info(
            {
                "result": "ok" if self.last.ok else "failed",
                "reason": self.last.errors[0][:200] if self.last.errors else "",
            }
        )
        m.rules.set(len(self.engine.playbooks.rules))

    async def watch(self, stop: asyncio.Event) -> None:
        """Reload whenever a ``.toml`` file under the playbook directories changes.

        Two watches, re-armed whenever a playbook directory is replaced: the resolved
        directories themselves (every ``.toml`` file under them) and their parents (the
        directory's own entry: moved away and copied back, or a symlink switched to a new
        release). A replace reloads at once. While no watch runs (between re-arms, after a
        failure, or when nothing can be watched) :attr:`watcher` says ``stopped``; a
        failure is logged and the watch restarts a second later.
        """
        first = True
        while not stop.is_set():
            dirs = [d.absolute() for d in self.watched()]
            if not dirs:
                self._set_watcher("off")
                return
            try:
                await self._watch_once(dirs, stop, catch_up=not first)
            except Exception:
                self._set_watcher("stopped")
                log.exception("the playbook watcher failed; it restarts in 1 s")
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(stop.wait(), 1.0)
            first = False
            self._set_watcher("stopped")

    async def _watch_once(self, dirs: list[Path], stop: asyncio.Event, catch_up: bool) -> None:
        """Watch until a directory is replaced (or ``stop``); raise what a watch raised."""
        from watchfiles import Change, awatch

        def toml_only(change: Change, path: str) -> bool:
            return path.endswith(".toml")  # editors' and write-then-rename temporaries ignored

        targets = [d.resolve() for d in dirs]
        entries = {str(p) for p in (*dirs, *targets)}
        parents = list(dict.fromkeys(p.parent for p in (*dirs, *targets) if p.parent.is_dir()))
        rearm = asyncio.Event()

        async def files() -> None:
            present = [t for t in targets if t.is_dir()]
            if not present:
                await rearm.wait()  # the parents' watch says when the directory is back
                return
            async for _ in awatch(*present, watch_filter=toml_only, stop_event=rearm):
                await asyncio.to_thread(self.reload)
                if [d.resolve() for d in dirs] != targets:
                    rearm.set()

        async def places() -> None:
            async for _ in awatch(
                *parents,
                watch_filter=lambda change, path: path in entries,
                stop_event=rearm,
                recursive=False,
            ):
                rearm.set()

        tasks = [asyncio.create_task(files()), asyncio.create_task(places())]
        stopping = asyncio.create_task(stop.wait())
        self._set_watcher("running")
        try:
            if catch_up:  # the directory was replaced, or the watch failed
                await asyncio.to_thread(self.reload)
            done, _ = await asyncio.wait([*tasks, stopping], return_when=asyncio.FIRST_COMPLETED)
            rearm.set()  # the watches end at their next step
            await asyncio.gather(*tasks, return_exceptions=True)
            for task in tasks:
                if task in done and not task.cancelled() and task.exception() is not None:
                    raise task.exception()  # type: ignore[misc]
        finally:
            stopping.cancel()
            for task in tasks:
                task.cancel()

    def _set_watcher(self, state: WatcherState) -> None:
        self.watcher = state
        self.metrics.watcher.set(1 if state == "running" else 0)

    def close(self) -> None:
        """Free the rule engine now, and close the decision log."""
        self.engine.close()
        if self.log is not None:
            self.log.close()


def describe(paths: Sequence[Path] | None) -> str:
    """The playbook paths for a log line."""
    return ", ".join(str(p) for p in paths) if paths else "the shipped playbooks"
