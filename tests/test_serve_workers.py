"""``cxplay serve --workers N`` on Linux: a listening socket per worker (cxplay._serve.workers)."""

from __future__ import annotations

import os
import pickle
import select
import signal
import socket
import subprocess
import time
from pathlib import Path

import pytest

pytest.importorskip("uvicorn", reason="the serve extra is not installed")

from cxplay._serve.workers import ListenPerWorker, balanced
from tests.serving import start_serve

pytestmark = pytest.mark.skipif(not balanced(), reason="SO_REUSEPORT spreads only on Linux")

TOKEN = "workers-token-0123456789abcdef"


def listening(port: int) -> int:
    """How many sockets listen on 127.0.0.1:``port`` (/proc/net/tcp, state 0A)."""
    count = 0
    for line in Path("/proc/net/tcp").read_text(encoding="ascii").splitlines()[1:]:
        fields = line.split()
        if fields[1] == f"0100007F:{port:04X}" and fields[3] == "0A":
            count += 1
    return count


def test_a_worker_gets_a_socket_of_its_own_on_the_held_address() -> None:
    held = ListenPerWorker.hold("127.0.0.1", 0)
    port = held.getsockname()[1]
    # the supervisor pickles the socket it passes: a worker opens its own on the address
    first, second = (pickle.loads(pickle.dumps(held)) for _ in range(2))
    try:
        assert type(first) is socket.socket
        assert first.fileno() != held.fileno() != second.fileno()
        assert first.getsockname() == second.getsockname() == ("127.0.0.1", port)
        assert first.getsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT) == 1
        assert listening(port) == 0  # the parent holds the port and never accepts
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection(("127.0.0.1", port), timeout=2).close()
        first.listen(64)
        second.listen(64)
        assert listening(port) == 2
        # connections opened in a row are spread over the two (by the kernel's hash):
        # all 32 on one socket (what one shared socket gives) has a chance of 2**-31
        clients = [socket.create_connection(("127.0.0.1", port), timeout=2) for _ in range(32)]
        accepted = {first: 0, second: 0}
        deadline = time.monotonic() + 10
        while sum(accepted.values()) < len(clients) and time.monotonic() < deadline:
            ready, _, _ = select.select(list(accepted), [], [], 1)
            for server in ready:
                server.accept()[0].close()
                accepted[server] += 1
        assert sum(accepted.values()) == len(clients)
        assert accepted[first] > 0 and accepted[second] > 0
        for client in clients:
            client.close()
    finally:
        for sock in (first, second, held):
            sock.close()


def test_held_address_in_use_is_refused() -> None:
    with socket.socket() as taken:  # a plain listener (no SO_REUSEPORT) has the port
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        with pytest.raises(OSError):
            ListenPerWorker.hold("127.0.0.1", taken.getsockname()[1]).close()


def test_two_workers_listen_apart_answer_and_stop() -> None:
    env = {**os.environ, "CXPLAY_TOKENS": f"{TOKEN}:agent"}
    process, port = start_serve("--workers", "2", env=env, stdout=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 60
        while listening(port) < 2:  # the second worker may still be starting
            assert process.poll() is None and time.monotonic() < deadline
            time.sleep(0.1)
        assert listening(port) == 2
        body = Path("examples/incidents/parcel_damaged.json").read_bytes()
        for _ in range(8):  # each on a new connection: both workers answer the same
            with socket.create_connection(("127.0.0.1", port), timeout=10) as client:
                client.sendall(
                    b"POST /v1/suggest HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                    + f"Authorization: Bearer {TOKEN}\r\nContent-Length: {len(body)}\r\n".encode()
                    + b"Connection: close\r\n\r\n"
                    + body
                )
                answer = b""
                while chunk := client.recv(65536):
                    answer += chunk
            assert answer.startswith(b"HTTP/1.1 200 ")
    finally:
        process.send_signal(signal.SIGTERM)
        output = process.communicate(timeout=30)[0].decode()
    assert process.returncode in (0, -signal.SIGTERM)
    assert output.count("Finished server process") == 2
    assert "Traceback" not in output
    assert f"Uvicorn running on http://127.0.0.1:{port}" in output
    assert listening(port) == 0
