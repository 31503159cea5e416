"""Smoke test of the service benchmark: it runs, every answer is right, its rows keep their keys.

Timings are never asserted (performance is measured by benchmarks, not unit tests); the open
loop's test checks only that a pause put into a fake server shows in its latencies, which a
slower machine can only lengthen.
"""

from __future__ import annotations

import importlib.util
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from tests.components import need


@pytest.fixture(autouse=True)
def _serve_extra() -> None:
    """The serve extra, or a visible skip (a failure under CI=true)."""
    need(
        importlib.util.find_spec("uvicorn") is not None,
        "the serve extra is not installed: pip install 'cxplay[serve]'",
    )


ROOT = Path(__file__).resolve().parents[1]
KEYS = {
    "server",
    "workers",
    "phase",
    "generator",
    "pinning",
    "requests",
    "rps",
    "p50_ms",
    "p99_ms",
    "errors",
    "error_kinds",
    "library_p50_us",
    "http_over_library",
    "server_cpu_us",
    "client_cpu_us",
    "rounds",
}


def quick_run(*extra: str) -> dict[str, Any]:
    script = str(ROOT / "benchmarks" / "bench_service.py")
    done = subprocess.run(
        [sys.executable, script, "--quick", "--json", *extra],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    report: dict[str, Any] = json.loads(done.stdout)
    return report


@pytest.mark.parametrize(
    "generator",
    [
        pytest.param(
            "wrk",
            marks=pytest.mark.skipif(shutil.which("wrk") is None, reason="wrk is not installed"),
        ),
        "python",
    ],
)
def test_quick_run_answers_every_request_right(generator: str) -> None:
    report = quick_run("--generator", generator)
    rows = report["rows"]
    assert [(r["server"], r["workers"], r["phase"]) for r in rows] == [
        ("bare", 1, "max"),
        ("cxplay", 1, "max"),
        ("cxplay", 1, "half"),
    ]
    for row in rows:
        assert set(row) == KEYS
        assert row["errors"] == 0 and row["error_kinds"] == {}
        assert row["requests"] > 0
    assert [r["generator"] for r in rows] == [generator, generator, "python"]
    assert report["ratios"]["cxplay_1_of_ceiling_1"] > 0
    assert set(report["load_average"]) == {"start", "end"}
    assert set(report["generator_late"]["1"]) == {"p50_ms", "p99_ms"}


def test_a_wrong_answer_is_an_error() -> None:
    """The correctness check can fail: the bare server's fixed answer is not a suggestion."""
    sys.path.insert(0, str(ROOT / "benchmarks"))
    try:
        import bench_service
    finally:
        sys.path.remove(str(ROOT / "benchmarks"))
    bodies = [p.read_bytes() for p in bench_service.incident_files()[:2]]
    expected = [{"matched": True}, {"matched": False}]
    run = bench_service.Run(bodies, expected)
    run.check(0, 200, b'{"matched": true, "decision_id": "x"}')
    assert run.errors == 0
    run.check(1, 200, b'{"matched": true}')
    run.check(0, 503, b"{}")
    assert run.errors == 2 and run.kinds == {"wrong": 1, "status": 1}


def test_the_in_process_run_gives_each_part_of_a_request() -> None:
    result = quick_run("--in-process")
    assert set(result) == {
        "cxplay_us",
        "library_us",
        "bare_us",
        "http_us",
        "bare_over_cxplay",
        "rounds",
        "per_round",
        "load_average",
    }
    assert result["cxplay_us"] > 0 and result["library_us"] > 0 and result["bare_us"] > 0
    difference = result["cxplay_us"] - result["library_us"]
    assert result["http_us"] == pytest.approx(difference, abs=0.11)


def test_the_open_loop_counts_a_stalled_server_from_each_request_s_due_time() -> None:
    """Requests due while the server stalls are sent on time, and their wait counts."""
    import asyncio
    import threading

    sys.path.insert(0, str(ROOT / "benchmarks"))
    try:
        import bench_service
    finally:
        sys.path.remove(str(ROOT / "benchmarks"))
    answer = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}"
    served = 0
    loop = asyncio.new_event_loop()
    handlers: list[asyncio.Task[None]] = []

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal served
        task = asyncio.current_task()
        assert task is not None
        handlers.append(task)
        while True:
            try:
                head = await reader.readuntil(b"\r\n\r\n")
            except (asyncio.IncompleteReadError, ConnectionError):
                break
            length = int(head.lower().split(b"content-length: ")[1].split(b"\r\n")[0])
            await reader.readexactly(length)
            served += 1
            if served == 20:  # the whole server stops for 0.3 s, as a long pause would
                time.sleep(0.3)
            writer.write(answer)
        writer.close()

    async def shut() -> None:
        server.close()
        await asyncio.wait_for(asyncio.gather(*handlers), 10)  # the generator closed them

    server = loop.run_until_complete(asyncio.start_server(handle, "127.0.0.1", 0))
    port = server.sockets[0].getsockname()[1]
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    try:
        bodies = [p.read_bytes() for p in bench_service.incident_files()[:2]]
        run = bench_service.Run(bodies, None)
        bench_service.run_async(bench_service.open_loop(port, run, 200, 10_000, 1.0))
    finally:
        asyncio.run_coroutine_threadsafe(shut(), loop).result(20)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        loop.close()
    assert len(run.latencies) == len(run.late) == 200 and run.errors == 0
    # the generator kept sending through the pause, and the ~60 requests due during it
    # count it: more than 2 % of the 200 waited over 0.1 s
    assert bench_service.percentile(run.latencies, 0.98) > 0.1
