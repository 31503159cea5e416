"""Benchmark `cxplay serve` on loopback against the bare-stack ceiling, at 1 and 2 workers.

For each worker count it starts, one after the other in the same run, two servers with the
same uvicorn settings (uvloop, httptools, no access log):

* ``bare``   -- the ceiling: a FastAPI app whose ``POST /v1/suggest`` parses the JSON body
  and answers a fixed body as large as an average suggestion (nothing else);
* ``cxplay`` -- ``cxplay serve --workers N`` (shipped playbooks, a token, no file watching);

and drives each with ``wrk`` (``benchmarks/wrk_suggest.lua`` posts the example incidents, one
request in flight per connection; the Python generator below when wrk is not installed):

* ``max``   -- as fast as the server answers (closed loop, ``--connections`` connections):
  requests/s, p50, p99, errors (connection errors and any status >= 400);
* ``half``  -- cxplay only: an open loop at half the ``max`` rate of the 2-worker run (or
  ``--rate``), in Python on uvloop: each request is due at a fixed time and its latency
  counts from then, so a stalled server cannot hide its queue (no coordinated omission).
  Debian packages no rate-limited C generator with latency percentiles (no ``wrk2``, no
  ``oha``; ``httperf`` and ``h2load`` give means), so the Python one stays, pinned as the
  ``max`` phases are: a protocol per connection (no task or stream per request), waking
  once per millisecond at most, its own CPU in the row and its own lateness (how long after
  its due time it sent each request) in the report's ``generator_late``. ``--half-apart``
  runs it on the first core with the server's processes moved to the others for the phase:
  on 2 cores that leaves the 2 workers one core at about 0.9 of its capacity, and the
  queue, not the service, made the p99 (0.5-2 s at a load of 7-8, against 56-63 ms
  shared; docs/performance.md).

Correctness: after each cxplay ``max`` phase every incident is posted again and the answers
compared with the in-process ``Engine.suggest`` (all but ``decision_id``), and every 16th
answer of the ``half`` phase too; a wrong answer counts as an error.

Pinning (Linux ``sched_setaffinity``/``taskset``): when the machine has a core for each
worker and one more, the generator runs on core 0 and the server on the others; otherwise
(2 workers on 2 cores) nothing is pinned and the generator shares the cores with the
workers (the row says which). Figures to read: cxplay ``max`` / bare ``max`` at 1 worker
(target >= 0.5), cxplay 2 workers / 1 worker (target >= 1.8), errors 0, p99 of ``half``
(target <= 20 ms). Both servers of a worker count are up together and their ``max`` phases
take turns, ``--rounds`` times; a row is the round with the median rate, its errors those
of every round, and the ceiling ratios are the medians of the rounds' cxplay / bare (and,
less moved by the neighbours of a shared machine, bare / cxplay server CPU per request).
``--quick`` is the smoke run (1 worker, one round of about a second); ``--json`` prints
the rows, the ratios and the load average.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import contextlib
import functools
import json
import os
import resource
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

# FastAPI resolves the bare endpoint's annotations in this module's globals
from fastapi import FastAPI, Request
from fastapi.responses import Response

ROOT = Path(__file__).resolve().parent.parent
TOKEN = "bench-token-0123456789abcdef"
LUA = Path(__file__).resolve().parent / "wrk_suggest.lua"
#: The size of the bare server's fixed answer (set by the benchmark for its workers).
BARE_SIZE_ENV = "CXPLAY_BENCH_BARE_SIZE"


def incident_files() -> list[Path]:
    return sorted((ROOT / "examples" / "incidents").glob("*.json"))


def library_p50_us(bodies: list[bytes], repeats: int) -> tuple[float, list[Any], int]:
    """In-process ``Engine.suggest`` p50, the expected answers, their mean JSON size."""
    from cxplay import Engine  # not at import: the bare server's workers import this module

    engine = Engine.from_path()
    parsed = [json.loads(b) for b in bodies]
    suggestions = [engine.suggest(i) for i in parsed]
    expected = [s.model_dump(mode="json") for s in suggestions]
    size = round(statistics.mean(len(s.model_dump_json()) for s in suggestions))
    times = []
    for k in range(repeats):
        incident = parsed[k % len(parsed)]
        start = time.perf_counter_ns()
        engine.suggest(incident)
        times.append((time.perf_counter_ns() - start) / 1000)
    return statistics.median(times), expected, size


# -- the ceiling: a bare FastAPI/uvicorn POST ------------------------------------------------


def bare_app(size: int | None = None) -> Any:
    """The ceiling's app: parse the JSON body, answer a fixed body of a suggestion's size."""
    size = int(os.environ[BARE_SIZE_ENV]) if size is None else size
    answer = json.dumps({"pad": "x" * max(0, size - 11)}).encode()  # exactly `size` bytes
    app = FastAPI()

    @app.post("/v1/suggest")
    async def suggest(request: Request) -> Response:
        json.loads(await request.body())
        return Response(answer, media_type="application/json")

    return app


def serve_bare(port: int, workers: int) -> None:
    """Run the ceiling's server (this file, ``--bare-server``) as cxplay serve runs uvicorn."""
    import uvicorn

    settings: dict[str, Any] = {
        "factory": True,
        "app_dir": str(Path(__file__).resolve().parent),
        "host": "127.0.0.1",
        "port": port,
        "workers": workers,
        "loop": "uvloop",
        "http": "httptools",
        "log_level": "info",
        "access_log": False,
        "server_header": False,
        "timeout_keep_alive": 5,
    }
    try:  # as cxplay serve runs its workers: a listening socket each, where it does
        from cxplay._serve import workers as per_worker
    except ImportError:  # a tree from before cxplay._serve.workers: uvicorn's one socket
        per_worker = None  # type: ignore[assignment]
    if workers > 1 and per_worker is not None and per_worker.balanced():
        sys.path.insert(0, settings.pop("app_dir"))  # as uvicorn.run does with it
        per_worker.run_workers(uvicorn.Config("bench_service:bare_app", **settings))
    else:
        uvicorn.run("bench_service:bare_app", **settings)


# -- in one process: the HTTP layer's CPU, without the network and the neighbours ----------


def in_process(bodies: list[bytes], rounds: int, per_round: int) -> dict[str, Any]:
    """CPU µs per request of three ASGI calls in this process, in alternating rounds.

    ``cxplay``: ``POST /v1/suggest`` through the whole app (middleware, token, parsing,
    ``Engine.suggest``, metrics, the JSON answer); ``library``: ``Engine.suggest`` on the
    parsed incident; ``bare``: the ceiling's app. No socket and no uvicorn (the same for
    both apps), one thread: CPU time (``time.process_time``) that the rest of a busy
    machine moves little. Medians of the rounds.
    """
    from cxplay._serve import ServeConfig, create_app

    app = create_app(ServeConfig(watch=False, tokens_env=f"{TOKEN}:agent"))
    engine = app.state.service.engine
    parsed = [json.loads(b) for b in bodies]
    size = round(statistics.mean(len(engine.suggest(i).model_dump_json()) for i in parsed))
    bare = bare_app(size)
    headers = [(b"host", b"127.0.0.1"), (b"content-type", b"application/json")]
    headers.append((b"authorization", f"Bearer {TOKEN}".encode()))

    async def post(target: Any, body: bytes) -> int:
        scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": "POST",
            "scheme": "http",
            "path": "/v1/suggest",
            "raw_path": b"/v1/suggest",
            "query_string": b"",
            "root_path": "",
            "headers": [*headers, (b"content-length", str(len(body)).encode())],
            "client": ("127.0.0.1", 1),
            "server": ("127.0.0.1", 80),
        }
        messages = [{"type": "http.request", "body": body, "more_body": False}]
        status = 0

        async def receive() -> dict[str, Any]:
            return messages.pop() if messages else {"type": "http.disconnect"}

        async def send(message: dict[str, Any]) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]

        await target(scope, receive, send)
        return status

    async def serve(target: Any, count: int) -> None:
        for k in range(count):
            status = await post(target, bodies[k % len(bodies)])
            if status != 200:
                raise SystemExit(f"in-process POST answered {status}")

    loop = asyncio.new_event_loop()

    def timed(name: str, count: int) -> float:
        start = time.process_time()
        if name == "library":
            for k in range(count):
                engine.suggest(parsed[k % len(parsed)])
        else:
            loop.run_until_complete(serve(app if name == "cxplay" else bare, count))
        return (time.process_time() - start) / count * 1e6

    names = ["cxplay", "library", "bare"]
    for name in names:
        timed(name, 2 * len(bodies))  # warm
    times: dict[str, list[float]] = {name: [] for name in names}
    for r in range(rounds):
        for name in names[r % 3 :] + names[: r % 3]:  # the order rotates
            times[name].append(timed(name, per_round))
    loop.close()
    median = {name: statistics.median(values) for name, values in times.items()}
    return {
        "cxplay_us": round(median["cxplay"], 1),
        "library_us": round(median["library"], 1),
        "bare_us": round(median["bare"], 1),
        "http_us": round(median["cxplay"] - median["library"], 1),
        "bare_over_cxplay": round(median["bare"] / median["cxplay"], 3),
        "rounds": rounds,
        "per_round": per_round,
    }


# -- servers ----------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def plan_cores(workers: int) -> tuple[set[int] | None, set[int] | None, str]:
    """Cores for the generator and for the server, or None (unpinned), and what was done."""
    try:
        cores = sorted(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return None, None, "not pinned (no sched_setaffinity)"
    if len(cores) < workers + 1 or shutil.which("taskset") is None:
        return None, None, f"shared: {workers} worker(s) and the generator on {len(cores)} cores"
    server = set(cores[1 : workers + 1])
    return {cores[0]}, server, f"generator on core {cores[0]}, server on {sorted(server)}"


def start_server(
    kind: str, workers: int, port: int, cores: set[int] | None, size: int
) -> subprocess.Popen[str]:
    if kind == "cxplay":
        command = [sys.executable, "-m", "cxplay", "serve", "--port", str(port)]
        command += ["--workers", str(workers), "--no-watch"]
    else:
        command = [sys.executable, __file__, "--bare-server", str(port), "--workers", str(workers)]
    if cores is not None:
        command = ["taskset", "-c", ",".join(map(str, sorted(cores))), *command]
    process = subprocess.Popen(
        command,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "CXPLAY_TOKENS": f"{TOKEN}:agent", BARE_SIZE_ENV: str(size)},
    )
    started = 0
    deadline = time.monotonic() + 120
    assert process.stdout is not None
    while started < workers:
        line = process.stdout.readline()
        if not line:
            raise SystemExit(f"the {kind} server exited: {process.wait()}")
        if "Application startup complete" in line:
            started += 1
        if time.monotonic() > deadline:
            process.kill()
            raise SystemExit(f"the {kind} server did not start in 120 s")
    # keep draining its output so that it never blocks on a full pipe
    loop_thread_drain(process)
    while True:  # one worker binds its socket after its startup
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return process
        except OSError:
            if time.monotonic() > deadline:
                process.kill()
                raise SystemExit(f"the {kind} server did not listen in 120 s") from None
            time.sleep(0.05)


def loop_thread_drain(process: subprocess.Popen[str]) -> None:
    import threading

    def drain() -> None:
        assert process.stdout is not None
        for _ in process.stdout:
            pass

    threading.Thread(target=drain, daemon=True).start()


# -- the Python generator (open loop; closed loop when wrk is absent) -------------------------


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
    def __init__(self, bodies: list[bytes], expected: list[Any] | None) -> None:
        self.raw = [request_bytes(b) for b in bodies]
        self.expected = [
            json.dumps({k: v for k, v in e.items() if k != "decision_id"}, sort_keys=True)
            for e in expected or ()
        ]
        self.latencies: list[float] = []
        self.sent = 0
        self.checked = 0
        self.kinds: dict[str, int] = {}  # "status" (not a 200), "wrong" (not the library's)
        #: the open loop's own lateness: how long after its due time each request was
        #: handed to a connection or queued for one (the generator's, not the server's)
        self.late: list[float] = []

    @property
    def errors(self) -> int:
        return sum(self.kinds.values())

    def error(self, kind: str) -> None:
        self.kinds[kind] = self.kinds.get(kind, 0) + 1

    def check(self, index: int, status: int, body: bytes) -> None:
        if status != 200:
            self.error("status")
            return
        if not self.expected:  # the bare server: its answer is fixed
            return
        self.checked += 1
        answer = json.loads(body)
        answer.pop("decision_id", None)
        if json.dumps(answer, sort_keys=True) != self.expected[index]:
            self.error("wrong")


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
                    run.error("status")
        finally:
            writer.close()

    start = time.perf_counter()
    await asyncio.gather(*(client() for _ in range(connections)))
    return len(run.latencies) / (time.perf_counter() - start)


class _Answers(asyncio.Protocol):
    """One keep-alive connection of the open loop: a request in flight at most, no streams.

    The response is parsed where it arrives (``data_received``) and its latency taken there:
    no task, stream or future per request, so the generator's own CPU per request -- what it
    takes from the cores it shares with the server -- is a fraction of the stream client's.
    """

    def __init__(self, loop: OpenLoop) -> None:
        self.loop = loop
        self.buffer = bytearray()
        self.transport: asyncio.Transport | None = None
        self.busy: tuple[int, float] | None = None  # (request number, due time)
        self.closed = asyncio.get_running_loop().create_future()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        if self.transport is transport:
            return
        self.transport = transport  # type: ignore[assignment]  # uvloop's: not a subclass
        transport.get_extra_info("socket").setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def send(self, k: int, due: float) -> None:
        assert self.transport is not None
        self.busy = (k, due)
        self.transport.write(self.loop.run.raw[k % len(self.loop.run.raw)])

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        end = self.buffer.find(b"\r\n\r\n")
        if end < 0:
            return
        length = 0
        for line in bytes(self.buffer[:end]).split(b"\r\n"):
            if line[:15].lower() == b"content-length:":
                length = int(line[15:])
        if len(self.buffer) < end + 4 + length:
            return
        now = time.perf_counter()
        status = int(self.buffer[9:12])
        body = bytes(self.buffer[end + 4 : end + 4 + length])
        del self.buffer[: end + 4 + length]
        assert self.busy is not None
        (k, due), self.busy = self.busy, None
        self.loop.answered(self, k, due, now, status, body)

    def connection_lost(self, exc: Exception | None) -> None:
        if self.busy is not None:  # the server closed a connection with a request on it
            self.loop.run.error("read")
            self.loop.lost(self)
        if not self.closed.done():
            self.closed.set_result(None)


#: How early the open loop may send a request (seconds): under its timers' grain.
EARLY = 0.001


class OpenLoop:
    """Requests due at fixed times over a pool of connections; latency counts from the due time.

    A request due when every connection is busy waits for the first one free (that wait is
    the server's queue, and counts). The schedule is kept by waking at the next due time and
    sending every request that is due: a late wake-up of the generator shows as latency, so
    the generator is kept cheap (above) and, where the machine has the cores, pinned apart.
    """

    def __init__(self, run: Run, rate: float, total: int) -> None:
        self.run = run
        self.rate = rate
        self.total = total
        self.idle: list[_Answers] = []
        self.waiting: collections.deque[tuple[int, float]] = collections.deque()
        self.finished = 0
        self.all_done = asyncio.get_running_loop().create_future()

    def answered(
        self, connection: _Answers, k: int, due: float, now: float, status: int, body: bytes
    ) -> None:
        self.run.latencies.append(now - due)
        if k % 16 == 0:
            self.run.check(k % len(self.run.raw), status, body)
        elif status != 200:
            self.run.error("status")
        self.lost(connection, keep=True)

    def lost(self, connection: _Answers, keep: bool = False) -> None:
        self.finished += 1
        if keep:
            if self.waiting:
                connection.send(*self.waiting.popleft())
            else:
                self.idle.append(connection)
        if self.finished == self.total and not self.all_done.done():
            self.all_done.set_result(None)

    async def drive(self, port: int, connections: int) -> float:
        loop = asyncio.get_running_loop()
        pool = []
        for _ in range(connections):
            transport, protocol = await loop.create_connection(
                lambda: _Answers(self), "127.0.0.1", port
            )
            protocol.connection_made(transport)  # uvloop may call it after this returns
            pool.append(protocol)
        self.idle = list(pool)
        start = time.perf_counter()
        k = 0
        while k < self.total:
            now = time.perf_counter()
            # every request due by now, and those due within EARLY: the loop's timers have a
            # millisecond's grain and count from the start of the loop's iteration, and
            # sleeping less woke the generator again and again (9 times a request); a
            # request sent early counts from when it was sent
            while k < self.total and start + k / self.rate <= now + EARLY:
                due = max(now, start + k / self.rate)
                self.run.late.append(due - start - k / self.rate)
                if self.idle:
                    self.idle.pop().send(k, due)
                else:
                    self.waiting.append((k, due))
                k += 1
            if k < self.total:
                await asyncio.sleep(max(EARLY, start + k / self.rate - time.perf_counter()))
        if self.total:
            await self.all_done
        elapsed = time.perf_counter() - start
        for protocol in pool:
            if protocol.transport is not None:
                protocol.transport.close()
        await asyncio.gather(*(p.closed for p in pool))
        return self.total / elapsed


async def open_loop(port: int, run: Run, rate: float, count: int, seconds: float) -> float:
    """The open loop's phase: ``rate`` requests a second for ``seconds`` (at most ``count``)."""
    return await OpenLoop(run, rate, min(count, int(rate * seconds))).drive(port, 64)


async def check_every_incident(port: int, run: Run, rounds: int) -> None:
    """Post every incident ``rounds`` times on one connection and check every answer."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        for _ in range(rounds):
            for index, raw in enumerate(run.raw):
                run.check(index, *(await exchange(reader, writer, raw)))
    finally:
        writer.close()


def run_async(coroutine: Any) -> Any:
    """``asyncio.run``, on uvloop when it is installed (as the servers are).

    The Python generator's own CPU per request is what it takes from the machine it shares
    with the server: on uvloop its streams cost about half of what they do on asyncio's loop.
    """
    try:
        import uvloop
    except ImportError:  # pragma: no cover - the serve extra installs it
        uvloop = None
    if uvloop is None or not hasattr(asyncio, "Runner"):  # asyncio.Runner: Python >= 3.11
        return asyncio.run(coroutine)
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        return runner.run(coroutine)


def server_tree(pid: int) -> list[int]:
    """The server process and its descendants (uvicorn's workers)."""
    parents: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat", encoding="ascii", errors="replace") as stat:
                    parents[int(entry)] = int(stat.read().rsplit(")", 1)[1].split()[1])
            except OSError:
                continue
    family = [pid]
    for candidate in family:  # grows while it is walked: children, then theirs
        family.extend(child for child, parent in parents.items() if parent == candidate)
    return family


def pinned_apart(pid: int, phase: Callable[[], Any]) -> tuple[Any, str]:
    """``phase()`` in this process on the first core, with the server's tree on the others.

    For the open-loop phase: the Python generator costs the machine several times what wrk
    does per request, and sharing a core with a worker its own delays count as latency.
    Where there is only one core (or no sched_setaffinity), nothing is pinned.
    """
    try:
        cores = sorted(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return phase(), "not pinned (no sched_setaffinity)"
    if len(cores) < 2:
        return phase(), "not pinned (one core)"
    tree = server_tree(pid)
    before = {p: os.sched_getaffinity(p) for p in tree}
    for p in tree:
        os.sched_setaffinity(p, set(cores[1:]))
    try:
        result = on_cores({cores[0]}, phase)
    finally:
        for p, mask in before.items():
            with contextlib.suppress(OSError):
                os.sched_setaffinity(p, mask)
    return result, f"generator on core {cores[0]}, server on {cores[1:]}"


def on_cores(cores: set[int] | None, phase: Callable[[], Any]) -> Any:
    """Run ``phase`` in this process pinned to ``cores`` (None: as it is)."""
    if cores is None:
        return phase()
    before = os.sched_getaffinity(0)
    os.sched_setaffinity(0, cores)
    try:
        return phase()
    finally:
        os.sched_setaffinity(0, before)


# -- wrk ----------------------------------------------------------------------------------------


def wrk_phase(
    port: int, connections: int, seconds: float, cores: set[int] | None
) -> tuple[dict[str, Any], float]:
    """One wrk run (closed loop): its JSON summary and the CPU seconds wrk used."""
    # a request may take the service's own deadline (cxplay serve --timeout, 10 s) before it
    # is late: wrk's default of 2 s counted a saturated machine's slow answers as errors
    command = ["wrk", "-t1", f"-c{connections}", f"-d{max(1, round(seconds))}s", "--timeout", "10s"]
    command += ["-s", str(LUA), f"http://127.0.0.1:{port}", "--", TOKEN]
    command += [str(p) for p in incident_files()]
    if cores is not None:
        command = ["taskset", "-c", ",".join(map(str, sorted(cores))), *command]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    done = subprocess.run(command, capture_output=True, text=True, timeout=seconds + 60)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        raise SystemExit(f"wrk failed ({done.returncode}): {done.stderr.strip()}")
    summary = json.loads(done.stdout.strip().splitlines()[-1])
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return summary, cpu


# -- measuring -----------------------------------------------------------------------------------


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


def make_row(
    server: str,
    workers: int,
    phase: str,
    generator: str,
    pinning: str,
    *,
    requests: int,
    rps: float,
    p50_us: float,
    p99_us: float,
    errors: int,
    library_us: float,
    cpu: tuple[float, float],
    kinds: dict[str, int] | None = None,
) -> dict[str, Any]:
    count = max(1, requests)
    return {
        "server": server,
        "workers": workers,
        "phase": phase,
        "generator": generator,
        "pinning": pinning,
        "requests": requests,
        "rps": round(rps, 1),
        "p50_ms": round(p50_us / 1000, 2),
        "p99_ms": round(p99_us / 1000, 2),
        "errors": errors,
        # what the errors were: wrk's kinds (connect, read, write, status, timeout), and
        # "wrong" for an answer that is not Engine.suggest's
        "error_kinds": dict(kinds or {}),
        "library_p50_us": round(library_us, 1),
        "http_over_library": round(p50_us / library_us, 2),
        # CPU per request, independent of what else the machine runs
        "server_cpu_us": round(cpu[0] / count * 1e6, 1),
        "client_cpu_us": round(cpu[1] / count * 1e6, 1),
        "rounds": 1,  # a max row: how many rounds it is the median of
    }


def run_row(
    server: str,
    workers: int,
    phase: str,
    pinning: str,
    run: Run,
    rate: float,
    library_us: float,
    cpu: tuple[float, float],
) -> dict[str, Any]:
    return make_row(
        server,
        workers,
        phase,
        "python",
        pinning,
        requests=len(run.latencies),
        rps=rate,
        p50_us=percentile(run.latencies, 0.50) * 1e6,
        p99_us=percentile(run.latencies, 0.99) * 1e6,
        errors=run.errors,
        library_us=library_us,
        cpu=cpu,
        kinds=run.kinds,
    )


def measured(pid: int, phase: Callable[[], Any]) -> tuple[Any, tuple[float, float]]:
    """``phase()``, with the CPU seconds of the server's tree and of this process."""
    server, client = tree_cpu_seconds(pid), time.process_time()
    result = phase()
    return result, (tree_cpu_seconds(pid) - server, time.process_time() - client)


def max_phase(
    args: argparse.Namespace,
    server: str,
    workers: int,
    port: int,
    pid: int,
    bodies: list[bytes],
    expected: list[Any] | None,
    library_us: float,
    cores: tuple[set[int] | None, str],
) -> dict[str, Any]:
    """The closed-loop phase, by wrk or (without it) the Python generator."""
    generator_cores, pinning = cores
    if args.generator == "wrk":
        on_cores(None, lambda: wrk_phase(port, args.connections, 1, generator_cores))  # warm-up
        (summary, wrk_cpu), (server_cpu, _) = measured(
            pid, lambda: wrk_phase(port, args.connections, args.seconds, generator_cores)
        )
        return make_row(
            server,
            workers,
            "max",
            "wrk",
            pinning,
            requests=summary["requests"],
            rps=summary["requests"] / summary["seconds"],
            p50_us=summary["p50_us"],
            p99_us=summary["p99_us"],
            errors=sum(summary["errors"].values()),
            library_us=library_us,
            cpu=(server_cpu, wrk_cpu),
            kinds={k: v for k, v in summary["errors"].items() if v},
        )
    warm = Run(bodies, expected)
    on_cores(
        generator_cores,
        lambda: run_async(closed_loop(port, warm, args.connections, 50 * len(bodies), 1)),
    )
    full = Run(bodies, expected)
    rate, cpu = measured(
        pid,
        lambda: on_cores(
            generator_cores,
            lambda: run_async(closed_loop(port, full, args.connections, args.count, args.seconds)),
        ),
    )
    return run_row(server, workers, "max", pinning, full, rate, library_us, cpu)


SERVERS = ("bare", "cxplay")


def median_row(rounds: list[dict[str, Any]]) -> dict[str, Any]:
    """The round with the median rate (the lower middle one of an even count)."""
    ordered = sorted(rounds, key=lambda r: r["rps"])
    return dict(ordered[(len(ordered) - 1) // 2], rounds=len(rounds))


def median_or_none(values: list[float] | None) -> float | None:
    return round(statistics.median(values), 3) if values else None


def cpu_ratio(rows: list[dict[str, Any]], workers: int) -> float | None:
    """Bare server CPU per request / cxplay's (max phases): the ceiling ratio by CPU."""
    cpu = {
        r["server"]: r["server_cpu_us"]
        for r in rows
        if r["workers"] == workers and r["phase"] == "max"
    }
    if not cpu.get("cxplay") or "bare" not in cpu:
        return None
    return round(cpu["bare"] / cpu["cxplay"], 3)


def ratio(rows: list[dict[str, Any]], a: tuple[str, int], b: tuple[str, int]) -> float | None:
    found = {(r["server"], r["workers"]): r["rps"] for r in rows if r["phase"] == "max"}
    if a not in found or b not in found or not found[b]:
        return None
    return round(found[a] / found[b], 3)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--count", type=int, default=20_000, help="most requests per phase")
    parser.add_argument("--seconds", type=float, default=6.0, help="seconds per phase")
    parser.add_argument("--rate", type=float, help="the open-loop rate (default: half max@2)")
    parser.add_argument(
        "--generator",
        choices=("auto", "wrk", "python"),
        default="auto",
        help="closed-loop load generator (auto: wrk when installed, else Python)",
    )
    parser.add_argument(
        "--rounds", type=int, default=3, help="max phases per server, bare and cxplay in turns"
    )
    parser.add_argument("--no-pin", action="store_true", help="pin nothing to cores")
    parser.add_argument(
        "--half-apart",
        action="store_true",
        help="the open-loop phase with the generator on the first core and the server's "
        "processes on the others (default: pinned as the max phases are)",
    )
    parser.add_argument("--quick", action="store_true", help="smoke run: 1 worker, ~1 s a phase")
    parser.add_argument("--json", action="store_true", help="print rows and ratios as JSON")
    parser.add_argument(
        "--in-process",
        action="store_true",
        help="only the HTTP layer's CPU per request, in this process (no servers)",
    )
    parser.add_argument("--bare-server", type=int, metavar="PORT", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.bare_server is not None:
        serve_bare(args.bare_server, args.workers[0])
        return 0
    if args.quick:
        args.workers, args.count, args.seconds, args.connections = [1], 300, 1.0, 4
        args.rounds = 1
    if args.generator == "auto":
        args.generator = "wrk" if shutil.which("wrk") else "python"
    bodies = [p.read_bytes() for p in incident_files()]
    if args.in_process:
        load = os.getloadavg()[0]
        result = in_process(bodies, 3 if args.quick else 7, 50 if args.quick else 400)
        result["load_average"] = {"start": round(load, 2), "end": round(os.getloadavg()[0], 2)}
        print(json.dumps(result, indent=2 if args.json else None))
        return 0
    library_us, expected, size = library_p50_us(bodies, 200 if args.quick else 3000)
    load_start = os.getloadavg()
    rows = []
    half_rate = args.rate
    late: dict[int, dict[str, float]] = {}  # the open loop's own lateness, by workers
    per_round: dict[int, list[float]] = {}
    for workers in args.workers:
        generator_cores, server_cores, pinning = (
            (None, None, "not pinned (--no-pin)") if args.no_pin else plan_cores(workers)
        )
        # both servers up at once (an idle one costs nothing), driven in turns: a neighbour's
        # burst on the shared machine hits one round of each, not one server's whole phase
        ports = {server: free_port() for server in SERVERS}
        processes: dict[str, subprocess.Popen[str]] = {}
        try:
            for server in SERVERS:
                processes[server] = start_server(server, workers, ports[server], server_cores, size)
            rounds: dict[str, list[dict[str, Any]]] = {server: [] for server in SERVERS}
            for _ in range(args.rounds):
                for server in SERVERS:
                    rounds[server].append(
                        max_phase(
                            args,
                            server,
                            workers,
                            ports[server],
                            processes[server].pid,
                            bodies,
                            expected if server == "cxplay" else None,
                            library_us,
                            (generator_cores, pinning),
                        )
                    )
            per_round[workers] = [
                c["rps"] / b["rps"] for b, c in zip(rounds["bare"], rounds["cxplay"], strict=True)
            ]
            row = median_row(rounds["bare"])
            row["errors"] = sum(r["errors"] for r in rounds["bare"])
            row["error_kinds"] = {}
            for done in rounds["bare"]:
                for kind, count in done["error_kinds"].items():
                    row["error_kinds"][kind] = row["error_kinds"].get(kind, 0) + count
            rows.append(row)
            row = median_row(rounds["cxplay"])
            port, pid = ports["cxplay"], processes["cxplay"].pid
            check = Run(bodies, expected)  # every incident, every answer compared
            run_async(check_every_incident(port, check, 2 if args.quick else 4))
            row["errors"] = check.errors + sum(r["errors"] for r in rounds["cxplay"])
            row["error_kinds"] = {}
            for done in rounds["cxplay"]:
                for kind, count in done["error_kinds"].items():
                    row["error_kinds"][kind] = row["error_kinds"].get(kind, 0) + count
            for kind, count in check.kinds.items():
                row["error_kinds"][kind] = row["error_kinds"].get(kind, 0) + count
            rows.append(row)
            if half_rate is None and (workers == 2 or len(args.workers) == 1):
                half_rate = row["rps"] / 2
            if half_rate is not None:
                half = Run(bodies, expected)
                phase = functools.partial(
                    run_async, open_loop(port, half, half_rate, args.count, args.seconds)
                )
                if not args.half_apart or args.no_pin:
                    half_pinning = pinning
                    achieved, cpu = measured(
                        pid, functools.partial(on_cores, generator_cores, phase)
                    )
                else:
                    (achieved, half_pinning), cpu = measured(
                        pid, functools.partial(pinned_apart, pid, phase)
                    )
                rows.append(
                    run_row(
                        "cxplay", workers, "half", half_pinning, half, achieved, library_us, cpu
                    )
                )
                if half.late:
                    late[workers] = {
                        "p50_ms": round(percentile(half.late, 0.50) * 1000, 3),
                        "p99_ms": round(percentile(half.late, 0.99) * 1000, 3),
                    }
        finally:
            for process in processes.values():
                process.send_signal(signal.SIGTERM)
            for process in processes.values():
                process.wait(timeout=30)
    load_end = os.getloadavg()
    ratios = {
        # the median over the rounds of cxplay / bare, each pair measured back to back
        "cxplay_1_of_ceiling_1": median_or_none(per_round.get(1)),
        "cxplay_2_of_ceiling_2": median_or_none(per_round.get(2)),
        # the same by server CPU per request (what the neighbours' load changes least)
        "cxplay_1_of_ceiling_1_cpu": cpu_ratio(rows, 1),
        "cxplay_2_of_ceiling_2_cpu": cpu_ratio(rows, 2),
        "cxplay_2_over_1": ratio(rows, ("cxplay", 2), ("cxplay", 1)),
        "bare_2_over_1": ratio(rows, ("bare", 2), ("bare", 1)),
    }
    report = {
        "rows": rows,
        "ratios": ratios,
        "suggestion_bytes": size,
        "cores": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        "load_average": {"start": round(load_start[0], 2), "end": round(load_end[0], 2)},
        # how late the open loop itself sent (a generator starved of CPU shows here, and its
        # lateness counts in the half row's latencies): by worker count
        "generator_late": late,
    }
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        keys = [k for k in rows[0] if k != "pinning"]
        print("  ".join(f"{k:>14}" for k in keys))
        for r in rows:
            print("  ".join(f"{r[k]!s:>14}" for k in keys))
        for r in rows:
            if r["phase"] == "max":
                print(f"{r['server']} x{r['workers']}: {r['pinning']}")
        for name, value in ratios.items():
            print(f"{name}: {value}")
        for workers, figures in late.items():
            print(f"open loop's own lateness x{workers}: {figures}")
        print(
            f"cores: {report['cores']}, load average (1 min) {load_start[0]:.2f} at the start,"
            f" {load_end[0]:.2f} at the end"
        )
    return 1 if any(r["errors"] for r in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
