"""Benchmark `cxplay serve` on loopback: throughput and latency at 1, 2 and 4 workers.

For each worker count it starts ``cxplay serve --workers N`` (shipped playbooks, a token,
no file watching), waits until every worker has started, warms up, then runs two phases
with a load generator in this process (asyncio, HTTP/1.1 keep-alive, one request in flight
per connection), bounded by a request count and a time limit:

* ``max``   -- as fast as the server answers (closed loop, ``--connections`` connections):
  requests/s, p50, p99;
* ``half``  -- an open loop at half the ``max`` rate of the 2-worker run (or ``--rate``):
  each request is due at a fixed time and its latency counts from then, so a stalled
  server cannot hide its queue (no coordinated omission): p50, p99.

Every response must be 200 with the same Suggestion as the in-process ``Engine.suggest``
gives for that incident; ``errors`` counts the others (must be 0). In the same run, the
in-process ``Engine.suggest`` p50 on the same incidents gives the ratio HTTP p50 / library p50.

Targets (issue 12): >= 1,500 suggestions/s with 2 workers on a 2-core machine; p99 <= 20 ms
at half that rate. ``--quick`` is a smoke run (1 worker, a few hundred requests);
``--json`` prints one row per worker count and phase.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from cxplay import Engine

ROOT = Path(__file__).resolve().parent.parent
TOKEN = "bench-token-0123456789abcdef"


def incidents() -> list[bytes]:
    return [p.read_bytes() for p in sorted((ROOT / "examples" / "incidents").glob("*.json"))]


def library_p50_us(bodies: list[bytes], repeats: int) -> tuple[float, list[Any]]:
    engine = Engine.from_path()
    parsed = [json.loads(b) for b in bodies]
    expected = [engine.suggest(i).model_dump(mode="json") for i in parsed]
    times = []
    for k in range(repeats):
        incident = parsed[k % len(parsed)]
        start = time.perf_counter_ns()
        engine.suggest(incident)
        times.append((time.perf_counter_ns() - start) / 1000)
    return statistics.median(times), expected


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_server(workers: int, port: int) -> subprocess.Popen[str]:
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "cxplay",
            "serve",
            "--port",
            str(port),
            "--workers",
            str(workers),
            "--no-watch",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "CXPLAY_TOKENS": f"{TOKEN}:agent"},
    )
    started = 0
    deadline = time.monotonic() + 120
    assert process.stdout is not None
    while started < workers:
        line = process.stdout.readline()
        if not line:
            raise SystemExit(f"the server exited: {process.wait()}")
        if "Application startup complete" in line:
            started += 1
        if time.monotonic() > deadline:
            process.kill()
            raise SystemExit("the server did not start in 120 s")
    # keep draining its output so that it never blocks on a full pipe
    loop_thread_drain(process)
    while True:  # one worker binds its socket after its startup
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return process
        except OSError:
            if time.monotonic() > deadline:
                process.kill()
                raise SystemExit("the server did not listen in 120 s") from None
            time.sleep(0.05)


def loop_thread_drain(process: subprocess.Popen[str]) -> None:
    import threading

    def drain() -> None:
        assert process.stdout is not None
        for _ in process.stdout:
            pass

    threading.Thread(target=drain, daemon=True).start()


def request_bytes(body: bytes) -> bytes:
    head = (
        "POST /v1/suggest HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        f"Authorization: Bearer {TOKEN}\r\nContent-Length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


async def exchange(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, raw: bytes
) -> tuple[int, bytes]:
    writer.write(raw)
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head[9:12])
    length = 0
    for line in head.split(b"\r\n"):
        if line[:15].lower() == b"content-length:":
            length = int(line[15:])
    body = await reader.readexactly(length)
    return status, body


class Run:
    def __init__(self, bodies: list[bytes], expected: list[Any]) -> None:
        self.raw = [request_bytes(b) for b in bodies]
        self.expected = [
            json.dumps({k: v for k, v in e.items() if k != "decision_id"}, sort_keys=True)
            for e in expected
        ]
        self.latencies: list[float] = []
        self.errors = 0
        self.sent = 0

    def check(self, index: int, status: int, body: bytes) -> None:
        if status != 200:
            self.errors += 1
            return
        answer = json.loads(body)
        answer.pop("decision_id", None)
        if json.dumps(answer, sort_keys=True) != self.expected[index]:
            self.errors += 1


async def closed_loop(port: int, run: Run, connections: int, count: int, seconds: float) -> float:
    deadline = time.perf_counter() + seconds

    async def client() -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            while run.sent < count and time.perf_counter() < deadline:
                index = run.sent % len(run.raw)
                run.sent += 1
                start = time.perf_counter()
                status, body = await exchange(reader, writer, run.raw[index])
                run.latencies.append(time.perf_counter() - start)
                if run.sent % 16 == 0:  # checking every answer would cost the client a core
                    run.check(index, status, body)
                elif status != 200:
                    run.errors += 1
        finally:
            writer.close()

    start = time.perf_counter()
    await asyncio.gather(*(client() for _ in range(connections)))
    return len(run.latencies) / (time.perf_counter() - start)


async def open_loop(port: int, run: Run, rate: float, count: int, seconds: float) -> float:
    total = min(count, int(rate * seconds))
    pool: asyncio.Queue[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = asyncio.Queue()
    for _ in range(64):
        pool.put_nowait(await asyncio.open_connection("127.0.0.1", port))
    start = time.perf_counter()

    async def one(k: int) -> None:
        due = start + k / rate
        connection = await pool.get()
        try:
            status, body = await exchange(*connection, run.raw[k % len(run.raw)])
        finally:
            pool.put_nowait(connection)
        run.latencies.append(time.perf_counter() - due)
        if k % 16 == 0:
            run.check(k % len(run.raw), status, body)
        elif status != 200:
            run.errors += 1

    tasks = []
    for k in range(total):
        delay = start + k / rate - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(one(k)))
    await asyncio.gather(*tasks)
    elapsed = time.perf_counter() - start
    while not pool.empty():
        pool.get_nowait()[1].close()
    return total / elapsed


def tree_cpu_seconds(pid: int) -> float:
    """CPU seconds (user + system) used by a process and all its descendants."""
    parents: dict[int, int] = {}
    times: dict[int, float] = {}
    tick = os.sysconf("SC_CLK_TCK")
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", encoding="ascii", errors="replace") as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        parents[int(entry)] = int(fields[1])
        times[int(entry)] = (int(fields[11]) + int(fields[12])) / tick
    family = {pid}
    grew = True
    while grew:
        grew = False
        for child, parent in parents.items():
            if parent in family and child not in family:
                family.add(child)
                grew = True
    return sum(times.get(p, 0.0) for p in family)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def row(
    workers: int, phase: str, rate: float, run: Run, library_us: float, cpu: tuple[float, float]
) -> dict[str, Any]:
    p50 = percentile(run.latencies, 0.50) * 1e6
    count = max(1, len(run.latencies))
    return {
        "workers": workers,
        "phase": phase,
        "requests": len(run.latencies),
        "rps": round(rate, 1),
        "p50_ms": round(p50 / 1000, 2),
        "p99_ms": round(percentile(run.latencies, 0.99) * 1000, 2),
        "errors": run.errors,
        "library_p50_us": round(library_us, 1),
        "http_over_library": round(p50 / library_us, 2),
        # CPU per request, independent of what else the machine runs
        "server_cpu_us": round(cpu[0] / count * 1e6, 1),
        "client_cpu_us": round(cpu[1] / count * 1e6, 1),
    }


def measured(pid: int, phase: Any) -> tuple[float, tuple[float, float]]:
    server, client = tree_cpu_seconds(pid), time.process_time()
    result = phase()
    return result, (tree_cpu_seconds(pid) - server, time.process_time() - client)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2, 4])
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--count", type=int, default=20_000, help="most requests per phase")
    parser.add_argument("--seconds", type=float, default=8.0, help="most seconds per phase")
    parser.add_argument("--rate", type=float, help="the open-loop rate (default: half max@2)")
    parser.add_argument("--quick", action="store_true", help="smoke run: 1 worker, ~1 s")
    parser.add_argument("--json", action="store_true", help="print the rows as JSON")
    args = parser.parse_args()
    if args.quick:
        args.workers, args.count, args.seconds, args.connections = [1], 300, 2.0, 4
    bodies = incidents()
    library_us, expected = library_p50_us(bodies, 200 if args.quick else 3000)
    rows = []
    half_rate = args.rate
    for workers in args.workers:
        port = free_port()
        server = start_server(workers, port)
        try:
            warm = Run(bodies, expected)
            asyncio.run(closed_loop(port, warm, args.connections, 50 * workers * len(bodies), 3))
            full = Run(bodies, expected)
            rate, cpu = measured(
                server.pid,
                lambda port=port, run=full: asyncio.run(
                    closed_loop(port, run, args.connections, args.count, args.seconds)
                ),
            )
            rows.append(row(workers, "max", rate, full, library_us, cpu))
            if half_rate is None and (workers == 2 or len(args.workers) == 1):
                half_rate = rate / 2
            if half_rate is not None:
                half = Run(bodies, expected)
                rate_now = half_rate
                achieved, cpu = measured(
                    server.pid,
                    lambda port=port, run=half, rate=rate_now: asyncio.run(
                        open_loop(port, run, rate, args.count, args.seconds)
                    ),
                )
                rows.append(row(workers, "half", achieved, half, library_us, cpu))
        finally:
            server.send_signal(signal.SIGTERM)
            server.wait(timeout=30)
    load = os.getloadavg()[0]
    print(f"cores: {os.cpu_count()}, load average at the end: {load:.1f}", file=sys.stderr)
    if args.json:
        print(json.dumps(rows, indent=2))
    else:
        keys = list(rows[0])
        print("  ".join(f"{k:>14}" for k in keys))
        for r in rows:
            print("  ".join(f"{r[k]!s:>14}" for k in keys))
    return 1 if any(r["errors"] for r in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
