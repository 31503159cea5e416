"""Instructions per ``POST /v1/suggest``, in one process, for callgrind (s-svc4..s-svc6's harness).

The request goes through the protocol ``cxplay serve`` configures (uvicorn's config as the
CLI builds it, ``HeadTimeoutProtocol``, uvloop, uvicorn's proxy-headers layer) over a fake
transport: each request's bytes (the wrk script's head) go to ``data_received``, called
from a callback of the loop as a socket's read is, and the answer is awaited from the
transport's ``write``; the 11 example incidents in turn. 110
warm requests, ``gc.freeze()``, then callgrind's instrumentation is switched on around
``N`` requests by its client requests (a three-line C library, built here with ``cc``).

    valgrind --tool=callgrind --instr-atstart=no --callgrind-out-file=OUT.%p \\
        python benchmarks/callgrind_service.py MODE N

The last dump (``OUT.PID.1``) holds the window; its ``totals:`` line, from a run with N
requests minus one with 0, over N, is the count per request. ``MODE``: ``stub`` (cxplay
with ``Engine.suggest`` answering the suggestion computed beforehand: the service's own
part), ``full`` (cxplay as served) or ``bare`` (bench_service's ceiling app through
uvicorn's stock httptools protocol). Set ``PYTHONHASHSEED=0``; run a base tree by
``PYTHONPATH`` from its own directory.

``stub`` replaces ``Engine.suggest`` alone, so it still isolates the service's own part:
since s-svc8 that part includes the body's validation (``incident_json``: the service
validates the bytes and hands the engine a model), which before was inside the stubbed
engine; ``stub`` counts from a tree before s-svc8 are not comparable with later ones.
``full`` − ``stub`` is ``Engine.suggest`` of a validated model. The counts match a real
``cxplay serve`` under wrk (s-svc10: 1,143,391 against 1,116,546 here; bare 495,922
against 507,139), so the harness stands for the server's instructions; not for its time
(docs/performance.md, s-svc10).
"""

from __future__ import annotations

import asyncio
import ctypes
import gc
import itertools
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path.cwd()
TOKEN = "bench-token-0123456789abcdef"
_C = """#include <valgrind/callgrind.h>
void cg_start(void) { CALLGRIND_ZERO_STATS; CALLGRIND_START_INSTRUMENTATION; }
void cg_stop(void) { CALLGRIND_STOP_INSTRUMENTATION; CALLGRIND_DUMP_STATS; }
"""


def _client_requests() -> Any:
    """callgrind's client requests, compiled (needs cc and valgrind's headers)."""
    folder = Path(tempfile.mkdtemp())
    (folder / "cg.c").write_text(_C)
    library = folder / "libcg.so"
    subprocess.run(["cc", "-O2", "-shared", "-fPIC", "-o", str(library), str(folder / "cg.c")])
    return ctypes.CDLL(str(library))


def _request(body: bytes) -> bytes:
    head = (
        "POST /v1/suggest HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        f"Authorization: Bearer {TOKEN}\r\nContent-Length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


def _app(mode: str, bodies: list[bytes]) -> tuple[Any, str]:
    if mode == "bare":
        sys.path.insert(0, str(ROOT / "benchmarks"))
        from bench_service import bare_app

        return bare_app(4000), "httptools"
    from cxplay._serve import ServeConfig, create_app

    app = create_app(ServeConfig(watch=False, tokens_env=f"{TOKEN}:agent"))
    if mode == "stub":
        service = app.state.service
        engine = service.engine
        answers = itertools.cycle([engine.suggest(json.loads(body)) for body in bodies])

        class Stub:
            playbooks = engine.playbooks

            def suggest(self, incident: Any, explain: bool = False) -> Any:
                return next(answers)

        service.engine = Stub()
    return app, "cxplay._serve.protocol:HeadTimeoutProtocol"


class _Transport(asyncio.Transport):
    def __init__(self) -> None:
        super().__init__()
        self.future: asyncio.Future[None] | None = None
        self.closing = False
        self.out: list[bytes] = []

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return {"sockname": ("127.0.0.1", 8000), "peername": ("127.0.0.1", 50000)}.get(
            name, default
        )

    def write(self, data: Any) -> None:
        self.out.append(bytes(data))
        future = self.future
        if future is not None and not future.done():  # the answer's head is written
            future.set_result(None)

    def is_closing(self) -> bool:
        return self.closing

    def close(self) -> None:
        self.closing = True

    def pause_reading(self) -> None:
        pass

    def resume_reading(self) -> None:
        pass


async def _main(mode: str, count: int) -> None:
    import uvicorn
    from uvicorn.server import ServerState

    bodies = [path.read_bytes() for path in sorted((ROOT / "examples/incidents").glob("*.json"))]
    requests = [_request(body) for body in bodies]
    app, http = _app(mode, bodies)
    client = _client_requests()
    loop = asyncio.get_running_loop()
    config = uvicorn.Config(
        app, http=http, loop="uvloop", access_log=False, server_header=False, timeout_keep_alive=5
    )
    config.load()
    state = ServerState()
    state.default_headers = [(b"date", b"Mon, 07 Dec 2026 17:00:00 GMT")]
    protocol = config.http_protocol_class(  # type: ignore[call-arg]
        config=config, server_state=state, app_state={}, _loop=loop
    )
    transport = _Transport()
    protocol.connection_made(transport)

    async def run(n: int) -> None:
        for i in range(n):
            transport.future = future = loop.create_future()
            # from a callback of the loop, as a socket's read is: the request is not run
            # inside this task (a protocol that answers in data_received would otherwise
            # also save this task's wake-up, which a server does not have)
            loop.call_soon(protocol.data_received, requests[i % len(requests)])
            await future
        await asyncio.sleep(0)
        await asyncio.sleep(0)

    await run(110)
    gc.freeze()
    transport.out.clear()
    client.cg_start()
    await run(count)
    client.cg_stop()
    answered = b"".join(transport.out).count(b"HTTP/1.1 200 OK")
    if answered != count:
        raise SystemExit(f"{answered} of {count} requests answered 200")
    if os.environ.get("CALLGRIND_SERVICE_OUT"):  # the bytes answered, to compare two trees
        Path(os.environ["CALLGRIND_SERVICE_OUT"]).write_bytes(b"".join(transport.out))


if __name__ == "__main__":
    import uvloop

    uvloop.run(_main(sys.argv[1], int(sys.argv[2])))
