"""`cxplay watch --nats` against the real NATS server with JetStream (127.0.0.1:4222).

Incidents are published to partitions by correlation key; two watcher processes serving
half of the partitions each give the same disruptions and notices as one process reading
the file; a watcher killed mid-stream leaves its messages unacknowledged and the one that
takes its partitions over gets them again, without a notice twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections import Counter
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from components import need

URL = os.environ.get("CXPLAY_TEST_NATS_URL", "nats://127.0.0.1:4222")
T0 = datetime(2026, 11, 20, 9, 0, tzinfo=timezone.utc)


def _reachable() -> bool:
    host, _, port = URL.removeprefix("nats://").partition(":")
    try:
        with socket.create_connection((host, int(port or 4222)), timeout=2):
            return True
    except OSError:
        return False


@pytest.fixture
def subject() -> Any:
    need(_reachable(), f"NATS with JetStream at {URL} (set CXPLAY_TEST_NATS_URL)")
    name = f"cxt.{uuid.uuid4().hex[:10]}"
    yield name

    async def drop() -> None:
        import nats
        from nats.js.errors import NotFoundError

        nc = await nats.connect(URL)
        js = nc.jetstream()
        for stream in (name, f"{name}.events"):
            with contextlib.suppress(NotFoundError):
                await js.delete_stream("".join(c if c.isalnum() else "_" for c in stream).upper())
        await nc.close()

    asyncio.run(drop())


def cxplay(*args: Any, input: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
    env = {k: v for k, v in os.environ.items() if k not in ("CXPLAY_PLAYBOOKS", "CXPLAY_LOG")}
    return subprocess.run(
        [sys.executable, "-m", "cxplay", *map(str, args)],
        input=input,
        capture_output=True,
        env=env,
        timeout=300,
        check=False,
    )


def stream_file(tmp_path: Path, count: int = 240) -> Path:
    """Queue waves in 12 shops and carrier waves of 3 carriers, in time order."""
    lines = []
    for n in range(count):
        when = (T0 + timedelta(seconds=n * 30)).isoformat()
        base = {
            "id": f"N-{n}",
            "occurred_at": when,
            "customer": {"id": f"C-{n}", "language": ["en", "pl", "uk"][n % 3]},
        }
        if n % 2:
            base.update(
                type="queue_long",
                channel="in_person",
                facts={"queue_minutes": 20, "store": f"Shop {n % 12}"},
            )
        else:
            base.update(
                type="parcel_late",
                channel="email",
                order={"id": f"O-{n}", "carrier": ["InPost", "DPD", "DHL"][n % 3]},
                facts={"delay_days": 2},
            )
        lines.append(json.dumps(base, ensure_ascii=False))
    path = tmp_path / "in.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def outcome(text: str) -> tuple[set[str], Counter[tuple[str, str]]]:
    events = [json.loads(line) for line in text.splitlines() if line.strip()]
    opened = {e["disruption_id"] for e in events if e["event"] == "disruption_opened"}
    notices = Counter(
        (e["disruption_id"], e["incident_id"]) for e in events if e["event"] == "notice"
    )
    return opened, notices


def test_two_watchers_on_the_partitions_equal_one_process(tmp_path: Path, subject: str) -> None:
    source = stream_file(tmp_path)
    single = cxplay("watch", source, "--stateless", "--no-suggestions")
    expected = outcome(single.stdout.decode())
    assert expected[0] and expected[1]
    published = cxplay("watch", source, "--to-nats", "--nats", URL, "--subject", subject)
    assert published.returncode == 0, published.stderr
    log = tmp_path / "shared.db"
    common = ["watch", "--nats", URL, "--subject", subject, "--log", log, "--no-suggestions"]
    processes = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "cxplay",
                *map(str, common),
                "--member",
                f"{i}/2",
                "--idle-exit",
                "3",
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        for i in range(2)
    ]
    outputs = [p.communicate(timeout=300) for p in processes]
    assert all(p.returncode == 0 for p in processes), [o[1] for o in outputs]
    opened: set[str] = set()
    notices: Counter[tuple[str, str]] = Counter()
    for out, _ in outputs:
        o, n = outcome(out.decode())
        assert o and not (o & opened)  # each key is owned by exactly one watcher
        opened |= o
        notices += n
    assert opened == expected[0]
    assert notices == expected[1]


def test_a_dead_watchers_messages_are_redelivered_to_its_successor(
    tmp_path: Path, subject: str
) -> None:
    source = stream_file(tmp_path, 400)
    expected = outcome(cxplay("watch", source, "--stateless", "--no-suggestions").stdout.decode())
    assert cxplay("watch", source, "--to-nats", "--nats", URL, "--subject", subject).returncode == 0
    log, out = tmp_path / "cx.db", tmp_path / "out.jsonl"
    args = [sys.executable, "-m", "cxplay", "watch", "--nats", URL, "--subject", subject]
    args += ["--log", str(log), "--no-suggestions", "--out", str(out), "--batch", "5"]
    args += ["--ack-wait", "2", "--idle-exit", "4"]
    doomed = subprocess.Popen(args, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while doomed.poll() is None and time.monotonic() < deadline:
        if out.exists() and out.stat().st_size > 2000:
            doomed.send_signal(signal.SIGKILL)
            break
        time.sleep(0.005)
    doomed.wait()
    assert doomed.returncode == -signal.SIGKILL  # it died mid-stream
    successor = subprocess.run(args, capture_output=True, timeout=300, check=False)
    assert successor.returncode == 0, successor.stderr
    opened, notices = outcome(out.read_text(encoding="utf-8"))
    assert max(notices.values()) == 1
    assert opened == expected[0] and set(notices) == set(expected[1])


def test_a_batch_left_in_flight_is_taken_again_in_stream_order(
    tmp_path: Path, subject: str
) -> None:
    """The state a SIGKILL between fetch and commit leaves, made on purpose.

    A predecessor fetched the first messages of each partition from its durable consumer
    and died before committing them: they are delivered but unacknowledged. The successor
    must take them first, in stream order, not the messages after them with these
    redelivered later (and then dropped as committed, or counted late): the disruptions,
    their ids and the notices are those of one process reading the file.
    """
    source = stream_file(tmp_path, 240)
    expected = outcome(cxplay("watch", source, "--stateless", "--no-suggestions").stdout.decode())
    assert cxplay("watch", source, "--to-nats", "--nats", URL, "--subject", subject).returncode == 0

    async def fetch_and_die() -> int:
        import nats
        from nats.js.api import AckPolicy, ConsumerConfig

        nc = await nats.connect(URL)
        js = nc.jetstream()
        stream = "".join(c if c.isalnum() else "_" for c in subject).upper()
        taken = 0
        for n in range(4):
            config = ConsumerConfig(ack_policy=AckPolicy.EXPLICIT, ack_wait=2)
            sub = await js.pull_subscribe(
                f"{subject}.{n}", durable=f"cxplay-{n}", stream=stream, config=config
            )
            taken += len(await sub.fetch(5, timeout=2))  # never acknowledged
        await nc.close()
        return taken

    assert asyncio.run(fetch_and_die()) == 20
    log, out = tmp_path / "cx.db", tmp_path / "out.jsonl"
    done = cxplay(
        "watch", "--nats", URL, "--subject", subject, "--log", log, "--no-suggestions",
        "--out", out, "--batch", "5", "--ack-wait", "2", "--idle-exit", "4",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    opened, notices = outcome(out.read_text(encoding="utf-8"))
    assert opened == expected[0]
    assert notices == expected[1]


def test_a_malformed_message_goes_to_the_dead_letter_subject(tmp_path: Path, subject: str) -> None:
    source = tmp_path / "in.jsonl"
    source.write_text(
        '{"id": "ok", "type": "queue_long", "facts": {"queue_minutes": 5}}\n', encoding="utf-8"
    )
    assert cxplay("watch", source, "--to-nats", "--nats", URL, "--subject", subject).returncode == 0

    async def send_bad() -> None:
        import nats

        nc = await nats.connect(URL)
        js = nc.jetstream()
        await js.publish(f"{subject}.1", b'{"type": "parcel_late", "facts": {"delay_days": "x"}}')
        await js.publish(f"{subject}.2", b"\xff not json")
        await nc.close()

    asyncio.run(send_bad())
    done = cxplay("watch", "--nats", URL, "--subject", subject, "--stateless", "--idle-exit", "2")
    assert done.returncode == 0, done.stderr
    err = done.stderr.decode()
    assert f"sent to {subject}.dead" in err and "not UTF-8" in err and "delay_days" in err
    out = [json.loads(line) for line in done.stdout.decode().splitlines()]
    assert [e["incident_id"] for e in out if e["event"] == "suggestion"] == ["ok"]

    async def dead_letters() -> list[dict[str, Any]]:
        import nats

        nc = await nats.connect(URL)
        js = nc.jetstream()
        sub = await js.pull_subscribe(
            f"{subject}.dead", stream="".join(c if c.isalnum() else "_" for c in subject).upper()
        )
        msgs = await sub.fetch(10, timeout=2)
        await nc.close()
        return [json.loads(m.data) for m in msgs]

    reasons = [d["reason"] for d in asyncio.run(dead_letters())]
    assert len(reasons) == 2 and any("UTF-8" in r for r in reasons)


def test_a_server_that_is_down_is_one_line_and_exit_1(tmp_path: Path) -> None:
    done = cxplay("watch", "--nats", "nats://127.0.0.1:1", "--stateless", "--idle-exit", "1")
    assert done.returncode == 1
    err = done.stderr.decode().strip()
    assert err.startswith("Error: cannot reach NATS at nats://127.0.0.1:1") and "\n" not in err


def test_events_can_be_published_to_subjects(tmp_path: Path, subject: str) -> None:
    source = stream_file(tmp_path, 60)
    assert cxplay("watch", source, "--to-nats", "--nats", URL, "--subject", subject).returncode == 0
    events_subject = f"{subject}.events"
    done = cxplay(
        "watch",
        "--nats",
        URL,
        "--subject",
        subject,
        "--stateless",
        "--no-suggestions",
        "--publish-events",
        events_subject,
        "--idle-exit",
        "2",
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout == b""  # published, not written

    async def fetch() -> list[Any]:
        import nats

        nc = await nats.connect(URL)
        js = nc.jetstream()
        stream = "".join(c if c.isalnum() else "_" for c in events_subject).upper()
        sub = await js.pull_subscribe(f"{events_subject}.*", stream=stream)
        got: list[Any] = []
        while True:
            try:
                msgs = await sub.fetch(100, timeout=1)
            except Exception:
                break
            got.extend(msgs)
        await nc.close()
        return [(m.subject, json.loads(m.data)) for m in got]

    published = asyncio.run(fetch())
    expected = cxplay("watch", source, "--stateless", "--no-suggestions").stdout.decode()
    lines = [json.loads(line) for line in expected.splitlines()]
    assert Counter(s for s, _ in published) == Counter(
        f"{events_subject}.{e['event']}" for e in lines
    )


class _Proxy:
    """A TCP proxy to the NATS server that can be cut: the server "goes away"."""

    def __init__(self) -> None:
        import threading

        host, _, port = URL.removeprefix("nats://").partition(":")
        self.target = (host, int(port or 4222))
        self.server = socket.socket()
        self.server.bind(("127.0.0.1", 0))
        self.server.listen()
        self.server.settimeout(0.1)
        self.port = self.server.getsockname()[1]
        self.stop = threading.Event()
        self.sockets: list[socket.socket] = []
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        import threading

        while not self.stop.is_set():
            try:
                client, _ = self.server.accept()
            except TimeoutError:
                continue
            upstream = socket.create_connection(self.target)
            self.sockets += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    @staticmethod
    def _pump(a: socket.socket, b: socket.socket) -> None:
        with contextlib.suppress(OSError):
            while data := a.recv(65536):
                b.sendall(data)

    def cut(self) -> None:
        self.stop.set()
        self.thread.join()
        self.server.close()
        for s in self.sockets:
            with contextlib.suppress(OSError):
                s.shutdown(socket.SHUT_RDWR)
            s.close()


def test_a_server_that_goes_away_mid_stream_is_one_line_and_loses_nothing(
    tmp_path: Path, subject: str
) -> None:
    source = stream_file(tmp_path, 300)
    expected = outcome(cxplay("watch", source, "--stateless", "--no-suggestions").stdout.decode())
    assert cxplay("watch", source, "--to-nats", "--nats", URL, "--subject", subject).returncode == 0
    proxy = _Proxy()
    log, out = tmp_path / "cx.db", tmp_path / "out.jsonl"
    common = ["watch", "--subject", subject, "--log", str(log), "--no-suggestions"]
    common += ["--out", str(out), "--batch", "5", "--ack-wait", "2"]
    watcher = subprocess.Popen(
        [sys.executable, "-m", "cxplay", *common, "--nats", f"nats://127.0.0.1:{proxy.port}"],
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not (out.exists() and out.stat().st_size > 2000):
        time.sleep(0.01)
    proxy.cut()
    _, err = watcher.communicate(timeout=120)
    lines = err.decode().strip().splitlines()
    assert watcher.returncode == 1 and len(lines) == 1, lines
    assert lines[0].startswith(f"Error: NATS at nats://127.0.0.1:{proxy.port}: ")
    again = cxplay(*common, "--nats", URL, "--idle-exit", "4")
    assert again.returncode == 0, again.stderr
    opened, notices = outcome(out.read_text(encoding="utf-8"))
    assert max(notices.values()) == 1
    assert opened == expected[0] and set(notices) == set(expected[1])
