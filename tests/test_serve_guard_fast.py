"""The Guard's cheaper hot path is the same Guard: the body's deadline and the metrics.

A body that arrived with its head is received without a timer; one that has to be waited
for is waited for under the deadline as before (``_received_by``). The metrics of the hot
path are applied in batches (``Metrics.flush``) to the same counters and histogram values
as one ``inc()`` and ``observe()`` per request give.
"""

from __future__ import annotations

import asyncio
import math
import random
import time
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

import pytest

pytest.importorskip("prometheus_client", reason="the serve extra is not installed")


from prometheus_client import CollectorRegistry, Counter, Histogram

import cxplay._serve.guard as guard
from cxplay._serve.guard import _received_by
from cxplay._serve.service import BUCKETS, FLUSH_EVERY, Metrics, observe_all

Message = MutableMapping[str, Any]


def _run(main: Callable[[], Awaitable[Any]]) -> Any:
    return asyncio.run(main())  # type: ignore[arg-type]


def test_a_message_already_there_is_received_without_a_timer(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def no_timer(*args: Any) -> Any:
        raise AssertionError("a timer was armed for a message that was there already")

    monkeypatch.setattr(guard, "_by", no_timer)

    async def ready() -> Message:
        return {"type": "http.request", "body": b"{}", "more_body": False}

    async def main() -> Message:
        return await _received_by(time.monotonic() + 1.0, ready)

    assert _run(main) == {"type": "http.request", "body": b"{}", "more_body": False}


def test_a_message_waited_for_arrives_through_the_timer() -> None:
    timers = []
    by = guard._by

    async def counting(deadline: float, awaitable: Awaitable[Message]) -> Message:
        timers.append(deadline)
        return await by(deadline, awaitable)

    async def main() -> Message:
        arrived = asyncio.Event()

        async def waits() -> Message:
            await arrived.wait()
            await asyncio.sleep(0)  # a bare yield on the way too
            return {"type": "http.request", "body": b"late", "more_body": False}

        asyncio.get_running_loop().call_later(0.02, arrived.set)
        guard._by = counting
        try:
            return await _received_by(time.monotonic() + 5.0, waits)
        finally:
            guard._by = by

    assert _run(main)["body"] == b"late"
    assert len(timers) == 1


def test_a_message_not_there_by_the_deadline_times_out_and_the_wait_is_undone() -> None:
    async def main() -> tuple[float, int]:
        never = asyncio.Event()

        async def waits() -> Message:
            await never.wait()
            return {"type": "http.request", "body": b"", "more_body": False}

        started = time.monotonic()
        with pytest.raises(asyncio.TimeoutError):
            await _received_by(started + 0.1, waits)
        return time.monotonic() - started, len(never._waiters)

    took, waiting = _run(main)
    assert 0.09 <= took < 2.0
    assert waiting == 0  # the cancellation reached the receive's own wait


def test_a_cancelled_request_cancels_its_receive_and_an_error_comes_through() -> None:
    async def main() -> list[str]:
        seen = []
        never = asyncio.Event()

        async def waits() -> Message:
            try:
                await never.wait()
            except asyncio.CancelledError:
                seen.append("cancelled inside")
                raise
            return {}

        task = asyncio.ensure_future(_received_by(time.monotonic() + 5.0, waits))
        await asyncio.sleep(0.01)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

        async def fails() -> Message:
            await asyncio.sleep(0.01)
            raise ValueError("the client went away")

        with pytest.raises(ValueError, match="went away"):
            await _received_by(time.monotonic() + 5.0, fails)
        return seen

    assert _run(main) == ["cancelled inside"]


def _samples(registry: CollectorRegistry) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for metric in registry.collect()
        for sample in metric.samples
        if not sample.name.endswith("_created")
    }


def test_observe_all_fills_the_buckets_that_observe_fills() -> None:
    rng = random.Random(20)
    values = [rng.choice(BUCKETS) for _ in range(50)]  # on the bounds: `<=` counts
    values += [rng.uniform(0, 3.0) for _ in range(500)] + [0.0, 1e-9, 99.0]
    one, many = CollectorRegistry(), CollectorRegistry()
    each = Histogram("latency", "l", buckets=BUCKETS, registry=one)
    batched = Histogram("latency", "l", buckets=BUCKETS, registry=many)
    for value in values:
        each.observe(value)
    observe_all(batched, values[:300])
    observe_all(batched, values[300:])
    expected, got = _samples(one), _samples(many)
    assert got.keys() == expected.keys()
    for key, value in expected.items():
        if key[0] == "latency_sum":
            assert math.isclose(got[key], value, rel_tol=1e-12)
        else:
            assert got[key] == value, key


def test_observe_all_observes_each_value_without_the_buckets_it_expects() -> None:
    class Observed:
        def __init__(self) -> None:
            self.values: list[float] = []

        def observe(self, value: float) -> None:
            self.values.append(value)

    histogram = Observed()
    observe_all(histogram, [0.1, 0.2])  # type: ignore[arg-type]
    assert histogram.values == [0.1, 0.2]


def test_the_metrics_hold_what_one_call_per_request_gave() -> None:
    rng = random.Random(21)
    metrics = Metrics()
    reference = CollectorRegistry()
    requests = Counter(
        "cxplay_http_requests", "r", ["method", "route", "status"], registry=reference
    )
    latency = Histogram(
        "cxplay_http_request_duration_seconds", "l", ["route"], buckets=BUCKETS, registry=reference
    )
    matches = Counter("cxplay_rule_matches", "m", ["rule"], registry=reference)
    suggestions = Counter("cxplay_suggestions", "s", ["matched"], registry=reference)
    for _ in range(3 * FLUSH_EVERY + 17):  # flushed by the queue's length, then by a scrape
        route = rng.choice(["/v1/suggest", "/v1/explain", "unmatched"])
        status = rng.choice([200, 200, 422, 401])
        seconds = rng.uniform(0, 0.03)
        metrics.request("POST", route, status, seconds)
        requests.labels("POST", route, str(status)).inc()
        latency.labels(route).observe(seconds)
        if status == 200:
            rules = rng.sample(["a.one", "a.two", "b.one"], rng.randint(0, 3)) * 2  # repeats
            matched = bool(rules)
            metrics.counted(matched, rules)
            suggestions.labels("true" if matched else "false").inc()
            for rule in set(rules):
                matches.labels(rule).inc()
    got = _samples(metrics.registry)
    for key, value in _samples(reference).items():
        if key[0].endswith("_sum"):
            assert math.isclose(got[key], value, rel_tol=1e-12)
        else:
            assert got[key] == value, key


def test_the_flush_counts_each_suggestions_rules_as_one_set_each() -> None:
    """``rule_sets`` (maps in C) gives what ``_rule_set`` gave per suggestion, in order."""
    import collections
    import json
    from itertools import chain
    from pathlib import Path

    from cxplay._serve.service import ServeConfig, Service, _rule_set, rule_sets

    engine = Service(ServeConfig(watch=False)).engine
    examples = sorted(
        (Path(__file__).resolve().parent.parent / "examples/incidents").glob("*.json")
    )
    made = [engine.suggest(json.loads(path.read_bytes())) for path in examples]
    made += [made[0].model_copy(update={"actions": made[0].actions * 2}), *made[:3]]  # repeats
    made.append(made[0].model_copy(update={"actions": ()}))
    assert sum(map(len, map(_rule_set, made))) > len(made)  # several rules a suggestion
    assert list(rule_sets(made)) == list(chain.from_iterable(map(_rule_set, made)))
    counted = collections.Counter(rule_sets(made))
    assert counted == collections.Counter(chain.from_iterable(map(_rule_set, made)))
    assert max(counted.values()) > 1 and list(rule_sets([])) == []
