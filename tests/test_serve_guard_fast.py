"""The Guard's cheaper hot path is the same Guard: the body's deadline and the metrics.

A body that arrived with its head is received without a timer; one that has to be waited
for is waited for under the deadline as before (``_received_by``). The metrics of the hot
path are applied in batches (``Metrics.flush``) to the same counters and histogram values
as one ``inc()`` and ``observe()`` per request give.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

pytest.importorskip("prometheus_client", reason="the serve extra is not installed")


import cxplay._serve.guard as guard
from cxplay._serve.guard import _received_by

Message = dict[str, Any]


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
        return time.monotonic() - started, len(never._waiters)  # type: ignore[attr-defined]

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
