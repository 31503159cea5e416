"""NATS JetStream: incidents partitioned by correlation key, watchers per partition.

Producer: :func:`publish_incidents` sends each incident to ``<subject>.<n>``, n being a
stable hash of its correlation key (of the first ``[[correlate]]`` block it matches; its id
when it matches none) modulo the partition count, so every incident of one key lands in
one partition. The stream (``CXPLAY_INCIDENTS`` by default) keeps them.

Consumers: each partition has one durable pull consumer (``cxplay-<n>``); a watcher
process serves a set of partitions (``member`` i of N takes those with n % N == i) and
keeps one correlator per partition, its state saved in the decision log's store under
``<name>:<n>`` -- the keyed state of a stream processor. A batch is committed to the store
first (with the last stream sequence it covers), its events written or published next,
and its messages acknowledged last. The store's sequence, not the consumer's, is the
position: a watcher with a store recreates its consumers to deliver from the first
uncommitted sequence (see :func:`_subscribe`), so a successor of a watcher that died
takes the batch left in flight first and every partition in stream order.
A malformed message goes to the dead-letter subject with the reason, and is acknowledged.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import IO, Any

from cxplay._watch.run import commit, parse_line, write_events
from cxplay._watch.store import WatchStore
from cxplay._watch.watch import Watcher
from cxplay.errors import CxplayError, IncidentError

__all__ = ["NatsOptions", "partition_of", "publish_incidents", "run_nats"]


@dataclass(frozen=True)
class NatsOptions:
    """Where and how: the server, subjects, the stream and the partitioning."""

    url: str
    subject: str = "cx.incidents"
    stream_name: str | None = None  # default: from the subject, CX_INCIDENTS for cx.incidents
    partitions: int = 4
    dead_letter: str | None = None  # default: <subject>.dead
    events: str | None = None  # publish events to <events>.<event> instead of writing them
    ack_wait: float = 30.0
    idle_exit: float | None = None  # stop after this long without a message (tests, replays)

    @property
    def stream(self) -> str:
        """The JetStream stream that keeps the incidents (and the dead letters)."""
        return self.stream_name or _stream_for(self.subject)

    @property
    def events_stream(self) -> str:
        """The stream that keeps published events."""
        return _stream_for(self.events or "cx.events")

    @property
    def dead(self) -> str:
        """The dead-letter subject."""
        return self.dead_letter or f"{self.subject}.dead"


def _stream_for(subject: str) -> str:
    return "".join(c if c.isalnum() else "_" for c in subject).upper()


def partition_of(watcher: Watcher, raw: dict[str, Any], partitions: int) -> int:
    """The partition of an incident: its first correlation key's hash, else its id's."""
    try:
        incident = watcher.engine.incident(raw)
        keys, _ = watcher.keys(incident)
    except CxplayError:
        keys = []
    basis: Any = [watcher.correlations[keys[0][0]].id, list(keys[0][1])] if keys else raw.get("id")
    digest = hashlib.blake2b(json.dumps(basis, ensure_ascii=False).encode(), digest_size=8)
    return int.from_bytes(digest.digest(), "big") % partitions


async def _connect(url: str) -> Any:
    import nats
    from nats.errors import NoServersError

    async def quiet(_: Exception) -> None:  # nats-py prints errors otherwise
        return None

    try:
        return await nats.connect(
            url,
            connect_timeout=2,
            allow_reconnect=True,
            max_reconnect_attempts=5,
            reconnect_time_wait=0.5,
            error_cb=quiet,
        )
    except (NoServersError, OSError, asyncio.TimeoutError) as exc:
        raise CxplayError(f"cannot reach NATS at {url}: {exc or type(exc).__name__}") from None


async def _ensure_stream(js: Any, name: str, subjects: list[str]) -> None:
    from nats.js.errors import NotFoundError

    try:
        info = await js.stream_info(name)
    except NotFoundError:
        await js.add_stream(name=name, subjects=subjects)
        return
    missing = [s for s in subjects if s not in (info.config.subjects or [])]
    if missing:
        raise CxplayError(
            f"the JetStream stream {name} exists without the subjects {', '.join(missing)}"
        )


def publish_incidents(
    watcher: Watcher, lines: Sequence[bytes], options: NatsOptions, warn: Callable[[str], None]
) -> int:
    """Publish incidents (JSON lines) to their partitions; returns how many were sent."""

    async def main() -> int:
        nc = await _connect(options.url)
        try:
            js = nc.jetstream()
            await _ensure_stream(js, options.stream, [f"{options.subject}.*"])
            sent = 0
            for number, line in enumerate(lines, start=1):
                if not line.strip():
                    continue
                try:
                    raw = parse_line(line)
                except ValueError as exc:
                    warn(f"line {number}: sent to {options.dead}: {exc}")
                    await js.publish(options.dead, _dead(line, str(exc)))
                    continue
                partition = partition_of(watcher, raw, options.partitions)
                await js.publish(f"{options.subject}.{partition}", line)
                sent += 1
            return sent
        finally:
            await nc.drain()

    return asyncio.run(main())


def _dead(data: bytes, reason: str) -> bytes:
    return json.dumps(
        {"reason": reason, "data": data.decode("utf-8", "replace")}, ensure_ascii=False
    ).encode()


@dataclass
class _Partition:
    number: int
    watcher: Watcher
    subscription: Any = None
    committed: int = 0  # the last stream sequence committed to the store
    offsets: dict[str, int] = field(default_factory=dict)
    expect: int | None = None  # the next delivery (consumer) sequence, when we own the position
    gap: bool = False  # a delivery was missed: the consumer must start again after `committed`


async def _subscribe(
    js: Any, part: _Partition, options: NatsOptions, batch: int, *, owned: bool
) -> None:
    """Bind the partition's durable consumer; with a store, (re)start it after the commit.

    The store, not the consumer, knows how far a partition was committed. A durable
    consumer left by a watcher that died has delivered past the batch that watcher had in
    flight; it would hand the successor the *next* messages first and the unacknowledged
    ones only after ``ack_wait``, out of stream order -- they would then be skipped as
    "already committed" or arrive late, changing windows and disruption ids. So a watcher
    with a store recreates the consumer to deliver from the first uncommitted stream
    sequence, and each partition is processed in stream order, exactly as one process
    reading the stream would.
    """
    from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
    from nats.js.errors import NotFoundError

    durable = f"cxplay-{part.number}"
    subject = f"{options.subject}.{part.number}"
    if part.subscription is not None:
        with contextlib.suppress(Exception):
            await part.subscription.unsubscribe()
        part.subscription = None
    config = ConsumerConfig(
        durable_name=durable,
        ack_policy=AckPolicy.EXPLICIT,
        deliver_policy=DeliverPolicy.ALL,
        ack_wait=options.ack_wait,
        filter_subject=subject,
        max_ack_pending=max(1000, batch * 4),
    )
    if owned:
        if part.committed:
            config.deliver_policy = DeliverPolicy.BY_START_SEQUENCE
            config.opt_start_seq = part.committed + 1
        with contextlib.suppress(NotFoundError):
            await js.delete_consumer(options.stream, durable)
        part.expect, part.gap = 1, False
    part.subscription = await js.pull_subscribe(
        subject, durable=durable, stream=options.stream, config=config
    )


def run_nats(
    make_watcher: Callable[[], Watcher],
    options: NatsOptions,
    *,
    out: IO[str],
    warn: Callable[[str], None],
    store: WatchStore | None,
    name: str,
    member: int = 0,
    members: int = 1,
    batch: int = 256,
) -> int:
    """Serve the partitions of ``member`` of ``members`` until stopped (or idle).

    Returns how many incidents were processed.
    """
    mine = [n for n in range(options.partitions) if n % members == member]
    if not mine:
        raise CxplayError(f"member {member} of {members} has no partitions of {options.partitions}")

    async def main() -> int:
        from nats.errors import TimeoutError as NatsTimeout

        nc = await _connect(options.url)
        processed = 0
        try:
            js = nc.jetstream()
            await _ensure_stream(js, options.stream, [f"{options.subject}.*"])
            if options.events:
                await _ensure_stream(js, options.events_stream, [f"{options.events}.*"])
            parts: list[_Partition] = []
            for number in mine:
                part = _Partition(number, make_watcher())
                if store is not None:
                    from cxplay._watch.run import restore

                    part.offsets = restore(part.watcher, store, f"{name}:{number}")
                    part.committed = part.offsets.get("nats", 0)
                await _subscribe(js, part, options, batch, owned=store is not None)
                parts.append(part)
            idle_since = asyncio.get_running_loop().time()
            while True:
                got_any = False
                for part in parts:
                    try:
                        msgs = await part.subscription.fetch(batch, timeout=0.2)
                    except (NatsTimeout, asyncio.TimeoutError):
                        continue
                    got_any = True
                    processed += await _handle(js, part, msgs, options, out, warn, store, name)
                    if part.gap:  # a delivery went missing: start again after the commit
                        await _subscribe(js, part, options, batch, owned=True)
                now = asyncio.get_running_loop().time()
                if got_any:
                    idle_since = now
                elif options.idle_exit is not None and now - idle_since >= options.idle_exit:
                    return processed
        except CxplayError:
            raise
        except Exception as exc:  # the connection went away mid-stream, and the like
            raise CxplayError(
                f"NATS at {options.url}: {str(exc) or type(exc).__name__} (nothing unacknowledged "
                "is lost: JetStream redelivers it)"
            ) from None
        finally:
            if not nc.is_closed:
                await nc.close()

    return asyncio.run(main())


async def _handle(
    js: Any,
    part: _Partition,
    msgs: list[Any],
    options: NatsOptions,
    out: IO[str],
    warn: Callable[[str], None],
    store: WatchStore | None,
    name: str,
) -> int:
    events: list[dict[str, Any]] = []
    processed = 0
    last = part.committed
    taken: list[Any] = []
    for msg in msgs:
        if part.expect is not None:
            if msg.metadata.sequence.consumer != part.expect:
                part.gap = True  # left unacknowledged: the new consumer delivers it again
                break
            part.expect += 1
        taken.append(msg)
        sequence = msg.metadata.sequence.stream
        if sequence <= part.committed:
            continue  # redelivered after ack_wait, but already committed
        last = max(last, sequence)
        try:
            raw = parse_line(msg.data)
            produced = part.watcher.process(raw)
        except (ValueError, IncidentError) as exc:
            warn(f"{msg.subject} #{sequence}: sent to {options.dead}: {exc}")
            await js.publish(options.dead, _dead(msg.data, str(exc).splitlines()[0]))
            continue
        processed += 1
        events.extend(produced or ())
    part.offsets["nats"] = last
    commit(part.watcher, store, f"{name}:{part.number}", part.offsets)
    part.committed = last
    if options.events:
        for event in events:
            data = json.dumps(event, ensure_ascii=False).encode()
            await js.publish(f"{options.events}.{event['event']}", data)
    else:
        write_events(out, events)
    for msg in taken:
        await msg.ack()
    return processed
